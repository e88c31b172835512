//! Values with references: `${VAR}`, `${VAR:-default}` (Claude Desktop / Claude Code style) and
//! the secret references `${env:NAME}`, `${file:/path}`, `${vault:mount/data/path#field}`
//! (HashiCorp Vault KV v2 over its HTTP API, `VAULT_ADDR` + `VAULT_TOKEN`) and
//! `${aws-sm:SECRET_ID#field}` (AWS Secrets Manager, `aws.rs`).
//!
//! Parsing happens when the configuration is validated, so a malformed reference is a config
//! error before anything starts; resolution happens once, when the configuration is resolved.
//! Every value that came from a reference is remembered in a [`SecretSet`] so the audit log and
//! error messages can scrub it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod aws;
mod vault;

pub use aws::AwsSecretRef;

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Var {
        name: String,
        default: Option<String>,
    },
    Secret(SecretRef),
}

/// A reference to a secret held outside the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `${env:NAME}`: an environment variable of the gateway process.
    Env(String),
    /// `${file:/path}`: the contents of a file, without a trailing newline.
    File(PathBuf),
    /// `${vault:secret/data/app#field}`: one field of a Vault KV v2 secret.
    Vault {
        /// The API path below `/v1/`, e.g. `secret/data/app`.
        path: String,
        /// The key inside the secret's `data`.
        field: String,
    },
    /// `${aws-sm:prod/db#password}`: an AWS Secrets Manager secret, or one field of it.
    AwsSm(AwsSecretRef),
}

/// A configuration string that may contain references; parsed at validation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `raw`.
    ///
    /// # Errors
    /// A description of the malformed reference (an unterminated `${`, an empty or invalid
    /// variable name, a vault reference without `#field`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                pieces.push(Piece::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated reference in {raw:?}: a `${{` has no `}}`"))?;
            pieces.push(parse_reference(&after[..end])?);
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    /// A template holding only `text`, with no references.
    pub fn literal(text: impl Into<String>) -> Self {
        Self {
            pieces: vec![Piece::Literal(text.into())],
        }
    }

    /// Whether the value contains any reference (so its resolved value is treated as secret
    /// when it sits in an `env`, `headers` or `token` field).
    pub fn has_references(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Literal(_)))
    }
}

fn parse_reference(inner: &str) -> Result<Piece, String> {
    if let Some(name) = inner.strip_prefix("env:") {
        check_var_name(name)?;
        return Ok(Piece::Secret(SecretRef::Env(name.to_owned())));
    }
    if let Some(path) = inner.strip_prefix("file:") {
        if path.is_empty() {
            return Err("`${file:}` needs a path, e.g. ${file:/run/secrets/token}".into());
        }
        return Ok(Piece::Secret(SecretRef::File(PathBuf::from(path))));
    }
    if let Some(spec) = inner.strip_prefix("aws-sm:") {
        return Ok(Piece::Secret(SecretRef::AwsSm(AwsSecretRef::parse(spec)?)));
    }
    if let Some(spec) = inner.strip_prefix("vault:") {
        let (path, field) = spec.split_once('#').ok_or_else(|| {
            format!("vault reference {spec:?} needs a field: ${{vault:secret/data/app#field}}")
        })?;
        if path.is_empty() || field.is_empty() {
            return Err(format!(
                "vault reference {spec:?} needs both a path and a field: \
                 ${{vault:secret/data/app#field}}"
            ));
        }
        return Ok(Piece::Secret(SecretRef::Vault {
            path: path.trim_matches('/').to_owned(),
            field: field.to_owned(),
        }));
    }
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default.to_owned())),
        None => (inner, None),
    };
    check_var_name(name)?;
    Ok(Piece::Var {
        name: name.to_owned(),
        default,
    })
}

fn check_var_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid variable name (letters, digits and _, not starting with a digit)"
        ))
    }
}

/// Resolves templates against the process environment, files and Vault, caching Vault reads.
pub struct Resolver {
    overrides: std::collections::BTreeMap<String, String>,
    vault: vault::Vault,
    aws: aws::AwsSecrets,
    secrets: SecretSet,
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}

impl Resolver {
    /// A resolver reading the current process environment.
    pub fn new() -> Self {
        Self::with_overrides(std::collections::BTreeMap::new())
    }

    /// A resolver that looks variables up in `overrides` first, then in the process
    /// environment.
    pub fn with_overrides(overrides: std::collections::BTreeMap<String, String>) -> Self {
        Self {
            overrides,
            vault: vault::Vault::new(
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
            ),
            aws: aws::AwsSecrets::default(),
            secrets: SecretSet::default(),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }

    /// The secret values resolved so far.
    pub fn secrets(&self) -> SecretSet {
        self.secrets.clone()
    }

    /// Resolves `template`; when `secret` is true the whole resolved value is also recorded as a
    /// secret (for `env`, `headers` and `token` values).
    ///
    /// # Errors
    /// A message naming the missing variable, unreadable file or failed Vault read. It never
    /// contains a secret value.
    pub async fn resolve(&self, template: &Template, secret: bool) -> Result<String, String> {
        let mut out = String::new();
        for piece in &template.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Var { name, default } => match (self.var(name), default) {
                    (Some(value), None) => out.push_str(&value),
                    (Some(value), Some(_)) if !value.is_empty() => out.push_str(&value),
                    (_, Some(default)) => out.push_str(default),
                    (None, None) => {
                        return Err(format!(
                            "environment variable {name} is not set (use ${{{name}:-default}} \
                             for a default)"
                        ));
                    }
                },
                Piece::Secret(reference) => {
                    let value = self.resolve_ref(reference).await?;
                    self.secrets.add(&value);
                    out.push_str(&value);
                }
            }
        }
        if secret && template.has_references() {
            self.secrets.add(&out);
        }
        Ok(out)
    }

    async fn resolve_ref(&self, reference: &SecretRef) -> Result<String, String> {
        match reference {
            SecretRef::Env(name) => self.var(name).ok_or_else(|| {
                format!("secret ${{env:{name}}}: environment variable {name} is not set")
            }),
            SecretRef::File(path) => tokio::fs::read_to_string(path)
                .await
                .map(|text| text.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("secret ${{file:{}}}: {e}", path.display())),
            SecretRef::Vault { path, field } => {
                let settings = vault::Settings::from_env(|name| self.var(name));
                self.vault.field(settings, path, field).await
            }
            SecretRef::AwsSm(reference) => self.aws.value(reference).await,
        }
    }
}

/// The set of secret values known to the gateway, used to scrub logs, errors and audit records.
#[derive(Clone, Default)]
pub struct SecretSet {
    inner: Arc<Mutex<Known>>,
}

/// Secret values: those resolved from the configuration, kept for the process's life, and
/// short-lived ones (OAuth access tokens) that replace each other in a named slot.
#[derive(Default)]
struct Known {
    fixed: Vec<String>,
    /// Values the configuration no longer uses since the last reload, still scrubbed: a late
    /// message may carry one (until the next reload).
    retired: Vec<String>,
    slots: std::collections::BTreeMap<String, std::collections::VecDeque<String>>,
    /// Every value of both, longest first, so a secret containing another is replaced whole.
    all: Vec<String>,
}

impl Known {
    fn rebuild(&mut self) {
        let mut all: Vec<String> = self
            .fixed
            .iter()
            .chain(&self.retired)
            .chain(self.slots.values().flatten())
            .cloned()
            .collect();
        all.sort_by_key(|v| std::cmp::Reverse(v.len()));
        all.dedup();
        self.all = all;
    }
}

impl std::fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretSet({} values)", self.lock().all.len())
    }
}

/// What replaces a secret in scrubbed text.
pub const REDACTED: &str = "[REDACTED]";

/// How many values a slot keeps: the current one and the one it replaced, which may still be
/// valid and still turn up in a late message.
const SLOT_VALUES: usize = 2;

impl SecretSet {
    /// Takes the configuration values of `reloaded` (a reload's resolution) as this set's:
    /// the values no longer used are still scrubbed until the next reload, and the
    /// short-lived ones (tokens) are kept.
    pub fn take_over(&self, reloaded: &Self) {
        if Arc::ptr_eq(&self.inner, &reloaded.inner) {
            return;
        }
        let fresh = reloaded.lock().fixed.clone();
        let mut known = self.lock();
        known.retired = std::mem::take(&mut known.fixed)
            .into_iter()
            .filter(|v| !fresh.contains(v))
            .collect();
        known.fixed = fresh;
        known.rebuild();
    }

    /// Remembers every value `other` holds for the configuration as secret too.
    pub fn add_all(&self, other: &Self) {
        if Arc::ptr_eq(&self.inner, &other.inner) {
            return;
        }
        let values = other.lock().fixed.clone();
        for value in values {
            self.add(&value);
        }
    }

    /// Remembers `value` as secret. Values shorter than 4 characters are ignored: scrubbing them
    /// would mangle ordinary text and they are not meaningful secrets.
    pub fn add(&self, value: &str) {
        if value.len() < 4 {
            return;
        }
        let mut known = self.lock();
        if !known.fixed.iter().any(|v| v == value) {
            known.fixed.push(value.to_owned());
            known.rebuild();
        }
    }

    /// Remembers `value` as the newest secret of `slot` (say, one upstream's access token),
    /// forgetting the slot's values older than the one before it, so that a token refreshed
    /// every hour does not make the set grow for as long as the gateway runs.
    pub fn rotate(&self, slot: &str, value: &str) {
        if value.len() < 4 {
            return;
        }
        let mut known = self.lock();
        let values = known.slots.entry(slot.to_owned()).or_default();
        if values.iter().any(|v| v == value) {
            return;
        }
        values.push_back(value.to_owned());
        while values.len() > SLOT_VALUES {
            values.pop_front();
        }
        known.rebuild();
    }

    /// Whether `text` contains any known secret.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.lock().all.iter().any(|v| text.contains(v.as_str()))
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let known = self.lock();
        let mut out = text.to_owned();
        for value in &known.all {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), REDACTED);
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_reference_kind() {
        let t =
            Template::parse("a${X}b${Y:-d}${env:T}${file:/f}${vault:secret/data/app#k}").unwrap();
        assert_eq!(t.pieces.len(), 7);
        assert!(t.has_references());
        assert!(!Template::parse("plain").unwrap().has_references());
    }

    #[test]
    fn rejects_malformed_references() {
        assert!(
            Template::parse("${UNCLOSED")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            Template::parse("${vault:secret/data/app}")
                .unwrap_err()
                .contains("field")
        );
        assert!(
            Template::parse("${1BAD}")
                .unwrap_err()
                .contains("not a valid")
        );
        assert!(Template::parse("${file:}").unwrap_err().contains("path"));
    }

    #[tokio::test]
    async fn default_applies_when_unset_or_empty() {
        let r = Resolver::new();
        let t = Template::parse("${SWITCHBOARD_SURELY_UNSET_VAR:-fallback}").unwrap();
        assert_eq!(r.resolve(&t, false).await.unwrap(), "fallback");
        let t = Template::parse("${SWITCHBOARD_SURELY_UNSET_VAR}").unwrap();
        assert!(
            r.resolve(&t, false)
                .await
                .unwrap_err()
                .contains("SWITCHBOARD_SURELY_UNSET_VAR")
        );
    }

    #[test]
    fn a_slot_keeps_its_current_and_previous_value_only() {
        let secrets = SecretSet::default();
        secrets.add("configured-secret");
        for n in 0..100 {
            secrets.rotate("oauth token of remote", &format!("token-{n:03}"));
            // The same token again (each request asks) changes nothing.
            secrets.rotate("oauth token of remote", &format!("token-{n:03}"));
        }
        secrets.rotate("oauth token of other", "configured-secret");
        assert_eq!(format!("{secrets:?}"), "SecretSet(3 values)");
        assert_eq!(
            secrets.scrub("token-097 token-098 token-099 configured-secret"),
            "token-097 [REDACTED] [REDACTED] [REDACTED]"
        );
        // A configured secret stays secret when a slot that held the same value moves on.
        secrets.rotate("oauth token of other", "token-of-other-2");
        secrets.rotate("oauth token of other", "token-of-other-3");
        assert!(secrets.contains_secret("configured-secret"));
        assert!(!secrets.contains_secret("token-of-other-1"));
    }

    #[tokio::test]
    async fn file_secrets_are_trimmed_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "s3cr3t-value\n").unwrap();
        let r = Resolver::new();
        let t = Template::parse(&format!("Bearer ${{file:{}}}", path.display())).unwrap();
        assert_eq!(r.resolve(&t, true).await.unwrap(), "Bearer s3cr3t-value");
        let scrubbed = r.secrets().scrub("header was Bearer s3cr3t-value!");
        assert_eq!(scrubbed, "header was [REDACTED]!");
    }
}
