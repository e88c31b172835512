//! Transcripts: a run is saved as JSON lines and replayed as the terminal showed it.

mod common;

use common::{Collect, TASK, TestHost, auto, config, run_with, text, tool_use};
use serde_json::json;
use switchboard_agent::{
    AgentEvent, AgentSettings, Fanout, JsonLinesSink, Outcome, TerminalRenderer, create_transcript,
    read_transcript, replay,
};
use switchboard_testkit::anthropic::{FakeAnthropic, Reply};

#[tokio::test]
async fn transcript_is_written_and_replayed() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([
            text("Checking."),
            tool_use("toolu_1", "echo", json!({"n": 1}))
        ]),
        "tool_use",
    ));
    fake.push(Reply::text("Found 1 order."));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let transcript = create_transcript(&path).unwrap();
    let collect = Collect::default();
    let host = TestHost::new();
    let summary = run_with(
        config(&fake, AgentSettings::default()),
        &host,
        auto(),
        &Fanout(vec![&transcript, &collect]),
    )
    .await;
    drop(transcript);

    let records = read_transcript(&path).unwrap();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| match &r.event {
            AgentEvent::RunStarted { .. } => "run_started",
            AgentEvent::Message { .. } => "message",
            AgentEvent::ToolCallStarted { .. } => "tool_call_started",
            AgentEvent::ToolCallFinished { .. } => "tool_call_finished",
            AgentEvent::Usage { .. } => "usage",
            AgentEvent::Finished { .. } => "finished",
            AgentEvent::TextDelta { .. } => "text_delta",
            AgentEvent::Retrying { .. } => "retrying",
            AgentEvent::Notice { .. } => "notice",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "message",
            "usage",
            "message",
            "tool_call_started",
            "tool_call_finished",
            "message",
            "usage",
            "message",
            "finished"
        ]
    );
    // Everything but the text deltas was saved, identical to what the sink saw.
    let live: Vec<AgentEvent> = collect
        .events()
        .into_iter()
        .filter(|e| !matches!(e, AgentEvent::TextDelta { .. }))
        .collect();
    let saved: Vec<AgentEvent> = records.iter().map(|r| r.event.clone()).collect();
    assert_eq!(saved, live);
    let raw = std::fs::read_to_string(&path).unwrap();
    let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "run_started");
    assert_eq!(first["task"], TASK);
    assert!(first["ts"].is_string());

    let renderer = TerminalRenderer::new(Vec::new(), Vec::new(), false);
    let replayed = replay(&path, &renderer).unwrap();
    assert_eq!(replayed, Some(summary.clone()));
    let (out, err) = renderer.into_inner().unwrap();
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(out, "Checking.\nFound 1 order.\n");
    assert!(err.contains(&format!("· task: {TASK}")), "{err}");
    assert!(err.contains("→ echo {\"n\":1}"), "{err}");
    assert!(err.contains("  ✓ echo: {\"n\":1} (7 B,"), "{err}");
    assert!(
        err.contains("── 2 steps · 1 tool call · tokens in 50 / out 20"),
        "{err}"
    );
    assert_eq!(summary.outcome, Outcome::Completed);
}

#[tokio::test]
async fn json_output_with_deltas_replays_without_doubling_text() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::text("Only once."));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let sink = JsonLinesSink::new(std::fs::File::create(&path).unwrap(), true);
    let host = TestHost::new();
    run_with(
        config(&fake, AgentSettings::default()),
        &host,
        auto(),
        &sink,
    )
    .await;
    drop(sink);
    let records = read_transcript(&path).unwrap();
    assert!(
        records
            .iter()
            .any(|r| matches!(r.event, AgentEvent::TextDelta { .. }))
    );
    let renderer = TerminalRenderer::new(Vec::new(), Vec::new(), false);
    replay(&path, &renderer).unwrap();
    let (out, _) = renderer.into_inner().unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "Only once.\n");
}

#[test]
fn malformed_transcript_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(
        &path,
        "{\"type\":\"notice\",\"ts\":\"t\",\"message\":\"ok\"}\nnot json\n",
    )
    .unwrap();
    let error = read_transcript(&path).unwrap_err().to_string();
    assert!(
        error.contains("bad.jsonl:2: not a transcript record"),
        "{error}"
    );
}
