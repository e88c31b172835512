//! Shared pieces of the agent's black-box tests: a tool host with tools that echo, sleep, fail,
//! return large results or need approval; a scripted approver; a sink that keeps every event; and
//! a configuration pointing at the fake Anthropic API.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use switchboard_agent::{
    Agent, AgentConfig, AgentEvent, AgentSettings, ApprovalRequest, Approver, Decision, EventSink,
    HostError, RunSummary, ToolHost, ToolOutcome, ToolSpec,
};
use switchboard_testkit::anthropic::FakeAnthropic;
use tokio_util::sync::CancellationToken;

pub const TASK: &str = "Count the failed orders.";

/// Tools: `echo` (returns its input), `slow` (sleeps `ms`), `big` (returns `bytes` x's), `fail`
/// (always an error), `delete_row` (asks the approver first).
pub struct TestHost {
    pub calls: Mutex<Vec<(String, Value)>>,
    pub active: AtomicUsize,
    pub max_active: AtomicUsize,
    pub deleted: AtomicUsize,
    /// Whether its catalog is sent deferred, behind the API's tool search.
    pub defer: bool,
}

impl TestHost {
    pub fn new() -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            deleted: AtomicUsize::new(0),
            defer: false,
        }
    }

    pub fn call_names(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }
}

fn spec(name: &str, description: &str, properties: Value, needs_approval: bool) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: json!({"type": "object", "properties": properties}),
        needs_approval,
    }
}

impl ToolHost for TestHost {
    fn tools(&self) -> BoxFuture<'_, Result<Vec<ToolSpec>, HostError>> {
        Box::pin(async {
            Ok(vec![
                spec("echo", "Returns its input.", json!({}), false),
                spec("slow", "Sleeps.", json!({"ms": {"type": "integer"}}), false),
                spec(
                    "big",
                    "Large result.",
                    json!({"bytes": {"type": "integer"}}),
                    false,
                ),
                spec("fail", "Always fails.", json!({}), false),
                spec(
                    "delete_row",
                    "Deletes a row.",
                    json!({"id": {"type": "integer"}}),
                    true,
                ),
            ])
        })
    }

    fn defers(&self, _tools: usize) -> bool {
        self.defer
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        input: Value,
        approver: Arc<dyn Approver>,
    ) -> BoxFuture<'a, ToolOutcome> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push((name.to_string(), input.clone()));
            match name {
                "echo" => ToolOutcome::ok(input.to_string()),
                "slow" => {
                    let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
                    self.max_active.fetch_max(now, Ordering::SeqCst);
                    let ms = input["ms"].as_u64().unwrap_or(200);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    self.active.fetch_sub(1, Ordering::SeqCst);
                    ToolOutcome::ok(format!("slept {ms} ms"))
                }
                "big" => ToolOutcome::ok("x".repeat(input["bytes"].as_u64().unwrap_or(0) as usize)),
                "fail" => ToolOutcome::error("relation \"orders\" does not exist (SQLSTATE 42P01)"),
                "delete_row" => match approver.approve(&approval_request(name, &input)).await {
                    Decision::Deny { reason } => ToolOutcome::denied(name, &reason),
                    _ => {
                        self.deleted.fetch_add(1, Ordering::SeqCst);
                        ToolOutcome::ok("deleted 1 row")
                    }
                },
                other => ToolOutcome::error(format!("unknown tool {other}")),
            }
        })
    }
}

/// What the test host asks its approver about.
fn approval_request(tool: &str, input: &Value) -> ApprovalRequest {
    ApprovalRequest {
        client: "agent".into(),
        tool: tool.into(),
        server: "test".into(),
        arguments: input.clone(),
    }
}

/// Answers from a list, then repeats the last answer; counts questions.
pub struct ScriptedApprover {
    answers: Mutex<Vec<Decision>>,
    pub asked: AtomicUsize,
}

impl ScriptedApprover {
    pub fn new(answers: Vec<Decision>) -> Self {
        Self {
            answers: Mutex::new(answers),
            asked: AtomicUsize::new(0),
        }
    }
}

impl Approver for ScriptedApprover {
    fn approve<'a>(&'a self, _request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        })
    }
}

/// Keeps every event.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<AgentEvent>>);

impl EventSink for Collect {
    fn event(&self, event: &AgentEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Collect {
    pub fn events(&self) -> Vec<AgentEvent> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.events()
            .iter()
            .filter_map(|e| match e {
                AgentEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .concat()
    }
}

/// A configuration for `fake` with fast retries; `settings` override the defaults.
pub fn config(fake: &FakeAnthropic, settings: AgentSettings) -> AgentConfig {
    let key = fake.api_key().to_string();
    let url = fake.base_url();
    let mut config = AgentConfig::resolve(settings, move |name| match name {
        "ANTHROPIC_API_KEY" => Some(key.clone()),
        "ANTHROPIC_BASE_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    config.retry.base_delay = Duration::from_millis(10);
    config.retry.max_delay = Duration::from_millis(40);
    config
}

/// Runs `TASK` with `config` against the test host.
pub async fn run_with(
    config: AgentConfig,
    host: &TestHost,
    approver: Arc<dyn Approver>,
    sink: &dyn EventSink,
) -> RunSummary {
    let agent = Agent::new(config).unwrap();
    agent
        .run(TASK, host, approver, sink, &CancellationToken::new())
        .await
        .unwrap()
}

/// Approves everything.
pub fn auto() -> Arc<dyn Approver> {
    Arc::new(switchboard_agent::AutoApprover)
}

/// Runs `TASK` with default settings, auto-approval and a collecting sink.
pub async fn run(fake: &FakeAnthropic, host: &TestHost) -> (RunSummary, Collect) {
    let sink = Collect::default();
    let summary = run_with(config(fake, AgentSettings::default()), host, auto(), &sink).await;
    (summary, sink)
}

pub fn tool_use(id: &str, name: &str, input: Value) -> Value {
    json!({"type": "tool_use", "id": id, "name": name, "input": input})
}

pub fn text(text: &str) -> Value {
    json!({"type": "text", "text": text})
}
