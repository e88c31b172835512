//! The PostgreSQL audit sink (`[audit] sink = "postgres://…"`): one table for every replica,
//! each replica keeping its own hash chain.
//!
//! A row holds the record's JSON line exactly as the file sink would write it (`line`), its
//! SHA-256 (`hash`), and the chain's position (`replica`, `seq`, `prev`). The line is what is
//! hashed, so a verifier needs nothing but the table. One writer task per gateway owns the
//! connection and the chain's head; a call's record is inserted — committed — before its result
//! is returned, and a failed insert withholds the result, exactly as a failed file write does.
//!
//! The table (created when missing, if the role may; otherwise create it with this SQL):
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS switchboard_audit (
//!     replica text   NOT NULL,
//!     seq     bigint NOT NULL,
//!     time    timestamptz NOT NULL,
//!     prev    text   NOT NULL,
//!     hash    text   NOT NULL,
//!     line    text   NOT NULL,
//!     PRIMARY KEY (replica, seq)
//! );
//! -- the gateway's role: append and read its own chain's head, nothing else
//! GRANT INSERT, SELECT ON switchboard_audit TO switchboard_gateway;
//! ```
//!
//! The URL's `sslmode` and `sslrootcert` mean what they mean to libpq and to the built-in SQL
//! server (`switchboard_pg`): `prefer` (TLS when the server offers it, unverified) unless the URL
//! says `disable`, `allow`, `require`, `verify-ca` or `verify-full`, and `sslrootcert` names a PEM
//! file of trusted roots (the web PKI roots otherwise). Messages name the database as
//! `user@host:port/db`, never with its password.

use std::collections::BTreeMap;
use std::time::Duration;

use switchboard_pg::tls::connector;
use switchboard_pg::{Connection, describe_driver_error};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{AuditRecord, GENESIS, line_hash};

/// The table's name.
pub const TABLE: &str = "switchboard_audit";

const CREATE: &str = "CREATE TABLE IF NOT EXISTS switchboard_audit (
    replica text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL,
    prev text NOT NULL, hash text NOT NULL, line text NOT NULL,
    PRIMARY KEY (replica, seq))";

const HEAD: &str = "SELECT seq, hash FROM switchboard_audit WHERE replica = $1 \
                    ORDER BY seq DESC LIMIT 1";

/// Every record waiting, in one statement (so one commit): `$1` the replica, then one array
/// per column.
const INSERT: &str = "INSERT INTO switchboard_audit (replica, seq, time, prev, hash, line) \
                      SELECT $1, seq, time::timestamptz, prev, hash, line \
                      FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) \
                      AS r(seq, time, prev, hash, line)";

/// Records inserted together at most: those that arrive while a commit is under way wait for
/// the next one.
const BATCH: usize = 256;

/// Records waiting for the writer at once; a call past that waits for room.
const QUEUE: usize = 1024;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The setting the database comes from, as messages name it.
const SETTING: &str = "audit.sink";

type Reply = oneshot::Sender<Result<AuditRecord, String>>;

/// The sink's handle: records go to the writer task.
#[derive(Debug, Clone)]
pub struct PostgresSink {
    replica: String,
    queue: mpsc::Sender<(AuditRecord, Option<Reply>)>,
}

/// The audit database: how to connect to it, with the TLS its URL asks for.
struct Database {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// `user@host:port/db`, for messages.
    name: String,
}

impl Database {
    /// Reads `url`, its `sslmode` and `sslrootcert` included, and prepares the TLS connector.
    fn new(url: &str) -> Result<Self, String> {
        let mut connection = Connection::from_url(url).map_err(|e| format!("{SETTING}: {e}"))?;
        let name = connection.describe();
        let tls = connector(&mut connection)
            .map_err(|e| format!("{SETTING}: audit database {name}: {e}"))?;
        Ok(Self {
            config: connection.pg,
            tls,
            name,
        })
    }

    /// `error`, naming the setting and the database (never its password).
    fn failed(&self, error: impl std::fmt::Display) -> String {
        format!("{SETTING}: audit database {}: {error}", self.name)
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let connecting = self.config.connect(self.tls.clone());
        let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| describe_driver_error(&e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(
                    error = %describe_driver_error(&error),
                    "the audit database connection ended"
                );
            }
        });
        Ok(client)
    }
}

impl PostgresSink {
    /// Connects, creates the table when it is missing (and the role may), reads this replica's
    /// chain head and starts the writer.
    ///
    /// # Errors
    /// A message naming the setting (`audit.sink`), the database (never its password) and what
    /// failed.
    pub async fn open(url: &str, replica: &str) -> Result<Self, String> {
        let db = Database::new(url)?;
        let client = db.connect().await.map_err(|e| db.failed(e))?;
        if let Err(error) = client.batch_execute(CREATE).await {
            // A role that may only insert cannot create: the table must already exist.
            tracing::debug!(%error, "cannot create the audit table; checking it exists");
        }
        let head = client.query_opt(HEAD, &[&replica]).await.map_err(|e| {
            db.failed(format!(
                "cannot read table {TABLE}: {}",
                describe_driver_error(&e)
            ))
        })?;
        let (seq, prev) = match head {
            Some(row) => (
                u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                row.get::<_, String>(1),
            ),
            None => (0, GENESIS.to_owned()),
        };
        let (queue, incoming) = mpsc::channel(QUEUE);
        tokio::spawn(write(
            db,
            replica.to_owned(),
            Some(client),
            seq,
            prev,
            incoming,
        ));
        Ok(Self {
            replica: replica.to_owned(),
            queue,
        })
    }

    /// The replica whose chain this sink extends.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Inserts `record` (its `seq`, `prev` and `replica` filled in) and returns it once
    /// committed.
    ///
    /// # Errors
    /// What failed; the chain is unchanged.
    pub async fn append(&self, record: AuditRecord) -> Result<AuditRecord, String> {
        let (reply, written) = oneshot::channel();
        self.queue
            .send((record, Some(reply)))
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        written
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?
    }

    /// Queues `record` without waiting for it (events that answer no call, e.g. pins).
    pub fn append_detached(&self, record: AuditRecord) {
        if let Err(error) = self.queue.try_send((record, None)) {
            tracing::error!(%error, "an audit record could not be queued");
        }
    }
}

/// The writer: the records waiting, in order, in one insert and one commit (a group commit: a
/// busy gateway pays for one commit per batch, not per call); a lost connection is opened again
/// for the next batch.
async fn write(
    db: Database,
    replica: String,
    mut client: Option<tokio_postgres::Client>,
    mut seq: u64,
    mut prev: String,
    mut incoming: mpsc::Receiver<(AuditRecord, Option<Reply>)>,
) {
    let mut waiting = Vec::with_capacity(BATCH);
    while incoming.recv_many(&mut waiting, BATCH).await > 0 {
        // The batch continues the chain record by record; the head moves only once it is
        // committed, so a failed insert leaves the chain as it was.
        let mut rows = Rows::default();
        let mut written = Vec::with_capacity(waiting.len());
        let (mut next_seq, mut next_prev) = (seq, prev.clone());
        for (mut record, reply) in waiting.drain(..) {
            record.seq = next_seq + 1;
            record.prev.clone_from(&next_prev);
            record.replica = Some(replica.clone());
            match rows.push(&record) {
                Ok(hash) => {
                    next_seq = record.seq;
                    next_prev = hash;
                    written.push((record, reply));
                }
                Err(error) => answer(reply, Err(error)),
            }
        }
        match insert(&db, &replica, &mut client, &rows).await {
            Ok(()) => {
                (seq, prev) = (next_seq, next_prev);
                for (record, reply) in written {
                    answer(reply, Ok(record));
                }
            }
            Err(error) => {
                tracing::error!(
                    database = %db.name,
                    records = written.len(),
                    "cannot write the audit records: {error}"
                );
                for (_, reply) in written {
                    answer(reply, Err(error.clone()));
                }
            }
        }
    }
}

fn answer(reply: Option<Reply>, result: Result<AuditRecord, String>) {
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}

/// The columns of the records of one insert.
#[derive(Default)]
struct Rows {
    seq: Vec<i64>,
    time: Vec<String>,
    prev: Vec<String>,
    hash: Vec<String>,
    line: Vec<String>,
}

impl Rows {
    /// Adds `record`, returning its hash (the next record's `prev`).
    fn push(&mut self, record: &AuditRecord) -> Result<String, String> {
        let line = serde_json::to_string(record).map_err(|e| e.to_string())?;
        let seq = i64::try_from(record.seq).map_err(|e| e.to_string())?;
        let hash = line_hash(&line);
        self.seq.push(seq);
        self.time.push(record.time.clone());
        self.prev.push(record.prev.clone());
        self.hash.push(hash.clone());
        self.line.push(line);
        Ok(hash)
    }
}

async fn insert(
    db: &Database,
    replica: &str,
    client: &mut Option<tokio_postgres::Client>,
    rows: &Rows,
) -> Result<(), String> {
    if rows.seq.is_empty() {
        return Ok(());
    }
    if client
        .as_ref()
        .is_none_or(tokio_postgres::Client::is_closed)
    {
        *client = Some(db.connect().await?);
    }
    let Some(open) = client.as_ref() else {
        return Err("no connection".into());
    };
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
        &replica, &rows.seq, &rows.time, &rows.prev, &rows.hash, &rows.line,
    ];
    match open.execute(INSERT, &params).await {
        Ok(_) => Ok(()),
        Err(error) => {
            if open.is_closed() {
                *client = None;
            }
            Err(describe_driver_error(&error))
        }
    }
}

/// What `switchboard audit verify` found for one replica's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records in the chain.
    pub records: u64,
    /// Problems, first to last: gaps in `seq`, broken links, altered lines.
    pub problems: Vec<String>,
}

/// Reads every replica's records in chain order.
///
/// # Errors
/// A message naming the database and what failed.
pub async fn read(
    url: &str,
) -> Result<BTreeMap<String, Vec<(u64, String, String, String)>>, String> {
    let db = Database::new(url)?;
    let client = db.connect().await.map_err(|e| db.failed(e))?;
    let rows = client
        .query(
            "SELECT replica, seq, prev, hash, line FROM switchboard_audit ORDER BY replica, seq",
            &[],
        )
        .await
        .map_err(|e| db.failed(describe_driver_error(&e)))?;
    let mut chains: BTreeMap<String, Vec<(u64, String, String, String)>> = BTreeMap::new();
    for row in rows {
        let seq = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
        chains
            .entry(row.get(0))
            .or_default()
            .push((seq, row.get(2), row.get(3), row.get(4)));
    }
    Ok(chains)
}

/// Checks every replica's chain: `seq` from 1 without gaps, each `prev` the hash of the record
/// before, each `hash` the SHA-256 of its line, and the line saying the same as its columns.
///
/// # Errors
/// As [`read`].
pub async fn verify(url: &str) -> Result<BTreeMap<String, ChainReport>, String> {
    let mut reports = BTreeMap::new();
    for (replica, rows) in read(url).await? {
        let mut report = ChainReport {
            records: rows.len() as u64,
            problems: Vec::new(),
        };
        let (mut expected_seq, mut expected_prev) = (1, GENESIS.to_owned());
        for (seq, prev, hash, line) in rows {
            if seq != expected_seq {
                report.problems.push(format!(
                    "records {expected_seq}..{} are missing",
                    seq.saturating_sub(1)
                ));
            }
            if line_hash(&line) != hash {
                report
                    .problems
                    .push(format!("record {seq}: the line does not match its hash"));
            }
            match serde_json::from_str::<AuditRecord>(&line) {
                Ok(record)
                    if record.seq == seq
                        && record.prev == prev
                        && record.replica.as_deref() == Some(replica.as_str()) => {}
                _ => report.problems.push(format!(
                    "record {seq}: the line does not say the same as its columns"
                )),
            }
            if prev != expected_prev && seq == expected_seq {
                report.problems.push(format!(
                    "record {seq}: prev is not the hash of record {}",
                    seq.saturating_sub(1)
                ));
            }
            expected_seq = seq + 1;
            expected_prev = hash;
        }
        reports.insert(replica, report);
    }
    Ok(reports)
}

/// Every record of every replica, for `audit tail` and `audit search`.
///
/// # Errors
/// As [`read`], or a line that is not a record.
pub async fn records(url: &str) -> Result<Vec<AuditRecord>, String> {
    let mut out = Vec::new();
    for (replica, rows) in read(url).await? {
        for (seq, _, _, line) in rows {
            out.push(
                serde_json::from_str(&line)
                    .map_err(|e| format!("replica {replica}, record {seq}: not a record: {e}"))?,
            );
        }
    }
    out.sort_by(|a: &AuditRecord, b| a.time.cmp(&b.time));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_that_wait_together_are_committed_together_and_chain_in_order() {
        let db = switchboard_testkit::pg::TestDb::new().await.unwrap();
        let sink = PostgresSink::open(&db.url(), "busy").await.unwrap();
        let appends: Vec<_> = (0..200)
            .map(|i| {
                let sink = sink.clone();
                let record = AuditRecord::event(
                    "test".into(),
                    format!("tool{i}"),
                    None,
                    "test",
                    "ok",
                    String::new(),
                    serde_json::Value::Null,
                );
                tokio::spawn(async move { sink.append(record).await })
            })
            .collect();
        let mut seqs = Vec::new();
        for append in appends {
            seqs.push(append.await.unwrap().unwrap().seq);
        }
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=200).collect::<Vec<u64>>(),
            "one place each in the chain"
        );
        let chain = &verify(&db.url()).await.unwrap()["busy"];
        assert_eq!((chain.records, chain.problems.len()), (200, 0), "{chain:?}");
        let admin = db.connect().await.unwrap();
        let commits: i64 = admin
            .query_one(
                "SELECT count(DISTINCT xmin::text)::bigint FROM switchboard_audit",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(commits < 200, "200 records in {commits} commits");
    }
}
