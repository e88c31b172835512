//! The process's stdin and stdout as an MCP transport.
//!
//! tokio's `stdin()`/`stdout()` do blocking reads and writes on its blocking thread pool, so
//! every message crosses threads twice. When they are pipes, as an MCP client that spawns a
//! server makes them, they are driven by the reactor instead (non-blocking, epoll), which takes
//! those hand-offs off every request. Anything else (a terminal, a file) keeps tokio's handles.
//!
//! [`serve`] serves a handler (the gateway's, or a built-in server's) on them: rmcp's service
//! for the session, `tools/call` lines on a fast lane beside it ([`lane`]), and a duplicate
//! request id answered as an invalid request on both paths ([`crate::request_ids`]).

mod lane;

use std::pin::Pin;
use std::time::Duration;

use rmcp::service::{RunningService, ServerInitializeError};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, Service, ServiceExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::request_ids::{DistinctIds, Ids};
use lane::{Lane, Out, sieve};

/// How long what was queued for stdout gets to be written once the session has ended.
const FLUSH: Duration = Duration::from_millis(300);

/// Reading half of the transport.
pub type Input = Pin<Box<dyn AsyncRead + Send + Sync>>;
/// Writing half of the transport.
pub type Output = Pin<Box<dyn AsyncWrite + Send + Sync>>;

/// stdin and stdout, as pipes on the reactor when they are pipes. Must be called within a tokio
/// runtime.
pub fn stdio() -> (Input, Output) {
    (input(), output())
}

/// Serves `handler` on stdin/stdout: the handshake, then the session, whose end
/// ([`RunningService::waiting`]) is followed by [`Closing::close`]. Must be called within a tokio
/// runtime.
///
/// # Errors
/// When the handshake fails.
pub async fn serve<S>(
    handler: S,
) -> Result<(RunningService<RoleServer, S>, Closing), ServerInitializeError>
where
    S: Service<RoleServer> + Clone + Send + Sync + 'static,
{
    let (input, output) = stdio();
    let (out, writer) = Out::start(output);
    let ids = Ids::default();
    let lane = Lane::new(handler.clone(), out.clone(), ids.clone());
    let transport = DistinctIds::sharing(
        AsyncRwTransport::new_server(sieve(input, lane.clone()), out.writer()),
        ids,
    );
    drop(out);
    let running = handler.serve(transport).await?;
    lane.open(running.peer().clone());
    let closing = Closing {
        lane: lane.ended(),
        writer,
    };
    Ok((running, closing))
}

/// What is left of a stdio session once rmcp's side has ended: the lane and stdout's writer.
#[must_use = "the lane's calls run on until it is closed"]
pub struct Closing {
    lane: CancellationToken,
    writer: tokio::task::JoinHandle<()>,
}

impl Closing {
    /// Closes the lane (as rmcp's own calls are, a call still in flight when the session ends is
    /// not answered) and waits, briefly, for what was queued to reach stdout.
    pub async fn close(self) {
        self.lane.cancel();
        // The writer ends once no call holds the queue any more.
        let _ = tokio::time::timeout(FLUSH, self.writer).await;
    }
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
