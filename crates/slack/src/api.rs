//! The Slack Web API objects this server reads (the subset of fields it uses), as documented on
//! api.slack.com: conversations, messages, users, and the cursor metadata of list methods.

use serde::Deserialize;

/// `response_metadata` of a list method.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResponseMetadata {
    #[serde(default)]
    pub(crate) next_cursor: Option<String>,
}

impl ResponseMetadata {
    /// The next cursor, `None` on the last page (Slack sends `""` there).
    pub(crate) fn next(self) -> Option<String> {
        self.next_cursor.filter(|cursor| !cursor.is_empty())
    }
}

/// A topic or purpose.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TextValue {
    #[serde(default)]
    pub(crate) value: String,
}

/// A conversation object.
#[derive(Debug, Deserialize)]
pub(crate) struct Channel {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) is_private: bool,
    #[serde(default)]
    pub(crate) is_archived: bool,
    #[serde(default)]
    pub(crate) is_member: bool,
    #[serde(default)]
    pub(crate) topic: Option<TextValue>,
    #[serde(default)]
    pub(crate) purpose: Option<TextValue>,
    #[serde(default)]
    pub(crate) num_members: Option<u64>,
}

/// `conversations.list`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelsPage {
    pub(crate) channels: Vec<Channel>,
    #[serde(default)]
    pub(crate) response_metadata: ResponseMetadata,
}

/// `conversations.info`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelInfo {
    pub(crate) channel: Channel,
}

/// A reaction on a message.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageReaction {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) count: u64,
}

/// A message object.
#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    pub(crate) ts: String,
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) bot_id: Option<String>,
    #[serde(default)]
    pub(crate) subtype: Option<String>,
    #[serde(default)]
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) thread_ts: Option<String>,
    #[serde(default)]
    pub(crate) reply_count: Option<u64>,
    #[serde(default)]
    pub(crate) reactions: Vec<MessageReaction>,
}

/// `conversations.history` and `conversations.replies`.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesPage {
    pub(crate) messages: Vec<Message>,
    #[serde(default)]
    pub(crate) has_more: bool,
    #[serde(default)]
    pub(crate) response_metadata: ResponseMetadata,
}

/// `chat.postMessage`.
#[derive(Debug, Deserialize)]
pub(crate) struct Posted {
    pub(crate) channel: String,
    pub(crate) ts: String,
}

/// `chat.getPermalink`.
#[derive(Debug, Deserialize)]
pub(crate) struct Permalink {
    pub(crate) permalink: String,
}

/// A user's profile.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Profile {
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) real_name: Option<String>,
}

/// A user object.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) real_name: Option<String>,
    #[serde(default)]
    pub(crate) deleted: bool,
    #[serde(default)]
    pub(crate) is_bot: bool,
    #[serde(default)]
    pub(crate) profile: Profile,
}

/// `users.list`.
#[derive(Debug, Deserialize)]
pub(crate) struct UsersPage {
    pub(crate) members: Vec<User>,
    #[serde(default)]
    pub(crate) response_metadata: ResponseMetadata,
}

/// A method whose answer carries nothing but `ok` (e.g. `reactions.add`).
#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}
