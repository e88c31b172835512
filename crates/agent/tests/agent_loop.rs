//! The loop against the fake Messages API: stop reasons, tool round trips, concurrency, result
//! budget, budgets, prompt-cache breakpoints and approvals.

mod common;

use std::sync::atomic::Ordering;
use std::time::Instant;

use common::{
    Collect, ScriptedApprover, TASK, TestHost, auto, config, run, run_with, text, tool_use,
};
use serde_json::{Value, json};
use switchboard_agent::{AgentEvent, AgentSettings, Decision, Outcome};
use switchboard_testkit::anthropic::{FakeAnthropic, Reply};

fn cc() -> Value {
    json!({"type": "ephemeral"})
}

#[tokio::test]
async fn end_turn_finishes_after_one_request() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::text("There are 3 failed orders."));
    let host = TestHost::new();
    let (summary, sink) = run(&fake, &host).await;

    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.steps, 1);
    assert_eq!(summary.final_text, "There are 3 failed orders.");
    assert_eq!(sink.text(), "There are 3 failed orders.");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.status, 200);
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("x-api-key"), Some(fake.api_key()));
    assert_eq!(request.body["model"], "claude-sonnet-4-5");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["system"][0]["cache_control"], cc());
    assert_eq!(
        request.body["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": TASK, "cache_control": {"type": "ephemeral"}}
        ]}])
    );
    assert!(matches!(
        sink.events().last(),
        Some(AgentEvent::Finished { .. })
    ));
}

#[tokio::test]
async fn tool_round_trip_sends_results_in_order_with_is_error() {
    let fake = FakeAnthropic::start().await.unwrap();
    let assistant = json!([
        text("Let me check."),
        tool_use("toolu_01", "echo", json!({"q": 1})),
        tool_use("toolu_02", "fail", json!({})),
    ]);
    fake.push(Reply::message(assistant.clone(), "tool_use"));
    fake.push(Reply::text("The orders table is missing."));
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;

    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(
        (summary.steps, summary.tool_calls, summary.tool_errors),
        (2, 2, 1)
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["content"][0].get("cache_control"), None);
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": assistant})
    );
    assert_eq!(
        messages[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "{\"q\":1}"},
            {"type": "tool_result", "tool_use_id": "toolu_02",
             "content": "relation \"orders\" does not exist (SQLSTATE 42P01)", "is_error": true,
             "cache_control": {"type": "ephemeral"}}
        ]})
    );
}

#[tokio::test]
async fn several_tool_uses_run_concurrently_and_answer_in_block_order() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([
            tool_use("toolu_a", "slow", json!({"ms": 400})),
            tool_use("toolu_b", "slow", json!({"ms": 100})),
            tool_use("toolu_c", "slow", json!({"ms": 250})),
        ]),
        "tool_use",
    ));
    fake.push(Reply::text("done"));
    let host = TestHost::new();
    let (summary, sink) = run(&fake, &host).await;

    assert_eq!(summary.outcome, Outcome::Completed);
    // All three were running at the same moment.
    assert_eq!(host.max_active.load(Ordering::SeqCst), 3);
    let results = &fake.requests()[1].body["messages"][2]["content"];
    let ids: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tool_use_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["toolu_a", "toolu_b", "toolu_c"]);
    assert_eq!(results[1]["content"], "slept 100 ms");
    // Completion order differs from block order: b finished first.
    let finished: Vec<String> = sink
        .events()
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolCallFinished { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(finished, ["toolu_b", "toolu_c", "toolu_a"]);
}

#[tokio::test]
async fn tool_concurrency_is_bounded() {
    let fake = FakeAnthropic::start().await.unwrap();
    let calls: Vec<Value> = (0..4)
        .map(|i| tool_use(&format!("toolu_{i}"), "slow", json!({"ms": 100})))
        .collect();
    fake.push(Reply::message(Value::Array(calls), "tool_use"));
    fake.push(Reply::text("done"));
    let host = TestHost::new();
    let settings = AgentSettings {
        tool_concurrency: Some(2),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &Collect::default()).await;
    assert_eq!(summary.tool_calls, 4);
    assert_eq!(host.max_active.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn large_result_is_cut_to_the_budget_with_a_note() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([tool_use("toolu_big", "big", json!({"bytes": 10000}))]),
        "tool_use",
    ));
    fake.push(Reply::text("ok"));
    let host = TestHost::new();
    let sink = Collect::default();
    let settings = AgentSettings {
        result_budget_bytes: Some(1000),
        ..AgentSettings::default()
    };
    run_with(config(&fake, settings), &host, auto(), &sink).await;

    let content = fake.requests()[1].body["messages"][2]["content"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(content.starts_with(&"x".repeat(1000)));
    assert!(!content.starts_with(&"x".repeat(1001)));
    assert!(content.contains("[Result truncated: showing the first 1000 of 10000 bytes."));
    assert!(sink.events().iter().any(|e| matches!(
        e,
        AgentEvent::ToolCallFinished {
            truncated: true,
            bytes: 10000,
            ..
        }
    )));
}

#[tokio::test]
async fn pause_turn_resends_with_the_paused_content_and_continues_the_same_turn() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([text("Searching the archive ")]),
        "pause_turn",
    ));
    fake.push(Reply::message(
        json!([
            text("found it."),
            tool_use("toolu_p", "echo", json!({"k": "v"}))
        ]),
        "tool_use",
    ));
    fake.push(Reply::text("All done."));
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;

    assert_eq!(summary.outcome, Outcome::Completed);
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.status == 200));
    // The paused content is sent back as the final assistant turn, without trailing whitespace.
    assert_eq!(
        requests[1].body["messages"][1],
        json!({"role": "assistant", "content": [text("Searching the archive")]})
    );
    // The continuation joins the same assistant turn, answered by the tool result.
    let messages = requests[2].body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[1]["content"],
        json!([
            text("Searching the archive"),
            text("found it."),
            tool_use("toolu_p", "echo", json!({"k": "v"}))
        ])
    );
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_p");
}

#[tokio::test]
async fn max_tokens_inside_a_tool_call_retries_with_more_room() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([
            text("I'll query."),
            tool_use("toolu_cut", "echo", json!({}))
        ]),
        "max_tokens",
    ));
    fake.push(Reply::message(
        json!([
            text("I'll query."),
            tool_use("toolu_full", "echo", json!({"sql": "select 1"}))
        ]),
        "tool_use",
    ));
    fake.push(Reply::text("Done."));
    let host = TestHost::new();
    let settings = AgentSettings {
        max_tokens: Some(1000),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &Collect::default()).await;

    assert_eq!(summary.outcome, Outcome::Completed);
    let requests = fake.requests();
    assert_eq!(requests[0].body["max_tokens"], 1000);
    assert_eq!(requests[1].body["max_tokens"], 2000);
    assert_eq!(requests[0].body["messages"], requests[1].body["messages"]);
    assert_eq!(host.call_names(), ["echo"]);
    assert_eq!(
        requests[2].body["messages"][2]["content"][0]["tool_use_id"],
        "toolu_full"
    );
}

#[tokio::test]
async fn max_tokens_inside_a_tool_call_at_the_ceiling_stops_clearly() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([tool_use("toolu_cut", "echo", json!({}))]),
        "max_tokens",
    ));
    let host = TestHost::new();
    let settings = AgentSettings {
        max_tokens: Some(500),
        max_tokens_ceiling: Some(500),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &Collect::default()).await;
    assert_eq!(
        summary.outcome,
        Outcome::OutputTruncated { max_tokens: 500 }
    );
    assert!(summary.outcome.to_string().contains("max_tokens (500)"));
    assert_eq!(fake.requests().len(), 1);
    assert!(host.call_names().is_empty());
}

#[tokio::test]
async fn max_tokens_in_text_continues_the_answer() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(json!([text("Part one, ")]), "max_tokens"));
    fake.push(Reply::text(" part two."));
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.final_text, "Part one, part two.");
    assert_eq!(
        fake.requests()[1].body["messages"][1],
        json!({"role": "assistant", "content": [text("Part one,")]})
    );
}

#[tokio::test]
async fn refusal_and_context_window_end_with_an_explanation() {
    for (reason, expected) in [
        ("refusal", Outcome::Refused),
        (
            "model_context_window_exceeded",
            Outcome::ContextWindowExceeded,
        ),
    ] {
        let fake = FakeAnthropic::start().await.unwrap();
        fake.push(Reply::message(json!([text("I can't")]), reason));
        fake.push(Reply::text("never sent"));
        let host = TestHost::new();
        let (summary, _) = run(&fake, &host).await;
        assert_eq!(summary.outcome, expected);
        assert!(!summary.outcome.is_success());
        assert_eq!(fake.requests().len(), 1);
        assert_eq!(fake.remaining(), 1);
    }
}

#[tokio::test]
async fn unknown_stop_reason_ends_the_loop() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(json!([text("hmm")]), "some_future_reason"));
    fake.push(Reply::text("never sent"));
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;
    assert_eq!(
        summary.outcome,
        Outcome::UnknownStopReason {
            reason: "some_future_reason".into()
        }
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn step_budget_stops_without_running_the_last_tools() {
    let fake = FakeAnthropic::start().await.unwrap();
    for i in 0..3 {
        fake.push(Reply::message(
            json!([tool_use(&format!("toolu_{i}"), "echo", json!({"i": i}))]),
            "tool_use",
        ));
    }
    let host = TestHost::new();
    let sink = Collect::default();
    let settings = AgentSettings {
        max_steps: Some(2),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &sink).await;
    assert_eq!(
        summary.outcome,
        Outcome::StepBudgetExhausted { max_steps: 2 }
    );
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(host.call_names().len(), 1);
    assert!(summary.outcome.to_string().contains("step budget of 2"));
}

#[tokio::test]
async fn token_budget_stops_after_the_response_that_spends_it() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(
        Reply::message(json!([tool_use("toolu_1", "echo", json!({}))]), "tool_use")
            .with_usage(json!({"input_tokens": 80, "output_tokens": 30})),
    );
    let host = TestHost::new();
    let settings = AgentSettings {
        max_total_tokens: Some(100),
        ..AgentSettings::default()
    };
    let summary = run_with(config(&fake, settings), &host, auto(), &Collect::default()).await;
    assert_eq!(
        summary.outcome,
        Outcome::TokenBudgetExhausted {
            used: 110,
            max: 100
        }
    );
    assert_eq!(summary.usage.input_tokens, 80);
    assert_eq!(fake.requests().len(), 1);
    assert!(host.call_names().is_empty());
}

#[tokio::test]
async fn cache_breakpoints_and_tools_are_stable_between_turns() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([tool_use("toolu_1", "echo", json!({}))]),
        "tool_use",
    ));
    fake.push(Reply::message(
        json!([tool_use("toolu_2", "echo", json!({}))]),
        "tool_use",
    ));
    fake.push(Reply::text("done"));
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;
    assert_eq!(summary.outcome, Outcome::Completed);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        let body = &request.body;
        assert_eq!(body["tools"], requests[0].body["tools"]);
        assert_eq!(body["system"], requests[0].body["system"]);
        let tools = body["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 5);
        assert_eq!(tools[4]["cache_control"], cc());
        assert!(tools[..4].iter().all(|t| t.get("cache_control").is_none()));
        let marked: Vec<(usize, usize)> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                m["content"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.get("cache_control").is_some())
                    .map(move |(j, _)| (i, j))
                    .collect::<Vec<_>>()
            })
            .collect();
        let last = body["messages"].as_array().unwrap().len() - 1;
        assert_eq!(marked, [(last, 0)]);
    }
}

#[tokio::test]
async fn denied_approval_tells_the_model_why() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([tool_use("toolu_del", "delete_row", json!({"id": 7}))]),
        "tool_use",
    ));
    fake.push(Reply::text("I did not delete it."));
    let host = TestHost::new();
    let approver = std::sync::Arc::new(ScriptedApprover::new(vec![Decision::Deny {
        reason: "the user declined to allow it".into(),
    }]));
    let summary = run_with(
        config(&fake, AgentSettings::default()),
        &host,
        approver.clone(),
        &Collect::default(),
    )
    .await;
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.tool_errors, 1);
    assert_eq!(host.deleted.load(Ordering::SeqCst), 0);
    let result = &fake.requests()[1].body["messages"][2]["content"][0];
    assert_eq!(result["is_error"], true);
    let content = result["content"].as_str().unwrap();
    assert!(content.contains("`delete_row` was not run"), "{content}");
    assert!(
        content.contains("the user declined to allow it"),
        "{content}"
    );
}

#[tokio::test]
async fn always_is_asked_once_per_tool_per_run() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([
            tool_use("toolu_1", "delete_row", json!({"id": 1})),
            tool_use("toolu_2", "delete_row", json!({"id": 2}))
        ]),
        "tool_use",
    ));
    fake.push(Reply::message(
        json!([tool_use("toolu_3", "delete_row", json!({"id": 3}))]),
        "tool_use",
    ));
    fake.push(Reply::text("Deleted three rows."));
    let host = TestHost::new();
    let approver = std::sync::Arc::new(ScriptedApprover::new(vec![Decision::AlwaysAllow]));
    let summary = run_with(
        config(&fake, AgentSettings::default()),
        &host,
        approver.clone(),
        &Collect::default(),
    )
    .await;
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(host.deleted.load(Ordering::SeqCst), 3);
    assert_eq!(approver.asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_tool_the_host_does_not_offer_is_an_error_result() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([tool_use("toolu_x", "drop_database", json!({}))]),
        "tool_use",
    ));
    fake.push(Reply::text("ok"));
    let host = TestHost::new();
    let (summary, _) = run(&fake, &host).await;
    assert_eq!(summary.tool_errors, 1);
    assert!(host.call_names().is_empty());
    let result = &fake.requests()[1].body["messages"][2]["content"][0];
    assert_eq!(result["is_error"], true);
    assert!(
        result["content"].as_str().unwrap().starts_with(
            "There is no tool named `drop_database`. Available tools: big, delete_row"
        )
    );
}

#[tokio::test]
async fn cancellation_stops_the_run() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::message(
        json!([tool_use("toolu_s", "slow", json!({"ms": 5000}))]),
        "tool_use",
    ));
    let host = TestHost::new();
    let agent = switchboard_agent::Agent::new(config(&fake, AgentSettings::default())).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let summary = agent
        .run(TASK, &host, auto(), &Collect::default(), &cancel)
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Cancelled);
    assert!(started.elapsed().as_secs() < 3);
}

#[tokio::test]
async fn a_deferred_catalog_goes_behind_the_api_tool_search_and_its_blocks_go_back_verbatim() {
    for stream in [true, false] {
        let fake = FakeAnthropic::start().await.unwrap();
        // What the API answers when the model searched the deferred tools, then called one.
        let assistant = json!([
            text("Let me find a tool."),
            {"type": "server_tool_use", "id": "srvtoolu_01", "name": "tool_search_tool_bm25",
             "input": {"query": "return the input"}},
            {"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_01",
             "content": {"type": "tool_search_tool_search_result",
                         "tool_references": [{"type": "tool_reference", "tool_name": "echo"}]}},
            tool_use("toolu_01", "echo", json!({"q": 1})),
        ]);
        fake.push(Reply::message(assistant.clone(), "tool_use"));
        fake.push(Reply::text("Echoed."));
        let mut host = TestHost::new();
        host.defer = true;
        let settings = AgentSettings {
            stream: Some(stream),
            ..AgentSettings::default()
        };
        let sink = Collect::default();
        let summary = run_with(config(&fake, settings), &host, auto(), &sink).await;
        assert_eq!(summary.outcome, Outcome::Completed, "stream {stream}");
        assert_eq!(host.call_names(), ["echo"]);

        let requests = fake.requests();
        assert_eq!(requests.len(), 2);
        for request in &requests {
            assert_eq!(request.status, 200, "{}", request.body);
            assert_eq!(
                request.header("anthropic-beta"),
                Some("advanced-tool-use-2025-11-20")
            );
            let tools = request.body["tools"].as_array().unwrap();
            assert_eq!(
                tools[0],
                json!({"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"})
            );
            assert!(tools[1..].iter().all(|t| t["defer_loading"] == true));
            assert_eq!(tools.len(), 6);
        }
        // The search blocks go back exactly as they came, before the tool's result.
        let history = &requests[1].body["messages"];
        assert_eq!(history[1]["role"], "assistant");
        assert_eq!(history[1]["content"], assistant, "stream {stream}");
        assert_eq!(history[2]["content"][0]["tool_use_id"], "toolu_01");
    }
}
