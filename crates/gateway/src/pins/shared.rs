//! Pins kept in the fleet's state store (`[state] store`), so every replica serves a tool only
//! while its upstream lists the one definition the fleet pinned, and an operator decides once for
//! all of them.
//!
//! The pin file's JSON lives under `<prefix>:pins`. A change reads it, changes it and writes it
//! back inside `WATCH`/`MULTI`/`EXEC`: when another replica changed it in between, the
//! transaction is void and the change is made again on what that replica wrote, so no change is
//! lost. Each write also bumps `<prefix>:pins:rev`, which every replica polls to pick up what
//! others (and operators) decided.
//!
//! The calls block for at most [`TIMEOUT`] per answer; they are made only when a catalog is
//! rebuilt and once per poll, never on a tool call.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::Commands;

use super::{PinError, PinFile};

/// How long connecting, and each answer, may take.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The pins of a fleet, in Redis.
pub struct SharedPins {
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    key: String,
    revision: String,
    /// `redis://host:port/db`, for messages: never the password.
    target: String,
}

impl std::fmt::Debug for SharedPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPins")
            .field("target", &self.target)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl SharedPins {
    /// The pins under `<prefix>:pins` in the Redis at `url`. Nothing connects until first use.
    ///
    /// # Errors
    /// When `url` is not a Redis URL this build can use (the message never repeats it).
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let (client, target) = crate::policy::rate_limit::open(url)?;
        Ok(Self {
            client,
            connection: Mutex::new(None),
            key: format!("{prefix}:pins"),
            revision: format!("{prefix}:pins:rev"),
            target,
        })
    }

    /// Where the pins are, for messages.
    pub fn describe(&self) -> String {
        format!("{} key {}", self.target, self.key)
    }

    /// Runs `work` on the connection (made first when there is none); a connection that failed
    /// is dropped, so the next use connects afresh.
    fn with<T>(
        &self,
        work: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, PinError> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let outcome = match slot.as_mut() {
            Some(connection) => work(connection),
            None => self.connect().and_then(|connection| {
                let connection = slot.insert(connection);
                work(connection)
            }),
        };
        outcome.map_err(|error| {
            *slot = None;
            PinError::Store(format!(
                "the shared pin store {} did not answer ({error})",
                self.target
            ))
        })
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.client.get_connection_with_timeout(TIMEOUT)?;
        connection.set_read_timeout(Some(TIMEOUT))?;
        connection.set_write_timeout(Some(TIMEOUT))?;
        Ok(connection)
    }

    /// The fleet's pins (empty when none were written yet) and their revision, read together.
    ///
    /// # Errors
    /// [`PinError::Store`] when the store does not answer; [`PinError::Malformed`] when the key
    /// holds something else.
    pub fn read(&self) -> Result<(PinFile, u64), PinError> {
        let (text, revision) = self.with(|connection| self.fetch(connection))?;
        Ok((self.parse(text.as_deref())?, revision))
    }

    /// The pins' text and revision, in one command (so they belong together).
    fn fetch(
        &self,
        connection: &mut redis::Connection,
    ) -> redis::RedisResult<(Option<String>, u64)> {
        let (text, revision): (Option<String>, Option<u64>) = redis::cmd("MGET")
            .arg(&self.key)
            .arg(&self.revision)
            .query(connection)?;
        Ok((text, revision.unwrap_or(0)))
    }

    fn parse(&self, text: Option<&str>) -> Result<PinFile, PinError> {
        text.map_or(Ok(PinFile::default()), |text| {
            serde_json::from_str(text).map_err(|e| PinError::Malformed {
                path: self.describe().into(),
                message: e.to_string(),
            })
        })
    }

    /// The revision of the pins: it changes with every write.
    ///
    /// # Errors
    /// [`PinError::Store`] when the store does not answer.
    pub fn revision(&self) -> Result<u64, PinError> {
        let revision: Option<u64> = self.with(|connection| connection.get(&self.revision))?;
        Ok(revision.unwrap_or(0))
    }

    /// The fleet's pins changed by `change`, atomically — made again on the latest pins when
    /// another writer got there first — with their revision after the change.
    ///
    /// # Errors
    /// [`PinError::Store`], [`PinError::Malformed`], or what `change` returns.
    pub fn update<T>(
        &self,
        mut change: impl FnMut(&mut PinFile) -> Result<T, PinError>,
    ) -> Result<(PinFile, T, u64), PinError> {
        // An error of the pins themselves (not of the store) ends the transaction.
        let mut refused = None;
        let mut attempt = |connection: &mut redis::Connection, pipe: &mut redis::Pipeline| {
            let (text, revision) = self.fetch(connection)?;
            let mut pins = match self.parse(text.as_deref()) {
                Ok(pins) => pins,
                Err(error) => {
                    refused = Some(error);
                    return Ok(Some(None));
                }
            };
            let before = pins.clone();
            let out = match change(&mut pins) {
                Ok(out) => out,
                Err(error) => {
                    refused = Some(error);
                    return Ok(Some(None));
                }
            };
            if pins == before {
                return Ok(Some(Some((pins, out, revision))));
            }
            pins.version = 1;
            let text = serde_json::to_string(&pins).map_err(|e| {
                redis::RedisError::from((redis::ErrorKind::Client, "pins", e.to_string()))
            })?;
            // `None` when another writer changed the pins since `WATCH`: made again.
            let written: Option<(u64,)> = pipe
                .set(&self.key, text)
                .ignore()
                .incr(&self.revision, 1)
                .query(connection)?;
            Ok(written.map(|(revision,)| Some((pins, out, revision))))
        };
        let outcome = self.with(|connection| {
            redis::transaction(connection, &[&self.key, &self.revision], &mut attempt)
        })?;
        match (outcome, refused) {
            (Some(done), _) => Ok(done),
            (None, Some(error)) => Err(error),
            (None, None) => unreachable!("a transaction without an outcome has an error"),
        }
    }
}
