//! `switchboard server <kind>`: run one built-in MCP server over stdio (default) or Streamable
//! HTTP (`--http 127.0.0.1:PORT`). Settings come from the environment, as any MCP client config
//! passes them; flags override.
//!
//! The SQL server has two spellings: `server postgres` serves whatever `DATABASE_URL` names (a
//! `postgres://` URL, or an SQLite location such as `sqlite:///path/shop.db`), so an existing
//! client config only changes its URL; `server sqlite [FILE]` is the same server pinned to SQLite,
//! taking the file as an argument and refusing a PostgreSQL URL.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use switchboard_sql::config::{SqlConfig, Target};

use crate::transport;

/// Arguments of `switchboard server`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(subcommand)]
    kind: Kind,
}

impl ServerArgs {
    /// Whether the server answers over Streamable HTTP (any number of clients) rather than stdio.
    pub(crate) fn serves_http(&self) -> bool {
        match &self.kind {
            Kind::Postgres(PostgresArgs { sql, .. }) | Kind::Sqlite(SqliteArgs { sql, .. }) => {
                sql.serving.http.is_some()
            }
            Kind::Jira(serving) | Kind::Slack(serving) => serving.http.is_some(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Kind {
    /// Safe, bounded, read-only SQL on PostgreSQL, or on an SQLite file when `DATABASE_URL` is
    /// `sqlite:///path/file.db` (or a path ending in .db, .sqlite, .sqlite3).
    Postgres(PostgresArgs),
    /// The same SQL server on an SQLite file, opened read-only: `FILE`, else `DATABASE_URL`.
    Sqlite(SqliteArgs),
    /// Jira Cloud (REST v3) or Data Center (REST v2): `JIRA_URL`, `JIRA_USERNAME` +
    /// `JIRA_API_TOKEN` (Cloud) or `JIRA_PERSONAL_TOKEN` (Data Center), `JIRA_PROJECTS`,
    /// `JIRA_READ_ONLY`, `JIRA_FLAVOR`.
    Jira(Serving),
    /// Slack Web API: `SLACK_BOT_TOKEN`, `SLACK_API_URL`, `SLACK_CHANNELS`, `SLACK_READ_ONLY`,
    /// `SLACK_ALLOW_BROADCAST`.
    Slack(Serving),
}

/// How to serve: stdio unless `--http` is given.
#[derive(Debug, Args)]
struct Serving {
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio (loopback addresses only).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve this server's own Prometheus metrics at http://ADDR/metrics, without
    /// authentication (keep it on loopback or a private network).
    #[arg(long, value_name = "ADDR", env = "SWITCHBOARD_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, Args)]
struct PostgresArgs {
    #[command(flatten)]
    sql: SqlArgs,
    /// Refuse to start (and to run queries) when the database role can write, owns objects, or can
    /// read server files [env: SWITCHBOARD_SQL_REQUIRE_READ_ONLY_ROLE].
    #[arg(long)]
    require_read_only_role: bool,
}

#[derive(Debug, Args)]
struct SqliteArgs {
    /// The SQLite database file (it must exist; it is opened read-only). Default: $DATABASE_URL.
    #[arg(value_name = "FILE")]
    file: Option<std::path::PathBuf>,
    #[command(flatten)]
    sql: SqlArgs,
}

/// Settings both SQL spellings take.
#[derive(Debug, Args)]
struct SqlArgs {
    #[command(flatten)]
    serving: Serving,
    /// Database URL (postgres://user:password@host:5432/db?sslmode=..., or sqlite:///path/file.db);
    /// default: $DATABASE_URL, then libpq's PG* variables.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Row budget per query [env: SWITCHBOARD_SQL_MAX_ROWS, default 200].
    #[arg(long, value_name = "N")]
    max_rows: Option<usize>,
    /// Byte budget per query, in bytes of JSON rows [env: SWITCHBOARD_SQL_MAX_BYTES, default 65536].
    #[arg(long, value_name = "N")]
    max_bytes: Option<usize>,
    /// Statement timeout in milliseconds [env: SWITCHBOARD_SQL_TIMEOUT_MS, default 10000].
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

/// Runs the chosen server until its transport closes.
pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let serving = match &args.kind {
        Kind::Postgres(PostgresArgs { sql, .. }) | Kind::Sqlite(SqliteArgs { sql, .. }) => {
            &sql.serving
        }
        Kind::Jira(serving) | Kind::Slack(serving) => serving,
    };
    if let Some(addr) = serving.metrics_addr {
        serve_metrics(addr).await?;
    }
    match args.kind {
        Kind::Postgres(args) => {
            let mut config = sql_config(&args.sql, None)?;
            config.require_read_only_role |= args.require_read_only_role;
            sql(args.sql.serving, config).await
        }
        Kind::Sqlite(args) => {
            let file = match &args.file {
                Some(file) => Some(Target::Sqlite(
                    std::path::absolute(file)
                        .with_context(|| format!("resolving {}", file.display()))?,
                )),
                None => None,
            };
            let config = sql_config(&args.sql, file)?;
            if let Target::Postgres(_) = config.target {
                anyhow::bail!(
                    "switchboard server sqlite serves an SQLite file: pass FILE or set DATABASE_URL=sqlite:///path/file.db \
                     (for PostgreSQL use switchboard server postgres)"
                );
            }
            sql(args.sql.serving, config).await
        }
        Kind::Jira(serving) => {
            let config = switchboard_jira::JiraConfig::from_env()?;
            serve(serving, switchboard_jira::JiraServer::new(config)?).await
        }
        Kind::Slack(serving) => {
            let config = switchboard_slack::SlackConfig::from_env()?;
            serve(serving, switchboard_slack::SlackServer::new(config)?).await
        }
    }
}

/// Serves a cloneable handler on the chosen transport.
async fn serve<S>(serving: Serving, server: S) -> anyhow::Result<ExitCode>
where
    S: rmcp::ServerHandler + Clone + Send + Sync + 'static,
{
    match serving.http {
        Some(addr) => transport::http(addr, move || server.clone()).await?,
        None => transport::stdio(server).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts counting this process's metrics and serves them on `addr` for as long as it runs.
async fn serve_metrics(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--metrics-addr)"))?;
    let local = listener.local_addr().context("listener address")?;
    switchboard_telemetry::metrics::enable();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    switchboard_telemetry::metrics::CONTENT_TYPE,
                )],
                switchboard_telemetry::metrics::render(),
            )
        }),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    tracing::info!("metrics on http://{local}/metrics");
    Ok(())
}

/// The SQL server's settings: the environment, with `target` (a file argument) or
/// `--database-url`, and the budget flags on top.
fn sql_config(args: &SqlArgs, target: Option<Target>) -> anyhow::Result<SqlConfig> {
    let env = |name: &str| match (name, &args.database_url) {
        ("DATABASE_URL", Some(url)) => Some(url.clone()),
        _ => std::env::var(name).ok().filter(|v| !v.is_empty()),
    };
    let mut config = match target {
        Some(target) => SqlConfig::with_target(target, &env)?,
        None => SqlConfig::from_lookup(&env)?,
    };
    if let Some(n) = args.max_rows {
        config.max_rows = switchboard_sql::config::positive("--max-rows", &n.to_string())?;
    }
    if let Some(n) = args.max_bytes {
        config.max_bytes = switchboard_sql::config::positive("--max-bytes", &n.to_string())?;
    }
    if let Some(ms) = args.timeout_ms {
        config.timeout = std::time::Duration::from_millis(ms.max(1));
    }
    Ok(config)
}

async fn sql(serving: Serving, config: SqlConfig) -> anyhow::Result<ExitCode> {
    tracing::info!(database = %config.target.describe(), "starting the SQL server");
    let server = switchboard_sql::SqlServer::start(config)
        .await
        .context("SQL server")?;
    serve(serving, server).await
}
