//! The Messages API client: one `POST /v1/messages` with the Anthropic headers, the response read
//! as JSON or as a server-sent-event stream, and transient failures retried.
//!
//! Retried: 429 `rate_limit_error` (waiting what `retry-after-ms` / `retry-after` asks), 500
//! `api_error`, 502/503/504, 529 `overloaded_error`, connection failures and timeouts, and an
//! `overloaded_error`/`api_error` event inside a stream; with jittered exponential backoff, a
//! maximum number of retries and a total wait budget. A response carrying `x-should-retry: false`
//! is never retried. Every other 4xx is returned at once with the API's `error.message`.
//! Creating a message has no side effect besides its cost, so repeating one is safe.

use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use switchboard_http::{Auth, parse_retry_after};
use tokio_util::sync::CancellationToken;

use crate::config::{ANTHROPIC_VERSION, AgentConfig, RetryPolicy};
use crate::events::{AgentEvent, EventSink};
use crate::messages::{ApiMessage, MessagesRequest};
use crate::sse::{MessageAssembler, SseParser, StreamError, StreamUpdate};

/// A failed model call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiFailure {
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// `error.type` from the API, or `transport` / `malformed_response` / `cancelled`.
    pub error_type: String,
    /// `error.message` from the API, or what went wrong locally.
    pub message: String,
    /// The `request-id` response header.
    pub request_id: Option<String>,
    /// Whether repeating the call may succeed.
    pub retryable: bool,
    /// The wait the server asked for.
    pub retry_after: Option<Duration>,
}

impl ApiFailure {
    fn local(error_type: &str, message: String, retryable: bool) -> Self {
        Self {
            status: None,
            error_type: error_type.to_string(),
            message,
            request_id: None,
            retryable,
            retry_after: None,
        }
    }
}

/// Sends requests to the Messages endpoint.
pub(crate) struct MessagesClient {
    http: reqwest::Client,
    url: String,
    /// `x-api-key`, marked sensitive so no `Debug` output shows it.
    api_key: (HeaderName, HeaderValue),
    retry: RetryPolicy,
}

impl MessagesClient {
    /// A client for `config`'s endpoint, key, timeouts and retry policy.
    ///
    /// The body of a streamed response must be read as it arrives, so this uses reqwest directly
    /// rather than `switchboard_http::HttpClient` (which buffers bodies and does not retry 500 or
    /// 529); it shares that crate's credential handling and `Retry-After` parsing.
    ///
    /// # Errors
    /// A message saying why: the key cannot be a header value, or the TLS backend is unavailable.
    pub(crate) fn new(config: &AgentConfig) -> Result<Self, String> {
        let auth = Auth::Header {
            name: HeaderName::from_static("x-api-key"),
            value: config.api_key.clone(),
        };
        let api_key = auth
            .header()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no API key header".to_string())?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .user_agent(concat!("switchboard-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            url: config.messages_url(),
            api_key,
            retry: config.retry.clone(),
        })
    }

    /// Creates a message, retrying transient failures. Text is reported to `sink` as it arrives.
    ///
    /// # Errors
    /// [`ApiFailure`] when the call fails for good, the retry budget is spent, or `cancel` fires.
    pub(crate) async fn create(
        &self,
        request: &MessagesRequest,
        sink: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<ApiMessage, ApiFailure> {
        let mut waited = Duration::ZERO;
        let mut retry = 0;
        loop {
            let failure = tokio::select! {
                result = self.attempt(request, sink) => match result {
                    Ok(message) => return Ok(message),
                    Err(failure) => failure,
                },
                () = cancel.cancelled() => return Err(cancelled()),
            };
            if !failure.retryable || retry >= self.retry.max_retries {
                return Err(failure);
            }
            retry += 1;
            let wait = failure.retry_after.unwrap_or_else(|| {
                switchboard_http::backoff(self.retry.base_delay, self.retry.max_delay, retry)
            });
            if waited + wait > self.retry.max_total_wait {
                return Err(ApiFailure {
                    message: format!(
                        "{} (giving up: waiting {:.1}s more would exceed the retry budget of {}s)",
                        failure.message,
                        wait.as_secs_f64(),
                        self.retry.max_total_wait.as_secs()
                    ),
                    ..failure
                });
            }
            waited += wait;
            tracing::warn!(retry, wait_ms = wait.as_millis() as u64, error = %failure, "retrying model call");
            sink.event(&AgentEvent::Retrying {
                attempt: retry,
                wait_ms: wait.as_millis() as u64,
                reason: failure.to_string(),
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return Err(cancelled()),
            }
        }
    }

    async fn attempt(
        &self,
        request: &MessagesRequest,
        sink: &dyn EventSink,
    ) -> Result<ApiMessage, ApiFailure> {
        let mut builder = self
            .http
            .post(&self.url)
            .header(self.api_key.0.clone(), self.api_key.1.clone())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(request);
        if request.stream {
            builder = builder.header("accept", "text/event-stream");
        }
        if !request.betas.is_empty() {
            builder = builder.header("anthropic-beta", request.betas.join(","));
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(http_failure(status.as_u16(), &headers, &body));
        }
        let is_stream = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let message = if is_stream {
            read_stream(response, sink).await
        } else {
            let body = response.text().await.map_err(transport)?;
            let message: ApiMessage = serde_json::from_str(&body).map_err(|e| {
                ApiFailure::local(
                    "malformed_response",
                    format!("response is not a message: {e}"),
                    false,
                )
            })?;
            for text in message.content.iter().filter_map(|b| b.as_text()) {
                sink.event(&AgentEvent::TextDelta {
                    text: text.to_string(),
                });
            }
            Ok(message)
        };
        message.map_err(|failure| ApiFailure {
            request_id: request_id(&headers),
            status: failure.status.or(Some(status.as_u16())),
            ..failure
        })
    }
}

async fn read_stream(
    response: reqwest::Response,
    sink: &dyn EventSink,
) -> Result<ApiMessage, ApiFailure> {
    let mut parser = SseParser::new();
    let mut assembler = MessageAssembler::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(transport)?;
        for event in parser.feed(&chunk) {
            match assembler.apply(&event) {
                Ok(Some(StreamUpdate::TextDelta(text))) => {
                    sink.event(&AgentEvent::TextDelta { text });
                }
                Ok(_) => {}
                Err(StreamError::Api {
                    error_type,
                    message,
                }) => {
                    let retryable = retryable_type(&error_type);
                    return Err(ApiFailure::local(&error_type, message, retryable));
                }
                Err(error @ StreamError::Malformed(_)) => {
                    return Err(ApiFailure::local(
                        "malformed_response",
                        error.to_string(),
                        false,
                    ));
                }
            }
        }
        if assembler.is_done() {
            break;
        }
    }
    if !assembler.is_done() {
        return Err(ApiFailure::local(
            "transport",
            "the response stream ended before message_stop".into(),
            true,
        ));
    }
    assembler
        .finish()
        .map_err(|e| ApiFailure::local("malformed_response", e.to_string(), false))
}

fn retryable_type(error_type: &str) -> bool {
    matches!(
        error_type,
        "overloaded_error" | "api_error" | "rate_limit_error"
    )
}

fn http_failure(status: u16, headers: &HeaderMap, body: &str) -> ApiFailure {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let error_type = error
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("http_{status}"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.chars().take(300).collect());
    let should_retry = headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.eq_ignore_ascii_case("true"));
    let transient = matches!(status, 408 | 429 | 500 | 502 | 503 | 504 | 529);
    ApiFailure {
        status: Some(status),
        error_type,
        message,
        request_id: request_id(headers),
        retryable: should_retry.unwrap_or(transient),
        retry_after: parse_retry_after(headers, SystemTime::now()),
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn transport(error: reqwest::Error) -> ApiFailure {
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "connection failed"
    };
    // Without the URL: it is the configured base URL and adds nothing but noise.
    ApiFailure::local(
        "transport",
        format!("{kind}: {}", error.without_url()),
        true,
    )
}

fn cancelled() -> ApiFailure {
    ApiFailure::local("cancelled", "the run was cancelled".into(), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn classifies_http_failures() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        let f = http_failure(
            529,
            &headers(&[("request-id", "req_1"), ("retry-after-ms", "250")]),
            body,
        );
        assert_eq!(f.retry_after, Some(Duration::from_millis(250)));
        assert!(f.retryable);
        assert_eq!(
            (f.error_type.as_str(), f.message.as_str()),
            ("overloaded_error", "Overloaded")
        );
        assert_eq!(f.request_id.as_deref(), Some("req_1"));
        let bad = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#;
        assert!(!http_failure(400, &HeaderMap::new(), bad).retryable);
        assert!(!http_failure(500, &headers(&[("x-should-retry", "false")]), "").retryable);
        let html = http_failure(502, &HeaderMap::new(), "<html>bad gateway</html>");
        assert!(html.retryable);
        assert_eq!(html.error_type, "http_502");
    }
}
