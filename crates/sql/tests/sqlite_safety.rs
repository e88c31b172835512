//! The SQLite backend's own safety layers, through its public API on a real database file: attacks
//! written in SQLite's dialect are refused (by the authorizer, the read-only test, the
//! one-statement rule or the engine limits) or harmless, and leave the file, its directory and the
//! canary untouched; long statements end at the deadline; results stop at the row and byte budgets;
//! values render like the PostgreSQL renderer; a missing file is a clear, recoverable error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use switchboard_sql::error::QueryError;
use switchboard_sql::model::{Limits, TruncatedBy};
use switchboard_sql::sqlite::Sqlite;
use switchboard_testkit::sqlite::{create, shop_db};

const TIMEOUT: Duration = Duration::from_millis(1500);

fn limits() -> Limits {
    Limits {
        max_rows: 200,
        max_bytes: 64 * 1024,
        timeout: TIMEOUT,
    }
}

/// What an attack could change: the file's bytes and mtime, the directory's entries, the canary.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    bytes: Vec<u8>,
    modified: SystemTime,
    entries: Vec<String>,
    tmp_files: Vec<bool>,
}

const TMP_FILES: &[&str] = &[
    "/tmp/switchboard_sqlite_attached.db",
    "/tmp/switchboard_sqlite_attached2.db",
    "/tmp/switchboard_sqlite_vacuum.db",
    "/tmp/switchboard_pwned",
    "/tmp/switchboard_canary.csv",
];

fn snapshot(path: &Path) -> Snapshot {
    let dir = path.parent().unwrap();
    let mut entries: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    Snapshot {
        bytes: std::fs::read(path).unwrap(),
        modified: std::fs::metadata(path).unwrap().modified().unwrap(),
        entries,
        tmp_files: TMP_FILES.iter().map(|f| Path::new(f).exists()).collect(),
    }
}

fn shop() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = shop_db(dir.path()).unwrap();
    (dir, path)
}

/// SQLite-dialect attacks, each with the words its refusal must contain.
const ATTACKS: &[(&str, &str)] = &[
    (
        "ATTACH DATABASE '/tmp/switchboard_sqlite_attached.db' AS evil",
        "ATTACH",
    ),
    (
        "ATTACH 'file:/tmp/switchboard_sqlite_attached2.db?mode=rwc' AS evil",
        "ATTACH",
    ),
    ("DETACH DATABASE main", "DETACH"),
    ("VACUUM INTO '/tmp/switchboard_sqlite_vacuum.db'", "refused"),
    ("VACUUM", "refused"),
    ("PRAGMA query_only = OFF", "would change a setting"),
    ("PRAGMA query_only = 0; DELETE FROM canary", "would change"),
    ("PRAGMA writable_schema = ON", "not allowed"),
    ("PRAGMA journal_mode = WAL", "not allowed"),
    ("PRAGMA temp_store_directory = '/tmp'", "not allowed"),
    ("PRAGMA hard_heap_limit = 1", "not allowed"),
    ("PRAGMA wal_checkpoint(TRUNCATE)", "not allowed"),
    ("PRAGMA optimize", "not allowed"),
    ("PRAGMA user_version = 7", "would change a setting"),
    // Pragma table-valued functions exist only for pragmas that return rows, and never take the
    // value of a setting.
    ("SELECT * FROM pragma_user_version(7)", "too many arguments"),
    (
        "SELECT load_extension('/tmp/switchboard_pwned')",
        "load code",
    ),
    ("SELECT fts3_tokenizer('simple')", "load code"),
    ("BEGIN", "transaction control"),
    ("BEGIN IMMEDIATE", "transaction control"),
    ("COMMIT", "transaction control"),
    ("END", "transaction control"),
    ("ROLLBACK", "transaction control"),
    ("SAVEPOINT s", "SAVEPOINT"),
    ("RELEASE s", "SAVEPOINT"),
    ("DELETE FROM canary RETURNING *", "DELETE from canary"),
    (
        "INSERT INTO canary VALUES (2, 'x') RETURNING id",
        "INSERT into canary",
    ),
    (
        "UPDATE canary SET note = 'x' RETURNING note",
        "UPDATE of canary",
    ),
    ("REPLACE INTO canary VALUES (1, 'x')", "INSERT into canary"),
    (
        "INSERT INTO canary SELECT id + 10, note FROM canary",
        "INSERT into canary",
    ),
    ("DROP TABLE canary", "schema changes"),
    ("CREATE TABLE t (x)", "schema changes"),
    ("CREATE TEMP TABLE t AS SELECT 1", "schema changes"),
    ("CREATE TEMP VIEW v AS SELECT 1", "schema changes"),
    (
        "CREATE TEMP TRIGGER tr AFTER INSERT ON canary BEGIN DELETE FROM canary; END",
        "schema changes",
    ),
    ("ALTER TABLE canary RENAME TO c2", "schema changes"),
    ("CREATE INDEX i ON canary (note)", "schema changes"),
    ("REINDEX", "schema changes"),
    ("ANALYZE", "ANALYZE"),
    (
        "CREATE VIRTUAL TABLE temp.f USING fts5(x)",
        "schema changes",
    ),
    ("EXPLAIN DELETE FROM canary", "DELETE from canary"),
    ("SELECT 1; DELETE FROM canary", "several statements"),
    (
        "SELECT 1 /* ; */ ; DELETE FROM canary",
        "several statements",
    ),
    ("SELECT 1; SELECT 2", "several statements"),
    ("SELECT 1; garbage", "several statements"),
    ("SELECT ?", "parameters"),
    ("SELECT * FROM canary WHERE id = :id", "parameters"),
    ("SELECT $x", "parameters"),
    ("", "no statement"),
    ("  -- only a comment\n ;", "no statement"),
    ("SELECT zeroblob(200000000)", "too big"),
    ("SELECT randomblob(100000000)", "too big"),
    ("SELECT printf('%.*c', 100000000, 'x')", "too big"),
    ("SELECT * FROM sqlite_dbpage", "no such table"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_attacks_are_refused_and_change_nothing() {
    let (_dir, path) = shop();
    for file in TMP_FILES {
        let _ = std::fs::remove_file(file);
    }
    let before = snapshot(&path);
    let db = Sqlite::new(path.clone(), limits());
    let mut wrong = Vec::new();
    let mut report = Vec::new();
    for (sql, expected) in ATTACKS {
        let started = Instant::now();
        match db.query(sql, None).await {
            Ok(rows) => wrong.push(format!("{sql:?} ran: {rows:?}")),
            Err(error) if !error.to_string().contains(expected) => wrong.push(format!(
                "{sql:?} failed for another reason than {expected:?}: {error}"
            )),
            Err(error) => report.push(format!(
                "{sql:?} — {}",
                error.to_string().lines().next().unwrap_or("")
            )),
        }
        assert!(
            started.elapsed() < TIMEOUT + Duration::from_secs(1),
            "{sql:?} took {:?}",
            started.elapsed()
        );
        let canary = db
            .query("SELECT id, note FROM canary", None)
            .await
            .unwrap_or_else(|e| panic!("the server broke after {sql:?}: {e}"));
        assert_eq!(
            canary.rows,
            vec![vec![json!(1), json!("must survive every attack")]]
        );
    }
    eprintln!("{}", report.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The connections still read only: query_only is still on in every pooled connection.
    for _ in 0..4 {
        let rows = db.query("PRAGMA query_only", None).await.unwrap();
        assert_eq!(rows.rows, vec![vec![json!(1)]]);
    }
    assert_eq!(
        before,
        snapshot(&path),
        "the database file or its directory changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_statements_end_at_the_deadline_and_the_pool_recovers() {
    let (_dir, path) = shop();
    let db = Sqlite::new(path, limits());
    for sql in [
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "SELECT count(*) FROM orders a, orders b, orders c",
        "SELECT a.id FROM orders a, orders b ORDER BY a.amount * b.amount LIMIT 1",
    ] {
        let started = Instant::now();
        let error = db.query(sql, None).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(error, QueryError::Timeout(t) if t == TIMEOUT),
            "{sql}: {error}"
        );
        assert!(error.to_string().contains("1500 ms"), "{error}");
        assert!(
            elapsed >= TIMEOUT && elapsed < TIMEOUT + Duration::from_secs(1),
            "{sql}: {elapsed:?}"
        );
    }
    // As many at once as there are connections: each ends at its own deadline, and a call made
    // meanwhile waits for a free connection, then is answered.
    let slow =
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r";
    let started = Instant::now();
    let busy = futures::future::join_all((0..4).map(|_| db.query(slow, None)));
    let waiting = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        db.query("SELECT count(*) FROM canary", None).await
    };
    let (results, waited) = tokio::join!(busy, waiting);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(QueryError::Timeout(_)))),
        "{results:?}"
    );
    assert_eq!(waited.unwrap().rows, vec![vec![json!(1)]]);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= TIMEOUT && elapsed < TIMEOUT + Duration::from_secs(1),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn results_stop_at_the_row_and_byte_budgets() {
    let (_dir, path) = shop();
    let db = Sqlite::new(
        path,
        Limits {
            max_rows: 50,
            max_bytes: 4096,
            timeout: TIMEOUT,
        },
    );
    let rows = db
        .query("SELECT id FROM orders ORDER BY id", None)
        .await
        .unwrap();
    assert_eq!(
        (rows.row_count, rows.truncated, rows.truncated_by),
        (50, true, Some(TruncatedBy::Rows))
    );
    assert_eq!(rows.rows[49], vec![json!(50)]);
    let fewer = db.query("SELECT id FROM orders", Some(7)).await.unwrap();
    assert_eq!(fewer.row_count, 7);
    let more = db.query("SELECT id FROM orders", Some(5000)).await.unwrap();
    assert_eq!(more.row_count, 50);
    let exact = db
        .query("SELECT id FROM orders WHERE id <= 50", None)
        .await
        .unwrap();
    assert_eq!(
        (exact.row_count, exact.truncated, exact.truncated_by),
        (50, false, None)
    );
    let wide = db
        .query("SELECT id, printf('%.500c', 'x') FROM orders", None)
        .await
        .unwrap();
    assert_eq!(wide.truncated_by, Some(TruncatedBy::Bytes));
    let encoded = serde_json::to_vec(&wide.rows).unwrap().len();
    assert!(
        encoded <= 4096 && wide.row_count >= 6,
        "{encoded} bytes, {} rows",
        wide.row_count
    );
    // One value bigger than the whole budget: no rows, flagged, never copied into the result.
    let huge = db.query("SELECT zeroblob(1000000)", None).await.unwrap();
    assert_eq!(
        (huge.row_count, huge.truncated_by),
        (0, Some(TruncatedBy::Bytes))
    );
}

#[tokio::test]
async fn values_render_like_postgres_where_the_types_meet() {
    let (_dir, path) = shop();
    let db = Sqlite::new(path, limits());
    let rows = db
        .query(
            "SELECT NULL AS n, 42 AS small, 9007199254740993 AS big, -9223372036854775808 AS min, \
             0.1 AS real, 1e999 AS inf, 'zoë' AS txt, x'deadbeef' AS bin, id, amount, metadata \
             FROM orders WHERE id = 1",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        rows.rows[0],
        vec![
            json!(null),
            json!(42),
            json!("9007199254740993"),
            json!("-9223372036854775808"),
            json!(0.1),
            json!("Infinity"),
            json!("zoë"),
            json!("\\xdeadbeef"),
            json!(1),
            json!(0.14),
            json!("{\"channel\":\"app\"}"),
        ]
    );
    let types: Vec<&str> = rows.columns.iter().map(|c| c.type_name.as_str()).collect();
    assert_eq!(
        types,
        [
            "",
            "integer",
            "integer",
            "integer",
            "real",
            "real",
            "text",
            "blob",
            "INTEGER",
            "NUMERIC(12,2)",
            "TEXT"
        ]
    );
}

#[tokio::test]
async fn errors_carry_sqlites_message_position_and_a_hint() {
    let (_dir, path) = shop();
    let db = Sqlite::new(path, limits());
    let error = db
        .query("SELECT nme FROM customers", None)
        .await
        .unwrap_err();
    let QueryError::Database(error) = error else {
        panic!("{error}")
    };
    assert_eq!(
        (error.code.as_str(), error.message.as_str(), error.position),
        ("SQLITE_ERROR", "no such column: nme", Some(8))
    );
    assert!(
        error.to_string().contains("HINT: call describe_table"),
        "{error}"
    );
    let error = db
        .query("SELECT now()", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no such function: now") && error.contains("datetime('now'"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_file_is_a_clear_error_until_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.db");
    let db = Sqlite::new(path.clone(), limits());
    let error = db.query("SELECT 1", None).await.unwrap_err().to_string();
    assert!(
        error.contains("does not exist") && error.contains(&path.display().to_string()),
        "{error}"
    );
    assert!(!path.exists(), "opening must never create the file");
    std::fs::write(
        &path,
        b"this is not a database, just text that is long enough to check",
    )
    .unwrap();
    let error = db.query("SELECT 1", None).await.unwrap_err().to_string();
    assert!(error.contains("not a database"), "{error}");
    std::fs::remove_file(&path).unwrap();
    create(&path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
    let rows = db.query("SELECT x FROM t", None).await.unwrap();
    assert_eq!(rows.rows, vec![vec![json!(1)]]);
}

#[tokio::test]
async fn a_wal_database_is_read_without_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    create(
        &path,
        "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1)",
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    assert_eq!((before[18], before[19]), (2, 2), "the file is in WAL mode");
    let db = Sqlite::new(path.clone(), limits());
    let rows = db.query("SELECT x FROM t", None).await.unwrap();
    assert_eq!(rows.rows, vec![vec![json!(1)]]);
    drop(db);
    assert_eq!(
        before,
        std::fs::read(&path).unwrap(),
        "the database changed"
    );
    // The WAL protocol needs its shared-memory and log files; a reader creates them when the
    // writer is not running, as any SQLite reader would. The log stays empty.
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["wal.db", "wal.db-shm", "wal.db-wal"]);
    assert_eq!(
        std::fs::metadata(dir.path().join("wal.db-wal"))
            .unwrap()
            .len(),
        0
    );
}
