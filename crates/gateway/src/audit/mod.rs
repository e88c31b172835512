//! The audit log: one JSON line per tool call (refusals included), each carrying the SHA-256 of
//! the previous line, so removing, reordering or editing a record breaks the chain. A record is
//! written to the OS before the call's result is returned (and fsync'ed when `fsync = true`).
//!
//! Also the readers behind `switchboard audit tail|search|verify`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Glob patterns, as used by [`Filter::tool`].
pub use glob::Pattern;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audited call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1 (in its replica's chain, with the PostgreSQL sink).
    pub seq: u64,
    /// The gateway replica whose chain holds it (PostgreSQL sink only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// When the call finished (RFC 3339, UTC).
    pub time: String,
    /// The client id.
    pub client: String,
    /// The person (their token's subject), when a person's token picked the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The person's name (e-mail or username), when their token carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The session id.
    pub session: String,
    /// The exposed tool name the client called.
    pub tool: String,
    /// The virtual endpoint the call came through (`/mcp/<name>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The upstream server, when known.
    pub server: Option<String>,
    /// The tool's name on the upstream, when known.
    pub upstream_tool: Option<String>,
    /// The arguments, with secrets and configured fields redacted.
    pub arguments: serde_json::Value,
    /// `ok`, `tool_error`, `refused`, `timeout`, `upstream_error`, `input_required`, or `task`
    /// (the upstream took the call as a task).
    pub outcome: String,
    /// The layer that refused the call, for `refused`.
    pub layer: Option<String>,
    /// What went wrong, for anything but `ok` (secrets scrubbed).
    pub message: Option<String>,
    /// Time from arrival to result, in milliseconds.
    pub latency_ms: u64,
    /// Size of the serialized result returned to the client, in bytes.
    pub result_bytes: u64,
    /// An operator's answer, when the call waited in the approval queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::policy::queue::ApprovalNote>,
    /// SHA-256 (hex) of the previous record's line, or [`GENESIS`].
    pub prev: String,
}

impl AuditRecord {
    /// A record of something the gateway did rather than a call (a pin decided, a reload):
    /// `client` did it, `layer` names the part, `arguments` says what (never a secret value).
    pub(crate) fn event(
        client: String,
        tool: String,
        server: Option<String>,
        layer: &str,
        outcome: &str,
        message: String,
        arguments: serde_json::Value,
    ) -> Self {
        Self {
            seq: 0,
            replica: None,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            client,
            user: None,
            user_name: None,
            session: "-".to_owned(),
            upstream_tool: server.as_ref().map(|_| tool.clone()),
            tool,
            endpoint: None,
            server,
            arguments,
            outcome: outcome.to_owned(),
            layer: Some(layer.to_owned()),
            message: Some(message),
            latency_ms: 0,
            result_bytes: 0,
            approval: None,
            prev: String::new(),
        }
    }
}

/// Reading or verifying an audit log failed.
#[derive(Debug, Error)]
pub enum AuditError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a record.
    #[error("{path}: line {line}: not an audit record: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// The chain is broken: a record was changed, removed or inserted.
    #[error(
        "{path}: line {line}: the chain is broken (record {seq}'s prev does not match the hash \
         of the line before it): a record was changed, removed or inserted"
    )]
    Broken {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the first record that does not match.
        line: usize,
        /// That record's seq.
        seq: u64,
    },
}

pub mod postgres;

/// Where a gateway's audit records go: the JSON-lines file (the default) or a PostgreSQL table.
#[derive(Debug)]
pub enum AuditSink {
    /// `[audit] path`.
    File(AuditLog),
    /// `[audit] sink = "postgres://…"`.
    Postgres(postgres::PostgresSink),
}

impl AuditSink {
    /// Writes `record` — handed to the OS (file) or committed (PostgreSQL) — and returns it with
    /// its place in the chain.
    ///
    /// # Errors
    /// What failed; the chain is unchanged.
    pub async fn append(&self, record: AuditRecord) -> Result<AuditRecord, String> {
        match self {
            Self::File(log) => log.append(record).map_err(|e| e.to_string()),
            Self::Postgres(sink) => sink.append(record).await,
        }
    }

    /// Writes `record` without waiting for the database (events that answer no call).
    pub fn append_detached(&self, record: AuditRecord) {
        match self {
            Self::File(log) => {
                if let Err(error) = log.append(record) {
                    tracing::error!(%error, "the audit log cannot be written");
                }
            }
            Self::Postgres(sink) => sink.append_detached(record),
        }
    }

    /// Where records go, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::File(log) => log.path().display().to_string(),
            Self::Postgres(sink) => {
                format!("table {} (replica {})", postgres::TABLE, sink.replica())
            }
        }
    }
}

/// SHA-256 of one line (without its newline), hex.
pub fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

struct Writer {
    file: File,
    prev: String,
    seq: u64,
}

/// An append-only, hash-chained audit log file.
pub struct AuditLog {
    path: PathBuf,
    fsync: bool,
    writer: Mutex<Writer>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, continuing the chain of the records already there.
    /// A torn last line (a write cut short by a crash, whose call never returned) is removed.
    ///
    /// # Errors
    /// The I/O error, when the file cannot be opened, read or repaired.
    pub fn open(path: &Path, fsync: bool) -> std::io::Result<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        if !text.is_empty() && !text.ends_with('\n') {
            let keep = text.rfind('\n').map_or(0, |i| i + 1);
            tracing::warn!(
                path = %path.display(),
                bytes = text.len() - keep,
                "removing a torn last audit line left by an interrupted write"
            );
            file.set_len(keep as u64)?;
            file.seek(SeekFrom::End(0))?;
            text.truncate(keep);
        }
        let (prev, seq) = match text.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) => {
                let seq = serde_json::from_str::<AuditRecord>(last)
                    .map(|r| r.seq)
                    .unwrap_or(0);
                (line_hash(last), seq)
            }
            None => (GENESIS.to_owned(), 0),
        };
        Ok(Self {
            path: path.to_owned(),
            fsync,
            writer: Mutex::new(Writer { file, prev, seq }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`, filling in `seq` and `prev`, and hands it to the OS before returning.
    ///
    /// # Errors
    /// The I/O error; the chain is unchanged when the write fails.
    pub fn append(&self, mut record: AuditRecord) -> std::io::Result<AuditRecord> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        record.seq = writer.seq + 1;
        record.prev = writer.prev.clone();
        let line = serde_json::to_string(&record).map_err(std::io::Error::other)?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        writer.file.write_all(&bytes)?;
        writer.file.flush()?;
        if self.fsync {
            writer.file.sync_data()?;
        }
        writer.prev = line_hash(&line);
        writer.seq = record.seq;
        Ok(record)
    }
}

/// Calls `each` with every non-blank line of an audit file and its number, reading the file as
/// it goes (memory stays bounded however long the file is).
fn each_line(
    path: &Path,
    mut each: impl FnMut(usize, String) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if !line.trim().is_empty() {
            each(i + 1, line)?;
        }
    }
    Ok(())
}

fn parse(path: &Path, n: usize, line: &str) -> Result<AuditRecord, AuditError> {
    serde_json::from_str(line).map_err(|e| AuditError::Malformed {
        path: path.to_owned(),
        line: n,
        message: e.to_string(),
    })
}

/// Reads every record.
///
/// # Errors
/// [`AuditError::Io`] or [`AuditError::Malformed`].
pub fn read_records(path: &Path) -> Result<Vec<AuditRecord>, AuditError> {
    let mut out = Vec::new();
    each_line(path, |n, line| {
        out.push(parse(path, n, &line)?);
        Ok(())
    })?;
    Ok(out)
}

/// How many records match `filter`, and the newest `max` of them, newest first — reading the
/// file once, holding no more than `max` records.
///
/// # Errors
/// [`AuditError::Io`] or [`AuditError::Malformed`].
pub fn newest(
    path: &Path,
    filter: &Filter,
    max: usize,
) -> Result<(usize, Vec<AuditRecord>), AuditError> {
    let mut matched = 0;
    let mut kept = std::collections::VecDeque::with_capacity(max.min(1024));
    each_line(path, |n, line| {
        let record = parse(path, n, &line)?;
        if filter.matches(&record) {
            matched += 1;
            if kept.len() == max {
                kept.pop_front();
            }
            if max > 0 {
                kept.push_back(record);
            }
        }
        Ok(())
    })?;
    Ok((matched, kept.into_iter().rev().collect()))
}

/// Checks the whole chain; returns the number of records.
///
/// # Errors
/// The first problem: unreadable file, malformed line, or broken chain.
pub fn verify(path: &Path) -> Result<u64, AuditError> {
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    each_line(path, |n, line| {
        let record = parse(path, n, &line)?;
        if record.prev != prev {
            return Err(AuditError::Broken {
                path: path.to_owned(),
                line: n,
                seq: record.seq,
            });
        }
        prev = line_hash(&line);
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// A filter for [`search`]; unset fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Client id, exact.
    pub client: Option<String>,
    /// Person (subject or name), exact.
    pub user: Option<String>,
    /// Exposed tool name glob.
    pub tool: Option<glob::Pattern>,
    /// Outcome, exact (`ok`, `refused`, …).
    pub outcome: Option<String>,
    /// Session id, exact.
    pub session: Option<String>,
    /// Records at or after this RFC 3339 time.
    pub since: Option<String>,
}

impl Filter {
    /// Whether `record` matches.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.client.as_ref().is_none_or(|c| *c == record.client)
            && self.user.as_ref().is_none_or(|u| {
                record.user.as_ref() == Some(u) || record.user_name.as_ref() == Some(u)
            })
            && self.tool.as_ref().is_none_or(|t| t.matches(&record.tool))
            && self.outcome.as_ref().is_none_or(|o| *o == record.outcome)
            && self.session.as_ref().is_none_or(|s| *s == record.session)
            && self
                .since
                .as_ref()
                .is_none_or(|s| record.time.as_str() >= s.as_str())
    }
}

/// The records matching `filter`.
///
/// # Errors
/// As [`read_records`].
pub fn search(path: &Path, filter: &Filter) -> Result<Vec<AuditRecord>, AuditError> {
    Ok(read_records(path)?
        .into_iter()
        .filter(|r| filter.matches(r))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tool: &str) -> AuditRecord {
        AuditRecord {
            seq: 0,
            replica: None,
            time: "2026-01-01T00:00:00Z".into(),
            client: "c".into(),
            user: None,
            user_name: None,
            session: "s".into(),
            tool: tool.into(),
            endpoint: None,
            server: None,
            upstream_tool: None,
            arguments: serde_json::json!({}),
            outcome: "ok".into(),
            layer: None,
            message: None,
            latency_ms: 1,
            result_bytes: 2,
            approval: None,
            prev: String::new(),
        }
    }

    #[test]
    fn chain_continues_across_reopen_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AuditLog::open(&path, false).unwrap();
        log.append(record("a")).unwrap();
        log.append(record("b")).unwrap();
        drop(log);
        let log = AuditLog::open(&path, true).unwrap();
        assert_eq!(log.append(record("c")).unwrap().seq, 3);
        assert_eq!(verify(&path).unwrap(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"tool\":\"b\"", "\"tool\":\"x\"", 1)).unwrap();
        assert!(matches!(
            verify(&path),
            Err(AuditError::Broken { line: 3, .. })
        ));
    }

    #[test]
    fn torn_tail_is_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        AuditLog::open(&path, false)
            .unwrap()
            .append(record("a"))
            .unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":2,\"ti").unwrap();
        let log = AuditLog::open(&path, false).unwrap();
        assert_eq!(log.append(record("b")).unwrap().seq, 2);
        assert_eq!(verify(&path).unwrap(), 2);
    }
}
