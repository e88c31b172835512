//! What a statement returns, on either backend: its columns, its rows within the budgets, and
//! whether a budget cut it short.

use std::time::Duration;

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
