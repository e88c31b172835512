//! Phase one of configuration: the serde shapes of `switchboard.toml` and of a Claude Desktop /
//! Claude Code JSON file, exactly as written. Nothing here reads secrets or the environment.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `switchboard.toml`, or the `"switchboard"` key of a JSON file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) gateway: RawGateway,
    #[serde(default)]
    pub(crate) audit: RawAudit,
    #[serde(default)]
    pub(crate) approvals: RawApprovals,
    #[serde(default)]
    pub(crate) telemetry: RawTelemetry,
    #[serde(default)]
    pub(crate) secrets: RawSecrets,
    #[serde(default)]
    pub(crate) state: RawState,
    #[serde(default)]
    pub(crate) pins: RawPins,
    #[serde(default)]
    pub(crate) servers: BTreeMap<String, RawServer>,
    pub(crate) auth: Option<RawAuth>,
    /// In file order: the first client whose `match` fits a token's claims gets it.
    #[serde(default)]
    pub(crate) clients: indexmap::IndexMap<String, RawClient>,
    #[serde(default)]
    pub(crate) rate_limits: BTreeMap<String, RawRate>,
    #[serde(default)]
    pub(crate) tools: BTreeMap<String, RawToolPolicy>,
    #[serde(default)]
    pub(crate) endpoints: BTreeMap<String, RawEndpoint>,
    /// `[agent]`: settings of `switchboard agent`, which validates them.
    pub(crate) agent: Option<serde_json::Value>,
}

/// `[gateway]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    pub(crate) name: Option<String>,
    pub(crate) drain_timeout: Option<String>,
    pub(crate) shutdown_delay: Option<String>,
    pub(crate) startup_timeout: Option<String>,
    #[serde(default)]
    pub(crate) allowed_hosts: Vec<String>,
    #[serde(default)]
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) stdio_client: Option<String>,
    pub(crate) rate_limit_store: Option<String>,
    pub(crate) rate_limit_prefix: Option<String>,
    pub(crate) max_sessions: Option<usize>,
    pub(crate) max_sessions_per_client: Option<usize>,
    pub(crate) session_idle_timeout: Option<String>,
    pub(crate) tool_search: Option<RawToolSearch>,
    pub(crate) tool_search_above: Option<usize>,
}

/// `[audit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub(crate) path: Option<String>,
    pub(crate) sink: Option<String>,
    pub(crate) replica: Option<String>,
    pub(crate) stream: Option<String>,
    #[serde(default)]
    pub(crate) redact: Vec<String>,
    #[serde(default)]
    pub(crate) fsync: bool,
}

/// `[endpoints.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEndpoint {
    #[serde(default)]
    pub(crate) tools: Vec<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    pub(crate) instructions: Option<String>,
    pub(crate) clients: Option<Vec<String>>,
    pub(crate) tool_search: Option<RawToolSearch>,
    #[serde(default)]
    pub(crate) overrides: BTreeMap<String, RawOverride>,
}

/// `[endpoints.<name>.overrides."<tool>"]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOverride {
    pub(crate) rename: Option<String>,
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) fixed: serde_json::Map<String, serde_json::Value>,
}

/// `tool_search = true | false | "off" | "on" | "auto"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawToolSearch {
    Switch(bool),
    Mode(String),
}

/// `[pins]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPins {
    pub(crate) enabled: Option<bool>,
    pub(crate) path: Option<String>,
    pub(crate) new_tools: Option<String>,
    pub(crate) max_description: Option<usize>,
}

/// `[servers.<name>]` (TOML), or the gateway options of a JSON server under
/// `"switchboard": {"servers": {...}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) kind: Option<String>,
    #[serde(rename = "type")]
    pub(crate) transport_type: Option<String>,
    pub(crate) command: Option<String>,
    pub(crate) args: Option<Vec<String>>,
    pub(crate) env: Option<BTreeMap<String, String>>,
    pub(crate) cwd: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    pub(crate) oauth: Option<RawOAuth>,
    pub(crate) token_exchange: Option<RawTokenExchange>,
    pub(crate) prefix: Option<bool>,
    pub(crate) start: Option<String>,
    pub(crate) required: Option<bool>,
    pub(crate) timeout: Option<String>,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) health_interval: Option<String>,
    pub(crate) ping_timeout: Option<String>,
    #[serde(default)]
    pub(crate) restart: RawRestart,
    pub(crate) exclude_tools: Option<Vec<String>>,
}

/// `[servers.<name>.oauth]`: how the gateway authorizes itself to a url server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth {
    pub(crate) grant: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) client_metadata_url: Option<String>,
    pub(crate) client_name: Option<String>,
}

/// `[servers.<name>.restart]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRestart {
    pub(crate) initial_backoff: Option<String>,
    pub(crate) max_backoff: Option<String>,
    pub(crate) max_failures: Option<u32>,
    pub(crate) window: Option<String>,
    pub(crate) open_for: Option<String>,
}

/// `token_exchange = { token_url, client_id, client_secret, audience, scopes }` (RFC 8693).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTokenExchange {
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) audience: Option<String>,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
}

/// `[telemetry]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    pub(crate) metrics_addr: Option<String>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_protocol: Option<String>,
    #[serde(default)]
    pub(crate) otlp_headers: BTreeMap<String, String>,
    pub(crate) service_name: Option<String>,
    #[serde(default)]
    pub(crate) resource_attributes: BTreeMap<String, String>,
}

/// `[state]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub(crate) store: Option<String>,
    pub(crate) prefix: Option<String>,
}

/// `[secrets]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecrets {
    pub(crate) refresh: Option<String>,
}

/// `[approvals]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApprovals {
    pub(crate) timeout: Option<String>,
    pub(crate) slack: Option<RawSlackApprovals>,
}

/// `[approvals] slack`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlackApprovals {
    pub(crate) channel: String,
    pub(crate) token: String,
    pub(crate) signing_secret: String,
    #[serde(default)]
    pub(crate) operators: Vec<String>,
    pub(crate) api_url: Option<String>,
}

/// `[clients.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClient {
    pub(crate) token: Option<String>,
    pub(crate) allow: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) deny: Vec<String>,
    pub(crate) rate_limit: Option<RawRate>,
    #[serde(default)]
    pub(crate) rate_limits: BTreeMap<String, RawRate>,
    pub(crate) tool_search: Option<RawToolSearch>,
    #[serde(rename = "match")]
    pub(crate) claims: Option<BTreeMap<String, RawClaimValue>>,
    #[serde(default)]
    pub(crate) admin: bool,
}

/// A claim value to match: one string, or any of several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawClaimValue {
    One(String),
    AnyOf(Vec<String>),
}

/// `[auth]`: the gateway as an OAuth 2.1 resource server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub(crate) resource: String,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    pub(crate) leeway: Option<String>,
    pub(crate) jwks_refresh: Option<String>,
    pub(crate) jwks_min_interval: Option<String>,
    #[serde(default)]
    pub(crate) issuers: Vec<RawIssuer>,
}

/// `[[auth.issuers]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIssuer {
    pub(crate) issuer: String,
    pub(crate) audience: Option<String>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) introspection: Option<RawIntrospection>,
    pub(crate) user_claim: Option<String>,
    pub(crate) name_claim: Option<String>,
    pub(crate) groups_claim: Option<String>,
}

/// `introspection = { client_id, client_secret }` (RFC 7662).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIntrospection {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) endpoint: Option<String>,
}

/// `{ rate = "10/minute", burst = 3, per = "user" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRate {
    pub(crate) rate: String,
    pub(crate) burst: Option<u32>,
    pub(crate) per: Option<String>,
}

/// `[tools."<pattern>"]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawToolPolicy {
    pub(crate) approval: Option<String>,
    pub(crate) timeout: Option<String>,
    pub(crate) task: Option<bool>,
}

/// A Claude Desktop / Claude Code JSON file. Unknown keys (other clients' settings) are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct RawJsonFile {
    #[serde(rename = "mcpServers", default)]
    pub(crate) mcp_servers: BTreeMap<String, RawJsonServer>,
    #[serde(default)]
    pub(crate) switchboard: Option<RawConfig>,
}

/// One entry of `mcpServers`: `{command, args, env}` or `{type: "http", url, headers}`.
/// Keys other clients add (e.g. `disabled`, `autoApprove`) are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct RawJsonServer {
    #[serde(rename = "type")]
    pub(crate) transport_type: Option<String>,
    pub(crate) command: Option<String>,
    pub(crate) args: Option<Vec<String>>,
    pub(crate) env: Option<BTreeMap<String, String>>,
    pub(crate) cwd: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
}

impl RawServer {
    /// Fills fields this server left unset from a JSON `mcpServers` entry.
    pub(crate) fn merge_json(mut self, json: RawJsonServer) -> Self {
        self.transport_type = self.transport_type.or(json.transport_type);
        self.command = self.command.or(json.command);
        self.args = self.args.or(json.args);
        self.env = self.env.or(json.env);
        self.cwd = self.cwd.or(json.cwd);
        self.url = self.url.or(json.url);
        self.headers = self.headers.or(json.headers);
        self
    }
}
