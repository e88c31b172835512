//! The SQL server on SQLite as a black box, through the real binary: both spellings
//! (`server postgres` with a `sqlite:` URL, `server sqlite FILE`), the shared corpora against the
//! SQLite translation of the corpus schema, the catalog tools, resources, value rendering, budgets
//! and a missing file.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use support::{binary, corpus};
use switchboard_testkit::mcp::Client;
use switchboard_testkit::raw::{RawStdio, tool_call};
use switchboard_testkit::sqlite::{create, shop_db};

/// Legit corpus lines that are PostgreSQL-only, with the reason; every other line must be answered
/// on SQLite, and each of these must fail (so the list changes when SQLite's dialect does).
const POSTGRES_ONLY: &[(&str, &str)] = &[
    (
        "SELECT status, count(*) FROM orders WHERE created_at > now() - interval '24 hours' GROUP BY status",
        "now() and INTERVAL arithmetic (SQLite: datetime('now', '-24 hours'))",
    ),
    (
        "SELECT count(*) FROM orders WHERE status = 'failed' AND created_at > now() - interval '24 hours';",
        "now() and INTERVAL arithmetic",
    ),
    (
        "SELECT 'a;b' AS s, $$x;y$$ AS t",
        "dollar quoting ($$x is an SQLite parameter name)",
    ),
    (
        "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '7 days') SELECT status, sum(amount) FROM recent GROUP BY 1 ORDER BY 2 DESC",
        "now() and INTERVAL arithmetic",
    ),
    (
        "SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY amount) FROM orders",
        "ordered-set aggregates are not in SQLite's default build",
    ),
    (
        "SELECT c.name, o.last FROM customers c CROSS JOIN LATERAL (SELECT max(created_at) AS last FROM orders WHERE customer_id = c.id) o LIMIT 10",
        "LATERAL",
    ),
    (
        "SELECT date_trunc('hour', created_at) AS h, count(*) FILTER (WHERE status = 'failed') FROM orders GROUP BY 1 ORDER BY 1 DESC LIMIT 24",
        "date_trunc (SQLite: strftime)",
    ),
    (
        "SELECT d::date, count(o.id) FROM generate_series(current_date - 6, current_date, interval '1 day') d LEFT JOIN orders o ON o.created_at::date = d::date GROUP BY 1 ORDER BY 1",
        ":: casts, INTERVAL, and generate_series over dates",
    ),
    (
        "SELECT i.id, i.total FROM billing.invoices i JOIN orders o ON o.id = i.order_id LIMIT 5",
        "an SQLite schema is an attached database file; the fixture keeps the table as \
         billing_invoices in main, and the server refuses ATTACH",
    ),
    (
        "SELECT region, status, count(*) FROM customers JOIN orders ON orders.customer_id = customers.id GROUP BY GROUPING SETS ((region), (status))",
        "GROUPING SETS",
    ),
    ("TABLE canary", "the TABLE shorthand"),
    (
        "SELECT now(), current_date, current_setting('TimeZone')",
        "now() and current_setting",
    ),
    (
        "SELECT regexp_replace(email, '@.*', '') FROM customers WHERE email ILIKE '%@example.com' LIMIT 3",
        "regexp_replace and ILIKE",
    ),
    (
        "SELECT tags, array_length(tags, 1) FROM orders WHERE 't1' = ANY(tags) LIMIT 3",
        "arrays (the fixture stores tags as a JSON array)",
    ),
];

/// SQLite spellings of some PostgreSQL-only lines: they must be answered with rows.
const SQLITE_SPELLINGS: &[&str] = &[
    "SELECT status, count(*) FROM orders WHERE created_at > datetime('now', '-24 hours') GROUP BY status",
    "SELECT i.id, i.total FROM billing_invoices i JOIN orders o ON o.id = i.order_id LIMIT 5",
    "SELECT strftime('%Y-%m-%d %H:00', created_at) AS h, count(*) FILTER (WHERE status = 'failed') FROM orders GROUP BY 1 ORDER BY 1 DESC LIMIT 24",
    "SELECT tags, json_array_length(tags) FROM orders WHERE EXISTS (SELECT 1 FROM json_each(tags) WHERE value = 't1') LIMIT 3",
    "SELECT * FROM canary",
    "SELECT c.name, (SELECT max(created_at) FROM orders WHERE customer_id = c.id) AS last FROM customers c LIMIT 10",
];

struct Shop {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Shop {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = shop_db(dir.path()).expect("SQLite shop database");
        Self { _dir: dir, path }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// `switchboard server postgres` with `DATABASE_URL=sqlite:///…` and `extra` environment.
    async fn server(&self, extra: &[(&str, &str)]) -> Client {
        let mut env = HashMap::from([("DATABASE_URL".to_owned(), self.url())]);
        for (key, value) in extra {
            env.insert((*key).to_owned(), (*value).to_owned());
        }
        Client::spawn(binary(), &["server", "postgres"], &env)
            .await
            .expect("spawn the SQL server on SQLite")
    }
}

/// The file's bytes and mtime and its directory's entries: what an attack could change.
fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime, Vec<String>) {
    let mut entries: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    (
        std::fs::read(path).unwrap(),
        std::fs::metadata(path).unwrap().modified().unwrap(),
        entries,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_corpus_is_refused_or_harmless_on_sqlite() {
    const TIMEOUT_MS: u64 = 2000;
    let shop = Shop::new();
    let files = ["/tmp/switchboard_pwned", "/tmp/switchboard_canary.csv"];
    for file in files {
        let _ = std::fs::remove_file(file);
    }
    let before = fingerprint(&shop.path);
    let server = shop
        .server(&[("SWITCHBOARD_SQL_TIMEOUT_MS", &TIMEOUT_MS.to_string())])
        .await;
    let mut report = Vec::new();
    let mut ran = Vec::new();
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
            ran.push(sql.clone());
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
        let ping = server
            .call(
                "query",
                json!({ "sql": "SELECT note FROM canary WHERE id = 1" }),
            )
            .await
            .expect("server alive");
        assert_eq!(
            ping.ok()["rows"],
            json!([["must survive every attack"]]),
            "server broken or canary changed after {sql:?}"
        );
    }
    eprintln!("{}", report.join("\n"));
    assert!(ran.is_empty(), "attacks that ran on SQLite: {ran:?}");
    server.close().await.unwrap();
    assert_eq!(
        before,
        fingerprint(&shop.path),
        "the database file or its directory changed"
    );
    for file in files {
        assert!(!Path::new(file).exists(), "{file} was created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legit_corpus_is_answered_on_sqlite_except_the_listed_postgres_only_lines() {
    let shop = Shop::new();
    let server = shop.server(&[]).await;
    let lines = corpus("sql-legit.jsonl");
    for (sql, why) in &lines {
        let outcome = server.call("query", json!({ "sql": sql })).await.unwrap();
        if let Some((_, reason)) = POSTGRES_ONLY.iter().find(|(s, _)| s == sql) {
            assert!(
                outcome.is_error,
                "{sql:?} is listed as PostgreSQL-only ({reason}) but SQLite answered it: update the list"
            );
            continue;
        }
        let result = outcome.ok();
        let rows = result["rows"].as_array().unwrap();
        assert!(!rows.is_empty(), "{sql:?} ({why}) returned no rows");
        if sql == "SELECT * FROM orders" {
            assert_eq!(result["truncated"], json!(true), "{result}");
        }
    }
    for (sql, _) in POSTGRES_ONLY {
        assert!(
            lines.iter().any(|(line, _)| line == sql),
            "{sql:?} is no longer in the corpus: update the list"
        );
    }
    for sql in SQLITE_SPELLINGS {
        let outcome = server.call("query", json!({ "sql": sql })).await.unwrap();
        let rows = outcome.ok()["rows"].as_array().unwrap().len();
        assert!(rows > 0, "{sql:?} returned no rows");
    }
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_speak_sqlite_and_describe_the_schema() {
    let shop = Shop::new();
    // The alias spelling, with the file as an argument and no DATABASE_URL at all.
    let path = shop.path.display().to_string();
    let server = Client::spawn(binary(), &["server", "sqlite", &path], &HashMap::new())
        .await
        .unwrap();
    let tools = server.tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "describe_table",
            "explain",
            "list_schemas",
            "list_tables",
            "query"
        ]
    );
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        assert_eq!(annotations.destructive_hint, Some(false), "{}", tool.name);
        assert!(tool.output_schema.is_some(), "{}", tool.name);
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(
            !description.contains("PostgreSQL"),
            "{}: {description}",
            tool.name
        );
    }
    let query = tools.iter().find(|t| t.name == "query").unwrap();
    assert!(
        query
            .description
            .as_deref()
            .unwrap()
            .contains("SQLite dialect")
    );

    let schemas = server.call("list_schemas", json!({})).await.unwrap();
    assert_eq!(
        schemas.ok()["schemas"],
        json!([{ "name": "main", "file": path }])
    );

    let tables = server.call("list_tables", json!({})).await.unwrap();
    let tables = tables.ok()["tables"].as_array().unwrap().clone();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Order Items",
            "billing_invoices",
            "canary",
            "customers",
            "orders"
        ]
    );
    let customers = tables.iter().find(|t| t["name"] == "customers").unwrap();
    assert_eq!(
        customers,
        &json!({ "schema": "main", "name": "customers", "kind": "table", "estimated_rows": 200 })
    );

    let orders = server
        .call("describe_table", json!({ "table": "ORDERS" }))
        .await
        .unwrap();
    let orders = orders.ok();
    assert_eq!(
        (&orders["name"], &orders["primary_key"]),
        (&json!("orders"), &json!(["id"]))
    );
    let column = |name: &str| {
        orders["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        column("amount"),
        json!({ "name": "amount", "type": "NUMERIC(12,2)", "nullable": false, "default": null, "comment": null })
    );
    assert_eq!(column("currency")["default"], json!("'EUR'"));
    assert_eq!(
        column("id")["nullable"],
        json!(false),
        "the rowid key is never NULL"
    );
    assert_eq!(column("updated_at")["nullable"], json!(true));
    assert_eq!(
        orders["foreign_keys"],
        json!([{
            "name": "orders_customer_id_fkey", "columns": ["customer_id"], "references_schema": "main",
            "references_table": "customers", "references_columns": ["id"],
            "definition": "FOREIGN KEY (customer_id) REFERENCES customers(id)"
        }])
    );
    assert_eq!(
        orders["indexes"],
        json!([{
            "name": "orders_status_created_at", "unique": false, "primary": false,
            "definition": "CREATE INDEX orders_status_created_at ON orders (status, created_at)",
            "columns": ["status", "created_at"]
        }])
    );
    let items = server
        .call("describe_table", json!({ "table": "main.Order Items" }))
        .await
        .unwrap();
    let items = items.ok();
    assert_eq!(items["primary_key"], json!(["order_id", "sku"]));
    assert_eq!(items["indexes"][0]["primary"], json!(true));
    assert_eq!(
        items["indexes"][0]["definition"],
        json!("PRIMARY KEY (order_id, sku)")
    );
    assert_eq!(
        items["foreign_keys"][0]["references_table"],
        json!("orders")
    );
    let email = server
        .call("describe_table", json!({ "table": "customers" }))
        .await
        .unwrap();
    assert_eq!(
        email.ok()["indexes"][0],
        json!({ "name": "sqlite_autoindex_customers_1", "unique": true, "primary": false,
                "definition": "UNIQUE (email)", "columns": ["email"] })
    );
    let missing = server
        .call("describe_table", json!({ "table": "nope" }))
        .await
        .unwrap();
    assert!(
        missing.is_error && missing.text.contains("list_tables"),
        "{}",
        missing.text
    );

    let plan = server
        .call(
            "explain",
            json!({ "sql": "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = 'failed'" }),
        )
        .await
        .unwrap();
    let plan = plan.ok()["plan"].clone();
    let details: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["detail"].as_str().unwrap())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX orders_status_created_at")),
        "{plan}"
    );
    for refused in [
        "DELETE FROM canary",
        "EXPLAIN SELECT 1",
        "SELECT 1; SELECT 2",
    ] {
        let out = server
            .call("explain", json!({ "sql": refused }))
            .await
            .unwrap();
        assert!(
            out.is_error && out.text.starts_with("refused"),
            "{refused}: {}",
            out.text
        );
    }

    let resources = server.service().list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(uris.contains(&"sqlite:///main/Order%20Items"), "{uris:?}");
    let read = server
        .service()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "sqlite:///main/customers",
        ))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("text")
    };
    let described: Value = serde_json::from_str(text).unwrap();
    assert_eq!(described["name"], "customers");
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_budgets_and_errors_through_the_binary() {
    let shop = Shop::new();
    let server = shop
        .server(&[
            ("SWITCHBOARD_SQL_MAX_ROWS", "50"),
            ("SWITCHBOARD_SQL_MAX_BYTES", "4096"),
        ])
        .await;
    let out = server
        .call(
            "query",
            json!({ "sql": "SELECT NULL AS n, 9007199254740993 AS big, 0.5 AS r, 'zoë' AS t, x'00ff' AS b, amount, metadata ->> '$.channel' AS channel FROM orders WHERE id = 2" }),
        )
        .await
        .unwrap();
    let result = out.ok();
    assert_eq!(
        result["rows"],
        json!([[
            null,
            "9007199254740993",
            0.5,
            "zoë",
            "\\x00ff",
            0.29,
            "phone"
        ]])
    );
    assert_eq!(
        result["columns"][5],
        json!({ "name": "amount", "type": "NUMERIC(12,2)" })
    );
    let capped = server
        .call(
            "query",
            json!({ "sql": "SELECT id FROM orders ORDER BY id" }),
        )
        .await
        .unwrap();
    let capped = capped.ok();
    assert_eq!(
        (
            &capped["row_count"],
            &capped["truncated"],
            &capped["truncated_by"]
        ),
        (&json!(50), &json!(true), &json!("rows"))
    );
    let wide = server
        .call(
            "query",
            json!({ "sql": "SELECT id, printf('%.500c', 'x') FROM orders" }),
        )
        .await
        .unwrap();
    assert_eq!(wide.ok()["truncated_by"], json!("bytes"));
    let error = server
        .call("query", json!({ "sql": "SELECT nme FROM customers" }))
        .await
        .unwrap();
    assert!(
        error.is_error
            && error.text.contains("no such column: nme")
            && error.text.contains("at character 8")
            && error.text.contains("HINT"),
        "{}",
        error.text
    );
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_reported_and_picked_up_once_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.sqlite");
    // A plain path ending in .sqlite selects SQLite too.
    let env = HashMap::from([("DATABASE_URL".to_owned(), path.display().to_string())]);
    let server = Client::spawn(binary(), &["server", "postgres"], &env)
        .await
        .unwrap();
    let missing = server
        .call("query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap();
    assert!(
        missing.is_error && missing.text.contains("does not exist"),
        "{}",
        missing.text
    );
    assert!(!path.exists(), "the server must never create the file");
    create(&path, "CREATE TABLE t (x); INSERT INTO t VALUES (42)").unwrap();
    let found = server
        .call("query", json!({ "sql": "SELECT x FROM t" }))
        .await
        .unwrap();
    assert_eq!(found.ok()["rows"], json!([[42]]));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sqlite_refuses_a_postgres_url() {
    let output = tokio::process::Command::new(binary())
        .args(["server", "sqlite"])
        .env_clear()
        .env("DATABASE_URL", "postgres://u@127.0.0.1:1/db")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("serves an SQLite file"), "{stderr}");
}

/// A call the client cancels is not answered, and the server goes on answering what follows, in
/// order: on stdio a `tools/call` is served beside rmcp's service, and its cancellation must reach
/// it there.
#[tokio::test]
async fn a_query_cancelled_on_stdio_is_not_answered_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop_db(dir.path()).unwrap();
    let env = HashMap::from([(
        "DATABASE_URL".to_owned(),
        format!("sqlite://{}", db.display()),
    )]);
    let mut server = RawStdio::spawn(binary(), &["server", "postgres"], &env).unwrap();
    server.initialize().await.unwrap();
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) \
                SELECT count(*) AS n FROM c";
    server
        .send(&[
            tool_call(5, "query", json!({"sql": slow})),
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 5, "reason": "gave up"}}),
        ])
        .await
        .unwrap();
    // Long past the slow statement's end: an answer to it would be written before the next one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server
        .send(&[tool_call(6, "query", json!({"sql": "SELECT 1 AS one"}))])
        .await
        .unwrap();
    let answer = server.answer().await.unwrap();
    assert_eq!(answer["id"], 6, "the cancelled call was answered: {answer}");
    assert!(
        answer["result"]["content"][0]["text"].is_string(),
        "{answer}"
    );
    assert!(server.pings(7).await.unwrap());
}
