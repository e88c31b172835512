//! The tool-use loop: send the conversation, act on the `stop_reason`, run the requested tools,
//! send their results, until Claude finishes or a budget runs out.
//!
//! Stop reasons: `end_turn` and `stop_sequence` finish; `tool_use` runs the tools and continues;
//! `max_tokens` in the middle of a tool call repeats the request with twice the room (up to the
//! ceiling), otherwise the partial answer is kept and Claude continues it; `pause_turn` keeps the
//! paused content and repeats the request, as documented; `refusal` and
//! `model_context_window_exceeded` end with an explanation; anything else ends the loop.
//!
//! A continued turn (after `pause_turn` or a text `max_tokens`) ends the request with the partial
//! assistant message, and the next response is appended to that same message, so the conversation
//! keeps strictly alternating roles.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::client::{ApiFailure, MessagesClient};
use crate::config::{AgentConfig, ConfigError};
use crate::events::{AgentEvent, EventSink};
use crate::host::{Approver, HostError, RememberingApprover, ToolHost, ToolSpec};
use crate::messages::{
    ApiMessage, ContentBlock, KnownBlock, Message, MessagesRequest, Role, TOOL_SEARCH_BETA,
    ToolParam, Usage, ephemeral, system_blocks, wire_messages,
};
use crate::sse::is_tool_use;
use crate::summary::{Outcome, RunSummary};
use crate::tools::{ToolCall, ToolRunner};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client for the Anthropic API: {0}")]
    HttpClient(String),
    /// The host could not list its tools.
    #[error("cannot list the tools to offer: {0}")]
    Catalog(#[from] HostError),
    /// The host's catalog would be rejected by the API.
    #[error("the tool catalog cannot be offered to the model: {0}")]
    InvalidCatalog(String),
}

/// Runs tasks with one configuration.
pub struct Agent {
    config: AgentConfig,
    client: MessagesClient,
}

/// The mutable state of one run.
struct RunState {
    messages: Vec<Message>,
    steps: u32,
    tool_calls: u32,
    tool_errors: u32,
    usage: Usage,
    max_tokens: u32,
    /// The last message is a partial assistant turn the next response continues.
    continuing: bool,
}

/// What to do after a response.
enum Next {
    Request,
    RunTools(Vec<ToolCall>),
    Stop(Outcome),
}

impl Agent {
    /// An agent for `config`.
    ///
    /// # Errors
    /// [`AgentError::HttpClient`] when the HTTP client cannot be built.
    pub fn new(config: AgentConfig) -> Result<Self, AgentError> {
        let client = MessagesClient::new(&config).map_err(AgentError::HttpClient)?;
        Ok(Self { config, client })
    }

    /// The configuration in use.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Runs `task` to its end and reports everything to `sink`, ending with
    /// [`AgentEvent::Finished`]. API failures end the run with [`Outcome::Failed`] in the summary.
    ///
    /// # Errors
    /// [`AgentError::Catalog`] or [`AgentError::InvalidCatalog`] when the host's tools cannot be
    /// listed or offered; nothing has been sent to the API then.
    #[tracing::instrument(
        name = "agent_run",
        skip_all,
        fields(model = %self.config.model, otel.name = "invoke_agent switchboard", otel.kind = "internal")
    )]
    pub async fn run(
        &self,
        task: &str,
        host: &dyn ToolHost,
        approver: Arc<dyn Approver>,
        sink: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<RunSummary, AgentError> {
        let started = Instant::now();
        // One task is one trace: this span is its root, the model's requests and every tool
        // call (and through the gateway, each server's work) are its children.
        if switchboard_telemetry::enabled() {
            let span = tracing::Span::current();
            switchboard_telemetry::attribute(&span, "gen_ai.operation.name", "invoke_agent");
            switchboard_telemetry::attribute(&span, "gen_ai.agent.name", "switchboard");
            switchboard_telemetry::attribute(
                &span,
                "gen_ai.request.model",
                self.config.model.clone(),
            );
        }
        let specs = host.tools().await?;
        let tools = tool_params(&specs, host.defers(specs.len()))?;
        let approver: Arc<dyn Approver> = Arc::new(RememberingApprover::new(approver));
        let runner = ToolRunner {
            host,
            approver,
            sink,
            known: specs.iter().map(|s| s.name.clone()).collect(),
            concurrency: self.config.tool_concurrency,
            budget: self.config.result_budget_bytes,
        };
        sink.event(&AgentEvent::RunStarted {
            model: self.config.model.clone(),
            task: task.to_string(),
            tools: specs.iter().map(|s| s.name.clone()).collect(),
        });
        let mut state = RunState {
            messages: vec![Message::user_text(task)],
            steps: 0,
            tool_calls: 0,
            tool_errors: 0,
            usage: Usage::default(),
            max_tokens: self.config.max_tokens,
            continuing: false,
        };
        sink.event(&AgentEvent::Message {
            message: state.messages[0].clone(),
        });
        let outcome = self.drive(&mut state, &tools, &runner, sink, cancel).await;
        let summary = RunSummary {
            outcome,
            steps: state.steps,
            tool_calls: state.tool_calls,
            tool_errors: state.tool_errors,
            usage: state.usage,
            wall_ms: started.elapsed().as_millis() as u64,
            final_text: final_text(&state.messages),
        };
        sink.event(&AgentEvent::Finished {
            summary: summary.clone(),
        });
        Ok(summary)
    }

    async fn drive(
        &self,
        state: &mut RunState,
        tools: &[ToolParam],
        runner: &ToolRunner<'_>,
        sink: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Outcome {
        loop {
            if cancel.is_cancelled() {
                return Outcome::Cancelled;
            }
            if let Some(outcome) = self.budget_spent(state) {
                return outcome;
            }
            let request = self.request(state, tools);
            let span = self.chat_span();
            let created = self
                .client
                .create(&request, sink, cancel)
                .instrument(span.clone())
                .await;
            if switchboard_telemetry::enabled() {
                trace_response(&span, &created);
            }
            let response = match created {
                Ok(response) => response,
                Err(failure) => return failed(failure),
            };
            state.steps += 1;
            state.usage.add(&response.usage);
            sink.event(&AgentEvent::Usage {
                step: state.steps,
                usage: response.usage,
                total: state.usage,
            });
            match self.after_response(state, response, sink) {
                Next::Request => {}
                Next::Stop(outcome) => return outcome,
                Next::RunTools(calls) => {
                    if let Some(outcome) = self.budget_spent(state) {
                        return outcome;
                    }
                    state.tool_calls += calls.len() as u32;
                    let batch = tokio::select! {
                        batch = runner.run(calls) => batch,
                        () = cancel.cancelled() => return Outcome::Cancelled,
                    };
                    state.tool_errors += batch.errors;
                    sink.event(&AgentEvent::Message {
                        message: batch.message.clone(),
                    });
                    state.messages.push(batch.message);
                }
            }
        }
    }

    /// The client span of one request to the model (OpenTelemetry's GenAI conventions).
    fn chat_span(&self) -> tracing::Span {
        if !switchboard_telemetry::enabled() {
            return tracing::Span::none();
        }
        let model = &self.config.model;
        let span = tracing::info_span!(
            "chat",
            otel.name = %format_args!("chat {model}"),
            otel.kind = "client",
        );
        switchboard_telemetry::attribute(&span, "gen_ai.operation.name", "chat");
        switchboard_telemetry::attribute(&span, "gen_ai.provider.name", "anthropic");
        switchboard_telemetry::attribute(&span, "gen_ai.request.model", model.clone());
        span
    }

    fn budget_spent(&self, state: &RunState) -> Option<Outcome> {
        if state.steps >= self.config.max_steps {
            return Some(Outcome::StepBudgetExhausted {
                max_steps: self.config.max_steps,
            });
        }
        match self.config.max_total_tokens {
            Some(max) if state.usage.total() >= max => Some(Outcome::TokenBudgetExhausted {
                used: state.usage.total(),
                max,
            }),
            _ => None,
        }
    }

    fn request(&self, state: &mut RunState, tools: &[ToolParam]) -> MessagesRequest {
        if state.continuing {
            trim_prefill(&mut state.messages);
        }
        MessagesRequest {
            model: self.config.model.clone(),
            max_tokens: state.max_tokens,
            system: system_blocks(&self.config.system),
            tools: tools.to_vec(),
            messages: wire_messages(&state.messages, self.config.cache_conversation),
            stream: self.config.stream,
            betas: if tools.iter().any(|t| t.defer_loading) {
                vec![TOOL_SEARCH_BETA]
            } else {
                Vec::new()
            },
        }
    }

    fn after_response(
        &self,
        state: &mut RunState,
        response: ApiMessage,
        sink: &dyn EventSink,
    ) -> Next {
        let reason = response.stop_reason.clone().unwrap_or_default();
        if reason == "max_tokens" && response.content.last().is_some_and(is_tool_use) {
            return self.more_room(state, sink);
        }
        record(state, response.content, sink);
        match reason.as_str() {
            "end_turn" | "stop_sequence" => Next::Stop(Outcome::Completed),
            "tool_use" => {
                let calls = pending_calls(&state.messages);
                if calls.is_empty() {
                    return Next::Stop(Outcome::UnknownStopReason {
                        reason: "tool_use without any tool_use block".into(),
                    });
                }
                Next::RunTools(calls)
            }
            "max_tokens" => {
                notice(
                    sink,
                    "the response reached max_tokens; asking Claude to continue it",
                );
                state.continuing = true;
                Next::Request
            }
            "pause_turn" => {
                notice(sink, "Claude paused a long turn; resuming it");
                state.continuing = true;
                Next::Request
            }
            "refusal" => Next::Stop(Outcome::Refused),
            "model_context_window_exceeded" => Next::Stop(Outcome::ContextWindowExceeded),
            _ => Next::Stop(Outcome::UnknownStopReason {
                reason: if reason.is_empty() {
                    "(none)".into()
                } else {
                    reason
                },
            }),
        }
    }

    /// A response cut off inside a tool call: discard it and ask again with more room.
    fn more_room(&self, state: &mut RunState, sink: &dyn EventSink) -> Next {
        let ceiling = self.config.max_tokens_ceiling;
        if state.max_tokens >= ceiling {
            return Next::Stop(Outcome::OutputTruncated {
                max_tokens: state.max_tokens,
            });
        }
        state.max_tokens = state.max_tokens.saturating_mul(2).min(ceiling);
        notice(
            sink,
            &format!(
                "a tool call was cut off at max_tokens; repeating the request with max_tokens {}",
                state.max_tokens
            ),
        );
        Next::Request
    }
}

/// Adds a response's content to the conversation: a new assistant message, or the continuation
/// of the partial one.
fn record(state: &mut RunState, content: Vec<ContentBlock>, sink: &dyn EventSink) {
    let continuing = std::mem::take(&mut state.continuing);
    let event = Message {
        role: Role::Assistant,
        content: content.clone(),
    };
    match state.messages.last_mut() {
        Some(last) if continuing && last.role == Role::Assistant => last.content.extend(content),
        _ if content.is_empty() => {}
        _ => state.messages.push(event.clone()),
    }
    sink.event(&AgentEvent::Message { message: event });
}

/// The final assistant message must not end with whitespace when it is sent as a prefill.
fn trim_prefill(messages: &mut [Message]) {
    let Some(last) = messages.last_mut().filter(|m| m.role == Role::Assistant) else {
        return;
    };
    if let Some(ContentBlock::Known(KnownBlock::Text { text })) = last.content.last_mut() {
        text.truncate(text.trim_end().len());
        if text.is_empty() {
            last.content.pop();
        }
    }
}

/// The `tool_use` blocks of the last assistant message.
fn pending_calls(messages: &[Message]) -> Vec<ToolCall> {
    messages
        .last()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| {
            m.content
                .iter()
                .filter_map(ContentBlock::as_tool_use)
                .map(|(id, name, input)| ToolCall {
                    id: id.to_string(),
                    name: name.to_string(),
                    input: input.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn final_text(messages: &[Message]) -> String {
    messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .map(|m| m.content.iter().filter_map(ContentBlock::as_text).collect())
        .unwrap_or_default()
}

fn notice(sink: &dyn EventSink, message: &str) {
    sink.event(&AgentEvent::Notice {
        message: message.to_string(),
    });
}

fn failed(failure: ApiFailure) -> Outcome {
    if failure.error_type == "cancelled" {
        return Outcome::Cancelled;
    }
    Outcome::Failed {
        status: failure.status,
        error_type: failure.error_type,
        message: failure.message,
        request_id: failure.request_id,
    }
}

/// The request's `tools`, checked as the API would check them, with a cache breakpoint on the
/// last one (the catalog never changes during a run, so it stays cached). With `deferred`, every
/// tool is sent with `defer_loading` after the API's tool search tool: the model loads the
/// definitions it finds instead of reading them all.
fn tool_params(specs: &[ToolSpec], deferred: bool) -> Result<Vec<ToolParam>, AgentError> {
    let mut seen = HashSet::new();
    let mut tools = Vec::with_capacity(specs.len() + 1);
    if deferred {
        tools.push(ToolParam::tool_search());
    }
    for spec in specs {
        if !valid_tool_name(&spec.name) {
            return Err(AgentError::InvalidCatalog(format!(
                "tool name `{}` does not match ^[a-zA-Z0-9_-]{{1,64}}$",
                spec.name
            )));
        }
        if !seen.insert(spec.name.as_str()) {
            return Err(AgentError::InvalidCatalog(format!(
                "tool name `{}` appears twice",
                spec.name
            )));
        }
        if spec.input_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(AgentError::InvalidCatalog(format!(
                "the input schema of `{}` is not of type object",
                spec.name
            )));
        }
        tools.push(ToolParam {
            kind: None,
            name: spec.name.clone(),
            description: spec.description.clone(),
            input_schema: spec.input_schema.clone(),
            defer_loading: deferred,
            cache_control: None,
        });
    }
    if let Some(last) = tools.last_mut() {
        last.cache_control = Some(ephemeral());
    }
    Ok(tools)
}

/// Whether `name` matches `^[a-zA-Z0-9_-]{1,64}$`.
pub fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What the model answered, on its request's span: tokens, why it stopped, or the failure.
fn trace_response(span: &tracing::Span, created: &Result<ApiMessage, ApiFailure>) {
    use switchboard_telemetry::attribute;
    match created {
        Ok(response) => {
            let usage = &response.usage;
            let input = usage.input_tokens
                + usage.cache_creation_input_tokens
                + usage.cache_read_input_tokens;
            attribute(
                span,
                "gen_ai.usage.input_tokens",
                i64::try_from(input).unwrap_or(i64::MAX),
            );
            attribute(
                span,
                "gen_ai.usage.output_tokens",
                i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
            );
            if let Some(reason) = &response.stop_reason {
                attribute(span, "gen_ai.response.finish_reasons", reason.clone());
            }
        }
        Err(failure) => switchboard_telemetry::error(span, failure.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, schema: Value) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: "d".into(),
            input_schema: schema,
            needs_approval: false,
        }
    }

    #[test]
    fn catalog_is_checked_and_last_tool_cached() {
        let object = json!({"type": "object"});
        let tools = tool_params(
            &[spec("a", object.clone()), spec("b-c_1", object.clone())],
            false,
        )
        .unwrap();
        assert_eq!(tools[0].cache_control, None);
        assert_eq!(tools[1].cache_control, Some(ephemeral()));
        assert!(tool_params(&[spec("a.b", object.clone())], false).is_err());
        assert!(tool_params(&[spec("a", object.clone()), spec("a", object)], false).is_err());
        assert!(tool_params(&[spec("a", json!({"type": "string"}))], false).is_err());
        assert!(!valid_tool_name(&"x".repeat(65)));
        assert!(!valid_tool_name(""));
    }

    #[test]
    fn prefill_loses_trailing_whitespace() {
        let mut messages = vec![
            Message::user_text("q"),
            Message {
                role: Role::Assistant,
                content: vec![ContentBlock::text("partial answer \n")],
            },
        ];
        trim_prefill(&mut messages);
        assert_eq!(messages[1].content[0].as_text(), Some("partial answer"));
        messages[1].content.push(ContentBlock::text("  "));
        trim_prefill(&mut messages);
        assert_eq!(messages[1].content.len(), 1);
    }
}
