//! An MCP client for black-box tests: spawns a server process over stdio (or connects over
//! Streamable HTTP) with rmcp's client, and calls tools with plain JSON.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::Command;

/// A connected client.
pub struct Client {
    service: RunningService<RoleClient, ()>,
}

/// One tool result, reduced to what tests assert on.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `isError` of the result.
    pub is_error: bool,
    /// `structuredContent`, when present.
    pub structured: Option<Value>,
    /// The text blocks joined by newlines.
    pub text: String,
}

impl Outcome {
    fn from_result(result: CallToolResult) -> Self {
        let text = result
            .content
            .iter()
            .filter_map(|block| block.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            is_error: result.is_error.unwrap_or(false),
            structured: result.structured_content,
            text,
        }
    }

    /// The structured result, failing the test with the error text when the call failed.
    ///
    /// # Panics
    /// When the call returned an error or no structured content.
    pub fn ok(&self) -> &Value {
        assert!(!self.is_error, "tool call failed: {}", self.text);
        self.structured
            .as_ref()
            .unwrap_or_else(|| panic!("no structuredContent in {}", self.text))
    }
}

impl Client {
    /// Spawns `program args…` with exactly `env` (plus PATH and HOME) and completes the handshake.
    ///
    /// # Errors
    /// When the process cannot start or the handshake fails.
    pub async fn spawn(
        program: &Path,
        args: &[&str],
        env: &HashMap<String, String>,
    ) -> Result<Self> {
        let mut command = Command::new(program);
        command.args(args).env_clear();
        for key in ["PATH", "HOME", "RUST_LOG", "LANG"] {
            if let Ok(value) = std::env::var(key) {
                command.env(key, value);
            }
        }
        command.envs(env);
        let transport = TokioChildProcess::new(command).context("spawning the MCP server")?;
        let service = ().serve(transport).await.context("MCP handshake")?;
        Ok(Self { service })
    }

    /// Lists every tool.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn tools(&self) -> Result<Vec<Tool>> {
        Ok(self.service.list_all_tools().await?)
    }

    /// Calls `name` with `arguments` (a JSON object).
    ///
    /// # Errors
    /// When the request fails at the protocol level (a tool error is an `Ok` outcome).
    pub async fn call(&self, name: &str, arguments: Value) -> Result<Outcome> {
        let Value::Object(arguments) = arguments else {
            bail!("arguments must be a JSON object")
        };
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
        Ok(Outcome::from_result(self.service.call_tool(params).await?))
    }

    /// The underlying rmcp service, for requests this wrapper does not cover.
    pub fn service(&self) -> &RunningService<RoleClient, ()> {
        &self.service
    }

    /// Closes the session (the child process exits when its stdin closes).
    ///
    /// # Errors
    /// When the service task failed.
    pub async fn close(self) -> Result<()> {
        self.service.cancel().await?;
        Ok(())
    }
}
