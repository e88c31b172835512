//! Limits, the pipeline's last stage: each call gets a time budget (the tool's `timeout` from
//! `[tools]`, else its server's) covering the wait for a concurrency slot and the upstream call;
//! each upstream admits at most `max_concurrency` calls at once (the rest wait, within their
//! budget). Then it makes the call.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::{Outcome, Terminal, ToolCall};
use crate::config::ToolRule;

/// The limits stage.
pub(crate) struct Limits {
    pub(crate) rules: Vec<ToolRule>,
    /// Cancelled when the gateway starts shutting down.
    pub(crate) draining: tokio_util::sync::CancellationToken,
}

impl Limits {
    fn budget(&self, call: &ToolCall) -> Duration {
        budget(
            &self.rules,
            &call.exposed,
            call.upstream.as_ref().map(|u| u.server.config.timeout),
        )
    }
}

/// How long a call of `tool` may take: its rule's timeout, else its server's (`server`), else a
/// minute.
pub(crate) fn budget(rules: &[ToolRule], tool: &str, server: Option<Duration>) -> Duration {
    rules
        .iter()
        .find(|r| r.timeout.is_some() && r.pattern.matches(tool))
        .and_then(|r| r.timeout)
        .or(server)
        .unwrap_or(Duration::from_secs(60))
}

/// The span of a wait for one of `server`'s concurrency slots, when traces are exported.
fn slot_span(server: &str) -> tracing::Span {
    if !switchboard_telemetry::enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        target: switchboard_telemetry::EXPORTED_ONLY,
        "limits",
        otel.name = "limits",
        switchboard.policy.stage = "limits",
        switchboard.policy.decision = "wait_for_slot",
        server.address = server,
    )
}

impl Terminal for Limits {
    fn invoke(&self, call: ToolCall) -> BoxFuture<'_, Outcome> {
        Box::pin(async move {
            if self.draining.is_cancelled() {
                return Outcome::refused(
                    "limits",
                    "the gateway is shutting down and takes no new calls; retry in a moment",
                );
            }
            let budget = self.budget(&call);
            let deadline = Instant::now() + budget;
            let Some(upstream) = call.upstream.clone() else {
                return Outcome::refused("limits", "no upstream serves this tool");
            };
            // A call that must wait for a slot has a span covering the wait.
            let waiting = if upstream.semaphore.available_permits() == 0 {
                slot_span(&upstream.name)
            } else {
                tracing::Span::none()
            };
            let permit = match tokio::time::timeout_at(
                deadline,
                upstream.semaphore.clone().acquire_owned(),
            )
            .instrument(waiting)
            .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return Outcome::refused("limits", "the gateway is shutting down"),
                Err(_) => {
                    return Outcome::refused(
                        "limits",
                        format!(
                            "server {} is busy ({} calls in flight) and no slot freed within {}s; \
                             try again later",
                            upstream.name,
                            upstream.server.config.max_concurrency,
                            budget.as_secs_f64()
                        ),
                    );
                }
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let upstream_call = upstream.call_tool(call, remaining);
            let outcome = match tokio::time::timeout(remaining, upstream_call).await {
                Ok(outcome) => outcome,
                Err(_) => Outcome::Timeout(budget),
            };
            drop(permit);
            outcome
        })
    }
}
