//! Raw 2026-07-28 (stateless) requests to a Streamable HTTP endpoint, for tests that need to see
//! the HTTP exchange itself (status, headers, the SSE stream) rather than a client's view of it.

use reqwest::RequestBuilder;
use serde_json::{Value, json};

/// A stateless `tools/call` of `tool` with `arguments` (JSON-RPC id 1), as a client that declares
/// no capabilities; the entries of `meta` are added to its `_meta`. Add credentials and headers
/// to the builder.
pub fn tools_call(url: &str, tool: &str, arguments: Value, meta: Value) -> RequestBuilder {
    request(
        url,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
        meta,
    )
}

/// A stateless request of `method` with `params` (JSON-RPC id 1), as a client that declares no
/// capabilities; the entries of `meta` are added to its `_meta`. `Mcp-Name` carries the tool's
/// `name` or the task's `taskId` when `params` has one. Add credentials and headers to the
/// builder.
pub fn request(url: &str, method: &str, mut params: Value, meta: Value) -> RequestBuilder {
    let mut all = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), meta) {
        all.extend(extra);
    }
    let name = params["name"]
        .as_str()
        .or(params["taskId"].as_str())
        .map(str::to_owned);
    params["_meta"] = all;
    let mut builder = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        builder = builder.header("mcp-name", name);
    }
    builder.json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
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

/// A stateless `subscriptions/listen` (JSON-RPC id 41) for the status of `task_ids`, from a client
/// that declares `extensions` (`{"io.modelcontextprotocol/tasks": {}}` to follow tasks). Add
/// credentials to the builder; read the stream with [`TaskListener`].
pub fn listen_for_tasks(url: &str, extensions: Value, task_ids: &[&str]) -> RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .json(&json!({
            "jsonrpc": "2.0", "id": 41, "method": "subscriptions/listen",
            "params": {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
                    "io.modelcontextprotocol/clientCapabilities": {"extensions": extensions},
                },
                "notifications": {"taskIds": task_ids},
            },
        }))
}

/// An open [`listen_for_tasks`] stream, past its acknowledgement.
pub struct TaskListener {
    response: reqwest::Response,
    /// What was read past the last message.
    pending: String,
}

impl TaskListener {
    /// Sends `request` (a [`listen_for_tasks`] with its credentials) and reads the stream's
    /// acknowledgement.
    ///
    /// # Panics
    /// When the request fails or the first message is not the acknowledgement.
    pub async fn open(request: RequestBuilder) -> Self {
        let response = request.send().await.expect("send the listen request");
        let mut listener = Self {
            response,
            pending: String::new(),
        };
        let acknowledged = next_message(&mut listener.response, &mut listener.pending).await;
        assert_eq!(
            acknowledged["method"], "notifications/subscriptions/acknowledged",
            "{acknowledged}"
        );
        listener
    }

    /// The next `notifications/tasks` of the stream, about task `id`, with the stream's
    /// subscription id: its params, the task.
    ///
    /// # Panics
    /// When the next message is anything else, or none comes within 10 s.
    pub async fn next_status(&mut self, id: &str) -> Value {
        let notice = next_message(&mut self.response, &mut self.pending).await;
        assert_eq!(notice["method"], "notifications/tasks", "{notice}");
        assert_eq!(notice["params"]["taskId"], id, "{notice}");
        assert_eq!(
            notice["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 41,
            "{notice}"
        );
        notice["params"].clone()
    }
}

/// The next JSON-RPC message of an SSE response that stays open (10 s at most); `pending` keeps
/// what was read past it, for the next call.
///
/// # Panics
/// When the stream ends, breaks or stays silent for 10 s.
async fn next_message(response: &mut reqwest::Response, pending: &mut String) -> Value {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data).expect("a JSON-RPC message");
                }
                continue;
            }
            let chunk = response.chunk().await.expect("read the stream");
            let chunk = chunk.expect("the stream stays open");
            pending.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("a message within 10 s")
}
