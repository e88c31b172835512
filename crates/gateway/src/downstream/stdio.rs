//! Serving the gateway to one client on stdin/stdout, with the same drain as HTTP on shutdown.

use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio_util::sync::CancellationToken;

use super::Downstream;
use super::lane::{Lane, Out, sieve};
use crate::endpoints::Endpoint;
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::request_ids::{DistinctIds, Ids};

/// How long the answers of drained calls get to reach stdout before the session ends.
const FLUSH: Duration = Duration::from_millis(300);

/// Serves the gateway (or its virtual endpoint `endpoint`) on stdin/stdout until the client
/// disconnects or `shutdown` is cancelled.
///
/// Shutdown drains as HTTP serving does: new calls are refused, the calls in flight finish
/// (bounded by `gateway.drain_timeout`) and their answers are written, then the session ends.
///
/// # Errors
/// [`GatewayError::Stdio`] when the handshake fails.
pub async fn serve_stdio(
    gateway: Gateway,
    endpoint: Option<Arc<Endpoint>>,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let handler = Downstream::stdio(gateway.clone(), endpoint);
    let (input, output) = crate::stdio::stdio();
    let (out, writer) = Out::start(output);
    let ids = Ids::default();
    let lane = Lane::new(handler.clone(), out.clone(), ids.clone());
    let transport = DistinctIds::sharing(
        AsyncRwTransport::new_server(sieve(input, lane.clone()), out.writer()),
        ids,
    );
    drop(out);
    let running = handler
        .serve(transport)
        .await
        .map_err(|e| GatewayError::Stdio(e.to_string()))?;
    lane.open(running.peer().clone());
    let cancel = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    let ended = tokio::select! {
        result = &mut waiting => result,
        () = shutdown.cancelled() => {
            gateway.drain().await;
            tokio::select! {
                result = &mut waiting => result,
                () = tokio::time::sleep(FLUSH) => {
                    cancel.cancel();
                    waiting.await
                }
            }
        }
    };
    // As rmcp's own calls are: a call still in flight when the session ends is not answered.
    lane.close();
    drop(lane);
    // What was queued reaches stdout; the writer ends once no call holds the queue any more.
    let _ = tokio::time::timeout(FLUSH, writer).await;
    ended.map_err(|e| GatewayError::Stdio(e.to_string()))?;
    Ok(())
}
