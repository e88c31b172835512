//! The guard's memory of statements it let through, by their exact text.
//!
//! The guard's decision is a function of the statement's text and the function policy alone, and
//! the policy is fixed for a guard's life, so a statement seen before needs no second parse: an
//! agent repeating a query, or polling one, pays for libpg_query once. Only statements that
//! passed are kept (a refusal is rare on the hot path and is worth its fresh message), only short
//! ones, and only a bounded number of them, least recently used first out: at most
//! [`CAPACITY`] × ([`MAX_TEXT`] + its checked copy) bytes, whatever a client sends.

use std::sync::{Mutex, PoisonError};

use hashlink::LruCache;

use super::Checked;

/// Statements remembered at most.
const CAPACITY: usize = 256;
/// The longest statement remembered, in bytes; longer ones are parsed every time.
const MAX_TEXT: usize = 4096;

/// Statements that passed, least recently used first out.
pub(super) struct Verdicts(Mutex<LruCache<Box<str>, Checked>>);

impl Default for Verdicts {
    fn default() -> Self {
        Self(Mutex::new(LruCache::new(CAPACITY)))
    }
}

impl std::fmt::Debug for Verdicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verdicts")
            .field("len", &self.lock().len())
            .finish()
    }
}

impl Verdicts {
    /// What the guard decided for exactly `sql`, if it let it through before.
    pub(super) fn get(&self, sql: &str) -> Option<Checked> {
        if sql.len() > MAX_TEXT {
            return None;
        }
        self.lock().get(sql).cloned()
    }

    /// Remembers that `sql` passed as `checked`.
    pub(super) fn insert(&self, sql: &str, checked: &Checked) {
        if sql.len() <= MAX_TEXT {
            self.lock().insert(sql.into(), checked.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Box<str>, Checked>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::{OwnLimit, StatementKind};

    fn checked(sql: &str) -> Checked {
        Checked {
            kind: StatementKind::Select,
            sql: sql.to_owned(),
            unknown_functions: Vec::new(),
            own_limit: OwnLimit::None,
        }
    }

    #[test]
    fn memory_stays_bounded_whatever_is_sent() {
        let verdicts = Verdicts::default();
        for i in 0..CAPACITY * 4 {
            let sql = format!("SELECT {i}");
            verdicts.insert(&sql, &checked(&sql));
        }
        assert_eq!(verdicts.lock().len(), CAPACITY);
        assert!(verdicts.get("SELECT 0").is_none(), "the oldest went first");
        let last = format!("SELECT {}", CAPACITY * 4 - 1);
        assert_eq!(verdicts.get(&last), Some(checked(&last)));

        let long = format!("SELECT '{}'", "x".repeat(MAX_TEXT));
        verdicts.insert(&long, &checked(&long));
        assert!(
            verdicts.get(&long).is_none(),
            "a long statement is not kept"
        );
    }
}
