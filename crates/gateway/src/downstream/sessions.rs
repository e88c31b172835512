//! Handshake-era (2025-11-25) HTTP sessions, bounded: a cap per client and a cap in all, an
//! idle expiry, sessions kept to the client that opened them, and one request per id in flight.
//!
//! [`Sessions`] is the session manager `/mcp` runs on (rmcp's local manager inside, which holds
//! each session's worker) plus a table of who owns which session and what it has in flight.
//! [`track`] is the middleware in front of it. Past a cap:
//!
//! - the client's own oldest idle session (nothing in flight, no open stream) is closed to make
//!   room: a client that forgets to close sessions keeps working, and what it forgot is
//!   reclaimed;
//! - when the client has none idle, the new session is refused with `503` and `Retry-After`.
//!   Another client's session is never closed for it, so one client cannot push others out.
//!
//! A "client" here is a caller's principal: the client name, or for a person's token (`[auth]`)
//! the client and the person, so the caps are per person and people who share a client never
//! share (or see) each other's sessions.
//!
//! Opening, closing, evicting and refusing are logged as events (target `switchboard::sessions`),
//! not per request. Stateless 2026-07-28 requests have no session and pass straight through.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::server_side_http::{ServerSseMessage, SessionId};
use rmcp::transport::streamable_http_server::SessionManager;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::Identity;
use crate::config::SessionLimits;

/// The largest request body the session layer reads to find a request's id.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// What a refused client is told to wait before trying again.
const RETRY_AFTER_SECS: u64 = 5;
/// The client name of callers without an identity (a built-in server's own endpoint).
const LOCAL: &str = "local";

/// The session manager of `/mcp`: rmcp's local sessions, bounded.
pub struct Sessions {
    inner: LocalSessionManager,
    limits: SessionLimits,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<Arc<str>, Entry>,
    /// Sessions and admissions not yet bound to a session, per client.
    per_client: HashMap<String, usize>,
    /// Admissions not yet bound.
    reserved: usize,
}

struct Entry {
    client: String,
    last_active: Instant,
    /// Requests and streams open on the session.
    busy: u32,
    /// Ids of the requests in flight (their JSON text).
    ids: HashSet<Box<str>>,
}

impl Table {
    fn count(&mut self, client: &str, delta: isize) {
        let count = self.per_client.entry(client.to_owned()).or_default();
        *count = count.saturating_add_signed(delta);
        if *count == 0 {
            self.per_client.remove(client);
        }
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.sessions.remove(id)?;
        self.count(&entry.client, -1);
        Some(entry)
    }

    /// The client's session that has been idle longest.
    fn oldest_idle(&self, client: &str) -> Option<Arc<str>> {
        self.sessions
            .iter()
            .filter(|(_, e)| e.client == client && e.busy == 0)
            .min_by_key(|(_, e)| e.last_active)
            .map(|(id, _)| id.clone())
    }
}

/// Why a request was not let into its session.
enum Refusal {
    /// The session is not open, or belongs to another client.
    NotFound,
    /// A request with this id is still in flight on the session.
    Duplicate(Box<str>),
}

/// A new session may be created; dropped unbound, the place is given back.
struct Admission {
    sessions: Arc<Sessions>,
    client: String,
    bound: bool,
}

impl Admission {
    fn bind(mut self, id: &str) {
        let mut table = self.sessions.table();
        table.reserved -= 1;
        table.sessions.insert(
            Arc::from(id),
            Entry {
                client: self.client.clone(),
                last_active: Instant::now(),
                busy: 0,
                ids: HashSet::new(),
            },
        );
        self.bound = true;
        tracing::info!(target: "switchboard::sessions", client = %self.client, session = %id,
            open = table.sessions.len(), "session opened");
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.bound {
            let mut table = self.sessions.table();
            table.reserved -= 1;
            table.count(&self.client, -1);
        }
    }
}

/// A request or stream open on a session; dropped when its response body ends.
struct Busy {
    sessions: Arc<Sessions>,
    session: Arc<str>,
    id: Option<Box<str>>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut table = self.sessions.table();
        if let Some(entry) = table.sessions.get_mut(&self.session) {
            entry.busy -= 1;
            entry.last_active = Instant::now();
            if let Some(id) = &self.id {
                entry.ids.remove(id);
            }
        }
    }
}

impl Sessions {
    /// Sessions bounded by `limits`, expiring after `limits.idle_timeout` without activity.
    pub fn new(limits: SessionLimits) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(limits.idle_timeout);
        Self {
            inner,
            limits,
            table: Mutex::default(),
        }
    }

    /// How many sessions are open.
    pub fn open(&self) -> usize {
        self.table().sessions.len()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new session of `client`, closing the client's oldest idle session when a
    /// cap is reached; `None` when the client has nothing idle to give up.
    async fn admit(self: &Arc<Self>, client: &str) -> Option<Admission> {
        let evicted = {
            let mut table = self.table();
            let mine = table.per_client.get(client).copied().unwrap_or(0);
            let total = table.sessions.len() + table.reserved;
            let full = mine >= self.limits.per_client || total >= self.limits.total;
            let evicted = if full {
                let Some(oldest) = table.oldest_idle(client) else {
                    tracing::warn!(target: "switchboard::sessions", client, sessions = mine, total,
                        "new session refused: at the session cap with none of the client's idle");
                    return None;
                };
                table.remove(&oldest);
                Some(oldest)
            } else {
                None
            };
            table.reserved += 1;
            table.count(client, 1);
            evicted
        };
        if let Some(oldest) = evicted {
            tracing::info!(target: "switchboard::sessions", client, session = %oldest,
                "idle session closed to make room for a new one");
            if let Err(error) = self.inner.close_session(&SessionId::from(&*oldest)).await {
                tracing::debug!(%error, "closing an evicted session");
            }
        }
        Some(Admission {
            sessions: self.clone(),
            client: client.to_owned(),
            bound: false,
        })
    }

    /// Lets a request (with its JSON-RPC id, if it is one) or a stream into `session`.
    fn enter(
        self: &Arc<Self>,
        session: &str,
        client: &str,
        id: Option<&str>,
    ) -> Result<Busy, Refusal> {
        let mut table = self.table();
        let Some((key, entry)) = table.sessions.get_key_value(session) else {
            return Err(Refusal::NotFound);
        };
        if entry.client != client {
            return Err(Refusal::NotFound);
        }
        let key = key.clone();
        let entry = table.sessions.get_mut(session).ok_or(Refusal::NotFound)?;
        if let Some(id) = id
            && !entry.ids.insert(id.into())
        {
            return Err(Refusal::Duplicate(id.into()));
        }
        entry.busy += 1;
        entry.last_active = Instant::now();
        Ok(Busy {
            sessions: self.clone(),
            session: key,
            id: id.map(Into::into),
        })
    }

    fn owned_by(&self, session: &str, client: &str) -> bool {
        self.table()
            .sessions
            .get(session)
            .is_some_and(|e| e.client == client)
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    fn create_session(
        &self,
    ) -> impl Future<Output = Result<(SessionId, Self::Transport), Self::Error>> + Send {
        self.inner.create_session()
    }

    fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<ServerJsonRpcMessage, Self::Error>> + Send {
        self.inner.initialize_session(id, message)
    }

    fn has_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.has_session(id)
    }

    /// Every end of a session passes here: DELETE, idle expiry, shutdown, eviction.
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        if let Some(entry) = self.table().remove(id) {
            tracing::info!(target: "switchboard::sessions", client = %entry.client, session = %id,
                "session closed");
        }
        self.inner.close_session(id).await
    }

    fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<
        Output = Result<
            impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
            Self::Error,
        >,
    > + Send {
        self.inner.create_stream(id, message)
    }

    fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.accept_message(id, message)
    }

    fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> impl Future<
        Output = Result<
            impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
            Self::Error,
        >,
    > + Send {
        self.inner.create_standalone_stream(id)
    }

    fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> impl Future<
        Output = Result<
            impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
            Self::Error,
        >,
    > + Send {
        self.inner.resume(id, last_event_id)
    }
}

/// The parts of a JSON-RPC message the session layer reads.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<std::borrow::Cow<'a, str>>,
}

fn probe(body: &[u8]) -> Option<Probe<'_>> {
    serde_json::from_slice(body).ok()
}

/// Whether a request without a session id is certainly not an `initialize`: a stateless-era
/// request names its method in `Mcp-Method` (and its era in `MCP-Protocol-Version`). Anything
/// else has its body read, so no session is ever opened past the caps.
fn stateless(request: &Request) -> bool {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    header("mcp-protocol-version").is_some_and(|v| v >= "2026-07-28")
        && header("mcp-method").is_some_and(|m| m != "initialize")
}

/// The middleware in front of `/mcp`: admits new sessions within the caps, keeps each session
/// to its client, and answers a request whose id is in flight on its session.
pub async fn track(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    let client = request
        .extensions()
        .get::<Identity>()
        .map_or_else(|| LOCAL.to_owned(), |i| i.0.principal());
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match (request.method().clone(), session) {
        (Method::POST, Some(session)) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                return too_large();
            };
            let id = probe(&bytes)
                .filter(|p| p.method.is_some())
                .and_then(|p| p.id.map(|id| id.get().to_owned()));
            match sessions.enter(&session, &client, id.as_deref()) {
                Ok(busy) => {
                    let response = next
                        .run(Request::from_parts(parts, Body::from(bytes)))
                        .await;
                    hold(response, busy)
                }
                Err(Refusal::NotFound) => session_not_found(),
                Err(Refusal::Duplicate(id)) => duplicate(&id),
            }
        }
        (Method::GET, Some(session)) => match sessions.enter(&session, &client, None) {
            Ok(busy) => hold(next.run(request).await, busy),
            Err(_) => session_not_found(),
        },
        (Method::DELETE, Some(session)) if !sessions.owned_by(&session, &client) => {
            session_not_found()
        }
        (Method::POST, None) if !stateless(&request) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                return too_large();
            };
            let initialize =
                probe(&bytes).is_some_and(|p| p.method.as_deref() == Some("initialize"));
            let request = Request::from_parts(parts, Body::from(bytes));
            if !initialize {
                return next.run(request).await;
            }
            let Some(admission) = sessions.admit(&client).await else {
                return full();
            };
            let response = next.run(request).await;
            if let Some(id) = response
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
            {
                admission.bind(id);
            }
            response
        }
        _ => next.run(request).await,
    }
}

/// `response` with `guard` kept until its body has been sent or dropped.
fn hold(response: Response, guard: Busy) -> Response {
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &guard;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

fn session_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "session not found: it expired, was closed, or belongs to another client; start a new \
         session with initialize",
    )
        .into_response()
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over {MAX_BODY} bytes"),
    )
        .into_response()
}

fn full() -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "too many open sessions for this client: close sessions you no longer use (HTTP DELETE \
         with Mcp-Session-Id), or retry later",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// The JSON-RPC error for a request whose id is still in flight on its session.
fn duplicate(id: &str) -> Response {
    let id: serde_json::Value = serde_json::from_str(id).unwrap_or(serde_json::Value::Null);
    let error = crate::request_ids::duplicate_id_message(&id.to_string());
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": -32600, "message": error },
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The idle timeout as rmcp takes it, for tests.
#[cfg(test)]
fn keep_alive(sessions: &Sessions) -> Option<std::time::Duration> {
    sessions.inner.session_config.keep_alive
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sessions(total: usize, per_client: usize) -> Arc<Sessions> {
        Arc::new(Sessions::new(SessionLimits {
            total,
            per_client,
            idle_timeout: Duration::from_secs(60),
        }))
    }

    #[tokio::test]
    async fn a_client_at_its_cap_gives_up_its_oldest_idle_session() {
        let s = sessions(10, 2);
        s.admit("a").await.unwrap().bind("s1");
        s.admit("a").await.unwrap().bind("s2");
        let busy = s.enter("s2", "a", None).ok().unwrap();
        s.admit("a").await.unwrap().bind("s3");
        assert!(!s.owned_by("s1", "a"), "the idle one was closed");
        assert!(s.owned_by("s2", "a") && s.owned_by("s3", "a"));
        let _also = s.enter("s3", "a", None).ok().unwrap();
        assert!(s.admit("a").await.is_none(), "nothing idle: refused");
        drop(busy);
        assert!(s.admit("a").await.is_some(), "s2 idle again");
        assert_eq!(keep_alive(&s), Some(Duration::from_secs(60)));
    }

    #[tokio::test]
    async fn the_total_cap_never_closes_another_clients_session() {
        let s = sessions(2, 2);
        s.admit("a").await.unwrap().bind("a1");
        s.admit("a").await.unwrap().bind("a2");
        assert!(s.admit("b").await.is_none());
        assert_eq!(s.open(), 2);
        // An admission dropped before its session exists gives its place back.
        drop(s.admit("a").await.unwrap());
        assert_eq!(s.table().reserved, 0);
        assert_eq!(s.table().per_client.get("a"), Some(&1));
    }

    #[test]
    fn only_a_request_that_names_a_method_other_than_initialize_skips_admission() {
        let request = |headers: &[(&str, &str)]| {
            let mut builder = Request::builder().method(Method::POST);
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.body(Body::empty()).unwrap()
        };
        let modern = ("mcp-protocol-version", "2026-07-28");
        assert!(stateless(&request(&[modern, ("mcp-method", "tools/call")])));
        assert!(
            !stateless(&request(&[modern])),
            "an initialize in disguise is read"
        );
        assert!(!stateless(&request(&[
            modern,
            ("mcp-method", "initialize")
        ])));
        assert!(!stateless(&request(&[("mcp-method", "tools/call")])));
    }

    #[tokio::test]
    async fn a_session_is_its_clients_and_an_id_is_in_flight_once() {
        let s = sessions(10, 10);
        s.admit("a").await.unwrap().bind("s1");
        assert!(matches!(s.enter("s1", "b", None), Err(Refusal::NotFound)));
        let first = s.enter("s1", "a", Some("7")).ok().unwrap();
        assert!(matches!(
            s.enter("s1", "a", Some("7")),
            Err(Refusal::Duplicate(_))
        ));
        drop(first);
        assert!(s.enter("s1", "a", Some("7")).is_ok());
    }
}
