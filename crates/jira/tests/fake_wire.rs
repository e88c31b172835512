//! The fake's wire behaviour checked directly over HTTP, for the cases the server never provokes
//! (a plain-string description on v3, an ADF object on v2, the removed search endpoint, GET
//! `/search/jql` paging, invalid transitions, the 401 bodies).

use serde_json::{Value, json};
use switchboard_http::reqwest::{Client, RequestBuilder, StatusCode};
use switchboard_testkit::jira::{API_TOKEN, EMAIL, FakeJira, Flavor, PERSONAL_TOKEN};

fn cloud(client: &Client, fake: &FakeJira, method: &str, path: &str) -> RequestBuilder {
    let method = method.parse().unwrap();
    client
        .request(method, format!("{}{path}", fake.url()))
        .basic_auth(EMAIL, Some(API_TOKEN))
}

async fn body(builder: RequestBuilder) -> (StatusCode, Value) {
    let response = builder.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn v3_rejects_a_string_description_and_v2_an_adf_object() {
    let fake = FakeJira::start(Flavor::Cloud).await.unwrap();
    let c = Client::new();
    let fields = json!({"project": {"key": "ENG"}, "summary": "s", "issuetype": {"name": "Bug"}, "description": "plain"});
    let (status, b) =
        body(cloud(&c, &fake, "POST", "/rest/api/3/issue").json(&json!({"fields": fields}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        b,
        json!({"errorMessages": [], "errors": {"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}})
    );

    let dc = FakeJira::start(Flavor::DataCenter).await.unwrap();
    let adf = json!({"type": "doc", "version": 1, "content": []});
    let fields = json!({"project": {"key": "ENG"}, "summary": "s", "issuetype": {"name": "Bug"}, "description": adf});
    let (status, b) = body(
        c.post(format!("{}/rest/api/2/issue", dc.url()))
            .bearer_auth(PERSONAL_TOKEN)
            .json(&json!({"fields": fields})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        b["errors"]["description"],
        "Operation value must be a string"
    );
    let (status, _) = body(
        c.get(format!("{}/rest/api/3/project", dc.url()))
            .bearer_auth(PERSONAL_TOKEN),
    )
    .await;
    assert_eq!(status, 404, "Data Center has no REST v3");
}

#[tokio::test]
async fn cloud_search_jql_pages_without_total_and_old_search_is_gone() {
    let fake = FakeJira::start(Flavor::Cloud).await.unwrap();
    for i in 0..3 {
        fake.seed_issue("ENG", &format!("t{i}"));
    }
    let c = Client::new();
    let (status, page) = body(cloud(&c, &fake, "GET", "/rest/api/3/search/jql").query(&[
        ("jql", "project = ENG"),
        ("maxResults", "2"),
        ("fields", "summary"),
    ]))
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["isLast"], false);
    assert!(page.get("total").is_none());
    assert_eq!(page["issues"][0]["fields"], json!({"summary": "t0"}));
    let token = page["nextPageToken"].as_str().unwrap();
    let (_, last) = body(
        cloud(&c, &fake, "GET", "/rest/api/3/search/jql")
            .query(&[("jql", "project = ENG"), ("nextPageToken", token)]),
    )
    .await;
    assert_eq!(last["isLast"], true);
    assert!(last.get("nextPageToken").is_none());
    assert!(
        last["issues"][0].get("fields").is_none(),
        "only ids/keys without `fields`"
    );
    let (status, _) =
        body(cloud(&c, &fake, "POST", "/rest/api/3/search/jql").json(&json!({"jql": ""}))).await;
    assert_eq!(status, 400, "unbounded queries are refused");
    for path in ["/rest/api/3/search", "/rest/api/2/search"] {
        let (status, b) =
            body(cloud(&c, &fake, "GET", path).query(&[("jql", "project = ENG")])).await;
        assert_eq!(status, 410);
        assert!(
            b["errorMessages"][0]
                .as_str()
                .unwrap()
                .starts_with("The requested API has been removed.")
        );
    }
}

#[tokio::test]
async fn transitions_and_auth_errors() {
    let fake = FakeJira::start(Flavor::Cloud).await.unwrap();
    let key = fake.seed_issue("ENG", "x");
    let c = Client::new();
    let path = format!("/rest/api/3/issue/{key}/transitions");
    let (status, b) =
        body(cloud(&c, &fake, "POST", &path).json(&json!({"transition": {"id": "41"}}))).await;
    assert_eq!(status, 400);
    assert_eq!(
        b["errorMessages"][0],
        "Transition id '41' is not valid for this issue."
    );
    let (status, b) =
        body(cloud(&c, &fake, "POST", &path).json(&json!({"transition": {"id": "abc"}}))).await;
    assert_eq!(
        (status, b["errorMessages"][0].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "'transition' identifier must be an integer"
        )
    );
    let (status, b) = body(
        c.get(format!("{}/rest/api/3/issue/{key}", fake.url()))
            .basic_auth(EMAIL, Some("nope")),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(b, "Client must be authenticated to access this resource.");
    let (status, b) = body(cloud(&c, &fake, "GET", "/rest/api/3/issue/ENG-99")).await;
    assert_eq!(status, 404);
    assert_eq!(
        b["errorMessages"][0],
        "Issue does not exist or you do not have permission to see it."
    );
}
