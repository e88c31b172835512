//! The soak's clients: the official Python MCP SDK (`clients/soak_client.py`), half of them in
//! the 2025-11-25 handshake era and half in the 2026-07-28 stateless era, each calling tools
//! until the deadline and reporting every call as a JSON line. Their reports are tallied here.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::task::JoinSet;

/// The client script, next to this crate's sources.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/soak_client.py");

/// What the clients saw.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Calls by outcome class.
    pub(crate) by_class: BTreeMap<String, u64>,
    /// Calls by tool, then class.
    pub(crate) by_tool: BTreeMap<String, BTreeMap<String, u64>>,
    /// Errors nothing in the schedule explains, by message, with how often.
    pub(crate) unexpected: BTreeMap<String, u64>,
    /// Tool errors by message (expected under the fault schedule), with how often.
    pub(crate) tool_errors: BTreeMap<String, u64>,
    /// The class each tagged call ended with.
    pub(crate) tags: HashMap<String, (String, String)>,
}

impl Tally {
    pub(crate) fn calls(&self) -> u64 {
        self.by_class.values().sum()
    }

    fn record(&mut self, line: &str) {
        let Ok(report) = serde_json::from_str::<Value>(line) else {
            *self
                .unexpected
                .entry(format!("client printed: {line}"))
                .or_default() += 1;
            return;
        };
        let text = |k: &str| report[k].as_str().unwrap_or("").to_owned();
        let (tag, tool, class, message) = (text("tag"), text("tool"), text("cls"), text("message"));
        *self.by_class.entry(class.clone()).or_default() += 1;
        *self
            .by_tool
            .entry(if tool.is_empty() {
                "(connection)".into()
            } else {
                tool.clone()
            })
            .or_default()
            .entry(class.clone())
            .or_default() += 1;
        let key = normalize(&message);
        match class.as_str() {
            "ok" => {}
            "tool_error" => {
                *self
                    .tool_errors
                    .entry(format!("{tool}: {key}"))
                    .or_default() += 1
            }
            // A JSON-RPC error or a broken connection is never part of the plan.
            _ => {
                *self
                    .unexpected
                    .entry(format!("{class} {tool}: {key}"))
                    .or_default() += 1
            }
        }
        if !tag.is_empty() {
            self.tags.insert(tag, (tool, class));
        }
    }
}

/// A message with its call-specific parts (tags, numbers) blanked, for grouping.
fn normalize(message: &str) -> String {
    let words: Vec<String> = message
        .split(' ')
        .map(|word| match word.contains("soak-") {
            true => "<tag>".to_owned(),
            false => word
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect(),
        })
        .collect();
    words.join(" ").chars().take(160).collect()
}

/// Starts `count` clients against `url` for `seconds`; their reports go into `tally`.
pub(crate) fn spawn(
    python: &Path,
    url: &str,
    count: usize,
    seconds: u64,
    tally: Arc<Mutex<Tally>>,
) -> anyhow::Result<JoinSet<anyhow::Result<()>>> {
    let mut set = JoinSet::new();
    for n in 0..count {
        let mode = if n % 2 == 0 { "legacy" } else { "auto" };
        let mut child = Command::new(python)
            .arg(SCRIPT)
            .args([mode, url, &format!("{mode}{n}"), &seconds.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", python.display()))?;
        let stdout = child.stdout.take().context("client stdout")?;
        let tally = tally.clone();
        set.spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await? {
                tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .record(&line);
            }
            let status = child.wait().await?;
            if !status.success() {
                let mut tally = tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *tally
                    .unexpected
                    .entry(format!("a {mode} client exited: {status}"))
                    .or_default() += 1;
            }
            Ok(())
        });
    }
    Ok(set)
}
