//! Serving one MCP server handler over stdio or Streamable HTTP (`/mcp`), until the client goes
//! away or the process gets ctrl-c / SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler, Service};
use switchboard_gateway::config::SessionLimits;
use switchboard_gateway::downstream::sessions::{Sessions, track};
use switchboard_gateway::signal::shutdown_signal;
use tokio_util::sync::CancellationToken;

/// Serves `server` on stdin/stdout. stdout carries only the protocol; logs go to stderr.
pub(crate) async fn stdio<S>(server: S) -> anyhow::Result<()>
where
    S: Service<RoleServer> + Clone + Send + Sync + 'static,
{
    let (running, closing) = switchboard_gateway::stdio::serve(server)
        .await
        .context("MCP handshake over stdio failed")?;
    tokio::select! {
        result = running.waiting() => {
            closing.close().await;
            result.context("stdio session ended with an error")?;
        }
        () = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// Serves `server` over Streamable HTTP at `http://ADDR/mcp` (both protocol eras: sessions for
/// 2025-11-25 clients, stateless for 2026-07-28). Only loopback addresses: a server exposed beyond
/// this machine belongs behind `switchboard serve`, which authenticates clients.
pub(crate) async fn http<S, F>(addr: SocketAddr, factory: F) -> anyhow::Result<()>
where
    S: ServerHandler + Send + 'static,
    F: Fn() -> S + Send + Sync + 'static,
{
    if !addr.ip().is_loopback() {
        bail!(
            "{addr} is not a loopback address: a single server has no client authentication; \
             bind 127.0.0.1, or put it behind `switchboard serve`, which requires client tokens off loopback"
        );
    }
    let cancel = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(cancel.child_token())
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1", "[::1]"]);
    let sessions = Arc::new(Sessions::new(SessionLimits::default()));
    let service = StreamableHttpService::new(move || Ok(factory()), sessions.clone(), config);
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(sessions, track));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!("serving MCP at http://{local}/mcp");
    eprintln!("listening on http://{local}/mcp");
    // Responses are small and latency-bound: send them without waiting for Nagle's timer.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            cancel.cancel();
        })
        .await
        .context("HTTP server failed")?;
    Ok(())
}
