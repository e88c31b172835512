//! Clients nobody here wrote drive `switchboard server postgres`: the official Python MCP SDK, over
//! stdio and Streamable HTTP, in both protocol eras (the 2025-11-25 initialize handshake and the
//! 2026-07-28 stateless discover).

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::{ShopDb, binary};

/// The SDK's interpreter: `SWITCHBOARD_TEST_PYTHON`, else the venv `scripts/setup` makes.
fn python() -> PathBuf {
    if let Ok(path) = std::env::var("SWITCHBOARD_TEST_PYTHON") {
        return PathBuf::from(path);
    }
    let venv =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/py/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup (it installs the Python MCP SDK)",
        venv.display()
    );
    venv
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_mcp.py")
}

async fn run_python(mode: &str, target: &[&str], database_url: &str) -> Value {
    let output = tokio::process::Command::new(python())
        .arg(script())
        .arg(mode)
        .args(target)
        .env(
            "SQL",
            "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status",
        )
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python client failed ({mode} {target:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
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
