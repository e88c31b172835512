//! The guard's memory of statements it let through: by their exact text, and by their shape —
//! the text with its constants replaced (libpg_query's normalised form).
//!
//! The guard's decision is a function of the statement's text and the function policy alone, and
//! the policy is fixed for a guard's life, so a statement seen before needs no second check: an
//! agent repeating a query, or polling one, pays for the full check once.
//!
//! A SELECT's verdict does not depend on its constants either: the tree walk looks at node kinds
//! and function names, never at a literal's value (`walk.rs`). So a SELECT that passed, with no
//! top-level `LIMIT`/`FETCH` (whose count the executor needs) is remembered by its shape too, and
//! a statement of the same shape — `WHERE id = 7` after `WHERE id = 42` — gets the same verdict
//! after libpg_query's `normalize` alone, which parses it with PostgreSQL's grammar and replaces
//! exactly the constant tokens (numbers, strings, bit strings, a negative number's sign;
//! never identifiers, keywords, operators or typmods) by `$n`. Two texts with the same shape
//! therefore have the same tokens but for constants (or `$n` parameters written in their place):
//! the same statement kind and count, the same nodes but constants, the same function names. The
//! key is the whole normalised text, compared exactly, never a hash. Only the statement's own text
//! is recomputed: the whitespace, comments and `;` around it are no constants, so they are the
//! same bytes, and are checked to be before the remembered verdict is used.
//!
//! Most statements an agent sends have only plain integers and strings as constants, and for
//! those the shape is found without libpg_query: a shape remembers the statement's [`Sketch`]
//! when it was exactly the normalised text, and a statement with that sketch then has that shape
//! (`sketch.rs` says why), at the cost of one scan of its bytes.
//!
//! Only statements that passed are kept (a refusal is rare on the hot path and is worth its fresh
//! message), only short ones, and only a bounded number of them, least recently used first out:
//! at most 2 × [`CAPACITY`] × ([`MAX_TEXT`] + a checked copy) bytes, whatever a client sends.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use hashlink::LruCache;

use super::sketch::{Constant, Sketch, sketch};
use super::{Checked, FunctionName, OwnLimit, StatementKind};

/// Statements remembered at most, in each memory.
const CAPACITY: usize = 256;
/// The longest statement remembered, in bytes; longer ones are checked every time.
const MAX_TEXT: usize = 4096;

/// What a SELECT of one shape passed with, and what surrounded its own text.
#[derive(Debug, Clone)]
struct Shape {
    unknown_functions: Vec<FunctionName>,
    before: Box<str>,
    after: Box<str>,
    /// The kinds of the constants of a statement of this shape whose sketch was the shape itself.
    sketched: Option<Vec<Constant>>,
}

/// Statements that passed, least recently used first out.
pub(super) struct Verdicts {
    exact: Mutex<LruCache<Box<str>, Checked>>,
    shapes: Mutex<LruCache<Box<str>, Shape>>,
}

impl Default for Verdicts {
    fn default() -> Self {
        Self {
            exact: Mutex::new(LruCache::new(CAPACITY)),
            shapes: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl std::fmt::Debug for Verdicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verdicts")
            .field("exact", &lock(&self.exact).len())
            .field("shapes", &lock(&self.shapes).len())
            .finish()
    }
}

/// The shape of `sql`: libpg_query's normalised text, `None` when the statement is too long to be
/// remembered or does not parse (the full check then says why).
pub(super) fn shape_of(sql: &str) -> Option<String> {
    if sql.len() > MAX_TEXT {
        return None;
    }
    pg_query::normalize(sql).ok()
}

/// The sketch of `sql`, `None` when the statement is too long to be remembered or a byte scan
/// cannot read it.
pub(super) fn sketch_of(sql: &str) -> Option<Sketch> {
    if sql.len() > MAX_TEXT {
        return None;
    }
    sketch(sql)
}

impl Verdicts {
    /// What the guard decided for exactly `sql`, if it let it through before.
    pub(super) fn get(&self, sql: &str) -> Option<Checked> {
        if sql.len() > MAX_TEXT {
            return None;
        }
        lock(&self.exact).get(sql).cloned()
    }

    /// What the guard decided for a SELECT of `shape` it let through before, applied to `sql`
    /// (whose shape it is).
    pub(super) fn get_shape(&self, shape: &str, sql: &str) -> Option<Checked> {
        let remembered = lock(&self.shapes).get(shape).cloned()?;
        remembered.applied_to(sql)
    }

    /// What the guard decided for a SELECT of the shape `sketch` stands for, applied to `sql`
    /// (whose sketch it is): only when that shape was seen to be the sketch of a statement with
    /// constants of the same kinds.
    pub(super) fn get_sketched(&self, sketch: &Sketch, sql: &str) -> Option<Checked> {
        let remembered = lock(&self.shapes).get(sketch.text.as_str()).cloned()?;
        if remembered.sketched.as_ref() != Some(&sketch.constants) {
            return None;
        }
        remembered.applied_to(sql)
    }

    /// Remembers that `sql`, of `shape` and `sketch` when known, passed as `checked`, its own
    /// text at `own`.
    pub(super) fn insert(
        &self,
        sql: &str,
        shape: Option<String>,
        sketch: Option<Sketch>,
        own: Range<usize>,
        checked: &Checked,
    ) {
        if sql.len() > MAX_TEXT {
            return;
        }
        lock(&self.exact).insert(sql.into(), checked.clone());
        let (Some(shape), Some(before), Some(after)) =
            (shape, sql.get(..own.start), sql.get(own.end..))
        else {
            return;
        };
        if checked.kind == StatementKind::Select && checked.own_limit == OwnLimit::None {
            let remembered = Shape {
                unknown_functions: checked.unknown_functions.clone(),
                before: before.into(),
                after: after.into(),
                sketched: sketch
                    .filter(|sketch| sketch.text == shape)
                    .map(|sketch| sketch.constants),
            };
            lock(&self.shapes).insert(shape.into(), remembered);
        }
    }
}

impl Shape {
    /// The verdict for `sql`, a statement of this shape, when the text around its own is the
    /// same.
    fn applied_to(self, sql: &str) -> Option<Checked> {
        let own = sql
            .strip_prefix(&*self.before)?
            .strip_suffix(&*self.after)?;
        Some(Checked {
            kind: StatementKind::Select,
            sql: own.to_owned(),
            unknown_functions: self.unknown_functions,
            own_limit: OwnLimit::None,
        })
    }
}

fn lock<T>(memory: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    memory.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Remembers `sql`, its own text at `own`, as having passed as `checked`.
    fn remember(verdicts: &Verdicts, sql: &str, own: Range<usize>, checked: &Checked) {
        verdicts.insert(sql, shape_of(sql), sketch_of(sql), own, checked);
    }

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
            remember(&verdicts, &sql, 0..sql.len(), &checked(&sql));
        }
        assert_eq!(lock(&verdicts.exact).len(), CAPACITY);
        assert_eq!(lock(&verdicts.shapes).len(), 1, "one shape: SELECT $1");
        assert!(verdicts.get("SELECT 0").is_none(), "the oldest went first");
        let last = format!("SELECT {}", CAPACITY * 4 - 1);
        assert_eq!(verdicts.get(&last), Some(checked(&last)));

        let long = format!("SELECT '{}'", "x".repeat(MAX_TEXT));
        verdicts.insert(
            &long,
            Some("SELECT $1".into()),
            None,
            0..long.len(),
            &checked(&long),
        );
        assert!(
            verdicts.get(&long).is_none(),
            "a long statement is not kept"
        );

        for i in 0..CAPACITY * 4 {
            let sql = format!("SELECT 1 AS c{i}");
            remember(&verdicts, &sql, 0..sql.len(), &checked(&sql));
        }
        assert_eq!(lock(&verdicts.shapes).len(), CAPACITY);
    }

    #[test]
    fn a_select_of_a_remembered_shape_gets_its_verdict_with_its_own_text() {
        let verdicts = Verdicts::default();
        let first = "-- point\nSELECT id FROM orders WHERE id = 42;";
        let own = first.find("SELECT").unwrap()..first.len() - 1;
        let mut passed = checked(&first[own.clone()]);
        passed.unknown_functions = vec![FunctionName::unqualified("f")];
        remember(&verdicts, first, own, &passed);

        let then = "-- point\nSELECT id FROM orders WHERE id = -7;";
        let got = shape_of(then).and_then(|shape| verdicts.get_shape(&shape, then));
        let expected = Checked {
            sql: "SELECT id FROM orders WHERE id = -7".to_owned(),
            ..passed
        };
        assert_eq!(got, Some(expected));
        let moved = "-- elsewhere\nSELECT id FROM orders WHERE id = 7;";
        assert_eq!(
            shape_of(moved).and_then(|shape| verdicts.get_shape(&shape, moved)),
            None,
            "another comment is another shape"
        );

        let limited = "SELECT id FROM orders LIMIT 5";
        let own_limit = Checked {
            own_limit: OwnLimit::AtMost(5),
            ..checked(limited)
        };
        remember(&verdicts, limited, 0..limited.len(), &own_limit);
        let other = "SELECT id FROM orders LIMIT 6";
        assert_eq!(
            shape_of(other).and_then(|shape| verdicts.get_shape(&shape, other)),
            None,
            "a top-level limit is a constant the executor needs"
        );
    }

    #[test]
    fn a_sketch_stands_for_a_shape_only_when_it_was_seen_to_be_that_shape() {
        let verdicts = Verdicts::default();
        let first = "SELECT id FROM orders WHERE id = 42 AND status = 'failed';";
        let own = 0..first.len() - 1;
        remember(&verdicts, first, own.clone(), &checked(&first[own]));

        let then = "SELECT id FROM orders WHERE id = 7 AND status = 'paid';";
        let got = sketch_of(then).and_then(|sketch| verdicts.get_sketched(&sketch, then));
        assert_eq!(
            got,
            Some(checked(
                "SELECT id FROM orders WHERE id = 7 AND status = 'paid'"
            ))
        );
        let kinds = "SELECT id FROM orders WHERE id = '7' AND status = 'paid';";
        assert_eq!(
            sketch_of(kinds).and_then(|sketch| verdicts.get_sketched(&sketch, kinds)),
            None,
            "a string where the integer was is another sketch"
        );

        // Its sketch (`varchar($2)`) is not its shape (`varchar(10)`): not remembered by sketch.
        let typmod = "SELECT CAST(id AS varchar(10)) FROM orders WHERE id = 1";
        remember(&verdicts, typmod, 0..typmod.len(), &checked(typmod));
        let other = "SELECT CAST(id AS varchar(99)) FROM orders WHERE id = 1";
        assert_eq!(
            sketch_of(other).and_then(|sketch| verdicts.get_sketched(&sketch, other)),
            None
        );
        assert!(
            shape_of(other)
                .and_then(|shape| verdicts.get_shape(&shape, other))
                .is_none()
        );
    }
}
