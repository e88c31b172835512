//! The real `switchboard` binary as a gateway (`serve`, `tools`, `call`, `audit`) in front of a
//! third-party MCP server: `@modelcontextprotocol/server-everything` from npm (installed into
//! the target directory on first use with the ordinary npm client; Node 20 must be on PATH).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;

use switchboard_testkit::stateless::TaskListener;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The pinned release of server-everything the tests run.
const EVERYTHING: &str = "@modelcontextprotocol/server-everything@2026.8.31";

/// The entry point of server-everything, installed once per target directory. nextest runs each
/// test in its own process, so the install is serialised by a file lock, not by the `OnceLock`
/// alone: two concurrent `npm install`s into one prefix fail with `ENOTEMPTY`.
fn everything() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("npm-server-everything");
        let entry = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
        std::fs::create_dir_all(&dir).unwrap();
        let lock = std::fs::File::create(dir.join(".install.lock")).unwrap();
        lock.lock().unwrap();
        if !entry.exists() {
            let status = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(EVERYTHING)
                .stdout(Stdio::null())
                .status()
                .expect("npm must be on PATH to install @modelcontextprotocol/server-everything");
            assert!(status.success(), "npm install of {EVERYTHING} failed");
        }
        lock.unlock().unwrap();
        assert!(
            entry.exists(),
            "{} is missing after npm install",
            entry.display()
        );
        entry
    })
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let audit = dir.join("audit.jsonl");
    let text = format!(
        "[audit]\npath = {:?}\n[servers.ev]\ncommand = \"node\"\nargs = [{:?}]\n{extra}",
        audit.display().to_string(),
        everything().display().to_string()
    );
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `echo` needs an operator's approval; `ops` is an operator, `ci` a client without elicitation.
const OPERATORS: &str = "[approvals]\ntimeout = \"60s\"\n[tools.\"echo\"]\napproval = \"required\"\n\
    [clients.ops]\ntoken = \"ops-token-0001\"\nadmin = true\n\
    [clients.ci]\ntoken = \"ci-token-0001\"\n";

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn serve_over_stdio_aggregates_a_third_party_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let mut command = tokio::process::Command::new(BIN);
    command.args(["serve", "--config"]).arg(&config);
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"), "{tools:?}");
    let mut params = CallToolRequestParams::new("echo");
    params.arguments = serde_json::json!({"message": "through the gateway"})
        .as_object()
        .cloned();
    let result = client.call_tool(params).await.unwrap();
    let text = result.content[0].as_text().unwrap().text.clone();
    assert_eq!(text, "Echo: through the gateway");
    client.cancel().await.unwrap();

    let verify = run(
        dir.path(),
        &["audit", "verify", "--config", config.to_str().unwrap()],
    );
    assert!(verify.status.success(), "{}", stderr(&verify));
    // One call, beside the records of the tools pinned at start.
    let calls = run(
        dir.path(),
        &[
            "audit",
            "search",
            "--outcome",
            "ok",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(stdout(&calls).lines().count(), 1, "{}", stdout(&calls));
}

#[tokio::test]
async fn serve_endpoint_offers_only_the_endpoints_tools_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[endpoints.small]\ntools = [\"echo\", \"get-sum\"]\ninstructions = \"Two tools.\"\n\
         [endpoints.small.overrides.get-sum]\nrename = \"add\"\n",
    );
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["serve", "--endpoint", "small", "--config"])
        .arg(&config);
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let info = client.peer().peer_info().unwrap();
    assert_eq!(info.instructions.as_deref(), Some("Two tools."));
    // The 2026-07-28 era sees the same endpoint.
    let mut modern = tokio::process::Command::new(BIN);
    modern
        .args(["serve", "--endpoint", "small", "--config"])
        .arg(&config);
    let lifecycle = rmcp::service::ClientLifecycleMode::Discover {
        preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
    };
    let stateless = rmcp::service::ClientServiceExt::serve_with_lifecycle(
        (),
        TokioChildProcess::new(modern).unwrap(),
        lifecycle,
    )
    .await
    .unwrap();
    let mut listed: Vec<String> = stateless
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["add", "echo"]);
    stateless.cancel().await.unwrap();
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["add", "echo"]);
    let mut params = CallToolRequestParams::new("add");
    params.arguments = serde_json::json!({"a": 2, "b": 3}).as_object().cloned();
    let result = client.call_tool(params).await.unwrap();
    assert!(result.content[0].as_text().unwrap().text.contains('5'));
    client.cancel().await.unwrap();

    let unknown = run(
        dir.path(),
        &[
            "serve",
            "--endpoint",
            "nope",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("[endpoints.nope]"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn tools_lists_the_catalog_even_for_a_client_in_search_mode() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[clients.searcher]\nallow = [\"echo\", \"get-sum\"]\ntool_search = \"on\"\n",
    );
    let listed = run(
        dir.path(),
        &[
            "tools",
            "--config",
            config.to_str().unwrap(),
            "--client",
            "searcher",
            "--json",
        ],
    );
    assert!(listed.status.success(), "{}", stderr(&listed));
    let tools: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["echo", "get-sum"]);
}

#[test]
fn tools_call_and_audit_commands() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[clients.limited]\nallow = [\"echo\"]\n[rate_limits]\n\"get-sum\" = { rate = \"1/hour\" }\n",
    );
    let c = config.to_str().unwrap();

    let tools = run(dir.path(), &["tools", "--config", c]);
    assert!(tools.status.success(), "{}", stderr(&tools));
    let table = stdout(&tools);
    assert!(table.lines().next().unwrap().starts_with("TOOL"), "{table}");
    assert!(
        table.contains("get-sum") && table.contains("server ev: "),
        "{table}"
    );
    let limited = run(
        dir.path(),
        &["tools", "--config", c, "--client", "limited", "--json"],
    );
    let listed: serde_json::Value = serde_json::from_slice(&limited.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let ok = run(
        dir.path(),
        &["call", "get-sum", r#"{"a": 2, "b": 3}"#, "--config", c],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains('5'), "{}", stdout(&ok));
    // The rate limit survives only within one process; a new `call` has fresh buckets, so the
    // refusal is shown with a scope instead.
    let refused = run(
        dir.path(),
        &[
            "call",
            "get-sum",
            r#"{"a":1,"b":1}"#,
            "--client",
            "limited",
            "--config",
            c,
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused).contains("unknown tool"),
        "{}",
        stdout(&refused)
    );
    let bad = run(dir.path(), &["call", "echo", "not json", "--config", c]);
    assert_eq!(bad.status.code(), Some(2));

    let search = run(
        dir.path(),
        &["audit", "search", "--outcome", "refused", "--config", c],
    );
    let lines: Vec<serde_json::Value> = stdout(&search)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["client"], "limited");
    assert_eq!(lines[0]["layer"], "authorize");
    let tail = run(dir.path(), &["audit", "tail", "-n", "1", "--config", c]);
    assert_eq!(stdout(&tail).lines().count(), 1);

    // Tampering is detected.
    let audit = dir.path().join("audit.jsonl");
    let text = std::fs::read_to_string(&audit).unwrap();
    std::fs::write(&audit, text.replacen("\"ok\"", "\"refused\"", 1)).unwrap();
    let verify = run(
        dir.path(),
        &["audit", "verify", "--file", audit.to_str().unwrap()],
    );
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stderr(&verify).contains("chain is broken"),
        "{}",
        stderr(&verify)
    );
}

#[test]
fn a_changed_tool_is_withheld_until_tools_accept_and_review_shows_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let c = config.to_str().unwrap();
    // The first start pins every tool of the server.
    let first = run(dir.path(), &["tools", "--config", c]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("echo"), "{}", stdout(&first));
    let review = run(dir.path(), &["tools", "review", "--config", c]);
    assert!(
        stdout(&review).contains("nothing waits for review"),
        "{}",
        stdout(&review)
    );

    // What the pins remember of `echo` no longer matches what the server lists: as if the
    // server had changed it since.
    let pin_file = dir.path().join("audit.pins.json");
    let mut pins: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pin_file).unwrap()).unwrap();
    assert_eq!(pins["tools"]["ev/echo"]["state"], "pinned", "{pins}");
    let echo = &mut pins["tools"]["ev/echo"];
    echo["fingerprint"] = serde_json::json!("0".repeat(64));
    echo["definition"]["description"] = serde_json::json!("Echoes back the input (as pinned)");
    std::fs::write(&pin_file, pins.to_string()).unwrap();

    let listed = run(dir.path(), &["tools", "--config", c, "--json"]);
    let names: Vec<String> = serde_json::from_slice::<serde_json::Value>(&listed.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.contains(&"echo".to_owned()), "{names:?}");
    let call = run(
        dir.path(),
        &["call", "echo", r#"{"message": "hi"}"#, "--config", c],
    );
    assert_eq!(call.status.code(), Some(1));
    assert!(stdout(&call).contains("quarantined"), "{}", stdout(&call));

    let review = run(dir.path(), &["tools", "review", "--config", c]);
    let shown = stdout(&review);
    assert!(
        shown.contains("ev/echo: quarantined")
            && shown.contains("-  \"description\": \"Echoes back the input (as pinned)\"")
            && shown.contains("+  \"description\":"),
        "{shown}"
    );
    let unknown = run(dir.path(), &["tools", "accept", "nope", "--config", c]);
    assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));

    let accept = run(dir.path(), &["tools", "accept", "echo", "--config", c]);
    assert!(accept.status.success(), "{}", stderr(&accept));
    assert!(
        stdout(&accept).contains("accepted ev/echo"),
        "{}",
        stdout(&accept)
    );
    let call = run(
        dir.path(),
        &["call", "echo", r#"{"message": "hi"}"#, "--config", c],
    );
    assert!(call.status.success(), "{}", stdout(&call));
    let search = run(
        dir.path(),
        &["audit", "search", "--outcome", "accepted", "--config", c],
    );
    let accepted: Vec<serde_json::Value> = stdout(&search)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(accepted.len(), 1, "{}", stdout(&search));
    assert_eq!(accepted[0]["tool"], "echo");
    assert!(
        accepted[0]["client"]
            .as_str()
            .unwrap()
            .starts_with("operator:")
    );
    let verify = run(dir.path(), &["audit", "verify", "--config", c]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn with_a_state_store_tools_review_and_accept_act_on_the_fleets_pins() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("sb-cli-pins-{}", uuid::Uuid::new_v4());
    let redis_url = "redis://127.0.0.1:6379/0";
    let config = config(
        dir.path(),
        &format!("[state]\nstore = {redis_url:?}\nprefix = {prefix:?}\n"),
    );
    let c = config.to_str().unwrap();
    let mut redis = redis::Client::open(redis_url)
        .unwrap()
        .get_connection()
        .expect("Redis on 127.0.0.1:6379 (scripts/setup starts it)");
    let key = format!("{prefix}:pins");
    /// Deletes the test's keys, also when it fails.
    struct Forget(Vec<String>);
    impl Drop for Forget {
        fn drop(&mut self) {
            if let Ok(mut redis) =
                redis::Client::open("redis://127.0.0.1:6379/0").and_then(|c| c.get_connection())
            {
                let _: Result<(), _> = redis::Commands::del(&mut redis, self.0.clone());
            }
        }
    }
    let _forget = Forget(vec![key.clone(), format!("{key}:rev")]);

    // The first start pins every tool of the server in the store, not in a file.
    let first = run(dir.path(), &["tools", "--config", c]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!dir.path().join("audit.pins.json").exists());
    let stored: String = redis::Commands::get(&mut redis, &key).unwrap();
    let mut pins: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(pins["tools"]["ev/echo"]["state"], "pinned", "{pins}");

    // The fleet's pin of `echo` no longer matches what the server lists.
    pins["tools"]["ev/echo"]["fingerprint"] = serde_json::json!("0".repeat(64));
    let _: () = redis::Commands::set(&mut redis, &key, pins.to_string()).unwrap();
    let call = run(
        dir.path(),
        &["call", "echo", r#"{"message": "hi"}"#, "--config", c],
    );
    assert_eq!(call.status.code(), Some(1), "{}", stdout(&call));
    let review = run(dir.path(), &["tools", "review", "--config", c]);
    assert!(
        stdout(&review).contains("ev/echo: quarantined"),
        "{}",
        stdout(&review)
    );
    let accept = run(dir.path(), &["tools", "accept", "echo", "--config", c]);
    assert!(accept.status.success(), "{}", stderr(&accept));
    let call = run(
        dir.path(),
        &["call", "echo", r#"{"message": "hi"}"#, "--config", c],
    );
    assert!(call.status.success(), "{}", stdout(&call));
}

#[test]
fn configuration_errors_exit_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, "[servers.db]\ncommand = \"x\"\ntimeout = \"soon\"\n").unwrap();
    let out = run(dir.path(), &["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("switchboard.toml") && err.contains("servers.db.timeout"),
        "{err}"
    );
}

#[test]
fn without_configuration_serve_reports_which_builtins_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATA_DIR", dir.path().join("data"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("postgres: not started (DATABASE_URL is not set)"),
        "{err}"
    );
    assert!(
        err.contains("sample: serving the sample shop database as server \"sample\""),
        "{err}"
    );
    assert!(
        err.contains("jira: not started (JIRA_URL is not set)"),
        "{err}"
    );
    assert!(
        err.contains("slack: not started (SLACK_BOT_TOKEN is not set)"),
        "{err}"
    );
}

#[tokio::test]
async fn serve_http_requires_tokens_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "[clients.ci]\ntoken = \"${env:SB_CI_TOKEN}\"\n");
    let (mut child, url) =
        support::serve_http(&config, &[("SB_CI_TOKEN", "ci-token-777777")]).await;

    let denied = reqwest_status(&url, None).await;
    assert_eq!(denied, 401);
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url)
            .auth_header("ci-token-777777");
    let client = ()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_config(
            config,
        ))
        .await
        .unwrap();
    assert!(
        client
            .list_all_tools()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "echo")
    );
    client.cancel().await.unwrap();

    Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// The HTTP status of an MCP `tools/list` POST with an optional bearer token.
async fn reqwest_status(url: &str, token: Option<&str>) -> u16 {
    // A raw HTTP/1.1 request, so the test needs no HTTP client crate of its own.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A stateless `tools/call` of `echo` over HTTP with `token` and a progress token, from a client
/// that declares no elicitation: the JSON-RPC answer, and the messages of the progress
/// notifications that came before it.
/// `switchboard approvals ARGS --url URL` with the client token `token`.
fn approvals(url: &str, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["approvals", "--url", url])
        .args(args)
        .env("SWITCHBOARD_TOKEN", token)
        .output()
        .unwrap()
}

async fn call_echo(url: String, token: &str, message: &str) -> (serde_json::Value, Vec<String>) {
    let text = switchboard_testkit::stateless::tools_call(
        &url,
        "echo",
        serde_json::json!({"message": message}),
        serde_json::json!({"progressToken": "p1"}),
    )
    .bearer_auth(token)
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let mut messages = switchboard_testkit::stateless::messages(&text);
    let answer = messages.pop().unwrap();
    let progress = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| {
            m["params"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    (answer, progress)
}

/// A call that needs approval from a client that cannot be asked waits for an operator, who
/// approves or denies it with `switchboard approvals`; the audit record says who decided.
#[tokio::test]
async fn a_call_waits_for_an_operator_who_decides_with_switchboard_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), OPERATORS);
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let approvals = |args: &[&str], token: &str| approvals(&url, token, args);
    // Waits for the one call in the queue and returns its id.
    let waiting = async || {
        for _ in 0..100 {
            let listed = approvals(&["list", "--json"], "ops-token-0001");
            assert!(listed.status.success(), "{}", stderr(&listed));
            if let Some(line) = stdout(&listed).lines().next() {
                let entry: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(entry["tool"], "echo");
                assert_eq!(entry["client"], "ci");
                return entry["id"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no call showed up in the queue");
    };

    let call = tokio::spawn(call_echo(url.clone(), "ci-token-0001", "ship it"));
    let id = waiting().await;
    // Only operators may see or decide.
    let refused = approvals(&["approve", &id], "ci-token-0001");
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("403"), "{}", stderr(&refused));
    let approved = approvals(&["approve", &id], "ops-token-0001");
    assert!(approved.status.success(), "{}", stderr(&approved));
    let (answer, _) = call.await.unwrap();
    assert_ne!(
        answer["result"]["isError"],
        serde_json::json!(true),
        "{answer}"
    );
    assert!(answer.to_string().contains("ship it"), "{answer}");
    // Deciding again: the id is gone.
    assert_eq!(
        approvals(&["deny", &id], "ops-token-0001").status.code(),
        Some(1)
    );

    let call = tokio::spawn(call_echo(url.clone(), "ci-token-0001", "and this"));
    let id = waiting().await;
    // A client that asked for progress hears that its call waits (every 5 s).
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let denied = approvals(
        &["deny", &id, "--reason", "not during the freeze"],
        "ops-token-0001",
    );
    assert!(denied.status.success(), "{}", stderr(&denied));
    let (answer, progress) = call.await.unwrap();
    assert_eq!(
        answer["result"]["isError"],
        serde_json::json!(true),
        "{answer}"
    );
    assert!(
        progress
            .iter()
            .any(|m| m.contains("waiting for an operator") && m.contains(&id)),
        "{progress:?}"
    );
    assert!(
        answer
            .to_string()
            .contains("denied by ops: not during the freeze"),
        "{answer}"
    );

    let records =
        switchboard_gateway::audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let decided: Vec<_> = records
        .iter()
        .filter(|r| r.tool == "echo" && r.layer.as_deref() != Some("pins"))
        .map(|r| {
            let note = r.approval.as_ref().expect("the decision is in the record");
            (
                r.outcome.as_str(),
                note.decision.as_str(),
                note.by.as_deref(),
                note.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        decided,
        [
            ("ok", "approved", Some("ops"), None),
            (
                "refused",
                "denied",
                Some("ops"),
                Some("not during the freeze")
            ),
        ]
    );
    child.kill().await.unwrap();
}

/// `[approvals] slack`: a waiting call is posted to the channel with Approve and Deny buttons; a
/// click decides it only when Slack signed it within five minutes, it is not a replay, and the
/// clicker is a listed operator; the message is then updated with the decision and the decider,
/// who is also in the call's audit record.
#[tokio::test]
async fn approvals_in_slack_are_decided_by_a_signed_click_from_an_operator() {
    use switchboard_testkit::slack::{FakeChannel, FakeSlack};
    const SIGNING_SECRET: &str = "slack-signing-secret-0001";
    const CHANNEL: &str = "C0APPROVAL";
    let slack = FakeSlack::start().await.unwrap();
    slack.add_channel(FakeChannel::public(CHANNEL, "approvals"));
    let dir = tempfile::tempdir().unwrap();
    // No client is an operator: Slack's operators alone make calls wait.
    let config = config(
        dir.path(),
        &format!(
            "[approvals]\ntimeout = \"60s\"\n\
             slack = {{ channel = \"#approvals\", token = \"${{env:APPROVALS_SLACK_TOKEN}}\", \
             signing_secret = \"${{env:APPROVALS_SIGNING_SECRET}}\", \
             operators = [\"U0ALICE001\"], api_url = \"{}\" }}\n\
             [tools.\"echo\"]\napproval = \"required\"\n\
             [clients.ci]\ntoken = \"ci-token-0001\"\n",
            slack.url()
        ),
    );
    let (mut child, url) = support::serve_http(
        &config,
        &[
            ("APPROVALS_SLACK_TOKEN", &slack.token()),
            ("APPROVALS_SIGNING_SECRET", SIGNING_SECRET),
        ],
    )
    .await;
    let interactions = url.replace("/mcp", "/slack/interactions");
    let click = async |user: &str, action: &str, id: &str, age_s: u64, secret: &str| {
        support::slack_click(&interactions, secret, user, action, id, age_s).await
    };
    // The message posted for the one waiting call: its id (the buttons' value) and its blocks.
    let posted = async |n: usize| {
        for _ in 0..100 {
            let messages = slack.posted(CHANNEL);
            if let Some(message) = messages.get(n) {
                let blocks = message.blocks.clone().expect("posted with blocks");
                let buttons = blocks
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["type"] == "actions")
                    .expect("the message has buttons")["elements"]
                    .clone();
                assert_eq!(buttons[0]["action_id"], "approve");
                assert_eq!(buttons[1]["action_id"], "deny");
                assert!(message.text.contains("echo") && message.text.contains("ci"));
                return (
                    message.ts.clone(),
                    buttons[0]["value"].as_str().unwrap().to_owned(),
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no approval request was posted to Slack");
    };
    // The message once updated: its text, and that it has no buttons left.
    let settled = async |ts: &str| {
        for _ in 0..100 {
            let message = slack
                .messages(CHANNEL)
                .into_iter()
                .find(|m| m.ts == ts)
                .unwrap();
            let blocks = message.blocks.clone().unwrap_or_default().to_string();
            if !blocks.contains("\"actions\"") {
                return message.text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the approval message was not updated");
    };

    let call = tokio::spawn(call_echo(url.clone(), "ci-token-0001", "ship it"));
    let (ts, id) = posted(0).await;
    // Not Slack's, stale, or not an operator's: nothing is decided.
    assert_eq!(
        click("U0ALICE001", "approve", &id, 0, "not-the-secret").await,
        (401, 401)
    );
    assert_eq!(
        click("U0ALICE001", "approve", &id, 6 * 60, SIGNING_SECRET).await,
        (401, 401)
    );
    assert_eq!(
        click("U0BOB00001", "approve", &id, 0, SIGNING_SECRET).await,
        (403, 401),
        "an unmapped user is refused, and the same request again is a replay"
    );
    assert!(!call.is_finished(), "nothing decided the call yet");
    // An operator's click decides once; the same request again is a replay.
    assert_eq!(
        click("U0ALICE001", "approve", &id, 0, SIGNING_SECRET).await,
        (200, 401)
    );
    let (answer, _) = call.await.unwrap();
    assert!(answer.to_string().contains("ship it"), "{answer}");
    assert_eq!(
        settled(&ts).await,
        "Approved by slack:U0ALICE001 (alice): echo on ev, asked by ci"
    );

    let call = tokio::spawn(call_echo(url.clone(), "ci-token-0001", "and this"));
    let (ts, id) = posted(1).await;
    assert_eq!(
        click("U0ALICE001", "deny", &id, 1, SIGNING_SECRET).await,
        (200, 401)
    );
    let (answer, _) = call.await.unwrap();
    assert_eq!(
        answer["result"]["isError"],
        serde_json::json!(true),
        "{answer}"
    );
    assert!(
        answer
            .to_string()
            .contains("denied by slack:U0ALICE001 (alice): denied in Slack"),
        "{answer}"
    );
    assert!(
        settled(&ts)
            .await
            .starts_with("Denied by slack:U0ALICE001 (alice)")
    );
    // A click on a decided request finds nothing waiting.
    assert_eq!(
        click("U0ALICE001", "approve", &id, 2, SIGNING_SECRET).await,
        (404, 401)
    );

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(!audit.contains(SIGNING_SECRET) && !audit.contains(&slack.token()));
    let records =
        switchboard_gateway::audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let decided: Vec<_> = records
        .iter()
        .filter(|r| r.tool == "echo" && r.layer.as_deref() != Some("pins"))
        .map(|r| {
            let note = r.approval.as_ref().expect("the decision is in the record");
            (r.outcome.as_str(), note.decision.as_str(), note.by.clone())
        })
        .collect();
    let alice = Some("slack:U0ALICE001 (alice)".to_owned());
    assert_eq!(
        decided,
        [
            ("ok", "approved", alice.clone()),
            ("refused", "denied", alice)
        ]
    );
    child.kill().await.unwrap();
}

/// A 2026-07-28 request declaring the tasks extension, by the client of `token`: its JSON-RPC
/// answer.
async fn with_tasks(
    url: &str,
    token: &str,
    method: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    let follows_tasks = serde_json::json!({"io.modelcontextprotocol/clientCapabilities": {
        "extensions": {"io.modelcontextprotocol/tasks": {}}
    }});
    let request = switchboard_testkit::stateless::request(url, method, params, follows_tasks);
    switchboard_testkit::stateless::answer(request.bearer_auth(token)).await
}

/// A client that declares the tasks extension is not held while an operator decides: its call
/// is a task at once, which completes with the call's result once approved; another client
/// cannot see it; a cancelled one leaves the queue.
#[tokio::test]
async fn a_call_waiting_for_an_operator_is_a_task_for_a_client_that_follows_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[approvals]\ntimeout = \"60s\"\n[tools.\"echo\"]\napproval = \"required\"\n\
         [clients.ops]\ntoken = \"ops-token-0001\"\nadmin = true\n\
         [clients.ci]\ntoken = \"ci-token-0001\"\n[clients.other]\ntoken = \"other-token-01\"\n",
    );
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let approvals = |args: &[&str]| approvals(&url, "ops-token-0001", args);
    let echo = serde_json::json!({"name": "echo", "arguments": {"message": "ship it"}});
    let created = with_tasks(&url, "ci-token-0001", "tools/call", echo.clone()).await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    assert_eq!(created["result"]["status"], "working", "{created}");
    let id = created["result"]["taskId"].as_str().unwrap().to_owned();
    let get = serde_json::json!({"taskId": id});
    let working = with_tasks(&url, "ci-token-0001", "tasks/get", get.clone()).await;
    assert_eq!(working["result"]["status"], "working", "{working}");
    assert!(
        working["result"]["statusMessage"]
            .as_str()
            .unwrap()
            .contains("operator"),
        "{working}"
    );
    let foreign = with_tasks(&url, "other-token-01", "tasks/get", get.clone()).await;
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");

    let listed = approvals(&["list", "--json"]);
    let queued: serde_json::Value =
        serde_json::from_str(stdout(&listed).lines().next().expect("a queued call")).unwrap();
    assert!(
        approvals(&["approve", queued["id"].as_str().unwrap()])
            .status
            .success()
    );
    let done = finished_task(&url, "ci-token-0001", &get).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert!(
        done["result"]["result"].to_string().contains("ship it"),
        "{done}"
    );

    // Cancelled: the call leaves the queue, and the task says so.
    let created = with_tasks(&url, "ci-token-0001", "tools/call", echo).await;
    let get = serde_json::json!({"taskId": created["result"]["taskId"]});
    for _ in 0..100 {
        if stdout(&approvals(&["list", "--json"])).lines().count() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let cancel = with_tasks(&url, "ci-token-0001", "tasks/cancel", get.clone()).await;
    assert!(cancel.get("error").is_none(), "{cancel}");
    let mut state = serde_json::Value::Null;
    for _ in 0..100 {
        state = with_tasks(&url, "ci-token-0001", "tasks/get", get.clone()).await;
        if state["result"]["status"] == "cancelled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state["result"]["status"], "cancelled", "{state}");
    assert_eq!(stdout(&approvals(&["list", "--json"])).lines().count(), 0);

    let records =
        switchboard_gateway::audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let approved: Vec<_> = records
        .iter()
        .filter(|r| r.tool == "echo" && r.outcome == "ok")
        .map(|r| r.approval.as_ref().map(|a| a.decision.clone()))
        .collect();
    assert_eq!(approved, [Some("approved".to_owned())]);
    child.kill().await.unwrap();
}

/// A 2026-07-28 client that names its task on a `subscriptions/listen` stream is told each
/// change of its status — the whole task, as `tasks/get` would return it — until it ends; a
/// client that did not declare the extension is refused with -32021.
#[tokio::test]
async fn a_listen_stream_tells_a_client_its_tasks_status_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), OPERATORS);
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let echo = serde_json::json!({"name": "echo", "arguments": {"message": "ship it"}});
    let created = with_tasks(&url, "ci-token-0001", "tools/call", echo).await;
    let id = created["result"]["taskId"].as_str().unwrap().to_owned();
    let refused = switchboard_testkit::stateless::answer(
        switchboard_testkit::stateless::listen_for_tasks(&url, serde_json::json!({}), &[&id])
            .bearer_auth("ci-token-0001"),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");

    let tasks = serde_json::json!({"io.modelcontextprotocol/tasks": {}});
    let mut listener = TaskListener::open(
        switchboard_testkit::stateless::listen_for_tasks(&url, tasks, &[&id])
            .bearer_auth("ci-token-0001"),
    )
    .await;
    assert_eq!(listener.next_status(&id).await["status"], "working");

    let listed = approvals(&url, "ops-token-0001", &["list", "--json"]);
    let queued: serde_json::Value =
        serde_json::from_str(stdout(&listed).lines().next().expect("a queued call")).unwrap();
    let approve = approvals(
        &url,
        "ops-token-0001",
        &["approve", queued["id"].as_str().unwrap()],
    );
    assert!(approve.status.success());
    let done = listener.next_status(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["result"].to_string().contains("ship it"), "{done}");
    child.kill().await.unwrap();
}

/// `tasks/get` of `get` (`{"taskId": …}`) until the task is no longer working (10 s at most).
async fn finished_task(url: &str, token: &str, get: &serde_json::Value) -> serde_json::Value {
    let mut state = serde_json::Value::Null;
    for _ in 0..100 {
        state = with_tasks(url, token, "tasks/get", get.clone()).await;
        if state["result"]["status"] != "working" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    state
}

/// Cancelling the gateway's own task ends its call through the pipeline, never by dropping it:
/// a call waiting for an operator leaves the queue and a long-running one is abandoned upstream,
/// and each is audited as it ended.
#[tokio::test]
async fn a_cancelled_task_is_audited_as_it_ended() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[approvals]\ntimeout = \"60s\"\n[tools.\"echo\"]\napproval = \"required\"\n\
         [tools.\"trigger-long-running-operation\"]\ntask = true\n\
         [clients.ops]\ntoken = \"ops-token-0001\"\nadmin = true\n\
         [clients.ci]\ntoken = \"ci-token-0001\"\n",
    );
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let calls = [
        serde_json::json!({"name": "echo", "arguments": {"message": "not now"}}),
        serde_json::json!({"name": "trigger-long-running-operation",
                           "arguments": {"duration": 30, "steps": 3}}),
    ];
    for call in calls {
        let created = with_tasks(&url, "ci-token-0001", "tools/call", call).await;
        let get = serde_json::json!({"taskId": created["result"]["taskId"]});
        // Under way: queued, or called upstream.
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let cancel = with_tasks(&url, "ci-token-0001", "tasks/cancel", get.clone()).await;
        assert!(cancel.get("error").is_none(), "{cancel}");
        let state = finished_task(&url, "ci-token-0001", &get).await;
        assert_eq!(state["result"]["status"], "cancelled", "{state}");
    }
    let listed = approvals(&url, "ops-token-0001", &["list", "--json"]);
    assert_eq!(stdout(&listed).lines().count(), 0, "the queue is empty");
    child.kill().await.unwrap();
    let records =
        switchboard_gateway::audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let ended = |tool: &str| {
        records
            .iter()
            .find(|r| r.tool == tool && r.layer.as_deref() != Some("pins"))
            .unwrap_or_else(|| panic!("no record of the {tool} call: {records:#?}"))
    };
    let withdrawn = ended("echo");
    assert_eq!(withdrawn.outcome, "refused");
    assert_eq!(withdrawn.layer.as_deref(), Some("approval"));
    assert!(
        withdrawn.message.as_deref().unwrap().contains("withdrawn"),
        "{withdrawn:?}"
    );
    let abandoned = ended("trigger-long-running-operation");
    assert_eq!(abandoned.outcome, "upstream_error", "{abandoned:?}");
    assert!(
        abandoned.message.as_deref().unwrap().contains("cancelled"),
        "{abandoned:?}"
    );
}

/// `[tools."…"] task = true` marks a long-running tool: a client that follows tasks gets the
/// gateway's own task at once, completing with the call's result; any other client gets the
/// result as before.
#[tokio::test]
async fn a_long_running_tool_is_a_task_for_a_client_that_follows_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "[tools.\"echo\"]\ntask = true\n\
         [clients.ci]\ntoken = \"ci-token-0001\"\n[clients.other]\ntoken = \"other-token-01\"\n",
    );
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let echo = serde_json::json!({"name": "echo", "arguments": {"message": "long one"}});
    let created = with_tasks(&url, "ci-token-0001", "tools/call", echo).await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let get = serde_json::json!({"taskId": created["result"]["taskId"]});
    let foreign = with_tasks(&url, "other-token-01", "tasks/get", get.clone()).await;
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");
    let done = finished_task(&url, "ci-token-0001", &get).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert!(
        done["result"]["result"].to_string().contains("long one"),
        "{done}"
    );
    // A client that does not follow tasks is answered with the result itself.
    let (answer, _) = call_echo(url.clone(), "ci-token-0001", "short one").await;
    assert!(answer["result"].get("taskId").is_none(), "{answer}");
    assert!(answer.to_string().contains("short one"), "{answer}");
    child.kill().await.unwrap();
}

/// `[audit] stream = "stdout"`: every call's record also goes to stdout as a JSON line, the same
/// record the audit file holds; over stdio (where stdout is MCP) it is refused at start.
#[tokio::test]
async fn audit_records_stream_to_stdout_when_serving_http() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    // The same file with the stream switched on.
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[audit]\n",
        "[audit]\nstream = \"stdout\"\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let over_stdio = run(dir.path(), &["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(over_stdio.status.code(), Some(2), "{}", stderr(&over_stdio));
    assert!(
        stderr(&over_stdio).contains("needs --http"),
        "{}",
        stderr(&over_stdio)
    );

    let (mut child, url) = support::serve_http(&config, &[]).await;
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let (answer, _) = call_echo(url, "none", "to the siem").await;
    assert!(answer.to_string().contains("to the siem"), "{answer}");
    let streamed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let line = out.next_line().await.unwrap().expect("stdout ended");
            let record: switchboard_gateway::audit::AuditRecord =
                serde_json::from_str(&line).expect("each stdout line is an audit record");
            if record.tool == "echo" && record.layer.as_deref() != Some("pins") {
                return record;
            }
        }
    })
    .await
    .unwrap();
    child.kill().await.unwrap();
    let records =
        switchboard_gateway::audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let in_file = records
        .iter()
        .find(|r| r.tool == "echo" && r.layer.as_deref() != Some("pins"))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&streamed).unwrap(),
        serde_json::to_value(in_file).unwrap(),
        "the stream carries the file's record, chain fields included"
    );
}
