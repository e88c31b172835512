//! The PostgreSQL connection pool: a few connections reused across calls, created lazily, so an
//! unreachable database is a per-call error and the server recovers when the database returns.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{TlsSetupError, connector};
use crate::config::Connection;
use crate::error::QueryError;

/// Connections kept open at most.
const POOL_SIZE: usize = 4;
/// How long establishing one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    tls: MakeRustlsConnect,
    target: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Prepares the pool; no connection is opened yet.
    ///
    /// # Errors
    /// When the TLS settings are unusable.
    pub fn new(mut connection: Connection, wait: Duration) -> Result<Self, TlsSetupError> {
        let tls = connector(&mut connection)?;
        connection.pg.connect_timeout(CONNECT_TIMEOUT);
        connection.pg.application_name("switchboard");
        let target = connection.describe();
        let manager = Manager::from_config(
            connection.pg,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(wait))
            .build()
            .map_err(|e| TlsSetupError::Rustls(rustls::Error::General(e.to_string())))?;
        Ok(Self { pool, tls, target })
    }

    /// A connection from the pool (opened when none is idle).
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn get(&self) -> Result<Object, QueryError> {
        self.pool.get().await.map_err(|error| {
            self.unreachable(match error {
                deadpool_postgres::PoolError::Backend(e) => describe_driver_error(&e),
                other => other.to_string(),
            })
        })
    }

    /// The error for this database being out of reach, for `reason`.
    pub fn unreachable(&self, reason: String) -> QueryError {
        QueryError::Unreachable {
            target: self.target.clone(),
            reason,
        }
    }

    /// The TLS connector, for cancel requests.
    pub fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// `user@host:port/db`.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// The driver's error with its source chain (tokio-postgres puts the useful part in the source).
pub fn describe_driver_error(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
