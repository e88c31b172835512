//! `list_projects`: the projects the account can see, within the allow-list.

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::JiraServer;
use crate::tools::{text_at, tool_error};

/// A project.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Project {
    /// Project key, e.g. `ENG`.
    key: String,
    /// Project name.
    name: String,
    /// Project id.
    id: String,
    /// Project type, e.g. `software`.
    project_type: Option<String>,
}

/// The projects.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Projects {
    /// Visible projects (only allowed ones when the server has an allow-list).
    projects: Vec<Project>,
}

#[tool_router(router = list_projects_router, vis = "pub(crate)")]
impl JiraServer {
    /// Lists projects.
    #[tool(
        name = "list_projects",
        description = "List the Jira projects available to this server (key, name, type). Project keys are used by `create_issue` and in JQL.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn list_projects(&self) -> Result<Json<Projects>, String> {
        let all = self.client().projects().await.map_err(tool_error)?;
        let projects = all
            .iter()
            .map(|p| Project {
                key: text_at(p, &["key"]).unwrap_or_default(),
                name: text_at(p, &["name"]).unwrap_or_default(),
                id: text_at(p, &["id"]).unwrap_or_default(),
                project_type: text_at(p, &["projectTypeKey"]),
            })
            .filter(|p| self.config().project_allowed(&p.key))
            .collect();
        Ok(Json(Projects { projects }))
    }
}
