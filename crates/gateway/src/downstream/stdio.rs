//! Serving the gateway to one client on stdin/stdout, with the same drain as HTTP on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Downstream;
use crate::endpoints::Endpoint;
use crate::error::GatewayError;
use crate::gateway::Gateway;

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
    let (running, closing) = crate::stdio::serve(handler)
        .await
        .map_err(|e| GatewayError::Stdio(e.to_string()))?;
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
    closing.close().await;
    ended.map_err(|e| GatewayError::Stdio(e.to_string()))?;
    Ok(())
}
