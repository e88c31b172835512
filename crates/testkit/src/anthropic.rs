//! A wire-accurate fake of the Anthropic Messages API for black-box tests.
//!
//! [`FakeAnthropic::start`] serves `POST /v1/messages` on `127.0.0.1:0` as the API reference
//! documents it:
//! - `x-api-key` must be the fake's key (else 401 `authentication_error`), `anthropic-version` must
//!   be present and known, the body must be `application/json` (else 400
//!   `invalid_request_error`);
//! - the body is validated as the API does (required fields, roles, content blocks, every
//!   `tool_use` answered by a `tool_result` at the start of the next user message, tool names and
//!   schemas, at most 4 `cache_control` breakpoints, no trailing whitespace in a final assistant
//!   turn, no unknown fields) and refused with a 400 and the API's message;
//! - errors have the API's shape `{"type":"error","error":{"type","message"},"request_id"}` and
//!   every response a `request-id` header.
//!
//! It answers valid requests from a script of [`Reply`]s, in order: a message (sent as JSON, or as
//! the documented server-sent-event stream when the request has `"stream": true`), an HTTP error
//! (429 / 500 / 529 … with `retry-after` or `retry-after-ms`), or a stream that breaks with an
//! `error` event. Invalid requests do not consume the script. Every request is recorded.
//!
//! One deliberate strictness: the real API merges consecutive same-role turns; the fake refuses
//! them (as the API once did) unless [`FakeOptions::strict_roles`] is off, because a client that
//! sends them almost always has a bug.

mod stream;
mod validate;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub use validate::{TOOL_NAME_PATTERN, TOOL_SEARCH_BETA};

/// The API key a fake started with [`FakeAnthropic::start`] accepts.
pub const API_KEY: &str = "sk-ant-api03-fake-test-key-0000000000";

/// `anthropic-version` values the fake accepts.
pub const VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

/// How the fake behaves.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// The accepted `x-api-key`.
    pub api_key: String,
    /// Refuse consecutive turns of the same role (see the module documentation).
    pub strict_roles: bool,
    /// Bytes per body chunk of a streamed response (small values exercise the client's parser).
    pub stream_chunk_bytes: usize,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            api_key: API_KEY.to_string(),
            strict_roles: true,
            stream_chunk_bytes: 7,
        }
    }
}

/// One scripted answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A message; fields the test leaves out (`id`, `type`, `role`, `model`, `stop_sequence`,
    /// `usage`) are filled in, `model` from the request.
    Message(Value),
    /// An HTTP error with the API's error body.
    Error {
        /// HTTP status (429, 500, 529, 400 …).
        status: u16,
        /// `error.type` (`rate_limit_error`, `api_error`, `overloaded_error` …).
        error_type: String,
        /// `error.message`.
        message: String,
        /// Extra response headers (`retry-after`, `retry-after-ms`, `x-should-retry` …).
        headers: Vec<(String, String)>,
    },
    /// A streamed message that breaks after `after_blocks` content blocks with an `error` event
    /// (a non-streaming request gets the equivalent HTTP error, 529 for `overloaded_error`).
    StreamError {
        /// The message being streamed.
        message: Value,
        /// Blocks sent before the error.
        after_blocks: usize,
        /// `error.type`.
        error_type: String,
        /// `error.message`.
        error_message: String,
    },
}

impl Reply {
    /// A message with these content blocks and stop reason.
    pub fn message(content: Value, stop_reason: &str) -> Self {
        Reply::Message(json!({"content": content, "stop_reason": stop_reason}))
    }

    /// A message of one text block that ends the turn.
    pub fn text(text: &str) -> Self {
        Self::message(json!([{"type": "text", "text": text}]), "end_turn")
    }

    /// An HTTP error with the API's body.
    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        Reply::Error {
            status,
            error_type: error_type.to_string(),
            message: message.to_string(),
            headers: Vec::new(),
        }
    }

    /// 429 `rate_limit_error` with `retry-after: <secs>`.
    pub fn rate_limited(retry_after_secs: &str) -> Self {
        Self::error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.")
            .with_header("retry-after", retry_after_secs)
    }

    /// 529 `overloaded_error`.
    pub fn overloaded() -> Self {
        Self::error(529, "overloaded_error", "Overloaded")
    }

    /// The same reply with one more response header (errors only).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Error { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// The same message with these usage counts (messages only).
    pub fn with_usage(mut self, usage: Value) -> Self {
        if let Reply::Message(message) | Reply::StreamError { message, .. } = &mut self {
            message["usage"] = usage;
        }
        self
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Request headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
    /// The status the fake answered with.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

impl RecordedRequest {
    /// The value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Inner {
    script: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
    next_id: u64,
}

struct Shared {
    options: FakeOptions,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake Messages API. Stops when dropped.
pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeAnthropic {
    /// Starts a fake with the default options.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start() -> Result<Self> {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts a fake with `options`.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start_with(options: FakeOptions) -> Result<Self> {
        let shared = Arc::new(Shared {
            options,
            inner: Mutex::new(Inner {
                script: VecDeque::new(),
                requests: Vec::new(),
                next_id: 1,
            }),
        });
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .fallback(not_found)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fake Anthropic API")?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "fake Anthropic API stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The base URL to use as `ANTHROPIC_BASE_URL` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.shared.options.api_key
    }

    /// Appends a reply to the script.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().script.push_back(reply);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Scripted replies not used yet.
    pub fn remaining(&self) -> usize {
        self.shared.lock().script.len()
    }
}

fn error_response(status: u16, error_type: &str, message: &str, request_id: &str) -> Response {
    let body = json!({
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Any other path: the API's 404 body.
async fn not_found() -> Response {
    let request_id = format!("req_fake_nf{}", uuid::Uuid::new_v4().simple());
    let mut response = error_response(404, "not_found_error", "Not Found", &request_id);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}

/// The headers' problem, as the API reports it.
fn check_headers(
    headers: &HeaderMap,
    options: &FakeOptions,
) -> Option<(u16, &'static str, String)> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match get("x-api-key") {
        None => {
            return Some((
                401,
                "authentication_error",
                "x-api-key header is required".into(),
            ));
        }
        Some(key) if key != options.api_key => {
            return Some((401, "authentication_error", "invalid x-api-key".into()));
        }
        Some(_) => {}
    }
    match get("anthropic-version") {
        None => {
            return Some((
                400,
                "invalid_request_error",
                "anthropic-version: header is required".into(),
            ));
        }
        Some(v) if !VERSIONS.contains(&v) => {
            return Some((
                400,
                "invalid_request_error",
                format!("anthropic-version: invalid version '{v}'"),
            ));
        }
        Some(_) => {}
    }
    let json = get("content-type").is_some_and(|c| c.starts_with("application/json"));
    (!json).then(|| {
        (
            400,
            "invalid_request_error",
            "Content-Type must be application/json".into(),
        )
    })
}

/// The betas a request asks for (`anthropic-beta`, comma-separated, possibly repeated).
fn betas(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect()
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Option<Value> = serde_json::from_slice(&body).ok();
    let (request_id, reply, problem) = {
        let mut inner = shared.lock();
        let request_id = format!("req_fake{:020}", inner.next_id);
        inner.next_id += 1;
        let problem = check_headers(&headers, &shared.options).or_else(|| match &body {
            None => Some((
                400,
                "invalid_request_error",
                "There was an error parsing the body of your request: it is not valid JSON".into(),
            )),
            Some(body) => validate::validate(body, shared.options.strict_roles, &betas(&headers))
                .err()
                .map(|message| (400, "invalid_request_error", message)),
        });
        let reply = if problem.is_none() {
            inner.script.pop_front()
        } else {
            None
        };
        (request_id, reply, problem)
    };
    let body = body.unwrap_or(Value::Null);
    let response = match (problem, reply) {
        (Some((status, kind, message)), _) => error_response(status, kind, &message, &request_id),
        (None, None) => {
            let mut response = error_response(
                500,
                "api_error",
                "fake Anthropic API: no scripted reply left for this request",
                &request_id,
            );
            response
                .headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
            response
        }
        (None, Some(reply)) => answer(reply, &body, &request_id, &shared.options),
    };
    let mut response = response;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    shared.lock().requests.push(RecordedRequest {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body,
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

/// Fills in the fields a test leaves out of a scripted message.
fn complete(message: &Value, request: &Value, id: &str) -> Value {
    let mut full = json!({
        "id": format!("msg_{id}"),
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": [],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 25, "output_tokens": 10,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    });
    if let (Some(full), Some(given)) = (full.as_object_mut(), message.as_object()) {
        for (key, value) in given {
            full.insert(key.clone(), value.clone());
        }
    }
    full
}

fn answer(reply: Reply, request: &Value, request_id: &str, options: &FakeOptions) -> Response {
    let streaming = request["stream"].as_bool() == Some(true);
    let id = request_id.trim_start_matches("req_");
    match reply {
        Reply::Error {
            status,
            error_type,
            message,
            headers,
        } => {
            let mut response = error_response(status, &error_type, &message, request_id);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Reply::Message(message) if streaming => sse(
            stream::render(&complete(&message, request, id), None),
            options,
        ),
        Reply::Message(message) => (
            [(header::CONTENT_TYPE, "application/json")],
            complete(&message, request, id).to_string(),
        )
            .into_response(),
        Reply::StreamError {
            message,
            after_blocks,
            error_type,
            error_message,
        } if streaming => {
            let events = stream::render(
                &complete(&message, request, id),
                Some((after_blocks, &error_type, &error_message)),
            );
            sse(events, options)
        }
        Reply::StreamError {
            error_type,
            error_message,
            ..
        } => {
            let status = if error_type == "overloaded_error" {
                529
            } else {
                500
            };
            error_response(status, &error_type, &error_message, request_id)
        }
    }
}

/// A `text/event-stream` response whose body arrives in small chunks.
fn sse(events: Vec<String>, options: &FakeOptions) -> Response {
    let bytes = events.concat().into_bytes();
    let chunks: Vec<Result<Bytes, Infallible>> = bytes
        .chunks(options.stream_chunk_bytes.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    (
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response()
}
