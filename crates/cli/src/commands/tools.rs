//! `switchboard tools`: start the gateway and print its catalog as a table (or JSON); and
//! `switchboard tools review|accept|reject`: the tool definitions the pins withhold, and an
//! operator's decision on them.
//!
//! Exit codes of `review|accept|reject`: 0 done, 1 nothing of that name waits for review, 2 no
//! pin file configured or the configuration is invalid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use switchboard_gateway::pins::{self, Entry, PinError, PinStore, SharedPins, State};

use super::serve::{ConfigArgs, EXIT_CONFIG};

/// Arguments of `switchboard tools`.
#[derive(Debug, Args)]
pub(crate) struct ToolsArgs {
    #[command(subcommand)]
    action: Option<PinAction>,
    /// The pin file (default: `[pins] path` of the configuration, or beside the audit log).
    #[arg(long, global = true, value_name = "FILE")]
    pins: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Show the catalog as this client sees it (its allow/deny scopes).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// Print the tools as JSON (name, description, inputSchema, annotations) instead of a table.
    #[arg(long)]
    json: bool,
}

/// What to do with the tools the pins withhold.
#[derive(Debug, Subcommand)]
enum PinAction {
    /// List the tools withheld for review (new and flagged, or changed since pinned), with what
    /// was flagged and the change.
    Review,
    /// Pin the definition waiting for review of tool NAME (`server/tool`, or the tool's name on
    /// its server when unique); a running gateway serves it within a second.
    Accept {
        /// The tool.
        name: String,
    },
    /// Keep the tool withheld while its server lists the definition waiting for review.
    Reject {
        /// The tool.
        name: String,
    },
}

fn flags(tool: &rmcp::model::Tool) -> String {
    let Some(a) = &tool.annotations else {
        return "-".to_owned();
    };
    let mut out = Vec::new();
    if a.read_only_hint == Some(true) {
        out.push("read-only");
    } else if a.destructive_hint == Some(true) {
        out.push("destructive");
    }
    if a.idempotent_hint == Some(true) {
        out.push("idempotent");
    }
    if a.open_world_hint == Some(true) {
        out.push("open-world");
    }
    if out.is_empty() {
        "-".to_owned()
    } else {
        out.join(",")
    }
}

fn first_line(text: &str, width: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let cut: String = line.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Prints the catalog, or reviews and decides on withheld tools.
pub(crate) async fn run(args: ToolsArgs) -> anyhow::Result<ExitCode> {
    if let Some(action) = &args.action {
        let store = match pin_store(&args).await {
            Ok(store) => store,
            Err(code) => return Ok(code),
        };
        return Ok(decide(action, &store));
    }
    let gateway = match args.config.start().await {
        Ok(gateway) => gateway,
        Err(code) => return Ok(code),
    };
    let mut caller = match &args.client {
        Some(name) => gateway.caller(name, "cli"),
        None => gateway.stdio_caller("cli"),
    };
    // The catalog itself, even for a client that gets the search meta tools.
    caller.tool_search = switchboard_gateway::config::ToolSearch::Off;
    let tools = gateway.list_tools(&caller).await;
    let catalog = gateway.catalog();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tools)?);
    } else {
        let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
        println!(
            "{:<width$}  {:<12}  {:<24}  DESCRIPTION",
            "TOOL", "SERVER", "HINTS"
        );
        for tool in &tools {
            let server = catalog
                .tool(&tool.name)
                .map(|t| t.server.clone())
                .unwrap_or_default();
            let description = first_line(tool.description.as_deref().unwrap_or_default(), 60);
            println!(
                "{:<width$}  {server:<12}  {:<24}  {description}",
                tool.name,
                flags(tool)
            );
        }
        println!();
        for status in gateway.status() {
            println!(
                "server {}: {} tools, {}{}",
                status.name,
                status.tools,
                switchboard_gateway::format_health(&status.health),
                if status.required { "" } else { " (optional)" }
            );
        }
    }
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Where the pins are: `--pins`, else the configuration's store or pin file.
async fn pin_store(args: &ToolsArgs) -> Result<PinStore, ExitCode> {
    if let Some(path) = &args.pins {
        return Ok(PinStore::File(path.clone()));
    }
    let fail = |error: &dyn std::fmt::Display| {
        eprintln!("switchboard: {error}");
        ExitCode::from(EXIT_CONFIG)
    };
    let config = args.config.load().map_err(|error| fail(&error))?;
    if !config.pins.enabled {
        return Err(fail(&"pins are off ([pins] enabled = false)"));
    }
    if let Some(url) = config.state_store().await.map_err(|error| fail(&error))? {
        let shared = SharedPins::new(&url, &config.gateway.rate_limit_prefix)
            .map_err(|message| fail(&format!("{}: {message}", config.gateway.store_key)))?;
        return Ok(PinStore::Shared(Box::new(shared)));
    }
    match config.pins.path {
        Some(path) => Ok(PinStore::File(path)),
        None => Err(fail(
            &"no pin file: pass --pins, or set [pins] path or [audit] path (pins are kept beside \
              the audit log), or [state] store",
        )),
    }
}

fn decide(action: &PinAction, store: &PinStore) -> ExitCode {
    let result = match action {
        PinAction::Review => store.read().map(|file| {
            review(&file.tools);
        }),
        PinAction::Accept { name } | PinAction::Reject { name } => {
            let accept = matches!(action, PinAction::Accept { .. });
            let by = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".to_owned());
            pins::decide(store, name, accept, &by).map(|key| {
                if accept {
                    println!("accepted {key}: pinned; a running gateway serves it within a second");
                } else {
                    println!("rejected {key}: withheld while its server lists this definition");
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ PinError::Nothing(_)) => {
            eprintln!("switchboard: {error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("switchboard: {error}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Prints every tool waiting for review: what was flagged and how its definition changed.
fn review(tools: &std::collections::BTreeMap<String, Entry>) {
    let waiting: Vec<(&String, &Entry)> = tools
        .iter()
        .filter(|(_, entry)| entry.candidate.is_some() && entry.state != State::Pinned)
        .collect();
    if waiting.is_empty() {
        println!("nothing waits for review ({} tools pinned)", tools.len());
        return;
    }
    for (key, entry) in waiting {
        let Some(candidate) = &entry.candidate else {
            continue;
        };
        let state = match entry.state {
            State::Held => "held (new)",
            State::Quarantined => "quarantined (changed)",
            State::Rejected => "rejected",
            State::Pinned => "pinned",
        };
        println!("{key}: {state}, seen {}", candidate.seen_at);
        for flag in &candidate.flags {
            println!("  flagged {} at {}: {}", flag.rule, flag.at, flag.found);
        }
        let pretty = |value: &serde_json::Value| {
            serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
        };
        let before = entry.definition.as_ref().map(pretty).unwrap_or_default();
        let after = pretty(&candidate.definition);
        let diff = similar::TextDiff::from_lines(&before, &after);
        let header = match &entry.pinned_at {
            Some(at) => format!("pinned {at}"),
            None => "nothing pinned".to_owned(),
        };
        print!(
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&header, "listed now")
        );
        println!();
    }
}
