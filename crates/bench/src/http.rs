//! A lean MCP client over Streamable HTTP for load: one keep-alive HTTP/1.1 connection per
//! client (hyper's connection-level API, no pool), one POST per `tools/call`, in either era:
//! 2026-07-28 stateless — `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers, the
//! protocol version and client capabilities in the request's `_meta`, no session and no
//! handshake — or 2025-11-25 sessions, one per connection, opened by `initialize`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The protocol era a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2026-07-28: every request stands alone.
    Stateless,
    /// 2025-11-25: a session per connection, opened by the `initialize` handshake.
    Sessions,
}

impl Era {
    /// The protocol revision.
    pub(crate) fn protocol(self) -> &'static str {
        match self {
            Self::Stateless => "2026-07-28",
            Self::Sessions => "2025-11-25",
        }
    }
}

/// One prepared request: `tools/call` of a tool without arguments at an `/mcp` endpoint.
pub(crate) struct Endpoint {
    addr: SocketAddr,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    era: Era,
}

impl Endpoint {
    /// The request calling `tool` at `url` (`http://IP:PORT/path`) in `era`.
    pub(crate) fn tools_call(url: &str, tool: &str, era: Era) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).with_context(|| format!("bad endpoint {url}"))?;
        let addr = *parsed
            .socket_addrs(|| None)
            .with_context(|| format!("no address in {url}"))?
            .first()
            .with_context(|| format!("no address in {url}"))?;
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&addr.to_string())?;
        headers.insert(HOST, host);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = HeaderValue::from_static("application/json, text/event-stream");
        headers.insert(ACCEPT, accept);
        headers.insert(
            "mcp-protocol-version",
            HeaderValue::from_static(era.protocol()),
        );
        let body = match era {
            Era::Stateless => {
                headers.insert("mcp-method", HeaderValue::from_static("tools/call"));
                headers.insert("mcp-name", HeaderValue::from_str(tool)?);
                json!({
                    "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": tool, "arguments": {}, "_meta": {
                        "io.modelcontextprotocol/protocolVersion": era.protocol(),
                        "io.modelcontextprotocol/clientCapabilities": {},
                        "io.modelcontextprotocol/clientInfo":
                            {"name": "switchboard-bench", "version": env!("CARGO_PKG_VERSION")},
                    }},
                })
            }
            Era::Sessions => json!({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": tool, "arguments": {}},
            }),
        };
        Ok(Self {
            addr,
            path: parsed.path().to_owned(),
            headers,
            body: Bytes::from(serde_json::to_vec(&body)?),
            era,
        })
    }

    /// The same call with `arguments` for the tool.
    pub(crate) fn with_arguments(mut self, arguments: Value) -> anyhow::Result<Self> {
        let mut body: Value = serde_json::from_slice(&self.body)?;
        body["params"]["arguments"] = arguments;
        self.body = Bytes::from(serde_json::to_vec(&body)?);
        Ok(self)
    }

    /// The same requests, sent with `Authorization: Bearer <token>`.
    pub(crate) fn with_bearer(mut self, token: &str) -> anyhow::Result<Self> {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))?;
        self.headers.insert(AUTHORIZATION, value);
        Ok(self)
    }

    /// A plain `GET` of `url` (`/readyz`).
    pub(crate) fn get(url: &str) -> anyhow::Result<Self> {
        let mut endpoint = Self::tools_call(url, "none", Era::Sessions)?;
        endpoint.body = Bytes::new();
        Ok(endpoint)
    }

    /// Opens one keep-alive connection (Nagle off, as any HTTP client does); in the sessions
    /// era, with its own session.
    pub(crate) async fn connect(&self) -> anyhow::Result<Connection> {
        let mut connection = self.connect_bare().await?;
        if self.era == Era::Sessions {
            connection.open_session(self).await?;
        }
        Ok(connection)
    }

    /// One keep-alive connection without a session.
    pub(crate) async fn connect_bare(&self) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(connection);
        let mut headers = self.headers.clone();
        headers.remove("mcp-method");
        headers.remove("mcp-name");
        Ok(Connection { sender, headers })
    }

    /// One call and its checked result (for the first call of a run: the full JSON-RPC answer
    /// must be a successful tool result).
    pub(crate) async fn checked_call(&self) -> anyhow::Result<Value> {
        let body = self.connect().await?.call(self).await?;
        let text = std::str::from_utf8(&body).context("response is not UTF-8")?;
        // A JSON body, or an SSE stream whose `data:` line carries the response.
        // (A priming event, with an empty `data:`, may come first.)
        let json = text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .find(|data| !data.is_empty())
            .unwrap_or(text)
            .trim();
        let mut message: Value =
            serde_json::from_str(json).with_context(|| format!("not JSON-RPC: {text}"))?;
        ensure!(message.get("error").is_none(), "call failed: {message}");
        let result = message["result"].take();
        ensure!(result["isError"] != true, "tool error: {result}");
        ensure!(result["content"].is_array(), "not a tool result: {result}");
        Ok(result)
    }
}

/// One keep-alive connection.
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// The headers of requests other than the endpoint's own (and, in a session, its id).
    headers: HeaderMap,
}

/// A 2025-11-25 `initialize` request.
pub(crate) fn initialize() -> Bytes {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": Era::Sessions.protocol(), "capabilities": {},
        "clientInfo": {"name": "switchboard-bench", "version": env!("CARGO_PKG_VERSION")}}});
    Bytes::from(body.to_string())
}

impl Connection {
    /// POSTs `body` with the connection's headers; the status, the session id the server
    /// returned (if any), and the body.
    pub(crate) async fn post(
        &mut self,
        endpoint: &Endpoint,
        body: Bytes,
    ) -> anyhow::Result<(hyper::StatusCode, Option<HeaderValue>, Bytes)> {
        self.sender.ready().await.context("connection closed")?;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = endpoint.path.parse()?;
        *request.headers_mut() = self.headers.clone();
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let session = response.headers().get("mcp-session-id").cloned();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, session, body))
    }

    /// GETs the endpoint's path; the body of a `200`.
    pub(crate) async fn get(&mut self, endpoint: &Endpoint) -> anyhow::Result<Bytes> {
        self.sender.ready().await.context("connection closed")?;
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = endpoint.path.parse()?;
        request
            .headers_mut()
            .insert(HOST, endpoint.headers[HOST].clone());
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        ensure!(
            status == hyper::StatusCode::OK,
            "GET {}: HTTP {status}",
            endpoint.path
        );
        Ok(body)
    }

    /// `initialize` and `notifications/initialized`: a new session, whose id the connection's
    /// requests carry from then on.
    pub(crate) async fn open_session(
        &mut self,
        endpoint: &Endpoint,
    ) -> anyhow::Result<HeaderValue> {
        self.headers.remove("mcp-session-id");
        let (status, session, body) = self.post(endpoint, initialize()).await?;
        let Some(session) = session.filter(|_| status == hyper::StatusCode::OK) else {
            bail!(
                "initialize: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        };
        self.headers.insert("mcp-session-id", session.clone());
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, body) = self
            .post(endpoint, Bytes::from(initialized.to_string()))
            .await?;
        ensure!(
            status == hyper::StatusCode::ACCEPTED,
            "notifications/initialized: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(session)
    }

    /// Sends the endpoint's request and reads the whole response. Fails on any status but 200,
    /// and on a body without a result or with a tool error (a cheap byte check: the load must
    /// not be the client's JSON parsing).
    pub(crate) async fn call(&mut self, endpoint: &Endpoint) -> anyhow::Result<Bytes> {
        self.sender.ready().await.context("connection closed")?;
        let mut request = Request::new(Full::new(endpoint.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = endpoint.path.parse()?;
        *request.headers_mut() = endpoint.headers.clone();
        if let Some(session) = self.headers.get("mcp-session-id") {
            request
                .headers_mut()
                .insert("mcp-session-id", session.clone());
        }
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != hyper::StatusCode::OK {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        if !has(b"\"result\"") || has(b"\"isError\":true") {
            bail!(
                "not a successful result: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }
}

/// What one load run measured.
pub(crate) struct Load {
    /// Latencies of the calls that started and ended inside the measured window.
    pub(crate) latencies: Vec<Duration>,
    /// Every call made, warm-up included.
    pub(crate) calls: u64,
    /// The measured window.
    pub(crate) window: Duration,
}

impl Load {
    /// Calls per second completed inside the window.
    pub(crate) fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }
}

/// `clients` connections calling back to back: `warmup` untimed, then `window` measured.
pub(crate) async fn load(
    endpoint: &Arc<Endpoint>,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Load> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(endpoint.connect().await?);
    }
    let start = Instant::now() + warmup;
    let end = start + window;
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            let endpoint = Arc::clone(endpoint);
            tokio::spawn(async move {
                let (mut kept, mut calls) = (Vec::new(), 0u64);
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    connection.call(&endpoint).await?;
                    calls += 1;
                    let ended = Instant::now();
                    if began >= start && ended <= end {
                        kept.push(ended - began);
                    }
                }
                anyhow::Ok((kept, calls))
            })
        })
        .collect();
    let mut load = Load {
        latencies: Vec::new(),
        calls: 0,
        window,
    };
    for task in tasks {
        let (kept, calls) = task.await??;
        load.latencies.extend(kept);
        load.calls += calls;
    }
    Ok(load)
}
