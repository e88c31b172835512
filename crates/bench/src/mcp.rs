//! A minimal MCP client over stdio written against the wire format (newline-delimited JSON-RPC),
//! so the measured round trip contains only the server's work and one pipe hop each way.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// One running MCP server (or gateway), spoken to over its stdin/stdout.
pub(crate) struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Server {
    /// Spawns `command` (`program` is its name, for errors) with its stdin and stdout piped;
    /// stderr goes where `command` says. It is killed when dropped.
    pub(crate) fn spawn(mut command: Command, program: &Path) -> anyhow::Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let stdin = child.stdin.take().context("child stdin")?;
        let stdout = child.stdout.take().context("child stdout")?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            next_id: 1,
        })
    }

    /// The server's process id (for `/proc`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// `initialize` (protocol 2025-11-25), then `notifications/initialized`.
    pub(crate) async fn handshake(&mut self) -> anyhow::Result<()> {
        let params = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "switchboard-bench", "version": env!("CARGO_PKG_VERSION")},
        });
        self.request("initialize", params).await?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await
    }

    /// Sends one request and waits for its response; returns `result`, or fails on `error`.
    pub(crate) async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        loop {
            let line = self
                .stdout
                .next_line()
                .await?
                .context("the server closed stdout")?;
            let mut message: Value = serde_json::from_str(&line).context("non-JSON line")?;
            if message["id"] != id {
                continue; // a notification or a server-to-client request: not ours
            }
            if let Some(error) = message.get("error") {
                bail!("{method} failed: {error}");
            }
            return Ok(message["result"].take());
        }
    }

    /// `tools/call` of `name` with `arguments`; returns the result, or fails when it is an error
    /// result.
    pub(crate) async fn call(&mut self, name: &str, arguments: Value) -> anyhow::Result<Value> {
        let params = json!({"name": name, "arguments": arguments});
        let result = self.request("tools/call", params).await?;
        if result["isError"] == true {
            bail!("{name} failed: {}", result["content"]);
        }
        Ok(result)
    }

    /// `tools/call query` with `sql`; fails when the result is an error result.
    pub(crate) async fn query(&mut self, sql: &str) -> anyhow::Result<Value> {
        let mut result = self.call("query", json!({"sql": sql})).await?;
        Ok(result["structuredContent"].take())
    }

    async fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Kills the server and reaps it.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}
