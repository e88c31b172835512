//! Secrets never appear in the gateway's logs or its audit log, even when an upstream prints
//! them on stderr or a caller passes them as arguments.

mod common;

use common::{Captured, args, fixture, write};
use switchboard_gateway::{Config, Gateway, GatewayOptions};

const SECRET: &str = "s3cr3t-xyz-4242";

#[tokio::test]
async fn secrets_are_scrubbed_from_logs_and_audit() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();

    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let toml = format!(
        "[pins]\nenabled = false\n[audit]\npath = {:?}\n[servers.s]\ncommand = {:?}\nargs = [\"server\"]\n\
         env = {{ FIXTURE_STDERR = \"${{env:SB_SECRET}}\" }}\n",
        audit.display().to_string(),
        fixture()
    );
    let path = write(dir.path(), "switchboard.toml", &toml);
    let options = GatewayOptions {
        env: [("SB_SECRET".to_owned(), SECRET.to_owned())].into(),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(Config::load(&path).unwrap(), options)
        .await
        .unwrap();
    let caller = gateway.caller("local", "s");
    let a = args(serde_json::json!({"text": format!("echo {SECRET}"), "password": "pw-00000000"}));
    let result = gateway.call_tool(&caller, "echo", a).await;
    assert!(
        common::text(&result).contains(SECRET),
        "results are not altered"
    );
    gateway
        .call_tool(
            &caller,
            "no_such_tool",
            args(serde_json::json!({"x": SECRET})),
        )
        .await;
    // Give the stderr reader a moment to log the upstream's line.
    let logged = common::eventually(std::time::Duration::from_secs(5), async || {
        String::from_utf8_lossy(&logs.0.lock().unwrap()).contains("fixture stderr:")
    })
    .await;
    gateway.shutdown().await;
    assert!(
        logged,
        "the upstream's stderr line was logged: {}",
        String::from_utf8_lossy(&logs.0.lock().unwrap())
    );

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("fixture stderr: [REDACTED]"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert!(
        !audit.contains(SECRET) && !audit.contains("pw-00000000"),
        "{audit}"
    );
    assert_eq!(audit.lines().count(), 2);
}
