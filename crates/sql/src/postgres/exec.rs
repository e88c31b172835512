//! Running one checked statement safely (layers 2, 3 and 5 of the safety model):
//!
//! - only over the extended protocol (Parse/Bind/Execute), which accepts exactly one statement —
//!   never the simple-query path that runs `COMMIT; …`;
//! - inside `BEGIN READ ONLY` with `SET LOCAL statement_timeout`, `lock_timeout` and
//!   `idle_in_transaction_session_timeout`, always rolled back;
//! - results read from a portal in batches, stopping at the row and byte budgets, so a huge result
//!   is never loaded;
//! - a statement still running at the deadline is cancelled on the server and its connection
//!   discarded; a connection found dead is replaced and the (read-only) statement retried once.

use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use futures::TryStreamExt as _;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Kind, ToSql, Type};
use tokio_postgres::{Column, Row};

use super::client::{Database, describe_driver_error};
use super::render;
use crate::error::{DbError, Engine, QueryError};
use crate::guard::{Checked, FunctionName, Guard, StatementKind};
use crate::model::{ColumnInfo, Limits, Rows, TruncatedBy};

/// Extra time granted past the server-side timeout before the client gives up and cancels.
const CLIENT_GRACE: Duration = Duration::from_millis(500);
/// Rows fetched from the portal per round trip.
const BATCH_ROWS: usize = 100;

/// Runs checked statements against one database.
#[derive(Debug)]
pub struct Executor {
    db: Database,
    guard: Guard,
    limits: Limits,
}

impl Executor {
    /// An executor over `db` with `guard` and `limits`.
    pub fn new(db: Database, guard: Guard, limits: Limits) -> Self {
        Self { db, guard, limits }
    }

    /// The configured budgets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The pool.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Checks `sql` and, when allowed, runs it read-only within the budgets (`max_rows` may only
    /// lower the configured row budget).
    ///
    /// # Errors
    /// When the statement is refused, fails, times out, or the database is unreachable.
    pub async fn query(&self, sql: &str, max_rows: Option<usize>) -> Result<Rows, QueryError> {
        let checked = self.guard.check(sql)?;
        let limits = Limits {
            max_rows: max_rows.map_or(self.limits.max_rows, |m| m.clamp(1, self.limits.max_rows)),
            ..self.limits
        };
        self.run(&checked, limits).await
    }

    /// Runs an already checked statement, retrying once on a dead pooled connection.
    ///
    /// # Errors
    /// As [`Executor::query`].
    pub async fn run(&self, checked: &Checked, limits: Limits) -> Result<Rows, QueryError> {
        self.run_with(checked, &[], limits).await
    }

    /// Runs one of the server's own catalog queries (trusted SQL with parameters) under the same
    /// transaction, timeout and budgets as user statements.
    ///
    /// # Errors
    /// As [`Executor::query`].
    pub async fn catalog(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
        max_rows: usize,
    ) -> Result<Rows, QueryError> {
        let checked = Checked {
            kind: StatementKind::Select,
            sql: sql.to_owned(),
            unknown_functions: Vec::new(),
        };
        let limits = Limits {
            max_rows,
            max_bytes: usize::MAX / 2,
            ..self.limits
        };
        self.run_with(&checked, params, limits).await
    }

    async fn run_with(
        &self,
        checked: &Checked,
        params: &[(&(dyn ToSql + Sync), Type)],
        limits: Limits,
    ) -> Result<Rows, QueryError> {
        let started = Instant::now();
        let result = match self.run_once(checked, params, limits, started).await {
            Err(QueryError::ConnectionLost(reason)) => {
                tracing::warn!(%reason, "connection lost; retrying on a fresh connection");
                self.run_once(checked, params, limits, started).await
            }
            other => other,
        };
        if let Err(error) = &result {
            tracing::debug!(%error, "statement failed");
        }
        result
    }

    async fn run_once(
        &self,
        checked: &Checked,
        params: &[(&(dyn ToSql + Sync), Type)],
        limits: Limits,
        started: Instant,
    ) -> Result<Rows, QueryError> {
        let conn = self.db.get().await?;
        let cancel = conn.cancel_token();
        let work = read_only(&conn, checked, params, limits, started);
        match tokio::time::timeout(limits.timeout + CLIENT_GRACE, work).await {
            Ok(Err(error @ QueryError::ConnectionLost(_))) => {
                drop(Object::take(conn));
                Err(error)
            }
            Ok(result) => {
                roll_back(conn);
                // A statement the server cancelled at its timeout leaves a healthy connection.
                result.map_err(|error| match error {
                    QueryError::Timeout(_) => QueryError::Timeout(limits.timeout),
                    other => other,
                })
            }
            Err(_elapsed) => {
                if let Err(error) = cancel.cancel_query(self.db.tls()).await {
                    tracing::warn!(error = %describe_driver_error(&error), "cancel request failed");
                }
                drop(Object::take(conn));
                Err(QueryError::Timeout(limits.timeout))
            }
        }
    }
}

/// Ends the call's transaction without making the caller wait: the connection returns to the
/// pool once `ROLLBACK` is answered, and is discarded if it is not.
fn roll_back(conn: Object) {
    tokio::spawn(async move {
        if let Err(error) = conn.query_typed("ROLLBACK", &[]).await {
            tracing::warn!(error = %describe_driver_error(&error), "rollback failed; discarding the connection");
            drop(Object::take(conn));
        }
    });
}

/// The cursor a SELECT's rows are read from; the statement follows on the next line.
const DECLARE: &str = "DECLARE switchboard_rows NO SCROLL CURSOR FOR\n";
/// The transaction's timeouts, for this transaction only (as `SET LOCAL` would).
const SETTINGS: &str = "SELECT set_config('statement_timeout', $1, true), \
     set_config('lock_timeout', $1, true), \
     set_config('idle_in_transaction_session_timeout', $2, true)";

/// The transaction: read-only and bounded. It is left open; the caller rolls it back.
///
/// tokio-postgres writes requests polled together to the socket together and the server answers
/// them in order, so the usual statement costs one round trip: `BEGIN READ ONLY`, the timeouts,
/// the cursor and its first batch go out at once, and the timeouts are in force before the
/// statement is parsed. The columns come with the first row; an empty result is described
/// afterwards. Functions the guard did not know are checked for volatility before anything runs
/// the statement, costing a round trip more.
async fn read_only(
    client: &tokio_postgres::Client,
    checked: &Checked,
    params: &[(&(dyn ToSql + Sync), Type)],
    limits: Limits,
    started: Instant,
) -> Result<Rows, QueryError> {
    let settings = [
        limits.timeout.as_millis().to_string(),
        (limits.timeout + CLIENT_GRACE * 2).as_millis().to_string(),
    ];
    let settings: [(&(dyn ToSql + Sync), Type); 2] =
        [(&settings[0], Type::TEXT), (&settings[1], Type::TEXT)];
    let begin = || async {
        let (begin, set) = tokio::join!(
            client.query_typed("BEGIN READ ONLY", &[]),
            client.query_typed(SETTINGS, &settings),
        );
        begin.map_err(db_error)?;
        set.map_err(db_error).map(drop)
    };
    let mut want = next_batch(limits, 0);
    let first = if checked.unknown_functions.is_empty() {
        let (begun, first) =
            tokio::join!(begin(), start(client, checked, &checked.sql, params, want));
        begun?;
        first
    } else {
        let (begun, volatile) = tokio::join!(
            begin(),
            check_volatility(client, &checked.unknown_functions)
        );
        begun?;
        volatile?;
        start(client, checked, &checked.sql, params, want).await
    };
    let needs_text = match &first {
        Ok((_, batch)) => batch
            .first()
            .is_some_and(|row| !all_supported(&described(row.columns()))),
        Err(QueryError::Database(error)) => error.message.contains("no binary output function"),
        Err(_) => false,
    };
    let (columns, (mut source, mut batch)) = if needs_text && checked.kind == StatementKind::Select
    {
        // A column type without a binary decoder here, or without a binary form at all: read
        // the statement again, those columns as PostgreSQL's text form.
        drop(first);
        let (rollback, begun) = tokio::join!(client.query_typed("ROLLBACK", &[]), begin());
        rollback.map_err(db_error)?;
        begun?;
        let columns = describe(client, &checked.sql).await?;
        let wrapped = as_text(&checked.sql, &columns);
        (
            columns,
            start(client, checked, &wrapped, params, want).await?,
        )
    } else {
        let (source, batch) = first?;
        let columns = match batch.first() {
            Some(row) => described(row.columns()),
            None => describe(client, &checked.sql).await?,
        };
        (columns, (source, batch))
    };
    let mut rows = Collector::new(limits);
    loop {
        let exhausted = batch.len() < want;
        if !rows.take(&batch)? || exhausted {
            break;
        }
        want = next_batch(limits, rows.len());
        batch = source.next(client, want).await?;
    }
    Ok(rows.finish(columns.iter().map(column_info).collect(), started))
}

/// The result columns of `sql` (parse analysis only; nothing is run).
async fn describe(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<Vec<Described>, QueryError> {
    let statement = client.prepare(sql).await.map_err(db_error)?;
    Ok(described(statement.columns()))
}

/// A result column's name and type.
type Described = (String, Type);

fn described(columns: &[Column]) -> Vec<Described> {
    columns
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect()
}

/// How many rows to ask for next: up to one past the row budget (to tell whether it was
/// exceeded), at most [`BATCH_ROWS`] at a time.
fn next_batch(limits: Limits, have: usize) -> usize {
    (limits.max_rows + 1 - have).min(BATCH_ROWS)
}

/// Starts reading `sql` (the checked statement or its text-form wrapper): where its rows come
/// from, and the first `want` of them.
async fn start(
    client: &tokio_postgres::Client,
    checked: &Checked,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
    want: usize,
) -> Result<(Source, Vec<Row>), QueryError> {
    match checked.kind {
        StatementKind::Select => {
            let declare = format!("{DECLARE}{sql}");
            let (declared, rows) =
                tokio::join!(client.query_typed(&declare, params), fetch(client, want));
            declared.map_err(declare_error)?;
            Ok((Source::Cursor, rows?))
        }
        // EXPLAIN and SHOW cannot be read through a cursor; their output is small.
        StatementKind::Explain | StatementKind::Show => {
            let stream = client
                .query_typed_raw(sql, params.iter().map(|(v, t)| (*v, t.clone())))
                .await
                .map_err(db_error)?;
            let mut source = Source::Stream(Box::pin(stream));
            let rows = source.next(client, want).await?;
            Ok((source, rows))
        }
    }
}

/// Where a statement's rows come from.
enum Source {
    /// A SELECT's cursor, fetched batch by batch, so the server computes only what is read.
    Cursor,
    /// The result stream of EXPLAIN or SHOW.
    Stream(std::pin::Pin<Box<tokio_postgres::RowStream>>),
}

impl Source {
    /// The next `want` rows, fewer at the end.
    async fn next(
        &mut self,
        client: &tokio_postgres::Client,
        want: usize,
    ) -> Result<Vec<Row>, QueryError> {
        match self {
            Self::Cursor => fetch(client, want).await,
            Self::Stream(stream) => {
                let mut rows = Vec::with_capacity(want);
                while rows.len() < want {
                    match stream.try_next().await.map_err(db_error)? {
                        Some(row) => rows.push(row),
                        None => break,
                    }
                }
                Ok(rows)
            }
        }
    }
}

/// The cursor's next `want` rows.
async fn fetch(client: &tokio_postgres::Client, want: usize) -> Result<Vec<Row>, QueryError> {
    client
        .query_typed(&format!("FETCH FORWARD {want} FROM switchboard_rows"), &[])
        .await
        .map_err(db_error)
}

/// Rows rendered within the budgets.
struct Collector {
    limits: Limits,
    rows: Vec<Vec<Value>>,
    bytes: usize,
    truncated_by: Option<TruncatedBy>,
}

impl Collector {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            rows: Vec::new(),
            bytes: 0,
            truncated_by: None,
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Renders `batch`; false once a budget is reached.
    fn take(&mut self, batch: &[Row]) -> Result<bool, QueryError> {
        for row in batch {
            if self.rows.len() == self.limits.max_rows {
                self.truncated_by = Some(TruncatedBy::Rows);
                return Ok(false);
            }
            let Some((values, size)) = render_row(row, self.limits.max_bytes - self.bytes)? else {
                self.truncated_by = Some(TruncatedBy::Bytes);
                return Ok(false);
            };
            self.bytes += size;
            self.rows.push(values);
        }
        Ok(true)
    }

    fn finish(self, columns: Vec<ColumnInfo>, started: Instant) -> Rows {
        Rows {
            columns,
            row_count: self.rows.len(),
            rows: self.rows,
            truncated: self.truncated_by.is_some(),
            truncated_by: self.truncated_by,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Refuses statements that call volatile functions the guard did not know.
async fn check_volatility(
    client: &tokio_postgres::Client,
    functions: &[FunctionName],
) -> Result<(), QueryError> {
    let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    let rows = client
        .query_typed(
            "SELECT n.nspname::text, p.proname::text FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.proname = ANY($1) AND p.provolatile = 'v'",
            &[(&names, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(db_error)?;
    for function in functions {
        let volatile = rows.iter().any(|row| {
            let (schema, name): (&str, &str) = (row.get(0), row.get(1));
            name == function.name && function.schema.as_deref().is_none_or(|s| s == schema)
        });
        if volatile {
            return Err(QueryError::VolatileFunction(function.to_string()));
        }
    }
    Ok(())
}

/// Renders one row if it fits in `budget` bytes; `None` when it does not. Oversized raw values
/// are rejected before they are decoded, so one huge value costs no extra copy.
fn render_row(row: &Row, budget: usize) -> Result<Option<(Vec<Value>, usize)>, QueryError> {
    let mut values = Vec::with_capacity(row.len());
    let mut raw_total = 0usize;
    for (index, column) in row.columns().iter().enumerate() {
        let raw: RawValue<'_> = row
            .try_get(index)
            .map_err(|e| QueryError::Unexpected(e.to_string()))?;
        raw_total += raw.0.map_or(0, <[u8]>::len);
        if raw_total > budget {
            return Ok(None);
        }
        values.push(
            render::render(column.type_(), raw.0)
                .map_err(|e| QueryError::Unexpected(e.to_string()))?,
        );
    }
    let size = serde_json::to_vec(&values).map_or(usize::MAX, |v| v.len() + 1);
    Ok((size <= budget).then_some((values, size)))
}

/// Any value's raw bytes, whatever its type.
struct RawValue<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn all_supported(columns: &[Described]) -> bool {
    columns.iter().all(|(_, ty)| render::is_supported(ty))
}

/// Wraps a SELECT so that columns of types without a binary decoder come back as PostgreSQL's
/// text form. The alias list renames every column positionally, so duplicate names are fine; the
/// newline keeps a trailing `--` comment from swallowing the wrapper.
fn as_text(sql: &str, columns: &[Described]) -> String {
    let aliases: Vec<String> = (1..=columns.len()).map(|i| format!("c{i}")).collect();
    let select: Vec<String> = columns
        .iter()
        .zip(&aliases)
        .map(|((_, ty), alias)| {
            if render::is_supported(ty) {
                format!("_sb.{alias}")
            } else {
                format!("_sb.{alias}::text")
            }
        })
        .collect();
    format!(
        "SELECT {} FROM (\n{sql}\n) AS _sb({})",
        select.join(", "),
        aliases.join(", ")
    )
}

fn column_info((name, ty): &Described) -> ColumnInfo {
    ColumnInfo {
        name: name.clone(),
        type_name: type_name(ty),
    }
}

/// `text[]` rather than `_text`.
pub fn type_name(ty: &Type) -> String {
    match ty.kind() {
        Kind::Array(element) => format!("{}[]", element.name()),
        _ => ty.name().to_owned(),
    }
}

/// An error of the `DECLARE` that wraps the statement, positioned in the statement itself.
fn declare_error(error: tokio_postgres::Error) -> QueryError {
    match db_error(error) {
        QueryError::Database(mut error) => {
            let prefix = DECLARE.chars().count();
            error.position = error
                .position
                .and_then(|p| p.checked_sub(prefix))
                .filter(|p| *p > 0);
            QueryError::Database(error)
        }
        other => other,
    }
}

fn db_error(error: tokio_postgres::Error) -> QueryError {
    if error.is_closed() {
        return QueryError::ConnectionLost(describe_driver_error(&error));
    }
    if let Some(db) = error.as_db_error() {
        // The session was terminated (pg_terminate_backend, a restart) or the link broke.
        let code = db.code();
        if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || code.code().starts_with("08")
        {
            return QueryError::ConnectionLost(db.message().to_owned());
        }
        if *db.code() == SqlState::QUERY_CANCELED && db.message().contains("statement timeout") {
            return QueryError::Timeout(Duration::ZERO);
        }
        return QueryError::Database(DbError {
            engine: Engine::Postgres,
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            position: match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(p)) => usize::try_from(*p).ok(),
                _ => None,
            },
        });
    }
    QueryError::ConnectionLost(describe_driver_error(&error))
}
