//! Raw 2026-07-28 (stateless) requests to a Streamable HTTP endpoint, for tests that need to see
//! the HTTP exchange itself (status, headers, the SSE stream) rather than a client's view of it.

use reqwest::RequestBuilder;
use serde_json::{Value, json};

/// A stateless `tools/call` of `tool` with `arguments` (JSON-RPC id 1), as a client that declares
/// no capabilities; the entries of `meta` are added to its `_meta`. Add credentials and headers
/// to the builder.
pub fn tools_call(url: &str, tool: &str, arguments: Value, meta: Value) -> RequestBuilder {
    let mut all = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), meta) {
        all.extend(extra);
    }
    reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": all},
        }))
}

/// The JSON-RPC messages of a response body: the SSE stream's `data:` lines, or the one JSON
/// body (`Null` when it is neither).
pub fn messages(body: &str) -> Vec<Value> {
    let streamed: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    if streamed.is_empty() {
        vec![serde_json::from_str(body).unwrap_or(Value::Null)]
    } else {
        streamed
    }
}

/// Sends `request` (a [`tools_call`] with its credentials) and returns the last message of the
/// response: the answer, after any notifications streamed before it.
///
/// # Panics
/// When the request cannot be sent or read, or its body holds no message.
pub async fn answer(request: RequestBuilder) -> Value {
    let body = request
        .send()
        .await
        .expect("send the request")
        .text()
        .await
        .expect("read the response");
    messages(&body).pop().expect("an answer")
}
