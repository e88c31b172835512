//! `query`: one read-only statement, rows within budget.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use rmcp::model::RequestMetaObject;
use tracing::Instrument;

use crate::error::Engine;
use crate::model::Rows;
use crate::server::SqlServer;
use crate::tools::tool_error;

/// The description on SQLite.
pub(crate) const SQLITE_DESCRIPTION: &str = "Run one read-only SQL statement (SQLite dialect) and \
return columns and rows. Only statements SQLite itself reports as read-only are accepted: SELECT \
(with CTEs), VALUES, EXPLAIN [QUERY PLAN] and a few read-only PRAGMAs (table_info, index_list, \
foreign_key_list, ...); writes, DDL, ATTACH, transactions, several statements and parameters are \
refused with the reason. The database file is opened read-only, the statement is interrupted at the \
time limit, and the result is capped by rows and bytes: when `truncated` is true, aggregate or \
filter in SQL instead of paging. Values: integers beyond 2^53 as exact strings, BLOBs as \\x hex.";

/// Arguments of `query`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct QueryArgs {
    /// Exactly one read-only statement in the database's dialect: SELECT (CTEs and VALUES allowed;
    /// on PostgreSQL also TABLE, EXPLAIN without ANALYZE and SHOW; on SQLite also EXPLAIN and
    /// read-only PRAGMAs). A trailing semicolon is fine; several statements are refused.
    sql: String,
    /// Return at most this many rows (it can only lower the server's row budget).
    #[serde(default)]
    max_rows: Option<usize>,
}

#[tool_router(router = query_router, vis = "pub(crate)")]
impl SqlServer {
    /// Runs one statement and returns its rows.
    #[tool(
        name = "query",
        description = "Run one read-only SQL statement (PostgreSQL dialect) and return columns and rows. \
Only SELECT (with read-only CTEs, VALUES, TABLE), EXPLAIN without ANALYZE and SHOW are accepted; \
writes, DDL, several statements and dangerous functions are refused with the reason. The statement \
runs in a read-only transaction under a time limit, and the result is capped by rows and bytes: \
when `truncated` is true, aggregate or filter in SQL instead of paging. Values: numeric and big \
integers as exact strings, timestamps as RFC 3339, json as JSON.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn query(
        &self,
        Parameters(args): Parameters<QueryArgs>,
        meta: RequestMetaObject,
    ) -> Result<Json<Rows>, String> {
        let span = self.query_span(&args.sql, &meta);
        let began = std::time::Instant::now();
        let result = self
            .database()
            .query(&args.sql, args.max_rows)
            .instrument(span.clone())
            .await;
        crate::metrics::statement(
            "query",
            result.as_ref().map(|rows| rows.truncated),
            began.elapsed(),
        );
        if switchboard_telemetry::enabled() {
            match &result {
                Ok(rows) => {
                    switchboard_telemetry::attribute(
                        &span,
                        "db.response.returned_rows",
                        i64::try_from(rows.row_count).unwrap_or(i64::MAX),
                    );
                    switchboard_telemetry::attribute(
                        &span,
                        "switchboard.truncated",
                        rows.truncated,
                    );
                }
                Err(error) => switchboard_telemetry::error(&span, error.to_string()),
            }
        }
        result.map(Json).map_err(tool_error)
    }
}

impl SqlServer {
    /// The span of one statement, a child of the caller's span named in `_meta` (the gateway's,
    /// through it): engine, rows, truncation, and the statement's text only with
    /// `SWITCHBOARD_SQL_TRACE_STATEMENTS=1`. No span at all when traces are not exported.
    fn query_span(&self, sql: &str, meta: &RequestMetaObject) -> tracing::Span {
        if !switchboard_telemetry::enabled() {
            return tracing::Span::none();
        }
        let engine = match self.database().engine() {
            Engine::Postgres => "postgresql",
            Engine::Sqlite => "sqlite",
        };
        let span = switchboard_telemetry::tool_call_span(
            "query",
            meta.get_traceparent(),
            meta.get_tracestate(),
        );
        switchboard_telemetry::attribute(&span, "db.system.name", engine);
        static STATEMENTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *STATEMENTS.get_or_init(|| {
            std::env::var("SWITCHBOARD_SQL_TRACE_STATEMENTS").is_ok_and(|v| v == "1" || v == "true")
        }) {
            switchboard_telemetry::attribute(&span, "db.query.text", sql.to_owned());
        }
        span
    }
}
