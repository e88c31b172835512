//! `get_issue`: one issue's main fields, with the description as Markdown.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JiraServer;
use crate::adf::adf_to_markdown;
use crate::error::JiraError;
use crate::tools::{text_at, tool_error, user_name};
use crate::wiki_read::wiki_to_markdown;

const FIELDS: [&str; 12] = [
    "summary",
    "description",
    "status",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "comment",
    "issuetype",
    "project",
    "created",
    "updated",
];

/// Arguments of `get_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct GetIssueArgs {
    /// Issue key, e.g. `ENG-123`.
    key: String,
}

/// An issue.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Issue {
    /// Issue key.
    key: String,
    /// Issue id.
    id: String,
    /// Browse URL.
    url: String,
    /// Project key.
    project: Option<String>,
    /// Summary.
    summary: Option<String>,
    /// Description as Markdown (converted from ADF on Cloud, from wiki markup on Data Center).
    description: Option<String>,
    /// Issue type name.
    issue_type: Option<String>,
    /// Status name.
    status: Option<String>,
    /// Priority name.
    priority: Option<String>,
    /// Assignee display name.
    assignee: Option<String>,
    /// Reporter display name.
    reporter: Option<String>,
    /// Labels.
    labels: Vec<String>,
    /// Number of comments.
    comment_count: u64,
    /// Creation time.
    created: Option<String>,
    /// Last update time.
    updated: Option<String>,
}

#[tool_router(router = get_issue_router, vis = "pub(crate)")]
impl JiraServer {
    /// Reads one issue.
    #[tool(
        name = "get_issue",
        description = "Get one Jira issue by key (e.g. ENG-123): summary, description (as Markdown), type, status, priority, assignee, \
reporter, labels, comment count, timestamps and URL.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn get_issue(
        &self,
        Parameters(args): Parameters<GetIssueArgs>,
    ) -> Result<Json<Issue>, String> {
        self.read_issue(&args.key)
            .await
            .map(Json)
            .map_err(tool_error)
    }
}

impl JiraServer {
    #[tracing::instrument(skip(self), fields(tool = "get_issue"))]
    async fn read_issue(&self, key: &str) -> Result<Issue, JiraError> {
        let key = self.check_key(key)?;
        let issue = self.client().get_issue(&key, &FIELDS).await?;
        let fields = issue.get("fields").cloned().unwrap_or(Value::Null);
        let project = text_at(&fields, &["project", "key"]);
        // An issue moved to another project answers under its new key: check that one too.
        if let Some(project) = &project {
            self.check_project(project)?;
        }
        let actual_key = text_at(&issue, &["key"]).unwrap_or(key);
        let description = match fields.get("description") {
            Some(Value::String(text)) => Some(wiki_to_markdown(text)),
            Some(doc @ Value::Object(_)) => Some(adf_to_markdown(doc)),
            _ => None,
        };
        let comment_count = fields
            .get("comment")
            .and_then(|c| {
                c.get("total").and_then(Value::as_u64).or_else(|| {
                    c.get("comments")
                        .and_then(Value::as_array)
                        .map(|a| a.len() as u64)
                })
            })
            .unwrap_or(0);
        let labels = fields
            .get("labels")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Issue {
            url: self.config().browse_url(&actual_key),
            id: text_at(&issue, &["id"]).unwrap_or_default(),
            key: actual_key,
            project,
            summary: text_at(&fields, &["summary"]),
            description,
            issue_type: text_at(&fields, &["issuetype", "name"]),
            status: text_at(&fields, &["status", "name"]),
            priority: text_at(&fields, &["priority", "name"]),
            assignee: user_name(&fields, "assignee"),
            reporter: user_name(&fields, "reporter"),
            labels,
            comment_count,
            created: text_at(&fields, &["created"]),
            updated: text_at(&fields, &["updated"]),
        })
    }
}
