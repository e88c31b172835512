//! The server's own policy: the `JIRA_PROJECTS` allow-list and read-only mode.

mod common;

use common::start;
use serde_json::json;
use switchboard_testkit::jira::Flavor;

#[tokio::test]
async fn allow_list_scopes_search_jql_keeping_order_by_last() {
    let h = start(Flavor::Cloud, |env| {
        env.insert("JIRA_PROJECTS".into(), "eng,ops".into());
    })
    .await;
    h.fake.seed_issue("ENG", "a");
    h.fake.seed_issue("HR", "salary data");
    h.fake.seed_issue("OPS", "b");
    let out = h
        .call(
            "search_issues",
            json!({"jql": "summary ~ a OR summary ~ b ORDER BY key DESC"}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        out["jql"],
        "project in (\"ENG\", \"OPS\") AND (summary ~ a OR summary ~ b) ORDER BY key DESC"
    );
    let keys: Vec<&str> = out["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["OPS-1", "ENG-1"],
        "HR-1 matches `summary ~ a` but is outside the allow-list"
    );
    let sent = h
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/rest/api/3/search/jql")
        .unwrap();
    assert_eq!(sent.body.unwrap()["jql"], out["jql"]);

    let text = h
        .call(
            "search_issues",
            json!({"jql": "summary ~ a) OR (project = HR"}),
        )
        .await
        .err()
        .to_owned();
    assert!(text.contains("cannot use this JQL"), "{text}");
}

#[tokio::test]
async fn allow_list_refuses_foreign_projects_for_every_tool() {
    let h = start(Flavor::Cloud, |env| {
        env.insert("JIRA_PROJECTS".into(), "ENG".into());
    })
    .await;
    let hr = h.fake.seed_issue("HR", "secret");
    let before = h.fake.requests().len();
    let cases = [
        (
            "create_issue",
            json!({"project": "HR", "summary": "s", "issue_type": "Task"}),
        ),
        ("get_issue", json!({"key": hr})),
        ("add_comment", json!({"key": hr, "body": "hi"})),
        ("get_transitions", json!({"key": hr})),
        ("transition_issue", json!({"key": hr, "transition": "Done"})),
        ("list_issue_types", json!({"project": "hr"})),
        (
            "create_issue",
            json!({"project": "ENG", "summary": "s", "issue_type": "Sub-task", "parent": hr}),
        ),
    ];
    for (tool, args) in cases {
        let text = h.call(tool, args).await.err().to_owned();
        assert!(
            text.contains("project HR is outside this server's allowed projects (ENG)"),
            "{tool}: {text}"
        );
    }
    assert_eq!(
        h.fake.requests().len(),
        before,
        "refused calls never reach Jira"
    );
    assert!(h.fake.issue(&hr).unwrap().comments.is_empty());
    let projects = h.call("list_projects", json!({})).await.ok().clone();
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
    assert_eq!(projects["projects"][0]["key"], "ENG");
}

#[tokio::test]
async fn read_only_mode_hides_and_refuses_write_tools() {
    let h = start(Flavor::DataCenter, |env| {
        env.insert("JIRA_READ_ONLY".into(), "true".into());
    })
    .await;
    let names: Vec<String> = h.tools().await.iter().map(|t| t.name.to_string()).collect();
    for write in ["create_issue", "add_comment", "transition_issue"] {
        assert!(
            !names.contains(&write.to_owned()),
            "{write} listed in read-only mode"
        );
    }
    assert!(names.contains(&"search_issues".to_owned()) && names.contains(&"get_issue".to_owned()));
    let params = rmcp::model::CallToolRequestParams::new("create_issue").with_arguments(
        json!({"project": "ENG", "summary": "s", "issue_type": "Task"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let refused = h.client.call_tool(params).await;
    match refused {
        Err(_) => {}
        Ok(result) => assert_eq!(result.is_error, Some(true), "{result:?}"),
    }
    assert!(h.fake.issues().is_empty());
    assert!(h.fake.requests().is_empty());
    let info = h.client.peer_info().expect("initialize result");
    let instructions = info.instructions.as_deref().unwrap_or("");
    assert!(
        instructions.contains("read-only") && !instructions.contains("create"),
        "{instructions}"
    );
}
