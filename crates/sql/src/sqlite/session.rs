//! One SQLite connection set up so that it can only read, by SQLite's own means:
//!
//! - opened with `SQLITE_OPEN_READ_ONLY` (no `CREATE`, no URI parsing of the name: the path is
//!   absolute), so the file is never created or written;
//! - `PRAGMA query_only = ON`, defensive mode on, `trusted_schema` off, the FTS3 tokenizer hook
//!   off, extension loading left disabled (the `load_extension` feature is not even compiled in),
//!   ATTACH unable to create or write files, and `SQLITE_LIMIT_ATTACHED = 0`;
//! - values capped at [`MAX_VALUE_LENGTH`] bytes (`SQLITE_LIMIT_LENGTH`), so one expression cannot
//!   build a gigabyte string;
//! - the [`authorizer`](super::authorizer) allow-list installed, remembering why it denied;
//! - a progress handler that interrupts a statement once its deadline has passed.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

use super::authorizer;
use crate::error::QueryError;

/// The longest string or blob a statement may produce or read, in bytes.
pub(crate) const MAX_VALUE_LENGTH: i32 = 64 * 1024 * 1024;
/// Virtual-machine instructions between two deadline checks.
const PROGRESS_STEPS: i32 = 1000;

/// State shared between a connection's hooks and the code running statements on it.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    /// When the running statement must stop; `None` while idle.
    deadline: Mutex<Option<Instant>>,
    /// Why the authorizer denied the statement being prepared.
    denial: Mutex<Option<String>>,
}

impl Hooks {
    /// Sets the deadline of the statements about to run.
    pub(crate) fn arm(&self, deadline: Instant) {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = Some(deadline);
    }

    /// Clears the deadline.
    pub(crate) fn disarm(&self) {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Whether the deadline has passed (the progress handler interrupts when it has).
    fn expired(&self) -> bool {
        self.deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Takes the reason of the last denial, clearing it.
    pub(crate) fn take_denial(&self) -> Option<String> {
        self.denial
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn deny(&self, reason: String) {
        let mut denial = self.denial.lock().unwrap_or_else(PoisonError::into_inner);
        // The first denial of a statement is the one that explains it.
        denial.get_or_insert(reason);
    }
}

/// A read-only connection and its hooks.
pub(crate) struct Session {
    /// The connection (used by one thread at a time).
    pub(crate) conn: Connection,
    /// Deadline and denial state.
    pub(crate) hooks: Arc<Hooks>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// Opens `path` read-only and locks the connection down (see the module docs).
///
/// # Errors
/// `SqliteUnavailable` when the file is missing, unreadable or not a database.
pub(crate) fn open(path: &Path) -> Result<Session, QueryError> {
    let unavailable = |reason: String| QueryError::CannotOpen {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(unavailable("it is not a regular file".to_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(unavailable(
                "the file does not exist; DATABASE_URL must name an existing SQLite file (the \
                 server opens it read-only and never creates one)"
                    .to_owned(),
            ));
        }
        Err(error) => return Err(unavailable(error.to_string())),
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| unavailable(e.to_string()))?;
    lock_down(&conn).map_err(|e| unavailable(format!("cannot configure the connection: {e}")))?;
    // Reading the schema now tells a non-database file apart at once.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(|e| unavailable(format!("{e}; is it an SQLite database?")))?;
    let hooks = Arc::new(Hooks::default());
    install_hooks(&conn, &hooks).map_err(|e| unavailable(format!("cannot install hooks: {e}")))?;
    Ok(Session { conn, hooks })
}

/// Settings that make the connection read-only beyond the open flag.
fn lock_down(conn: &Connection) -> Result<(), String> {
    settings(conn).map_err(|e| e.to_string())?;
    let query_only: bool = conn
        .pragma_query_value(None, "query_only", |row| row.get(0))
        .map_err(|e| e.to_string())?;
    if !query_only {
        return Err("PRAGMA query_only did not take effect".to_owned());
    }
    Ok(())
}

fn settings(conn: &Connection) -> rusqlite::Result<()> {
    for (setting, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_WRITABLE_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE, false),
    ] {
        conn.set_db_config(setting, on)?;
    }
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_LENGTH)?;
    conn.pragma_update(None, "query_only", true)
}

fn install_hooks(conn: &Connection, hooks: &Arc<Hooks>) -> rusqlite::Result<()> {
    let watch = Arc::clone(hooks);
    conn.progress_handler(PROGRESS_STEPS, Some(move || watch.expired()))?;
    let judge = Arc::clone(hooks);
    conn.authorizer(Some(
        move |context: AuthContext<'_>| match authorizer::decide(&context.action) {
            Ok(()) => Authorization::Allow,
            Err(reason) => {
                judge.deny(reason);
                Authorization::Deny
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    //! Each layer on its own: with the authorizer removed, `query_only` still refuses writes; with
    //! `query_only` also off, the read-only open still does; ATTACH fails on the limit alone.

    use super::*;

    fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layers.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE canary (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO canary VALUES (1, 'x');")
            .unwrap();
        (dir, path)
    }

    fn without_authorizer(session: &Session) {
        session
            .conn
            .authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
            .unwrap();
    }

    #[test]
    fn query_only_refuses_writes_without_the_authorizer() {
        let (_dir, path) = fixture();
        let session = open(&path).unwrap();
        without_authorizer(&session);
        let error = session.conn.execute("DELETE FROM canary", []).unwrap_err();
        assert!(error.to_string().contains("readonly"), "{error}");
    }

    #[test]
    fn the_read_only_open_refuses_writes_without_query_only() {
        let (_dir, path) = fixture();
        let session = open(&path).unwrap();
        without_authorizer(&session);
        session
            .conn
            .pragma_update(None, "query_only", false)
            .unwrap();
        let error = session.conn.execute("DELETE FROM canary", []).unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly),
            "{error}"
        );
        let count: i64 = session
            .conn
            .query_row("SELECT count(*) FROM canary", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn attach_fails_on_the_limit_alone() {
        let (dir, path) = fixture();
        let session = open(&path).unwrap();
        without_authorizer(&session);
        let target = dir.path().join("attached.db");
        let error = session
            .conn
            .execute(&format!("ATTACH '{}' AS x", target.display()), [])
            .unwrap_err();
        assert!(error.to_string().contains("too many attached"), "{error}");
        assert!(!target.exists());
    }

    #[test]
    fn the_deadline_interrupts_a_runaway_statement() {
        let (_dir, path) = fixture();
        let session = open(&path).unwrap();
        session
            .hooks
            .arm(Instant::now() + std::time::Duration::from_millis(100));
        let started = Instant::now();
        let error = session
            .conn
            .query_row(
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
                [],
                |row| row.get::<_, i64>(0),
            )
            .unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::OperationInterrupted)
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        session.hooks.disarm();
        let one: i64 = session
            .conn
            .query_row("SELECT 1", [], |row| row.get(0))
            .unwrap();
        assert_eq!(one, 1);
    }

    #[test]
    fn a_missing_file_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        let error = open(&path).unwrap_err().to_string();
        assert!(error.contains("does not exist"), "{error}");
        assert!(!path.exists());
    }
}
