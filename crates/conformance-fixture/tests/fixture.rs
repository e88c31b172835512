//! The fixture binary driven by a real rmcp client: over stdio in a 2025-11-25 session (calls
//! that reach back into the client for sampling and elicitation), and over Streamable HTTP in
//! the 2026-07-28 stateless era (multi round-trip tools, sealed requestState, tasks).

#![expect(
    deprecated,
    reason = "sampling is a 2025-11-25 feature the fixture serves"
)]

use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities,
    ClientConfig, CreateMessageRequestParams, CreateMessageResult, DetailedTask,
    ElicitRequestParams, ElicitResult, ElicitationAction, GetTaskParams, Implementation,
    ProtocolVersion, ReadResourceRequestParams, SamplingMessage, TaskPayload, TaskStatus,
    UpdateTaskParams,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard-conformance-fixture");

/// A client that can sample (answers "Paris") and elicit (answers with fixed values).
#[derive(Clone)]
struct Tester;

impl ClientHandler for Tester {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(json!({ "sampling": {}, "elicitation": { "form": {} } }))
                .unwrap();
        ClientConfig::new(capabilities, Implementation::new("fixture-test", "1.0"))
    }

    async fn create_message(
        &self,
        _params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, rmcp::ErrorData> {
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("Paris"),
            "test-model".to_owned(),
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            panic!("expected a form elicitation");
        };
        let content = if message.contains("color") {
            json!({ "color": "blue" })
        } else {
            json!({ "name": "Alice", "username": "alice", "email": "alice@example.com" })
        };
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = Some(content);
        Ok(result)
    }
}

fn text(result: &CallToolResult) -> String {
    result.content[0]
        .as_text()
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

fn call(name: &str, arguments: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

#[tokio::test]
async fn stdio_session_calls_back_into_the_client() {
    let transport = TokioChildProcess::new(tokio::process::Command::new(BIN)).unwrap();
    let client = Tester.serve(transport).await.unwrap();
    let info = client.peer().peer_info().unwrap();
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);

    let tools = client.list_all_tools().await.unwrap();
    let schema_tool = tools
        .iter()
        .find(|tool| tool.name == "json_schema_2020_12_tool")
        .unwrap();
    assert_eq!(
        schema_tool.input_schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema_tool.input_schema["$defs"]["address"].is_object());

    let sampled = client
        .call_tool(call(
            "test_sampling",
            json!({ "prompt": "Capital of France?" }),
        ))
        .await
        .unwrap();
    assert_eq!(text(&sampled), "LLM response: Paris");

    let elicited = client
        .call_tool(call(
            "test_elicitation",
            json!({ "message": "Who are you?" }),
        ))
        .await
        .unwrap();
    assert!(
        text(&elicited).starts_with("User response: action=accept"),
        "{}",
        text(&elicited)
    );
    assert!(text(&elicited).contains("alice@example.com"));

    let failed = client
        .call_tool(call("test_error_handling", json!({})))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));

    let read = client
        .read_resource(ReadResourceRequestParams::new("test://template/7/data"))
        .await
        .unwrap();
    let body = serde_json::to_value(&read.contents[0]).unwrap();
    assert!(
        body["text"].as_str().unwrap().contains("\"id\":\"7\""),
        "{body}"
    );
    client.cancel().await.unwrap();
}

/// Starts the fixture on an ephemeral port and returns the child and its `/mcp` URL.
async fn start_http() -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(BIN)
        .args(["--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("the fixture exited without listening");
    })
    .await
    .unwrap();
    (child, url)
}

fn stateless() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

/// One round of `test_input_required_result_tampered_state`: its sealed requestState.
async fn tamper_test_state(
    client: &impl std::ops::Deref<Target = rmcp::Peer<RoleClient>>,
) -> String {
    let first = client
        .call_tool_once(call(TAMPER, json!({})))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(first) = first else {
        panic!("expected an InputRequiredResult, got {first:?}");
    };
    assert!(first.input_requests.unwrap().contains_key("confirm"));
    first.request_state.unwrap()
}

/// A retry of `test_input_required_result_tampered_state` with `state` and a confirmation.
fn tamper_retry(state: String) -> CallToolRequestParams {
    let mut params = call(TAMPER, json!({}));
    let answer = json!({ "action": "accept", "content": { "ok": true } });
    params.input_responses = Some([("confirm".to_owned(), answer)].into_iter().collect());
    params.request_state = Some(state);
    params
}

const TAMPER: &str = "test_input_required_result_tampered_state";

#[tokio::test]
async fn http_stateless_drives_multi_round_trips_to_completion() {
    let (_child, url) = start_http().await;
    let client = Tester
        .serve_with_lifecycle(StreamableHttpClientTransport::from_uri(url), stateless())
        .await
        .unwrap();
    assert_eq!(
        client.peer().peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2026_07_28
    );

    // rmcp's client drives both rounds through Tester's elicitation answers.
    let done = client
        .call_tool(call("test_input_required_result_multi_round", json!({})))
        .await
        .unwrap();
    assert_eq!(text(&done), "Multi-round complete for Alice who likes blue");

    let state = tamper_test_state(&client).await;
    let CallToolResponse::Complete(ok) = client.call_tool_once(tamper_retry(state)).await.unwrap()
    else {
        panic!("expected a complete result");
    };
    assert_eq!(text(&ok), "integrity-ok: state verified");
    client.cancel().await.unwrap();
}

// Over stdio: rmcp 3.11's Streamable HTTP client never resolves a 2026-07-28 request answered
// with a JSON-RPC error, so the refusal is checked on the stdio transport.
#[tokio::test]
async fn stdio_stateless_refuses_a_tampered_request_state() {
    let transport = TokioChildProcess::new(tokio::process::Command::new(BIN)).unwrap();
    let client = Tester
        .serve_with_lifecycle(transport, stateless())
        .await
        .unwrap();
    let state = tamper_test_state(&client).await;
    let error = client
        .call_tool_once(tamper_retry(format!("{state}-TAMPERED")))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("integrity check failed"),
        "{error}"
    );

    // A state issued for another tool does not open here either.
    let other = client
        .call_tool_once(call("test_input_required_result_request_state", json!({})))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(other) = other else {
        panic!("expected an InputRequiredResult");
    };
    let error = client
        .call_tool_once(tamper_retry(other.request_state.unwrap()))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("integrity check failed"),
        "{error}"
    );
    client.cancel().await.unwrap();
}

/// A client that declares the tasks extension (SEP-2663) on every request, and elicitation.
#[derive(Clone)]
struct TaskClient;

impl ClientHandler for TaskClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = serde_json::from_value(json!({
            "elicitation": { "form": {} },
            "extensions": { "io.modelcontextprotocol/tasks": {} },
        }))
        .unwrap();
        ClientConfig::new(
            capabilities,
            Implementation::new("fixture-task-test", "1.0"),
        )
    }
}

/// Polls `tasks/get` until the task reads `status`.
async fn poll_until(
    client: &impl std::ops::Deref<Target = rmcp::Peer<RoleClient>>,
    task_id: &str,
    status: TaskStatus,
) -> DetailedTask {
    for _ in 0..100 {
        let task = client
            .get_task(GetTaskParams::new(task_id))
            .await
            .unwrap()
            .task;
        if task.status() == status {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {task_id} never reached {status:?}");
}

#[tokio::test]
async fn http_task_asks_mid_task_and_completes_or_is_cancelled() {
    let (_child, url) = start_http().await;
    let client = TaskClient
        .serve_with_lifecycle(StreamableHttpClientTransport::from_uri(url), stateless())
        .await
        .unwrap();

    // A task-supporting tool becomes a task, whose question waits on tasks/get.
    let created = client
        .call_tool_once(call("confirm_delete", json!({ "filename": "a.txt" })))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = created else {
        panic!("expected a CreateTaskResult, got {created:?}");
    };
    assert_eq!(created.task.ttl_ms, Some(300_000));
    let id = created.task.task_id;
    let waiting = poll_until(&client, &id, TaskStatus::InputRequired).await;
    let TaskPayload::InputRequired { input_requests } = waiting.payload else {
        unreachable!();
    };
    assert!(input_requests.contains_key("confirm"));
    let answer = json!({ "action": "accept", "content": { "confirm": true } });
    let responses = [("confirm".to_owned(), answer)].into_iter().collect();
    client
        .update_task(UpdateTaskParams::new(id.clone(), responses))
        .await
        .unwrap();
    let done = poll_until(&client, &id, TaskStatus::Completed).await;
    let TaskPayload::Completed { result } = done.payload else {
        unreachable!();
    };
    assert_eq!(result["content"][0]["text"], "Deleted a.txt");

    // A long task is cancelled at once; cancelling it again is still acknowledged.
    let created = client
        .call_tool_once(call("slow_compute", json!({ "seconds": 60 })))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = created else {
        panic!("expected a CreateTaskResult, got {created:?}");
    };
    let id = created.task.task_id;
    for _ in 0..2 {
        client
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .unwrap();
    }
    poll_until(&client, &id, TaskStatus::Cancelled).await;

    // A sync-only tool never becomes a task.
    let greeting = client
        .call_tool_once(call("greet", json!({ "name": "World" })))
        .await
        .unwrap();
    let CallToolResponse::Complete(greeting) = greeting else {
        panic!("expected a complete result, got {greeting:?}");
    };
    assert_eq!(text(&greeting), "Hello, World!");
    client.cancel().await.unwrap();
}

/// A `subscriptions/listen` stream naming a task is sent the task (`notifications/tasks`, with
/// the stream's subscription id) as its status changes, until it ends.
#[tokio::test]
async fn http_listen_stream_is_told_a_tasks_status_until_it_ends() {
    use switchboard_testkit::stateless::{TaskListener, listen_for_tasks};
    let (_child, url) = start_http().await;
    let client = TaskClient
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.clone()),
            stateless(),
        )
        .await
        .unwrap();
    let created = client
        .call_tool_once(call("slow_compute", json!({ "seconds": 1 })))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = created else {
        panic!("expected a CreateTaskResult, got {created:?}");
    };
    let id = created.task.task_id;
    let tasks = json!({ "io.modelcontextprotocol/tasks": {} });
    let mut listener = TaskListener::open(listen_for_tasks(&url, tasks, &[&id])).await;
    assert_eq!(listener.next_status(&id).await["status"], "working");
    let done = listener.next_status(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["result"]["content"].is_array(), "{done}");
    client.cancel().await.unwrap();
}
