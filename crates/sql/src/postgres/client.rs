//! The PostgreSQL connections: a few kept open and reused across calls, opened lazily, so an
//! unreachable database is a per-call error and the server recovers when the database returns.
//!
//! Every connection is read-only and bounded for its whole life, so that a call costs one
//! statement: `default_transaction_read_only`, `statement_timeout`, `lock_timeout` and
//! `idle_in_transaction_session_timeout` travel in the startup packet (where they outrank
//! `ALTER ROLE … SET` and `ALTER DATABASE … SET`) and are read back before the connection is
//! used. The guard refuses every statement that could change them; should one change anyway,
//! PostgreSQL reports `default_transaction_read_only` to the client whenever it changes (from
//! version 14, which is therefore required), and a connection that reports it off is closed, never
//! used again.
//!
//! Each connection also remembers the statements it ran ([`Lease::prepared`]): a text it sees
//! a second time is prepared there, and from then on runs without being parsed or planned again.

use std::future::Future as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hashlink::LruCache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{TlsSetupError, connector};
use crate::config::Connection;
use crate::error::QueryError;

/// The driver's error with its source chain, shared with every PostgreSQL client of the workspace.
pub use switchboard_pg::describe_driver_error;

/// Connections open at most (and statements running at once); a caller past them waits.
const POOL_SIZE: usize = 4;
/// How long establishing one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Statement texts each connection remembers (seen once, or prepared), least recently used first
/// out; an evicted prepared statement is closed on the server.
const STATEMENTS: usize = 64;
/// The longest statement text a connection prepares; longer ones always run unnamed.
const MAX_PREPARED_TEXT: usize = 4096;
/// The setting PostgreSQL reports whenever it changes; read-only must stay `on`.
const READ_ONLY: &str = "default_transaction_read_only";

/// The session settings every connection carries, as PostgreSQL's `pg_settings` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    statement_timeout_ms: u128,
    idle_in_transaction_ms: u128,
}

impl Settings {
    /// The startup `options` that set them (after any the URL gives, so ours win).
    fn options(&self, given: Option<&str>) -> String {
        let ours = format!(
            "-c {READ_ONLY}=on -c statement_timeout={0} -c lock_timeout={0} \
             -c idle_in_transaction_session_timeout={1}",
            self.statement_timeout_ms, self.idle_in_transaction_ms
        );
        match given {
            Some(given) if !given.trim().is_empty() => format!("{given} {ours}"),
            _ => ours,
        }
    }

    /// What `pg_settings` must say, in the order of [`VERIFY`].
    fn expected(&self) -> [String; 4] {
        [
            "on".to_owned(),
            self.statement_timeout_ms.to_string(),
            self.statement_timeout_ms.to_string(),
            self.idle_in_transaction_ms.to_string(),
        ]
    }
}

/// Reads the session settings back when a connection is made.
const VERIFY: &str = "SELECT pg_catalog.current_setting('default_transaction_read_only'), \
     (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'statement_timeout'), \
     (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'lock_timeout'), \
     (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'idle_in_transaction_session_timeout')";

/// One open connection, what its server last reported about read-only, and the statements it
/// ran: `None` for a text seen once, its prepared statement from the second time on.
struct Session {
    client: Client,
    read_only: Arc<AtomicBool>,
    statements: LruCache<Box<str>, Option<Statement>>,
}

impl Session {
    /// Fit for another call: open, and still read-only as far as the server reported.
    fn usable(&self) -> bool {
        !self.client.is_closed() && self.read_only.load(Ordering::Acquire)
    }
}

/// A pool of connections to one database.
pub struct Database {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    target: String,
    settings: Settings,
    wait: Duration,
    idle: Mutex<Vec<Session>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Prepares the pool; no connection is opened yet. `timeout` is every statement's limit, and
    /// also how long a caller waits for a free connection.
    ///
    /// # Errors
    /// When the TLS settings are unusable.
    pub fn new(mut connection: Connection, timeout: Duration) -> Result<Self, TlsSetupError> {
        let tls = connector(&mut connection)?;
        let settings = Settings {
            statement_timeout_ms: timeout.as_millis(),
            idle_in_transaction_ms: (timeout + Duration::from_secs(1)).as_millis(),
        };
        let options = settings.options(connection.pg.get_options());
        connection.pg.options(options);
        connection.pg.connect_timeout(CONNECT_TIMEOUT);
        connection.pg.application_name("switchboard");
        Ok(Self {
            target: connection.describe(),
            config: connection.pg,
            tls,
            settings,
            wait: timeout,
            idle: Mutex::new(Vec::with_capacity(POOL_SIZE)),
            permits: Arc::new(Semaphore::new(POOL_SIZE)),
        })
    }

    /// A connection: an idle one that is still usable, or a new one.
    ///
    /// # Errors
    /// When all connections stay busy past the wait, or the database cannot be reached or its
    /// session settings do not hold.
    pub async fn get(&self) -> Result<Lease<'_>, QueryError> {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| {
                self.unreachable(format!(
                    "all {POOL_SIZE} connections stayed busy for {} ms; retry shortly",
                    self.wait.as_millis()
                ))
            })?
            .map_err(|_| QueryError::Unexpected("the connection pool is closed".to_owned()))?;
        let session = loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match idle {
                Some(session) if session.usable() => break session,
                Some(_) => {
                    tracing::warn!(
                        "a connection closed or stopped being read-only while idle; discarding it"
                    );
                }
                None => break self.connect().await?,
            }
        };
        Ok(Lease {
            session: Some(session),
            db: self,
            _permit: permit,
        })
    }

    /// Opens a connection, watches what the server reports, and verifies its settings.
    async fn connect(&self) -> Result<Session, QueryError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| self.unreachable(describe_driver_error(&e)))?;
        let reported = connection.parameter(READ_ONLY).map(str::to_owned);
        let read_only = Arc::new(AtomicBool::new(reported.as_deref() == Some("on")));
        let watch = Arc::clone(&read_only);
        let mut connection = Box::pin(connection);
        tokio::spawn(std::future::poll_fn(move |cx| {
            let done = connection.as_mut().poll(cx);
            if connection.parameter(READ_ONLY) != Some("on") {
                watch.store(false, Ordering::Release);
            }
            done.map(|result| {
                if let Err(error) = result {
                    tracing::debug!(error = %describe_driver_error(&error), "connection ended");
                }
            })
        }));
        if reported.is_none() {
            return Err(self.unreachable(format!(
                "the server does not report {READ_ONLY} (PostgreSQL 14 or later is required)"
            )));
        }
        let row = client
            .query_typed_one(VERIFY, &[])
            .await
            .map_err(|e| self.unreachable(describe_driver_error(&e)))?;
        let found: Vec<String> = (0..4).map(|i| row.get::<_, String>(i)).collect();
        if found != self.settings.expected() || !read_only.load(Ordering::Acquire) {
            return Err(self.unreachable(format!(
                "the session settings did not hold (read-only, statement, lock and idle timeouts \
                 expected {:?}, found {found:?})",
                self.settings.expected()
            )));
        }
        Ok(Session {
            client,
            read_only,
            statements: LruCache::new(STATEMENTS),
        })
    }

    /// The TLS connector, for cancel requests.
    pub fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// `user@host:port/db`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The error for this database being out of reach, for `reason`.
    pub fn unreachable(&self, reason: String) -> QueryError {
        QueryError::Unreachable {
            target: self.target.clone(),
            reason,
        }
    }

    fn put_back(&self, session: Session) {
        if session.usable() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(session);
        } else if !session.client.is_closed() {
            tracing::warn!("a connection stopped being read-only; closing it");
        }
    }
}

/// A connection lent to one call; it goes back to the pool when dropped, unless discarded or no
/// longer usable.
pub struct Lease<'a> {
    session: Option<Session>,
    db: &'a Database,
    _permit: OwnedSemaphorePermit,
}

impl Lease<'_> {
    /// Closes the connection instead of returning it (after a timeout or a broken link).
    pub fn discard(mut self) {
        self.session = None;
    }

    /// `sql` prepared on this connection (with parameters of `types`), if it ran here before.
    /// The first time a text comes it is only remembered and `None` returned: run it unnamed, in
    /// one round trip, as a one-off statement should. The second time it is prepared (one round
    /// trip more, once); from then on the server reuses its parse and plan.
    ///
    /// # Errors
    /// When preparing fails (the statement's own error, as running it would give).
    pub async fn prepared(
        &mut self,
        sql: &str,
        types: &[Type],
    ) -> Result<Option<Statement>, tokio_postgres::Error> {
        if sql.len() > MAX_PREPARED_TEXT {
            return Ok(None);
        }
        let session = self.session_mut();
        match session.statements.get(sql) {
            Some(Some(statement)) => return Ok(Some(statement.clone())),
            Some(None) => {}
            None => {
                session.statements.insert(sql.into(), None);
                return Ok(None);
            }
        }
        let statement = session.client.prepare_typed(sql, types).await?;
        session
            .statements
            .insert(sql.into(), Some(statement.clone()));
        Ok(Some(statement))
    }

    /// Drops what this connection remembers of `sql` (its prepared statement failed).
    pub fn forget(&mut self, sql: &str) {
        self.session_mut().statements.remove(sql);
    }

    fn session_mut(&mut self) -> &mut Session {
        // Only `discard` empties it, and it consumes the lease.
        self.session
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lease always holds its session"))
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Only `discard` empties it, and it consumes the lease.
        &self
            .session
            .as_ref()
            .unwrap_or_else(|| unreachable!("a lease always holds its session"))
            .client
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.db.put_back(session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_options_come_after_the_urls_so_they_win() {
        let settings = Settings {
            statement_timeout_ms: 1500,
            idle_in_transaction_ms: 3000,
        };
        assert_eq!(
            settings.options(Some("-c search_path=app")),
            "-c search_path=app -c default_transaction_read_only=on -c statement_timeout=1500 \
             -c lock_timeout=1500 -c idle_in_transaction_session_timeout=3000"
        );
        assert!(settings.options(None).starts_with("-c default_transaction"));
    }

    #[tokio::test]
    async fn a_connection_that_stops_being_read_only_is_never_used_again() {
        let db = switchboard_testkit::pg::TestDb::new().await.unwrap();
        let connection = Connection::from_url(&db.url()).unwrap();
        let pool = Database::new(connection, Duration::from_secs(5)).unwrap();
        let lease = pool.get().await.unwrap();
        let first: i32 = lease
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        // What the guard never lets through, sent behind its back.
        lease
            .batch_execute("SET default_transaction_read_only = off")
            .await
            .unwrap();
        drop(lease);
        let lease = pool.get().await.unwrap();
        let row = lease
            .query_one(
                "SELECT pg_backend_pid(), current_setting('default_transaction_read_only')",
                &[],
            )
            .await
            .unwrap();
        assert_ne!(
            row.get::<_, i32>(0),
            first,
            "the changed connection was reused"
        );
        assert_eq!(row.get::<_, String>(1), "on");
    }
}
