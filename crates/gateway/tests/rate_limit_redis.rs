//! Rate-limit buckets shared by replicas in a real Redis (127.0.0.1:6379; started here when it
//! is down), each test under its own key prefix, deleted afterwards.

mod common;

use std::time::{Duration, Instant};

use common::redis::{KeySpace, REDIS, redis};
use common::{args, fixture_server, start, text, try_start};
use redis::AsyncCommands as _;
use switchboard_gateway::audit::read_records;

fn config(dir: &std::path::Path, store: &str, prefix: &str) -> String {
    format!(
        "[gateway]\nrate_limit_store = {store:?}\nrate_limit_prefix = {prefix:?}\n\
         [pins]\nenabled = false\n[audit]\npath = {:?}\n{}\
         [rate_limits]\n\"echo\" = {{ rate = \"3/minute\" }}\n",
        dir.join("audit.jsonl").display().to_string(),
        fixture_server("a", &[]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_draw_from_the_same_buckets() {
    let mut redis = redis().await;
    let space = KeySpace::new();
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let replica1 = start(dir1.path(), &config(dir1.path(), REDIS, &space.prefix)).await;
    let replica2 = start(dir2.path(), &config(dir2.path(), REDIS, &space.prefix)).await;
    let echo = || args(serde_json::json!({"text": "x"}));
    let (c1, c2) = (replica1.caller("local", "s"), replica2.caller("local", "s"));

    // 3 per minute in all, whichever replica takes the call.
    for (gateway, caller) in [(&replica1, &c1), (&replica2, &c2), (&replica1, &c1)] {
        let result = gateway.call_tool(caller, "echo", echo()).await;
        assert_eq!(result.is_error, Some(false), "{}", text(&result));
    }
    let refused = replica2.call_tool(&c2, "echo", echo()).await;
    assert_eq!(refused.is_error, Some(true));
    let message = text(&refused);
    assert!(
        message.contains("rate limit reached for tool echo (3 per 60s); retry in"),
        "{message}"
    );
    // The next token is a third of a minute away.
    let secs: f64 = message
        .rsplit("retry in ")
        .next()
        .and_then(|s| s.trim_end_matches('s').parse().ok())
        .unwrap();
    assert!((19.0..=20.0).contains(&secs), "{message}");
    assert!(
        replica1
            .call_tool(&c1, "echo", echo())
            .await
            .is_error
            .unwrap()
    );
    // A tool without a rule never touches the store.
    let result = replica1.call_tool(&c1, "whoami", None).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));

    // One key for the one bucket, expiring once the bucket is full again.
    let keys = space.keys(&mut redis).await;
    assert_eq!(keys, [format!("{}:rate:tool|echo|echo", space.prefix)]);
    let ttl: i64 = redis.pttl(&keys[0]).await.unwrap();
    assert!((1..=60_001).contains(&ttl), "{ttl}");
    replica1.shutdown().await;
    replica2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_refuses_limited_calls_and_keeps_its_password() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1.
    let store = "redis://:s3cret-store-pass@127.0.0.1:1/0";
    let gateway = start(
        dir.path(),
        &config(dir.path(), store, "sb-test-unreachable"),
    )
    .await;
    let caller = gateway.caller("local", "s");
    for _ in 0..2 {
        let began = Instant::now();
        let result = gateway
            .call_tool(&caller, "echo", args(serde_json::json!({"text": "x"})))
            .await;
        assert!(began.elapsed() < Duration::from_secs(3), "no hang");
        assert_eq!(result.is_error, Some(true));
        let message = text(&result);
        assert!(
            message.contains("the shared rate-limit store redis://127.0.0.1:1/0 did not answer")
                && message.contains("the call was not run"),
            "{message}"
        );
        assert!(!message.contains("s3cret-store-pass"), "{message}");
    }
    // Unlimited tools still work; the refusals are audited, without the password.
    let result = gateway.call_tool(&caller, "whoami", None).await;
    assert_eq!(result.is_error, Some(false));
    gateway.shutdown().await;
    let records = read_records(&dir.path().join("audit.jsonl")).unwrap();
    let outcomes: Vec<_> = records
        .iter()
        .map(|r| (r.outcome.as_str(), r.layer.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("refused", Some("rate_limit")),
            ("refused", Some("rate_limit")),
            ("ok", None)
        ]
    );
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(!log.contains("s3cret-store-pass"));
}

#[tokio::test]
async fn a_bad_store_setting_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (store, prefix, expected) in [
        (
            "http://127.0.0.1:6379",
            "p",
            "gateway.rate_limit_store: is not a Redis URL",
        ),
        (
            REDIS,
            "has space",
            "gateway.rate_limit_prefix: must be non-empty",
        ),
    ] {
        let error = try_start(dir.path(), &config(dir.path(), store, prefix))
            .await
            .err()
            .expect("refused");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_leaves_approvals_to_the_replica_holding_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[state]\nstore = \"redis://127.0.0.1:1/0\"\nprefix = \"sb-test-down\"\n\
         [pins]\nenabled = false\n[approvals]\ntimeout = \"30s\"\n\
         [tools.\"echo\"]\napproval = \"required\"\n\
         [clients.ops]\ntoken = \"ops-token-1234\"\nadmin = true\n\
         [clients.ci]\ntoken = \"ci-token-1234\"\n{}",
        fixture_server("a", &[]),
    );
    let gateway = start(dir.path(), &toml).await;
    let ci = gateway.authenticate("ci-token-1234", "s").unwrap();
    let ops = gateway.authenticate("ops-token-1234", "o").unwrap();
    let waiting = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            gateway
                .call_tool(&ci, "echo", args(serde_json::json!({"text": "held"})))
                .await
        })
    };
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = gateway.approvals().await.unwrap();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed.len(), 1, "this replica still lists its own call");
    gateway
        .decide_approval(&listed[0].id, true, None, &ops)
        .await
        .unwrap();
    let result = waiting.await.unwrap();
    assert_eq!(text(&result), "held", "and its operator decides it");
    gateway.shutdown().await;
}
