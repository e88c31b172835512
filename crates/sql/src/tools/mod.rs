//! The server's tools, one per file. Each file adds its own router to [`crate::SqlServer`].

pub(crate) mod describe_table;
pub(crate) mod explain;
pub(crate) mod list_schemas;
pub(crate) mod list_tables;
pub(crate) mod query;

use crate::exec::QueryError;

/// The text of a tool error: what happened and what to do.
pub(crate) fn tool_error(error: QueryError) -> String {
    error.to_string()
}
