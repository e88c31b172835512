//! `add_comment`: a Markdown comment on an issue.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::JiraServer;
use crate::error::JiraError;
use crate::tools::{text_at, tool_error};

/// Arguments of `add_comment`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct AddCommentArgs {
    /// Issue key, e.g. `ENG-123`.
    key: String,
    /// Comment text in Markdown.
    body: String,
}

/// The new comment.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Comment {
    /// Issue key.
    key: String,
    /// Comment id.
    id: String,
    /// Link to the comment.
    url: String,
}

#[tool_router(router = add_comment_router, vis = "pub(crate)")]
impl JiraServer {
    /// Comments on an issue.
    #[tool(
        name = "add_comment",
        description = "Add a comment to a Jira issue. `body` is Markdown (converted to the site's format). Each call adds a new comment.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub(crate) async fn add_comment(
        &self,
        Parameters(args): Parameters<AddCommentArgs>,
    ) -> Result<Json<Comment>, String> {
        self.comment(args).await.map(Json).map_err(tool_error)
    }
}

impl JiraServer {
    #[tracing::instrument(skip_all, fields(tool = "add_comment", key = %args.key))]
    async fn comment(&self, args: AddCommentArgs) -> Result<Comment, JiraError> {
        let key = self.check_key(&args.key)?;
        if args.body.trim().is_empty() {
            return Err(JiraError::InvalidArgument(
                "the comment body is empty; write the comment text in `body`".into(),
            ));
        }
        let created = self
            .client()
            .add_comment(&key, self.rich_text(&args.body))
            .await?;
        let id = text_at(&created, &["id"]).unwrap_or_default();
        let url = format!("{}?focusedCommentId={id}", self.config().browse_url(&key));
        Ok(Comment { key, id, url })
    }
}
