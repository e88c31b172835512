//! Switchboard's gateway: an MCP host that starts and supervises MCP servers (the built-in
//! ones or anyone's), aggregates their tools under collision-free names, puts every call through
//! a policy pipeline (authorize → rate limit → approval → limits, all audited), and serves the
//! result to any MCP client over stdio or Streamable HTTP — or in-process through [`Gateway`].
//!
//! Module map (see README.md): [`config`] (two-phase configuration), [`secrets`] (references
//! and redaction), `upstream` (one transport per file) and `supervisor` (health, restarts,
//! circuit breaker), [`catalog`] (exposed names), [`policy`] (one layer per file, stacked in
//! `policy::Pipeline::new`), [`audit`] (the hash-chained log), [`downstream`] (stdio and HTTP
//! serving), [`Gateway`] (the in-process API).

pub mod audit;
pub mod auth;
pub mod caller;
pub mod catalog;
pub mod config;
mod console;
pub mod downstream;
pub mod endpoints;
pub mod error;
mod expiring;
mod gateway;
mod pending;
pub mod pins;
pub mod policy;
pub mod reload;
pub mod request_ids;
pub mod search;
pub mod secrets;
pub mod signal;
pub mod stdio;
mod supervisor;
mod tasks;
pub mod telemetry;
mod upstream;

pub use caller::{Access, ApprovalChannel, Caller};
pub use config::Config;
pub use error::{ConfigError, GatewayError};
pub use gateway::{CallRequest, Gateway, GatewayOptions, UpstreamStatus};
pub use policy::Outcome;
pub use policy::approval::{ApprovalRequest, Approver, Decision, needs_approval};
pub use reload::ReloadReport;
pub use upstream::http::{HttpTransport, transport as http_upstream_transport};
pub use upstream::oauth::UpstreamHttpClient;
pub use upstream::{ConnectError, Health};

/// A one-line description of an upstream's health, for tables and `/readyz`.
pub fn format_health(health: &Health) -> String {
    let now = tokio::time::Instant::now();
    match health {
        Health::Idle => "idle (starts on first use)".to_owned(),
        Health::Starting => "starting".to_owned(),
        Health::Ready { pid: Some(pid) } => format!("ready (pid {pid})"),
        Health::Ready { pid: None } => "ready".to_owned(),
        Health::Backoff { retry_at, error } => format!(
            "down, retrying in {}s: {error}",
            retry_at.saturating_duration_since(now).as_secs()
        ),
        Health::CircuitOpen { retry_at, error } => format!(
            "circuit open, retrying in {}s: {error}",
            retry_at.saturating_duration_since(now).as_secs()
        ),
        Health::Stopped => "stopped".to_owned(),
    }
}
