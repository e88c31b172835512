//! What the gateway relays between a client and an upstream besides tool results, with real
//! rmcp clients over Streamable HTTP and the fixture as a child process: progress, log messages,
//! sampling and elicitation requests (2025-11-25 sessions), `input_required` round trips
//! (2026-07-28), cancellation, resource update notifications, and upstreams that speak only
//! 2026-07-28.
#![expect(
    deprecated,
    reason = "sampling, logging and subscriptions are 2025-11-25 features"
)]

mod common;

use std::time::Duration;

use common::{args, eventually, fixture_server, start, text};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
    ClientRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, InputResponses, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion,
    ReadResourceRequestParams, ResourceUpdatedNotificationParam, ResultType, SamplingMessage,
    ServerNotification, ServerResult, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, PeerRequestOptions, RequestContext,
    RoleClient, RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use switchboard_gateway::Gateway;
use switchboard_gateway::downstream::serve_http;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

async fn serve(gateway: &Gateway) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_http(gateway.clone(), listener, shutdown.clone()));
    (format!("http://{addr}/mcp"), shutdown)
}

/// What the client saw outside its requests' results.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Progress(f64),
    Log(Value),
    Updated(String),
    ToolsChanged,
    PromptsChanged,
    /// An elicitation request: `approval` (the gateway's) or `name` (the fixture's).
    Elicited(&'static str),
}

/// A client that records notifications and answers sampling and elicitation requests.
#[derive(Clone)]
struct Client {
    seen: mpsc::UnboundedSender<Seen>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(json!({"elicitation": {"form": {}}, "sampling": {}})).unwrap();
        ClientConfig::new(capabilities, Implementation::new("relay-test", "1.0"))
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, rmcp::ErrorData> {
        let prompt = serde_json::to_value(&params.messages[0]).unwrap()["content"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("sampled {prompt}")),
            "test-model".to_owned(),
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let approval = serde_json::to_value(&request).unwrap()["requestedSchema"]["properties"]
            .get("approve")
            .is_some();
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        if approval {
            let _ = self.seen.send(Seen::Elicited("approval"));
            result.content = Some(json!({"approve": true}));
        } else {
            let _ = self.seen.send(Seen::Elicited("name"));
            result.content = Some(json!({"name": "Ada"}));
        }
        Ok(result)
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.seen.send(Seen::Progress(params.progress));
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.seen.send(Seen::Log(params.data));
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.seen.send(Seen::ToolsChanged);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.seen.send(Seen::PromptsChanged);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.seen.send(Seen::Updated(params.uri));
    }
}

type Session = RunningService<RoleClient, Client>;

async fn connect(url: &str, modern: bool) -> (Session, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
    let client = Client { seen: tx };
    let session = if modern {
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        client.serve_with_lifecycle(transport, lifecycle).await
    } else {
        client.serve(transport).await
    };
    (session.unwrap(), rx)
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = args(arguments);
    params
}

/// Collects what arrives within `limit`.
async fn drain(rx: &mut mpsc::UnboundedReceiver<Seen>, limit: Duration) -> Vec<Seen> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(item)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        seen.push(item);
    }
    seen
}

#[tokio::test]
async fn progress_logs_sampling_and_elicitation_reach_the_calling_session() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, mut seen) = connect(&url, false).await;
    let (other, mut other_seen) = connect(&url, false).await;

    let result = session
        .call_tool(call("progress", json!({"steps": 3})))
        .await
        .unwrap();
    assert_eq!(text(&result), "3 steps");
    let result = session.call_tool(call("log", json!({}))).await.unwrap();
    assert_eq!(text(&result), "logged");
    session
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .unwrap();
    let got = drain(&mut seen, Duration::from_millis(500)).await;
    for expected in [
        Seen::Progress(1.0),
        Seen::Progress(2.0),
        Seen::Progress(3.0),
        Seen::Log(json!("careful")),
        Seen::Log(json!("level set to Debug")),
    ] {
        assert!(got.contains(&expected), "{expected:?} missing from {got:?}");
    }

    let result = session
        .call_tool(call("sample", json!({"prompt": "a haiku"})))
        .await
        .unwrap();
    assert_eq!(text(&result), "the client said: sampled a haiku");
    let result = session.call_tool(call("elicit", json!({}))).await.unwrap();
    assert_eq!(text(&result), "hello Ada");

    assert_eq!(
        drain(&mut other_seen, Duration::from_millis(100)).await,
        [],
        "another session sees nothing of these calls"
    );
    session.cancel().await.unwrap();
    other.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn input_required_results_are_relayed_to_modern_clients() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, _seen) = connect(&url, true).await;

    let first = session
        .call_tool_once(call("mrtr", json!({})))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(asked) = first else {
        panic!("expected input_required, got {first:?}");
    };
    assert_eq!(asked.request_state.as_deref(), Some("asked-once"));
    assert!(asked.input_requests.unwrap().contains_key("name"));

    let mut retry = call("mrtr", json!({}));
    let mut answers = InputResponses::new();
    answers.insert(
        "name".to_owned(),
        json!({"action": "accept", "content": {"name": "Grace"}}),
    );
    retry.input_responses = Some(answers);
    retry.request_state = asked.request_state;
    let CallToolResponse::Complete(done) = session.call_tool_once(retry).await.unwrap() else {
        panic!("expected a final result");
    };
    assert_eq!(text(&done), "hello Grace");

    // rmcp's own loop answers through the client's elicitation handler.
    let result = session.call_tool(call("mrtr", json!({}))).await.unwrap();
    assert_eq!(text(&result), "hello Ada");

    // Results of a handshake-era upstream carry the 2026-07-28 `resultType`.
    let result = session
        .call_tool(call("echo", json!({"text": "hi"})))
        .await
        .unwrap();
    assert_eq!(result.result_type, Some(ResultType::COMPLETE));
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn an_approved_call_whose_upstream_also_asks_for_input_completes() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}\n[tools.\"mrtr\"]\napproval = \"required\"\n",
        fixture_server("a", &[])
    );
    let gateway = start(dir.path(), &config).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, _seen) = connect(&url, true).await;
    let retry = |state: Option<String>, key: &str, answer: Value| {
        let mut params = call("mrtr", json!({}));
        let mut answers = InputResponses::new();
        answers.insert(key.to_owned(), answer);
        params.input_responses = Some(answers);
        params.request_state = state;
        params
    };

    // Round 1: the gateway asks for approval.
    let CallToolResponse::InputRequired(asked) = session
        .call_tool_once(call("mrtr", json!({})))
        .await
        .unwrap()
    else {
        panic!("expected the approval request");
    };
    assert!(asked.input_requests.unwrap().contains_key("approval"));

    // Round 2: approved; the upstream asks for a name, behind a state of the gateway's.
    let approve = json!({"action": "accept", "content": {"approve": true}});
    let CallToolResponse::InputRequired(upstream_asks) = session
        .call_tool_once(retry(asked.request_state, "approval", approve))
        .await
        .unwrap()
    else {
        panic!("expected the upstream's input request");
    };
    assert!(upstream_asks.input_requests.unwrap().contains_key("name"));
    let state = upstream_asks.request_state.clone().unwrap();
    assert_ne!(
        state, "asked-once",
        "the upstream's state stays with the gateway"
    );

    // Round 3: the upstream gets its own state back with the answer; no second approval.
    let name = json!({"action": "accept", "content": {"name": "Grace"}});
    let CallToolResponse::Complete(done) = session
        .call_tool_once(retry(Some(state.clone()), "name", name.clone()))
        .await
        .unwrap()
    else {
        panic!("expected the final result");
    };
    assert_eq!(text(&done), "hello Grace");

    // The state was good for one round only.
    let CallToolResponse::Complete(replayed) = session
        .call_tool_once(retry(Some(state), "name", name))
        .await
        .unwrap()
    else {
        panic!("expected a refusal");
    };
    assert_eq!(replayed.is_error, Some(true));
    assert!(
        text(&replayed).contains("approval is unknown"),
        "{}",
        text(&replayed)
    );
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_session_approves_once_across_the_rounds_an_upstream_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}\n[tools.\"mrtr\"]\napproval = \"required\"\n",
        fixture_server("a", &["--modern-only"])
    );
    let gateway = start(dir.path(), &config).await;
    let (url, shutdown) = serve(&gateway).await;
    // A 2025-11-25 session: the gateway asks it by elicitation, for its approval and for the
    // upstream's `input_required`, and retries the call itself.
    let (session, mut seen) = connect(&url, false).await;
    let result = session.call_tool(call("mrtr", json!({}))).await.unwrap();
    assert_eq!(text(&result), "hello Ada");
    let elicited: Vec<Seen> = drain(&mut seen, Duration::from_millis(300))
        .await
        .into_iter()
        .filter(|s| matches!(s, Seen::Elicited(_)))
        .collect();
    assert_eq!(
        elicited,
        [Seen::Elicited("approval"), Seen::Elicited("name")],
        "approval is asked once"
    );
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn sessions_hear_which_lists_changed() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, mut seen) = connect(&url, false).await;
    let result = session
        .call_tool(call("add_tool", json!({})))
        .await
        .unwrap();
    assert_eq!(text(&result), "added");
    let got = drain(&mut seen, Duration::from_millis(1000)).await;
    assert_eq!(got, [Seen::ToolsChanged, Seen::PromptsChanged]);
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn listen_streams_get_updates_of_the_resources_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, _seen) = connect(&url, true).await;
    let (bystander, mut bystander_seen) = connect(&url, false).await;
    let uri = "fixture://fixture/info";
    let filter = SubscriptionFilter::builder()
        .resource_subscriptions([uri, "fixture://nobody/offers"])
        .build();
    let mut stream = session.peer().listen(filter).await.unwrap();
    assert_eq!(
        stream.acknowledged().resource_subscriptions.as_deref(),
        Some(&[uri.to_owned(), "fixture://nobody/offers".to_owned()][..])
    );
    // The acknowledgement goes out before the gateway has subscribed upstream: touch until the
    // first update arrives, then every touch brings one.
    let touch = async || {
        bystander
            .call_tool(call("touch", json!({"uri": uri})))
            .await
            .unwrap();
    };
    let mut updates = 0;
    for _ in 0..50 {
        touch().await;
        match tokio::time::timeout(Duration::from_millis(100), stream.next()).await {
            Ok(notification) => {
                let notification = notification.unwrap().unwrap();
                let ServerNotification::ResourceUpdatedNotification(update) = notification else {
                    panic!("expected resources/updated, got {notification:?}");
                };
                assert_eq!(update.params.uri, uri);
                updates += 1;
                break;
            }
            Err(_elapsed) => continue,
        }
    }
    assert_eq!(updates, 1, "an update within 5 s");
    touch().await;
    let notification = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the next update")
        .unwrap()
        .unwrap();
    assert!(matches!(
        notification,
        ServerNotification::ResourceUpdatedNotification(_)
    ));
    assert_eq!(
        drain(&mut bystander_seen, Duration::from_millis(100)).await,
        [],
        "a client that did not subscribe hears nothing"
    );
    session.cancel().await.unwrap();
    bystander.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn prompts_a_server_lists_only_to_modern_clients_are_listed_only_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    for modern in [false, true] {
        let (session, _seen) = connect(&url, modern).await;
        let names: Vec<String> = session
            .list_all_prompts()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        let expected: &[&str] = if modern {
            &["greet", "modern_greet"]
        } else {
            &["greet"]
        };
        assert_eq!(names, expected, "modern client: {modern}");
        session.cancel().await.unwrap();
    }
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_call_is_cancelled_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, _seen) = connect(&url, false).await;

    // The client gives up after 300ms and sends notifications/cancelled.
    let request =
        ClientRequest::CallToolRequest(CallToolRequest::new(call("wait_for_cancel", json!({}))));
    let mut options = PeerRequestOptions::no_options();
    options.timeout = Some(Duration::from_millis(300));
    let handle = session
        .peer()
        .send_request_with_option(request, options)
        .await
        .unwrap();
    assert!(
        handle.await_response().await.is_err(),
        "the client timed out"
    );
    let cancelled = eventually(Duration::from_secs(5), async || {
        let result = session
            .call_tool(call("was_cancelled", json!({})))
            .await
            .unwrap();
        text(&result) == "true"
    })
    .await;
    assert!(cancelled, "the upstream saw the cancellation");
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn subscribers_get_resource_updates() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, mut seen) = connect(&url, false).await;
    let (bystander, mut bystander_seen) = connect(&url, false).await;
    let uri = "fixture://fixture/info";

    session
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let unknown = session
        .subscribe(SubscribeRequestParams::new("fixture://nobody/offers"))
        .await;
    assert!(
        unknown.is_err(),
        "a resource no server has cannot be subscribed"
    );
    bystander
        .call_tool(call("touch", json!({"uri": uri})))
        .await
        .unwrap();
    let got = drain(&mut seen, Duration::from_millis(500)).await;
    assert_eq!(got, [Seen::Updated(uri.to_owned())]);
    assert_eq!(
        drain(&mut bystander_seen, Duration::from_millis(100)).await,
        [],
        "only subscribers are notified"
    );
    session.cancel().await.unwrap();
    bystander.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

/// Resources a tool returned need not be listed: a URI outside every list and template is
/// asked of the servers that offer resources, in turn, until one has it.
#[tokio::test]
async fn resources_outside_the_lists_reach_the_server_that_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}",
        fixture_server("a", &["alpha"]),
        fixture_server("b", &["beta"])
    );
    let gateway = start(dir.path(), &toml).await;
    let (url, shutdown) = serve(&gateway).await;
    let (session, mut seen) = connect(&url, false).await;
    let uri = "fixture://beta/made-by-a-tool";
    let read = session
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&read.contents[0]).unwrap()["text"],
        "info of beta"
    );
    session
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .unwrap();
    session
        .call_tool(call("b__touch", json!({"uri": uri})))
        .await
        .unwrap();
    let got = drain(&mut seen, Duration::from_millis(500)).await;
    assert_eq!(got, [Seen::Updated(uri.to_owned())]);
    session
        .unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let nobody = session
        .read_resource(ReadResourceRequestParams::new("fixture://gamma/x"))
        .await
        .unwrap_err();
    assert!(nobody.to_string().contains("gamma"), "{nobody}");
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn an_upstream_speaking_only_2026_07_28_serves_both_eras() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &["--modern-only"])).await;
    let caller = gateway.caller("local", "s");
    assert!(
        gateway.list_tools(&caller).await.len() > 5,
        "the upstream is up and listed"
    );
    let (url, shutdown) = serve(&gateway).await;
    for modern in [false, true] {
        let (session, _seen) = connect(&url, modern).await;
        let result = session
            .call_tool(call("echo", json!({"text": "hi"})))
            .await
            .unwrap();
        assert_eq!(text(&result), "hi", "modern client: {modern}");
        session.cancel().await.unwrap();
    }
    // The upstream answers input_required; a handshake-era client is asked by elicitation.
    for modern in [false, true] {
        let (session, _seen) = connect(&url, modern).await;
        let result = session.call_tool(call("mrtr", json!({}))).await.unwrap();
        assert_eq!(text(&result), "hello Ada", "modern client: {modern}");
        session.cancel().await.unwrap();
    }
    let (session, _seen) = connect(&url, true).await;
    let response = session
        .peer()
        .send_request(ClientRequest::CallToolRequest(CallToolRequest::new(call(
            "echo",
            json!({"text": "x"}),
        ))))
        .await
        .unwrap();
    assert!(matches!(response, ServerResult::CallToolResult(_)));
    session.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

/// On the wire, a call's progress notifications come in order and before its response (rmcp
/// hands each upstream notification to a task of its own, which must not reorder them or let
/// the response overtake them). A raw HTTP client reads the SSE stream of the call as sent.
#[tokio::test]
async fn progress_precedes_the_response_in_order_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("a", &[])).await;
    let (url, shutdown) = serve(&gateway).await;
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .json(&body);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "wire", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    init.text().await.unwrap();
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(session.clone()),
    )
    .await
    .unwrap();
    for round in 1..=10 {
        let body = post(
            json!({"jsonrpc": "2.0", "id": round, "method": "tools/call", "params": {
                "name": "progress", "arguments": {"steps": 5},
                "_meta": {"progressToken": format!("p{round}")}}}),
            Some(session.clone()),
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let messages: Vec<Value> = body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter(|data| !data.trim().is_empty())
            .map(|data| serde_json::from_str(data.trim()).unwrap())
            .collect();
        let progress: Vec<f64> = messages
            .iter()
            .take_while(|m| m.get("id").is_none())
            .filter(|m| m["method"] == "notifications/progress")
            .inspect(|m| assert_eq!(m["params"]["progressToken"], format!("p{round}")))
            .map(|m| m["params"]["progress"].as_f64().unwrap())
            .collect();
        assert_eq!(
            progress,
            [1.0, 2.0, 3.0, 4.0, 5.0],
            "round {round}: {messages:?}"
        );
        assert_eq!(messages.last().unwrap()["id"], round, "{messages:?}");
    }
    shutdown.cancel();
    gateway.shutdown().await;
}
