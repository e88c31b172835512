//! OAuth 2.0 Token Exchange (RFC 8693) for HTTP upstreams that must act as the person calling.
//!
//! The person's own token never leaves the gateway for an upstream (MCP forbids passing it
//! through). Instead the gateway, as a confidential client of the authorization server, exchanges
//! it for a token audienced to the upstream, keeps that per person until shortly before it
//! expires, and sends it with that person's tool calls ([`ActingAs`], which travels in the
//! request's extensions to the transport). Everything else the upstream gets (the handshake,
//! listings, pings) goes with the gateway's own credentials.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LruCache;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions};
use serde_json::Value;

use crate::auth::Person;
use crate::config::ResolvedExchange;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Exchanged tokens kept at once (one per person and upstream).
const CACHE: usize = 10_000;
/// An exchanged token is replaced this long before it expires.
const MARGIN: Duration = Duration::from_secs(30);
/// How long a token without `expires_in` is kept.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// The token a request to the upstream goes with instead of the gateway's own.
#[derive(Clone)]
pub(crate) struct ActingAs(pub(crate) String);

impl std::fmt::Debug for ActingAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActingAs(<redacted>)")
    }
}

/// The token `message` must go with, when it is a request made for a person.
pub(crate) fn acting_as(message: &ClientJsonRpcMessage) -> Option<String> {
    match message {
        ClientJsonRpcMessage::Request(request) => request
            .request
            .extensions()
            .get::<ActingAs>()
            .map(|a| a.0.clone()),
        _ => None,
    }
}

/// Exchanges people's tokens for one upstream's.
pub(crate) struct Exchanger {
    server: String,
    settings: ResolvedExchange,
    http: reqwest::Client,
    /// By (issuer, subject): the exchanged token and when to stop using it.
    tokens: Mutex<LruCache<(String, String), (String, Instant)>>,
}

impl Exchanger {
    pub(crate) fn new(server: &str, settings: ResolvedExchange) -> Self {
        Self {
            server: server.to_owned(),
            settings,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            tokens: Mutex::new(LruCache::new(CACHE)),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<(String, String), (String, Instant)>> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A token for `person` audienced to the upstream: a cached one, or a new exchange.
    ///
    /// # Errors
    /// A message for the caller naming the upstream and what the authorization server said
    /// (never a token).
    pub(crate) async fn token_for(&self, person: &Person) -> Result<String, String> {
        let key = (person.issuer.clone(), person.subject.clone());
        if let Some((token, until)) = self.cache().get(&key).cloned()
            && Instant::now() < until
        {
            return Ok(token);
        }
        let settings = &self.settings;
        let target = if url::Url::parse(&settings.audience).is_ok() {
            "resource"
        } else {
            "audience"
        };
        let mut form = vec![
            ("grant_type", GRANT),
            ("subject_token", person.token.expose()),
            ("subject_token_type", ACCESS_TOKEN),
            ("requested_token_type", ACCESS_TOKEN),
            (target, settings.audience.as_str()),
        ];
        let scope = settings.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let failed = |why: String| {
            format!(
                "cannot act as {} at server {}: the token exchange failed: {why}",
                person.name.as_deref().unwrap_or(&person.subject),
                self.server
            )
        };
        let response = self
            .http
            .post(&settings.token_url)
            .basic_auth(&settings.client_id, Some(&settings.client_secret))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                failed(if e.is_timeout() {
                    "timed out".into()
                } else {
                    "the authorization server cannot be reached".into()
                })
            })?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|_| failed(format!("HTTP {status} without a JSON body")))?;
        if !status.is_success() {
            let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
            return Err(failed(format!(
                "HTTP {status} {} {}",
                text("error"),
                text("error_description")
            )));
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failed("the answer has no access_token".into()))?
            .to_owned();
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let until = Instant::now() + lifetime.saturating_sub(MARGIN);
        self.cache().insert(key, (token.clone(), until));
        tracing::debug!(upstream = %self.server, user = %person.subject, "exchanged a token");
        Ok(token)
    }
}
