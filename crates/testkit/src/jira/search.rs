//! The fake's search endpoints: Cloud's `/search/jql` (token paging, no total, unbounded queries
//! refused) and Data Center's `/search` (`startAt`/`maxResults`/`total`).

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::routes::{error, issue_json, json_response};
use super::{FakeIssue, Inner, jql, state};

/// Runs a query: the matching issues in order, or Jira's JQL error message (a 400).
fn run_query(inner: &Inner, jql_text: &str) -> Result<Vec<FakeIssue>, String> {
    let query = jql::parse(jql_text)?;
    if let Some(cond) = &query.condition {
        let mut named = Vec::new();
        jql::named_projects(cond, &mut named);
        if let Some(bad) = named.iter().find(|p| state::find_project(p).is_none()) {
            return Err(format!(
                "The value '{bad}' does not exist for the field 'project'."
            ));
        }
    }
    let mut values: Vec<Value> = inner
        .issues
        .iter()
        .map(|i| json!({"key": i.key, "fields": i.fields}))
        .collect();
    if let Some(cond) = &query.condition {
        values.retain(|v| jql::matches(cond, v));
    }
    jql::sort(&mut values, &query.order_by);
    Ok(values
        .iter()
        .filter_map(|v| {
            inner
                .issues
                .iter()
                .find(|i| Some(i.key.as_str()) == v["key"].as_str())
                .cloned()
        })
        .collect())
}

fn requested_fields(args: &Value) -> Vec<String> {
    args.get("fields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn search_jql(inner: &Inner, version: &str, args: &Value) -> Response {
    let jql_text = args
        .get("jql")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    if jql::parse(&jql_text)
        .map(|q| q.condition.is_none())
        .unwrap_or(false)
    {
        return error(
            StatusCode::BAD_REQUEST,
            &[
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
            ],
        );
    }
    let max = args
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 5000) as usize;
    let start = match args.get("nextPageToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => match decode_token(token, &jql_text) {
            Some(n) => n,
            None => return error(StatusCode::BAD_REQUEST, &["Invalid nextPageToken."]),
        },
    };
    let found = match run_query(inner, &jql_text) {
        Ok(found) => found,
        Err(message) => return error(StatusCode::BAD_REQUEST, &[message.as_str()]),
    };
    let fields = requested_fields(args);
    let page: Vec<Value> = found
        .iter()
        .skip(start)
        .take(max)
        .map(|i| search_issue(inner, version, i, &fields))
        .collect();
    let next = start + page.len();
    let mut body = json!({"issues": page, "isLast": next >= found.len()});
    if next < found.len() {
        body["nextPageToken"] = Value::String(encode_token(next, &jql_text));
    }
    json_response(StatusCode::OK, body)
}

/// An issue in search results: `id`/`key`/`self`, plus the requested fields only.
fn search_issue(inner: &Inner, version: &str, issue: &FakeIssue, fields: &[String]) -> Value {
    let mut v = issue_json(inner, version, issue, Some(fields));
    if fields.is_empty()
        && let Value::Object(map) = &mut v
    {
        map.remove("fields");
    }
    v
}

fn encode_token(offset: usize, jql_text: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{}", jql_text.len()))
}

fn decode_token(token: &str, jql_text: &str) -> Option<usize> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (offset, len) = raw.split_once(':')?;
    (len.parse::<usize>().ok()? == jql_text.len()).then_some(())?;
    offset.parse().ok()
}

pub(crate) fn search_offset(inner: &Inner, version: &str, args: &Value) -> Response {
    let jql_text = args.get("jql").and_then(Value::as_str).unwrap_or("");
    let start = args.get("startAt").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = args
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 1000) as usize;
    let found = match run_query(inner, jql_text) {
        Ok(found) => found,
        Err(message) => return error(StatusCode::BAD_REQUEST, &[message.as_str()]),
    };
    let fields = requested_fields(args);
    let wanted = if fields.is_empty() {
        vec!["*navigable".to_owned()]
    } else {
        fields
    };
    let page: Vec<Value> = found
        .iter()
        .skip(start)
        .take(max)
        .map(|i| issue_json(inner, version, i, Some(&wanted)))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"expand": "schema,names", "startAt": start, "maxResults": max, "total": found.len(), "issues": page}),
    )
}
