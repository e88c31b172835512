//! The fixture's [`ServerHandler`]: capabilities, tool dispatch (the tools live in
//! [`crate::tools`]), logging level, completion, `subscriptions/listen` for the 2026-07-28
//! list-changed notifications, and `tasks/get`, `tasks/update` and `tasks/cancel` for the tasks
//! extension (SEP-2663; the store is [`crate::tasks`]). Resources and prompts are in their own
//! modules.

#![expect(
    deprecated,
    reason = "logging/setLevel is a 2025-11-25 feature the suite still tests"
)]

use std::sync::Arc;

use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, CompletionInfo, GetPromptRequestParams, GetPromptResponse, GetTaskParams,
    GetTaskResult, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, LoggingLevel, LoggingMessageNotificationParam,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use switchboard_gateway::downstream::task_notices;

use crate::state::Shared;
use crate::{prompts, resources, tools};

const INSTRUCTIONS: &str = "Conformance fixture: the tools, resources and prompts that the \
@modelcontextprotocol/conformance server scenarios call. Not a real service.";

/// The conformance fixture server. Cheap to clone; clones share [`Shared`].
#[derive(Clone)]
pub(crate) struct Fixture {
    pub(crate) shared: Arc<Shared>,
    tool_router: ToolRouter<Fixture>,
}

impl Fixture {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            tool_router: tools::router(),
        }
    }
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_logging()
            .enable_completions()
            .enable_tasks()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "switchboard-conformance-fixture",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS.to_owned())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools: Vec<Tool> = self
            .tool_router
            .list_all()
            .into_iter()
            .map(tools::json_schema::with_raw_schema)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        tracing::debug!(tool = %request.name, "tools/call");
        self.tool_router
            .call(ToolCallContext::new(self, request, context))
            .await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&request.uri).map(ReadResourceResponse::from)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        resources::check_known(&request.uri)?;
        self.shared.subscribe(request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        resources::check_known(&request.uri)?;
        self.shared.unsubscribe(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(prompts::list(stateless_era(&context)))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(request, &context)
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        // The fixture has nothing to complete: an empty, final list is a valid answer.
        let mut info = CompletionInfo::default();
        info.total = Some(0);
        info.has_more = Some(false);
        Ok(CompleteResult::new(info))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let message = format!("log level set to {:?}", request.level);
        let mut param = LoggingMessageNotificationParam::new(LoggingLevel::Info, message.into());
        param.logger = Some("conformance-fixture".to_owned());
        // Best effort: a client that went away has nobody to tell.
        let _ = context.peer.notify_logging_message(param).await;
        Ok(())
    }

    // rmcp answers these three with -32021 before they get here when the request does not
    // declare the tasks extension.

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.shared
            .tasks
            .get(&request.task_id)
            .map(GetTaskResult::new)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.shared
            .tasks
            .update(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.shared.tasks.cancel(&request.task_id)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed.filter(|wanted| *wanted);
        accepted.prompts_list_changed = requested.prompts_list_changed.filter(|wanted| *wanted);
        Some(accepted)
    }

    /// List changes as accepted, and `notifications/tasks` for each task the stream named
    /// (`taskIds`, read before rmcp by [`task_notices::take_task_ids`]) as its status changes.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let key = self.shared.add_listener(context.sink().clone());
        let request = context.request_context();
        let mut tasks = task_notices::Following::new(task_notices::named(request));
        'listening: loop {
            let next = tasks.next_due();
            tokio::select! {
                () = context.cancelled() => break 'listening,
                () = tokio::time::sleep_until(next.unwrap_or_else(tokio::time::Instant::now)),
                    if next.is_some() => {
                    for id in tasks.due() {
                        if let Some(task) = tasks.seen(&id, self.shared.tasks.get(&id))
                            && task_notices::send(request, task).await.is_err()
                        {
                            break 'listening;
                        }
                    }
                }
            }
        }
        self.shared.remove_listener(key);
        Ok(())
    }
}

/// Whether this request speaks 2026-07-28 or later (stateless, per-request `_meta`, MRTR).
pub(crate) fn stateless_era(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version.as_str() >= "2026-07-28")
}
