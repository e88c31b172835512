//! A SaaS server's requests as metrics, counted only when the process serves them
//! (`switchboard_telemetry::metrics`): every attempt by host, method and status, and every retry
//! by reason. The host is the configured service's (one per server); paths, queries and bodies
//! are never labels.

use std::sync::OnceLock;

use prometheus::{IntCounterVec, Opts};

use crate::retry::Attempt;

struct Requests {
    attempts: IntCounterVec,
    retries: IntCounterVec,
}

fn requests() -> Option<&'static Requests> {
    static REQUESTS: OnceLock<Option<Requests>> = OnceLock::new();
    switchboard_telemetry::metrics::family(&REQUESTS, |registry| {
        let attempts = IntCounterVec::new(
            Opts::new(
                "switchboard_http_requests_total",
                "HTTP requests sent to the service (each attempt), by status; \
                 status=\"connect\" or \"failed\" when no response came",
            ),
            &["host", "method", "status"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "switchboard_http_retries_total",
                "Requests sent again, by why: rate_limited (429), server_error (5xx), connect, \
                 failed (timed out or broke after sending)",
            ),
            &["host", "reason"],
        )?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        Ok(Requests { attempts, retries })
    })
}

/// The label of an attempt's outcome: its status code, or what failed.
fn label(outcome: Attempt) -> std::borrow::Cow<'static, str> {
    match outcome {
        Attempt::Status { status, .. } => status.as_u16().to_string().into(),
        Attempt::ConnectFailed => "connect".into(),
        Attempt::SentButFailed => "failed".into(),
    }
}

/// One attempt sent to `host` with `method`, and how it ended.
pub(crate) fn attempt(host: &str, method: &str, outcome: Attempt) {
    if let Some(requests) = requests() {
        requests
            .attempts
            .with_label_values(&[host, method, &label(outcome)])
            .inc();
    }
}

/// A request to `host` about to be sent again after `outcome`.
pub(crate) fn retry(host: &str, outcome: Attempt) {
    let Some(requests) = requests() else {
        return;
    };
    let reason = match outcome {
        Attempt::Status { status, .. } if status.as_u16() == 429 => "rate_limited",
        Attempt::Status { .. } => "server_error",
        Attempt::ConnectFailed => "connect",
        Attempt::SentButFailed => "failed",
    };
    requests.retries.with_label_values(&[host, reason]).inc();
}
