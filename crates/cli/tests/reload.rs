//! `switchboard serve` takes a new configuration without a restart: on SIGHUP, from
//! `switchboard reload`, and with `--watch` when the file changes. Sessions stay open; a hundred
//! reloads under load fail no call and leave the gateway's memory where it was.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::session::{self, rpc};
use switchboard_testkit::stateless::{messages, tools_call};

mod support;

const ROOT: &str = "root-token-0001";
const APP: &str = "app-token-0001";

/// A SQLite database with one table, and the configuration of a gateway in front of it: `db`
/// always, `more` when asked; `root` is an operator, `app` may use `app_allow`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("shop.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        Self { dir }
    }

    fn write(&self, more: bool, app_allow: &str) -> PathBuf {
        let server = |name: &str| {
            format!(
                "[servers.{name}]\nkind = \"postgres\"\nprefix = true\n\
                 env = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
                self.dir.path().join("shop.db").display()
            )
        };
        let text = format!(
            "[audit]\npath = {:?}\n[pins]\nenabled = false\n\
             [clients.root]\ntoken = \"{ROOT}\"\nadmin = true\n\
             [clients.app]\ntoken = \"{APP}\"\nallow = [{app_allow}]\n{}{}",
            self.dir.path().join("audit.jsonl"),
            server("db"),
            if more { server("more") } else { String::new() },
        );
        let path = self.dir.path().join("switchboard.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn reload_records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["layer"] == "config")
            .collect()
    }
}

/// The tool names `session` lists.
async fn listed(url: &str, token: &str, session: &str) -> Vec<String> {
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let (status, answer, _) = rpc(url, token, Some(session), list).await;
    assert!(status.is_success(), "the session is still open: {status}");
    let mut names: Vec<String> = answer
        .last()
        .and_then(|a| a["result"]["tools"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Polls until `session` lists a tool starting with `prefix` (or none, when `present` is false).
async fn until_listed(url: &str, token: &str, session: &str, prefix: &str, present: bool) {
    for _ in 0..100 {
        let names = listed(url, token, session).await;
        if names.iter().any(|n| n.starts_with(prefix)) == present {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{prefix}* never became {present} in {session}'s list");
}

fn reload_command(url: &str, token: &str) -> std::process::Output {
    Command::new(support::binary())
        .args(["reload", "--url", url])
        .env("SWITCHBOARD_TOKEN", token)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_command_and_watch_reload_and_sessions_stay_open() {
    let setup = Setup::new();
    let config = setup.write(false, "\"db__*\"");
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let root = session::open(&url, ROOT).await;
    let app = session::open(&url, APP).await;
    assert!(
        listed(&url, ROOT, &root)
            .await
            .contains(&"db__query".to_owned())
    );

    // SIGHUP: a server added.
    setup.write(true, "\"db__*\"");
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    until_listed(&url, ROOT, &root, "more__", true).await;
    assert!(
        !listed(&url, APP, &app)
            .await
            .iter()
            .any(|n| n.starts_with("more__")),
        "app may not see more"
    );

    // `switchboard reload`: only an operator may; the answer says what changed.
    setup.write(true, "\"db__*\", \"more__query\"");
    let refused = reload_command(&url, APP);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("403"),
        "{}",
        text(&refused.stderr)
    );
    let done = reload_command(&url, ROOT);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(
        text(&done.stdout).contains("clients.app.allow"),
        "{}",
        text(&done.stdout)
    );
    assert!(
        listed(&url, APP, &app)
            .await
            .contains(&"more__query".to_owned())
    );

    // A broken file: the command says why, and the gateway keeps serving.
    std::fs::write(&config, "[clients.app\n").unwrap();
    let broken = reload_command(&url, ROOT);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stderr).contains("switchboard.toml"),
        "{}",
        text(&broken.stderr)
    );
    assert!(
        listed(&url, APP, &app)
            .await
            .contains(&"more__query".to_owned())
    );

    // --watch (on a gateway of its own, so that nothing else reloads meanwhile): the file
    // changed, nobody asked.
    child.kill().await.unwrap();
    setup.write(true, "\"db__*\", \"more__query\"");
    let (mut child, url) = support::serve_http_with(&config, &[], &["--watch"]).await;
    let root = session::open(&url, ROOT).await;
    let app = session::open(&url, APP).await;
    assert!(
        listed(&url, APP, &app)
            .await
            .contains(&"more__query".to_owned())
    );
    setup.write(false, "\"db__*\"");
    until_listed(&url, ROOT, &root, "more__", false).await;
    until_listed(&url, APP, &app, "more__", false).await;

    let records = setup.reload_records();
    let by: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["client"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(by.contains(&("signal", "ok")), "{by:?}");
    assert!(by.contains(&("root", "ok")), "{by:?}");
    assert!(by.contains(&("root", "refused")), "{by:?}");
    assert!(by.contains(&("watch", "ok")), "{by:?}");
    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains(APP) && !text.contains(ROOT),
        "no values: {text}"
    );
    child.kill().await.unwrap();
}

/// The gateway's resident memory, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_reloads_under_load_fail_no_call_and_keep_memory_flat() {
    let setup = Setup::new();
    let config = setup.write(false, "\"db__*\"");
    let (mut child, url) = support::serve_http(&config, &[]).await;
    let pid = child.id().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, Vec::new());
                while !stop.is_cancelled() {
                    let answer =
                        tools_call(&url, "db__query", json!({"sql": "SELECT 1"}), json!({}))
                            .bearer_auth(APP)
                            .send()
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap();
                    let answer = messages(&answer).pop().unwrap_or_default();
                    if answer["result"]["isError"] == json!(false) {
                        ok += 1;
                    } else {
                        failed.push(answer);
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let admin = reqwest::Client::new();
    let base = url.trim_end_matches("/mcp").to_owned();
    let mut rss = Vec::new();
    for round in 0..100 {
        // Every other round adds a server and widens app's scopes; the next takes them back.
        let odd = round % 2 == 1;
        setup.write(
            odd,
            if odd {
                "\"db__*\", \"more__*\""
            } else {
                "\"db__*\""
            },
        );
        let response = admin
            .post(format!("{base}/admin/reload"))
            .bearer_auth(ROOT)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "round {round}: {}",
            response.text().await.unwrap()
        );
        if round == 19 || round == 99 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            rss.push(rss_kib(pid));
        }
    }
    stop.cancel();
    let mut calls = 0;
    for caller in callers {
        let (ok, failed) = caller.await.unwrap();
        assert!(failed.is_empty(), "failed calls: {failed:?}");
        calls += ok;
    }
    assert!(calls > 100, "the load ran: {calls} calls");
    assert_eq!(setup.reload_records().len(), 100);
    // Eighty reloads after the first twenty: the memory the gateway holds does not grow with
    // them (about 0.3 MiB here; a configuration, catalog and pipeline kept per reload would
    // add several).
    assert!(
        rss[1] < rss[0] + 2 * 1024,
        "RSS after 20 reloads {} KiB, after 100 {} KiB",
        rss[0],
        rss[1]
    );
    child.kill().await.unwrap();
}
