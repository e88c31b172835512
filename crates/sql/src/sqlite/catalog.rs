//! The catalog tools on SQLite, from SQLite's own introspection: `pragma_database_list` (schemas:
//! `main` and attached databases), `pragma_table_list` (tables, views, virtual tables),
//! `sqlite_stat1` (row estimates, present once ANALYZE has run), `pragma_table_xinfo`,
//! `pragma_foreign_key_list`, `pragma_index_list` and `pragma_index_info` (structure), and
//! `EXPLAIN QUERY PLAN` (plans). All of them run on the same locked-down connections as user
//! statements, through the same authorizer and deadline.

use rusqlite::{Row, ToSql};
use serde_json::{Value, json};

use super::error::classify;
use super::session::Session;
use super::statement::{fetch, prepare_one};
use crate::error::QueryError;
use crate::model::{
    ColumnDescription, ForeignKey, IndexDescription, Limits, Schema, TableDescription, TableEntry,
};

/// Runs a trusted catalog statement and maps its rows.
fn rows<T>(
    session: &Session,
    limits: Limits,
    sql: &str,
    params: &[&dyn ToSql],
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, QueryError> {
    let fail = |error| classify(error, sql, session.hooks.take_denial(), limits.timeout);
    let mut statement = session.conn.prepare(sql).map_err(fail)?;
    let mapped = statement.query_map(params, map).map_err(fail)?;
    mapped.collect::<Result<Vec<T>, _>>().map_err(fail)
}

/// An identifier quoted for SQLite.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `main` and the attached databases, with their files.
pub(crate) fn schemas(session: &Session, limits: Limits) -> Result<Vec<Schema>, QueryError> {
    rows(
        session,
        limits,
        "SELECT name, file FROM pragma_database_list WHERE name <> 'temp' ORDER BY seq",
        &[],
        |row| {
            Ok(Schema {
                name: row.get(0)?,
                owner: None,
                comment: None,
                file: row.get::<_, Option<String>>(1)?.filter(|f| !f.is_empty()),
            })
        },
    )
}

/// Tables, views and virtual tables of `schema` (or of every database), with row estimates from
/// `sqlite_stat1` where ANALYZE has filled it.
pub(crate) fn tables(
    session: &Session,
    limits: Limits,
    schema: Option<&str>,
) -> Result<Vec<TableEntry>, QueryError> {
    let mut tables = rows(
        session,
        limits,
        "SELECT schema, name, type FROM pragma_table_list
          WHERE type IN ('table', 'view', 'virtual') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
            AND schema <> 'temp' AND (?1 IS NULL OR schema = ?1)
          ORDER BY schema <> 'main', schema, name",
        &[&schema],
        |row| {
            let kind: String = row.get(2)?;
            Ok(TableEntry {
                schema: row.get(0)?,
                name: row.get(1)?,
                kind: if kind == "virtual" {
                    "virtual table".to_owned()
                } else {
                    kind
                },
                estimated_rows: None,
                comment: None,
            })
        },
    )?;
    let mut schemas: Vec<String> = tables.iter().map(|t| t.schema.clone()).collect();
    schemas.dedup();
    for schema in schemas {
        let estimates = estimates(session, limits, &schema)?;
        for table in tables.iter_mut().filter(|t| t.schema == schema) {
            table.estimated_rows = estimates
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&table.name))
                .map(|(_, rows)| *rows);
        }
    }
    Ok(tables)
}

/// (table, rows) from `schema.sqlite_stat1`; empty when ANALYZE never ran. The first number of
/// each `stat` is the row count of the table (or of the index, never more than the table's).
fn estimates(
    session: &Session,
    limits: Limits,
    schema: &str,
) -> Result<Vec<(String, i64)>, QueryError> {
    let quoted = quote(schema);
    let present = rows(
        session,
        limits,
        &format!("SELECT 1 FROM {quoted}.sqlite_schema WHERE name = 'sqlite_stat1'"),
        &[],
        |_| Ok(()),
    )?;
    if present.is_empty() {
        return Ok(Vec::new());
    }
    rows(
        session,
        limits,
        &format!("SELECT tbl, max(CAST(stat AS INTEGER)) FROM {quoted}.sqlite_stat1 GROUP BY tbl"),
        &[],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Describes `table` (case-insensitive, as SQLite resolves names) in `schema`, or in the first
/// database that has it; `schema.table` is accepted too.
pub(crate) fn describe(
    session: &Session,
    limits: Limits,
    table: &str,
    schema: Option<&str>,
) -> Result<TableDescription, QueryError> {
    let mut found = lookup(session, limits, table, schema)?;
    if found.is_none()
        && schema.is_none()
        && let Some((schema, table)) = table.split_once('.')
    {
        found = lookup(session, limits, table, Some(schema))?;
    }
    let (schema, name, kind, without_rowid) =
        found.ok_or_else(|| QueryError::NoSuchTable(table.to_owned()))?;
    let columns = columns(session, limits, &schema, &name, without_rowid)?;
    let mut primary_key: Vec<(i64, String)> = columns
        .iter()
        .filter(|(pk, _)| *pk > 0)
        .map(|(pk, c)| (*pk, c.name.clone()))
        .collect();
    primary_key.sort();
    Ok(TableDescription {
        foreign_keys: foreign_keys(session, limits, &schema, &name)?,
        indexes: indexes(session, limits, &schema, &name)?,
        primary_key: primary_key.into_iter().map(|(_, name)| name).collect(),
        columns: columns.into_iter().map(|(_, c)| c).collect(),
        kind,
        comment: None,
        visible: true,
        schema,
        name,
    })
}

type Found = Option<(String, String, String, bool)>;

fn lookup(
    session: &Session,
    limits: Limits,
    table: &str,
    schema: Option<&str>,
) -> Result<Found, QueryError> {
    let found = rows(
        session,
        limits,
        "SELECT schema, name, type, wr FROM pragma_table_list
          WHERE name = ?1 COLLATE NOCASE AND (?2 IS NULL OR schema = ?2 COLLATE NOCASE)
            AND type IN ('table', 'view', 'virtual') AND schema <> 'temp'
          ORDER BY schema <> 'main', schema",
        &[&table, &schema],
        |row| {
            let kind: String = row.get(2)?;
            let kind = if kind == "virtual" {
                "virtual table".to_owned()
            } else {
                kind
            };
            Ok((row.get(0)?, row.get(1)?, kind, row.get::<_, i64>(3)? != 0))
        },
    )?;
    Ok(found.into_iter().next())
}

/// Columns with their primary-key ordinal (0 when not in the key). Hidden columns of virtual
/// tables are left out; generated columns are kept.
fn columns(
    session: &Session,
    limits: Limits,
    schema: &str,
    table: &str,
    without_rowid: bool,
) -> Result<Vec<(i64, ColumnDescription)>, QueryError> {
    let mut columns = rows(
        session,
        limits,
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1, ?2)
          WHERE hidden <> 1 ORDER BY cid",
        &[&table, &schema],
        |row| {
            let type_name: String = row.get(1)?;
            Ok((
                row.get::<_, i64>(4)?,
                ColumnDescription {
                    name: row.get(0)?,
                    nullable: row.get::<_, i64>(2)? == 0,
                    default: row.get(3)?,
                    comment: None,
                    type_name,
                },
            ))
        },
    )?;
    // A single INTEGER PRIMARY KEY of a rowid table is the rowid: never NULL, whatever the
    // NOT NULL flag says.
    let keys = columns.iter().filter(|(pk, _)| *pk > 0).count();
    for (pk, column) in &mut columns {
        if keys == 1
            && *pk == 1
            && !without_rowid
            && column.type_name.eq_ignore_ascii_case("INTEGER")
        {
            column.nullable = false;
        }
    }
    Ok(columns)
}

fn foreign_keys(
    session: &Session,
    limits: Limits,
    schema: &str,
    table: &str,
) -> Result<Vec<ForeignKey>, QueryError> {
    type Part = (i64, String, String, Option<String>, String, String);
    let parts: Vec<Part> = rows(
        session,
        limits,
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete
           FROM pragma_foreign_key_list(?1, ?2) ORDER BY id, seq",
        &[&table, &schema],
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        },
    )?;
    let mut keys: Vec<ForeignKey> = Vec::new();
    let mut ids: Vec<i64> = parts.iter().map(|p| p.0).collect();
    ids.dedup();
    for id in ids {
        let mine: Vec<&Part> = parts.iter().filter(|p| p.0 == id).collect();
        let Some(first) = mine.first() else { continue };
        let parent = first.1.clone();
        let from: Vec<String> = mine.iter().map(|p| p.2.clone()).collect();
        let mut to: Vec<String> = mine.iter().filter_map(|p| p.3.clone()).collect();
        if to.len() != from.len() {
            // `REFERENCES parent` without columns means the parent's primary key.
            to = rows(
                session,
                limits,
                "SELECT name FROM pragma_table_xinfo(?1, ?2) WHERE pk > 0 ORDER BY pk",
                &[&parent, &schema],
                |row| row.get(0),
            )?;
        }
        let mut definition = format!(
            "FOREIGN KEY ({}) REFERENCES {}({})",
            from.iter()
                .map(|c| quote_if_needed(c))
                .collect::<Vec<_>>()
                .join(", "),
            quote_if_needed(&parent),
            to.iter()
                .map(|c| quote_if_needed(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (clause, action) in [("ON UPDATE", &first.4), ("ON DELETE", &first.5)] {
            if action != "NO ACTION" {
                definition.push_str(&format!(" {clause} {action}"));
            }
        }
        keys.push(ForeignKey {
            // SQLite keeps no constraint names; this is PostgreSQL's default naming.
            name: format!("{table}_{}_fkey", from.join("_")),
            columns: from,
            references_schema: schema.to_owned(),
            references_table: parent,
            references_columns: to,
            definition,
        });
    }
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

fn quote_if_needed(name: &str) -> String {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain { name.to_owned() } else { quote(name) }
}

fn indexes(
    session: &Session,
    limits: Limits,
    schema: &str,
    table: &str,
) -> Result<Vec<IndexDescription>, QueryError> {
    let listed: Vec<(String, bool, String)> = rows(
        session,
        limits,
        "SELECT name, \"unique\", origin FROM pragma_index_list(?1, ?2)",
        &[&table, &schema],
        |row| Ok((row.get(0)?, row.get::<_, i64>(1)? != 0, row.get(2)?)),
    )?;
    let mut indexes = Vec::new();
    for (name, unique, origin) in listed {
        let columns: Vec<String> = rows(
            session,
            limits,
            "SELECT coalesce(name, '<expression>') FROM pragma_index_info(?1, ?2) ORDER BY seqno",
            &[&name, &schema],
            |row| row.get(0),
        )?;
        let sql: Vec<Option<String>> = rows(
            session,
            limits,
            &format!(
                "SELECT sql FROM {}.sqlite_schema WHERE type = 'index' AND name = ?1",
                quote(schema)
            ),
            &[&name],
            |row| row.get(0),
        )?;
        let listed_columns = columns
            .iter()
            .map(|c| quote_if_needed(c))
            .collect::<Vec<_>>()
            .join(", ");
        let definition = sql.into_iter().flatten().next().unwrap_or_else(|| {
            // Indexes SQLite made for a PRIMARY KEY or UNIQUE constraint have no SQL text.
            match origin.as_str() {
                "pk" => format!("PRIMARY KEY ({listed_columns})"),
                _ => format!("UNIQUE ({listed_columns})"),
            }
        });
        indexes.push(IndexDescription {
            name,
            unique,
            primary: origin == "pk",
            definition,
            columns,
        });
    }
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(indexes)
}

/// `EXPLAIN QUERY PLAN` of one statement that passes the same checks as `query`, as a tree of
/// `{"id", "detail", "children"}` nodes. The statement is prepared, never stepped.
pub(crate) fn explain(session: &Session, sql: &str, limits: Limits) -> Result<Value, QueryError> {
    let statement = prepare_one(session, sql, limits)?;
    if statement.is_explain() != 0 {
        return Err(QueryError::EngineRefused(
            "explain takes the statement itself, without EXPLAIN; EXPLAIN output is available \
             from the query tool"
                .to_owned(),
        ));
    }
    if statement.column_count() == 0 {
        return Err(QueryError::EngineRefused(
            "explain takes a statement that returns rows (a SELECT)".to_owned(),
        ));
    }
    drop(statement);
    let plan_sql = format!("EXPLAIN QUERY PLAN\n{sql}");
    let mut statement = prepare_one(session, &plan_sql, limits)?;
    let plan_limits = Limits {
        max_rows: 10_000,
        max_bytes: usize::MAX / 2,
        ..limits
    };
    let rows = fetch(
        session,
        &mut statement,
        &plan_sql,
        plan_limits,
        std::time::Instant::now(),
    )?;
    let nodes: Vec<(i64, i64, String)> = rows
        .rows
        .iter()
        .map(|row| {
            let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
            let detail = row.get(3).and_then(Value::as_str).unwrap_or_default();
            (int(0), int(1), detail.to_owned())
        })
        .collect();
    Ok(Value::Array(children(&nodes, 0, 0)))
}

/// The nodes under `parent`, in SQLite's order, each with its own children.
fn children(nodes: &[(i64, i64, String)], parent: i64, depth: usize) -> Vec<Value> {
    nodes
        .iter()
        .filter(|(id, p, _)| *p == parent && *id != parent && depth < 64)
        .map(|(id, _, detail)| {
            json!({ "id": id, "detail": detail, "children": children(nodes, *id, depth + 1) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_rows_nest_by_parent() {
        let nodes = vec![
            (2, 0, "SCAN o".to_owned()),
            (
                5,
                0,
                "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)".to_owned(),
            ),
            (9, 5, "CORRELATED SCALAR SUBQUERY 1".to_owned()),
        ];
        let tree = children(&nodes, 0, 0);
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0]["detail"], "SCAN o");
        assert_eq!(
            tree[1]["children"][0]["detail"],
            "CORRELATED SCALAR SUBQUERY 1"
        );
        assert_eq!(quote_if_needed("Order Items"), "\"Order Items\"");
        assert_eq!(quote_if_needed("orders"), "orders");
    }
}
