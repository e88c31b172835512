//! The terminal approver: asks on the controlling terminal (`/dev/tty`, so it works while stdout
//! and stdin are redirected) whether a tool call may run — `y`es, `n`o, or `a`lways for this tool.
//! Without a terminal it refuses, telling the model that approval was impossible; `--yes` uses
//! [`crate::AutoApprover`] instead.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::host::{ApprovalRequest, Approver, AutoApprover, Decision};
use crate::render::PROMPT_ACTIVE;

/// Keeps the spinner off the terminal while a question is on it.
struct PromptGuard;

impl PromptGuard {
    fn hold() -> Self {
        PROMPT_ACTIVE.store(true, std::sync::atomic::Ordering::Relaxed);
        Self
    }
}

impl Drop for PromptGuard {
    fn drop(&mut self) {
        PROMPT_ACTIVE.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The approver for the command line: [`AutoApprover`] with `--yes`, else [`TerminalApprover`].
pub fn command_line_approver(assume_yes: bool) -> Arc<dyn Approver> {
    if assume_yes {
        Arc::new(AutoApprover)
    } else {
        Arc::new(TerminalApprover::new())
    }
}

/// Prompts on a terminal device.
#[derive(Clone, Debug)]
pub struct TerminalApprover {
    device: PathBuf,
}

impl Default for TerminalApprover {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminalApprover {
    /// Prompts on `/dev/tty`.
    pub fn new() -> Self {
        Self::with_device("/dev/tty")
    }

    /// Prompts on another device or file (a pseudo-terminal in tests).
    pub fn with_device(device: impl Into<PathBuf>) -> Self {
        Self {
            device: device.into(),
        }
    }

    fn ask(&self, tool: &str, input: &Value) -> Decision {
        // Separate handles: a regular file (in tests) must not share one offset for both.
        let opened = std::fs::File::open(&self.device).and_then(|reader| {
            let writer = std::fs::OpenOptions::new()
                .append(true)
                .open(&self.device)?;
            Ok((reader, writer))
        });
        let Ok((reader, mut writer)) = opened else {
            return Decision::Deny {
                reason: "it needs a human's approval and no terminal is available to ask; the \
                         operator can rerun with --yes to approve tool calls automatically"
                    .into(),
            };
        };
        let mut input_text = input.to_string();
        if input_text.len() > 500 {
            let mut end = 500;
            while !input_text.is_char_boundary(end) {
                end -= 1;
            }
            input_text.truncate(end);
            input_text.push('…');
        }
        let mut reader = BufReader::new(reader);
        let _quiet = PromptGuard::hold();
        loop {
            // Clear a spinner line first: it is drawn on the same terminal.
            let _ = write!(
                writer,
                "\r\x1b[2KAllow {tool} {input_text}?\n  [y]es / [n]o / [a]lways for {tool}: "
            );
            let _ = writer.flush();
            let mut answer = String::new();
            match reader.read_line(&mut answer) {
                Ok(0) | Err(_) => {
                    return Decision::Deny {
                        reason: "the terminal closed before the user answered".into(),
                    };
                }
                Ok(_) => {}
            }
            if let Some(decision) = parse_answer(&answer) {
                return decision;
            }
        }
    }
}

/// The decision typed at the prompt, or `None` to ask again.
fn parse_answer(answer: &str) -> Option<Decision> {
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Some(Decision::Allow),
        "a" | "always" => Some(Decision::AlwaysAllow),
        "n" | "no" => Some(Decision::Deny {
            reason: "the user declined to allow it".into(),
        }),
        _ => None,
    }
}

impl Approver for TerminalApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
        let this = self.clone();
        let tool = request.tool.clone();
        let input = request.arguments.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.ask(&tool, &input))
                .await
                .unwrap_or_else(|_| Decision::Deny {
                    reason: "the approval prompt failed".into(),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tool: &str, arguments: Value) -> ApprovalRequest {
        ApprovalRequest {
            client: "agent".into(),
            tool: tool.into(),
            server: "test".into(),
            arguments,
        }
    }

    #[test]
    fn answers() {
        assert_eq!(parse_answer("y\n"), Some(Decision::Allow));
        assert_eq!(parse_answer(" Always "), Some(Decision::AlwaysAllow));
        assert!(matches!(parse_answer("n"), Some(Decision::Deny { .. })));
        assert_eq!(parse_answer("maybe"), None);
    }

    #[tokio::test]
    async fn without_a_terminal_it_refuses_and_mentions_yes() {
        let approver = TerminalApprover::with_device("/nonexistent/tty");
        match approver.approve(&request("x", Value::Null)).await {
            Decision::Deny { reason } => assert!(reason.contains("--yes")),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reads_the_answer_from_the_device() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tty");
        std::fs::write(&path, "what\na\n").unwrap();
        let approver = TerminalApprover::with_device(&path);
        assert_eq!(
            approver
                .approve(&request("x", serde_json::json!({"a": 1})))
                .await,
            Decision::AlwaysAllow
        );
    }
}
