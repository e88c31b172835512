//! The database behind the tools: PostgreSQL or an SQLite file. This is the one place that
//! matches on the backend; tools call its methods and never see which one answers.

use std::time::Duration;

use crate::config::{SqlConfig, Target};
use crate::error::{Engine, QueryError};
use crate::model::{Limits, Plan, Rows, Schema, TableDescription, TableEntry};
use crate::postgres::Postgres;
use crate::postgres::tls::TlsSetupError;
use crate::sqlite::Sqlite;

/// How long the start-up check waits for the database before moving on.
pub(crate) const STARTUP_PROBE: Duration = Duration::from_secs(5);

/// The database the server serves.
#[derive(Debug)]
pub(crate) enum Database {
    /// A PostgreSQL server.
    Postgres(Box<Postgres>),
    /// An SQLite file.
    Sqlite(Sqlite),
}

impl Database {
    /// The configured database with the configured budgets; nothing is connected yet.
    ///
    /// # Errors
    /// When TLS is misconfigured.
    pub(crate) fn open(config: &SqlConfig) -> Result<Self, TlsSetupError> {
        let limits = Limits {
            max_rows: config.max_rows,
            max_bytes: config.max_bytes,
            timeout: config.timeout,
        };
        Ok(match &config.target {
            Target::Postgres(connection) => Self::Postgres(Box::new(Postgres::new(
                (**connection).clone(),
                config,
                limits,
            )?)),
            Target::Sqlite(path) => Self::Sqlite(Sqlite::new(path.clone(), limits)),
        })
    }

    /// Which engine this is.
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Self::Postgres(_) => Engine::Postgres,
            Self::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// The start-up check: on PostgreSQL the role, on SQLite that the file opens.
    ///
    /// # Errors
    /// When the database is unusable, or the role is refused.
    pub(crate) async fn probe(&self) -> Result<(), QueryError> {
        match self {
            Self::Postgres(pg) => pg.ensure_role().await,
            Self::Sqlite(db) => db.probe().await,
        }
    }

    /// Runs one read-only statement within the budgets.
    ///
    /// # Errors
    /// When the statement is refused or fails, it times out, or the database is unusable.
    pub(crate) async fn query(
        &self,
        sql: &str,
        max_rows: Option<usize>,
    ) -> Result<Rows, QueryError> {
        match self {
            Self::Postgres(pg) => pg.query(sql, max_rows).await,
            Self::Sqlite(db) => db.query(sql, max_rows).await,
        }
    }

    /// The plan of one SELECT, never executed.
    ///
    /// # Errors
    /// As [`Database::query`].
    pub(crate) async fn explain(&self, sql: &str) -> Result<Plan, QueryError> {
        match self {
            Self::Postgres(pg) => pg.explain(sql).await,
            Self::Sqlite(db) => db.explain(sql).await,
        }
    }

    /// The schemas (PostgreSQL) or databases (SQLite) a user can see.
    ///
    /// # Errors
    /// When the catalog cannot be read.
    pub(crate) async fn schemas(&self) -> Result<Vec<Schema>, QueryError> {
        match self {
            Self::Postgres(pg) => pg.schemas().await,
            Self::Sqlite(db) => db.schemas().await,
        }
    }

    /// Tables and views of `schema`, or of every user schema.
    ///
    /// # Errors
    /// When the catalog cannot be read.
    pub(crate) async fn tables(&self, schema: Option<&str>) -> Result<Vec<TableEntry>, QueryError> {
        match self {
            Self::Postgres(pg) => pg.tables(schema).await,
            Self::Sqlite(db) => db.tables(schema).await,
        }
    }

    /// One table's structure.
    ///
    /// # Errors
    /// When there is no such table (or several), or the catalog cannot be read.
    pub(crate) async fn describe(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<TableDescription, QueryError> {
        match self {
            Self::Postgres(pg) => pg.describe(table, schema).await,
            Self::Sqlite(db) => db.describe(table, schema).await,
        }
    }

    /// The scheme of table resource URIs.
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// The server's name and instructions for this database.
    pub(crate) fn server_info(&self) -> (&'static str, &'static str) {
        match self {
            Self::Postgres(_) => (
                "switchboard-postgres",
                "Read-only SQL on a PostgreSQL database. Start with list_tables and describe_table, then \
                 query with one SELECT at a time; results are capped, so aggregate in SQL.",
            ),
            Self::Sqlite(_) => (
                "switchboard-sqlite",
                "Read-only SQL on an SQLite database file (SQLite dialect: strftime/datetime, not now() or \
                 INTERVAL). Start with list_tables and describe_table, then query with one SELECT at a \
                 time; results are capped, so aggregate in SQL.",
            ),
        }
    }
}
