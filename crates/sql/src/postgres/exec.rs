//! Running one checked statement safely (layers 2, 3 and 5 of the safety model), in one
//! statement and one round trip:
//!
//! - only over the extended protocol (Parse/Bind/Describe/Execute/Sync in one write), which
//!   accepts exactly one statement — never the simple-query path that runs `COMMIT; …`;
//! - on a connection that is read-only with its timeouts in force for its whole life (set and
//!   verified when it is made, see [`super::client`]), so the statement runs in its own read-only
//!   transaction and nothing is left to roll back;
//! - the row budget enforced by the server: a SELECT is sent with a limit of one row past the
//!   budget on its top level (appended, or around it when it has a limit of its own), so the
//!   server computes no more; rows are rendered as they arrive and reading stops at the row or
//!   byte budget;
//! - a statement still running at the deadline is cancelled on the server and its connection
//!   discarded; a connection found dead is replaced and the (read-only) statement retried once.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Kind, ToSql, Type};
use tokio_postgres::{Column, Row};

use super::client::{Database, Lease, describe_driver_error};
use super::render;
use crate::error::{DbError, Engine, QueryError};
use crate::guard::{Checked, FunctionName, Guard, OwnLimit, StatementKind};
use crate::model::{ColumnInfo, Limits, Rows, TruncatedBy};

/// Extra time granted past the server-side timeout before the client gives up and cancels.
const CLIENT_GRACE: Duration = Duration::from_millis(500);
/// What goes before a statement that has a limit of its own, to put the budget's limit around it.
const AROUND: &str = "SELECT * FROM (\n";

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

    /// Runs one of the server's own catalog queries (trusted SQL with parameters, no limit of its
    /// own) under the same session settings and row budget as user statements.
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
            own_limit: OwnLimit::None,
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
        let mut conn = self.db.get().await?;
        let work = read(&mut conn, checked, params, limits, started);
        match tokio::time::timeout(limits.timeout + CLIENT_GRACE, work).await {
            Ok(Err(error @ QueryError::ConnectionLost(_))) => {
                conn.discard();
                Err(error)
            }
            // A statement the server cancelled at its timeout leaves a healthy connection.
            Ok(result) => result.map_err(|error| match error {
                QueryError::Timeout(_) => QueryError::Timeout(limits.timeout),
                other => other,
            }),
            Err(_elapsed) => {
                let cancel = conn.cancel_token();
                conn.discard();
                if let Err(error) = cancel.cancel_query(self.db.tls()).await {
                    tracing::warn!(error = %describe_driver_error(&error), "cancel request failed");
                }
                Err(QueryError::Timeout(limits.timeout))
            }
        }
    }
}

/// Reads the statement within the budgets: one round trip, plus one to check functions the guard
/// did not know, one to prepare a statement the connection runs for the second time, one to
/// describe the columns of an empty result of a statement not prepared, and a second reading of
/// a SELECT whose columns include a type without a binary form (or a decoder here), asking for
/// those columns' text form.
async fn read(
    conn: &mut Lease<'_>,
    checked: &Checked,
    params: &[(&(dyn ToSql + Sync), Type)],
    limits: Limits,
    started: Instant,
) -> Result<Rows, QueryError> {
    if !checked.unknown_functions.is_empty() {
        check_volatility(conn, &checked.unknown_functions).await?;
    }
    let sql = bounded(checked, limits.max_rows);
    let (columns, rows) = match collect(conn, &sql, params, limits).await {
        Err(Unread::NeedsText(columns)) if checked.kind == StatementKind::Select => {
            let columns = match columns {
                Some(columns) => columns,
                None => describe(conn, &checked.sql).await?,
            };
            let wrapped = as_text(&checked.sql, &columns, limits.max_rows);
            let (_, rows) = collect(conn, &wrapped, params, limits)
                .await
                .map_err(Unread::into_error)?;
            (columns, rows)
        }
        Err(unread) => return Err(unread.into_error()),
        Ok((Some(columns), rows)) => (columns, rows),
        Ok((None, rows)) => (describe(conn, &checked.sql).await?, rows),
    };
    Ok(rows.finish(columns.iter().map(column_info).collect(), started))
}

/// The statement as sent: a SELECT bounded to one row past the budget on its top level.
fn bounded(checked: &Checked, max_rows: usize) -> Cow<'_, str> {
    let limit = max_rows.saturating_add(1);
    match (checked.kind, checked.own_limit) {
        (StatementKind::Select, OwnLimit::None) => {
            // The newline ends a trailing `--` comment.
            Cow::Owned(format!("{}\nLIMIT {limit}", checked.sql))
        }
        (StatementKind::Select, OwnLimit::AtMost(n)) if n <= limit as u64 => {
            Cow::Borrowed(&checked.sql)
        }
        (StatementKind::Select, _) => {
            Cow::Owned(format!("{AROUND}{}\n) AS _sb LIMIT {limit}", checked.sql))
        }
        // EXPLAIN and SHOW: small outputs, read within the budgets all the same.
        (StatementKind::Explain | StatementKind::Show, _) => Cow::Borrowed(&checked.sql),
    }
}

/// Why a statement's rows were not read.
enum Unread {
    /// A column's type has no binary form, or no decoder here: read it as text instead. The
    /// columns, when they are known.
    NeedsText(Option<Vec<Described>>),
    /// The connection's prepared statement no longer fits its tables (their columns changed):
    /// run the text afresh.
    Stale,
    /// Anything else.
    Failed(QueryError),
}

impl Unread {
    /// A driver error while reading `sql`; PostgreSQL says a type has no binary form when the
    /// statement starts executing.
    fn of(error: tokio_postgres::Error, sql: &str) -> Self {
        match db_error(error, sql) {
            QueryError::Database(e) if e.message.contains("no binary output function") => {
                Self::NeedsText(None)
            }
            QueryError::Database(e)
                if e.code == SqlState::FEATURE_NOT_SUPPORTED.code()
                    && e.message
                        .starts_with("cached plan must not change result type") =>
            {
                Self::Stale
            }
            other => Self::Failed(other),
        }
    }

    fn into_error(self) -> QueryError {
        match self {
            Self::NeedsText(_) => QueryError::Unexpected(
                "a column's type has neither a binary decoder nor a text form".to_owned(),
            ),
            Self::Stale => {
                QueryError::Unexpected("the statement's tables changed while it ran".to_owned())
            }
            Self::Failed(error) => error,
        }
    }
}

impl From<QueryError> for Unread {
    fn from(error: QueryError) -> Self {
        Self::Failed(error)
    }
}

/// Runs `sql` and renders its rows as they arrive until the result or a budget ends; the columns
/// come with the statement when the connection prepared it, else with the first row (none for an
/// empty result). A statement that fails is forgotten (so it is not prepared), and a prepared one
/// whose tables changed under it is run afresh, once.
async fn collect(
    conn: &mut Lease<'_>,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
    limits: Limits,
) -> Result<(Option<Vec<Described>>, Collector), Unread> {
    match collect_once(conn, sql, params, limits).await {
        Err(Unread::Stale) => {
            conn.forget(sql);
            collect_once(conn, sql, params, limits).await
        }
        Err(failed @ Unread::Failed(_)) => {
            conn.forget(sql);
            Err(failed)
        }
        ok => ok,
    }
}

async fn collect_once(
    conn: &mut Lease<'_>,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
    limits: Limits,
) -> Result<(Option<Vec<Described>>, Collector), Unread> {
    let types: Vec<Type> = params.iter().map(|(_, ty)| ty.clone()).collect();
    let prepared = conn
        .prepared(sql, &types)
        .await
        .map_err(|error| Unread::of(error, sql))?;
    let (mut columns, stream) = match &prepared {
        Some(statement) => {
            let described = supported(statement.columns())?;
            let values = params.iter().map(|(value, _)| *value);
            (Some(described), conn.query_raw(statement, values).await)
        }
        None => {
            let typed = params.iter().map(|(value, ty)| (*value, ty.clone()));
            (None, conn.query_typed_raw(sql, typed).await)
        }
    };
    let stream = stream.map_err(|error| Unread::of(error, sql))?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = Collector::new(limits);
    while let Some(row) = stream
        .try_next()
        .await
        .map_err(|error| Unread::of(error, sql))?
    {
        if columns.is_none() {
            columns = Some(supported(row.columns())?);
        }
        if !rows.take(&row)? {
            // Dropping the stream discards what the server still sends of the bounded result.
            break;
        }
    }
    Ok((columns, rows))
}

/// The columns, when every one of them has a binary decoder here.
fn supported(columns: &[Column]) -> Result<Vec<Described>, Unread> {
    let described = described(columns);
    if described.iter().all(|(_, ty)| render::is_supported(ty)) {
        Ok(described)
    } else {
        Err(Unread::NeedsText(Some(described)))
    }
}

/// The result columns of `sql` (parse analysis only; nothing is run).
async fn describe(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<Vec<Described>, QueryError> {
    let statement = client.prepare(sql).await.map_err(|e| db_error(e, sql))?;
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

    /// Renders `row`; false once a budget is reached.
    fn take(&mut self, row: &Row) -> Result<bool, QueryError> {
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
    const SQL: &str = "SELECT n.nspname::text, p.proname::text FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.proname = ANY($1) AND p.provolatile = 'v'";
    let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    let rows = client
        .query_typed(SQL, &[(&names, Type::TEXT_ARRAY)])
        .await
        .map_err(|e| db_error(e, SQL))?;
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
/// are rejected before they are decoded, so one huge value costs no extra copy; the size is that
/// of the row's JSON, counted without building it.
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
    let size = json_len(&values).saturating_add(1);
    Ok((size <= budget).then_some((values, size)))
}

/// The length of `values` encoded as JSON, counted without allocating it.
fn json_len(values: &[Value]) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, values) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
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

/// Wraps a SELECT so that columns of types without a binary decoder come back as PostgreSQL's
/// text form, bounded like the statement itself. The alias list renames every column
/// positionally, so duplicate names are fine; the newline keeps a trailing `--` comment from
/// swallowing the wrapper.
fn as_text(sql: &str, columns: &[Described], max_rows: usize) -> String {
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
        "SELECT {} FROM (\n{sql}\n) AS _sb({}) LIMIT {}",
        select.join(", "),
        aliases.join(", "),
        max_rows.saturating_add(1)
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

/// The driver's error as the caller should read it; positions in `sent` (the statement, perhaps
/// inside the budget's limit) are given in the statement itself.
fn db_error(error: tokio_postgres::Error, sent: &str) -> QueryError {
    if error.is_closed() {
        return QueryError::ConnectionLost(describe_driver_error(&error));
    }
    let Some(db) = error.as_db_error() else {
        return QueryError::ConnectionLost(describe_driver_error(&error));
    };
    // The session was terminated (pg_terminate_backend, a restart) or the link broke.
    let code = db.code();
    if *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || code.code().starts_with("08")
    {
        return QueryError::ConnectionLost(db.message().to_owned());
    }
    if *code == SqlState::QUERY_CANCELED && db.message().contains("statement timeout") {
        return QueryError::Timeout(Duration::ZERO);
    }
    let prefix = if sent.starts_with(AROUND) {
        AROUND.chars().count()
    } else {
        0
    };
    QueryError::Database(DbError {
        engine: Engine::Postgres,
        code: code.code().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        hint: db.hint().map(str::to_owned),
        position: match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(p)) => usize::try_from(*p)
                .ok()
                .and_then(|p| p.checked_sub(prefix))
                .filter(|p| *p > 0),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(sql: &str, own_limit: OwnLimit) -> Checked {
        Checked {
            kind: StatementKind::Select,
            sql: sql.to_owned(),
            unknown_functions: Vec::new(),
            own_limit,
        }
    }

    #[test]
    fn a_select_is_bounded_one_row_past_the_budget() {
        let plain = checked("SELECT 1 -- note", OwnLimit::None);
        assert_eq!(bounded(&plain, 200), "SELECT 1 -- note\nLIMIT 201");
        let small = checked("SELECT 1 LIMIT 5", OwnLimit::AtMost(5));
        assert_eq!(bounded(&small, 200), "SELECT 1 LIMIT 5");
        let large = checked("SELECT 1 LIMIT 500", OwnLimit::AtMost(500));
        assert_eq!(
            bounded(&large, 200),
            "SELECT * FROM (\nSELECT 1 LIMIT 500\n) AS _sb LIMIT 201"
        );
        let other = checked("SELECT 1 LIMIT ALL", OwnLimit::Other);
        assert!(bounded(&other, 9).ends_with(") AS _sb LIMIT 10"));
    }

    #[test]
    fn the_byte_count_is_the_json_length() {
        let values = vec![Value::from(1), Value::from("a\"b"), Value::Null];
        assert_eq!(
            json_len(&values),
            serde_json::to_vec(&values).unwrap().len()
        );
    }
}
