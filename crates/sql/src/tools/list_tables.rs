//! `list_tables`: tables, views and their kin, with estimated sizes and comments.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::TableEntry;
use crate::server::SqlServer;
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "List tables, views and virtual tables (of every \
database, or of one: `main` is the configured file) with kind and estimated row count (from \
sqlite_stat1, absent when the database was never ANALYZEd). Use describe_table for columns and keys.";

/// Arguments of `list_tables`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListTablesArgs {
    /// Only this schema (all user schemas when absent).
    #[serde(default)]
    schema: Option<String>,
}

/// The tables.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Tables {
    /// Tables in (schema, name) order.
    pub(crate) tables: Vec<TableEntry>,
}

#[tool_router(router = list_tables_router, vis = "pub(crate)")]
impl SqlServer {
    /// Lists tables.
    #[tool(
        name = "list_tables",
        description = "List tables, views, materialized views and foreign tables (all user schemas, or one \
schema) with kind, estimated row count and comment. Use describe_table for columns and keys.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn list_tables(
        &self,
        Parameters(args): Parameters<ListTablesArgs>,
    ) -> Result<Json<Tables>, String> {
        let tables = self
            .database()
            .tables(args.schema.as_deref())
            .await
            .map_err(tool_error)?;
        Ok(Json(Tables { tables }))
    }
}
