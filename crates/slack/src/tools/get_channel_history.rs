//! `get_channel_history`: recent messages of one channel, newest first, one page at a time.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::MessageSummary;
use crate::SlackServer;

/// Arguments of `get_channel_history`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GetChannelHistoryArgs {
    /// Channel: `#name`, `name`, or an id such as `C0123456789`.
    pub channel: String,
    /// Messages per page, 1–200 (default 20).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only messages after this Slack ts (e.g. `1700000000.000100`; seconds since the epoch).
    #[serde(default)]
    pub oldest: Option<String>,
    /// Only messages before this Slack ts.
    #[serde(default)]
    pub latest: Option<String>,
    /// `next_cursor` from the previous page, to get older messages.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Result of `get_channel_history`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct GetChannelHistoryResult {
    /// Channel id.
    pub channel: String,
    /// Messages, newest first (thread replies are not included: use get_thread_replies).
    pub messages: Vec<MessageSummary>,
    /// More (older) messages exist.
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[tool_router(router = get_channel_history_router, vis = "pub(crate)")]
impl SlackServer {
    /// Reads a channel's history.
    #[tool(
        name = "get_channel_history",
        description = "Read a Slack channel's messages, newest first (top-level messages and \
                       thread parents; read a thread with get_thread_replies). Optional oldest / \
                       latest Slack ts bounds; pass next_cursor back as cursor for older pages. \
                       The bot must be a member of the channel.",
        annotations(
            title = "Read Slack channel history",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn get_channel_history(
        &self,
        Parameters(args): Parameters<GetChannelHistoryArgs>,
    ) -> Result<Json<GetChannelHistoryResult>, String> {
        let fail = |error| self.tool_error("get_channel_history", error);
        let channel = self.resolve_channel(&args.channel).await.map_err(fail)?;
        let limit = args.limit.unwrap_or(20).clamp(1, 200);
        let page = self
            .client()
            .conversations_history(
                &channel.id,
                limit,
                args.oldest.as_deref(),
                args.latest.as_deref(),
                args.cursor.as_deref(),
            )
            .await
            .map_err(fail)?;
        Ok(Json(GetChannelHistoryResult {
            channel: channel.id,
            messages: page
                .messages
                .into_iter()
                .map(MessageSummary::from)
                .collect(),
            has_more: page.has_more,
            next_cursor: page.response_metadata.next(),
        }))
    }
}
