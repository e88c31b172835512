//! Shared outbound HTTP policy for the SaaS clients (Jira, Slack, Anthropic).
//!
//! One [`HttpClient`] per remote service applies, to every call:
//! - connect and per-attempt timeouts ([`HttpConfig`]);
//! - credentials from [`Auth`], sent as a *sensitive* header (redacted in any `Debug` output);
//! - a client-side rate limit ([`RateLimit`], `governor` on tokio's clock);
//! - retries on 429/502/503/504 and connection failures, honouring `Retry-After` /
//!   `retry-after-ms` within a total retry budget, else jittered exponential backoff — limited by
//!   the caller-declared [`Idempotency`] so a non-idempotent POST is retried only where the server
//!   certainly did not process it;
//! - a `http.request` tracing span with `method`, `host`, `path`, `attempt` and `status`.
//!
//! Credentials are [`Secret`]s: their `Debug`/`Display` print `[redacted]`, and no error message
//! carries a header or a query string.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_http::HttpError> {
//! use switchboard_http::{Auth, HttpClient, HttpConfig, Idempotency, RateLimit, Secret};
//! let config = HttpConfig { rate_limit: Some(RateLimit::per_second(10)), ..HttpConfig::default() };
//! let client = HttpClient::new(config, Auth::Bearer(Secret::new("token")))?;
//! let response = client
//!     .send(client.get("https://example.invalid/api/thing"), Idempotency::Idempotent)
//!     .await?
//!     .error_for_status()?;
//! let value: serde_json::Value = response.json()?;
//! # let _ = value; Ok(()) }
//! ```

mod auth;
mod client;
mod config;
mod error;
mod metrics;
mod rate_limit;
mod response;
mod retry;
mod secret;

pub use auth::Auth;
pub use client::HttpClient;
pub use config::{HttpConfig, RateLimit};
pub use error::HttpError;
pub use response::HttpResponse;
pub use retry::{Idempotency, backoff, parse_retry_after};
pub use secret::Secret;

/// Re-exported so callers build requests and match statuses with the same types.
pub use reqwest::{self, Method, StatusCode, header};
