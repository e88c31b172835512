//! The client end of one forwarded request ([`Relay`]): where what the upstream sends while
//! serving it — progress (in order, before the response), log messages, requests — goes back to.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::model::{
    ClientResult, ErrorData, GetExtensions, ProgressNotificationParam, ProgressToken,
    ProtocolVersion, RequestId, RequestMetaObject, ServerRequest,
};
use rmcp::service::{OriginatingRequestId, Peer, RequestContext, RoleServer, ServiceError};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// The client end of one forwarded request: where what the upstream sends while serving it
/// goes back to.
pub(crate) struct Relay {
    /// The client's session.
    pub(crate) peer: Peer<RoleServer>,
    /// The client's request id (its response stream, for requests sent back to it).
    pub(crate) request_id: RequestId,
    /// The client's progress token, if it asked for progress.
    pub(crate) progress_token: Option<ProgressToken>,
    /// The client's `_meta`, without its progress token (the upstream request gets its own).
    pub(crate) meta: RequestMetaObject,
    /// Cancelled when the client cancels its request.
    pub(crate) cancelled: CancellationToken,
    /// The client's progress notifications, in the order the upstream sent them.
    progress: Option<ProgressLane>,
}

/// Progress notifications on their way to one client, in order. rmcp hands each notification
/// to a task of its own, which could reorder them or let the response overtake them; these are
/// queued as they arrive from the upstream instead, and the response waits for the queue.
///
/// The queue holds at most [`PROGRESS_QUEUE`] notifications. When a client reads them more
/// slowly than the upstream sends them, the ones that do not fit are dropped: progress is
/// advisory and each notification supersedes the one before, so a slow client sees fewer steps,
/// never a stalled upstream connection or unbounded memory.
struct ProgressLane {
    queue: mpsc::Sender<ProgressNotificationParam>,
    queued: AtomicU64,
    forwarded: watch::Receiver<u64>,
}

/// How many progress notifications one request's lane holds.
const PROGRESS_QUEUE: usize = 32;

impl ProgressLane {
    fn new(peer: Peer<RoleServer>) -> Self {
        Self::with_sink(move |params| {
            let peer = peer.clone();
            async move {
                let _ = peer.notify_progress(params).await;
            }
        })
    }

    /// A lane whose notifications go to `sink`, one at a time, in order.
    fn with_sink<F, Fut>(sink: F) -> Self
    where
        F: Fn(ProgressNotificationParam) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (queue, mut next) = mpsc::channel::<ProgressNotificationParam>(PROGRESS_QUEUE);
        let (count, forwarded) = watch::channel(0);
        tokio::spawn(async move {
            while let Some(params) = next.recv().await {
                sink(params).await;
                count.send_modify(|n| *n += 1);
            }
        });
        Self {
            queue,
            queued: AtomicU64::new(0),
            forwarded,
        }
    }

    /// Queues `params` unless the lane is full (then it is dropped; see the type's docs).
    fn push(&self, params: ProgressNotificationParam) {
        if self.queue.try_send(params).is_ok() {
            self.queued.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// How long a response waits for the progress notifications sent before it.
const PROGRESS_FLUSH: Duration = Duration::from_secs(1);

impl Relay {
    /// The relay of the request `context` belongs to.
    pub(crate) fn of(context: &RequestContext<RoleServer>) -> Arc<Self> {
        let mut meta = context.meta.clone();
        let progress_token = meta.get_progress_token();
        meta.remove("progressToken");
        Arc::new(Self {
            peer: context.peer.clone(),
            request_id: context.id.clone(),
            progress: progress_token
                .is_some()
                .then(|| ProgressLane::new(context.peer.clone())),
            progress_token,
            meta,
            cancelled: context.ct.clone(),
        })
    }

    /// Queues a progress notification for the client, under its own token.
    pub(super) fn progress(&self, mut params: ProgressNotificationParam) {
        if let (Some(lane), Some(token)) = (&self.progress, &self.progress_token) {
            params.progress_token = token.clone();
            lane.push(params);
        }
    }

    /// Waits (briefly) until the progress notifications queued so far have reached the client,
    /// so that the response follows them.
    pub(crate) async fn flush_progress(&self) {
        if let Some(lane) = &self.progress {
            let target = lane.queued.load(Ordering::SeqCst);
            let mut forwarded = lane.forwarded.clone();
            let _ =
                tokio::time::timeout(PROGRESS_FLUSH, forwarded.wait_for(|n| *n >= target)).await;
        }
    }

    /// Whether the client's request is of the 2026-07-28 revision or later (per-request
    /// `_meta`, `input_required` results).
    pub(crate) fn modern(&self) -> bool {
        self.meta
            .protocol_version()
            .or_else(|| self.peer.peer_info().map(|i| i.protocol_version.clone()))
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
    }

    /// The `_meta` to send upstream: the client's, so a 2026-07-28 request stays one (its
    /// protocol version and capabilities travel with it), unless the upstream refuses that
    /// revision (`legacy_only`), in which case the revision's keys are left out.
    pub(crate) fn upstream_meta(&self, legacy_only: bool) -> RequestMetaObject {
        let mut meta = self.meta.clone();
        if legacy_only {
            meta.retain(|key, _| !key.starts_with("io.modelcontextprotocol/"));
        }
        meta
    }

    /// Sends `request` to the client, on the stream of its request.
    pub(crate) async fn ask(&self, mut request: ServerRequest) -> Result<ClientResult, ErrorData> {
        request
            .extensions_mut()
            .insert(OriginatingRequestId(self.request_id.clone()));
        let peer = self.peer.clone();
        // A task of its own: a request sent from inside another request's handler is tagged with
        // that request (a task-local), which here would be the upstream's, not the client's.
        tokio::spawn(async move { peer.send_request(request).await })
            .await
            .map_err(|e| ErrorData::internal_error(format!("relaying failed: {e}"), None))?
            .map_err(|e| match e {
                ServiceError::McpError(error) => error,
                other => {
                    ErrorData::internal_error(format!("the client did not answer: {other}"), None)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(n: u32) -> ProgressNotificationParam {
        ProgressNotificationParam::new(
            ProgressToken(rmcp::model::NumberOrString::Number(1)),
            f64::from(n),
        )
    }

    #[tokio::test]
    async fn a_slow_client_drops_progress_instead_of_queueing_without_bound() {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lane = {
            let (gate, seen) = (gate.clone(), seen.clone());
            ProgressLane::with_sink(move |params: ProgressNotificationParam| {
                let (gate, seen) = (gate.clone(), seen.clone());
                async move {
                    gate.acquire().await.unwrap().forget();
                    seen.lock().unwrap().push(params.progress);
                }
            })
        };
        for n in 0..1000 {
            lane.push(step(n));
        }
        // One may be in the sink already; the rest wait in the queue, and nothing blocked.
        let queued = lane.queued.load(Ordering::SeqCst);
        assert!(
            (PROGRESS_QUEUE as u64..=PROGRESS_QUEUE as u64 + 1).contains(&queued),
            "{queued}"
        );
        gate.add_permits(2000);
        let mut forwarded = lane.forwarded.clone();
        forwarded.wait_for(|n| *n >= queued).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len() as u64, queued);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
        assert_eq!(seen[0], 0.0);
    }
}
