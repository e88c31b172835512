//! Tool search against real fixture servers: a caller in search mode lists two meta tools,
//! finds tools by what they do (never the ones hidden from it), and calls them through the same
//! pipeline, audited under the tool's own name.

mod common;

use common::{args, fixture_server, start, text};
use serde_json::{Value, json};
use switchboard_gateway::audit;

fn config(dir: &std::path::Path, gateway: &str, clients: &str) -> String {
    format!(
        "[gateway]\n{gateway}\n[pins]\nenabled = false\n[audit]\npath = {:?}\n{clients}{}{}",
        dir.join("audit.jsonl"),
        fixture_server("a", &[]),
        fixture_server("b", &[])
    )
}

fn names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

fn found(result: &rmcp::model::CallToolResult) -> Vec<String> {
    result
        .structured_content
        .as_ref()
        .expect("structured results")["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_caller_in_search_mode_finds_and_calls_tools_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let clients = "[clients.narrow]\nallow = [\"a__*\"]\ndeny = [\"a__crash\"]\ntool_search = true\n\
                   [clients.wide]\n";
    let gateway = start(
        dir.path(),
        &config(dir.path(), "tool_search = \"off\"", clients),
    )
    .await;
    let narrow = gateway.caller("narrow", "s1");
    assert_eq!(
        names(&gateway.list_tools(&narrow).await),
        ["search_tools", "call_tool"]
    );
    let wide = gateway.caller("wide", "s2");
    assert!(
        gateway.list_tools(&wide).await.len() > 30,
        "the gateway default is off"
    );

    let r = gateway
        .call_tool(
            &narrow,
            "search_tools",
            args(json!({"query": "echo some text back", "limit": 3})),
        )
        .await;
    let hits = found(&r);
    assert_eq!(
        hits.first().map(String::as_str),
        Some("a__echo"),
        "{hits:?}"
    );
    assert!(hits.len() <= 3);
    let definition = &r.structured_content.as_ref().unwrap()["tools"][0];
    assert_eq!(
        definition["inputSchema"]["properties"]["text"]["type"],
        "string"
    );

    // Hidden tools are never found: neither another server's nor a denied one.
    let r = gateway
        .call_tool(
            &narrow,
            "search_tools",
            args(json!({"query": "exits the process at once crash", "limit": 20})),
        )
        .await;
    let hits = found(&r);
    assert!(
        hits.iter().all(|n| n.starts_with("a__") && n != "a__crash"),
        "{hits:?}"
    );

    let r = gateway
        .call_tool(
            &narrow,
            "call_tool",
            args(json!({"name": "a__echo", "arguments": {"text": "found"}})),
        )
        .await;
    assert_eq!(text(&r), "found");
    // A hidden tool called through call_tool is as unknown (and refused) as when called
    // directly.
    let r = gateway
        .call_tool(
            &narrow,
            "call_tool",
            args(json!({"name": "b__echo", "arguments": {"text": "x"}})),
        )
        .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("unknown tool"), "{}", text(&r));
    let r = gateway
        .call_tool(&narrow, "call_tool", args(json!({"arguments": {}})))
        .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("\"name\""), "{}", text(&r));
    let r = gateway.call_tool(&narrow, "search_tools", None).await;
    assert!(text(&r).contains("query"), "{}", text(&r));
    gateway.shutdown().await;

    let records = audit::read_records(&dir.path().join("audit.jsonl")).unwrap();
    let tools: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.tool.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        tools,
        [
            ("search_tools", "ok"),
            ("search_tools", "ok"),
            ("a__echo", "ok"),
            ("b__echo", "refused"),
            ("call_tool", "tool_error"),
            ("search_tools", "tool_error"),
        ]
    );
    assert_eq!(
        records[0].arguments["query"],
        Value::from("echo some text back")
    );
}

#[tokio::test]
async fn auto_search_switches_on_past_the_configured_tool_count() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(
        dir.path(),
        &config(
            dir.path(),
            "tool_search = \"auto\"\ntool_search_above = 30",
            "",
        ),
    )
    .await;
    let local = gateway.stdio_caller("s");
    // Two fixture servers list more than 30 tools between them.
    assert_eq!(
        names(&gateway.list_tools(&local).await),
        ["search_tools", "call_tool"]
    );
    let description = gateway.list_tools(&local).await[0]
        .description
        .clone()
        .unwrap_or_default();
    assert!(description.contains("Search the"), "{description}");
    gateway.shutdown().await;

    let few = tempfile::tempdir().unwrap();
    let gateway = start(
        few.path(),
        &config(
            few.path(),
            "tool_search = \"auto\"\ntool_search_above = 100",
            "",
        ),
    )
    .await;
    let local = gateway.stdio_caller("s");
    assert!(gateway.list_tools(&local).await.len() > 30);
    gateway.shutdown().await;
}
