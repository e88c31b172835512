//! Validation: raw serde shapes → [`Config`]. Every check reports the file and the dotted key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::{AuthConfig, ClaimMatch, IntrospectionConfig, IssuerConfig};
use super::raw::{
    RawAuth, RawClaimValue, RawClient, RawConfig, RawEndpoint, RawOAuth, RawPins, RawRate,
    RawRestart, RawServer, RawToolSearch,
};
use super::{
    Approval, AuditSettings, BuiltinKind, ClientConfig, Config, DEFAULT_SECRETS_REFRESH,
    ExchangeConfig, GatewaySettings, OAuthConfig, OAuthGrant, PinSettings, Rate, RateRule,
    RestartPolicy, ServerConfig, SessionLimits, SlackApprovalsConfig, StartMode, ToolRule,
    ToolSearch, TransportConfig, parse_duration, parse_rate,
};
use crate::endpoints::{Endpoint, Override};
use crate::error::ConfigError;
use crate::secrets::Template;

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn template(&self, key: &str, raw: &str) -> Result<Template, ConfigError> {
        Template::parse(raw).map_err(|m| self.err(key, m))
    }

    fn templates(&self, key: &str, raw: &[String]) -> Result<Vec<Template>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, v)| self.template(&format!("{key}[{i}]"), v))
            .collect()
    }

    fn template_map(
        &self,
        key: &str,
        raw: Option<BTreeMap<String, String>>,
    ) -> Result<BTreeMap<String, Template>, ConfigError> {
        raw.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| Ok((k.clone(), self.template(&format!("{key}.{k}"), &v)?)))
            .collect()
    }

    fn duration(
        &self,
        key: &str,
        raw: Option<&String>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        raw.map_or(Ok(default), |v| {
            parse_duration(v).map_err(|m| self.err(key, m))
        })
    }

    fn pattern(&self, key: &str, raw: &str) -> Result<glob::Pattern, ConfigError> {
        glob::Pattern::new(raw)
            .map_err(|e| self.err(key, format!("{raw:?} is not a valid glob pattern: {e}")))
    }

    fn patterns(&self, key: &str, raw: &[String]) -> Result<Vec<glob::Pattern>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, v)| self.pattern(&format!("{key}[{i}]"), v))
            .collect()
    }

    /// `{ rate, burst, per }`; `per = "user"` gives each person (a token's subject) a bucket.
    fn rate(&self, key: &str, raw: &RawRate) -> Result<Rate, ConfigError> {
        let mut rate = parse_rate(&raw.rate, raw.burst).map_err(|m| self.err(key, m))?;
        rate.per_user = match raw.per.as_deref() {
            None | Some("client") => false,
            Some("user") => true,
            Some(other) => {
                return Err(self.err(
                    format!("{key}.per"),
                    format!("must be \"client\" or \"user\", not {other:?}"),
                ));
            }
        };
        Ok(rate)
    }

    fn rate_rules(
        &self,
        key: &str,
        raw: BTreeMap<String, RawRate>,
    ) -> Result<Vec<RateRule>, ConfigError> {
        raw.into_iter()
            .map(|(pattern, rate)| {
                let k = format!("{key}.\"{pattern}\"");
                Ok(RateRule {
                    pattern: self.pattern(&k, &pattern)?,
                    rate: self.rate(&k, &rate)?,
                })
            })
            .collect()
    }
}

/// A replica's default name: `HOSTNAME` (a Kubernetes pod's name), else the host's name.
fn default_replica() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "gateway".to_owned())
}

/// Whether `name` is a valid server or client name: `[a-z0-9-]`, 1 to 32 characters.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn pin_settings(
    ctx: &Ctx<'_>,
    base: &Path,
    raw: RawPins,
    audit: Option<&Path>,
) -> Result<PinSettings, ConfigError> {
    let defaults = PinSettings::default();
    let hold_new = match raw.new_tools.as_deref() {
        None | Some("pin") => false,
        Some("hold") => true,
        Some(other) => {
            return Err(ctx.err(
                "pins.new_tools",
                format!("must be \"pin\" or \"hold\", not {other:?}"),
            ));
        }
    };
    let max_description = match raw.max_description {
        Some(0) => return Err(ctx.err("pins.max_description", "must be at least 1")),
        Some(max) => max,
        None => defaults.max_description,
    };
    Ok(PinSettings {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        path: match raw.path {
            Some(path) => Some(absolutize(base, &path)),
            None => audit.map(|audit| audit.with_extension("pins.json")),
        },
        hold_new,
        max_description,
    })
}

/// `[approvals] slack`.
/// `[telemetry]`'s trace export settings. Resource attributes travel to the built-in servers in
/// `OTEL_RESOURCE_ATTRIBUTES`, whose syntax has no escapes: no `,` in them, no `=` in keys.
fn trace_settings(
    ctx: &Ctx<'_>,
    raw: &super::raw::RawTelemetry,
) -> Result<super::TraceSettings, ConfigError> {
    if let Some(endpoint) = &raw.otlp_endpoint {
        let url = url::Url::parse(endpoint).ok();
        if !url.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()) {
            return Err(ctx.err(
                "telemetry.otlp_endpoint",
                format!(
                    "{endpoint:?} is not an http:// or https:// URL, e.g. \
                     \"http://127.0.0.1:4318\" (the collector's base URL; /v1/traces is added \
                     for http/protobuf)"
                ),
            ));
        }
    }
    if let Some(protocol) = &raw.otlp_protocol
        && !matches!(protocol.as_str(), "http/protobuf" | "grpc")
    {
        return Err(ctx.err(
            "telemetry.otlp_protocol",
            format!("{protocol:?} is not a transport Switchboard exports over: use \"http/protobuf\" or \"grpc\""),
        ));
    }
    let mut headers = BTreeMap::new();
    for (name, value) in &raw.otlp_headers {
        let key = format!("telemetry.otlp_headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ctx.err(key, format!("{name:?} is not a header name")));
        }
        headers.insert(name.to_ascii_lowercase(), ctx.template(&key, value)?);
    }
    if raw
        .service_name
        .as_ref()
        .is_some_and(|s| s.trim().is_empty())
    {
        return Err(ctx.err(
            "telemetry.service_name",
            "name the service, or leave it out",
        ));
    }
    for (key, value) in &raw.resource_attributes {
        if key.is_empty() || key.contains([',', '=']) || value.contains(',') {
            return Err(ctx.err(
                format!("telemetry.resource_attributes.{key}"),
                "attributes are passed on as OTEL_RESOURCE_ATTRIBUTES: no \",\" in keys or \
                 values, no \"=\" in keys, no empty key",
            ));
        }
    }
    Ok(super::TraceSettings {
        endpoint: raw.otlp_endpoint.clone(),
        protocol: raw.otlp_protocol.clone(),
        headers,
        service_name: raw.service_name.clone(),
        resource_attributes: raw.resource_attributes.clone(),
    })
}

fn slack_approvals(
    ctx: &Ctx<'_>,
    raw: &super::raw::RawSlackApprovals,
) -> Result<SlackApprovalsConfig, ConfigError> {
    const KEY: &str = "approvals.slack";
    if raw.channel.trim().is_empty() {
        return Err(ctx.err(
            format!("{KEY}.channel"),
            "name the channel requests are posted to, e.g. \"#approvals\"",
        ));
    }
    if raw.operators.is_empty() {
        return Err(ctx.err(
            format!("{KEY}.operators"),
            "list the Slack user ids (U…) who may approve; with none, nobody could",
        ));
    }
    for (i, id) in raw.operators.iter().enumerate() {
        let user_id = id.len() >= 3
            && id.starts_with(['U', 'W'])
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !user_id {
            return Err(ctx.err(
                format!("{KEY}.operators[{i}]"),
                format!(
                    "{id:?} is not a Slack user id (U… or W…, as in a profile's \"Copy member ID\")"
                ),
            ));
        }
    }
    let api_url = raw.api_url.as_deref().unwrap_or("https://slack.com/api");
    let api_url = url::Url::parse(api_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            ctx.err(
                format!("{KEY}.api_url"),
                format!("{api_url:?} is not an http(s) URL"),
            )
        })?;
    Ok(SlackApprovalsConfig {
        channel: raw.channel.trim().to_owned(),
        token: ctx.template(&format!("{KEY}.token"), &raw.token)?,
        signing_secret: ctx.template(&format!("{KEY}.signing_secret"), &raw.signing_secret)?,
        operators: raw.operators.clone(),
        api_url,
    })
}

pub(super) fn validate(
    raw: RawConfig,
    file: &Path,
    servers_key: &'static str,
) -> Result<Config, ConfigError> {
    let ctx = Ctx { file };
    let base = file.parent().map(Path::to_owned).unwrap_or_default();
    let gateway = gateway_settings(&ctx, raw.gateway, raw.state)?;
    if raw.audit.sink.is_some() && raw.audit.path.is_some() {
        return Err(ctx.err(
            "audit.sink",
            "set either path (a file) or sink (a database), not both",
        ));
    }
    let sink = match &raw.audit.sink {
        Some(sink) => {
            let template = ctx.template("audit.sink", sink)?;
            let postgres = sink.starts_with("postgres://") || sink.starts_with("postgresql://");
            if !(template.has_references() || postgres) {
                return Err(ctx.err(
                    "audit.sink",
                    "must be a postgres:// URL (the file sink is [audit] path)",
                ));
            }
            Some(template)
        }
        None => None,
    };
    let audit = AuditSettings {
        path: raw.audit.path.map(|p| absolutize(&base, &p)),
        redact: raw.audit.redact,
        fsync: raw.audit.fsync,
        sink,
        replica: raw.audit.replica.unwrap_or_else(default_replica),
        stream_stdout: match raw.audit.stream.as_deref() {
            None => false,
            Some("stdout") => true,
            Some(other) => {
                return Err(ctx.err("audit.stream", format!("must be \"stdout\", not {other:?}")));
            }
        },
    };
    let pins = pin_settings(&ctx, &base, raw.pins, audit.path.as_deref())?;
    let mut servers = BTreeMap::new();
    for (name, server) in raw.servers {
        let key = format!("{servers_key}.{name}");
        if !valid_name(&name) {
            return Err(ctx.err(
                key,
                "server names may contain only lowercase letters, digits and '-' (at most 32), \
                 so every exposed tool name stays within ^[a-zA-Z0-9_-]{1,64}$",
            ));
        }
        servers.insert(name.clone(), server_config(&ctx, &key, name, server)?);
    }
    let mut clients = BTreeMap::new();
    let mut rules = Vec::new();
    for (name, mut client) in raw.clients {
        let key = format!("clients.{name}");
        if !valid_name(&name) {
            return Err(ctx.err(
                key,
                "client names may contain only lowercase letters, digits and '-' (at most 32)",
            ));
        }
        if let Some(claims) = client.claims.take() {
            rules.push((
                name.clone(),
                claim_match(&ctx, &format!("{key}.match"), claims)?,
            ));
        }
        clients.insert(name.clone(), client_config(&ctx, &key, name, client)?);
    }
    let auth = match raw.auth {
        Some(auth) => Some(auth_config(&ctx, auth, rules)?),
        None if !rules.is_empty() => {
            return Err(ctx.err(
                format!("clients.{}.match", rules[0].0),
                "matching token claims needs [auth] with at least one [[auth.issuers]]",
            ));
        }
        None => None,
    };
    if let Some(stdio) = &gateway.stdio_client
        && !clients.contains_key(stdio)
    {
        return Err(ctx.err(
            "gateway.stdio_client",
            format!("{stdio:?} is not defined under [clients]"),
        ));
    }
    let rate_limits = ctx.rate_rules("rate_limits", raw.rate_limits)?;
    let tools = tool_rules(&ctx, raw.tools)?;
    let mut endpoints = BTreeMap::new();
    for (name, endpoint) in raw.endpoints {
        let endpoint = endpoint_config(&ctx, &clients, name.clone(), endpoint)?;
        endpoints.insert(name, std::sync::Arc::new(endpoint));
    }
    let traces = trace_settings(&ctx, &raw.telemetry)?;
    Ok(Config {
        file: file.to_owned(),
        gateway,
        audit,
        pins,
        servers,
        clients,
        metrics_addr: raw
            .telemetry
            .metrics_addr
            .map(|a| {
                a.parse().map_err(|_| {
                    ctx.err(
                        "telemetry.metrics_addr",
                        format!("{a:?} is not an address with a port, e.g. 127.0.0.1:9464"),
                    )
                })
            })
            .transpose()?,
        traces,
        approval_timeout: ctx.duration(
            "approvals.timeout",
            raw.approvals.timeout.as_ref(),
            Duration::from_secs(300),
        )?,
        approvals_slack: raw
            .approvals
            .slack
            .as_ref()
            .map(|slack| slack_approvals(&ctx, slack))
            .transpose()?,
        secrets_refresh: ctx.duration(
            "secrets.refresh",
            raw.secrets.refresh.as_ref(),
            DEFAULT_SECRETS_REFRESH,
        )?,
        auth,
        rate_limits,
        tools,
        endpoints,
        agent: raw.agent,
        started_traces: None,
        servers_key,
        source: serde_json::Value::Null,
    })
}

fn endpoint_config(
    ctx: &Ctx<'_>,
    clients: &BTreeMap<String, ClientConfig>,
    name: String,
    raw: RawEndpoint,
) -> Result<Endpoint, ConfigError> {
    let key = format!("endpoints.{name}");
    if !valid_name(&name) {
        return Err(ctx.err(
            key,
            "endpoint names may contain only lowercase letters, digits and '-' (at most 32)",
        ));
    }
    if raw.tools.is_empty() {
        return Err(ctx.err(
            format!("{key}.tools"),
            "list the tools the endpoint offers (exposed-name globs, e.g. [\"jira__*\"])",
        ));
    }
    if let Some(listed) = &raw.clients {
        for (i, client) in listed.iter().enumerate() {
            if !clients.contains_key(client) {
                return Err(ctx.err(
                    format!("{key}.clients[{i}]"),
                    format!("{client:?} is not defined under [clients]"),
                ));
            }
        }
    }
    let mut overrides = BTreeMap::new();
    let mut renamed = BTreeMap::new();
    for (tool, change) in raw.overrides {
        let at = format!("{key}.overrides.{tool}");
        if let Some(rename) = &change.rename {
            if !crate::catalog::valid_exposed_name(rename) {
                return Err(ctx.err(
                    format!("{at}.rename"),
                    "a tool name must match ^[a-zA-Z0-9_-]{1,64}$",
                ));
            }
            if let Some(first) = renamed.insert(rename.clone(), tool.clone()) {
                return Err(ctx.err(
                    format!("{at}.rename"),
                    format!("{first} is renamed {rename:?} too"),
                ));
            }
        }
        overrides.insert(
            tool,
            Override {
                rename: change.rename,
                description: change.description,
                fixed: change.fixed,
            },
        );
    }
    Ok(Endpoint {
        tools: ctx.patterns(&format!("{key}.tools"), &raw.tools)?,
        exclude: ctx.patterns(&format!("{key}.exclude"), &raw.exclude)?,
        instructions: raw.instructions,
        clients: raw.clients,
        tool_search: tool_search(
            ctx,
            &format!("{key}.tool_search"),
            raw.tool_search.as_ref(),
            None,
        )?,
        overrides,
        name,
    })
}

fn tool_rules(
    ctx: &Ctx<'_>,
    raw: BTreeMap<String, super::raw::RawToolPolicy>,
) -> Result<Vec<ToolRule>, ConfigError> {
    let mut tools = Vec::new();
    for (pattern, policy) in raw {
        let key = format!("tools.\"{pattern}\"");
        let approval = match policy.approval.as_deref() {
            None => None,
            Some("required") => Some(Approval::Required),
            Some("never") => Some(Approval::Never),
            Some("auto") => Some(Approval::Auto),
            Some(other) => {
                return Err(ctx.err(
                    format!("{key}.approval"),
                    format!("{other:?} is not one of \"required\", \"never\", \"auto\""),
                ));
            }
        };
        tools.push(ToolRule {
            pattern: ctx.pattern(&key, &pattern)?,
            approval,
            timeout: policy
                .timeout
                .as_ref()
                .map(|t| parse_duration(t).map_err(|m| ctx.err(format!("{key}.timeout"), m)))
                .transpose()?,
            task: policy.task.unwrap_or(false),
        });
    }
    Ok(tools)
}

fn gateway_settings(
    ctx: &Ctx<'_>,
    raw: super::raw::RawGateway,
    state: super::raw::RawState,
) -> Result<GatewaySettings, ConfigError> {
    let sessions = session_limits(ctx, &raw)?;
    // `[state]` names the store replicas share; `gateway.rate_limit_store` and
    // `gateway.rate_limit_prefix` are its older names.
    if state.store.is_some() && raw.rate_limit_store.is_some() {
        return Err(ctx.err(
            "state.store",
            "set the shared store once: [state] store (gateway.rate_limit_store is its older name)",
        ));
    }
    let (store_key, store) = match state.store {
        Some(store) => ("state.store", Some(store)),
        None => ("gateway.rate_limit_store", raw.rate_limit_store),
    };
    let (prefix_key, prefix) = match state.prefix {
        Some(prefix) => ("state.prefix", Some(prefix)),
        None => ("gateway.rate_limit_prefix", raw.rate_limit_prefix),
    };
    let tool_search = tool_search(
        ctx,
        "gateway.tool_search",
        raw.tool_search.as_ref(),
        raw.tool_search_above,
    )?
    .unwrap_or_default();
    Ok(GatewaySettings {
        name: raw.name.unwrap_or_else(|| "switchboard".to_owned()),
        drain_timeout: ctx.duration(
            "gateway.drain_timeout",
            raw.drain_timeout.as_ref(),
            Duration::from_secs(10),
        )?,
        shutdown_delay: ctx.duration(
            "gateway.shutdown_delay",
            raw.shutdown_delay.as_ref(),
            Duration::ZERO,
        )?,
        startup_timeout: ctx.duration(
            "gateway.startup_timeout",
            raw.startup_timeout.as_ref(),
            Duration::from_secs(30),
        )?,
        allowed_hosts: raw.allowed_hosts,
        allowed_origins: raw.allowed_origins,
        stdio_client: raw.stdio_client,
        rate_limit_store: store.map(|url| ctx.template(store_key, &url)).transpose()?,
        store_key,
        rate_limit_prefix: match prefix {
            Some(prefix) if prefix.is_empty() || prefix.contains(char::is_whitespace) => {
                return Err(ctx.err(prefix_key, "must be non-empty and without spaces"));
            }
            Some(prefix) => prefix,
            None => "switchboard".to_owned(),
        },
        sessions,
        tool_search,
    })
}

fn session_limits(
    ctx: &Ctx<'_>,
    raw: &super::raw::RawGateway,
) -> Result<SessionLimits, ConfigError> {
    let default = SessionLimits::default();
    let total = raw.max_sessions.unwrap_or(default.total);
    if total == 0 {
        return Err(ctx.err("gateway.max_sessions", "must be at least 1"));
    }
    let per_client = raw
        .max_sessions_per_client
        .unwrap_or(default.per_client.min(total));
    if per_client == 0 || per_client > total {
        return Err(ctx.err(
            "gateway.max_sessions_per_client",
            format!("must be between 1 and max_sessions ({total})"),
        ));
    }
    Ok(SessionLimits {
        total,
        per_client,
        idle_timeout: ctx.duration(
            "gateway.session_idle_timeout",
            raw.session_idle_timeout.as_ref(),
            default.idle_timeout,
        )?,
    })
}

fn absolutize(base: &Path, path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if p.is_absolute() { p } else { base.join(p) }
}

fn server_config(
    ctx: &Ctx<'_>,
    key: &str,
    name: String,
    raw: RawServer,
) -> Result<ServerConfig, ConfigError> {
    let transport = transport_config(ctx, key, &raw)?;
    let start = match raw.start.as_deref() {
        None | Some("boot") => StartMode::Boot,
        Some("lazy") => StartMode::Lazy,
        Some(other) => {
            return Err(ctx.err(
                format!("{key}.start"),
                format!("{other:?} is not \"boot\" or \"lazy\""),
            ));
        }
    };
    let max_concurrency = raw.max_concurrency.unwrap_or(16);
    if max_concurrency == 0 {
        return Err(ctx.err(format!("{key}.max_concurrency"), "must be at least 1"));
    }
    Ok(ServerConfig {
        name,
        transport,
        prefix: raw.prefix,
        start,
        required: raw.required.unwrap_or(true),
        timeout: ctx.duration(
            &format!("{key}.timeout"),
            raw.timeout.as_ref(),
            Duration::from_secs(60),
        )?,
        max_concurrency,
        health_interval: ctx.duration(
            &format!("{key}.health_interval"),
            raw.health_interval.as_ref(),
            Duration::from_secs(30),
        )?,
        ping_timeout: ctx.duration(
            &format!("{key}.ping_timeout"),
            raw.ping_timeout.as_ref(),
            Duration::from_secs(10),
        )?,
        restart: restart_policy(ctx, &format!("{key}.restart"), &raw.restart)?,
        exclude_tools: ctx.patterns(
            &format!("{key}.exclude_tools"),
            raw.exclude_tools.as_deref().unwrap_or_default(),
        )?,
    })
}

fn transport_config(
    ctx: &Ctx<'_>,
    key: &str,
    raw: &RawServer,
) -> Result<TransportConfig, ConfigError> {
    if raw.oauth.is_some() && raw.url.is_none() {
        return Err(ctx.err(format!("{key}.oauth"), "oauth applies to url servers only"));
    }
    if raw.token_exchange.is_some() && raw.url.is_none() {
        return Err(ctx.err(
            format!("{key}.token_exchange"),
            "token_exchange applies to url servers only (a stdio server cannot be sent a \
             person's token)",
        ));
    }
    let kinds = [raw.kind.is_some(), raw.command.is_some(), raw.url.is_some()];
    match kinds.iter().filter(|set| **set).count() {
        0 => Err(ctx.err(
            key,
            "needs one of: command (a stdio server), url (a Streamable HTTP server) or kind \
             (a built-in server: postgres, jira, slack)",
        )),
        1 => match (&raw.kind, &raw.url) {
            (Some(kind), _) => builtin_transport(ctx, key, kind, raw),
            (None, Some(url)) => http_transport(ctx, key, url, raw),
            (None, None) => stdio_transport(ctx, key, raw),
        },
        _ => Err(ctx.err(
            key,
            "set only one of command, url and kind: a server is reached one way",
        )),
    }
}

fn builtin_transport(
    ctx: &Ctx<'_>,
    key: &str,
    kind: &str,
    raw: &RawServer,
) -> Result<TransportConfig, ConfigError> {
    let kind = BuiltinKind::parse(kind).ok_or_else(|| {
        ctx.err(
            format!("{key}.kind"),
            format!("unknown built-in server {kind:?}: use postgres, jira or slack"),
        )
    })?;
    Ok(TransportConfig::Builtin {
        kind,
        env: ctx.template_map(&format!("{key}.env"), raw.env.clone())?,
        args: ctx.templates(
            &format!("{key}.args"),
            raw.args.as_deref().unwrap_or_default(),
        )?,
    })
}

fn http_transport(
    ctx: &Ctx<'_>,
    key: &str,
    url: &str,
    raw: &RawServer,
) -> Result<TransportConfig, ConfigError> {
    match raw.transport_type.as_deref() {
        None | Some("http") | Some("streamable-http") | Some("streamableHttp") => {}
        Some("sse") => {
            return Err(ctx.err(
                format!("{key}.type"),
                "the legacy SSE transport is not supported; use the server's Streamable \
                 HTTP endpoint with type = \"http\"",
            ));
        }
        Some(other) => {
            return Err(ctx.err(
                format!("{key}.type"),
                format!("{other:?} is not a transport for a url (use \"http\")"),
            ));
        }
    }
    if raw.env.is_some() || raw.args.is_some() {
        return Err(ctx.err(
            key,
            "env and args apply to command servers, not url servers",
        ));
    }
    let url_key = format!("{key}.url");
    let template = ctx.template(&url_key, url)?;
    if !template.has_references() {
        url::Url::parse(url)
            .map_err(|e| ctx.err(&url_key, format!("{url:?} is not a valid URL: {e}")))?;
    }
    let headers = ctx.template_map(&format!("{key}.headers"), raw.headers.clone())?;
    let oauth = match &raw.oauth {
        Some(oauth) => {
            if headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case("authorization"))
            {
                return Err(ctx.err(
                    format!("{key}.oauth"),
                    "set either oauth or an Authorization header, not both",
                ));
            }
            Some(oauth_config(ctx, &format!("{key}.oauth"), oauth)?)
        }
        None => None,
    };
    let exchange = match &raw.token_exchange {
        Some(exchange) => {
            let at = format!("{key}.token_exchange");
            if !url::Url::parse(&exchange.token_url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            {
                return Err(ctx.err(
                    format!("{at}.token_url"),
                    format!("{:?} is not an http(s) URL", exchange.token_url),
                ));
            }
            Some(Box::new(ExchangeConfig {
                token_url: exchange.token_url.clone(),
                client_id: ctx.template(&format!("{at}.client_id"), &exchange.client_id)?,
                client_secret: ctx
                    .template(&format!("{at}.client_secret"), &exchange.client_secret)?,
                audience: exchange.audience.clone(),
                scopes: exchange.scopes.clone(),
            }))
        }
        None => None,
    };
    Ok(TransportConfig::Http {
        url: template,
        headers,
        oauth,
        exchange,
    })
}

/// The redirect URI of the authorization code grant when none is configured. The gateway reads
/// the code from the authorization server's redirect; nothing listens there.
const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1/callback";

fn oauth_config(ctx: &Ctx<'_>, key: &str, raw: &RawOAuth) -> Result<OAuthConfig, ConfigError> {
    let grant = match raw.grant.as_deref() {
        None | Some("client_credentials") => OAuthGrant::ClientCredentials,
        Some("authorization_code") => OAuthGrant::AuthorizationCode,
        Some(other) => {
            return Err(ctx.err(
                format!("{key}.grant"),
                format!("unknown grant {other:?}: use client_credentials or authorization_code"),
            ));
        }
    };
    let non_empty = |name: &str, value: &Option<String>| -> Result<Option<Template>, ConfigError> {
        match value {
            Some(v) if v.trim().is_empty() => {
                Err(ctx.err(format!("{key}.{name}"), "must not be empty"))
            }
            Some(v) => ctx.template(&format!("{key}.{name}"), v).map(Some),
            None => Ok(None),
        }
    };
    let client_id = non_empty("client_id", &raw.client_id)?;
    let client_secret = non_empty("client_secret", &raw.client_secret)?;
    let scopes = raw.scopes.clone().unwrap_or_default();
    for (i, scope) in scopes.iter().enumerate() {
        if scope.is_empty()
            || scope
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\\')
        {
            return Err(ctx.err(
                format!("{key}.scopes[{i}]"),
                format!("{scope:?} is not a valid OAuth scope (no spaces, quotes or backslashes)"),
            ));
        }
    }
    match grant {
        OAuthGrant::ClientCredentials => {
            if client_id.is_none() {
                return Err(ctx.err(
                    format!("{key}.client_id"),
                    "the client_credentials grant needs the client ID registered with the \
                     authorization server",
                ));
            }
            if client_secret.is_none() {
                return Err(ctx.err(
                    format!("{key}.client_secret"),
                    "the client_credentials grant needs the client secret (e.g. \
                     \"${env:UPSTREAM_CLIENT_SECRET}\")",
                ));
            }
            for (name, set) in [
                ("redirect_uri", raw.redirect_uri.is_some()),
                ("client_metadata_url", raw.client_metadata_url.is_some()),
                ("client_name", raw.client_name.is_some()),
            ] {
                if set {
                    return Err(ctx.err(
                        format!("{key}.{name}"),
                        "applies to grant = \"authorization_code\" only",
                    ));
                }
            }
        }
        OAuthGrant::AuthorizationCode => {
            if client_secret.is_some() && client_id.is_none() {
                return Err(ctx.err(
                    format!("{key}.client_id"),
                    "a client_secret needs the client_id it was issued with",
                ));
            }
        }
    }
    let redirect_uri = raw
        .redirect_uri
        .clone()
        .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_owned());
    url::Url::parse(&redirect_uri).map_err(|e| {
        ctx.err(
            format!("{key}.redirect_uri"),
            format!("{redirect_uri:?} is not a valid URL: {e}"),
        )
    })?;
    if let Some(metadata_url) = &raw.client_metadata_url {
        let parsed = url::Url::parse(metadata_url).ok();
        if !parsed.is_some_and(|u| u.scheme() == "https" && u.path() != "/") {
            return Err(ctx.err(
                format!("{key}.client_metadata_url"),
                format!("{metadata_url:?} must be an https URL with a path"),
            ));
        }
    }
    Ok(OAuthConfig {
        grant,
        client_id,
        client_secret,
        scopes,
        redirect_uri,
        client_metadata_url: raw.client_metadata_url.clone(),
        client_name: raw
            .client_name
            .clone()
            .unwrap_or_else(|| "Switchboard gateway".to_owned()),
    })
}

fn stdio_transport(
    ctx: &Ctx<'_>,
    key: &str,
    raw: &RawServer,
) -> Result<TransportConfig, ConfigError> {
    if let Some(t) = raw.transport_type.as_deref()
        && t != "stdio"
    {
        return Err(ctx.err(
            format!("{key}.type"),
            format!("{t:?} does not go with command (use \"stdio\" or leave it out)"),
        ));
    }
    if raw.headers.is_some() {
        return Err(ctx.err(
            format!("{key}.headers"),
            "headers apply to url servers only",
        ));
    }
    let command = raw.command.as_deref().unwrap_or_default();
    if command.trim().is_empty() {
        return Err(ctx.err(format!("{key}.command"), "must not be empty"));
    }
    Ok(TransportConfig::Stdio {
        command: ctx.template(&format!("{key}.command"), command)?,
        args: ctx.templates(
            &format!("{key}.args"),
            raw.args.as_deref().unwrap_or_default(),
        )?,
        env: ctx.template_map(&format!("{key}.env"), raw.env.clone())?,
        cwd: raw
            .cwd
            .as_ref()
            .map(|c| ctx.template(&format!("{key}.cwd"), c))
            .transpose()?,
    })
}

fn restart_policy(
    ctx: &Ctx<'_>,
    key: &str,
    raw: &RawRestart,
) -> Result<RestartPolicy, ConfigError> {
    let d = RestartPolicy::default();
    let policy = RestartPolicy {
        initial_backoff: ctx.duration(
            &format!("{key}.initial_backoff"),
            raw.initial_backoff.as_ref(),
            d.initial_backoff,
        )?,
        max_backoff: ctx.duration(
            &format!("{key}.max_backoff"),
            raw.max_backoff.as_ref(),
            d.max_backoff,
        )?,
        max_failures: raw.max_failures.unwrap_or(d.max_failures),
        window: ctx.duration(&format!("{key}.window"), raw.window.as_ref(), d.window)?,
        open_for: ctx.duration(
            &format!("{key}.open_for"),
            raw.open_for.as_ref(),
            d.open_for,
        )?,
    };
    if policy.max_failures == 0 {
        return Err(ctx.err(format!("{key}.max_failures"), "must be at least 1"));
    }
    if policy.initial_backoff > policy.max_backoff {
        return Err(ctx.err(
            format!("{key}.initial_backoff"),
            "must not be larger than max_backoff",
        ));
    }
    Ok(policy)
}

fn client_config(
    ctx: &Ctx<'_>,
    key: &str,
    name: String,
    raw: RawClient,
) -> Result<ClientConfig, ConfigError> {
    let allow = raw.allow.unwrap_or_else(|| vec!["*".to_owned()]);
    Ok(ClientConfig {
        name,
        token: raw
            .token
            .as_ref()
            .map(|t| ctx.template(&format!("{key}.token"), t))
            .transpose()?,
        allow: ctx.patterns(&format!("{key}.allow"), &allow)?,
        deny: ctx.patterns(&format!("{key}.deny"), &raw.deny)?,
        rate_limit: raw
            .rate_limit
            .map(|r| ctx.rate(&format!("{key}.rate_limit"), &r))
            .transpose()?,
        rate_limits: ctx.rate_rules(&format!("{key}.rate_limits"), raw.rate_limits)?,
        tool_search: tool_search(
            ctx,
            &format!("{key}.tool_search"),
            raw.tool_search.as_ref(),
            None,
        )?,
        admin: raw.admin,
    })
}

fn claim_match(
    ctx: &Ctx<'_>,
    key: &str,
    raw: BTreeMap<String, RawClaimValue>,
) -> Result<ClaimMatch, ConfigError> {
    if raw.is_empty() {
        return Err(ctx.err(key, "an empty match would fit every token: name a claim"));
    }
    let mut rule = BTreeMap::new();
    for (claim, value) in raw {
        let values = match value {
            RawClaimValue::One(v) => vec![v],
            RawClaimValue::AnyOf(v) if v.is_empty() => {
                return Err(ctx.err(format!("{key}.{claim}"), "list at least one value"));
            }
            RawClaimValue::AnyOf(v) => v,
        };
        rule.insert(claim, values);
    }
    Ok(ClaimMatch(rule))
}

fn auth_config(
    ctx: &Ctx<'_>,
    raw: RawAuth,
    rules: Vec<(String, ClaimMatch)>,
) -> Result<AuthConfig, ConfigError> {
    let resource = url::Url::parse(&raw.resource)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none())
        .ok_or_else(|| {
            ctx.err(
                "auth.resource",
                format!(
                    "{:?} is not an absolute http(s) URL without a fragment (the gateway's MCP \
                     URL, e.g. https://gw.example.com/mcp)",
                    raw.resource
                ),
            )
        })?;
    if raw.issuers.is_empty() {
        return Err(ctx.err(
            "auth.issuers",
            "list at least one [[auth.issuers]] (static tokens need no [auth])",
        ));
    }
    let mut issuers = Vec::new();
    for (i, issuer) in raw.issuers.into_iter().enumerate() {
        let key = format!("auth.issuers[{i}]");
        let url_ok =
            |v: &str| url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !url_ok(&issuer.issuer) {
            return Err(ctx.err(
                format!("{key}.issuer"),
                format!("{:?} is not an http(s) URL", issuer.issuer),
            ));
        }
        if let Some(uri) = issuer.jwks_uri.as_deref().filter(|u| !url_ok(u)) {
            return Err(ctx.err(
                format!("{key}.jwks_uri"),
                format!("{uri:?} is not an http(s) URL"),
            ));
        }
        let introspection = match issuer.introspection {
            Some(i) => {
                if let Some(uri) = i.endpoint.as_deref().filter(|u| !url_ok(u)) {
                    return Err(ctx.err(
                        format!("{key}.introspection.endpoint"),
                        format!("{uri:?} is not an http(s) URL"),
                    ));
                }
                Some(IntrospectionConfig {
                    client_id: i.client_id,
                    client_secret: ctx.template(
                        &format!("{key}.introspection.client_secret"),
                        &i.client_secret,
                    )?,
                    endpoint: i.endpoint,
                })
            }
            None => None,
        };
        if issuers
            .iter()
            .any(|i: &IssuerConfig| i.issuer == issuer.issuer)
        {
            return Err(ctx.err(
                format!("{key}.issuer"),
                format!("{:?} is listed twice", issuer.issuer),
            ));
        }
        issuers.push(IssuerConfig {
            audience: issuer.audience.unwrap_or_else(|| raw.resource.clone()),
            issuer: issuer.issuer,
            jwks_uri: issuer.jwks_uri,
            introspection,
            user_claim: issuer.user_claim.unwrap_or_else(|| "sub".to_owned()),
            name_claim: issuer.name_claim,
            groups_claim: issuer.groups_claim.unwrap_or_else(|| "groups".to_owned()),
        });
    }
    Ok(AuthConfig {
        resource,
        scopes: raw.scopes,
        leeway: ctx.duration("auth.leeway", raw.leeway.as_ref(), Duration::from_secs(60))?,
        jwks_refresh: ctx.duration(
            "auth.jwks_refresh",
            raw.jwks_refresh.as_ref(),
            Duration::from_secs(600),
        )?,
        jwks_min_interval: ctx.duration(
            "auth.jwks_min_interval",
            raw.jwks_min_interval.as_ref(),
            Duration::from_secs(10),
        )?,
        issuers,
        rules,
    })
}

/// `tool_search = true | false | "off" | "on" | "auto"`; `auto` (or `above` alone) switches
/// past `above` tools (50 by default).
fn tool_search(
    ctx: &Ctx<'_>,
    key: &str,
    raw: Option<&RawToolSearch>,
    above: Option<usize>,
) -> Result<Option<ToolSearch>, ConfigError> {
    Ok(match raw {
        None => above.map(ToolSearch::Above),
        Some(RawToolSearch::Switch(false)) => Some(ToolSearch::Off),
        Some(RawToolSearch::Switch(true)) => Some(ToolSearch::On),
        Some(RawToolSearch::Mode(mode)) => match mode.as_str() {
            "off" => Some(ToolSearch::Off),
            "on" => Some(ToolSearch::On),
            "auto" => Some(ToolSearch::Above(above.unwrap_or(50))),
            other => {
                return Err(ctx.err(
                    key,
                    format!("must be true, false, \"off\", \"on\" or \"auto\", not {other:?}"),
                ));
            }
        },
    })
}
