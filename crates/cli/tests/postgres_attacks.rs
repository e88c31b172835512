//! Every statement of the shared attack corpus, sent to a real `switchboard server postgres`
//! connected as the role that OWNS the tables (so the guard and the transaction are tested, not
//! the grants), is refused or harmless: nothing in the database, on disk or in other sessions
//! changes, timeouts end in time, and the server keeps answering.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{ShopDb, corpus};

/// The database state an attack could change, as comparable text.
async fn snapshot(client: &tokio_postgres::Client) -> Vec<String> {
    let queries = [
        "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM canary",
        "SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '') \
         || ':' || coalesce(obj_description(c.oid, 'pg_class'), ''), ',' ORDER BY n.nspname, c.relname) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        "SELECT count(*)::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')",
        "SELECT last_value::text || ':' || is_called::text FROM orders_id_seq",
        "SELECT count(*)::text FROM pg_largeobject_metadata",
        "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'",
        "SELECT coalesce(string_agg(setconfig::text, ','), '') FROM pg_db_role_setting",
        "SELECT count(*)::text FROM orders",
        "SELECT count(*)::text FROM pg_prepared_xacts",
    ];
    let mut out = Vec::new();
    for sql in queries {
        let row = client
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        out.push(format!("{sql} => {:?}", row.get::<_, Option<String>>(0)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_corpus_is_refused_or_harmless() {
    const TIMEOUT_MS: u64 = 2000;
    let shop = ShopDb::new().await;
    let files = ["/tmp/switchboard_pwned", "/tmp/switchboard_canary.csv"];
    for file in files {
        let _ = std::fs::remove_file(file);
    }
    let admin = shop.db.connect().await.expect("admin connection");
    // Another session that must stay untouched (pg_terminate_backend would kill it).
    let bystander = shop.db.connect().await.expect("bystander connection");
    let before = snapshot(&admin).await;
    let server = shop
        .server(&[("SWITCHBOARD_SQL_TIMEOUT_MS", &TIMEOUT_MS.to_string())])
        .await;

    let mut report = Vec::new();
    for (sql, why) in corpus("sql-attacks.jsonl") {
        let started = Instant::now();
        let outcome = server
            .call("query", json!({ "sql": sql }))
            .await
            .expect("protocol-level success");
        let elapsed = started.elapsed();
        assert!(
            elapsed <= Duration::from_millis(TIMEOUT_MS + 1000),
            "{sql:?} ({why}) took {elapsed:?}, more than the timeout + 1 s"
        );
        if !outcome.is_error {
            // A statement that ran must have been read-only and bounded: it returns rows only.
            let result = outcome.ok();
            assert!(result["rows"].is_array(), "{sql:?} returned {result}");
        }
        report.push(format!(
            "{:>5} ms {} {sql} — {}",
            elapsed.as_millis(),
            if outcome.is_error {
                "refused/failed"
            } else {
                "ran"
            },
            outcome.text.lines().next().unwrap_or("")
        ));
        // The server still answers after every attack.
        let ping = server
            .call("query", json!({ "sql": "SELECT 1 AS ok" }))
            .await
            .expect("server alive");
        assert_eq!(
            ping.ok()["rows"],
            json!([[1]]),
            "server broken after {sql:?}"
        );
    }
    eprintln!("{}", report.join("\n"));

    let after = snapshot(&admin).await;
    assert_eq!(before, after, "the database changed");
    for file in files {
        assert!(!std::path::Path::new(file).exists(), "{file} was created");
    }
    bystander
        .simple_query("SELECT 1")
        .await
        .expect("the other session was disturbed");
    // The pooled connections kept the session settings they were made with: read-only, and
    // the configured timeout.
    for (sql, expected) in [
        ("SHOW default_transaction_read_only", "on"),
        ("SHOW statement_timeout", "2s"),
    ] {
        let setting = server.call("query", json!({ "sql": sql })).await.unwrap();
        assert_eq!(setting.ok()["rows"], json!([[expected]]), "{sql}");
    }
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legit_corpus_is_answered() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    for (sql, why) in corpus("sql-legit.jsonl") {
        let outcome = server.call("query", json!({ "sql": sql })).await.unwrap();
        let result = outcome.ok();
        let rows = result["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{sql}: {result}"));
        assert!(!rows.is_empty(), "{sql:?} ({why}) returned no rows");
        if sql == "SELECT * FROM orders" {
            assert_eq!(
                result["truncated"],
                json!(true),
                "unbounded query must be flagged truncated"
            );
        }
    }
    server.close().await.unwrap();
}
