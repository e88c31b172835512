//! The Jira MCP server (`switchboard server jira`): Jira Cloud (REST v3, Atlassian Document
//! Format) and Data Center (REST v2, wiki markup) behind eight tools.
//!
//! - [`config`]: settings from the environment (`JIRA_URL`, credentials, flavour, allow-list,
//!   read-only mode);
//! - [`client`]: the REST client on the shared outbound policy (`switchboard-http`);
//! - [`adf`] / [`wiki`] / [`wiki_read`]: Markdown → ADF / wiki markup, and back to Markdown;
//! - `tools/`: one file per tool; [`JiraServer`]: the `ServerHandler` tying them together.
//!
//! Safety: credentials only from the environment (never tool arguments, never in errors or
//! logs); every tool is confined to `JIRA_PROJECTS`; in read-only mode write tools are neither
//! listed nor callable; `create_issue` never files the same issue twice on a retry (see
//! [`dedupe`] and the README).

pub mod adf;
pub mod client;
pub mod config;
pub mod dedupe;
pub mod error;
mod jql;
mod server;
mod tools;
pub mod wiki;
pub mod wiki_read;

pub use config::{ConfigError, Flavor, JiraAuth, JiraConfig};
pub use error::JiraError;
pub use server::{JiraServer, StartError, serve_stdio};
