//! The policy pipeline end to end against a real upstream: scopes, rate limits, approval, and
//! the audit chain (including refusals, redaction and tamper detection).

mod common;

use std::sync::Arc;

use common::{args, fixture_server, start, text};
use futures::future::BoxFuture;
use switchboard_gateway::audit::{self, AuditError};
use switchboard_gateway::{ApprovalRequest, Approver, Decision};

fn audit_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("audit.jsonl")
}

/// The audit log of these tests holds calls only: pins (and their records) are tested in
/// `pins.rs`.
fn config(dir: &std::path::Path, extra: &str) -> String {
    format!(
        "[pins]\nenabled = false\n[audit]\npath = {:?}\nredact = [\"a__echo.note\"]\n{}{}{extra}",
        audit_path(dir).display().to_string(),
        fixture_server("a", &[]),
        fixture_server("b", &[]),
    )
}

#[tokio::test]
async fn scopes_hide_tools_and_refuse_calls() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[clients.viewer]\nallow = [\"a__echo\", \"a__whoami\"]\n\
                 [clients.ops]\ndeny = [\"*__delete_*\", \"b__*\"]\n";
    let gateway = start(dir.path(), &config(dir.path(), extra)).await;
    let viewer = gateway.caller("viewer", "s1");
    let names: Vec<_> = gateway
        .list_tools(&viewer)
        .await
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert_eq!(names, ["a__echo", "a__whoami"]);
    let r = gateway.call_tool(&viewer, "a__pid", None).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("unknown tool"), "{}", text(&r));
    // The same words as for a tool that does not exist at all.
    let missing = gateway.call_tool(&viewer, "zzz__nothing", None).await;
    assert_eq!(text(&missing).replace("zzz__nothing", "a__pid"), text(&r));

    let ops = gateway.caller("ops", "s2");
    let names: Vec<_> = gateway
        .list_tools(&ops)
        .await
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(names.iter().any(|n| n == "a__pid"));
    assert!(
        !names
            .iter()
            .any(|n| n.contains("delete_") || n.starts_with("b__"))
    );
    let r = gateway.call_tool(&ops, "a__delete_record", None).await;
    assert!(text(&r).contains("unknown tool"));

    let stranger = gateway.caller("stranger", "s3");
    assert!(gateway.list_tools(&stranger).await.is_empty());
    gateway.shutdown().await;

    let records = audit::read_records(&audit_path(dir.path())).unwrap();
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r.outcome == "refused" && r.layer.as_deref() == Some("authorize"))
        .collect();
    // The two hidden tools; the tool that does not exist at all is recorded as such.
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0].client, "viewer");
    assert_eq!(refused[0].session, "s1");
    let unknown: Vec<_> = records
        .iter()
        .filter(|r| r.outcome == "unknown_tool")
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        (unknown[0].tool.as_str(), unknown[0].layer.as_deref()),
        ("zzz__nothing", None)
    );
}

#[tokio::test]
async fn rate_limits_count_exactly_per_tool_client_and_pair() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[rate_limits]\n\"a__echo\" = { rate = \"3/hour\" }\n\
                 [clients.c1]\nrate_limit = { rate = \"10/hour\", burst = 4 }\n\
                 [clients.c1.rate_limits]\n\"b__*\" = { rate = \"2/hour\" }\n\
                 [clients.c2]\n";
    let gateway = start(dir.path(), &config(dir.path(), extra)).await;
    let (c1, c2) = (gateway.caller("c1", "s"), gateway.caller("c2", "s"));
    let echo = || args(serde_json::json!({"text": "x"}));
    // Per tool, shared by clients: 3 calls in total.
    for caller in [&c2, &c2, &c2] {
        assert_eq!(
            gateway.call_tool(caller, "a__echo", echo()).await.is_error,
            Some(false)
        );
    }
    let r = gateway.call_tool(&c2, "a__echo", echo()).await;
    assert_eq!(r.is_error, Some(true));
    let message = text(&r);
    assert!(
        message.contains("rate limit reached for tool a__echo") && message.contains("retry in"),
        "{message}"
    );
    let r = gateway.call_tool(&c1, "a__echo", echo()).await;
    assert!(text(&r).contains("rate limit reached for tool a__echo"));
    // Per (client, tool): c1 gets 2 calls of each b__* tool (a glob rule gives every
    // matching tool its own bucket) …
    assert_eq!(
        gateway.call_tool(&c1, "b__whoami", None).await.is_error,
        Some(false)
    );
    assert_eq!(
        gateway.call_tool(&c1, "b__whoami", None).await.is_error,
        Some(false)
    );
    let r = gateway.call_tool(&c1, "b__whoami", None).await;
    assert!(
        text(&r).contains("client c1 on tool b__whoami"),
        "{}",
        text(&r)
    );
    // … while c2 is not limited on b.
    for _ in 0..5 {
        assert_eq!(
            gateway.call_tool(&c2, "b__whoami", None).await.is_error,
            Some(false)
        );
    }
    // Per client: buckets are checked tool → client → (client, tool), so c1's bucket (burst 4)
    // saw the three b__whoami calls but not the a__echo refused by the tool bucket: one left.
    assert_eq!(
        gateway.call_tool(&c1, "a__pid", None).await.is_error,
        Some(false)
    );
    let r = gateway.call_tool(&c1, "a__pid", None).await;
    assert!(
        text(&r).contains("rate limit reached for client c1"),
        "{}",
        text(&r)
    );
    gateway.shutdown().await;
}

struct Fixed(Decision);

impl Approver for Fixed {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
        assert!(request.message().contains(&request.tool));
        Box::pin(std::future::ready(self.0.clone()))
    }
}

#[tokio::test]
async fn approval_is_required_for_destructive_and_marked_tools() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[tools.\"a__echo\"]\napproval = \"required\"\n\
                 [tools.\"b__delete_record\"]\napproval = \"never\"\n";
    let gateway = start(dir.path(), &config(dir.path(), extra)).await;
    let plain = gateway.caller("local", "s");
    // Destructive by annotation, and no way to ask: refused, saying approval is required.
    let r = gateway.call_tool(&plain, "a__delete_record", None).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("requires approval"), "{}", text(&r));
    let r = gateway.call_tool(&plain, "a__echo", None).await;
    assert!(text(&r).contains("requires approval"));
    // approval = "never" overrides the annotation.
    assert_eq!(
        text(&gateway.call_tool(&plain, "b__delete_record", None).await),
        "deleted"
    );
    // Read-only tools need nothing.
    assert_eq!(
        gateway.call_tool(&plain, "a__whoami", None).await.is_error,
        Some(false)
    );
    // A pluggable approver decides.
    let yes = plain
        .clone()
        .with_approver(Arc::new(Fixed(Decision::Allow)));
    assert_eq!(
        text(&gateway.call_tool(&yes, "a__delete_record", None).await),
        "deleted"
    );
    let no = plain.with_approver(Arc::new(Fixed(Decision::Deny {
        reason: "not today".into(),
    })));
    let r = gateway.call_tool(&no, "a__delete_record", None).await;
    assert!(text(&r).contains("not today"));
    gateway.shutdown().await;
    let records = audit::read_records(&audit_path(dir.path())).unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.layer.as_deref() == Some("approval"))
    );
}

#[tokio::test]
async fn audit_chain_records_everything_redacted_and_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &config(dir.path(), "")).await;
    let caller = gateway.caller("local", "sess-1");
    let secret_args = args(serde_json::json!({
        "text": "hi", "api_token": "tok-123456", "note": "private words"
    }));
    gateway.call_tool(&caller, "a__echo", secret_args).await;
    gateway.call_tool(&caller, "a__fail", None).await;
    gateway.call_tool(&caller, "nope", None).await;
    gateway.shutdown().await;

    let path = audit_path(dir.path());
    assert_eq!(audit::verify(&path).unwrap(), 3);
    let records = audit::read_records(&path).unwrap();
    let outcomes: Vec<_> = records.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["ok", "tool_error", "unknown_tool"]);
    let first = &records[0];
    assert_eq!((first.seq, first.prev.as_str()), (1, audit::GENESIS));
    assert_eq!(first.server.as_deref(), Some("a"));
    assert_eq!(first.upstream_tool.as_deref(), Some("echo"));
    assert_eq!(first.arguments["api_token"], "[REDACTED]");
    assert_eq!(first.arguments["note"], "[REDACTED]");
    assert_eq!(first.arguments["text"], "hi");
    assert!(first.result_bytes > 0);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains("tok-123456") && !raw.contains("private words"));

    // Edit one record: verification points at the record after it.
    std::fs::write(&path, raw.replacen("\"tool_error\"", "\"ok\"", 1)).unwrap();
    match audit::verify(&path) {
        Err(AuditError::Broken { line, seq, .. }) => assert_eq!((line, seq), (3, 3)),
        other => panic!("tampering not detected: {other:?}"),
    }
    // Remove one record: detected too.
    let lines: Vec<&str> = raw.lines().collect();
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    assert!(matches!(
        audit::verify(&path),
        Err(AuditError::Broken { line: 2, .. })
    ));
}

#[tokio::test]
async fn limits_time_out_calls_and_bound_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    // `config` ends with server b's table: its settings come first, then the tool rule.
    let toml = format!(
        "{}max_concurrency = 1\ntimeout = \"900ms\"\n[tools.\"a__slow\"]\ntimeout = \"300ms\"\n",
        config(dir.path(), "")
    );
    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    let began = std::time::Instant::now();
    let r = gateway
        .call_tool(&caller, "a__slow", args(serde_json::json!({"ms": 5000})))
        .await;
    assert!(began.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).contains("did not finish within 0.3s"),
        "{}",
        text(&r)
    );
    // Server b: one slot. Two 600ms calls of b's tools (900ms budget): the second waits for the
    // slot and runs out of time.
    let slow = || args(serde_json::json!({"ms": 600}));
    let (first, second) = tokio::join!(gateway.call_tool(&caller, "b__slow", slow()), async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        gateway.call_tool(&caller, "b__slow", slow()).await
    });
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    assert_eq!(second.is_error, Some(true));
    gateway.shutdown().await;
    let records = audit::read_records(&audit_path(dir.path())).unwrap();
    let outcomes: Vec<_> = records.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "timeout").count(),
        2,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn calls_after_shutdown_began_are_refused_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &config(dir.path(), "")).await;
    let caller = gateway.caller("local", "s");
    gateway.drain().await;
    let r = gateway.call_tool(&caller, "a__whoami", None).await;
    assert!(text(&r).contains("shutting down"), "{}", text(&r));
    gateway.shutdown().await;
    let records = audit::read_records(&audit_path(dir.path())).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].layer.as_deref(), Some("limits"));
}
