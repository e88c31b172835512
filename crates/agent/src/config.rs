//! Agent settings in two phases: [`AgentSettings`] is what a config file's `[agent]` table and the
//! command-line flags say (all optional, validated only); [`AgentConfig`] is the resolved
//! configuration with the API key read from the environment and defaults filled in.
//!
//! Environment: `ANTHROPIC_API_KEY` (required), `ANTHROPIC_BASE_URL` (default
//! `https://api.anthropic.com`), `ANTHROPIC_MODEL` (used when neither flag nor file names one).

use std::time::Duration;

use serde::Deserialize;
use switchboard_http::Secret;

/// The model used when none is configured.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// The API endpoint used when `ANTHROPIC_BASE_URL` is unset.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` header sent with every request.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The default system prompt.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are Switchboard's agent. You carry out the user's \
task with the tools provided; they reach the company's real systems (databases, Jira, Slack and \
others) through a gateway that enforces policy, so some calls may be refused or need a human's \
approval.\n\nWork in small, verifiable steps: look before you act, prefer read-only tools to \
gather facts, and only make changes (creating issues, posting messages) when the task asks for \
them and the facts support it. Use several tools in one turn when the calls are independent. \
When a tool returns an error, read it and adjust; when a call is refused or denied, do not \
repeat it. Never invent results. Finish with a short summary of what you found and what you \
changed, with identifiers (issue keys, message links) where you have them.";

/// Settings from a config file's `[agent]` table or from flags; `None` means "not set here".
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// Model id (`--model`).
    pub model: Option<String>,
    /// Output tokens per response.
    pub max_tokens: Option<u32>,
    /// Largest `max_tokens` tried when a tool call is cut off.
    pub max_tokens_ceiling: Option<u32>,
    /// System prompt (`--system`).
    pub system: Option<String>,
    /// Model calls per run (`--max-steps`).
    pub max_steps: Option<u32>,
    /// Tokens per run (input, cached input and output together).
    pub max_total_tokens: Option<u64>,
    /// Tool calls run at once.
    pub tool_concurrency: Option<usize>,
    /// Largest tool result passed to the model, in bytes.
    pub result_budget_bytes: Option<usize>,
    /// Stream responses (default true).
    pub stream: Option<bool>,
    /// Retries of a failed model call.
    pub max_retries: Option<u32>,
}

impl AgentSettings {
    /// `self` with every field set in `other` replaced (flags over file).
    pub fn overlay(self, other: AgentSettings) -> Self {
        Self {
            model: other.model.or(self.model),
            max_tokens: other.max_tokens.or(self.max_tokens),
            max_tokens_ceiling: other.max_tokens_ceiling.or(self.max_tokens_ceiling),
            system: other.system.or(self.system),
            max_steps: other.max_steps.or(self.max_steps),
            max_total_tokens: other.max_total_tokens.or(self.max_total_tokens),
            tool_concurrency: other.tool_concurrency.or(self.tool_concurrency),
            result_budget_bytes: other.result_budget_bytes.or(self.result_budget_bytes),
            stream: other.stream.or(self.stream),
            max_retries: other.max_retries.or(self.max_retries),
        }
    }
}

/// How failed model calls are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff step; doubles per retry, with jitter.
    pub base_delay: Duration,
    /// Largest backoff step.
    pub max_delay: Duration,
    /// Total time the retries of one call may wait; a `retry-after` beyond it ends the run.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(16),
            max_total_wait: Duration::from_secs(90),
        }
    }
}

/// The resolved agent configuration.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// API key (never printed: [`Secret`] redacts itself).
    pub api_key: Secret,
    /// API base URL without the `/v1/messages` path.
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// Output tokens per response.
    pub max_tokens: u32,
    /// Largest `max_tokens` tried when a response stops in the middle of a tool call.
    pub max_tokens_ceiling: u32,
    /// System prompt.
    pub system: String,
    /// Model calls per run.
    pub max_steps: u32,
    /// Tokens per run; `None` for no limit.
    pub max_total_tokens: Option<u64>,
    /// Tool calls run at once.
    pub tool_concurrency: usize,
    /// Largest tool result passed to the model, in bytes; longer ones are cut with a note.
    pub result_budget_bytes: usize,
    /// Stream responses.
    pub stream: bool,
    /// Put a prompt-cache breakpoint on the latest user turn as well as on tools and system.
    pub cache_conversation: bool,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Connect timeout of API calls.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response (streams send `ping` events meanwhile).
    pub read_timeout: Duration,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// No API key.
    #[error("ANTHROPIC_API_KEY is not set; export your Anthropic API key to run the agent")]
    MissingApiKey,
    /// A value is out of range.
    #[error("invalid agent setting `{field}`: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl AgentConfig {
    /// Resolves settings against the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] when the API key is missing or a setting is out of range.
    pub fn from_env(settings: AgentSettings) -> Result<Self, ConfigError> {
        Self::resolve(settings, |name| std::env::var(name).ok())
    }

    /// Resolves settings, reading environment variables through `env`.
    ///
    /// # Errors
    /// [`ConfigError`] when the API key is missing or a setting is out of range.
    pub fn resolve(
        settings: AgentSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let api_key = env("ANTHROPIC_API_KEY")
            .filter(|k| !k.trim().is_empty())
            .ok_or(ConfigError::MissingApiKey)?;
        let base_url = env("ANTHROPIC_BASE_URL")
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(invalid("ANTHROPIC_BASE_URL", "must be an http(s) URL"));
        }
        let model = settings
            .model
            .or_else(|| env("ANTHROPIC_MODEL"))
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_MODEL.to_string());
        let max_tokens = settings.max_tokens.unwrap_or(8192);
        let config = Self {
            api_key: Secret::new(api_key),
            base_url: base_url.trim_end_matches('/').to_string(),
            model,
            max_tokens,
            max_tokens_ceiling: settings
                .max_tokens_ceiling
                .unwrap_or(32_000)
                .max(max_tokens),
            system: settings
                .system
                .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_string()),
            max_steps: settings.max_steps.unwrap_or(25),
            max_total_tokens: settings.max_total_tokens,
            tool_concurrency: settings.tool_concurrency.unwrap_or(4),
            result_budget_bytes: settings.result_budget_bytes.unwrap_or(32 * 1024),
            stream: settings.stream.unwrap_or(true),
            cache_conversation: true,
            retry: RetryPolicy {
                max_retries: settings.max_retries.unwrap_or(4),
                ..RetryPolicy::default()
            },
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(300),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_tokens == 0 {
            return Err(invalid("max_tokens", "must be at least 1"));
        }
        if self.max_steps == 0 {
            return Err(invalid("max_steps", "must be at least 1"));
        }
        if self.tool_concurrency == 0 {
            return Err(invalid("tool_concurrency", "must be at least 1"));
        }
        if self.result_budget_bytes < 256 {
            return Err(invalid("result_budget_bytes", "must be at least 256"));
        }
        Ok(())
    }

    /// The messages endpoint.
    pub fn messages_url(&self) -> String {
        format!("{}/v1/messages", self.base_url)
    }
}

fn invalid(field: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_and_env() {
        let config = AgentConfig::resolve(
            AgentSettings::default(),
            env(&[("ANTHROPIC_API_KEY", "sk-secret")]),
        )
        .unwrap();
        assert_eq!(config.model, DEFAULT_MODEL);
        assert_eq!(
            config.messages_url(),
            "https://api.anthropic.com/v1/messages"
        );
        assert!(!format!("{config:?}").contains("sk-secret"));
        let config = AgentConfig::resolve(
            AgentSettings {
                model: Some("flag-model".into()),
                ..AgentSettings::default()
            },
            env(&[
                ("ANTHROPIC_API_KEY", "k"),
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/"),
                ("ANTHROPIC_MODEL", "env-model"),
            ]),
        )
        .unwrap();
        assert_eq!(config.model, "flag-model");
        assert_eq!(config.messages_url(), "http://127.0.0.1:9/v1/messages");
    }

    #[test]
    fn missing_key_and_bad_values_are_refused() {
        assert_eq!(
            AgentConfig::resolve(AgentSettings::default(), env(&[])).unwrap_err(),
            ConfigError::MissingApiKey
        );
        let zero = AgentSettings {
            max_steps: Some(0),
            ..AgentSettings::default()
        };
        assert!(matches!(
            AgentConfig::resolve(zero, env(&[("ANTHROPIC_API_KEY", "k")])),
            Err(ConfigError::Invalid {
                field: "max_steps",
                ..
            })
        ));
    }

    #[test]
    fn overlay_prefers_the_later_source() {
        let file = AgentSettings {
            model: Some("file".into()),
            max_steps: Some(5),
            ..AgentSettings::default()
        };
        let flags = AgentSettings {
            model: Some("flag".into()),
            ..AgentSettings::default()
        };
        let merged = file.overlay(flags);
        assert_eq!(merged.model.as_deref(), Some("flag"));
        assert_eq!(merged.max_steps, Some(5));
    }
}
