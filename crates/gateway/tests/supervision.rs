//! Supervision against real child processes: a child killed with SIGKILL mid-call, a child that
//! never starts, a child that hangs in its handshake.

mod common;

use std::time::{Duration, Instant};

use common::{args, eventually, fixture_server, start, text};
use switchboard_gateway::Health;

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn kill_9_mid_call_fails_fast_then_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}[servers.srv.restart]\ninitial_backoff = \"100ms\"\n",
        fixture_server("srv", &[])
    );
    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    let pid: u32 = text(&gateway.call_tool(&caller, "pid", None).await)
        .parse()
        .unwrap();
    let slow = {
        let (gateway, caller) = (gateway.clone(), caller.clone());
        tokio::spawn(async move {
            let r = gateway
                .call_tool(&caller, "slow", args(serde_json::json!({"ms": 30_000})))
                .await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed_at = Instant::now();
    kill9(pid);
    let (result, ended) = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .unwrap()
        .unwrap();
    assert!(
        ended.duration_since(killed_at) < Duration::from_secs(1),
        "failed within 1s"
    );
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("server srv stopped"),
        "{}",
        text(&result)
    );
    // The next call succeeds, on a new child.
    let restarted = eventually(Duration::from_secs(10), async || {
        let r = gateway.call_tool(&caller, "pid", None).await;
        r.is_error != Some(true) && text(&r) != pid.to_string()
    })
    .await;
    assert!(restarted, "the server was restarted and answers again");
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_child_that_never_starts_opens_the_circuit_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}[servers.broken.restart]\ninitial_backoff = \"50ms\"\nmax_backoff = \"100ms\"\n\
         max_failures = 3\nopen_for = \"30s\"\n",
        fixture_server("good", &[]),
        fixture_server("broken", &["--fail-start"])
    );
    let began = Instant::now();
    let gateway = start(dir.path(), &toml).await;
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "boot does not hang"
    );
    let opened = eventually(Duration::from_secs(10), async || {
        gateway
            .status()
            .iter()
            .any(|s| s.name == "broken" && matches!(s.health, Health::CircuitOpen { .. }))
    })
    .await;
    assert!(
        opened,
        "circuit opens after repeated failures: {:?}",
        gateway.status()
    );
    assert!(!gateway.ready(), "a required upstream is down");
    let caller = gateway.caller("local", "s");
    let asked = Instant::now();
    let r = gateway.call_tool(&caller, "broken__echo", None).await;
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "answers at once"
    );
    assert_eq!(r.is_error, Some(true));
    let message = text(&r);
    assert!(
        message.contains("server broken is unavailable, retrying in") && message.contains('s'),
        "{message}"
    );
    // The healthy server is unaffected.
    let r = gateway.call_tool(&caller, "good__whoami", None).await;
    assert_eq!(r.is_error, Some(false));
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_child_that_hangs_in_its_handshake_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}ping_timeout = \"300ms\"\n[servers.hang.restart]\nmax_failures = 1\n",
        fixture_server("hang", &["--hang-start"])
    );
    let began = Instant::now();
    let gateway = start(dir.path(), &toml).await;
    assert!(began.elapsed() < Duration::from_secs(5));
    let status = gateway.status();
    let health = &status[0].health;
    let Health::CircuitOpen { error, .. } = health else {
        panic!("expected an open circuit, got {health:?}");
    };
    assert!(error.contains("handshake"), "{error}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_child_that_stops_answering_pings_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}health_interval = \"200ms\"\nping_timeout = \"300ms\"\n\
         [servers.srv.restart]\ninitial_backoff = \"50ms\"\n",
        fixture_server("srv", &[])
    );
    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    let pid: u32 = text(&gateway.call_tool(&caller, "pid", None).await)
        .parse()
        .unwrap();
    assert_eq!(
        text(&gateway.call_tool(&caller, "freeze", None).await),
        "freezing"
    );
    let replaced = eventually(Duration::from_secs(10), async || {
        let r = gateway.call_tool(&caller, "pid", None).await;
        r.is_error != Some(true) && text(&r) != pid.to_string()
    })
    .await;
    assert!(replaced, "a failed health check restarts the server");
    gateway.shutdown().await;
    let gone = eventually(Duration::from_secs(10), async || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    })
    .await;
    assert!(gone, "the frozen child was killed");
}
