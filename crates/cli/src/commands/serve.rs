//! `switchboard serve`: run the gateway over stdio (default) or Streamable HTTP (`--http`).
//! Also the configuration loading shared by `tools` and `call`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use switchboard_gateway::downstream::{serve_http, serve_stdio, shutdown_signal};
use switchboard_gateway::{Config, Gateway, GatewayOptions};
use tokio_util::sync::CancellationToken;

/// Exit code for usage and configuration errors.
pub(crate) const EXIT_CONFIG: u8 = 2;

/// Where the gateway's configuration comes from.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Configuration file: `switchboard.toml`, or a Claude Desktop / Claude Code JSON file.
    /// Default: ./switchboard.toml when present; otherwise the built-in servers whose settings
    /// are in the environment (DATABASE_URL, JIRA_URL, SLACK_BOT_TOKEN).
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "SWITCHBOARD_CONFIG",
        value_name = "FILE"
    )]
    pub(crate) config: Option<PathBuf>,
}

impl ConfigArgs {
    /// Loads and validates the configuration; prints what was chosen and why on stderr.
    pub(crate) fn load(&self) -> Result<Config, switchboard_gateway::ConfigError> {
        let default = PathBuf::from("switchboard.toml");
        match &self.config {
            Some(path) => Config::load(path),
            None if default.exists() => Config::load(&default),
            None => {
                let (config, notes) = Config::from_environment();
                eprintln!("switchboard: no configuration file; using the environment:");
                for note in notes {
                    eprintln!("  {note}");
                }
                Ok(config)
            }
        }
    }

    /// Loads the configuration and starts the gateway. `Err(code)` after printing the error.
    pub(crate) async fn start(&self) -> Result<Gateway, ExitCode> {
        let config = self.load().map_err(|error| {
            eprintln!("switchboard: {error}");
            ExitCode::from(EXIT_CONFIG)
        })?;
        Gateway::start(config, GatewayOptions::default())
            .await
            .map_err(|error| {
                eprintln!("switchboard: {error}");
                let config_error = matches!(
                    error,
                    switchboard_gateway::GatewayError::Config(_)
                        | switchboard_gateway::GatewayError::Collision { .. }
                        | switchboard_gateway::GatewayError::InvalidToolName { .. }
                );
                if config_error {
                    ExitCode::from(EXIT_CONFIG)
                } else {
                    ExitCode::FAILURE
                }
            })
    }
}

/// Arguments of `switchboard serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Serve Streamable HTTP on this address (path /mcp, plus /healthz and /readyz) instead of
    /// stdio. A non-loopback address requires client tokens in the configuration.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
}

/// Runs the gateway until the client disconnects (stdio) or ctrl-c / SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let gateway = match args.config.start().await {
        Ok(gateway) => gateway,
        Err(code) => return Ok(code),
    };
    for status in gateway.status() {
        tracing::info!(
            upstream = %status.name,
            tools = status.tools,
            "{}",
            switchboard_gateway::format_health(&status.health)
        );
    }
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: draining calls in flight");
            shutdown.cancel();
        });
    }
    let result = match args.http {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr().context("listener address")?;
            eprintln!("switchboard: serving MCP on http://{local}/mcp");
            serve_http(gateway.clone(), listener, shutdown).await
        }
        None => serve_stdio(gateway.clone(), shutdown).await,
    };
    gateway.shutdown().await;
    result?;
    Ok(ExitCode::SUCCESS)
}
