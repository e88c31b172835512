//! The client side of one upstream session ([`UpstreamHandler`]): list changes become events for
//! the supervisor; what belongs to a client (sampling, elicitation, roots, log messages, resource
//! updates) goes back to it through [`super::Routes`].

#![expect(
    deprecated,
    reason = "sampling, roots and logging are relayed for clients of the 2025-11-25 revision"
)]

use std::future::Future;
use std::sync::Arc;

use rmcp::ClientHandler;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientResult, CreateMessageRequest,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequest, ElicitRequestParams,
    ElicitResult, ErrorData, Implementation, ListRootsRequest, ListRootsResult,
    LoggingMessageNotificationParam, ProtocolVersion, RequestMetaObject,
    ResourceUpdatedNotificationParam, ServerRequest,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient};

use super::routes::Routes;
use crate::pending::Notifier;

/// The client side of one upstream session.
#[derive(Clone)]
pub(crate) struct UpstreamHandler {
    pub(super) server: String,
    /// Told when a list changes: the supervisor lists everything again.
    pub(super) events: Notifier,
    pub(super) routes: Arc<Routes>,
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
        self.events.notify();
        std::future::ready(())
    }

    fn on_resource_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.events.notify();
        std::future::ready(())
    }

    fn on_prompt_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.events.notify();
        std::future::ready(())
    }
}
