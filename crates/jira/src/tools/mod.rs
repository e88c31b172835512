//! The server's tools, one per file. Each file adds its own router to [`crate::JiraServer`].

pub(crate) mod add_comment;
pub(crate) mod create_issue;
pub(crate) mod get_issue;
pub(crate) mod get_transitions;
pub(crate) mod list_issue_types;
pub(crate) mod list_projects;
pub(crate) mod search_issues;
pub(crate) mod transition_issue;

use serde_json::Value;

use crate::error::JiraError;

/// The text of a tool error (`isError: true`): what happened and what to do.
pub(crate) fn tool_error(error: JiraError) -> String {
    tracing::debug!(%error, "tool call failed");
    error.to_string()
}

/// A string at `path` (e.g. `["status", "name"]`) in a JSON value.
pub(crate) fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    let mut current = value;
    for step in path {
        current = current.get(*step)?;
    }
    current.as_str().map(str::to_owned)
}

/// A user's display name (Cloud and Data Center both send `displayName`).
pub(crate) fn user_name(fields: &Value, field: &str) -> Option<String> {
    text_at(fields, &[field, "displayName"]).or_else(|| text_at(fields, &[field, "name"]))
}
