//! `switchboard audit tail|search|verify`: read and check the gateway's hash-chained audit log.
//!
//! Exit codes: 0 success (verify: the chain is intact), 1 the chain is broken or unreadable,
//! 2 no audit file configured.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use switchboard_gateway::audit::{self, Filter};

use super::serve::{ConfigArgs, EXIT_CONFIG};

/// Arguments of `switchboard audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    action: Action,
    /// The audit file (default: `[audit] path` of the configuration).
    #[arg(long, global = true, value_name = "FILE")]
    file: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Print the last records as JSON lines.
    Tail {
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
    /// Print the records matching every given filter as JSON lines.
    Search {
        /// Client id.
        #[arg(long)]
        client: Option<String>,
        /// Person: their token's subject or name (e-mail or username).
        #[arg(long)]
        user: Option<String>,
        /// Exposed tool name glob, e.g. `jira__*`.
        #[arg(long)]
        tool: Option<String>,
        /// Outcome: ok, tool_error, refused, timeout, upstream_error, input_required.
        #[arg(long)]
        outcome: Option<String>,
        /// Session id.
        #[arg(long)]
        session: Option<String>,
        /// Records at or after this RFC 3339 time, e.g. 2026-01-31T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
    },
    /// Check the hash chain of the whole file.
    Verify,
}

/// Runs the audit subcommand.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let path = match args.file.clone() {
        Some(path) => path,
        None => {
            let config = match args.config.load() {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("switchboard: {error}");
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
            };
            let Some(path) = config.audit.path else {
                eprintln!("switchboard: no audit file: pass --file or set [audit] path");
                return Ok(ExitCode::from(EXIT_CONFIG));
            };
            path
        }
    };
    let records = match args.action {
        Action::Verify => {
            return Ok(match audit::verify(&path) {
                Ok(count) => {
                    println!("ok: {count} records, chain intact ({})", path.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("switchboard: {error}");
                    ExitCode::FAILURE
                }
            });
        }
        Action::Tail { lines } => audit::read_records(&path).map(|records| {
            let skip = records.len().saturating_sub(lines);
            records.into_iter().skip(skip).collect::<Vec<_>>()
        }),
        Action::Search {
            client,
            user,
            tool,
            outcome,
            session,
            since,
        } => {
            let tool = match tool.map(|t| audit::Pattern::new(&t)).transpose() {
                Ok(tool) => tool,
                Err(error) => {
                    eprintln!("switchboard: --tool is not a valid glob: {error}");
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
            };
            let filter = Filter {
                client,
                user,
                tool,
                outcome,
                session,
                since,
            };
            audit::search(&path, &filter)
        }
    };
    match records {
        Ok(records) => {
            for record in records {
                println!("{}", serde_json::to_string(&record)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("switchboard: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
