//! End-to-end cases for [`Guard::check`]: each rule at the depths and places it must reach.

use super::{Checked, FunctionName, FunctionPolicy, Guard, Refusal, StatementKind};

fn guard() -> Guard {
    Guard::new(FunctionPolicy::default())
}

#[track_caller]
fn passes(sql: &str) -> Checked {
    match guard().check(sql) {
        Ok(checked) => checked,
        Err(refusal) => panic!("{sql:?} was refused: {refusal}"),
    }
}

#[track_caller]
fn refused(sql: &str) -> Refusal {
    match guard().check(sql) {
        Ok(checked) => panic!("{sql:?} passed: {checked:?}"),
        Err(refusal) => refusal,
    }
}

#[track_caller]
fn refused_by(sql: &str, rule: &str) -> Refusal {
    let refusal = refused(sql);
    assert_eq!(refusal.rule(), rule, "{sql:?}: {refusal}");
    refusal
}

#[track_caller]
fn denied_function(sql: &str) -> String {
    match refused(sql) {
        Refusal::DeniedFunction { function, .. } => function.to_string(),
        other => panic!("{sql:?} refused by another rule: {other}"),
    }
}

fn unqualified(names: &[&str]) -> Vec<FunctionName> {
    names
        .iter()
        .map(|name| FunctionName::unqualified(*name))
        .collect()
}

#[test]
fn one_statement_with_optional_semicolons_and_comments() {
    assert_eq!(passes("SELECT 1").sql, "SELECT 1");
    assert_eq!(passes("SELECT 1;").sql, "SELECT 1");
    assert_eq!(passes("SELECT 1;;").sql, "SELECT 1");
    assert_eq!(
        passes("  /* c */ SELECT 1 -- t\n ; ; -- end").sql,
        "SELECT 1"
    );
    assert_eq!(passes("SELECT 1 /* ; */ + 2").sql, "SELECT 1 /* ; */ + 2");
    assert!(matches!(
        refused("SELECT 1; SELECT 2"),
        Refusal::MultipleStatements { count: 2 }
    ));
    assert!(matches!(
        refused("SELECT 1;SELECT 2;SELECT 3;"),
        Refusal::MultipleStatements { count: 3 }
    ));
    assert_eq!(
        refused("SELECT 1; SELECT 2").to_string(),
        "2 statements found; send exactly one statement"
    );
}

#[test]
fn empty_text_and_comment_only_text_are_refused() {
    for sql in ["", "   \n\t", "-- nothing", "/* nothing */", ";", " ; ; "] {
        assert_eq!(refused(sql), Refusal::Empty, "{sql:?}");
    }
}

#[test]
fn syntax_errors_carry_postgresql_message_and_position() {
    let refusal = refused("SELECT FROM WHERE");
    assert_eq!(
        refusal,
        Refusal::Syntax {
            message: "syntax error at or near \"WHERE\"".to_owned(),
            position: Some(13)
        }
    );
    assert!(refusal.to_string().contains("at character 13"), "{refusal}");
    assert!(matches!(
        refused("SELECT (1"),
        Refusal::Syntax {
            position: Some(10),
            ..
        }
    ));
    assert!(matches!(
        refused("SELECT 'x"),
        Refusal::Syntax {
            position: Some(8),
            ..
        }
    ));
    assert!(matches!(
        refused("SELECT 1\0; DROP TABLE t"),
        Refusal::Syntax {
            position: Some(9),
            ..
        }
    ));
}

#[test]
fn allowed_kinds_are_select_explain_and_show() {
    assert_eq!(passes("SELECT * FROM orders").kind, StatementKind::Select);
    assert_eq!(passes("VALUES (1), (2)").kind, StatementKind::Select);
    assert_eq!(passes("TABLE orders").kind, StatementKind::Select);
    assert_eq!(
        passes("SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3").kind,
        StatementKind::Select
    );
    assert_eq!(
        passes("(SELECT 1) INTERSECT (SELECT 1)").kind,
        StatementKind::Select
    );
    assert_eq!(
        passes("WITH a AS (SELECT 1) SELECT * FROM a").kind,
        StatementKind::Select
    );
    assert_eq!(passes("EXPLAIN SELECT 1").kind, StatementKind::Explain);
    assert_eq!(
        passes("EXPLAIN (FORMAT JSON, VERBOSE, COSTS off) SELECT 1").kind,
        StatementKind::Explain
    );
    assert_eq!(
        passes("EXPLAIN VERBOSE SELECT 1").kind,
        StatementKind::Explain
    );
    assert_eq!(passes("SHOW ALL").kind, StatementKind::Show);
    assert_eq!(passes("SHOW search_path").kind, StatementKind::Show);
    assert_eq!(passes("show TIME ZONE").kind, StatementKind::Show);
}

#[test]
fn other_statement_kinds_are_refused_by_name() {
    for (sql, kind) in [
        ("DROP TABLE canary", "DROP TABLE"),
        ("COMMIT", "COMMIT"),
        ("ROLLBACK", "ROLLBACK"),
        ("BEGIN", "BEGIN"),
        ("SET TRANSACTION READ WRITE", "SET TRANSACTION"),
        ("SET ROLE postgres", "SET"),
        ("RESET ROLE", "RESET"),
        ("DELETE FROM canary", "DELETE"),
        ("INSERT INTO canary VALUES (1)", "INSERT"),
        ("UPDATE canary SET note = 'x'", "UPDATE"),
        ("CREATE TEMP TABLE t AS SELECT 1", "CREATE TABLE AS"),
        ("COPY (SELECT 1) TO PROGRAM 'id'", "COPY"),
        ("DO $$ BEGIN END $$", "DO"),
        ("LOCK TABLE canary IN ACCESS EXCLUSIVE MODE", "LOCK TABLE"),
        ("NOTIFY ch, 'x'", "NOTIFY"),
        ("GRANT ALL ON canary TO PUBLIC", "GRANT"),
        ("DECLARE c CURSOR FOR SELECT 1", "DECLARE CURSOR"),
        ("CALL p()", "CALL"),
        ("VACUUM", "VACUUM"),
    ] {
        assert_eq!(
            refused(sql),
            Refusal::StatementNotAllowed {
                kind: kind.to_owned()
            },
            "{sql}"
        );
    }
    assert_eq!(
        refused("DROP TABLE canary").to_string(),
        "DROP TABLE is not allowed: only SELECT, EXPLAIN (without ANALYZE) and SHOW can run"
    );
}

#[test]
fn explain_analyze_is_refused_in_every_spelling() {
    for sql in [
        "EXPLAIN ANALYZE SELECT 1",
        "EXPLAIN ANALYSE SELECT 1",
        "EXPLAIN ANALYZE VERBOSE SELECT 1",
        "EXPLAIN (ANALYZE) SELECT 1",
        "EXPLAIN (analyze) SELECT 1",
        "EXPLAIN (ANALYZE true) SELECT 1",
        "EXPLAIN (ANALYZE on) SELECT 1",
        "EXPLAIN (ANALYZE 1) SELECT 1",
        "EXPLAIN (ANALYZE yes) SELECT 1",
        "EXPLAIN (FORMAT JSON, ANALYZE) SELECT 1",
        "EXPLAIN (ANALYZE false, ANALYZE true) SELECT 1",
        "EXPLAIN ANALYZE DELETE FROM canary",
    ] {
        assert_eq!(refused(sql), Refusal::ExplainAnalyze, "{sql}");
    }
    for sql in [
        "EXPLAIN (ANALYZE false) SELECT 1",
        "EXPLAIN (ANALYZE off, COSTS false) SELECT 1",
        "EXPLAIN (ANALYZE 0) SELECT 1",
    ] {
        assert_eq!(passes(sql).kind, StatementKind::Explain, "{sql}");
    }
    refused_by("EXPLAIN (TIMING) SELECT 1", "explain_option");
    refused_by("EXPLAIN (WAL) SELECT 1", "explain_option");
    refused_by("EXPLAIN (\"analyse\") SELECT 1", "explain_option");
}

#[test]
fn explain_checks_its_inner_statement_with_every_rule() {
    assert_eq!(
        refused("EXPLAIN DELETE FROM canary"),
        Refusal::StatementNotAllowed {
            kind: "EXPLAIN DELETE".to_owned()
        }
    );
    refused_by("EXPLAIN INSERT INTO t SELECT 1", "statement_kind");
    refused_by("EXPLAIN CREATE TABLE t AS SELECT 1", "statement_kind");
    refused_by("EXPLAIN EXECUTE p", "statement_kind");
    refused_by(
        "EXPLAIN WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "data_modifying_cte",
    );
    refused_by("EXPLAIN SELECT * FROM t FOR UPDATE", "locking_clause");
    refused_by("EXPLAIN SELECT * INTO x FROM t", "select_into");
    assert_eq!(
        denied_function("EXPLAIN SELECT pg_read_file('/etc/passwd')"),
        "pg_read_file"
    );
    assert_eq!(
        passes("EXPLAIN SELECT my_fn(1)").unknown_functions,
        unqualified(&["my_fn"])
    );
}

#[test]
fn data_modifying_ctes_are_refused_at_any_depth() {
    for (sql, kind) in [
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d",
            "DELETE",
        ),
        (
            "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u",
            "UPDATE",
        ),
        (
            "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i",
            "INSERT",
        ),
        (
            "WITH m AS (MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.*) \
             SELECT * FROM m",
            "MERGE",
        ),
        // unused, yet still executed by PostgreSQL
        ("WITH d AS (DELETE FROM t) SELECT 1", "DELETE"),
        // inside a subquery in FROM, WHERE and the select list
        (
            "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s",
            "DELETE",
        ),
        (
            "SELECT 1 WHERE EXISTS (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d)",
            "DELETE",
        ),
        (
            "SELECT (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d)",
            "DELETE",
        ),
        // a CTE inside a CTE
        (
            "WITH a AS (WITH b AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM b) SELECT * FROM a",
            "UPDATE",
        ),
        // inside a set operation branch and a LATERAL subquery
        (
            "SELECT 1 UNION ALL (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d)",
            "DELETE",
        ),
        (
            "SELECT * FROM t, LATERAL (WITH d AS (DELETE FROM u RETURNING 1) SELECT * FROM d) l",
            "DELETE",
        ),
    ] {
        assert_eq!(
            refused(sql),
            Refusal::DataModifyingCte {
                kind: match kind {
                    "DELETE" => "DELETE",
                    "UPDATE" => "UPDATE",
                    "INSERT" => "INSERT",
                    _ => "MERGE",
                }
            },
            "{sql}"
        );
    }
}

#[test]
fn select_into_is_refused_anywhere() {
    refused_by("SELECT * INTO canary_copy FROM canary", "select_into");
    refused_by("SELECT 1 AS a INTO TEMP t", "select_into");
    // PostgreSQL's analysis would reject INTO here; the guard refuses it before that.
    refused_by("SELECT * FROM (SELECT 1 INTO t) s", "select_into");
    refused_by("SELECT 1 UNION SELECT 2 INTO t", "select_into");
}

#[test]
fn locking_clauses_are_refused_at_any_depth() {
    for (sql, clause) in [
        ("SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
        ("SELECT * FROM t FOR NO KEY UPDATE", "FOR NO KEY UPDATE"),
        ("SELECT * FROM t FOR SHARE", "FOR SHARE"),
        ("SELECT * FROM t FOR KEY SHARE SKIP LOCKED", "FOR KEY SHARE"),
        ("SELECT * FROM (SELECT * FROM t FOR UPDATE) s", "FOR UPDATE"),
        (
            "SELECT 1 WHERE 1 IN (SELECT id FROM t FOR SHARE)",
            "FOR SHARE",
        ),
        (
            "WITH a AS (SELECT * FROM t FOR UPDATE NOWAIT) SELECT * FROM a",
            "FOR UPDATE",
        ),
        ("SELECT (SELECT id FROM t LIMIT 1 FOR UPDATE)", "FOR UPDATE"),
    ] {
        assert_eq!(refused(sql), Refusal::LockingClause { clause }, "{sql}");
    }
}

#[test]
fn denied_functions_are_found_everywhere_in_the_tree() {
    for sql in [
        "SELECT pg_sleep(1)",
        "SELECT * FROM pg_sleep(1)",
        "SELECT * FROM ROWS FROM (generate_series(1, 2), pg_sleep(1)) r",
        "SELECT * FROM t CROSS JOIN LATERAL pg_sleep(1) s",
        "SELECT * FROM t CROSS JOIN LATERAL (SELECT pg_sleep(t.a)) s",
        "SELECT * FROM t WHERE pg_sleep(1) IS NULL",
        "SELECT a FROM t GROUP BY a HAVING max(pg_sleep(1)::text) IS NULL",
        "SELECT * FROM t ORDER BY pg_sleep(1)",
        "SELECT * FROM t GROUP BY pg_sleep(1)",
        "SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM t",
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY pg_sleep(1)::text::float) FROM t",
        "SELECT row_number() OVER (PARTITION BY pg_sleep(1) ORDER BY a) FROM t",
        "SELECT sum(a) OVER w FROM t WINDOW w AS (ORDER BY pg_sleep(1))",
        "SELECT string_agg(a, ',' ORDER BY pg_sleep(1)) FROM t",
        "WITH s AS (SELECT pg_sleep(1)) SELECT * FROM s",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE pg_sleep(0) IS NULL) \
         SELECT * FROM r",
        "SELECT (SELECT pg_sleep(1))",
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM t WHERE a = pg_sleep(1)::text)",
        "SELECT 1 UNION SELECT pg_sleep(1)::int",
        "SELECT CASE WHEN true THEN pg_sleep(1) END",
        "SELECT coalesce(pg_sleep(1)::text, 'x')",
        "SELECT ARRAY[pg_sleep(1)]",
        "SELECT pg_sleep(1)::text COLLATE \"C\"",
        "SELECT * FROM t LIMIT (SELECT pg_sleep(1))::int",
        "SELECT DISTINCT ON (pg_sleep(1)) a FROM t",
        "SELECT * FROM t TABLESAMPLE bernoulli (pg_sleep(1)::int)",
        "SELECT xmlelement(name a, pg_sleep(1))",
        "SELECT json_object('k': pg_sleep(1)::text)",
        "SELECT * FROM XMLTABLE('/a' PASSING (pg_sleep(1)::text::xml) COLUMNS x int)",
        "SELECT lower(upper(pg_sleep(1)::text))",
        "SELECT f(x => pg_sleep(1))",
        "SELECT * FROM t JOIN u ON pg_sleep(1) IS NULL",
        "VALUES (pg_sleep(1))",
        "EXPLAIN SELECT pg_sleep(1)",
    ] {
        assert_eq!(denied_function(sql), "pg_sleep", "{sql}");
    }
}

#[test]
fn deny_list_matches_qualified_and_quoted_look_alikes() {
    assert_eq!(
        denied_function("SELECT pg_catalog.pg_read_file('/etc/passwd')"),
        "pg_catalog.pg_read_file"
    );
    assert_eq!(
        denied_function("SELECT mydb.pg_catalog.pg_read_file('x')"),
        "pg_catalog.pg_read_file"
    );
    // Quoted identifiers are case-sensitive: "PG_READ_FILE" is another function, and still not
    // allowed as known safe (the deny-list compares case-insensitively).
    assert_eq!(
        denied_function("SELECT \"PG_READ_FILE\"('x')"),
        "PG_READ_FILE"
    );
    assert_eq!(
        denied_function("SELECT \"pg_catalog\".\"pg_ls_dir\"('/')"),
        "pg_catalog.pg_ls_dir"
    );
    assert_eq!(denied_function("SELECT PG_SLEEP(1)"), "pg_sleep");
    assert_eq!(
        denied_function("SELECT * FROM pg_read_file('/etc/passwd')"),
        "pg_read_file"
    );
    // A function with the same name in another schema is not the built-in: unknown.
    assert_eq!(
        passes("SELECT public.pg_read_file('x')").unknown_functions,
        vec![FunctionName::qualified("public", "pg_read_file")]
    );
    let refusal = refused("SELECT set_config('default_transaction_read_only', 'off', false)");
    assert_eq!(
        refusal.to_string(),
        "set_config is refused: it changes session settings; rewrite the query without it"
    );
}

#[test]
fn corpus_style_attacks_name_their_function() {
    for (sql, name) in [
        ("SELECT pg_ls_dir('/')", "pg_ls_dir"),
        ("SELECT lo_import('/etc/passwd')", "lo_import"),
        ("SELECT lo_export(1, '/tmp/x')", "lo_export"),
        ("SELECT nextval('orders_id_seq')", "nextval"),
        ("SELECT setval('orders_id_seq', 1)", "setval"),
        ("SELECT pg_advisory_lock(42)", "pg_advisory_lock"),
        (
            "SELECT pg_try_advisory_xact_lock(42)",
            "pg_try_advisory_xact_lock",
        ),
        (
            "SELECT query_to_xml('DELETE FROM canary RETURNING 1', true, false, '')",
            "query_to_xml",
        ),
        (
            "SELECT * FROM ts_stat('DELETE FROM canary RETURNING 1')",
            "ts_stat",
        ),
        (
            "SELECT table_to_xml('canary', true, false, '')",
            "table_to_xml",
        ),
        (
            "SELECT dblink_exec('dbname=x', 'DROP TABLE canary')",
            "dblink_exec",
        ),
        (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
            "pg_terminate_backend",
        ),
        ("SELECT pg_cancel_backend(1)", "pg_cancel_backend"),
        ("SELECT pg_reload_conf()", "pg_reload_conf"),
        ("SELECT pg_notify('ch', 'x')", "pg_notify"),
        ("SELECT pg_switch_wal()", "pg_switch_wal"),
        (
            "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
            "pg_create_logical_replication_slot",
        ),
        (
            "SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)",
            "pg_logical_slot_get_changes",
        ),
        ("SELECT pg_stat_reset()", "pg_stat_reset"),
        ("SELECT pg_sleep_for('1 hour')", "pg_sleep_for"),
    ] {
        assert_eq!(denied_function(sql), name, "{sql}");
    }
}

#[test]
fn allowed_and_unknown_functions_are_told_apart() {
    let checked = passes(
        "SELECT count(*), now(), date_trunc('day', created_at), pg_catalog.lower(x), my_fn(a), \
         util.score(b), random(), my_fn(c), \"COUNT\"(d) FROM t",
    );
    assert_eq!(
        checked.unknown_functions,
        vec![
            FunctionName::unqualified("my_fn"),
            FunctionName::qualified("util", "score"),
            FunctionName::unqualified("random"),
            FunctionName::unqualified("COUNT"),
        ]
    );
    // SQL-standard forms that the parser turns into pg_catalog calls are known.
    let checked = passes(
        "SELECT EXTRACT(year FROM ts), ts AT TIME ZONE 'UTC', TRIM(both FROM s), \
         SUBSTRING(s FROM 1 FOR 2), POSITION('a' IN s), OVERLAY(s PLACING 'y' FROM 1), \
         s SIMILAR TO 'a%', (a, b) OVERLAPS (c, d), COLLATION FOR (s), s IS NORMALIZED, \
         CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, LOCALTIME, \
         coalesce(a, 1), nullif(a, 1), greatest(a, b), least(a, b), CAST(a AS text), a::int, \
         ROW(1, 2), ARRAY[1, 2], GROUPING(a) FROM t GROUP BY a",
    );
    assert_eq!(checked.unknown_functions, vec![]);
}

#[test]
fn extra_allowed_and_override_denied_come_from_configuration() {
    let configured = Guard::new(FunctionPolicy {
        extra_allowed: vec!["random".into(), "util.score".into(), "pg_sleep".into()],
        override_denied: vec![],
    });
    let checked = configured
        .check("SELECT random(), util.score(1), other()")
        .expect("passes");
    assert_eq!(checked.unknown_functions, unqualified(&["other"]));
    // Configuration alone cannot allow a deny-listed function.
    assert_eq!(
        configured.check("SELECT pg_sleep(1)").map_err(|r| r.rule()),
        Err("denied_function")
    );

    let overridden = Guard::new(FunctionPolicy {
        extra_allowed: vec![],
        override_denied: vec!["pg_sleep".into()],
    });
    // Off the deny-list, but not known safe: the executor's volatility check decides.
    assert_eq!(
        overridden
            .check("SELECT pg_sleep(1)")
            .expect("passes")
            .unknown_functions,
        unqualified(&["pg_sleep"])
    );

    let both = Guard::new(FunctionPolicy {
        extra_allowed: vec!["pg_sleep".into()],
        override_denied: vec!["pg_sleep".into()],
    });
    assert_eq!(
        both.check("SELECT pg_sleep(1)")
            .expect("passes")
            .unknown_functions,
        vec![]
    );
}

#[test]
fn unusual_but_read_only_constructs_pass() {
    for sql in [
        "SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1)",
        "SELECT * FROM generate_series(1, 3) WITH ORDINALITY AS g(n, i)",
        "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['a', 'b'])) r(a, b)",
        "SELECT * FROM jsonb_to_record('{\"a\": 1}') AS x(a int)",
        "SELECT * FROM XMLTABLE('/r/a' PASSING ('<r><a>1</a></r>'::xml) COLUMNS v int PATH '.')",
        "SELECT * FROM JSON_TABLE('[1,2]'::jsonb, '$[*]' COLUMNS (v int PATH '$'))",
        "SELECT JSON_QUERY('{\"a\":1}'::jsonb, '$.a'), '{}'::jsonb IS JSON OBJECT",
        "SELECT JSON_OBJECTAGG(k VALUE v), JSON_ARRAYAGG(v ORDER BY v) FROM t",
        "SELECT xmlserialize(content '<a/>'::xml AS text)",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) \
         SEARCH DEPTH FIRST BY n SET o CYCLE n SET c USING p SELECT * FROM r",
        "WITH a AS MATERIALIZED (SELECT 1), b AS NOT MATERIALIZED (SELECT 2) SELECT * FROM a, b",
        "SELECT a, sum(b) FROM t GROUP BY ROLLUP (a), CUBE (b), GROUPING SETS ((a), ())",
        "SELECT * FROM t WHERE a = ANY ('{1,2}'::int[]) AND b BETWEEN 1 AND 2 AND c IS NOT NULL",
        "SELECT * FROM t WHERE a IS DISTINCT FROM b AND c IS TRUE AND d LIKE 'x%' ESCAPE '!'",
        "SELECT arr[1], arr[1:2], (rec).field, t.* FROM t",
        "SELECT * FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES",
        "SELECT $1::int",
        "SELECT a OPERATOR(pg_catalog.+) 1 FROM t",
        "SELECT * FROM ONLY t",
    ] {
        assert_eq!(passes(sql).kind, StatementKind::Select, "{sql}");
    }
}

#[test]
fn very_long_input_is_checked() {
    let list: Vec<String> = (0..50_000).map(|i| i.to_string()).collect();
    let sql = format!("SELECT count(*) FROM t WHERE a IN ({})", list.join(", "));
    assert_eq!(passes(&sql).kind, StatementKind::Select);
    let sql = format!("SELECT {} FROM t", vec!["lower(a)"; 20_000].join(", "));
    assert_eq!(passes(&sql).unknown_functions, vec![]);
    let sql = format!("SELECT '{}'", "x".repeat(1_000_000));
    assert_eq!(passes(&sql).sql.len(), 1_000_009);
    let sql = format!("SELECT {}, pg_sleep(1)", vec!["1"; 20_000].join(", "));
    assert_eq!(denied_function(&sql), "pg_sleep");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // Nested parentheses fold away in the tree; PostgreSQL's parser stops at its own stack limit.
    let sql = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    refused_by(&sql, "syntax");
    let sql = format!("SELECT {}1{}", "(SELECT ".repeat(500), ")".repeat(500));
    let refusal = refused_by(&sql, "syntax");
    assert!(
        refusal.to_string().contains("stack depth limit exceeded"),
        "{refusal}"
    );
    // Deep trees the parser accepts but pg_query cannot decode are refused, not crashed.
    let sql = format!("SELECT {}1{}", "(SELECT ".repeat(40), ")".repeat(40));
    refused_by(&sql, "too_complex");
    let sql = format!("SELECT 1{}", " + 1".repeat(100));
    refused_by(&sql, "too_complex");
    let sql = format!("SELECT 1{}", " + 1".repeat(100_000));
    let refusal = refused(&sql);
    assert!(
        matches!(refusal.rule(), "syntax" | "too_complex"),
        "{refusal}"
    );
    // Moderate nesting passes.
    let sql = format!("SELECT {}1{}", "(SELECT ".repeat(10), ")".repeat(10));
    passes(&sql);
    let sql = format!("SELECT 1{}", " + 1".repeat(30));
    passes(&sql);
}

#[test]
fn statement_text_is_exactly_the_statement() {
    let checked =
        passes("-- failed orders today\nSELECT count(*) /* all */ FROM orders ;  -- done");
    assert_eq!(checked.sql, "SELECT count(*) /* all */ FROM orders");
    assert_eq!(
        passes("EXPLAIN (COSTS off) SELECT 1;").sql,
        "EXPLAIN (COSTS off) SELECT 1"
    );
    assert_eq!(passes("  SHOW ALL  ").sql, "SHOW ALL");
}

#[test]
fn a_statement_seen_before_gets_the_same_verdict_under_its_own_guards_policy() {
    let guard = guard();
    let denied = "SELECT pg_sleep(1) -- again";
    let refusal = guard.check(denied).unwrap_err();
    assert_eq!(
        guard.check(denied).unwrap_err(),
        refusal,
        "a refusal stays one"
    );

    let sql = "SELECT random(), upper(name) FROM t ORDER BY 1 LIMIT 3;";
    let first = guard.check(sql).unwrap();
    assert_eq!(first.unknown_functions, unqualified(&["random"]));
    assert_eq!(guard.check(sql).unwrap(), first);
    assert_eq!(guard.clone().check(sql).unwrap(), first, "clones share it");

    let configured = Guard::new(FunctionPolicy {
        extra_allowed: vec!["random".into()],
        override_denied: vec!["pg_sleep".into()],
    });
    assert_eq!(configured.check(sql).unwrap().unknown_functions, vec![]);
    assert!(
        configured.check(denied).is_ok(),
        "another policy decides anew"
    );
    assert_eq!(guard.check(sql).unwrap(), first);
}
