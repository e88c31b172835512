//! When a failed attempt may be retried, and how long to wait before the next one.
//!
//! The rules (see the crate README):
//! - [`Idempotency::Idempotent`] requests are retried on 429, 502, 503, 504, connection failures
//!   and timeouts.
//! - [`Idempotency::NonIdempotent`] requests are retried only where the server certainly did not
//!   process them: 429, 503 *with* `Retry-After`, and failures to connect. A 502/504 or a timeout
//!   may hide a request the server did carry out, so it is returned to the caller.
//! - The wait is the server's `Retry-After` (delta-seconds, fractional seconds or HTTP-date) or
//!   `retry-after-ms`, else jittered exponential backoff.

use std::time::{Duration, SystemTime};

use rand::Rng as _;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Whether repeating a request can cause a second side effect. Declared by the caller per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that are safe to repeat (PUT of a whole resource, DELETE, a POST with an
    /// idempotency key the server honours).
    Idempotent,
    /// A POST that creates something or posts a message: retried only when the server certainly
    /// did not process it.
    NonIdempotent,
}

/// The outcome of one attempt, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A response with this status; `retry_after` is the server's requested delay, if any.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    /// The connection could not be established: the request never reached the server.
    ConnectFailed,
    /// Timed out or broke after sending: the server may have processed the request.
    SentButFailed,
}

/// Whether this outcome may be retried for a request of this idempotency class.
pub(crate) fn is_retryable(attempt: Attempt, idempotency: Idempotency) -> bool {
    match (attempt, idempotency) {
        (Attempt::ConnectFailed, _) => true,
        (Attempt::SentButFailed, Idempotency::Idempotent) => true,
        (Attempt::SentButFailed, Idempotency::NonIdempotent) => false,
        (Attempt::Status { status, .. }, Idempotency::Idempotent) => matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        ),
        (
            Attempt::Status {
                status,
                retry_after,
            },
            Idempotency::NonIdempotent,
        ) => {
            status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some())
        }
    }
}

/// The delay the server asks for, from `retry-after-ms` (milliseconds, may be fractional) or
/// `Retry-After` (delta-seconds, possibly fractional, or an HTTP-date relative to `now`).
/// A date in the past means "now" (zero). Unparseable or negative values give `None`.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(parse_non_negative) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let raw = header_str(headers, RETRY_AFTER.as_str())?;
    if let Some(secs) = parse_non_negative(raw) {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

fn parse_non_negative(raw: &str) -> Option<f64> {
    let value: f64 = raw.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// Jittered exponential backoff for retry number `retry` (1 for the first retry): a delay drawn
/// uniformly from `[d/2, d]` where `d = min(max, base * 2^(retry-1))`.
pub fn backoff(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    let ceiling = base.saturating_mul(factor).min(max);
    let half = ceiling / 2;
    let spread = ceiling.saturating_sub(half);
    if spread.is_zero() {
        return ceiling;
    }
    let extra = rand::rng().random_range(0..=spread.as_nanos().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_nanos(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let secs = headers(&[("retry-after", "7")]);
        assert_eq!(parse_retry_after(&secs, now), Some(Duration::from_secs(7)));
        let frac = headers(&[("retry-after", "1.5")]);
        assert_eq!(
            parse_retry_after(&frac, now),
            Some(Duration::from_millis(1500))
        );
        let ms = headers(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(
            parse_retry_after(&ms, now),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(5));
        let dated = headers(&[("retry-after", &date)]);
        assert_eq!(parse_retry_after(&dated, now), Some(Duration::from_secs(5)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "-3")]), now),
            None
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn non_idempotent_retry_rules() {
        let st = |s: u16, ra: Option<u64>| Attempt::Status {
            status: StatusCode::from_u16(s).unwrap(),
            retry_after: ra.map(Duration::from_secs),
        };
        let ni = Idempotency::NonIdempotent;
        assert!(is_retryable(st(429, None), ni));
        assert!(is_retryable(st(503, Some(1)), ni));
        assert!(!is_retryable(st(503, None), ni));
        assert!(!is_retryable(st(502, Some(1)), ni));
        assert!(!is_retryable(st(504, None), ni));
        assert!(!is_retryable(Attempt::SentButFailed, ni));
        assert!(is_retryable(Attempt::ConnectFailed, ni));
        let id = Idempotency::Idempotent;
        for s in [429, 502, 503, 504] {
            assert!(is_retryable(st(s, None), id), "{s}");
        }
        for s in [400, 401, 404, 500, 410] {
            assert!(!is_retryable(st(s, None), id), "{s}");
        }
        assert!(is_retryable(Attempt::SentButFailed, id));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..50 {
            let d1 = backoff(base, max, 1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= base);
            let d3 = backoff(base, max, 3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d20 = backoff(base, max, 20);
            assert!(d20 >= Duration::from_millis(500) && d20 <= max);
        }
    }
}
