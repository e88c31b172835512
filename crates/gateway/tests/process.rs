//! The gateway as a real process (the fixture's `gateway` mode runs this library exactly as
//! `switchboard serve` does): stdio serving with list_changed forwarded downstream, graceful
//! SIGTERM, and kill -9 during a burst of calls losing no audit record of a returned result.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{fixture, fixture_server, text, write};
use rmcp::model::CallToolRequestParams;
use rmcp::service::{NotificationContext, RoleClient};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::json;
use switchboard_testkit::raw::{RawStdio, tool_call};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Clone, Default)]
struct Watcher(Arc<AtomicUsize>);

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test]
async fn stdio_serving_forwards_list_changed_and_stops_children() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "switchboard.toml",
        &format!("{}{}", fixture_server("a", &[]), fixture_server("b", &[])),
    );
    let mut command = tokio::process::Command::new(fixture());
    command.args(["gateway", "--config"]).arg(&config);
    let watcher = Watcher::default();
    let client = watcher
        .clone()
        .serve(TokioChildProcess::new(command).unwrap())
        .await
        .unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "a__add_tool"));
    let pid: u32 = text(
        &client
            .call_tool(CallToolRequestParams::new("a__pid"))
            .await
            .unwrap(),
    )
    .parse()
    .unwrap();
    assert!(alive(pid));
    client
        .call_tool(CallToolRequestParams::new("a__add_tool"))
        .await
        .unwrap();
    let notified = common::eventually(Duration::from_secs(5), async || {
        watcher.0.load(Ordering::SeqCst) > 0
    })
    .await;
    assert!(notified, "tools/list_changed reached the downstream client");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "a__extra"));
    client.cancel().await.unwrap();
    let stopped = common::eventually(Duration::from_secs(15), async || !alive(pid)).await;
    assert!(
        stopped,
        "the upstream child is stopped when the gateway exits"
    );
}

async fn spawn_http_gateway(config: &std::path::Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(fixture())
        .args(["gateway", "--http", "127.0.0.1:0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line.strip_prefix("listening on ").unwrap().to_owned();
    (child, format!("http://{addr}/mcp"))
}

fn signal(pid: u32, sig: &str) {
    std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
}

#[tokio::test]
async fn sigterm_drains_calls_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "switchboard.toml", &fixture_server("a", &[]));
    let (mut gateway, url) = spawn_http_gateway(&config).await;
    let client = ().serve(StreamableHttpClientTransport::from_uri(url)).await.unwrap();
    let mut params = CallToolRequestParams::new("slow");
    params.arguments = common::args(serde_json::json!({"ms": 1500}));
    let call = tokio::spawn(async move { client.call_tool(params).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(gateway.id().unwrap(), "-TERM");
    let result = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(text(&result), "slept 1500ms", "the call in flight finished");
    let status = tokio::time::timeout(Duration::from_secs(20), gateway.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// SIGTERM to a stdio gateway used to cancel the call in flight ("the request was cancelled")
/// instead of letting it finish as HTTP serving does.
#[tokio::test]
async fn sigterm_on_stdio_drains_calls_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "switchboard.toml", &fixture_server("a", &[]));
    let mut command = tokio::process::Command::new(fixture());
    command.args(["gateway", "--config"]).arg(&config);
    let (transport, _stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let gateway = transport.id().unwrap();
    let client = ().serve(transport).await.unwrap();
    let child: u32 = text(
        &client
            .call_tool(CallToolRequestParams::new("pid"))
            .await
            .unwrap(),
    )
    .parse()
    .unwrap();
    let mut params = CallToolRequestParams::new("slow");
    params.arguments = common::args(serde_json::json!({"ms": 1500}));
    let peer = client.peer().clone();
    let call = tokio::spawn(async move { peer.call_tool(params).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(gateway, "-TERM");
    let result = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap()
        .unwrap()
        .expect("the call in flight is answered");
    assert_eq!(text(&result), "slept 1500ms", "the call in flight finished");
    let exited = common::eventually(Duration::from_secs(20), async || !alive(gateway)).await;
    assert!(exited, "the gateway exits after draining");
    let stopped = common::eventually(Duration::from_secs(15), async || !alive(child)).await;
    assert!(stopped, "its child is stopped");
}

#[tokio::test]
async fn kill_9_during_a_burst_loses_no_record_of_a_returned_call() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let toml = format!(
        "[audit]\npath = {:?}\n{}",
        audit.display().to_string(),
        fixture_server("a", &[])
    );
    let config = write(dir.path(), "switchboard.toml", &toml);
    let (mut gateway, url) = spawn_http_gateway(&config).await;
    let returned = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (url, returned) = (url.clone(), returned.clone());
        workers.push(tokio::spawn(async move {
            let Ok(client) = ().serve(StreamableHttpClientTransport::from_uri(url)).await else {
                return;
            };
            for i in 0..10_000 {
                let id = format!("w{worker}-{i}");
                let mut params = CallToolRequestParams::new("echo");
                params.arguments = common::args(serde_json::json!({"text": id}));
                match client.call_tool(params).await {
                    Ok(r) if text(&r) == id => returned.lock().unwrap().push(id),
                    _ => return,
                }
            }
        }));
    }
    let enough = common::eventually(Duration::from_secs(20), async || {
        returned.lock().unwrap().len() >= 200
    })
    .await;
    assert!(enough);
    signal(gateway.id().unwrap(), "-9");
    gateway.wait().await.unwrap();
    // Calls cut off by the kill may hang in the client; they never returned, so stop them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for w in workers {
        w.abort();
    }
    let returned = returned.lock().unwrap().clone();
    // Reopening repairs a torn last line (a call that never returned); the chain then verifies.
    drop(switchboard_gateway::audit::AuditLog::open(&audit, false).unwrap());
    switchboard_gateway::audit::verify(&audit).unwrap();
    let recorded: std::collections::HashSet<String> =
        switchboard_gateway::audit::read_records(&audit)
            .unwrap()
            .into_iter()
            .filter(|r| r.outcome == "ok")
            .filter_map(|r| r.arguments["text"].as_str().map(str::to_owned))
            .collect();
    let missing: Vec<_> = returned
        .iter()
        .filter(|id| !recorded.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} returned calls have no record: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(returned.len() >= 200);
}

/// A stdio gateway with the fixture server `f` behind it, past the handshake.
async fn stdio_gateway(dir: &std::path::Path) -> RawStdio {
    let config = write(dir, "switchboard.toml", &fixture_server("f", &[]));
    let mut gateway = RawStdio::spawn(
        std::path::Path::new(fixture()),
        &["gateway", "--config", config.to_str().unwrap()],
        &HashMap::new(),
    )
    .unwrap();
    gateway.initialize().await.unwrap();
    gateway
}

/// Calls (served past rmcp's service) and pings (served by it) written in one go: every answer
/// is a whole line of its own, for the right id.
#[tokio::test]
async fn pipelined_calls_and_pings_on_stdio_are_each_answered_on_a_line_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = stdio_gateway(dir.path()).await;
    let mut burst = Vec::new();
    for n in 1..=100u64 {
        burst.push(tool_call(n, "echo", json!({"text": format!("call {n}")})));
        burst.push(json!({"jsonrpc": "2.0", "id": 1000 + n, "method": "ping"}));
    }
    gateway.send(&burst).await.unwrap();
    let mut answered = std::collections::BTreeMap::new();
    for _ in 0..burst.len() {
        // `answer` fails on a line that is not JSON: two answers run together would be one.
        let answer = gateway.answer().await.unwrap();
        let id = answer["id"].as_u64().expect("an answer to a request sent");
        assert!(
            answered.insert(id, answer).is_none(),
            "id {id} answered twice"
        );
    }
    for n in 1..=100u64 {
        let call = &answered[&n];
        assert_eq!(
            call["result"]["content"][0]["text"],
            format!("call {n}"),
            "{call}"
        );
        assert_eq!(answered[&(1000 + n)]["result"], json!({}));
    }
}

/// A call longer than the fast lane holds while looking for a line's end goes the general way,
/// and is answered all the same.
#[tokio::test]
async fn a_call_of_several_megabytes_on_stdio_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = stdio_gateway(dir.path()).await;
    let text = "x".repeat(3 << 20);
    gateway
        .send(&[tool_call(1, "echo", json!({"text": text}))])
        .await
        .unwrap();
    let answer = gateway.answer().await.unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(
        answer["result"]["content"][0]["text"].as_str(),
        Some(text.as_str())
    );
    assert!(gateway.pings(2).await.unwrap());
}

/// `notifications/cancelled` for a call in flight on stdio stops it upstream, and the call gets
/// no answer.
#[tokio::test]
async fn a_call_cancelled_on_stdio_is_cancelled_upstream_and_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = stdio_gateway(dir.path()).await;
    gateway
        .send(&[tool_call(5, "wait_for_cancel", json!({}))])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    gateway
        .send(&[
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                       "params": {"requestId": 5, "reason": "gave up"}}),
        ])
        .await
        .unwrap();
    let mut seen = false;
    for attempt in 0..50u64 {
        gateway
            .send(&[tool_call(100 + attempt, "was_cancelled", json!({}))])
            .await
            .unwrap();
        let answer = gateway.answer().await.unwrap();
        assert_eq!(
            answer["id"],
            100 + attempt,
            "only the later calls are answered: {answer}"
        );
        if answer["result"]["content"][0]["text"] == "true" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the upstream saw the cancellation");
    assert!(gateway.pings(200).await.unwrap());
}
