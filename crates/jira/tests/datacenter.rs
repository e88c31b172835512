//! The Jira server against a fake Jira Data Center (REST v2, wiki markup, `startAt` paging).

mod common;

use common::start;
use serde_json::json;
use switchboard_testkit::jira::{Flavor, PERSONAL_TOKEN};

#[tokio::test]
async fn create_issue_sends_wiki_markup_and_user_names() {
    let h = start(Flavor::DataCenter, |_| {}).await;
    let out = h
        .call(
            "create_issue",
            json!({"project": "OPS", "summary": "Failed orders", "issue_type": "Bug",
                   "description": "# Impact\n\n**12** orders failed:\n\n- eu\n  - west\n\n```sql\nselect 1;\n```",
                   "assignee": "jsmith", "priority": "Highest"}),
        )
        .await;
    assert_eq!(out.ok()["key"], "OPS-1");
    let issue = h.fake.issue("OPS-1").unwrap();
    assert_eq!(
        issue.fields["description"],
        "h1. Impact\n\n*12* orders failed:\n\n* eu\n** west\n\n{code:sql}\nselect 1;\n{code}"
    );
    assert_eq!(issue.fields["assignee"]["name"], "jsmith");
    assert!(
        h.fake
            .requests()
            .iter()
            .any(|r| r.path == "/rest/api/2/issue" && r.status == 201)
    );

    let got = h
        .call("get_issue", json!({"key": "OPS-1"}))
        .await
        .ok()
        .clone();
    assert!(
        got["description"]
            .as_str()
            .unwrap()
            .starts_with("# Impact\n\n**12** orders failed:\n\n- eu\n  - west")
    );
    assert_eq!(got["assignee"], "User jsmith");
}

#[tokio::test]
async fn search_pages_with_start_at_behind_an_opaque_token() {
    let h = start(Flavor::DataCenter, |_| {}).await;
    for i in 0..5 {
        h.fake.seed_issue("ENG", &format!("task {i}"));
    }
    let first = h
        .call(
            "search_issues",
            json!({"jql": "project = ENG ORDER BY key", "max_results": 3}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(first["total"], 5);
    assert_eq!(first["issues"].as_array().unwrap().len(), 3);
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    assert!(
        !token.contains("startAt=") && !token.chars().all(|c| c.is_ascii_digit()),
        "opaque: {token}"
    );
    let second = h.call("search_issues", json!({"jql": "project = ENG ORDER BY key", "max_results": 3, "next_page_token": token})).await.ok().clone();
    let keys: Vec<&str> = second["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["ENG-4", "ENG-5"]);
    assert!(second["next_page_token"].is_null());
    let searches: Vec<_> = h
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/rest/api/2/search")
        .collect();
    assert_eq!(searches.len(), 2);
    assert!(searches[1].query.as_deref().unwrap().contains("startAt=3"));
    let text = h
        .call(
            "search_issues",
            json!({"jql": "project = ENG", "next_page_token": "bogus"}),
        )
        .await
        .err()
        .to_owned();
    assert!(text.contains("next_page_token"), "{text}");
}

#[tokio::test]
async fn comments_and_transitions() {
    let h = start(Flavor::DataCenter, |_| {}).await;
    let key = h.fake.seed_issue("ENG", "x");
    h.call(
        "add_comment",
        json!({"key": key, "body": "Deployed *fix* to `prod`"}),
    )
    .await
    .ok();
    let comments = h.fake.issue(&key).unwrap().comments;
    assert_eq!(comments[0].body, "Deployed _fix_ to {{prod}}");
    let moved = h
        .call(
            "transition_issue",
            json!({"key": key, "transition": "DONE"}),
        )
        .await;
    assert_eq!(moved.ok()["transition_id"], "31");
    assert_eq!(h.fake.issue(&key).unwrap().status(), "Done");
}

#[tokio::test]
async fn wrong_token_gives_an_actionable_401_without_secrets() {
    let h = start(Flavor::DataCenter, |env| {
        env.insert("JIRA_PERSONAL_TOKEN".into(), "not-the-right-pat".into());
    })
    .await;
    let text = h
        .call("get_issue", json!({"key": "ENG-1"}))
        .await
        .err()
        .to_owned();
    assert!(
        text.contains("HTTP 401") && text.contains("JIRA_PERSONAL_TOKEN"),
        "{text}"
    );
    assert!(text.contains("You are not authenticated"), "{text}");
    assert!(
        !text.contains("not-the-right-pat")
            && !text.contains(PERSONAL_TOKEN)
            && !text.contains("Bearer"),
        "{text}"
    );
}

#[tokio::test]
async fn issue_types_from_the_per_project_createmeta() {
    let h = start(Flavor::DataCenter, |_| {}).await;
    let types = h
        .call("list_issue_types", json!({"project": "ops"}))
        .await
        .ok()
        .clone();
    assert_eq!(types["project"], "OPS");
    assert_eq!(types["issue_types"].as_array().unwrap().len(), 4);
    assert!(
        h.fake
            .requests()
            .iter()
            .any(|r| r.path == "/rest/api/2/issue/createmeta/OPS/issuetypes")
    );
    let projects = h.call("list_projects", json!({})).await.ok().clone();
    assert_eq!(projects["projects"].as_array().unwrap().len(), 3);
}
