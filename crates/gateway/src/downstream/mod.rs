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
mod inputs;
mod lean;
pub mod sessions;
mod stdio;
mod subscriptions;
pub mod task_notices;

pub use crate::signal::shutdown_signal;
pub use http::{is_loopback, serve_http, serve_metrics};
pub use stdio::serve_stdio;

use std::sync::Arc;
use std::time::Duration;

use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientRequest, CompleteRequest, CompleteRequestParams,
    CompleteResult, ErrorData, GetPromptRequest, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequest,
    ReadResourceRequestParams, ReadResourceResponse, Reference, ResultType, ServerCapabilities,
    ServerConfig, ServerNotification, ServerResult, SetLevelRequest, SetLevelRequestParams,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::model::{
    CancelTaskParams, CancelTaskRequest, CreateTaskResult, GetTaskParams, GetTaskRequest,
    GetTaskResult, UpdateTaskParams, UpdateTaskRequest,
};
use rmcp::task_manager::{TaskExit, TaskOptions};

use crate::tasks::Route;

/// How long the gateway's own task outlives the wait for an operator or the call's own time
/// limit: time for the call itself, and for the client to collect the result.
const OWN_TASK_GRACE: Duration = Duration::from_secs(600);
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};

use inputs::{MAX_INPUT_ROUNDS, answer_inputs};
use subscriptions::{in_turn, received, subscribe_resource, unsubscribe_resource};

use crate::caller::{ApprovalChannel, Caller};
use crate::catalog::ListChanges;
use crate::endpoints::Endpoint;
use crate::gateway::{CallRequest, Gateway};
use crate::policy::Outcome;
use crate::policy::approval::ElicitationApprover;
use crate::upstream::Upstream;
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
    /// The session of a stdio connection, whose caller follows the configuration in force;
    /// HTTP callers come from each request.
    stdio_session: Option<String>,
    /// The virtual endpoint served, if any.
    endpoint: Option<Arc<Endpoint>>,
}

impl Downstream {
    /// The handler for a stdio connection (to `endpoint`, if given).
    pub fn stdio(gateway: Gateway, endpoint: Option<Arc<Endpoint>>) -> Self {
        Self {
            gateway,
            stdio_session: Some(uuid::Uuid::new_v4().to_string()),
            endpoint,
        }
    }

    pub(crate) fn http(gateway: Gateway, endpoint: Option<Arc<Endpoint>>) -> Self {
        Self {
            gateway,
            stdio_session: None,
            endpoint,
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let mut caller = self.viewer(&ctx.extensions)?;
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

    /// Where the task the caller of `context` knows as `id` lives: `None` for the gateway's own,
    /// else the upstream holding it and its id there.
    fn task_upstream(
        &self,
        id: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<(Arc<Upstream>, String)>, ErrorData> {
        let caller = self.viewer(&context.extensions)?;
        let (server, upstream_id) = match self.gateway.tasks().route(id, &caller.client)? {
            Route::Own => return Ok(None),
            Route::Upstream {
                server,
                upstream_id,
            } => (server, upstream_id),
        };
        let upstream = self.gateway.upstream(&server).ok_or_else(|| {
            ErrorData::invalid_params(
                format!("task {id:?} belongs to server {server}, which is no longer configured"),
                None,
            )
        })?;
        Ok(Some((upstream, upstream_id)))
    }

    /// The gateway's own task for a call that would wait up to `wait` for an operator, or run
    /// up to `wait` as a long-running tool (`status` says which): the client gets it at once, the
    /// call goes through the pipeline in the background, and the task completes with its result
    /// (an `input_required` of the upstream's on the way is asked through the task).
    /// `tasks/cancel` ends the task, and withdraws a call still waiting from the queue.
    fn own_task(
        &self,
        caller: Caller,
        request: CallRequest,
        wait: Duration,
        status: &str,
    ) -> CreateTaskResult {
        let gateway = self.gateway.clone();
        let client = caller.client.clone();
        let ttl = wait + OWN_TASK_GRACE;
        let options = TaskOptions::new()
            .with_ttl_ms(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .with_poll_interval_ms(1_000)
            .with_status_message(status);
        let task = self.gateway.task_manager().spawn(options, move |ctx| {
            Box::pin(async move {
                let mut request = request;
                let cancel = tokio_util::sync::CancellationToken::new();
                request.cancelled = Some(cancel.clone());
                for round in 0..=MAX_INPUT_ROUNDS {
                    // Cancelling the task cancels the call, which still ends through the
                    // pipeline: withdrawn from the queue, the upstream told, audited.
                    let call = gateway.call(&caller, request.clone());
                    tokio::pin!(call);
                    let outcome = tokio::select! {
                        outcome = &mut call => outcome,
                        () = ctx.cancelled() => {
                            cancel.cancel();
                            call.await;
                            return Err(TaskExit::Cancelled);
                        }
                    };
                    if let Some(error) = outcome.protocol_error() {
                        return Err(TaskExit::Error(error));
                    }
                    let Outcome::InputRequired(result) = outcome else {
                        return Ok(outcome.into_result());
                    };
                    let mut responses = rmcp::model::InputResponses::new();
                    for (key, input) in result.input_requests.unwrap_or_default() {
                        // Keys are unique over a task's life; the upstream's repeat per round.
                        let answer = ctx.request_input(format!("{round}.{key}"), input).await?;
                        responses.insert(key, answer);
                    }
                    request.input_responses = Some(responses);
                    request.request_state = result.request_state;
                }
                Err(TaskExit::Error(ErrorData::internal_error(
                    format!("the server still asked for input after {MAX_INPUT_ROUNDS} rounds"),
                    None,
                )))
            })
        });
        self.gateway.tasks().add_own(&client, &task);
        CreateTaskResult::new(task)
    }

    /// Who sent a message (`extensions` of its request or notification), with the view of
    /// the catalog this connection's endpoint gives.
    fn viewer(&self, extensions: &rmcp::model::Extensions) -> Result<Caller, ErrorData> {
        let mut caller = match &self.stdio_session {
            Some(session) => self.gateway.stdio_caller(session.clone()),
            None => {
                let parts = extensions.get::<::http::request::Parts>();
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
        if let Some(endpoint) = &self.endpoint {
            if !endpoint.admits(&caller.client) {
                return Err(ErrorData::invalid_request(
                    format!(
                        "client {:?} may not use endpoint {:?}",
                        caller.client, endpoint.name
                    ),
                    None,
                ));
            }
            if let Some(search) = endpoint.tool_search {
                caller.tool_search = search;
            }
            caller.endpoint = Some(endpoint.clone());
        }
        Ok(caller)
    }
}

/// The tool list one session sees, to tell it of the changes that concern it: a change of tools
/// it cannot see, or a reload that leaves its scopes as they were, is not news to it.
struct View {
    gateway: Gateway,
    caller: Option<Caller>,
    seen: u64,
}

impl View {
    fn new(gateway: &Gateway, caller: Option<Caller>) -> Self {
        let seen = caller.as_ref().map_or(0, |c| gateway.view(c));
        Self {
            gateway: gateway.clone(),
            caller,
            seen,
        }
    }

    /// `changes`, without the tool list when this session's is what it was.
    fn concerns(&mut self, mut changes: ListChanges) -> ListChanges {
        if let (true, Some(caller)) = (changes.tools, &self.caller) {
            let now = self.gateway.view(caller);
            changes.tools = now != self.seen;
            self.seen = now;
        }
        changes
    }
}

fn not_found(what: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unknown {what}"), None)
}

pub(super) fn resource_not_found(uri: &str) -> ErrorData {
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

/// An upstream's answer to `tasks/update` or `tasks/cancel`: an empty acknowledgement.
fn task_ack(answer: ServerResult, method: &str) -> Result<(), ErrorData> {
    match answer {
        ServerResult::TaskAckResult(_) | ServerResult::EmptyResult(_) => Ok(()),
        _ => Err(unexpected(method)),
    }
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
pub(super) async fn forward_relayed(
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
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(name.clone(), env!("CARGO_PKG_VERSION")))
        .with_instructions(
            self.endpoint
                .as_ref()
                .and_then(|e| e.instructions.clone())
                .unwrap_or_else(|| {
                    "Switchboard gateway: tools of several MCP servers, named <server>__<tool>. \
                     Every call is policed (scopes, rate limits, approvals, timeouts) and audited."
                        .to_owned()
                }),
        )
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut changes = self.gateway.subscribe_list_changed();
        let shutdown = self.gateway.shutdown_token();
        let mut view = View::new(&self.gateway, self.viewer(&context.extensions).ok());
        let peer = context.peer;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    change = changes.recv() => {
                        let Some(changes) = received(change).map(|c| view.concerns(c)) else {
                            return;
                        };
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
    /// through `subscriptions/listen`, `resources/updated` for the resources they named and
    /// may see, and `notifications/tasks` for the tasks they named and own.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let _resources = self.listen_to_resources(&context).await?;
        let mut changes = self.gateway.subscribe_list_changed();
        let shutdown = self.gateway.shutdown_token();
        let request = context.request_context();
        let viewer = self.viewer(&request.extensions).ok();
        let mut view = View::new(&self.gateway, viewer);
        let mut tasks = task_notices::Following::new(task_notices::named(request));
        loop {
            let next_task = tasks.next_due();
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(next_task.unwrap_or_else(tokio::time::Instant::now)),
                    if next_task.is_some() => {
                    for id in tasks.due() {
                        let answer = self
                            .get_task(GetTaskParams::new(id.clone()), request.clone())
                            .await
                            .map(|result| result.task);
                        if let Some(task) = tasks.seen(&id, answer)
                            && task_notices::send(request, task).await.is_err()
                        {
                            return Ok(());
                        }
                    }
                }
                change = changes.recv() => {
                    let Some(changes) = received(change).map(|c| view.concerns(c)) else {
                        return Ok(());
                    };
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
            trace: trace_context(&context),
            cancelled: None,
        };
        // A client that can follow a task does not hold its request open while an operator
        // decides, or while a tool marked long-running runs.
        if context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks())
        {
            if let Some(wait) = self.gateway.waits_for_operator(&caller, &request.name) {
                let status = "waiting for an operator's approval";
                return Ok(CallToolResponse::Task(
                    self.own_task(caller, request, wait, status),
                ));
            }
            if let Some(budget) = self.gateway.runs_as_task(&caller, &request.name) {
                let status = format!("running {}", request.name);
                return Ok(CallToolResponse::Task(
                    self.own_task(caller, request, budget, &status),
                ));
            }
        }
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
                Outcome::Task { server, mut task } => {
                    self.gateway.tasks().add(&server, &caller.client, &mut task);
                    return Ok(CallToolResponse::Task(*task));
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
                    let mut result = outcome.into_result();
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
        let upstreams = self.resource_upstreams(&caller, &request.uri)?;
        let (_, answer) = in_turn(upstreams, &request.uri, |upstream| {
            let mut params = ReadResourceRequestParams::new(request.uri.clone());
            params.input_responses.clone_from(&request.input_responses);
            params.request_state.clone_from(&request.request_state);
            let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params));
            let context = &context;
            async move { forward(&upstream, request, context).await }
        })
        .await?;
        match answer {
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
            forward(&upstream, request, &context).await?;
        }
        Ok(())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let id = request.task_id.clone();
        let Some((upstream, upstream_id)) = self.task_upstream(&id, &context)? else {
            return self
                .gateway
                .task_manager()
                .get_task(&id)
                .map(GetTaskResult::new);
        };
        let request =
            ClientRequest::GetTaskRequest(GetTaskRequest::new(GetTaskParams::new(upstream_id)));
        match forward(&upstream, request, &context).await? {
            ServerResult::GetTaskResult(mut result) => {
                result.task.task.task_id = id;
                Ok(result)
            }
            _ => Err(unexpected("tasks/get")),
        }
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some((upstream, upstream_id)) = self.task_upstream(&request.task_id, &context)? else {
            let tasks = self.gateway.task_manager();
            return tasks.update_task(&request.task_id, request.input_responses);
        };
        let params = UpdateTaskParams::new(upstream_id, request.input_responses);
        let request = ClientRequest::UpdateTaskRequest(UpdateTaskRequest::new(params));
        task_ack(forward(&upstream, request, &context).await?, "tasks/update")
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some((upstream, upstream_id)) = self.task_upstream(&request.task_id, &context)? else {
            return self.gateway.task_manager().cancel_task(&request.task_id);
        };
        let params = CancelTaskParams::new(upstream_id);
        let request = ClientRequest::CancelTaskRequest(CancelTaskRequest::new(params));
        task_ack(forward(&upstream, request, &context).await?, "tasks/cancel")
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context)?;
        let upstreams = self.resource_upstreams(&caller, &request.uri)?;
        let (uri, session) = (&request.uri, &caller.session);
        in_turn(upstreams, uri, |upstream| {
            let subscriber = Subscriber::Session(context.peer.clone());
            let relay = Some(Relay::of(&context));
            async move { subscribe_resource(&upstream, uri, session, subscriber, relay).await }
        })
        .await
        .map(drop)
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context)?;
        let upstreams = self.subscribed_upstreams(&caller, &request.uri)?;
        let (uri, session) = (&request.uri, &caller.session);
        in_turn(upstreams, uri, |upstream| {
            let relay = Some(Relay::of(&context));
            async move { unsubscribe_resource(&upstream, uri, session, relay).await }
        })
        .await
        .map(drop)
    }
}

/// The caller's W3C trace context: `traceparent` (and `tracestate`) in the request's `_meta`, as
/// the 2026-07-28 revision carries it, else in the HTTP request's headers.
fn trace_context(
    context: &RequestContext<RoleServer>,
) -> Option<switchboard_telemetry::TraceContext> {
    if let Some(traceparent) = context.meta.get_traceparent() {
        return Some(switchboard_telemetry::TraceContext {
            traceparent: traceparent.to_owned(),
            tracestate: context.meta.get_tracestate().map(str::to_owned),
        });
    }
    let headers = &context
        .extensions
        .get::<axum::http::request::Parts>()?
        .headers;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Some(switchboard_telemetry::TraceContext {
        traceparent: header("traceparent")?,
        tracestate: header("tracestate"),
    })
}
