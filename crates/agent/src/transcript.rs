//! Run transcripts: every run can be saved as JSON lines ([`create_transcript`]: one
//! [`crate::events::Record`] per line — messages, tool calls, results, usage, summary), and
//! [`replay`] prints a saved transcript the way the terminal showed the run.

use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter};
use std::path::{Path, PathBuf};

use crate::events::{AgentEvent, EventSink, JsonLinesSink, Record};
use crate::messages::Role;
use crate::summary::RunSummary;

/// Why a transcript could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// The file could not be created, opened or read.
    #[error("cannot use transcript {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a transcript record.
    #[error("{path}:{line}: not a transcript record: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A transcript file being written.
pub type TranscriptSink = JsonLinesSink<BufWriter<File>>;

/// Creates (or truncates) `path`, and its directory if needed, and returns the sink that writes
/// the run into it.
///
/// # Errors
/// [`TranscriptError::Io`] when the directory or the file cannot be created.
pub fn create_transcript(path: &Path) -> Result<TranscriptSink, TranscriptError> {
    let io = |source| TranscriptError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = File::create(path).map_err(io)?;
    Ok(JsonLinesSink::new(BufWriter::new(file), false))
}

/// Where a run's transcript goes when the user names no file:
/// `$SWITCHBOARD_TRANSCRIPT_DIR`, else `$XDG_STATE_HOME/switchboard/transcripts`, else
/// `$HOME/.local/state/switchboard/transcripts`, else `./.switchboard/transcripts`; the file is
/// named after the start time, `run-20250101T120000.123Z.jsonl`.
pub fn default_transcript_path(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let dir = non_empty("SWITCHBOARD_TRANSCRIPT_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            non_empty("XDG_STATE_HOME")
                .map(|d| PathBuf::from(d).join("switchboard").join("transcripts"))
        })
        .or_else(|| {
            non_empty("HOME").map(|h| {
                PathBuf::from(h)
                    .join(".local/state")
                    .join("switchboard")
                    .join("transcripts")
            })
        })
        .unwrap_or_else(|| PathBuf::from(".switchboard").join("transcripts"));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    dir.join(format!("run-{stamp}.jsonl"))
}

/// Reads every record of a transcript.
///
/// # Errors
/// [`TranscriptError`] when the file cannot be read or a line is not a record.
pub fn read_transcript(path: &Path) -> Result<Vec<Record>, TranscriptError> {
    let io = |source| TranscriptError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io)?);
    let mut records = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|e| TranscriptError::Malformed {
            path: path.to_path_buf(),
            line: index + 1,
            reason: e.to_string(),
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Prints a saved transcript through `sink` (normally a [`crate::TerminalRenderer`]): the task,
/// Claude's text, each tool call and result line, notices and the summary. Streamed text deltas,
/// if the file has them (`--json` output), are skipped: the assistant messages carry the text.
/// Returns the run's summary when the transcript has one.
///
/// # Errors
/// [`TranscriptError`] when the file cannot be read or a line is not a record.
pub fn replay(path: &Path, sink: &dyn EventSink) -> Result<Option<RunSummary>, TranscriptError> {
    let mut summary = None;
    for record in read_transcript(path)? {
        match record.event {
            AgentEvent::TextDelta { .. } => {}
            AgentEvent::Message { ref message } if message.role == Role::Assistant => {
                let text: String = message.content.iter().filter_map(|b| b.as_text()).collect();
                sink.event(&AgentEvent::TextDelta { text });
                sink.event(&record.event);
            }
            AgentEvent::RunStarted { ref task, .. } => {
                sink.event(&record.event);
                sink.event(&AgentEvent::Notice {
                    message: format!("task: {task}"),
                });
            }
            AgentEvent::Finished { summary: ref s } => {
                summary = Some(s.clone());
                sink.event(&record.event);
            }
            ref event => sink.event(event),
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_follows_the_environment() {
        let path =
            default_transcript_path(|name| (name == "HOME").then(|| "/home/ana".to_string()));
        assert!(path.starts_with("/home/ana/.local/state/switchboard/transcripts"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("run-") && name.ends_with("Z.jsonl"),
            "{name}"
        );
        let path = default_transcript_path(|name| match name {
            "SWITCHBOARD_TRANSCRIPT_DIR" => Some("/tmp/t".into()),
            "HOME" => Some("/home/ana".into()),
            _ => None,
        });
        assert!(path.starts_with("/tmp/t"));
    }

    #[test]
    fn creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/run.jsonl");
        drop(create_transcript(&path).unwrap());
        assert!(path.exists());
    }
}
