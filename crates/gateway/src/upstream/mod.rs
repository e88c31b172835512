//! Connections to upstream MCP servers: one transport per file ([`stdio`], [`http`]), and the
//! client-side handler that turns upstream notifications into events for the supervisor.
//!
//! A [`Connection`] is one live session with one upstream. Its `closed` token is cancelled the
//! moment the transport ends (the child exited, the HTTP stream failed), so calls in flight can
//! fail at once instead of waiting for their timeout.

pub(crate) mod http;
pub(crate) mod oauth;
pub(crate) mod stdio;

use std::borrow::Cow;
use std::future::Future;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{
    NotificationContext, RoleClient, RunningService, RxJsonRpcMessage, TxJsonRpcMessage,
};
use rmcp::transport::Transport;
use rmcp::{ClientHandler, ServiceExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{ResolvedServer, ResolvedTransport};
use crate::secrets::SecretSet;

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
}

impl ClientHandler for UpstreamHandler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("switchboard-gateway", env!("CARGO_PKG_VERSION")),
        )
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

/// Opens a session: spawns the child or connects over HTTP, then runs the MCP handshake.
///
/// # Errors
/// A message saying what failed (spawn, connect, handshake); secrets are scrubbed.
pub(crate) async fn connect(
    server: &ResolvedServer,
    events: mpsc::UnboundedSender<UpstreamEvent>,
    secrets: &SecretSet,
) -> Result<Connection, String> {
    let name = server.config.name.clone();
    let handler = UpstreamHandler {
        server: name.clone(),
        events,
    };
    let closed = CancellationToken::new();
    let (service, pid) = match &server.transport {
        ResolvedTransport::Stdio { .. } => {
            let (transport, pid) = stdio::spawn(&name, &server.transport, secrets)?;
            let watched = Watched::new(transport, closed.clone());
            let service = handler
                .serve(watched)
                .await
                .map_err(|e| format!("MCP handshake failed: {}", secrets.scrub(&e.to_string())))?;
            (service, pid)
        }
        ResolvedTransport::Http {
            url,
            headers,
            oauth,
        } => {
            let transport = http::transport(&name, url, headers, oauth.as_ref(), secrets)?;
            let watched = Watched::new(transport, closed.clone());
            let service = handler.serve(watched).await.map_err(|e| {
                format!("cannot connect to {url}: {}", secrets.scrub(&e.to_string()))
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

/// A transport that cancels a token when its receiving side ends.
pub(crate) struct Watched<T> {
    inner: T,
    closed: CancellationToken,
}

impl<T> Watched<T> {
    fn new(inner: T, closed: CancellationToken) -> Self {
        Self { inner, closed }
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
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        let closed = self.closed.clone();
        let next = self.inner.receive();
        async move {
            let message = next.await;
            if message.is_none() {
                closed.cancel();
            }
            message
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.closed.cancel();
        self.inner.close()
    }
}
