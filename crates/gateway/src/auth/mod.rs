//! People as callers: the gateway as an OAuth 2.1 resource server (MCP authorization, RFC 9728).
//!
//! A bearer token that is not a configured client's static token is checked here: a JWT against
//! the keys of the issuer it names (exact `iss`, `aud` containing the resource, `exp`/`nbf` with
//! leeway, asymmetric algorithms only), an opaque token by RFC 7662 introspection at the issuers
//! configured for it. The claims then pick a client (`[clients.x] match`, first in file order)
//! and name the person. Nothing here logs or returns a token.

mod issuer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hashlink::LruCache;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{AuthConfig, ClaimMatch};
use issuer::Issuer;

/// Introspection answers kept at most this long (and never past the token's `exp`).
const INTROSPECTION_TTL: Duration = Duration::from_secs(60);
/// Introspection answers kept at once.
const INTROSPECTION_CACHE: usize = 10_000;

/// A person's access token, kept only to exchange it for an upstream's (RFC 8693); never
/// printed.
#[derive(Clone)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    /// The token itself, for a token exchange request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The person behind a call, from their token's claims.
#[derive(Debug, Clone)]
pub struct Person {
    /// Who (the issuer's user claim, `sub` by default): stable, used for buckets and the audit.
    pub subject: String,
    /// A name for people reading the audit (e-mail or username), when the token has one.
    pub name: Option<String>,
    /// The issuer that vouched for them.
    pub issuer: String,
    /// Their token.
    pub token: BearerToken,
}

/// Why a request's token was not accepted; each maps to one HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token: `401` with the challenge that points at the metadata.
    Missing,
    /// A token that is not valid here: `401 invalid_token`, with a reason that names no secret.
    Invalid(String),
    /// A valid token without the scopes every call needs: `403 insufficient_scope`.
    InsufficientScope,
    /// A valid token no `[clients.x] match` rule fits: `403`.
    NoClient,
    /// The identity provider could not be asked (keys or introspection): `503`.
    Unavailable(String),
}

/// Introspection answers by SHA-256 of the token, with the instant they stop being used.
type Introspected = LruCache<[u8; 32], (Arc<Verified>, Instant)>;

/// A token's verified claims and the issuer that vouched for them.
struct Verified {
    issuer: usize,
    claims: Map<String, Value>,
}

/// Verifies people's tokens for the gateway.
pub struct Authenticator {
    config: AuthConfig,
    issuers: Vec<Issuer>,
    introspected: std::sync::Mutex<Introspected>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("resource", &self.config.resource.as_str())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator for `[auth]`; `secrets` are the introspection client secrets by issuer.
    pub fn new(config: AuthConfig, secrets: &std::collections::BTreeMap<String, String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let issuers = config
            .issuers
            .iter()
            .map(|c| {
                Issuer::new(
                    c.clone(),
                    secrets.get(&c.issuer).cloned(),
                    http.clone(),
                    config.jwks_refresh,
                    config.jwks_min_interval,
                )
            })
            .collect();
        Self {
            config,
            issuers,
            introspected: std::sync::Mutex::new(LruCache::new(INTROSPECTION_CACHE)),
        }
    }

    /// The configuration it checks against.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Checks `token` and picks its client: `(client, person)`.
    ///
    /// # Errors
    /// A [`Refusal`] saying which answer the request gets.
    pub async fn identify(&self, token: &str) -> Result<(String, Person), Refusal> {
        let verified = if looks_like_jwt(token) {
            Arc::new(self.verify_jwt(token).await?)
        } else {
            self.introspect(token).await?
        };
        let issuer = &self.config.issuers[verified.issuer];
        let claims = &verified.claims;
        if !self.has_scopes(claims) {
            return Err(Refusal::InsufficientScope);
        }
        let subject = claims
            .get(&issuer.user_claim)
            .and_then(claim_text)
            .ok_or_else(|| {
                Refusal::Invalid(format!("the token has no {:?} claim", issuer.user_claim))
            })?;
        let name = match &issuer.name_claim {
            Some(claim) => claims.get(claim).and_then(claim_text),
            None => ["email", "preferred_username", "username"]
                .iter()
                .find_map(|c| claims.get(*c).and_then(claim_text)),
        };
        let client = self
            .config
            .rules
            .iter()
            .find(|(_, rule)| fits(rule, claims, &issuer.groups_claim))
            .map(|(client, _)| client.clone())
            .ok_or(Refusal::NoClient)?;
        Ok((
            client,
            Person {
                subject,
                name,
                issuer: issuer.issuer.clone(),
                token: BearerToken(token.into()),
            },
        ))
    }

    /// Whether the token holds every scope of `[auth] scopes` (`scope` as a space-separated
    /// string, or `scp` as a string or an array, as Microsoft Entra ID issues it).
    fn has_scopes(&self, claims: &Map<String, Value>) -> bool {
        let held: Vec<&str> = ["scope", "scp"]
            .iter()
            .filter_map(|c| claims.get(*c))
            .flat_map(|v| match v {
                Value::String(s) => s.split(' ').collect::<Vec<_>>(),
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            })
            .collect();
        self.config
            .scopes
            .iter()
            .all(|needed| held.contains(&needed.as_str()))
    }

    async fn verify_jwt(&self, token: &str) -> Result<Verified, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| {
            Refusal::Invalid(format!(
                "the token's header is not acceptable ({error}); tokens must be signed with \
                 RS256, PS256, ES256 or EdDSA"
            ))
        })?;
        if header.alg.family() == AlgorithmFamily::Hmac {
            return Err(Refusal::Invalid(
                "HMAC-signed tokens are not accepted; the issuer must sign with an asymmetric key"
                    .into(),
            ));
        }
        // The issuer is read before the signature is checked only to pick whose keys check it.
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| Refusal::Invalid("the token's claims are not a JSON object".into()))?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::Invalid("the token has no iss claim".into()))?;
        let index = self
            .issuers
            .iter()
            .position(|i| i.config().issuer == iss)
            .ok_or_else(|| Refusal::Invalid("the token's issuer is not trusted here".into()))?;
        let issuer = &self.issuers[index];
        let key = issuer.key(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[iss]);
        validation.set_audience(&[&issuer.config().audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|error| Refusal::Invalid(describe(&error)))?;
        Ok(Verified {
            issuer: index,
            claims: data.claims,
        })
    }

    /// An opaque token, asked of each issuer configured for introspection in turn; active
    /// answers are kept a short while (never past the token's `exp`).
    async fn introspect(&self, token: &str) -> Result<Arc<Verified>, Refusal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((verified, until)) = self.lock().get(&digest).cloned()
            && Instant::now() < until
        {
            return Ok(verified);
        }
        let mut unavailable = None;
        let mut asked = false;
        for (index, issuer) in self.issuers.iter().enumerate() {
            if !issuer.introspects() {
                continue;
            }
            asked = true;
            match issuer.introspect(token, self.config.leeway).await {
                Ok(Some(claims)) => {
                    let ttl = expires_in(&claims)
                        .map_or(INTROSPECTION_TTL, |left| left.min(INTROSPECTION_TTL));
                    let verified = Arc::new(Verified {
                        issuer: index,
                        claims,
                    });
                    self.lock()
                        .insert(digest, (verified.clone(), Instant::now() + ttl));
                    return Ok(verified);
                }
                Ok(None) => {}
                Err(refusal) => unavailable = Some(refusal),
            }
        }
        Err(match (asked, unavailable) {
            (false, _) => Refusal::Invalid("unknown token".into()),
            (true, Some(refusal)) => refusal,
            (true, None) => Refusal::Invalid("the token is not active".into()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Introspected> {
        self.introspected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// RFC 9728 protected resource metadata.
    pub fn metadata(&self, name: &str) -> Value {
        let mut doc = serde_json::json!({
            "resource": self.config.resource.as_str(),
            "authorization_servers": self.config.issuers.iter().map(|i| &i.issuer).collect::<Vec<_>>(),
            "bearer_methods_supported": ["header"],
            "resource_name": name,
        });
        if !self.config.scopes.is_empty() {
            doc["scopes_supported"] = serde_json::json!(self.config.scopes);
        }
        doc
    }

    /// The metadata URL for the resource served at `path` (`/mcp` or `/mcp/<name>`): the
    /// path-suffixed `/.well-known/oauth-protected-resource` form on the resource's origin.
    pub fn metadata_url(&self, path: &str) -> String {
        let origin = self.config.resource.origin().ascii_serialization();
        // `/metrics` and the like have no metadata of their own: point at the root document.
        let path = if path == "/mcp" || path.starts_with("/mcp/") {
            path
        } else {
            ""
        };
        format!("{origin}/.well-known/oauth-protected-resource{path}")
    }

    /// The `WWW-Authenticate` value of a refusal at `path`.
    pub fn challenge(&self, refusal: &Refusal, path: &str) -> String {
        let mut parts = vec![format!("resource_metadata=\"{}\"", self.metadata_url(path))];
        let scope = self.config.scopes.join(" ");
        if !scope.is_empty() {
            parts.push(format!("scope=\"{scope}\""));
        }
        match refusal {
            Refusal::Invalid(description) => {
                parts.push("error=\"invalid_token\"".into());
                parts.push(format!(
                    "error_description=\"{}\"",
                    description.replace(['"', '\\'], "'")
                ));
            }
            Refusal::InsufficientScope => parts.push("error=\"insufficient_scope\"".into()),
            _ => {}
        }
        format!("Bearer {}", parts.join(", "))
    }
}

/// Whether `token` has the shape of a JWS compact serialization (three base64url parts).
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A claim's value as text (strings as they are; numbers and booleans printed).
fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether every key of `rule` fits the claims (`groups` reads `groups_claim`).
fn fits(rule: &ClaimMatch, claims: &Map<String, Value>, groups_claim: &str) -> bool {
    rule.0.iter().all(|(key, wanted)| {
        let claim = match key.as_str() {
            "groups" => groups_claim,
            "issuer" => "iss",
            other => other,
        };
        let fits_one = |v: &Value| claim_text(v).is_some_and(|t| wanted.contains(&t));
        match claims.get(claim) {
            Some(Value::Array(items)) => items.iter().any(fits_one),
            Some(value) => fits_one(value),
            None => false,
        }
    })
}

/// Time until the claims' `exp`, if they have one.
fn expires_in(claims: &Map<String, Value>) -> Option<Duration> {
    let exp = claims.get("exp").and_then(Value::as_u64)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(exp.saturating_sub(now)))
}

/// What was wrong with a token, in words that name no secret.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "the token is not for this resource (aud)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted here".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        _ => "the token is malformed".into(),
    }
}

/// Whether `alg` is one the gateway accepts (asymmetric, verified by the JOSE crate).
pub(crate) fn accepted(alg: Algorithm) -> bool {
    matches!(
        alg.family(),
        AlgorithmFamily::Rsa | AlgorithmFamily::Ec | AlgorithmFamily::Ed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pairs: &[(&str, &[&str])]) -> ClaimMatch {
        ClaimMatch(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        )
    }

    #[test]
    fn a_claim_may_be_a_string_or_an_array_and_every_key_must_fit() {
        let claims = serde_json::json!({
            "iss": "https://idp", "roles": ["admin", "dev"], "grp": "data-analysts", "n": 7,
        });
        let claims = claims.as_object().unwrap();
        assert!(fits(
            &rule(&[("groups", &["data-analysts"])]),
            claims,
            "grp"
        ));
        assert!(fits(&rule(&[("roles", &["ops", "dev"])]), claims, "groups"));
        assert!(fits(
            &rule(&[("issuer", &["https://idp"]), ("n", &["7"])]),
            claims,
            "g"
        ));
        assert!(!fits(
            &rule(&[("groups", &["data-analysts"])]),
            claims,
            "groups"
        ));
        assert!(!fits(
            &rule(&[("roles", &["dev"]), ("grp", &["other"])]),
            claims,
            "groups"
        ));
    }

    #[test]
    fn only_jws_compact_tokens_are_read_as_jwts() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(!looks_like_jwt("opaque-token"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a b.c.d"));
    }

    #[test]
    fn bearer_tokens_never_print() {
        let token = BearerToken("secret-value".into());
        assert!(!format!("{token:?}").contains("secret-value"));
    }
}
