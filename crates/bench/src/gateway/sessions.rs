//! Part 3 of `switchboard-bench gateway`: what handshake-era sessions cost the gateway, and
//! that a flood of `initialize` requests that never close their sessions leaves it bounded and
//! answering.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use super::{Served, Setup};
use crate::http::{self, Endpoint, Era};
use crate::stats::Memory;
use crate::table::figure;

/// Sessions opened (and kept) to measure one session's memory; under the default cap per client.
const KEPT: usize = 200;

/// Opens [`KEPT`] sessions and measures the gateway's RSS per session, then sends `attempts`
/// `initialize` requests from `connections` connections, none closing its session.
pub(super) async fn run(
    setup: &Setup,
    exposed: &str,
    attempts: usize,
    connections: usize,
) -> anyhow::Result<Value> {
    let log = setup.dir.path().join("gateway-sessions.log");
    let gateway = Served::start(setup.gateway(true, "gateway-sessions.log")?, &log).await?;
    let endpoint = gateway.endpoint(exposed, Era::Sessions).await?;
    let before = Memory::of(gateway.pid());
    let mut connection = endpoint.connect_bare().await?;
    for _ in 0..KEPT {
        connection.open_session(&endpoint).await?;
    }
    // Let the sessions' tasks settle before reading the memory.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kept = Memory::of(gateway.pid());
    let per_session = (kept.rss_kb.saturating_sub(before.rss_kb) * 1024) / KEPT as u64;
    figure(
        &format!("  RSS per idle session ({KEPT} open)"),
        &format!("{:.1} KB", per_session as f64 / 1024.0),
        "",
        "<= 16 KB",
    );

    let began = Instant::now();
    let per = attempts.div_ceil(connections.max(1));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let mut connection = endpoint.connect_bare().await?;
                let (mut opened, mut refused) = (0u64, 0u64);
                for _ in 0..per {
                    let (status, _, _) = connection.post(&endpoint, http::initialize()).await?;
                    match status.as_u16() {
                        200 => opened += 1,
                        503 => refused += 1,
                        other => anyhow::bail!("initialize answered HTTP {other}"),
                    }
                }
                anyhow::Ok((opened, refused))
            })
        })
        .collect();
    let (mut opened, mut refused) = (0, 0);
    for task in tasks {
        let (o, r) = task.await??;
        opened += o;
        refused += r;
    }
    let took = began.elapsed();
    let after = Memory::of(gateway.pid());
    let open = open_sessions(&gateway.url).await?;
    endpoint
        .checked_call()
        .await
        .context("a call after the initialize flood")?;
    let total = opened + refused;
    figure(
        &format!(
            "  {total} initialize, never closed ({:.1} s)",
            took.as_secs_f64()
        ),
        &format!("{opened} opened, {refused} refused"),
        "",
        "",
    );
    figure(
        "  gateway RSS after them / sessions open",
        &format!("{:.1} MB / {open}", after.rss_kb as f64 / 1024.0),
        &format!("{:.1} MB before", before.rss_kb as f64 / 1024.0),
        "< 300 MB",
    );
    ensure!(opened + refused == total, "every attempt answered");
    Ok(json!({
        "rss_per_idle_session_bytes": per_session, "kept": KEPT,
        "attempts": total, "opened": opened, "refused": refused, "seconds": took.as_secs_f64(),
        "open_after": open, "rss_before": before.json(), "rss_after": after.json(),
    }))
}

/// The number of open sessions `/readyz` reports.
async fn open_sessions(url: &str) -> anyhow::Result<u64> {
    let readyz = Endpoint::get(&url.replace("/mcp", "/readyz"))?;
    let body = readyz.connect_bare().await?.get(&readyz).await?;
    let ready: Value = serde_json::from_slice(&body).context("/readyz is not JSON")?;
    ready["sessions"]
        .as_u64()
        .context("/readyz reports no session count")
}
