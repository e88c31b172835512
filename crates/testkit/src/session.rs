//! Raw 2025-11-25 (handshake era) requests to a Streamable HTTP endpoint, for tests that follow
//! a session through the HTTP exchange itself (its `Mcp-Session-Id`, a balancer in front).

use serde_json::{Value, json};

use crate::stateless::messages;

/// One JSON-RPC request to `url` as `token`, in `session` if given: the status, the messages of
/// the answer, and the session id the response carries.
pub async fn rpc(
    url: &str,
    token: &str,
    session: Option<&str>,
    body: Value,
) -> (reqwest::StatusCode, Vec<Value>, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let id = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, messages(&response.text().await.unwrap()), id)
}

/// Opens a session for `token` (`initialize`, then `notifications/initialized`) and returns its
/// id.
///
/// # Panics
/// When the server refuses the session or names none.
pub async fn open(url: &str, token: &str) -> String {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}},
    });
    let (status, _, id) = rpc(url, token, None, initialize).await;
    assert!(status.is_success(), "initialize: {status}");
    let id = id.expect("a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    rpc(url, token, Some(&id), initialized).await;
    id
}
