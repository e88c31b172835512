//! Connections to upstream MCP servers: one transport per file ([`stdio`], [`http`]), and the
//! client-side handler that turns upstream notifications into events for the supervisor and
//! relays what belongs to a client back to it.
//!
//! A [`Connection`] is one live session with one upstream. Its `closed` token is cancelled the
//! moment the transport ends (the child exited, the HTTP stream failed), so calls in flight can
//! fail at once instead of waiting for their timeout.
//!
//! Relaying: a request forwarded for a client carries a [`Relay`] (the client's session, its
//! request id and progress token). The transport wrapper ([`Watched`]) records it under the
//! upstream request id and progress token the moment the request is written, so whatever the
//! upstream sends while serving it — progress, log messages, and (handshake era) sampling,
//! elicitation and roots requests — goes back to that client, on that request's stream. The
//! protocol does not tie an upstream's server-to-client request to one of its client's requests
//! on a shared connection; it goes to the client of the most recent request still in flight.

#![expect(
    deprecated,
    reason = "sampling, roots and logging are relayed for clients of the 2025-11-25 revision"
)]

pub(crate) mod http;
pub(crate) mod oauth;
pub(crate) mod stdio;

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ClientHandler;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientResult, CreateMessageRequest,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequest, ElicitRequestParams,
    ElicitResult, ErrorCode, ErrorData, GetExtensions, GetMeta, Implementation, JsonRpcMessage,
    ListRootsRequest, ListRootsResult, LoggingMessageNotificationParam, ProgressNotificationParam,
    ProgressToken, ProtocolVersion, RequestId, RequestMetaObject, ResourceUpdatedNotificationParam,
    ServerNotification, ServerRequest,
};
use rmcp::service::{
    ClientInitializeError, ClientLifecycleMode, ClientServiceExt, NotificationContext,
    OriginatingRequestId, Peer, RequestContext, RoleClient, RoleServer, RunningService,
    RxJsonRpcMessage, ServiceError, SubscriptionSink, TxJsonRpcMessage,
};
use rmcp::transport::Transport;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{ResolvedServer, ResolvedTransport};
use crate::secrets::SecretSet;

/// The client end of one forwarded request: where what the upstream sends while serving it
/// goes back to.
pub(crate) struct Relay {
    /// The client's session.
    pub(crate) peer: Peer<RoleServer>,
    /// The client's request id (its response stream, for requests sent back to it).
    pub(crate) request_id: RequestId,
    /// The client's progress token, if it asked for progress.
    pub(crate) progress_token: Option<ProgressToken>,
    /// The client's `_meta`, without its progress token (the upstream request gets its own).
    pub(crate) meta: RequestMetaObject,
    /// Cancelled when the client cancels its request.
    pub(crate) cancelled: CancellationToken,
    /// The client's progress notifications, in the order the upstream sent them.
    progress: Option<ProgressLane>,
}

/// Progress notifications on their way to one client, in order. rmcp hands each notification
/// to a task of its own, which could reorder them or let the response overtake them; these are
/// queued as they arrive from the upstream instead, and the response waits for the queue.
struct ProgressLane {
    queue: mpsc::UnboundedSender<ProgressNotificationParam>,
    queued: AtomicU64,
    forwarded: watch::Receiver<u64>,
}

impl ProgressLane {
    fn new(peer: Peer<RoleServer>) -> Self {
        let (queue, mut next) = mpsc::unbounded_channel::<ProgressNotificationParam>();
        let (count, forwarded) = watch::channel(0);
        tokio::spawn(async move {
            while let Some(params) = next.recv().await {
                let _ = peer.notify_progress(params).await;
                count.send_modify(|n| *n += 1);
            }
        });
        Self {
            queue,
            queued: AtomicU64::new(0),
            forwarded,
        }
    }
}

/// How long a response waits for the progress notifications sent before it.
const PROGRESS_FLUSH: Duration = Duration::from_secs(1);

impl Relay {
    /// The relay of the request `context` belongs to.
    pub(crate) fn of(context: &RequestContext<RoleServer>) -> Arc<Self> {
        let mut meta = context.meta.clone();
        let progress_token = meta.get_progress_token();
        meta.remove("progressToken");
        Arc::new(Self {
            peer: context.peer.clone(),
            request_id: context.id.clone(),
            progress: progress_token
                .is_some()
                .then(|| ProgressLane::new(context.peer.clone())),
            progress_token,
            meta,
            cancelled: context.ct.clone(),
        })
    }

    /// Queues a progress notification for the client, under its own token.
    fn progress(&self, mut params: ProgressNotificationParam) {
        if let (Some(lane), Some(token)) = (&self.progress, &self.progress_token) {
            params.progress_token = token.clone();
            if lane.queue.send(params).is_ok() {
                lane.queued.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Waits (briefly) until the progress notifications queued so far have reached the client,
    /// so that the response follows them.
    pub(crate) async fn flush_progress(&self) {
        if let Some(lane) = &self.progress {
            let target = lane.queued.load(Ordering::SeqCst);
            let mut forwarded = lane.forwarded.clone();
            let _ =
                tokio::time::timeout(PROGRESS_FLUSH, forwarded.wait_for(|n| *n >= target)).await;
        }
    }

    /// Whether the client's request is of the 2026-07-28 revision or later (per-request
    /// `_meta`, `input_required` results).
    pub(crate) fn modern(&self) -> bool {
        self.meta
            .protocol_version()
            .or_else(|| self.peer.peer_info().map(|i| i.protocol_version.clone()))
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
    }

    /// The `_meta` to send upstream: the client's, so a 2026-07-28 request stays one (its
    /// protocol version and capabilities travel with it), unless the upstream refuses that
    /// revision (`legacy_only`), in which case the revision's keys are left out.
    pub(crate) fn upstream_meta(&self, legacy_only: bool) -> RequestMetaObject {
        let mut meta = self.meta.clone();
        if legacy_only {
            meta.retain(|key, _| !key.starts_with("io.modelcontextprotocol/"));
        }
        meta
    }

    /// Sends `request` to the client, on the stream of its request.
    pub(crate) async fn ask(&self, mut request: ServerRequest) -> Result<ClientResult, ErrorData> {
        request
            .extensions_mut()
            .insert(OriginatingRequestId(self.request_id.clone()));
        let peer = self.peer.clone();
        // A task of its own: a request sent from inside another request's handler is tagged with
        // that request (a task-local), which here would be the upstream's, not the client's.
        tokio::spawn(async move { peer.send_request(request).await })
            .await
            .map_err(|e| ErrorData::internal_error(format!("relaying failed: {e}"), None))?
            .map_err(|e| match e {
                ServiceError::McpError(error) => error,
                other => {
                    ErrorData::internal_error(format!("the client did not answer: {other}"), None)
                }
            })
    }
}

/// The clients subscribed to each resource URI: (session, its peer).
type Subscribers = HashMap<String, Vec<(String, Subscriber)>>;

/// Where a resource's updates go: a 2025-11-25 session that called `resources/subscribe`, or a
/// 2026-07-28 client's `subscriptions/listen` stream that named the resource.
#[derive(Clone)]
pub(crate) enum Subscriber {
    Session(Peer<RoleServer>),
    Stream(SubscriptionSink),
}

impl Subscriber {
    /// A closed session; a stream is taken out when its listen request ends.
    fn is_gone(&self) -> bool {
        match self {
            Self::Session(peer) => peer.is_transport_closed(),
            Self::Stream(_) => false,
        }
    }

    async fn updated(&self, params: ResourceUpdatedNotificationParam) {
        let _ = match self {
            Self::Session(peer) => peer.notify_resource_updated(params).await.is_ok(),
            Self::Stream(sink) => sink.notify_resource_updated(params.uri).await.is_ok(),
        };
    }
}

/// The mark a forwarded request carries (in its extensions) to the transport: its relay, and
/// whether the gateway has stopped waiting for it (then it is not recorded, should it be written
/// after all).
#[derive(Clone)]
pub(crate) struct Forwarded {
    relay: Arc<Relay>,
    finished: Arc<AtomicBool>,
}

impl Forwarded {
    pub(crate) fn new(relay: Arc<Relay>) -> Self {
        Self {
            relay,
            finished: Arc::default(),
        }
    }
}

struct Route {
    progress_token: Option<ProgressToken>,
    forwarded: Forwarded,
}

/// Where one upstream's traffic for clients goes: the forwarded requests in flight, and the
/// clients subscribed to each resource. Outlives connections (subscriptions survive a restart of
/// the gateway's bookkeeping; the upstream is asked again on the next subscribe).
#[derive(Default)]
pub(crate) struct Routes {
    in_flight: Mutex<Vec<Route>>,
    subscribers: Mutex<Subscribers>,
}

impl Routes {
    fn flights(&self) -> std::sync::MutexGuard<'_, Vec<Route>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn register(&self, progress_token: Option<ProgressToken>, forwarded: &Forwarded) {
        let mut flights = self.flights();
        if !forwarded.finished.load(Ordering::SeqCst) {
            flights.push(Route {
                progress_token,
                forwarded: forwarded.clone(),
            });
        }
    }

    /// Forgets a forwarded request (answered, cancelled or abandoned), written or not.
    pub(crate) fn finish(&self, forwarded: &Forwarded) {
        let mut flights = self.flights();
        forwarded.finished.store(true, Ordering::SeqCst);
        flights.retain(|r| !Arc::ptr_eq(&r.forwarded.finished, &forwarded.finished));
    }

    fn by_progress(&self, token: &ProgressToken) -> Option<Arc<Relay>> {
        self.flights()
            .iter()
            .find(|r| r.progress_token.as_ref() == Some(token))
            .map(|r| r.forwarded.relay.clone())
    }

    fn latest(&self) -> Option<Arc<Relay>> {
        self.flights().last().map(|r| r.forwarded.relay.clone())
    }

    /// Records that `session` (a session id, or a listen stream's own key) wants
    /// `notifications/resources/updated` for `uri`.
    pub(crate) fn subscribe(&self, uri: &str, session: &str, subscriber: Subscriber) {
        let mut subs = self.subs();
        let list = subs.entry(uri.to_owned()).or_default();
        list.retain(|(s, p)| s != session && !p.is_gone());
        list.push((session.to_owned(), subscriber));
    }

    /// Forgets `session`'s subscription to `uri`; returns whether anyone else still has one.
    pub(crate) fn unsubscribe(&self, uri: &str, session: &str) -> bool {
        let mut subs = self.subs();
        let Some(list) = subs.get_mut(uri) else {
            return false;
        };
        list.retain(|(s, p)| s != session && !p.is_gone());
        if list.is_empty() {
            subs.remove(uri);
            return false;
        }
        true
    }

    fn subscribers(&self, uri: &str) -> Vec<Subscriber> {
        self.subs()
            .get(uri)
            .map(|list| list.iter().map(|(_, p)| p.clone()).collect())
            .unwrap_or_default()
    }
}

/// Something an upstream told the gateway outside a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamEvent {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/resources/list_changed`.
    Resources,
    /// `notifications/prompts/list_changed`.
    Prompts,
}

/// The client side of one upstream session.
#[derive(Clone)]
pub(crate) struct UpstreamHandler {
    server: String,
    events: mpsc::UnboundedSender<UpstreamEvent>,
    routes: Arc<Routes>,
}

impl UpstreamHandler {
    /// Asks the client of the most recent request in flight (see the module docs).
    async fn ask(&self, request: ServerRequest) -> Result<ClientResult, ErrorData> {
        let Some(relay) = self.routes.latest() else {
            return Err(ErrorData::invalid_request(
                "no client request is in flight to answer this request",
                None,
            ));
        };
        relay.ask(request).await
    }
}

fn unexpected(what: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("the client answered {what} with another result"),
        None,
    )
}

/// What the gateway declares to upstreams: whatever the clients behind it can do. A request a
/// client cannot answer fails there, and its error goes back to the upstream.
fn client_config() -> ClientConfig {
    let capabilities = ClientCapabilities::builder()
        .enable_roots()
        .enable_sampling()
        .enable_elicitation()
        .build();
    ClientConfig::new(
        capabilities,
        Implementation::new("switchboard-gateway", env!("CARGO_PKG_VERSION")),
    )
}

/// The `_meta` of a request the gateway itself makes as a 2026-07-28 client.
pub(crate) fn modern_meta() -> RequestMetaObject {
    let config = client_config();
    RequestMetaObject::with_client_context(
        ProtocolVersion::V_2026_07_28,
        config.client_info,
        config.capabilities,
    )
}

impl ClientHandler for UpstreamHandler {
    fn get_info(&self) -> ClientConfig {
        client_config()
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        match self.ask(request).await? {
            ClientResult::CreateMessageResult(result) => Ok(*result),
            _ => Err(unexpected("sampling/createMessage")),
        }
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        match self
            .ask(ServerRequest::ListRootsRequest(ListRootsRequest::default()))
            .await?
        {
            ClientResult::ListRootsResult(result) => Ok(result),
            _ => Err(unexpected("roots/list")),
        }
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        match self
            .ask(ServerRequest::ElicitRequest(ElicitRequest::new(params)))
            .await?
        {
            ClientResult::ElicitResult(result) => Ok(result),
            _ => Err(unexpected("elicitation/create")),
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        match self.routes.latest() {
            Some(relay) => {
                let _ = relay.peer.notify_logging_message(params).await;
            }
            None => {
                tracing::debug!(upstream = %self.server, "log message with no client request in flight: {:?}", params.data)
            }
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        for subscriber in self.routes.subscribers(&params.uri) {
            subscriber.updated(params.clone()).await;
        }
    }

    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        tracing::info!(upstream = %self.server, "upstream tool list changed");
        let _ = self.events.send(UpstreamEvent::Tools);
        std::future::ready(())
    }

    fn on_resource_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        let _ = self.events.send(UpstreamEvent::Resources);
        std::future::ready(())
    }

    fn on_prompt_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        let _ = self.events.send(UpstreamEvent::Prompts);
        std::future::ready(())
    }
}

/// One live session with an upstream.
pub(crate) struct Connection {
    /// The rmcp client; dropping it closes the transport (and stops a child).
    pub(crate) service: RunningService<RoleClient, UpstreamHandler>,
    /// The child's process id (stdio upstreams).
    pub(crate) pid: Option<u32>,
    /// Cancelled when the transport has ended.
    pub(crate) closed: CancellationToken,
}

/// Opens a session: spawns the child or connects over HTTP, then starts MCP. The
/// `initialize` handshake (2025-11-25) comes first: over it the gateway can send both revisions'
/// requests (a 2026-07-28 request carries its revision in `_meta`). A server that refuses the
/// handshake because it speaks only 2026-07-28 is reconnected with `server/discover`.
///
/// # Errors
/// A message saying what failed (spawn, connect, handshake); secrets are scrubbed.
pub(crate) async fn connect(
    server: &ResolvedServer,
    events: mpsc::UnboundedSender<UpstreamEvent>,
    routes: Arc<Routes>,
    secrets: &SecretSet,
) -> Result<Connection, String> {
    let handler = UpstreamHandler {
        server: server.config.name.clone(),
        events,
        routes,
    };
    match open(
        server,
        handler.clone(),
        ClientLifecycleMode::Initialize,
        secrets,
    )
    .await
    {
        Err(Opened::Refused(_)) => {
            let modern = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            open(server, handler, modern, secrets)
                .await
                .map_err(Opened::into_message)
        }
        other => other.map_err(Opened::into_message),
    }
}

/// Why opening a session failed.
enum Opened {
    /// The server refused the handshake's protocol revision.
    Refused(String),
    /// Anything else.
    Failed(String),
}

impl Opened {
    fn into_message(self) -> String {
        match self {
            Self::Refused(m) | Self::Failed(m) => m,
        }
    }
}

async fn open(
    server: &ResolvedServer,
    handler: UpstreamHandler,
    lifecycle: ClientLifecycleMode,
    secrets: &SecretSet,
) -> Result<Connection, Opened> {
    let name = &server.config.name;
    let closed = CancellationToken::new();
    let routes = handler.routes.clone();
    let failed = |e: ClientInitializeError, what: String| {
        let refused = matches!(
            &e,
            ClientInitializeError::JsonRpcError(error)
                if error.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        );
        let message = format!("{what}: {}", secrets.scrub(&e.to_string()));
        if refused {
            Opened::Refused(message)
        } else {
            Opened::Failed(message)
        }
    };
    let (service, pid) = match &server.transport {
        ResolvedTransport::Stdio { .. } => {
            let (transport, pid) =
                stdio::spawn(name, &server.transport, secrets).map_err(Opened::Failed)?;
            let watched = Watched::new(transport, closed.clone(), routes);
            let service = handler
                .serve_with_lifecycle(watched, lifecycle)
                .await
                .map_err(|e| failed(e, "MCP handshake failed".to_owned()))?;
            (service, pid)
        }
        ResolvedTransport::Http {
            url,
            headers,
            oauth,
        } => {
            let transport = http::transport(name, url, headers, oauth.as_ref(), secrets)
                .map_err(Opened::Failed)?;
            let watched = Watched::new(transport, closed.clone(), routes);
            let service = handler
                .serve_with_lifecycle(watched, lifecycle)
                .await
                .map_err(|e| failed(e, format!("cannot connect to {url}")))?;
            (service, None)
        }
    };
    Ok(Connection {
        service,
        pid,
        closed,
    })
}

/// A transport that cancels a token when its receiving side ends, and records the relay of
/// each forwarded request as it is written (see the module docs).
pub(crate) struct Watched<T> {
    inner: T,
    closed: CancellationToken,
    routes: Arc<Routes>,
}

impl<T> Watched<T> {
    fn new(inner: T, closed: CancellationToken, routes: Arc<Routes>) -> Self {
        Self {
            inner,
            closed,
            routes,
        }
    }
}

impl<T> Transport<RoleClient> for Watched<T>
where
    T: Transport<RoleClient>,
{
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(request) = &item
            && let Some(forwarded) = request.request.extensions().get::<Forwarded>()
        {
            let token = request.request.get_meta().get_progress_token();
            self.routes.register(token, forwarded);
        }
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        let closed = self.closed.clone();
        let routes = self.routes.clone();
        let next = self.inner.receive();
        async move {
            let message = next.await;
            match &message {
                None => closed.cancel(),
                // Progress is relayed here, in the order it arrives, not by the handler.
                Some(JsonRpcMessage::Notification(notification)) => {
                    if let ServerNotification::ProgressNotification(progress) =
                        &notification.notification
                        && let Some(relay) = routes.by_progress(&progress.params.progress_token)
                    {
                        relay.progress(progress.params.clone());
                    }
                }
                Some(_) => {}
            }
            message
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.closed.cancel();
        self.inner.close()
    }
}
