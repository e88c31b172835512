//! Connections to upstream MCP servers: one transport per file ([`stdio`], [`http`]), and the
//! client-side handler that turns upstream notifications into events for the supervisor and
//! relays what belongs to a client back to it.
//!
//! A [`Connection`] is one live session with one upstream. Its `closed` token is cancelled the
//! moment the transport ends (the child exited, the HTTP stream failed), so calls in flight can
//! fail at once instead of waiting for their timeout.
//!
//! Relaying: a request forwarded for a client carries a [`Relay`] (the client's session, its
//! request id and progress token). The transport wrapper ([`Watched`]) records it under the
//! upstream request id and progress token the moment the request is written, so whatever the
//! upstream sends while serving it — progress, log messages, and (handshake era) sampling,
//! elicitation and roots requests — goes back to that client, on that request's stream. The
//! protocol does not tie an upstream's server-to-client request to one of its client's requests
//!
//! Files: [`relay`] (the client end of a request), [`routes`] (where traffic for clients goes),
//! [`handler`] (the client side of a session), [`connect`] (opening one) and [`error`] (why that
//! failed), [`handle`] (the
//! supervised [`Upstream`] and its requests), one transport each in [`stdio`] and [`http`],
//! [`oauth`], and [`exchange`] (acting as the person calling).

mod connect;
mod error;
pub(crate) mod exchange;
mod handle;
mod handler;
pub(crate) mod http;
pub(crate) mod oauth;
mod relay;
mod routes;
pub(crate) mod stdio;

pub(crate) use connect::{Connection, connect};
pub use error::ConnectError;
pub use handle::Health;
pub(crate) use handle::{Listing, State, Upstream};
pub(crate) use handler::modern_meta;
pub(crate) use relay::Relay;
pub(crate) use routes::Subscriber;
