//! Streaming against the fake Messages API: text arrives in pieces and adds up to the message, tool
//! input is assembled from `input_json_delta`s, and non-streaming mode gives the same conversation.

mod common;

use common::{Collect, TestHost, auto, config, run_with, text, tool_use};
use serde_json::json;
use switchboard_agent::{AgentEvent, AgentSettings, Outcome};
use switchboard_testkit::anthropic::{FakeAnthropic, FakeOptions, Reply};

const LONG: &str = "Résumé des données — 3 commandes échouées ✓. Checking the orders table \
                    before touching Jira, because facts come first.";

fn input() -> serde_json::Value {
    json!({"sql": "select count(*) from orders where status = 'failed'", "params": [1, "二"], "nested": {"a": [true, null]}})
}

async fn conversation(stream: bool) -> (Vec<serde_json::Value>, Collect) {
    let fake = FakeAnthropic::start_with(FakeOptions {
        stream_chunk_bytes: 5,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    fake.push(Reply::message(
        json!([text(LONG), tool_use("toolu_s", "echo", input())]),
        "tool_use",
    ));
    fake.push(Reply::text("Done: 3 failed orders."));
    let host = TestHost::new();
    let sink = Collect::default();
    let settings = AgentSettings {
        stream: Some(stream),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &sink).await;
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(host.call_names(), ["echo"]);
    assert_eq!(host.calls.lock().unwrap()[0].1, input());
    let bodies: Vec<_> = fake.requests().into_iter().map(|r| r.body).collect();
    assert!(bodies.iter().all(|b| b["stream"] == stream));
    (bodies, sink)
}

#[tokio::test]
async fn streamed_text_and_tool_input_are_assembled() {
    let (bodies, sink) = conversation(true).await;
    let deltas: Vec<String> = sink
        .events()
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TextDelta { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(deltas.len() > 5, "text was not streamed: {deltas:?}");
    assert_eq!(sink.text(), format!("{LONG}Done: 3 failed orders."));
    assert_eq!(
        bodies[1]["messages"][1],
        json!({"role": "assistant", "content": [text(LONG), tool_use("toolu_s", "echo", input())]})
    );
    assert_eq!(
        bodies[1]["messages"][2]["content"][0]["content"],
        input().to_string()
    );
}

#[tokio::test]
async fn non_streaming_mode_gives_the_same_conversation() {
    let (streamed, _) = conversation(true).await;
    let (plain, sink) = conversation(false).await;
    let strip = |mut body: serde_json::Value| {
        body.as_object_mut().unwrap().remove("stream");
        body
    };
    assert_eq!(strip(streamed[1].clone()), strip(plain[1].clone()));
    assert_eq!(sink.text(), format!("{LONG}Done: 3 failed orders."));
}

#[tokio::test]
async fn usage_from_the_stream_is_counted() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::text("hi").with_usage(json!({
        "input_tokens": 12, "output_tokens": 34,
        "cache_creation_input_tokens": 56, "cache_read_input_tokens": 78
    })));
    let host = TestHost::new();
    let sink = Collect::default();
    let summary = run_with(
        config(&fake, AgentSettings::default()),
        &host,
        auto(),
        &sink,
    )
    .await;
    let u = summary.usage;
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cache_creation_input_tokens,
            u.cache_read_input_tokens
        ),
        (12, 34, 56, 78)
    );
    assert!(
        sink.events()
            .iter()
            .any(|e| matches!(e, AgentEvent::Usage { step: 1, .. }))
    );
}
