//! The error type of outbound HTTP calls: one variant per thing a caller does differently.

use std::time::Duration;

use reqwest::StatusCode;

/// What went wrong with an outbound HTTP call. Messages never contain credentials or query
/// strings (only the method, host and path of the request).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client or the request could not be built (bad URL, bad header, TLS setup).
    #[error("could not build the HTTP request: {message}")]
    Build {
        /// What was wrong.
        message: String,
    },

    /// The request did not complete within the per-attempt timeout.
    #[error(
        "{method} {target} timed out after {after:?}; the service is slow or unreachable, try again later"
    )]
    Timeout {
        /// HTTP method.
        method: String,
        /// `host/path` of the request (no query string).
        target: String,
        /// The timeout that elapsed.
        after: Duration,
    },

    /// No connection could be made (DNS, refused, TLS handshake).
    #[error(
        "could not connect to {target}: {message}; check the URL and that the service is reachable"
    )]
    Connect {
        /// `host/path` of the request.
        target: String,
        /// The transport's description of the failure.
        message: String,
    },

    /// Another transport failure after the request was sent (connection reset, bad framing).
    #[error("{method} {target} failed: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// `host/path` of the request.
        target: String,
        /// The transport's description of the failure.
        message: String,
    },

    /// The server answered with an error status that is not retried (or not retryable for this
    /// request). Produced by [`crate::HttpResponse::error_for_status`].
    #[error("{target} answered HTTP {status}: {body_excerpt}")]
    Status {
        /// The status code.
        status: StatusCode,
        /// `host/path` of the request.
        target: String,
        /// The first bytes of the response body, for diagnosis.
        body_excerpt: String,
    },

    /// The server kept answering with a retryable status (or the connection kept failing) until
    /// the attempt limit or the retry budget ran out.
    #[error(
        "{target}: gave up after {attempts} attempt(s) and {waited:?} of waiting; last outcome: {last}; \
         the service is rate limiting or unavailable, try again later"
    )]
    RetriesExhausted {
        /// `host/path` of the request.
        target: String,
        /// The status of the last response, if the last attempt got one.
        last_status: Option<StatusCode>,
        /// A description of the last outcome (status and body excerpt, or transport error).
        last: String,
        /// Attempts made.
        attempts: u32,
        /// Total time spent waiting between attempts.
        waited: Duration,
        /// The delay the server last asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },

    /// The response could not be read or decoded (not JSON, too large, wrong shape).
    #[error("invalid response from {target}: {message}")]
    InvalidResponse {
        /// `host/path` of the request.
        target: String,
        /// What was wrong.
        message: String,
    },
}

impl HttpError {
    /// The HTTP status involved, if the error carries one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            HttpError::RetriesExhausted { last_status, .. } => *last_status,
            _ => None,
        }
    }
}
