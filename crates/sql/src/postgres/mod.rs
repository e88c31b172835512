//! The PostgreSQL backend: the guard, the executor over a small connection pool, the role check,
//! value rendering and the catalog.
//!
//! A statement passes five independent layers before rows come back (the repository README's
//! "Security model"): the [`crate::guard`] (real PostgreSQL parser, one allowed statement,
//! function policy), the [`exec`]utor (extended protocol only, read-only, timeouts), result
//! budgets (rows and bytes capped), the [`role`] check at start, and cancellation of statements
//! that outlive their deadline.

mod catalog;
pub mod client;
pub mod exec;
pub mod render;
pub mod role;
pub use switchboard_pg::tls;

use tokio::sync::OnceCell;

use crate::config::{Connection, SqlConfig};
use crate::error::QueryError;
use crate::guard::{Checked, FunctionPolicy, Guard, OwnLimit, StatementKind};
use crate::model::{Limits, Plan, Rows};
use client::Database;
use exec::Executor;
use role::{RoleReport, inspect};
use tls::TlsSetupError;

/// PostgreSQL: the guard, the executor and the role check.
pub struct Postgres {
    executor: Executor,
    guard: Guard,
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
    pub fn new(
        connection: Connection,
        config: &SqlConfig,
        limits: Limits,
    ) -> Result<Self, TlsSetupError> {
        let db = Database::new(connection, config.timeout)?;
        let policy = FunctionPolicy {
            extra_allowed: config.allow_functions.clone(),
            override_denied: Vec::new(),
        };
        let guard = Guard::new(policy);
        Ok(Self {
            executor: Executor::new(db, guard.clone(), limits),
            guard,
            require_read_only_role: config.require_read_only_role,
            role: OnceCell::new(),
        })
    }

    /// Inspects the role once (on the first connection that works) and enforces the policy.
    ///
    /// # Errors
    /// When the database is unreachable, or the role is refused.
    pub async fn ensure_role(&self) -> Result<(), QueryError> {
        let report = self
            .role
            .get_or_try_init(|| async {
                let db = self.executor.database();
                let conn = db.get().await?;
                let report = inspect(&conn)
                    .await
                    .map_err(|reason| db.unreachable(reason))?;
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

    /// Checks and runs one statement within the budgets (`max_rows` may only lower the row
    /// budget).
    ///
    /// # Errors
    /// When the role is refused, the statement is refused or fails, it times out, or the
    /// database is unreachable.
    pub async fn query(&self, sql: &str, max_rows: Option<usize>) -> Result<Rows, QueryError> {
        self.ensure_role().await?;
        self.executor.query(sql, max_rows).await
    }

    /// The planner's JSON plan of one SELECT, never executed.
    ///
    /// # Errors
    /// As [`Postgres::query`], and when the statement is not a SELECT.
    pub async fn explain(&self, sql: &str) -> Result<Plan, QueryError> {
        self.ensure_role().await?;
        let checked = self.guard.check(sql)?;
        if checked.kind != StatementKind::Select {
            return Err(QueryError::ExplainTakesSelect);
        }
        let explain = Checked {
            kind: StatementKind::Explain,
            sql: format!("EXPLAIN (FORMAT JSON) {}", checked.sql),
            unknown_functions: checked.unknown_functions,
            own_limit: OwnLimit::None,
        };
        let rows = self.executor.run(&explain, self.executor.limits()).await?;
        rows.rows
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .ok_or_else(|| QueryError::Unexpected("EXPLAIN returned no plan".to_owned()))
    }
}
