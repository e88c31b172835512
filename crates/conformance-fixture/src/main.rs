//! `switchboard-conformance-fixture`: an MCP server that implements what the server scenarios
//! of the official conformance suite (`@modelcontextprotocol/conformance`) call — the tools,
//! resources and prompts named `test_*`, and the tools of the Tasks extension scenarios — on
//! rmcp, for both protocol eras (2025-11-25 sessions, 2026-07-28 stateless requests).
//! `scripts/conformance` runs the suite against it directly and through `switchboard serve`.
//!
//! Usage: `switchboard-conformance-fixture` serves stdio; `--http 127.0.0.1:PORT` serves
//! Streamable HTTP at `/mcp` (loopback only) and prints `listening on http://ADDR/mcp` to
//! stderr. Exit codes: 0 after a clean shutdown, 1 on any error.

mod data;
mod mrtr;
mod prompts;
mod resources;
mod server;
mod state;
mod tasks;
mod tools;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use switchboard_gateway::downstream::task_notices;
use switchboard_gateway::signal::shutdown_signal;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use server::Fixture;
use state::Shared;

/// MCP server for the official conformance suite's server scenarios.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio (loopback addresses only;
    /// port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args = Args::parse();
    let outcome = match Shared::new().context("cannot set up the requestState key") {
        Ok(shared) => match args.http {
            Some(addr) => http(addr, Arc::new(shared)).await,
            None => stdio(Arc::new(shared)).await,
        },
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn stdio(shared: Arc<Shared>) -> anyhow::Result<()> {
    let running = Fixture::new(shared)
        .serve(rmcp::transport::stdio())
        .await
        .context("MCP handshake over stdio failed")?;
    tokio::select! {
        result = running.waiting() => { result.context("stdio session ended with an error")?; }
        () = shutdown_signal() => {}
    }
    Ok(())
}

async fn http(addr: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address: the fixture serves 127.0.0.1 or [::1] only");
    }
    let cancel = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(cancel.child_token())
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1", "[::1]"])
        .with_allowed_origins(["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]);
    let service = StreamableHttpService::new(
        move || Ok(Fixture::new(shared.clone())),
        LocalSessionManager::default().into(),
        config,
    );
    let router = axum::Router::new().nest_service(
        "/mcp",
        axum::Router::new()
            .fallback_service(service)
            .layer(axum::middleware::from_fn(task_notices::take_task_ids)),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!("listening on http://{local}/mcp");
    // Responses are SSE streams written in several small pieces: without TCP_NODELAY the last
    // one waits for the client's delayed ACK (40 ms on Linux).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            cancel.cancel();
        })
        .await
        .context("HTTP server failed")
}
