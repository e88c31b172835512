//! `list_users`: the workspace's members, one page at a time.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SlackServer;
use crate::api::User;

/// Arguments of `list_users`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListUsersArgs {
    /// Users per page, 1–1000 (default 200).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page, to get the next one.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One workspace member.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UserSummary {
    /// User id: mention the user in a message as `<@ID>`.
    pub id: String,
    /// Handle.
    pub name: String,
    /// Full name.
    pub real_name: Option<String>,
    /// Job title from the profile.
    pub title: Option<String>,
    /// Deactivated account.
    pub deleted: bool,
    /// A bot or app user.
    pub is_bot: bool,
}

impl From<User> for UserSummary {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            name: user.name,
            real_name: user
                .real_name
                .or(user.profile.real_name)
                .filter(|n| !n.is_empty()),
            title: user.profile.title.filter(|title| !title.is_empty()),
            deleted: user.deleted,
            is_bot: user.is_bot,
        }
    }
}

/// Result of `list_users`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ListUsersResult {
    /// Users on this page.
    pub users: Vec<UserSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[tool_router(router = list_users_router, vis = "pub(crate)")]
impl SlackServer {
    /// Lists users.
    #[tool(
        name = "list_users",
        description = "List the Slack workspace's members (id, handle, real name, title, whether \
                       deactivated or a bot), one page at a time: pass next_cursor back as cursor \
                       for more. Mention someone in post_message with <@ID>.",
        annotations(
            title = "List Slack users",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn list_users(
        &self,
        Parameters(args): Parameters<ListUsersArgs>,
    ) -> Result<Json<ListUsersResult>, String> {
        let limit = args.limit.unwrap_or(200).clamp(1, 1000);
        let page = self
            .client()
            .users_list(limit, args.cursor.as_deref())
            .await
            .map_err(|error| self.tool_error("list_users", error))?;
        Ok(Json(ListUsersResult {
            users: page.members.into_iter().map(UserSummary::from).collect(),
            next_cursor: page.response_metadata.next(),
        }))
    }
}
