//! `get_transitions`: the workflow transitions available on an issue now.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JiraServer;
use crate::tools::{text_at, tool_error};

/// Arguments of `get_transitions`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct GetTransitionsArgs {
    /// Issue key, e.g. `ENG-123`.
    key: String,
}

/// One available transition.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Transition {
    /// Transition id (pass to `transition_issue`).
    pub(crate) id: String,
    /// Transition name, e.g. `Start Progress`.
    pub(crate) name: String,
    /// The status the issue moves to.
    pub(crate) to_status: Option<String>,
}

/// The transitions of an issue.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Transitions {
    /// Issue key.
    key: String,
    /// Transitions available from the current status.
    transitions: Vec<Transition>,
}

pub(crate) fn parse_transition(value: &Value) -> Transition {
    Transition {
        id: text_at(value, &["id"]).unwrap_or_default(),
        name: text_at(value, &["name"]).unwrap_or_default(),
        to_status: text_at(value, &["to", "name"]),
    }
}

#[tool_router(router = get_transitions_router, vis = "pub(crate)")]
impl JiraServer {
    /// Lists transitions.
    #[tool(
        name = "get_transitions",
        description = "List the workflow transitions available for a Jira issue from its current status (id, name, target status). \
Use before `transition_issue`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn get_transitions(
        &self,
        Parameters(args): Parameters<GetTransitionsArgs>,
    ) -> Result<Json<Transitions>, String> {
        let key = self.check_key(&args.key).map_err(tool_error)?;
        let list = self.client().transitions(&key).await.map_err(tool_error)?;
        Ok(Json(Transitions {
            key,
            transitions: list.iter().map(parse_transition).collect(),
        }))
    }
}
