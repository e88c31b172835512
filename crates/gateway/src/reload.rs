//! What a reload changed: the keys of the configuration file that differ (never their values),
//! which of them only a restart applies, and what happened to the upstreams.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ResolvedConfig;

/// What one reload did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// The keys whose values differ (`clients.ops.allow`, `servers.jira`, …). Values are
    /// never reported.
    pub changed: Vec<String>,
    /// Of those, the keys the running gateway keeps until it restarts (the audit log, the
    /// listeners, the session table, …).
    pub restart_needed: Vec<String>,
    /// Upstreams started because they are new.
    pub started: Vec<String>,
    /// Upstreams restarted because their settings, or a value they use, changed.
    pub restarted: Vec<String>,
    /// Upstreams drained and stopped because they are gone.
    pub stopped: Vec<String>,
}

impl ReloadReport {
    /// Whether the new configuration differs from the running one at all.
    pub fn any(&self) -> bool {
        !(self.changed.is_empty() && self.restarted.is_empty())
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        if !self.any() {
            return "nothing changed".to_owned();
        }
        let mut parts = vec![format!("changed: {}", list(&self.changed))];
        for (what, names) in [
            ("started", &self.started),
            ("restarted", &self.restarted),
            ("stopped", &self.stopped),
        ] {
            if !names.is_empty() {
                parts.push(format!("{what}: {}", list(names)));
            }
        }
        if !self.restart_needed.is_empty() {
            parts.push(format!(
                "kept until a restart: {}",
                list(&self.restart_needed)
            ));
        }
        parts.join("; ")
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(", ")
    }
}

/// The settings a running gateway cannot take over: what its listeners, audit log, pin file,
/// session table and shared rate-limit store were built from.
const RESTART_ONLY: &[&str] = &[
    "audit",
    "pins",
    "telemetry",
    "endpoints",
    "gateway.sessions",
    "gateway.allowed_hosts",
    "gateway.allowed_origins",
    "gateway.rate_limit_store",
    "gateway.rate_limit_prefix",
    "state",
    "switchboard.audit",
    "switchboard.pins",
    "switchboard.telemetry",
    "switchboard.endpoints",
    "switchboard.gateway.sessions",
    "switchboard.gateway.allowed_hosts",
    "switchboard.gateway.allowed_origins",
    "switchboard.gateway.rate_limit_store",
    "switchboard.gateway.rate_limit_prefix",
    "switchboard.state",
];

/// Whether a change of `key` takes effect only after a restart.
pub(crate) fn needs_restart(key: &str) -> bool {
    RESTART_ONLY.iter().any(|prefix| {
        key.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    })
}

/// Carries over into `new` what [`needs_restart`] says the running gateway keeps, so the
/// configuration in force says what is actually in force.
pub(crate) fn keep_running(old: &ResolvedConfig, new: &mut ResolvedConfig) {
    let (from, to) = (&old.config, &mut new.config);
    to.audit = from.audit.clone();
    to.pins = from.pins.clone();
    to.metrics_addr = from.metrics_addr;
    to.traces = from.traces.clone();
    to.endpoints = from.endpoints.clone();
    to.gateway.sessions = from.gateway.sessions;
    to.gateway.allowed_hosts = from.gateway.allowed_hosts.clone();
    to.gateway.allowed_origins = from.gateway.allowed_origins.clone();
    to.gateway.rate_limit_store = from.gateway.rate_limit_store.clone();
    to.gateway.rate_limit_prefix = from.gateway.rate_limit_prefix.clone();
    new.rate_limit_store = old.rate_limit_store.clone();
    new.audit_sink = old.audit_sink.clone();
}

/// What differs between two resolutions of the same configuration (a refresh of its secrets):
/// the upstreams whose values changed, the clients whose token did, and the restart-only values,
/// by key.
pub(crate) fn changed_values(old: &ResolvedConfig, new: &ResolvedConfig) -> Vec<String> {
    let key = old.config.servers_key;
    let mut changed: Vec<String> = new
        .servers
        .iter()
        .filter(|(name, server)| old.servers.get(*name) != Some(server))
        .map(|(name, _)| format!("{key}.{name}"))
        .collect();
    changed.extend(
        new.clients
            .iter()
            .filter(|(name, c)| old.clients.get(*name).map(|o| &o.token) != Some(&c.token))
            .map(|(name, _)| format!("clients.{name}.token")),
    );
    for (differs, key) in [
        (
            old.introspection_secrets != new.introspection_secrets,
            "auth.issuers",
        ),
        (
            old.rate_limit_store != new.rate_limit_store,
            "gateway.rate_limit_store",
        ),
        (old.audit_sink != new.audit_sink, "audit.sink"),
    ] {
        if differs {
            changed.push(key.to_owned());
        }
    }
    changed
}

/// Whether a change of `key` may change what some client sees in `tools/list` even when no
/// upstream changed (its scopes, its tool search, who a person's token makes it).
pub(crate) fn affects_views(key: &str) -> bool {
    let key = key.strip_prefix("switchboard.").unwrap_or(key);
    [
        "clients",
        "auth",
        "gateway.tool_search",
        "gateway.stdio_client",
    ]
    .iter()
    .any(|prefix| {
        key.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[', '_']))
    })
}

/// The keys whose values differ between two configuration trees, depth first: a table's keys
/// one by one, an array element by element when the lengths agree, as a whole otherwise.
pub(crate) fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    diff(old, new, String::new(), &mut keys);
    keys
}

fn diff(old: &Value, new: &Value, at: String, keys: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let names = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
            for name in names {
                let key = if at.is_empty() {
                    name.clone()
                } else {
                    format!("{at}.{name}")
                };
                match (a.get(name), b.get(name)) {
                    (Some(x), Some(y)) => diff(x, y, key, keys),
                    _ => keys.push(key),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, format!("{at}[{i}]"), keys);
            }
        }
        (a, b) if a == b => {}
        _ => keys.push(if at.is_empty() {
            "(file)".to_owned()
        } else {
            at
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_keys_name_each_difference_and_never_a_value() {
        let old = json!({
            "clients": {"ops": {"token": "s3cret-one", "allow": ["db__*"]}, "bot": {"allow": ["*"]}},
            "servers": {"db": {"command": "a"}},
            "tools": [{"match": "x", "timeout": "5s"}, {"match": "y"}],
        });
        let new = json!({
            "clients": {"ops": {"token": "s3cret-two", "allow": ["db__*", "jira__*"]}},
            "servers": {"db": {"command": "a"}, "jira": {"command": "b"}},
            "tools": [{"match": "x", "timeout": "9s"}, {"match": "y"}],
        });
        let mut keys = changed_keys(&old, &new);
        keys.sort();
        assert_eq!(
            keys,
            [
                "clients.bot",
                "clients.ops.allow",
                "clients.ops.token",
                "servers.jira",
                "tools[0].timeout"
            ]
        );
        let text = keys.join(" ");
        assert!(!text.contains("s3cret") && !text.contains("9s"), "{text}");
        assert!(changed_keys(&old, &old).is_empty());
    }

    #[test]
    fn only_what_the_listeners_and_logs_were_built_from_needs_a_restart() {
        for key in [
            "audit.path",
            "pins",
            "gateway.sessions.total",
            "endpoints.ops",
        ] {
            assert!(needs_restart(key), "{key}");
        }
        for key in [
            "clients.ops.allow",
            "servers.db",
            "gateway.tool_search",
            "gateway.sessionsx",
            "tools[0].approval",
            "auth.issuers[0].issuer",
        ] {
            assert!(!needs_restart(key), "{key}");
        }
    }
}
