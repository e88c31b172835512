//! The server's tools, one per file. Each file adds its own router to [`crate::SqlServer`]: its
//! arguments, one call into [`crate::database::Database`], and its output; tools whose wording
//! depends on the database also carry the SQLite variant of their description.

pub(crate) mod describe_table;
pub(crate) mod explain;
pub(crate) mod list_schemas;
pub(crate) mod list_tables;
pub(crate) mod query;

use rmcp::handler::server::router::tool::ToolRouter;

use crate::error::QueryError;
use crate::server::SqlServer;

/// Replaces the PostgreSQL wording of the tool descriptions with the SQLite one, so that a model
/// writes the right dialect and knows what is accepted.
pub(crate) fn describe_for_sqlite(router: &mut ToolRouter<SqlServer>) {
    for (name, description) in [
        ("query", query::SQLITE_DESCRIPTION),
        ("explain", explain::SQLITE_DESCRIPTION),
        ("list_schemas", list_schemas::SQLITE_DESCRIPTION),
        ("list_tables", list_tables::SQLITE_DESCRIPTION),
        ("describe_table", describe_table::SQLITE_DESCRIPTION),
    ] {
        if let Some(route) = router.map.get_mut(name) {
            route.attr.description = Some(description.into());
        }
    }
}

/// The text of a tool error: what happened and what to do.
pub(crate) fn tool_error(error: QueryError) -> String {
    error.to_string()
}
