//! What the loop reports while it runs ([`AgentEvent`]), the [`EventSink`] trait every front end
//! implements, and two sinks: [`JsonLinesSink`] (the `--json` output and the transcript file,
//! one event per line) and [`Fanout`] (several sinks at once).

use std::io::Write;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::messages::{Message, Usage};
use crate::summary::RunSummary;

/// One thing that happened during a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The run began.
    RunStarted {
        /// Model id.
        model: String,
        /// The task as given.
        task: String,
        /// Names of the tools offered.
        tools: Vec<String>,
    },
    /// A message was added to the conversation (the task, each response, each batch of results).
    Message {
        /// The message as sent to / received from the API.
        message: Message,
    },
    /// Claude generated text (streamed as it arrives).
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A tool call is starting.
    ToolCallStarted {
        /// `toolu_…` id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        input: Value,
    },
    /// A tool call finished.
    ToolCallFinished {
        /// `toolu_…` id.
        id: String,
        /// Tool name.
        name: String,
        /// Whether it failed.
        is_error: bool,
        /// Size of the full result in bytes, before any truncation.
        bytes: usize,
        /// Whether the result was cut to the budget.
        truncated: bool,
        /// How long it ran.
        duration_ms: u64,
        /// The first line of the result, shortened.
        preview: String,
    },
    /// Token usage of one model call, and the run's running total.
    Usage {
        /// Step number, from 1.
        step: u32,
        /// This call's usage.
        usage: Usage,
        /// Sum over the run so far.
        total: Usage,
    },
    /// A model call failed transiently and will be repeated.
    Retrying {
        /// Retry number, from 1.
        attempt: u32,
        /// Wait before it, in milliseconds.
        wait_ms: u64,
        /// What failed.
        reason: String,
    },
    /// Something the user should know that is not an error (continuing a paused turn, …).
    Notice {
        /// The text.
        message: String,
    },
    /// The run ended.
    Finished {
        /// Summary of the run.
        summary: RunSummary,
    },
}

/// Receives events as they happen. Called from concurrently running tool calls, so
/// implementations synchronise internally; they must not block for long.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &AgentEvent);
}

/// A sink that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn event(&self, _event: &AgentEvent) {}
}

/// Sends every event to each of several sinks, in order.
pub struct Fanout<'a>(pub Vec<&'a dyn EventSink>);

impl EventSink for Fanout<'_> {
    fn event(&self, event: &AgentEvent) {
        for sink in &self.0 {
            sink.event(event);
        }
    }
}

/// One line of a JSON-lines transcript: the event and when it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 timestamp.
    pub ts: String,
    /// The event.
    #[serde(flatten)]
    pub event: AgentEvent,
}

/// Writes events as JSON lines, flushing after each so a crash loses nothing already reported.
/// Used for `--json` (with text deltas) and for transcript files (without: the assistant
/// message events carry the full text).
pub struct JsonLinesSink<W: Write + Send> {
    out: Mutex<W>,
    deltas: bool,
    failed: std::sync::atomic::AtomicBool,
}

impl<W: Write + Send> JsonLinesSink<W> {
    /// A sink writing to `out`; `deltas` keeps [`AgentEvent::TextDelta`] events.
    pub fn new(out: W, deltas: bool) -> Self {
        Self {
            out: Mutex::new(out),
            deltas,
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl<W: Write + Send> EventSink for JsonLinesSink<W> {
    fn event(&self, event: &AgentEvent) {
        if !self.deltas && matches!(event, AgentEvent::TextDelta { .. }) {
            return;
        }
        let record = Record {
            ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            event: event.clone(),
        };
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        let written = serde_json::to_writer(&mut *out, &record)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(error) = written
            && !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(%error, "cannot write the JSON-lines event stream; further events are lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_skip_deltas() {
        let sink = JsonLinesSink::new(Vec::new(), false);
        sink.event(&AgentEvent::TextDelta { text: "x".into() });
        sink.event(&AgentEvent::Notice {
            message: "hi".into(),
        });
        let out = sink.out.into_inner().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let record: Record = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(
            record.event,
            AgentEvent::Notice {
                message: "hi".into()
            }
        );
        let raw: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(raw["type"], "notice");
        assert!(raw["ts"].as_str().unwrap().ends_with('Z'));
    }
}
