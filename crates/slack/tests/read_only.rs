//! Read-only mode, tool listing, schemas and annotations.

mod common;

use common::Harness;
use serde_json::json;
use switchboard_testkit::slack::OPERATIONS_ID;

const READ_TOOLS: [&str; 4] = [
    "get_channel_history",
    "get_thread_replies",
    "list_channels",
    "list_users",
];

#[tokio::test]
async fn read_only_mode_hides_and_refuses_write_tools() {
    let h = Harness::start_with(|config| config.read_only = true).await;
    let mut names: Vec<String> = h
        .tools()
        .await
        .iter()
        .map(|tool| tool.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, READ_TOOLS);
    let error = h
        .err(
            "post_message",
            json!({"channel": "#operations", "text": "hi"}),
        )
        .await;
    assert!(
        error.contains("read-only") && error.contains("SLACK_READ_ONLY"),
        "{error}"
    );
    let error = h
        .err(
            "add_reaction",
            json!({"channel": "#operations", "ts": "1.1", "name": "eyes"}),
        )
        .await;
    assert!(error.contains("read-only"), "{error}");
    assert!(h.fake.requests_for("chat.postMessage").is_empty());
    assert!(h.fake.requests_for("reactions.add").is_empty());
    assert!(h.fake.posted(OPERATIONS_ID).is_empty());
    // Reading still works.
    h.ok("list_channels", json!({})).await;
}

#[tokio::test]
async fn every_tool_has_truthful_annotations_and_an_output_schema() {
    let h = Harness::start().await;
    let tools = h.tools().await;
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "add_reaction",
            "get_channel_history",
            "get_thread_replies",
            "list_channels",
            "list_users",
            "post_message"
        ]
    );
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        let writes = matches!(tool.name.as_ref(), "post_message" | "add_reaction");
        assert_eq!(annotations.read_only_hint, Some(!writes), "{}", tool.name);
        assert_eq!(annotations.destructive_hint, Some(false), "{}", tool.name);
        assert_eq!(annotations.open_world_hint, Some(true), "{}", tool.name);
        let idempotent = tool.name != "post_message";
        assert_eq!(
            annotations.idempotent_hint,
            Some(idempotent),
            "{}",
            tool.name
        );
        let output = tool.output_schema.as_ref().expect("output schema");
        assert_eq!(output.get("type"), Some(&json!("object")), "{}", tool.name);
        assert!(
            tool.description.as_ref().is_some_and(|d| d.len() > 80),
            "{}",
            tool.name
        );
    }
    let post = tools
        .iter()
        .find(|tool| tool.name == "post_message")
        .expect("post_message");
    let properties = post.input_schema.get("properties").expect("properties");
    for field in ["channel", "text", "thread_ts", "idempotency_key"] {
        let description = properties[field]["description"].as_str().unwrap_or("");
        assert!(!description.is_empty(), "{field} has a description");
    }
    assert_eq!(
        post.input_schema.get("required"),
        Some(&json!(["channel", "text"]))
    );
}

#[tokio::test]
async fn invalid_arguments_are_tool_errors() {
    let h = Harness::start().await;
    let result = h
        .call("post_message", json!({"channel": "#operations"}))
        .await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        common::text(&result).contains("text"),
        "{}",
        common::text(&result)
    );
}
