//! Traces for every Switchboard process: `tracing` spans exported as OpenTelemetry spans over
//! OTLP (HTTP/protobuf or gRPC), and the W3C trace context carried between processes — in HTTP
//! headers and in MCP's `params._meta` (`traceparent`, `tracestate`). And a built-in server's
//! own Prometheus metrics ([`metrics`]).
//!
//! Export is configured by OpenTelemetry's standard environment and, for a process that reads a
//! configuration file, by its settings ([`TraceConfig`], `[telemetry]` in the gateway's), which
//! win over the environment where they say something: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) switches it on, `OTEL_EXPORTER_OTLP_PROTOCOL` (or
//! `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`) picks `http/protobuf` (the default) or `grpc`,
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` describe the process,
//! `OTEL_EXPORTER_OTLP_HEADERS` authenticates it, `OTEL_SDK_DISABLED=true` switches it off
//! whatever the file says. Unset, no exporter, thread or layer exists, and a span costs what it
//! cost before.

pub mod metrics;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Trace export as a configuration file sets it. Each setting it gives wins over the
/// environment's (as any SDK's programmatic setting does); what it leaves unset comes from the
/// environment. `Debug` shows header names, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TraceConfig {
    /// The collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` (HTTP appends `/v1/traces`).
    pub endpoint: Option<String>,
    /// `http/protobuf` or `grpc`.
    pub protocol: Option<String>,
    /// Headers (HTTP) or metadata (gRPC) sent with every export, besides the environment's.
    pub headers: BTreeMap<String, String>,
    /// `service.name`, over `OTEL_SERVICE_NAME`.
    pub service_name: Option<String>,
    /// Resource attributes, each over the same key in `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: BTreeMap<String, String>,
}

impl std::fmt::Debug for TraceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceConfig")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .finish()
    }
}

/// Set once this process exports traces: what a child process needs in its environment, besides
/// this one's `OTEL_*` variables, to export where this process does (the file's settings).
static EXPORTING: OnceLock<Vec<(String, String)>> = OnceLock::new();

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

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "http/protobuf",
            Self::Grpc => "grpc",
        }
    }
}

/// The transport the configuration (`configured`) or else the environment (`env`) names, the
/// traces-specific variable first; `http/protobuf` when none is set, as OpenTelemetry's
/// specification defaults.
fn transport(
    configured: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Transport, String> {
    let named = configured
        .map(|value| ("[telemetry] otlp_protocol", value.to_owned()))
        .or_else(|| {
            [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ]
            .into_iter()
            .find_map(|name| env(name).map(|value| (name, value)))
        });
    match named {
        None => Ok(Transport::HttpProtobuf),
        Some((_, value)) if value.trim() == "http/protobuf" => Ok(Transport::HttpProtobuf),
        Some((_, value)) if value.trim() == "grpc" => Ok(Transport::Grpc),
        Some((name, value)) => Err(format!(
            "{name} = {value:?} is not a transport Switchboard exports over: use http/protobuf \
             or grpc"
        )),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The target of spans made only to be exported (created only when [`enabled`]): their fields
/// are named by OpenTelemetry's conventions, and log lines leave them out, so such a span adds
/// nothing to what a process logs.
pub const EXPORTED_ONLY: &str = "switchboard::exported";

/// Whether this process exports traces (decided once, by [`layer`]): code that prepares
/// attributes only traces need checks it first.
pub fn enabled() -> bool {
    EXPORTING.get().is_some()
}

/// Whether `config` or else the environment asks for OTLP export of traces.
fn configured(config: &TraceConfig) -> bool {
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none");
    !disabled
        && (config.endpoint.is_some()
            || env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some())
}

/// What a child process needs in its environment, besides this process's own `OTEL_*`
/// variables, to export its traces where this one does; empty when this process exports none.
pub fn child_environment() -> &'static [(String, String)] {
    EXPORTING.get().map_or(&[], Vec::as_slice)
}

/// The layer that exports this process's spans, and the guard that keeps it exporting — `None`
/// when neither `config` nor the environment asks for traces. `service` names the process when
/// neither does. Call once per process.
///
/// # Errors
/// A message when the exporter cannot be built (e.g. a malformed endpoint or header).
pub fn layer<S>(
    service: &str,
    config: &TraceConfig,
) -> Result<Option<(impl tracing_subscriber::Layer<S>, Traces)>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if !configured(config) {
        return Ok(None);
    }
    let transport = transport(config.protocol.as_deref(), env)?;
    let (exporter, runtime) = match transport {
        Transport::HttpProtobuf => (http_exporter(config)?, None),
        Transport::Grpc => {
            let (exporter, runtime) = grpc_exporter(config)?;
            (exporter, Some(runtime))
        }
    };
    // The environment's resource (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME), then the file's
    // over it; `service` only when neither names the process.
    let mut resource = Resource::builder().with_attributes(
        config
            .resource_attributes
            .iter()
            .map(|(key, value)| opentelemetry::KeyValue::new(key.clone(), value.clone())),
    );
    match &config.service_name {
        Some(name) => resource = resource.with_service_name(name.clone()),
        None if env("OTEL_SERVICE_NAME").is_none() => {
            resource = resource.with_service_name(service.to_owned());
        }
        None => {}
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("switchboard");
    let _ = EXPORTING.set(children(config, transport, env));
    Ok(Some((
        // Each span carries what it says about the call; where in the code and on which thread
        // it ran, and how long it was polled, nearly doubled the bytes every span cost to build
        // and send, for little use across async tasks. Context flows through `tracing`'s own span
        // tree (and `context_of`), so nothing needs OpenTelemetry's thread-local context.
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false),
        Traces { provider, runtime },
    )))
}

/// The URL spans are posted to over HTTP, for a collector at `base`.
fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

fn http_exporter(config: &TraceConfig) -> Result<opentelemetry_otlp::SpanExporter, String> {
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    // The protocol is named, not left to the environment, which may name another.
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(base) = &config.endpoint {
        builder = builder.with_endpoint(traces_url(base));
    }
    if !config.headers.is_empty() {
        builder = builder.with_headers(config.headers.clone().into_iter().collect());
    }
    builder
        .build()
        .map_err(|e| format!("cannot export traces: {e}"))
}

/// An OTLP/gRPC exporter and the one-thread runtime its connection runs on (tonic needs one; the
/// process's own may not exist yet, or may end before the last spans are sent). An `https://`
/// endpoint is verified against the system's trust store.
fn grpc_exporter(
    config: &TraceConfig,
) -> Result<(opentelemetry_otlp::SpanExporter, tokio::runtime::Runtime), String> {
    use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (name, value) in &config.headers {
        let key = tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("cannot export traces: {name:?} is not a gRPC metadata name"))?;
        let value = value
            .parse()
            .map_err(|_| format!("cannot export traces: the value of header {name} is invalid"))?;
        metadata.insert(key, value);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otlp-grpc")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot export traces over gRPC: {e}"))?;
    let exporter = {
        let _inside = runtime.enter();
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
            .with_metadata(metadata);
        if let Some(base) = &config.endpoint {
            builder = builder.with_endpoint(base.clone());
        }
        builder
            .build()
            .map_err(|e| format!("cannot export traces: {e}"))?
    };
    Ok((exporter, runtime))
}

/// The variables that carry `config` to a child process over the environment's (`env`): the
/// traces-specific ones, which a child's SDK reads before the general ones this process's
/// environment may also pass on. Header values are percent-encoded, as OpenTelemetry's
/// specification reads them back.
fn children(
    config: &TraceConfig,
    transport: Transport,
    env: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    if let Some(base) = &config.endpoint {
        let endpoint = match transport {
            Transport::HttpProtobuf => traces_url(base),
            Transport::Grpc => base.clone(),
        };
        vars.push(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_owned(), endpoint));
    }
    if config.protocol.is_some() {
        vars.push((
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL".to_owned(),
            transport.name().to_owned(),
        ));
    }
    let joined = |inherited: Option<String>, own: Vec<String>| {
        inherited
            .into_iter()
            .chain(own)
            .collect::<Vec<_>>()
            .join(",")
    };
    if !config.headers.is_empty() {
        let inherited =
            env("OTEL_EXPORTER_OTLP_TRACES_HEADERS").or_else(|| env("OTEL_EXPORTER_OTLP_HEADERS"));
        let own = config
            .headers
            .iter()
            .map(|(name, value)| {
                let value = percent_encoding::utf8_percent_encode(
                    value,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                format!("{name}={value}")
            })
            .collect();
        vars.push((
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS".to_owned(),
            joined(inherited, own),
        ));
    }
    if !config.resource_attributes.is_empty() {
        let own = config
            .resource_attributes
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        vars.push((
            "OTEL_RESOURCE_ATTRIBUTES".to_owned(),
            joined(env("OTEL_RESOURCE_ATTRIBUTES"), own),
        ));
    }
    vars
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
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    Some(TraceContext {
        traceparent: carrier.traceparent?,
        tracestate: carrier.tracestate.filter(|s| !s.is_empty()),
    })
}

/// The two W3C headers, written by the propagator (no map for two keys).
#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl opentelemetry::propagation::Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}

/// The two W3C headers a request carried, read by the propagator.
struct Received<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl opentelemetry::propagation::Extractor for Received<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = vec!["traceparent"];
        keys.extend(self.tracestate.map(|_| "tracestate"));
        keys
    }
}

/// Makes `span` a child of the remote span a request named (`traceparent`, `tracestate`); a
/// missing or malformed `traceparent` leaves it a root. Call before the span is entered.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let parent = TraceContextPropagator::new().extract(&Received {
        traceparent,
        tracestate,
    });
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
        target: EXPORTED_ONLY,
        "tool_call",
        otel.name = %format_args!("tools/call {tool}"),
        otel.kind = "server",
        mcp.method.name = "tools/call",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = tool,
    );
    set_parent(&span, traceparent, tracestate);
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

    fn env_of<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn transport_of(vars: &[(&str, &str)]) -> Result<Transport, String> {
        transport(None, env_of(vars))
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
            refused.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = \"http/json\"")
                && refused.contains("grpc"),
            "{refused}"
        );
    }

    #[test]
    fn the_files_protocol_wins_over_the_environments() {
        let env = [("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")];
        assert_eq!(transport(Some("grpc"), env_of(&env)), Ok(Transport::Grpc));
        let refused = transport(Some("http/json"), env_of(&env)).unwrap_err();
        assert!(refused.contains("[telemetry] otlp_protocol"), "{refused}");
    }

    #[test]
    fn a_child_gets_the_files_settings_over_what_the_environment_passes_on() {
        let config = TraceConfig {
            endpoint: Some("http://collector:4318/".into()),
            protocol: None,
            headers: BTreeMap::from([("authorization".into(), "Bearer a,b=c".into())]),
            service_name: Some("edge".into()),
            resource_attributes: BTreeMap::from([(
                "deployment.environment.name".into(),
                "prod".into(),
            )]),
        };
        let env = [
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=7"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=data"),
        ];
        let vars: BTreeMap<String, String> =
            children(&config, Transport::HttpProtobuf, env_of(&env))
                .into_iter()
                .collect();
        assert_eq!(
            vars,
            BTreeMap::from([
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(),
                    "http://collector:4318/v1/traces".into()
                ),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_HEADERS".into(),
                    "x-tenant=7,authorization=Bearer%20a%2Cb%3Dc".into()
                ),
                (
                    "OTEL_RESOURCE_ATTRIBUTES".into(),
                    "team=data,deployment.environment.name=prod".into()
                ),
            ]),
            "the service name is the child's own; no protocol set, none passed"
        );
        let grpc: BTreeMap<String, String> = children(
            &TraceConfig {
                endpoint: Some("http://collector:4317".into()),
                protocol: Some("grpc".into()),
                ..TraceConfig::default()
            },
            Transport::Grpc,
            env_of(&[]),
        )
        .into_iter()
        .collect();
        assert_eq!(
            grpc["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"],
            "http://collector:4317"
        );
        assert_eq!(grpc["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"], "grpc");
    }
}
