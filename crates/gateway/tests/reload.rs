//! Reloading the configuration of a running gateway: servers added, removed (a call in flight
//! completes) and restarted, a client's scopes changed (its next list differs, and it is told),
//! a broken file (the old configuration keeps serving), every reload audited by key.

mod common;

use std::time::Duration;

use common::{args, fixture_server, start, text, write};
use switchboard_gateway::audit::{self, AuditRecord};
use switchboard_gateway::{Caller, Gateway, GatewayError};

fn config(dir: &std::path::Path, clients: &str, servers: &[String]) -> String {
    format!(
        "[audit]\npath = {:?}\n\n[pins]\nenabled = false\n\n{clients}\n{}",
        dir.join("audit.jsonl"),
        servers.join("\n")
    )
}

/// The fixture as `db`, its tools named `db__…` though it is the only server.
fn db() -> String {
    format!("{}prefix = true\n", fixture_server("db", &[]))
}

fn reloads(dir: &std::path::Path) -> Vec<AuditRecord> {
    audit::read_records(&dir.join("audit.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.layer.as_deref() == Some("config"))
        .collect()
}

async fn names(gateway: &Gateway, caller: &Caller) -> Vec<String> {
    let mut names: Vec<String> = gateway
        .list_tools(caller)
        .await
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    names.sort();
    names
}

async fn pid(gateway: &Gateway, tool: &str) -> String {
    let caller = gateway.stdio_caller("t");
    text(&gateway.call_tool(&caller, tool, None).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_are_added_removed_and_restarted_and_a_call_in_flight_completes() {
    let dir = tempfile::tempdir().unwrap();
    let before = config(
        dir.path(),
        "",
        &[
            fixture_server("kept", &[]),
            fixture_server("changed", &[]),
            fixture_server("gone", &[]),
        ],
    );
    let gateway = start(dir.path(), &before).await;
    let local = gateway.stdio_caller("s");
    let kept_pid = pid(&gateway, "kept__pid").await;
    let changed_pid = pid(&gateway, "changed__pid").await;
    // A call on the server about to be removed, still running when the reload happens.
    let in_flight = {
        let (gateway, local) = (gateway.clone(), local.clone());
        tokio::spawn(async move {
            gateway
                .call_tool(&local, "gone__slow", args(serde_json::json!({"ms": 1500})))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let after = config(
        dir.path(),
        "",
        &[
            fixture_server("kept", &[]),
            fixture_server("changed", &["--extra-tools", "more"]),
            fixture_server("added", &[]),
        ],
    );
    write(dir.path(), "switchboard.toml", &after);
    let report = gateway.reload("test").await.unwrap();
    assert_eq!(report.started, ["added"]);
    assert_eq!(report.restarted, ["changed"]);
    assert_eq!(report.stopped, ["gone"]);
    assert_eq!(
        report.changed,
        ["servers.changed.args", "servers.gone", "servers.added"]
    );
    assert!(report.restart_needed.is_empty());

    let done = in_flight.await.unwrap();
    assert_eq!(
        (done.is_error, text(&done)),
        (Some(false), "slept 1500ms".to_owned()),
        "the call in flight on the removed server completes"
    );
    let listed = names(&gateway, &local).await;
    assert!(listed.contains(&"added__echo".to_owned()), "{listed:?}");
    assert!(listed.contains(&"changed__more".to_owned()), "{listed:?}");
    assert!(
        !listed.iter().any(|n| n.starts_with("gone__")),
        "{listed:?}"
    );
    assert_eq!(pid(&gateway, "kept__pid").await, kept_pid, "kept running");
    assert_ne!(
        pid(&gateway, "changed__pid").await,
        changed_pid,
        "restarted"
    );
    let gone = gateway.call_tool(&local, "gone__echo", None).await;
    assert_eq!(gone.is_error, Some(true));
    assert!(
        gateway.status().iter().all(|s| s.name != "gone"),
        "{:?}",
        gateway.status()
    );

    let records = reloads(dir.path());
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (records[0].client.as_str(), records[0].outcome.as_str()),
        ("test", "ok")
    );
    assert_eq!(records[0].arguments["stopped"], serde_json::json!(["gone"]));
    let metrics = gateway.metrics_now();
    assert!(
        !metrics.contains("switchboard_upstream_up{upstream=\"gone\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_upstream_up{upstream=\"added\"} 1"),
        "{metrics}"
    );
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_new_scopes_reach_its_next_list_and_it_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let clients = |allow: &str| {
        format!(
            "[clients.ops]\ntoken = \"ops-token-1234\"\nallow = [{allow}]\n\n\
             [clients.root]\ntoken = \"root-token-1234\"\nadmin = true\n"
        )
    };
    let servers = [db()];
    let gateway = start(
        dir.path(),
        &config(dir.path(), &clients("\"db__echo\""), &servers),
    )
    .await;
    let ops = gateway.authenticate("ops-token-1234", "s").unwrap();
    assert_eq!(names(&gateway, &ops).await, ["db__echo"]);
    let mut told = gateway.subscribe_list_changed();

    write(
        dir.path(),
        "switchboard.toml",
        &config(dir.path(), &clients("\"db__echo\", \"db__pid\""), &servers),
    );
    let report = gateway.reload("root").await.unwrap();
    assert_eq!(report.changed, ["clients.ops.allow"]);
    assert!(report.started.is_empty() && report.restarted.is_empty());
    let change = tokio::time::timeout(Duration::from_secs(5), told.recv())
        .await
        .expect("sessions are told")
        .unwrap();
    assert!(change.tools);
    // The same token, a new request: the new scopes.
    let ops = gateway.authenticate("ops-token-1234", "s").unwrap();
    assert_eq!(names(&gateway, &ops).await, ["db__echo", "db__pid"]);
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_leaves_the_running_configuration_serving() {
    let dir = tempfile::tempdir().unwrap();
    let clients = "[clients.ops]\ntoken = \"ops-token-1234\"\nallow = [\"db__*\"]\n";
    let good = config(dir.path(), clients, &[db()]);
    let gateway = start(dir.path(), &good).await;
    let ops = gateway.authenticate("ops-token-1234", "s").unwrap();

    for (broken, key) in [
        (
            good.replace("\"db__*\"", "\"db__[*\""),
            "clients.ops.allow[0]",
        ),
        (
            format!(
                "{good}\n[servers.more]\ncommand = \"${{env:SWITCHBOARD_NOT_SET_ANYWHERE}}\"\n"
            ),
            "servers.more",
        ),
        (good.replace("[clients.ops]", "[clients.ops"), "line"),
    ] {
        write(dir.path(), "switchboard.toml", &broken);
        let error = gateway.reload("test").await.unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, GatewayError::Config(_)), "{message}");
        assert!(
            message.contains("switchboard.toml") && message.contains(key),
            "the error names the file and {key}: {message}"
        );
        let echoed = gateway
            .call_tool(&ops, "db__echo", args(serde_json::json!({"text": "still"})))
            .await;
        assert_eq!(text(&echoed), "still", "the old configuration serves");
    }
    // A file that drops every token cannot open an HTTP gateway up.
    write(
        dir.path(),
        "switchboard.toml",
        &config(dir.path(), "", &[db()]),
    );
    let error = gateway.reload("test").await.unwrap_err().to_string();
    assert!(
        error.contains("clients") && error.contains("restart"),
        "{error}"
    );
    assert!(gateway.authenticate("ops-token-1234", "s").is_some());

    let records = reloads(dir.path());
    assert_eq!(records.len(), 4, "{records:?}");
    assert!(
        records.iter().all(|r| r.outcome == "refused"),
        "{records:?}"
    );
    let metrics = gateway.metrics_now();
    assert!(
        metrics.contains("switchboard_config_reloads_total{outcome=\"refused\"} 4"),
        "{metrics}"
    );
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_only_a_restart_applies_is_kept_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let servers = [fixture_server("db", &[])];
    let gateway = start(dir.path(), &config(dir.path(), "", &servers)).await;
    let moved = config(dir.path(), "", &servers).replace("audit.jsonl", "elsewhere.jsonl");
    write(dir.path(), "switchboard.toml", &moved);
    let report = gateway.reload("test").await.unwrap();
    assert_eq!(report.restart_needed, ["audit.path"]);
    assert_eq!(
        gateway.config().config.audit.path.as_deref(),
        Some(dir.path().join("audit.jsonl").as_path()),
        "the running audit log stays"
    );
    assert_eq!(reloads(dir.path()).len(), 1, "recorded in the running log");
    gateway.shutdown().await;
}

/// Counts the `tools/list_changed` notifications a session hears.
#[derive(Clone, Default)]
struct Listener(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl rmcp::ClientHandler for Listener {
    async fn on_tool_list_changed(
        &self,
        _context: rmcp::service::NotificationContext<rmcp::service::RoleClient>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Listener {
    fn heard(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_sessions_whose_list_changed_are_told() {
    use rmcp::ServiceExt as _;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let dir = tempfile::tempdir().unwrap();
    let clients = |ops: &str| {
        format!(
            "[clients.ops]\ntoken = \"ops-token-1234\"\nallow = [{ops}]\n\
             [clients.bot]\ntoken = \"bot-token-1234\"\nallow = [\"db__echo\"]\n"
        )
    };
    let servers = [db()];
    let gateway = start(
        dir.path(),
        &config(dir.path(), &clients("\"db__echo\""), &servers),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(switchboard_gateway::downstream::serve_http(
        gateway.clone(),
        listener,
        shutdown.clone(),
    ));
    let connect = async |token: &str| {
        let listener = Listener::default();
        let config = StreamableHttpClientTransportConfig::with_uri(url.clone())
            .auth_header(token.to_owned());
        let client = listener
            .clone()
            .serve(StreamableHttpClientTransport::from_config(config))
            .await
            .unwrap();
        (client, listener)
    };
    let (ops, ops_heard) = connect("ops-token-1234").await;
    let (bot, bot_heard) = connect("bot-token-1234").await;
    assert_eq!(ops.list_all_tools().await.unwrap().len(), 1);

    write(
        dir.path(),
        "switchboard.toml",
        &config(dir.path(), &clients("\"db__echo\", \"db__pid\""), &servers),
    );
    gateway.reload("test").await.unwrap();
    assert!(
        common::eventually(Duration::from_secs(5), async || ops_heard.heard() == 1).await,
        "ops, whose list grew, is told"
    );
    assert_eq!(ops.list_all_tools().await.unwrap().len(), 2);
    // A reload that changes nothing bot sees, and a change of a tool bot cannot see.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bot_heard.heard(), 0, "bot's list is as it was");
    ops.cancel().await.unwrap();
    bot.cancel().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_secrets_reach_their_users_and_a_failed_read_keeps_the_last_good_values() {
    let dir = tempfile::tempdir().unwrap();
    let env_secret = write(dir.path(), "db-password", "first-password-1");
    let token_secret = write(dir.path(), "ops-token", "ops-token-first");
    let clients = format!(
        "[secrets]\nrefresh = \"1s\"\n[clients.ops]\ntoken = \"${{file:{}}}\"\n",
        token_secret.display()
    );
    let server = format!(
        "{}env = {{ PASSWORD = \"${{file:{}}}\" }}\n",
        db(),
        env_secret.display()
    );
    let gateway = start(dir.path(), &config(dir.path(), &clients, &[server])).await;
    let ops = gateway.authenticate("ops-token-first", "s").unwrap();
    let first = text(&gateway.call_tool(&ops, "db__pid", None).await);

    // Rotated: the periodic refresh restarts the child whose environment uses it, and swaps
    // the client's token.
    std::fs::write(&env_secret, "second-password-2").unwrap();
    std::fs::write(&token_secret, "ops-token-second").unwrap();
    assert!(
        common::eventually(Duration::from_secs(10), async || {
            gateway.authenticate("ops-token-second", "s").is_some()
        })
        .await,
        "the new token is accepted within the refresh"
    );
    assert!(gateway.authenticate("ops-token-first", "s").is_none());
    let ops = gateway.authenticate("ops-token-second", "s").unwrap();
    let second = text(&gateway.call_tool(&ops, "db__pid", None).await);
    assert_ne!(first, second, "the child was replaced");
    let records = reloads(dir.path());
    assert_eq!(records[0].client, "refresh");
    assert_eq!(
        records[0].arguments["changed"],
        serde_json::json!(["servers.db", "clients.ops.token"])
    );
    assert_eq!(records[0].arguments["restarted"], serde_json::json!(["db"]));

    // The secret store fails: the last good values stay in use, and it is said.
    std::fs::remove_file(&env_secret).unwrap();
    let error = gateway.refresh_secrets().await.unwrap_err().to_string();
    assert!(
        error.contains("db-password"),
        "names the reference: {error}"
    );
    let stale = gateway.stale_secrets().expect("reported");
    assert!(
        !stale.contains("second-password"),
        "never the value: {stale}"
    );
    assert!(
        gateway
            .metrics_now()
            .contains("switchboard_secrets_stale 1")
    );
    assert_eq!(
        text(&gateway.call_tool(&ops, "db__pid", None).await),
        second
    );
    assert!(gateway.ready());

    std::fs::write(&env_secret, "second-password-2").unwrap();
    let report = gateway.refresh_secrets().await.unwrap();
    assert!(!report.any(), "nothing changed: {report:?}");
    assert!(gateway.stale_secrets().is_none());
    assert!(
        gateway
            .metrics_now()
            .contains("switchboard_secrets_stale 0")
    );
    let records = reloads(dir.path());
    assert!(
        records
            .iter()
            .any(|r| r.client == "refresh" && r.outcome == "refused"),
        "{records:?}"
    );
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    for value in ["first-password-1", "second-password-2", "ops-token-second"] {
        assert!(!text.contains(value), "{value} in the audit log");
    }
    gateway.shutdown().await;
}
