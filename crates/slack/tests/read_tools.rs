//! The read tools and `add_reaction` end to end, including pagination and Slack's error answers.

mod common;

use common::Harness;
use serde_json::{Value, json};
use switchboard_testkit::slack::{
    ARCHIVED_ID, BOT_USER_ID, Fault, GENERAL_ID, GENERAL_THREAD_TS, INCIDENTS_ID, OPERATIONS_ID,
    PRIVATE_ID, RANDOM_ID,
};

fn ids(list: &Value, field: &str) -> Vec<String> {
    list[field]
        .as_array()
        .expect("array")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn list_channels_pages_through_every_visible_channel() {
    let h = Harness::start().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"limit": 2});
        if let Some(cursor) = &cursor {
            args["cursor"] = json!(cursor);
        }
        let page = h.ok("list_channels", args).await;
        pages += 1;
        assert!(page["channels"].as_array().expect("channels").len() <= 2);
        seen.extend(ids(&page, "channels"));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // Private channels the bot is not in are invisible, as in Slack.
    assert_eq!(
        seen,
        vec![
            GENERAL_ID,
            OPERATIONS_ID,
            RANDOM_ID,
            ARCHIVED_ID,
            INCIDENTS_ID
        ]
    );
    assert!(!seen.contains(&PRIVATE_ID.to_owned()));

    let all = h.ok("list_channels", json!({})).await;
    let random = &all["channels"][2];
    assert_eq!(
        (random["name"].clone(), random["is_member"].clone()),
        (json!("random"), json!(false))
    );
    assert_eq!(all["channels"][3]["is_archived"], true);
    assert_eq!(all["channels"][0]["topic"], "Company-wide announcements");
    assert!(all["next_cursor"].is_null());

    let public = h
        .ok("list_channels", json!({"types": "public_channel"}))
        .await;
    assert_eq!(
        ids(&public, "channels"),
        vec![GENERAL_ID, OPERATIONS_ID, RANDOM_ID, ARCHIVED_ID]
    );
    let error = h.err("list_channels", json!({"types": "everything"})).await;
    assert!(error.contains("invalid_types"), "{error}");
    let error = h
        .err("list_channels", json!({"cursor": "bm90LWEtY3Vyc29y"}))
        .await;
    assert!(
        error.contains("invalid_cursor") && error.contains("without a cursor"),
        "{error}"
    );
}

#[tokio::test]
async fn list_channels_without_groups_read_lists_public_channels() {
    let h = Harness::start().await;
    h.fake.set_scopes(&["channels:read", "chat:write"]);
    let page = h.ok("list_channels", json!({})).await;
    assert_eq!(
        ids(&page, "channels"),
        vec![GENERAL_ID, OPERATIONS_ID, RANDOM_ID, ARCHIVED_ID]
    );
    let error = h
        .err("list_channels", json!({"types": "private_channel"}))
        .await;
    assert!(error.contains("`groups:read`"), "{error}");
}

#[tokio::test]
async fn channel_history_is_newest_first_paginated_and_bounded() {
    let h = Harness::start().await;
    let first = h
        .ok(
            "get_channel_history",
            json!({"channel": "#general", "limit": 2}),
        )
        .await;
    assert_eq!(first["channel"], GENERAL_ID);
    let texts = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["text"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(texts(&first), vec!["Lunch anyone?", "Deploy at 5pm?"]);
    assert_eq!(first["has_more"], true);
    let parent = &first["messages"][1];
    assert_eq!(parent["thread_ts"], GENERAL_THREAD_TS);
    assert_eq!(parent["reply_count"], 2);
    assert_eq!(parent["user"], "U0BOB00001");
    let cursor = first["next_cursor"].as_str().expect("cursor").to_owned();
    let second = h
        .ok(
            "get_channel_history",
            json!({"channel": GENERAL_ID, "limit": 2, "cursor": cursor}),
        )
        .await;
    assert_eq!(texts(&second), vec!["Welcome to #general"]);
    assert_eq!(second["has_more"], false);
    assert!(second["next_cursor"].is_null());

    let bounded = h
        .ok("get_channel_history", json!({"channel": "general", "oldest": "1699998000.000100", "latest": "1699999300.000100"}))
        .await;
    assert_eq!(texts(&bounded), vec!["Deploy at 5pm?"]);
    let error = h
        .err(
            "get_channel_history",
            json!({"channel": "general", "oldest": "yesterday"}),
        )
        .await;
    assert!(
        error.contains("invalid_ts_oldest") && error.contains("1700000000.000100"),
        "{error}"
    );
}

#[tokio::test]
async fn channel_history_errors_say_what_to_do() {
    let h = Harness::start().await;
    let error = h
        .err("get_channel_history", json!({"channel": "#random"}))
        .await;
    assert!(
        error.contains("not_in_channel") && error.contains("/invite"),
        "{error}"
    );
    let error = h
        .err("get_channel_history", json!({"channel": "#nope"}))
        .await;
    assert!(
        error.contains("not found") && error.contains("list_channels"),
        "{error}"
    );
    let error = h
        .err("get_channel_history", json!({"channel": "C0MISSING99"}))
        .await;
    assert!(error.contains("not found"), "{error}");
    let error = h
        .err("get_channel_history", json!({"channel": PRIVATE_ID}))
        .await;
    assert!(
        error.contains("not found"),
        "private channels without the bot are invisible: {error}"
    );
    h.fake.set_scopes(&["channels:read", "groups:read"]);
    let error = h
        .err("get_channel_history", json!({"channel": GENERAL_ID}))
        .await;
    assert!(error.contains("`channels:history`"), "{error}");
}

#[tokio::test]
async fn thread_replies_return_the_whole_thread() {
    let h = Harness::start().await;
    let thread = h
        .ok(
            "get_thread_replies",
            json!({"channel": "#general", "thread_ts": GENERAL_THREAD_TS}),
        )
        .await;
    let messages = thread["messages"].as_array().expect("messages");
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        texts,
        vec!["Deploy at 5pm?", "Yes, go ahead", "Deployed :rocket:"]
    );
    assert!(messages.iter().all(|m| m["thread_ts"] == GENERAL_THREAD_TS));
    assert_eq!(thread["truncated"], false);
    let error = h
        .err(
            "get_thread_replies",
            json!({"channel": "#general", "thread_ts": "1600000000.000001"}),
        )
        .await;
    assert!(error.contains("thread_not_found"), "{error}");
}

#[tokio::test]
async fn list_users_pages_and_reports_profiles() {
    let h = Harness::start().await;
    let first = h.ok("list_users", json!({"limit": 4})).await;
    let second = h
        .ok(
            "list_users",
            json!({"limit": 4, "cursor": first["next_cursor"]}),
        )
        .await;
    assert!(second["next_cursor"].is_null());
    let users: Vec<Value> = [first["users"].clone(), second["users"].clone()]
        .iter()
        .flat_map(|page| page.as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(users.len(), 6);
    let bob = users.iter().find(|u| u["name"] == "bob").expect("bob");
    assert_eq!(
        bob,
        &json!({"id": "U0BOB00001", "name": "bob", "real_name": "Bob Tables", "title": "Database Administrator", "deleted": false, "is_bot": false})
    );
    assert_eq!(
        users.iter().find(|u| u["name"] == "carol").expect("carol")["deleted"],
        true
    );
    assert_eq!(
        users.iter().find(|u| u["id"] == BOT_USER_ID).expect("bot")["is_bot"],
        true
    );
    h.fake.set_scopes(&["chat:write"]);
    let error = h.err("list_users", json!({})).await;
    assert!(
        error.contains("`users:read`") && error.contains("reinstall"),
        "{error}"
    );
}

#[tokio::test]
async fn add_reaction_reacts_once() {
    let h = Harness::start().await;
    let ts = "1699999300.000100";
    let done = h
        .ok(
            "add_reaction",
            json!({"channel": "#general", "ts": ts, "name": ":white_check_mark:"}),
        )
        .await;
    assert_eq!(
        done,
        json!({"channel": GENERAL_ID, "ts": ts, "name": "white_check_mark"})
    );
    let reactions = h.fake.reactions(GENERAL_ID, ts);
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        (reactions[0].name.as_str(), reactions[0].users.clone()),
        ("white_check_mark", vec![BOT_USER_ID.to_owned()])
    );
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#general", "ts": ts, "name": "white_check_mark"}),
        )
        .await;
    assert!(
        error.contains("already_reacted") && error.contains("nothing to do"),
        "{error}"
    );
    assert_eq!(h.fake.reactions(GENERAL_ID, ts)[0].users.len(), 1);
    let history = h
        .ok(
            "get_channel_history",
            json!({"channel": "general", "limit": 1}),
        )
        .await;
    assert_eq!(
        history["messages"][0]["reactions"],
        json!([{"name": "white_check_mark", "count": 1}])
    );
}

#[tokio::test]
async fn add_reaction_errors_say_what_to_do() {
    let h = Harness::start().await;
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#general", "ts": "1699999300.000100", "name": "not-an-emoji"}),
        )
        .await;
    assert!(
        error.contains("invalid_name") && error.contains("without colons"),
        "{error}"
    );
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#general", "ts": "1600000000.000001", "name": "eyes"}),
        )
        .await;
    assert!(
        error.contains("message_not_found") && error.contains("get_channel_history"),
        "{error}"
    );
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#random", "ts": "1.1", "name": "eyes"}),
        )
        .await;
    assert!(error.contains("not a member"), "{error}");
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#general", "ts": "1.1", "name": "::"}),
        )
        .await;
    assert!(error.contains("name is empty"), "{error}");
    h.fake
        .set_scopes(&["channels:read", "groups:read", "chat:write"]);
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#general", "ts": "1699999300.000100", "name": "eyes"}),
        )
        .await;
    assert!(error.contains("`reactions:write`"), "{error}");
}

#[tokio::test]
async fn reads_retry_on_429_and_5xx() {
    let h = Harness::start().await;
    h.fake.inject(
        "users.list",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    h.fake
        .inject("users.list", Fault::ServerError { status: 503 }, 1);
    let page = h.ok("list_users", json!({})).await;
    assert_eq!(page["users"].as_array().map(Vec::len), Some(6));
    let statuses: Vec<u16> = h
        .fake
        .requests_for("users.list")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 503, 200]);
}

#[tokio::test]
async fn malformed_slow_and_failing_answers_become_tool_errors() {
    let h = Harness::start_with(|config| {
        config.http.request_timeout = std::time::Duration::from_millis(300)
    })
    .await;
    h.fake.inject("users.list", Fault::Malformed, 1);
    let error = h.err("list_users", json!({})).await;
    assert!(error.contains("not the expected JSON"), "{error}");
    h.fake.inject(
        "users.list",
        Fault::Slow {
            delay: std::time::Duration::from_secs(2),
        },
        4,
    );
    let error = h.err("list_users", json!({})).await;
    assert!(error.contains("timed out"), "{error}");
    h.fake.inject(
        "conversations.list",
        Fault::Error {
            code: "account_inactive".to_owned(),
        },
        1,
    );
    let error = h.err("list_channels", json!({})).await;
    assert!(
        error.contains("account_inactive") && error.contains("SLACK_BOT_TOKEN"),
        "{error}"
    );
}

#[tokio::test]
async fn invalid_token_is_reported_without_retrying() {
    let fake = switchboard_testkit::slack::FakeSlack::start_with_token("xoxb-the-real-one")
        .await
        .expect("fake");
    let mut config = common::config_for(&fake);
    config.token = switchboard_slack::SlackToken::new("xoxb-a-revoked-token").expect("token");
    let client = common::connect(config).await;
    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("list_users")
                .with_arguments(serde_json::Map::new()),
        )
        .await
        .expect("answered");
    assert_eq!(result.is_error, Some(true));
    let text = common::text(&result);
    assert!(
        text.contains("invalid_auth") && text.contains("retrying will not help"),
        "{text}"
    );
    assert_eq!(fake.requests_for("users.list").len(), 1);
}
