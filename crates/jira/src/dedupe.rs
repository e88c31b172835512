//! No duplicate issues on retry: the fingerprint label and the in-process memo behind
//! `create_issue`.
//!
//! Every issue `create_issue` files carries a label `sb-<16 hex>`: a SHA-256 over the caller's
//! `idempotency_key`, or, without one, over the canonical form of the create arguments. Before
//! creating, the tool (1) consults a short in-process memo (fast path for a client that retries
//! at once), then (2) searches Jira for `project = P AND labels = "sb-…"`; a match — created within
//! [`WINDOW`] when no explicit key was given, at any time with one — is returned instead of
//! filing a second issue. Creates run one at a time, so two identical concurrent calls cannot
//! both miss.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long identical arguments (without an explicit key) are treated as a retry.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// Label prefix of fingerprint labels.
pub const LABEL_PREFIX: &str = "sb-";

/// The fingerprint label of a create request.
pub(crate) fn fingerprint(idempotency_key: Option<&str>, canonical_args: &Value) -> String {
    let mut hasher = Sha256::new();
    match idempotency_key {
        Some(key) => {
            hasher.update(b"key\0");
            hasher.update(key.as_bytes());
        }
        None => {
            hasher.update(b"args\0");
            hasher.update(canonical(canonical_args).as_bytes());
        }
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{LABEL_PREFIX}{hex}")
}

/// JSON with object keys sorted at every level, so equal arguments hash equally.
fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for key in keys {
                    out.insert(key.clone(), sort(&map[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

/// A remembered creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Remembered {
    pub(crate) id: String,
    pub(crate) key: String,
}

/// Recently created issues by fingerprint label, plus the lock that serialises creates.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: Mutex<HashMap<String, (Instant, Remembered)>>,
    pub(crate) create_lock: tokio::sync::Mutex<()>,
}

impl Memo {
    /// The issue created under `label` within `window`, if any.
    pub(crate) fn get(&self, label: &str, window: Duration) -> Option<Remembered> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, (at, _)| at.elapsed() < WINDOW.max(window));
        entries
            .get(label)
            .filter(|(at, _)| at.elapsed() < window)
            .map(|(_, r)| r.clone())
    }

    pub(crate) fn put(&self, label: String, remembered: Remembered) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.insert(label, (Instant::now(), remembered));
    }
}

/// The canonical arguments hashed when no idempotency key is given.
pub(crate) fn canonical_args(parts: &[(&str, Value)]) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in parts {
        if !value.is_null() {
            map.insert((*name).to_owned(), value.clone());
        }
    }
    json!(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_order_independent() {
        let a = fingerprint(None, &json!({"summary": "x", "fields": {"a": 1, "b": 2}}));
        let b = fingerprint(None, &json!({"fields": {"b": 2, "a": 1}, "summary": "x"}));
        assert_eq!(a, b);
        assert!(a.starts_with("sb-") && a.len() == 19);
        assert_ne!(a, fingerprint(None, &json!({"summary": "y"})));
        assert_eq!(
            fingerprint(Some("k1"), &json!({"summary": "x"})),
            fingerprint(Some("k1"), &json!({"summary": "z"}))
        );
        assert_ne!(
            fingerprint(Some("k1"), &json!({})),
            fingerprint(Some("k2"), &json!({}))
        );
    }

    #[test]
    fn memo_respects_window() {
        let memo = Memo::default();
        memo.put(
            "sb-1".into(),
            Remembered {
                id: "1".into(),
                key: "A-1".into(),
            },
        );
        assert_eq!(memo.get("sb-1", WINDOW).unwrap().key, "A-1");
        assert!(memo.get("sb-1", Duration::ZERO).is_none());
        assert!(memo.get("sb-2", WINDOW).is_none());
    }
}
