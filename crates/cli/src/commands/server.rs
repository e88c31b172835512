//! `switchboard server <kind>`: run one built-in MCP server over stdio or Streamable HTTP.

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Arguments of `switchboard server`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Debug, Subcommand)]
enum Kind {}

/// Runs the chosen server until its transport closes.
pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    match args.kind {}
}
