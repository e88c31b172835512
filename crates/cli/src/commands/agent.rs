//! `switchboard agent "<task>"`: runs Claude's tool-use loop over the gateway started in-process
//! from the same configuration as `switchboard serve`, so every call the model makes is policed
//! and audited like any client's. `switchboard agent --replay FILE` prints a saved run again.
//!
//! Exit codes: 0 the run finished (Claude ended its turn); 1 it did not (budget, API failure,
//! cancellation, …) or the agent could not start; 2 bad usage or configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use switchboard_agent::{
    Agent, AgentConfig, AgentSettings, EventSink, Fanout, JsonLinesSink, TerminalRenderer,
    command_line_approver, create_transcript, default_transcript_path, replay,
};
use switchboard_gateway::downstream::shutdown_signal;
use switchboard_gateway::{Caller, Gateway, Health, format_health};
use tokio_util::sync::CancellationToken;

use super::serve::{ConfigArgs, EXIT_CONFIG, start_gateway};
use crate::agent_host::GatewayHost;

/// Arguments of `switchboard agent`.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The task, in plain words.
    #[arg(required_unless_present = "replay", conflicts_with = "replay")]
    task: Option<String>,
    /// Model id (default: $ANTHROPIC_MODEL, else the built-in default).
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Most model calls the run may make (default 25).
    #[arg(long, value_name = "N")]
    max_steps: Option<u32>,
    /// Approve every call that needs approval, without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Print the run as JSON lines on stdout (one event per line) instead of for a terminal.
    #[arg(long)]
    json: bool,
    /// Replace the default system prompt.
    #[arg(long, value_name = "TEXT")]
    system: Option<String>,
    /// Act as this configured client (its scopes and rate limits apply). Default: the stdio
    /// client (`gateway.stdio_client`, else `local` with every tool).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// Write the transcript here. Default: $SWITCHBOARD_TRANSCRIPT_DIR, else `transcripts/`
    /// beside the audit log, else ~/.local/state/switchboard/transcripts.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    transcript: Option<PathBuf>,
    /// Print a saved transcript instead of running a task.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

/// Runs the task (or replays a transcript).
pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.replay {
        return Ok(replay_file(path, args.json));
    }
    let Some(task) = args.task.as_deref() else {
        eprintln!("switchboard: give a task, or --replay FILE");
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    let gateway_config = match args.config.load_for_gateway() {
        Ok((config, _)) => config,
        Err(code) => return Ok(code),
    };
    // The file's `[agent]` table, then the flags over it.
    let from_file = match file_settings(&gateway_config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("switchboard: {error}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let settings = from_file.overlay(AgentSettings {
        model: args.model.clone(),
        max_steps: args.max_steps,
        system: args.system.clone(),
        ..AgentSettings::default()
    });
    let config = match AgentConfig::from_env(settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("switchboard: {error}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let agent = Agent::new(config).context("cannot set up the agent")?;
    let gateway = match start_gateway(gateway_config).await {
        Ok(gateway) => gateway,
        Err(code) => return Ok(code),
    };
    let result = run_task(&agent, &gateway, task, &args).await;
    gateway.shutdown().await;
    result
}

/// The configuration file's `[agent]` table (`"agent"` under `"switchboard"` in a JSON file);
/// empty when there is none. The error names the file, the table and what is wrong.
fn file_settings(config: &switchboard_gateway::Config) -> Result<AgentSettings, String> {
    let Some(table) = &config.agent else {
        return Ok(AgentSettings::default());
    };
    serde_json::from_value::<AgentSettings>(table.clone())
        .map_err(|error| format!("{}: agent: {error}", config.file.display()))
}

async fn run_task(
    agent: &Agent,
    gateway: &Gateway,
    task: &str,
    args: &AgentArgs,
) -> anyhow::Result<ExitCode> {
    let audit = gateway.config().config.audit.path.clone();
    let path = transcript_path(args.transcript.as_deref(), audit.as_deref());
    let session = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "agent".to_owned());
    let Some(caller) = caller(gateway, args.client.as_deref(), &session) else {
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    warn_unhealthy(gateway);
    let transcript = create_transcript(&path)?;
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signals = tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    let front: Box<dyn EventSink> = if args.json {
        Box::new(JsonLinesSink::new(std::io::stdout(), true))
    } else {
        Box::new(TerminalRenderer::stdio())
    };
    let host = GatewayHost::new(gateway.clone(), caller);
    let outcome = agent
        .run(
            task,
            &host,
            command_line_approver(args.yes),
            &Fanout(vec![front.as_ref(), &transcript]),
            &cancel,
        )
        .await;
    signals.abort();
    // Stops the spinner before anything else is printed.
    drop(front);
    eprintln!("· transcript: {}", path.display());
    match outcome {
        Ok(summary) if summary.outcome.is_success() => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::FAILURE),
        Err(error) => {
            eprintln!("switchboard: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The caller the agent acts as; `None` (after saying why) for an unknown client.
fn caller(gateway: &Gateway, client: Option<&str>, session: &str) -> Option<Caller> {
    match client {
        None => Some(gateway.stdio_caller(session)),
        Some(name) if gateway.config().clients.contains_key(name) => {
            Some(gateway.caller(name, session))
        }
        Some(name) => {
            let config = gateway.config();
            let known: Vec<&str> = config.clients.keys().map(String::as_str).collect();
            eprintln!(
                "switchboard: --client {name:?} is not in the configuration's [clients] ({})",
                if known.is_empty() {
                    "none are configured".to_owned()
                } else {
                    known.join(", ")
                }
            );
            None
        }
    }
}

/// Tells the user which upstreams are down, since their tools are not offered to the model.
fn warn_unhealthy(gateway: &Gateway) {
    for status in gateway.status() {
        if !matches!(status.health, Health::Ready { .. } | Health::Idle) {
            eprintln!(
                "switchboard: upstream {} is {}; its tools are not offered",
                status.name,
                format_health(&status.health)
            );
        }
    }
}

/// Where the transcript goes: `--transcript`, else `$SWITCHBOARD_TRANSCRIPT_DIR`, else
/// `transcripts/` beside the audit log, else the per-user state directory.
fn transcript_path(explicit: Option<&Path>, audit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_owned();
    }
    let env = |name: &str| std::env::var(name).ok();
    let from_env = env("SWITCHBOARD_TRANSCRIPT_DIR").is_some_and(|d| !d.trim().is_empty());
    match audit {
        Some(audit) if !from_env => {
            let dir = audit
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("transcripts");
            default_transcript_path(|name| {
                (name == "SWITCHBOARD_TRANSCRIPT_DIR").then(|| dir.to_string_lossy().into_owned())
            })
        }
        _ => default_transcript_path(env),
    }
}

/// `--replay`: prints the transcript; 0 when the saved run finished, 1 otherwise.
fn replay_file(path: &Path, json: bool) -> ExitCode {
    let sink: Box<dyn EventSink> = if json {
        Box::new(JsonLinesSink::new(std::io::stdout(), true))
    } else {
        Box::new(TerminalRenderer::stdio())
    };
    let replayed = replay(path, sink.as_ref());
    drop(sink);
    match replayed {
        Ok(Some(summary)) if summary.outcome.is_success() => ExitCode::SUCCESS,
        Ok(Some(_)) => ExitCode::FAILURE,
        Ok(None) => {
            eprintln!(
                "switchboard: {} has no summary: the run did not finish",
                path.display()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("switchboard: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_go_beside_the_audit_log_unless_told_otherwise() {
        let explicit = transcript_path(Some(Path::new("/x/run.jsonl")), None);
        assert_eq!(explicit, Path::new("/x/run.jsonl"));
        if std::env::var_os("SWITCHBOARD_TRANSCRIPT_DIR").is_none() {
            let beside = transcript_path(None, Some(Path::new("/var/log/sb/audit.jsonl")));
            assert!(beside.starts_with("/var/log/sb/transcripts"), "{beside:?}");
            let bare = transcript_path(None, Some(Path::new("audit.jsonl")));
            assert!(bare.starts_with("./transcripts"), "{bare:?}");
        }
    }
}
