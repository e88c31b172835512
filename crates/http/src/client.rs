//! `HttpClient`: reqwest with timeouts, credentials, a client-side rate limit and the retry loop.

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Request, RequestBuilder};
use tracing::{Instrument as _, Span, debug, field, info_span, warn};

use crate::auth::Auth;
use crate::config::HttpConfig;
use crate::error::HttpError;
use crate::metrics;
use crate::rate_limit::Limiter;
use crate::response::{HttpResponse, excerpt};
use crate::retry::{Attempt, Idempotency, backoff, is_retryable, parse_retry_after};

/// An outbound HTTP client applying one [`HttpConfig`] and one [`Auth`] to every call.
/// Cheap to clone; clones share the connection pool and the rate limiter.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: HttpConfig,
    auth: Auth,
    auth_header: Option<(HeaderName, HeaderValue)>,
    limiter: Option<Limiter>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.inner.config)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// Why an attempt ended without a response.
struct TransportFailure {
    attempt: Attempt,
    error: HttpError,
}

impl HttpClient {
    /// Builds a client. Call inside a tokio runtime (the rate limiter reads tokio's clock).
    ///
    /// # Errors
    /// [`HttpError::Build`] when the TLS backend cannot be initialised or the credential cannot be
    /// put in a header.
    pub fn new(config: HttpConfig, auth: Auth) -> Result<Self, HttpError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| HttpError::Build {
                message: error_chain(&e),
            })?;
        let auth_header = auth.header()?;
        let limiter = config.rate_limit.map(Limiter::new);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                auth,
                auth_header,
                limiter,
            }),
        })
    }

    /// The policy this client applies.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Starts a request; finish it with [`HttpClient::send`]. Credentials are added by `send`.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.inner.http.request(method, url)
    }

    /// Starts a GET request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Sends the request under the client's policy: credentials, rate limit, per-attempt
    /// timeout, and retries as allowed by `idempotency` (see [`Idempotency`]).
    ///
    /// Returns the first response that is final — any status that is not retried, including
    /// 4xx/5xx: use [`HttpResponse::error_for_status`] or inspect it (APIs such as Jira put field
    /// errors in a 400 body).
    ///
    /// # Errors
    /// - [`HttpError::Build`]: the builder holds an invalid URL or header.
    /// - [`HttpError::Timeout`], [`HttpError::Connect`], [`HttpError::Transport`]: the last
    ///   attempt failed in transport and may not be retried.
    /// - [`HttpError::RetriesExhausted`]: every allowed attempt got a retryable outcome, or the
    ///   next wait would exceed the retry budget.
    /// - [`HttpError::InvalidResponse`]: the body exceeds `max_response_bytes`.
    pub async fn send(
        &self,
        builder: RequestBuilder,
        idempotency: Idempotency,
    ) -> Result<HttpResponse, HttpError> {
        let mut request = builder.build().map_err(|e| HttpError::Build {
            message: error_chain(&e.without_url()),
        })?;
        if let Some((name, value)) = &self.inner.auth_header {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let url = request.url();
        let host = url.host_str().unwrap_or("").to_owned();
        let path = url.path().to_owned();
        let span = info_span!(
            "http.request",
            method = %request.method(),
            host = %host,
            path = %path,
            attempt = field::Empty,
            status = field::Empty,
            otel.name = %request.method(),
            otel.kind = "client",
        );
        if switchboard_telemetry::enabled() {
            trace_request(&span, &mut request);
        }
        let target = format!("{host}{path}");
        let result = self
            .retry_loop(request, idempotency, target)
            .instrument(span.clone())
            .await;
        if switchboard_telemetry::enabled() {
            trace_outcome(&span, &result);
        }
        result
    }

    async fn retry_loop(
        &self,
        request: Request,
        idempotency: Idempotency,
        target: String,
    ) -> Result<HttpResponse, HttpError> {
        let config = &self.inner.config;
        let max_attempts = config.max_attempts.max(1);
        let host = request.url().host_str().unwrap_or_default().to_owned();
        let method = request.method().clone();
        let mut waited = Duration::ZERO;
        let mut attempt_no = 0u32;
        let mut pending = Some(request);
        loop {
            attempt_no += 1;
            Span::current().record("attempt", attempt_no);
            let Some(current) = pending.take() else {
                return Err(HttpError::Build {
                    message: "the request body cannot be replayed for a retry".into(),
                });
            };
            pending = current.try_clone();
            if let Some(limiter) = &self.inner.limiter {
                limiter.acquire().await;
            }
            let (outcome, last_status, last, retry_after) =
                match self.attempt(current, &target, attempt_no).await {
                    Ok(response) => {
                        Span::current().record("status", response.status.as_u16());
                        let retry_after = parse_retry_after(&response.headers, SystemTime::now());
                        let outcome = Attempt::Status {
                            status: response.status,
                            retry_after,
                        };
                        metrics::attempt(&host, method.as_str(), outcome);
                        if !is_retryable(outcome, idempotency) {
                            debug!(status = response.status.as_u16(), "http response");
                            return Ok(response);
                        }
                        let last = format!("HTTP {}: {}", response.status, response.body_excerpt());
                        (outcome, Some(response.status), last, retry_after)
                    }
                    Err(failure) => {
                        metrics::attempt(&host, method.as_str(), failure.attempt);
                        if !is_retryable(failure.attempt, idempotency) {
                            return Err(failure.error);
                        }
                        (failure.attempt, None, failure.error.to_string(), None)
                    }
                };
            let exhausted = |waited| HttpError::RetriesExhausted {
                target: target.clone(),
                last_status,
                last: last.clone(),
                attempts: attempt_no,
                waited,
                retry_after,
            };
            if attempt_no >= max_attempts || pending.is_none() {
                return Err(exhausted(waited));
            }
            let delay = retry_after
                .unwrap_or_else(|| backoff(config.backoff_base, config.backoff_max, attempt_no));
            if waited + delay > config.retry_budget {
                warn!(?delay, ?waited, "retry budget exhausted");
                return Err(exhausted(waited));
            }
            warn!(
                ?outcome,
                ?delay,
                attempt = attempt_no,
                "retrying http request"
            );
            metrics::retry(&host, outcome);
            tokio::time::sleep(delay).await;
            waited += delay;
        }
    }

    /// One attempt: send and read the whole body.
    async fn attempt(
        &self,
        request: Request,
        target: &str,
        attempt: u32,
    ) -> Result<HttpResponse, TransportFailure> {
        let method = request.method().to_string();
        let fail = |e: reqwest::Error| self.classify(e, &method, target);
        let mut response = self.inner.http.execute(request).await.map_err(fail)?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.inner.config.max_response_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > limit {
                return Err(TransportFailure {
                    attempt: Attempt::Status {
                        status,
                        retry_after: None,
                    },
                    error: HttpError::InvalidResponse {
                        target: target.to_owned(),
                        message: format!("response body larger than {limit} bytes"),
                    },
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            target: target.to_owned(),
            attempts: attempt,
        })
    }

    fn classify(&self, e: reqwest::Error, method: &str, target: &str) -> TransportFailure {
        let e = e.without_url();
        if e.is_connect() {
            return TransportFailure {
                attempt: Attempt::ConnectFailed,
                error: HttpError::Connect {
                    target: target.to_owned(),
                    message: error_chain(&e),
                },
            };
        }
        let error = if e.is_timeout() {
            HttpError::Timeout {
                method: method.to_owned(),
                target: target.to_owned(),
                after: self.inner.config.request_timeout,
            }
        } else {
            HttpError::Transport {
                method: method.to_owned(),
                target: target.to_owned(),
                message: error_chain(&e),
            }
        };
        TransportFailure {
            attempt: Attempt::SentButFailed,
            error,
        }
    }
}

/// An error and its sources joined with `: ` (reqwest's `Display` shows only the top level).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    excerpt(&out)
}

/// OpenTelemetry's HTTP client attributes on `span` (the URL without its query, which may carry
/// user data), and its context in the request's `traceparent`, so the server can continue it.
fn trace_request(span: &Span, request: &mut Request) {
    use switchboard_telemetry::attribute;
    let url = request.url();
    attribute(
        span,
        "http.request.method",
        request.method().as_str().to_owned(),
    );
    attribute(
        span,
        "server.address",
        url.host_str().unwrap_or("").to_owned(),
    );
    if let Some(port) = url.port_or_known_default() {
        attribute(span, "server.port", i64::from(port));
    }
    let mut full = url.clone();
    full.set_query(None);
    let _ = full.set_password(None);
    let _ = full.set_username("");
    attribute(span, "url.full", full.to_string());
    if let Some(trace) = switchboard_telemetry::context_of(span) {
        let headers = request.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&trace.traceparent) {
            headers.insert("traceparent", value);
        }
        if let Some(value) = trace
            .tracestate
            .and_then(|s| HeaderValue::from_str(&s).ok())
        {
            headers.insert("tracestate", value);
        }
    }
}

/// The final status, the retries, and failure (4xx, 5xx, or no answer) on `span`.
fn trace_outcome(span: &Span, result: &Result<HttpResponse, HttpError>) {
    use switchboard_telemetry::attribute;
    let (status, attempts) = match result {
        Ok(response) => (Some(response.status), response.attempts),
        Err(HttpError::RetriesExhausted {
            last_status,
            attempts,
            ..
        }) => (*last_status, *attempts),
        Err(_) => (None, 1),
    };
    if let Some(status) = status {
        attribute(
            span,
            "http.response.status_code",
            i64::from(status.as_u16()),
        );
    }
    if attempts > 1 {
        attribute(span, "http.request.resend_count", i64::from(attempts - 1));
    }
    match (result, status) {
        (Err(error), _) => {
            let kind = status.map_or_else(|| "transport".to_owned(), |s| s.as_u16().to_string());
            attribute(span, "error.type", kind);
            switchboard_telemetry::error(span, error.to_string());
        }
        (Ok(_), Some(status)) if status.as_u16() >= 400 => {
            attribute(span, "error.type", status.as_u16().to_string());
            switchboard_telemetry::error(span, format!("HTTP {}", status.as_u16()));
        }
        _ => {}
    }
}
