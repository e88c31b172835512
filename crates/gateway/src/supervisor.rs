//! The supervisor: one task per upstream that starts it (at boot or on first use), pings it,
//! restarts it with exponential backoff and jitter when it exits or stops answering, and opens
//! its circuit after too many failures in a window. While an upstream is down its tools answer
//! "server X is unavailable, retrying in Ns" at once; calls in flight when it dies fail as soon as
//! the transport ends.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientRequest, ErrorCode,
    ErrorData, GetMeta, ListPromptsRequest, PaginatedRequestParams, PingRequest, Prompt, RequestId,
    Resource, ResourceTemplate, ServerResult, Tool,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ResolvedServer, ResolvedTransport, StartMode};
use crate::policy::{Outcome, ToolCall};
use crate::secrets::SecretSet;
use crate::upstream::{self, Connection, Forwarded, Relay, Routes, UpstreamEvent};

/// The health of one upstream, as shown by `/readyz` and `switchboard tools`.
#[derive(Debug, Clone)]
pub enum Health {
    /// Lazy upstream not started yet.
    Idle,
    /// Starting (or restarting).
    Starting,
    /// Connected and answering.
    Ready {
        /// The child's process id, for stdio upstreams.
        pid: Option<u32>,
    },
    /// Down; the next attempt is at `retry_at`.
    Backoff {
        /// When the next start attempt happens.
        retry_at: Instant,
        /// Why it is down.
        error: String,
    },
    /// Too many failures in the window: no attempts until `retry_at`.
    CircuitOpen {
        /// When one more attempt is allowed.
        retry_at: Instant,
        /// The last failure.
        error: String,
    },
    /// Stopped at shutdown.
    Stopped,
}

#[derive(Clone)]
enum State {
    Health(Health),
    Ready {
        peer: Peer<RoleClient>,
        closed: CancellationToken,
        pid: Option<u32>,
    },
}

/// What an upstream offers, as last listed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing {
    pub(crate) tools: Vec<Tool>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
    pub(crate) prompts: Vec<Prompt>,
    /// Prompts the server lists only to 2026-07-28 clients (e.g. ones that answer with
    /// `input_required`), when the gateway's session with it is of the handshake era.
    pub(crate) modern_prompts: Vec<Prompt>,
}

/// Why an upstream request did not produce a result.
#[derive(Debug, Clone)]
pub(crate) enum UpstreamError {
    /// The upstream is down; `retry_in` until the next attempt.
    Unavailable { retry_in: Duration, reason: String },
    /// The upstream's connection ended while the request was in flight.
    Died,
    /// The upstream answered with a JSON-RPC error (relayed to the client as it is).
    Protocol(ErrorData),
    /// The client cancelled the request (the upstream was told).
    Cancelled,
}

impl UpstreamError {
    /// A message for a model or a user.
    pub(crate) fn message(&self, server: &str) -> String {
        match self {
            Self::Unavailable { retry_in, reason } => format!(
                "server {server} is unavailable, retrying in {}s ({reason})",
                retry_in.as_secs().max(1)
            ),
            Self::Died => format!(
                "server {server} stopped while handling the call; it is being restarted, try \
                 again shortly"
            ),
            Self::Protocol(error) => {
                format!("server {server} rejected the request: {}", error.message)
            }
            Self::Cancelled => "the request was cancelled".to_owned(),
        }
    }

    /// The JSON-RPC error for a client: the upstream's own error when it sent one.
    pub(crate) fn to_error(&self, server: &str) -> ErrorData {
        match self {
            Self::Protocol(error) => error.clone(),
            other => ErrorData::internal_error(other.message(server), None),
        }
    }
}

/// One supervised upstream.
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) server: ResolvedServer,
    pub(crate) semaphore: Arc<Semaphore>,
    state: watch::Sender<State>,
    listing: RwLock<Listing>,
    start_now: CancellationToken,
    /// Where the upstream's traffic for clients goes.
    pub(crate) routes: Arc<Routes>,
    /// Whether requests go without the 2026-07-28 revision's `_meta` keys: over a handshake-era
    /// HTTP session (rmcp's HTTP client adopts a request's revision for the rest of the
    /// session), or once the server refused that revision.
    legacy_only: AtomicBool,
}

impl Upstream {
    pub(crate) fn new(server: ResolvedServer) -> Arc<Self> {
        let initial = match server.config.start {
            StartMode::Boot => Health::Starting,
            StartMode::Lazy => Health::Idle,
        };
        Arc::new(Self {
            name: server.config.name.clone(),
            semaphore: Arc::new(Semaphore::new(server.config.max_concurrency)),
            server,
            state: watch::channel(State::Health(initial)).0,
            listing: RwLock::new(Listing::default()),
            start_now: CancellationToken::new(),
            routes: Arc::default(),
            legacy_only: AtomicBool::new(false),
        })
    }

    /// The current health.
    pub(crate) fn health(&self) -> Health {
        match &*self.state.borrow() {
            State::Health(h) => h.clone(),
            State::Ready { pid, .. } => Health::Ready { pid: *pid },
        }
    }

    /// Whether the connected server declares logging.
    pub(crate) fn has_logging(&self) -> bool {
        match &*self.state.borrow() {
            State::Ready { peer, .. } => peer
                .peer_info()
                .is_some_and(|i| i.capabilities.logging.is_some()),
            State::Health(_) => false,
        }
    }

    /// The last listing.
    pub(crate) fn listing(&self) -> Listing {
        self.listing
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Asks a lazy upstream to start.
    pub(crate) fn trigger_start(&self) {
        self.start_now.cancel();
    }

    /// Waits until the upstream has left the starting states (or `limit` passes).
    pub(crate) async fn wait_settled(&self, limit: Duration) {
        let mut rx = self.state.subscribe();
        let _ = tokio::time::timeout(limit, async {
            loop {
                if !matches!(
                    &*rx.borrow_and_update(),
                    State::Health(Health::Starting | Health::Idle)
                ) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// A connected peer, waiting up to `wait` for a start in progress.
    async fn peer(
        &self,
        wait: Duration,
    ) -> Result<(Peer<RoleClient>, CancellationToken), UpstreamError> {
        self.trigger_start();
        let mut rx = self.state.subscribe();
        let deadline = Instant::now() + wait;
        loop {
            let state = rx.borrow_and_update().clone();
            match state {
                State::Ready { peer, closed, .. } => return Ok((peer, closed)),
                // A restart due before the caller's deadline is worth waiting for.
                State::Health(Health::Backoff { retry_at, .. }) if retry_at <= deadline => {}
                State::Health(Health::Backoff { retry_at, error })
                | State::Health(Health::CircuitOpen { retry_at, error }) => {
                    return Err(UpstreamError::Unavailable {
                        retry_in: retry_at.saturating_duration_since(Instant::now()),
                        reason: error,
                    });
                }
                State::Health(Health::Stopped) => {
                    return Err(UpstreamError::Unavailable {
                        retry_in: Duration::ZERO,
                        reason: "the gateway is shutting down".to_owned(),
                    });
                }
                State::Health(Health::Starting | Health::Idle | Health::Ready { .. }) => {}
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(UpstreamError::Unavailable {
                    retry_in: Duration::from_secs(1),
                    reason: "it is still starting".to_owned(),
                });
            }
        }
    }

    /// Sends `request` upstream and returns its result; `wait` bounds the time spent waiting for a
    /// start in progress. With a `relay`, the request carries the client's `_meta` and whatever
    /// the upstream sends while serving it goes back to that client; when the client cancels, or
    /// the caller stops waiting (a timeout), the upstream is sent `notifications/cancelled`.
    pub(crate) async fn forward(
        &self,
        request: ClientRequest,
        relay: Option<Arc<Relay>>,
        wait: Duration,
    ) -> Result<ServerResult, UpstreamError> {
        let (peer, closed) = self.peer(wait).await?;
        let legacy_only = self.legacy_only.load(Ordering::Relaxed);
        let result = self
            .send(&peer, &closed, request.clone(), relay.as_ref(), legacy_only)
            .await;
        match result {
            // A server that does not know the client's revision gets the request without it.
            Err(UpstreamError::Protocol(e))
                if e.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
                    && !legacy_only
                    && relay.as_ref().is_some_and(|r| r.modern()) =>
            {
                self.legacy_only.store(true, Ordering::Relaxed);
                self.send(&peer, &closed, request, relay.as_ref(), true)
                    .await
            }
            other => other,
        }
    }

    /// Calls the tool of `call` (the pipeline's last step), within `budget` for a start in
    /// progress.
    pub(crate) async fn call_tool(&self, call: ToolCall, budget: Duration) -> Outcome {
        let mut params = CallToolRequestParams::new(call.upstream_name);
        params.arguments = Some(call.arguments);
        params.input_responses = call.input_responses;
        params.request_state = call.request_state;
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        match self.forward(request, call.relay, budget).await {
            Ok(ServerResult::CallToolResult(result)) => Outcome::Completed(result),
            Ok(ServerResult::InputRequiredResult(result)) => {
                Outcome::InputRequired(Box::new(result))
            }
            Ok(_) => Outcome::UpstreamFailed(format!(
                "server {} answered tools/call with an unexpected result",
                self.name
            )),
            Err(UpstreamError::Protocol(error)) => Outcome::Rejected {
                server: self.name.clone(),
                error,
            },
            Err(error) => Outcome::UpstreamFailed(error.message(&self.name)),
        }
    }

    async fn send(
        &self,
        peer: &Peer<RoleClient>,
        closed: &CancellationToken,
        mut request: ClientRequest,
        relay: Option<&Arc<Relay>>,
        legacy_only: bool,
    ) -> Result<ServerResult, UpstreamError> {
        let cancelled = relay.map(|r| r.cancelled.clone()).unwrap_or_default();
        let forwarded = relay.map(|relay| Forwarded::new(relay.clone()));
        if let (Some(relay), Some(forwarded)) = (relay, &forwarded) {
            request
                .get_meta_mut()
                .extend(relay.upstream_meta(legacy_only));
            rmcp::model::GetExtensions::extensions_mut(&mut request).insert(forwarded.clone());
        }
        let mut pending = InFlight {
            peer: peer.clone(),
            id: None,
            forwarded,
            routes: self.routes.clone(),
            answered: false,
        };
        let handle = peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
            .map_err(map_service_error)?;
        pending.id = Some(handle.id.clone());
        let result = tokio::select! {
            result = handle.await_response() => result.map_err(map_service_error),
            () = closed.cancelled() => Err(UpstreamError::Died),
            () = cancelled.cancelled() => Err(UpstreamError::Cancelled),
        };
        pending.answered = !matches!(result, Err(UpstreamError::Cancelled));
        if let Some(relay) = relay {
            relay.flush_progress().await;
        }
        result
    }

    fn set(&self, state: State) {
        self.state.send_replace(state);
    }

    fn set_listing(&self, listing: Listing) {
        *self
            .listing
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = listing;
    }
}

/// One forwarded request until it is answered; dropped unanswered (the client cancelled, the
/// call timed out), it tells the upstream to stop.
struct InFlight {
    peer: Peer<RoleClient>,
    /// Known once the request is queued.
    id: Option<RequestId>,
    forwarded: Option<Forwarded>,
    routes: Arc<Routes>,
    answered: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(forwarded) = &self.forwarded {
            self.routes.finish(forwarded);
        }
        let Some(request_id) = self.id.clone().filter(|_| !self.answered) else {
            return;
        };
        let peer = self.peer.clone();
        tokio::spawn(async move {
            let params = CancelledNotificationParam::new(
                Some(request_id),
                Some("the client cancelled the request, or it timed out".to_owned()),
            );
            let _ = peer.notify_cancelled(params).await;
        });
    }
}

fn map_service_error(error: ServiceError) -> UpstreamError {
    match error {
        ServiceError::McpError(e) => UpstreamError::Protocol(e),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => UpstreamError::Died,
        other => UpstreamError::Protocol(ErrorData::internal_error(other.to_string(), None)),
    }
}

/// Runs the supervision loop of `upstream` until `shutdown` is cancelled. `changed` receives the
/// upstream's name whenever its listing changes.
pub(crate) async fn supervise(
    upstream: Arc<Upstream>,
    secrets: SecretSet,
    changed: mpsc::UnboundedSender<String>,
    shutdown: CancellationToken,
) {
    let name = upstream.name.clone();
    let config = upstream.server.config.clone();
    if config.start == StartMode::Lazy {
        tokio::select! {
            () = upstream.start_now.cancelled() => {}
            () = shutdown.cancelled() => { upstream.set(State::Health(Health::Stopped)); return; }
        }
    }
    let mut failures: VecDeque<Instant> = VecDeque::new();
    let mut half_open = false;
    loop {
        upstream.set(State::Health(Health::Starting));
        let error = match start(&upstream, &secrets).await {
            Ok((conn, events)) => {
                half_open = false;
                let _ = changed.send(name.clone());
                run_connected(&upstream, conn, events, &changed, &shutdown).await
            }
            Err(error) => error,
        };
        if shutdown.is_cancelled() {
            upstream.set(State::Health(Health::Stopped));
            return;
        }
        let now = Instant::now();
        failures.push_back(now);
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > config.restart.window)
        {
            failures.pop_front();
        }
        let open = half_open || failures.len() >= config.restart.max_failures as usize;
        let (wait, health) = if open {
            let retry_at = now + config.restart.open_for;
            tracing::error!(upstream = %name, %error, "circuit open after {} failures; next attempt in {:?}", failures.len(), config.restart.open_for);
            (
                config.restart.open_for,
                Health::CircuitOpen { retry_at, error },
            )
        } else {
            let delay = backoff(&config.restart, failures.len());
            tracing::warn!(upstream = %name, %error, "upstream down; restarting in {delay:?}");
            (
                delay,
                Health::Backoff {
                    retry_at: now + delay,
                    error,
                },
            )
        };
        upstream.set(State::Health(health));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => { upstream.set(State::Health(Health::Stopped)); return; }
        }
        if open {
            failures.clear();
            half_open = true;
        }
    }
}

fn backoff(policy: &crate::config::RestartPolicy, failures: usize) -> Duration {
    let exp = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    let base = policy
        .initial_backoff
        .saturating_mul(1 << exp)
        .min(policy.max_backoff);
    let jitter: f64 = rand::rng().random_range(0.0..0.25);
    base.mul_f64(1.0 + jitter).min(policy.max_backoff)
}

type Started = (Connection, mpsc::UnboundedReceiver<UpstreamEvent>);

async fn start(upstream: &Upstream, secrets: &SecretSet) -> Result<Started, String> {
    let (events_tx, events) = mpsc::unbounded_channel();
    let limit = upstream.server.config.ping_timeout;
    let conn = tokio::time::timeout(
        limit,
        upstream::connect(
            &upstream.server,
            events_tx,
            upstream.routes.clone(),
            secrets,
        ),
    )
    .await
    .map_err(|_| format!("did not complete the MCP handshake within {limit:?}"))??;
    let handshake_era = conn
        .service
        .peer()
        .peer_info()
        .is_some_and(|i| i.protocol_version.has_initialize());
    let http = matches!(upstream.server.transport, ResolvedTransport::Http { .. });
    let legacy_only = handshake_era && http;
    upstream.legacy_only.store(legacy_only, Ordering::Relaxed);
    let listing = tokio::time::timeout(limit, list_everything(conn.service.peer(), !legacy_only))
        .await
        .map_err(|_| format!("did not list its tools within {limit:?}"))?
        .map_err(|e| format!("listing failed: {e}"))?;
    tracing::info!(upstream = %upstream.name, pid = ?conn.pid, tools = listing.tools.len(), "upstream ready");
    upstream.set_listing(listing);
    upstream.set(State::Ready {
        peer: conn.service.peer().clone(),
        closed: conn.closed.clone(),
        pid: conn.pid,
    });
    Ok((conn, events))
}

/// Lists what the server offers; `modern` also asks, on a handshake-era session, for what it
/// offers only to 2026-07-28 clients.
async fn list_everything(peer: &Peer<RoleClient>, modern: bool) -> Result<Listing, ServiceError> {
    let caps = peer
        .peer_info()
        .map(|i| i.capabilities.clone())
        .unwrap_or_default();
    let mut listing = Listing::default();
    if caps.tools.is_some() {
        listing.tools = peer.list_all_tools().await?;
    }
    if caps.resources.is_some() {
        listing.resources = peer.list_all_resources().await?;
        listing.templates = peer.list_all_resource_templates().await.unwrap_or_default();
    }
    if caps.prompts.is_some() {
        listing.prompts = peer.list_all_prompts().await?;
        let handshake_era = peer
            .peer_info()
            .is_some_and(|i| i.protocol_version.has_initialize());
        if handshake_era && modern {
            // A server that does not speak 2026-07-28 refuses the request; nothing to add.
            if let Ok(modern) = list_modern_prompts(peer).await {
                listing.modern_prompts = modern
                    .into_iter()
                    .filter(|p| !listing.prompts.iter().any(|q| q.name == p.name))
                    .collect();
            }
        }
    }
    Ok(listing)
}

/// The prompts the server lists to a 2026-07-28 client.
async fn list_modern_prompts(peer: &Peer<RoleClient>) -> Result<Vec<Prompt>, ServiceError> {
    let mut prompts = Vec::new();
    let mut cursor = None;
    loop {
        let mut params = PaginatedRequestParams::default();
        params.cursor = cursor;
        let request = ClientRequest::ListPromptsRequest(ListPromptsRequest::with_param(params));
        let mut options = PeerRequestOptions::no_options();
        options.meta = Some(upstream::modern_meta());
        let response = peer
            .send_request_with_option(request, options)
            .await?
            .await_response()
            .await?;
        let ServerResult::ListPromptsResult(page) = response else {
            return Err(ServiceError::UnexpectedResponse);
        };
        prompts.extend(page.prompts);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(prompts);
        }
    }
}

/// Watches a live connection; returns why it ended (or an empty reason at shutdown).
async fn run_connected(
    upstream: &Upstream,
    mut conn: Connection,
    mut events: mpsc::UnboundedReceiver<UpstreamEvent>,
    changed: &mpsc::UnboundedSender<String>,
    shutdown: &CancellationToken,
) -> String {
    let config = &upstream.server.config;
    let mut ticker = tokio::time::interval(config.health_interval);
    ticker.tick().await;
    let reason = loop {
        tokio::select! {
            () = conn.closed.cancelled() => break "the server exited or closed its connection".to_owned(),
            () = shutdown.cancelled() => break String::new(),
            _ = ticker.tick() => {
                if let Err(reason) = ping(conn.service.peer(), config.ping_timeout).await {
                    break reason;
                }
            }
            Some(_event) = events.recv() => {
                while events.try_recv().is_ok() {}
                let modern = !upstream.legacy_only.load(Ordering::Relaxed);
                match list_everything(conn.service.peer(), modern).await {
                    Ok(listing) => {
                        upstream.set_listing(listing);
                        let _ = changed.send(upstream.name.clone());
                    }
                    Err(e) => tracing::warn!(upstream = %upstream.name, "re-listing failed: {e}"),
                }
            }
        }
    };
    upstream.set(State::Health(Health::Starting));
    if shutdown.is_cancelled() {
        // Stopping: close stdin and give the server a moment to exit on its own.
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.service.close()).await;
    } else if let Some(pid) = conn.pid {
        // Failed: do not wait for a server that stopped answering; dropping the transport
        // kills the child.
        tracing::warn!(upstream = %upstream.name, pid, "stopping the unresponsive server");
    }
    drop(conn);
    reason
}

async fn ping(peer: &Peer<RoleClient>, limit: Duration) -> Result<(), String> {
    let request = ClientRequest::PingRequest(PingRequest::default());
    match tokio::time::timeout(limit, peer.send_request(request)).await {
        Err(_) => Err(format!("health check: no answer to ping within {limit:?}")),
        // Any JSON-RPC answer, even "method not found" from a stateless-era server, is a sign of
        // life.
        Ok(Ok(_)) | Ok(Err(ServiceError::McpError(_))) => Ok(()),
        Ok(Err(e)) => Err(format!("health check failed: {e}")),
    }
}
