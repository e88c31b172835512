//! The `switchboard` binary: argument parsing and wiring only.
//!
//! Exit codes: 0 success; 1 failure (a configuration error or a runtime failure, explained on
//! stderr); 2 command-line usage error.

mod agent_host;
mod commands;
mod logging;
mod sample;
mod transport;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Safe, policed and audited MCP access to PostgreSQL, Jira, Slack and any other MCP server.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one built-in MCP server (stdio by default, Streamable HTTP with --http).
    Server(commands::server::ServerArgs),
    /// Run the gateway: supervise MCP servers, police and audit every call, serve the
    /// aggregated tools over stdio (default) or Streamable HTTP (--http).
    Serve(commands::serve::ServeArgs),
    /// Print the gateway's tool catalog.
    Tools(commands::tools::ToolsArgs),
    /// Call one tool through the gateway's full policy pipeline, without a model.
    Call(commands::call::CallArgs),
    /// Read and verify the gateway's audit log.
    Audit(commands::audit::AuditArgs),
    /// List, approve or deny the calls waiting for an operator on a running gateway.
    Approvals(commands::approvals::ApprovalsArgs),
    /// Make a running gateway reread its configuration file and apply what changed (as
    /// SIGHUP does), without dropping sessions or calls in flight.
    Reload(commands::reload::ReloadArgs),
    /// Run a task with Claude over the gateway's tools (every call policed and audited), or
    /// --replay a saved run.
    Agent(commands::agent::AgentArgs),
}

impl Command {
    /// Where the command's gateway configuration comes from, for commands that run a gateway.
    fn gateway_config(&self) -> Option<&commands::serve::ConfigArgs> {
        match self {
            Self::Serve(args) => Some(&args.config),
            Self::Tools(args) => Some(&args.config),
            Self::Call(args) => Some(&args.config),
            Self::Agent(args) => Some(&args.config),
            Self::Server(_) | Self::Audit(_) | Self::Approvals(_) | Self::Reload(_) => None,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The file's `[telemetry]` decides, with the environment, where spans go: read it first.
    let traces = cli
        .command
        .gateway_config()
        .map(commands::serve::ConfigArgs::trace_config)
        .unwrap_or_default();
    // Kept to the end of `main`: dropping it sends the spans still buffered.
    let _traces = match &cli.command {
        Command::Agent(_) => logging::init_with_default("warn", "switchboard-agent", &traces),
        Command::Server(_) => logging::init("switchboard-server", &traces),
        _ => logging::init("switchboard", &traces),
    };
    // A server or gateway on stdio has one client: one thread spares every await a hand-off
    // between threads (a sixth of a point query's latency in `switchboard-bench postgres`).
    // Serving HTTP, or driving a gateway from the command line, gets a worker per core.
    let one_client = match &cli.command {
        Command::Server(args) => !args.serves_http(),
        Command::Serve(args) => !args.serves_http(),
        _ => false,
    };
    let mut runtime = if one_client {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("switchboard: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => commands::server::run(args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Tools(args) => commands::tools::run(args).await,
            Command::Call(args) => commands::call::run(args).await,
            Command::Audit(args) => commands::audit::run(args).await,
            Command::Approvals(args) => commands::approvals::run(args).await,
            Command::Reload(args) => commands::reload::run(args).await,
            Command::Agent(args) => commands::agent::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchboard: {error:#}");
            ExitCode::FAILURE
        }
    }
}
