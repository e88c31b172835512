//! The fast lane of stdio serving: `tools/call` requests taken off stdin before rmcp's service
//! sees them.
//!
//! rmcp's service decodes every message into its union of client messages (buffering it and
//! trying shape after shape), hands each request to a task of its own, and sends the response
//! back through its loop and a locked writer. For the one request that matters for throughput
//! that is most of a relayed call's cost in the gateway, and a good part of a built-in server's.
//! Here a complete line that is a
//! `tools/call` request is decoded straight into its parameters and served by the same handler
//! rmcp would call ([`Service::handle_request`], so the same checks of protocol version and
//! metadata, the same tool, the same answer), and the response goes to the writer directly.
//! Everything else — the handshake, other requests and notifications, responses to the
//! gateway's own requests, lines too long to hold — reaches rmcp byte for byte.
//!
//! - **Reading.** A task of its own reads stdin ([`sieve`]): it serves the lane's lines and passes
//!   the others, in order, to rmcp's line reader, which is woken only for those. It holds at most
//!   [`HOLD`] bytes of a line while looking for its end; a longer line goes to rmcp as it comes.
//! - **Writing.** One task owns stdout ([`Out`]); rmcp's writer and the lane queue whole lines to
//!   it, so lines never interleave. The queue is bounded: a client that stops reading stalls
//!   the senders, as a full pipe would.
//! - **Ids.** A lane request takes its id in the set [`crate::request_ids::DistinctIds`] keeps,
//!   so a duplicate of an id in flight — on either path — is answered with Invalid Request.
//! - **Cancellation.** `notifications/cancelled` for a lane request cancels it (and still
//!   reaches rmcp, which forgets the id); a cancelled request gets no response, as in rmcp.

use std::collections::{HashMap, HashSet};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, ErrorData, JsonRpcVersion2_0, RequestId,
    ServerJsonRpcMessage,
};
use rmcp::service::{Peer, RequestContext, RoleServer, Service};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, PollSender};

use super::{Input, Output};
use crate::request_ids::{Ids, duplicate_id};

/// The longest line the sieve holds while looking for its end; longer ones go to rmcp.
const HOLD: usize = 1 << 20;

/// Lines queued for stdout.
const QUEUE: usize = 64;

/// One stdio connection's lane: what the reader of stdin needs to serve a call.
pub(crate) struct Lane<S> {
    handler: S,
    /// The session, once the handshake is done; until then every line goes to rmcp.
    peer: OnceLock<Peer<RoleServer>>,
    /// Cancelled when the session ends.
    ended: CancellationToken,
    ids: Ids,
    /// The lane's requests in flight, to cancel on the client's word.
    cancel: Mutex<HashMap<RequestId, CancellationToken>>,
    out: Out,
}

impl<S: Service<RoleServer> + Send + Sync + 'static> Lane<S> {
    /// A lane for `handler`, writing to `out`, sharing `ids` with rmcp's side.
    pub(crate) fn new(handler: S, out: Out, ids: Ids) -> Arc<Self> {
        Arc::new(Self {
            handler,
            peer: OnceLock::new(),
            ended: CancellationToken::new(),
            ids,
            cancel: Mutex::default(),
            out,
        })
    }

    /// Opens the lane once the session (`peer`) is established.
    pub(crate) fn open(&self, peer: Peer<RoleServer>) {
        let _ = self.peer.set(peer);
    }

    /// What closes the lane: cancelling it cancels the lane's calls still in flight, whose
    /// answers are then not written (as rmcp's own are not once the session ended), and ends
    /// the reading of stdin.
    pub(crate) fn ended(&self) -> CancellationToken {
        self.ended.clone()
    }

    /// Takes `line` if it is the lane's: a `tools/call` request once the session is open, or a
    /// cancellation of one of the lane's requests (which rmcp sees too: `false`).
    fn take(self: &Arc<Self>, line: &[u8]) -> bool {
        let Some(peer) = self.peer.get() else {
            return false;
        };
        let Ok(message) = serde_json::from_slice::<Message<'_>>(line) else {
            return false;
        };
        match (
            message.method.as_deref(),
            message.jsonrpc,
            message.id,
            message.params,
        ) {
            (Some("tools/call"), Some(_), Some(id), Some(params)) => {
                let Ok(call) = serde_json::from_str::<CallToolRequestParams>(params.get()) else {
                    return false;
                };
                if self.lock_ids().insert(id.clone()) {
                    self.serve(peer.clone(), id, call);
                } else {
                    let error = ServerJsonRpcMessage::error(duplicate_id(&id), Some(id));
                    self.out.queue_now(&error);
                }
                true
            }
            (Some("notifications/cancelled"), _, None, Some(params)) => {
                if let Ok(CancelledParams {
                    request_id: Some(id),
                }) = serde_json::from_str(params.get())
                    && let Some(token) = self.lock_cancel().remove(&id)
                {
                    token.cancel();
                }
                false
            }
            _ => false,
        }
    }

    fn serve(
        self: &Arc<Self>,
        peer: Peer<RoleServer>,
        id: RequestId,
        mut call: CallToolRequestParams,
    ) {
        let token = self.ended.child_token();
        self.lock_cancel().insert(id.clone(), token.clone());
        let mut context = RequestContext::new(id.clone(), peer);
        context.ct = token.clone();
        context.meta = call.meta.take().unwrap_or_default();
        let lane = self.clone();
        tokio::spawn(async move {
            let request = ClientRequest::CallToolRequest(CallToolRequest::new(call));
            let result = lane.handler.handle_request(request, context).await;
            let response = match result {
                Ok(result) => ServerJsonRpcMessage::response(result, id.clone()),
                Err(error) => ServerJsonRpcMessage::error(error, Some(id.clone())),
            };
            // A cancelled request's id was let go when its cancellation came (the client may
            // have used it again since); only an answered one lets go of it here.
            if !token.is_cancelled() {
                lane.lock_cancel().remove(&id);
                lane.lock_ids().remove(&id);
                lane.out.queue(&response).await;
            }
        });
    }

    fn lock_ids(&self) -> std::sync::MutexGuard<'_, HashSet<RequestId>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_cancel(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, CancellationToken>> {
        self.cancel.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A message as the lane first reads it: what it is, its parameters left undecoded.
#[derive(Deserialize)]
struct Message<'a> {
    jsonrpc: Option<JsonRpcVersion2_0>,
    id: Option<RequestId>,
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelledParams {
    request_id: Option<RequestId>,
}

/// Starts reading stdin in a task of its own, which serves the lines the lane takes and passes
/// the rest on; returns what rmcp's line reader reads instead of stdin. The task ends at the end
/// of stdin, when rmcp stops reading, or when the lane closes.
pub(crate) fn sieve<S: Service<RoleServer> + Send + Sync + 'static>(
    input: Input,
    lane: Arc<Lane<S>>,
) -> Passed {
    let (passed, chunks) = mpsc::channel(QUEUE);
    let ended = lane.ended.clone();
    let mut sieve = Sieve {
        input,
        lane,
        held: Vec::with_capacity(8192),
        pass: 0,
        scanned: 0,
        streaming: false,
        eof: false,
    };
    tokio::spawn(async move {
        tokio::select! {
            () = sieve.run(passed) => {}
            () = ended.cancelled() => {}
        }
    });
    Passed {
        chunks,
        chunk: Vec::new(),
        at: 0,
    }
}

/// stdin, sorted: the lane's lines served, the others passed to rmcp in order.
struct Sieve<S> {
    input: Input,
    lane: Arc<Lane<S>>,
    /// Bytes read and not yet passed on or taken.
    held: Vec<u8>,
    /// How many bytes at the front of `held` are rmcp's.
    pass: usize,
    /// Where the search for the next newline in `held` resumes.
    scanned: usize,
    /// Passing a line longer than [`HOLD`] through until its end.
    streaming: bool,
    eof: bool,
}

impl<S: Service<RoleServer> + Send + Sync + 'static> Sieve<S> {
    async fn run(&mut self, passed: mpsc::Sender<Vec<u8>>) {
        let mut chunk = vec![0u8; 8192];
        while !self.eof {
            match self.input.read(&mut chunk).await {
                Ok(0) | Err(_) => self.eof = true,
                Ok(n) => self.held.extend_from_slice(&chunk[..n]),
            }
            self.sort();
            if self.pass > 0 {
                let rest = self.held.split_off(self.pass);
                let rmcp = std::mem::replace(&mut self.held, rest);
                self.scanned -= self.pass;
                self.pass = 0;
                if passed.send(rmcp).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Decides what the bytes held so far are: lines the lane takes are removed, rmcp's are
    /// counted in `pass`.
    fn sort(&mut self) {
        while self.pass < self.held.len() {
            let start = self.pass;
            let from = start.max(self.scanned);
            let Some(end) = memchr(&self.held[from..]).map(|i| from + i + 1) else {
                self.scanned = self.held.len();
                if self.streaming || self.held.len() - start > HOLD || self.eof {
                    self.streaming = !self.eof;
                    self.pass = self.held.len();
                }
                return;
            };
            self.scanned = end;
            if self.streaming {
                self.streaming = false;
                self.pass = end;
            } else if self.lane.take(&self.held[start..end]) {
                self.held.drain(start..end);
                self.scanned = start;
            } else {
                self.pass = end;
            }
        }
    }
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

/// What rmcp's line reader reads: the bytes [`Sieve`] passed on, in order; its end is the end of
/// stdin.
pub(crate) struct Passed {
    chunks: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl AsyncRead for Passed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.at == this.chunk.len() {
            match ready!(this.chunks.poll_recv(cx)) {
                Some(chunk) => (this.chunk, this.at) = (chunk, 0),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = (this.chunk.len() - this.at).min(buf.remaining());
        buf.put_slice(&this.chunk[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

/// stdout, owned by one writer task, fed whole lines.
#[derive(Clone)]
pub(crate) struct Out {
    lines: mpsc::Sender<Vec<u8>>,
}

impl Out {
    /// Starts the writer task on `output`; it ends when every [`Out`] and [`OutWriter`] is
    /// dropped and what they queued is written.
    pub(crate) fn start(mut output: Output) -> (Self, tokio::task::JoinHandle<()>) {
        let (lines, mut queued) = mpsc::channel::<Vec<u8>>(QUEUE);
        let writer = tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(first) = queued.recv().await {
                batch.clear();
                batch.extend_from_slice(&first);
                while let Ok(next) = queued.try_recv() {
                    batch.extend_from_slice(&next);
                }
                if output.write_all(&batch).await.is_err() || output.flush().await.is_err() {
                    return;
                }
            }
        });
        (Self { lines }, writer)
    }

    /// rmcp's writer: what it writes goes through the same queue.
    pub(crate) fn writer(&self) -> OutWriter {
        OutWriter {
            lines: PollSender::new(self.lines.clone()),
        }
    }

    async fn queue(&self, message: &ServerJsonRpcMessage) {
        let _ = self.lines.send(line(message)).await;
    }

    /// Queues `message` without waiting: for an answer given while reading, which must not
    /// wait for the writer. Dropped if the queue is full (the client is not reading).
    fn queue_now(&self, message: &ServerJsonRpcMessage) {
        let _ = self.lines.try_send(line(message));
    }
}

fn line(message: &ServerJsonRpcMessage) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_else(|error| {
        let error = ErrorData::internal_error(format!("cannot encode the response: {error}"), None);
        serde_json::to_vec(&ServerJsonRpcMessage::error(error, None)).unwrap_or_default()
    });
    line.push(b'\n');
    line
}

/// The [`AsyncWrite`] rmcp's transport writes to: each write is queued whole.
pub(crate) struct OutWriter {
    lines: PollSender<Vec<u8>>,
}

impl AsyncWrite for OutWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let closed = || io::Error::new(io::ErrorKind::BrokenPipe, "stdout is closed");
        ready!(this.lines.poll_reserve(cx)).map_err(|_| closed())?;
        this.lines.send_item(buf.to_vec()).map_err(|_| closed())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().lines.close();
        Poll::Ready(Ok(()))
    }
}
