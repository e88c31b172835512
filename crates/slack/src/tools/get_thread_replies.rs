//! `get_thread_replies`: a whole thread (parent first), following Slack's cursors up to a bound.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::MessageSummary;
use crate::SlackServer;

/// Most messages returned for one thread.
const MAX_THREAD_MESSAGES: usize = 1000;

/// Arguments of `get_thread_replies`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GetThreadRepliesArgs {
    /// Channel: `#name`, `name`, or an id such as `C0123456789`.
    pub channel: String,
    /// ts of the thread's parent message (its `thread_ts`, e.g. `1700000000.000100`).
    pub thread_ts: String,
}

/// Result of `get_thread_replies`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct GetThreadRepliesResult {
    /// Channel id.
    pub channel: String,
    /// The thread's parent ts.
    pub thread_ts: String,
    /// The parent message, then its replies, oldest first.
    pub messages: Vec<MessageSummary>,
    /// True when the thread has more than 1,000 messages and only the first 1,000 are returned.
    pub truncated: bool,
}

#[tool_router(router = get_thread_replies_router, vis = "pub(crate)")]
impl SlackServer {
    /// Reads a thread.
    #[tool(
        name = "get_thread_replies",
        description = "Read a Slack thread: the parent message and all its replies, oldest first \
                       (up to 1,000 messages). thread_ts is the parent's ts from \
                       get_channel_history. The bot must be a member of the channel.",
        annotations(
            title = "Read a Slack thread",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn get_thread_replies(
        &self,
        Parameters(args): Parameters<GetThreadRepliesArgs>,
    ) -> Result<Json<GetThreadRepliesResult>, String> {
        let fail = |error| self.tool_error("get_thread_replies", error);
        let channel = self.resolve_channel(&args.channel).await.map_err(fail)?;
        let thread_ts = args.thread_ts.trim().to_owned();
        let mut messages = Vec::new();
        let mut cursor: Option<String> = None;
        let truncated = loop {
            let page = self
                .client()
                .conversations_replies(&channel.id, &thread_ts, cursor.as_deref())
                .await
                .map_err(fail)?;
            messages.extend(page.messages.into_iter().map(MessageSummary::from));
            cursor = page.response_metadata.next();
            if messages.len() >= MAX_THREAD_MESSAGES {
                let more = cursor.is_some() || messages.len() > MAX_THREAD_MESSAGES;
                messages.truncate(MAX_THREAD_MESSAGES);
                break more;
            }
            if cursor.is_none() {
                break false;
            }
        };
        Ok(Json(GetThreadRepliesResult {
            channel: channel.id,
            thread_ts,
            messages,
            truncated,
        }))
    }
}
