//! `describe_table`: columns, keys and indexes of one table.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::TableDescription;
use crate::server::SqlServer;
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "Describe one table or view: columns (declared type, \
nullability, default), primary key, foreign keys (what they reference) and indexes with their \
columns. Names are case-insensitive, as in SQLite; `main.orders` is accepted. Read this before \
writing a query against a table.";

/// Arguments of `describe_table`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct DescribeTableArgs {
    /// Table name as stored, without quotes (case-sensitive on PostgreSQL), e.g. `orders` or
    /// `Order Items`; `schema.table` is accepted too.
    table: String,
    /// Schema of the table (PostgreSQL: the search path decides when absent; SQLite: `main` or an
    /// attached database, the first that has the table when absent).
    #[serde(default)]
    schema: Option<String>,
}

#[tool_router(router = describe_table_router, vis = "pub(crate)")]
impl SqlServer {
    /// Describes one table.
    #[tool(
        name = "describe_table",
        description = "Describe one table or view: columns (type, nullability, default, comment), primary key, \
foreign keys (what they reference) and indexes. Read this before writing a query against a table.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn describe_table(
        &self,
        Parameters(args): Parameters<DescribeTableArgs>,
    ) -> Result<Json<TableDescription>, String> {
        self.database()
            .describe(&args.table, args.schema.as_deref())
            .await
            .map(Json)
            .map_err(tool_error)
    }
}
