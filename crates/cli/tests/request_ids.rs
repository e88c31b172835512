//! A request whose id duplicates one still in flight gets an Invalid Request error at once, on
//! every built-in server over stdio and over its own HTTP endpoint, while the first request is
//! answered as usual. (Through the gateway: `crates/gateway/tests/request_ids.rs`.)

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::{ShopDb, binary};
use switchboard_testkit::jira::{self, FakeJira, Flavor};
use switchboard_testkit::raw::{RawStdio, assert_duplicate_refused, tool_call};
use switchboard_testkit::slack::{self, FakeSlack};
use switchboard_testkit::sqlite::shop_db;

/// A statement SQLite takes a while over (well under the server's time budget).
const SLOW_SQLITE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                           WHERE x < 300000) SELECT count(*) AS n FROM c";

async fn server(kind: &str, env: &[(&str, String)]) -> RawStdio {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let mut server = RawStdio::spawn(binary(), &["server", kind], &env).expect("spawn the server");
    server.initialize().await.expect("handshake");
    server
}

#[tokio::test]
async fn sqlite_answers_a_duplicate_id_with_invalid_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop_db(dir.path()).unwrap();
    let url = format!("sqlite://{}", db.display());
    let mut s = server("postgres", &[("DATABASE_URL", url)]).await;
    let first = tool_call(7, "query", json!({"sql": SLOW_SQLITE}));
    let second = tool_call(7, "list_tables", json!({}));
    assert_duplicate_refused(&mut s, first, second)
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_answers_a_duplicate_id_with_invalid_request() {
    let shop = ShopDb::new().await;
    let mut s = server("postgres", &[("DATABASE_URL", shop.owner_url())]).await;
    let slow = "SELECT count(*) AS n FROM generate_series(1, 2000000) AS g";
    let first = tool_call(7, "query", json!({"sql": slow}));
    let second = tool_call(7, "list_schemas", json!({}));
    assert_duplicate_refused(&mut s, first, second)
        .await
        .unwrap();
}

#[tokio::test]
async fn jira_answers_a_duplicate_id_with_invalid_request() {
    let fake = FakeJira::start(Flavor::Cloud).await.unwrap();
    let delay = Duration::from_millis(500);
    fake.inject("/rest/api/3/search", jira::Fault::Slow { delay }, 1);
    let env = [
        ("JIRA_URL", fake.url()),
        ("JIRA_USERNAME", jira::EMAIL.to_owned()),
        ("JIRA_API_TOKEN", jira::API_TOKEN.to_owned()),
    ];
    let mut s = server("jira", &env).await;
    let first = tool_call(7, "search_issues", json!({"jql": "project = ENG"}));
    let second = tool_call(7, "search_issues", json!({"jql": "project = ENG"}));
    assert_duplicate_refused(&mut s, first, second)
        .await
        .unwrap();
}

#[tokio::test]
async fn slack_answers_a_duplicate_id_with_invalid_request() {
    let fake = FakeSlack::start().await.unwrap();
    let delay = Duration::from_millis(500);
    fake.inject("conversations.list", slack::Fault::Slow { delay }, 1);
    let env = [
        ("SLACK_BOT_TOKEN", fake.token()),
        ("SLACK_API_URL", fake.url()),
    ];
    let mut s = server("slack", &env).await;
    let first = tool_call(7, "list_channels", json!({}));
    let second = tool_call(7, "list_channels", json!({}));
    assert_duplicate_refused(&mut s, first, second)
        .await
        .unwrap();
}
