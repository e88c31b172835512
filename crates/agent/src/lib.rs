//! Switchboard's agent: Claude's tool-use loop over the Anthropic Messages API.
//!
//! The agent sees tools only through a [`ToolHost`] (the gateway, or anything else that lists tools
//! and runs a call through its policy) and asks a human through an [`Approver`] when the host's
//! policy wants one. Everything that happens is reported to an [`EventSink`]: the
//! [`TerminalRenderer`] shows it, a [`JsonLinesSink`] writes it as `--json` output or as a
//! transcript file that [`replay`] prints again.
//!
//! ```no_run
//! # async fn example(host: &dyn switchboard_agent::ToolHost) -> Result<(), Box<dyn std::error::Error>> {
//! use switchboard_agent::{AgentConfig, AgentSettings, Agent, TerminalRenderer, command_line_approver};
//! let config = AgentConfig::from_env(AgentSettings::default())?;
//! let agent = Agent::new(config)?;
//! let renderer = TerminalRenderer::stdio();
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let approver = command_line_approver(false);
//! let summary = agent
//!     .run("How many orders failed today?", host, approver, &renderer, &cancel)
//!     .await?;
//! println!("{}", summary.outcome);
//! # Ok(()) }
//! ```
//!
//! Modules: [`config`] (settings and their resolution), [`host`] (the host trait; the approver is
//! the gateway's),
//! `agent` (the loop), `client` (HTTP, streaming, retries), [`sse`] (server-sent events),
//! `tools` (concurrent tool calls, result budget), [`events`] (events and JSON-lines sinks),
//! `render` (terminal), `approve` (terminal approver), [`transcript`] (save and replay),
//! [`summary`] (outcome and summary), [`messages`] (wire types).

mod agent;
mod approve;
mod client;
pub mod config;
pub mod events;
pub mod host;
pub mod messages;
mod render;
pub mod sse;
pub mod summary;
mod tools;
pub mod transcript;

pub use agent::{Agent, AgentError, valid_tool_name};
pub use approve::{TerminalApprover, command_line_approver};
pub use client::ApiFailure;
pub use config::{AgentConfig, AgentSettings, ConfigError, RetryPolicy};
pub use events::{AgentEvent, EventSink, Fanout, JsonLinesSink, NullSink, Record};
pub use host::{
    ApprovalRequest, Approver, AutoApprover, Decision, HostError, RememberingApprover, ToolHost,
    ToolOutcome, ToolSpec,
};
pub use render::TerminalRenderer;
pub use summary::{Outcome, RunSummary};
pub use switchboard_http::Secret;
pub use transcript::{
    TranscriptError, create_transcript, default_transcript_path, read_transcript, replay,
};
