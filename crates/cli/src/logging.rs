//! Log setup: human-readable lines on stderr (stdout may carry the MCP protocol), filtered by
//! `RUST_LOG` (default `info`, with rmcp's per-session lines at `warn`: over stateless HTTP every
//! request is a session of its own) — and, when the configuration file's `[telemetry]` or
//! OpenTelemetry's environment asks for them, the same spans exported as traces over OTLP
//! (`switchboard_telemetry`). What is traced does not
//! follow `RUST_LOG`: a process quiet on stderr (the agent) still exports its spans.

use switchboard_telemetry::{TraceConfig, Traces};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; `service` names the process in traces unless `traces` or the
/// environment does. Safe to call once per process. Keep what it returns until the process ends.
pub(crate) fn init(service: &str, traces: &TraceConfig) -> Option<Traces> {
    init_with_default("info,rmcp=warn", service, traces)
}

/// [`init`] with another level when `RUST_LOG` is unset: the agent shows its own progress on
/// stderr, so it defaults to `warn` and keeps the gateway's routine lines off the terminal.
pub(crate) fn init_with_default(
    filter: &str,
    service: &str,
    traces: &TraceConfig,
) -> Option<Traces> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(filter.and(filter_fn(|meta| {
            meta.target() != switchboard_telemetry::EXPORTED_ONLY
        })));
    let registry = tracing_subscriber::registry().with(lines);
    match switchboard_telemetry::layer(service, traces) {
        Ok(Some((traces, guard))) => {
            registry
                .with(traces.with_filter(EnvFilter::new("info,rmcp=warn").and(
                    // A span's log lines become its events only from warnings up: the routine
                    // ones (a call's own "tool call" line) repeat the span's attributes.
                    filter_fn(|meta| meta.is_span() || *meta.level() <= tracing::Level::WARN),
                )))
                .init();
            Some(guard)
        }
        Ok(None) => {
            registry.init();
            None
        }
        Err(error) => {
            registry.init();
            tracing::warn!("{error}; continuing without traces");
            None
        }
    }
}
