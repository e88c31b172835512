//! Streamable HTTP serving: `/mcp` (rmcp's service, both protocol eras), bearer-token
//! identification, Host/Origin validation, `/healthz`, `/readyz`, and the shutdown order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::sessions::{Sessions, track};
use super::{Downstream, Identity};
use super::{lean, task_notices};
use crate::auth::Refusal;
use crate::endpoints::Endpoint;
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::telemetry::metrics::CONTENT_TYPE;

/// Whether `addr` is a loopback address.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Serves Streamable HTTP on `listener` (`/mcp`, `/healthz`, `/readyz`) until `shutdown`.
///
/// # Errors
/// [`GatewayError::Serve`] when the address is not loopback and no client has a token, or the
/// server fails.
pub async fn serve_http(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let addr = listener
        .local_addr()
        .map_err(|source| GatewayError::Serve {
            addr: "listener".to_owned(),
            source,
        })?;
    if !is_loopback(&addr) && !gateway.requires_tokens() {
        return Err(GatewayError::Serve {
            addr: addr.to_string(),
            source: std::io::Error::other(
                "binding a non-loopback address requires client tokens or people's tokens: add \
                 [clients.<name>] token = \"${env:...}\" entries or [auth] issuers, or bind \
                 127.0.0.1",
            ),
        });
    }
    // Shutdown order: report not ready and keep serving for `shutdown_delay` (a balancer's
    // health check takes the replica out meanwhile), refuse new calls and let the calls in flight finish (bounded by
    // `drain_timeout`), then stop accepting connections and end the MCP sessions and their open
    // streams. (Closing connections first would cut responses that are still being computed.)
    let sessions = CancellationToken::new();
    let router = router(gateway.clone(), &addr, sessions.clone());
    let drained = CancellationToken::new();
    {
        let (shutdown, sessions, drained) = (shutdown.clone(), sessions.clone(), drained.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            gateway.leave();
            let delay = gateway.config().config.gateway.shutdown_delay;
            if !delay.is_zero() {
                tracing::info!("not ready any more; serving on for {delay:?} before draining");
                tokio::time::sleep(delay).await;
            }
            gateway.drain().await;
            // Let the last results reach their responses before connections close.
            tokio::time::sleep(Duration::from_millis(300)).await;
            drained.cancel();
            tokio::time::sleep(Duration::from_secs(2)).await;
            sessions.cancel();
        });
    }
    // Responses are small and latency-bound: send them without waiting for Nagle's timer.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let serve =
        axum::serve(listener, router).with_graceful_shutdown(drained.clone().cancelled_owned());
    tokio::select! {
        result = serve => result.map_err(|source| GatewayError::Serve {
            addr: addr.to_string(),
            source,
        }),
        // Connections still open after the sessions ended are cut.
        () = async {
            sessions.cancelled().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        } => Ok(()),
    }
}

fn router(gateway: Gateway, addr: &SocketAddr, shutdown: CancellationToken) -> axum::Router {
    let settings = &gateway.config().config.gateway;
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    hosts.extend(settings.allowed_hosts.iter().cloned());
    if !addr.ip().is_unspecified() && !is_loopback(addr) {
        hosts.push(addr.ip().to_string());
    }
    // Pages served from the gateway's own loopback address are same-origin; any other origin
    // (a DNS-rebinding page included) must be listed in `allowed_origins`.
    let mut origins = settings.allowed_origins.clone();
    if is_loopback(addr) {
        let port = addr.port();
        origins.extend([
            format!("http://localhost:{port}"),
            format!("http://127.0.0.1:{port}"),
            format!("http://[::1]:{port}"),
        ]);
    }
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(shutdown.clone());
    let sessions = Arc::new(Sessions::new(settings.sessions));
    // `/mcp`, and `/mcp/<name>` for each virtual endpoint; one session table for all. A plain
    // stateless `tools/call` takes the lane in front of rmcp's service.
    let service = |endpoint: Option<Arc<Endpoint>>| {
        let handler = Downstream::http(gateway.clone(), endpoint);
        let lane = lean::Lane::new(handler.clone(), &config.allowed_hosts, shutdown.clone());
        let rmcp = StreamableHttpService::new(
            move || Ok(handler.clone()),
            sessions.clone(),
            config.clone(),
        );
        axum::Router::new()
            .fallback_service(rmcp)
            .layer(axum::middleware::from_fn(task_notices::take_task_ids))
            .layer(axum::middleware::from_fn_with_state(lane, lean::serve))
    };
    let mut routes = axum::Router::new().nest_service("/mcp", service(None));
    for (name, endpoint) in &gateway.config().config.endpoints {
        routes = routes.nest_service(&format!("/mcp/{name}"), service(Some(endpoint.clone())));
    }
    gateway.set_http_sessions(sessions.clone());
    let metrics = axum::routing::get(metrics);
    // Outermost first: who is calling, then which session it may use. `/metrics` is behind the
    // same authentication as `/mcp`.
    let mcp = routes
        .layer(axum::middleware::from_fn_with_state(
            sessions.clone(),
            track,
        ))
        .route("/metrics", metrics)
        .route("/admin/approvals", axum::routing::get(list_approvals))
        .route(
            "/admin/approvals/{id}",
            axum::routing::post(decide_approval),
        )
        .route("/admin/reload", axum::routing::post(reload))
        .with_state(gateway.clone())
        .layer(axum::middleware::from_fn_with_state(
            gateway.clone(),
            authenticate,
        ));
    let metadata = axum::routing::get(resource_metadata);
    axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/.well-known/oauth-protected-resource", metadata.clone())
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            metadata.clone(),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp/{endpoint}",
            metadata,
        )
        .route(
            "/readyz",
            axum::routing::get(move |state| readyz(state, sessions.open())),
        )
        // Slack cannot present a client's token: its requests are verified by signature.
        .route(
            "/slack/interactions",
            axum::routing::post(slack_interaction)
                .layer(axum::extract::DefaultBodyLimit::max(SLACK_BODY_LIMIT)),
        )
        .with_state(gateway.clone())
        .merge(mcp)
        // The console signs operators in itself (a browser cannot send a bearer token).
        .merge(crate::console::router(gateway))
}

async fn metrics(State(gateway): State<Gateway>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        gateway.metrics_now(),
    )
        .into_response()
}

/// Serves `GET /metrics` alone on `listener`, without authentication (`[telemetry]
/// metrics_addr`: for a Prometheus that cannot present a client's token), until `shutdown`.
///
/// # Errors
/// [`GatewayError::Serve`] when the server fails.
pub async fn serve_metrics(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "metrics listener".to_owned(), |a| a.to_string());
    let router = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(gateway);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|source| GatewayError::Serve { addr, source })
}

async fn readyz(State(gateway): State<Gateway>, sessions: usize) -> Response {
    let upstreams: Vec<_> = gateway
        .status()
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name, "required": s.required, "tools": s.tools,
                "health": crate::format_health(&s.health),
            })
        })
        .collect();
    let ready = gateway.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({
        "ready": ready, "upstreams": upstreams, "sessions": sessions,
    });
    if gateway.leaving() {
        body["shutting_down"] = serde_json::json!(true);
    }
    if let Some(why) = gateway.stale_secrets() {
        // Still ready: everything runs on the last good values.
        body["secrets"] = serde_json::json!({"stale": true, "error": why});
    }
    (status, axum::Json(body)).into_response()
}

async fn authenticate(
    State(gateway): State<Gateway>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = if gateway.requires_tokens() {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let identified = match token {
            Some(token) => gateway.identify(token, "").await,
            None => Err(Refusal::Missing),
        };
        match identified {
            Ok(caller) => caller,
            Err(refusal) => return refuse(&gateway, &refusal, request.uri().path()),
        }
    } else {
        gateway.anonymous_caller()
    };
    request.extensions_mut().insert(Identity(caller));
    next.run(request).await
}

/// The answer to a request whose token was not accepted: `401` with a challenge that points
/// OAuth clients at the metadata, `403` for a missing scope or no matching client, `503` when
/// the identity provider cannot be asked.
fn refuse(gateway: &Gateway, refusal: &Refusal, path: &str) -> Response {
    let (status, error, description) = match refusal {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "missing bearer token: send Authorization: Bearer <token>".to_owned(),
        ),
        Refusal::Invalid(why) => (StatusCode::UNAUTHORIZED, "invalid_token", why.clone()),
        Refusal::InsufficientScope => (
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the token lacks a scope this gateway requires".to_owned(),
        ),
        Refusal::NoClient => (
            StatusCode::FORBIDDEN,
            "access_denied",
            "this account is not allowed to use this gateway".to_owned(),
        ),
        Refusal::Unavailable(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            format!("{why}; try again shortly"),
        ),
    };
    let mut response = (
        status,
        axum::Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response();
    let challenge = match gateway.authenticator() {
        Some(auth) => auth.challenge(refusal, path),
        None if *refusal == Refusal::Missing => "Bearer realm=\"switchboard\"".to_owned(),
        None => "Bearer realm=\"switchboard\", error=\"invalid_token\", \
                 error_description=\"unknown token\""
            .to_owned(),
    };
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        && let Ok(value) = HeaderValue::from_str(&challenge)
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// The operator's view of the approval queue: `GET /admin/approvals` lists the waiting calls;
/// `POST /admin/approvals/{id}` with `{"decision": "approve" | "deny", "reason": "…"}` decides one.
/// Only callers whose client has `admin = true` get past [`not_an_operator`].
async fn list_approvals(
    State(gateway): State<Gateway>,
    axum::Extension(Identity(caller)): axum::Extension<Identity>,
) -> Response {
    if let Some(refused) = not_an_operator(&gateway, &caller) {
        return refused;
    }
    axum::Json(serde_json::json!({"approvals": gateway.approvals().await.unwrap_or_default()}))
        .into_response()
}

#[derive(serde::Deserialize)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn decide_approval(
    State(gateway): State<Gateway>,
    axum::Extension(Identity(caller)): axum::Extension<Identity>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Result<axum::Json<DecisionBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(refused) = not_an_operator(&gateway, &caller) {
        return refused;
    }
    let problem = |status: StatusCode, message: String| {
        (status, axum::Json(serde_json::json!({"error": message}))).into_response()
    };
    let Ok(axum::Json(body)) = body else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"decision\": \"approve\" | \"deny\", \"reason\": \"…\"} as JSON".into(),
        );
    };
    let approve = match body.decision.as_str() {
        "approve" => true,
        "deny" => false,
        other => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("decision must be \"approve\" or \"deny\", not {other:?}"),
            );
        }
    };
    match gateway
        .decide_approval(&id, approve, body.reason, &caller)
        .await
    {
        Ok(()) => {
            axum::Json(serde_json::json!({"id": id, "decision": body.decision})).into_response()
        }
        Err(crate::policy::queue::DecideError::Unavailable(why)) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, why)
        }
        Err(crate::policy::queue::DecideError::Unknown) => problem(
            StatusCode::NOT_FOUND,
            format!("no call waits for approval under {id:?} (decided already, or timed out)"),
        ),
    }
}

/// The largest interaction request taken (a click's payload is a few kilobytes).
const SLACK_BODY_LIMIT: usize = 64 * 1024;

/// `POST /slack/interactions`: a click on a request's Approve or Deny button in Slack decides it,
/// when the request is Slack's (signature, five-minute window, not seen before) and the clicker an
/// operator (`[approvals] slack`). `401` for a request that is not shown to be Slack's, `403`
/// for someone who is not an operator, `404` when nothing waits under the button's id.
async fn slack_interaction(
    State(gateway): State<Gateway>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use crate::policy::slack::Refused;
    let problem = |status: StatusCode, message: String| {
        (status, axum::Json(serde_json::json!({"error": message}))).into_response()
    };
    let Some(slack) = gateway.slack_approvals() else {
        return problem(
            StatusCode::NOT_FOUND,
            "approvals are not posted to Slack here ([approvals] slack is not configured)".into(),
        );
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let decision = slack.decision(
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        std::time::SystemTime::now(),
    );
    let decision = match decision {
        Ok(decision) => decision,
        Err(refused) => {
            tracing::warn!(target: "switchboard::approvals", reason = %refused, "a Slack interaction was refused");
            let status = match refused {
                Refused::Unverified(_) | Refused::Replayed => StatusCode::UNAUTHORIZED,
                Refused::NotAnOperator(_) => StatusCode::FORBIDDEN,
                Refused::Malformed(_) => StatusCode::BAD_REQUEST,
            };
            return problem(status, refused.to_string());
        }
    };
    let reason = (!decision.approve).then(|| "denied in Slack".to_owned());
    match gateway
        .decide_approval_as(&decision.id, decision.approve, reason, decision.by)
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(crate::policy::queue::DecideError::Unavailable(why)) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, why)
        }
        Err(crate::policy::queue::DecideError::Unknown) => problem(
            StatusCode::NOT_FOUND,
            format!(
                "no call waits for approval under {:?} (decided already, or timed out)",
                decision.id
            ),
        ),
    }
}

/// `POST /admin/reload`: the gateway reloads its configuration file (see [`Gateway::reload`])
/// and answers with what changed, or `422` with why the file was not taken.
async fn reload(
    State(gateway): State<Gateway>,
    axum::Extension(Identity(caller)): axum::Extension<Identity>,
) -> Response {
    if let Some(refused) = not_an_operator(&gateway, &caller) {
        return refused;
    }
    match gateway.reload(&caller.describe()).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({
                "error": format!("{error}; the running configuration stays")
            })),
        )
            .into_response(),
    }
}

/// The `403` to answer a caller that is not an operator with; `None` for an operator.
fn not_an_operator(gateway: &Gateway, caller: &crate::Caller) -> Option<Response> {
    if gateway.is_admin(caller) {
        None
    } else {
        Some((
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": "only operators (a client with admin = true) may do this: see and decide \
                          approvals, reload the configuration"
            })),
        )
            .into_response())
    }
}

/// RFC 9728 protected resource metadata, at `/.well-known/oauth-protected-resource` and its
/// path-suffixed forms (`/mcp`, `/mcp/<name>`); `404` when `[auth]` is not configured.
async fn resource_metadata(State(gateway): State<Gateway>) -> Response {
    match gateway.authenticator() {
        Some(auth) => {
            let name = &gateway.config().config.gateway.name;
            (
                [(header::CACHE_CONTROL, "max-age=300")],
                axum::Json(auth.metadata(name)),
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
