//! One user statement on a locked-down [`Session`]: prepared by SQLite, accepted only if it is
//! exactly one statement (the rest of the text must prepare to nothing: whitespace, comments and
//! `;`), read-only by `sqlite3_stmt_readonly`, and without parameters; then stepped row by row,
//! stopping at the row and byte budgets.

use std::time::Instant;

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::{Batch, Statement};

use super::error::classify;
use super::render::{render, size_hint, storage_class};
use super::session::Session;
use crate::error::QueryError;
use crate::model::{ColumnInfo, Limits, Rows, TruncatedBy};

/// Prepares `sql` as exactly one read-only statement without parameters.
///
/// # Errors
/// `SqliteRefused` when it is empty, several statements, would write, or has parameters;
/// otherwise SQLite's error (a denial by the authorizer is a refusal with its reason).
pub(crate) fn prepare_one<'c>(
    session: &'c Session,
    sql: &str,
    limits: Limits,
) -> Result<Statement<'c>, QueryError> {
    session.hooks.take_denial();
    let mut batch = Batch::new(&session.conn, sql);
    let statement = match batch.next() {
        Ok(Some(statement)) => statement,
        Ok(None) => {
            return Err(QueryError::EngineRefused(
                "the text holds no statement; send one SELECT".to_owned(),
            ));
        }
        Err(error) => {
            return Err(classify(
                error,
                sql,
                session.hooks.take_denial(),
                limits.timeout,
            ));
        }
    };
    // Preparing the rest runs nothing; anything but whitespace, comments and `;` (even text that
    // fails to prepare) is a second statement.
    let rest = batch.next();
    session.hooks.take_denial();
    if !matches!(rest, Ok(None)) {
        return Err(QueryError::EngineRefused(
            "several statements: send exactly one; only whitespace, comments and `;` may follow it"
                .to_owned(),
        ));
    }
    if !statement.readonly() {
        return Err(QueryError::EngineRefused(
            "the statement could change the database (sqlite3_stmt_readonly is false); only \
             SELECT, VALUES, EXPLAIN and read-only PRAGMAs are accepted"
                .to_owned(),
        ));
    }
    if statement.parameter_count() > 0 {
        return Err(QueryError::EngineRefused(
            "the statement has parameters (?, ?1, :name, @name or $name) and none can be bound; \
             write values as literals ('text', 42)"
                .to_owned(),
        ));
    }
    Ok(statement)
}

/// Runs `sql` (checked by [`prepare_one`]) and returns its rows within `limits`.
///
/// # Errors
/// As [`prepare_one`], plus errors and the timeout while stepping.
pub(crate) fn query(
    session: &Session,
    sql: &str,
    limits: Limits,
    started: Instant,
) -> Result<Rows, QueryError> {
    let mut statement = prepare_one(session, sql, limits)?;
    fetch(session, &mut statement, sql, limits, started)
}

/// Steps `statement`, stopping at the first row past the row budget or the first row that does
/// not fit in the byte budget: nothing past that is ever produced by SQLite.
///
/// # Errors
/// SQLite's error while stepping (an interrupt at the deadline is a timeout).
pub(crate) fn fetch(
    session: &Session,
    statement: &mut Statement<'_>,
    sql: &str,
    limits: Limits,
    started: Instant,
) -> Result<Rows, QueryError> {
    let fail = |error| classify(error, sql, session.hooks.take_denial(), limits.timeout);
    let mut columns: Vec<ColumnInfo> = statement
        .columns()
        .iter()
        .map(|column| ColumnInfo {
            name: column.name().to_owned(),
            type_name: column.decl_type().unwrap_or_default().to_owned(),
        })
        .collect();
    let mut classes: Vec<Option<&'static str>> = vec![None; columns.len()];
    let width = columns.len();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    let mut truncated_by = None;
    let mut cursor = statement.raw_query();
    while let Some(row) = cursor.next().map_err(fail)? {
        if rows.len() == limits.max_rows {
            truncated_by = Some(TruncatedBy::Rows);
            break;
        }
        let budget = limits.max_bytes - bytes;
        let mut values = Vec::with_capacity(width);
        let mut hinted = 0usize;
        for (index, class) in classes.iter_mut().enumerate() {
            let value = row.get_ref(index).map_err(fail)?;
            hinted = hinted.saturating_add(size_hint(value));
            if hinted > budget {
                break;
            }
            if class.is_none() {
                *class = storage_class(value);
            }
            values.push(render(value));
        }
        let size = serde_json::to_vec(&values).map_or(usize::MAX, |v| v.len() + 1);
        if values.len() < width || size > budget {
            truncated_by = Some(TruncatedBy::Bytes);
            break;
        }
        bytes += size;
        rows.push(values);
    }
    for (column, class) in columns.iter_mut().zip(classes) {
        if column.type_name.is_empty() {
            column.type_name = class.unwrap_or_default().to_owned();
        }
    }
    Ok(Rows {
        columns,
        row_count: rows.len(),
        rows,
        truncated: truncated_by.is_some(),
        truncated_by,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    //! The read-only test and the one-statement rule on their own, with the authorizer removed.

    use std::time::Duration;

    use rusqlite::hooks::{AuthContext, Authorization};

    use super::*;
    use crate::sqlite::session::open;

    fn limits() -> Limits {
        Limits {
            max_rows: 100,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn every_allowed_pragma_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pragmas.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE)")
            .unwrap();
        let session = open(&path).unwrap();
        let with_argument = crate::sqlite::authorizer::ARGUMENT_PRAGMAS
            .iter()
            .map(|p| match *p {
                "index_info" | "index_xinfo" => format!("PRAGMA {p}(sqlite_autoindex_t_1)"),
                _ => format!("PRAGMA {p}(t)"),
            });
        let plain = crate::sqlite::authorizer::READ_PRAGMAS
            .iter()
            .map(|p| format!("PRAGMA {p}"));
        for sql in with_argument.chain(plain) {
            let result = query(&session, &sql, limits(), std::time::Instant::now());
            assert!(result.is_ok(), "{sql}: {result:?}");
        }
    }

    #[test]
    fn the_read_only_test_and_the_tail_check_hold_without_the_authorizer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statement.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE canary (id INTEGER PRIMARY KEY, note TEXT)")
            .unwrap();
        let session = open(&path).unwrap();
        session
            .conn
            .authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
            .unwrap();
        let limits = Limits {
            max_rows: 10,
            max_bytes: 1024,
            timeout: Duration::from_secs(1),
        };
        for (sql, reason) in [
            ("DELETE FROM canary", "could change the database"),
            ("VACUUM INTO '/tmp/never.db'", "could change the database"),
            ("SELECT 1; DELETE FROM canary", "several statements"),
        ] {
            let error = prepare_one(&session, sql, limits).unwrap_err().to_string();
            assert!(error.contains(reason), "{sql}: {error}");
        }
        let statement = prepare_one(&session, "  SELECT 1 ; -- done\n ; /* c */ ", limits).unwrap();
        assert!(statement.readonly());
        drop(statement);
        // What this layer cannot see: a pragma that changes a setting, or transaction control,
        // writes no page, so SQLite calls it read-only. Only the authorizer refuses these.
        for sql in ["PRAGMA query_only = OFF", "BEGIN"] {
            assert!(prepare_one(&session, sql, limits).is_ok(), "{sql}");
        }
    }
}
