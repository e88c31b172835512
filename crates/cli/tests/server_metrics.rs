//! A built-in server's own metrics (`--metrics-addr`, or `SWITCHBOARD_METRICS_ADDR` as the
//! gateway's `env` passes it): the SQL server's statements by outcome and refusal rule, and the
//! Jira server's requests by status with its retries after a 429, scraped over HTTP and checked
//! by `promtool`. Nothing of a statement or a credential is a label.

mod support;

use std::collections::HashMap;

use serde_json::json;
use switchboard_testkit::jira::{self, FakeJira, Flavor};
use switchboard_testkit::mcp::Client;
use switchboard_testkit::pg::free_port;
use switchboard_testkit::prometheus::{promtool_check, scrape, value};

#[tokio::test]
async fn the_sql_server_counts_statements_by_outcome_and_refusals_by_rule() {
    let shop = support::ShopDb::new().await;
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let client = shop
        .server(&[("SWITCHBOARD_METRICS_ADDR", addr.as_str())])
        .await;
    for (sql, max_rows) in [
        ("SELECT count(*) FROM orders", None),
        ("SELECT id FROM orders", Some(1)),
        ("SELECT 1; SELECT 2", None),
        ("DELETE FROM orders WHERE id = 4242", None),
    ] {
        let mut arguments = json!({ "sql": sql });
        if let Some(n) = max_rows {
            arguments["max_rows"] = json!(n);
        }
        client.call("query", arguments).await.unwrap();
    }
    client
        .call("explain", json!({"sql": "SELECT * FROM orders"}))
        .await
        .unwrap();

    let text = scrape(&addr).await.unwrap();
    let statements = |tool, outcome| {
        value(
            &text,
            "switchboard_sql_statements_total",
            &[("tool", tool), ("outcome", outcome)],
        )
    };
    assert_eq!(statements("query", "ok"), 2.0, "{text}");
    assert_eq!(statements("query", "refused"), 2.0, "{text}");
    assert_eq!(statements("explain", "ok"), 1.0, "{text}");
    assert_eq!(
        value(
            &text,
            "switchboard_sql_truncated_total",
            &[("tool", "query")]
        ),
        1.0
    );
    for rule in ["multiple_statements", "statement_kind"] {
        assert_eq!(
            value(&text, "switchboard_sql_refusals_total", &[("rule", rule)]),
            1.0,
            "{text}"
        );
    }
    assert_eq!(
        value(
            &text,
            "switchboard_sql_statement_duration_seconds_count",
            &[("tool", "query")]
        ),
        4.0
    );
    assert!(value(&text, "process_resident_memory_bytes", &[]) > 0.0);
    assert!(
        !text.contains("orders") && !text.contains("DELETE"),
        "no statement text in a label:\n{text}"
    );
    promtool_check(&text).await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn the_jira_server_counts_requests_by_status_and_retries_after_a_429() {
    let fake = FakeJira::start(Flavor::Cloud).await.unwrap();
    fake.inject(
        "/rest/api/3/project/search",
        jira::Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let port = free_port().unwrap();
    let client = Client::spawn(
        support::binary(),
        &[
            "server",
            "jira",
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
        ],
        &HashMap::from([
            ("JIRA_URL".to_owned(), fake.url()),
            ("JIRA_FLAVOR".to_owned(), "cloud".to_owned()),
            ("JIRA_USERNAME".to_owned(), jira::EMAIL.to_owned()),
            ("JIRA_API_TOKEN".to_owned(), jira::API_TOKEN.to_owned()),
        ]),
    )
    .await
    .unwrap();
    let outcome = client.call("list_projects", json!({})).await.unwrap();
    assert!(!outcome.is_error, "{outcome:?}");

    let text = scrape(&format!("127.0.0.1:{port}")).await.unwrap();
    let requests = |status| {
        value(
            &text,
            "switchboard_http_requests_total",
            &[("host", "127.0.0.1"), ("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(requests("429"), 1.0, "{text}");
    assert!(requests("200") >= 1.0, "{text}");
    assert_eq!(
        value(
            &text,
            "switchboard_http_retries_total",
            &[("reason", "rate_limited")]
        ),
        1.0,
        "{text}"
    );
    assert!(
        !text.contains(jira::API_TOKEN) && !text.contains("project/search"),
        "no credential or path in a label:\n{text}"
    );
    promtool_check(&text).await.unwrap();
    client.close().await.unwrap();
}
