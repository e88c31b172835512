//! One supervised upstream as the rest of the gateway sees it ([`Upstream`]): its health, what it
//! lists, its concurrency slots, and forwarding a request to it — a tool call from the pipeline's
//! last stage included ([`Upstream::call_tool`]) — with cancellation relayed and a dead connection
//! noticed at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientRequest, ErrorCode,
    ErrorData, GetMeta, Prompt, RequestId, Resource, ResourceTemplate, ServerCapabilities,
    ServerResult, Tool,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::relay::Relay;
use super::routes::{Forwarded, Routes};
use tracing::Instrument;

use crate::config::{ResolvedServer, ResolvedTransport, StartMode};
use crate::policy::{Outcome, ToolCall};

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
pub(crate) enum State {
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
    pub(crate) start_now: CancellationToken,
    /// Stops its supervisor: at shutdown, or when a reload removes or replaces it.
    pub(crate) stop: CancellationToken,
    /// Where the upstream's traffic for clients goes.
    pub(crate) routes: Arc<Routes>,
    /// Whether requests go without the 2026-07-28 revision's `_meta` keys: over a handshake-era
    /// HTTP session (rmcp's HTTP client adopts a request's revision for the rest of the
    /// session), or once the server refused that revision.
    pub(crate) legacy_only: AtomicBool,
    /// Restarts after a failure since the gateway started.
    pub(crate) restarts: AtomicU64,
    /// Token exchange for people's tool calls, when configured.
    exchanger: Option<super::exchange::Exchanger>,
}

impl Upstream {
    /// An upstream whose supervisor runs until `stop` is cancelled.
    pub(crate) fn new(server: ResolvedServer, stop: CancellationToken) -> Arc<Self> {
        let initial = match server.config.start {
            StartMode::Boot => Health::Starting,
            StartMode::Lazy => Health::Idle,
        };
        let exchanger = match &server.transport {
            ResolvedTransport::Http {
                exchange: Some(settings),
                ..
            } => Some(super::exchange::Exchanger::new(
                &server.config.name,
                (**settings).clone(),
            )),
            _ => None,
        };
        Arc::new(Self {
            exchanger,
            name: server.config.name.clone(),
            semaphore: Arc::new(Semaphore::new(server.config.max_concurrency)),
            server,
            state: watch::channel(State::Health(initial)).0,
            listing: RwLock::new(Listing::default()),
            start_now: CancellationToken::new(),
            stop,
            routes: Arc::default(),
            legacy_only: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
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
        self.declares(|c| c.logging.is_some())
    }

    /// Whether the connected server declares resources.
    pub(crate) fn has_resources(&self) -> bool {
        self.declares(|c| c.resources.is_some())
    }

    fn declares(&self, capability: impl Fn(&ServerCapabilities) -> bool) -> bool {
        match &*self.state.borrow() {
            State::Ready { peer, .. } => peer
                .peer_info()
                .is_some_and(|i| capability(&i.capabilities)),
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
    /// The request's own client span when traces are exported (the upstream's spans — the
    /// built-in servers read the context from `_meta` — are its children); none otherwise.
    fn upstream_span(&self, tool: &str) -> tracing::Span {
        if !switchboard_telemetry::enabled() {
            return tracing::Span::none();
        }
        tracing::info_span!(
            target: switchboard_telemetry::EXPORTED_ONLY,
            "upstream_call",
            otel.name = %format_args!("tools/call {tool}"),
            otel.kind = "client",
            mcp.method.name = "tools/call",
            gen_ai.tool.name = tool,
            server.address = %self.name,
        )
    }

    pub(crate) async fn call_tool(&self, call: ToolCall, budget: Duration) -> Outcome {
        let span = self.upstream_span(&call.upstream_name);
        let mut params = CallToolRequestParams::new(call.upstream_name);
        params.arguments = Some(call.arguments);
        params.input_responses = call.input_responses;
        params.request_state = call.request_state;
        let mut request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        if let Some(exchanger) = &self.exchanger {
            let Some(person) = &call.caller.user else {
                return Outcome::UpstreamFailed(format!(
                    "server {} acts as the person calling and needs a person's token (OAuth); \
                     client {} called without one",
                    self.name, call.caller.client
                ));
            };
            match exchanger.token_for(person).await {
                Ok(token) => {
                    rmcp::model::GetExtensions::extensions_mut(&mut request)
                        .insert(super::exchange::ActingAs(token));
                }
                Err(message) => return Outcome::UpstreamFailed(message),
            }
        }
        // A call its caller gave up on is dropped, which tells the upstream (a relayed call's
        // cancellation also reaches it this way).
        let forwarded = tokio::select! {
            forwarded = self.forward(request, call.relay, budget).instrument(span) => forwarded,
            () = call.cancelled.cancelled() => Err(UpstreamError::Cancelled),
        };
        match forwarded {
            Ok(ServerResult::CallToolResult(result)) => Outcome::Completed(result),
            Ok(ServerResult::InputRequiredResult(result)) => {
                Outcome::InputRequired(Box::new(result))
            }
            Ok(ServerResult::CreateTaskResult(task)) => Outcome::Task {
                server: self.name.clone(),
                task: Box::new(task),
            },
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
        // Sent within a span this process exports: the upstream continues the gateway's trace
        // (otherwise the client's own context, copied above, goes through unchanged).
        if switchboard_telemetry::enabled()
            && let Some(trace) = switchboard_telemetry::context_of(&tracing::Span::current())
        {
            let meta = request.get_meta_mut();
            meta.set_traceparent(&trace.traceparent);
            match &trace.tracestate {
                Some(state) => meta.set_tracestate(state),
                None => {
                    meta.remove("tracestate");
                }
            }
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

    pub(crate) fn set(&self, state: State) {
        self.state.send_replace(state);
    }

    pub(crate) fn set_listing(&self, listing: Listing) {
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
