//! The shapes both backends produce and the tools return: a statement's rows within the budgets
//! (and whether a budget cut them short), the budgets themselves, and the catalog's schemas,
//! tables and table descriptions.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Budgets one statement runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Row budget.
    pub max_rows: usize,
    /// Byte budget of the rows encoded as JSON.
    pub max_bytes: usize,
    /// Statement timeout (on PostgreSQL also the lock and idle-in-transaction timeout).
    pub timeout: Duration,
}

/// One result column.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ColumnInfo {
    /// Column name as the statement labels it.
    pub name: String,
    /// Type name: PostgreSQL's (`int8`, `timestamptz`, `text[]`, ...); on SQLite the column's
    /// declared type (`INTEGER`, `NUMERIC(12,2)`), else the storage class of its first non-NULL
    /// value (`integer`, `real`, `text`, `blob`), else empty.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// Why a result stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TruncatedBy {
    /// The row budget was reached.
    Rows,
    /// The byte budget was reached.
    Bytes,
}

/// The rows of one statement, within budget.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Rows {
    /// Result columns, in order.
    pub columns: Vec<ColumnInfo>,
    /// Rows as arrays of values in column order.
    pub rows: Vec<Vec<Value>>,
    /// Number of rows returned.
    pub row_count: usize,
    /// True when more rows existed than were returned.
    pub truncated: bool,
    /// Which budget cut the result, when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated_by: Option<TruncatedBy>,
    /// Wall time of the call in milliseconds.
    pub elapsed_ms: u64,
}

/// One schema.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Schema {
    /// Schema name.
    pub name: String,
    /// Owning role (PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The schema's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The database file (SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One table or view.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableEntry {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// table, partitioned table, view, materialized view or foreign table (PostgreSQL); table,
    /// view or virtual table (SQLite).
    pub kind: String,
    /// The planner's row estimate (absent before the first ANALYZE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<i64>,
    /// The table's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One column.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ColumnDescription {
    /// Column name.
    pub name: String,
    /// Type as PostgreSQL formats it (`numeric(12,2)`, `text[]`, ...); on SQLite as declared.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Default expression.
    pub default: Option<String>,
    /// Column comment.
    pub comment: Option<String>,
}

/// One foreign key.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table's schema.
    pub references_schema: String,
    /// Referenced table.
    pub references_table: String,
    /// Referenced columns.
    pub references_columns: Vec<String>,
    /// The constraint as SQL.
    pub definition: String,
}

/// One index.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct IndexDescription {
    /// Index name.
    pub name: String,
    /// Whether it enforces uniqueness.
    pub unique: bool,
    /// Whether it is the primary key's index.
    pub primary: bool,
    /// `CREATE INDEX ...` statement (on SQLite, `PRIMARY KEY (...)` or `UNIQUE (...)` for the
    /// indexes behind those constraints).
    pub definition: String,
    /// Indexed columns in order (SQLite; `<expression>` for an indexed expression).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// A table's structure.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TableDescription {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// table, partitioned table, view, materialized view or foreign table (PostgreSQL); table,
    /// view or virtual table (SQLite).
    pub kind: String,
    /// Table comment.
    pub comment: Option<String>,
    /// Columns in order.
    pub columns: Vec<ColumnDescription>,
    /// Primary key columns, in key order (empty when none).
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes.
    pub indexes: Vec<IndexDescription>,
    /// Whether the table is on the search path (not shown).
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub visible: bool,
}

/// A query plan: PostgreSQL's `EXPLAIN (FORMAT JSON)` output, or SQLite's `EXPLAIN QUERY PLAN`
/// as a tree of `{"id", "detail", "children"}` nodes.
pub type Plan = Value;
