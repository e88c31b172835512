//! `add_reaction`: adds an emoji reaction (as the bot) to one message.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SlackServer;
use crate::error::SlackError;

/// Arguments of `add_reaction`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AddReactionArgs {
    /// Channel of the message: `#name`, `name`, or an id such as `C0123456789`.
    pub channel: String,
    /// The message's ts (from get_channel_history or post_message).
    pub ts: String,
    /// Emoji name, e.g. `white_check_mark`, `eyes`, `thumbsup` (colons optional).
    pub name: String,
}

/// Result of `add_reaction`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AddReactionResult {
    /// Channel id.
    pub channel: String,
    /// The message's ts.
    pub ts: String,
    /// The emoji added.
    pub name: String,
}

#[tool_router(router = add_reaction_router, vis = "pub(crate)")]
impl SlackServer {
    /// Adds a reaction.
    #[tool(
        name = "add_reaction",
        description = "Add an emoji reaction, as the bot, to a Slack message identified by channel \
                       and ts. Adding a reaction the bot already added changes nothing and is \
                       reported as already_reacted. Only in channels this server may write to.",
        annotations(
            title = "React to a Slack message",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn add_reaction(
        &self,
        Parameters(args): Parameters<AddReactionArgs>,
    ) -> Result<Json<AddReactionResult>, String> {
        let fail = |error| self.tool_error("add_reaction", error);
        let name = args.name.trim().trim_matches(':').to_owned();
        if name.is_empty() {
            return Err(fail(SlackError::InvalidArgument(
                "name is empty: give an emoji name such as white_check_mark".to_owned(),
            )));
        }
        let ts = args.ts.trim().to_owned();
        let channel = self.resolve_channel(&args.channel).await.map_err(fail)?;
        self.check_writable(&channel).map_err(fail)?;
        self.client()
            .reactions_add(&channel.id, &ts, &name)
            .await
            .map_err(fail)?;
        Ok(Json(AddReactionResult {
            channel: channel.id,
            ts,
            name,
        }))
    }
}
