//! Aggregation: prefixed names, deterministic order, collisions, resources/prompts, and
//! list_changed refresh — against real fixture child processes.

mod common;

use std::time::Duration;

use common::{args, fixture_server, start, text, try_start};
use switchboard_gateway::GatewayError;
use switchboard_gateway::catalog::ListChanges;

#[tokio::test]
async fn two_servers_are_prefixed_in_deterministic_order() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}",
        fixture_server("beta", &["beta"]),
        fixture_server("alpha", &["alpha"])
    );
    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    let names: Vec<String> = gateway
        .list_tools(&caller)
        .await
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("alpha__") || n.starts_with("beta__"))
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "catalog order is by exposed name");
    assert!(names.contains(&"alpha__echo".to_owned()) && names.contains(&"beta__echo".to_owned()));
    let r = gateway.call_tool(&caller, "beta__whoami", None).await;
    assert_eq!(text(&r), "beta");
    let r = gateway
        .call_tool(
            &caller,
            "alpha__echo",
            args(serde_json::json!({"text": "hi"})),
        )
        .await;
    assert_eq!(text(&r), "hi");
    assert_eq!(r.is_error, Some(false));
    gateway.shutdown().await;
}

#[tokio::test]
async fn single_server_is_unprefixed() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &fixture_server("only", &[])).await;
    let caller = gateway.caller("local", "s");
    let tools = gateway.list_tools(&caller).await;
    assert!(tools.iter().any(|t| t.name == "echo"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn collision_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}prefix = false\n{}prefix = false\n",
        fixture_server("one", &[]),
        fixture_server("two", &[])
    );
    let error = try_start(dir.path(), &toml)
        .await
        .err()
        .expect("a collision");
    assert!(matches!(error, GatewayError::Collision { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("one/") && message.contains("two/"),
        "{message}"
    );
}

#[tokio::test]
async fn invalid_exposed_name_refuses_to_start_unless_excluded() {
    let dir = tempfile::tempdir().unwrap();
    let toml = fixture_server("srv", &["--extra-tools", "bad.name"]);
    let error = try_start(dir.path(), &toml)
        .await
        .err()
        .expect("invalid name");
    assert!(
        matches!(error, GatewayError::InvalidToolName { .. }),
        "{error}"
    );
    let toml = format!("{toml}exclude_tools = [\"bad.*\"]\n");
    let gateway = start(dir.path(), &toml).await;
    gateway.shutdown().await;
}

#[tokio::test]
async fn prompts_and_resources_are_aggregated() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}",
        fixture_server("a", &["ka"]),
        fixture_server("b", &["kb"])
    );
    let gateway = start(dir.path(), &toml).await;
    let catalog = gateway.catalog();
    let prompts: Vec<_> = catalog
        .prompts()
        .map(|p| (p.prompt.name.clone(), p.modern_only))
        .collect();
    // The fixture lists `modern_greet` only to 2026-07-28 clients; the catalog keeps it, flagged.
    let expected = [
        ("a__greet", false),
        ("a__modern_greet", true),
        ("b__greet", false),
        ("b__modern_greet", true),
    ]
    .map(|(name, modern)| (name.to_owned(), modern));
    assert_eq!(prompts, expected);
    let uris: Vec<_> = catalog
        .resources()
        .iter()
        .map(|(_, r)| r.uri.clone())
        .collect();
    assert_eq!(uris, ["fixture://ka/info", "fixture://kb/info"]);
    assert_eq!(catalog.resource_server("fixture://kb/info"), Some("b"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn upstream_list_changed_refreshes_the_catalog_and_notifies() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("{}{}", fixture_server("a", &[]), fixture_server("b", &[]));
    let gateway = start(dir.path(), &toml).await;
    let mut changes = gateway.subscribe_list_changed();
    let caller = gateway.caller("local", "s");
    assert!(gateway.catalog().tool("a__extra").is_none());
    let r = gateway.call_tool(&caller, "a__add_tool", None).await;
    assert_eq!(text(&r), "added");
    let refreshed = common::eventually(Duration::from_secs(5), async || {
        gateway.catalog().tool("a__extra").is_some()
    })
    .await;
    assert!(refreshed, "the catalog picked up the new tool");
    let changed = tokio::time::timeout(Duration::from_secs(1), changes.recv())
        .await
        .expect("a list_changed notification")
        .unwrap();
    assert_eq!(
        changed,
        ListChanges {
            tools: true,
            prompts: true,
            resources: false
        }
    );
    assert!(gateway.catalog().prompt("a__extra_prompt").is_some());
    gateway.shutdown().await;
}
