//! The fake Messages API itself, over plain HTTP: headers, error shapes, validation, script
//! handling, and a stream that the agent's parser turns back into the scripted message.

use serde_json::{Value, json};
use switchboard_agent::sse::{MessageAssembler, SseParser};
use switchboard_testkit::anthropic::{FakeAnthropic, Reply};

fn valid_body() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}]
    })
}

async fn post(
    fake: &FakeAnthropic,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.base_url()))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn good_headers(fake: &FakeAnthropic) -> Vec<(&str, &str)> {
    vec![
        ("x-api-key", fake.api_key()),
        ("anthropic-version", "2023-06-01"),
        ("content-type", "application/json"),
    ]
}

fn error_of(body: &str) -> (String, String) {
    let value: Value = serde_json::from_str(body).unwrap();
    assert_eq!(value["type"], "error");
    assert!(value["request_id"].as_str().unwrap().starts_with("req_"));
    (
        value["error"]["type"].as_str().unwrap().to_string(),
        value["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn headers_are_checked_with_the_api_errors() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::text("unused"));
    let body = valid_body().to_string();

    let (status, headers, text) = post(&fake, &[("anthropic-version", "2023-06-01")], &body).await;
    assert_eq!(status, 401);
    assert!(headers.get("request-id").is_some());
    assert_eq!(
        error_of(&text),
        (
            "authentication_error".into(),
            "x-api-key header is required".into()
        )
    );

    let mut wrong = good_headers(&fake);
    wrong[0].1 = "sk-ant-nope";
    let (status, _, text) = post(&fake, &wrong, &body).await;
    assert_eq!(
        (status, error_of(&text).1),
        (401, "invalid x-api-key".into())
    );

    let no_version = [
        ("x-api-key", fake.api_key()),
        ("content-type", "application/json"),
    ];
    let (status, _, text) = post(&fake, &no_version, &body).await;
    assert_eq!(
        (status, error_of(&text)),
        (
            400,
            (
                "invalid_request_error".into(),
                "anthropic-version: header is required".into()
            )
        )
    );

    let mut form = good_headers(&fake);
    form[2].1 = "application/x-www-form-urlencoded";
    let (status, _, _) = post(&fake, &form, &body).await;
    assert_eq!(status, 400);

    let (status, _, text) = post(&fake, &good_headers(&fake), "{not json").await;
    assert_eq!(
        (status, error_of(&text).0),
        (400, "invalid_request_error".into())
    );
    // None of the refused requests used the script.
    assert_eq!(fake.remaining(), 1);
    assert_eq!(fake.requests().len(), 5);
}

#[tokio::test]
async fn invalid_conversation_is_refused_without_consuming_the_script() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::text("unused"));
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "echo", "input": {}}]},
            {"role": "user", "content": [{"type": "text", "text": "forgot the result"}]}
        ]
    });
    let (status, _, text) = post(&fake, &good_headers(&fake), &body.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_of(&text).1,
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: \
         toolu_9. Each `tool_use` block must have a corresponding `tool_result` block in the next \
         message."
    );
    assert_eq!(fake.remaining(), 1);
}

#[tokio::test]
async fn scripted_message_is_completed_and_errors_carry_their_headers() {
    let fake = FakeAnthropic::start().await.unwrap();
    fake.push(Reply::rate_limited("7"));
    fake.push(Reply::text("Hi!"));
    let body = valid_body().to_string();

    let (status, headers, text) = post(&fake, &good_headers(&fake), &body).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(error_of(&text).0, "rate_limit_error");

    let (status, headers, text) = post(&fake, &good_headers(&fake), &body).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "claude-sonnet-4-5");
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["content"], json!([{"type": "text", "text": "Hi!"}]));
    assert_eq!(message["stop_reason"], "end_turn");
    assert!(message["usage"]["input_tokens"].is_u64());
}

#[tokio::test]
async fn stream_parses_back_into_the_scripted_message() {
    let fake = FakeAnthropic::start().await.unwrap();
    let content = json!([
        {"type": "text", "text": "Let me look — ünïcødé included."},
        {"type": "tool_use", "id": "toolu_z", "name": "echo", "input": {"deep": {"list": [1, 2, {"x": "y"}]}}}
    ]);
    fake.push(Reply::message(content.clone(), "tool_use"));
    let mut body = valid_body();
    body["stream"] = json!(true);
    let (status, headers, text) = post(&fake, &good_headers(&fake), &body.to_string()).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut parser = SseParser::new();
    let mut assembler = MessageAssembler::new();
    let events = parser.feed(text.as_bytes());
    assert_eq!(events.first().unwrap().event, "message_start");
    assert_eq!(events.last().unwrap().event, "message_stop");
    for event in &events {
        assembler.apply(event).unwrap();
    }
    let message = assembler.finish().unwrap();
    assert_eq!(serde_json::to_value(&message.content).unwrap(), content);
    assert_eq!(message.stop_reason.as_deref(), Some("tool_use"));
}

#[tokio::test]
async fn unknown_paths_get_the_api_404() {
    let fake = FakeAnthropic::start().await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/complete", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.headers().get("request-id").is_some());
    let text = response.text().await.unwrap();
    assert_eq!(
        error_of(&text),
        ("not_found_error".into(), "Not Found".into())
    );
}
