//! The fake Slack Web API itself, spoken to with raw HTTP: it must answer the way Slack documents
//! (envelope, auth, content types, pagination, errors, faults), or the server tests prove nothing.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_http::reqwest::{Client, Response, StatusCode, header};
use switchboard_testkit::slack::{
    ARCHIVED_ID, FakeSlack, Fault, GENERAL_ID, OPERATIONS_ID, RANDOM_ID, TOKEN,
};

async fn body(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

async fn form(fake: &FakeSlack, method: &str, args: &[(&str, &str)]) -> Value {
    let response = Client::new()
        .post(format!("{}/{method}", fake.url()))
        .bearer_auth(TOKEN)
        .form(args)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

async fn post_json(fake: &FakeSlack, method: &str, content_type: &str, value: Value) -> Value {
    let response = Client::new()
        .post(format!("{}/{method}", fake.url()))
        .bearer_auth(TOKEN)
        .header(header::CONTENT_TYPE, content_type)
        .body(value.to_string())
        .send()
        .await
        .expect("sent");
    body(response).await
}

#[tokio::test]
async fn auth_is_checked_with_http_200_answers() {
    let fake = FakeSlack::start().await.expect("fake");
    assert!(fake.url().ends_with("/api"));
    let client = Client::new();
    let url = format!("{}/auth.test", fake.url());
    let none = client.post(&url).send().await.expect("sent");
    assert_eq!(none.status(), StatusCode::OK);
    assert_eq!(
        body(none).await,
        json!({"ok": false, "error": "not_authed"})
    );
    let wrong = client
        .post(&url)
        .bearer_auth("xoxb-wrong")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        body(wrong).await,
        json!({"ok": false, "error": "invalid_auth"})
    );
    let in_form = client
        .post(&url)
        .form(&[("token", TOKEN)])
        .send()
        .await
        .expect("sent");
    assert_eq!(body(in_form).await["ok"], true);
    let ok = body(
        client
            .post(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(ok["user_id"], "U0BOTUSER1");
    assert_eq!(ok["url"], "https://switchboard-test.slack.com/");
    let unknown = client
        .post(format!("{}/chat.fly", fake.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(unknown).await["error"], "unknown_method");
}

#[tokio::test]
async fn content_types_follow_slack() {
    let fake = FakeSlack::start().await.expect("fake");
    let message = json!({"channel": OPERATIONS_ID, "text": "json"});
    let with_charset = post_json(
        &fake,
        "chat.postMessage",
        "application/json; charset=utf-8",
        message.clone(),
    )
    .await;
    assert_eq!(with_charset["ok"], true);
    assert!(with_charset.get("warning").is_none());
    let without = post_json(&fake, "chat.postMessage", "application/json", message).await;
    assert_eq!(
        (without["ok"].clone(), without["warning"].clone()),
        (json!(true), json!("missing_charset"))
    );
    assert_eq!(
        without["response_metadata"]["warnings"],
        json!(["missing_charset"])
    );
    // Read methods take no JSON: the arguments are not seen.
    let ignored = post_json(
        &fake,
        "conversations.history",
        "application/json; charset=utf-8",
        json!({"channel": GENERAL_ID}),
    )
    .await;
    assert_eq!(ignored["error"], "channel_not_found");
    let bad = post_json(
        &fake,
        "chat.postMessage",
        "application/json; charset=utf-8",
        json!(["not", "an", "object"]),
    )
    .await;
    assert_eq!(bad["error"], "invalid_json");
    let plain = post_json(&fake, "chat.postMessage", "text/csv", json!({})).await;
    assert_eq!(plain["error"], "invalid_post_type");
    let untyped = Client::new()
        .post(format!("{}/chat.postMessage", fake.url()))
        .bearer_auth(TOKEN)
        .body("channel=x")
        .send()
        .await
        .expect("sent");
    assert_eq!(body(untyped).await["error"], "missing_post_type");
    // GET with query arguments, for read methods.
    let get = Client::new()
        .get(format!(
            "{}/conversations.info?channel={GENERAL_ID}",
            fake.url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(body(get).await["channel"]["name"], "general");
    let methods: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.http_method.clone())
        .collect();
    assert_eq!(methods.last().map(String::as_str), Some("GET"));
}

#[tokio::test]
async fn post_message_validates_like_slack() {
    let fake = FakeSlack::start().await.expect("fake");
    let ok = form(
        &fake,
        "chat.postMessage",
        &[("channel", "#operations"), ("text", "by name")],
    )
    .await;
    assert_eq!(ok["channel"], OPERATIONS_ID);
    assert_eq!(ok["message"]["text"], "by name");
    assert_eq!(ok["message"]["bot_id"], "B0BOTUSER1");
    let next = form(
        &fake,
        "chat.postMessage",
        &[("channel", OPERATIONS_ID), ("text", "second")],
    )
    .await;
    let (first_ts, second_ts) = (
        ok["ts"].as_str().expect("ts"),
        next["ts"].as_str().expect("ts"),
    );
    assert_eq!(first_ts, "1700000000.000100");
    assert_eq!(second_ts, "1700000000.000200");
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("channel", "nope"), ("text", "x")], "channel_not_found"),
        (&[("channel", RANDOM_ID), ("text", "x")], "not_in_channel"),
        (&[("channel", ARCHIVED_ID), ("text", "x")], "is_archived"),
        (&[("channel", OPERATIONS_ID), ("text", " ")], "no_text"),
        (&[("channel", OPERATIONS_ID)], "no_text"),
        (
            &[("channel", "G0LEADERS1"), ("text", "x")],
            "channel_not_found",
        ),
    ];
    for (args, code) in cases {
        assert_eq!(
            form(&fake, "chat.postMessage", args).await["error"],
            code,
            "{args:?}"
        );
    }
    let long = "a".repeat(40_001);
    let too_long = form(
        &fake,
        "chat.postMessage",
        &[("channel", OPERATIONS_ID), ("text", &long)],
    )
    .await;
    assert_eq!(too_long["error"], "msg_too_long");
    let exact = "a".repeat(40_000);
    assert_eq!(
        form(
            &fake,
            "chat.postMessage",
            &[("channel", OPERATIONS_ID), ("text", &exact)]
        )
        .await["ok"],
        true
    );
    let attachments = format!("[{}]", vec!["{}"; 101].join(","));
    let many = form(
        &fake,
        "chat.postMessage",
        &[("channel", OPERATIONS_ID), ("attachments", &attachments)],
    )
    .await;
    assert_eq!(many["error"], "too_many_attachments");
    fake.set_scopes(&["channels:read"]);
    let scope = form(
        &fake,
        "chat.postMessage",
        &[("channel", OPERATIONS_ID), ("text", "x")],
    )
    .await;
    assert_eq!(
        scope,
        json!({"ok": false, "error": "missing_scope", "needed": "chat:write", "provided": "channels:read"})
    );
    assert_eq!(fake.posted(OPERATIONS_ID).len(), 3);
}

#[tokio::test]
async fn lists_paginate_with_cursors() {
    let fake = FakeSlack::start().await.expect("fake");
    let first = form(&fake, "users.list", &[("limit", "4")]).await;
    assert_eq!(first["members"].as_array().map(Vec::len), Some(4));
    let cursor = first["response_metadata"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    assert!(!cursor.is_empty());
    let second = form(&fake, "users.list", &[("limit", "4"), ("cursor", &cursor)]).await;
    assert_eq!(second["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(second["response_metadata"]["next_cursor"], "");
    let foreign = form(&fake, "conversations.list", &[("cursor", &cursor)]).await;
    assert_eq!(foreign["error"], "invalid_cursor");
    let history = form(
        &fake,
        "conversations.history",
        &[("channel", GENERAL_ID), ("limit", "1")],
    )
    .await;
    assert_eq!(
        (
            history["has_more"].clone(),
            history["messages"][0]["text"].clone()
        ),
        (json!(true), json!("Lunch anyone?"))
    );
}

#[tokio::test]
async fn faults_are_injected_per_method_for_n_requests() {
    let fake = FakeSlack::start().await.expect("fake");
    fake.inject(
        "auth.test",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        2,
    );
    fake.inject("auth.test", Fault::ServerError { status: 502 }, 1);
    fake.inject("auth.test", Fault::Malformed, 1);
    fake.inject(
        "auth.test",
        Fault::Slow {
            delay: Duration::from_millis(300),
        },
        1,
    );
    let client = Client::new();
    let url = format!("{}/auth.test", fake.url());
    let send = || client.post(&url).bearer_auth(TOKEN).send();
    for _ in 0..2 {
        let limited = send().await.expect("sent");
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            limited
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
        assert_eq!(body(limited).await["error"], "ratelimited");
    }
    assert_eq!(
        send().await.expect("sent").status(),
        StatusCode::BAD_GATEWAY
    );
    let malformed = send().await.expect("sent");
    assert_eq!(malformed.status(), StatusCode::OK);
    assert!(malformed.json::<Value>().await.is_err());
    let started = std::time::Instant::now();
    assert_eq!(body(send().await.expect("sent")).await["ok"], true);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body(send().await.expect("sent")).await["ok"], true);
    // Other methods were never affected.
    assert_eq!(form(&fake, "users.list", &[]).await["ok"], true);
    let statuses: Vec<u16> = fake
        .requests_for("auth.test")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 502, 200, 200, 200]);
}

#[tokio::test]
async fn reactions_and_permalinks() {
    let fake = FakeSlack::start().await.expect("fake");
    let ts = "1699999300.000100";
    let add = |name: &'static str| {
        post_json(
            &fake,
            "reactions.add",
            "application/json; charset=utf-8",
            json!({"channel": GENERAL_ID, "timestamp": ts, "name": name}),
        )
    };
    assert_eq!(add("eyes").await, json!({"ok": true}));
    assert_eq!(add("eyes").await["error"], "already_reacted");
    assert_eq!(add(":eyes:").await["error"], "invalid_name");
    let missing = post_json(
        &fake,
        "reactions.add",
        "application/json; charset=utf-8",
        json!({"name": "eyes"}),
    )
    .await;
    assert_eq!(missing["error"], "no_item_specified");
    assert_eq!(fake.reactions(GENERAL_ID, ts)[0].name, "eyes");
    let link = form(
        &fake,
        "chat.getPermalink",
        &[("channel", GENERAL_ID), ("message_ts", ts)],
    )
    .await;
    assert_eq!(
        link["permalink"],
        format!("https://switchboard-test.slack.com/archives/{GENERAL_ID}/p1699999300000100")
    );
    let gone = form(
        &fake,
        "chat.getPermalink",
        &[("channel", GENERAL_ID), ("message_ts", "1.000001")],
    )
    .await;
    assert_eq!(gone["error"], "message_not_found");
}
