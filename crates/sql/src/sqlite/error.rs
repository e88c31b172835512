//! SQLite's errors as a caller should read them: SQLite's own message and result code, the
//! character where parsing stopped, and a hint saying what to do (SQLite gives none itself).

use std::time::Duration;

use rusqlite::ErrorCode;

use super::session::MAX_VALUE_LENGTH;
use crate::error::{DbError, Engine, QueryError};

/// Maps a rusqlite error of a statement to what the tools report: an interrupted statement is a
/// timeout, an authorizer denial a refusal with the authorizer's reason (`denial`), anything else
/// SQLite's message with a hint.
pub(crate) fn classify(
    error: rusqlite::Error,
    sql: &str,
    denial: Option<String>,
    timeout: Duration,
) -> QueryError {
    let (code, message, offset) = match &error {
        rusqlite::Error::SqliteFailure(failure, message) => (
            Some(failure.code),
            message.clone().unwrap_or_else(|| failure.to_string()),
            None,
        ),
        rusqlite::Error::SqlInputError {
            error, msg, offset, ..
        } => (Some(error.code), msg.clone(), usize::try_from(*offset).ok()),
        other => (None, other.to_string(), None),
    };
    // A denial recorded while preparing is why the statement failed (SQLite reports a denied
    // function as SQLITE_ERROR, a denied action as SQLITE_AUTH).
    if let Some(reason) = denial {
        return QueryError::EngineRefused(reason);
    }
    match code {
        Some(ErrorCode::OperationInterrupted) => return QueryError::Timeout(timeout),
        Some(ErrorCode::AuthorizationForStatementDenied) => {
            return QueryError::EngineRefused(
                "SQLite's authorizer denied the statement".to_owned(),
            );
        }
        Some(ErrorCode::ReadOnly) => {
            return QueryError::EngineRefused(format!(
                "{message}: the database is opened read-only; only reads are allowed"
            ));
        }
        _ => {}
    }
    let position = offset
        .and_then(|o| sql.get(..o))
        .map(|before| before.chars().count() + 1);
    QueryError::Database(DbError {
        engine: Engine::Sqlite,
        code: code.map_or("SQLITE_MISUSE", code_name).to_owned(),
        detail: None,
        hint: hint(code, &message),
        message,
        position,
    })
}

fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InternalMalfunction => "SQLITE_INTERNAL",
        ErrorCode::PermissionDenied => "SQLITE_PERM",
        ErrorCode::OperationAborted => "SQLITE_ABORT",
        ErrorCode::DatabaseBusy => "SQLITE_BUSY",
        ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
        ErrorCode::OutOfMemory => "SQLITE_NOMEM",
        ErrorCode::ReadOnly => "SQLITE_READONLY",
        ErrorCode::OperationInterrupted => "SQLITE_INTERRUPT",
        ErrorCode::SystemIoFailure => "SQLITE_IOERR",
        ErrorCode::DatabaseCorrupt => "SQLITE_CORRUPT",
        ErrorCode::CannotOpen => "SQLITE_CANTOPEN",
        ErrorCode::SchemaChanged => "SQLITE_SCHEMA",
        ErrorCode::TooBig => "SQLITE_TOOBIG",
        ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
        ErrorCode::TypeMismatch => "SQLITE_MISMATCH",
        ErrorCode::ApiMisuse => "SQLITE_MISUSE",
        ErrorCode::AuthorizationForStatementDenied => "SQLITE_AUTH",
        ErrorCode::ParameterOutOfRange => "SQLITE_RANGE",
        ErrorCode::NotADatabase => "SQLITE_NOTADB",
        _ => "SQLITE_ERROR",
    }
}

fn hint(code: Option<ErrorCode>, message: &str) -> Option<String> {
    let text = match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "another process is writing the database file; retry in a moment"
        }
        Some(ErrorCode::TooBig) => {
            return Some(format!(
                "a value would exceed the {} MiB limit; select less (substr, length, LIMIT)",
                MAX_VALUE_LENGTH / (1024 * 1024)
            ));
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            "the file is damaged or not an SQLite database; tell the operator"
        }
        _ if message.starts_with("no such table") => {
            "call list_tables to see the tables and views; quote names with spaces in double quotes"
        }
        _ if message.starts_with("no such column") => {
            "call describe_table to see the table's columns; string literals take single quotes"
        }
        _ if message.starts_with("no such function") => {
            "this database is SQLite: use its functions (strftime, datetime('now', '-1 day'), \
             substr, instr, group_concat, json_extract), not PostgreSQL's"
        }
        _ if message.contains("syntax error") || message.starts_with("unrecognized token") => {
            "this database is SQLite: write SQLite syntax (CAST(x AS INTEGER) instead of ::, LIKE \
             instead of ILIKE, datetime('now', '-24 hours') instead of INTERVAL, no LATERAL, \
             $$-quotes or GROUPING SETS)"
        }
        _ if message.starts_with("ambiguous column name") => {
            "qualify the column with its table name or alias"
        }
        _ => return None,
    };
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_hints_name_a_next_step() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sql = "SELECT 'é', nme FROM sqlite_schema";
        let error = conn.prepare(sql).unwrap_err();
        let QueryError::Database(error) = classify(error, sql, None, Duration::ZERO) else {
            panic!("not an SQLite error")
        };
        assert_eq!(error.code, "SQLITE_ERROR");
        assert_eq!(error.message, "no such column: nme");
        assert_eq!(error.position, Some(13));
        assert!(
            error.to_string().contains("HINT: call describe_table"),
            "{error}"
        );

        let sql = "SELECT x::int";
        let error = conn.prepare(sql).unwrap_err();
        let text = classify(error, sql, None, Duration::ZERO).to_string();
        assert!(
            text.contains("unrecognized token") && text.contains("CAST(x AS INTEGER)"),
            "{text}"
        );
    }

    #[test]
    fn denials_and_interrupts_are_not_sqlite_errors() {
        let auth = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_AUTH),
            Some("not authorized".to_owned()),
        );
        let refused = classify(
            auth,
            "ATTACH 'x' AS y",
            Some("ATTACH no".to_owned()),
            Duration::ZERO,
        );
        assert_eq!(refused.to_string(), "refused: ATTACH no");
        let interrupt = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
            None,
        );
        assert!(matches!(
            classify(interrupt, "", None, Duration::from_secs(2)),
            QueryError::Timeout(t) if t == Duration::from_secs(2)
        ));
    }
}
