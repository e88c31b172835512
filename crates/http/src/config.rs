//! The policy knobs of an [`crate::HttpClient`]: timeouts, retry limits, backoff and rate limit.

use std::num::NonZeroU32;
use std::time::Duration;

/// Outbound policy. `Default` suits a SaaS REST API called by an interactive tool.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Time allowed to establish a connection (TCP + TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending the request to reading the whole body.
    /// Default 30 s.
    pub request_timeout: Duration,
    /// Maximum attempts per call, including the first. Default 4. `1` disables retries.
    pub max_attempts: u32,
    /// Maximum total time spent waiting between attempts (backoff and `Retry-After`) per call.
    /// A `Retry-After` longer than what is left of the budget ends the call with
    /// [`crate::HttpError::RetriesExhausted`] instead of sleeping. Default 30 s.
    pub retry_budget: Duration,
    /// First backoff delay when the server gives no `Retry-After`; doubled every attempt.
    /// Default 250 ms.
    pub backoff_base: Duration,
    /// Upper bound of one backoff delay. Default 8 s.
    pub backoff_max: Duration,
    /// Client-side rate limit applied before every attempt, or `None`. Default `None`.
    pub rate_limit: Option<RateLimit>,
    /// `User-Agent` header. Default `switchboard/<version>`.
    pub user_agent: String,
    /// Largest response body read into memory; larger bodies are an
    /// [`crate::HttpError::InvalidResponse`]. Default 16 MiB.
    pub max_response_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            retry_budget: Duration::from_secs(30),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            rate_limit: None,
            user_agent: concat!("switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A client-side rate limit: `burst` requests at once, refilled at one request per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Time to replenish one request.
    pub period: Duration,
    /// Requests that may be sent back to back before spacing applies.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `n` requests per second, burst of `n`. A zero `n` is treated as 1.
    pub fn per_second(n: u32) -> Self {
        Self::per(n, Duration::from_secs(1))
    }

    /// `n` requests per minute, burst of `n` (Slack's tiers are per minute). Zero is treated as 1.
    pub fn per_minute(n: u32) -> Self {
        Self::per(n, Duration::from_secs(60))
    }

    fn per(n: u32, window: Duration) -> Self {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            period: window / n.get(),
            burst: n,
        }
    }

    /// The same rate with a different burst size.
    pub fn with_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }
}
