//! Traces for every Switchboard process: `tracing` spans exported as OpenTelemetry spans over
//! OTLP (HTTP/protobuf or gRPC), and the W3C trace context carried between processes — in HTTP
//! headers and in MCP's `params._meta` (`traceparent`, `tracestate`). And a built-in server's
//! own Prometheus metrics ([`metrics`]).
//!
//! Export is configured only by OpenTelemetry's standard environment: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) switches it on, `OTEL_EXPORTER_OTLP_PROTOCOL` (or
//! `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`) picks `http/protobuf` (the default) or `grpc`,
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` describe the process,
//! `OTEL_EXPORTER_OTLP_HEADERS` authenticates it, `OTEL_SDK_DISABLED=true` switches it off. Unset,
//! no exporter, thread or layer exists, and a span costs what it cost before.

pub mod metrics;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Keeps spans exporting; on drop, the spans still buffered are sent and the exporter stops.
pub struct Traces {
    provider: SdkTracerProvider,
    /// gRPC only: the runtime tonic's connection lives on. The batch processor exports from a
    /// thread of its own and hands each request to it; it outlives the provider's shutdown.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("switchboard: traces not all exported at exit: {error}");
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// How spans travel to the collector: OTLP's two transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    HttpProtobuf,
    Grpc,
}

/// The transport the environment (`env`) names, the traces-specific variable first;
/// `http/protobuf` when neither is set, as OpenTelemetry's specification defaults.
fn transport(env: impl Fn(&str) -> Option<String>) -> Result<Transport, String> {
    let named = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|name| env(name).map(|value| (name, value)));
    match named {
        None => Ok(Transport::HttpProtobuf),
        Some((_, value)) if value.trim() == "http/protobuf" => Ok(Transport::HttpProtobuf),
        Some((_, value)) if value.trim() == "grpc" => Ok(Transport::Grpc),
        Some((name, value)) => Err(format!(
            "{name}={value} is not a transport Switchboard exports over: use http/protobuf or grpc"
        )),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether this process exports traces (read once from the environment): code that prepares
/// attributes only traces need checks it first.
pub fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(configured)
}

/// Whether the environment asks for OTLP export of traces.
pub fn configured() -> bool {
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none");
    !disabled
        && (env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some())
}

/// The layer that exports this process's spans, and the guard that keeps it exporting — `None`
/// when the environment does not ask for traces. `service` names the process when
/// `OTEL_SERVICE_NAME` does not.
///
/// # Errors
/// A message when the exporter cannot be built from the environment (e.g. a malformed endpoint).
pub fn layer<S>(
    service: &str,
) -> Result<Option<(impl tracing_subscriber::Layer<S>, Traces)>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if !configured() {
        return Ok(None);
    }
    let (exporter, runtime) = match transport(env)? {
        Transport::HttpProtobuf => (
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
                .map_err(|e| format!("cannot export traces: {e}"))?,
            None,
        ),
        Transport::Grpc => {
            let (exporter, runtime) = grpc_exporter()?;
            (exporter, Some(runtime))
        }
    };
    // The environment's resource (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME) wins over ours.
    let mut resource = Resource::builder();
    if env("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_owned());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("switchboard");
    Ok(Some((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Traces { provider, runtime },
    )))
}

/// An OTLP/gRPC exporter and the one-thread runtime its connection runs on (tonic needs one; the
/// process's own may not exist yet, or may end before the last spans are sent). An `https://`
/// endpoint is verified against the system's trust store.
fn grpc_exporter() -> Result<(opentelemetry_otlp::SpanExporter, tokio::runtime::Runtime), String> {
    use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otlp-grpc")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot export traces over gRPC: {e}"))?;
    let exporter = {
        let _inside = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
            .build()
            .map_err(|e| format!("cannot export traces: {e}"))?
    };
    Ok((exporter, runtime))
}

/// A W3C trace context to send along with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `traceparent`.
    pub traceparent: String,
    /// `tracestate`, when there is one.
    pub tracestate: Option<String>,
}

/// The trace context of `span`, for a request sent while it is the parent; `None` when spans
/// are not exported (there is no trace to continue).
pub fn context_of(span: &tracing::Span) -> Option<TraceContext> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    Some(TraceContext {
        traceparent: carrier.remove("traceparent")?,
        tracestate: carrier.remove("tracestate").filter(|s| !s.is_empty()),
    })
}

/// Makes `span` a child of the remote span a request named (`traceparent`, `tracestate`); a
/// missing or malformed `traceparent` leaves it a root. Call before the span is entered.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    if let Some(state) = tracestate {
        carrier.insert("tracestate".to_owned(), state.to_owned());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The server span of one `tools/call` a built-in server handles: a child of the caller's span
/// named in the request's `_meta` (the gateway's, through it), with MCP's and GenAI's tool
/// attributes. No span at all when traces are not exported.
pub fn tool_call_span(
    tool: &str,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "tool_call",
        tool,
        otel.name = %format_args!("tools/call {tool}"),
        otel.kind = "server",
    );
    set_parent(&span, traceparent, tracestate);
    attribute(&span, "mcp.method.name", "tools/call");
    attribute(&span, "gen_ai.operation.name", "execute_tool");
    attribute(&span, "gen_ai.tool.name", tool.to_owned());
    span
}

/// Marks `span`'s exported span as failed with `message` (not its log lines).
pub fn error(span: &tracing::Span, message: impl Into<String>) {
    span.set_status(opentelemetry::trace::Status::error(message.into()));
}

/// Sets an attribute on `span`'s exported span only (not on its log lines).
pub fn attribute(span: &tracing::Span, key: &'static str, value: impl Into<opentelemetry::Value>) {
    span.set_attribute(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport_of(vars: &[(&str, &str)]) -> Result<Transport, String> {
        transport(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_transport_is_http_protobuf_unless_grpc_is_named_and_the_traces_variable_wins() {
        assert_eq!(transport_of(&[]), Ok(Transport::HttpProtobuf));
        assert_eq!(
            transport_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
            Ok(Transport::Grpc)
        );
        assert_eq!(
            transport_of(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ]),
            Ok(Transport::HttpProtobuf)
        );
        let refused =
            transport_of(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")]).unwrap_err();
        assert!(
            refused.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json")
                && refused.contains("grpc"),
            "{refused}"
        );
    }
}
