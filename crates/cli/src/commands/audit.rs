//! `switchboard audit tail|search|verify`: read and check the gateway's hash-chained audit log —
//! the file, or every replica's chain in the PostgreSQL table.
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
    /// The audit file (default: `[audit] sink` of the configuration, a PostgreSQL table, or
    /// its `[audit] path`).
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

/// Where the records are.
enum Source {
    File(PathBuf),
    Postgres(String),
}

/// The source: `--file`, else the configuration's `[audit] sink` (resolved), else its `path`.
async fn source(args: &AuditArgs) -> Result<Source, String> {
    if let Some(path) = &args.file {
        return Ok(Source::File(path.clone()));
    }
    let config = args.config.load().map_err(|e| e.to_string())?;
    if let Some(sink) = &config.audit.sink {
        let url = switchboard_gateway::secrets::Resolver::new()
            .resolve(sink, true)
            .await
            .map_err(|e| format!("{}: audit.sink: {e}", config.file.display()))?;
        return Ok(Source::Postgres(url));
    }
    config
        .audit
        .path
        .map(Source::File)
        .ok_or_else(|| "no audit log: pass --file, or set [audit] path or sink".to_owned())
}

/// Runs the audit subcommand.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let source = match source(&args).await {
        Ok(source) => source,
        Err(error) => {
            eprintln!("switchboard: {error}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    if let Action::Verify = args.action {
        return Ok(match &source {
            Source::File(path) => match audit::verify(path) {
                Ok(count) => {
                    println!("ok: {count} records, chain intact ({})", path.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("switchboard: {error}");
                    ExitCode::FAILURE
                }
            },
            Source::Postgres(url) => verify_table(url).await,
        });
    }
    let records = match &source {
        Source::File(path) => audit::read_records(path).map_err(|e| e.to_string()),
        Source::Postgres(url) => audit::postgres::records(url).await,
    };
    let records = match (args.action, records) {
        (_, Err(error)) => {
            eprintln!("switchboard: {error}");
            return Ok(ExitCode::FAILURE);
        }
        (Action::Tail { lines }, Ok(records)) => {
            let skip = records.len().saturating_sub(lines);
            records.into_iter().skip(skip).collect::<Vec<_>>()
        }
        (
            Action::Search {
                client,
                user,
                tool,
                outcome,
                session,
                since,
            },
            Ok(records),
        ) => {
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
            records.into_iter().filter(|r| filter.matches(r)).collect()
        }
        (Action::Verify, Ok(_)) => unreachable!("verify returned above"),
    };
    for record in records {
        println!("{}", serde_json::to_string(&record)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks every replica's chain in the table; exit 1 when any has a gap or a broken link.
async fn verify_table(url: &str) -> ExitCode {
    match audit::postgres::verify(url).await {
        Err(error) => {
            eprintln!("switchboard: {error}");
            ExitCode::FAILURE
        }
        Ok(reports) => {
            let mut intact = true;
            for (replica, report) in &reports {
                if report.problems.is_empty() {
                    println!(
                        "ok: replica {replica}: {} records, chain intact",
                        report.records
                    );
                } else {
                    intact = false;
                    for problem in &report.problems {
                        println!("broken: replica {replica}: {problem}");
                    }
                }
            }
            if reports.is_empty() {
                println!("ok: no records yet");
            }
            if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
