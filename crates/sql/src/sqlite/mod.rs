//! The SQLite backend: the same tools over one SQLite file, made safe by SQLite's own means
//! (see `README.md` of this crate, "SQLite backend").
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool. Connections are pooled: at
//! most `POOL_SIZE` (4) run at once (a semaphore), idle ones are kept for reuse and new ones opened
//! on demand, so a long statement does not hold up a `list_tables`. Each statement gets a deadline
//! that the connection's progress handler enforces; should a single step outlast it anyway, the
//! caller stops waiting after a short grace, interrupts the connection, and the connection returns
//! to the pool once its thread is done. A missing or unreadable file is an error per call, not at
//! start: the next call tries to open it again.

mod authorizer;
mod catalog;
mod error;
mod render;
pub mod sample;
mod session;
mod statement;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::QueryError;
use crate::model::{Limits, Plan, Rows, Schema, TableDescription, TableEntry};
use session::Session;

/// Connections open at most (and statements running at once).
const POOL_SIZE: usize = 4;
/// How long past the deadline the caller waits for the progress handler before interrupting.
const GRACE: Duration = Duration::from_millis(500);

/// A pool of read-only connections to one SQLite file. Cheap to clone.
#[derive(Clone)]
pub struct Sqlite {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    limits: Limits,
    idle: Mutex<Vec<Session>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl Sqlite {
    /// A pool over `path` (absolute); nothing is opened yet.
    pub fn new(path: PathBuf, limits: Limits) -> Self {
        Self {
            shared: Arc::new(Shared {
                path,
                limits,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(POOL_SIZE)),
            }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The configured budgets.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Opens one connection to check the file (kept for reuse).
    ///
    /// # Errors
    /// When the file is missing, unreadable or not a database.
    pub async fn probe(&self) -> Result<(), QueryError> {
        self.call(|_, _| Ok(())).await
    }

    /// Runs one read-only statement within the budgets (`max_rows` may only lower the row budget).
    ///
    /// # Errors
    /// When SQLite refuses or fails the statement, it times out, or the file cannot be opened.
    pub async fn query(&self, sql: &str, max_rows: Option<usize>) -> Result<Rows, QueryError> {
        let configured = self.shared.limits.max_rows;
        let limits = Limits {
            max_rows: max_rows.map_or(configured, |m| m.clamp(1, configured)),
            ..self.shared.limits
        };
        let sql = sql.to_owned();
        let started = Instant::now();
        self.call(move |session, _| statement::query(session, &sql, limits, started))
            .await
    }

    /// The query plan of one statement, as a tree.
    pub async fn explain(&self, sql: &str) -> Result<Plan, QueryError> {
        let sql = sql.to_owned();
        self.call(move |session, limits| catalog::explain(session, &sql, limits))
            .await
    }

    /// `main` and any attached databases.
    pub async fn schemas(&self) -> Result<Vec<Schema>, QueryError> {
        self.call(catalog::schemas).await
    }

    /// Tables and views of `schema`, or of every database.
    pub async fn tables(&self, schema: Option<&str>) -> Result<Vec<TableEntry>, QueryError> {
        let schema = schema.map(str::to_owned);
        self.call(move |session, limits| catalog::tables(session, limits, schema.as_deref()))
            .await
    }

    /// One table's structure.
    pub async fn describe(
        &self,
        table: &str,
        schema: Option<&str>,
    ) -> Result<TableDescription, QueryError> {
        let (table, schema) = (table.to_owned(), schema.map(str::to_owned));
        self.call(move |session, limits| {
            catalog::describe(session, limits, &table, schema.as_deref())
        })
        .await
    }

    /// Runs `work` on a pooled connection on the blocking pool, under the deadline.
    async fn call<T, F>(&self, work: F) -> Result<T, QueryError>
    where
        T: Send + 'static,
        F: FnOnce(&Session, Limits) -> Result<T, QueryError> + Send + 'static,
    {
        let limits = self.shared.limits;
        // Waiting for a connection may take as long as a statement holding one (plus its grace).
        let wait = limits.timeout + GRACE;
        let permit = tokio::time::timeout(wait, Arc::clone(&self.shared.permits).acquire_owned())
            .await
            .map_err(|_| QueryError::CannotOpen {
                path: self.shared.path.display().to_string(),
                reason: format!(
                    "all {POOL_SIZE} connections stayed busy for {} ms; retry shortly",
                    wait.as_millis()
                ),
            })?
            .map_err(|_| QueryError::Unexpected("the connection pool is closed".to_owned()))?;
        let session = match self.take_idle() {
            Some(session) => session,
            None => {
                let path = self.shared.path.clone();
                tokio::task::spawn_blocking(move || session::open(&path))
                    .await
                    .map_err(|e| QueryError::Unexpected(format!("opening failed: {e}")))??
            }
        };
        let interrupt = session.conn.get_interrupt_handle();
        let mut handle = tokio::task::spawn_blocking(move || {
            session.hooks.take_denial();
            session.hooks.arm(Instant::now() + limits.timeout);
            let result = work(&session, limits);
            session.hooks.disarm();
            (session, result)
        });
        match tokio::time::timeout(limits.timeout + GRACE, &mut handle).await {
            Ok(Ok((session, result))) => {
                self.put_back(session);
                drop(permit);
                result
            }
            Ok(Err(join)) => Err(QueryError::Unexpected(format!(
                "the SQLite worker failed: {join}"
            ))),
            Err(_elapsed) => {
                interrupt.interrupt();
                let pool = self.clone();
                tokio::spawn(async move {
                    if let Ok((session, _)) = handle.await {
                        pool.put_back(session);
                    }
                    drop(permit);
                });
                Err(QueryError::Timeout(limits.timeout))
            }
        }
    }

    fn take_idle(&self) -> Option<Session> {
        self.shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Keeps `session` for reuse unless it is somehow inside a transaction (transaction control is
    /// denied, so that would be a bug; the connection is closed rather than trusted).
    fn put_back(&self, session: Session) {
        if !session.conn.is_autocommit() {
            tracing::warn!("an SQLite connection was left inside a transaction; closing it");
            return;
        }
        self.shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(session);
    }
}
