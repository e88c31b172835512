//! `list_schemas`: the schemas a user can see, without PostgreSQL's internal ones; on SQLite the
//! databases of the connection (`main`, and attached ones).

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::backend::{Backend, Postgres};
use crate::exec::QueryError;
use crate::server::{SqlServer, text};
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "List the SQLite databases of the connection with their \
files: `main` (the configured file) and any attached database. Use the name to qualify a table \
(`main.orders`).";

const SQL: &str = "
SELECT n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, obj_description(n.oid, 'pg_namespace')
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY 1";

/// One schema.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Schema {
    /// Schema name.
    pub(crate) name: String,
    /// Owning role (PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
    /// The schema's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
    /// The database file (SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
}

/// The schemas.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Schemas {
    /// Schemas in name order.
    schemas: Vec<Schema>,
}

impl Postgres {
    async fn schemas(&self) -> Result<Vec<Schema>, QueryError> {
        let rows = self.executor.catalog(SQL, &[], 10_000).await?;
        Ok(rows
            .rows
            .iter()
            .map(|row| Schema {
                name: text(&row[0]),
                owner: Some(text(&row[1])),
                comment: row[2].as_str().map(str::to_owned),
                file: None,
            })
            .collect())
    }
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
        let schemas = match self.backend() {
            Backend::Postgres(pg) => pg.schemas().await,
            Backend::Sqlite(db) => db.schemas().await,
        };
        Ok(Json(Schemas {
            schemas: schemas.map_err(tool_error)?,
        }))
    }
}
