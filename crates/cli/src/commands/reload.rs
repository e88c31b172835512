//! `switchboard reload`: a running gateway rereads its configuration file (its
//! `/admin/reload`, with an operator client's token) and says what changed. `kill -HUP` on the
//! gateway's process does the same without a token.

use std::process::ExitCode;

use clap::Args;
use switchboard_gateway::ReloadReport;

use super::admin::AdminArgs;

#[derive(Debug, Args)]
pub(crate) struct ReloadArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// Print the gateway's answer as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the reload subcommand.
pub(crate) async fn run(args: ReloadArgs) -> anyhow::Result<ExitCode> {
    let body = match args
        .admin
        .send("reload", |http, url| http.post(url))
        .await?
    {
        Ok(body) => body,
        Err(code) => return Ok(code),
    };
    if args.json {
        println!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    let report: ReloadReport = serde_json::from_value(body)?;
    println!("reloaded: {}", report.summary());
    Ok(ExitCode::SUCCESS)
}
