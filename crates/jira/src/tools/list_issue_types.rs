//! `list_issue_types`: the issue types a project can create (per-project createmeta).

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JiraServer;
use crate::tools::{text_at, tool_error};

/// Arguments of `list_issue_types`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListIssueTypesArgs {
    /// Project key, e.g. `ENG`.
    project: String,
}

/// An issue type.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct IssueType {
    /// Issue type id.
    id: String,
    /// Name to pass as `issue_type` to `create_issue`.
    name: String,
    /// True for sub-task types (need a `parent`).
    subtask: bool,
    /// Description.
    description: Option<String>,
}

/// The issue types of a project.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct IssueTypes {
    /// Project key.
    project: String,
    /// Creatable issue types.
    issue_types: Vec<IssueType>,
}

#[tool_router(router = list_issue_types_router, vis = "pub(crate)")]
impl JiraServer {
    /// Lists issue types.
    #[tool(
        name = "list_issue_types",
        description = "List the issue types that can be created in a Jira project (e.g. Bug, Task, Story, Sub-task), for `create_issue`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn list_issue_types(
        &self,
        Parameters(args): Parameters<ListIssueTypesArgs>,
    ) -> Result<Json<IssueTypes>, String> {
        let project = args.project.trim().to_ascii_uppercase();
        self.check_project(&project).map_err(tool_error)?;
        let list = self
            .client()
            .issue_types(&project)
            .await
            .map_err(tool_error)?;
        let issue_types = list
            .iter()
            .map(|t| IssueType {
                id: text_at(t, &["id"]).unwrap_or_default(),
                name: text_at(t, &["name"]).unwrap_or_default(),
                subtask: t.get("subtask").and_then(Value::as_bool).unwrap_or(false),
                description: text_at(t, &["description"]).filter(|d| !d.is_empty()),
            })
            .collect();
        Ok(Json(IssueTypes {
            project,
            issue_types,
        }))
    }
}
