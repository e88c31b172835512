//! `transition_issue`: moves an issue through its workflow, by transition id or name.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::JiraServer;
use crate::error::JiraError;
use crate::tools::get_transitions::parse_transition;
use crate::tools::tool_error;

/// Arguments of `transition_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct TransitionIssueArgs {
    /// Issue key, e.g. `ENG-123`.
    key: String,
    /// Transition id (e.g. `31`) or name (e.g. `Done`, case-insensitive), as listed by `get_transitions`.
    transition: String,
}

/// The transition performed.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Transitioned {
    /// Issue key.
    key: String,
    /// Transition id used.
    transition_id: String,
    /// Transition name.
    transition_name: String,
    /// The status the issue moved to, when Jira named it.
    to_status: Option<String>,
}

#[tool_router(router = transition_issue_router, vis = "pub(crate)")]
impl JiraServer {
    /// Transitions an issue.
    #[tool(
        name = "transition_issue",
        description = "Move a Jira issue to another status by performing a workflow transition, given by id or by name \
(case-insensitive, e.g. `In Progress`, `Done`). An unknown transition is refused with the list of available ones.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub(crate) async fn transition_issue(
        &self,
        Parameters(args): Parameters<TransitionIssueArgs>,
    ) -> Result<Json<Transitioned>, String> {
        self.transition(args).await.map(Json).map_err(tool_error)
    }
}

impl JiraServer {
    #[tracing::instrument(skip_all, fields(tool = "transition_issue", key = %args.key))]
    async fn transition(&self, args: TransitionIssueArgs) -> Result<Transitioned, JiraError> {
        let key = self.check_key(&args.key)?;
        let wanted = args.transition.trim();
        let available: Vec<_> = self
            .client()
            .transitions(&key)
            .await?
            .iter()
            .map(parse_transition)
            .collect();
        let chosen = available
            .iter()
            .find(|t| t.id == wanted)
            .or_else(|| {
                available
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(wanted))
            })
            .or_else(|| {
                available.iter().find(|t| {
                    t.to_status
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
                })
            });
        let Some(chosen) = chosen else {
            let list = if available.is_empty() {
                "none".to_owned()
            } else {
                available
                    .iter()
                    .map(|t| {
                        format!(
                            "{} (id {}{})",
                            t.name,
                            t.id,
                            t.to_status
                                .as_deref()
                                .map(|s| format!(" → {s}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(JiraError::InvalidArgument(format!(
                "issue {key} has no transition `{wanted}` from its current status; available: {list}"
            )));
        };
        self.client().transition(&key, &chosen.id).await?;
        Ok(Transitioned {
            key,
            transition_id: chosen.id.clone(),
            transition_name: chosen.name.clone(),
            to_status: chosen.to_status.clone(),
        })
    }
}
