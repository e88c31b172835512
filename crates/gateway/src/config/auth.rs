//! `[auth]`, validated: the gateway as an OAuth 2.1 resource server, and the claim rules that
//! turn a person's token into a configured client.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::secrets::Template;

/// `[auth]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// The audience tokens must carry (RFC 8707), announced as `resource` in the metadata.
    pub resource: url::Url,
    /// Scopes every token must hold; announced as `scopes_supported` and in the challenge.
    pub scopes: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long fetched keys are used before they are fetched again.
    pub jwks_refresh: Duration,
    /// The least time between two fetches of one issuer's keys (an unknown `kid` triggers a
    /// fetch; a flood of them must not hammer the identity provider).
    pub jwks_min_interval: Duration,
    /// The trusted issuers.
    pub issuers: Vec<IssuerConfig>,
    /// `(client, rule)` in file order: the first client whose rule fits a token's claims gets it.
    pub rules: Vec<(String, ClaimMatch)>,
}

/// `[[auth.issuers]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerConfig {
    /// The issuer identifier, compared exactly with `iss`.
    pub issuer: String,
    /// The audience its tokens must contain (default: the resource).
    pub audience: String,
    /// Where its keys are, when discovery should be skipped.
    pub jwks_uri: Option<String>,
    /// RFC 7662 introspection of its opaque tokens, if configured.
    pub introspection: Option<IntrospectionConfig>,
    /// The claim naming the person (default `sub`).
    pub user_claim: String,
    /// The claim with the person's display name (default `email`, then `preferred_username`).
    pub name_claim: Option<String>,
    /// The claim listing the person's groups (default `groups`).
    pub groups_claim: String,
}

/// `introspection = { client_id, client_secret, endpoint }`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntrospectionConfig {
    /// The gateway's client ID at the issuer.
    pub client_id: String,
    /// Its secret (a secret reference, normally).
    pub client_secret: Template,
    /// The endpoint, when discovery should not supply it.
    pub endpoint: Option<String>,
}

/// `match = { groups = "data-analysts", … }`: every key must fit. `groups` reads the issuer's
/// groups claim, `issuer` the token's issuer; any other key is a claim name. A claim may be a
/// string or an array; it fits when it is, or contains, one of the listed values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimMatch(pub BTreeMap<String, Vec<String>>);
