//! The SQL server's own metrics, counted only when the process serves them
//! (`switchboard_telemetry::metrics`): statements by tool and outcome, refusals by rule, time per
//! statement, and results cut at the row or byte budget. Labels come from fixed lists; never the
//! statement, its values, or who sent it.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

use crate::error::QueryError;

/// Latency buckets (seconds) of one statement: 100 µs to the longest timeout.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0, 30.0,
];

struct Sql {
    statements: IntCounterVec,
    refusals: IntCounterVec,
    duration: HistogramVec,
    truncated: IntCounterVec,
}

fn sql() -> Option<&'static Sql> {
    static SQL: OnceLock<Option<Sql>> = OnceLock::new();
    switchboard_telemetry::metrics::family(&SQL, |registry| {
        let statements = IntCounterVec::new(
            Opts::new(
                "switchboard_sql_statements_total",
                "Statements sent to the SQL server's tools, by outcome",
            ),
            &["tool", "outcome"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "switchboard_sql_refusals_total",
                "Statements refused before they ran, by the rule that refused them",
            ),
            &["rule"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "switchboard_sql_statement_duration_seconds",
                "Time from a statement's arrival to its answer, checks included",
            )
            .buckets(BUCKETS.to_vec()),
            &["tool"],
        )?;
        let truncated = IntCounterVec::new(
            Opts::new(
                "switchboard_sql_truncated_total",
                "Results cut at the row or byte budget",
            ),
            &["tool"],
        )?;
        registry.register(Box::new(statements.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(truncated.clone()))?;
        Ok(Sql {
            statements,
            refusals,
            duration,
            truncated,
        })
    })
}

/// One statement `tool` answered after `took`: its rows (`Ok(truncated)`) or its error.
pub(crate) fn statement(tool: &str, result: Result<bool, &QueryError>, took: Duration) {
    let Some(sql) = sql() else {
        return;
    };
    let outcome = match result {
        Ok(truncated) => {
            if truncated {
                sql.truncated.with_label_values(&[tool]).inc();
            }
            "ok"
        }
        Err(error) => {
            let (outcome, rule) = error.outcome();
            if let Some(rule) = rule {
                sql.refusals.with_label_values(&[rule]).inc();
            }
            outcome
        }
    };
    sql.statements.with_label_values(&[tool, outcome]).inc();
    sql.duration
        .with_label_values(&[tool])
        .observe(took.as_secs_f64());
}
