//! `list_schemas`: the schemas a user can see, without PostgreSQL's internal ones.

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::server::{SqlServer, text};
use crate::tools::tool_error;

const SQL: &str = "
SELECT n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, obj_description(n.oid, 'pg_namespace')
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY 1";

/// One schema.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Schema {
    /// Schema name.
    name: String,
    /// Owning role.
    owner: String,
    /// The schema's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

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
        let rows = self
            .executor()
            .catalog(SQL, &[], 10_000)
            .await
            .map_err(tool_error)?;
        let schemas = rows
            .rows
            .iter()
            .map(|row| Schema {
                name: text(&row[0]),
                owner: text(&row[1]),
                comment: row[2].as_str().map(str::to_owned),
            })
            .collect();
        Ok(Json(Schemas { schemas }))
    }
}
