//! Serving the gateway to MCP clients: the `ServerHandler` every downstream connection uses, over
//! stdio and over Streamable HTTP (`/mcp`, both protocol eras: 2025-11-25 sessions with the
//! initialize handshake, and stateless 2026-07-28). HTTP validates Host and Origin (DNS
//! rebinding), maps bearer tokens to clients (401 with `WWW-Authenticate` otherwise), refuses to
//! bind a non-loopback address without client tokens, and serves `/healthz` and `/readyz`
//! ([`http`]).

mod http;

pub use http::{is_loopback, serve_http};

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorData, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, ServerNotification, SubscriptionFilter,
    ToolListChangedNotification,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ServerHandler, ServiceExt};
use tokio_util::sync::CancellationToken;

use crate::caller::{ApprovalChannel, Caller};
use crate::error::GatewayError;
use crate::gateway::{CallRequest, Gateway};
use crate::policy::Outcome;
use crate::policy::approval::ElicitationApprover;

/// How long a human has to answer an approval request sent by elicitation.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(300);

/// The identity the HTTP auth middleware attached to a request.
#[derive(Debug, Clone)]
pub(crate) struct Identity(pub(crate) Caller);

/// One downstream connection's view of the gateway.
#[derive(Clone)]
pub struct Downstream {
    gateway: Gateway,
    /// The caller of a stdio connection; HTTP callers come from each request.
    fixed: Option<Caller>,
}

impl Downstream {
    /// The handler for a stdio connection.
    pub fn stdio(gateway: Gateway) -> Self {
        let caller = gateway.stdio_caller(uuid::Uuid::new_v4().to_string());
        Self {
            gateway,
            fixed: Some(caller),
        }
    }

    pub(crate) fn http(gateway: Gateway) -> Self {
        Self {
            gateway,
            fixed: None,
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let mut caller = match &self.fixed {
            Some(c) => c.clone(),
            None => {
                let parts = ctx.extensions.get::<::http::request::Parts>();
                let identity = parts.and_then(|p| p.extensions.get::<Identity>());
                let Some(Identity(caller)) = identity else {
                    return Err(ErrorData::invalid_request("request has no identity", None));
                };
                let mut caller = caller.clone();
                caller.session = parts
                    .and_then(|p| p.headers.get("mcp-session-id"))
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("stateless")
                    .to_owned();
                caller
            }
        };
        let elicitation = ctx
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        caller.approval = match (elicitation, modern) {
            (false, _) => caller.approval,
            (true, true) => ApprovalChannel::InputRequired,
            (true, false) => ApprovalChannel::Approver(Arc::new(ElicitationApprover::new(
                ctx.peer.clone(),
                APPROVAL_TIMEOUT,
            ))),
        };
        Ok(caller)
    }
}

fn not_found(what: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unknown {what}"), None)
}

impl ServerHandler for Downstream {
    fn get_info(&self) -> ServerConfig {
        let name = &self.gateway.config().config.gateway.name;
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(name.clone(), env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Switchboard gateway: tools of several MCP servers, named <server>__<tool>. Every \
             call is policed (scopes, rate limits, approvals, timeouts) and audited.",
        )
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut changes = self.gateway.subscribe_list_changed();
        let shutdown = self.gateway.shutdown_token();
        let peer = context.peer;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    change = changes.recv() => match change {
                        Ok(()) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            if peer.notify_tool_list_changed().await.is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                }
            }
        });
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    /// 2026-07-28 clients (no session) get `tools/list_changed` through `subscriptions/listen`.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.gateway.subscribe_list_changed();
        let shutdown = self.gateway.shutdown_token();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                () = shutdown.cancelled() => return Ok(()),
                change = changes.recv() => match change {
                    Ok(()) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let notification = ServerNotification::ToolListChangedNotification(
                            ToolListChangedNotification::default(),
                        );
                        if context.sink().send(notification).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(_) => return Ok(()),
                },
            }
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&context)?;
        Ok(ListToolsResult::with_all_items(
            self.gateway.list_tools(&caller).await,
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let request = CallRequest {
            name: request.name.into_owned(),
            arguments: request.arguments,
            input_responses: request.input_responses,
            request_state: request.request_state,
        };
        Ok(match self.gateway.call(&caller, request).await {
            Outcome::InputRequired(result) => CallToolResponse::InputRequired(*result),
            outcome => CallToolResponse::Complete(outcome.to_result()),
        })
    }

    // Prompts follow the tool scopes by their exposed name; a server's resources are visible to
    // callers that may use at least one of its tools.
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        Ok(ListResourcesResult::with_all_items(
            catalog
                .resources()
                .iter()
                .filter(|(server, _)| self.gateway.sees_server(&caller, server))
                .map(|(_, r)| r.clone())
                .collect(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        Ok(ListResourceTemplatesResult::with_all_items(
            catalog
                .templates()
                .iter()
                .filter(|(server, _)| self.gateway.sees_server(&caller, server))
                .map(|(_, t)| t.clone())
                .collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        let server = catalog
            .resource_server(&request.uri)
            .filter(|server| self.gateway.sees_server(&caller, server))
            .ok_or_else(|| not_found("resource"))?;
        let upstream = self
            .gateway
            .upstream(server)
            .ok_or_else(|| not_found("resource"))?;
        let params = ReadResourceRequestParams::new(request.uri);
        upstream
            .read_resource(params, upstream.server.config.timeout)
            .await
            .map(ReadResourceResponse::Complete)
            .map_err(|e| ErrorData::internal_error(e.message(server), None))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        Ok(ListPromptsResult::with_all_items(
            catalog
                .prompts()
                .filter(|p| caller.access.permits(&p.prompt.name))
                .map(|p| p.prompt.clone())
                .collect(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        let prompt = catalog
            .prompt(&request.name)
            .filter(|_| caller.access.permits(&request.name))
            .ok_or_else(|| not_found("prompt"))?;
        let upstream = self
            .gateway
            .upstream(&prompt.server)
            .ok_or_else(|| not_found("prompt"))?;
        let mut params = GetPromptRequestParams::new(prompt.upstream_name.clone());
        params.arguments = request.arguments;
        upstream
            .get_prompt(params, upstream.server.config.timeout)
            .await
            .map(GetPromptResponse::Complete)
            .map_err(|e| ErrorData::internal_error(e.message(&prompt.server), None))
    }
}

/// Serves the gateway on stdin/stdout until the client disconnects or `shutdown` is cancelled.
///
/// # Errors
/// [`GatewayError::Stdio`] when the handshake fails.
pub async fn serve_stdio(
    gateway: Gateway,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let running = Downstream::stdio(gateway)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| GatewayError::Stdio(e.to_string()))?;
    let cancel = running.cancellation_token();
    tokio::select! {
        result = running.waiting() => {
            result.map_err(|e| GatewayError::Stdio(e.to_string()))?;
        }
        () = shutdown.cancelled() => cancel.cancel(),
    }
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
