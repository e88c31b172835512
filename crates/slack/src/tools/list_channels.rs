//! `list_channels`: the workspace's channels visible to the bot, one page at a time.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SlackServer;
use crate::api::Channel;

const DEFAULT_TYPES: &str = "public_channel,private_channel";

/// Arguments of `list_channels`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListChannelsArgs {
    /// Channels per page, 1–1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page, to get the next one.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Comma-separated conversation types: `public_channel`, `private_channel`, `mpim`, `im`
    /// (default `public_channel,private_channel`).
    #[serde(default)]
    pub types: Option<String>,
}

/// One channel.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ChannelSummary {
    /// Channel id (e.g. `C0123456789`).
    pub id: String,
    /// Name without `#` (absent for direct messages).
    pub name: Option<String>,
    /// Private channel.
    pub is_private: bool,
    /// Archived: readable, not writable.
    pub is_archived: bool,
    /// Whether the bot is a member (needed to read history and to post).
    pub is_member: bool,
    /// Topic.
    pub topic: String,
    /// Purpose.
    pub purpose: String,
    /// Member count, when Slack reports it.
    pub num_members: Option<u64>,
}

impl From<Channel> for ChannelSummary {
    fn from(channel: Channel) -> Self {
        Self {
            id: channel.id,
            name: channel.name,
            is_private: channel.is_private,
            is_archived: channel.is_archived,
            is_member: channel.is_member,
            topic: channel.topic.map(|t| t.value).unwrap_or_default(),
            purpose: channel.purpose.map(|p| p.value).unwrap_or_default(),
            num_members: channel.num_members,
        }
    }
}

/// Result of `list_channels`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ListChannelsResult {
    /// Channels on this page.
    pub channels: Vec<ChannelSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[tool_router(router = list_channels_router, vis = "pub(crate)")]
impl SlackServer {
    /// Lists channels.
    #[tool(
        name = "list_channels",
        description = "List the Slack channels visible to the bot (id, name, privacy, archived, \
                       whether the bot is a member, topic, purpose), one page at a time: pass \
                       next_cursor back as cursor for more. The bot can post only where it is a \
                       member (or where SLACK_CHANNELS allows).",
        annotations(
            title = "List Slack channels",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn list_channels(
        &self,
        Parameters(args): Parameters<ListChannelsArgs>,
    ) -> Result<Json<ListChannelsResult>, String> {
        let limit = args.limit.unwrap_or(100).clamp(1, 1000);
        let cursor = args.cursor.as_deref();
        let client = self.client();
        let page = match args.types.as_deref() {
            Some(types) => client.conversations_list(types, limit, cursor).await,
            None => match client
                .conversations_list(DEFAULT_TYPES, limit, cursor)
                .await
            {
                // Without groups:read, list what the token can see.
                Err(error) if error.code() == Some("missing_scope") => {
                    client
                        .conversations_list("public_channel", limit, cursor)
                        .await
                }
                other => other,
            },
        }
        .map_err(|error| self.tool_error("list_channels", error))?;
        Ok(Json(ListChannelsResult {
            channels: page
                .channels
                .into_iter()
                .map(ChannelSummary::from)
                .collect(),
            next_cursor: page.response_metadata.next(),
        }))
    }
}
