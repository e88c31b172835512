//! A wire-accurate fake of the Slack Web API for black-box tests.
//!
//! [`FakeSlack::start`] serves `POST /api/<method>` (and `GET` with query arguments) on
//! `127.0.0.1:0` the way api.slack.com documents it:
//! - every answer is HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`,
//!   except rate limiting (HTTP 429 with `Retry-After`) and unknown methods (HTTP 404);
//! - the token is read from `Authorization: Bearer <token>` (or a `token` form field); none gives
//!   `not_authed`, a wrong one `invalid_auth`; a method needing a scope the token lacks gives
//!   `missing_scope` with `needed` and `provided`;
//! - bodies are `application/x-www-form-urlencoded` or, for write methods only,
//!   `application/json` (a missing `charset` adds the `missing_charset` warning, as Slack does;
//!   read methods ignore JSON bodies); no `Content-Type` is `missing_post_type`, another type is
//!   `invalid_post_type` (the fake does not implement `multipart/form-data` or `text/plain`);
//! - lists paginate with `limit` and `cursor` / `response_metadata.next_cursor`.
//!
//! The workspace is seeded (channels such as [`GENERAL_ID`], users, a thread) and
//! inspectable: messages per channel, reactions and a log of every request. Faults can be injected
//! per method for the next N requests: 429 with `Retry-After`, 5xx, slow and malformed answers, or
//! any Slack error code.

mod methods;
mod state;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

pub use methods::MAX_MESSAGE_CHARS;
use methods::{ApiError, Args};
use state::Workspace;
pub use state::{
    ARCHIVED_ID, BOT_ID, BOT_USER_ID, DEFAULT_SCOPES, FakeChannel, FakeMessage, FakeUser,
    GENERAL_ID, GENERAL_THREAD_TS, INCIDENTS_ID, OPERATIONS_ID, PRIVATE_ID, RANDOM_ID, Reaction,
    TEAM_DOMAIN, TEAM_ID,
};

/// The bot token a fake started with [`FakeSlack::start`] accepts.
pub const TOKEN: &str = "xoxb-1000000001-2000000002-FakeSlackBotTokenValue";

/// A misbehaviour to inject for the next requests to one method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <secs>` and `{"ok": false, "error": "ratelimited"}`.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// An HTML error page with this HTTP status (500, 502, 503 ...).
    ServerError {
        /// The HTTP status.
        status: u16,
    },
    /// Answer normally, but only after this delay.
    Slow {
        /// How long to wait before answering.
        delay: Duration,
    },
    /// HTTP 200 with a truncated, unparseable JSON body.
    Malformed,
    /// HTTP 200 with `{"ok": false, "error": code}` (e.g. `account_inactive`, `fatal_error`).
    Error {
        /// The Slack error code.
        code: String,
    },
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Web API method, e.g. `chat.postMessage`.
    pub method: String,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The `Content-Type` header as sent.
    pub content_type: Option<String>,
    /// Arguments as the fake understood them (query and body merged, `token` removed).
    pub args: Args,
    /// HTTP status answered.
    pub status: u16,
    /// The Slack error code answered, if any.
    pub error: Option<String>,
    /// When the request arrived.
    pub received_at: Instant,
}

#[derive(Debug)]
struct Inner {
    token: String,
    workspace: Workspace,
    faults: HashMap<String, VecDeque<Fault>>,
    requests: Vec<RecordedRequest>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Slack Web API; stops when dropped.
#[derive(Debug)]
pub struct FakeSlack {
    addr: SocketAddr,
    shared: Shared,
    server: JoinHandle<()>,
}

impl FakeSlack {
    /// Starts a fake on `127.0.0.1:0` accepting [`TOKEN`] with [`DEFAULT_SCOPES`].
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start() -> Result<Self> {
        Self::start_with_token(TOKEN).await
    }

    /// Starts a fake accepting `token`.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start_with_token(token: &str) -> Result<Self> {
        let shared = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            workspace: Workspace::seeded(),
            faults: HashMap::new(),
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route("/api/{method}", any(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fake Slack API to 127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .context("reading the fake Slack API's address")?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "fake Slack API stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The base URL to use as `SLACK_API_URL`: `http://127.0.0.1:<port>/api`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the scopes granted to the token.
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.lock().workspace.scopes = scopes.iter().map(|scope| (*scope).to_owned()).collect();
    }

    /// Adds (or replaces, by id) a channel.
    pub fn add_channel(&self, channel: FakeChannel) {
        let channels = &mut self.lock().workspace.channels;
        channels.retain(|existing| existing.id != channel.id);
        channels.push(channel);
    }

    /// Deletes a channel and its messages.
    pub fn remove_channel(&self, id: &str) {
        let mut inner = self.lock();
        inner.workspace.channels.retain(|channel| channel.id != id);
        inner.workspace.messages.remove(id);
    }

    /// Every message in a channel (seeded and posted, replies included), oldest first.
    pub fn messages(&self, channel_id: &str) -> Vec<FakeMessage> {
        self.lock()
            .workspace
            .messages
            .get(channel_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The messages the bot posted to a channel, oldest first.
    pub fn posted(&self, channel_id: &str) -> Vec<FakeMessage> {
        let mut messages = self.messages(channel_id);
        messages.retain(|message| message.user == BOT_USER_ID);
        messages
    }

    /// The reactions on one message.
    pub fn reactions(&self, channel_id: &str, ts: &str) -> Vec<Reaction> {
        self.messages(channel_id)
            .into_iter()
            .find(|message| message.ts == ts)
            .map(|message| message.reactions)
            .unwrap_or_default()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests received for one method.
    pub fn requests_for(&self, method: &str) -> Vec<RecordedRequest> {
        let mut requests = self.requests();
        requests.retain(|request| request.method == method);
        requests
    }

    /// Makes the next `times` requests to `method` misbehave as `fault` (after any already
    /// queued faults for that method).
    pub fn inject(&self, method: &str, fault: Fault, times: usize) {
        let mut inner = self.lock();
        let queue = inner.faults.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What a request parsed into.
struct Parsed {
    args: Args,
    token: Option<String>,
    warnings: Vec<&'static str>,
}

fn form_pairs(text: &str, args: &mut Args) {
    for (name, value) in url::form_urlencoded::parse(text.as_bytes()) {
        args.insert(name.into_owned(), value.into_owned());
    }
}

fn json_args(body: &[u8], args: &mut Args) -> Result<(), ApiError> {
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| ApiError::new("invalid_json"))?;
    for (name, value) in object {
        let text = match value {
            Value::String(text) => text,
            Value::Null => continue,
            other => other.to_string(),
        };
        args.insert(name, text);
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn parse_request(
    method: &str,
    http_method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Parsed, ApiError> {
    let mut args = Args::new();
    let mut warnings = Vec::new();
    let mut body_token = None;
    if let Some(query) = query {
        form_pairs(query, &mut args);
    }
    if *http_method == Method::POST && !body.is_empty() {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| ApiError::new("missing_post_type"))?;
        let mut parts = content_type.split(';').map(str::trim);
        let mime = parts.next().unwrap_or_default().to_ascii_lowercase();
        let charset = parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, value)| value.trim().trim_matches('"').to_ascii_lowercase());
        if let Some(charset) = &charset
            && !matches!(charset.as_str(), "utf-8" | "utf8" | "iso-8859-1")
        {
            return Err(ApiError::new("invalid_charset"));
        }
        match mime.as_str() {
            "application/x-www-form-urlencoded" => {
                let text =
                    std::str::from_utf8(body).map_err(|_| ApiError::new("invalid_form_data"))?;
                let mut form = Args::new();
                form_pairs(text, &mut form);
                body_token = form.remove("token");
                args.extend(form);
                if charset.is_some() {
                    warnings.push("superfluous_charset");
                }
            }
            "application/json" => {
                if charset.is_none() {
                    warnings.push("missing_charset");
                }
                if methods::accepts_json(method) {
                    json_args(body, &mut args)?;
                }
            }
            _ => return Err(ApiError::new("invalid_post_type")),
        }
    }
    let query_token = args.remove("token");
    let token = bearer(headers)
        .or(body_token)
        .or(query_token.filter(|_| *http_method == Method::GET));
    Ok(Parsed {
        args,
        token,
        warnings,
    })
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn error_body(error: ApiError) -> Value {
    let mut body = Map::new();
    body.insert("ok".to_owned(), json!(false));
    body.insert("error".to_owned(), json!(error.code));
    body.extend(error.extra);
    Value::Object(body)
}

fn fault_response(fault: &Fault) -> Option<(Response, Option<String>)> {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"ok": false, "error": "ratelimited"}),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Some((response, Some("ratelimited".to_owned())))
        }
        Fault::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let page = format!("<html><body><h1>{status}</h1></body></html>");
            let mut response = (status, page).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            Some((response, None))
        }
        Fault::Malformed => {
            let mut response = (StatusCode::OK, "{\"ok\": true, \"channel\": \"C0").into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            Some((response, None))
        }
        Fault::Error { code } => Some((
            json_response(StatusCode::OK, json!({"ok": false, "error": code})),
            Some(code.clone()),
        )),
        Fault::Slow { .. } => None,
    }
}

/// Answers one call; the lock is never held across an `.await`.
fn answer(
    shared: &Shared,
    method: &str,
    parsed: Result<Parsed, ApiError>,
    fault: Option<Fault>,
) -> (Response, Option<String>) {
    if !methods::is_known(method) {
        let body = json!({"ok": false, "error": "unknown_method", "req_method": method});
        return (
            json_response(StatusCode::NOT_FOUND, body),
            Some("unknown_method".to_owned()),
        );
    }
    if let Some((response, error)) = fault.as_ref().and_then(fault_response) {
        return (response, error);
    }
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let code = error.code.clone();
            return (json_response(StatusCode::OK, error_body(error)), Some(code));
        }
    };
    let mut inner = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let result = match parsed.token.as_deref() {
        None => Err(ApiError::new("not_authed")),
        Some(token) if token != inner.token => Err(ApiError::new("invalid_auth")),
        Some(_) => methods::dispatch(&mut inner.workspace, method, &parsed.args),
    };
    drop(inner);
    match result {
        Ok(mut body) => {
            body.insert("ok".to_owned(), json!(true));
            if !parsed.warnings.is_empty() {
                body.insert("warning".to_owned(), json!(parsed.warnings.join(",")));
                let metadata = body.entry("response_metadata").or_insert_with(|| json!({}));
                if let Some(metadata) = metadata.as_object_mut() {
                    metadata.insert("warnings".to_owned(), json!(parsed.warnings));
                }
            }
            (json_response(StatusCode::OK, Value::Object(body)), None)
        }
        Err(error) => {
            let code = error.code.clone();
            (json_response(StatusCode::OK, error_body(error)), Some(code))
        }
    }
}

async fn handle(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let received_at = Instant::now();
    let fault = {
        let mut inner = shared.lock().unwrap_or_else(PoisonError::into_inner);
        inner.faults.get_mut(&method).and_then(VecDeque::pop_front)
    };
    if let Some(Fault::Slow { delay }) = &fault {
        tokio::time::sleep(*delay).await;
    }
    let parsed = if http_method == Method::GET || http_method == Method::POST {
        parse_request(&method, &http_method, &headers, query.as_deref(), &body)
    } else {
        Err(ApiError::new("invalid_request"))
    };
    let args = parsed
        .as_ref()
        .map(|parsed| parsed.args.clone())
        .unwrap_or_default();
    let (response, error) = answer(&shared, &method, parsed, fault);
    let record = RecordedRequest {
        method,
        http_method: http_method.to_string(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        args,
        status: response.status().as_u16(),
        error,
        received_at,
    };
    shared
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .requests
        .push(record);
    response
}
