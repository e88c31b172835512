//! Pinned tool definitions against real fixture servers: a definition that changes is withheld
//! at once for every caller until an operator accepts it, a poisoned one is held on first sight,
//! pins survive a restart, and every step is an audit record.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{args, fixture_server, start, text};
use switchboard_gateway::audit::{self, AuditRecord};
use switchboard_gateway::pins;

fn config(dir: &Path, fixture_args: &[&str]) -> String {
    format!(
        "[audit]\npath = {:?}\n\n{}{}",
        dir.join("audit.jsonl"),
        fixture_server("a", fixture_args),
        fixture_server("b", &[])
    )
}

fn names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

fn pin_records(dir: &Path) -> Vec<AuditRecord> {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.layer.as_deref() == Some(pins::LAYER))
        .collect()
}

#[tokio::test]
async fn a_changed_description_is_quarantined_for_every_caller_until_an_operator_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &config(dir.path(), &[])).await;
    let (one, two) = (gateway.caller("local", "s1"), gateway.caller("local", "s2"));
    assert!(names(&gateway.list_tools(&one).await).contains(&"a__echo".to_owned()));
    let first_pins = pin_records(dir.path());
    assert!(
        first_pins
            .iter()
            .any(|r| r.tool == "echo" && r.outcome == "pinned"),
        "{first_pins:?}"
    );
    let mut changes = gateway.subscribe_list_changed();

    // The upstream changes `echo`'s description and says its list changed.
    let r = gateway.call_tool(&one, "a__redescribe", None).await;
    assert_eq!(text(&r), "redescribed");
    let withheld = common::eventually(Duration::from_secs(5), async || {
        gateway.catalog().withheld("a__echo").is_some()
    })
    .await;
    assert!(withheld, "the changed tool was not withheld");
    let change = tokio::time::timeout(Duration::from_secs(2), changes.recv())
        .await
        .expect("a list_changed notification")
        .unwrap();
    assert!(change.tools);
    for caller in [&one, &two] {
        let listed = names(&gateway.list_tools(caller).await);
        assert!(!listed.contains(&"a__echo".to_owned()), "{listed:?}");
        assert!(
            listed.contains(&"b__echo".to_owned()),
            "other servers are untouched"
        );
        let r = gateway
            .call_tool(caller, "a__echo", args(serde_json::json!({"text": "hi"})))
            .await;
        assert_eq!(r.is_error, Some(true));
        assert!(
            text(&r).contains("quarantined") && text(&r).contains("switchboard tools accept"),
            "{}",
            text(&r)
        );
    }
    let quarantined = pin_records(dir.path());
    let record = quarantined
        .iter()
        .find(|r| r.outcome == "quarantined")
        .expect("a quarantine record");
    assert_eq!(
        (record.server.as_deref(), record.tool.as_str()),
        (Some("a"), "echo")
    );
    let refused = audit::read_records(&dir.path().join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.tool == "a__echo" && r.outcome == "refused")
        .count();
    assert_eq!(refused, 2, "each refused call is audited");

    // An operator accepts the change: the running gateway serves it again, and says so.
    let pin_file = dir.path().join("audit.pins.json");
    assert_eq!(
        pins::decide(
            &pins::PinStore::File(pin_file.clone()),
            "a/echo",
            true,
            "tester"
        )
        .unwrap(),
        "a/echo"
    );
    let served = common::eventually(Duration::from_secs(5), async || {
        names(&gateway.list_tools(&two).await).contains(&"a__echo".to_owned())
    })
    .await;
    assert!(served, "the accepted tool was not served again");
    let r = gateway
        .call_tool(&two, "a__echo", args(serde_json::json!({"text": "hi"})))
        .await;
    assert_eq!(text(&r), "hi");
    let accepted = pin_records(dir.path());
    let record = accepted
        .iter()
        .find(|r| r.outcome == "accepted")
        .expect("an acceptance record");
    assert_eq!(record.client, "operator:tester");
    audit::verify(&dir.path().join("audit.jsonl")).expect("the chain holds");
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_poisoned_tool_is_held_on_first_sight_and_pins_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let toml = config(dir.path(), &["--poisoned"]);
    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    let listed = names(&gateway.list_tools(&caller).await);
    assert!(!listed.contains(&"a__add".to_owned()), "{listed:?}");
    let r = gateway.call_tool(&caller, "a__add", None).await;
    assert!(text(&r).contains("held"), "{}", text(&r));
    let held = pin_records(dir.path());
    let record = held
        .iter()
        .find(|r| r.tool == "add")
        .expect("a record of the held tool");
    assert_eq!(record.outcome, "held");
    let flagged = record.message.as_deref().unwrap_or_default();
    assert!(
        flagged.contains("instruction_tags")
            && flagged.contains("conceal_from_user")
            && flagged.contains("sensitive_files"),
        "{flagged}"
    );
    gateway.shutdown().await;

    // A new gateway over the same files: the tool is still held, nothing is pinned twice.
    let before = pin_records(dir.path()).len();
    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    assert!(!names(&gateway.list_tools(&caller).await).contains(&"a__add".to_owned()));
    assert!(names(&gateway.list_tools(&caller).await).contains(&"a__echo".to_owned()));
    assert_eq!(
        pin_records(dir.path()).len(),
        before,
        "a restart adds no pin records"
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn new_tools_wait_for_review_when_configured_and_pins_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let hold = format!(
        "[pins]\nnew_tools = \"hold\"\n\n{}",
        config(dir.path(), &[])
    );
    let gateway = start(dir.path(), &hold).await;
    let caller = gateway.caller("local", "s");
    assert!(gateway.list_tools(&caller).await.is_empty());
    pins::decide(
        &pins::PinStore::File(dir.path().join("audit.pins.json")),
        "b/echo",
        true,
        "ops",
    )
    .unwrap();
    let served = common::eventually(Duration::from_secs(5), async || {
        names(&gateway.list_tools(&caller).await) == ["b__echo"]
    })
    .await;
    assert!(served, "only the accepted tool is served");
    gateway.shutdown().await;

    let off = tempfile::tempdir().unwrap();
    let toml = format!(
        "[pins]\nenabled = false\n\n{}",
        config(off.path(), &["--poisoned"])
    );
    let gateway = start(off.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    assert!(names(&gateway.list_tools(&caller).await).contains(&"a__add".to_owned()));
    assert!(!off.path().join("audit.pins.json").exists());
    gateway.shutdown().await;
}

/// A gateway of a fleet whose pins are under `prefix` in the local Redis.
fn fleet_config(dir: &Path, prefix: &str, fixture_args: &[&str]) -> String {
    format!(
        "[state]\nstore = {:?}\nprefix = {prefix:?}\n{}",
        common::redis::REDIS,
        config(dir, fixture_args)
    )
}

fn withheld(gateway: &switchboard_gateway::Gateway, tool: &str) -> Option<String> {
    gateway.catalog().withheld(tool).map(str::to_owned)
}

#[tokio::test]
async fn replicas_share_pins_so_a_new_replica_cannot_be_rug_pulled_and_a_decision_reaches_all() {
    let space = common::redis::KeySpace::new();
    let _redis = common::redis::redis().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(
        dir_a.path(),
        &fleet_config(dir_a.path(), &space.prefix, &[]),
    )
    .await;
    let caller = a.caller("local", "s1");
    assert!(names(&a.list_tools(&caller).await).contains(&"a__echo".to_owned()));

    // A replica started later, whose upstream now lists another `echo`, checks it against the
    // fleet's pin instead of pinning what it sees.
    let b = start(
        dir_b.path(),
        &fleet_config(dir_b.path(), &space.prefix, &["--redescribed"]),
    )
    .await;
    let reason = withheld(&b, "a__echo").expect("the changed definition is withheld");
    assert!(reason.contains("quarantined"), "{reason}");
    assert!(
        names(&b.list_tools(&b.caller("local", "s2")).await).contains(&"b__echo".to_owned()),
        "the unchanged server is served"
    );

    // An operator accepts the new definition once, for the fleet: the replica listing it
    // serves it, and the one still listing the old one withholds that.
    let store = pins::PinStore::Shared(Box::new(
        pins::SharedPins::new(common::redis::REDIS, &space.prefix).unwrap(),
    ));
    assert_eq!(
        pins::decide(&store, "a/echo", true, "ops").unwrap(),
        "a/echo"
    );
    let settled = common::eventually(Duration::from_secs(5), async || {
        withheld(&b, "a__echo").is_none() && withheld(&a, "a__echo").is_some()
    })
    .await;
    assert!(settled, "both replicas apply the decision");
    assert_eq!(
        text(&a.call_tool(&caller, "a__redescribe", None).await),
        "redescribed"
    );
    let served = common::eventually(Duration::from_secs(5), async || {
        withheld(&a, "a__echo").is_none()
    })
    .await;
    assert!(served, "the accepted definition is served everywhere");

    // Each event is recorded once for the fleet.
    let outcomes: Vec<String> = [dir_a.path(), dir_b.path()]
        .iter()
        .flat_map(|dir| pin_records(dir))
        .filter(|r| r.tool == "echo" && r.server.as_deref() == Some("a"))
        .map(|r| r.outcome)
        .collect();
    for outcome in ["pinned", "accepted"] {
        assert_eq!(
            outcomes.iter().filter(|o| *o == outcome).count(),
            1,
            "{outcome} once: {outcomes:?}"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_replica_that_cannot_read_the_fleets_pins_serves_nothing_it_has_not_seen_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let toml = config(dir.path(), &[]).replace(
        "[audit]",
        "[state]\nstore = \"redis://:pin-store-pass@127.0.0.1:1/0\"\n[audit]",
    );
    let gateway = start(dir.path(), &toml).await;
    let listed = names(&gateway.list_tools(&gateway.caller("local", "s")).await);
    assert!(listed.is_empty(), "{listed:?}");
    let reason = withheld(&gateway, "a__echo").expect("withheld");
    assert!(
        reason.contains("the fleet's pins cannot be read"),
        "{reason}"
    );
    let r = gateway
        .call_tool(
            &gateway.caller("local", "s"),
            "a__echo",
            args(serde_json::json!({"text": "hi"})),
        )
        .await;
    assert_eq!(r.is_error, Some(true));
    assert!(!text(&r).contains("pin-store-pass"), "{}", text(&r));
    gateway.shutdown().await;
}
