//! Shared setup of the binary's black-box tests: a database loaded with the corpus schema, owned
//! by a non-superuser role, and a `switchboard server postgres` process connected to it.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use switchboard_testkit::mcp::Client;
use switchboard_testkit::pg::TestDb;

/// The binary under test.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_switchboard"))
}

/// A test database with `schema.sql` loaded by (and owned by) a fresh login role.
pub struct ShopDb {
    pub db: TestDb,
    pub owner: String,
}

impl ShopDb {
    pub async fn new() -> Self {
        let mut db = TestDb::new().await.expect("test database");
        let owner = db.create_role("sb_owner", "").await.expect("owner role");
        let schema = TestDb::corpus_file("schema.sql").expect("corpus schema");
        db.load(Some(&owner), &schema).await.expect("load schema");
        Self { db, owner }
    }

    /// The URL of the owning role.
    pub fn owner_url(&self) -> String {
        self.db.url_as(&self.owner, None)
    }

    /// A postgres server connected as the owner, with `extra` environment.
    pub async fn server(&self, extra: &[(&str, &str)]) -> Client {
        let mut env: HashMap<String, String> =
            HashMap::from([("DATABASE_URL".to_owned(), self.owner_url())]);
        for (key, value) in extra {
            env.insert((*key).to_owned(), (*value).to_owned());
        }
        Client::spawn(binary(), &["server", "postgres"], &env)
            .await
            .expect("spawn postgres server")
    }
}

/// Lines of a JSONL corpus file as (sql, why).
pub fn corpus(name: &str) -> Vec<(String, String)> {
    TestDb::corpus_file(name)
        .expect("corpus file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
            (
                v["sql"].as_str().expect("sql").to_owned(),
                v["why"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// `switchboard serve --http 127.0.0.1:0 --config <config>` with `env`, started and running: the
/// process (killed when dropped; its stdout piped, for the caller to read) and the MCP URL it
/// printed. Its stderr keeps being read.
pub async fn serve_http(config: &Path, env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    serve_http_with(config, env, &[]).await
}

/// [`serve_http`] with more arguments for `serve`.
pub async fn serve_http_with(
    config: &Path,
    env: &[(&str, &str)],
    more: &[&str],
) -> (tokio::process::Child, String) {
    serve_http_on("127.0.0.1:0", config, env, more).await
}

/// [`serve_http_with`] listening on `addr`.
pub async fn serve_http_on(
    addr: &str,
    config: &Path,
    env: &[(&str, &str)],
    more: &[&str],
) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(binary())
        .args(["serve", "--http", addr, "--config"])
        .arg(config)
        .args(more)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("serve exited early");
            if let Some(url) = line.strip_prefix("switchboard: serving MCP on ") {
                return url.to_owned();
            }
        }
    })
    .await
    .expect("serve did not start in 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// The SDK's interpreter: `SWITCHBOARD_TEST_PYTHON`, else the venv `scripts/setup` makes.
pub fn python() -> PathBuf {
    if let Ok(path) = std::env::var("SWITCHBOARD_TEST_PYTHON") {
        return PathBuf::from(path);
    }
    let venv =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/py/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup (it installs the Python MCP SDK)",
        venv.display()
    );
    venv
}

/// The Python SDK client script.
pub fn python_client() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_mcp.py")
}

/// Runs the Python SDK client (`tests/clients/python_mcp.py`) in `mode` against `target`: the
/// JSON line it printed.
pub async fn run_python_with(mode: &str, target: &[&str], env: &[(&str, &str)]) -> Value {
    let output = tokio::process::Command::new(python())
        .arg(python_client())
        .arg(mode)
        .args(target)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python client failed ({mode} {target:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

/// Posts a click on a Slack approval button (`action` on the request `id`, by `user`) to
/// `interactions`, signed with `secret` as Slack signs it, stamped `age_s` seconds ago. Returns
/// the HTTP status of the request and of the same request sent again.
pub async fn slack_click(
    interactions: &str,
    secret: &str,
    user: &str,
    action: &str,
    id: &str,
    age_s: u64,
) -> (u16, u16) {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "actions": [{"action_id": action, "value": id, "type": "button"}],
    });
    let body: String = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let timestamp = (now - age_s).to_string();
    let signature = switchboard_slack::interactions::sign(secret, &timestamp, body.as_bytes());
    let http = reqwest::Client::new();
    let send = || {
        http.post(interactions)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &timestamp)
            .header("x-slack-signature", &signature)
            .body(body.clone())
            .send()
    };
    let first = send().await.unwrap().status().as_u16();
    let again = send().await.unwrap().status().as_u16();
    (first, again)
}
