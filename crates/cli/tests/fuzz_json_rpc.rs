//! JSON-RPC fuzzed through the real binary, over stdio (`switchboard server sqlite|jira|slack`,
//! the last two against their fakes, and `switchboard serve` with the SQL server on SQLite as its
//! child) and over HTTP (`switchboard serve --http`). Each case sends a few messages (valid ones,
//! mutated ones with wrong types, huge ids, deep nesting, unknown methods, batches, invalid UTF-8,
//! truncated lines) and then a probe with a fresh id (`ping` over stdio; over HTTP a stateless
//! `tools/list`, as 2026-07-28 has no `ping`). Properties: the probe is answered within the
//! deadline (no crash, no hang); every response carries an id that was sent, or null. Over stdio
//! every well-formed request gets exactly one response; over HTTP each body is one request, sent
//! with the headers of either protocol era, mismatched ones or none, and gets an HTTP answer that
//! is not a server error. Duplicate in-flight ids are not generated. The long run:
//! `SWITCHBOARD_FUZZ_CASES=N`.

mod support;

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use proptest::prelude::{Just, Strategy, any, prop, prop_oneof};
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};
use support::binary;
use switchboard_testkit::fuzz;
use switchboard_testkit::sqlite::shop_db;

/// How long the probe `ping` may take: far above a healthy answer, far below a hang.
const DEADLINE: Duration = Duration::from_secs(20);

/// A server process spoken to line by line.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Every id sent so far, as JSON text (responses may arrive after their case ended).
    sent: HashSet<String>,
    probes: u64,
}

impl Peer {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("RUST_LOG", "error")
            .spawn()
            .expect("spawn the binary");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = Self {
            child,
            stdin,
            lines,
            sent: HashSet::new(),
            probes: 0,
        };
        let init = json!({"jsonrpc":"2.0","id":"init:0","method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"fuzz","version":"0"}}});
        peer.send(&[init.to_string().into_bytes()])
            .expect("send initialize");
        peer.wait_for(&json!("init:0"))
            .expect("initialize answered");
        peer.send(&[br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec()])
            .expect("send initialized");
        peer
    }

    fn send(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        for line in lines {
            for id in ids_in(line) {
                self.sent.insert(id_key(&id));
            }
            self.stdin.write_all(line)?;
            self.stdin.write_all(b"\n")?;
        }
        self.stdin.flush()
    }

    /// Reads responses until the one with `id`; returns the others seen on the way.
    fn wait_for(&mut self, id: &Value) -> Result<Vec<Value>, String> {
        let start = Instant::now();
        let mut others = Vec::new();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let message: Value = serde_json::from_str(&line)
                        .map_err(|e| format!("stdout line is not JSON ({e}): {line}"))?;
                    for response in as_list(&message) {
                        if response.get("id") == Some(id) && response.get("method").is_none() {
                            return Ok(others);
                        }
                        others.push(response.clone());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no answer to {id} within {DEADLINE:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    return Err(format!("the process closed stdout (exit: {status:?})"));
                }
            }
        }
    }

    /// Sends `lines`, then a probe ping; checks every response seen before the probe's answer.
    fn exchange(&mut self, lines: &[Vec<u8>]) -> Result<(), TestCaseError> {
        self.probes += 1;
        let probe = json!(format!("probe:{}", self.probes));
        let ping = json!({"jsonrpc":"2.0","id":probe,"method":"ping"}).to_string();
        let mut all = lines.to_vec();
        all.push(ping.into_bytes());
        self.send(&all)
            .map_err(|e| TestCaseError::fail(format!("write: {e}")))?;
        let mut responses = self.wait_for(&probe).map_err(TestCaseError::fail)?;
        // Well-formed requests of this case are answered, before or after the probe.
        let mut expected: Vec<Value> = lines.iter().filter_map(|l| well_formed_id(l)).collect();
        let deadline = Instant::now() + DEADLINE;
        loop {
            for response in &responses {
                if response.get("method").is_some() {
                    continue; // a request or notification from the server
                }
                let id = response.get("id").cloned().unwrap_or(Value::Null);
                if !id.is_null() && !self.sent.contains(&id_key(&id)) {
                    return Err(TestCaseError::fail(format!(
                        "an answer to an id never sent: {response}"
                    )));
                }
                if response.get("result").is_none() == response.get("error").is_none() {
                    return Err(TestCaseError::fail(format!(
                        "neither result nor error: {response}"
                    )));
                }
                if let Some(at) = expected.iter().position(|e| *e == id) {
                    expected.remove(at);
                }
            }
            if expected.is_empty() {
                return Ok(());
            }
            responses.clear();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let message: Value = serde_json::from_str(&line).map_err(|e| {
                        TestCaseError::fail(format!("stdout line is not JSON ({e}): {line}"))
                    })?;
                    responses.extend(as_list(&message).into_iter().cloned());
                }
                Err(_) => {
                    return Err(TestCaseError::fail(format!(
                        "well-formed requests never answered: {expected:?}"
                    )));
                }
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An id as a number or string: `-0` is answered as `0`, the same JSON number.
fn id_key(id: &Value) -> String {
    match id.as_f64() {
        Some(number) => format!("{}", number + 0.0),
        None => id.to_string(),
    }
}

fn as_list(message: &Value) -> Vec<&Value> {
    match message {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// The ids a line carries, if it is JSON.
fn ids_in(line: &[u8]) -> Vec<Value> {
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Vec::new();
    };
    as_list(&value)
        .into_iter()
        .filter_map(|m| m.get("id").cloned())
        .collect()
}

/// The id of a line that is one well-formed JSON-RPC request (a string or 32-bit integer id, a
/// string method), which must be answered.
fn well_formed_id(line: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let object = value.as_object()?;
    let id = object.get("id")?;
    let id_ok = id.is_string() || id.as_i64().is_some_and(|n| i32::try_from(n).is_ok());
    let params_ok = object.get("params").is_none_or(|p| p.is_object());
    (object.get("jsonrpc") == Some(&json!("2.0"))
        && id_ok
        && params_ok
        && object.get("method").is_some_and(Value::is_string))
    .then(|| id.clone())
}

/// Valid `tools/call` parameters for the SQL server, its tools named `{prefix}query` etc.: one
/// answered, one the guard refuses, two catalog reads.
fn sql_calls(prefix: &str) -> Vec<Value> {
    vec![
        json!({"name":format!("{prefix}query"),"arguments":{"sql":"SELECT 1 AS one"}}),
        json!({"name":format!("{prefix}query"),"arguments":{"sql":"DELETE FROM orders"}}),
        json!({"name":format!("{prefix}list_tables"),"arguments":{}}),
        json!({"name":format!("{prefix}describe_table"),"arguments":{"table":"orders"}}),
    ]
}

/// Valid `tools/call` parameters for the Jira server against its fake: reads, writes, and calls
/// Jira refuses (an unknown project, a bad JQL, a missing issue).
fn jira_calls() -> Vec<Value> {
    vec![
        json!({"name":"list_projects","arguments":{}}),
        json!({"name":"search_issues","arguments":{"jql":"project = ENG ORDER BY updated DESC","max_results":5}}),
        json!({"name":"search_issues","arguments":{"jql":"project = = ENG"}}),
        json!({"name":"get_issue","arguments":{"key":"ENG-1"}}),
        json!({"name":"get_issue","arguments":{"key":"NOPE-999"}}),
        json!({"name":"create_issue","arguments":{"project":"ENG","summary":"fuzz","issue_type":"Bug","description":"# Title\n\n- a\n- b"}}),
        json!({"name":"create_issue","arguments":{"project":"ZZZ","summary":"fuzz","issue_type":"Task"}}),
        json!({"name":"add_comment","arguments":{"key":"ENG-1","body":"**bold** <@U1>"}}),
        json!({"name":"get_transitions","arguments":{"key":"ENG-1"}}),
        json!({"name":"transition_issue","arguments":{"key":"ENG-1","transition":"Nowhere"}}),
    ]
}

/// Valid `tools/call` parameters for the Slack server against its fake: reads, posts, and calls
/// Slack refuses (an unknown channel, an archived one, a bad emoji).
fn slack_calls() -> Vec<Value> {
    vec![
        json!({"name":"list_channels","arguments":{}}),
        json!({"name":"list_users","arguments":{}}),
        json!({"name":"get_channel_history","arguments":{"channel":"#general","limit":3}}),
        json!({"name":"get_thread_replies","arguments":{"channel":"#general","thread_ts":"1699999000.000100"}}),
        json!({"name":"post_message","arguments":{"channel":"#operations","text":"**fuzz** <!channel> `x`"}}),
        json!({"name":"post_message","arguments":{"channel":"#no-such-channel","text":"x"}}),
        json!({"name":"add_reaction","arguments":{"channel":"#general","ts":"1699999300.000100","name":"not-an-emoji"}}),
    ]
}

/// Valid requests and notifications for a server that answers the tool calls `calls`.
fn valid_message(calls: Vec<Value>) -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        (0..1_000_000i64).prop_map(Value::from),
        "[a-z0-9-]{1,12}".prop_map(Value::from),
    ];
    let call = prop::sample::select(calls)
        .prop_map(|params| json!({"method":"tools/call","params":params}));
    let other = prop_oneof![
        Just(json!({"method":"ping"})),
        Just(json!({"method":"tools/list"})),
        Just(json!({"method":"tools/list","params":{"cursor":"bogus"}})),
        Just(json!({"method":"resources/list"})),
        Just(json!({"method":"prompts/list"})),
        Just(json!({"method":"resources/templates/list"})),
        Just(json!({"method":"resources/read","params":{"uri":"schema://main"}})),
        Just(json!({"method":"logging/setLevel","params":{"level":"debug"}})),
        Just(json!({"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}})),
        Just(
            json!({"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"x"},"argument":{"name":"a","value":"b"}}})
        ),
    ];
    let body = prop_oneof![1 => call, 2 => other];
    (id, body, any::<bool>()).prop_map(|(id, mut body, notification)| {
        body["jsonrpc"] = json!("2.0");
        // A notification form of a request (no id) must get no answer.
        if !notification {
            body["id"] = id;
        }
        body
    })
}

/// Something put where a value of another type is expected.
fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "a", null])),
        "[ -~]{0,20}".prop_map(Value::from),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    /// Replace a top-level field (or a params field) by a value of the wrong type.
    Retype(&'static str, Value),
    /// Remove a top-level field.
    Remove(&'static str),
    UnknownMethod(String),
    HugeId(&'static str),
    /// Nest the params this deep.
    Nest(usize),
    /// Several messages as a batch array.
    Batch(usize),
    /// Cut the line at a fraction of its length.
    Truncate(u16),
    /// Put bytes that are not UTF-8 into the line at a fraction of its length.
    InvalidUtf8(u16),
    /// A line that is not JSON-RPC at all.
    Garbage(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let field = prop::sample::select(vec![
        "jsonrpc",
        "id",
        "method",
        "params",
        "params.name",
        "params.arguments",
        "params.arguments.sql",
    ]);
    prop_oneof![
        3 => Just(Mutation::None),
        3 => (field.clone(), wrong_value()).prop_map(|(f, v)| Mutation::Retype(f, v)),
        1 => field.prop_map(Mutation::Remove),
        1 => "[a-z/_]{0,20}".prop_map(Mutation::UnknownMethod),
        1 => prop::sample::select(vec![
            "18446744073709551616", "-9223372036854775809", "1e400", "12345678901234567890123",
            "2147483648", "9007199254740993", "0.5", "-0",
        ]).prop_map(Mutation::HugeId),
        1 => prop::sample::select(vec![64usize, 200, 5_000]).prop_map(Mutation::Nest),
        1 => (0..4usize).prop_map(Mutation::Batch),
        1 => any::<u16>().prop_map(Mutation::Truncate),
        1 => any::<u16>().prop_map(Mutation::InvalidUtf8),
        1 => prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|mut b| { b.retain(|c| *c != b'\n'); Mutation::Garbage(b) }),
    ]
}

fn set_path(message: &mut Value, path: &str, value: Option<Value>) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut at = message;
    for part in parts {
        match at.get_mut(part) {
            Some(next) if next.is_object() => at = next,
            _ => return,
        }
    }
    if let Some(object) = at.as_object_mut() {
        match value {
            Some(value) => {
                object.insert(last.to_owned(), value);
            }
            None => {
                object.remove(last);
            }
        }
    }
}

fn at(fraction: u16, len: usize) -> usize {
    usize::from(fraction) * len / (usize::from(u16::MAX) + 1)
}

/// One line: a valid message, possibly mutated.
fn line(calls: Vec<Value>) -> impl Strategy<Value = Vec<u8>> {
    (
        valid_message(calls.clone()),
        mutation(),
        prop::collection::vec(valid_message(calls), 0..3),
    )
        .prop_map(|(mut message, mutation, more)| match mutation {
            Mutation::None => message.to_string().into_bytes(),
            Mutation::Retype(field, value) => {
                set_path(&mut message, field, Some(value));
                message.to_string().into_bytes()
            }
            Mutation::Remove(field) => {
                set_path(&mut message, field, None);
                message.to_string().into_bytes()
            }
            Mutation::UnknownMethod(method) => {
                message["method"] = json!(method);
                message.to_string().into_bytes()
            }
            Mutation::HugeId(id) => {
                message["id"] = json!("HUGE");
                message.to_string().replace("\"HUGE\"", id).into_bytes()
            }
            Mutation::Nest(depth) => {
                message["params"] = json!("NEST");
                let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                message
                    .to_string()
                    .replace("\"NEST\"", &nested)
                    .into_bytes()
            }
            Mutation::Batch(extra) => {
                let mut batch = vec![message];
                batch.extend(more.into_iter().take(extra));
                Value::Array(batch).to_string().into_bytes()
            }
            Mutation::Truncate(f) => {
                let mut bytes = message.to_string().into_bytes();
                bytes.truncate(at(f, bytes.len()));
                bytes
            }
            Mutation::InvalidUtf8(f) => {
                let mut bytes = message.to_string().into_bytes();
                let i = at(f, bytes.len());
                bytes.splice(i..i, [0xff, 0xc3, 0x28, 0x80]);
                bytes
            }
            Mutation::Garbage(bytes) => bytes,
        })
}

fn run(peer: Peer, calls: Vec<Value>, ci_budget: u32) {
    let mut runner = TestRunner::new(fuzz::config(ci_budget));
    let strategy = prop::collection::vec(line(calls), 1..6);
    let peer = RefCell::new(peer);
    let result = runner.run(&strategy, |lines| peer.borrow_mut().exchange(&lines));
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn prop_sqlite_server_over_stdio_survives_hostile_json_rpc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = shop_db(dir.path()).expect("shop database");
    let peer = Peer::spawn(Command::new(binary()).arg("server").arg("sqlite").arg(&db));
    run(peer, sql_calls(""), 300);
}

/// A runtime to host the SaaS fakes of a synchronous test, kept for as long as they serve.
fn fake_host() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn prop_jira_server_over_stdio_survives_hostile_json_rpc() {
    use switchboard_testkit::jira::{API_TOKEN, EMAIL, FakeJira, Flavor};
    let host = fake_host();
    let fake = host
        .block_on(FakeJira::start(Flavor::Cloud))
        .expect("fake Jira");
    let peer = Peer::spawn(
        Command::new(binary())
            .args(["server", "jira"])
            .env("JIRA_URL", fake.url())
            .env("JIRA_USERNAME", EMAIL)
            .env("JIRA_API_TOKEN", API_TOKEN)
            // The fake needs no pacing; at Jira's default 10 requests a second, the target
            // would measure the client's limiter.
            .env("JIRA_RATE_LIMIT", "off"),
    );
    run(peer, jira_calls(), 150);
}

#[test]
fn prop_slack_server_over_stdio_survives_hostile_json_rpc() {
    let host = fake_host();
    let fake = host
        .block_on(switchboard_testkit::slack::FakeSlack::start())
        .expect("fake Slack");
    let peer = Peer::spawn(
        Command::new(binary())
            .args(["server", "slack"])
            .env("SLACK_BOT_TOKEN", fake.token())
            .env("SLACK_API_URL", fake.url()),
    );
    run(peer, slack_calls(), 150);
}

/// A gateway over the SQL server on the shop database, both in `dir`.
fn gateway_config(dir: &std::path::Path) -> std::path::PathBuf {
    let db = shop_db(dir).expect("shop database");
    let config = dir.join("switchboard.toml");
    let text = format!(
        "[audit]\npath = {:?}\n[servers.db]\nkind = \"postgres\"\nenv = {{ DATABASE_URL = {:?} }}\n",
        dir.join("audit.jsonl"),
        format!("sqlite://{}", db.display()),
    );
    std::fs::write(&config, text).expect("write config");
    config
}

#[test]
fn prop_gateway_over_stdio_survives_hostile_json_rpc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = gateway_config(dir.path());
    let peer = Peer::spawn(
        Command::new(binary())
            .arg("serve")
            .arg("--config")
            .arg(&config),
    );
    run(peer, sql_calls("db__"), 300);
}

/// The headers one HTTP request is sent with.
#[derive(Debug, Clone)]
enum Era {
    /// 2026-07-28: `Mcp-Method` naming the body's method.
    Stateless,
    /// 2026-07-28 with an `Mcp-Method` that need not match the body.
    Mismatched(String),
    /// 2025-11-25, without a session.
    Sessionless,
    /// No protocol headers at all.
    Bare,
}

fn era() -> impl Strategy<Value = Era> {
    prop_oneof![
        3 => Just(Era::Stateless),
        1 => "[a-z/]{0,12}".prop_map(Era::Mismatched),
        1 => Just(Era::Sessionless),
        1 => Just(Era::Bare),
    ]
}

/// The `_meta` a 2026-07-28 request carries.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// `switchboard serve --http`, spoken to one request at a time.
struct HttpPeer {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
    child: tokio::process::Child,
    probes: u64,
}

impl HttpPeer {
    /// One request: no transport failure, no server error, and only ids of its body answered.
    fn post(&self, body: &[u8], era: &Era) -> Result<(), String> {
        let method = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned));
        let mut request = self
            .client
            .post(&self.url)
            .timeout(DEADLINE)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_vec());
        request = match era {
            Era::Stateless => {
                let request = request.header("mcp-protocol-version", "2026-07-28");
                match &method {
                    Some(method) => request.header("mcp-method", method.as_str()),
                    None => request,
                }
            }
            Era::Mismatched(method) => request
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", method.as_str()),
            Era::Sessionless => request.header("mcp-protocol-version", "2025-11-25"),
            Era::Bare => request,
        };
        let (status, text) = self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .map_err(|e| format!("no HTTP answer: {e}"))?;
            let status = response.status();
            let text = response
                .text()
                .await
                .map_err(|e| format!("the answer was cut: {e}"))?;
            Ok::<_, String>((status, text))
        })?;
        if status.is_server_error() {
            return Err(format!(
                "{status} for {}: {text}",
                String::from_utf8_lossy(body)
            ));
        }
        let sent: HashSet<String> = ids_in(body).iter().map(id_key).collect();
        for message in switchboard_testkit::stateless::messages(&text) {
            for response in as_list(&message) {
                let id = response.get("id").cloned().unwrap_or(Value::Null);
                if response.get("method").is_none() && !id.is_null() && !sent.contains(&id_key(&id))
                {
                    return Err(format!("an answer to an id not in its request: {response}"));
                }
            }
        }
        Ok(())
    }

    /// Sends each body with its headers, then a stateless `tools/list` that must be answered
    /// (2026-07-28 has no `ping`).
    fn exchange(&mut self, requests: &[(Vec<u8>, Era)]) -> Result<(), TestCaseError> {
        for (body, era) in requests {
            self.post(body, era).map_err(TestCaseError::fail)?;
        }
        self.probes += 1;
        let probe = json!(format!("probe:{}", self.probes));
        let list = json!({"jsonrpc": "2.0", "id": probe, "method": "tools/list",
                          "params": {"_meta": modern_meta()}});
        let answer = self.runtime.block_on(async {
            let text = self
                .client
                .post(&self.url)
                .timeout(DEADLINE)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/list")
                .json(&list)
                .send()
                .await
                .map_err(|e| format!("the probe got no answer: {e}"))?
                .text()
                .await
                .map_err(|e| format!("the probe's answer was cut: {e}"))?;
            Ok::<_, String>(text)
        });
        let text = answer.map_err(TestCaseError::fail)?;
        let answered = switchboard_testkit::stateless::messages(&text)
            .iter()
            .any(|m| m["id"] == probe && m.get("result").is_some());
        if !answered {
            return Err(TestCaseError::fail(format!(
                "the probe was not answered: {text}"
            )));
        }
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            other => Err(TestCaseError::fail(format!(
                "the gateway exited: {other:?}"
            ))),
        }
    }
}

#[test]
fn prop_gateway_over_http_survives_hostile_json_rpc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = gateway_config(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (child, url) = runtime.block_on(support::serve_http(&config, &[("RUST_LOG", "error")]));
    let peer = RefCell::new(HttpPeer {
        runtime,
        client: reqwest::Client::new(),
        url,
        child,
        probes: 0,
    });
    let mut runner = TestRunner::new(fuzz::config(200));
    let strategy = prop::collection::vec((line(sql_calls("db__")), era()), 1..5);
    let result = runner.run(&strategy, |requests| peer.borrow_mut().exchange(&requests));
    if let Err(error) = result {
        panic!("{error}");
    }
}
