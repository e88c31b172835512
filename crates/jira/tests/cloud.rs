//! The Jira server against a fake Jira Cloud (REST v3, ADF, `/search/jql`).

mod common;

use std::time::{Duration, Instant};

use common::start;
use serde_json::{Value, json};
use switchboard_testkit::jira::{API_TOKEN, Fault, Flavor, validate_adf};

const MARKDOWN: &str = "## Impact\n\nOrders **failed** for `eu-west`:\n\n- 12 orders\n  - 3 retried\n- see [runbook](https://wiki.example.com/rb)\n\n```sql\nselect * from orders where status = 'failed';\n```\n\n| region | failed |\n|---|---|\n| eu | 12 |";

#[tokio::test]
async fn create_issue_converts_markdown_to_valid_adf() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let out = h
        .call(
            "create_issue",
            json!({"project": "eng", "summary": "Failed orders", "issue_type": "Bug", "description": MARKDOWN,
                   "priority": "High", "labels": ["ops"], "assignee": "5b10ac8d82e05b22cc7d4ef5",
                   "fields": {"customfield_10010": "team-a"}}),
        )
        .await;
    let created = out.ok();
    assert_eq!(created["key"], "ENG-1");
    assert_eq!(created["url"], format!("{}/browse/ENG-1", h.fake.url()));
    assert_eq!(created["deduplicated"], false);

    let issue = h.fake.issue("ENG-1").unwrap();
    let description = &issue.fields["description"];
    validate_adf(description).expect("stored description is valid ADF");
    assert_eq!(description["content"][0]["type"], "heading");
    assert!(
        description["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "table")
    );
    assert!(
        description["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "codeBlock" && n["attrs"]["language"] == "sql")
    );
    assert_eq!(issue.fields["priority"]["name"], "High");
    assert_eq!(
        issue.fields["assignee"]["accountId"],
        "5b10ac8d82e05b22cc7d4ef5"
    );
    assert_eq!(issue.fields["customfield_10010"], "team-a");
    let labels = issue.labels();
    assert!(labels.contains(&"ops".to_owned()));
    assert!(labels.iter().any(|l| l.starts_with("sb-")), "{labels:?}");
    let create = h
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/rest/api/3/issue")
        .unwrap();
    assert_eq!(create.status, 201);

    // Reading it back gives Markdown again.
    let got = h.call("get_issue", json!({"key": "eng-1"})).await;
    let got = got.ok();
    assert_eq!(got["summary"], "Failed orders");
    assert_eq!(got["status"], "To Do");
    assert_eq!(got["priority"], "High");
    assert_eq!(got["issue_type"], "Bug");
    assert_eq!(got["reporter"], "Fake Bot");
    assert_eq!(got["comment_count"], 0);
    let md = got["description"].as_str().unwrap();
    assert!(md.starts_with("## Impact"), "{md}");
    assert!(
        md.contains("**failed**")
            && md.contains("[runbook](https://wiki.example.com/rb)")
            && md.contains("```sql"),
        "{md}"
    );
    assert!(md.contains("| region | failed |"), "{md}");
}

#[tokio::test]
async fn field_errors_are_reported_by_name() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let out = h.call("create_issue", json!({"project": "ENG", "summary": "x", "issue_type": "Epicness", "priority": "Urgent"})).await;
    let text = out.err();
    assert!(
        text.contains("field `issuetype`: Specify a valid issue type"),
        "{text}"
    );
    assert!(
        text.contains("field `priority`: Priority name 'Urgent' is not valid"),
        "{text}"
    );
    assert!(text.contains("HTTP 400"), "{text}");
    let out = h
        .call(
            "create_issue",
            json!({"project": "ENG", "summary": " ", "issue_type": "Bug", "fields": {"foo": 1}}),
        )
        .await;
    let text = out.err();
    assert!(
        text.contains("field `summary`: You must specify a summary of the issue."),
        "{text}"
    );
    assert!(
        text.contains("field `foo`: Field 'foo' cannot be set"),
        "{text}"
    );
    assert!(h.fake.issues().is_empty());
}

#[tokio::test]
async fn retried_create_returns_the_same_issue() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let args = json!({"project": "ENG", "summary": "Disk full", "issue_type": "Task", "description": "on db-1"});
    let first = h.call("create_issue", args.clone()).await.ok().clone();
    let second = h.call("create_issue", args.clone()).await.ok().clone();
    assert_eq!(first["key"], second["key"]);
    assert_eq!(second["deduplicated"], true);
    assert_eq!(h.fake.issues().len(), 1);

    // A different summary is a different issue.
    let other = h
        .call(
            "create_issue",
            json!({"project": "ENG", "summary": "Disk full on db-2", "issue_type": "Task"}),
        )
        .await;
    assert_ne!(other.ok()["key"], first["key"]);
    assert_eq!(h.fake.issues().len(), 2);
}

#[tokio::test]
async fn dedupe_survives_a_restart_through_the_label_search() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let args = json!({"project": "ENG", "summary": "Nightly job failed", "issue_type": "Bug", "idempotency_key": "run-2026-11-24"});
    let first = h.call("create_issue", args.clone()).await.ok().clone();
    // A fresh server (empty memo) finds the issue by its fingerprint label.
    let env = common::env_for(&h.fake, Flavor::Cloud);
    let client = common::connect(&env).await;
    let again = common::call(&client, "create_issue", args.clone()).await;
    assert_eq!(again.ok()["key"], first["key"]);
    assert_eq!(again.ok()["deduplicated"], true);
    assert_eq!(h.fake.issues().len(), 1);
    let label = first["dedupe_label"].as_str().unwrap();
    let searched = h
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/rest/api/3/search/jql")
        .any(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["jql"].as_str())
                .is_some_and(|j| j.contains(label))
        });
    assert!(searched, "the label search went to /search/jql");

    // Without an explicit key, an identical call long after the window files a new issue.
    let plain = json!({"project": "ENG", "summary": "Weekly report", "issue_type": "Task"});
    let a = h.call("create_issue", plain.clone()).await.ok()["key"].clone();
    h.fake.age_issue(a.as_str().unwrap(), 3600);
    let fresh = common::connect(&env).await;
    let b = common::call(&fresh, "create_issue", plain).await;
    assert_ne!(b.ok()["key"], a);
}

#[tokio::test]
async fn search_pages_with_next_page_token_and_never_uses_the_removed_endpoint() {
    let h = start(Flavor::Cloud, |_| {}).await;
    for i in 0..5 {
        h.fake.seed_issue("OPS", &format!("alert {i}"));
    }
    h.fake.seed_issue("ENG", "unrelated");
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"jql": "project = OPS ORDER BY key ASC", "max_results": 2});
        if let Some(t) = &token {
            args["next_page_token"] = json!(t);
        }
        let page = h.call("search_issues", args).await.ok().clone();
        pages += 1;
        assert!(page["total"].is_null(), "cloud has no total");
        for issue in page["issues"].as_array().unwrap() {
            assert_eq!(issue["status"], "To Do");
            assert!(issue["summary"].as_str().unwrap().starts_with("alert"));
            keys.push(issue["key"].as_str().unwrap().to_owned());
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys, ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"]);
    let requests = h.fake.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path != "/rest/api/3/search" && r.path != "/rest/api/2/search")
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/rest/api/3/search/jql" && r.method == "POST")
    );
}

#[tokio::test]
async fn jql_errors_reach_the_caller() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let text = h
        .call("search_issues", json!({"jql": "sprint = 5"}))
        .await
        .err()
        .to_owned();
    assert!(text.contains("Field 'sprint' does not exist"), "{text}");
}

#[tokio::test]
async fn transitions_by_name_and_id_and_unknown_ones_listed() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let key = h.fake.seed_issue("ENG", "work");
    let list = h
        .call("get_transitions", json!({"key": key}))
        .await
        .ok()
        .clone();
    let names: Vec<&str> = list["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Start Progress", "Done"]);

    let moved = h
        .call(
            "transition_issue",
            json!({"key": key, "transition": "start progress"}),
        )
        .await;
    assert_eq!(moved.ok()["to_status"], "In Progress");
    assert_eq!(h.fake.issue(&key).unwrap().status(), "In Progress");

    let text = h
        .call(
            "transition_issue",
            json!({"key": key, "transition": "Reopen"}),
        )
        .await
        .err()
        .to_owned();
    assert!(
        text.contains("no transition `Reopen`") && text.contains("Stop Progress (id 11"),
        "{text}"
    );

    let done = h
        .call("transition_issue", json!({"key": key, "transition": "31"}))
        .await;
    assert_eq!(done.ok()["transition_name"], "Done");
    assert_eq!(h.fake.issue(&key).unwrap().transitions, ["21", "31"]);
    let post = h
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/transitions") && r.method == "POST")
        .unwrap();
    assert_eq!(post.status, 204);
}

#[tokio::test]
async fn comments_are_adf() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let key = h.fake.seed_issue("ENG", "x");
    let out = h
        .call(
            "add_comment",
            json!({"key": key, "body": "Fixed in **v2** — see `deploy.sh`"}),
        )
        .await;
    let comment = out.ok();
    assert!(
        comment["url"]
            .as_str()
            .unwrap()
            .contains("focusedCommentId=")
    );
    let stored = h.fake.issue(&key).unwrap().comments;
    assert_eq!(stored.len(), 1);
    validate_adf(&stored[0].body).unwrap();
    assert_eq!(
        stored[0].body["content"][0]["content"][1]["marks"][0]["type"],
        "strong"
    );
    assert_eq!(
        h.call("get_issue", json!({"key": key})).await.ok()["comment_count"],
        1
    );
    let text = h
        .call("add_comment", json!({"key": key, "body": "  "}))
        .await
        .err()
        .to_owned();
    assert!(text.contains("empty"), "{text}");
}

#[tokio::test]
async fn not_found_and_bad_keys_say_what_to_check() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let text = h
        .call("get_issue", json!({"key": "ENG-999"}))
        .await
        .err()
        .to_owned();
    assert!(
        text.contains("issue ENG-999 was not found (HTTP 404")
            && text.contains("Check the issue key"),
        "{text}"
    );
    let text = h
        .call("get_issue", json!({"key": "not a key"}))
        .await
        .err()
        .to_owned();
    assert!(text.contains("keys look like ENG-123"), "{text}");
    let text = h
        .call("list_issue_types", json!({"project": "NOPE"}))
        .await
        .err()
        .to_owned();
    assert!(text.contains("project NOPE was not found"), "{text}");
}

#[tokio::test]
async fn wrong_credentials_give_an_actionable_401_without_secrets() {
    let h = start(Flavor::Cloud, |env| {
        env.insert("JIRA_API_TOKEN".into(), "wrong-token-value-123".into());
    })
    .await;
    for (tool, args) in [
        ("search_issues", json!({"jql": "project = ENG"})),
        (
            "create_issue",
            json!({"project": "ENG", "summary": "s", "issue_type": "Bug"}),
        ),
    ] {
        let out = h.call(tool, args).await;
        let text = out.err();
        assert!(
            text.contains("HTTP 401") && text.contains("JIRA_API_TOKEN"),
            "{text}"
        );
        assert!(
            !text.contains("wrong-token-value-123") && !text.contains(API_TOKEN),
            "{text}"
        );
        assert!(!text.contains("Basic "), "{text}");
    }
}

#[tokio::test]
async fn rate_limit_is_waited_out_then_succeeds() {
    let h = start(Flavor::Cloud, |_| {}).await;
    h.fake.inject(
        "/rest/api/3/issue",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    let out = h
        .call(
            "create_issue",
            json!({"project": "ENG", "summary": "after 429", "issue_type": "Task"}),
        )
        .await;
    assert_eq!(out.ok()["key"], "ENG-1");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let statuses: Vec<u16> = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == "/rest/api/3/issue")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 201]);
    assert_eq!(h.fake.issues().len(), 1);
}

#[tokio::test]
async fn unavailable_create_is_not_blindly_retried() {
    let h = start(Flavor::Cloud, |_| {}).await;
    h.fake
        .inject("/rest/api/3/issue", Fault::ServerError { status: 502 }, 1);
    let text = h
        .call(
            "create_issue",
            json!({"project": "ENG", "summary": "s", "issue_type": "Task"}),
        )
        .await
        .err()
        .to_owned();
    assert!(text.contains("502"), "{text}");
    let creates = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == "/rest/api/3/issue")
        .count();
    assert_eq!(
        creates, 1,
        "a create that may have been processed is not repeated"
    );
}

#[tokio::test]
async fn malformed_response_is_an_error() {
    let h = start(Flavor::Cloud, |_| {}).await;
    h.fake.inject("/rest/api/3/search/jql", Fault::Malformed, 1);
    let text = h
        .call("search_issues", json!({"jql": "project = ENG"}))
        .await
        .err()
        .to_owned();
    assert!(
        text.contains("invalid response") || text.contains("expected JSON"),
        "{text}"
    );
}

#[tokio::test]
async fn projects_and_issue_types() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let projects = h.call("list_projects", json!({})).await.ok().clone();
    let keys: Vec<&str> = projects["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["ENG", "OPS", "HR"]);
    assert!(
        h.fake
            .requests()
            .iter()
            .any(|r| r.path == "/rest/api/3/project/search")
    );
    let types = h
        .call("list_issue_types", json!({"project": "ENG"}))
        .await
        .ok()
        .clone();
    let names: Vec<&str> = types["issue_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Bug") && names.contains(&"Sub-task"));
    assert!(
        types["issue_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["subtask"] == Value::Bool(true))
    );
    assert!(
        h.fake
            .requests()
            .iter()
            .any(|r| r.path == "/rest/api/3/issue/createmeta/ENG/issuetypes")
    );
}

#[tokio::test]
async fn tools_declare_truthful_annotations_and_output_schemas() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let tools = h.tools().await;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "create_issue",
        "search_issues",
        "get_issue",
        "add_comment",
        "get_transitions",
        "transition_issue",
        "list_projects",
        "list_issue_types",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for tool in &tools {
        let a = tool.annotations.as_ref().expect("annotations");
        let writes = matches!(
            tool.name.as_ref(),
            "create_issue" | "add_comment" | "transition_issue"
        );
        assert_eq!(a.read_only_hint, Some(!writes), "{}", tool.name);
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
    }
}

#[tokio::test]
async fn forbidden_says_to_check_permissions() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let key = h.fake.seed_issue("ENG", "x");
    let message = "You do not have permission to transition this issue.";
    h.fake.inject(
        &format!("/rest/api/3/issue/{key}/transitions"),
        Fault::Status {
            status: 403,
            message: message.into(),
        },
        1,
    );
    let text = h
        .call("get_transitions", json!({"key": key}))
        .await
        .err()
        .to_owned();
    assert!(
        text.contains("HTTP 403") && text.contains(message) && text.contains("permission"),
        "{text}"
    );
}

#[tokio::test]
async fn removed_search_endpoint_is_explained_when_the_flavor_is_wrong() {
    // A Cloud site configured as Data Center calls the old /rest/api/2/search, which Cloud removed.
    let h = start(Flavor::Cloud, |_| {}).await;
    let mut env = common::env_for(&h.fake, Flavor::Cloud);
    env.insert("JIRA_FLAVOR".into(), "datacenter".into());
    let client = common::connect(&env).await;
    let out = common::call(&client, "search_issues", json!({"jql": "project = ENG"})).await;
    let text = out.err();
    assert!(
        text.contains("HTTP 410") && text.contains("removed") && text.contains("JIRA_FLAVOR"),
        "{text}"
    );
}

#[tokio::test]
async fn concurrent_identical_creates_file_one_issue() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let args = json!({"project": "ENG", "summary": "Same", "issue_type": "Task"});
    let (a, b) = tokio::join!(
        h.call("create_issue", args.clone()),
        h.call("create_issue", args)
    );
    assert_eq!(a.ok()["key"], b.ok()["key"]);
    assert_eq!(h.fake.issues().len(), 1);
}

#[tokio::test]
async fn long_retry_after_ends_the_call_with_a_rate_limit_message() {
    let h = start(Flavor::Cloud, |_| {}).await;
    h.fake.inject(
        "/rest/api/3/search/jql",
        Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    );
    let started = Instant::now();
    let text = h
        .call("search_issues", json!({"jql": "project = ENG"}))
        .await
        .err()
        .to_owned();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not sleep past the budget"
    );
    assert!(
        text.contains("rate limiting") && text.contains("HTTP 429") && text.contains("wait 120 s"),
        "{text}"
    );
}

#[tokio::test]
async fn slow_jira_times_out_and_writes_are_not_repeated() {
    let h = start(Flavor::Cloud, |_| {}).await;
    let key = h.fake.seed_issue("ENG", "x");
    let env = common::env_for(&h.fake, Flavor::Cloud);
    let client = common::connect_with(&env, |c| {
        c.http.request_timeout = Duration::from_millis(300);
        c.http.max_attempts = 2;
    })
    .await;
    let slow = Fault::Slow {
        delay: Duration::from_secs(2),
    };
    h.fake
        .inject(&format!("/rest/api/3/issue/{key}/comment"), slow.clone(), 5);
    let text = common::call(&client, "add_comment", json!({"key": key, "body": "hello"}))
        .await
        .err()
        .to_owned();
    assert!(text.contains("timed out"), "{text}");
    let posts: Vec<u16> = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/comment"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        posts,
        [0],
        "one comment POST, abandoned by the client, never repeated"
    );

    h.fake.inject(&format!("/rest/api/3/issue/{key}"), slow, 2);
    let text = common::call(&client, "get_issue", json!({"key": key}))
        .await
        .err()
        .to_owned();
    assert!(
        text.contains("gave up after 2 attempt(s)"),
        "reads are retried: {text}"
    );
}
