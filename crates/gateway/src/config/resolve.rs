//! Phase two of configuration: reading variables and secrets. The result is what the gateway
//! starts from; its `Debug` never shows environment values, header values or tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    ClientConfig, Config, ExchangeConfig, OAuthConfig, OAuthGrant, ServerConfig,
    SlackApprovalsConfig, TransportConfig,
};
use crate::error::ConfigError;
use crate::secrets::{Resolver, SecretSet, Template};

/// How to reach one upstream, with every value resolved.
#[derive(Clone, PartialEq)]
pub enum ResolvedTransport {
    /// A child process.
    Stdio {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its declared environment (the only variables it gets besides the basics).
        env: BTreeMap<String, String>,
        /// Its working directory.
        cwd: Option<PathBuf>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// The URL.
        url: String,
        /// Headers sent with every request.
        headers: BTreeMap<String, String>,
        /// OAuth authorization, if the server needs it.
        oauth: Option<ResolvedOAuth>,
        /// Token exchange for tool calls made by people, if configured.
        exchange: Option<Box<ResolvedExchange>>,
    },
}

/// Token exchange settings of one upstream, resolved. `Debug` never shows the client secret.
#[derive(Clone, PartialEq)]
pub struct ResolvedExchange {
    /// The authorization server's token endpoint.
    pub token_url: String,
    /// The gateway's client ID there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The audience asked for.
    pub audience: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for ResolvedExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedExchange")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// OAuth settings of one upstream, resolved. `Debug` never shows the client secret.
#[derive(Clone, PartialEq)]
pub struct ResolvedOAuth {
    /// The grant.
    pub grant: OAuthGrant,
    /// The client ID, if one is registered out of band.
    pub client_id: Option<String>,
    /// The client secret, if the client is confidential.
    pub client_secret: Option<String>,
    /// Scopes to request; empty means the ones the server advertises.
    pub scopes: Vec<String>,
    /// Redirect URI of the authorization code grant.
    pub redirect_uri: String,
    /// HTTPS URL of a client ID metadata document.
    pub client_metadata_url: Option<String>,
    /// Client name for dynamic client registration.
    pub client_name: String,
}

impl std::fmt::Debug for ResolvedOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedOAuth")
            .field("grant", &self.grant)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .field("client_metadata_url", &self.client_metadata_url)
            .finish()
    }
}

impl std::fmt::Debug for ResolvedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdio {
                program, args, env, ..
            } => f
                .debug_struct("Stdio")
                .field("program", program)
                .field("args", &args.len())
                .field("env", &env.keys().collect::<Vec<_>>())
                .finish(),
            Self::Http {
                url,
                headers,
                oauth,
                exchange,
            } => f
                .debug_struct("Http")
                .field("url", url)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .field("oauth", oauth)
                .field("exchange", exchange)
                .finish(),
        }
    }
}

/// One upstream, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedServer {
    /// Its validated settings.
    pub config: ServerConfig,
    /// How to reach it.
    pub transport: ResolvedTransport,
}

/// One downstream client, resolved.
#[derive(Clone)]
pub struct ResolvedClient {
    /// Its validated settings.
    pub config: ClientConfig,
    /// Its bearer token, if it has one.
    pub token: Option<String>,
}

impl std::fmt::Debug for ResolvedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedClient")
            .field("name", &self.config.name)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// `[approvals] slack`, its secrets resolved.
#[derive(Clone)]
pub struct ResolvedSlackApprovals {
    /// The Web API it posts through: the bot token and `api_url`.
    pub slack: switchboard_slack::SlackConfig,
    /// The channel requests are posted to.
    pub channel: String,
    /// The app's signing secret.
    pub signing_secret: String,
    /// The Slack user ids who may decide.
    pub operators: Vec<String>,
}

impl std::fmt::Debug for ResolvedSlackApprovals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSlackApprovals")
            .field("channel", &self.channel)
            .field("operators", &self.operators)
            .finish_non_exhaustive()
    }
}

/// A configuration with every reference resolved.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// The validated configuration it came from.
    pub config: Config,
    /// Upstreams by name.
    pub servers: BTreeMap<String, ResolvedServer>,
    /// Clients by name.
    pub clients: BTreeMap<String, ResolvedClient>,
    /// The Redis URL of `[state] store`, resolved (its password is a secret).
    pub rate_limit_store: Option<String>,
    /// `[audit] sink`, resolved (its password is a secret).
    pub audit_sink: Option<String>,
    /// The introspection client secret of each `[[auth.issuers]]` that has one, by issuer.
    pub introspection_secrets: BTreeMap<String, String>,
    /// `[approvals] slack`, resolved.
    pub approvals_slack: Option<ResolvedSlackApprovals>,
    /// Every secret value read, for scrubbing logs and audit records.
    pub secrets: SecretSet,
}

impl Config {
    /// Resolves every variable and secret reference. Built-in servers become child processes of
    /// `builtin_exe` (normally `std::env::current_exe()`): `builtin_exe server <kind>`.
    ///
    /// # Errors
    /// [`ConfigError::Secret`] naming the file and key whose reference could not be resolved.
    pub async fn resolve(&self, builtin_exe: &Path) -> Result<ResolvedConfig, ConfigError> {
        self.resolve_with(builtin_exe, BTreeMap::new()).await
    }

    /// `[state] store`, resolved alone (for commands that only talk to the store).
    ///
    /// # Errors
    /// [`ConfigError::Secret`] when its reference cannot be resolved.
    pub async fn state_store(&self) -> Result<Option<String>, ConfigError> {
        let Some(template) = &self.gateway.rate_limit_store else {
            return Ok(None);
        };
        let resolver = Resolver::new();
        let r = Res {
            resolver: &resolver,
            file: &self.file,
        };
        r.one(self.gateway.store_key, template, true)
            .await
            .map(Some)
    }

    /// Like [`Config::resolve`], looking variables up in `env` before the process environment.
    ///
    /// # Errors
    /// As [`Config::resolve`].
    pub async fn resolve_with(
        &self,
        builtin_exe: &Path,
        env: BTreeMap<String, String>,
    ) -> Result<ResolvedConfig, ConfigError> {
        let resolver = Resolver::with_overrides(env);
        let r = Res {
            resolver: &resolver,
            file: &self.file,
        };
        // The export itself was set up from `trace_config` before the process started
        // tracing. Its header values become secrets: those it was set up with, or, for a
        // configuration read since (a reload), the file's, which must still resolve.
        match &self.started_traces {
            Some(started) => resolver.secrets().add_all(&started.secrets),
            None => drop(r.traces(&self.traces).await?),
        }
        let mut servers = BTreeMap::new();
        for (name, server) in &self.servers {
            let key = format!("{}.{name}", self.servers_key);
            let transport = r.transport(&key, &server.transport, builtin_exe).await?;
            servers.insert(
                name.clone(),
                ResolvedServer {
                    config: server.clone(),
                    transport,
                },
            );
        }
        let mut clients = BTreeMap::new();
        for (name, client) in &self.clients {
            let token = match &client.token {
                Some(t) => Some(r.one(&format!("clients.{name}.token"), t, true).await?),
                None => None,
            };
            if let Some(token) = &token {
                resolver.secrets().add(token);
            }
            clients.insert(
                name.clone(),
                ResolvedClient {
                    config: client.clone(),
                    token,
                },
            );
        }
        let rate_limit_store = match &self.gateway.rate_limit_store {
            Some(t) => {
                let url = r.one(self.gateway.store_key, t, true).await?;
                r.url_password(&url);
                Some(url)
            }
            None => None,
        };
        let audit_sink = match &self.audit.sink {
            Some(t) => {
                let url = r.one("audit.sink", t, true).await?;
                r.url_password(&url);
                Some(url)
            }
            None => None,
        };
        let mut introspection_secrets = BTreeMap::new();
        for (i, issuer) in self.auth.iter().flat_map(|a| a.issuers.iter()).enumerate() {
            if let Some(introspection) = &issuer.introspection {
                let key = format!("auth.issuers[{i}].introspection.client_secret");
                let secret = r.one(&key, &introspection.client_secret, true).await?;
                introspection_secrets.insert(issuer.issuer.clone(), secret);
            }
        }
        let approvals_slack = match &self.approvals_slack {
            Some(slack) => Some(r.slack_approvals(slack).await?),
            None => None,
        };
        Ok(ResolvedConfig {
            approvals_slack,
            config: self.clone(),
            servers,
            clients,
            rate_limit_store,
            audit_sink,
            introspection_secrets,
            secrets: resolver.secrets(),
        })
    }

    /// `[telemetry]`'s trace export settings with their header values read: what a process
    /// needs before it starts tracing, ahead of the rest of the configuration. Give it back with
    /// [`Config::with_started_traces`] so that resolving does not read the headers again.
    ///
    /// # Errors
    /// [`ConfigError::Secret`] naming the header whose reference could not be resolved.
    pub async fn trace_config(&self) -> Result<super::StartedTraces, ConfigError> {
        let resolver = Resolver::new();
        let export = Res {
            resolver: &resolver,
            file: &self.file,
        }
        .traces(&self.traces)
        .await?;
        Ok(super::StartedTraces {
            export,
            secrets: resolver.secrets(),
        })
    }

    /// This configuration, with the export the process set up from its [`Config::trace_config`]
    /// before it started tracing: resolving it records that export's secrets instead of reading
    /// the headers' references a second time (a Vault or AWS read at start is one read).
    #[must_use]
    pub fn with_started_traces(self, started: super::StartedTraces) -> Self {
        Self {
            started_traces: Some(started),
            ..self
        }
    }
}

struct Res<'a> {
    resolver: &'a Resolver,
    file: &'a Path,
}

impl Res<'_> {
    async fn one(&self, key: &str, t: &Template, secret: bool) -> Result<String, ConfigError> {
        self.resolver
            .resolve(t, secret)
            .await
            .map_err(|message| ConfigError::Secret {
                file: self.file.to_owned(),
                key: key.to_owned(),
                message,
            })
    }

    async fn traces(
        &self,
        settings: &super::TraceSettings,
    ) -> Result<switchboard_telemetry::TraceConfig, ConfigError> {
        let mut headers = BTreeMap::new();
        for (name, value) in &settings.headers {
            let key = format!("telemetry.otlp_headers.{name}");
            headers.insert(name.clone(), self.one(&key, value, true).await?);
        }
        Ok(switchboard_telemetry::TraceConfig {
            endpoint: settings.endpoint.clone(),
            protocol: settings.protocol.clone(),
            headers,
            service_name: settings.service_name.clone(),
            resource_attributes: settings.resource_attributes.clone(),
        })
    }

    async fn slack_approvals(
        &self,
        slack: &SlackApprovalsConfig,
    ) -> Result<ResolvedSlackApprovals, ConfigError> {
        let token = self
            .one("approvals.slack.token", &slack.token, true)
            .await?;
        self.resolver.secrets().add(&token);
        let token =
            switchboard_slack::SlackToken::new(token).map_err(|_| ConfigError::Invalid {
                file: self.file.to_owned(),
                key: "approvals.slack.token".to_owned(),
                message: "is not a Slack bot token (xoxb-…, with chat:write)".to_owned(),
            })?;
        let signing_secret = self
            .one(
                "approvals.slack.signing_secret",
                &slack.signing_secret,
                true,
            )
            .await?;
        self.resolver.secrets().add(&signing_secret);
        let mut config = switchboard_slack::SlackConfig::new(token);
        config.api_url = slack.api_url.clone();
        Ok(ResolvedSlackApprovals {
            slack: config,
            channel: slack.channel.clone(),
            signing_secret,
            operators: slack.operators.clone(),
        })
    }

    async fn list(&self, key: &str, ts: &[Template]) -> Result<Vec<String>, ConfigError> {
        let mut out = Vec::with_capacity(ts.len());
        for (i, t) in ts.iter().enumerate() {
            out.push(self.one(&format!("{key}[{i}]"), t, false).await?);
        }
        Ok(out)
    }

    async fn map(
        &self,
        key: &str,
        ts: &BTreeMap<String, Template>,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut out = BTreeMap::new();
        for (k, t) in ts {
            out.insert(k.clone(), self.one(&format!("{key}.{k}"), t, true).await?);
        }
        Ok(out)
    }

    async fn oauth(&self, key: &str, oauth: &OAuthConfig) -> Result<ResolvedOAuth, ConfigError> {
        let client_id = match &oauth.client_id {
            Some(t) => Some(self.one(&format!("{key}.client_id"), t, false).await?),
            None => None,
        };
        let client_secret = match &oauth.client_secret {
            Some(t) => Some(self.one(&format!("{key}.client_secret"), t, true).await?),
            None => None,
        };
        Ok(ResolvedOAuth {
            grant: oauth.grant,
            client_id,
            client_secret,
            scopes: oauth.scopes.clone(),
            redirect_uri: oauth.redirect_uri.clone(),
            client_metadata_url: oauth.client_metadata_url.clone(),
            client_name: oauth.client_name.clone(),
        })
    }

    /// A built-in server exports its traces where the gateway does: `[telemetry]`'s settings
    /// and OpenTelemetry's variables (headers are secrets), with the server's name as its service
    /// unless its `env` says. Other servers get only what their `env` declares.
    fn trace_export(&self, key: &str, env: &mut BTreeMap<String, String>) {
        if !switchboard_telemetry::enabled() {
            return;
        }
        let inherited = std::env::vars().filter(|(name, _)| name.starts_with("OTEL_"));
        let own = switchboard_telemetry::child_environment().iter().cloned();
        for (name, value) in own.chain(inherited) {
            if name.starts_with("OTEL_") && name != "OTEL_SERVICE_NAME" {
                if name.ends_with("_HEADERS") {
                    self.resolver.secrets().add(&value);
                }
                env.entry(name).or_insert(value);
            }
        }
        let server = key.rsplit('.').next().unwrap_or(key);
        env.entry("OTEL_SERVICE_NAME".to_owned())
            .or_insert_with(|| format!("switchboard-{server}"));
    }

    /// Records the password of `url` as a secret: as written in the URL, and as the server
    /// sees it.
    fn url_password(&self, url: &str) {
        if let Some(password) = url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(str::to_owned))
        {
            self.resolver.secrets().add(&password);
            self.resolver
                .secrets()
                .add(&percent_encoding::percent_decode_str(&password).decode_utf8_lossy());
        }
    }

    async fn exchange(
        &self,
        key: &str,
        exchange: &ExchangeConfig,
        url: &str,
    ) -> Result<ResolvedExchange, ConfigError> {
        Ok(ResolvedExchange {
            token_url: exchange.token_url.clone(),
            client_id: self
                .one(&format!("{key}.client_id"), &exchange.client_id, false)
                .await?,
            client_secret: self
                .one(
                    &format!("{key}.client_secret"),
                    &exchange.client_secret,
                    true,
                )
                .await?,
            audience: exchange.audience.clone().unwrap_or_else(|| url.to_owned()),
            scopes: exchange.scopes.clone(),
        })
    }

    async fn transport(
        &self,
        key: &str,
        transport: &TransportConfig,
        builtin_exe: &Path,
    ) -> Result<ResolvedTransport, ConfigError> {
        Ok(match transport {
            TransportConfig::Stdio {
                command,
                args,
                env,
                cwd,
            } => ResolvedTransport::Stdio {
                program: self.one(&format!("{key}.command"), command, false).await?,
                args: self.list(&format!("{key}.args"), args).await?,
                env: self.map(&format!("{key}.env"), env).await?,
                cwd: match cwd {
                    Some(c) => Some(PathBuf::from(
                        self.one(&format!("{key}.cwd"), c, false).await?,
                    )),
                    None => None,
                },
            },
            TransportConfig::Http {
                url,
                headers,
                oauth,
                exchange,
            } => {
                let url = self.one(&format!("{key}.url"), url, false).await?;
                let exchange = match exchange {
                    Some(exchange) => Some(Box::new(
                        self.exchange(&format!("{key}.token_exchange"), exchange, &url)
                            .await?,
                    )),
                    None => None,
                };
                ResolvedTransport::Http {
                    headers: self.map(&format!("{key}.headers"), headers).await?,
                    oauth: match oauth {
                        Some(oauth) => Some(self.oauth(&format!("{key}.oauth"), oauth).await?),
                        None => None,
                    },
                    url,
                    exchange,
                }
            }
            TransportConfig::Builtin { kind, env, args } => {
                let mut all_args = vec!["server".to_owned(), kind.as_str().to_owned()];
                all_args.extend(self.list(&format!("{key}.args"), args).await?);
                let mut env = self.map(&format!("{key}.env"), env).await?;
                self.trace_export(key, &mut env);
                ResolvedTransport::Stdio {
                    program: builtin_exe.to_string_lossy().into_owned(),
                    args: all_args,
                    env,
                    cwd: None,
                }
            }
        })
    }
}
