//! One trace per call across processes: a client's W3C trace context (an HTTP header, or
//! `params._meta` as the 2026-07-28 revision carries it) is continued by the gateway's span, its
//! request to the upstream, the built-in SQL server's span for the statement, and the Jira
//! server's span with its HTTP requests to Jira (retries counted, the context passed on in a
//! `traceparent` header) — exported over OTLP (HTTP/protobuf, and gRPC) to receivers built on
//! the official OTLP definitions (`opentelemetry-proto`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::json;
use switchboard_testkit::stateless;

mod support;

/// One received span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    duration_ms: u64,
    attributes: HashMap<String, String>,
    /// The process's resource attributes.
    resource: HashMap<String, String>,
    /// The `authorization` header (or gRPC metadata) of the export that carried it.
    authorization: String,
}

type Received = Arc<Mutex<Vec<Span>>>;

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn export(
    State(received): State<Received>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> &'static str {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    keep(
        &received,
        ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export"),
        authorization,
    );
    ""
}

/// The spans of one export, flattened into `received`.
fn keep(received: &Received, request: ExportTraceServiceRequest, authorization: &str) {
    let mut spans = received.lock().unwrap();
    for resource in request.resource_spans {
        let attributes: HashMap<String, String> = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|a| (a.key.clone(), text(a.value.as_ref())))
            .collect();
        let service = attributes.get("service.name").cloned().unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                spans.push(Span {
                    service: service.clone(),
                    name: span.name,
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    duration_ms: span
                        .end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano)
                        / 1_000_000,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|a| (a.key.clone(), text(a.value.as_ref())))
                        .collect(),
                    resource: attributes.clone(),
                    authorization: authorization.to_owned(),
                });
            }
        }
    }
}

/// The same receiver over OTLP/gRPC: the collector's `TraceService` as the official definitions
/// generate it, served by tonic.
struct GrpcReceiver(Received);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        keep(&self.0, request.into_inner(), &authorization);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A stateless `tools/call` of `query`, with the trace context in the header or in `_meta`.
async fn query(url: &str, traceparent: &str, in_meta: bool) -> serde_json::Value {
    let arguments = json!({"sql": "SELECT count(*) AS n FROM t"});
    let request = if in_meta {
        stateless::tools_call(url, "query", arguments, json!({"traceparent": traceparent}))
    } else {
        stateless::tools_call(url, "query", arguments, json!({})).header("traceparent", traceparent)
    };
    let text = request.send().await.unwrap().text().await.unwrap();
    stateless::messages(&text).pop().unwrap()
}

/// An OTLP receiver on a free port: what it received, and its URL.
async fn receiver() -> (Received, String) {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(export))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (received, url)
}

/// An OTLP/gRPC receiver on a free port: what it received, and its URL.
async fn grpc_receiver() -> (Received, String) {
    let received: Received = Arc::default();
    let incoming = tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let url = format!("http://{}", incoming.local_addr().unwrap());
    let service = TraceServiceServer::new(GrpcReceiver(received.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming),
    );
    (received, url)
}

/// A SQLite database in `dir` whose table `t` has three rows.
fn three_rows(dir: &std::path::Path) -> std::path::PathBuf {
    let db = dir.join("shop.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        .unwrap();
    db
}

/// `serve --http` over the built-in SQL server (unprefixed) on [`three_rows`] in `dir`, with
/// `extra` configuration and `env`, exporting spans every 100 ms.
async fn serve_sqlite(
    dir: &std::path::Path,
    extra: &str,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let db = three_rows(dir);
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[pins]\nenabled = false\n{extra}[servers.db]\nkind = \"postgres\"\nprefix = false\n\
             env = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
            db.display(),
        ),
    )
    .unwrap();
    let mut env = env.to_vec();
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "100"));
    support::serve_http(&config, &env).await
}

/// The span of `service` of `kind` (2 server, 3 client) in `trace`.
fn span_of<'a>(spans: &'a [Span], trace: &str, service: &str, kind: i32) -> &'a Span {
    spans
        .iter()
        .find(|s| s.trace_id == trace && s.service == service && s.kind == kind)
        .unwrap_or_else(|| panic!("no {service} span of kind {kind} in trace {trace}: {spans:#?}"))
}

/// The spans `received` once `ready` holds of them (20 s at most).
async fn spans_when(received: &Received, ready: impl Fn(&[Span]) -> bool) -> Vec<Span> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let spans = received.lock().unwrap().clone();
            if ready(&spans) {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        let spans = received.lock().unwrap().clone();
        let seen: Vec<(&str, &str)> = spans
            .iter()
            .map(|s| (s.service.as_str(), s.name.as_str()))
            .collect();
        panic!("the spans expected were not exported; received: {seen:?}")
    })
}

#[tokio::test]
async fn a_call_is_one_trace_across_the_gateway_and_the_sql_server() {
    let (received, receiver) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = three_rows(dir.path());
    let jira = switchboard_testkit::jira::FakeJira::start(switchboard_testkit::jira::Flavor::Cloud)
        .await
        .unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[pins]\nenabled = false\n[servers.db]\nkind = \"postgres\"\nprefix = false\nenv = {{ DATABASE_URL = \"sqlite://{}\", SWITCHBOARD_SQL_TRACE_STATEMENTS = \"1\" }}\n\
             [servers.jira]\nkind = \"jira\"\nprefix = false\nenv = {{ JIRA_URL = \"{}\", JIRA_FLAVOR = \"cloud\", JIRA_USERNAME = \"{}\", JIRA_API_TOKEN = \"{}\" }}\n",
            db.display(),
            jira.url(),
            switchboard_testkit::jira::EMAIL,
            switchboard_testkit::jira::API_TOKEN,
        ),
    )
    .unwrap();
    let (mut child, url) = support::serve_http(
        &config,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=test",
            ),
        ],
    )
    .await;

    let header_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let meta_trace = "0af7651916cd43dd8448eb211c80319c";
    let client_span = "00f067aa0ba902b7";
    for (trace, in_meta) in [(header_trace, false), (meta_trace, true)] {
        let answer = query(&url, &format!("00-{trace}-{client_span}-01"), in_meta).await;
        assert_eq!(
            answer["result"]["structuredContent"]["rows"],
            json!([[3]]),
            "{answer}"
        );
    }

    // Three spans per call: the gateway's, its request upstream, the SQL server's.
    let spans = spans_when(&received, |spans| {
        spans
            .iter()
            .filter(|s| s.service == "switchboard-db")
            .count()
            >= 2
            && spans.iter().filter(|s| s.service == "switchboard").count() >= 4
    })
    .await;
    for trace in [header_trace, meta_trace] {
        let of = |service, kind| span_of(&spans, trace, service, kind);
        // Span kinds: 2 server, 3 client.
        let gateway = of("switchboard", 2);
        let upstream = of("switchboard", 3);
        let server = of("switchboard-db", 2);
        assert_eq!(gateway.name, "tools/call query");
        assert_eq!(
            gateway.parent, client_span,
            "the client's span is the parent"
        );
        assert_eq!(gateway.attributes["mcp.method.name"], "tools/call");
        assert_eq!(gateway.attributes["gen_ai.tool.name"], "query");
        assert_eq!(gateway.attributes["switchboard.outcome"], "ok");
        assert_eq!(gateway.attributes["gen_ai.operation.name"], "execute_tool");
        assert_eq!(gateway.attributes["switchboard.upstream"], "db");
        assert!(gateway.attributes.contains_key("switchboard.client"));
        assert!(gateway.attributes.contains_key("mcp.session.id"));
        assert_eq!(upstream.name, "tools/call query");
        assert_eq!(upstream.attributes["gen_ai.tool.name"], "query");
        assert_eq!(upstream.attributes["server.address"], "db");
        // Each attribute is said once, by its conventional name; nothing about where in the
        // code or on which thread a span ran.
        for span in [&gateway, &upstream, &server] {
            for key in [
                "tool",
                "client",
                "session",
                "server",
                "code.file.path",
                "thread.id",
            ] {
                assert!(!span.attributes.contains_key(key), "{key} on {span:?}");
            }
        }
        assert_eq!(upstream.parent, gateway.span_id);
        assert_eq!(server.parent, upstream.span_id);
        assert_eq!(server.attributes["db.system.name"], "sqlite");
        assert_eq!(server.attributes["db.response.returned_rows"], "1");
        assert_eq!(
            server.attributes["db.query.text"],
            "SELECT count(*) AS n FROM t"
        );
    }

    // A Jira tool: the server's span, and its request to Jira, answered 429 once then 200.
    jira.inject(
        "/rest/api/3/project/search",
        switchboard_testkit::jira::Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let jira_trace = "5c1ab2e3f4a5b6c7d8e9f0a1b2c3d4e5";
    let answer = stateless::answer(stateless::tools_call(
        &url,
        "list_projects",
        json!({}),
        json!({"traceparent": format!("00-{jira_trace}-{client_span}-01")}),
    ))
    .await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    // The gateway's upstream span ends after the Jira server's two, and may be exported later.
    let spans = spans_when(&received, |spans| {
        let in_trace = |service: &str, kinds: &[i32]| {
            spans
                .iter()
                .filter(|s| s.service == service && s.trace_id == jira_trace)
                .filter(|s| kinds.contains(&s.kind))
                .count()
        };
        in_trace("switchboard-jira", &[2, 3]) >= 2 && in_trace("switchboard", &[3]) >= 1
    })
    .await;
    let of = |service, kind| span_of(&spans, jira_trace, service, kind);
    let upstream = of("switchboard", 3);
    let server = of("switchboard-jira", 2);
    let request = of("switchboard-jira", 3);
    assert_eq!(server.name, "tools/call list_projects");
    assert_eq!(
        server.parent, upstream.span_id,
        "a child of the gateway's request"
    );
    assert_eq!(server.attributes["gen_ai.tool.name"], "list_projects");
    assert_eq!(request.name, "GET");
    assert_eq!(request.parent, server.span_id);
    assert_eq!(request.attributes["http.request.method"], "GET");
    assert_eq!(request.attributes["http.response.status_code"], "200");
    assert_eq!(request.attributes["http.request.resend_count"], "1");
    assert_eq!(
        request.attributes["url.full"],
        format!("{}/rest/api/3/project/search", jira.url())
    );
    assert!(
        spans.iter().all(|s| !s
            .attributes
            .values()
            .any(|v| v.contains(switchboard_testkit::jira::API_TOKEN))),
        "no credential in a span"
    );
    let sent: Vec<String> = jira
        .requests()
        .into_iter()
        .filter_map(|r| r.traceparent)
        .collect();
    assert!(
        sent.iter()
            .any(|t| t.contains(jira_trace) && t.contains(&request.span_id)),
        "Jira received the request span's context: {sent:?}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_call_exported_over_grpc_is_one_trace_across_the_gateway_and_the_sql_server() {
    let (received, receiver) = grpc_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_sqlite(
        dir.path(),
        "",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    )
    .await;
    let trace = "7d3efb1b173fecfa8e9f0a1b2c3d4e5f";
    let client_span = "00f067aa0ba902b7";
    let answer = query(&url, &format!("00-{trace}-{client_span}-01"), true).await;
    assert_eq!(
        answer["result"]["structuredContent"]["rows"],
        json!([[3]]),
        "{answer}"
    );

    // The gateway and its SQL server (which inherits the transport) both export over gRPC.
    let spans = spans_when(&received, |spans| {
        spans.iter().any(|s| s.service == "switchboard-db")
            && spans.iter().filter(|s| s.service == "switchboard").count() >= 2
    })
    .await;
    let of = |service, kind| span_of(&spans, trace, service, kind);
    let gateway = of("switchboard", 2);
    let upstream = of("switchboard", 3);
    let server = of("switchboard-db", 2);
    assert_eq!(gateway.name, "tools/call query");
    assert_eq!(gateway.parent, client_span);
    assert_eq!(upstream.parent, gateway.span_id);
    assert_eq!(server.parent, upstream.span_id);
    assert_eq!(server.attributes["db.response.returned_rows"], "1");
    child.kill().await.unwrap();
}

/// Export configured by the file alone (`[telemetry]`, no OpenTelemetry variables): the gateway
/// and the SQL server it starts export where the file says, with its header, service name and
/// resource attributes; over gRPC too, when the file names it over the environment's choice.
#[tokio::test]
async fn a_file_alone_configures_export_for_the_gateway_and_its_servers() {
    for grpc in [false, true] {
        let (received, receiver) = if grpc {
            grpc_receiver().await
        } else {
            receiver().await
        };
        let dir = tempfile::tempdir().unwrap();
        let protocol = if grpc { "grpc" } else { "http/protobuf" };
        let (mut child, url) = serve_sqlite(
            dir.path(),
            &format!(
                "[telemetry]\notlp_endpoint = \"{receiver}\"\notlp_protocol = \"{protocol}\"\n\
                 otlp_headers = {{ authorization = \"Bearer ${{COLLECTOR_TOKEN}}\" }}\n\
                 service_name = \"edge-gateway\"\n\
                 resource_attributes = {{ \"deployment.environment.name\" = \"staging\" }}\n"
            ),
            &[
                ("COLLECTOR_TOKEN", "tok-5e1d"),
                // The file's protocol wins over the environment's.
                (
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    if grpc { "http/protobuf" } else { "grpc" },
                ),
            ],
        )
        .await;
        let trace = "5c0e8a6b3d2f41e7a9b8c7d6e5f40312";
        let answer = query(&url, &format!("00-{trace}-00f067aa0ba902b7-01"), true).await;
        assert_eq!(
            answer["result"]["structuredContent"]["rows"],
            json!([[3]]),
            "{answer}"
        );
        let spans = spans_when(&received, |spans| {
            spans.iter().any(|s| s.service == "switchboard-db")
                && spans.iter().filter(|s| s.service == "edge-gateway").count() >= 2
        })
        .await;
        let gateway = span_of(&spans, trace, "edge-gateway", 2);
        let upstream = span_of(&spans, trace, "edge-gateway", 3);
        let server = span_of(&spans, trace, "switchboard-db", 2);
        assert_eq!(upstream.parent, gateway.span_id);
        assert_eq!(server.parent, upstream.span_id, "over {protocol}");
        for span in [gateway, server] {
            assert_eq!(span.authorization, "Bearer tok-5e1d", "{span:?}");
            assert_eq!(
                span.resource["deployment.environment.name"], "staging",
                "{span:?}"
            );
        }
        child.kill().await.unwrap();
    }
}

/// A stage that refuses a call has a span of its own beneath the call's, naming the stage and
/// its decision: the caller's scopes (`authorize`) and its rate (`rate_limit`).
#[tokio::test]
async fn the_stage_that_refuses_a_call_is_a_span_within_the_calls_trace() {
    let (received, receiver) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_sqlite(
        dir.path(),
        "[clients.ci]\ntoken = \"ci-token-0001\"\ndeny = [\"describe_table\"]\n\
         rate_limit = { rate = \"1/minute\" }\n",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str())],
    )
    .await;
    let call = |tool: &str, arguments: serde_json::Value, trace: &str| {
        stateless::answer(
            stateless::tools_call(
                &url,
                tool,
                arguments,
                json!({"traceparent": format!("00-{trace}-00f067aa0ba902b7-01")}),
            )
            .bearer_auth("ci-token-0001"),
        )
    };
    let (allowed, hidden, limited) = (
        "1a2b3c4d5e6f708192a3b4c5d6e7f801",
        "2b3c4d5e6f708192a3b4c5d6e7f80112",
        "3c4d5e6f708192a3b4c5d6e7f8011223",
    );
    let answer = call("query", json!({"sql": "SELECT 1"}), allowed).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let answer = call("describe_table", json!({"table": "t"}), hidden).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown tool"),
        "{answer}"
    );
    let answer = call("query", json!({"sql": "SELECT 1"}), limited).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");

    let stage = |spans: &[Span], trace: &str| {
        spans
            .iter()
            .find(|s| s.trace_id == trace && s.attributes.contains_key("switchboard.policy.stage"))
            .cloned()
    };
    let spans = spans_when(&received, |spans| {
        stage(spans, hidden).is_some() && stage(spans, limited).is_some()
    })
    .await;
    for (trace, name) in [(hidden, "authorize"), (limited, "rate_limit")] {
        let call = span_of(&spans, trace, "switchboard", 2);
        let decided = stage(&spans, trace).unwrap();
        assert_eq!(decided.name, name);
        assert_eq!(decided.parent, call.span_id, "{decided:?}");
        assert_eq!(decided.attributes["switchboard.policy.stage"], name);
        assert_eq!(decided.attributes["switchboard.policy.decision"], "refused");
        assert_eq!(call.attributes["switchboard.decided_by"], name);
    }
    assert!(
        stage(&spans, allowed).is_none(),
        "a call every stage let through has no stage span"
    );
    child.kill().await.unwrap();
}

/// A call that waits for one of its upstream's concurrency slots has a `limits` span covering the
/// wait; a call that found a slot free has none.
#[tokio::test]
async fn a_wait_for_a_concurrency_slot_is_a_span_within_the_calls_trace() {
    let (received, receiver) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = three_rows(dir.path());
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[pins]\nenabled = false\n[servers.db]\nkind = \"postgres\"\nprefix = false\n\
             max_concurrency = 1\nenv = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
            db.display(),
        ),
    )
    .unwrap();
    let (mut child, url) = support::serve_http(
        &config,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) \
                SELECT count(*) FROM c";
    let (first, second) = (
        "4d5e6f708192a3b4c5d6e7f801122334",
        "5e6f708192a3b4c5d6e7f80112233445",
    );
    let call = |trace: &str| {
        stateless::answer(stateless::tools_call(
            &url,
            "query",
            json!({"sql": slow}),
            json!({"traceparent": format!("00-{trace}-00f067aa0ba902b7-01")}),
        ))
    };
    let running = tokio::spawn(call(first));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waited = call(second).await;
    let ran = running.await.unwrap();
    for answer in [&ran, &waited] {
        assert_eq!(answer["result"]["isError"], false, "{answer}");
    }
    let slot = |spans: &[Span], trace: &str| {
        spans
            .iter()
            .find(|s| s.trace_id == trace && s.name == "limits")
            .cloned()
    };
    let spans = spans_when(&received, |spans| {
        slot(spans, second).is_some()
            && spans
                .iter()
                .filter(|s| s.service == "switchboard" && s.kind == 2)
                .count()
                >= 2
    })
    .await;
    let wait = slot(&spans, second).unwrap();
    assert_eq!(
        wait.parent,
        span_of(&spans, second, "switchboard", 2).span_id
    );
    assert_eq!(
        wait.attributes["switchboard.policy.decision"],
        "wait_for_slot"
    );
    assert!(wait.duration_ms > 0, "it covers the wait: {wait:?}");
    assert!(slot(&spans, first).is_none(), "a free slot is no wait");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_wait_for_an_operator_is_a_span_of_its_own_within_the_calls_trace() {
    let (received, receiver) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_sqlite(
        dir.path(),
        "[approvals]\ntimeout = \"60s\"\n[tools.\"query\"]\napproval = \"required\"\n\
         [clients.ops]\ntoken = \"ops-token-0001\"\nadmin = true\n\
         [clients.ci]\ntoken = \"ci-token-0001\"\n",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str())],
    )
    .await;
    let trace = "3e1f0c2d4b5a69788796a5b4c3d2e1f0";
    let call = tokio::spawn(stateless::answer(
        stateless::tools_call(
            &url,
            "query",
            json!({"sql": "SELECT count(*) AS n FROM t"}),
            json!({"traceparent": format!("00-{trace}-00f067aa0ba902b7-01")}),
        )
        .bearer_auth("ci-token-0001"),
    ));
    let approvals = |args: &[&str]| {
        std::process::Command::new(support::binary())
            .args(["approvals", "--url", &url])
            .args(args)
            .env("SWITCHBOARD_TOKEN", "ops-token-0001")
            .output()
            .unwrap()
    };
    let mut id = None;
    for _ in 0..100 {
        let listed = String::from_utf8(approvals(&["list", "--json"]).stdout).unwrap();
        if let Some(line) = listed.lines().next() {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap();
            id = entry["id"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = id.expect("the call waits in the queue");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(approvals(&["approve", &id]).status.success());
    let answer = call.await.unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["rows"],
        json!([[3]]),
        "{answer}"
    );

    let spans = spans_when(&received, |spans| {
        ["approval", "tools/call query"].iter().all(|name| {
            spans
                .iter()
                .any(|s| s.service == "switchboard" && s.name == *name && s.kind != 3)
        }) && spans
            .iter()
            .any(|s| s.service == "switchboard" && s.kind == 3)
    })
    .await;
    // The SQL server's span has the same name and kind: the gateway's is the one of its service.
    let call = span_of(&spans, trace, "switchboard", 2);
    assert_eq!(call.name, "tools/call query");
    let approval = spans
        .iter()
        .find(|s| s.trace_id == trace && s.name == "approval")
        .expect("the approval stage's span");
    assert_eq!(approval.parent, call.span_id);
    assert_eq!(
        approval.attributes["switchboard.approval.channel"],
        "operators"
    );
    assert_eq!(
        approval.attributes["switchboard.approval.decision"],
        "approved"
    );
    assert!(
        approval.duration_ms >= 300,
        "the span covers the wait: {approval:?}"
    );
    let upstream = span_of(&spans, trace, "switchboard", 3);
    assert_eq!(
        upstream.parent, call.span_id,
        "the upstream request follows the wait, beside it"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn an_agent_run_is_one_trace_through_the_gateway_and_its_server() {
    use switchboard_testkit::anthropic::{FakeAnthropic, Reply};
    let (received, receiver) = receiver().await;
    let model = FakeAnthropic::start().await.unwrap();
    let count = json!({"sql": "SELECT count(*) AS n FROM t"});
    model.push(Reply::message(
        json!([
            {"type": "text", "text": "Counting."},
            {"type": "tool_use", "id": "toolu_01", "name": "query", "input": count},
        ]),
        "tool_use",
    ));
    model.push(Reply::text("t has 3 rows."));
    let dir = tempfile::tempdir().unwrap();
    let db = three_rows(dir.path());
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[pins]\nenabled = false\n[servers.db]\nkind = \"postgres\"\nenv = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
            db.display()
        ),
    )
    .unwrap();
    // setsid(1): no terminal, as in CI.
    let output = tokio::process::Command::new("setsid")
        .arg(support::binary())
        .args(["agent", "--config"])
        .arg(&config)
        .arg("How many rows has t?")
        .env("ANTHROPIC_API_KEY", model.api_key())
        .env("ANTHROPIC_BASE_URL", model.base_url())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("ANTHROPIC_MODEL")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let spans = spans_when(&received, |spans| {
        spans.iter().any(|s| s.name == "invoke_agent switchboard")
            && spans.iter().any(|s| s.service == "switchboard-db")
    })
    .await;
    let root = spans
        .iter()
        .find(|s| s.name == "invoke_agent switchboard")
        .unwrap();
    assert_eq!(root.service, "switchboard-agent");
    assert_eq!(root.parent, "", "the run starts the trace");
    assert_eq!(root.attributes["gen_ai.operation.name"], "invoke_agent");
    let chats: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.attributes
                .get("gen_ai.operation.name")
                .map(String::as_str)
                == Some("chat")
        })
        .collect();
    assert_eq!(
        chats.len(),
        2,
        "one span per request to the model: {chats:#?}"
    );
    for chat in &chats {
        assert_eq!(
            (chat.parent.as_str(), chat.kind),
            (root.span_id.as_str(), 3)
        );
        assert_eq!(chat.attributes["gen_ai.provider.name"], "anthropic");
        assert!(
            chat.attributes.contains_key("gen_ai.usage.output_tokens"),
            "{chat:?}"
        );
    }
    let call = spans
        .iter()
        .find(|s| s.name == "tools/call query" && s.service == "switchboard-agent" && s.kind == 2)
        .expect("the gateway's span of the tool call");
    let mut ancestor = call;
    while ancestor.span_id != root.span_id {
        ancestor = spans
            .iter()
            .find(|s| s.span_id == ancestor.parent)
            .unwrap_or_else(|| panic!("the tool call descends from the run: {spans:#?}"));
    }
    let server = spans
        .iter()
        .find(|s| s.service == "switchboard-db")
        .unwrap();
    assert_eq!(
        server.trace_id, root.trace_id,
        "the server's work is in the run's trace"
    );
    assert!(
        spans.iter().all(|s| s.trace_id == root.trace_id),
        "one task, one trace: {spans:#?}"
    );
}
