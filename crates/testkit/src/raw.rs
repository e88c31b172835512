//! A line-level JSON-RPC client over a child process's stdio, for tests of what a well-behaved
//! client never sends (duplicate ids, malformed lines): it writes exactly the bytes it is given
//! and reads each line the server writes.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long one line may take to arrive.
const LINE_TIMEOUT: Duration = Duration::from_secs(20);

/// A server process spoken to line by line.
pub struct RawStdio {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl RawStdio {
    /// Spawns `program args…` with exactly `env` (plus PATH, HOME and LANG).
    ///
    /// # Errors
    /// When the process cannot start.
    pub fn spawn(program: &Path, args: &[&str], env: &HashMap<String, String>) -> Result<Self> {
        let mut command = Command::new(program);
        command.args(args).env_clear();
        for key in ["PATH", "HOME", "RUST_LOG", "LANG"] {
            if let Ok(value) = std::env::var(key) {
                command.env(key, value);
            }
        }
        command
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().context("spawning the server")?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = child.stdout.take().context("stdout")?;
        Ok(Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// Writes `text` as it is, in one write.
    ///
    /// # Errors
    /// When the process no longer reads.
    pub async fn write(&mut self, text: &str) -> Result<()> {
        self.stdin.write_all(text.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Writes each message as a line, all in one write.
    ///
    /// # Errors
    /// When the process no longer reads.
    pub async fn send(&mut self, messages: &[Value]) -> Result<()> {
        let mut text = String::new();
        for message in messages {
            text.push_str(&message.to_string());
            text.push('\n');
        }
        self.write(&text).await
    }

    /// The next line the server writes, as JSON.
    ///
    /// # Errors
    /// When none arrives in time, the stream ends, or the line is not JSON.
    pub async fn recv(&mut self) -> Result<Value> {
        let line = tokio::time::timeout(LINE_TIMEOUT, self.lines.next_line())
            .await
            .context("no message from the server in time")??
            .context("the server closed its stdout")?;
        serde_json::from_str(&line).with_context(|| format!("not JSON: {line}"))
    }

    /// The next message that answers a request (a response or an error), skipping
    /// notifications and requests from the server.
    ///
    /// # Errors
    /// As [`Self::recv`].
    pub async fn answer(&mut self) -> Result<Value> {
        loop {
            let message = self.recv().await?;
            if message.get("method").is_none() {
                return Ok(message);
            }
        }
    }

    /// The 2025-11-25 handshake.
    ///
    /// # Errors
    /// When the server does not answer `initialize` with a result.
    pub async fn initialize(&mut self) -> Result<Value> {
        self.send(&[json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "raw-test", "version": "1"}}
        })])
        .await?;
        let answer = self.answer().await?;
        if answer.get("result").is_none() {
            bail!("initialize failed: {answer}");
        }
        self.send(&[json!({"jsonrpc": "2.0", "method": "notifications/initialized"})])
            .await?;
        Ok(answer)
    }

    /// Whether the server still answers `ping` (with id `id`).
    ///
    /// # Errors
    /// As [`Self::recv`].
    pub async fn pings(&mut self, id: u64) -> Result<bool> {
        self.send(&[json!({"jsonrpc": "2.0", "id": id, "method": "ping"})])
            .await?;
        let answer = self.answer().await?;
        Ok(answer["id"] == json!(id) && answer.get("result").is_some())
    }

    /// The process, to signal or wait for.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// A `tools/call` request.
pub fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

/// Sends `first` (a request that takes a while) and `second` with the same id in one write, and
/// checks that the duplicate gets an Invalid Request error at once, naming the id, while the
/// first is still answered after it, and that the server answers `ping` afterwards.
///
/// # Errors
/// When any of that does not hold.
pub async fn assert_duplicate_refused(
    server: &mut RawStdio,
    first: Value,
    second: Value,
) -> Result<()> {
    let id = first["id"].clone();
    if second["id"] != id {
        bail!("the two requests must share an id");
    }
    server.send(&[first, second]).await?;
    // The refusal comes at once, before the first request's answer.
    let error = server.answer().await?;
    let result = server.answer().await?;
    if error["id"] != id || error["error"]["code"] != json!(-32600) {
        bail!("the duplicate was not refused as an invalid request: {error}");
    }
    let message = error["error"]["message"].as_str().unwrap_or_default();
    if !message.contains("already in use") {
        bail!("the refusal does not say why: {message}");
    }
    if result["id"] != id || result.get("result").is_none() {
        bail!("the first request was not answered with its result: {result}");
    }
    if !server.pings(9_999).await? {
        bail!("the server no longer answers ping");
    }
    Ok(())
}
