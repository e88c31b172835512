//! `switchboard-bench`: benchmarks with a baseline measured in the same run, printed as a table
//! plus one JSON line.
//!
//! - `switchboard-bench postgres`: `switchboard server postgres` over stdio against
//!   tokio-postgres used directly, on a throwaway database.
//! - `switchboard-bench gateway`: `switchboard serve` fronting an MCP server against that server
//!   spoken to directly — added latency over stdio, throughput over HTTP, the gateway's memory.
//! - `switchboard-bench soak --minutes N`: the gateway over the three built-in servers and a
//!   third-party one under mixed load from real clients and a fault schedule; memory, descriptors
//!   and outcomes over time, then the audit and side-effect count checks.
//! - `switchboard-bench traces`: a gateway exporting its spans over OTLP and scraped for metrics
//!   against one with neither, call by call.
//! - `switchboard-bench fleet`: replicas sharing their state in Redis, 1 to 3 behind HAProxy,
//!   against one replica called directly; the PostgreSQL audit sink against the file sink.
//!
//! Exit codes: 0 done, 1 failed.

mod catalog;
mod fleet;
mod gateway;
mod http;
mod http_relay;
mod mcp;
mod pg;
mod postgres;
mod relay;
mod soak;
mod stats;
mod table;
mod traces;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::ensure;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The PostgreSQL MCP server: point-query latency, start-up, memory, capped results.
    Postgres(postgres::Args),
    /// The gateway: added latency over stdio, HTTP throughput, memory.
    Gateway(gateway::Args),
    /// The gateway under load and faults for a long time: outcomes, memory, descriptors, audit.
    Soak(soak::Args),
    /// Tool search over a catalog of 150+ tools: what a client loads first, and top-3 accuracy.
    Catalog(catalog::Args),
    /// What telemetry costs a call: a gateway exporting traces over OTLP and scraped for
    /// metrics against one with neither.
    Traces(traces::Args),
    /// Replicas behind HAProxy against one called directly, and the PostgreSQL audit sink
    /// against the file: calls/s, latency, CPU per call.
    Fleet(fleet::Args),
    /// The generated server of `catalog` (128 tools), over stdio.
    #[command(hide = true)]
    GeneratedServer,
    /// The floor `gateway` compares with: a bare line relay to a stdio server started as its
    /// child.
    #[command(hide = true)]
    Relay {
        /// The server's program and arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// The HTTP floor `gateway` compares with: a bare HTTP front for a stdio server started as
    /// its child.
    #[command(hide = true)]
    RelayHttp {
        /// The server's program and arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let command = match Cli::parse().command {
        // Blocking reads and writes on threads of its own: nothing else runs in this process.
        Command::Relay { command } => return relay::run(&command),
        // A worker per core, as the gateway serves HTTP.
        Command::RelayHttp { command } => return http_relay::run(&command),
        command => command,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(run(command)),
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Postgres(args) => postgres::run(args).await,
        Command::Gateway(args) => gateway::run(args).await,
        Command::Soak(args) => soak::run(args).await,
        Command::Catalog(args) => catalog::run(args).await,
        Command::Traces(args) => traces::run(args).await,
        Command::Fleet(args) => fleet::run(args).await,
        Command::GeneratedServer => catalog::serve_generated(),
        Command::Relay { .. } | Command::RelayHttp { .. } => unreachable!("run before the runtime"),
    }
}

/// `given`, or the program `name` next to this one (where cargo puts the workspace's binaries).
fn sibling(given: Option<&PathBuf>, name: &str, flag: &str) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name(name),
    };
    ensure!(
        path.is_file(),
        "no {}; build it or pass {flag}",
        path.display()
    );
    Ok(path)
}
