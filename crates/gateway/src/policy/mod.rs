//! The policy pipeline every tool call goes through, one small layer per file, stacked in one
//! place ([`Pipeline::new`]). A layer either answers the call itself (a refusal is an ordinary
//! [`Outcome`], never a panic or a lost error) or passes it to the next one. The last stage is
//! not a layer but its own slot, [`limits::Limits`]: it bounds the call (time budget, the
//! upstream's concurrency) and makes it, so no layer can skip it.

pub mod approval;
pub(crate) mod audit;
pub(crate) mod authorize;
pub(crate) mod limits;
pub mod queue;
pub(crate) mod queue_store;
pub mod rate_limit;
pub(crate) mod slack;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, ContentBlock, CreateTaskResult, ErrorData, InputRequiredResult, InputResponses,
    JsonObject,
};
use tokio::time::Instant;

use crate::caller::Caller;
use crate::catalog::CatalogTool;
use crate::upstream::Relay;
use crate::upstream::Upstream;

/// One tool call on its way through the pipeline.
#[derive(Clone)]
pub struct ToolCall {
    /// Who is calling.
    pub caller: Caller,
    /// The name the caller used.
    pub exposed: String,
    /// The catalog entry, when the name is known.
    pub tool: Option<Arc<CatalogTool>>,
    /// The upstream that would serve it, when known (by catalog entry or by prefix).
    pub(crate) upstream: Option<Arc<Upstream>>,
    /// The tool's name on the upstream.
    pub upstream_name: String,
    /// The arguments.
    pub arguments: JsonObject,
    /// Answers to an earlier `input_required` result (2026-07-28 clients).
    pub input_responses: Option<InputResponses>,
    /// The `requestState` echoed from an earlier `input_required` result.
    pub request_state: Option<String>,
    /// When the call arrived.
    pub received: Instant,
    /// The client end, when an MCP client sent the call: what the upstream sends while serving
    /// it (progress, log messages, requests) goes back through it.
    pub(crate) relay: Option<Arc<Relay>>,
    /// Cancelled when the caller no longer wants the call (the relay's, for a client's call).
    pub(crate) cancelled: tokio_util::sync::CancellationToken,
    /// An operator's answer to this call, when it waited in the approval queue (shared by the
    /// call's clones, so the audit stage sees what the approval layer set).
    pub(crate) decided: Arc<std::sync::OnceLock<queue::ApprovalNote>>,
}

impl ToolCall {
    /// The upstream server's name, if known.
    pub fn server(&self) -> Option<&str> {
        self.upstream.as_ref().map(|u| u.name.as_str())
    }
}

/// How a call ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The upstream answered (possibly with `isError: true`, a tool error).
    Completed(CallToolResult),
    /// A layer refused the call.
    Refused {
        /// The layer (`authorize`, `rate_limit`, `approval`, `limits`, `audit`).
        layer: &'static str,
        /// Why, for the caller.
        message: String,
    },
    /// The call did not finish within its time limit.
    Timeout(Duration),
    /// The upstream is down, or died mid-call.
    UpstreamFailed(String),
    /// The upstream answered with a JSON-RPC error; an MCP client gets that error as it is.
    Rejected {
        /// The upstream server.
        server: String,
        /// Its error.
        error: ErrorData,
    },
    /// The caller must answer an elicitation and retry (2026-07-28 approval).
    InputRequired(Box<InputRequiredResult>),
    /// The upstream took the call as a task (the Tasks extension, for a client that declared
    /// it): the client follows it with `tasks/get`, which the gateway routes back there.
    Task {
        /// The upstream server that holds the task.
        server: String,
        /// The task as the upstream created it.
        task: Box<CreateTaskResult>,
    },
    /// No tool of that name exists for anyone (answered before the layers; audited).
    Unknown(String),
}

impl Outcome {
    /// A refusal by `layer`.
    pub fn refused(layer: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            layer,
            message: message.into(),
        }
    }

    /// The JSON-RPC error an MCP client gets instead of a result, if any: the upstream's own
    /// error, or invalid params for a tool that does not exist for the caller (the specification
    /// lists unknown tools among protocol errors) — unknown and hidden alike.
    pub fn protocol_error(&self) -> Option<ErrorData> {
        match self {
            Self::Rejected { error, .. } => Some(error.clone()),
            Self::Unknown(message)
            | Self::Refused {
                layer: authorize::LAYER,
                message,
            } => Some(ErrorData::invalid_params(message.clone(), None)),
            _ => None,
        }
    }

    /// The result returned to the caller. Everything but a completed call becomes an
    /// `isError: true` result whose text says what happened and what to do.
    pub fn into_result(self) -> CallToolResult {
        match self {
            Self::Completed(result) => result,
            other => other.to_result(),
        }
    }

    /// The result returned to the caller. Everything but a completed call becomes an
    /// `isError: true` result whose text says what happened and what to do.
    pub fn to_result(&self) -> CallToolResult {
        match self {
            Self::Completed(result) => result.clone(),
            Self::Refused { message, .. } => error_result(message.clone()),
            Self::Timeout(after) => error_result(format!(
                "the call did not finish within {}s and was abandoned; try again, or with a \
                 smaller request",
                after.as_secs_f64()
            )),
            Self::UpstreamFailed(message) => error_result(message.clone()),
            Self::Rejected { server, error } => error_result(format!(
                "server {server} rejected the request: {}",
                error.message
            )),
            Self::Unknown(message) => error_result(message.clone()),
            Self::InputRequired(_) => error_result(
                "this call needs approval; answer the approval request and call again".to_owned(),
            ),
            Self::Task { server, .. } => error_result(format!(
                "server {server} took the call as a task, which this client cannot follow; call \
                 again declaring the tasks extension"
            )),
        }
    }
}

fn error_result(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// One stage of the pipeline.
pub trait Layer: Send + Sync {
    /// Handles `call`, passing it on with `next.run(call)` when this layer lets it through.
    fn call<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, Outcome>;
}

/// The end of the pipeline, after every layer: [`limits::Limits`], which bounds the upstream
/// call and makes it.
pub(crate) trait Terminal: Send + Sync {
    fn invoke(&self, call: ToolCall) -> BoxFuture<'_, Outcome>;
}

/// The rest of the pipeline after the current layer.
pub struct Next<'a> {
    layers: &'a [Arc<dyn Layer>],
    last: &'a dyn Terminal,
}

impl<'a> Next<'a> {
    /// Runs the remaining layers and then the last stage.
    pub fn run(self, call: ToolCall) -> BoxFuture<'a, Outcome> {
        match self.layers.split_first() {
            Some((layer, rest)) => layer.call(
                call,
                Next {
                    layers: rest,
                    last: self.last,
                },
            ),
            None => self.last.invoke(call),
        }
    }
}

/// The audit stage around the ordered layers, then the last stage.
pub(crate) struct Pipeline {
    audit: audit::AuditLayer,
    layers: Vec<Arc<dyn Layer>>,
    last: limits::Limits,
    /// The approval layer again, for what it has waiting.
    approval: Arc<approval::ApprovalLayer>,
}

/// The parts the pipeline is built from.
pub(crate) struct Parts {
    pub(crate) audit: audit::AuditLayer,
    pub(crate) authorize: authorize::Authorize,
    pub(crate) rate_limit: rate_limit::RateLimit,
    pub(crate) approval: approval::ApprovalLayer,
    pub(crate) limits: limits::Limits,
}

impl Pipeline {
    /// The one place the order is decided:
    ///
    /// 1. audit — wraps everything after it, so every outcome is recorded (including a refusal
    ///    by any layer, with the layer's name); the record is written and flushed before the
    ///    result goes back. Logically it is the last stage: it records what the others decided.
    /// 2. authorize — the caller's allow/deny scopes; hidden tools do not exist for it.
    /// 3. rate limit — per tool, per client, per (client, tool) token buckets.
    /// 4. approval — destructive or `approval = "required"` tools need a human's yes.
    ///
    /// Then, always and last: limits — per-tool timeout and per-upstream concurrency, then the
    /// upstream call ([`crate::upstream::Upstream::call_tool`]).
    pub(crate) fn new(parts: Parts) -> Self {
        let Parts {
            audit,
            authorize,
            rate_limit,
            approval,
            limits,
        } = parts;
        let approval = Arc::new(approval);
        Self {
            audit,
            layers: vec![Arc::new(authorize), Arc::new(rate_limit), approval.clone()],
            last: limits,
            approval,
        }
    }

    /// Approval requests waiting for a person.
    /// The approval layer (its queue, what it has waiting).
    pub(crate) fn approval(&self) -> &approval::ApprovalLayer {
        &self.approval
    }

    pub(crate) fn approvals_waiting(&self) -> usize {
        self.approval.waiting()
    }

    /// Runs `call` through every layer.
    pub(crate) async fn run(&self, call: ToolCall) -> Outcome {
        let next = Next {
            layers: &self.layers,
            last: &self.last,
        };
        self.audit.call(call, next).await
    }

    /// Audits and refuses a call of a tool its pin withholds (no layer sees it).
    pub(crate) async fn withheld(&self, call: &ToolCall, reason: String) -> Outcome {
        self.answer(call, Outcome::refused(crate::pins::LAYER, reason))
            .await
    }

    /// Audits a call the gateway answers itself (a tool search, or a malformed call of a meta
    /// tool), and returns `outcome`.
    pub(crate) async fn answer(&self, call: &ToolCall, outcome: Outcome) -> Outcome {
        self.audit.finish(call, outcome, call.received).await
    }

    /// Audits a call of a tool that does not exist (no layer sees it) and answers it.
    pub(crate) async fn unknown(&self, call: &ToolCall) -> Outcome {
        let message = authorize::unknown_tool(&call.exposed, &call.caller.client);
        self.audit
            .finish(call, Outcome::Unknown(message), call.received)
            .await
    }
}
