//! The fake workspace's data: channels, users, messages, reactions, granted scopes, and the seed
//! every [`super::FakeSlack`] starts from.

use std::collections::HashMap;

use serde_json::{Value, json};

/// The fake workspace's team id.
pub const TEAM_ID: &str = "T0SWITCHB";
/// The fake workspace's domain, used in permalinks and `auth.test`.
pub const TEAM_DOMAIN: &str = "switchboard-test";
/// The bot user the fake's token belongs to.
pub const BOT_USER_ID: &str = "U0BOTUSER1";
/// The bot id of that bot user.
pub const BOT_ID: &str = "B0BOTUSER1";

/// `#general`: public, the bot is a member, seeded with a short history and one thread.
pub const GENERAL_ID: &str = "C0GENERAL1";
/// `#operations`: public, the bot is a member, empty.
pub const OPERATIONS_ID: &str = "C0OPERATE1";
/// `#random`: public, the bot is not a member.
pub const RANDOM_ID: &str = "C0RANDOM01";
/// `#old-project`: archived (the bot was a member).
pub const ARCHIVED_ID: &str = "C0ARCHIVE1";
/// `#leadership`: private, the bot is not a member (invisible to it, as in Slack).
pub const PRIVATE_ID: &str = "G0LEADERS1";
/// `#incidents`: private, the bot is a member.
pub const INCIDENTS_ID: &str = "G0INCIDEN1";

/// The ts of the seeded thread parent in `#general`.
pub const GENERAL_THREAD_TS: &str = "1699999000.000100";

/// Scopes a fresh fake grants its token: everything the Switchboard Slack server uses.
pub const DEFAULT_SCOPES: &[&str] = &[
    "chat:write",
    "channels:read",
    "groups:read",
    "mpim:read",
    "im:read",
    "channels:history",
    "groups:history",
    "reactions:write",
    "users:read",
];

/// One conversation of the fake workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeChannel {
    /// Conversation id (`C…` public, `G…` private here).
    pub id: String,
    /// Name without `#`.
    pub name: String,
    /// Private channel (needs `groups:*` scopes; invisible unless a member).
    pub is_private: bool,
    /// Archived: readable, not writable.
    pub is_archived: bool,
    /// Whether the bot user is a member.
    pub is_member: bool,
    /// The workspace's default channel.
    pub is_general: bool,
    /// Topic text.
    pub topic: String,
    /// Purpose text.
    pub purpose: String,
}

impl FakeChannel {
    /// A public channel the bot is a member of.
    pub fn public(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            is_private: false,
            is_archived: false,
            is_member: true,
            is_general: false,
            topic: String::new(),
            purpose: String::new(),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "is_channel": !self.is_private,
            "is_group": self.is_private,
            "is_im": false,
            "is_mpim": false,
            "is_private": self.is_private,
            "created": 1_690_000_000,
            "creator": "U0ALICE001",
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": false,
            "is_ext_shared": false,
            "is_org_shared": false,
            "pending_shared": [],
            "is_pending_ext_shared": false,
            "is_member": self.is_member,
            "updated": 1_690_000_000_000_u64,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
            "num_members": 4,
        })
    }
}

/// One member of the fake workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    /// User id.
    pub id: String,
    /// Handle.
    pub name: String,
    /// Full name.
    pub real_name: String,
    /// Job title from the profile.
    pub title: String,
    /// Deactivated account.
    pub deleted: bool,
    /// Bot user.
    pub is_bot: bool,
}

impl FakeUser {
    fn new(id: &str, name: &str, real_name: &str, title: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            real_name: real_name.to_owned(),
            title: title.to_owned(),
            deleted: false,
            is_bot: false,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "color": "9f69e7",
            "real_name": self.real_name,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {
                "title": self.title,
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "display_name": self.name,
                "display_name_normalized": self.name,
                "team": TEAM_ID,
            },
            "is_admin": false,
            "is_owner": false,
            "is_bot": self.is_bot,
            "is_app_user": false,
            "updated": 1_690_000_000,
        })
    }
}

/// One reaction on a message: the emoji name and who added it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    /// Emoji name without colons.
    pub name: String,
    /// Users who reacted with it.
    pub users: Vec<String>,
}

/// One message as the fake stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeMessage {
    /// The message's ts (its id within the channel).
    pub ts: String,
    /// Author.
    pub user: String,
    /// Text exactly as received.
    pub text: String,
    /// The thread's parent ts, for replies (and for parents that have replies).
    pub thread_ts: Option<String>,
    /// Reactions on the message.
    pub reactions: Vec<Reaction>,
    /// Its Block Kit blocks, as posted or last updated.
    pub blocks: Option<serde_json::Value>,
}

impl FakeMessage {
    /// Whether this message is a reply inside a thread (not the parent).
    pub fn is_reply(&self) -> bool {
        self.thread_ts
            .as_deref()
            .is_some_and(|parent| parent != self.ts)
    }
}

/// Everything the fake workspace holds.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) channels: Vec<FakeChannel>,
    pub(crate) users: Vec<FakeUser>,
    pub(crate) messages: HashMap<String, Vec<FakeMessage>>,
    pub(crate) scopes: Vec<String>,
    ts_counter: u64,
}

impl Workspace {
    pub(crate) fn seeded() -> Self {
        let mut general = FakeChannel::public(GENERAL_ID, "general");
        general.is_general = true;
        general.topic = "Company-wide announcements".to_owned();
        let operations = FakeChannel::public(OPERATIONS_ID, "operations");
        let mut random = FakeChannel::public(RANDOM_ID, "random");
        random.is_member = false;
        let mut archived = FakeChannel::public(ARCHIVED_ID, "old-project");
        archived.is_archived = true;
        let mut leadership = FakeChannel::public(PRIVATE_ID, "leadership");
        leadership.is_private = true;
        leadership.is_member = false;
        let mut incidents = FakeChannel::public(INCIDENTS_ID, "incidents");
        incidents.is_private = true;

        let mut bot = FakeUser::new(BOT_USER_ID, "switchboard", "Switchboard", "");
        bot.is_bot = true;
        let mut carol = FakeUser::new("U0CAROL001", "carol", "Carol Danvers", "Former PM");
        carol.deleted = true;
        let users = vec![
            FakeUser::new("USLACKBOT", "slackbot", "Slackbot", ""),
            FakeUser::new("U0ALICE001", "alice", "Alice Liddell", "Head of Operations"),
            FakeUser::new("U0BOB00001", "bob", "Bob Tables", "Database Administrator"),
            carol,
            FakeUser::new(
                "U0DAVE0001",
                "dave",
                "Dave Lister",
                "Site Reliability Engineer",
            ),
            bot,
        ];

        let message = |ts: &str, user: &str, text: &str, thread: Option<&str>| FakeMessage {
            ts: ts.to_owned(),
            user: user.to_owned(),
            text: text.to_owned(),
            thread_ts: thread.map(str::to_owned),
            reactions: Vec::new(),
            blocks: None,
        };
        let general_history = vec![
            message(
                "1699998000.000100",
                "U0ALICE001",
                "Welcome to #general",
                None,
            ),
            message(
                GENERAL_THREAD_TS,
                "U0BOB00001",
                "Deploy at 5pm?",
                Some(GENERAL_THREAD_TS),
            ),
            message(
                "1699999100.000100",
                "U0ALICE001",
                "Yes, go ahead",
                Some(GENERAL_THREAD_TS),
            ),
            message(
                "1699999200.000100",
                "U0DAVE0001",
                "Deployed :rocket:",
                Some(GENERAL_THREAD_TS),
            ),
            message("1699999300.000100", "U0DAVE0001", "Lunch anyone?", None),
        ];
        let mut messages = HashMap::new();
        messages.insert(GENERAL_ID.to_owned(), general_history);
        messages.insert(
            ARCHIVED_ID.to_owned(),
            vec![message(
                "1690000000.000100",
                "U0ALICE001",
                "Project closed",
                None,
            )],
        );

        Self {
            channels: vec![general, operations, random, archived, leadership, incidents],
            users,
            messages,
            scopes: DEFAULT_SCOPES
                .iter()
                .map(|scope| (*scope).to_owned())
                .collect(),
            ts_counter: 0,
        }
    }

    /// The next message ts: `1700000000.000100`, `1700000000.000200`, … strictly increasing.
    pub(crate) fn next_ts(&mut self) -> String {
        self.ts_counter += 100;
        let seconds = 1_700_000_000 + self.ts_counter / 1_000_000;
        format!("{seconds}.{:06}", self.ts_counter % 1_000_000)
    }

    /// Finds a channel by id, or by name (with or without `#`) as `chat.postMessage` allows.
    pub(crate) fn channel(&self, key: &str, by_name: bool) -> Option<&FakeChannel> {
        let by_id = self.channels.iter().find(|channel| channel.id == key);
        if by_id.is_some() || !by_name {
            return by_id;
        }
        let name = key.strip_prefix('#').unwrap_or(key);
        self.channels.iter().find(|channel| channel.name == name)
    }

    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::Workspace;

    #[test]
    fn ts_values_increase_in_slack_format() {
        let mut workspace = Workspace::seeded();
        assert_eq!(workspace.next_ts(), "1700000000.000100");
        assert_eq!(workspace.next_ts(), "1700000000.000200");
        for _ in 0..9_998 {
            workspace.next_ts();
        }
        assert_eq!(workspace.next_ts(), "1700000001.000100");
    }
}
