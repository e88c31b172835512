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
use super::{ConnectError, http, stdio};
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
/// A [`ConnectError`] saying what failed (spawn, transport, handshake); secrets are scrubbed.
pub(crate) async fn connect(
    server: &ResolvedServer,
    events: Notifier,
    routes: Arc<Routes>,
    secrets: &SecretSet,
) -> Result<Connection, ConnectError> {
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
                .map_err(Opened::into_error)
        }
        other => other.map_err(Opened::into_error),
    }
}

/// Why opening a session failed, as far as [`connect`] needs to know: a refused protocol
/// revision is retried with `server/discover`.
enum Opened {
    /// The server refused the handshake's protocol revision.
    Refused(ConnectError),
    /// Anything else.
    Failed(ConnectError),
}

impl Opened {
    fn into_error(self) -> ConnectError {
        match self {
            Self::Refused(e) | Self::Failed(e) => e,
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
    // The handshake's error, scrubbed, wrapped by `error`; a refused revision is kept apart.
    let failed = |e: ClientInitializeError, error: &dyn Fn(String) -> ConnectError| {
        let refused = matches!(
            &e,
            ClientInitializeError::JsonRpcError(error)
                if error.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        );
        let error = error(secrets.scrub(&e.to_string()));
        if refused {
            Opened::Refused(error)
        } else {
            Opened::Failed(error)
        }
    };
    let (service, pid) = match &server.transport {
        ResolvedTransport::Stdio {
            program,
            args,
            env,
            cwd,
        } => {
            let (transport, pid) = stdio::spawn(name, program, args, env, cwd.as_deref(), secrets)
                .map_err(Opened::Failed)?;
            let watched = Watched::new(transport, closed.clone(), routes);
            let service = handler
                .serve_with_lifecycle(watched, lifecycle)
                .await
                .map_err(|e| failed(e, &|reason| ConnectError::Handshake { reason }))?;
            (service, pid)
        }
        ResolvedTransport::Http {
            url,
            headers,
            oauth,
            ..
        } => {
            let transport = http::transport(name, url, headers, oauth.as_ref(), secrets)
                .map_err(Opened::Failed)?;
            let watched = Watched::new(transport, closed.clone(), routes);
            let service = handler
                .serve_with_lifecycle(watched, lifecycle)
                .await
                .map_err(|e| {
                    failed(e, &|reason| ConnectError::Unreachable {
                        url: url.clone(),
                        reason,
                    })
                })?;
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
