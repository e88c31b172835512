//! Gateway configuration in two phases (see the crate README for the full reference):
//!
//! 1. [`Config::load`] reads `switchboard.toml` or a Claude Desktop / Claude Code JSON file,
//!    deserializes it strictly ([`raw`]) and validates every value (server names, transports,
//!    durations, rates, glob patterns, reference syntax). Nothing is resolved yet.
//! 2. [`Config::resolve`] ([`resolve`]) reads the environment, files and Vault, producing a
//!    [`ResolvedConfig`] the gateway starts from.
//!
//! Errors name the file, the key and what is wrong; a configuration with any error starts
//! nothing.

mod auth;
mod environment;
mod raw;
mod resolve;
mod validate;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use auth::{AuthConfig, ClaimMatch, IntrospectionConfig, IssuerConfig};
pub use resolve::{
    ResolvedClient, ResolvedConfig, ResolvedExchange, ResolvedOAuth, ResolvedServer,
    ResolvedSlackApprovals, ResolvedTransport,
};

use crate::error::ConfigError;
use crate::secrets::Template;

/// The built-in servers of the `switchboard` binary, started as `switchboard server <kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinKind {
    /// `switchboard server postgres` (reads `DATABASE_URL`).
    Postgres,
    /// `switchboard server jira` (reads `JIRA_URL` and credentials).
    Jira,
    /// `switchboard server slack` (reads `SLACK_BOT_TOKEN`).
    Slack,
}

impl BuiltinKind {
    /// The subcommand name, which is also the `kind` value in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Jira => "jira",
            Self::Slack => "slack",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "postgres" => Some(Self::Postgres),
            "jira" => Some(Self::Jira),
            "slack" => Some(Self::Slack),
            _ => None,
        }
    }
}

/// How an upstream server is reached, with values still unresolved.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportConfig {
    /// A child process speaking MCP over stdio.
    Stdio {
        /// The program.
        command: Template,
        /// Its arguments.
        args: Vec<Template>,
        /// Its environment: the only variables it gets besides PATH/HOME/LANG-style basics.
        env: BTreeMap<String, Template>,
        /// Its working directory.
        cwd: Option<Template>,
    },
    /// A remote server over Streamable HTTP.
    Http {
        /// The endpoint URL.
        url: Template,
        /// Headers sent with every request (e.g. `Authorization`).
        headers: BTreeMap<String, Template>,
        /// OAuth authorization of the gateway to this server, if it needs one.
        oauth: Option<OAuthConfig>,
        /// Token exchange (RFC 8693): tool calls go with the calling person's token exchanged
        /// for one audienced to this server.
        exchange: Option<Box<ExchangeConfig>>,
    },
    /// A built-in server run as a child of this binary.
    Builtin {
        /// Which one.
        kind: BuiltinKind,
        /// Its environment (its settings, e.g. `DATABASE_URL`).
        env: BTreeMap<String, Template>,
        /// Extra arguments after `server <kind>`.
        args: Vec<Template>,
    },
}

/// The OAuth 2.1 grant the gateway uses to get an access token for an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthGrant {
    /// `client_credentials`: the gateway authenticates as itself with a client ID and secret.
    ClientCredentials,
    /// `authorization_code` with PKCE, for authorization servers that answer the authorization
    /// request with a redirect straight away (no login page): the gateway reads the code from
    /// the redirect instead of a browser.
    AuthorizationCode,
}

impl OAuthGrant {
    /// The value of `grant` in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
        }
    }
}

/// `[servers.<name>.oauth]`, with values still unresolved.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthConfig {
    /// The grant.
    pub grant: OAuthGrant,
    /// The client ID registered with the authorization server. Required for client
    /// credentials; for the authorization code grant, absent means a client ID metadata
    /// document (`client_metadata_url`) or dynamic client registration.
    pub client_id: Option<Template>,
    /// The client secret (a secret reference, normally).
    pub client_secret: Option<Template>,
    /// Scopes to request; empty means the ones the server advertises.
    pub scopes: Vec<String>,
    /// Redirect URI of the authorization code grant.
    pub redirect_uri: String,
    /// HTTPS URL of this gateway's client ID metadata document, used as its client ID by
    /// authorization servers that support them.
    pub client_metadata_url: Option<String>,
    /// Client name for dynamic client registration.
    pub client_name: String,
}

/// `[servers.<name>] token_exchange`, with values still unresolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeConfig {
    /// The authorization server's token endpoint.
    pub token_url: String,
    /// The gateway's client ID there.
    pub client_id: Template,
    /// Its secret (a secret reference, normally).
    pub client_secret: Template,
    /// The audience asked for (default: the server's URL, sent as the RFC 8707 resource).
    pub audience: Option<String>,
    /// Scopes asked for; empty asks for none in particular.
    pub scopes: Vec<String>,
}

/// When an upstream is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// When the gateway starts (default).
    Boot,
    /// When its tools are first needed (first `tools/list` or call).
    Lazy,
}

/// Restart and circuit-breaker policy of one upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Delay before the first restart; doubles on each consecutive failure (plus jitter).
    pub initial_backoff: Duration,
    /// Upper bound of the backoff.
    pub max_backoff: Duration,
    /// Failures within `window` that open the circuit.
    pub max_failures: u32,
    /// The window in which failures are counted.
    pub window: Duration,
    /// How long the circuit stays open before one more attempt.
    pub open_for: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_failures: 5,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
        }
    }
}

/// One upstream server, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Its name (`[a-z0-9-]`), the prefix of its tools.
    pub name: String,
    /// How it is reached.
    pub transport: TransportConfig,
    /// Whether its tools are prefixed `<name>__`; `None` means automatic (prefixed unless it is
    /// the only server).
    pub prefix: Option<bool>,
    /// When it is started.
    pub start: StartMode,
    /// Whether `/readyz` requires it to be healthy.
    pub required: bool,
    /// Default timeout of one tool call (overridable per tool in `[tools]`).
    pub timeout: Duration,
    /// Maximum calls in flight to this upstream.
    pub max_concurrency: usize,
    /// Interval of health pings.
    pub health_interval: Duration,
    /// Time a ping (and the start handshake) may take.
    pub ping_timeout: Duration,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Upstream tool names (globs) not exposed.
    pub exclude_tools: Vec<glob::Pattern>,
}

/// A token bucket: `count` calls per `per`, bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls allowed per period.
    pub count: NonZeroU32,
    /// The period.
    pub per: Duration,
    /// Bucket size (defaults to `count`).
    pub burst: NonZeroU32,
    /// Whether each person (a token's subject) has a bucket of their own (`per = "user"`).
    pub per_user: bool,
}

/// A rate applying to the tools whose exposed name matches `pattern`.
#[derive(Debug, Clone)]
pub struct RateRule {
    /// The exposed-name glob, as written (also the rule's identity in limiter keys).
    pub pattern: glob::Pattern,
    /// The rate.
    pub rate: Rate,
}

/// Whether a tool's calls need a human's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Always ask.
    Required,
    /// Never ask.
    Never,
    /// Ask when the tool's annotations say it is destructive (default).
    Auto,
}

/// Per-tool policy from `[tools."<pattern>"]`.
#[derive(Debug, Clone)]
pub struct ToolRule {
    /// The exposed-name glob.
    pub pattern: glob::Pattern,
    /// Approval requirement, if set.
    pub approval: Option<Approval>,
    /// Timeout override, if set.
    pub timeout: Option<Duration>,
    /// `task = true`: a long-running tool. A client that follows tasks gets a task of the
    /// gateway's own at once, which completes with the call's result.
    pub task: bool,
}

/// One downstream client, validated.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Its id (appears in the audit log).
    pub name: String,
    /// Its bearer token (required when serving HTTP on a non-loopback address).
    pub token: Option<Template>,
    /// Exposed-name globs it may see and call (default: everything).
    pub allow: Vec<glob::Pattern>,
    /// Exposed-name globs hidden from it (win over `allow`).
    pub deny: Vec<glob::Pattern>,
    /// Its rate over all tools.
    pub rate_limit: Option<Rate>,
    /// Its rates per tool.
    pub rate_limits: Vec<RateRule>,
    /// Whether it gets the search meta tools instead of the full list (`None`: the gateway's
    /// setting).
    pub tool_search: Option<ToolSearch>,
    /// Whether it is an operator: it may decide queued approvals (`/admin/approvals`).
    pub admin: bool,
}

/// When a caller's `tools/list` offers the search meta tools instead of every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolSearch {
    /// Always the full list.
    #[default]
    Off,
    /// Always the meta tools.
    On,
    /// The meta tools when the caller may see more tools than this.
    Above(usize),
}

impl ToolSearch {
    /// Whether a caller who may see `visible` tools gets the meta tools.
    pub fn applies(self, visible: usize) -> bool {
        match self {
            Self::Off => false,
            Self::On => true,
            Self::Above(limit) => visible > limit,
        }
    }
}

/// `[gateway]`.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// The name announced to clients.
    pub name: String,
    /// How long in-flight calls may take to finish at shutdown.
    pub drain_timeout: Duration,
    /// How long HTTP serving goes on answering after a shutdown signal, with `/readyz` already
    /// `503`, so a balancer stops sending before draining starts.
    pub shutdown_delay: Duration,
    /// How long boot waits for upstreams to come up before serving anyway.
    pub startup_timeout: Duration,
    /// Extra `Host` values accepted over HTTP (loopback names are always accepted).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted over HTTP (none: browser origins are refused).
    pub allowed_origins: Vec<String>,
    /// The client id of the stdio connection (must be a `[clients]` entry when set).
    pub stdio_client: Option<String>,
    /// `[state] store`: the Redis URL of what replicas share — rate-limit buckets and the
    /// approval queue (none: each process its own).
    pub rate_limit_store: Option<Template>,
    /// The key the store was set under (`state.store`, or its older name
    /// `gateway.rate_limit_store`), for messages.
    pub store_key: &'static str,
    /// `[state] prefix`: the prefix of the store's keys (`<prefix>:rate:…`), the same on every
    /// replica.
    pub rate_limit_prefix: String,
    /// Caps on handshake-era HTTP sessions.
    pub sessions: SessionLimits,
    /// Tool search for callers without a setting of their own.
    pub tool_search: ToolSearch,
}

/// Caps on handshake-era (2025-11-25) HTTP sessions: `[gateway] max_sessions`,
/// `max_sessions_per_client`, `session_idle_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Sessions open at once, all clients together.
    pub total: usize,
    /// Sessions open at once for one client.
    pub per_client: usize,
    /// A session without a request or open stream for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for SessionLimits {
    /// 4,096 sessions in all, 256 per client, closed after 5 minutes idle.
    fn default() -> Self {
        Self {
            total: 4096,
            per_client: 256,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// The JSON-lines file; `None` disables the audit log.
    pub path: Option<PathBuf>,
    /// Argument field names (`field`, or `tool_glob.field`) always redacted.
    pub redact: Vec<String>,
    /// Whether each record is also fsync'ed (durable across power loss, slower).
    pub fsync: bool,
    /// `sink = "postgres://…"`: records go to a PostgreSQL table instead of the file.
    pub sink: Option<Template>,
    /// This gateway's name in the table (default: the host name, e.g. the Kubernetes pod).
    pub replica: String,
    /// `stream = "stdout"`: every call's record also goes to stdout as a JSON line (for a log
    /// collector or SIEM; HTTP serving only, as stdio serving speaks MCP on stdout).
    pub stream_stdout: bool,
}

/// `[pins]`: fingerprints of every upstream tool's definition, kept across restarts, so a
/// definition that changes is withheld until an operator accepts it.
#[derive(Debug, Clone)]
pub struct PinSettings {
    /// Whether definitions are pinned and screened at all.
    pub enabled: bool,
    /// The pin file; by default beside the audit log (`audit.jsonl` → `audit.pins.json`). `None`
    /// keeps pins in memory only (they do not survive a restart).
    pub path: Option<PathBuf>,
    /// Whether a tool seen for the first time waits for an operator (`new_tools = "hold"`)
    /// instead of being pinned and served (`"pin"`, the default).
    pub hold_new: bool,
    /// The longest tool description served without review, in characters.
    pub max_description: usize,
}

impl Default for PinSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            hold_new: false,
            max_description: 4096,
        }
    }
}

/// `[telemetry]`'s trace export settings (`otlp_endpoint`, `otlp_protocol`, `otlp_headers`,
/// `service_name`, `resource_attributes`); header values are templates, resolved as secrets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceSettings {
    /// The collector's base URL.
    pub endpoint: Option<String>,
    /// `http/protobuf` or `grpc`.
    pub protocol: Option<String>,
    /// Headers sent with every export.
    pub headers: BTreeMap<String, Template>,
    /// The gateway's `service.name`.
    pub service_name: Option<String>,
    /// More resource attributes.
    pub resource_attributes: BTreeMap<String, String>,
}

/// The trace export a configuration describes, its header values read before the process started
/// tracing ([`Config::trace_config`]).
#[derive(Debug, Clone, Default)]
pub struct StartedTraces {
    /// What the exporter is set up with.
    pub export: switchboard_telemetry::TraceConfig,
    /// The secret values read for it.
    pub(crate) secrets: crate::secrets::SecretSet,
}

/// A validated configuration; secrets are not yet resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (or `<environment>` when built from the environment).
    pub file: PathBuf,
    /// `[gateway]`.
    pub gateway: GatewaySettings,
    /// `[audit]`.
    pub audit: AuditSettings,
    /// `[pins]`.
    pub pins: PinSettings,
    /// Upstream servers by name.
    pub servers: BTreeMap<String, ServerConfig>,
    /// Downstream clients by name.
    pub clients: BTreeMap<String, ClientConfig>,
    /// `[telemetry] metrics_addr`: a listener of its own for `/metrics`, without authentication.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `[telemetry]`'s trace export settings, over OpenTelemetry's environment.
    pub traces: TraceSettings,
    /// The export set up from `traces` before the process started tracing, header values read
    /// ([`Config::with_started_traces`]): resolving takes them from here instead of reading them
    /// again.
    pub(crate) started_traces: Option<StartedTraces>,
    /// `[approvals] timeout`: how long a call waits in the approval queue for an operator.
    pub approval_timeout: Duration,
    /// `[approvals] slack`: where waiting calls are also posted for operators to decide.
    pub approvals_slack: Option<SlackApprovalsConfig>,
    /// `[secrets] refresh`: how often every reference is read again (`0s`: never); a changed
    /// value is applied as a reload applies it.
    pub secrets_refresh: Duration,
    /// `[auth]`: people's tokens from identity providers, if configured.
    pub auth: Option<AuthConfig>,
    /// Per-tool rates shared by all clients.
    pub rate_limits: Vec<RateRule>,
    /// Per-tool policy.
    pub tools: Vec<ToolRule>,
    /// Virtual endpoints by name.
    pub endpoints: BTreeMap<String, std::sync::Arc<crate::endpoints::Endpoint>>,
    /// `[agent]` as written: the settings of `switchboard agent`, which reads and validates them
    /// (the gateway itself has no use for them).
    pub agent: Option<serde_json::Value>,
    /// `servers` (TOML) or `mcpServers` (JSON): the key servers are named under in messages.
    pub(crate) servers_key: &'static str,
    /// The file's tree as written (`null` when built from the environment): a reload reports
    /// what changed by key from it.
    pub(crate) source: serde_json::Value,
}

/// `[approvals] slack`: each call that starts waiting in the approval queue is posted to
/// `channel` with Approve and Deny buttons; clicks come back to `/slack/interactions`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackApprovalsConfig {
    /// The channel (`#name` or an id) the requests are posted to.
    pub channel: String,
    /// The bot token posting them (`xoxb-…`, `chat:write`).
    pub token: Template,
    /// The Slack app's signing secret, which interaction requests are verified with.
    pub signing_secret: Template,
    /// The Slack user ids (`U…`, `W…`) who may decide.
    pub operators: Vec<String>,
    /// The Web API's base URL (`https://slack.com/api`).
    pub api_url: url::Url,
}

impl Config {
    /// Loads and validates a file: `.json` is read as a Claude Desktop / Claude Code file,
    /// anything else as `switchboard.toml`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, the key and the problem.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        if is_json {
            Self::from_json_str(&text, path)
        } else {
            Self::from_toml_str(&text, path)
        }
    }

    /// Parses and validates `switchboard.toml` text; `file` is used in messages and to resolve
    /// relative paths.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, the key and the problem.
    pub fn from_toml_str(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        let raw: raw::RawConfig = toml::from_str(text).map_err(syntax)?;
        let mut config = validate::validate(raw, file, "servers")?;
        let tree: toml::Table = toml::from_str(text).map_err(syntax)?;
        config.source = serde_json::to_value(tree).unwrap_or_default();
        Ok(config)
    }

    /// Parses and validates a Claude Desktop / Claude Code JSON file's text.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, the key and the problem.
    pub fn from_json_str(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let syntax = |e: serde_json::Error| ConfigError::Syntax {
            file: file.to_owned(),
            message: format!("invalid JSON: {e}"),
        };
        let json: raw::RawJsonFile = serde_json::from_str(text).map_err(syntax)?;
        let source: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
        let mut raw = json.switchboard.unwrap_or_default();
        for (name, server) in json.mcp_servers {
            let options = raw.servers.remove(&name).unwrap_or_default();
            raw.servers.insert(name, options.merge_json(server));
        }
        let mut config = validate::validate(raw, file, "mcpServers")?;
        config.source = source;
        Ok(config)
    }

    /// The configuration used when no file is given: the built-in servers whose settings are
    /// present in the environment. Returns the config and, for each built-in, why it was or was
    /// not started (for the operator).
    pub fn from_environment() -> (Self, Vec<String>) {
        environment::from_environment()
    }
}

/// `[secrets] refresh` when the file does not say.
pub(crate) const DEFAULT_SECRETS_REFRESH: Duration = Duration::from_secs(300);

/// Parses durations such as `500ms`, `30s`, `2m`, `1h`.
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration (examples: 500ms, 30s, 2m, 1h)"))?;
    let duration = match unit.trim() {
        "ms" => Duration::from_millis(number),
        "s" | "" => Duration::from_secs(number),
        "m" | "min" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        _ => {
            return Err(format!("{value:?} has an unknown unit (use ms, s, m or h)"));
        }
    };
    Ok(duration)
}

/// Parses `10/minute`-style rates (`second`, `minute`, `hour`, `day`; also `s`, `m`, `h`).
pub(crate) fn parse_rate(rate: &str, burst: Option<u32>) -> Result<Rate, String> {
    let (count, unit) = rate
        .split_once('/')
        .ok_or_else(|| format!("{rate:?} is not a rate (examples: 10/minute, 5/second)"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{rate:?}: {count:?} is not a whole number of calls"))?;
    let count = NonZeroU32::new(count).ok_or_else(|| {
        format!("{rate:?}: the count must be at least 1 (to forbid a tool, use deny)")
    })?;
    let per = match unit.trim() {
        "second" | "sec" | "s" => Duration::from_secs(1),
        "minute" | "min" | "m" => Duration::from_secs(60),
        "hour" | "h" => Duration::from_secs(3600),
        "day" | "d" => Duration::from_secs(86_400),
        other => {
            return Err(format!(
                "{rate:?}: unknown period {other:?} (second, minute, hour, day)"
            ));
        }
    };
    let burst = match burst {
        Some(b) => NonZeroU32::new(b).ok_or_else(|| "burst must be at least 1".to_owned())?,
        None => count,
    };
    Ok(Rate {
        count,
        per,
        burst,
        per_user: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
        let r = parse_rate("10/minute", Some(3)).unwrap();
        assert_eq!(
            (r.count.get(), r.per, r.burst.get()),
            (10, Duration::from_secs(60), 3)
        );
        assert_eq!(parse_rate("5/s", None).unwrap().burst.get(), 5);
        assert!(parse_rate("0/minute", None).is_err());
        assert!(parse_rate("10/fortnight", None).is_err());
    }
}
