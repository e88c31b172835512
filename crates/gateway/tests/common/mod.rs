//! Shared helpers of the gateway's black-box tests: the fixture server binary, config files in
//! temporary directories, and gateway start-up.
#![allow(dead_code, unreachable_pub)]

pub mod redis;

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_gateway::{Config, Gateway, GatewayOptions};

/// The fixture MCP server / gateway runner.
pub fn fixture() -> &'static str {
    env!("CARGO_BIN_EXE_gateway-fixture")
}

/// A `[servers.<name>]` table running the fixture with `args`.
pub fn fixture_server(name: &str, args: &[&str]) -> String {
    let mut all = vec!["server".to_owned()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    format!(
        "[servers.{name}]\ncommand = {:?}\nargs = {:?}\n",
        fixture(),
        all
    )
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads `toml` from a temporary file and starts a gateway from it.
pub async fn start(dir: &Path, toml: &str) -> Gateway {
    try_start(dir, toml).await.unwrap()
}

/// Like [`start`], returning the error.
pub async fn try_start(
    dir: &Path,
    toml: &str,
) -> Result<Gateway, switchboard_gateway::GatewayError> {
    let path = write(dir, "switchboard.toml", toml);
    let config = Config::load(&path)?;
    let options = GatewayOptions {
        builtin_exe: PathBuf::from(fixture()),
        ..GatewayOptions::default()
    };
    Gateway::start(config, options).await
}

/// Text of the first content block.
pub fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

/// JSON object arguments.
pub fn args(value: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    match value {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Polls `f` until it returns true or `limit` passes.
pub async fn eventually(limit: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A log writer that keeps what it is given, to look for secrets in (install it with
/// `tracing_subscriber::fmt().with_writer`).
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
