//! The process's stdin and stdout as an MCP transport.
//!
//! tokio's `stdin()`/`stdout()` do blocking reads and writes on its blocking thread pool, so
//! every message crosses threads twice. When they are pipes, as an MCP client that spawns a
//! server makes them, they are driven by the reactor instead (non-blocking, epoll), which takes
//! those hand-offs off every request. Anything else (a terminal, a file) keeps tokio's handles.
//! A server on stdio takes [`server_transport`]: the same, with a duplicate request id answered
//! as an invalid request ([`crate::request_ids`]).

use std::pin::Pin;

use rmcp::RoleServer;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::request_ids::DistinctIds;

/// Reading half of the transport.
pub type Input = Pin<Box<dyn AsyncRead + Send + Sync>>;
/// Writing half of the transport.
pub type Output = Pin<Box<dyn AsyncWrite + Send + Sync>>;

/// stdin and stdout, as pipes on the reactor when they are pipes. Must be called within a tokio
/// runtime.
pub fn stdio() -> (Input, Output) {
    (input(), output())
}

/// The transport of an MCP server on stdin/stdout. Must be called within a tokio runtime.
pub fn server_transport() -> DistinctIds<AsyncRwTransport<RoleServer, Input, Output>> {
    let (input, output) = stdio();
    DistinctIds::new(AsyncRwTransport::new_server(input, output))
}

#[cfg(unix)]
fn input() -> Input {
    use std::os::fd::AsFd as _;
    let pipe = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(tokio::net::unix::pipe::Receiver::from_file);
    match pipe {
        Ok(pipe) => Box::pin(pipe),
        Err(_) => Box::pin(tokio::io::stdin()),
    }
}

#[cfg(unix)]
fn output() -> Output {
    use std::os::fd::AsFd as _;
    let pipe = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(tokio::net::unix::pipe::Sender::from_file);
    match pipe {
        Ok(pipe) => Box::pin(pipe),
        Err(_) => Box::pin(tokio::io::stdout()),
    }
}

#[cfg(not(unix))]
fn input() -> Input {
    Box::pin(tokio::io::stdin())
}

#[cfg(not(unix))]
fn output() -> Output {
    Box::pin(tokio::io::stdout())
}
