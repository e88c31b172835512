//! Serving the gateway to one client on stdin/stdout, with the same drain as HTTP on shutdown.

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use super::Downstream;
use crate::error::GatewayError;
use crate::gateway::Gateway;

/// Serves the gateway on stdin/stdout until the client disconnects or `shutdown` is cancelled.
///
/// # Errors
/// [`GatewayError::Stdio`] when the handshake fails.
pub async fn serve_stdio(
    gateway: Gateway,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let running = Downstream::stdio(gateway)
        .serve(crate::stdio::stdio())
        .await
        .map_err(|e| GatewayError::Stdio(e.to_string()))?;
    let cancel = running.cancellation_token();
    tokio::select! {
        result = running.waiting() => {
            result.map_err(|e| GatewayError::Stdio(e.to_string()))?;
        }
        () = shutdown.cancelled() => cancel.cancel(),
    }
    Ok(())
}
