//! Why the guard refused a statement: one variant per rule, each message saying what was found and
//! what to send instead.

use super::function::FunctionName;

/// The statement may not run. The message names the rule and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Nothing but whitespace and comments.
    #[error(
        "no SQL statement found (the text is empty or only comments); send exactly one statement"
    )]
    Empty,

    /// More than one statement.
    #[error("{count} statements found; send exactly one statement")]
    MultipleStatements {
        /// How many statements the parser found.
        count: usize,
    },

    /// PostgreSQL's parser rejected the text.
    #[error("the statement does not parse: {message}{}; fix the SQL and send it again",
        position.map(|p| format!(" (at character {p})")).unwrap_or_default())]
    Syntax {
        /// PostgreSQL's error message.
        message: String,
        /// 1-based character position of the token where parsing stopped, as PostgreSQL
        /// reports it, when it could be determined.
        position: Option<usize>,
    },

    /// The parse tree is deeper than the guard can inspect.
    #[error(
        "the statement is nested too deeply to be checked ({detail}); simplify it, e.g. fewer \
             nested subqueries or a shorter chain of operators"
    )]
    TooComplex {
        /// What limit was reached.
        detail: String,
    },

    /// A statement kind other than SELECT, EXPLAIN and SHOW.
    #[error("{kind} is not allowed: only SELECT, EXPLAIN (without ANALYZE) and SHOW can run")]
    StatementNotAllowed {
        /// The statement kind, as SQL words (`DROP TABLE`, `EXPLAIN DELETE`).
        kind: String,
    },

    /// `EXPLAIN ANALYZE` executes the statement.
    #[error(
        "EXPLAIN ANALYZE is not allowed: it executes the statement; use EXPLAIN without \
             ANALYZE to see the plan"
    )]
    ExplainAnalyze,

    /// An EXPLAIN option outside the known, harmless set.
    #[error(
        "EXPLAIN option {option} is not allowed; use VERBOSE, COSTS, SETTINGS, GENERIC_PLAN, \
             BUFFERS, SUMMARY, MEMORY or FORMAT"
    )]
    ExplainOption {
        /// The option's name.
        option: String,
    },

    /// INSERT, UPDATE, DELETE or MERGE inside a WITH clause, at any depth.
    #[error(
        "{kind} inside WITH is not allowed: a data-modifying CTE writes even within a SELECT; \
             only read-only CTEs can run"
    )]
    DataModifyingCte {
        /// `INSERT`, `UPDATE`, `DELETE` or `MERGE`.
        kind: &'static str,
    },

    /// `SELECT ... INTO` creates a table.
    #[error("SELECT INTO is not allowed: it creates a table; use a plain SELECT to read the rows")]
    SelectInto,

    /// `FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE` or `FOR KEY SHARE`, at any depth.
    #[error(
        "{clause} is not allowed: locking clauses take row locks; remove the clause to read \
             the rows"
    )]
    LockingClause {
        /// The clause as written in SQL, e.g. `FOR UPDATE`.
        clause: &'static str,
    },

    /// A call to a deny-listed function.
    #[error("{function} is refused: it {reason}; rewrite the query without it")]
    DeniedFunction {
        /// The function as written (schema only when one was written).
        function: FunctionName,
        /// Why it is deny-listed.
        reason: &'static str,
    },

    /// A construct outside the guard's whitelist of parse-tree nodes.
    #[error("{construct} is not allowed in a query sent here; rewrite the query without it")]
    UnsupportedConstruct {
        /// The construct, in SQL words where known, otherwise the parse-tree node's name.
        construct: String,
    },
}

impl Refusal {
    /// A short, stable name of the rule that refused the statement (for logs, audit and metrics).
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::MultipleStatements { .. } => "multiple_statements",
            Self::Syntax { .. } => "syntax",
            Self::TooComplex { .. } => "too_complex",
            Self::StatementNotAllowed { .. } => "statement_kind",
            Self::ExplainAnalyze => "explain_analyze",
            Self::ExplainOption { .. } => "explain_option",
            Self::DataModifyingCte { .. } => "data_modifying_cte",
            Self::SelectInto => "select_into",
            Self::LockingClause { .. } => "locking_clause",
            Self::DeniedFunction { .. } => "denied_function",
            Self::UnsupportedConstruct { .. } => "unsupported_construct",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Refusal;
    use crate::guard::FunctionName;

    #[test]
    fn messages_say_why_and_what_to_do() {
        assert_eq!(
            Refusal::MultipleStatements { count: 2 }.to_string(),
            "2 statements found; send exactly one statement"
        );
        assert_eq!(
            Refusal::StatementNotAllowed {
                kind: "DROP TABLE".into()
            }
            .to_string(),
            "DROP TABLE is not allowed: only SELECT, EXPLAIN (without ANALYZE) and SHOW can run"
        );
        assert_eq!(
            Refusal::DeniedFunction {
                function: FunctionName::unqualified("set_config"),
                reason: "changes session settings"
            }
            .to_string(),
            "set_config is refused: it changes session settings; rewrite the query without it"
        );
        assert_eq!(
            Refusal::Syntax {
                message: "syntax error at end of input".into(),
                position: Some(9)
            }
            .to_string(),
            "the statement does not parse: syntax error at end of input (at character 9); fix the \
             SQL and send it again"
        );
        assert_eq!(
            Refusal::Syntax {
                message: "x".into(),
                position: None
            }
            .to_string(),
            "the statement does not parse: x; fix the SQL and send it again"
        );
    }
}
