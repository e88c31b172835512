//! Failed model calls against the fake Messages API: what is retried, how long the agent waits,
//! and what ends the run with the API's message.

mod common;

use std::time::Duration;

use common::{Collect, TestHost, auto, config, run, run_with, text};
use serde_json::json;
use switchboard_agent::{AgentEvent, AgentSettings, Outcome, TerminalRenderer};
use switchboard_testkit::anthropic::{FakeAnthropic, FakeOptions, Reply};

fn retries(sink: &Collect) -> Vec<(u32, u64)> {
    sink.events()
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Retrying {
                attempt, wait_ms, ..
            } => Some((*attempt, *wait_ms)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_succeeds() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::rate_limited("1"));
    fake.push(Reply::text("ok"));
    let host = TestHost::new();
    let (summary, sink) = run(&fake, &host).await;

    assert_eq!(summary.outcome, Outcome::Completed);
    let requests = fake.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(retries(&sink), [(1, 1000)]);
    // The repeated request is the same request.
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn retry_after_ms_takes_precedence() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::rate_limited("30").with_header("retry-after-ms", "300"));
    fake.push(Reply::text("ok"));
    let host = TestHost::new();
    let (summary, sink) = run(&fake, &host).await;
    assert_eq!(summary.outcome, Outcome::Completed);
    let requests = fake.requests();
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(retries(&sink), [(1, 300)]);
}

#[tokio::test]
async fn overloaded_and_api_errors_are_retried_with_backoff() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::overloaded());
    fake.push(Reply::error(500, "api_error", "Internal server error"));
    fake.push(Reply::overloaded());
    fake.push(Reply::text("ok"));
    let host = TestHost::new();
    let (summary, sink) = run(&fake, &host).await;
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(
        fake.requests().iter().map(|r| r.status).collect::<Vec<_>>(),
        [529, 500, 529, 200]
    );
    let attempts: Vec<u32> = retries(&sink).iter().map(|(a, _)| *a).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(retries(&sink).iter().all(|(_, wait)| *wait <= 40));
}

#[tokio::test]
async fn retries_stop_at_the_limit_with_the_last_error() {
    let fake = FakeAnthropic::start().await.unwrap();
    for _ in 0..4 {
        fake.push(Reply::overloaded());
    }
    let host = TestHost::new();
    let settings = AgentSettings {
        max_retries: Some(2),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &Collect::default()).await;
    assert_eq!(fake.requests().len(), 3);
    match &summary.outcome {
        Outcome::Failed {
            status,
            error_type,
            message,
            request_id,
        } => {
            assert_eq!(*status, Some(529));
            assert_eq!(error_type, "overloaded_error");
            assert_eq!(message, "Overloaded");
            assert!(request_id.as_deref().unwrap().starts_with("req_"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(summary.steps, 0);
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up_at_once() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::rate_limited("120"));
    fake.push(Reply::text("never"));
    let host = TestHost::new();
    let summary = run_with(
        config(&fake, AgentSettings::default()),
        &host,
        auto(),
        &Collect::default(),
    )
    .await;
    assert_eq!(fake.requests().len(), 1);
    let Outcome::Failed {
        status, message, ..
    } = &summary.outcome
    else {
        panic!("expected a failure, got {:?}", summary.outcome);
    };
    assert_eq!(*status, Some(429));
    assert!(
        message.contains("would exceed the retry budget of 90s"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_request_is_not_retried_and_its_message_is_shown() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::error(
        400,
        "invalid_request_error",
        "messages.0.content.0.text: text content blocks must be non-empty",
    ));
    fake.push(Reply::text("never"));
    let host = TestHost::new();
    let renderer = TerminalRenderer::new(Vec::new(), Vec::new(), false);
    let summary = run_with(
        config(&fake, AgentSettings::default()),
        &host,
        auto(),
        &renderer,
    )
    .await;
    assert_eq!(fake.requests().len(), 1);
    assert!(matches!(
        summary.outcome,
        Outcome::Failed {
            status: Some(400),
            ..
        }
    ));
    let (_, err) = renderer.into_inner().unwrap();
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains(
            "✗ the Anthropic API call failed with HTTP 400 (invalid_request_error): \
             messages.0.content.0.text: text content blocks must be non-empty [request-id req_"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_api_key_is_an_authentication_error_without_retry() {
    let fake = FakeAnthropic::start_with(FakeOptions {
        api_key: "sk-ant-other".into(),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let host = TestHost::new();
    let mut config = config(&fake, AgentSettings::default());
    config.api_key = switchboard_agent::Secret::new("sk-ant-wrong");
    let summary = run_with(config, &host, auto(), &Collect::default()).await;
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.requests()[0].status, 401);
    let Outcome::Failed {
        error_type,
        message,
        ..
    } = &summary.outcome
    else {
        panic!("expected a failure, got {:?}", summary.outcome);
    };
    assert_eq!(error_type, "authentication_error");
    assert_eq!(message, "invalid x-api-key");
    assert!(!summary.outcome.to_string().contains("sk-ant-wrong"));
}

#[tokio::test]
async fn overloaded_event_inside_a_stream_is_retried() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::StreamError {
        message: json!({"content": [text("Half an answer"), text("never sent")], "stop_reason": "end_turn"}),
        after_blocks: 1,
        error_type: "overloaded_error".into(),
        error_message: "Overloaded".into(),
    });
    fake.push(Reply::text("Full answer."));
    let host = TestHost::new();
    let (summary, sink) = run(&fake, &host).await;
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.final_text, "Full answer.");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(retries(&sink).len(), 1);
    // The partial text was shown as it streamed, then the retry was announced.
    let events = sink.events();
    let retry_at = events
        .iter()
        .position(|e| matches!(e, AgentEvent::Retrying { .. }))
        .unwrap();
    assert!(
        events[..retry_at]
            .iter()
            .any(|e| matches!(e, AgentEvent::TextDelta { text } if text.starts_with("Half")))
    );
}

#[tokio::test]
async fn unexpected_server_answer_marked_not_retryable_is_not_retried() {
    // An exhausted script answers 500 with `x-should-retry: false`.
    let fake = FakeAnthropic::start().await.unwrap();
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;
    assert_eq!(fake.requests().len(), 1);
    assert!(matches!(
        summary.outcome,
        Outcome::Failed {
            status: Some(500),
            ..
        }
    ));
}
