//! What SQLite may compile on the server's connections: the policy behind
//! `sqlite3_set_authorizer`. SQLite asks it about every action of a statement while preparing it
//! (the statements a pragma table-valued function prepares, and views, included), so a denied
//! action refuses the statement before anything runs.
//!
//! It is an allow-list: reading tables and columns, SELECT, recursive CTEs, functions except
//! [`DENIED_FUNCTIONS`], and the pragmas in [`ARGUMENT_PRAGMAS`] and [`READ_PRAGMAS`]. Everything
//! else (writes, schema changes, ANALYZE, REINDEX, ATTACH, DETACH, transaction control,
//! savepoints, virtual-table creation, any action SQLite adds later) is denied with a reason.

use rusqlite::hooks::AuthAction;

/// Pragmas allowed with or without an argument: the argument names a table or an index, it does
/// not set anything.
pub(crate) const ARGUMENT_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
];

/// Pragmas allowed only as reads (`PRAGMA name`, never `PRAGMA name = value` or `name(value)`).
/// `journal_mode` is not among them: SQLite marks even reading it as a write.
pub(crate) const READ_PRAGMAS: &[&str] = &[
    "application_id",
    "collation_list",
    "compile_options",
    "data_version",
    "database_list",
    "encoding",
    "foreign_keys",
    "freelist_count",
    "function_list",
    "module_list",
    "page_count",
    "page_size",
    "pragma_list",
    "query_only",
    "schema_version",
    "user_version",
];

/// Functions never allowed: `load_extension` loads native code (extension loading is also off on
/// the connection), `fts3_tokenizer` can register a tokenizer by pointer.
pub(crate) const DENIED_FUNCTIONS: &[&str] = &["load_extension", "fts3_tokenizer"];

/// Decides one action: `Ok` allows it, `Err` carries the reason shown to the caller.
pub(crate) fn decide(action: &AuthAction<'_>) -> Result<(), String> {
    match action {
        AuthAction::Select | AuthAction::Read { .. } | AuthAction::Recursive => Ok(()),
        AuthAction::Function { function_name } => function(function_name),
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => pragma(pragma_name, *pragma_value),
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Err(
            "ATTACH and DETACH are not allowed: the server reads only its configured database file"
                .to_owned(),
        ),
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Err(
            "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not allowed: \
             every statement runs on its own and only reads"
                .to_owned(),
        ),
        AuthAction::Insert { table_name } => Err(write("INSERT into", table_name)),
        AuthAction::Update { table_name, .. } => Err(write("UPDATE of", table_name)),
        AuthAction::Delete { table_name } => Err(write("DELETE from", table_name)),
        AuthAction::Analyze { .. } => Err(
            "ANALYZE is not allowed: it writes the statistics tables; the server only reads"
                .to_owned(),
        ),
        _ => Err(SCHEMA_CHANGE.to_owned()),
    }
}

const SCHEMA_CHANGE: &str = "schema changes (CREATE, DROP, ALTER, REINDEX, virtual tables) are \
not allowed: the server only reads";

fn write(what: &str, table: &str) -> String {
    // CREATE and DROP first ask to write the schema table itself.
    if matches!(
        table.to_ascii_lowercase().as_str(),
        "sqlite_master" | "sqlite_temp_master" | "sqlite_schema" | "sqlite_temp_schema"
    ) {
        return SCHEMA_CHANGE.to_owned();
    }
    format!("{what} {table} is not allowed: the server only reads")
}

fn function(name: &str) -> Result<(), String> {
    if DENIED_FUNCTIONS
        .iter()
        .any(|d| d.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "function {name}() is not allowed: it can load code into the server"
        ));
    }
    Ok(())
}

fn pragma(name: &str, value: Option<&str>) -> Result<(), String> {
    let listed = |list: &[&str]| list.iter().any(|p| p.eq_ignore_ascii_case(name));
    if listed(ARGUMENT_PRAGMAS) || (value.is_none() && listed(READ_PRAGMAS)) {
        return Ok(());
    }
    let allowed = format!(
        "{}, and as plain reads {}",
        ARGUMENT_PRAGMAS.join(", "),
        READ_PRAGMAS.join(", ")
    );
    Err(match value {
        Some(value) if listed(READ_PRAGMAS) => format!(
            "PRAGMA {name} = {value} would change a setting; only reading it (PRAGMA {name}) is allowed"
        ),
        _ => format!("PRAGMA {name} is not allowed; the allowed pragmas are {allowed}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::hooks::TransactionOperation;

    #[test]
    fn reads_are_allowed() {
        for action in [
            AuthAction::Select,
            AuthAction::Recursive,
            AuthAction::Read {
                table_name: "orders",
                column_name: "id",
            },
            AuthAction::Function {
                function_name: "json_extract",
            },
            AuthAction::Pragma {
                pragma_name: "TABLE_INFO",
                pragma_value: Some("orders"),
            },
            AuthAction::Pragma {
                pragma_name: "user_version",
                pragma_value: None,
            },
        ] {
            assert_eq!(decide(&action), Ok(()), "{action:?}");
        }
    }

    #[test]
    fn everything_else_is_denied_with_a_reason() {
        for (action, reason) in [
            (AuthAction::Attach { filename: "x.db" }, "ATTACH"),
            (AuthAction::Detach { database_name: "x" }, "DETACH"),
            (
                AuthAction::Transaction {
                    operation: TransactionOperation::Begin,
                },
                "transaction control",
            ),
            (
                AuthAction::Savepoint {
                    operation: TransactionOperation::Begin,
                    savepoint_name: "s",
                },
                "SAVEPOINT",
            ),
            (
                AuthAction::Delete {
                    table_name: "canary",
                },
                "DELETE from canary",
            ),
            (
                AuthAction::DropTable {
                    table_name: "canary",
                },
                "schema changes",
            ),
            (
                AuthAction::Insert {
                    table_name: "sqlite_temp_master",
                },
                "schema changes",
            ),
            (
                AuthAction::Analyze {
                    table_name: "orders",
                },
                "ANALYZE",
            ),
            (
                AuthAction::Function {
                    function_name: "LOAD_EXTENSION",
                },
                "load code",
            ),
            (
                AuthAction::Pragma {
                    pragma_name: "query_only",
                    pragma_value: Some("0"),
                },
                "would change a setting",
            ),
            (
                AuthAction::Pragma {
                    pragma_name: "writable_schema",
                    pragma_value: None,
                },
                "not allowed",
            ),
            (
                AuthAction::Unknown {
                    code: 99,
                    arg1: None,
                    arg2: None,
                },
                "not allowed",
            ),
        ] {
            let error = decide(&action).unwrap_err();
            assert!(error.contains(reason), "{action:?}: {error}");
        }
    }
}
