//! The catalog on PostgreSQL: schemas, tables and one table's structure, read from `pg_catalog`
//! (information_schema hides from a least-privilege role what it cannot write), under the same
//! timeouts and budgets as statements.

use serde_json::Value;
use tokio_postgres::types::Type;

use super::Postgres;
use crate::error::QueryError;
use crate::model::{Schema, TableDescription, TableEntry};

const SCHEMAS: &str = "
SELECT n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, obj_description(n.oid, 'pg_namespace')
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY 1";

const TABLES: &str = "
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

const DESCRIBE: &str = "
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

impl Postgres {
    /// The schemas a user can see, without PostgreSQL's internal ones.
    ///
    /// # Errors
    /// When the catalog query fails or the database is unreachable.
    pub async fn schemas(&self) -> Result<Vec<Schema>, QueryError> {
        let rows = self.executor.catalog(SCHEMAS, &[], 10_000).await?;
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

    /// All tables of `schema` (or of every user schema).
    ///
    /// # Errors
    /// When the catalog query fails or the database is unreachable.
    pub async fn tables(&self, schema: Option<&str>) -> Result<Vec<TableEntry>, QueryError> {
        let rows = self
            .executor
            .catalog(TABLES, &[(&schema, Type::TEXT)], 100_000)
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

    /// Describes `table` in `schema` (or the one the search path finds; `schema.table` is
    /// accepted too).
    ///
    /// # Errors
    /// When there is no such table, several and none on the search path, or the query fails.
    pub async fn describe(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<TableDescription, QueryError> {
        let mut found = self.lookup(table, schema).await?;
        if found.is_empty()
            && schema.is_none()
            && let Some((schema, table)) = table.split_once('.')
        {
            found = self.lookup(table, Some(schema)).await?;
        }
        let visible = found.iter().any(|t| t.visible);
        match found.len() {
            0 => Err(QueryError::NoSuchTable(table.to_owned())),
            1 => Ok(found.remove(0)),
            _ if visible || schema.is_some() => Ok(found.remove(0)),
            _ => Err(QueryError::AmbiguousTable {
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
    ) -> Result<Vec<TableDescription>, QueryError> {
        let rows = self
            .executor
            .catalog(
                DESCRIBE,
                &[(&table, Type::TEXT), (&schema, Type::TEXT)],
                100,
            )
            .await?;
        rows.rows
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .map(|doc| {
                serde_json::from_value(doc)
                    .map_err(|e| QueryError::Unexpected(format!("unexpected catalog answer: {e}")))
            })
            .collect()
    }
}

/// A catalog value as a string (catalog queries return text columns).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
