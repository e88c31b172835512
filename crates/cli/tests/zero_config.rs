//! The first run without configuration, black box: with no `switchboard.toml` and no
//! `DATABASE_URL`, the real binary creates the sample shop database in its data directory (a
//! temporary `SWITCHBOARD_DATA_DIR` here), serves it as `sample__*` tools, says how to connect,
//! reuses the file on later runs, never writes to it, and never touches a file that is not it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use support::ShopDb;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const FAILED_LAST_DAY: &str = "SELECT count(*) AS n FROM orders WHERE status = 'failed' \
                               AND created_at >= datetime('now', '-1 day')";

/// A fresh user: an empty working directory and data directory, and no inherited settings.
struct User {
    dir: tempfile::TempDir,
}

impl User {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn sample(&self) -> PathBuf {
        self.data_dir().join("sample-shop.db")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("SWITCHBOARD_DATA_DIR", self.data_dir())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// `switchboard call sample__query` with `sql`; the output and its structured result.
    fn query(&self, sql: &str) -> (Output, Value) {
        let arguments = json!({ "sql": sql }).to_string();
        let out = self.run(&["call", "sample__query", &arguments]);
        let result = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, result)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exposed names in a successful `switchboard tools --json`.
fn tool_names(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", stderr(out));
    let tools: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    tools
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

fn count(result: &Value) -> i64 {
    result["structuredContent"]["rows"][0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("no count in {result}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_creates_the_sample_serves_it_and_says_how_to_connect() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let user = User::new();
    let mut child = tokio::process::Command::from(user.command())
        .args(["serve", "--http", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let printed = tokio::time::timeout(Duration::from_secs(60), async {
        let mut printed = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            let last = line.contains("switchboard.toml");
            printed.push(line);
            if last {
                return printed;
            }
        }
        panic!("serve exited early:\n{}", printed.join("\n"));
    })
    .await
    .expect("serve prints how to connect");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let text = printed.join("\n");

    assert!(user.sample().is_file(), "{text}");
    assert!(text.contains("created"), "{text}");
    let url = printed
        .iter()
        .find_map(|line| line.strip_prefix("switchboard: serving MCP on "))
        .unwrap_or_else(|| panic!("no URL in:\n{text}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    assert!(
        text.contains(&format!(
            "claude mcp add --transport http switchboard {url}"
        )),
        "{text}"
    );
    let exe = std::fs::canonicalize(BIN).unwrap();
    let exe = exe.to_str().unwrap();
    assert!(
        text.contains(&format!("claude mcp add switchboard -- {exe} serve")),
        "{text}"
    );
    let snippet = printed
        .iter()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON snippet in:\n{text}"));
    let desktop: Value = serde_json::from_str(snippet).expect("the snippet is JSON");
    assert_eq!(
        desktop["mcpServers"]["switchboard"],
        json!({ "command": exe, "args": ["serve"] })
    );
    assert!(text.contains("DATABASE_URL=postgres://"), "{text}");

    // An MCP client over HTTP sees the sample's tools, prefixed, and finds the recent failures.
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url);
    let client = ().serve(transport).await.unwrap();
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "sample__describe_table",
            "sample__explain",
            "sample__list_schemas",
            "sample__list_tables",
            "sample__query"
        ]
    );
    let arguments = json!({ "sql": FAILED_LAST_DAY });
    let result = client
        .call_tool({
            let mut params = CallToolRequestParams::new("sample__query");
            params.arguments = arguments.as_object().cloned();
            params
        })
        .await
        .unwrap();
    let result = serde_json::to_value(&result).unwrap();
    assert!(count(&result) > 5, "{result}");
    client.cancel().await.unwrap();
    child.kill().await.unwrap();
}

#[test]
fn a_second_run_reuses_the_sample_file() {
    use std::os::unix::fs::MetadataExt;
    let user = User::new();
    let (first, result) = user.query(FAILED_LAST_DAY);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(count(&result) > 5, "{result}");
    assert!(stderr(&first).contains("created"), "{}", stderr(&first));
    let before = std::fs::metadata(user.sample()).unwrap();

    let (second, result) = user.query(FAILED_LAST_DAY);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(count(&result) > 5, "{result}");
    assert!(stderr(&second).contains("reused"), "{}", stderr(&second));
    let after = std::fs::metadata(user.sample()).unwrap();
    assert_eq!(before.ino(), after.ino());
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
}

#[test]
fn writes_to_the_sample_are_refused() {
    let user = User::new();
    let (_, before) = user.query("SELECT count(*) FROM orders");
    let bytes = std::fs::read(user.sample()).unwrap();
    for sql in [
        "DELETE FROM orders",
        "UPDATE orders SET status = 'paid'",
        "DROP TABLE orders",
    ] {
        let (out, result) = user.query(sql);
        assert_eq!(out.status.code(), Some(1), "{sql}: {result}");
        assert_eq!(result["isError"], true, "{sql}: {result}");
        let message = result["content"][0]["text"].as_str().unwrap_or_default();
        assert!(message.contains("refused"), "{sql}: {message}");
    }
    let (_, after) = user.query("SELECT count(*) FROM orders");
    assert_eq!(count(&before), count(&after));
    assert_eq!(std::fs::read(user.sample()).unwrap(), bytes);
}

#[test]
fn a_file_that_is_not_the_sample_is_left_untouched() {
    let user = User::new();
    std::fs::create_dir_all(user.data_dir()).unwrap();
    std::fs::write(user.sample(), "my own notes").unwrap();
    let (out, _) = user.query(FAILED_LAST_DAY);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not the Switchboard sample database"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));
    assert_eq!(std::fs::read(user.sample()).unwrap(), b"my own notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_database_url_set_there_is_no_sample() {
    let shop = ShopDb::new().await;
    let user = User::new();
    let out = user
        .command()
        .args(["tools", "--json"])
        .env("DATABASE_URL", shop.owner_url())
        .output()
        .unwrap();
    let names = tool_names(&out);
    assert!(names.iter().any(|n| n == "query"), "{names:?}");
    assert!(
        !names.iter().any(|name| name.contains("sample")),
        "{names:?}"
    );
    assert!(!stderr(&out).contains("sample"), "{}", stderr(&out));
    assert!(!user.data_dir().exists());
}

#[test]
fn slack_from_the_environment_starts_beside_the_sample() {
    let user = User::new();
    let out = user
        .command()
        .args(["tools", "--json"])
        .env("SLACK_BOT_TOKEN", "xoxb-zero-config")
        .env("SLACK_API_URL", "http://127.0.0.1:9/api")
        .output()
        .unwrap();
    let names = tool_names(&out);
    assert!(names.iter().any(|n| n == "sample__query"), "{names:?}");
    assert!(
        names.iter().any(|name| name.starts_with("slack__")),
        "{names:?}"
    );
}

/// The data directory defaults to `$XDG_DATA_HOME/switchboard`, then `~/.local/share/switchboard`.
#[test]
fn the_sample_lives_in_the_xdg_data_directory() {
    let user = User::new();
    let xdg = user.dir.path().join("xdg");
    let out = user
        .command()
        .env_remove("SWITCHBOARD_DATA_DIR")
        .env("XDG_DATA_HOME", &xdg)
        .args(["call", "sample__list_tables"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(xdg.join("switchboard/sample-shop.db").is_file());

    let out = user
        .command()
        .env_remove("SWITCHBOARD_DATA_DIR")
        .args(["call", "sample__list_tables"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let home: &Path = user.dir.path();
    assert!(
        home.join(".local/share/switchboard/sample-shop.db")
            .is_file()
    );
}
