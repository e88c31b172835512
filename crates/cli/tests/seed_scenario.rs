//! The seed scenario end to end: the real `switchboard agent` binary starts the gateway from a
//! `switchboard.toml`, which starts the built-in postgres, jira and slack servers as child
//! processes against a real PostgreSQL database, a fake Jira Cloud and a fake Slack; the model is
//! the scripted fake Anthropic API. The tests check what reached Jira and Slack, the audit log,
//! the transcript, and what the agent sent back to the model.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_gateway::audit::{AuditRecord, read_records, verify};
use switchboard_testkit::anthropic::{FakeAnthropic, RecordedRequest, Reply};
use switchboard_testkit::jira::{self, FakeJira, Flavor, validate_adf};
use switchboard_testkit::pg::TestDb;
use switchboard_testkit::slack::{self, FakeSlack, OPERATIONS_ID};
use tempfile::TempDir;

const TASK: &str = "Check the orders table for any orders with status 'failed' in the last 24 \
                    hours. If you find more than 5, create a high-priority Jira bug in the ENG \
                    project and post a summary to the #operations Slack channel.";

const FAILED_SQL: &str = "SELECT count(*)::int AS failed, sum(amount)::text AS amount \
                          FROM orders WHERE status = 'failed' \
                          AND created_at > now() - interval '24 hours'";

/// Approval is required for both write tools; runs that should write pass `--yes`.
const POLICY: &str = r#"
[tools."jira__create_issue"]
approval = "required"

[tools."slack__post_message"]
approval = "required"
"#;

/// The database, the fakes and a directory for the configuration, audit log and transcripts.
struct World {
    db: TestDb,
    reader: String,
    jira: FakeJira,
    slack: FakeSlack,
    model: FakeAnthropic,
    dir: TempDir,
}

/// What one run of the binary printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
    }
}

impl World {
    /// `failed_recent` failed orders in the last 24 hours, plus failed orders older than that
    /// and recent orders in other states (which the query must not count).
    async fn new(failed_recent: u32) -> Self {
        let mut db = TestDb::new().await.expect("test database");
        let owner = db.create_role("sb_owner", "").await.expect("owner role");
        let reader = db.create_role("sb_reader", "").await.expect("reader role");
        let seed = format!(
            "CREATE TABLE orders (
               id bigserial PRIMARY KEY,
               customer_id int NOT NULL,
               status text NOT NULL CHECK (status IN ('pending','paid','shipped','failed','refunded')),
               amount numeric(12,2) NOT NULL,
               created_at timestamptz NOT NULL);
             INSERT INTO orders (customer_id, status, amount, created_at)
               SELECT g, 'failed', 10 * g, now() - g * interval '90 minutes'
               FROM generate_series(1, {failed_recent}) g;
             INSERT INTO orders (customer_id, status, amount, created_at)
               SELECT g, 'failed', 99, now() - interval '30 hours' - g * interval '1 hour'
               FROM generate_series(1, 4) g;
             INSERT INTO orders (customer_id, status, amount, created_at)
               SELECT g, (ARRAY['pending','paid','shipped','refunded'])[1 + g % 4], 20,
                      now() - g * interval '20 minutes'
               FROM generate_series(1, 40) g;
             GRANT SELECT ON orders TO {reader};"
        );
        db.load(Some(&owner), &seed).await.expect("seed orders");
        Self {
            db,
            reader,
            jira: FakeJira::start(Flavor::Cloud).await.expect("fake Jira"),
            slack: FakeSlack::start().await.expect("fake Slack"),
            model: FakeAnthropic::start().await.expect("fake Anthropic API"),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Writes `switchboard.toml`: the three built-in servers, the audit log, and `extra`.
    fn config(&self, extra: &str) -> PathBuf {
        let text = format!(
            r#"[audit]
path = "audit.jsonl"

[servers.postgres]
kind = "postgres"
env = {{ DATABASE_URL = "{db}" }}

[servers.jira]
kind = "jira"
env = {{ JIRA_URL = "{jira}", JIRA_FLAVOR = "cloud", JIRA_USERNAME = "{email}", JIRA_API_TOKEN = "{token}", JIRA_PROJECTS = "ENG" }}

[servers.slack]
kind = "slack"
env = {{ SLACK_BOT_TOKEN = "{slack_token}", SLACK_API_URL = "{slack}", SLACK_CHANNELS = "operations" }}
{extra}"#,
            db = self.db.url_as(&self.reader, None),
            jira = self.jira.url(),
            email = jira::EMAIL,
            token = jira::API_TOKEN,
            slack_token = self.slack.token(),
            slack = self.slack.url(),
        );
        let path = self.dir.path().join("switchboard.toml");
        std::fs::write(&path, text).expect("write switchboard.toml");
        path
    }

    /// Runs `switchboard agent --config <config> <args>` without a controlling terminal (so the
    /// approver cannot prompt) and waits for it.
    async fn agent(&self, config: &Path, args: &[&str]) -> Run {
        let mut all = vec!["agent".to_owned(), "--config".to_owned()];
        all.push(config.display().to_string());
        all.extend(args.iter().map(|a| (*a).to_owned()));
        self.switchboard(&all).await
    }

    async fn switchboard(&self, args: &[String]) -> Run {
        // setsid(1) starts the binary in a new session: /dev/tty cannot be opened, as in CI.
        let mut command = tokio::process::Command::new("setsid");
        command.arg(support::binary()).args(args);
        for name in [
            "SWITCHBOARD_CONFIG",
            "SWITCHBOARD_TRANSCRIPT_DIR",
            "ANTHROPIC_MODEL",
            "DATABASE_URL",
            "JIRA_URL",
            "SLACK_BOT_TOKEN",
        ] {
            command.env_remove(name);
        }
        command
            .env("ANTHROPIC_API_KEY", self.model.api_key())
            .env("ANTHROPIC_BASE_URL", self.model.base_url())
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .expect("the agent finishes within 2 minutes")
            .expect("run switchboard");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The audited calls (the records of tool pins, in the same chain, left out).
    fn audit(&self) -> Vec<AuditRecord> {
        let path = self.audit_path();
        let records = read_records(&path).expect("read the audit log");
        assert_eq!(
            verify(&path).expect("the audit chain verifies"),
            records.len() as u64
        );
        records
            .into_iter()
            .filter(|r| r.layer.as_deref() != Some(switchboard_gateway::pins::LAYER))
            .collect()
    }

    /// The only transcript written.
    fn transcript(&self) -> PathBuf {
        let dir = self.dir.path().join("transcripts");
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("transcripts directory beside the audit log")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files.into_iter().next().expect("one transcript")
    }
}

fn tool_use(id: &str, name: &str, input: Value) -> Value {
    json!({"type": "tool_use", "id": id, "name": name, "input": input})
}

/// A response with a sentence and tool calls.
fn calls(text: &str, uses: &[Value]) -> Reply {
    let mut content = vec![json!({"type": "text", "text": text})];
    content.extend(uses.iter().cloned());
    Reply::message(Value::Array(content), "tool_use")
}

fn describe_orders() -> Value {
    tool_use(
        "toolu_describe",
        "postgres__describe_table",
        json!({"table": "orders"}),
    )
}

fn count_failed() -> Value {
    tool_use("toolu_query", "postgres__query", json!({"sql": FAILED_SQL}))
}

fn create_bug(failed: u32) -> Value {
    tool_use(
        "toolu_create",
        "jira__create_issue",
        json!({
            "project": "ENG",
            "issue_type": "Bug",
            "priority": "High",
            "summary": format!("{failed} failed orders in the last 24 hours"),
            "description": format!(
                "## Failed orders\n\n**{failed}** orders failed in the last 24 hours \
                 (threshold: 5).\n\n- source: `orders` table, `status = 'failed'`\n\
                 - query:\n\n```sql\n{FAILED_SQL}\n```"
            ),
        }),
    )
}

/// The post names ENG-1: the first key the fake assigns in an empty ENG project. The tests check
/// that the create call really returned it to the model before this post was made.
fn post_summary(failed: u32) -> Value {
    tool_use(
        "toolu_post",
        "slack__post_message",
        json!({
            "channel": "#operations",
            "text": format!(
                ":rotating_light: *{failed} failed orders* in the last 24 hours. \
                 Filed ENG-1 (High) for investigation."
            ),
        }),
    )
}

/// The full script for more than five failed orders.
fn push_seed_script(model: &FakeAnthropic, failed: u32) {
    model.push(calls(
        "I'll look at the orders table first.",
        &[describe_orders()],
    ));
    model.push(calls("Now I'll count recent failures.", &[count_failed()]));
    model.push(calls(
        &format!("{failed} failed orders: above the threshold. Filing a bug."),
        &[create_bug(failed)],
    ));
    model.push(calls(
        "Posting the summary to #operations.",
        &[post_summary(failed)],
    ));
    model.push(Reply::text(&format!(
        "Found {failed} failed orders in the last 24 hours; filed ENG-1 (High) and posted a \
         summary to #operations."
    )));
}

/// The `tool_result` blocks of the last (user) message of a request: (id, text, is_error).
fn tool_results(request: &RecordedRequest) -> Vec<(String, String, bool)> {
    let messages = request.body["messages"].as_array().expect("messages array");
    let last = messages.last().expect("a last message");
    assert_eq!(last["role"], "user");
    last["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "tool_result")
                .map(|b| {
                    let text = match &b["content"] {
                        Value::String(s) => s.clone(),
                        Value::Array(parts) => parts
                            .iter()
                            .filter_map(|p| p["text"].as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                        other => other.to_string(),
                    };
                    (
                        b["tool_use_id"].as_str().unwrap_or_default().to_owned(),
                        text,
                        b["is_error"].as_bool() == Some(true),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The one tool result of a request, which must answer `id`.
fn only_result(request: &RecordedRequest, id: &str) -> (String, bool) {
    let results = tool_results(request);
    assert_eq!(results.len(), 1, "{results:?}");
    let (got, text, is_error) = results.into_iter().next().expect("one result");
    assert_eq!(got, id);
    (text, is_error)
}

fn offered_tools(request: &RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

/// The first row's first value of a `postgres__query` result.
fn first_value(result: &str) -> Value {
    let rows: Value = serde_json::from_str(result).expect("query result is JSON");
    rows["rows"][0][0].clone()
}

fn tools_in(records: &[AuditRecord]) -> Vec<&str> {
    records.iter().map(|r| r.tool.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_files_a_high_priority_bug_and_posts_its_key() {
    let world = World::new(7).await;
    push_seed_script(&world.model, 7);
    let config = world.config(POLICY);
    let run = world.agent(&config, &["--yes", TASK]).await;
    run.assert_code(0);
    assert_eq!(world.model.remaining(), 0, "every scripted reply was used");

    // Jira holds one High-priority Bug in ENG with an ADF description.
    let issues = world.jira.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let bug = &issues[0];
    assert_eq!(bug.key, "ENG-1");
    assert_eq!(bug.project(), "ENG");
    assert_eq!(bug.fields["issuetype"]["name"], "Bug");
    assert_eq!(bug.fields["priority"]["name"], "High");
    let description = &bug.fields["description"];
    validate_adf(description).expect("the description is valid ADF");
    assert_eq!(description["type"], "doc");
    assert_eq!(description["content"][0]["type"], "heading");
    assert!(
        description.to_string().contains("codeBlock"),
        "{description}"
    );

    // #operations received the summary naming the new key.
    let posted = world.slack.posted(OPERATIONS_ID);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].text.contains("ENG-1"), "{}", posted[0].text);
    assert!(
        posted[0].text.contains("7 failed orders"),
        "{}",
        posted[0].text
    );

    // Every request after the first carries the results of the previous response's calls.
    let requests = world.model.requests();
    assert_eq!(requests.len(), 5);
    assert!(requests.iter().all(|r| r.status == 200));
    let tools = offered_tools(&requests[0]);
    for name in [
        "postgres__query",
        "postgres__describe_table",
        "jira__create_issue",
        "slack__post_message",
    ] {
        assert!(tools.iter().any(|t| t == name), "{name} offered: {tools:?}");
    }
    assert_eq!(requests[0].body["messages"][0]["content"][0]["text"], TASK);
    let (described, error) = only_result(&requests[1], "toolu_describe");
    assert!(!error && described.contains("created_at"), "{described}");
    let (counted, error) = only_result(&requests[2], "toolu_query");
    assert!(!error, "{counted}");
    assert_eq!(first_value(&counted), json!(7), "{counted}");
    let (created, error) = only_result(&requests[3], "toolu_create");
    assert!(!error, "{created}");
    let created: Value = serde_json::from_str(&created).expect("create result is JSON");
    assert_eq!(
        created["key"], "ENG-1",
        "the key the post names is the one create returned"
    );
    let (post, error) = only_result(&requests[4], "toolu_post");
    assert!(!error && post.contains(OPERATIONS_ID), "{post}");

    // The audit log holds every call, in order, for one session, and its chain verifies.
    let records = world.audit();
    assert_eq!(
        tools_in(&records),
        [
            "postgres__describe_table",
            "postgres__query",
            "jira__create_issue",
            "slack__post_message"
        ]
    );
    assert!(records.iter().all(|r| r.outcome == "ok"), "{records:?}");
    assert!(records.iter().all(|r| r.client == "local"));
    let transcript = world.transcript();
    let session = transcript.file_stem().unwrap().to_string_lossy();
    assert!(records.iter().all(|r| r.session == session), "{records:?}");
    assert_eq!(records[2].arguments["project"], "ENG");

    // What the user saw: the tool calls on stderr, Claude's text on stdout.
    assert!(
        run.stderr.contains("→ jira__create_issue"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("✓ slack__post_message"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&transcript.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("filed ENG-1 (High)"), "{}", run.stdout);
    assert!(
        !run.stderr.contains(" INFO "),
        "routine log lines stay off the agent's terminal: {}",
        run.stderr
    );

    // The transcript replays the run.
    let replayed = world
        .switchboard(&[
            "agent".to_owned(),
            "--replay".to_owned(),
            transcript.display().to_string(),
        ])
        .await;
    replayed.assert_code(0);
    assert!(
        replayed.stdout.contains("filed ENG-1 (High)"),
        "{}",
        replayed.stdout
    );
    assert!(
        replayed.stderr.contains("→ slack__post_message"),
        "{}",
        replayed.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_or_fewer_failed_orders_file_nothing() {
    let world = World::new(5).await;
    world.model.push(calls(
        "Counting failed orders of the last 24 hours.",
        &[count_failed()],
    ));
    world.model.push(Reply::text(
        "Only 5 orders failed in the last 24 hours, which is not more than 5: nothing filed.",
    ));
    let config = world.config(POLICY);
    let run = world.agent(&config, &["--yes", "--json", TASK]).await;
    run.assert_code(0);

    let requests = world.model.requests();
    assert_eq!(requests.len(), 2);
    let (counted, error) = only_result(&requests[1], "toolu_query");
    assert!(!error, "{counted}");
    assert_eq!(
        first_value(&counted),
        json!(5),
        "older failures are not counted"
    );
    assert!(world.jira.issues().is_empty());
    assert!(
        world
            .jira
            .requests()
            .iter()
            .all(|r| r.path != "/rest/api/3/issue")
    );
    assert!(world.slack.posted(OPERATIONS_ID).is_empty());
    assert_eq!(tools_in(&world.audit()), ["postgres__query"]);

    // --json: one event per line on stdout, ending with the summary.
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(events[0]["type"], "run_started");
    let last = events.last().expect("events");
    assert_eq!(last["type"], "finished");
    assert_eq!(last["summary"]["outcome"]["kind"], "completed");
    assert_eq!(last["summary"]["tool_calls"], 1);
    assert!(events.iter().any(|e| e["type"] == "text_delta"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_tool_calls_run_at_once_and_both_results_go_back() {
    let world = World::new(7).await;
    // Both upstream calls take a while; run one after the other they could not overlap.
    let delay = Duration::from_millis(1500);
    world
        .jira
        .inject("/rest/api/3/search", jira::Fault::Slow { delay }, 1);
    world
        .slack
        .inject("conversations.history", slack::Fault::Slow { delay }, 1);
    world.model.push(calls(
        "Checking for an open bug and recent #operations messages at the same time.",
        &[
            tool_use(
                "toolu_search",
                "jira__search_issues",
                json!({"jql": "project = ENG AND issuetype = Bug ORDER BY created DESC"}),
            ),
            tool_use(
                "toolu_history",
                "slack__get_channel_history",
                json!({"channel": "#operations", "limit": 10}),
            ),
        ],
    ));
    world.model.push(Reply::text(
        "No open bug and nothing recent in #operations.",
    ));
    let config = world.config(POLICY);
    let run = world.agent(&config, &["--yes", TASK]).await;
    run.assert_code(0);

    let requests = world.model.requests();
    assert_eq!(requests.len(), 2);
    let results = tool_results(&requests[1]);
    let ids: Vec<&str> = results.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["toolu_search", "toolu_history"],
        "one message, in call order"
    );
    assert!(results.iter().all(|(_, _, error)| !error), "{results:?}");

    let records = world.audit();
    let mut tools = tools_in(&records);
    tools.sort_unstable();
    assert_eq!(tools, ["jira__search_issues", "slack__get_channel_history"]);
    // Each call started before the other finished (with most of the delay to spare).
    let span = |r: &AuditRecord| {
        let end = chrono::DateTime::parse_from_rfc3339(&r.time).expect("RFC 3339 time");
        let start = end - chrono::Duration::milliseconds(r.latency_ms as i64);
        (start, end)
    };
    let (a_start, a_end) = span(&records[0]);
    let (b_start, b_end) = span(&records[1]);
    let margin = chrono::Duration::milliseconds(700);
    assert!(
        a_start + margin < b_end && b_start + margin < a_end,
        "the calls did not overlap: {records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_rate_limit_is_waited_out_and_the_run_completes() {
    let world = World::new(8).await;
    world.jira.inject(
        "/rest/api/3/issue",
        jira::Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    push_seed_script(&world.model, 8);
    let config = world.config(POLICY);
    let run = world.agent(&config, &["--yes", TASK]).await;
    run.assert_code(0);

    let creates: Vec<u16> = world
        .jira
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/rest/api/3/issue")
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [429, 201]);
    assert_eq!(world.jira.issues().len(), 1, "one issue despite the retry");
    let (created, error) = only_result(&world.model.requests()[3], "toolu_create");
    assert!(!error, "{created}");
    assert!(created.contains("ENG-1"), "{created}");
    let posted = world.slack.posted(OPERATIONS_ID);
    assert_eq!(posted.len(), 1);
    assert!(posted[0].text.contains("ENG-1"));
    let records = world.audit();
    assert_eq!(records.len(), 4);
    assert!(
        records[2].tool == "jira__create_issue" && records[2].outcome == "ok",
        "{records:?}"
    );
    assert!(
        records[2].latency_ms >= 1000,
        "Retry-After was honoured: {records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_needing_approval_without_yes_is_refused_and_the_model_told_why() {
    let world = World::new(7).await;
    world
        .model
        .push(calls("Counting failed orders.", &[count_failed()]));
    world
        .model
        .push(calls("7 failed orders: filing a bug.", &[create_bug(7)]));
    world.model.push(Reply::text(
        "I could not file the bug: creating Jira issues needs approval. Rerun with approval.",
    ));
    let config = world.config(POLICY);
    // No --yes, and no terminal to ask on.
    let run = world.agent(&config, &[TASK]).await;
    run.assert_code(0);

    let requests = world.model.requests();
    assert_eq!(requests.len(), 3);
    let (refusal, error) = only_result(&requests[2], "toolu_create");
    assert!(error, "the refusal is an error result: {refusal}");
    assert!(
        refusal.contains("`jira__create_issue` was not run")
            && refusal.contains("no terminal")
            && refusal.contains("--yes"),
        "{refusal}"
    );
    assert!(world.jira.issues().is_empty());
    assert!(
        world
            .jira
            .requests()
            .iter()
            .all(|r| r.path != "/rest/api/3/issue")
    );

    let records = world.audit();
    assert_eq!(
        tools_in(&records),
        ["postgres__query", "jira__create_issue"]
    );
    assert_eq!(records[1].outcome, "refused");
    assert_eq!(records[1].layer.as_deref(), Some("approval"));
    assert!(
        run.stderr.contains("✗ jira__create_issue"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_scope_hides_tools_and_a_call_outside_it_reaches_nothing() {
    let world = World::new(7).await;
    world
        .model
        .push(calls("Counting failed orders.", &[count_failed()]));
    world.model.push(calls("Filing a bug.", &[create_bug(7)]));
    world
        .model
        .push(Reply::text("I have no Jira tool, so no bug was filed."));
    let config = world.config(&format!(
        "{POLICY}\n[clients.reporter]\nallow = [\"postgres__*\", \"slack__*\"]\n"
    ));
    let run = world
        .agent(&config, &["--yes", "--client", "reporter", TASK])
        .await;
    run.assert_code(0);

    let requests = world.model.requests();
    assert_eq!(requests.len(), 3);
    let tools = offered_tools(&requests[0]);
    assert!(tools.iter().any(|t| t == "postgres__query"), "{tools:?}");
    assert!(!tools.iter().any(|t| t.starts_with("jira__")), "{tools:?}");
    let (refusal, error) = only_result(&requests[2], "toolu_create");
    assert!(
        error && refusal.contains("no tool named `jira__create_issue`"),
        "{refusal}"
    );
    assert!(world.jira.issues().is_empty());
    let records = world.audit();
    assert_eq!(tools_in(&records), ["postgres__query"]);
    assert_eq!(records[0].client, "reporter");

    // An unknown client is a configuration error, before anything is sent to the model.
    let before = world.model.requests().len();
    let unknown = world
        .agent(&config, &["--yes", "--client", "nobody", TASK])
        .await;
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("reporter"), "{}", unknown.stderr);
    assert_eq!(world.model.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_agent_table_sets_the_run_and_flags_override_it() {
    let world = World::new(7).await;
    let config = world.config(&format!(
        "{POLICY}\n[agent]\nmodel = \"claude-from-file\"\nmax_steps = 1\nsystem = \"Prompt from the file.\"\n"
    ));
    // One step allowed: the run stops after the first answer asks for a tool.
    world
        .model
        .push(calls("Counting failed orders.", &[count_failed()]));
    let run = world.agent(&config, &["--yes", TASK]).await;
    run.assert_code(1);
    let requests = world.model.requests();
    assert_eq!(requests.len(), 1, "max_steps = 1 from the file");
    assert_eq!(requests[0].body["model"], "claude-from-file");
    assert!(
        requests[0].body["system"]
            .to_string()
            .contains("Prompt from the file."),
        "{}",
        requests[0].body["system"]
    );

    // A flag wins over the file; what the flags leave unset still comes from the file.
    world
        .model
        .push(calls("Counting failed orders.", &[count_failed()]));
    let run = world
        .agent(&config, &["--yes", "--model", "claude-from-flag", TASK])
        .await;
    run.assert_code(1);
    let requests = world.model.requests();
    assert_eq!(requests.len(), 2, "max_steps still 1");
    assert_eq!(requests[1].body["model"], "claude-from-flag");

    // `serve`'s other commands accept the table and leave it alone.
    let listed = world
        .switchboard(&[
            "tools".into(),
            "--config".into(),
            config.display().to_string(),
        ])
        .await;
    listed.assert_code(0);

    // A misspelt key is a configuration error naming the file, the table and the key; nothing
    // runs.
    let bad = world.config("[agent]\nmodle = \"claude-from-file\"\n");
    let run = world.agent(&bad, &["--yes", TASK]).await;
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("switchboard.toml: agent: unknown field `modle`"),
        "{}",
        run.stderr
    );
    assert_eq!(world.model.requests().len(), 2);
}
