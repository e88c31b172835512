//! One trusted issuer: its metadata (OpenID Connect discovery or RFC 8414), its signing keys
//! (JWKS, cached, fetched again when stale or on an unknown `kid`, never more often than
//! `jwks_min_interval`), and RFC 7662 introspection of its opaque tokens.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::{Refusal, accepted};
use crate::config::IssuerConfig;

/// The most of a metadata, JWKS or introspection answer read.
const MAX_BODY: usize = 1 << 20;

/// Signing keys as last fetched.
struct KeySet {
    /// By `kid`; keys without one are listed under the empty string.
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Instant,
}

/// Endpoints read from the issuer's metadata.
#[derive(Clone, Default)]
struct Endpoints {
    jwks_uri: Option<String>,
    introspection: Option<String>,
}

/// What fetching needs exclusively: the last attempt (for the rate limit) and the endpoints.
#[derive(Default)]
struct Fetching {
    last_attempt: Option<Instant>,
    endpoints: Option<Endpoints>,
}

pub(super) struct Issuer {
    config: IssuerConfig,
    secret: Option<String>,
    http: reqwest::Client,
    refresh: Duration,
    min_interval: Duration,
    keys: RwLock<Option<Arc<KeySet>>>,
    fetching: tokio::sync::Mutex<Fetching>,
}

impl Issuer {
    pub(super) fn new(
        config: IssuerConfig,
        secret: Option<String>,
        http: reqwest::Client,
        refresh: Duration,
        min_interval: Duration,
    ) -> Self {
        Self {
            config,
            secret,
            http,
            refresh,
            min_interval,
            keys: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(Fetching::default()),
        }
    }

    pub(super) fn config(&self) -> &IssuerConfig {
        &self.config
    }

    pub(super) fn introspects(&self) -> bool {
        self.config.introspection.is_some()
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The key that checks a token signed with `alg` under `kid`.
    pub(super) async fn key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, Refusal> {
        let fresh = |set: &KeySet| set.fetched.elapsed() < self.refresh;
        if let Some(set) = self.cached()
            && fresh(&set)
            && let Some(found) = pick(&set, kid, alg)
        {
            return found;
        }
        let mut fetching = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(set) = self.cached()
            && fresh(&set)
            && let Some(found) = pick(&set, kid, alg)
        {
            return found;
        }
        let too_soon = fetching
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.min_interval);
        if !too_soon {
            fetching.last_attempt = Some(Instant::now());
            match self.fetch_keys(&mut fetching).await {
                Ok(set) => {
                    *self
                        .keys
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(set));
                }
                Err(error) => {
                    tracing::warn!(
                        issuer = %self.config.issuer,
                        "cannot fetch the issuer's signing keys: {error}"
                    );
                    if self.cached().is_none() {
                        return Err(Refusal::Unavailable(format!(
                            "the identity provider {} cannot be reached to check the token",
                            self.config.issuer
                        )));
                    }
                }
            }
        }
        // Keys kept from an earlier fetch still check tokens while the provider is down.
        match self.cached() {
            Some(set) => pick(&set, kid, alg).unwrap_or_else(|| {
                Err(Refusal::Invalid(
                    "the token's signing key is not among the issuer's keys".into(),
                ))
            }),
            None => Err(Refusal::Unavailable(format!(
                "the identity provider {} cannot be reached to check the token",
                self.config.issuer
            ))),
        }
    }

    async fn fetch_keys(&self, fetching: &mut Fetching) -> Result<KeySet, String> {
        let uri = match &self.config.jwks_uri {
            Some(uri) => uri.clone(),
            None => self
                .endpoints(fetching)
                .await?
                .jwks_uri
                .ok_or("its metadata has no jwks_uri")?,
        };
        let doc = self.get_json(&uri).await?;
        let mut keys = HashMap::new();
        for raw in doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no keys array")?
        {
            if raw.get("use").and_then(Value::as_str) == Some("enc") {
                continue;
            }
            // A key of a kind the JOSE crate does not know is skipped, not fatal.
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            keys.insert(jwk.common.key_id.clone().unwrap_or_default(), (key, alg));
        }
        tracing::debug!(issuer = %self.config.issuer, keys = keys.len(), "fetched signing keys");
        Ok(KeySet {
            keys,
            fetched: Instant::now(),
        })
    }

    /// The issuer's endpoints: OpenID Connect discovery, then RFC 8414; the document must name
    /// this issuer exactly.
    async fn endpoints(&self, fetching: &mut Fetching) -> Result<Endpoints, String> {
        if let Some(endpoints) = &fetching.endpoints {
            return Ok(endpoints.clone());
        }
        let issuer = self.config.issuer.trim_end_matches('/');
        let url = url::Url::parse(issuer).map_err(|e| e.to_string())?;
        let rfc8414 = format!(
            "{}/.well-known/oauth-authorization-server{}",
            url.origin().ascii_serialization(),
            url.path().trim_end_matches('/')
        );
        let mut last = String::new();
        for candidate in [
            format!("{issuer}/.well-known/openid-configuration"),
            rfc8414,
        ] {
            match self.get_json(&candidate).await {
                Ok(doc) => {
                    if doc.get("issuer").and_then(Value::as_str) != Some(&self.config.issuer) {
                        return Err(format!("{candidate} names another issuer"));
                    }
                    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
                    let endpoints = Endpoints {
                        jwks_uri: text("jwks_uri"),
                        introspection: text("introspection_endpoint"),
                    };
                    fetching.endpoints = Some(endpoints.clone());
                    return Ok(endpoints);
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {}", without_url(&e)))?;
        read_json(url, response).await
    }

    /// RFC 7662: the claims of an active token, `None` for an inactive one.
    pub(super) async fn introspect(
        &self,
        token: &str,
        leeway: Duration,
    ) -> Result<Option<Map<String, Value>>, Refusal> {
        let Some(config) = &self.config.introspection else {
            return Ok(None);
        };
        let unavailable = |error: String| {
            tracing::warn!(issuer = %self.config.issuer, "cannot introspect a token: {error}");
            Refusal::Unavailable(format!(
                "the identity provider {} cannot be reached to check the token",
                self.config.issuer
            ))
        };
        let endpoint = match &config.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => {
                let mut fetching = self.fetching.lock().await;
                self.endpoints(&mut fetching)
                    .await
                    .map_err(unavailable)?
                    .introspection
                    .ok_or_else(|| {
                        unavailable("its metadata has no introspection_endpoint".into())
                    })?
            }
        };
        let response = self
            .http
            .post(&endpoint)
            .basic_auth(&config.client_id, self.secret.as_deref())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| unavailable(format!("{endpoint}: {}", without_url(&e))))?;
        let doc = read_json(&endpoint, response).await.map_err(unavailable)?;
        let Value::Object(claims) = doc else {
            return Err(unavailable(format!(
                "{endpoint}: the answer is not an object"
            )));
        };
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Ok(None);
        }
        if let Some(iss) = claims.get("iss").and_then(Value::as_str)
            && iss != self.config.issuer
        {
            return Err(Refusal::Invalid(
                "the token's issuer is not trusted here".into(),
            ));
        }
        // RFC 7662 makes `aud` optional; when it is there it must name this resource.
        let audience = &self.config.audience;
        let for_us = match claims.get("aud") {
            None => true,
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            Some(_) => false,
        };
        if !for_us {
            return Err(Refusal::Invalid(
                "the token is not for this resource (aud)".into(),
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if claims
            .get("exp")
            .and_then(Value::as_u64)
            .is_some_and(|exp| exp + leeway.as_secs() < now)
        {
            return Err(Refusal::Invalid("the token has expired".into()));
        }
        Ok(Some(claims))
    }
}

/// The key for `kid` (or the only key, when the token names none) if the algorithm fits it;
/// `None` when the set has no such key.
fn pick(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<Result<DecodingKey, Refusal>> {
    let (key, key_alg) = match kid {
        Some(kid) => set.keys.get(kid)?,
        None if set.keys.len() == 1 => set.keys.values().next()?,
        None => {
            return Some(Err(Refusal::Invalid(
                "the token names no key (kid) and the issuer has several".into(),
            )));
        }
    };
    let fits = accepted(alg)
        && key.family() == alg.family()
        && key_alg.is_none_or(|key_alg| key_alg == alg);
    Some(if fits {
        Ok(key.clone())
    } else {
        Err(Refusal::Invalid(
            "the token's algorithm does not match its key".into(),
        ))
    })
}

/// A reqwest error without the URL (the caller names it) and its query.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection refused or unreachable".into()
    } else {
        text
    }
}

async fn read_json(url: &str, response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}"));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(format!("{url}: the answer is larger than {MAX_BODY} bytes"));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("{url}: {}", without_url(&e)))?;
    if bytes.len() > MAX_BODY {
        return Err(format!("{url}: the answer is larger than {MAX_BODY} bytes"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: not JSON: {e}"))
}
