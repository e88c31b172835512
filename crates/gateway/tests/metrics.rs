//! `/metrics` through real Prometheus: the gateway's exposition passes `promtool check metrics`,
//! and a Prometheus server scraping the gateway (with a client's bearer token, as `/metrics` is
//! behind the same authentication as `/mcp`) answers PromQL queries over what the calls did.
//! Needs Debian's `prometheus` package (scripts/setup installs it).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{args, fixture_server, write};
use serde_json::Value;
use switchboard_gateway::downstream::serve_http;
use switchboard_gateway::{CallRequest, Config, Gateway, GatewayOptions};
use switchboard_testkit::pg::free_port;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "metrics-reader-0001";

async fn gateway(dir: &Path) -> (Gateway, String, CancellationToken) {
    let toml = format!(
        "[clients.ops]\ntoken = \"${{env:SB_OPS_TOKEN}}\"\nrate_limit = {{ rate = \"3/minute\" }}\n{}",
        fixture_server("f", &[])
    );
    let path = write(dir, "switchboard.toml", &toml);
    let options = GatewayOptions {
        env: [("SB_OPS_TOKEN".to_owned(), TOKEN.to_owned())].into(),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(Config::load(&path).unwrap(), options)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_http(gateway.clone(), listener, shutdown.clone()));
    (gateway, addr.to_string(), shutdown)
}

async fn call(gateway: &Gateway, name: &str, arguments: Value) {
    let caller = gateway.caller("ops", "metrics-test");
    let request = CallRequest {
        name: name.to_owned(),
        arguments: args(arguments),
        ..CallRequest::default()
    };
    gateway.call(&caller, request).await;
}

/// One PromQL query's first value, if Prometheus has one yet.
async fn query(prometheus: &str, promql: &str) -> Option<f64> {
    let url = format!("http://{prometheus}/api/v1/query");
    let response = reqwest::Client::new()
        .get(url)
        .query(&[("query", promql)])
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_gateway_and_answers_promql() {
    let dir = tempfile::tempdir().unwrap();
    let (gateway, addr, shutdown) = gateway(dir.path()).await;
    call(&gateway, "echo", serde_json::json!({"text": "hi"})).await;
    call(&gateway, "fail", serde_json::json!({})).await;
    call(&gateway, "echo", serde_json::json!({"text": "hi"})).await;
    call(&gateway, "echo", serde_json::json!({"text": "limited"})).await;
    call(&gateway, "no_such_tool", serde_json::json!({})).await;

    // Behind the same authentication as /mcp.
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let text = http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"switchboard_tool_calls_total{client="ops",outcome="ok",tool="echo",upstream="f"} 2"#,
        r#"switchboard_tool_calls_total{client="ops",outcome="tool_error",tool="echo",upstream="f"}"#,
        r#"switchboard_refusals_total{client="ops",layer="rate_limit"} 1"#,
        r#"switchboard_rate_limited_total{bucket="client:ops"} 1"#,
        r#"switchboard_tool_calls_total{client="ops",outcome="unknown_tool",tool="",upstream=""} 1"#,
        r#"switchboard_upstream_up{upstream="f"} 1"#,
        "switchboard_audit_write_seconds_count",
        "process_resident_memory_bytes",
    ] {
        if line.contains("tool_error") {
            // `fail` answers with a tool error: counted under its own name.
            let fail = line.replace("tool=\"echo\"", "tool=\"fail\"");
            assert!(
                text.contains(&format!("{fail} 1")),
                "{fail} missing:\n{text}"
            );
            continue;
        }
        assert!(text.contains(line), "{line} missing:\n{text}");
    }

    // promtool's own check of the exposition format and naming conventions.
    switchboard_testkit::prometheus::promtool_check(&text)
        .await
        .unwrap();

    // A real Prometheus server scraping the gateway every second.
    let prometheus_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let config = write(
        dir.path(),
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: switchboard\n    \
             authorization:\n      credentials: {TOKEN}\n    static_configs:\n      \
             - targets: ['{addr}']\n"
        ),
    );
    let data = dir.path().join("prometheus-data");
    let mut prometheus = tokio::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address={prometheus_addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus (Debian's prometheus package) must be installed: scripts/setup does");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ok = loop {
        let ok = query(
            &prometheus_addr,
            r#"sum(switchboard_tool_calls_total{outcome="ok"})"#,
        )
        .await;
        if ok.is_some() || tokio::time::Instant::now() > deadline {
            break ok;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        ok,
        Some(2.0),
        "Prometheus never saw the two successful calls"
    );
    let refused = query(
        &prometheus_addr,
        r#"sum by (layer) (switchboard_refusals_total{layer="rate_limit"})"#,
    )
    .await;
    assert_eq!(refused, Some(1.0));
    let up = query(&prometheus_addr, r#"up{job="switchboard"}"#).await;
    assert_eq!(up, Some(1.0), "the scrape itself succeeded");
    prometheus.kill().await.unwrap();
    shutdown.cancel();
    gateway.shutdown().await;
}

/// `[telemetry] metrics_addr`: `/metrics` on a listener of its own answers without a token,
/// with the same figures (a Prometheus that cannot present a client's token scrapes it there).
#[tokio::test]
async fn the_metrics_listener_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let (gateway, addr, shutdown) = gateway(dir.path()).await;
    call(&gateway, "echo", serde_json::json!({"text": "x"})).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = listener.local_addr().unwrap();
    tokio::spawn(switchboard_gateway::downstream::serve_metrics(
        gateway.clone(),
        listener,
        shutdown.clone(),
    ));
    let open = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let text = open.text().await.unwrap();
    assert!(
        text.contains("switchboard_tool_calls_total{client=\"ops\",outcome=\"ok\",tool=\"echo\",upstream=\"f\"} 1"),
        "{text}"
    );
    // The serving listener's /metrics still wants the token, and nothing else is on this one.
    let guarded = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(guarded.status(), 401);
    let mcp = reqwest::get(format!("http://{metrics_addr}/mcp"))
        .await
        .unwrap();
    assert_eq!(mcp.status(), 404);
    shutdown.cancel();
    gateway.shutdown().await;
}
