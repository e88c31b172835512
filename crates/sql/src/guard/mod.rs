//! The statement guard: decides, with PostgreSQL's own parser (libpg_query through `pg_query`),
//! whether a statement sent to the SQL server may run.
//!
//! A statement passes only if it is exactly one statement of an allowed kind (SELECT, EXPLAIN
//! without ANALYZE of a statement that itself passes, SHOW), its whole parse tree consists of
//! whitelisted nodes with no data-modifying CTE, SELECT INTO or locking clause at any depth, and no
//! function call anywhere in it is deny-listed. Functions that are neither known safe nor
//! deny-listed are returned as unknown, for the executor to check their volatility in `pg_proc`.
//! The guard is the first layer only: the executor's read-only transaction, timeouts and budgets
//! cover what a parse tree cannot show (see `README.md` in this directory).

mod builtins;
mod function;
mod refusal;
mod sketch;
mod statement;
mod text;
mod verdicts;
mod walk;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

pub use function::{FunctionName, FunctionPolicy};
pub use refusal::Refusal;

use function::CompiledPolicy;
use pg_query::NodeEnum;
use pg_query::protobuf::{AConst, Integer, LimitOption, a_const};
use verdicts::Verdicts;

/// The kind of a statement the guard let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    /// SELECT, including read-only CTEs, VALUES, `TABLE t` and set operations.
    Select,
    /// EXPLAIN without ANALYZE, of a statement that passes the guard itself.
    Explain,
    /// SHOW of a setting (or `SHOW ALL`).
    Show,
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Select => "SELECT",
            Self::Explain => "EXPLAIN",
            Self::Show => "SHOW",
        })
    }
}

/// The limit a SELECT puts on its own rows at its top level (`LIMIT`, `FETCH FIRST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnLimit {
    /// None: every row of the query is returned.
    None,
    /// A constant count, without ties: at most this many rows.
    AtMost(u64),
    /// An expression, `LIMIT ALL`, or `WITH TIES`: the count is not known before it runs.
    Other,
}

impl OwnLimit {
    /// The top-level limit of `node` (always [`OwnLimit::None`] for a statement other than
    /// SELECT).
    fn of(node: &NodeEnum) -> Self {
        let NodeEnum::SelectStmt(select) = node else {
            return Self::None;
        };
        let Some(count) = select.limit_count.as_deref().and_then(|n| n.node.as_ref()) else {
            return Self::None;
        };
        if select.limit_option == LimitOption::WithTies as i32 {
            return Self::Other;
        }
        match count {
            NodeEnum::AConst(AConst {
                val: Some(a_const::Val::Ival(Integer { ival })),
                ..
            }) => u64::try_from(*ival).map_or(Self::Other, Self::AtMost),
            _ => Self::Other,
        }
    }
}

/// A statement the guard let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// What kind of statement it is.
    pub kind: StatementKind,
    /// The statement's own text, from its first to its last token: no leading or trailing
    /// whitespace, comments or `;`; comments inside are kept.
    pub sql: String,
    /// Functions called anywhere in the statement that are neither known safe nor deny-listed,
    /// deduplicated: the executor must check them in `pg_proc` (refusing volatile ones) before
    /// running the statement.
    pub unknown_functions: Vec<FunctionName>,
    /// The SELECT's own top-level limit, for the executor to bound the rows to the budget.
    pub own_limit: OwnLimit,
}

/// The statement guard, holding the function policy and the statements it let through (shared
/// by its clones).
#[derive(Debug, Clone, Default)]
pub struct Guard {
    policy: CompiledPolicy,
    passed: Arc<Verdicts>,
}

impl Guard {
    /// A guard applying the built-in function lists and `policy` from configuration. Names in
    /// `policy` that are not `name` or `schema.name` are logged and ignored.
    pub fn new(policy: FunctionPolicy) -> Self {
        Self {
            policy: CompiledPolicy::new(&policy),
            passed: Arc::default(),
        }
    }

    /// Checks one statement.
    ///
    /// # Errors
    /// A [`Refusal`] naming the rule when the statement may not run: it does not parse, is not
    /// exactly one statement, is of a kind other than SELECT / EXPLAIN / SHOW, uses EXPLAIN
    /// ANALYZE, contains a data-modifying CTE, SELECT INTO or a locking clause, calls a
    /// deny-listed function, or contains a construct outside the whitelist.
    pub fn check(&self, sql: &str) -> Result<Checked, Refusal> {
        if let Some(checked) = self.passed.get(sql) {
            return Ok(checked);
        }
        let sketch = verdicts::sketch_of(sql);
        if let Some(checked) = sketch
            .as_ref()
            .and_then(|sketch| self.passed.get_sketched(sketch, sql))
        {
            return Ok(checked);
        }
        let shape = verdicts::shape_of(sql);
        if let Some(checked) = shape
            .as_deref()
            .and_then(|shape| self.passed.get_shape(shape, sql))
        {
            return Ok(checked);
        }
        let (checked, own) = self.decide(sql)?;
        self.passed.insert(sql, shape, sketch, own, &checked);
        Ok(checked)
    }

    /// Parses `sql` and applies every rule; the statement's own text is at the range returned.
    fn decide(&self, sql: &str) -> Result<(Checked, Range<usize>), Refusal> {
        let parsed = parse(sql)?;
        let raw = match parsed.protobuf.stmts.as_slice() {
            [] => return Err(Refusal::Empty),
            [raw] => raw,
            many => return Err(Refusal::MultipleStatements { count: many.len() }),
        };
        let node = raw
            .stmt
            .as_ref()
            .and_then(|node| node.node.as_ref())
            .ok_or(Refusal::Empty)?;
        let (kind, unknown_functions) = statement::check(node, &self.policy)?;
        let own = text::statement_range(sql, raw.stmt_location, raw.stmt_len);
        let checked = Checked {
            kind,
            sql: sql.get(own.clone()).unwrap_or(sql).to_owned(),
            unknown_functions,
            own_limit: OwnLimit::of(node),
        };
        Ok((checked, own))
    }
}

/// Runs PostgreSQL's parser, turning its failures into refusals.
fn parse(sql: &str) -> Result<pg_query::ParseResult, Refusal> {
    if let Some(at) = sql.find('\0') {
        // PostgreSQL never sees text after a NUL; say so as the server would.
        return Err(Refusal::Syntax {
            message: "invalid byte sequence for encoding \"UTF8\": 0x00".to_owned(),
            position: Some(text::char_position(sql, at)),
        });
    }
    // pg_query's post-processing indexes into the tree; a panic there must refuse the statement,
    // not take down the request.
    match std::panic::catch_unwind(|| pg_query::parse(sql, 0)) {
        Ok(Ok(parsed)) => Ok(parsed),
        Ok(Err(pg_query::Error::Parse(message))) => {
            let position = text::error_position(sql, &message);
            Err(Refusal::Syntax { message, position })
        }
        Ok(Err(pg_query::Error::Decode(error))) => Err(Refusal::TooComplex {
            detail: if error.to_string().contains("recursion limit") {
                "the parse tree is deeper than the parser's decoding limit".to_owned()
            } else {
                error.to_string()
            },
        }),
        Ok(Err(other)) => Err(Refusal::Syntax {
            message: other.to_string(),
            position: None,
        }),
        Err(_) => Err(Refusal::TooComplex {
            detail: "the parser failed on this input".to_owned(),
        }),
    }
}
