//! Running the tool calls of one response: concurrently (at most `concurrency` at once), each
//! through the host's policy, results cut to the size budget, and all of them answered in one user
//! message in the order of the `tool_use` blocks.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt as _;
use serde_json::Value;
use tracing::Instrument as _;

use crate::events::{AgentEvent, EventSink};
use crate::host::{Approver, ToolHost, ToolOutcome};
use crate::messages::{ContentBlock, KnownBlock, Message, Role};

/// One `tool_use` block to answer.
#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
}

/// What a batch of calls produced.
pub(crate) struct Batch {
    /// The user message with one `tool_result` per call, in call order.
    pub(crate) message: Message,
    /// Calls that returned `is_error`.
    pub(crate) errors: u32,
}

/// Runs tool calls for the loop.
pub(crate) struct ToolRunner<'a> {
    pub(crate) host: &'a dyn ToolHost,
    pub(crate) approver: Arc<dyn Approver>,
    pub(crate) sink: &'a dyn EventSink,
    pub(crate) known: HashSet<String>,
    pub(crate) concurrency: usize,
    pub(crate) budget: usize,
}

impl ToolRunner<'_> {
    /// Runs `calls` and returns the message answering all of them.
    pub(crate) async fn run(&self, calls: Vec<ToolCall>) -> Batch {
        // `buffered` runs up to `concurrency` futures at once and yields in input order.
        let results: Vec<(ToolCall, ToolOutcome)> = futures::stream::iter(calls)
            .map(|call| async move {
                let outcome = self.run_one(&call).await;
                (call, outcome)
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        let errors = results.iter().filter(|(_, o)| o.is_error).count() as u32;
        let content = results
            .into_iter()
            .map(|(call, outcome)| {
                ContentBlock::Known(KnownBlock::ToolResult {
                    tool_use_id: call.id,
                    content: outcome.content,
                    is_error: outcome.is_error,
                })
            })
            .collect();
        Batch {
            message: Message {
                role: Role::User,
                content,
            },
            errors,
        }
    }

    async fn run_one(&self, call: &ToolCall) -> ToolOutcome {
        self.sink.event(&AgentEvent::ToolCallStarted {
            id: call.id.clone(),
            name: call.name.clone(),
            input: call.input.clone(),
        });
        let started = Instant::now();
        let outcome = if self.known.contains(&call.name) {
            let span = tracing::info_span!("tool_call", tool = %call.name, id = %call.id);
            self.host
                .call(&call.name, call.input.clone(), Arc::clone(&self.approver))
                .instrument(span)
                .await
        } else {
            let mut names: Vec<&str> = self.known.iter().map(String::as_str).collect();
            names.sort_unstable();
            ToolOutcome::error(format!(
                "There is no tool named `{}`. Available tools: {}.",
                call.name,
                names.join(", ")
            ))
        };
        if outcome.is_error {
            tracing::debug!(tool = %call.name, id = %call.id, "tool call returned an error");
        }
        let bytes = outcome.content.len();
        let (content, truncated) = truncate(&outcome.content, self.budget);
        self.sink.event(&AgentEvent::ToolCallFinished {
            id: call.id.clone(),
            name: call.name.clone(),
            is_error: outcome.is_error,
            bytes,
            truncated,
            duration_ms: started.elapsed().as_millis() as u64,
            preview: preview(&outcome.content),
        });
        ToolOutcome {
            content,
            is_error: outcome.is_error,
        }
    }
}

/// Cuts `content` to at most `budget` bytes (on a character boundary) and appends a note saying
/// so; returns it unchanged when it fits.
pub(crate) fn truncate(content: &str, budget: usize) -> (String, bool) {
    if content.len() <= budget {
        return (content.to_string(), false);
    }
    let mut end = budget;
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    let note = format!(
        "\n\n[Result truncated: showing the first {end} of {} bytes. Ask for less — add filters \
         or a LIMIT, select fewer fields, or page through the data.]",
        content.len()
    );
    (format!("{}{note}", &content[..end]), true)
}

/// The first line of a result, at most 100 characters.
pub(crate) fn preview(content: &str) -> String {
    let line = content.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut short: String = line.chars().take(100).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_char_boundaries_and_says_so() {
        let (same, cut) = truncate("short", 10);
        assert_eq!((same.as_str(), cut), ("short", false));
        let text = "ééééé"; // 10 bytes
        let (out, cut) = truncate(text, 5);
        assert!(cut);
        assert!(out.starts_with("éé\n\n[Result truncated: showing the first 4 of 10 bytes."));
    }

    #[test]
    fn preview_is_first_nonblank_line() {
        assert_eq!(preview("\n  \nfirst\nsecond"), "first");
        let long = "x".repeat(150);
        assert_eq!(preview(&long).chars().count(), 101);
    }
}
