//! Client-side rate limiting with `governor`, driven by tokio's clock.
//!
//! governor's own `until_ready` sleeps on a timer tokio cannot control; this limiter reads time
//! from `tokio::time::Instant` and sleeps with `tokio::time::sleep`, so it follows
//! `tokio::time::pause()` in tests and shares the runtime's timer in production.

use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::RateLimit;

/// A clock reading tokio's (pausable) monotonic time as the offset from a fixed start.
#[derive(Clone, Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

/// A point on [`TokioClock`]: time since the clock's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Tick(Duration);

impl std::ops::Add<Nanos> for Tick {
    type Output = Tick;
    fn add(self, other: Nanos) -> Tick {
        Tick(self.0 + Duration::from(other))
    }
}

impl Reference for Tick {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_sub(earlier.0).into()
    }
    fn saturating_sub(&self, duration: Nanos) -> Self {
        Tick(self.0.checked_sub(duration.into()).unwrap_or(self.0))
    }
}

impl Clock for TokioClock {
    type Instant = Tick;
    fn now(&self) -> Tick {
        Tick(tokio::time::Instant::now().saturating_duration_since(self.start))
    }
}

/// A direct (un-keyed) rate limiter shared by all calls of one client.
#[derive(Debug)]
pub(crate) struct Limiter {
    clock: TokioClock,
    inner: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Tick>>,
}

impl Limiter {
    /// A limiter for `limit`. Must be created inside a tokio runtime when time is paused, so that
    /// its start matches the paused clock (it works outside one too).
    pub(crate) fn new(limit: RateLimit) -> Self {
        let period = if limit.period.is_zero() {
            Duration::from_nanos(1)
        } else {
            limit.period
        };
        // `with_period` only fails on a zero period, excluded above.
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(limit.burst))
            .allow_burst(limit.burst);
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        Self {
            inner: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
        }
    }

    /// Waits until one request may be sent, and takes it. Returns how long it waited.
    pub(crate) async fn acquire(&self) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            match self.inner.check() {
                Ok(()) => return waited,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    waited += wait;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Limiter;
    use crate::RateLimit;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_after_burst() {
        let limiter = Limiter::new(RateLimit::per_second(2));
        let start = tokio::time::Instant::now();
        for _ in 0..6 {
            limiter.acquire().await;
        }
        // 2 at once, then one every 500 ms: the 6th goes at 2 s.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
