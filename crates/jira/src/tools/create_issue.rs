//! `create_issue`: files an issue, with Markdown converted for the site and no duplicate on retry.

use std::time::Duration;

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::JiraServer;
use crate::config::Flavor;
use crate::dedupe::{self, Remembered, WINDOW};
use crate::error::JiraError;
use crate::tools::{text_at, tool_error};

/// Arguments of `create_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CreateIssueArgs {
    /// Project key, e.g. `ENG`.
    project: String,
    /// One-line summary (title) of the issue.
    summary: String,
    /// Issue type name as configured in the project, e.g. `Bug`, `Task`, `Story` (see `list_issue_types`).
    issue_type: String,
    /// Description in Markdown (headings, lists, code blocks, tables, links). Converted to the site's format.
    #[serde(default)]
    description: Option<String>,
    /// Priority name, e.g. `High`.
    #[serde(default)]
    priority: Option<String>,
    /// Labels (no spaces).
    #[serde(default)]
    labels: Option<Vec<String>>,
    /// Assignee: Cloud account id (`accountId`), or Data Center user name.
    #[serde(default)]
    assignee: Option<String>,
    /// Parent issue key, for sub-tasks or issues under an epic, e.g. `ENG-12`.
    #[serde(default)]
    parent: Option<String>,
    /// Extra fields passed to Jira unchanged, keyed by field id, e.g. `{"customfield_10010": "value"}`.
    #[serde(default)]
    fields: Option<Map<String, Value>>,
    /// Optional caller-chosen key: calls with the same key return the issue already created with it, at any time.
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// The created (or already existing) issue.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreatedIssue {
    /// Issue key, e.g. `ENG-42`.
    key: String,
    /// Issue id.
    id: String,
    /// Browse URL.
    url: String,
    /// True when an identical earlier call had already created this issue and nothing new was filed.
    deduplicated: bool,
    /// The fingerprint label the issue carries (how retries are recognised).
    dedupe_label: String,
}

#[tool_router(router = create_issue_router, vis = "pub(crate)")]
impl JiraServer {
    /// Creates an issue.
    #[tool(
        name = "create_issue",
        description = "Create a Jira issue. `description` is Markdown (converted to Atlassian Document Format on Cloud, wiki markup on Data Center). \
Returns the key and URL. Retry-safe: repeating the same call within 10 minutes (or with the same `idempotency_key`, at any time) returns the \
issue already created (`deduplicated: true`) instead of filing a second one; the issue carries a fingerprint label `sb-…` for this. \
Use `list_issue_types` for valid issue types; Jira's field errors are reported by field name.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub(crate) async fn create_issue(
        &self,
        Parameters(args): Parameters<CreateIssueArgs>,
    ) -> Result<Json<CreatedIssue>, String> {
        self.create(args).await.map(Json).map_err(tool_error)
    }
}

impl JiraServer {
    #[tracing::instrument(skip_all, fields(tool = "create_issue", project = %args.project))]
    async fn create(&self, args: CreateIssueArgs) -> Result<CreatedIssue, JiraError> {
        let project = args.project.trim().to_ascii_uppercase();
        self.check_project(&project)?;
        let parent = args
            .parent
            .as_deref()
            .map(|p| self.check_key(p))
            .transpose()?;
        let key = args
            .idempotency_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let canonical = dedupe::canonical_args(&[
            ("project", json!(project)),
            ("summary", json!(args.summary)),
            ("issue_type", json!(args.issue_type)),
            ("description", json!(args.description)),
            ("priority", json!(args.priority)),
            ("labels", json!(args.labels)),
            ("assignee", json!(args.assignee)),
            ("parent", json!(parent)),
            ("fields", json!(args.fields)),
        ]);
        let label = dedupe::fingerprint(key, &canonical);
        let window = if key.is_some() { Duration::MAX } else { WINDOW };

        let _serial = self.memo().create_lock.lock().await;
        if let Some(found) = self.memo().get(&label, window) {
            return Ok(self.created(found, true, label));
        }
        if let Some(found) = self.find_labelled(&project, &label, key.is_none()).await? {
            self.memo().put(label.clone(), found.clone());
            return Ok(self.created(found, true, label));
        }
        let fields = self.issue_fields(&args, &project, parent.as_deref(), &label);
        let created = self.client().create_issue(fields).await?;
        tracing::info!(key = %created.key, project = %project, "issue created");
        let remembered = Remembered {
            id: created.id,
            key: created.key,
        };
        self.memo().put(label.clone(), remembered.clone());
        Ok(self.created(remembered, false, label))
    }

    fn created(&self, issue: Remembered, deduplicated: bool, dedupe_label: String) -> CreatedIssue {
        CreatedIssue {
            url: self.config().browse_url(&issue.key),
            key: issue.key,
            id: issue.id,
            deduplicated,
            dedupe_label,
        }
    }

    /// An issue in `project` carrying `label` (created within the window when `windowed`).
    async fn find_labelled(
        &self,
        project: &str,
        label: &str,
        windowed: bool,
    ) -> Result<Option<Remembered>, JiraError> {
        let jql = format!("project = \"{project}\" AND labels = \"{label}\" ORDER BY created DESC");
        let page = self
            .client()
            .search(&jql, 10, None, &["created".to_owned()])
            .await?;
        let now = chrono::Utc::now();
        let window =
            chrono::Duration::from_std(WINDOW).unwrap_or_else(|_| chrono::Duration::minutes(10));
        for issue in page.issues {
            let recent = || {
                text_at(&issue, &["fields", "created"])
                    .and_then(|c| {
                        chrono::DateTime::parse_from_str(&c, "%Y-%m-%dT%H:%M:%S%.f%z").ok()
                    })
                    .is_some_and(|created| now.signed_duration_since(created) < window)
            };
            if windowed && !recent() {
                continue;
            }
            if let (Some(id), Some(key)) = (text_at(&issue, &["id"]), text_at(&issue, &["key"])) {
                return Ok(Some(Remembered { id, key }));
            }
        }
        Ok(None)
    }

    fn issue_fields(
        &self,
        args: &CreateIssueArgs,
        project: &str,
        parent: Option<&str>,
        label: &str,
    ) -> Value {
        let mut fields = args.fields.clone().unwrap_or_default();
        fields.insert("project".into(), json!({ "key": project }));
        fields.insert("summary".into(), json!(args.summary));
        fields.insert("issuetype".into(), json!({ "name": args.issue_type }));
        if let Some(description) = &args.description {
            fields.insert("description".into(), self.rich_text(description));
        }
        if let Some(priority) = &args.priority {
            fields.insert("priority".into(), json!({ "name": priority }));
        }
        if let Some(assignee) = &args.assignee {
            let user = match self.config().flavor {
                Flavor::Cloud => json!({ "accountId": assignee }),
                Flavor::DataCenter => json!({ "name": assignee }),
            };
            fields.insert("assignee".into(), user);
        }
        if let Some(parent) = parent {
            fields.insert("parent".into(), json!({ "key": parent }));
        }
        let mut labels = args.labels.clone().unwrap_or_default();
        labels.push(label.to_owned());
        fields.insert("labels".into(), json!(labels));
        Value::Object(fields)
    }
}
