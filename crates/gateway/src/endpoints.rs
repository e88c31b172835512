//! Virtual endpoints: `[endpoints.<name>]` serves `/mcp/<name>` (or stdio with
//! `switchboard serve --endpoint <name>`) with a curated part of the catalog — the tools matching
//! `tools` and not `exclude` — each optionally renamed, redescribed, or with arguments fixed to a
//! value (hidden from the schema the client sees, and set on every call whatever the client
//! sends), its own instructions, and the clients that may use it. The policy pipeline and audit
//! are the same as `/mcp`'s; the audit records the endpoint.

use std::collections::BTreeMap;

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

use crate::config::ToolSearch;

/// How one tool looks on an endpoint.
#[derive(Debug, Clone, Default)]
pub struct Override {
    /// The name the endpoint's clients see and call.
    pub rename: Option<String>,
    /// The description they see.
    pub description: Option<String>,
    /// Arguments fixed to a value: absent from the schema, set on every call.
    pub fixed: JsonObject,
}

/// One virtual endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its name (`/mcp/<name>`).
    pub name: String,
    /// Exposed-name globs of the tools it offers.
    pub tools: Vec<glob::Pattern>,
    /// Exposed-name globs left out.
    pub exclude: Vec<glob::Pattern>,
    /// Instructions announced to its clients (default: the gateway's).
    pub instructions: Option<String>,
    /// The clients that may use it (`None`: every client).
    pub clients: Option<Vec<String>>,
    /// Tool search on this endpoint (`None`: the caller's own setting).
    pub tool_search: Option<ToolSearch>,
    /// Per-tool overrides, by exposed name.
    pub overrides: BTreeMap<String, Override>,
}

impl Endpoint {
    /// Whether the catalog tool `exposed` is offered here.
    pub fn includes(&self, exposed: &str) -> bool {
        self.tools.iter().any(|p| p.matches(exposed))
            && !self.exclude.iter().any(|p| p.matches(exposed))
    }

    /// Whether `client` may use this endpoint.
    pub fn admits(&self, client: &str) -> bool {
        self.clients
            .as_ref()
            .is_none_or(|clients| clients.iter().any(|c| c == client))
    }

    /// `tool` (exposed as `exposed`) as this endpoint's clients see it.
    pub fn present(&self, exposed: &str, tool: &Tool) -> Tool {
        let Some(change) = self.overrides.get(exposed) else {
            return tool.clone();
        };
        let mut shown = tool.clone();
        if let Some(name) = &change.rename {
            shown.name = name.clone().into();
        }
        if let Some(description) = &change.description {
            shown.description = Some(description.clone().into());
        }
        if !change.fixed.is_empty() {
            let mut schema = (*shown.input_schema).clone();
            if let Some(Value::Object(properties)) = schema.get_mut("properties") {
                properties.retain(|name, _| !change.fixed.contains_key(name));
            }
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|name| name.as_str().is_none_or(|n| !change.fixed.contains_key(n)));
            }
            shown.input_schema = std::sync::Arc::new(schema);
        }
        shown
    }

    /// The catalog name of the tool this endpoint's clients call `name`, with the arguments it
    /// fixes; `None` when the endpoint offers no tool of that name (a tool renamed here is
    /// called by its new name only).
    pub fn resolve(&self, name: &str) -> Option<(String, JsonObject)> {
        if let Some((exposed, change)) = self
            .overrides
            .iter()
            .find(|(_, change)| change.rename.as_deref() == Some(name))
        {
            return self
                .includes(exposed)
                .then(|| (exposed.clone(), change.fixed.clone()));
        }
        let renamed = self
            .overrides
            .get(name)
            .is_some_and(|change| change.rename.is_some());
        (self.includes(name) && !renamed).then(|| {
            let fixed = self
                .overrides
                .get(name)
                .map(|change| change.fixed.clone())
                .unwrap_or_default();
            (name.to_owned(), fixed)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn endpoint() -> Endpoint {
        let fixed = json!({"project": "ENG"}).as_object().cloned().unwrap();
        Endpoint {
            name: "eng".to_owned(),
            tools: vec![glob::Pattern::new("jira__*").unwrap()],
            exclude: vec![glob::Pattern::new("jira__delete_*").unwrap()],
            instructions: None,
            clients: Some(vec!["analyst".to_owned()]),
            tool_search: None,
            overrides: BTreeMap::from([(
                "jira__create_issue".to_owned(),
                Override {
                    rename: Some("file_bug".to_owned()),
                    description: Some("File a bug in ENG".to_owned()),
                    fixed,
                },
            )]),
        }
    }

    #[test]
    fn an_endpoint_renames_redescribes_and_fixes_arguments() {
        let endpoint = endpoint();
        let schema = json!({"type": "object", "properties": {"project": {"type": "string"}, "summary": {"type": "string"}}, "required": ["project", "summary"]});
        let tool = Tool::new(
            "jira__create_issue",
            "Create an issue",
            Arc::new(schema.as_object().cloned().unwrap()),
        );
        let shown = endpoint.present("jira__create_issue", &tool);
        assert_eq!(shown.name, "file_bug");
        assert_eq!(shown.description.as_deref(), Some("File a bug in ENG"));
        assert_eq!(
            Value::Object((*shown.input_schema).clone()),
            json!({"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]})
        );
        let (exposed, fixed) = endpoint.resolve("file_bug").unwrap();
        assert_eq!(
            (exposed.as_str(), fixed["project"].as_str()),
            ("jira__create_issue", Some("ENG"))
        );
        assert!(
            endpoint.resolve("jira__create_issue").is_none(),
            "only by its new name"
        );
        assert_eq!(
            endpoint.resolve("jira__get_issue").unwrap().0,
            "jira__get_issue"
        );
        assert!(endpoint.resolve("jira__delete_issue").is_none());
        assert!(endpoint.resolve("db__query").is_none());
        assert!(endpoint.admits("analyst") && !endpoint.admits("ci"));
    }
}
