//! How a run ended ([`Outcome`]) and what it cost ([`RunSummary`]), with the one-line summary the
//! terminal shows at the end.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::messages::Usage;

/// Why the loop stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Claude finished (`end_turn` or `stop_sequence`).
    Completed,
    /// Claude declined to continue (`refusal`).
    Refused,
    /// The response filled the model's context window (`model_context_window_exceeded`).
    ContextWindowExceeded,
    /// A response hit `max_tokens` and could not be completed with more room.
    OutputTruncated {
        /// The largest `max_tokens` tried.
        max_tokens: u32,
    },
    /// The step budget ran out before Claude finished.
    StepBudgetExhausted {
        /// The budget.
        max_steps: u32,
    },
    /// The token budget ran out before Claude finished.
    TokenBudgetExhausted {
        /// Tokens used.
        used: u64,
        /// The budget.
        max: u64,
    },
    /// The API returned a `stop_reason` this version does not know; the loop does not guess.
    UnknownStopReason {
        /// The value received.
        reason: String,
    },
    /// The API call failed and was not (or no longer) retried.
    Failed {
        /// HTTP status, when there was a response.
        status: Option<u16>,
        /// The error type (`invalid_request_error`, `overloaded_error`, `transport`, …).
        error_type: String,
        /// The API's `error.message`, or a description of the transport failure.
        message: String,
        /// The `request-id` header, for support.
        request_id: Option<String>,
    },
    /// The run was cancelled (ctrl-c).
    Cancelled,
}

impl Outcome {
    /// Whether the task ran to Claude's own end.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Completed)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Completed => write!(f, "completed"),
            Outcome::Refused => write!(
                f,
                "Claude declined this request (stop_reason refusal); rephrase the task or check it \
                 is something the model may help with"
            ),
            Outcome::ContextWindowExceeded => write!(
                f,
                "the conversation filled the model's context window and the last response is \
                 truncated; narrow the task or lower the tool result budget"
            ),
            Outcome::OutputTruncated { max_tokens } => write!(
                f,
                "a response was cut off at max_tokens ({max_tokens}) in the middle of a tool call \
                 and could not be completed; raise the max_tokens limit"
            ),
            Outcome::StepBudgetExhausted { max_steps } => write!(
                f,
                "stopped after the step budget of {max_steps} model calls before the task was \
                 finished; raise --max-steps or narrow the task"
            ),
            Outcome::TokenBudgetExhausted { used, max } => write!(
                f,
                "stopped after using {used} tokens, over the budget of {max}, before the task \
                 was finished; raise the token budget or narrow the task"
            ),
            Outcome::UnknownStopReason { reason } => write!(
                f,
                "the API stopped with an unknown stop_reason `{reason}`; the run ended rather \
                 than guess how to continue (a newer switchboard may handle it)"
            ),
            Outcome::Failed {
                status,
                error_type,
                message,
                request_id,
            } => {
                write!(f, "the Anthropic API call failed")?;
                if let Some(status) = status {
                    write!(f, " with HTTP {status}")?;
                }
                write!(f, " ({error_type}): {message}")?;
                if let Some(id) = request_id {
                    write!(f, " [request-id {id}]")?;
                }
                Ok(())
            }
            Outcome::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// What a run did and cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// How it ended.
    pub outcome: Outcome,
    /// Model calls that returned a message.
    pub steps: u32,
    /// Tool calls made.
    pub tool_calls: u32,
    /// Tool calls that returned `is_error`.
    pub tool_errors: u32,
    /// Tokens summed over every step.
    pub usage: Usage,
    /// Wall-clock time of the run in milliseconds.
    pub wall_ms: u64,
    /// Claude's text from the last response.
    pub final_text: String,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &self.usage;
        write!(
            f,
            "{} step{} · {} tool call{}",
            self.steps,
            plural(u64::from(self.steps)),
            self.tool_calls,
            plural(u64::from(self.tool_calls))
        )?;
        if self.tool_errors > 0 {
            write!(f, " ({} failed)", self.tool_errors)?;
        }
        write!(
            f,
            " · tokens in {} / out {} / cache read {} / cache write {} · {:.1}s",
            u.input_tokens,
            u.output_tokens,
            u.cache_read_input_tokens,
            u.cache_creation_input_tokens,
            self.wall_ms as f64 / 1000.0
        )
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line() {
        let summary = RunSummary {
            outcome: Outcome::Completed,
            steps: 1,
            tool_calls: 3,
            tool_errors: 1,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 20,
                cache_creation_input_tokens: 30,
                cache_read_input_tokens: 40,
            },
            wall_ms: 1234,
            final_text: String::new(),
        };
        assert_eq!(
            summary.to_string(),
            "1 step · 3 tool calls (1 failed) · tokens in 10 / out 20 / cache read 40 / cache \
             write 30 · 1.2s"
        );
    }

    #[test]
    fn failure_names_status_and_request() {
        let outcome = Outcome::Failed {
            status: Some(400),
            error_type: "invalid_request_error".into(),
            message: "max_tokens: Field required".into(),
            request_id: Some("req_1".into()),
        };
        assert_eq!(
            outcome.to_string(),
            "the Anthropic API call failed with HTTP 400 (invalid_request_error): max_tokens: \
             Field required [request-id req_1]"
        );
    }
}
