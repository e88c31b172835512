//! The fast lane of HTTP serving: a 2026-07-28 stateless `tools/call` answered without rmcp's
//! per-request machinery.
//!
//! For a stateless request rmcp's Streamable HTTP service starts a whole service of its own (a
//! one-shot transport, a service loop task, a peer with its channels) and answers over an SSE
//! stream; that costs more than the call it carries. Here a request that is exactly the common
//! case — a `tools/call` whose headers and `_meta` are complete and agree, from a client that
//! asked for nothing that needs a stream (no progress token, no log level, no sampling or roots),
//! with no `Origin` and an allowed `Host` — is decoded straight into its parameters and served by
//! the same handler rmcp would call ([`Service::handle_request`]: the same checks, the same
//! pipeline, the same result), and answered with one JSON body. Everything else, including every
//! request the lane would have to refuse, goes to rmcp's service unchanged, so its validation and
//! its errors stay the only ones.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, ErrorCode, ErrorData, JsonRpcVersion2_0,
    ProtocolVersion, RequestId, ServerJsonRpcMessage,
};
use rmcp::service::{
    Peer, RequestContext, RoleServer, RunningService, RxJsonRpcMessage, Service,
    serve_directly_with_ct,
};
use rmcp::transport::Transport;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::Downstream;

/// The largest body the lane reads; a longer one (or one of unknown length) goes to rmcp.
const HOLD: u64 = 1 << 20;

/// The protocol revision whose requests stand alone.
const STATELESS: &str = "2026-07-28";

/// One `/mcp` route's lane: its handler, the hosts rmcp's service allows, and a peer for the
/// requests it serves.
pub(super) struct Lane {
    handler: Downstream,
    allowed_hosts: Vec<Authority>,
    /// A peer that reaches no client: a lane request asked for nothing that needs one, and
    /// what is sent to it anyway (a request from an upstream) fails at once.
    peer: Peer<RoleServer>,
    /// Keeps the peer's (idle) service running until `shutdown`.
    _service: RunningService<RoleServer, Downstream>,
}

impl Lane {
    /// A lane for `handler` on a route whose rmcp service allows `allowed_hosts`.
    pub(super) fn new(
        handler: Downstream,
        allowed_hosts: &[String],
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let service = serve_directly_with_ct(handler.clone(), Unreachable, None, shutdown);
        Arc::new(Self {
            handler,
            allowed_hosts: allowed_hosts
                .iter()
                .filter_map(|h| Authority::allowed(h))
                .collect(),
            peer: service.peer().clone(),
            _service: service,
        })
    }

    /// Whether the headers are those of a lane request (the body decides the rest).
    fn takes(&self, request: &Request) -> bool {
        let headers = request.headers();
        let is = |name: &str, value: &str| headers.get(name).is_some_and(|v| v == value);
        request.method() == axum::http::Method::POST
            && is("mcp-protocol-version", STATELESS)
            && is("mcp-method", "tools/call")
            && headers.contains_key("mcp-name")
            && !headers.contains_key("mcp-session-id")
            && !headers.contains_key(header::ORIGIN)
            && !headers.keys().any(|k| k.as_str().starts_with("mcp-param-"))
            && json_content(headers)
            && accepts_json_and_sse(headers)
            && headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .is_some_and(|n| n <= HOLD)
            && headers
                .get(header::HOST)
                .and_then(|v| Authority::parse(v.to_str().ok()?))
                .is_some_and(|host| self.allowed_hosts.iter().any(|a| a.admits(&host)))
    }
}

/// Serves a lane request, and passes any other request on to rmcp's service.
pub(super) async fn serve(State(lane): State<Arc<Lane>>, request: Request, next: Next) -> Response {
    if !lane.takes(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // At most `HOLD` bytes, as `Content-Length` said; a body that breaks off is answered 400.
    let Ok(bytes) = axum::body::to_bytes(body, HOLD as usize).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some((id, mut call)) = call_of(&bytes, &parts.headers) else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    let mut context = RequestContext::new(id.clone(), lane.peer.clone());
    let cancelled = CancellationToken::new();
    context.ct = cancelled.clone();
    context.meta = call.meta.take().unwrap_or_default();
    context.extensions.insert(parts);
    let handler = lane.handler.clone();
    let handled = Detached::new(
        async move {
            let request = ClientRequest::CallToolRequest(CallToolRequest::new(call));
            AssertUnwindSafe(handler.handle_request(request, context))
                .catch_unwind()
                .await
        },
        cancelled,
    )
    .await;
    let message = match handled {
        Ok(Ok(result)) => ServerJsonRpcMessage::response(result, id),
        Ok(Err(error)) => ServerJsonRpcMessage::error(error, Some(id)),
        Err(_) => ServerJsonRpcMessage::error(
            ErrorData::internal_error("the call ended without an answer", None),
            Some(id),
        ),
    };
    answer(&message)
}

/// The request id and parameters of a body that is a lane request: a single JSON-RPC
/// `tools/call` whose name is the `Mcp-Name` header and whose `_meta` names the stateless
/// revision (as the header does) and the client's capabilities, none of which needs a stream.
fn call_of(body: &[u8], headers: &HeaderMap) -> Option<(RequestId, CallToolRequestParams)> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(rename = "jsonrpc")]
        _version: JsonRpcVersion2_0,
        id: RequestId,
        #[serde(borrow)]
        method: Cow<'a, str>,
        #[serde(borrow)]
        params: &'a RawValue,
    }
    let envelope: Envelope<'_> = serde_json::from_slice(body).ok()?;
    if envelope.method != "tools/call" {
        return None;
    }
    let call: CallToolRequestParams = serde_json::from_str(envelope.params.get()).ok()?;
    let name = headers.get("mcp-name")?;
    let meta = call.meta.as_ref()?;
    // The two keys 2026-07-28 requires in `_meta`: the client's capabilities and the version.
    let capabilities = meta.client_capabilities()?;
    let plain = name.as_bytes() == call.name.as_bytes()
        && meta.protocol_version()? == ProtocolVersion::V_2026_07_28
        && meta.get_progress_token().is_none()
        && meta.log_level().is_none()
        && capabilities.sampling.is_none()
        && capabilities.roots.is_none();
    plain.then_some((envelope.id, call))
}

/// A call run in place, within the request's own task (a task of its own would cost a wake-up of
/// another worker per call). If the request is dropped before the call ends (its client went
/// away), the call is cancelled and finishes in a task of its own, as in rmcp's service: it ends
/// as a cancelled call, audited as one, never as a dropped future.
struct Detached<F: Future + Send + 'static> {
    call: Option<Pin<Box<F>>>,
    cancel: CancellationToken,
}

impl<F: Future + Send + 'static> Detached<F> {
    fn new(call: F, cancel: CancellationToken) -> Self {
        Self {
            call: Some(Box::pin(call)),
            cancel,
        }
    }
}

impl<F: Future + Send + 'static> Future for Detached<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(call) = self.call.as_mut() else {
            return Poll::Pending;
        };
        let output = std::task::ready!(call.as_mut().poll(cx));
        self.call = None;
        Poll::Ready(output)
    }
}

impl<F: Future + Send + 'static> Drop for Detached<F> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.cancel.cancel();
            tokio::spawn(async move {
                call.await;
            });
        }
    }
}

/// The response rmcp's service gives a stateless request's answer, as one JSON body (its HTTP
/// status mapped from the error code as rmcp maps it).
pub(super) fn answer(message: &ServerJsonRpcMessage) -> Response {
    let status = match message {
        ServerJsonRpcMessage::Error(error) => match error.error.code {
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
            | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
            | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
            ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        },
        _ => StatusCode::OK,
    };
    match serde_json::to_vec(message) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn json_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split_once(';').map_or(v, |(essence, _)| essence);
            essence.trim().eq_ignore_ascii_case("application/json")
        })
}

fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        for media in value.to_str().unwrap_or_default().split(',') {
            let essence = media.split_once(';').map_or(media, |(e, _)| e).trim();
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// A host and optional port, as rmcp's service compares them (case-insensitive, brackets of an
/// IPv6 address dropped).
#[derive(Debug, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

impl Authority {
    /// A `Host` header's authority.
    fn parse(text: &str) -> Option<Self> {
        let authority = axum::http::uri::Authority::try_from(text).ok()?;
        Some(Self::new(authority.host(), authority.port_u16()))
    }

    /// An entry of the allowed hosts: an authority, or else a bare host (`::1`).
    fn allowed(text: &str) -> Option<Self> {
        let text = text.trim();
        match text {
            "" => None,
            _ => Self::parse(text).or_else(|| Some(Self::new(text, None))),
        }
    }

    fn new(host: &str, port: Option<u16>) -> Self {
        Self {
            host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            port,
        }
    }

    /// Whether this allowed authority admits `host` (an allowed host without a port admits any).
    fn admits(&self, host: &Self) -> bool {
        self.host == host.host && self.port.is_none_or(|port| host.port == Some(port))
    }
}

/// The transport of the lane's peer: nothing arrives; a notification sent to it is dropped and
/// a request fails at once.
struct Unreachable;

impl Transport<RoleServer> for Unreachable {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let sent = match item {
            ServerJsonRpcMessage::Request(_) => Err(std::io::Error::other(
                "a stateless request without a stream cannot be asked anything",
            )),
            _ => Ok(()),
        };
        std::future::ready(sent)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        std::future::pending()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowed_host_without_a_port_admits_any_port_and_one_with_a_port_only_that_port() {
        let any = Authority::allowed("localhost").unwrap();
        let one = Authority::allowed("example.com:8080").unwrap();
        let host = |text| Authority::parse(text).unwrap();
        assert!(any.admits(&host("LocalHost:1234")) && any.admits(&host("localhost")));
        assert!(one.admits(&host("example.com:8080")));
        assert!(!one.admits(&host("example.com")) && !one.admits(&host("example.com:8081")));
        assert!(Authority::allowed("::1").unwrap().admits(&host("[::1]:80")));
        assert!(!any.admits(&host("localhost.evil.example")));
        assert!(Authority::allowed(" ").is_none());
    }

    fn headers(name: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("mcp-name", HeaderValue::from_str(name).unwrap());
        headers
    }

    fn body(meta: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "db__query", "arguments": {"sql": "SELECT 1"}, "_meta": meta},
        }))
        .unwrap()
    }

    fn meta(extra: serde_json::Value) -> serde_json::Value {
        let mut meta = serde_json::json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        });
        if let (Some(meta), Some(extra)) = (meta.as_object_mut(), extra.as_object()) {
            meta.extend(extra.clone());
        }
        meta
    }

    #[test]
    fn only_a_plain_stateless_call_is_the_lanes() {
        let plain = body(meta(serde_json::json!({})));
        let (id, call) = call_of(&plain, &headers("db__query")).unwrap();
        assert_eq!(
            (id, call.name.as_ref()),
            (RequestId::Number(3), "db__query")
        );
        assert!(
            call_of(&plain, &headers("db__other")).is_none(),
            "Mcp-Name differs"
        );
        for extra in [
            serde_json::json!({"progressToken": 1}),
            serde_json::json!({"io.modelcontextprotocol/logLevel": "debug"}),
            serde_json::json!({"io.modelcontextprotocol/protocolVersion": "2025-11-25"}),
            serde_json::json!({"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}),
            serde_json::json!({"io.modelcontextprotocol/clientCapabilities": {"roots": {}}}),
            serde_json::json!({"io.modelcontextprotocol/clientCapabilities": null}),
        ] {
            let text = body(meta(extra.clone()));
            assert!(call_of(&text, &headers("db__query")).is_none(), "{extra}");
        }
        let other = br#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}}"#;
        assert!(call_of(other, &headers("db__query")).is_none());
        let batch = format!("[{}]", String::from_utf8(plain).unwrap());
        assert!(call_of(batch.as_bytes(), &headers("db__query")).is_none());
    }
}
