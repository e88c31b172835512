//! Three `switchboard serve` replicas behind a real HAProxy, round robin, sharing their state
//! in Redis: a handshake-era session — ours and the Python SDK's — keeps working through the
//! balancer (it sticks on `Mcp-Session-Id`, learnt from the `initialize` response), the limits
//! hold exactly across replicas, a call waiting for approval on one replica is approved through
//! another, an approval round asked on one replica is answered on another (and only once), and a
//! replica killed with SIGKILL is routed around. A Slack click delivered to one replica decides a
//! call waiting on another. With the PostgreSQL audit sink, under load: a
//! rolling restart (SIGTERM one replica at a time) loses no call, and after a replica is killed
//! every answered call has exactly one audit row and every replica's chain verifies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::session;
use switchboard_testkit::stateless::{answer, messages, tools_call};

mod support;

const APP: &str = "app-token-0001";
const OPS: &str = "ops-token-0001";
const CI: &str = "ci-token-0001";
const REDIS: &str = "redis://127.0.0.1:6379/0";

/// Redis keys under a prefix of this test's own, deleted when dropped.
struct KeySpace(String);

impl Drop for KeySpace {
    fn drop(&mut self) {
        if let Ok(mut connection) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) {
            let keys: Vec<String> =
                redis::Commands::keys(&mut connection, format!("{}:*", self.0)).unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::Commands::del(&mut connection, keys);
            }
        }
    }
}

/// The SQLite database every replica's SQL server reads (one table, `t`).
fn database(dir: &Path) -> PathBuf {
    let db = dir.join("shop.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    db
}

/// One replica's configuration: its own audit log, the fleet's Redis buckets.
fn replica_config(dir: &Path, db: &Path, prefix: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("switchboard.toml");
    std::fs::write(
        &path,
        format!(
            "[gateway]\nrate_limit_store = {REDIS:?}\nrate_limit_prefix = {prefix:?}\n\
             [pins]\nenabled = false\n[audit]\npath = {:?}\n\
             [clients.app]\ntoken = \"{APP}\"\nrate_limit = {{ rate = \"20/hour\" }}\n\
             [clients.ops]\ntoken = \"{OPS}\"\nadmin = true\n[clients.ci]\ntoken = \"{CI}\"\n\
             [approvals]\ntimeout = \"60s\"\n[tools.\"list_tables\"]\napproval = \"required\"\n\
             [servers.db]\nkind = \"postgres\"\nenv = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
            dir.join("audit.jsonl"),
            db.display()
        ),
    )
    .unwrap();
    path
}

/// HAProxy in front of `backends`, on a free port; killed when dropped.
struct Balancer {
    _child: tokio::process::Child,
    url: String,
}

impl Balancer {
    async fn start(dir: &Path, backends: &[String]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, b)| format!("  server g{i} {b} check inter 200ms fall 1 rise 1\n"))
            .collect();
        // The documented settings (README, "Running a fleet"): round robin, and a session
        // sticks to the replica whose `initialize` response named it.
        let config = format!(
            "global\n  maxconn 512\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  \
             timeout server 30s\n  retries 2\n  option redispatch\n\
             frontend mcp\n  bind 127.0.0.1:{port}\n  default_backend gateways\n\
             backend gateways\n  balance roundrobin\n  option httpchk GET /readyz\n  \
             stick-table type string len 64 size 100k expire 30m\n  \
             stick match req.hdr(mcp-session-id)\n  \
             stick store-response res.hdr(mcp-session-id)\n{servers}"
        );
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let child = tokio::process::Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy (scripts/setup installs it)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Self { _child: child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("haproxy did not start on {url}");
    }
}

/// A replica of the audited fleet: the audit table in `sink`, its chain named `name`, and
/// `shutdown_delay` for the balancer to notice it is leaving.
fn audited_replica_config(dir: &Path, db: &Path, sink: &str, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("switchboard.toml");
    std::fs::write(
        &path,
        format!(
            "[gateway]\nshutdown_delay = \"1s\"\n[pins]\nenabled = false\n\
             [audit]\nsink = {sink:?}\nreplica = {name:?}\n[clients.app]\ntoken = \"{APP}\"\n\
             [servers.db]\nkind = \"postgres\"\nenv = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
            db.display()
        ),
    )
    .unwrap();
    path
}

/// A stateless call of `query` through the balancer as `token`: whether it ran (`false` when
/// the rate limit refused it).
async fn query(url: &str, token: &str) -> bool {
    let answer =
        answer(tools_call(url, "query", json!({"sql": "SELECT 1"}), json!({})).bearer_auth(token))
            .await;
    let result = &answer["result"];
    if result["isError"] == json!(false) {
        return true;
    }
    assert!(
        result.to_string().contains("rate limit"),
        "only the limit refuses: {answer}"
    );
    false
}

/// CI's `list_tables` through `mcp`: it waits for an operator; its answer once decided.
async fn waiting_call(mcp: String) -> Value {
    answer(tools_call(&mcp, "list_tables", json!({}), json!({})).bearer_auth(CI)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_haproxy_share_limits_approvals_sessions_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let space = KeySpace(format!("sb-fleet-{}", uuid::Uuid::new_v4()));
    let mut replicas = Vec::new();
    let mut backends = Vec::new();
    for i in 0..3 {
        let config = replica_config(&dir.path().join(format!("r{i}")), &db, &space.0);
        let (child, url) = support::serve_http(&config, &[]).await;
        backends.push(
            url.trim_start_matches("http://")
                .trim_end_matches("/mcp")
                .to_owned(),
        );
        replicas.push(child);
    }
    let balancer = Balancer::start(dir.path(), &backends).await;
    let mcp = format!("{}/mcp", balancer.url);

    // A handshake-era session through the balancer: every request reaches its replica.
    let session = session::open(&mcp, OPS).await;
    for i in 1..=12 {
        let list = json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"});
        let (status, answer, _) = session::rpc(&mcp, OPS, Some(&session), list).await;
        assert_eq!(status, 200, "request {i} reached the session's replica");
        assert!(answer.last().unwrap()["result"]["tools"].is_array());
    }

    // The Python SDK's session through the balancer, with its own streams and requests.
    let seen = support::run_python_with(
        "legacy",
        &[&mcp],
        &[("TOKEN", OPS), ("SQL", "SELECT 1"), ("CALLS", "12")],
    )
    .await;
    assert_eq!(seen["protocol_version"], "2025-11-25", "{seen}");
    assert_eq!(seen["is_error"], false, "{seen}");

    // One bucket for the fleet: 20 an hour (so none comes back during the test), whichever
    // replica a call lands on.
    let mut ran = 0;
    for _ in 0..30 {
        if query(&mcp, APP).await {
            ran += 1;
        }
    }
    assert_eq!(ran, 20, "exactly the limit across three replicas");

    // A call waiting for approval on one replica, seen and approved through another.
    let waiting = tokio::spawn(waiting_call(mcp.clone()));
    let admin = reqwest::Client::new();
    let mut holder = None;
    for _ in 0..100 {
        for (i, backend) in backends.iter().enumerate() {
            let metrics = admin
                .get(format!("http://{backend}/metrics"))
                .bearer_auth(OPS)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if metrics.contains("switchboard_approvals_pending 1") {
                holder = Some(i);
            }
        }
        if holder.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let holder = holder.expect("the call waits on some replica");
    let other = &backends[(holder + 1) % 3];
    let listed: Value = admin
        .get(format!("http://{other}/admin/approvals"))
        .bearer_auth(OPS)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queued = listed["approvals"].as_array().unwrap();
    assert_eq!(queued.len(), 1, "every replica lists it: {listed}");
    let id = queued[0]["id"].as_str().unwrap();
    let decide = async |backend: &str, decision: &str| {
        admin
            .post(format!("http://{backend}/admin/approvals/{id}"))
            .bearer_auth(OPS)
            .json(&json!({"decision": decision}))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(decide(other, "approve").await, 200);
    let third = &backends[(holder + 2) % 3];
    assert_eq!(decide(third, "deny").await, 404, "decided once, fleet-wide");
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the approval reaches the replica holding the call")
        .unwrap();
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");

    // A 2026-07-28 approval round asked on one replica is answered on another, once.
    let round = async |backend: &str, state: Option<&str>| {
        let mut params = json!({"name": "list_tables", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        }});
        if let Some(state) = state {
            params["requestState"] = json!(state);
            params["inputResponses"] =
                json!({"approval": {"action": "accept", "content": {"approve": true}}});
        }
        let text = admin
            .post(format!("http://{backend}/mcp"))
            .bearer_auth(CI)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "list_tables")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        messages(&text).pop().unwrap()["result"].clone()
    };
    let asked = round(&backends[0], None).await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let state = asked["requestState"].as_str().unwrap().to_owned();
    let answered = round(&backends[1], Some(&state)).await;
    assert_eq!(
        answered["isError"],
        json!(false),
        "another replica takes the round: {answered}"
    );
    let replayed = round(&backends[2], Some(&state)).await;
    assert_eq!(
        replayed["isError"],
        json!(true),
        "a round is good once: {replayed}"
    );

    // A replica dies without a word: the balancer routes around it.
    let victim = replicas.remove(1);
    let pid = victim.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    for _ in 0..20 {
        assert!(query(&mcp, OPS).await, "calls keep working");
    }
    drop(victim);
    for mut replica in replicas {
        replica.kill().await.unwrap();
    }
}

/// Calls through the balancer from several clients until stopped, each with its own statement
/// (`SELECT n`), so its audit row can be found: the numbers answered, and what failed.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<(Vec<u64>, Vec<String>)>>,
}

impl Load {
    /// Numbering its statements from `first`.
    fn start(mcp: &str, clients: usize, first: u64) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(first));
        let clients = (0..clients)
            .map(|_| {
                let (mcp, stop, next) = (mcp.to_owned(), stop.clone(), next.clone());
                tokio::spawn(async move {
                    let (mut answered, mut failed) = (Vec::new(), Vec::new());
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let sql = format!("SELECT {n}");
                        let sent = tools_call(&mcp, "query", json!({"sql": sql}), json!({}))
                            .bearer_auth(APP)
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        let text = match sent {
                            Ok(response) => response.text().await.unwrap_or_default(),
                            Err(error) => {
                                failed.push(format!("SELECT {n}: {error}"));
                                continue;
                            }
                        };
                        match messages(&text).pop() {
                            Some(answer) if answer["result"]["isError"] == json!(false) => {
                                answered.push(n);
                            }
                            _ => failed.push(format!("SELECT {n}: {text}")),
                        }
                    }
                    (answered, failed)
                })
            })
            .collect();
        Self { stop, clients }
    }

    /// Stops the clients: every number answered, and every failure.
    async fn finish(self) -> (Vec<u64>, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut answered, mut failed) = (Vec::new(), Vec::new());
        for client in self.clients {
            let (a, f) = client.await.unwrap();
            answered.extend(a);
            failed.extend(f);
        }
        (answered, failed)
    }
}

/// The button value (the queued call's id) of a Slack approval request, once one is posted.
async fn posted_approval(
    slack: &switchboard_testkit::slack::FakeSlack,
    channel: &str,
) -> (String, String) {
    for _ in 0..100 {
        if let Some(message) = slack.posted(channel).into_iter().next() {
            let blocks = message.blocks.expect("posted with blocks");
            let actions = blocks
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["type"] == "actions")
                .expect("the request has buttons")
                .clone();
            let id = actions["elements"][0]["value"].as_str().unwrap().to_owned();
            return (message.ts, id);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no approval request was posted to Slack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_click_landing_on_another_replica_decides_the_call_waiting_on_the_first() {
    use switchboard_testkit::slack::{FakeChannel, FakeSlack};
    const SECRET: &str = "slack-signing-secret-0002";
    const CHANNEL: &str = "C0APPROVAL";
    let slack = FakeSlack::start().await.unwrap();
    slack.add_channel(FakeChannel::public(CHANNEL, "approvals"));
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let space = KeySpace(format!("sb-fleet-{}", uuid::Uuid::new_v4()));
    let in_slack = format!(
        "[approvals]\ntimeout = \"60s\"\nslack = {{ channel = \"#approvals\", \
         token = \"${{env:APPROVALS_SLACK_TOKEN}}\", \
         signing_secret = \"${{env:APPROVALS_SIGNING_SECRET}}\", \
         operators = [\"U0ALICE001\"], api_url = \"{}\" }}\n",
        slack.url()
    );
    let token = slack.token();
    let env = [
        ("APPROVALS_SLACK_TOKEN", token.as_str()),
        ("APPROVALS_SIGNING_SECRET", SECRET),
    ];
    let mut replicas = Vec::new();
    let mut interactions = Vec::new();
    let mut urls = Vec::new();
    for i in 0..2 {
        let config = replica_config(&dir.path().join(format!("r{i}")), &db, &space.0);
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace("[approvals]\ntimeout = \"60s\"\n", &in_slack);
        std::fs::write(&config, text).unwrap();
        let (child, url) = support::serve_http(&config, &env).await;
        interactions.push(url.replace("/mcp", "/slack/interactions"));
        urls.push(url);
        replicas.push(child);
    }

    // The call waits on replica 0, which posts the request to Slack.
    let call = tokio::spawn(waiting_call(urls[0].clone()));
    let (ts, id) = posted_approval(&slack, CHANNEL).await;
    assert_eq!(
        slack.posted(CHANNEL).len(),
        1,
        "only the replica holding the call posts"
    );

    // Slack delivers the click to replica 1: it is verified there and decides the call.
    assert_eq!(
        support::slack_click(&interactions[1], SECRET, "U0ALICE001", "approve", &id, 0).await,
        (200, 401),
        "decided through the fleet's queue; the same request again is a replay"
    );
    let answer = call.await.unwrap();
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    // A second click, delivered to replica 0, finds nothing waiting: one decision counts.
    assert_eq!(
        support::slack_click(&interactions[0], SECRET, "U0ALICE001", "deny", &id, 1).await,
        (404, 401)
    );
    // The replica that held the call updates its message with the decision.
    let mut text = String::new();
    for _ in 0..100 {
        let message = slack
            .messages(CHANNEL)
            .into_iter()
            .find(|m| m.ts == ts)
            .unwrap();
        if !message
            .blocks
            .unwrap_or_default()
            .to_string()
            .contains("\"actions\"")
        {
            text = message.text;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.starts_with("Approved by slack:U0ALICE001 (alice)"),
        "the message was not updated: {text:?}"
    );
    drop(replicas);
}

fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_loses_no_call_and_each_answer_has_one_audit_row_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let audit = switchboard_testkit::pg::TestDb::new().await.unwrap();
    let sink = audit.url();
    let mut replicas = Vec::new();
    let mut backends = Vec::new();
    let mut configs = Vec::new();
    for i in 0..3 {
        let config = audited_replica_config(
            &dir.path().join(format!("r{i}")),
            &db,
            &sink,
            &format!("r{i}"),
        );
        let addr = format!(
            "127.0.0.1:{}",
            switchboard_testkit::pg::free_port().unwrap()
        );
        let (child, _) = support::serve_http_on(&addr, &config, &[], &[]).await;
        replicas.push(child);
        backends.push(addr);
        configs.push(config);
    }
    let balancer = Balancer::start(dir.path(), &backends).await;
    let mcp = format!("{}/mcp", balancer.url);
    let load = Load::start(&mcp, 4, 1);
    // The Python SDK, 2026-07-28, calling through the balancer all along.
    let sdk = {
        let mcp = mcp.clone();
        tokio::spawn(async move {
            let env = [
                ("TOKEN", APP),
                ("SQL", "SELECT 'sdk'"),
                ("FOR_SECONDS", "10"),
            ];
            support::run_python_with("auto", &[&mcp], &env).await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    // SIGTERM one replica at a time, each replaced on its address once it has gone: it reports
    // not ready first, the balancer stops sending, and what it was serving finishes.
    for i in 0..3 {
        signal(&replicas[i], "-TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), replicas[i].wait())
            .await
            .expect("a terminated replica exits after draining")
            .unwrap();
        assert!(status.success(), "replica {i} exits cleanly: {status}");
        let (child, _) = support::serve_http_on(&backends[i], &configs[i], &[], &[]).await;
        replicas[i] = child;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let (answered, failed) = load.finish().await;
    assert!(
        failed.is_empty(),
        "a rolling restart loses no call: {failed:?}"
    );
    let seen = sdk.await.unwrap();
    assert_eq!(
        (seen["protocol_version"].as_str(), &seen["is_error"]),
        (Some("2026-07-28"), &json!(false)),
        "the SDK's calls all succeed: {seen}"
    );
    assert!(seen["calls"].as_u64() > Some(10), "{seen}");
    assert!(
        answered.len() > 50,
        "the load ran: {} calls",
        answered.len()
    );

    // A replica killed in the middle of the load: calls it held are lost to their clients, but
    // every call a client was answered has exactly one audit row.
    let load = Load::start(&mcp, 4, 1_000_000);
    tokio::time::sleep(Duration::from_millis(700)).await;
    signal(&replicas[1], "-KILL");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, _lost) = load.finish().await;
    assert!(
        after.len() > 20,
        "calls keep being answered: {}",
        after.len()
    );
    let mut answered = answered;
    answered.extend(after);

    let rows = switchboard_testkit::pg::connect(&sink)
        .await
        .unwrap()
        .query("SELECT line FROM switchboard_audit", &[])
        .await
        .unwrap();
    let mut audited = std::collections::HashMap::<u64, usize>::new();
    for row in rows {
        let record: Value = serde_json::from_str(row.get::<_, &str>(0)).unwrap();
        if let Some(n) = record["arguments"]["sql"]
            .as_str()
            .and_then(|sql| sql.strip_prefix("SELECT "))
            .and_then(|n| n.parse().ok())
        {
            *audited.entry(n).or_default() += 1;
        }
    }
    for n in &answered {
        assert_eq!(audited.get(n), Some(&1), "SELECT {n} has one audit row");
    }
    assert!(
        audited.values().all(|&rows| rows == 1),
        "no call audited twice"
    );

    let verify = std::process::Command::new(support::binary())
        .args(["audit", "verify", "--config"])
        .arg(&configs[0])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{report}");
    for name in ["r0", "r1", "r2"] {
        assert!(report.contains(&format!("ok: replica {name}:")), "{report}");
    }
    drop(replicas);
}
