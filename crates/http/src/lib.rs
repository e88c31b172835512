//! Shared outbound HTTP policy: timeouts, retries honouring Retry-After, client-side rate limits.
