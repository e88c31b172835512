//! The audit stage: records every call's outcome (refusals by any layer included) in the
//! hash-chained log before the result goes back. Arguments are redacted: fields whose names look
//! like credentials, fields listed in `[audit] redact`, and any known secret value anywhere.
//! If the record cannot be written, the result is withheld and the caller told why.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::JsonObject;
use serde_json::Value;
use tokio::time::Instant;

use super::{Layer, Next, Outcome, ToolCall};
use crate::audit::{AuditRecord, AuditSink};
use crate::secrets::{REDACTED, SecretSet};
use crate::telemetry::metrics::Metrics;

/// Argument field names (normalized: lowercase, without `_` and `-`) that are always redacted,
/// matched as a suffix: `api_key`, `db_password`, `x-auth-token`, …
const SENSITIVE_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "credentials",
    "privatekey",
    "cookie",
    "sessionkey",
];

/// Decides what to hide in audited arguments.
#[derive(Clone, Debug)]
pub(crate) struct Redactor {
    /// `(tool glob, field)` pairs from `[audit] redact`; a bare field applies to every tool.
    fields: Vec<(Option<glob::Pattern>, String)>,
    secrets: SecretSet,
}

impl Redactor {
    pub(crate) fn new(configured: &[String], secrets: SecretSet) -> Self {
        let fields = configured
            .iter()
            .map(|entry| match entry.rsplit_once('.') {
                Some((tool, field)) => (glob::Pattern::new(tool).ok(), field.to_owned()),
                None => (None, entry.clone()),
            })
            .collect();
        Self { fields, secrets }
    }

    fn sensitive(&self, tool: &str, key: &str) -> bool {
        let normalized: String = key
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        SENSITIVE_SUFFIXES.iter().any(|s| normalized.ends_with(s))
            || self.fields.iter().any(|(pattern, field)| {
                field == key && pattern.as_ref().is_none_or(|p| p.matches(tool))
            })
    }

    /// `value` with sensitive fields (at any depth) and known secrets replaced.
    pub(crate) fn redact(&self, tool: &str, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(self.redact_map(tool, map)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact(tool, v)).collect())
            }
            Value::String(s) => Value::String(self.secrets.scrub(s)),
            other => other.clone(),
        }
    }

    /// [`Self::redact`] of an object, without copying it first.
    fn redact_map(&self, tool: &str, map: &JsonObject) -> JsonObject {
        map.iter()
            .map(|(k, v)| {
                let v = if self.sensitive(tool, k) {
                    Value::String(REDACTED.to_owned())
                } else {
                    self.redact(tool, v)
                };
                (k.clone(), v)
            })
            .collect()
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        self.secrets.scrub(text)
    }
}

/// The audit layer.
pub(crate) struct AuditLayer {
    pub(crate) log: Option<Arc<AuditSink>>,
    /// `[audit] stream = "stdout"`: each call's record also goes to stdout as a JSON line.
    pub(crate) stream: bool,
    pub(crate) redactor: Redactor,
    pub(crate) metrics: Arc<Metrics>,
    /// Where each written record goes to whoever watches calls live.
    pub(crate) watchers: tokio::sync::broadcast::Sender<Arc<AuditRecord>>,
}

impl AuditLayer {
    fn record(&self, call: &ToolCall, outcome: &Outcome) -> AuditRecord {
        let (kind, layer, message) = match outcome {
            Outcome::Completed(r) if r.is_error == Some(true) => {
                ("tool_error", None, Some(first_text(r)))
            }
            Outcome::Completed(_) => ("ok", None, None),
            Outcome::Refused { layer, message } => {
                ("refused", Some((*layer).to_owned()), Some(message.clone()))
            }
            Outcome::Timeout(after) => ("timeout", None, Some(format!("after {after:?}"))),
            Outcome::UpstreamFailed(m) => ("upstream_error", None, Some(m.clone())),
            Outcome::Rejected { server, error } => (
                "upstream_error",
                None,
                Some(format!(
                    "server {server} rejected the request: {}",
                    error.message
                )),
            ),
            Outcome::Unknown(m) => ("unknown_tool", None, Some(m.clone())),
            Outcome::InputRequired(_) => (
                "input_required",
                Some("approval".to_owned()),
                Some("asked the client for approval".to_owned()),
            ),
            Outcome::Task { task, .. } => (
                "task",
                None,
                Some(format!("upstream task {}", task.task.task_id)),
            ),
        };
        let result_bytes = match outcome {
            Outcome::Completed(r) => serialized_len(r),
            Outcome::InputRequired(r) => serialized_len(r),
            Outcome::Task { task, .. } => serialized_len(task),
            other => serialized_len(&other.to_result()),
        };
        AuditRecord {
            seq: 0,
            replica: None,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            client: call.caller.client.clone(),
            user: call.caller.user.as_ref().map(|p| p.subject.clone()),
            user_name: call.caller.user.as_ref().and_then(|p| p.name.clone()),
            session: call.caller.session.clone(),
            tool: call.exposed.clone(),
            endpoint: call.caller.endpoint.as_ref().map(|e| e.name.clone()),
            server: call.server().map(str::to_owned),
            upstream_tool: call.upstream.as_ref().map(|_| call.upstream_name.clone()),
            arguments: Value::Object(self.redactor.redact_map(&call.exposed, &call.arguments)),
            outcome: kind.to_owned(),
            layer,
            message: message.map(|m| self.redactor.scrub(&m)),
            latency_ms: u64::try_from(call.received.elapsed().as_millis()).unwrap_or(u64::MAX),
            result_bytes,
            approval: call.decided.get().cloned(),
            prev: String::new(),
        }
    }
}

/// Writes `record` to stdout as one JSON line (a log collector's or SIEM's feed), whole lines
/// only: stdout is locked for the write.
fn stream(record: &AuditRecord) {
    use std::io::Write;
    let Ok(mut line) = serde_json::to_vec(record) else {
        return;
    };
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(&line).and_then(|()| out.flush()) {
        tracing::warn!(%error, "cannot stream the audit record to stdout");
    }
}

/// The size of `value` serialized as JSON, counted without building the text.
fn serialized_len(value: &impl serde::Serialize) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len() as u64;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(0, |()| count.0)
}

fn first_text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect()
}

/// The span of the stage that refused the call or cut it short, a child of the call's, named
/// after the stage (`authorize`, `rate_limit`, `limits`, `pins`, `audit`), with
/// `switchboard.policy.stage`, `switchboard.policy.decision` (`refused`, `timeout`) and an error
/// status saying why. It marks the moment of the decision: the stages' checks take microseconds,
/// and the waits there are (for a person, for a concurrency slot) have spans of their own —
/// the approval stage's is its whole account, so it gets none here.
fn decision_span(outcome: &Outcome, message: Option<&str>) {
    let (stage, decision) = match outcome {
        Outcome::Refused { layer, .. } if *layer != "approval" => (*layer, "refused"),
        Outcome::Timeout(_) => ("limits", "timeout"),
        _ => return,
    };
    let span = tracing::info_span!(
        target: switchboard_telemetry::EXPORTED_ONLY,
        "policy",
        otel.name = stage,
        switchboard.policy.stage = stage,
        switchboard.policy.decision = decision,
    );
    switchboard_telemetry::error(&span, message.unwrap_or_default().to_owned());
}

impl AuditLayer {
    /// Records `outcome` of `call` (logged, and appended to the audit log when there is one)
    /// and returns it — or a refusal when the record cannot be written.
    pub(crate) async fn finish(
        &self,
        call: &ToolCall,
        outcome: Outcome,
        started: Instant,
    ) -> Outcome {
        let record = self.record(call, &outcome);
        // With an audit log the record is the account of the call: the log line (one more
        // formatted write per call) is for debugging. Without one, it is the only account.
        let latency_ms = started.elapsed().as_millis() as u64;
        let layer = record.layer.as_deref().unwrap_or("");
        if self.log.is_some() {
            tracing::debug!(
                client = %record.client, tool = %record.tool, outcome = %record.outcome,
                layer, latency_ms, "tool call"
            );
        } else {
            tracing::info!(
                client = %record.client, tool = %record.tool, outcome = %record.outcome,
                layer, latency_ms, "tool call"
            );
        }
        if switchboard_telemetry::enabled() {
            // The call's span says how it ended and, for a refusal, which stage decided; that
            // stage has a span of its own beneath it.
            decision_span(&outcome, record.message.as_deref());
            let span = tracing::Span::current();
            switchboard_telemetry::attribute(&span, "switchboard.outcome", record.outcome.clone());
            if let Some(layer) = &record.layer {
                switchboard_telemetry::attribute(&span, "switchboard.decided_by", layer.clone());
            }
            if record.outcome != "ok" {
                switchboard_telemetry::attribute(&span, "error.type", record.outcome.clone());
                switchboard_telemetry::error(&span, record.message.clone().unwrap_or_default());
            }
        }
        let tool = if call.tool.is_some() {
            call.exposed.as_str()
        } else {
            ""
        };
        self.metrics.call(
            tool,
            call.server().unwrap_or_default(),
            &record.client,
            &record.outcome,
            record.layer.as_deref(),
            call.received.elapsed(),
        );
        let record = match &self.log {
            Some(log) => {
                let writing = std::time::Instant::now();
                let written = log.append(record).await;
                self.metrics.audit_write(writing.elapsed());
                match written {
                    Ok(record) => record,
                    Err(e) => {
                        tracing::error!(sink = %log.describe(), "cannot write the audit log: {e}");
                        return Outcome::refused(
                            "audit",
                            "the call's audit record could not be written, so its result is \
                             withheld; tell the gateway's operator",
                        );
                    }
                }
            }
            None => record,
        };
        if self.stream {
            stream(&record);
        }
        if self.watchers.receiver_count() > 0 {
            let _ = self.watchers.send(Arc::new(record));
        }
        outcome
    }
}

impl Layer for AuditLayer {
    fn call<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let started = Instant::now();
            let outcome = next.run(call.clone()).await;
            self.finish(&call, outcome, started).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sensitive_configured_and_secret_values() {
        let secrets = SecretSet::default();
        secrets.add("hunter2-value");
        let r = Redactor::new(&["jira__*.description".into(), "ssn".into()], secrets);
        let v = serde_json::json!({
            "api_key": "k", "nested": {"db_password": "p", "ssn": "1"},
            "description": "d", "note": "contains hunter2-value here", "max_tokens": 5
        });
        let out = r.redact("jira__create_issue", &v);
        assert_eq!(out["api_key"], REDACTED);
        assert_eq!(out["nested"]["db_password"], REDACTED);
        assert_eq!(out["nested"]["ssn"], REDACTED);
        assert_eq!(out["description"], REDACTED);
        assert_eq!(out["note"], "contains [REDACTED] here");
        assert_eq!(out["max_tokens"], 5);
        assert_eq!(r.redact("db__query", &v)["description"], "d");
    }

    #[test]
    fn result_bytes_are_the_serialized_size() {
        let result = rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(
            "héllo \"quoted\"",
        )]);
        let expected = serde_json::to_vec(&result).unwrap().len() as u64;
        assert_eq!(serialized_len(&result), expected);
    }
}
