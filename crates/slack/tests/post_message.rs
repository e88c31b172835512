//! `post_message` end to end: the real server, an rmcp client, the fake Slack Web API.

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::json;
use switchboard_testkit::slack::{
    ARCHIVED_ID, BOT_USER_ID, FakeChannel, Fault, GENERAL_ID, GENERAL_THREAD_TS, INCIDENTS_ID,
    OPERATIONS_ID,
};

#[tokio::test]
async fn posts_by_hash_name_plain_name_and_id() {
    let h = Harness::start().await;
    let by_hash = h
        .ok(
            "post_message",
            json!({"channel": "#operations", "text": "one"}),
        )
        .await;
    let by_name = h
        .ok("post_message", json!({"channel": "general", "text": "two"}))
        .await;
    let by_id = h
        .ok(
            "post_message",
            json!({"channel": INCIDENTS_ID, "text": "three"}),
        )
        .await;

    assert_eq!(by_hash["channel"], OPERATIONS_ID);
    assert_eq!(by_hash["channel_name"], "operations");
    assert_eq!(by_name["channel"], GENERAL_ID);
    assert_eq!(by_id["channel"], INCIDENTS_ID);
    let ops = h.fake.posted(OPERATIONS_ID);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].text, "one");
    assert_eq!(by_hash["ts"], ops[0].ts.as_str());
    assert_eq!(by_hash["parts"], json!([ops[0].ts]));
    assert_eq!(by_hash["deduplicated"], false);
    let expected_link = format!(
        "https://switchboard-test.slack.com/archives/{OPERATIONS_ID}/p{}",
        ops[0].ts.replace('.', "")
    );
    assert_eq!(by_hash["permalink"], expected_link.as_str());
    assert_eq!(h.fake.posted(GENERAL_ID)[0].text, "two");
    assert_eq!(h.fake.posted(INCIDENTS_ID)[0].text, "three");
    // Names are resolved once through conversations.list, then served from the cache.
    assert_eq!(h.fake.requests_for("conversations.list").len(), 1);
    // The token travels only in the Authorization header, and chat.postMessage as JSON.
    let post = &h.fake.requests_for("chat.postMessage")[0];
    assert_eq!(
        post.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert!(!post.args.contains_key("token"));
}

#[tokio::test]
async fn markdown_is_converted_to_mrkdwn() {
    let h = Harness::start().await;
    let text = "## Failed orders\n\n**7** orders failed in the last _24h_ ~~(was 2)~~.\n\n\
                - see [the runbook](https://wiki.example/runbook?a=1&b=2)\n- owner: <@U0ALICE001>\n\n\
                > check `status <> 'ok'`\n\n```sql\nSELECT * FROM orders WHERE a < b;\n```";
    h.ok(
        "post_message",
        json!({"channel": "#operations", "text": text}),
    )
    .await;
    let posted = &h.fake.posted(OPERATIONS_ID)[0].text;
    assert_eq!(
        posted,
        "*Failed orders*\n\n*7* orders failed in the last _24h_ ~(was 2)~.\n\n\
         • see <https://wiki.example/runbook?a=1&amp;b=2|the runbook>\n• owner: <@U0ALICE001>\n\n\
         > check `status &lt;&gt; 'ok'`\n\n```\nSELECT * FROM orders WHERE a &lt; b;\n```"
    );
}

#[tokio::test]
async fn replies_in_a_thread() {
    let h = Harness::start().await;
    let reply = h
        .ok(
            "post_message",
            json!({"channel": "#general", "text": "on it", "thread_ts": GENERAL_THREAD_TS}),
        )
        .await;
    assert_eq!(reply["thread_ts"], GENERAL_THREAD_TS);
    let posted = h.fake.posted(GENERAL_ID);
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].thread_ts.as_deref(), Some(GENERAL_THREAD_TS));
    assert!(posted[0].is_reply());
    let link = reply["permalink"].as_str().expect("permalink");
    assert!(
        link.contains(&format!("thread_ts={GENERAL_THREAD_TS}")),
        "{link}"
    );
    let thread = h
        .ok(
            "get_thread_replies",
            json!({"channel": "general", "thread_ts": GENERAL_THREAD_TS}),
        )
        .await;
    let last = thread["messages"]
        .as_array()
        .and_then(|m| m.last())
        .expect("messages")
        .clone();
    assert_eq!(last["text"], "on it");
    assert_eq!(last["user"], BOT_USER_ID);
}

#[tokio::test]
async fn long_text_is_split_into_paced_messages_in_order() {
    let h = Harness::start().await;
    let paragraph = "All systems nominal. ".repeat(500); // 10,500 characters
    let text = [paragraph.trim_end(); 8].join("\n\n"); // ~84,000 characters
    let result = h
        .ok(
            "post_message",
            json!({"channel": "#operations", "text": text}),
        )
        .await;
    let posted = h.fake.posted(OPERATIONS_ID);
    assert_eq!(
        posted.len(),
        3,
        "84,000 characters need three messages below 40,000"
    );
    assert!(posted.iter().all(|m| m.text.chars().count() < 40_000));
    assert_eq!(
        posted
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        text
    );
    let parts: Vec<&str> = result["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(
        parts,
        posted.iter().map(|m| m.ts.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(result["ts"], posted[0].ts.as_str());
    // One message per second per channel.
    let times: Vec<_> = h
        .fake
        .requests_for("chat.postMessage")
        .iter()
        .map(|r| r.received_at)
        .collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(900),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}

#[tokio::test]
async fn text_needing_more_than_four_messages_is_refused() {
    let h = Harness::start().await;
    let text = "word ".repeat(40_000);
    let error = h
        .err(
            "post_message",
            json!({"channel": "#operations", "text": text}),
        )
        .await;
    assert!(error.contains("at most 4 messages"), "{error}");
    assert!(h.fake.requests_for("chat.postMessage").is_empty());
}

#[tokio::test]
async fn broadcasts_are_refused_unless_allowed() {
    let h = Harness::start().await;
    for text in [
        "@here deploy done",
        "<!channel> deploy done",
        "ping @everyone",
        "<!here|here> hi",
    ] {
        let error = h
            .err(
                "post_message",
                json!({"channel": "#operations", "text": text}),
            )
            .await;
        assert!(
            error.contains("broadcast") && error.contains("SLACK_ALLOW_BROADCAST"),
            "{error}"
        );
    }
    assert!(h.fake.requests_for("chat.postMessage").is_empty());
    // Addresses and user mentions are not broadcasts.
    h.ok(
        "post_message",
        json!({"channel": "#operations", "text": "mail ops@here.io, cc <@U0BOB00001>"}),
    )
    .await;

    let allowed = Harness::start_with(|config| config.allow_broadcast = true).await;
    allowed
        .ok(
            "post_message",
            json!({"channel": "#operations", "text": "@here deploy done"}),
        )
        .await;
    assert_eq!(
        allowed.fake.posted(OPERATIONS_ID)[0].text,
        "<!here> deploy done"
    );
}

#[tokio::test]
async fn allow_list_limits_writes() {
    let h = Harness::start_with(|config| {
        config.channels = Some(vec![
            "operations".to_owned(),
            GENERAL_ID.to_owned(),
            "random".to_owned(),
        ]);
    })
    .await;
    h.ok(
        "post_message",
        json!({"channel": "#operations", "text": "by name"}),
    )
    .await;
    h.ok(
        "post_message",
        json!({"channel": "#general", "text": "by id in the list"}),
    )
    .await;
    let error = h
        .err(
            "post_message",
            json!({"channel": "#incidents", "text": "no"}),
        )
        .await;
    assert!(
        error.contains("not allowed") && error.contains("#operations"),
        "{error}"
    );
    let error = h
        .err(
            "add_reaction",
            json!({"channel": INCIDENTS_ID, "ts": "1.1", "name": "eyes"}),
        )
        .await;
    assert!(error.contains("not allowed"), "{error}");
    assert!(h.fake.posted(INCIDENTS_ID).is_empty());
    // Allowed but the bot is not a member: Slack's not_in_channel, with what to do.
    let error = h
        .err("post_message", json!({"channel": "#random", "text": "hi"}))
        .await;
    assert!(
        error.contains("not_in_channel") && error.contains("/invite"),
        "{error}"
    );
    assert_eq!(
        h.fake
            .requests_for("chat.postMessage")
            .last()
            .and_then(|r| r.error.clone())
            .as_deref(),
        Some("not_in_channel")
    );
}

#[tokio::test]
async fn without_allow_list_only_member_channels_are_writable() {
    let h = Harness::start().await;
    let error = h
        .err(
            "post_message",
            json!({"channel": "#no-such-channel", "text": "hi"}),
        )
        .await;
    assert!(
        error.contains("not found") && error.contains("list_channels"),
        "{error}"
    );
    // The first lookup filled the empty cache: a missing name costs one listing, not two.
    assert_eq!(h.fake.requests_for("conversations.list").len(), 1);
    let error = h
        .err("post_message", json!({"channel": "#random", "text": "hi"}))
        .await;
    assert!(
        error.contains("not a member") && error.contains("/invite"),
        "{error}"
    );
    assert!(h.fake.requests_for("chat.postMessage").is_empty());
    let error = h
        .err(
            "post_message",
            json!({"channel": ARCHIVED_ID, "text": "hi"}),
        )
        .await;
    assert!(
        error.contains("is_archived") && error.contains("archived"),
        "{error}"
    );
    let error = h
        .err(
            "post_message",
            json!({"channel": "#operations", "text": "   "}),
        )
        .await;
    assert!(error.contains("text is empty"), "{error}");
}

#[tokio::test]
async fn missing_scope_names_the_scope() {
    let h = Harness::start().await;
    h.fake
        .set_scopes(&["channels:read", "groups:read", "users:read"]);
    let error = h
        .err(
            "post_message",
            json!({"channel": "#operations", "text": "hi"}),
        )
        .await;
    assert!(
        error.contains("missing_scope") && error.contains("`chat:write`"),
        "{error}"
    );
    assert!(
        error.contains("channels:read,groups:read,users:read"),
        "{error}"
    );
}

#[tokio::test]
async fn channel_cache_is_refreshed_once_on_channel_not_found() {
    let h = Harness::start().await;
    h.ok(
        "post_message",
        json!({"channel": "#operations", "text": "warm the cache"}),
    )
    .await;
    // A channel created after the cache was filled is found by refreshing.
    h.fake
        .add_channel(FakeChannel::public("C0NEWCHAN1", "new-channel"));
    let new = h
        .ok(
            "post_message",
            json!({"channel": "#new-channel", "text": "hello"}),
        )
        .await;
    assert_eq!(new["channel"], "C0NEWCHAN1");
    assert_eq!(h.fake.requests_for("conversations.list").len(), 2);
    // A channel deleted and recreated under the same name: the cached id is stale.
    h.fake.remove_channel(OPERATIONS_ID);
    h.fake
        .add_channel(FakeChannel::public("C0RECREATE", "operations"));
    let moved = h
        .ok(
            "post_message",
            json!({"channel": "#operations", "text": "again"}),
        )
        .await;
    assert_eq!(moved["channel"], "C0RECREATE");
    assert_eq!(h.fake.posted("C0RECREATE")[0].text, "again");
    let posts: Vec<_> = h
        .fake
        .requests_for("chat.postMessage")
        .iter()
        .map(|r| r.error.clone())
        .collect();
    assert_eq!(
        posts,
        vec![None, None, Some("channel_not_found".to_owned()), None]
    );
    assert_eq!(h.fake.requests_for("conversations.list").len(), 3);
}

#[tokio::test]
async fn retried_posts_are_not_duplicated() {
    let h = Harness::start().await;
    let args = json!({"channel": "#operations", "text": "Deploy finished"});
    let first = h.ok("post_message", args.clone()).await;
    let again = h.ok("post_message", args).await;
    assert_eq!(first["ts"], again["ts"]);
    assert_eq!(again["deduplicated"], true);
    assert_eq!(h.fake.posted(OPERATIONS_ID).len(), 1);

    // An explicit key identifies the post even if the text changed.
    let keyed = json!({"channel": "#general", "text": "v1", "idempotency_key": "report-42"});
    let first = h.ok("post_message", keyed).await;
    let retry = h
        .ok(
            "post_message",
            json!({"channel": "#general", "text": "v2", "idempotency_key": "report-42"}),
        )
        .await;
    assert_eq!(first["ts"], retry["ts"]);
    assert_eq!(h.fake.posted(GENERAL_ID).len(), 1);

    // Concurrent identical calls post once.
    let args = json!({"channel": "#incidents", "text": "same time"});
    let (a, b) = tokio::join!(
        h.ok("post_message", args.clone()),
        h.ok("post_message", args)
    );
    assert_eq!(a["ts"], b["ts"]);
    assert_eq!(h.fake.posted(INCIDENTS_ID).len(), 1);
}

#[tokio::test]
async fn different_texts_are_different_posts() {
    let h = Harness::start().await;
    h.ok(
        "post_message",
        json!({"channel": "#operations", "text": "first"}),
    )
    .await;
    h.ok(
        "post_message",
        json!({"channel": "#operations", "text": "second"}),
    )
    .await;
    assert_eq!(h.fake.posted(OPERATIONS_ID).len(), 2);
}

#[tokio::test]
async fn dedupe_window_expires() {
    let h = Harness::start_with(|config| config.dedupe_window = Duration::from_millis(200)).await;
    let args = json!({"channel": "#operations", "text": "twice on purpose"});
    h.ok("post_message", args.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = h.ok("post_message", args).await;
    assert_eq!(second["deduplicated"], false);
    assert_eq!(h.fake.posted(OPERATIONS_ID).len(), 2);
}

#[tokio::test]
async fn posts_to_one_channel_are_paced_and_other_channels_are_not_delayed() {
    let h = Harness::start().await;
    for n in 0..3 {
        h.ok(
            "post_message",
            json!({"channel": "#operations", "text": format!("update {n}")}),
        )
        .await;
    }
    h.ok(
        "post_message",
        json!({"channel": "#general", "text": "elsewhere"}),
    )
    .await;
    let posts = h.fake.requests_for("chat.postMessage");
    let ops: Vec<_> = posts
        .iter()
        .filter(|r| r.args.get("channel").map(String::as_str) == Some(OPERATIONS_ID))
        .map(|r| r.received_at)
        .collect();
    assert_eq!(ops.len(), 3);
    for pair in ops.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(900) && gap < Duration::from_millis(1800),
            "{gap:?}"
        );
    }
    let general = posts
        .iter()
        .find(|r| r.args.get("channel").map(String::as_str) == Some(GENERAL_ID))
        .expect("general post");
    assert!(
        general.received_at - ops[2] < Duration::from_millis(500),
        "another channel must not wait"
    );
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_honoured_then_succeeds() {
    let h = Harness::start().await;
    h.fake.inject(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let result = h
        .ok(
            "post_message",
            json!({"channel": "#operations", "text": "after the wait"}),
        )
        .await;
    let posts = h.fake.requests_for("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].status, 429);
    assert!(posts[1].received_at - posts[0].received_at >= Duration::from_millis(950));
    assert_eq!(h.fake.posted(OPERATIONS_ID).len(), 1);
    assert_eq!(result["ts"], h.fake.posted(OPERATIONS_ID)[0].ts.as_str());
}

#[tokio::test]
async fn rate_limit_beyond_the_retry_budget_is_reported() {
    let h = Harness::start().await;
    h.fake.inject(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    );
    let error = h
        .err(
            "post_message",
            json!({"channel": "#operations", "text": "hi"}),
        )
        .await;
    assert!(
        error.contains("rate limiting") && error.contains("120"),
        "{error}"
    );
    assert!(h.fake.posted(OPERATIONS_ID).is_empty());
}

#[tokio::test]
async fn a_failed_post_is_not_remembered_and_can_be_retried() {
    let h = Harness::start().await;
    h.fake
        .inject("chat.postMessage", Fault::ServerError { status: 500 }, 1);
    let args = json!({"channel": "#operations", "text": "retry me"});
    let error = h.err("post_message", args.clone()).await;
    assert!(error.contains("500"), "{error}");
    let ok = h.ok("post_message", args).await;
    assert_eq!(ok["deduplicated"], false);
    assert_eq!(h.fake.posted(OPERATIONS_ID).len(), 1);
}

#[tokio::test]
async fn permalink_failure_does_not_fail_a_delivered_post() {
    let h = Harness::start().await;
    h.fake.inject(
        "chat.getPermalink",
        Fault::Error {
            code: "internal_error".to_owned(),
        },
        1,
    );
    let result = h
        .ok(
            "post_message",
            json!({"channel": "#operations", "text": "delivered"}),
        )
        .await;
    assert!(result["permalink"].is_null());
    assert_eq!(h.fake.posted(OPERATIONS_ID).len(), 1);
}

#[tokio::test]
async fn too_long_for_slack_is_reported_with_what_to_do() {
    let h = Harness::start().await;
    h.fake.inject(
        "chat.postMessage",
        Fault::Error {
            code: "msg_too_long".to_owned(),
        },
        1,
    );
    let error = h
        .err(
            "post_message",
            json!({"channel": "#operations", "text": "x"}),
        )
        .await;
    assert!(
        error.contains("msg_too_long") && error.contains("shorten"),
        "{error}"
    );
}
