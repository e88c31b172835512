//! `list_tables`: tables, views and their kin, with estimated sizes and comments.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;

use crate::backend::Backend;
use crate::exec::QueryError;
use crate::server::{SqlServer, text};
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "List tables, views and virtual tables (of every \
database, or of one: `main` is the configured file) with kind and estimated row count (from \
sqlite_stat1, absent when the database was never ANALYZEd). Use describe_table for columns and keys.";

const SQL: &str = "
SELECT n.nspname::text, c.relname::text,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END,
       obj_description(c.oid, 'pg_class')
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
   AND n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%'
   AND ($1::text IS NULL OR n.nspname = $1)
 ORDER BY 1, 2";

/// Arguments of `list_tables`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListTablesArgs {
    /// Only this schema (all user schemas when absent).
    #[serde(default)]
    schema: Option<String>,
}

/// One table or view.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TableEntry {
    /// Schema name.
    pub(crate) schema: String,
    /// Table name.
    pub(crate) name: String,
    /// table, partitioned table, view, materialized view or foreign table (PostgreSQL); table,
    /// view or virtual table (SQLite).
    pub(crate) kind: String,
    /// The planner's row estimate (absent before the first ANALYZE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) estimated_rows: Option<i64>,
    /// The table's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
}

/// The tables.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Tables {
    /// Tables in (schema, name) order.
    pub(crate) tables: Vec<TableEntry>,
}

impl SqlServer {
    /// All tables of `schema` (or of every user schema).
    pub(crate) async fn tables(&self, schema: Option<&str>) -> Result<Vec<TableEntry>, QueryError> {
        let pg = match self.backend() {
            Backend::Postgres(pg) => pg,
            Backend::Sqlite(db) => return db.tables(schema).await,
        };
        let rows = pg
            .executor
            .catalog(SQL, &[(&schema, Type::TEXT)], 100_000)
            .await?;
        Ok(rows
            .rows
            .iter()
            .map(|row| TableEntry {
                schema: text(&row[0]),
                name: text(&row[1]),
                kind: text(&row[2]),
                estimated_rows: row[3]
                    .as_i64()
                    .or_else(|| row[3].as_str().and_then(|s| s.parse().ok())),
                comment: row[4].as_str().map(str::to_owned),
            })
            .collect())
    }
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
            .tables(args.schema.as_deref())
            .await
            .map_err(tool_error)?;
        Ok(Json(Tables { tables }))
    }
}
