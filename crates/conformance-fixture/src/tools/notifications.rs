//! Tools that send notifications while they run: progress (`tools-call-with-progress`),
//! log messages (`tools-call-with-logging`, and the 2026-07-28 rule that a request without
//! `_meta` logLevel gets none), and the hooks the stateless scenario uses to make the tool and
//! prompt lists "change" so open `subscriptions/listen` streams hear about it.

#![expect(
    deprecated,
    reason = "logging notifications are still part of both revisions tested"
)]

use std::time::Duration;

use rmcp::model::{
    CallToolResult, ContentBlock, LoggingLevel, LoggingMessageNotificationParam,
    ProgressNotificationParam,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use crate::server::{Fixture, stateless_era};

/// Pause between notifications, so a client sees them arrive one by one.
const STEP: Duration = Duration::from_millis(50);

#[tool_router(router = notifications_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "test_tool_with_progress",
        description = "Reports progress 0, 50 and 100 of 100 to the request's progressToken, \
                       then returns the token as text.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_tool_with_progress(&self, context: RequestContext<RoleServer>) -> CallToolResult {
        let token = context.meta.get_progress_token();
        if let Some(token) = &token {
            for (step, progress) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                if step > 0 {
                    tokio::time::sleep(STEP).await;
                }
                let mut param = ProgressNotificationParam::new(token.clone(), progress);
                param.total = Some(100.0);
                param.message = Some(format!("Completed step {progress} of 100"));
                // Best effort: a client that went away misses its progress, nothing else.
                let _ = context.peer.notify_progress(param).await;
            }
        }
        let text = token.map_or_else(|| "no progressToken".to_owned(), |t| t.0.to_string());
        CallToolResult::success(vec![ContentBlock::text(text)])
    }

    #[tool(
        name = "test_tool_with_logging",
        description = "Sends three info log messages while it runs.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_tool_with_logging(&self, context: RequestContext<RoleServer>) -> CallToolResult {
        for (step, message) in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .into_iter()
        .enumerate()
        {
            if step > 0 {
                tokio::time::sleep(STEP).await;
            }
            log(&context, LoggingLevel::Info, message).await;
        }
        CallToolResult::success(vec![ContentBlock::text(
            "Tool with logging executed successfully",
        )])
    }

    #[tool(
        name = "test_logging_tool",
        description = "Logs one info message, only if the request asked for logs.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_logging_tool(&self, context: RequestContext<RoleServer>) -> CallToolResult {
        log(
            &context,
            LoggingLevel::Info,
            "Diagnostic trace logging activated",
        )
        .await;
        CallToolResult::success(vec![ContentBlock::text("Logging evaluated")])
    }

    #[tool(
        name = "test_trigger_tool_change",
        description = "Announces a tool list change to every open listener.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn test_trigger_tool_change(
        &self,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        for sink in self.shared.listeners() {
            // Streams that did not ask for tool changes refuse it; closed ones are gone.
            let _ = sink.notify_tool_list_changed().await;
        }
        if !stateless_era(&context) {
            let _ = context.peer.notify_tool_list_changed().await;
        }
        CallToolResult::success(vec![ContentBlock::text("Mutation triggered")])
    }

    #[tool(
        name = "test_trigger_prompt_change",
        description = "Announces a prompt list change to every open listener.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn test_trigger_prompt_change(
        &self,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        for sink in self.shared.listeners() {
            let _ = sink.notify_prompt_list_changed().await;
        }
        if !stateless_era(&context) {
            let _ = context.peer.notify_prompt_list_changed().await;
        }
        CallToolResult::success(vec![ContentBlock::text("Mutation triggered")])
    }
}

/// Sends a log message if the client wants it: on 2026-07-28 only when the request's `_meta`
/// names a log level at or below `level`; on 2025-11-25 always (the session's level is the
/// client's `logging/setLevel` business, and the suite sets none).
async fn log(context: &RequestContext<RoleServer>, level: LoggingLevel, message: &str) {
    if stateless_era(context) {
        match context.meta.log_level() {
            Some(wanted) if (level as u8) >= (wanted as u8) => {}
            _ => return,
        }
    }
    let mut param = LoggingMessageNotificationParam::new(level, message.into());
    param.logger = Some("conformance-fixture".to_owned());
    let _ = context.peer.notify_logging_message(param).await;
}
