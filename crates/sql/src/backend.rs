//! The database behind the tools: PostgreSQL (guard, executor, role check) or SQLite (a pool of
//! read-only connections). Each tool matches on [`Backend`] once and calls the backend's side, so
//! there is one file per tool whatever the database.

use std::time::Duration;

use tokio::sync::OnceCell;

use crate::client::{Database, Unavailable};
use crate::config::{Connection, SqlConfig};
use crate::exec::{Executor, QueryError};
use crate::guard::{FunctionPolicy, Guard};
use crate::role::{RoleReport, inspect};
use crate::rows::Limits;
use crate::sqlite::Sqlite;
use crate::tls::TlsSetupError;

/// How long the start-up check waits for the database before moving on.
pub(crate) const STARTUP_PROBE: Duration = Duration::from_secs(5);

/// The database the server serves.
#[derive(Debug)]
pub(crate) enum Backend {
    /// A PostgreSQL server.
    Postgres(Box<Postgres>),
    /// An SQLite file.
    Sqlite(Sqlite),
}

/// PostgreSQL: the guard, the executor and the role check.
pub(crate) struct Postgres {
    pub(crate) executor: Executor,
    pub(crate) guard: Guard,
    require_read_only_role: bool,
    role: OnceCell<RoleReport>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("database", self.executor.database())
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// Prepares the pool and the guard; nothing is connected yet.
    ///
    /// # Errors
    /// When TLS is misconfigured.
    pub(crate) fn new(
        connection: Connection,
        config: &SqlConfig,
        limits: Limits,
    ) -> Result<Self, TlsSetupError> {
        let db = Database::new(connection, config.timeout)?;
        let policy = FunctionPolicy {
            extra_allowed: config.allow_functions.clone(),
            override_denied: Vec::new(),
        };
        Ok(Self {
            executor: Executor::new(db, Guard::new(policy.clone()), limits),
            guard: Guard::new(policy),
            require_read_only_role: config.require_read_only_role,
            role: OnceCell::new(),
        })
    }

    /// Inspects the role once (on the first connection that works) and enforces the policy.
    ///
    /// # Errors
    /// When the database is unreachable, or the role is refused.
    pub(crate) async fn ensure_role(&self) -> Result<(), QueryError> {
        let report = self
            .role
            .get_or_try_init(|| async {
                let db = self.executor.database();
                let conn = db.get().await?;
                let report = inspect(&conn).await.map_err(|reason| Unavailable {
                    target: db.target().to_owned(),
                    reason,
                })?;
                if !report.is_read_only() {
                    tracing::warn!("{}", report.summary());
                }
                Ok::<_, QueryError>(report)
            })
            .await?;
        if self.require_read_only_role && !report.is_read_only() {
            return Err(QueryError::UnsafeRole(report.summary()));
        }
        Ok(())
    }
}
