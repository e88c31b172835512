//! Handshake-era HTTP sessions through the gateway, bounded: a duplicate request id in flight on
//! a session is an Invalid Request error (and on stdio, too); past a client's cap its oldest
//! idle session is closed, with none idle the new one gets `503` and `Retry-After`; a session is
//! usable only by the client that opened it; another client's sessions are never closed to make
//! room.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{fixture, fixture_server, write};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_gateway::downstream::serve_http;
use switchboard_gateway::{Config, Gateway, GatewayOptions};
use switchboard_testkit::raw::{RawStdio, assert_duplicate_refused, tool_call};
use tokio_util::sync::CancellationToken;

const TOKENS: [(&str, &str); 2] = [
    ("SB_TOKEN_A", "token-a-0001"),
    ("SB_TOKEN_B", "token-b-0001"),
];

async fn gateway(dir: &Path, settings: &str) -> (Gateway, String, CancellationToken) {
    let toml = format!(
        "[gateway]\n{settings}\n[clients.a]\ntoken = \"${{env:SB_TOKEN_A}}\"\n\
         [clients.b]\ntoken = \"${{env:SB_TOKEN_B}}\"\n{}",
        fixture_server("f", &[])
    );
    let path = write(dir, "switchboard.toml", &toml);
    let options = GatewayOptions {
        env: TOKENS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(Config::load(&path).unwrap(), options)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_http(gateway.clone(), listener, shutdown.clone()));
    (gateway, url, shutdown)
}

/// A raw Streamable HTTP client of one bearer token.
struct Http {
    url: String,
    token: &'static str,
    client: reqwest::Client,
}

impl Http {
    fn new(url: &str, token: &'static str) -> Self {
        Self {
            url: url.to_owned(),
            token,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` (in `session`, if any); the status, the session id header, and the
    /// JSON-RPC answer in the body (JSON or the SSE stream's message), if any.
    async fn post(
        &self,
        session: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self
            .client
            .post(&self.url)
            .bearer_auth(self.token)
            .header("accept", "application/json, text/event-stream")
            .json(body);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let id = response
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        (status, id, answer(&text))
    }

    /// A new session: `initialize`, then `notifications/initialized`.
    async fn open(&self) -> Result<String, (StatusCode, Option<String>)> {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}});
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.token)
            .header("accept", "application/json, text/event-stream")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status != StatusCode::OK {
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            return Err((status, retry));
        }
        let session = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, _) = self.post(Some(&session), &initialized).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        Ok(session)
    }

    async fn pings(&self, session: &str) -> StatusCode {
        let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
        self.post(Some(session), &ping).await.0
    }
}

/// The JSON-RPC message in a response body: plain JSON, or the SSE event that carries one.
fn answer(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("jsonrpc").is_some())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_id_in_a_session_is_an_invalid_request() {
    let dir = tempfile::tempdir().unwrap();
    let (gateway, url, shutdown) = gateway(dir.path(), "").await;
    let a = Http::new(&url, TOKENS[0].1);
    let session = a.open().await.unwrap();
    let slow = tool_call(7, "slow", json!({"ms": 600}));
    let first = {
        let (a, session, slow) = (Http::new(&url, TOKENS[0].1), session.clone(), slow.clone());
        tokio::spawn(async move { a.post(Some(&session), &slow).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, _, duplicate) = a
        .post(Some(&session), &tool_call(7, "echo", json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(duplicate["id"], 7, "{duplicate}");
    assert_eq!(duplicate["error"]["code"], -32600, "{duplicate}");
    assert!(
        duplicate["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{duplicate}"
    );
    let (_, _, result) = first.await.unwrap();
    assert_eq!(result["id"], 7);
    assert!(
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("slept"),
        "{result}"
    );
    // Answered, the id is free again.
    let (_, _, again) = a
        .post(Some(&session), &tool_call(7, "echo", json!({"text": "x"})))
        .await;
    assert!(again.get("result").is_some(), "{again}");
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_per_client_and_kept_to_their_client() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "max_sessions = 3\nmax_sessions_per_client = 2\nsession_idle_timeout = \"1m\"";
    let (gateway, url, shutdown) = gateway(dir.path(), settings).await;
    let (a, b) = (Http::new(&url, TOKENS[0].1), Http::new(&url, TOKENS[1].1));
    let a1 = a.open().await.unwrap();
    let a2 = a.open().await.unwrap();
    assert_eq!(a.pings(&a2).await, StatusCode::OK);

    // Another client's token cannot use a's session.
    assert_eq!(b.pings(&a1).await, StatusCode::NOT_FOUND);

    // At a's cap, its oldest idle session (a1) makes room.
    let a3 = a.open().await.unwrap();
    assert_eq!(a.pings(&a1).await, StatusCode::NOT_FOUND, "a1 was closed");
    assert_eq!(a.pings(&a2).await, StatusCode::OK);
    assert_eq!(a.pings(&a3).await, StatusCode::OK);

    // The total cap (3) is reached with b's first session. At it, b gives up its own idle
    // session for a new one; a's sessions are not b's to close.
    let b1 = b.open().await.unwrap();
    let b2 = b.open().await.unwrap();
    assert_eq!(b.pings(&b1).await, StatusCode::NOT_FOUND);
    assert_eq!(a.pings(&a2).await, StatusCode::OK);
    assert_eq!(a.pings(&a3).await, StatusCode::OK);

    // With every session of a client busy, its new session is refused (503, Retry-After), and
    // nobody else's is closed.
    let slow = |token: &'static str, session: String| {
        let client = Http::new(&url, token);
        tokio::spawn(async move {
            let call = tool_call(70, "slow", json!({"ms": 800}));
            client.post(Some(&session), &call).await
        })
    };
    let busy = [
        slow(TOKENS[0].1, a2.clone()),
        slow(TOKENS[0].1, a3.clone()),
        slow(TOKENS[1].1, b2.clone()),
    ];
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for client in [&a, &b] {
        let (status, retry) = client.open().await.unwrap_err();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() > 0));
    }
    for call in busy {
        let (_, _, answered) = call.await.unwrap();
        assert!(answered.get("result").is_some(), "{answered}");
    }

    // A closed session gives its place back.
    let deleted = reqwest::Client::new()
        .delete(&url)
        .bearer_auth(TOKENS[1].1)
        .header("mcp-session-id", &b2)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let ready: Value = reqwest::get(url.replace("/mcp", "/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["sessions"], 2, "{ready}");
    b.open().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test]
async fn stdio_through_the_gateway_answers_a_duplicate_id_with_invalid_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "switchboard.toml", &fixture_server("f", &[]));
    let config = config.to_str().unwrap();
    let mut gateway = RawStdio::spawn(
        Path::new(fixture()),
        &["gateway", "--config", config],
        &HashMap::new(),
    )
    .unwrap();
    gateway.initialize().await.unwrap();
    let first = tool_call(7, "slow", json!({"ms": 300}));
    let second = tool_call(7, "echo", json!({"text": "second"}));
    assert_duplicate_refused(&mut gateway, first, second)
        .await
        .unwrap();
}
