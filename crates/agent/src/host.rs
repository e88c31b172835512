//! The agent's only view of the tools: a [`ToolHost`] that lists them and runs one call through its
//! own policy, and an [`Approver`] the host asks when its policy wants a human to allow a call.
//!
//! The gateway implements `ToolHost` (catalog = its aggregated tools, `call` = its policy
//! pipeline); tests implement it directly. Approvals stay with the host because the host's policy
//! decides which calls need one; the agent supplies the approver (terminal prompt, auto-yes) and
//! remembers "always" answers per tool through [`RememberingApprover`]. [`Approver`],
//! [`Decision`] and [`ApprovalRequest`] are the gateway's, so the gateway's approval layer asks
//! the agent's approver directly.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use switchboard_gateway::{ApprovalRequest, Approver, Decision};

/// A tool offered to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name matching `^[a-zA-Z0-9_-]{1,64}$` (gateway names are `<server>__<tool>`).
    pub name: String,
    /// Description written for the model: what the tool does and its limits.
    pub description: String,
    /// JSON Schema of the arguments; its `type` must be `object`.
    pub input_schema: Value,
    /// Whether the host's policy will ask the [`Approver`] before running it (shown to the user).
    #[serde(default)]
    pub needs_approval: bool,
}

/// The result of one tool call, as the model will see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOutcome {
    /// Text or JSON text of the result, or the error message when `is_error`.
    pub content: String,
    /// Whether the call failed, was refused by policy or was denied by the user.
    pub is_error: bool,
}

impl ToolOutcome {
    /// A successful result.
    pub fn ok(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
        }
    }

    /// A failed call with a message the model can act on.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: message.into(),
            is_error: true,
        }
    }

    /// The result for a call the approver refused: tells the model why, and not to insist.
    pub fn denied(tool: &str, reason: &str) -> Self {
        Self::error(format!(
            "The call to `{tool}` was not run: {reason}. Do not retry it; continue without it or \
             explain to the user what you wanted to do and why."
        ))
    }
}

/// Why a host could not produce its catalog.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// The tools the agent may use, and the policy that runs them.
pub trait ToolHost: Send + Sync {
    /// The catalog offered to the model. Called once per run, so the list stays identical between
    /// turns (which keeps the prompt cache valid).
    ///
    /// # Errors
    /// [`HostError`] when the catalog cannot be assembled (an upstream server is down, …).
    fn tools(&self) -> BoxFuture<'_, Result<Vec<ToolSpec>, HostError>>;

    /// Whether a catalog of `tools` tools is sent deferred, behind the API's tool search tool
    /// (the host's threshold); by default never.
    fn defers(&self, tools: usize) -> bool {
        let _ = tools;
        false
    }

    /// Runs one call through the host's policy. Every failure — unknown tool, bad arguments,
    /// policy refusal, denied approval, upstream error — is an outcome with `is_error: true`.
    /// When the policy wants a human to allow the call, the host asks `approver` first and, on
    /// [`Decision::Deny`], returns [`ToolOutcome::denied`] (or its own refusal) without running
    /// it. The approver is shared (`Arc`) so a host can hand it to its own policy layers.
    fn call<'a>(
        &'a self,
        name: &'a str,
        input: Value,
        approver: Arc<dyn Approver>,
    ) -> BoxFuture<'a, ToolOutcome>;
}

/// Approves every call (`--yes`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AutoApprover;

impl Approver for AutoApprover {
    fn approve<'a>(&'a self, _request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async { Decision::Allow })
    }
}

/// Wraps an approver: asks one question at a time (calls run concurrently, prompts must not
/// interleave) and remembers "always" answers for the rest of the run.
pub struct RememberingApprover {
    inner: Arc<dyn Approver>,
    always: Mutex<HashSet<String>>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl RememberingApprover {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Approver>) -> Self {
        Self {
            inner,
            always: Mutex::new(HashSet::new()),
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    fn remembered(&self, tool: &str) -> bool {
        self.always
            .lock()
            .map(|set| set.contains(tool))
            .unwrap_or(false)
    }
}

impl Approver for RememberingApprover {
    fn approve<'b>(&'b self, request: &'b ApprovalRequest) -> BoxFuture<'b, Decision> {
        Box::pin(async move {
            let tool = request.tool.as_str();
            if self.remembered(tool) {
                return Decision::Allow;
            }
            let _turn = self.one_at_a_time.lock().await;
            // Another call of the same tool may have been answered "always" while this one waited.
            if self.remembered(tool) {
                return Decision::Allow;
            }
            let decision = self.inner.approve(request).await;
            if decision == Decision::AlwaysAllow
                && let Ok(mut set) = self.always.lock()
            {
                set.insert(tool.to_string());
            }
            decision
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        asked: AtomicUsize,
        answer: Decision,
    }

    impl Approver for Counting {
        fn approve<'a>(&'a self, _request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
            Box::pin(async move {
                self.asked.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                self.answer.clone()
            })
        }
    }

    fn request(tool: &str) -> ApprovalRequest {
        ApprovalRequest {
            client: "agent".into(),
            tool: tool.into(),
            server: "test".into(),
            arguments: Value::Null,
        }
    }

    #[tokio::test]
    async fn always_is_remembered_per_tool() {
        let inner = Arc::new(Counting {
            asked: AtomicUsize::new(0),
            answer: Decision::AlwaysAllow,
        });
        let approver = RememberingApprover::new(inner.clone());
        let (x, y) = (request("x"), request("y"));
        let (a, b) = tokio::join!(approver.approve(&x), approver.approve(&x));
        assert!(a.allows() && b.allows());
        assert_eq!(approver.approve(&x).await, Decision::Allow);
        assert_eq!(inner.asked.load(Ordering::SeqCst), 1);
        approver.approve(&y).await;
        assert_eq!(inner.asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn plain_allow_and_deny_are_not_remembered() {
        let inner = Arc::new(Counting {
            asked: AtomicUsize::new(0),
            answer: Decision::Deny {
                reason: "no".into(),
            },
        });
        let approver = RememberingApprover::new(inner.clone());
        let x = request("x");
        assert!(!approver.approve(&x).await.allows());
        assert!(!approver.approve(&x).await.allows());
        assert_eq!(inner.asked.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn denial_tells_the_model_why() {
        let outcome = ToolOutcome::denied("jira__create_issue", "the user declined");
        assert!(outcome.is_error);
        assert!(outcome.content.contains("`jira__create_issue`"));
        assert!(outcome.content.contains("the user declined"));
    }
}
