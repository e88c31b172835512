//! `list_schemas`: the schemas a user can see, without PostgreSQL's internal ones; on SQLite the
//! databases of the connection (`main`, and attached ones).

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::model::Schema;
use crate::server::SqlServer;
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "List the SQLite databases of the connection with their \
files: `main` (the configured file) and any attached database. Use the name to qualify a table \
(`main.orders`).";

/// The schemas.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Schemas {
    /// Schemas in name order.
    schemas: Vec<Schema>,
}

#[tool_router(router = list_schemas_router, vis = "pub(crate)")]
impl SqlServer {
    /// Lists schemas.
    #[tool(
        name = "list_schemas",
        description = "List the database's schemas (namespaces) with owner and comment, excluding PostgreSQL's internal ones.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn list_schemas(&self) -> Result<Json<Schemas>, String> {
        let schemas = self.database().schemas().await.map_err(tool_error)?;
        Ok(Json(Schemas { schemas }))
    }
}
