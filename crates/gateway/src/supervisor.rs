//! The supervisor: one task per upstream that starts it (at boot or on first use), pings it,
//! restarts it with exponential backoff and jitter when it exits or stops answering, and opens
//! its circuit after too many failures in a window. While an upstream is down its tools answer
//! "server X is unavailable, retrying in Ns" at once; calls in flight when it dies fail as soon as
//! the transport ends.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rmcp::model::{
    ClientRequest, ListPromptsRequest, PaginatedRequestParams, PingRequest, Prompt, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ResolvedTransport, StartMode};
use crate::pending::{Notifier, Waiter, pending};
use crate::secrets::SecretSet;
use crate::upstream::{self, ConnectError, Connection, Health, Listing, State, Upstream};

/// Runs the supervision loop of `upstream` until `shutdown` is cancelled. `changed` is notified
/// whenever its listing changes.
pub(crate) async fn supervise(
    upstream: Arc<Upstream>,
    secrets: SecretSet,
    changed: Notifier,
    shutdown: CancellationToken,
) {
    let name = upstream.name.clone();
    let config = upstream.server.config.clone();
    if config.start == StartMode::Lazy {
        tokio::select! {
            () = upstream.start_now.cancelled() => {}
            () = shutdown.cancelled() => { upstream.set(State::Health(Health::Stopped)); return; }
        }
    }
    let mut failures: VecDeque<Instant> = VecDeque::new();
    let mut half_open = false;
    loop {
        upstream.set(State::Health(Health::Starting));
        let error = match start(&upstream, &secrets).await {
            Ok((conn, events)) => {
                half_open = false;
                changed.notify();
                run_connected(&upstream, conn, events, &changed, &shutdown).await
            }
            Err(error) => error.to_string(),
        };
        if shutdown.is_cancelled() {
            upstream.set(State::Health(Health::Stopped));
            return;
        }
        let now = Instant::now();
        failures.push_back(now);
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > config.restart.window)
        {
            failures.pop_front();
        }
        let open = half_open || failures.len() >= config.restart.max_failures as usize;
        let (wait, health) = if open {
            let retry_at = now + config.restart.open_for;
            tracing::error!(upstream = %name, %error, "circuit open after {} failures; next attempt in {:?}", failures.len(), config.restart.open_for);
            (
                config.restart.open_for,
                Health::CircuitOpen { retry_at, error },
            )
        } else {
            let failures_in_window = u32::try_from(failures.len()).unwrap_or(u32::MAX);
            let delay = switchboard_http::backoff(
                config.restart.initial_backoff,
                config.restart.max_backoff,
                failures_in_window,
            );
            tracing::warn!(upstream = %name, %error, "upstream down; restarting in {delay:?}");
            (
                delay,
                Health::Backoff {
                    retry_at: now + delay,
                    error,
                },
            )
        };
        upstream.set(State::Health(health));
        upstream.restarts.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => { upstream.set(State::Health(Health::Stopped)); return; }
        }
        if open {
            failures.clear();
            half_open = true;
        }
    }
}

type Started = (Connection, Waiter);

/// Connects `upstream` and lists what it offers, each within its `ping_timeout`, then marks it
/// ready.
///
/// # Errors
/// A [`ConnectError`] saying which step failed.
async fn start(upstream: &Upstream, secrets: &SecretSet) -> Result<Started, ConnectError> {
    let (events_tx, events) = pending();
    let limit = upstream.server.config.ping_timeout;
    let conn = tokio::time::timeout(
        limit,
        upstream::connect(
            &upstream.server,
            events_tx,
            upstream.routes.clone(),
            secrets,
        ),
    )
    .await
    .map_err(|_| ConnectError::HandshakeTimeout(limit))??;
    let handshake_era = conn
        .service
        .peer()
        .peer_info()
        .is_some_and(|i| i.protocol_version.has_initialize());
    let http = matches!(upstream.server.transport, ResolvedTransport::Http { .. });
    let legacy_only = handshake_era && http;
    upstream.legacy_only.store(legacy_only, Ordering::Relaxed);
    let listing = tokio::time::timeout(limit, list_everything(conn.service.peer(), !legacy_only))
        .await
        .map_err(|_| ConnectError::ListingTimeout(limit))?
        .map_err(ConnectError::Listing)?;
    tracing::info!(upstream = %upstream.name, pid = ?conn.pid, tools = listing.tools.len(), "upstream ready");
    upstream.set_listing(listing);
    upstream.set(State::Ready {
        peer: conn.service.peer().clone(),
        closed: conn.closed.clone(),
        pid: conn.pid,
    });
    Ok((conn, events))
}

/// Lists what the server offers; `modern` also asks, on a handshake-era session, for what it
/// offers only to 2026-07-28 clients.
async fn list_everything(peer: &Peer<RoleClient>, modern: bool) -> Result<Listing, ServiceError> {
    let caps = peer
        .peer_info()
        .map(|i| i.capabilities.clone())
        .unwrap_or_default();
    let mut listing = Listing::default();
    if caps.tools.is_some() {
        listing.tools = peer.list_all_tools().await?;
    }
    if caps.resources.is_some() {
        listing.resources = peer.list_all_resources().await?;
        listing.templates = peer.list_all_resource_templates().await.unwrap_or_default();
    }
    if caps.prompts.is_some() {
        listing.prompts = peer.list_all_prompts().await?;
        let handshake_era = peer
            .peer_info()
            .is_some_and(|i| i.protocol_version.has_initialize());
        if handshake_era && modern {
            // A server that does not speak 2026-07-28 refuses the request; nothing to add.
            if let Ok(modern) = list_modern_prompts(peer).await {
                listing.modern_prompts = modern
                    .into_iter()
                    .filter(|p| !listing.prompts.iter().any(|q| q.name == p.name))
                    .collect();
            }
        }
    }
    Ok(listing)
}

/// The prompts the server lists to a 2026-07-28 client.
async fn list_modern_prompts(peer: &Peer<RoleClient>) -> Result<Vec<Prompt>, ServiceError> {
    let mut prompts = Vec::new();
    let mut cursor = None;
    loop {
        let mut params = PaginatedRequestParams::default();
        params.cursor = cursor;
        let request = ClientRequest::ListPromptsRequest(ListPromptsRequest::with_param(params));
        let mut options = PeerRequestOptions::no_options();
        options.meta = Some(upstream::modern_meta());
        let response = peer
            .send_request_with_option(request, options)
            .await?
            .await_response()
            .await?;
        let ServerResult::ListPromptsResult(page) = response else {
            return Err(ServiceError::UnexpectedResponse);
        };
        prompts.extend(page.prompts);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(prompts);
        }
    }
}

/// Watches a live connection; returns why it ended (or an empty reason at shutdown).
async fn run_connected(
    upstream: &Upstream,
    mut conn: Connection,
    mut events: Waiter,
    changed: &Notifier,
    shutdown: &CancellationToken,
) -> String {
    let config = &upstream.server.config;
    let mut ticker = tokio::time::interval(config.health_interval);
    ticker.tick().await;
    let reason = loop {
        tokio::select! {
            () = conn.closed.cancelled() => break "the server exited or closed its connection".to_owned(),
            () = shutdown.cancelled() => break String::new(),
            _ = ticker.tick() => {
                if let Err(reason) = ping(conn.service.peer(), config.ping_timeout).await {
                    break reason;
                }
            }
            true = events.changed() => {
                let modern = !upstream.legacy_only.load(Ordering::Relaxed);
                match list_everything(conn.service.peer(), modern).await {
                    Ok(listing) => {
                        upstream.set_listing(listing);
                        changed.notify();
                    }
                    Err(e) => tracing::warn!(upstream = %upstream.name, "re-listing failed: {e}"),
                }
            }
        }
    };
    upstream.set(State::Health(Health::Starting));
    if shutdown.is_cancelled() {
        // Stopping: close stdin and give the server a moment to exit on its own.
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.service.close()).await;
    } else if let Some(pid) = conn.pid {
        // Failed: do not wait for a server that stopped answering; dropping the transport
        // kills the child.
        tracing::warn!(upstream = %upstream.name, pid, "stopping the unresponsive server");
    }
    drop(conn);
    reason
}

async fn ping(peer: &Peer<RoleClient>, limit: Duration) -> Result<(), String> {
    let request = ClientRequest::PingRequest(PingRequest::default());
    match tokio::time::timeout(limit, peer.send_request(request)).await {
        Err(_) => Err(format!("health check: no answer to ping within {limit:?}")),
        // Any JSON-RPC answer, even "method not found" from a stateless-era server, is a sign of
        // life.
        Ok(Ok(_)) | Ok(Err(ServiceError::McpError(_))) => Ok(()),
        Ok(Err(e)) => Err(format!("health check failed: {e}")),
    }
}
