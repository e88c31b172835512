//! The guard, differentially against real PostgreSQL: statements generated from a grammar over
//! SELECT / CTE / function-call / subquery shapes (with every `pg_catalog` function of simple
//! argument types, volatile or not) and from the shared corpora's lines and fragments are checked
//! by the guard; each one it allows (and whose unknown functions are not volatile, the executor's
//! check) runs as the role that owns the tables, in a read-write transaction that is rolled back,
//! with the other layers (read-only transaction, role checks) deliberately absent. Within the
//! transaction it may not have written a row (the transaction's own counters,
//! `pg_stat_xact_user_tables`); afterwards nothing observable may differ: row counts, the
//! catalog, sequences, the session's settings, advisory locks, large objects, prepared statements
//! and cursors, another session of the same role, and server-written files in the temporary
//! directory. Each table's checksum of every row, the one costly part (tens of milliseconds),
//! is compared every [`FULL_EVERY`] allowed statements and at the end of a run, naming the
//! statements since the last comparison when it differs.
//!
//! Counter-examples found are kept, one per line, in `tests/corpus/guard-counterexamples.jsonl`
//! and replayed by `guard_counterexamples_stay_harmless`. The long run: `SWITCHBOARD_FUZZ_CASES=N`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::{Just, Strategy, prop, prop_oneof};
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::Value;
use switchboard_sql::guard::{FunctionPolicy, Guard};
use switchboard_testkit::fuzz;
use switchboard_testkit::pg::{TestDb, connect};
use tokio_postgres::Client;

/// Everything a statement could change that a rollback does not undo, or that the rollback undoes
/// only if the statement kept to the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    values: BTreeMap<String, String>,
    files: Vec<(String, u64)>,
}

const SNAPSHOT_QUERIES: &[(&str, &str)] = &[
    (
        "tables",
        "SELECT string_agg(format('%s.%s', schemaname, relname), ',' ORDER BY 1) FROM pg_stat_user_tables",
    ),
    (
        "catalog",
        "SELECT md5(string_agg(format('%s:%s:%s:%s', c.oid, c.relname, c.relkind, c.relacl), ',' ORDER BY c.oid)) \
         FROM pg_class c",
    ),
    (
        "functions",
        "SELECT md5(string_agg(format('%s:%s:%s', oid, proname, proacl), ',' ORDER BY oid)) FROM pg_proc",
    ),
    (
        "namespaces_roles",
        // pg_roles is the whole cluster's, and other tests create roles at the same time: only
        // the roles that own something in this database (and the one running) are compared,
        // with the attributes an escalation would change.
        "SELECT (SELECT md5(string_agg(nspname || coalesce(nspacl::text, ''), ',' ORDER BY oid)) FROM pg_namespace) \
         || (SELECT md5(string_agg(format('%s:%s%s%s%s', rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls), ',' ORDER BY oid)) \
             FROM pg_roles WHERE oid IN (SELECT nspowner FROM pg_namespace UNION SELECT relowner FROM pg_class \
             UNION SELECT proowner FROM pg_proc UNION SELECT oid FROM pg_roles WHERE rolname = current_user))",
    ),
    (
        "sequences",
        "SELECT string_agg(format('%s.%s=%s', schemaname, sequencename, last_value), ',' ORDER BY 1) FROM pg_sequences",
    ),
    (
        "settings",
        "SELECT md5(string_agg(name || '=' || setting, ',' ORDER BY name)) FROM pg_settings",
    ),
    (
        "advisory_locks",
        "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    ),
    (
        "session_locks",
        "SELECT count(*)::text FROM pg_locks WHERE pid = pg_backend_pid() AND locktype NOT IN ('virtualxid', 'relation')",
    ),
    (
        "large_objects",
        "SELECT count(*)::text FROM pg_largeobject_metadata",
    ),
    (
        "prepared_cursors",
        "SELECT (SELECT count(*) FROM pg_prepared_statements WHERE from_sql)::text || '/' \
         || (SELECT count(*) FROM pg_cursors)::text || '/' || (SELECT count(*) FROM pg_prepared_xacts)::text",
    ),
    (
        "listen",
        "SELECT count(*)::text FROM pg_listening_channels()",
    ),
];

/// Allowed statements between two comparisons of the tables' checksums.
const FULL_EVERY: usize = 128;

/// The corpus schema's tables, each as a row count and a checksum of its rows.
const TABLES: &[&str] = &[
    "customers",
    "orders",
    "\"Order Items\"",
    "billing.invoices",
    "canary",
];

struct Fixture {
    _db: TestDb,
    owner: Client,
    other: Client,
    /// The last snapshot without checksums (the state before the next statement), the last
    /// checksums, and the statements allowed since.
    last: std::sync::Mutex<(Option<Snapshot>, Option<Snapshot>, Vec<String>)>,
    guard: Guard,
    /// Names of `pg_catalog` functions with a volatile overload (the executor's check).
    volatile: Vec<String>,
    functions: Vec<(String, Vec<String>)>,
}

impl Fixture {
    async fn new() -> Self {
        let mut db = TestDb::new().await.expect("test database");
        let owner_role = db
            .create_role("sb_fuzz_owner", "")
            .await
            .expect("owner role");
        let schema = TestDb::corpus_file("schema.sql").expect("corpus schema");
        db.load(Some(&owner_role), &schema)
            .await
            .expect("load schema");
        let owner = connect(&db.url_as(&owner_role, None)).await.expect("owner");
        let other = connect(&db.url_as(&owner_role, None))
            .await
            .expect("second session");
        let volatile = owner
            .query(
                "SELECT DISTINCT proname::text FROM pg_proc WHERE provolatile = 'v'",
                &[],
            )
            .await
            .expect("volatile functions")
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Functions every argument of which the generator can write a literal for.
        let functions = owner
            .query(
                "SELECT proname::text, array(SELECT format_type(t, NULL) FROM unnest(proargtypes) t)::text[] \
                 FROM pg_proc p WHERE pronamespace = 'pg_catalog'::regnamespace AND prokind = 'f' \
                 AND pronargs <= 3 AND NOT EXISTS ( \
                   SELECT 1 FROM unnest(proargtypes) t WHERE t NOT IN \
                   ('int4'::regtype, 'int8'::regtype, 'text'::regtype, 'oid'::regtype, 'regclass'::regtype, \
                    'bool'::regtype, 'bytea'::regtype, 'name'::regtype, 'float8'::regtype, 'numeric'::regtype, \
                    'jsonb'::regtype, 'timestamptz'::regtype, 'int2'::regtype)) \
                 ORDER BY 1, 2",
                &[],
            )
            .await
            .expect("functions")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Self {
            _db: db,
            owner,
            other,
            last: std::sync::Mutex::default(),
            guard: Guard::new(FunctionPolicy::default()),
            volatile,
            functions,
        }
    }

    /// What [`Snapshot`] compares, read in one round trip: each of [`SNAPSHOT_QUERIES`] and
    /// each table's row count — and, when `checksums`, each table's checksum of every row
    /// instead.
    async fn snapshot(&self, checksums: bool) -> Result<Snapshot, String> {
        static SQL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            [false, true].map(|checksums| {
                let columns: Vec<String> = SNAPSHOT_QUERIES
                    .iter()
                    .map(|(_, query)| format!("({query})"))
                    .chain(TABLES.iter().map(|table| {
                        if checksums {
                            format!(
                                "(SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t)"
                            )
                        } else {
                            format!("(SELECT count(*)::text FROM {table})")
                        }
                    }))
                    .collect();
                format!("SELECT {}", columns.join(", "))
            })
        });
        let row = self
            .owner
            .query_one(sql[usize::from(checksums)].as_str(), &[])
            .await
            .map_err(|e| format!("snapshot: {e}"))?;
        let names = SNAPSHOT_QUERIES
            .iter()
            .map(|(name, _)| *name)
            .chain(TABLES.iter().copied());
        let values = names
            .enumerate()
            .map(|(i, name)| {
                (
                    name.to_owned(),
                    row.get::<_, Option<String>>(i).unwrap_or_default(),
                )
            })
            .collect();
        Ok(Snapshot {
            values,
            files: server_files(Path::new("/tmp")),
        })
    }

    /// Compares the tables' checksums with the last comparison's (the first call takes them).
    async fn compare_checksums(&self) -> Result<(), String> {
        let now = self.snapshot(true).await?;
        let (last, statements) = {
            let mut last = self.last.lock().unwrap();
            (last.1.replace(now.clone()), std::mem::take(&mut last.2))
        };
        match last {
            Some(last) if last != now => Err(format!(
                "the tables' rows changed during one of these statements: {statements:?}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether the executor would run the statement: the guard allows it and none of its unknown
    /// functions has a volatile overload.
    fn allowed(&self, sql: &str) -> Option<String> {
        let checked = self.guard.check(sql).ok()?;
        let volatile = checked.unknown_functions.iter().any(|f| {
            self.volatile
                .iter()
                .any(|v| v.eq_ignore_ascii_case(&f.name))
        });
        (!volatile).then_some(checked.sql)
    }

    /// Runs an allowed statement in a rolled-back transaction; returns what changed.
    async fn differential(&self, sql: &str) -> Result<(), String> {
        match self.allowed(sql) {
            Some(statement) => self.observe(sql, &statement).await,
            None => Ok(()),
        }
    }

    /// Runs `statement` (the guard's text of `sql`) in a rolled-back transaction, whatever the
    /// guard says; returns what it wrote or changed.
    async fn observe(&self, sql: &str, statement: &str) -> Result<(), String> {
        let taken = self.last.lock().unwrap().0.take();
        let before = match taken {
            Some(before) => before,
            None => self.snapshot(false).await?,
        };
        self.owner
            .batch_execute(
                "BEGIN; SET LOCAL statement_timeout = '1s'; SET LOCAL lock_timeout = '500ms'",
            )
            .await
            .map_err(|e| format!("begin: {e}"))?;
        // Rows written inside the transaction, even though the rollback undoes them: the
        // backend's counters not yet reported (earlier transactions' too) before and after.
        let written = async || -> Result<i64, String> {
            Ok(self
                .owner
                .query_one(
                    "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int8 \
                     FROM pg_stat_xact_user_tables",
                    &[],
                )
                .await
                .map_err(|e| format!("the transaction's counters: {e}"))?
                .get(0))
        };
        let before_writes = written().await?;
        let outcome = self.owner.query(statement, &[]).await;
        let written = if outcome.is_ok() {
            written().await? - before_writes
        } else {
            0
        };
        self.owner
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| format!("rollback: {e}"))?;
        if written != 0 {
            return Err(format!("{sql:?} wrote {written} rows (rolled back)"));
        }
        let after = self.snapshot(false).await?;
        let full = {
            let mut last = self.last.lock().unwrap();
            last.0 = Some(after.clone());
            last.2.push(sql.to_owned());
            last.2.len() >= FULL_EVERY
        };
        if full {
            self.compare_checksums().await?;
        }
        if let Err(e) = self.other.query_one("SELECT 1", &[]).await {
            return Err(format!("{sql:?} ended another session: {e}"));
        }
        if before != after {
            let changed: Vec<&String> = before
                .values
                .iter()
                .filter(|(k, v)| after.values.get(*k) != Some(*v))
                .map(|(k, _)| k)
                .collect();
            return Err(format!(
                "{sql:?} (which {}) changed {changed:?}{}",
                if outcome.is_ok() {
                    "succeeded"
                } else {
                    "failed"
                },
                if before.files != after.files {
                    " and server files"
                } else {
                    ""
                },
            ));
        }
        Ok(())
    }
}

/// Files under `dir` owned by another user than this process (the database server's).
fn server_files(dir: &Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            (meta.uid() != me)
                .then(|| (entry.file_name().to_string_lossy().into_owned(), meta.len()))
        })
        .collect();
    files.sort();
    files
}

fn corpus_lines(name: &str) -> Vec<String> {
    TestDb::corpus_file(name)
        .expect("the shared corpus")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["sql"].as_str().map(str::to_owned))
        .collect()
}

/// A literal of a type the function list admits.
fn literal(kind: &str) -> BoxedStrategy<String> {
    let pick = |items: &[&str]| {
        prop::sample::select(items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).boxed()
    };
    match kind {
        "integer" | "bigint" | "smallint" | "oid" | "numeric" | "double precision" => {
            pick(&["0", "1", "2", "42", "-1", "1000", "1259", "16384"])
        }
        "boolean" => pick(&["true", "false"]),
        "regclass" => pick(&[
            "'orders_id_seq'",
            "'canary'",
            "'orders'",
            "'customers_id_seq'",
            "'pg_class'",
        ]),
        "bytea" => pick(&["'\\x00'::bytea", "'abc'::bytea"]),
        "jsonb" => pick(&["'{}'::jsonb", "'[1]'::jsonb", "metadata"]),
        "timestamp with time zone" => pick(&["now()", "created_at", "'2020-01-01'::timestamptz"]),
        _ => pick(&[
            "'orders_id_seq'",
            "'canary'",
            "'x'",
            "'/tmp/sb_fuzz_file'",
            "'public.orders_id_seq'",
            "'default_transaction_read_only'",
            "'work_mem'",
            "'off'",
            "'1MB'",
            "name",
            "status",
            "'DELETE FROM canary'",
            "'SELECT 1'",
            "'sb_fuzz_channel'",
        ]),
    }
}

/// A function call from the catalog with generated arguments.
fn call(functions: &[(String, Vec<String>)]) -> BoxedStrategy<String> {
    let functions = functions.to_vec();
    prop::sample::select(functions)
        .prop_flat_map(|(name, args)| {
            let args: Vec<BoxedStrategy<String>> = args.iter().map(|a| literal(a)).collect();
            let spelling = prop::sample::select(vec![
                name.clone(),
                format!("pg_catalog.{name}"),
                format!("\"{name}\""),
                name.to_uppercase(),
            ]);
            (spelling, args).prop_map(|(spelling, args)| format!("{spelling}({})", args.join(", ")))
        })
        .boxed()
}

/// A scalar expression.
fn expr(functions: &[(String, Vec<String>)], fragments: &[String]) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        2 => call(functions),
        1 => prop::sample::select(vec!["1", "id", "'x'", "NULL", "now()", "count(*) OVER ()", "amount * 2"])
            .prop_map(str::to_owned),
    ]
    .boxed();
    let fragments = fragments.to_vec();
    leaf.prop_recursive(3, 12, 3, move |inner| {
        let subquery = select_core(inner.clone(), fragments.clone());
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("coalesce({a}, {b})")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("CASE WHEN {a} IS NULL THEN {b} END")),
            subquery.clone().prop_map(|s| format!("({s})")),
            subquery.prop_map(|s| format!("EXISTS ({s})")),
            inner.prop_map(|a| format!("({a})::text")),
        ]
        .boxed()
    })
    .boxed()
}

/// `SELECT expr [FROM ...] [WHERE ...]`, with expressions from `inner`.
fn select_core(inner: BoxedStrategy<String>, fragments: Vec<String>) -> BoxedStrategy<String> {
    let from = prop_oneof![
        4 => prop::sample::select(vec![
            "", " FROM orders", " FROM canary", " FROM customers c", " FROM billing.invoices",
            " FROM \"Order Items\"", " FROM generate_series(1, 3) g(id)", " FROM pg_class",
            " FROM orders o JOIN customers c ON c.id = o.customer_id",
        ])
        .prop_map(str::to_owned),
        1 => inner.clone().prop_map(|e| format!(" FROM (SELECT {e} AS id) s")),
        1 => inner.clone().prop_map(|e| format!(" FROM orders, LATERAL (SELECT {e}) l")),
        1 => inner.clone().prop_map(|e| format!(" FROM ROWS FROM ({e}) r")),
        1 => prop::sample::select(fragments).prop_map(|f| format!(" FROM ({}) f", f.trim_end_matches(';'))),
    ];
    let tail = prop::sample::select(vec![
        "",
        " LIMIT 1",
        " ORDER BY 1",
        " GROUP BY 1",
        " LIMIT 0",
        " OFFSET 1",
    ]);
    (inner.clone(), from, prop::option::of(inner), tail)
        .prop_map(|(e, from, filter, tail)| {
            let filter = filter
                .map(|f| format!(" WHERE ({f}) IS NOT NULL"))
                .unwrap_or_default();
            format!("SELECT {e}{from}{filter}{tail}")
        })
        .boxed()
}

fn statement(fixture: &Fixture, corpus: &[String]) -> BoxedStrategy<String> {
    let functions = fixture.functions.clone();
    let inner = expr(&functions, corpus);
    let core = select_core(inner.clone(), corpus.to_vec());
    let cte = (
        core.clone(),
        core.clone(),
        prop::sample::select(vec!["", " MATERIALIZED", " NOT MATERIALIZED"]),
    )
        .prop_map(|(a, b, m)| format!("WITH w AS{m} ({a}) {b}"));
    let set_op = (
        core.clone(),
        core.clone(),
        prop::sample::select(vec!["UNION", "UNION ALL", "EXCEPT", "INTERSECT"]),
    )
        .prop_map(|(a, b, op)| format!("{a} {op} {b}"));
    let explain = core
        .clone()
        .prop_map(|s| format!("EXPLAIN (COSTS false) {s}"));
    prop_oneof![
        6 => core,
        2 => cte,
        1 => set_op,
        1 => explain,
        1 => prop::sample::select(corpus.to_vec()),
        1 => Just("SHOW ALL".to_owned()),
    ]
    .boxed()
}

fn counterexamples_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/guard-counterexamples.jsonl")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn prop_guard_allowed_statements_change_nothing_as_table_owner() {
    let runtime = runtime();
    let fixture = runtime.block_on(Fixture::new());
    let mut corpus = corpus_lines("sql-legit.jsonl");
    corpus.extend(corpus_lines("sql-attacks.jsonl"));
    let strategy = statement(&fixture, &corpus);
    let mut runner = TestRunner::new(fuzz::config(150));
    runtime.block_on(fixture.compare_checksums()).unwrap();
    let result = runner.run(&strategy, |sql| {
        runtime
            .block_on(fixture.differential(&sql))
            .map_err(TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    runtime.block_on(fixture.compare_checksums()).unwrap();
}

/// The check itself sees each kind of change a statement could make: rows written and rolled
/// back, a sequence advanced, a session lock kept, a prepared statement left behind, and rows
/// changed by another session between two checksum comparisons.
#[test]
fn the_check_sees_what_a_harmful_statement_would_change() {
    let runtime = runtime();
    let fixture = runtime.block_on(Fixture::new());
    runtime.block_on(fixture.compare_checksums()).unwrap();
    for (sql, seen) in [
        ("INSERT INTO canary VALUES (2, 'x')", "wrote 1 rows"),
        ("SELECT nextval('orders_id_seq')", "sequences"),
        ("SELECT pg_advisory_lock(42)", "advisory_locks"),
        ("PREPARE kept AS SELECT 1", "prepared_cursors"),
    ] {
        let found = runtime.block_on(fixture.observe(sql, sql)).expect_err(sql);
        assert!(found.contains(seen), "{sql}: {found}");
    }
    runtime
        .block_on(
            fixture
                .other
                .batch_execute("INSERT INTO canary VALUES (3, 'y')"),
        )
        .unwrap();
    let found = runtime.block_on(fixture.compare_checksums()).unwrap_err();
    assert!(found.contains("rows changed"), "{found}");
}

/// Every corpus line and every counter-example found so far, replayed.
#[test]
fn guard_counterexamples_stay_harmless() {
    let runtime = runtime();
    let fixture = runtime.block_on(Fixture::new());
    let mut lines = corpus_lines("sql-legit.jsonl");
    lines.extend(corpus_lines("sql-attacks.jsonl"));
    let text = std::fs::read_to_string(counterexamples_file()).unwrap_or_default();
    lines.extend(
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["sql"].as_str().map(str::to_owned)),
    );
    runtime.block_on(fixture.compare_checksums()).unwrap();
    for sql in lines {
        if let Err(error) = runtime.block_on(fixture.differential(&sql)) {
            panic!("{error}");
        }
    }
    runtime.block_on(fixture.compare_checksums()).unwrap();
}
