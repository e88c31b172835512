//! The MCP tools, one per file. Each file holds the tool's argument struct (whose field docs are
//! the parameter descriptions a model reads), its result struct (the `outputSchema`), and a
//! `#[tool_router]` block contributing that one tool to [`crate::SlackServer`].
//!
//! Read tools: `list_channels`, `get_channel_history`, `get_thread_replies`, `list_users`.
//! Write tools (absent in read-only mode, subject to the channel allow-list): `post_message`,
//! `add_reaction`.

pub mod add_reaction;
pub mod get_channel_history;
pub mod get_thread_replies;
pub mod list_channels;
pub mod list_users;
pub mod post_message;

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::Message;

/// The write tools, hidden and refused in read-only mode.
pub const WRITE_TOOLS: [&str; 2] = ["post_message", "add_reaction"];

/// A reaction on a message.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ReactionSummary {
    /// Emoji name.
    pub name: String,
    /// How many people reacted with it.
    pub count: u64,
}

/// One message.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MessageSummary {
    /// The message's ts: its id in the channel (use as `thread_ts` to reply, or with
    /// `add_reaction`).
    pub ts: String,
    /// Author's user id (e.g. `U0123456789`), if posted by a user.
    pub user: Option<String>,
    /// Bot id, if posted by an app.
    pub bot_id: Option<String>,
    /// Message subtype (`channel_join`, `bot_message` ...), absent for ordinary messages.
    pub subtype: Option<String>,
    /// Text in Slack mrkdwn (`<@U…>` are user mentions).
    pub text: String,
    /// Parent ts when the message is in a thread (equal to `ts` for the parent itself).
    pub thread_ts: Option<String>,
    /// Replies in its thread, for a thread parent.
    pub reply_count: Option<u64>,
    /// Reactions on the message.
    pub reactions: Vec<ReactionSummary>,
}

impl From<Message> for MessageSummary {
    fn from(message: Message) -> Self {
        Self {
            ts: message.ts,
            user: message.user,
            bot_id: message.bot_id,
            subtype: message.subtype,
            text: message.text,
            thread_ts: message.thread_ts,
            reply_count: message.reply_count,
            reactions: message
                .reactions
                .into_iter()
                .map(|reaction| ReactionSummary {
                    name: reaction.name,
                    count: reaction.count,
                })
                .collect(),
        }
    }
}
