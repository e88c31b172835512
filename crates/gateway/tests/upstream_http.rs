//! Upstreams over Streamable HTTP (the fixture serving HTTP as a separate process) and lazily
//! started upstreams.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{fixture, fixture_server, start, text};
use switchboard_gateway::Health;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn http_upstream_with_headers() {
    let mut server = tokio::process::Command::new(fixture())
        .args([
            "server",
            "remote",
            "--http",
            "127.0.0.1:0",
            "--require-bearer",
            "abc-123456",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line.strip_prefix("listening on ").unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[servers.remote]\nurl = \"http://{addr}/mcp\"\n\
         headers = {{ Authorization = \"Bearer abc-123456\", X-Team = \"ops\" }}\n{}",
        fixture_server("local", &[])
    );
    // Without the headers the server refuses the connection: the upstream never comes up.
    let bare = format!("[servers.remote]\nurl = \"http://{addr}/mcp\"\nrequired = false\n");
    let gateway = start(dir.path(), &bare).await;
    assert!(!matches!(gateway.status()[0].health, Health::Ready { .. }));
    gateway.shutdown().await;

    let gateway = start(dir.path(), &toml).await;
    let caller = gateway.caller("local", "s");
    let r = gateway.call_tool(&caller, "remote__whoami", None).await;
    assert_eq!(text(&r), "remote");
    assert!(matches!(
        gateway.status()[1].health,
        Health::Ready { pid: None }
    ));
    // The remote server going away is noticed and reported, not hung on.
    server.kill().await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        gateway.call_tool(&caller, "remote__whoami", None),
    )
    .await
    .expect("no hang");
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    gateway.shutdown().await;
}

#[tokio::test]
async fn lazy_upstreams_start_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}start = \"lazy\"\n{}",
        fixture_server("lazy", &[]),
        fixture_server("eager", &[])
    );
    let gateway = start(dir.path(), &toml).await;
    let health = |name: &str| {
        gateway
            .status()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap()
            .health
    };
    assert!(matches!(health("lazy"), Health::Idle));
    assert!(matches!(health("eager"), Health::Ready { .. }));
    assert!(
        gateway.ready(),
        "an idle lazy upstream does not make the gateway unready"
    );
    let caller = gateway.caller("local", "s");
    let tools = gateway.list_tools(&caller).await;
    assert!(tools.iter().any(|t| t.name == "lazy__echo"));
    assert!(matches!(health("lazy"), Health::Ready { .. }));
    assert_eq!(
        text(&gateway.call_tool(&caller, "lazy__whoami", None).await),
        "fixture"
    );
    gateway.shutdown().await;
}
