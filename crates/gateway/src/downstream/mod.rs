//! Serving the gateway to MCP clients: the `ServerHandler` every downstream connection uses, over
//! stdio and over Streamable HTTP (`/mcp`, both protocol eras: 2025-11-25 sessions with the
//! initialize handshake, and stateless 2026-07-28). Besides the aggregated catalog it forwards
//! what a client asks of one server — tool calls (through the policy pipeline), prompts,
//! resources, completion, log levels, resource subscriptions — with the client's `_meta`, and
//! relays back what the server sends while serving it (see [`crate::upstream`]). HTTP validates Host and Origin (DNS
//! rebinding), maps bearer tokens to clients (401 with `WWW-Authenticate` otherwise), refuses to
//! bind a non-loopback address without client tokens, and serves `/healthz` and `/readyz`
//! ([`http`]).

#![expect(
    deprecated,
    reason = "logging and resource subscriptions are forwarded for 2025-11-25 clients"
)]

mod http;

pub use http::{is_loopback, serve_http};

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientRequest, CompleteRequest, CompleteRequestParams,
    CompleteResult, ErrorData, GetPromptRequest, GetPromptRequestParams, GetPromptResponse,
    Implementation, InputRequest, InputRequests, InputResponses, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse,
    Reference, ResultType, ServerCapabilities, ServerConfig, ServerNotification, ServerRequest,
    ServerResult, SetLevelRequest, SetLevelRequestParams, SubscribeRequest, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequest, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ServerHandler, ServiceExt};
use tokio_util::sync::CancellationToken;

use crate::caller::{ApprovalChannel, Caller};
use crate::catalog::ListChanges;
use crate::error::GatewayError;
use crate::gateway::{CallRequest, Gateway};
use crate::policy::Outcome;
use crate::policy::approval::ElicitationApprover;
use crate::supervisor::Upstream;
use crate::upstream::{Relay, Subscriber};

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

fn resource_not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no server offers the resource {uri}"),
        Some(serde_json::json!({ "uri": uri })),
    )
}

fn unexpected(method: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("the server answered {method} with another result"),
        None,
    )
}

/// Rounds of `input_required` the gateway answers for a handshake-era client, at most.
const MAX_INPUT_ROUNDS: usize = 8;

/// Answers an upstream's input requests by asking the client of `relay`.
async fn answer_inputs(
    relay: &Relay,
    requests: InputRequests,
) -> Result<InputResponses, ErrorData> {
    let mut responses = InputResponses::new();
    for (key, request) in requests {
        let request = match request {
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            _ => {
                return Err(ErrorData::internal_error(
                    format!("the server asked for an input ({key}) the gateway cannot relay"),
                    None,
                ));
            }
        };
        let answer = relay.ask(request).await?;
        let answer = serde_json::to_value(answer)
            .map_err(|e| ErrorData::internal_error(format!("unreadable answer: {e}"), None))?;
        responses.insert(key, answer);
    }
    Ok(responses)
}

/// Sends `request` to `upstream` for the client of `context`, within the server's timeout.
async fn forward(
    upstream: &Upstream,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, ErrorData> {
    forward_relayed(upstream, request, Some(Relay::of(context))).await
}

/// [`forward`] with the caller's relay, or with none: the gateway's own request, in the era of
/// its connection to the upstream.
async fn forward_relayed(
    upstream: &Upstream,
    request: ClientRequest,
    relay: Option<Arc<Relay>>,
) -> Result<ServerResult, ErrorData> {
    let limit = upstream.server.config.timeout;
    match tokio::time::timeout(limit, upstream.forward(request, relay, limit)).await {
        Ok(result) => result.map_err(|e| e.to_error(&upstream.name)),
        Err(_) => Err(ErrorData::internal_error(
            format!(
                "server {} did not answer within {}s",
                upstream.name,
                limit.as_secs_f64()
            ),
            None,
        )),
    }
}

impl ServerHandler for Downstream {
    fn get_info(&self) -> ServerConfig {
        let name = &self.gateway.config().config.gateway.name;
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_completions()
                .enable_prompts()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_prompts_list_changed()
                .enable_resources_list_changed()
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
                    change = changes.recv() => {
                        let Some(changes) = received(change) else { return };
                        let sent = async {
                            if changes.tools {
                                peer.notify_tool_list_changed().await?;
                            }
                            if changes.prompts {
                                peer.notify_prompt_list_changed().await?;
                            }
                            if changes.resources {
                                peer.notify_resource_list_changed().await?;
                            }
                            Ok::<_, rmcp::service::ServiceError>(())
                        };
                        if sent.await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }

    /// Tool list changes, and updates of any resources named. Which of those resources the
    /// caller may see is decided in [`Self::listen`], so the acknowledgement tells nothing about
    /// resources hidden from it.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed()
            .build();
        accepted
            .resource_subscriptions
            .clone_from(&requested.resource_subscriptions);
        Some(accepted)
    }

    /// 2026-07-28 clients (no session) get the `list_changed` notifications they asked for
    /// through `subscriptions/listen`, and `resources/updated` for the resources they named and
    /// may see.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let _resources = self.listen_to_resources(&context).await?;
        let mut changes = self.gateway.subscribe_list_changed();
        let shutdown = self.gateway.shutdown_token();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                () = shutdown.cancelled() => return Ok(()),
                change = changes.recv() => {
                    let Some(changes) = received(change) else { return Ok(()) };
                    let accepted = context.accepted();
                    let wanted = [
                        (changes.tools && accepted.tools_list_changed == Some(true),
                         ServerNotification::ToolListChangedNotification(Default::default())),
                        (changes.prompts && accepted.prompts_list_changed == Some(true),
                         ServerNotification::PromptListChangedNotification(Default::default())),
                        (changes.resources && accepted.resources_list_changed == Some(true),
                         ServerNotification::ResourceListChangedNotification(Default::default())),
                    ];
                    for (_, notification) in wanted.into_iter().filter(|(wanted, _)| *wanted) {
                        if context.sink().send(notification).await.is_err() {
                            return Ok(());
                        }
                    }
                }
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
        let mut request = CallRequest {
            name: request.name.into_owned(),
            arguments: request.arguments,
            input_responses: request.input_responses,
            request_state: request.request_state,
        };
        let relay = Relay::of(&context);
        let modern = relay.modern();
        for _ in 0..=MAX_INPUT_ROUNDS {
            match self
                .gateway
                .call_relayed(&caller, request.clone(), relay.clone())
                .await?
            {
                Outcome::InputRequired(result) if modern => {
                    return Ok(CallToolResponse::InputRequired(*result));
                }
                // A handshake-era client cannot take `input_required` (from an upstream that
                // speaks only 2026-07-28): the gateway asks it and retries, each round a call
                // through the whole pipeline.
                Outcome::InputRequired(result) => {
                    let requests = result.input_requests.unwrap_or_default();
                    request.input_responses = Some(answer_inputs(&relay, requests).await?);
                    request.request_state = result.request_state;
                }
                outcome => {
                    let mut result = outcome.to_result();
                    // A handshake-era server leaves it out; 2026-07-28 requires it.
                    result.result_type.get_or_insert(ResultType::COMPLETE);
                    return Ok(CallToolResponse::Complete(result));
                }
            }
        }
        Err(ErrorData::internal_error(
            format!("the server still asked for input after {MAX_INPUT_ROUNDS} rounds"),
            None,
        ))
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
            .ok_or_else(|| resource_not_found(&request.uri))?;
        let upstream = self
            .gateway
            .upstream(server)
            .ok_or_else(|| resource_not_found(&request.uri))?;
        let mut params = ReadResourceRequestParams::new(request.uri);
        params.input_responses = request.input_responses;
        params.request_state = request.request_state;
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params));
        match forward(&upstream, request, &context).await? {
            ServerResult::ReadResourceResult(mut result) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(ReadResourceResponse::Complete(result))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(ReadResourceResponse::InputRequired(result))
            }
            _ => Err(unexpected("resources/read")),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        let modern = Relay::of(&context).modern();
        Ok(ListPromptsResult::with_all_items(
            catalog
                .prompts()
                .filter(|p| caller.access.permits(&p.prompt.name) && (modern || !p.modern_only))
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
        params.input_responses = request.input_responses;
        params.request_state = request.request_state;
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
        match forward(&upstream, request, &context).await? {
            ServerResult::GetPromptResult(mut result) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(GetPromptResponse::Complete(result))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(GetPromptResponse::InputRequired(result))
            }
            _ => Err(unexpected("prompts/get")),
        }
    }

    /// Completion of a prompt argument goes to the prompt's server (under its own name), of a
    /// resource template argument to the server whose template it is.
    async fn complete(
        &self,
        mut request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let caller = self.caller(&context)?;
        let catalog = self.gateway.catalog();
        let server = match &mut request.r#ref {
            Reference::Prompt(reference) => {
                let prompt = catalog
                    .prompt(&reference.name)
                    .filter(|_| caller.access.permits(&reference.name))
                    .ok_or_else(|| not_found("prompt"))?;
                reference.name.clone_from(&prompt.upstream_name);
                prompt.server.clone()
            }
            Reference::Resource(reference) => catalog
                .template_server(&reference.uri)
                .filter(|server| self.gateway.sees_server(&caller, server))
                .ok_or_else(|| not_found("resource template"))?
                .to_owned(),
            _ => return Err(not_found("kind of completion reference")),
        };
        let upstream = self
            .gateway
            .upstream(&server)
            .ok_or_else(|| not_found("server"))?;
        request.meta = None;
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(request));
        match forward(&upstream, request, &context).await? {
            ServerResult::CompleteResult(mut result) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(result)
            }
            _ => Err(unexpected("completion/complete")),
        }
    }

    /// The level applies to every server the caller can use; their log messages reach the
    /// client of the request they were sent during.
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context)?;
        for upstream in self.gateway.upstreams() {
            if !self.gateway.sees_server(&caller, &upstream.name) || !upstream.has_logging() {
                continue;
            }
            let params = SetLevelRequestParams::new(request.level);
            let request = ClientRequest::SetLevelRequest(SetLevelRequest::new(params));
            forward(upstream, request, &context).await?;
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context)?;
        let upstream = self.resource_upstream(&caller, &request.uri)?;
        let subscriber = Subscriber::Session(context.peer.clone());
        let relay = Some(Relay::of(&context));
        subscribe_resource(&upstream, &request.uri, &caller.session, subscriber, relay).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context)?;
        let upstream = self.resource_upstream(&caller, &request.uri)?;
        let relay = Some(Relay::of(&context));
        unsubscribe_resource(&upstream, &request.uri, &caller.session, relay).await
    }
}

/// Routes `uri`'s updates to `subscriber` (known as `key`: a session id, or a listen stream's
/// own) and asks the upstream for them; undone when the upstream refuses.
async fn subscribe_resource(
    upstream: &Upstream,
    uri: &str,
    key: &str,
    subscriber: Subscriber,
    relay: Option<Arc<Relay>>,
) -> Result<(), ErrorData> {
    upstream.routes.subscribe(uri, key, subscriber);
    let params = SubscribeRequestParams::new(uri.to_owned());
    let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(params));
    if let Err(error) = forward_relayed(upstream, request, relay).await {
        upstream.routes.unsubscribe(uri, key);
        return Err(error);
    }
    Ok(())
}

/// Stops routing `uri`'s updates to `key`; the upstream keeps sending them while anyone else is
/// subscribed, and is told to stop otherwise.
async fn unsubscribe_resource(
    upstream: &Upstream,
    uri: &str,
    key: &str,
    relay: Option<Arc<Relay>>,
) -> Result<(), ErrorData> {
    if upstream.routes.unsubscribe(uri, key) {
        return Ok(());
    }
    let params = UnsubscribeRequestParams::new(uri.to_owned());
    let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(params));
    forward_relayed(upstream, request, relay).await.map(drop)
}

/// What a catalog change means to a listener: `None` once the gateway is gone; every list when
/// notifications were missed.
fn received(
    change: Result<ListChanges, tokio::sync::broadcast::error::RecvError>,
) -> Option<ListChanges> {
    match change {
        Ok(changes) => Some(changes),
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some(ListChanges::ALL),
        Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
    }
}

/// A listen stream's resource subscriptions, taken out of the upstreams' routes when the stream
/// ends (and the upstream told when nobody else wants a resource's updates).
struct StreamSubscriptions {
    key: String,
    resources: Vec<(Arc<Upstream>, String)>,
}

impl Drop for StreamSubscriptions {
    fn drop(&mut self) {
        let resources = std::mem::take(&mut self.resources);
        let key = self.key.clone();
        tokio::spawn(async move {
            for (upstream, uri) in resources {
                let _ = unsubscribe_resource(&upstream, &uri, &key, None).await;
            }
        });
    }
}

impl Downstream {
    /// Subscribes a listen stream to the resources it named that the caller may see; unknown
    /// and hidden ones are left out silently, as are upstreams that refuse the subscription.
    async fn listen_to_resources(
        &self,
        context: &SubscriptionContext,
    ) -> Result<StreamSubscriptions, ErrorData> {
        let request = context.request_context();
        let caller = self.caller(request)?;
        let mut subscriptions = StreamSubscriptions {
            key: format!("listen {}", uuid::Uuid::new_v4()),
            resources: Vec::new(),
        };
        let uris = context.accepted().resource_subscriptions.iter().flatten();
        for uri in uris {
            let Ok(upstream) = self.resource_upstream(&caller, uri) else {
                continue;
            };
            let sink = Subscriber::Stream(context.sink().clone());
            // Sent as the gateway's own request (no relay), in the era of its connection to the
            // upstream: `resources/subscribe` does not exist in the listening client's era.
            match subscribe_resource(&upstream, uri, &subscriptions.key, sink, None).await {
                Ok(()) => subscriptions.resources.push((upstream, uri.clone())),
                Err(error) => {
                    let error = error.message;
                    tracing::info!(upstream = %upstream.name, %uri, %error, "upstream refused a resource subscription");
                }
            }
        }
        Ok(subscriptions)
    }

    /// The upstream owning resource `uri`, if `caller` may see it.
    fn resource_upstream(&self, caller: &Caller, uri: &str) -> Result<Arc<Upstream>, ErrorData> {
        let catalog = self.gateway.catalog();
        catalog
            .resource_server(uri)
            .filter(|server| self.gateway.sees_server(caller, server))
            .and_then(|server| self.gateway.upstream(server))
            .ok_or_else(|| resource_not_found(uri))
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
        .serve(crate::stdio::stdio())
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
