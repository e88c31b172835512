//! `switchboard server <kind>`: run one built-in MCP server over stdio (default) or Streamable
//! HTTP (`--http 127.0.0.1:PORT`). Settings come from the environment, as any MCP client config
//! passes them; flags override.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::transport;

/// Arguments of `switchboard server`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Debug, Subcommand)]
enum Kind {
    /// Safe, bounded, read-only SQL on PostgreSQL (`DATABASE_URL`).
    Postgres(PostgresArgs),
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
}

#[derive(Debug, Args)]
struct PostgresArgs {
    #[command(flatten)]
    serving: Serving,
    /// Database URL (postgres://user:password@host:5432/db?sslmode=...); default: $DATABASE_URL,
    /// then libpq's PG* variables.
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
    /// Refuse to start (and to run queries) when the database role can write, owns objects, or can
    /// read server files [env: SWITCHBOARD_SQL_REQUIRE_READ_ONLY_ROLE].
    #[arg(long)]
    require_read_only_role: bool,
}

/// Runs the chosen server until its transport closes.
pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    match args.kind {
        Kind::Postgres(args) => postgres(args).await,
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

async fn postgres(args: PostgresArgs) -> anyhow::Result<ExitCode> {
    use switchboard_sql::config::{Connection, SqlConfig};
    let mut config = match &args.database_url {
        Some(url) => {
            let mut config = SqlConfig::from_lookup(&|name| match name {
                "DATABASE_URL" => Some(url.clone()),
                other => std::env::var(other).ok().filter(|v| !v.is_empty()),
            })?;
            config.connection = Connection::from_url(url)?;
            config
        }
        None => SqlConfig::from_env()?,
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
    config.require_read_only_role |= args.require_read_only_role;
    tracing::info!(database = %config.connection.describe(), "starting the postgres server");
    let server = switchboard_sql::SqlServer::start(config)
        .await
        .context("postgres server")?;
    match args.serving.http {
        Some(addr) => transport::http(addr, move || server.clone()).await?,
        None => transport::stdio(server).await?,
    }
    Ok(ExitCode::SUCCESS)
}
