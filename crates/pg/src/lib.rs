//! Connecting to PostgreSQL the way libpq does, for every part of Switchboard that does: the
//! built-in SQL server and the gateway's audit sink.
//!
//! [`Connection`] reads a `postgres://` URL, including libpq's `sslmode` and `sslrootcert`;
//! [`tls::connector`] turns it into a rustls connector with libpq's semantics for each mode;
//! [`describe_driver_error`] makes tokio-postgres errors readable. Nothing here reads the
//! environment or knows a caller's configuration: each caller names its own settings in its
//! messages.

mod connection;
mod driver_error;
pub mod tls;

pub use connection::{Connection, SslMode, SslModeError, UrlError};
pub use driver_error::describe_driver_error;
