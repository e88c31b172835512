//! Why a call produced no answer, on either backend: one [`QueryError`] for what a caller does
//! differently, and one [`DbError`] for what the database itself said.

use std::time::Duration;

use crate::guard::Refusal;

/// The database engine an error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::Sqlite => "SQLite",
        })
    }
}

/// An error the database reported for a statement, with everything it said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// Which database said it.
    pub engine: Engine,
    /// PostgreSQL's SQLSTATE (`42P01`), or SQLite's primary result code name (`SQLITE_ERROR`).
    pub code: String,
    /// Primary message.
    pub message: String,
    /// Detail line (PostgreSQL).
    pub detail: Option<String>,
    /// What to do about it: PostgreSQL's hint, or ours for SQLite (which gives none).
    pub hint: Option<String>,
    /// 1-based character position in the statement.
    pub position: Option<usize>,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} error {}: {}", self.engine, self.code, self.message)?;
        if let Some(position) = self.position {
            write!(f, " (at character {position})")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\nDETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nHINT: {hint}")?;
        }
        Ok(())
    }
}

/// Why a call produced no answer. Each variant is something a caller (or the model reading the
/// message) does differently.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The guard refused the statement before it reached the database.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The statement calls a volatile function that is not allowed.
    #[error(
        "refused: function {0} is volatile (it can change data or session state) and is not on the allow-list; rewrite the query without it, or ask an administrator to add it to SWITCHBOARD_SQL_ALLOW_FUNCTIONS if it is safe"
    )]
    VolatileFunction(String),
    /// SQLite's own checks (authorizer, read-only test, one statement, no parameters) refused the
    /// statement before it ran.
    #[error("refused: {0}")]
    EngineRefused(String),
    /// The connection's role is not read-only and the server requires one.
    #[error("refused: {0}")]
    UnsafeRole(String),
    /// `explain` was given something other than a SELECT.
    #[error("explain takes a SELECT statement; for EXPLAIN or SHOW use the query tool")]
    ExplainTakesSelect,
    /// The database rejected or aborted the statement.
    #[error("{0}")]
    Database(DbError),
    /// The statement ran past the time limit and was cancelled.
    #[error("the statement ran longer than the {} ms limit and was cancelled; add filters or a LIMIT, or aggregate in SQL", .0.as_millis())]
    Timeout(Duration),
    /// No PostgreSQL connection could be had.
    #[error(
        "cannot reach the database {target}: {reason}. Check that PostgreSQL is running and DATABASE_URL is right; the next call retries"
    )]
    Unreachable {
        /// `user@host:port/db`, never the password.
        target: String,
        /// What the driver reported.
        reason: String,
    },
    /// The SQLite database file could not be opened (missing, unreadable, not a database).
    #[error("cannot open the SQLite database {path}: {reason}; the next call retries")]
    CannotOpen {
        /// The file.
        path: String,
        /// What went wrong and what to do.
        reason: String,
    },
    /// The connection broke during the call (retried once internally on PostgreSQL).
    #[error("the connection to the database was lost: {0}; the next call reconnects")]
    ConnectionLost(String),
    /// No table of that name.
    #[error(
        "no table, view or materialized view named {0:?}; call list_tables to see what exists (names are case-sensitive on PostgreSQL)"
    )]
    NoSuchTable(String),
    /// The name is in several schemas and none is on the search path.
    #[error(
        "{name:?} exists in several schemas ({schemas}) and none is on the search path; pass `schema`"
    )]
    AmbiguousTable {
        /// The table name asked for.
        name: String,
        /// The schemas that have it.
        schemas: String,
    },
    /// The database answered something the server cannot read (a bug or an unexpected server).
    #[error("unexpected answer from the database: {0}")]
    Unexpected(String),
}

impl QueryError {
    /// How the call ended, as metric labels: the outcome class, and the rule when a check
    /// refused the statement.
    pub fn outcome(&self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Refused(refusal) => ("refused", Some(refusal.rule())),
            Self::VolatileFunction(_) => ("refused", Some("volatile_function")),
            Self::EngineRefused(_) => ("refused", Some("engine")),
            Self::UnsafeRole(_) => ("refused", Some("unsafe_role")),
            Self::ExplainTakesSelect | Self::NoSuchTable(_) | Self::AmbiguousTable { .. } => {
                ("invalid", None)
            }
            Self::Timeout(_) => ("timeout", None),
            Self::Unreachable { .. } | Self::CannotOpen { .. } | Self::ConnectionLost(_) => {
                ("unavailable", None)
            }
            Self::Database(_) | Self::Unexpected(_) => ("error", None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_reads_like_the_server_said_it() {
        let error = DbError {
            engine: Engine::Postgres,
            code: "42P01".to_owned(),
            message: "relation \"nope\" does not exist".to_owned(),
            detail: Some("d".to_owned()),
            hint: Some("h".to_owned()),
            position: Some(15),
        };
        assert_eq!(
            error.to_string(),
            "PostgreSQL error 42P01: relation \"nope\" does not exist (at character 15)\nDETAIL: d\nHINT: h"
        );
    }
}
