//! Streamable HTTP downstream with real rmcp clients over real sockets: both protocol eras,
//! bearer tokens (401 + WWW-Authenticate), Host/Origin validation, /healthz and /readyz,
//! approval through elicitation (2025-11-25 sessions) and `input_required` (2026-07-28).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{fixture_server, start, text};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ServiceExt};
use switchboard_gateway::Gateway;
use switchboard_gateway::downstream::serve_http;
use tokio_util::sync::CancellationToken;

async fn serve(gateway: &Gateway) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_http(gateway.clone(), listener, shutdown.clone()));
    (format!("http://{addr}"), shutdown)
}

/// A client that answers approval elicitations with `approve` and counts them.
#[derive(Clone)]
struct Human {
    approve: bool,
    asked: Arc<AtomicUsize>,
}

impl ClientHandler for Human {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(serde_json::json!({"elicitation": {"form": {}}})).unwrap();
        ClientConfig::new(capabilities, Implementation::new("test-human", "1.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            panic!("expected a form elicitation");
        };
        assert!(message.contains("delete_record"), "{message}");
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = Some(serde_json::json!({"approve": self.approve}));
        Ok(result)
    }
}

fn transport(url: &str, token: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("{url}/mcp"));
    if let Some(token) = token {
        config = config.auth_header(token.to_owned());
    }
    StreamableHttpClientTransport::from_config(config)
}

fn modern() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

#[tokio::test]
async fn both_eras_list_and_call_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("{}{}", fixture_server("a", &[]), fixture_server("b", &[]));
    let gateway = start(dir.path(), &toml).await;
    let (url, shutdown) = serve(&gateway).await;
    let human = Human {
        approve: true,
        asked: Arc::default(),
    };

    // 2025-11-25: initialize handshake, session; destructive call approved by elicitation.
    let legacy = human.clone().serve(transport(&url, None)).await.unwrap();
    let info = legacy.peer().peer_info().unwrap();
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    let tools = legacy.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "a__echo"));
    let mut params = CallToolRequestParams::new("a__echo");
    params.arguments = common::args(serde_json::json!({"text": "legacy"}));
    assert_eq!(text(&legacy.call_tool(params).await.unwrap()), "legacy");
    let r = legacy
        .call_tool(CallToolRequestParams::new("b__delete_record"))
        .await
        .unwrap();
    assert_eq!(text(&r), "deleted");
    assert_eq!(human.asked.load(Ordering::SeqCst), 1);
    legacy.cancel().await.unwrap();

    // 2026-07-28: stateless, per-request metadata; approval through input_required.
    let stateless = human
        .clone()
        .serve_with_lifecycle(transport(&url, None), modern())
        .await
        .unwrap();
    let info = stateless.peer().peer_info().unwrap();
    assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
    let tools = stateless.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "b__whoami"));
    assert_eq!(
        text(
            &stateless
                .call_tool(CallToolRequestParams::new("b__whoami"))
                .await
                .unwrap()
        ),
        "fixture"
    );
    let r = stateless
        .call_tool(CallToolRequestParams::new("a__delete_record"))
        .await
        .unwrap();
    assert_eq!(text(&r), "deleted");
    assert_eq!(human.asked.load(Ordering::SeqCst), 2);
    stateless.cancel().await.unwrap();

    // A human who says no: the call is refused in both eras.
    let no = Human {
        approve: false,
        asked: Arc::default(),
    };
    let legacy = no.clone().serve(transport(&url, None)).await.unwrap();
    let r = legacy
        .call_tool(CallToolRequestParams::new("a__delete_record"))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("not approved"), "{}", text(&r));
    legacy.cancel().await.unwrap();
    let stateless = no
        .clone()
        .serve_with_lifecycle(transport(&url, None), modern())
        .await
        .unwrap();
    let r = stateless
        .call_tool(CallToolRequestParams::new("a__delete_record"))
        .await
        .unwrap();
    assert!(text(&r).contains("not approved"), "{}", text(&r));
    assert_eq!(no.asked.load(Ordering::SeqCst), 2);
    stateless.cancel().await.unwrap();

    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn tokens_scopes_and_401() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}[clients.reader]\ntoken = \"${{env:SB_READER_TOKEN}}\"\nallow = [\"echo\", \"whoami\"]\n",
        fixture_server("a", &[])
    );
    let path = common::write(dir.path(), "switchboard.toml", &toml);
    let options = switchboard_gateway::GatewayOptions {
        env: [(
            "SB_READER_TOKEN".to_owned(),
            "reader-secret-0001".to_owned(),
        )]
        .into(),
        ..switchboard_gateway::GatewayOptions::default()
    };
    let gateway = Gateway::start(switchboard_gateway::Config::load(&path).unwrap(), options)
        .await
        .unwrap();
    let (url, shutdown) = serve(&gateway).await;
    let http = reqwest::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    for auth in [None, Some("Bearer wrong")] {
        let mut request = http
            .post(format!("{url}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert_eq!(auth.is_some(), challenge.contains("invalid_token"));
    }
    let client = ().serve(transport(&url, Some("reader-secret-0001"))).await.unwrap();
    let names: Vec<_> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert_eq!(names, ["echo", "whoami"]);
    // A hidden tool is a JSON-RPC invalid-params error, exactly like a tool that does not exist.
    let hidden = client
        .call_tool(CallToolRequestParams::new("pid"))
        .await
        .unwrap_err();
    let missing = client
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await
        .unwrap_err();
    for error in [&hidden, &missing] {
        let rmcp::service::ServiceError::McpError(error) = error else {
            panic!("a JSON-RPC error, not {error:?}");
        };
        assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert!(error.message.contains("unknown tool"), "{}", error.message);
    }
    assert_eq!(
        hidden.to_string().replace("pid", "no_such_tool"),
        missing.to_string()
    );
    // Prompts follow the scopes; resources of a server the client may use stay visible.
    assert!(client.list_all_prompts().await.unwrap().is_empty());
    assert_eq!(client.list_all_resources().await.unwrap().len(), 1);
    client.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn dns_rebinding_health_and_non_loopback_guard() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}required = false\n",
        fixture_server("a", &[]),
        fixture_server("down", &["--fail-start"])
    );
    let gateway = start(dir.path(), &toml).await;
    let (url, shutdown) = serve(&gateway).await;
    let http = reqwest::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let post = |host: Option<&str>, origin: Option<&str>| {
        let mut r = http
            .post(format!("{url}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(h) = host {
            r = r.header("host", h);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(
        post(Some("evil.example"), None).await.unwrap().status(),
        403
    );
    assert_eq!(
        post(None, Some("http://evil.example"))
            .await
            .unwrap()
            .status(),
        403
    );
    // The gateway's own loopback origin is same-origin; another local port is not.
    let port = url.rsplit(':').next().unwrap();
    for origin in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
    ] {
        let status = post(None, Some(&origin)).await.unwrap().status();
        assert_ne!(status, 403, "{origin} is accepted");
    }
    assert_eq!(
        post(None, Some("http://localhost:1"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "the failing server is not required");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["upstreams"].as_array().unwrap().len(), 2);
    shutdown.cancel();
    gateway.shutdown().await;

    let toml = fixture_server("a", &[]);
    let gateway = start(dir.path(), &toml).await;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let error = tokio::time::timeout(
        Duration::from_secs(5),
        serve_http(gateway.clone(), listener, CancellationToken::new()),
    )
    .await
    .expect("refuses at once")
    .expect_err("no tokens configured");
    assert!(
        error.to_string().contains("requires client tokens"),
        "{error}"
    );
    gateway.shutdown().await;
}

/// A plain stateless `tools/call` (served beside rmcp's service, without its per-request
/// machinery) is refused from a foreign Host or Origin exactly as any other request is, and
/// otherwise answered, as one JSON body, with the same result and the same errors.
#[tokio::test]
async fn a_plain_stateless_call_is_answered_and_refused_from_a_foreign_host_or_origin() {
    use switchboard_testkit::stateless::{answer, tools_call};
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let mcp = format!("{url}/mcp");
    let echo = |text: &str| {
        tools_call(
            &mcp,
            "echo",
            serde_json::json!({"text": text}),
            serde_json::json!({}),
        )
    };
    let status =
        |request: reqwest::RequestBuilder| async move { request.send().await.unwrap().status() };
    assert_eq!(status(echo("x").header("host", "evil.example")).await, 403);
    assert_eq!(
        status(echo("x").header("origin", "http://evil.example")).await,
        403
    );
    let port = url.rsplit(':').next().unwrap();
    let same_origin = echo("same origin").header("origin", format!("http://localhost:{port}"));
    let answered = answer(same_origin).await;
    assert_eq!(
        answered["result"]["content"][0]["text"], "same origin",
        "{answered}"
    );
    let response = echo("plain").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let answered: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answered["id"], 1);
    assert_eq!(
        answered["result"]["content"][0]["text"], "plain",
        "{answered}"
    );
    let missing = tools_call(
        &mcp,
        "no_such_tool",
        serde_json::json!({}),
        serde_json::json!({}),
    );
    let answered = answer(missing).await;
    assert_eq!(answered["error"]["code"], -32602, "{answered}");
    shutdown.cancel();
    gateway.shutdown().await;
}

/// A plain stateless call whose client goes away is cancelled upstream, not left running.
#[tokio::test]
async fn a_stateless_call_whose_client_goes_away_is_cancelled_upstream() {
    use switchboard_testkit::stateless::{answer, tools_call};
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let mcp = format!("{url}/mcp");
    let call = |tool: &str| tools_call(&mcp, tool, serde_json::json!({}), serde_json::json!({}));
    let gave_up = call("wait_for_cancel")
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(gave_up.is_err(), "the call waits until it is cancelled");
    let mut cancelled = false;
    for _ in 0..50 {
        let answered = answer(call("was_cancelled")).await;
        if answered["result"]["content"][0]["text"] == "true" {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the upstream saw the cancellation");
    shutdown.cancel();
    gateway.shutdown().await;
}

/// Cancelling the gateway's own task of a long-running tool cancels its call upstream too.
#[tokio::test]
async fn a_cancelled_task_of_a_long_running_tool_is_cancelled_upstream() {
    use serde_json::json;
    use switchboard_testkit::stateless::{answer, request, tools_call};
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}[tools.\"wait_for_cancel\"]\ntask = true\n",
        fixture_server("a", &[])
    );
    let gateway = start(dir.path(), &toml).await;
    let (url, shutdown) = serve(&gateway).await;
    let mcp = format!("{url}/mcp");
    let follows_tasks = json!({"io.modelcontextprotocol/clientCapabilities": {
        "extensions": {"io.modelcontextprotocol/tasks": {}}
    }});
    let call = tools_call(&mcp, "wait_for_cancel", json!({}), follows_tasks.clone());
    let created = answer(call).await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    // Under way upstream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancel = request(&mcp, "tasks/cancel", json!({"taskId": task}), follows_tasks);
    let cancelled = answer(cancel).await;
    assert!(cancelled.get("error").is_none(), "{cancelled}");
    let seen = common::eventually(Duration::from_secs(5), async || {
        let asked = tools_call(&mcp, "was_cancelled", json!({}), json!({}));
        answer(asked).await["result"]["content"][0]["text"] == "true"
    })
    .await;
    assert!(seen, "the upstream saw the cancellation");
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn readyz_fails_when_a_required_upstream_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}",
        fixture_server("a", &[]),
        fixture_server("down", &["--fail-start"])
    );
    let gateway = start(dir.path(), &toml).await;
    let (url, shutdown) = serve(&gateway).await;
    let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn stateless_clients_hear_list_changed_through_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("{}{}", fixture_server("a", &[]), fixture_server("b", &[]));
    let gateway = start(dir.path(), &toml).await;
    let (url, shutdown) = serve(&gateway).await;
    let client = ().serve_with_lifecycle(transport(&url, None), modern()).await.unwrap();
    let filter = rmcp::model::SubscriptionFilter::builder()
        .tools_list_changed()
        .prompts_list_changed()
        .build();
    let mut subscription = client.peer().listen(filter).await.unwrap();
    let acknowledged = subscription.acknowledged();
    assert_eq!(acknowledged.tools_list_changed, Some(true));
    assert_eq!(acknowledged.prompts_list_changed, Some(true));
    assert_eq!(acknowledged.resources_list_changed, None, "not asked for");
    client
        .call_tool(CallToolRequestParams::new("a__add_tool"))
        .await
        .unwrap();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .expect("a notification")
            .unwrap()
            .unwrap()
    };
    assert!(matches!(
        next().await,
        rmcp::model::ServerNotification::ToolListChangedNotification(_)
    ));
    assert!(matches!(
        next().await,
        rmcp::model::ServerNotification::PromptListChangedNotification(_)
    ));
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "a__extra"));
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(prompts.iter().any(|p| p.name == "a__extra_prompt"));
    drop(subscription);
    client.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}
