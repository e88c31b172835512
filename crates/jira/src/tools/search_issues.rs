//! `search_issues`: JQL search, scoped to the allowed projects, one page at a time.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JiraServer;
use crate::client::MAX_PAGE;
use crate::error::JiraError;
use crate::jql;
use crate::tools::{text_at, tool_error, user_name};

const DEFAULT_PAGE: u32 = 25;
const BASE_FIELDS: [&str; 5] = ["summary", "status", "priority", "assignee", "updated"];

/// Arguments of `search_issues`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SearchIssuesArgs {
    /// JQL query, e.g. `project = ENG AND status = "In Progress" ORDER BY updated DESC`.
    jql: String,
    /// Issues per page, 1-100 (default 25).
    #[serde(default)]
    max_results: Option<u32>,
    /// Token from the previous page's `next_page_token`; omit for the first page.
    #[serde(default)]
    next_page_token: Option<String>,
    /// Extra field ids to return per issue (in `fields`), e.g. `["labels", "customfield_10010"]`.
    #[serde(default)]
    fields: Option<Vec<String>>,
}

/// One issue in a result page.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct IssueRow {
    /// Issue key.
    key: String,
    /// Summary.
    summary: Option<String>,
    /// Status name.
    status: Option<String>,
    /// Priority name.
    priority: Option<String>,
    /// Assignee display name.
    assignee: Option<String>,
    /// Last update time (Jira's timestamp).
    updated: Option<String>,
    /// The extra fields requested, by field id.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<serde_json::Map<String, Value>>,
}

/// A page of results.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SearchResult {
    /// The JQL actually run (scoped to the allowed projects when the server has an allow-list).
    jql: String,
    /// Issues on this page.
    issues: Vec<IssueRow>,
    /// Pass to the next call to get the next page; absent on the last page.
    next_page_token: Option<String>,
    /// Total matches, when the site reports it (Data Center only).
    total: Option<u64>,
}

#[tool_router(router = search_issues_router, vis = "pub(crate)")]
impl JiraServer {
    /// Searches with JQL.
    #[tool(
        name = "search_issues",
        description = "Search Jira issues with JQL. Returns key, summary, status, priority, assignee and updated time per issue, \
one page at a time (default 25, max 100): pass `next_page_token` from a result to get the next page. \
When the server is limited to some projects the query is scoped to them automatically.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn search_issues(
        &self,
        Parameters(args): Parameters<SearchIssuesArgs>,
    ) -> Result<Json<SearchResult>, String> {
        self.search(args).await.map(Json).map_err(tool_error)
    }
}

impl JiraServer {
    #[tracing::instrument(skip_all, fields(tool = "search_issues"))]
    async fn search(&self, args: SearchIssuesArgs) -> Result<SearchResult, JiraError> {
        let scoped = jql::scope(&args.jql, self.config().projects.as_deref())
            .map_err(|e| JiraError::InvalidArgument(format!("cannot use this JQL: {}", e.0)))?;
        let extra: Vec<String> = args
            .fields
            .unwrap_or_default()
            .into_iter()
            .filter(|f| !f.trim().is_empty())
            .collect();
        let mut fields: Vec<String> = BASE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        fields.extend(
            extra
                .iter()
                .filter(|f| !BASE_FIELDS.contains(&f.as_str()))
                .cloned(),
        );
        let max = args.max_results.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let token = args.next_page_token.as_deref().filter(|t| !t.is_empty());
        let page = self.client().search(&scoped, max, token, &fields).await?;
        let issues = page.issues.iter().map(|issue| row(issue, &extra)).collect();
        Ok(SearchResult {
            jql: scoped,
            issues,
            next_page_token: page.next_page_token,
            total: page.total,
        })
    }
}

fn row(issue: &Value, extra: &[String]) -> IssueRow {
    let fields = issue.get("fields").cloned().unwrap_or(Value::Null);
    let picked = (!extra.is_empty()).then(|| {
        extra
            .iter()
            .map(|f| (f.clone(), fields.get(f).cloned().unwrap_or(Value::Null)))
            .collect()
    });
    IssueRow {
        key: text_at(issue, &["key"]).unwrap_or_default(),
        summary: text_at(&fields, &["summary"]),
        status: text_at(&fields, &["status", "name"]),
        priority: text_at(&fields, &["priority", "name"]),
        assignee: user_name(&fields, "assignee"),
        updated: text_at(&fields, &["updated"]),
        fields: picked,
    }
}
