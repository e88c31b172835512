//! [`ConnectError`]: why an upstream could not be brought up — its child not started, its HTTP
//! transport not built, its handshake refused or not finished in time, its first listing not
//! answered. The supervisor records the message in the upstream's health and retries; an
//! operator reads it in `status` and the log.
//!
//! Secrets never enter these errors: what comes from the upstream or from rmcp is scrubbed
//! before it is stored, and header values are never quoted.

use std::time::Duration;

use rmcp::service::ServiceError;
use thiserror::Error;

/// An upstream could not be connected and listed.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The child process of a stdio upstream could not be spawned (missing program, no
    /// permission, bad working directory).
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The program as configured.
        program: String,
        /// Why spawning failed.
        #[source]
        source: std::io::Error,
    },
    /// A configured header name is not valid HTTP.
    #[error("header {name:?} is not a valid HTTP header name")]
    HeaderName {
        /// The header as configured.
        name: String,
    },
    /// A configured header value is not valid HTTP (the value is never quoted).
    #[error("the value of header {name:?} is not a valid HTTP header value")]
    HeaderValue {
        /// The header whose value is invalid.
        name: String,
    },
    /// The HTTP client of an HTTP upstream could not be built.
    #[error("cannot build the HTTP client: {source}")]
    HttpClient {
        /// reqwest's reason.
        #[source]
        source: reqwest::Error,
    },
    /// A stdio upstream was started but the MCP handshake with it failed.
    #[error("MCP handshake failed: {reason}")]
    Handshake {
        /// What went wrong, secrets scrubbed.
        reason: String,
    },
    /// An HTTP upstream could not be reached, refused the session, or failed its authorization
    /// (OAuth errors name the upstream in `reason`).
    #[error("cannot connect to {url}: {reason}")]
    Unreachable {
        /// The upstream's URL.
        url: String,
        /// What went wrong, secrets scrubbed.
        reason: String,
    },
    /// The handshake did not finish within the upstream's `ping_timeout`.
    #[error("did not complete the MCP handshake within {0:?}")]
    HandshakeTimeout(Duration),
    /// The first listing of tools, resources and prompts did not finish within the upstream's
    /// `ping_timeout`.
    #[error("did not list its tools within {0:?}")]
    ListingTimeout(Duration),
    /// The upstream answered the first listing with an error.
    #[error("listing failed: {0}")]
    Listing(#[source] ServiceError),
}
