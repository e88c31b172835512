//! Rate limiting: token buckets (GCRA, via `governor`) per tool (`[rate_limits]`), per client
//! (`[clients.x] rate_limit`) and per (client, tool) (`[clients.x.rate_limits]`). A limited call
//! is refused with a message saying when to retry.
//!
//! Buckets live behind [`RateLimitBackend`]: [`LocalBackend`] keeps them in this process (its
//! clock is tokio's, so tests can pause time and count exactly); [`RedisBackend`] keeps them in
//! Redis, shared by replicas behind a load balancer (`[gateway] rate_limit_store`). When the
//! store cannot be asked, the call is refused: a limit that cannot be checked is not waived.

mod redis_store;

pub use redis_store::RedisBackend;
pub(crate) use redis_store::{connect, open};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::{Layer, Next, Outcome, ToolCall};
use crate::config::{ClientConfig, Rate, RateRule};
use crate::telemetry::metrics::Metrics;

/// Where token buckets are kept.
pub trait RateLimitBackend: Send + Sync {
    /// Takes one token from bucket `key`, which refills at `rate`.
    fn take<'a>(&'a self, key: &'a str, rate: Rate) -> BoxFuture<'a, Result<(), Limited>>;
}

/// Why no token was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limited {
    /// The bucket is empty; this is how long until a token is available.
    Wait(Duration),
    /// The store could not be asked: which store and why (never a credential).
    Unavailable(String),
}

/// A clock that follows tokio's (so paused test time drives the buckets).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            base: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.base.elapsed()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Buckets in this process.
#[derive(Default)]
pub struct LocalBackend {
    clock: TokioClock,
    buckets: Mutex<HashMap<String, Arc<Limiter>>>,
}

impl LocalBackend {
    /// An empty backend; its clock starts now.
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, key: &str, rate: Rate) -> Arc<Limiter> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets
            .entry(key.to_owned())
            .or_insert_with(|| {
                let period = rate.per / rate.count.get();
                let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
                    .map(|q| q.allow_burst(rate.burst))
                    .unwrap_or_else(|| Quota::per_second(rate.count));
                Arc::new(RateLimiter::direct_with_clock(quota, self.clock))
            })
            .clone()
    }
}

impl RateLimitBackend for LocalBackend {
    fn take<'a>(&'a self, key: &'a str, rate: Rate) -> BoxFuture<'a, Result<(), Limited>> {
        let limiter = self.limiter(key, rate);
        let result = limiter
            .check()
            .map_err(|not_until| Limited::Wait(not_until.wait_time_from(self.clock.now())));
        Box::pin(std::future::ready(result))
    }
}

/// The rate-limit layer.
pub(crate) struct RateLimit {
    backend: Arc<dyn RateLimitBackend>,
    tool_rules: Vec<RateRule>,
    clients: HashMap<String, ClientConfig>,
    metrics: Arc<Metrics>,
}

impl RateLimit {
    pub(crate) fn new(
        backend: Arc<dyn RateLimitBackend>,
        tool_rules: Vec<RateRule>,
        clients: HashMap<String, ClientConfig>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            backend,
            tool_rules,
            clients,
            metrics,
        }
    }

    /// Every bucket this call draws from: (key, rate, what it limits).
    fn buckets(&self, call: &ToolCall) -> Vec<(String, Rate, String)> {
        let tool = &call.exposed;
        let client = &call.caller.client;
        // A `per = "user"` rate gives each person a bucket of their own (NUL cannot occur in
        // a client name or rule, so the person's part never blurs into the rule's).
        let person = |key: String, rate: &Rate| match &call.caller.user {
            Some(user) if rate.per_user => format!("{key}\0{}", user.subject),
            _ => key,
        };
        let mut out = Vec::new();
        for rule in self.tool_rules.iter().filter(|r| r.pattern.matches(tool)) {
            out.push((
                person(format!("tool|{}|{tool}", rule.pattern.as_str()), &rule.rate),
                rule.rate,
                format!("tool {tool}"),
            ));
        }
        if let Some(config) = self.clients.get(client) {
            if let Some(rate) = config.rate_limit {
                out.push((
                    person(format!("client|{client}"), &rate),
                    rate,
                    format!("client {client}"),
                ));
            }
            for rule in config
                .rate_limits
                .iter()
                .filter(|r| r.pattern.matches(tool))
            {
                out.push((
                    person(
                        format!("client-tool|{client}|{}|{tool}", rule.pattern.as_str()),
                        &rule.rate,
                    ),
                    rule.rate,
                    format!("client {client} on tool {tool}"),
                ));
            }
        }
        out
    }
}

/// A bucket's rule, for the metric label: its key without the tool name a glob rule adds (so
/// the label set stays bounded by the configuration).
fn bucket_rule(key: &str) -> String {
    let key = key.split('\0').next().unwrap_or(key);
    match key.split('|').collect::<Vec<_>>().as_slice() {
        ["tool", pattern, _tool] => format!("tool:{pattern}"),
        ["client", client] => format!("client:{client}"),
        ["client-tool", client, pattern, _tool] => format!("client-tool:{client}:{pattern}"),
        _ => "other".to_owned(),
    }
}

impl Layer for RateLimit {
    fn call<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            for (key, rate, what) in self.buckets(&call) {
                match self.backend.take(&key, rate).await {
                    Ok(()) => {}
                    Err(Limited::Wait(wait)) => {
                        self.metrics.rate_limited(&bucket_rule(&key));
                        let secs = wait.as_secs_f64().max(0.001);
                        return Outcome::refused(
                            "rate_limit",
                            format!(
                                "rate limit reached for {what} ({} per {}s); retry in {secs:.1}s",
                                rate.count,
                                rate.per.as_secs()
                            ),
                        );
                    }
                    Err(Limited::Unavailable(why)) => {
                        return Outcome::refused(
                            "rate_limit",
                            format!(
                                "{why}, so the rate limit for {what} cannot be checked and the \
                                 call was not run; retry shortly"
                            ),
                        );
                    }
                }
            }
            next.run(call).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn rate(count: u32, per: u64, burst: u32) -> Rate {
        Rate {
            count: NonZeroU32::new(count).unwrap(),
            per: Duration::from_secs(per),
            burst: NonZeroU32::new(burst).unwrap(),
            per_user: false,
        }
    }

    struct Done;

    impl crate::policy::Terminal for Done {
        fn invoke(&self, _call: ToolCall) -> BoxFuture<'_, Outcome> {
            Box::pin(std::future::ready(Outcome::Completed(
                rmcp::model::CallToolResult::success(vec![]),
            )))
        }
    }

    fn call(client: &str, tool: &str) -> ToolCall {
        ToolCall {
            caller: crate::Caller::new(client, "s", Arc::new(crate::Access::all())),
            exposed: tool.to_owned(),
            tool: None,
            upstream: None,
            upstream_name: tool.to_owned(),
            arguments: serde_json::Map::new(),
            input_responses: None,
            request_state: None,
            received: tokio::time::Instant::now(),
            relay: None,
            cancelled: tokio_util::sync::CancellationToken::new(),
            decided: Arc::default(),
        }
    }

    async fn run(layer: &RateLimit, client: &str, tool: &str) -> bool {
        let next = Next {
            layers: &[],
            last: &Done,
        };
        matches!(
            layer.call(call(client, tool), next).await,
            Outcome::Completed(_)
        )
    }

    #[tokio::test(start_paused = true)]
    async fn layer_counts_exactly_with_paused_time() {
        let rule = |p: &str, r: Rate| RateRule {
            pattern: glob::Pattern::new(p).unwrap(),
            rate: r,
        };
        let client = ClientConfig {
            name: "c".into(),
            token: None,
            allow: vec![],
            deny: vec![],
            rate_limit: Some(rate(5, 60, 5)),
            rate_limits: vec![rule("x__*", rate(2, 60, 2))],
            tool_search: None,
            admin: false,
        };
        let layer = RateLimit::new(
            Arc::new(LocalBackend::new()),
            vec![rule("x__a", rate(10, 60, 3))],
            HashMap::from([("c".to_owned(), client)]),
            Arc::new(Metrics::new()),
        );
        // Per tool: burst 3 for everyone.
        assert!(run(&layer, "other", "x__a").await);
        assert!(run(&layer, "other", "x__a").await);
        assert!(run(&layer, "other", "x__a").await);
        assert!(!run(&layer, "other", "x__a").await);
        // One token every 6s.
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(run(&layer, "other", "x__a").await);
        assert!(!run(&layer, "other", "x__a").await);
        // Per (client, tool): 2 of x__b for c, while others are unlimited.
        assert!(run(&layer, "c", "x__b").await);
        assert!(run(&layer, "c", "x__b").await);
        assert!(!run(&layer, "c", "x__b").await);
        for _ in 0..10 {
            assert!(run(&layer, "other", "x__b").await);
        }
        // Per client: 5 in all (3 x__b above already counted), so 2 more of anything.
        assert!(run(&layer, "c", "y").await);
        assert!(run(&layer, "c", "y").await);
        assert!(!run(&layer, "c", "y").await);
        // A minute later every bucket has refilled.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(run(&layer, "c", "x__b").await);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill_exactly() {
        let backend = LocalBackend::new();
        let r = rate(10, 60, 3);
        for _ in 0..3 {
            backend.take("k", r).await.unwrap();
        }
        let Err(Limited::Wait(wait)) = backend.take("k", r).await else {
            panic!("the bucket is empty");
        };
        assert!(
            wait <= Duration::from_secs(6) && wait > Duration::from_secs(5),
            "{wait:?}"
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        backend.take("k", r).await.unwrap();
        assert!(backend.take("k", r).await.is_err());
        // Other keys have their own buckets.
        backend.take("other", r).await.unwrap();
    }
}
