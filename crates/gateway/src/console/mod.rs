//! The operator console, `/ui`: server-rendered pages for operators (clients with `admin = true`,
//! or people whose token maps to one) — upstreams, the catalog as each client sees it, calls as
//! they happen, audit search and chain verification, and the approval queue with Approve and Deny.
//!
//! An operator signs in once with their token; the console keeps a session of its own (a random
//! id in an `HttpOnly`, `SameSite=Strict` cookie, 8 hours at most, checked against the live
//! configuration on every request, so an operator who is removed is out at once; a person's
//! access token is verified again each time, so the session ends when the token does). Forms that
//! change something carry the session's CSRF token. Every asset is embedded in the binary; the
//! pages load nothing from elsewhere (a strict Content-Security-Policy says so to the browser).

mod pages;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::audit::{self, AuditRecord, Filter};
use crate::caller::Caller;
use crate::gateway::Gateway;

const COOKIE: &str = "switchboard_console";
/// How long a console session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The most console sessions kept; past it the oldest is ended.
const MAX_SESSIONS: usize = 256;
/// The most audit records a search shows (the newest).
const MAX_ROWS: usize = 200;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The console's state: the gateway, and the operators signed in.
struct Console {
    gateway: Gateway,
    sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Clone)]
struct Session {
    caller: Caller,
    csrf: String,
    expires: Instant,
}

type Shared = Arc<Console>;

/// `/ui` and everything under it, for `gateway`.
pub(crate) fn router(gateway: Gateway) -> axum::Router {
    let console = Arc::new(Console {
        gateway,
        sessions: Mutex::default(),
    });
    axum::Router::new()
        .route("/ui", get(upstreams))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/catalog", get(catalog))
        .route("/ui/calls", get(calls))
        .route("/ui/calls/stream", get(calls_stream))
        .route("/ui/audit", get(audit_search))
        .route("/ui/approvals", get(approvals))
        .route("/ui/approvals/{id}", post(decide))
        .route("/ui/assets/console.css", get(|| asset(CSS, "text/css")))
        .route(
            "/ui/assets/console.js",
            get(|| asset(JS, "text/javascript")),
        )
        .layer(axum::middleware::map_response(secure))
        .with_state(console)
}

/// Headers every console response carries: nothing loads from elsewhere, nothing frames it,
/// nothing is cached.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Console {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session for `caller`; returns its id.
    fn sign_in(&self, caller: Caller) -> String {
        let now = Instant::now();
        let mut sessions = self.lock();
        crate::expiring::make_room(&mut sessions, MAX_SESSIONS, now, |s| s.expires);
        let id = random_id();
        sessions.insert(
            id.clone(),
            Session {
                caller,
                csrf: random_id(),
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    /// The live session `headers`' cookie names, while its caller is still an operator.
    async fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value.to_owned())?;
        let session = self.lock().get(&id)?.clone();
        if session.expires <= Instant::now() || !self.still_operator(&session.caller).await {
            self.lock().remove(&id);
            return None;
        }
        Some(session)
    }

    /// Whether `caller` is still an operator under the configuration in force; a person's token
    /// is checked again, so one that expired or was revoked ends the session.
    async fn still_operator(&self, caller: &Caller) -> bool {
        match &caller.user {
            Some(person) => matches!(
                self.gateway.identify(person.token.expose(), "").await,
                Ok(now) if self.gateway.is_admin(&now)
            ),
            None => self.gateway.is_admin(caller),
        }
    }
}

/// A signed-in operator; any other request is sent to the sign-in page.
struct Operator(Session);

impl FromRequestParts<Shared> for Operator {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, console: &Shared) -> Result<Self, Redirect> {
        console
            .session(&parts.headers)
            .await
            .map(Operator)
            .ok_or_else(|| Redirect::to("/ui/login"))
    }
}

fn page(title: &str, operator: &Operator, pending: usize, body: maud::Markup) -> Response {
    Html(
        pages::layout(
            title,
            Some((&operator.0.caller.describe(), &operator.0.csrf, pending)),
            body,
        )
        .into_string(),
    )
    .into_response()
}

async fn pending(console: &Console) -> usize {
    console.gateway.approvals().await.map_or(0, |a| a.len())
}

async fn login_page() -> Response {
    Html(pages::layout("Sign in", None, pages::login(None)).into_string()).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(console): State<Shared>, form: axum::Form<LoginForm>) -> Response {
    // The form again, saying why (a page, not an HTTP authentication challenge).
    let refused = |message: &str| {
        Html(pages::layout("Sign in", None, pages::login(Some(message))).into_string())
            .into_response()
    };
    let token = form.token.trim();
    if token.is_empty() {
        return refused("Paste your token: an operator's client token, or your own access token.");
    }
    let caller = match console.gateway.identify(token, "").await {
        Ok(caller) => caller,
        Err(_) => return refused("That token is not accepted by this gateway."),
    };
    if !console.gateway.is_admin(&caller) {
        tracing::warn!(target: "switchboard::console", client = %caller.describe(), "a caller who is not an operator tried to sign in");
        return refused("That token is valid, but not an operator's (admin = true).");
    }
    tracing::info!(target: "switchboard::console", operator = %caller.describe(), "an operator signed in");
    let id = console.sign_in(caller);
    let cookie = format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    let mut response = Redirect::to("/ui").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(console): State<Shared>,
    operator: Operator,
    form: axum::Form<CsrfForm>,
) -> Response {
    if form.csrf != operator.0.csrf {
        return forbidden();
    }
    // Each session has its own CSRF token, so it names the session.
    console.lock().retain(|_, s| s.csrf != operator.0.csrf);
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "switchboard_console=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "the form was not sent from this console session; reload the page and try again",
    )
        .into_response()
}

async fn upstreams(State(console): State<Shared>, operator: Operator) -> Response {
    let status = console.gateway.status();
    page(
        "Upstreams",
        &operator,
        pending(&console).await,
        pages::upstreams(&status),
    )
}

#[derive(Deserialize)]
struct CatalogQuery {
    client: Option<String>,
}

async fn catalog(
    State(console): State<Shared>,
    operator: Operator,
    Query(query): Query<CatalogQuery>,
) -> Response {
    let clients: Vec<String> = console.gateway.config().clients.keys().cloned().collect();
    let client = query
        .client
        .filter(|c| clients.contains(c))
        .or_else(|| clients.first().cloned());
    let tools = console.gateway.tools_for(client.as_deref());
    let body = pages::catalog(&clients, client.as_deref(), &tools);
    page("Catalog", &operator, pending(&console).await, body)
}

async fn calls(State(console): State<Shared>, operator: Operator) -> Response {
    page(
        "Live calls",
        &operator,
        pending(&console).await,
        pages::calls(),
    )
}

/// Server-sent events: each call's audit record (as JSON) as it is written.
async fn calls_stream(
    State(console): State<Shared>,
    _operator: Operator,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = console.gateway.watch_calls();
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(record) => Event::default()
                .json_data(&*record)
                .unwrap_or_else(|_| Event::default().comment("unserializable record")),
            Err(RecvError::Lagged(skipped)) => {
                Event::default().event("skipped").data(skipped.to_string())
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    client: Option<String>,
    tool: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    verify: Option<String>,
}

/// What the audit page shows: matching records (newest first) and, when asked, the chain check.
pub(crate) struct AuditView {
    pub(crate) records: Vec<AuditRecord>,
    pub(crate) matched: usize,
    pub(crate) problem: Option<String>,
    pub(crate) verified: Option<Result<String, String>>,
    pub(crate) sink: String,
}

async fn audit_search(
    State(console): State<Shared>,
    operator: Operator,
    Query(query): Query<AuditQuery>,
) -> Response {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let mut problem = None;
    let filter = Filter {
        client: nonempty(&query.client),
        tool: nonempty(&query.tool).and_then(|glob| {
            glob::Pattern::new(&glob)
                .inspect_err(|e| problem = Some(format!("tool {glob:?} is not a glob: {e}")))
                .ok()
        }),
        outcome: nonempty(&query.outcome),
        since: nonempty(&query.since),
        ..Filter::default()
    };
    let view = read_audit(&console.gateway, &filter, query.verify.is_some(), problem).await;
    let form = pages::AuditForm {
        client: nonempty(&query.client).unwrap_or_default(),
        tool: nonempty(&query.tool).unwrap_or_default(),
        outcome: nonempty(&query.outcome).unwrap_or_default(),
        since: nonempty(&query.since).unwrap_or_default(),
    };
    let body = pages::audit(&form, &view);
    page("Audit", &operator, pending(&console).await, body)
}

async fn read_audit(
    gateway: &Gateway,
    filter: &Filter,
    verify: bool,
    problem: Option<String>,
) -> AuditView {
    let config = gateway.config();
    let (found, verified, sink) = if let Some(url) = &config.audit_sink {
        let found = audit::postgres::records(url).await.map(|all| {
            let mut matching: Vec<AuditRecord> =
                all.into_iter().filter(|r| filter.matches(r)).collect();
            let matched = matching.len();
            matching.reverse();
            matching.truncate(MAX_ROWS);
            (matched, matching)
        });
        let verified = if verify {
            Some(audit::postgres::verify(url).await.and_then(|reports| {
                let broken: Vec<String> = reports
                    .iter()
                    .flat_map(|(replica, r)| {
                        r.problems.iter().map(move |p| format!("{replica}: {p}"))
                    })
                    .collect();
                let total: u64 = reports.values().map(|r| r.records).sum();
                if broken.is_empty() {
                    Ok(format!(
                        "{total} records in {} replica chains, all intact",
                        reports.len()
                    ))
                } else {
                    Err(broken.join("; "))
                }
            }))
        } else {
            None
        };
        (
            found,
            verified,
            format!("PostgreSQL table {}", audit::postgres::TABLE),
        )
    } else if let Some(path) = config.config.audit.path.clone() {
        // The file is read line by line, off the async threads.
        let (filter, shown) = (filter.clone(), path.display().to_string());
        let read = tokio::task::spawn_blocking(move || {
            let found = audit::newest(&path, &filter, MAX_ROWS).map_err(|e| e.to_string());
            let verified = verify.then(|| {
                audit::verify(&path)
                    .map(|n| format!("{n} records, chain intact"))
                    .map_err(|e| e.to_string())
            });
            (found, verified)
        })
        .await;
        let (found, verified) = read.unwrap_or_else(|e| (Err(e.to_string()), None));
        (found, verified, shown)
    } else {
        (
            Ok((0, Vec::new())),
            None,
            "none ([audit] is not configured)".to_owned(),
        )
    };
    let ((matched, records), problem) = match found {
        Ok(found) => (found, problem),
        Err(error) => ((0, Vec::new()), problem.or(Some(error))),
    };
    AuditView {
        records,
        matched,
        problem,
        verified,
        sink,
    }
}

#[derive(Deserialize, Default)]
struct ApprovalsQuery {
    decided: Option<String>,
    error: Option<String>,
}

async fn approvals(
    State(console): State<Shared>,
    operator: Operator,
    Query(query): Query<ApprovalsQuery>,
) -> Response {
    let waiting = console.gateway.approvals().await;
    let flash = match (query.decided, query.error) {
        (_, Some(error)) => Some(Err(error)),
        (Some(decided), None) => Some(Ok(decided)),
        (None, None) => None,
    };
    let body = pages::approvals(waiting.as_deref(), &operator.0.csrf, flash);
    let count = waiting.as_ref().map_or(0, Vec::len);
    page("Approvals", &operator, count, body)
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    State(console): State<Shared>,
    operator: Operator,
    Path(id): Path<String>,
    form: axum::Form<DecideForm>,
) -> Response {
    if form.csrf != operator.0.csrf {
        return forbidden();
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return (StatusCode::BAD_REQUEST, "decision must be approve or deny").into_response(),
    };
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let done = console
        .gateway
        .decide_approval(&id, approve, reason, &operator.0.caller)
        .await;
    let (key, value) = match done {
        Ok(()) => (
            "decided",
            if approve { "approved" } else { "denied" }.to_owned(),
        ),
        Err(crate::policy::queue::DecideError::Unknown) => (
            "error",
            "that call is no longer waiting (decided already, or timed out)".to_owned(),
        ),
        Err(crate::policy::queue::DecideError::Unavailable(why)) => ("error", why),
    };
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, &value)
        .finish();
    Redirect::to(&format!("/ui/approvals?{query}")).into_response()
}
