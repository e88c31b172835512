//! `explain`: the planner's plan of a read-only statement, never executed.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::server::SqlServer;
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "Show SQLite's query plan (EXPLAIN QUERY PLAN) for one \
SELECT statement without running it, as a tree of steps (SCAN, SEARCH ... USING INDEX, temporary \
B-trees for sorting). The statement passes the same checks as `query`.";

/// Arguments of `explain`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ExplainArgs {
    /// One SELECT statement to plan (it is not executed).
    sql: String,
}

/// The plan.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Plan {
    /// PostgreSQL's `EXPLAIN (FORMAT JSON)` output; on SQLite, `EXPLAIN QUERY PLAN` as a list of
    /// `{"id", "detail", "children"}` nodes.
    plan: serde_json::Value,
}

#[tool_router(router = explain_router, vis = "pub(crate)")]
impl SqlServer {
    /// Plans one statement.
    #[tool(
        name = "explain",
        description = "Show PostgreSQL's query plan (EXPLAIN, FORMAT JSON) for one SELECT statement without \
running it: estimated rows and costs, scans and indexes used. The statement passes the same checks as `query`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn explain(
        &self,
        Parameters(args): Parameters<ExplainArgs>,
    ) -> Result<Json<Plan>, String> {
        let began = std::time::Instant::now();
        let plan = self.database().explain(&args.sql).await;
        crate::metrics::statement("explain", plan.as_ref().map(|_| false), began.elapsed());
        Ok(Json(Plan {
            plan: plan.map_err(tool_error)?,
        }))
    }
}
