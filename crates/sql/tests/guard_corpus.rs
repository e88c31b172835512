//! The guard against the shared SQL corpora (`shared/corpus` beside the repository): every attack
//! is refused for a real reason, except a named few whose harm is only time or memory (the
//! executor's timeout and budgets handle those); every legitimate analytics query passes with the
//! right kind and calls no function the executor would have to look up.

use serde::Deserialize;
use switchboard_sql::guard::{Checked, FunctionPolicy, Guard, StatementKind};
use switchboard_testkit::pg::TestDb;

#[derive(Debug, Deserialize)]
struct Line {
    sql: String,
    why: String,
}

/// Attacks that are valid read-only SELECTs: the guard lets them through by design.
const ATTACKS_THAT_PASS: &[(&str, &str)] = &[
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "endless recursion is a valid read-only SELECT; the statement timeout ends it",
    ),
    (
        "SELECT count(*) FROM orders a, orders b, orders c",
        "a cartesian join is a valid read-only SELECT; the statement timeout ends it",
    ),
    (
        "SELECT repeat('x', 1000000000)",
        "repeat is side-effect free; PostgreSQL fails the allocation cleanly and the byte budget \
         caps results",
    ),
];

fn corpus(name: &str) -> Vec<Line> {
    let text = TestDb::corpus_file(name).unwrap_or_else(|error| {
        panic!("the shared SQL corpus is required for this test: {error:#}")
    });
    let lines: Vec<Line> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(number, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{name} line {}: {error}", number + 1))
        })
        .collect();
    assert!(!lines.is_empty(), "{name} is empty");
    lines
}

/// Checking the statement's own text again gives the same answer.
fn assert_stable(guard: &Guard, checked: &Checked) {
    assert_eq!(
        guard.check(&checked.sql).as_ref(),
        Ok(checked),
        "re-checking {:?}",
        checked.sql
    );
}

#[test]
fn guard_refuses_every_attack_except_the_listed_time_and_memory_ones() {
    let guard = Guard::new(FunctionPolicy::default());
    let mut passed = Vec::new();
    for line in corpus("sql-attacks.jsonl") {
        match guard.check(&line.sql) {
            Ok(checked) => {
                assert_eq!(checked.kind, StatementKind::Select, "{}", line.sql);
                assert!(
                    checked.unknown_functions.is_empty(),
                    "{}: {checked:?}",
                    line.sql
                );
                assert_stable(&guard, &checked);
                passed.push(line.sql);
            }
            Err(refusal) => {
                // A parse error would mean the attack line tests nothing.
                assert!(
                    !matches!(refusal.rule(), "syntax" | "too_complex"),
                    "{} ({}) was refused only as malformed: {refusal}",
                    line.sql,
                    line.why
                );
            }
        }
    }
    let expected: Vec<&str> = ATTACKS_THAT_PASS.iter().map(|(sql, _)| *sql).collect();
    assert_eq!(
        passed, expected,
        "the set of attacks that pass the guard changed"
    );
}

#[test]
fn guard_refuses_attacks_by_the_expected_rule() {
    let guard = Guard::new(FunctionPolicy::default());
    let rule_of = |sql: &str| {
        guard
            .check(sql)
            .map(|_| ())
            .map_err(|refusal| refusal.rule())
    };
    for (sql, rule) in [
        ("COMMIT; DROP TABLE canary", "multiple_statements"),
        (
            "SELECT 1 /* ; */ ; DELETE FROM canary",
            "multiple_statements",
        ),
        (
            "WITH d AS (DELETE FROM canary RETURNING *) SELECT count(*) FROM d",
            "data_modifying_cte",
        ),
        ("SELECT * INTO canary_copy FROM canary", "select_into"),
        ("CREATE TEMP TABLE t AS SELECT 1", "statement_kind"),
        (
            "COPY (SELECT 1) TO PROGRAM 'touch /tmp/switchboard_pwned'",
            "statement_kind",
        ),
        (
            "SELECT * FROM pg_read_file('/etc/passwd')",
            "denied_function",
        ),
        ("SELECT * FROM canary FOR UPDATE", "locking_clause"),
        ("EXPLAIN ANALYZE DELETE FROM canary", "explain_analyze"),
        ("SELECT pg_sleep(3600)", "denied_function"),
    ] {
        assert_eq!(rule_of(sql), Err(rule), "{sql}");
    }
}

#[test]
fn guard_passes_every_legitimate_query_with_its_kind() {
    let guard = Guard::new(FunctionPolicy::default());
    for line in corpus("sql-legit.jsonl") {
        let checked = guard
            .check(&line.sql)
            .unwrap_or_else(|refusal| panic!("{} ({}) was refused: {refusal}", line.sql, line.why));
        let first_word = checked.sql.split_whitespace().next().unwrap_or_default();
        let expected = match first_word.to_ascii_uppercase().as_str() {
            "EXPLAIN" => StatementKind::Explain,
            "SHOW" => StatementKind::Show,
            _ => StatementKind::Select,
        };
        assert_eq!(checked.kind, expected, "{}", line.sql);
        assert!(
            checked.unknown_functions.is_empty(),
            "{} calls functions outside the allow-list: {:?}",
            line.sql,
            checked.unknown_functions
        );
        assert!(
            !checked.sql.ends_with(';') && !checked.sql.starts_with("--"),
            "{:?}",
            checked.sql
        );
        assert_stable(&guard, &checked);
    }
}

/// `sql` with its constants (numbers, strings, bit strings) replaced: one variant per way of
/// writing them, each keeping the statement's shape, or writing each constant as the other kind,
/// or breaking its syntax, which the guard must then refuse as a fresh check does.
fn constant_variants(sql: &str) -> Vec<String> {
    use pg_query::protobuf::Token;
    let Ok(scanned) = pg_query::scan(sql) else {
        return Vec::new();
    };
    let constants: Vec<(usize, usize, bool)> = scanned
        .tokens
        .iter()
        .filter_map(|token| {
            let number = [Token::Iconst, Token::Fconst].contains(&token.token());
            let string = [Token::Sconst, Token::Usconst, Token::Bconst, Token::Xconst]
                .contains(&token.token());
            let range = (
                usize::try_from(token.start).ok()?,
                usize::try_from(token.end).ok()?,
            );
            (number || string).then_some((range.0, range.1, number))
        })
        .collect();
    if constants.is_empty() {
        return Vec::new();
    }
    let ways: [(&str, &str); 5] = [
        ("0", "''"),
        ("'7'", "7"),
        ("-12.5", "$q$a; DROP TABLE canary$q$"),
        ("99999999999999999999", "E'\\';--'"),
        ("$9", "$9"),
    ];
    ways.iter()
        .map(|(number, string)| {
            let mut out = String::new();
            let mut at = 0;
            for &(start, end, is_number) in &constants {
                out.push_str(&sql[at..start]);
                out.push_str(if is_number { number } else { string });
                at = end;
            }
            out.push_str(&sql[at..]);
            out
        })
        .collect()
}

#[test]
fn a_remembered_shape_answers_exactly_as_a_fresh_check() {
    let warm = Guard::new(FunctionPolicy::default());
    let fresh = || Guard::new(FunctionPolicy::default());
    // Shapes where a constant decides, or where only the text around the statement differs.
    let pairs = [
        (
            "EXPLAIN (ANALYZE 'off') SELECT 1",
            "EXPLAIN (ANALYZE 'on') SELECT 1",
        ),
        (
            "SELECT * FROM orders LIMIT 5",
            "SELECT * FROM orders LIMIT 500000",
        ),
        ("SELECT 1 -- one", "SELECT 2 -- one"),
        ("/* a */ SELECT 'x' ;", "/* a */ SELECT 'a;b' ;"),
        ("SELECT 1", "SELECT $1"),
        ("SELECT -1", "SELECT - 1"),
        ("SELECT date '2024-01-01'", "SELECT date 7"),
        ("SELECT x::float(24)", "SELECT x::float(99)"),
        (
            "SELECT x::varchar(10) ORDER BY 1",
            "SELECT x::varchar(0) ORDER BY 2",
        ),
        ("SELECT 'a'\n'b'", "SELECT 'c'\n'd'"),
        (
            "SELECT id FROM orders WHERE id = 1",
            "SELECT id FROM orders WHERE id = U&'\\0041'",
        ),
    ];
    let mut compared = 0;
    for (first, then) in pairs {
        let _ = warm.check(first);
        assert_eq!(
            warm.check(then),
            fresh().check(then),
            "{then} after {first}"
        );
        compared += 1;
    }
    let lines = corpus("sql-attacks.jsonl")
        .into_iter()
        .chain(corpus("sql-legit.jsonl"));
    for line in lines {
        let _ = warm.check(&line.sql);
        for variant in constant_variants(&line.sql) {
            assert_eq!(
                warm.check(&variant),
                fresh().check(&variant),
                "{variant} after {}",
                line.sql
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} statements compared");
    assert!(
        warm.check("EXPLAIN (ANALYZE 'on') SELECT 1").is_err(),
        "an EXPLAIN's options are constants that decide"
    );
}
