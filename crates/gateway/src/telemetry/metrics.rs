//! The gateway's Prometheus metrics: one registry per gateway, counted where each fact is
//! decided (the audit stage for every call's outcome, the rate-limit layer for its buckets, the
//! supervisor for restarts), and read from the gateway's state at scrape time where the state is
//! the truth (upstream health, sessions, pending approvals).
//!
//! Labels are bounded by the configuration: tool names as the catalog exposes them (a name no
//! upstream serves is counted as `tool=""`), upstream and client names from the config, outcome
//! and layer from fixed lists, buckets by their configured rule. People, arguments and session
//! ids are never labels.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets (seconds) of a tool call: 100 µs to about 100 s.
const CALL_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5, 10.0, 100.0,
];
/// Latency buckets (seconds) of one audit write: 10 µs to 1 s.
const WRITE_BUCKETS: [f64; 10] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.01, 0.1, 1.0,
];

/// The state read at scrape time.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per upstream: name, whether it answers, whether its circuit is open, restarts so far.
    pub upstreams: Vec<(String, bool, bool, u64)>,
    /// Open sessions per era (`2025-11-25` HTTP sessions, `stdio` connections).
    pub sessions: Vec<(&'static str, usize)>,
    /// Approval requests waiting for a person.
    pub approvals_pending: usize,
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    duration: HistogramVec,
    refusals: IntCounterVec,
    rate_limited: IntCounterVec,
    audit_write: Histogram,
    upstream_up: IntGaugeVec,
    upstream_restarts: IntCounterVec,
    circuit_open: IntGaugeVec,
    sessions: IntGaugeVec,
    approvals_pending: IntGauge,
    reloads: IntCounterVec,
    secrets_stale: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered, and the process collector.
    ///
    /// # Panics
    /// Never: the metric definitions are fixed and valid (a duplicate would be a bug here).
    pub fn new() -> Self {
        let registry = Registry::new();
        let calls = IntCounterVec::new(
            Opts::new("switchboard_tool_calls_total", "Tool calls by outcome"),
            &["tool", "upstream", "client", "outcome"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "switchboard_tool_call_duration_seconds",
                "Tool call latency, from arrival to the audited outcome",
            )
            .buckets(CALL_BUCKETS.to_vec()),
            &["tool", "upstream", "client"],
        )
        .expect("valid metric");
        let refusals = IntCounterVec::new(
            Opts::new(
                "switchboard_refusals_total",
                "Calls refused, by the pipeline layer that refused them",
            ),
            &["layer", "client"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "switchboard_rate_limited_total",
                "Calls refused by a rate limit, by the configured bucket rule",
            ),
            &["bucket"],
        )
        .expect("valid metric");
        let audit_write = Histogram::with_opts(
            HistogramOpts::new(
                "switchboard_audit_write_seconds",
                "Time to append one audit record",
            )
            .buckets(WRITE_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let upstream_up = gauge(
            "switchboard_upstream_up",
            "1 when the upstream is connected and answering",
            &["upstream"],
        );
        let upstream_restarts = IntCounterVec::new(
            Opts::new(
                "switchboard_upstream_restarts_total",
                "Restarts of the upstream since the gateway started",
            ),
            &["upstream"],
        )
        .expect("valid metric");
        let circuit_open = gauge(
            "switchboard_circuit_open",
            "1 while the upstream's circuit breaker is open",
            &["upstream"],
        );
        let sessions = gauge("switchboard_sessions", "Open sessions by era", &["era"]);
        let approvals_pending = IntGauge::new(
            "switchboard_approvals_pending",
            "Approval requests waiting for a person",
        )
        .expect("valid metric");
        let reloads = IntCounterVec::new(
            Opts::new(
                "switchboard_config_reloads_total",
                "Configuration reloads: ok (applied) or refused (the running one stayed)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let secrets_stale = IntGauge::new(
            "switchboard_secrets_stale",
            "1 while the last refresh of the secrets failed and the last good values are in use",
        )
        .expect("valid metric");
        for collector in [
            Box::new(calls.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(refusals.clone()),
            Box::new(rate_limited.clone()),
            Box::new(audit_write.clone()),
            Box::new(upstream_up.clone()),
            Box::new(upstream_restarts.clone()),
            Box::new(circuit_open.clone()),
            Box::new(sessions.clone()),
            Box::new(approvals_pending.clone()),
            Box::new(reloads.clone()),
            Box::new(secrets_stale.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("the process collector registers once");
        Self {
            registry,
            calls,
            duration,
            refusals,
            rate_limited,
            audit_write,
            upstream_up,
            upstream_restarts,
            circuit_open,
            sessions,
            approvals_pending,
            reloads,
            secrets_stale,
        }
    }

    /// Whether the secrets in use are the last good ones, after a failed refresh.
    pub fn secrets_stale(&self, stale: bool) {
        self.secrets_stale.set(i64::from(stale));
    }

    /// A reload of the configuration: applied, or refused.
    pub fn reloaded(&self, applied: bool) {
        let outcome = if applied { "ok" } else { "refused" };
        self.reloads.with_label_values(&[outcome]).inc();
    }

    /// One call's outcome: `outcome` as audited, `layer` when a layer refused it.
    pub fn call(
        &self,
        tool: &str,
        upstream: &str,
        client: &str,
        outcome: &str,
        layer: Option<&str>,
        took: Duration,
    ) {
        self.calls
            .with_label_values(&[tool, upstream, client, outcome])
            .inc();
        self.duration
            .with_label_values(&[tool, upstream, client])
            .observe(took.as_secs_f64());
        if let Some(layer) = layer {
            self.refusals.with_label_values(&[layer, client]).inc();
        }
    }

    /// A call refused by the rate-limit bucket of rule `bucket`.
    pub fn rate_limited(&self, bucket: &str) {
        self.rate_limited.with_label_values(&[bucket]).inc();
    }

    /// How long one audit record took to write.
    pub fn audit_write(&self, took: Duration) {
        self.audit_write.observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric, with `snapshot`'s state.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        // Only the upstreams configured now (a reload may have removed some).
        self.upstream_up.reset();
        self.circuit_open.reset();
        for (name, up, open, restarts) in &snapshot.upstreams {
            let set = |g: &IntGaugeVec, v: i64| g.with_label_values(&[name.as_str()]).set(v);
            set(&self.upstream_up, i64::from(*up));
            set(&self.circuit_open, i64::from(*open));
            let counted = self.upstream_restarts.with_label_values(&[name.as_str()]);
            counted.inc_by(restarts.saturating_sub(counted.get()));
        }
        for (era, open) in &snapshot.sessions {
            self.sessions
                .with_label_values(&[era])
                .set(i64::try_from(*open).unwrap_or(i64::MAX));
        }
        self.approvals_pending
            .set(i64::try_from(snapshot.approvals_pending).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_calls_refusals_and_state() {
        let metrics = Metrics::new();
        metrics.call(
            "db__query",
            "db",
            "analyst",
            "ok",
            None,
            Duration::from_millis(3),
        );
        metrics.call(
            "db__query",
            "db",
            "analyst",
            "refused",
            Some("rate_limit"),
            Duration::from_micros(40),
        );
        metrics.rate_limited("client:analyst");
        metrics.reloaded(false);
        let text = metrics.render(&Snapshot {
            upstreams: vec![("db".into(), true, false, 2)],
            sessions: vec![("2025-11-25", 3)],
            approvals_pending: 1,
        });
        for line in [
            "switchboard_tool_calls_total{client=\"analyst\",outcome=\"ok\",tool=\"db__query\",upstream=\"db\"} 1",
            "switchboard_refusals_total{client=\"analyst\",layer=\"rate_limit\"} 1",
            "switchboard_rate_limited_total{bucket=\"client:analyst\"} 1",
            "switchboard_tool_call_duration_seconds_count{client=\"analyst\",tool=\"db__query\",upstream=\"db\"} 2",
            "switchboard_upstream_up{upstream=\"db\"} 1",
            "switchboard_upstream_restarts_total{upstream=\"db\"} 2",
            "switchboard_sessions{era=\"2025-11-25\"} 3",
            "switchboard_approvals_pending 1",
            "switchboard_config_reloads_total{outcome=\"refused\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
