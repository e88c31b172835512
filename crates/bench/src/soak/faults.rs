//! The fault schedule: one fault every few seconds, in turn — kill an upstream child, cut the
//! database's connections (PostgreSQL's own restart, seen from the servers, without restarting
//! the machine's shared cluster), stop Redis and start it again, make the Jira and Slack fakes
//! answer 429, 5xx, slowly or with a broken body, and send the gateway malformed HTTP requests.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_testkit::jira::Fault as JiraFault;
use switchboard_testkit::slack::Fault as SlackFault;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::setup::Backends;
use crate::stats::children;

/// What the schedule did, and what it saw that it should not have.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) done: Vec<String>,
    pub(crate) unexpected: Vec<String>,
}

/// Runs the schedule every `every` until `stop`.
pub(crate) async fn run(
    backends: Arc<tokio::sync::Mutex<Backends>>,
    gateway_pid: u32,
    url: String,
    dir: &Path,
    every: Duration,
    stop: CancellationToken,
    log: Arc<Mutex<Log>>,
) {
    let note = |text: String| {
        println!("  fault: {text}");
        log.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .done
            .push(text);
    };
    let mut turn = 0usize;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        turn += 1;
        match turn % 6 {
            0 => {
                let kids = children(gateway_pid);
                if let Some(pid) = kids.get(turn / 6 % kids.len().max(1)) {
                    let name = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                        .unwrap_or_default()
                        .replace('\0', " ");
                    let _ = tokio::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status()
                        .await;
                    note(format!("killed upstream child {pid} ({})", name.trim()));
                }
            }
            1 => {
                let backends = backends.lock().await;
                let cut = cut_connections(&backends).await;
                note(format!(
                    "cut {cut} PostgreSQL connections of the soak database"
                ));
            }
            2 => {
                let stopped = match backends.lock().await.redis.as_mut() {
                    Some(redis) => {
                        redis.down().await;
                        true
                    }
                    None => false,
                };
                if stopped {
                    note("stopped Redis for 5 s".into());
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    if let Some(redis) = backends.lock().await.redis.as_mut()
                        && let Err(error) = redis.up(dir).await
                    {
                        note(format!("Redis did not start again: {error:#}"));
                    }
                }
            }
            3 => {
                let backends = backends.lock().await;
                for (path, fault) in [
                    (
                        "/rest/api/3/issue",
                        JiraFault::RateLimited {
                            retry_after_secs: 1,
                        },
                    ),
                    ("/rest/api/3/issue", JiraFault::ServerError { status: 503 }),
                    (
                        "/rest/api/3/search/jql",
                        JiraFault::Slow {
                            delay: Duration::from_secs(12),
                        },
                    ),
                    ("/rest/api/3/search/jql", JiraFault::Malformed),
                ] {
                    backends.jira.inject(path, fault, 1);
                }
                note(
                    "Jira: 429 and 503 on create, a 12 s answer and a broken body on search".into(),
                );
            }
            4 => {
                let backends = backends.lock().await;
                for (method, fault) in [
                    (
                        "chat.postMessage",
                        SlackFault::RateLimited {
                            retry_after_secs: 1,
                        },
                    ),
                    ("chat.postMessage", SlackFault::ServerError { status: 500 }),
                    (
                        "conversations.list",
                        SlackFault::Slow {
                            delay: Duration::from_secs(12),
                        },
                    ),
                    ("conversations.list", SlackFault::Malformed),
                ] {
                    backends.slack.inject(method, fault, 1);
                }
                note("Slack: 429 and 500 on post, a 12 s answer and a broken body on list".into());
            }
            _ => {
                let bad = malformed(&url).await;
                note(format!("sent {} malformed HTTP requests", MALFORMED.len()));
                if !bad.is_empty() {
                    log.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .unexpected
                        .extend(bad);
                }
            }
        }
    }
}

/// Terminates every other session on the soak's database; returns how many.
async fn cut_connections(backends: &Backends) -> i64 {
    let Ok(admin) = backends.db.connect().await else {
        return -1;
    };
    admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .map_or(-1, |row| row.get(0))
}

/// Requests no client should send: each must get a 4xx answer (or a JSON-RPC error), never a
/// 5xx, a dropped connection or a crash.
const MALFORMED: &[(&str, &[u8])] = &[
    (
        "not JSON",
        b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ",
    ),
    (
        "not UTF-8",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\xff\xfe\"}",
    ),
    ("a JSON string", b"\"ping\""),
    ("an empty batch", b"[]"),
    (
        "a huge id",
        b"{\"jsonrpc\":\"2.0\",\"id\":18446744073709551616,\"method\":\"ping\"}",
    ),
    (
        "an unknown method",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope/nope\"}",
    ),
    (
        "a wrong params type",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[1]}",
    ),
];

/// Sends [`MALFORMED`] (plus deep nesting and a stale session id); returns what was wrong.
async fn malformed(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return vec![format!("bad gateway URL {url}")];
    };
    let addr = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(80)
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut cases: Vec<(String, Vec<u8>, &str)> = MALFORMED
        .iter()
        .map(|(name, body)| ((*name).to_owned(), body.to_vec(), ""))
        .collect();
    cases.push(("deep nesting".into(), deep.into_bytes(), ""));
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec();
    cases.push((
        "a stale session".into(),
        ping,
        "Mcp-Session-Id: 00000000000000000000000000000000\r\n",
    ));
    let mut wrong = Vec::new();
    for (name, body, extra) in cases {
        match post(&addr, parsed.path(), &body, extra).await {
            Ok(status) if (400..500).contains(&status) || status == 200 || status == 202 => {}
            Ok(status) => wrong.push(format!("malformed request ({name}): HTTP {status}")),
            Err(error) => wrong.push(format!("malformed request ({name}): {error}")),
        }
    }
    wrong
}

/// One HTTP/1.1 POST on a fresh connection; returns the status.
async fn post(addr: &str, path: &str, body: &[u8], extra: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n{extra}\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("no answer in 20 s"))??;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::other(format!(
                "not HTTP: {}",
                text.chars().take(80).collect::<String>()
            ))
        })
}
