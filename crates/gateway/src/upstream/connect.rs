//! Opening a session with an upstream ([`connect`]): the transport, the handshake (falling back
//! to `server/discover` for servers that speak only 2026-07-28), and [`Watched`], the transport
//! wrapper that notices the end of the connection and records each forwarded request's relay.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use rmcp::model::{
    ErrorCode, GetExtensions, GetMeta, JsonRpcMessage, ProtocolVersion, ServerNotification,
};
use rmcp::service::{
    ClientInitializeError, ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService,
    RxJsonRpcMessage, TxJsonRpcMessage,
};
use rmcp::transport::Transport;
use tokio_util::sync::CancellationToken;

use super::handler::UpstreamHandler;
use super::routes::{Forwarded, Routes};
use super::{http, stdio};
use crate::config::{ResolvedServer, ResolvedTransport};
use crate::pending::Notifier;
use crate::secrets::SecretSet;

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
    events: Notifier,
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
