//! The supervisor: one task per upstream that starts it (at boot or on first use), pings it,
//! restarts it with exponential backoff and jitter when it exits or stops answering, and opens
//! its circuit after too many failures in a window. While an upstream is down its tools answer
//! "server X is unavailable, retrying in Ns" at once; calls in flight when it dies fail as soon as
//! the transport ends.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, GetPromptRequestParams, GetPromptResult,
    PingRequest, Prompt, ReadResourceRequestParams, ReadResourceResult, Resource, ResourceTemplate,
    Tool,
};
use rmcp::service::{Peer, RoleClient, ServiceError};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ResolvedServer, StartMode};
use crate::secrets::SecretSet;
use crate::upstream::{self, Connection, UpstreamEvent};

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
}

/// Why an upstream request did not produce a result.
#[derive(Debug, Clone)]
pub(crate) enum UpstreamError {
    /// The upstream is down; `retry_in` until the next attempt.
    Unavailable { retry_in: Duration, reason: String },
    /// The upstream's connection ended while the request was in flight.
    Died,
    /// The upstream answered with a JSON-RPC error.
    Protocol(String),
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
            Self::Protocol(message) => format!("server {server} rejected the request: {message}"),
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
        })
    }

    /// The current health.
    pub(crate) fn health(&self) -> Health {
        match &*self.state.borrow() {
            State::Health(h) => h.clone(),
            State::Ready { pid, .. } => Health::Ready { pid: *pid },
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

    /// Calls one tool; `wait` bounds the time spent waiting for a start in progress.
    pub(crate) async fn call_tool(
        &self,
        params: CallToolRequestParams,
        wait: Duration,
    ) -> Result<CallToolResult, UpstreamError> {
        let (peer, closed) = self.peer(wait).await?;
        tokio::select! {
            result = peer.call_tool(params) => result.map_err(map_service_error),
            () = closed.cancelled() => Err(UpstreamError::Died),
        }
    }

    /// Reads one resource.
    pub(crate) async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
        wait: Duration,
    ) -> Result<ReadResourceResult, UpstreamError> {
        let (peer, closed) = self.peer(wait).await?;
        tokio::select! {
            result = peer.read_resource(params) => result.map_err(map_service_error),
            () = closed.cancelled() => Err(UpstreamError::Died),
        }
    }

    /// Gets one prompt.
    pub(crate) async fn get_prompt(
        &self,
        params: GetPromptRequestParams,
        wait: Duration,
    ) -> Result<GetPromptResult, UpstreamError> {
        let (peer, closed) = self.peer(wait).await?;
        tokio::select! {
            result = peer.get_prompt(params) => result.map_err(map_service_error),
            () = closed.cancelled() => Err(UpstreamError::Died),
        }
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

fn map_service_error(error: ServiceError) -> UpstreamError {
    match error {
        ServiceError::McpError(e) => UpstreamError::Protocol(e.message.to_string()),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => UpstreamError::Died,
        other => UpstreamError::Protocol(other.to_string()),
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
        upstream::connect(&upstream.server, events_tx, secrets),
    )
    .await
    .map_err(|_| format!("did not complete the MCP handshake within {limit:?}"))??;
    let listing = tokio::time::timeout(limit, list_everything(conn.service.peer()))
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

async fn list_everything(peer: &Peer<RoleClient>) -> Result<Listing, ServiceError> {
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
    }
    Ok(listing)
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
                match list_everything(conn.service.peer()).await {
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
