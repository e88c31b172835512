//! Settings of the Slack server: read from the environment, validated, with the token kept out of
//! every `Debug`, log line and error.
//!
//! | variable | meaning |
//! |---|---|
//! | `SLACK_BOT_TOKEN` | bot token (`xoxb-…`); a user token (`xoxp-…`) is accepted; anything else is refused |
//! | `SLACK_API_URL` | Web API base URL, default `https://slack.com/api` (tests and proxies override it) |
//! | `SLACK_CHANNELS` | comma-separated names (`#ops` or `ops`) or ids that may be written to; unset: only channels the bot is a member of |
//! | `SLACK_READ_ONLY` | `true`: `post_message` and `add_reaction` are neither listed nor callable |
//! | `SLACK_ALLOW_BROADCAST` | `true`: `@channel` / `@here` / `@everyone` may be posted |

use std::fmt;
use std::time::Duration;

use switchboard_http::{HttpConfig, Secret};
use url::Url;

/// The default Web API base URL.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Why the configuration was refused. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `SLACK_BOT_TOKEN` is unset or blank.
    #[error(
        "SLACK_BOT_TOKEN is not set: install the Slack app in the workspace and export its Bot User \
         OAuth Token (xoxb-…)"
    )]
    MissingToken,
    /// The token is not a bot or user token.
    #[error(
        "SLACK_BOT_TOKEN is not a Slack bot token (xoxb-…) or user token (xoxp-…): it starts with \
         {prefix}; app-level (xapp-) and other tokens cannot call the Web API methods this server \
         uses — use the app's Bot User OAuth Token"
    )]
    WrongTokenKind {
        /// The token's Slack prefix (`xapp-`, `xoxa-` ...) when recognised; never other characters.
        prefix: String,
    },
    /// `SLACK_API_URL` is not an http(s) URL.
    #[error(
        "SLACK_API_URL {value:?} is not a valid http(s) URL ({reason}); use e.g. {DEFAULT_API_URL}"
    )]
    InvalidUrl {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A boolean variable has a value that is not a boolean.
    #[error("{name}={value:?} is not a boolean: use true/false, 1/0, yes/no or on/off")]
    InvalidBool {
        /// The variable.
        name: &'static str,
        /// The value given.
        value: String,
    },
}

/// A Slack token (`xoxb-…` or `xoxp-…`). `Debug` shows only its kind.
#[derive(Clone)]
pub struct SlackToken(Secret);

impl SlackToken {
    /// Validates a token's kind.
    ///
    /// # Errors
    /// [`ConfigError::MissingToken`] when blank, [`ConfigError::WrongTokenKind`] when it is not
    /// an `xoxb-` or `xoxp-` token.
    pub fn new(token: impl Into<String>) -> Result<Self, ConfigError> {
        let token = token.into().trim().to_owned();
        if token.is_empty() {
            return Err(ConfigError::MissingToken);
        }
        if token.starts_with("xoxb-") || token.starts_with("xoxp-") {
            return Ok(Self(Secret::new(token)));
        }
        // Only a recognised Slack prefix is echoed: any other start may be part of a secret.
        let prefix = match token.split_once('-') {
            Some((prefix, _))
                if (prefix.starts_with("xox") || prefix == "xapp") && prefix.len() <= 5 =>
            {
                format!("{prefix}-")
            }
            _ => "something that is not a Slack token prefix".to_owned(),
        };
        Err(ConfigError::WrongTokenKind { prefix })
    }

    /// `"bot"` for `xoxb-`, `"user"` for `xoxp-` tokens.
    pub fn kind(&self) -> &'static str {
        if self.0.expose().starts_with("xoxb-") {
            "bot"
        } else {
            "user"
        }
    }

    pub(crate) fn secret(&self) -> Secret {
        self.0.clone()
    }
}

impl fmt::Debug for SlackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlackToken({} token, [redacted])", self.kind())
    }
}

/// Everything the Slack server needs. Build it with [`SlackConfig::from_env`], or with
/// [`SlackConfig::new`] and the public fields.
#[derive(Clone, Debug)]
pub struct SlackConfig {
    /// The token every call is made with.
    pub token: SlackToken,
    /// Web API base URL (no trailing slash needed), e.g. `https://slack.com/api`.
    pub api_url: Url,
    /// Channels (names without `#`, lower-case, or ids) that may be written to; `None`: any
    /// channel the bot is a member of.
    pub channels: Option<Vec<String>>,
    /// Hide and refuse the write tools.
    pub read_only: bool,
    /// Allow `@channel` / `@here` / `@everyone` in posted messages.
    pub allow_broadcast: bool,
    /// How long the channel name → id cache is trusted. Default 5 minutes.
    pub channel_cache_ttl: Duration,
    /// Window in which an identical `post_message` (same channel, thread and text) is treated as
    /// a retry and answered with the first message. Default 60 s.
    pub dedupe_window: Duration,
    /// Outbound HTTP policy (timeouts, retries, client-side rate limit).
    pub http: HttpConfig,
}

impl SlackConfig {
    /// A configuration with defaults for everything but the token.
    pub fn new(token: SlackToken) -> Self {
        Self {
            token,
            api_url: Url::parse(DEFAULT_API_URL).unwrap_or_else(|_| unreachable!("constant URL")),
            channels: None,
            read_only: false,
            allow_broadcast: false,
            channel_cache_ttl: Duration::from_secs(300),
            dedupe_window: Duration::from_secs(60),
            http: HttpConfig::default(),
        }
    }

    /// Reads the configuration from the process environment (see the module docs).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let token = SlackToken::new(lookup("SLACK_BOT_TOKEN").unwrap_or_default())?;
        let mut config = Self::new(token);
        if let Some(value) = lookup("SLACK_API_URL").filter(|value| !value.trim().is_empty()) {
            config.api_url = parse_api_url(value.trim())?;
        }
        config.channels = lookup("SLACK_CHANNELS").and_then(|value| parse_channels(&value));
        config.read_only = parse_bool("SLACK_READ_ONLY", lookup("SLACK_READ_ONLY"))?;
        config.allow_broadcast =
            parse_bool("SLACK_ALLOW_BROADCAST", lookup("SLACK_ALLOW_BROADCAST"))?;
        Ok(config)
    }

    /// Whether `channels` allows the channel with this id and (if known) name.
    pub(crate) fn allows(&self, id: &str, name: Option<&str>) -> Option<bool> {
        let channels = self.channels.as_ref()?;
        Some(channels.iter().any(|entry| {
            entry.eq_ignore_ascii_case(id)
                || name.is_some_and(|name| entry.eq_ignore_ascii_case(name))
        }))
    }
}

fn parse_api_url(value: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl {
        value: value.to_owned(),
        reason,
    };
    let url = Url::parse(value).map_err(|error| invalid(error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it must not carry a query string or credentials".to_owned(),
        ));
    }
    Ok(url)
}

/// Parses `SLACK_CHANNELS`: comma-separated, `#` optional, names lower-cased, ids kept.
fn parse_channels(value: &str) -> Option<Vec<String>> {
    let channels: Vec<String> = value
        .split(',')
        .map(|entry| entry.trim().trim_start_matches('#').to_owned())
        .filter(|entry| !entry.is_empty())
        .collect();
    (!channels.is_empty()).then_some(channels)
}

fn parse_bool(name: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    let Some(value) = value else { return Ok(false) };
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        _ => Err(ConfigError::InvalidBool { name, value }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{ConfigError, SlackConfig, SlackToken};

    fn config(vars: &[(&str, &str)]) -> Result<SlackConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SlackConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_every_variable() {
        let config = config(&[
            ("SLACK_BOT_TOKEN", " xoxb-1-2-secretvalue "),
            ("SLACK_API_URL", "http://127.0.0.1:9/api"),
            ("SLACK_CHANNELS", "#operations, C0GENERAL1,,"),
            ("SLACK_READ_ONLY", "yes"),
            ("SLACK_ALLOW_BROADCAST", "0"),
        ])
        .expect("valid");
        assert_eq!(config.api_url.as_str(), "http://127.0.0.1:9/api");
        assert_eq!(
            config.channels,
            Some(vec!["operations".to_owned(), "C0GENERAL1".to_owned()])
        );
        assert!(config.read_only);
        assert!(!config.allow_broadcast);
        assert_eq!(config.allows("C0OPERATE1", Some("operations")), Some(true));
        assert_eq!(config.allows("c0general1", None), Some(true));
        assert_eq!(config.allows("C0RANDOM01", Some("random")), Some(false));
    }

    #[test]
    fn defaults() {
        let config = config(&[("SLACK_BOT_TOKEN", "xoxp-user-token")]).expect("valid");
        assert_eq!(config.api_url.as_str(), "https://slack.com/api");
        assert_eq!(config.channels, None);
        assert!(!config.read_only && !config.allow_broadcast);
        assert_eq!(config.token.kind(), "user");
    }

    #[test]
    fn refuses_missing_and_wrong_tokens_without_echoing_them() {
        assert!(matches!(config(&[]), Err(ConfigError::MissingToken)));
        let error = config(&[("SLACK_BOT_TOKEN", "xapp-1-A111-secretpart")]).unwrap_err();
        assert!(matches!(&error, ConfigError::WrongTokenKind { prefix } if prefix == "xapp-"));
        assert!(!error.to_string().contains("secretpart"));
        let error = config(&[("SLACK_BOT_TOKEN", "hunter2hunter2")]).unwrap_err();
        assert!(!error.to_string().contains("hunte"), "{error}");
    }

    #[test]
    fn refuses_bad_urls_and_booleans() {
        let token = ("SLACK_BOT_TOKEN", "xoxb-1");
        assert!(matches!(
            config(&[token, ("SLACK_API_URL", "ftp://x/api")]),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            config(&[token, ("SLACK_READ_ONLY", "maybe")]),
            Err(ConfigError::InvalidBool {
                name: "SLACK_READ_ONLY",
                ..
            })
        ));
    }

    #[test]
    fn debug_redacts_the_token() {
        let token = SlackToken::new("xoxb-1-2-topsecret").expect("valid");
        let config = SlackConfig::new(token);
        let debug = format!("{config:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(debug.contains("bot token"));
    }
}
