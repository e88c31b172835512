//! The terminal front end: Claude's text on stdout as it streams, tool calls, results, retries and
//! notices as short lines on stderr, a spinner while tools run (only when stderr is a terminal),
//! and the run summary at the end.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::events::{AgentEvent, EventSink};
use crate::messages::Role;
use crate::summary::Outcome;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Set while the terminal approver is asking a question: the spinner must not draw over it.
/// Process-wide because both sides talk to the one controlling terminal.
pub(crate) static PROMPT_ACTIVE: AtomicBool = AtomicBool::new(false);

struct Screen<O, E> {
    out: O,
    err: E,
    /// stdout's last byte was not a newline.
    mid_line: bool,
    /// A spinner line is on stderr and must be cleared before writing.
    spinner_shown: bool,
    running: BTreeMap<String, (String, Instant)>,
    frame: usize,
}

impl<O: Write, E: Write> Screen<O, E> {
    /// Prepares stderr for a full line: ends stdout's partial line, clears the spinner.
    fn line_start(&mut self) {
        if self.mid_line {
            let _ = self.out.write_all(b"\n");
            let _ = self.out.flush();
            self.mid_line = false;
        }
        if self.spinner_shown {
            let _ = self.err.write_all(b"\r\x1b[2K");
            self.spinner_shown = false;
        }
    }

    fn err_line(&mut self, line: &str) {
        self.line_start();
        let _ = writeln!(self.err, "{line}");
        let _ = self.err.flush();
    }

    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.spinner_shown {
            let _ = self.err.write_all(b"\r\x1b[2K");
            self.spinner_shown = false;
        }
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
        self.mid_line = !text.ends_with('\n');
    }

    fn spin(&mut self) {
        let Some((name, since)) = self.running.values().next().cloned() else {
            return;
        };
        self.frame = (self.frame + 1) % SPINNER.len();
        let others = match self.running.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        let _ = write!(
            self.err,
            "\r\x1b[2K{} running {name}{others} ({:.1}s)",
            SPINNER[self.frame],
            since.elapsed().as_secs_f64()
        );
        let _ = self.err.flush();
        self.spinner_shown = true;
    }
}

struct Shared<O, E> {
    screen: Mutex<Screen<O, E>>,
    stop: AtomicBool,
}

/// Renders a run on a terminal (or any pair of writers). Implements [`EventSink`].
pub struct TerminalRenderer<O: Write + Send + 'static, E: Write + Send + 'static> {
    shared: Arc<Shared<O, E>>,
    spinner: Option<JoinHandle<()>>,
}

impl TerminalRenderer<std::io::Stdout, std::io::Stderr> {
    /// Renders to stdout and stderr, with a spinner when stderr is a terminal.
    pub fn stdio() -> Self {
        let spinner = std::io::stderr().is_terminal();
        Self::new(std::io::stdout(), std::io::stderr(), spinner)
    }
}

impl<O: Write + Send + 'static, E: Write + Send + 'static> TerminalRenderer<O, E> {
    /// Renders text to `out` and everything else to `err`; `spinner` animates running tools.
    pub fn new(out: O, err: E, spinner: bool) -> Self {
        let shared = Arc::new(Shared {
            screen: Mutex::new(Screen {
                out,
                err,
                mid_line: false,
                spinner_shown: false,
                running: BTreeMap::new(),
                frame: 0,
            }),
            stop: AtomicBool::new(false),
        });
        let spinner = spinner.then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                while !shared.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if PROMPT_ACTIVE.load(Ordering::Relaxed) {
                        continue;
                    }
                    if let Ok(mut screen) = shared.screen.lock() {
                        screen.spin();
                    }
                }
            })
        });
        Self { shared, spinner }
    }

    fn screen(&self) -> Option<MutexGuard<'_, Screen<O, E>>> {
        self.shared.screen.lock().ok()
    }

    /// Stops the spinner and returns the writers.
    pub fn into_inner(self) -> Option<(O, E)> {
        let shared = Arc::clone(&self.shared);
        // Dropping stops and joins the spinner thread, which holds the only other reference.
        drop(self);
        let shared = Arc::try_unwrap(shared).ok()?;
        let screen = shared.screen.into_inner().ok()?;
        Some((screen.out, screen.err))
    }

    fn stop_spinner(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.spinner.take() {
            let _ = handle.join();
        }
        if let Some(mut screen) = self.screen()
            && screen.spinner_shown
        {
            let _ = screen.err.write_all(b"\r\x1b[2K");
            screen.spinner_shown = false;
        }
    }
}

impl<O: Write + Send + 'static, E: Write + Send + 'static> Drop for TerminalRenderer<O, E> {
    fn drop(&mut self) {
        self.stop_spinner();
    }
}

impl<O: Write + Send + 'static, E: Write + Send + 'static> EventSink for TerminalRenderer<O, E> {
    fn event(&self, event: &AgentEvent) {
        let Some(mut screen) = self.screen() else {
            return;
        };
        render(&mut screen, event);
    }
}

fn render<O: Write, E: Write>(screen: &mut Screen<O, E>, event: &AgentEvent) {
    match event {
        AgentEvent::RunStarted { model, tools, .. } => {
            screen.err_line(&format!("· {model} with {} tools", tools.len()));
        }
        AgentEvent::TextDelta { text } => screen.text(text),
        AgentEvent::Message { message } if message.role == Role::Assistant => {
            if screen.mid_line {
                screen.text("\n");
            }
        }
        AgentEvent::Message { .. } | AgentEvent::Usage { .. } => {}
        AgentEvent::ToolCallStarted { id, name, input } => {
            screen.err_line(&format!("→ {name} {}", shorten(&input.to_string(), 200)));
            screen
                .running
                .insert(id.clone(), (name.clone(), Instant::now()));
        }
        AgentEvent::ToolCallFinished {
            id,
            name,
            is_error,
            bytes,
            truncated,
            duration_ms,
            preview,
        } => {
            screen.running.remove(id);
            let mark = if *is_error { "✗" } else { "✓" };
            let cut = if *truncated { ", truncated" } else { "" };
            screen.err_line(&format!(
                "  {mark} {name}: {preview} ({}, {duration_ms} ms{cut})",
                size(*bytes)
            ));
        }
        AgentEvent::Retrying {
            attempt,
            wait_ms,
            reason,
        } => screen.err_line(&format!(
            "… retry {attempt} in {:.1}s: {reason}",
            *wait_ms as f64 / 1000.0
        )),
        AgentEvent::Notice { message } => screen.err_line(&format!("· {message}")),
        AgentEvent::Finished { summary } => {
            if summary.outcome != Outcome::Completed {
                screen.err_line(&format!("✗ {}", summary.outcome));
            }
            screen.err_line(&format!("── {summary}"));
        }
    }
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max).collect();
    short.push('…');
    short
}

fn size(bytes: usize) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{ContentBlock, Message, Usage};
    use crate::summary::RunSummary;
    use serde_json::json;

    fn rendered(events: &[AgentEvent]) -> (String, String) {
        let renderer = TerminalRenderer::new(Vec::new(), Vec::new(), false);
        for event in events {
            renderer.event(event);
        }
        let (out, err) = renderer.into_inner().unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn text_tools_and_summary() {
        let (out, err) = rendered(&[
            AgentEvent::TextDelta {
                text: "Look".into(),
            },
            AgentEvent::TextDelta {
                text: "ing.".into(),
            },
            AgentEvent::Message {
                message: Message {
                    role: Role::Assistant,
                    content: vec![ContentBlock::text("Looking.")],
                },
            },
            AgentEvent::ToolCallStarted {
                id: "t1".into(),
                name: "db__query".into(),
                input: json!({"sql": "select 1"}),
            },
            AgentEvent::ToolCallFinished {
                id: "t1".into(),
                name: "db__query".into(),
                is_error: true,
                bytes: 2048,
                truncated: true,
                duration_ms: 12,
                preview: "permission denied".into(),
            },
            AgentEvent::Finished {
                summary: RunSummary {
                    outcome: Outcome::StepBudgetExhausted { max_steps: 1 },
                    steps: 1,
                    tool_calls: 1,
                    tool_errors: 1,
                    usage: Usage::default(),
                    wall_ms: 10,
                    final_text: String::new(),
                },
            },
        ]);
        assert_eq!(out, "Looking.\n");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], r#"→ db__query {"sql":"select 1"}"#);
        assert_eq!(
            lines[1],
            "  ✗ db__query: permission denied (2.0 KB, 12 ms, truncated)"
        );
        assert!(lines[2].starts_with("✗ stopped after the step budget of 1"));
        assert!(lines[3].starts_with("── 1 step · 1 tool call (1 failed)"));
    }

    #[test]
    fn spinner_draws_and_clears() {
        let renderer = TerminalRenderer::new(Vec::new(), Vec::new(), true);
        renderer.event(&AgentEvent::ToolCallStarted {
            id: "t".into(),
            name: "slow".into(),
            input: json!({}),
        });
        std::thread::sleep(Duration::from_millis(350));
        renderer.event(&AgentEvent::ToolCallFinished {
            id: "t".into(),
            name: "slow".into(),
            is_error: false,
            bytes: 3,
            truncated: false,
            duration_ms: 350,
            preview: "ok".into(),
        });
        let (_, err) = renderer.into_inner().unwrap();
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains(" running slow ("), "{err:?}");
        assert!(
            err.ends_with("\r\x1b[2K  ✓ slow: ok (3 B, 350 ms)\n"),
            "{err:?}"
        );
    }
}
