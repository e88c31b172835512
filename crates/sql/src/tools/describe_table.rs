//! `describe_table`: columns, keys and indexes of one table, read from `pg_catalog` so that a
//! least-privilege role sees them too (information_schema hides what the role cannot write); on
//! SQLite from its table, foreign-key and index pragmas.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;

use crate::backend::{Backend, Postgres};
use crate::exec::QueryError;
use crate::server::SqlServer;
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "Describe one table or view: columns (declared type, \
nullability, default), primary key, foreign keys (what they reference) and indexes with their \
columns. Names are case-insensitive, as in SQLite; `main.orders` is accepted. Read this before \
writing a query against a table.";

const SQL: &str = "
SELECT jsonb_build_object(
  'schema', n.nspname, 'name', c.relname, 'visible', pg_catalog.pg_table_is_visible(c.oid),
  'kind', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                         WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END,
  'comment', obj_description(c.oid, 'pg_class'),
  'columns', COALESCE((
     SELECT jsonb_agg(jsonb_build_object(
              'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
              'nullable', NOT a.attnotnull, 'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
              'comment', col_description(a.attrelid, a.attnum)) ORDER BY a.attnum)
       FROM pg_catalog.pg_attribute a
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'),
  'primary_key', COALESCE((
     SELECT jsonb_agg(a.attname ORDER BY k.ord)
       FROM pg_catalog.pg_constraint con, unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE con.conrelid = c.oid AND con.contype = 'p'), '[]'),
  'foreign_keys', COALESCE((
     SELECT jsonb_agg(jsonb_build_object(
              'name', con.conname,
              'columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord)
                            FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
              'references_schema', fn.nspname, 'references_table', fc.relname,
              'references_columns', (SELECT jsonb_agg(a.attname ORDER BY k.ord)
                            FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
              'definition', pg_catalog.pg_get_constraintdef(con.oid)) ORDER BY con.conname)
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
       JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
      WHERE con.conrelid = c.oid AND con.contype = 'f'), '[]'),
  'indexes', COALESCE((
     SELECT jsonb_agg(jsonb_build_object(
              'name', i.relname, 'unique', ix.indisunique, 'primary', ix.indisprimary,
              'definition', pg_catalog.pg_get_indexdef(ix.indexrelid)) ORDER BY i.relname)
       FROM pg_catalog.pg_index ix JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid
      WHERE ix.indrelid = c.oid), '[]'))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname = $1 AND ($2::text IS NULL OR n.nspname = $2) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
 ORDER BY pg_catalog.pg_table_is_visible(c.oid) DESC, n.nspname";

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

/// One column.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ColumnDescription {
    /// Column name.
    pub(crate) name: String,
    /// Type as PostgreSQL formats it (`numeric(12,2)`, `text[]`, ...); on SQLite as declared.
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// Whether NULL is allowed.
    pub(crate) nullable: bool,
    /// Default expression.
    pub(crate) default: Option<String>,
    /// Column comment.
    pub(crate) comment: Option<String>,
}

/// One foreign key.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ForeignKey {
    /// Constraint name.
    pub(crate) name: String,
    /// Referencing columns.
    pub(crate) columns: Vec<String>,
    /// Referenced table's schema.
    pub(crate) references_schema: String,
    /// Referenced table.
    pub(crate) references_table: String,
    /// Referenced columns.
    pub(crate) references_columns: Vec<String>,
    /// The constraint as SQL.
    pub(crate) definition: String,
}

/// One index.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub(crate) struct IndexDescription {
    /// Index name.
    pub(crate) name: String,
    /// Whether it enforces uniqueness.
    pub(crate) unique: bool,
    /// Whether it is the primary key's index.
    pub(crate) primary: bool,
    /// `CREATE INDEX ...` statement (on SQLite, `PRIMARY KEY (...)` or `UNIQUE (...)` for the
    /// indexes behind those constraints).
    pub(crate) definition: String,
    /// Indexed columns in order (SQLite; `<expression>` for an indexed expression).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) columns: Vec<String>,
}

/// A table's structure.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub(crate) struct TableDescription {
    /// Schema name.
    pub(crate) schema: String,
    /// Table name.
    pub(crate) name: String,
    /// table, partitioned table, view, materialized view or foreign table (PostgreSQL); table,
    /// view or virtual table (SQLite).
    pub(crate) kind: String,
    /// Table comment.
    pub(crate) comment: Option<String>,
    /// Columns in order.
    pub(crate) columns: Vec<ColumnDescription>,
    /// Primary key columns, in key order (empty when none).
    pub(crate) primary_key: Vec<String>,
    /// Foreign keys.
    pub(crate) foreign_keys: Vec<ForeignKey>,
    /// Indexes.
    pub(crate) indexes: Vec<IndexDescription>,
    /// Whether the table is on the search path (not shown).
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub(crate) visible: bool,
}

/// Why a table could not be described.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DescribeError {
    #[error(
        "no table, view or materialized view named {0:?}; call list_tables to see what exists (names are case-sensitive on PostgreSQL)"
    )]
    NotFound(String),
    #[error(
        "{name:?} exists in several schemas ({schemas}) and none is on the search path; pass `schema`"
    )]
    Ambiguous { name: String, schemas: String },
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl SqlServer {
    /// Describes `table` in `schema` (or the one the search path finds).
    pub(crate) async fn describe(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<TableDescription, DescribeError> {
        match self.backend() {
            Backend::Postgres(pg) => pg.describe(table, schema).await,
            Backend::Sqlite(db) => db.describe(table, schema).await,
        }
    }
}

impl Postgres {
    async fn describe(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<TableDescription, DescribeError> {
        let mut found = self.lookup(table, schema).await?;
        if found.is_empty()
            && schema.is_none()
            && let Some((schema, table)) = table.split_once('.')
        {
            found = self.lookup(table, Some(schema)).await?;
        }
        let visible = found.iter().any(|t| t.visible);
        match found.len() {
            0 => Err(DescribeError::NotFound(table.to_owned())),
            1 => Ok(found.remove(0)),
            _ if visible || schema.is_some() => Ok(found.remove(0)),
            _ => Err(DescribeError::Ambiguous {
                name: table.to_owned(),
                schemas: found
                    .iter()
                    .map(|t| t.schema.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    async fn lookup(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<Vec<TableDescription>, DescribeError> {
        let rows = self
            .executor
            .catalog(SQL, &[(&table, Type::TEXT), (&schema, Type::TEXT)], 100)
            .await?;
        rows.rows
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .map(|doc| {
                serde_json::from_value(doc).map_err(|e| {
                    QueryError::ConnectionLost(format!("unexpected catalog answer: {e}")).into()
                })
            })
            .collect()
    }
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
        self.describe(&args.table, args.schema.as_deref())
            .await
            .map(Json)
            .map_err(|e| match e {
                DescribeError::Query(q) => tool_error(q),
                other => other.to_string(),
            })
    }
}
