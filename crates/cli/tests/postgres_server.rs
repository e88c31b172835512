//! `switchboard server postgres` as a black box: tools and their metadata, value rendering,
//! budgets, catalog tools, resources, errors, and recovery from database failures.

mod support;

use std::collections::HashMap;

use serde_json::{Value, json};
use support::{ShopDb, binary};
use switchboard_testkit::mcp::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed_with_truthful_annotations_and_output_schemas() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
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
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
    }
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_rendered_faithfully() {
    let shop = ShopDb::new().await;
    shop.db
        .load(
            Some(&shop.owner),
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE DOMAIN positive AS int CHECK (VALUE > 0);",
        )
        .await
        .unwrap();
    let server = shop.server(&[]).await;
    let sql = "SELECT NULL::int AS n, true AS b, 32767::int2 AS i2, 9007199254740993::int8 AS big, 42::int8 AS small, \
        12345678901234567890.123456789::numeric AS num, 0.1::float8 AS f, 'NaN'::float8 AS nan, \
        '2024-05-01 12:30:00+02'::timestamptz AS tz, '2024-05-01 12:30:00.5'::timestamp AS ts, \
        '2024-02-29'::date AS d, '13:45:01'::time AS t, '1 year 2 months 3 days 04:05:06'::interval AS iv, \
        '{\"a\": [1, 2.5, null]}'::jsonb AS jb, '[1,2]'::json AS j, ARRAY[1, NULL, 3] AS arr, \
        ARRAY[['a','b'],['c','d']] AS arr2, 'a1b2c3d4-0000-4000-8000-000000000001'::uuid AS u, \
        '\\xdeadbeef'::bytea AS bin, 'happy'::mood AS e, 5::positive AS dom, '10.0.0.1/8'::inet AS net, \
        'abc'::char(5) AS padded, '(1,2)'::point AS pt, '{happy,sad}'::mood[] AS moods";
    let out = server.call("query", json!({ "sql": sql })).await.unwrap();
    let result = out.ok();
    let row = &result["rows"][0];
    let expected = json!([
        null, true, 32767, "9007199254740993", 42, "12345678901234567890.123456789", 0.1, "NaN",
        "2024-05-01T10:30:00Z", "2024-05-01T12:30:00.500", "2024-02-29", "13:45:01",
        "1 year 2 mons 3 days 04:05:06", {"a": [1, 2.5, null]}, [1, 2], [1, null, 3],
        [["a", "b"], ["c", "d"]], "a1b2c3d4-0000-4000-8000-000000000001", "\\xdeadbeef", "happy", 5,
        "10.0.0.1/8", "abc  ", "(1,2)", ["happy", "sad"]
    ]);
    assert_eq!(row, &expected);
    let types: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[3], "int8");
    assert_eq!(types[15], "int4[]");
    assert_eq!(types[21], "inet");
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_capped_by_rows_and_bytes() {
    let shop = ShopDb::new().await;
    let server = shop
        .server(&[
            ("SWITCHBOARD_SQL_MAX_ROWS", "50"),
            ("SWITCHBOARD_SQL_MAX_BYTES", "4096"),
        ])
        .await;
    let rows = server
        .call(
            "query",
            json!({ "sql": "SELECT id FROM orders ORDER BY id" }),
        )
        .await
        .unwrap();
    let result = rows.ok();
    assert_eq!(
        (
            result["row_count"].as_u64(),
            &result["truncated"],
            &result["truncated_by"]
        ),
        (Some(50), &json!(true), &json!("rows"))
    );
    assert_eq!(result["rows"][49], json!([50]));
    let fewer = server
        .call(
            "query",
            json!({ "sql": "SELECT id FROM orders", "max_rows": 7 }),
        )
        .await
        .unwrap();
    assert_eq!(fewer.ok()["row_count"], json!(7));
    // max_rows can only lower the budget.
    let more = server
        .call(
            "query",
            json!({ "sql": "SELECT id FROM orders", "max_rows": 5000 }),
        )
        .await
        .unwrap();
    assert_eq!(more.ok()["row_count"], json!(50));
    let wide = server
        .call(
            "query",
            json!({ "sql": "SELECT id, repeat('x', 500) FROM orders" }),
        )
        .await
        .unwrap();
    let result = wide.ok();
    assert_eq!(result["truncated_by"], json!("bytes"));
    let encoded = serde_json::to_vec(&result["rows"]).unwrap().len();
    assert!(
        encoded <= 4096,
        "rows take {encoded} bytes, over the 4096 budget"
    );
    assert!(result["row_count"].as_u64().unwrap() >= 6);
    // Exactly at the budget: not truncated.
    let exact = server
        .call(
            "query",
            json!({ "sql": "SELECT g FROM generate_series(1, 50) g" }),
        )
        .await
        .unwrap();
    assert_eq!(exact.ok()["truncated"], json!(false));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_tools_describe_the_schema() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    let schemas = server.call("list_schemas", json!({})).await.unwrap();
    let names: Vec<&str> = schemas.ok()["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing", "public"]);

    let tables = server
        .call("list_tables", json!({ "schema": "public" }))
        .await
        .unwrap();
    let tables = tables.ok()["tables"].as_array().unwrap().clone();
    let customers = tables
        .iter()
        .find(|t| t["name"] == "customers")
        .expect("customers listed");
    assert_eq!(customers["kind"], "table");
    assert_eq!(
        customers["comment"],
        "People and companies that place orders"
    );
    assert_eq!(customers["estimated_rows"], 200);
    assert!(tables.iter().any(|t| t["name"] == "Order Items"));

    let orders = server
        .call("describe_table", json!({ "table": "orders" }))
        .await
        .unwrap();
    let orders = orders.ok();
    assert_eq!(orders["primary_key"], json!(["id"]));
    let amount = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "amount")
        .unwrap();
    assert_eq!(
        (amount["type"].as_str(), &amount["nullable"]),
        (Some("numeric(12,2)"), &json!(false))
    );
    assert_eq!(orders["foreign_keys"][0]["references_table"], "customers");
    assert!(
        orders["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "orders_status_created_at")
    );

    let items = server
        .call("describe_table", json!({ "table": "Order Items" }))
        .await
        .unwrap();
    assert_eq!(items.ok()["primary_key"], json!(["order_id", "sku"]));
    let invoices = server
        .call("describe_table", json!({ "table": "billing.invoices" }))
        .await
        .unwrap();
    assert_eq!(invoices.ok()["schema"], "billing");
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
            json!({ "sql": "SELECT * FROM orders WHERE status = 'failed'" }),
        )
        .await
        .unwrap();
    assert!(plan.ok()["plan"][0]["Plan"]["Node Type"].is_string());
    let refused = server
        .call("explain", json!({ "sql": "DELETE FROM canary" }))
        .await
        .unwrap();
    assert!(refused.is_error);
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_offered_as_resources() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    let resources = server.service().list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(
        uris.contains(&"postgres:///public/Order%20Items"),
        "{uris:?}"
    );
    assert!(uris.contains(&"postgres:///billing/invoices"), "{uris:?}");
    let read = server
        .service()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "postgres:///public/customers",
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

/// Columns come with the first row, so an empty result is described separately; a type with no
/// binary form at all (aclitem) fails the binary read and is read again as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_results_keep_their_columns_and_types_without_a_binary_form_are_text() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    let column_types = |result: &serde_json::Value| -> Vec<String> {
        result["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}:{}",
                    c["name"].as_str().unwrap(),
                    c["type"].as_str().unwrap()
                )
            })
            .collect()
    };
    let empty_out = server
        .call(
            "query",
            json!({ "sql": "SELECT id, name FROM customers WHERE false" }),
        )
        .await
        .unwrap();
    let empty = empty_out.ok();
    assert_eq!(empty["row_count"], 0);
    assert_eq!(column_types(empty), ["id:int4", "name:text"]);

    let acl_out = server
        .call(
            "query",
            json!({ "sql": "SELECT 'postgres=r/postgres'::aclitem AS item, 7 AS n" }),
        )
        .await
        .unwrap();
    let acl = acl_out.ok();
    assert_eq!(acl["rows"][0], json!(["postgres=r/postgres", 7]));
    assert_eq!(column_types(acl), ["item:aclitem", "n:int4"]);
    let no_acl_out = server
        .call(
            "query",
            json!({ "sql": "SELECT 'postgres=r/postgres'::aclitem AS item WHERE false" }),
        )
        .await
        .unwrap();
    let no_acl = no_acl_out.ok();
    assert_eq!(column_types(no_acl), ["item:aclitem"]);

    let show_out = server
        .call("query", json!({ "sql": "SHOW statement_timeout" }))
        .await
        .unwrap();
    let show = show_out.ok();
    assert_eq!(
        show["rows"][0],
        json!(["10s"]),
        "the per-call timeout is in force"
    );
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_carry_sqlstate_position_and_hint() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    let out = server
        .call("query", json!({ "sql": "SELECT nme FROM customers" }))
        .await
        .unwrap();
    assert!(out.is_error);
    assert!(
        out.text.contains("42703") && out.text.contains("at character 8"),
        "{}",
        out.text
    );
    assert!(out.text.contains("HINT"), "{}", out.text);
    let refused = server
        .call("query", json!({ "sql": "SELECT 1; SELECT 2" }))
        .await
        .unwrap();
    assert!(
        refused.is_error && refused.text.starts_with("refused"),
        "{}",
        refused.text
    );
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_tool_error_and_the_server_recovers() {
    // Nothing listens on this port until the proxy below starts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let shop = ShopDb::new().await;
    let url = url_with_port(&shop.owner_url(), port);
    let env = HashMap::from([("DATABASE_URL".to_owned(), url)]);
    let server = Client::spawn(binary(), &["server", "postgres"], &env)
        .await
        .unwrap();
    let down = server
        .call("query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap();
    assert!(
        down.is_error && down.text.contains("cannot reach the database"),
        "{}",
        down.text
    );
    assert!(!down.text.contains("password"), "{}", down.text);

    // The database "comes back": a TCP proxy on that port to the real server.
    let proxy = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let upstream = format!(
        "127.0.0.1:{}",
        url::Url::parse(&shop.owner_url())
            .unwrap()
            .port()
            .unwrap_or(5432)
    );
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = proxy.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let up = server
        .call("query", json!({ "sql": "SELECT 1 AS back" }))
        .await
        .unwrap();
    assert_eq!(up.ok()["rows"], json!([[1]]));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_replaced() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    let first = server
        .call("query", json!({ "sql": "SELECT pg_backend_pid() AS pid" }))
        .await;
    // pg_backend_pid is stable and harmless; if the policy refuses it, use the catalog instead.
    let pid = match first {
        Ok(out) if !out.is_error => out.ok()["rows"][0][0].as_i64().unwrap(),
        _ => panic!("pg_backend_pid should be allowed"),
    };
    let admin = shop.db.connect().await.unwrap();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&(pid as i32)])
        .await
        .unwrap();
    let again = server
        .call("query", json!({ "sql": "SELECT count(*) FROM canary" }))
        .await
        .unwrap();
    assert_eq!(again.ok()["rows"], json!([[1]]));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_check_warns_or_refuses() {
    let shop = ShopDb::new().await;
    // The owner role is not read-only: with the requirement, queries are refused with the reasons.
    let output = tokio::process::Command::new(binary())
        .args(["server", "postgres", "--require-read-only-role"])
        .env("DATABASE_URL", shop.owner_url())
        .stdin(std::process::Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("owns tables") && stderr.contains("INSERT/UPDATE/DELETE"),
        "{stderr}"
    );

    // A role with only SELECT passes.
    let mut db = shop;
    let reader = db.db.create_role("sb_reader", "").await.unwrap();
    db.db
        .load(None, &format!("GRANT USAGE ON SCHEMA public, billing TO {reader}; GRANT SELECT ON ALL TABLES IN SCHEMA public, billing TO {reader}"))
        .await
        .unwrap();
    let env = HashMap::from([
        ("DATABASE_URL".to_owned(), db.db.url_as(&reader, None)),
        (
            "SWITCHBOARD_SQL_REQUIRE_READ_ONLY_ROLE".to_owned(),
            "1".to_owned(),
        ),
    ]);
    let server = Client::spawn(binary(), &["server", "postgres"], &env)
        .await
        .unwrap();
    let out = server
        .call("query", json!({ "sql": "SELECT count(*) FROM orders" }))
        .await
        .unwrap();
    assert_eq!(out.ok()["rows"], json!([[20000]]));
    // The least-privilege role still sees keys and indexes.
    let described = server
        .call("describe_table", json!({ "table": "orders" }))
        .await
        .unwrap();
    assert_eq!(described.ok()["primary_key"], json!(["id"]));
    server.close().await.unwrap();
}

fn url_with_port(url: &str, port: u16) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_port(Some(port)).unwrap();
    parsed.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_follows_sslmode() {
    let shop = ShopDb::new().await;
    let admin = shop.db.connect().await.unwrap();
    let ssl: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    assert_eq!(
        ssl, "on",
        "this test needs the PostgreSQL server to offer TLS (ssl = on)"
    );
    let with = |query: &str| {
        let mut url = url::Url::parse(&shop.owner_url()).unwrap();
        url.set_query(Some(query));
        HashMap::from([("DATABASE_URL".to_owned(), url.to_string())])
    };
    // Whether a server started with `query` in its URL talks to PostgreSQL over TLS.
    let encrypted_with = |query: &'static str| {
        let env = with(query);
        async move {
            let server = Client::spawn(binary(), &["server", "postgres"], &env)
                .await
                .unwrap();
            let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
            let out = server.call("query", json!({ "sql": sql })).await.unwrap();
            server.close().await.unwrap();
            out.ok()["rows"].clone()
        }
    };
    assert_eq!(
        encrypted_with("sslmode=require").await,
        json!([[true]]),
        "sslmode=require must encrypt"
    );
    assert_eq!(
        encrypted_with("sslmode=disable").await,
        json!([[false]]),
        "sslmode=disable must not encrypt"
    );

    // The server's certificate is self-signed: verification against the public roots fails, and
    // says so, instead of silently connecting.
    let server = Client::spawn(
        binary(),
        &["server", "postgres"],
        &with("sslmode=verify-full"),
    )
    .await
    .unwrap();
    let out = server
        .call("query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap();
    assert!(
        out.is_error && out.text.to_lowercase().contains("certificate"),
        "{}",
        out.text
    );
    server.close().await.unwrap();
}

/// The rows of a query result as a JSON array of arrays.
async fn rows_of(server: &Client, sql: &str, max_rows: Option<u64>) -> Value {
    let mut arguments = json!({ "sql": sql });
    if let Some(max_rows) = max_rows {
        arguments["max_rows"] = json!(max_rows);
    }
    let out = server.call("query", arguments).await.unwrap();
    assert!(!out.is_error, "{sql}: {}", out.text);
    out.ok().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timing_out_in_the_middle_of_its_result_is_a_timeout_and_the_server_goes_on() {
    let shop = ShopDb::new().await;
    let server = shop
        .server(&[
            ("SWITCHBOARD_SQL_TIMEOUT_MS", "1000"),
            ("SWITCHBOARD_SQL_MAX_ROWS", "10000"),
            ("SWITCHBOARD_SQL_MAX_BYTES", "50000000"),
        ])
        .await;
    // Each row is large enough to be sent on its own and slow to compute, so rows are on the
    // wire before the server's timeout ends the statement.
    let sql = "SELECT g, repeat('x', 9000) AS pad, \
               (SELECT count(*) FROM generate_series(1, 200000 + g - g)) AS slow \
               FROM generate_series(1, 100000) g";
    let began = std::time::Instant::now();
    let out = server.call("query", json!({ "sql": sql })).await.unwrap();
    assert!(
        out.is_error && out.text.contains("longer than the 1000 ms limit"),
        "{}",
        out.text
    );
    assert!(began.elapsed() < std::time::Duration::from_millis(2500));
    // The connection that ran it answers the next call.
    for _ in 0..5 {
        assert_eq!(
            rows_of(&server, "SELECT 1", None).await["rows"],
            json!([[1]])
        );
    }
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rows_one_past_the_budget_is_truncated_and_exactly_at_it_is_not() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[("SWITCHBOARD_SQL_MAX_ROWS", "5")]).await;
    let cases = [
        ("SELECT g FROM generate_series(1, 6) g", None, 5, true),
        ("SELECT g FROM generate_series(1, 5) g", None, 5, false),
        (
            "SELECT g FROM generate_series(1, 6) g LIMIT 6",
            None,
            5,
            true,
        ),
        (
            "SELECT g FROM generate_series(1, 6) g LIMIT 5",
            None,
            5,
            false,
        ),
        (
            "SELECT g FROM generate_series(1, 9) g FETCH FIRST 7 ROWS ONLY",
            None,
            5,
            true,
        ),
        ("SELECT g FROM generate_series(1, 4) g", Some(3), 3, true),
        ("SELECT g FROM generate_series(1, 3) g", Some(3), 3, false),
        ("VALUES (1), (2), (3), (4), (5), (6)", None, 5, true),
        (
            "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6",
            None,
            5,
            true,
        ),
        (
            "SELECT g FROM generate_series(1, 6) g -- a trailing comment",
            None,
            5,
            true,
        ),
        (
            "SELECT g FROM generate_series(1, 6) g LIMIT ALL",
            None,
            5,
            true,
        ),
        (
            "SELECT g FROM generate_series(1, 6) g LIMIT (SELECT 6)",
            None,
            5,
            true,
        ),
    ];
    for (sql, max_rows, count, truncated) in cases {
        let result = rows_of(&server, sql, max_rows).await;
        assert_eq!(
            (result["row_count"].as_u64(), result["truncated"].as_bool()),
            (Some(count), Some(truncated)),
            "{sql}: {result}"
        );
        let expected: Vec<Value> = (1..=count).map(|g| json!([g])).collect();
        assert_eq!(result["rows"], json!(expected), "{sql}");
        if truncated {
            assert_eq!(result["truncated_by"], json!("rows"), "{sql}");
        }
    }
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_budget_reached_in_the_middle_of_a_batch_keeps_the_rows_before_it() {
    let shop = ShopDb::new().await;
    let server = shop
        .server(&[
            ("SWITCHBOARD_SQL_MAX_ROWS", "1000"),
            ("SWITCHBOARD_SQL_MAX_BYTES", "1000"),
        ])
        .await;
    // Rows of about 60 bytes: the budget ends around the 16th of 500 that arrive together.
    let result = rows_of(
        &server,
        "SELECT g, repeat('y', 50) AS pad FROM generate_series(1, 500) g ORDER BY g",
        None,
    )
    .await;
    assert_eq!(result["truncated_by"], json!("bytes"), "{result}");
    let rows = result["rows"].as_array().unwrap();
    let encoded = serde_json::to_vec(rows).unwrap().len();
    assert!(encoded <= 1000, "rows take {encoded} bytes");
    assert!(rows.len() >= 10, "{result}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], json!(i + 1));
    }
    // A single value larger than the whole budget: no rows, cut by bytes.
    let huge = rows_of(&server, "SELECT repeat('z', 5000) AS big", None).await;
    assert_eq!(
        (huge["row_count"].as_u64(), &huge["truncated_by"]),
        (Some(0), &json!("bytes"))
    );
    assert_eq!(huge["columns"][0]["name"], json!("big"));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_type_without_a_binary_form_is_text_within_the_budgets_and_order() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[("SWITCHBOARD_SQL_MAX_ROWS", "3")]).await;
    let result = rows_of(
        &server,
        "SELECT ('postgres=r/postgres')::aclitem AS item, g FROM generate_series(1, 50) g ORDER BY g DESC",
        None,
    )
    .await;
    assert_eq!(
        result["rows"],
        json!([
            ["postgres=r/postgres", 50],
            ["postgres=r/postgres", 49],
            ["postgres=r/postgres", 48]
        ])
    );
    assert_eq!(result["truncated_by"], json!("rows"));
    // A type with a binary form but no decoder here, with a limit of its own.
    let points = rows_of(
        &server,
        "SELECT point(g, g) AS p FROM generate_series(1, 9) g ORDER BY g LIMIT 8",
        None,
    )
    .await;
    assert_eq!(points["rows"], json!([["(1,1)"], ["(2,2)"], ["(3,3)"]]));
    assert_eq!(points["columns"][0]["type"], json!("point"));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_by_is_preserved_under_the_row_limit() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[("SWITCHBOARD_SQL_MAX_ROWS", "10")]).await;
    let admin = shop.db.connect().await.unwrap();
    let expected: Vec<Value> = admin
        .query(
            "SELECT id FROM orders ORDER BY amount DESC, id LIMIT 10",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| json!([row.get::<_, i64>(0)]))
        .collect();
    for sql in [
        "SELECT id FROM orders ORDER BY amount DESC, id",
        "SELECT id FROM orders ORDER BY amount DESC, id LIMIT 500",
        "SELECT id FROM orders ORDER BY amount DESC, id LIMIT 500 OFFSET 0",
        "SELECT id FROM (SELECT id, amount FROM orders ORDER BY amount DESC, id) o",
        "WITH o AS (SELECT id, amount FROM orders) SELECT id FROM o ORDER BY amount DESC, id FETCH FIRST 50 ROWS WITH TIES",
    ] {
        let result = rows_of(&server, sql, None).await;
        assert_eq!(result["rows"], json!(expected), "{sql}");
        assert_eq!(result["truncated_by"], json!("rows"), "{sql}");
    }
    let last: Vec<Value> = (0..10).map(|i| json!([100 - i])).collect();
    let result = rows_of(
        &server,
        "SELECT g FROM generate_series(1, 100) g ORDER BY g DESC",
        None,
    )
    .await;
    assert_eq!(result["rows"], json!(last));
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_connection_is_read_only_with_its_timeouts_whatever_the_role_says() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[("SWITCHBOARD_SQL_TIMEOUT_MS", "3000")]).await;
    let settings = "SELECT current_setting('default_transaction_read_only') AS d, \
                    current_setting('transaction_read_only') AS t, \
                    current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, \
                    pg_backend_pid() AS pid";
    let before = rows_of(&server, settings, None).await;
    assert_eq!(
        before["rows"][0].as_array().unwrap()[..4],
        json!(["on", "on", "3s", "3s"]).as_array().unwrap()[..]
    );
    // The role and the database now ask for read-write sessions without timeouts, and the
    // server's connection is killed: the one that replaces it must still be read-only.
    let admin = shop.db.connect().await.unwrap();
    for setting in [
        format!(
            "ALTER ROLE {} SET default_transaction_read_only = off",
            shop.owner
        ),
        format!("ALTER ROLE {} SET statement_timeout = 0", shop.owner),
        format!(
            "ALTER DATABASE {} SET default_transaction_read_only = off",
            shop.db.name()
        ),
    ] {
        admin.batch_execute(&setting).await.unwrap();
    }
    let pid = before["rows"][0][4].as_i64().unwrap();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&(pid as i32)])
        .await
        .unwrap();
    let after = rows_of(&server, settings, None).await;
    assert_eq!(
        after["rows"][0].as_array().unwrap()[..4],
        json!(["on", "on", "3s", "3s"]).as_array().unwrap()[..]
    );
    assert_ne!(
        after["rows"][0][4], before["rows"][0][4],
        "a new connection"
    );
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_statement_is_prepared_once_and_follows_its_tables_changes() {
    let shop = ShopDb::new().await;
    let server = shop.server(&[]).await;
    let sql = "SELECT * FROM canary WHERE id = 1";
    for _ in 0..3 {
        let result = rows_of(&server, sql, None).await;
        assert_eq!(result["rows"], json!([[1, "must survive every attack"]]));
    }
    // Sequential calls reuse one connection: the statement is prepared there, once.
    let prepared = rows_of(
        &server,
        "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%canary%'",
        None,
    )
    .await;
    assert_eq!(
        prepared["rows"],
        json!([[format!("{sql}\nLIMIT 201")]]),
        "{prepared}"
    );

    // The table's columns change under the prepared statement: the next call sees the new ones.
    let admin = shop.db.connect().await.unwrap();
    admin
        .batch_execute("ALTER TABLE canary ADD COLUMN seen int DEFAULT 7")
        .await
        .unwrap();
    for _ in 0..3 {
        let result = rows_of(&server, sql, None).await;
        assert_eq!(result["rows"], json!([[1, "must survive every attack", 7]]));
    }
    admin
        .batch_execute("ALTER TABLE canary DROP COLUMN note")
        .await
        .unwrap();
    let result = rows_of(&server, sql, None).await;
    assert_eq!(result["rows"], json!([[1, 7]]));
    assert_eq!(result["columns"][1]["name"], json!("seen"));

    // An empty result keeps its columns, and a type without a binary form stays text, however
    // often they run.
    for _ in 0..3 {
        let empty = rows_of(&server, "SELECT id, seen FROM canary WHERE id < 0", None).await;
        assert_eq!(empty["row_count"], json!(0));
        assert_eq!(empty["columns"][1]["type"], json!("int4"));
        let acl = rows_of(&server, "SELECT 'postgres=r/postgres'::aclitem AS a", None).await;
        assert_eq!(acl["rows"], json!([["postgres=r/postgres"]]));
    }
    server.close().await.unwrap();
}
