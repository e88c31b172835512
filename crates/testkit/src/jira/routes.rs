//! Request handling of the fake: authentication, fault injection, the request log, and one
//! function per endpoint.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::state::{self, ISSUE_TYPES, PROJECTS};
use super::{
    API_TOKEN, EMAIL, FakeComment, FakeIssue, Fault, Flavor, Inner, PERSONAL_TOKEN,
    RecordedRequest, Shared, lock, search,
};

pub(crate) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Jira's timestamp format, e.g. `2026-01-02T03:04:05.678+0000`.
pub(crate) fn jira_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn error(status: StatusCode, messages: &[&str]) -> Response {
    json_response(status, json!({"errorMessages": messages, "errors": {}}))
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let parsed: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    // Recorded on arrival (status 0 until answered), so a request whose client gave up is still seen.
    let index = {
        let mut inner = lock(&shared);
        inner.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().map(str::to_owned),
            body: parsed.clone(),
            status: 0,
            traceparent: headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        inner.requests.len() - 1
    };
    let fault = take_fault(&shared, &path);
    if let Some(Fault::Slow { delay }) = &fault {
        tokio::time::sleep(*delay).await;
    }
    let response = match fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, &["Rate limit exceeded."]);
            r.headers_mut()
                .insert("retry-after", retry_after_secs.into());
            r
        }
        Some(Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            (
                status,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>Service Unavailable</h1></body></html>",
            )
                .into_response()
        }
        Some(Fault::Status { status, message }) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &[message.as_str()],
        ),
        Some(Fault::Malformed) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"issues\": [{\"id\": ",
        )
            .into_response(),
        _ => {
            let mut inner = lock(&shared);
            if authenticated(inner.flavor, &headers) {
                dispatch(
                    &mut inner,
                    &method,
                    &path,
                    uri.query(),
                    &body,
                    parsed.as_ref(),
                )
            } else {
                unauthorized(inner.flavor)
            }
        }
    };
    if let Some(recorded) = lock(&shared).requests.get_mut(index) {
        recorded.status = response.status().as_u16();
    }
    response
}

fn take_fault(shared: &Shared, path: &str) -> Option<Fault> {
    let mut inner = lock(shared);
    let (_, queue) = inner
        .faults
        .iter_mut()
        .find(|(prefix, queue)| path.starts_with(prefix.as_str()) && !queue.is_empty())?;
    queue.pop_front()
}

fn authenticated(flavor: Flavor, headers: &HeaderMap) -> bool {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match flavor {
        Flavor::Cloud => auth
            .strip_prefix("Basic ")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|raw| raw == format!("{EMAIL}:{API_TOKEN}").as_bytes()),
        Flavor::DataCenter => auth.strip_prefix("Bearer ") == Some(PERSONAL_TOKEN),
    }
}

/// The 401 each product sends: Cloud a plain-text line, Data Center Jira's JSON error body.
fn unauthorized(flavor: Flavor) -> Response {
    match flavor {
        Flavor::Cloud => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
            "Client must be authenticated to access this resource.",
        )
            .into_response(),
        Flavor::DataCenter => error(
            StatusCode::UNAUTHORIZED,
            &["You are not authenticated. Authentication required to perform this operation."],
        ),
    }
}

fn dispatch(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: Option<&str>,
    raw: &Bytes,
    body: Option<&Value>,
) -> Response {
    let Some(rest) = path.strip_prefix("/rest/api/") else {
        return error(
            StatusCode::NOT_FOUND,
            &["null for uri: the fake serves /rest/api/ only"],
        );
    };
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let supported = match inner.flavor {
        Flavor::Cloud => matches!(version, "2" | "3" | "latest"),
        Flavor::DataCenter => matches!(version, "2" | "latest"),
    };
    if !supported {
        return (StatusCode::NOT_FOUND, "<html><body>Not Found</body></html>").into_response();
    }
    let version = if version == "latest" {
        if inner.flavor == Flavor::Cloud {
            "3"
        } else {
            "2"
        }
    } else {
        version
    };
    if !raw.is_empty() && body.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            &["Unexpected character: was expecting a JSON value"],
        );
    }
    let q = parse_query(query);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["issue"]) => create_issue(inner, version, body),
        ("GET", ["issue", key]) => get_issue(inner, version, key),
        ("POST", ["issue", key, "comment"]) => add_comment(inner, version, key, body),
        ("GET", ["issue", key, "transitions"]) => get_transitions(inner, key),
        ("POST", ["issue", key, "transitions"]) => do_transition(inner, key, body),
        ("GET", ["issue", "createmeta", project, "issuetypes"]) => {
            issue_types(inner, version, project)
        }
        ("GET", ["project"]) => {
            json_response(StatusCode::OK, Value::Array(projects(inner, version)))
        }
        ("GET", ["project", "search"]) if inner.flavor == Flavor::Cloud => {
            project_search(inner, version, &q)
        }
        ("GET" | "POST", ["search"]) if inner.flavor == Flavor::Cloud => error(
            StatusCode::GONE,
            &[
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            ],
        ),
        ("GET" | "POST", ["search", "jql"]) if inner.flavor == Flavor::Cloud => {
            let args = if method == Method::POST {
                body.cloned().unwrap_or(Value::Null)
            } else {
                query_args(&q)
            };
            search::search_jql(inner, version, &args)
        }
        ("GET" | "POST", ["search"]) => {
            let args = if method == Method::POST {
                body.cloned().unwrap_or(Value::Null)
            } else {
                query_args(&q)
            };
            search::search_offset(inner, version, &args)
        }
        ("GET", ["myself"]) => json_response(StatusCode::OK, state::myself(inner.flavor)),
        _ => error(
            StatusCode::NOT_FOUND,
            &["null for uri: the fake does not serve this path"],
        ),
    }
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// GET parameters as the JSON a POST would carry (`fields` split on commas).
fn query_args(q: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (k, v) in q {
        let value = match k.as_str() {
            "fields" => Value::Array(
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::from(s.trim()))
                    .collect(),
            ),
            "maxResults" | "startAt" => v
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(v.as_str())),
            _ => Value::from(v.as_str()),
        };
        map.insert(k.clone(), value);
    }
    Value::Object(map)
}

pub(crate) fn insert_issue(inner: &mut Inner, mut fields: Map<String, Value>) -> (String, String) {
    let project_key = fields
        .get("project")
        .and_then(|p| p.get("key").or_else(|| p.get("id")))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (pid, pkey, pname) = state::find_project(project_key).unwrap_or(PROJECTS[0]);
    let number = inner.issues.iter().filter(|i| i.project() == pkey).count() + 1;
    inner.next_id += 1;
    let id = inner.next_id.to_string();
    let key = format!("{pkey}-{number}");
    let now = jira_time(chrono::Utc::now());
    let type_name = fields
        .get("issuetype")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("Task")
        .to_owned();
    let itype = ISSUE_TYPES
        .iter()
        .copied()
        .find(|(i, n, _)| *n == type_name || *i == type_name)
        .unwrap_or(ISSUE_TYPES[0]);
    fields.insert(
        "project".into(),
        json!({"id": pid, "key": pkey, "name": pname}),
    );
    fields.insert(
        "issuetype".into(),
        json!({"id": itype.0, "name": itype.1, "subtask": itype.2}),
    );
    fields.insert("status".into(), state::status_json("To Do"));
    fields.entry("labels").or_insert_with(|| json!([]));
    fields
        .entry("priority")
        .or_insert_with(|| json!({"name": "Medium"}));
    fields.insert("reporter".into(), state::myself(inner.flavor));
    fields.insert("created".into(), Value::String(now.clone()));
    fields.insert("updated".into(), Value::String(now));
    if let Some(Value::Object(a)) = fields.get_mut("assignee") {
        a.insert(
            "displayName".into(),
            json!(format!(
                "User {}",
                a.get("accountId")
                    .or_else(|| a.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )),
        );
    }
    inner.issues.push(FakeIssue {
        id: id.clone(),
        key: key.clone(),
        fields,
        comments: Vec::new(),
        transitions: Vec::new(),
    });
    (id, key)
}

fn create_issue(inner: &mut Inner, version: &str, body: Option<&Value>) -> Response {
    let Some(fields) = body
        .and_then(|b| b.get("fields"))
        .and_then(Value::as_object)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            &["Issue must be created with fields."],
        );
    };
    let keys: Vec<String> = inner.issues.iter().map(|i| i.key.clone()).collect();
    if let Err(body) = state::validate_create(inner.flavor, version, fields, &keys) {
        return json_response(StatusCode::BAD_REQUEST, body);
    }
    let (id, key) = insert_issue(inner, fields.clone());
    let url = format!("{}/rest/api/{version}/issue/{id}", inner.base);
    json_response(
        StatusCode::CREATED,
        json!({"id": id, "key": key, "self": url}),
    )
}

fn find<'a>(inner: &'a mut Inner, key: &str) -> Option<&'a mut FakeIssue> {
    inner
        .issues
        .iter_mut()
        .find(|i| i.key.eq_ignore_ascii_case(key) || i.id == key)
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
    )
}

pub(crate) fn issue_json(
    inner: &Inner,
    version: &str,
    issue: &FakeIssue,
    wanted: Option<&[String]>,
) -> Value {
    let mut fields = issue.fields.clone();
    let comments: Vec<Value> = issue
        .comments
        .iter()
        .map(|c| json!({"id": c.id, "body": c.body}))
        .collect();
    fields.insert("comment".into(), json!({"comments": comments, "maxResults": comments.len(), "total": comments.len(), "startAt": 0}));
    if let Some(wanted) = wanted {
        let all = wanted.iter().any(|w| w == "*all" || w == "*navigable");
        fields.retain(|k, _| all || wanted.iter().any(|w| w == k));
    }
    json!({"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
           "id": issue.id, "self": format!("{}/rest/api/{version}/issue/{}", inner.base, issue.id), "key": issue.key, "fields": fields})
}

fn get_issue(inner: &mut Inner, version: &str, key: &str) -> Response {
    let Some(issue) = find(inner, key).cloned() else {
        return not_found();
    };
    json_response(StatusCode::OK, issue_json(inner, version, &issue, None))
}

fn add_comment(inner: &mut Inner, version: &str, key: &str, body: Option<&Value>) -> Response {
    let comment = body
        .and_then(|b| b.get("body"))
        .cloned()
        .unwrap_or(Value::Null);
    let valid = match (version, &comment) {
        ("3", Value::Object(_)) => state::validate_adf(&comment).is_ok(),
        ("3", _) => false,
        (_, Value::String(s)) => !s.trim().is_empty(),
        _ => false,
    };
    if !valid {
        let message = if version == "3" {
            "Comment body is not valid!"
        } else {
            "Comment body can not be empty!"
        };
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"errorMessages": [], "errors": {"comment": message}}),
        );
    }
    let base = inner.base.clone();
    inner.next_id += 1;
    let id = inner.next_id.to_string();
    let Some(issue) = find(inner, key) else {
        return not_found();
    };
    issue.comments.push(FakeComment {
        id: id.clone(),
        body: comment.clone(),
    });
    let issue_id = issue.id.clone();
    let now = jira_time(chrono::Utc::now());
    json_response(
        StatusCode::CREATED,
        json!({"self": format!("{base}/rest/api/{version}/issue/{issue_id}/comment/{id}"), "id": id, "body": comment, "created": now, "updated": now}),
    )
}

fn get_transitions(inner: &mut Inner, key: &str) -> Response {
    let Some(issue) = find(inner, key) else {
        return not_found();
    };
    json_response(
        StatusCode::OK,
        json!({"expand": "transitions", "transitions": state::transitions_from(issue.status())}),
    )
}

fn do_transition(inner: &mut Inner, key: &str, body: Option<&Value>) -> Response {
    let id = body
        .and_then(|b| b.get("transition"))
        .and_then(|t| t.get("id"));
    let id = match id {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                &["Missing 'transition' identifier"],
            );
        }
    };
    if id.parse::<u64>().is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            &["'transition' identifier must be an integer"],
        );
    }
    let Some(issue) = find(inner, key) else {
        return not_found();
    };
    let Some(target) = state::transition_target(issue.status(), &id) else {
        return error(
            StatusCode::BAD_REQUEST,
            &[format!("Transition id '{id}' is not valid for this issue.").as_str()],
        );
    };
    issue
        .fields
        .insert("status".into(), state::status_json(target));
    issue.fields.insert(
        "updated".into(),
        Value::String(jira_time(chrono::Utc::now())),
    );
    issue.transitions.push(id);
    StatusCode::NO_CONTENT.into_response()
}

fn projects(inner: &Inner, version: &str) -> Vec<Value> {
    PROJECTS
        .iter()
        .map(|p| state::project_json(&inner.base, version, *p))
        .collect()
}

fn project_search(inner: &Inner, version: &str, q: &[(String, String)]) -> Response {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let start = get("startAt").unwrap_or(0);
    let max = get("maxResults").unwrap_or(50).clamp(1, 100);
    let all = projects(inner, version);
    let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    let is_last = start + page.len() >= all.len();
    json_response(
        StatusCode::OK,
        json!({"self": format!("{}/rest/api/{version}/project/search", inner.base), "maxResults": max, "startAt": start, "total": all.len(), "isLast": is_last, "values": page}),
    )
}

fn issue_types(inner: &Inner, version: &str, project: &str) -> Response {
    if state::find_project(project).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            &[format!("No project could be found with key '{project}'.").as_str()],
        );
    }
    let types: Vec<Value> = ISSUE_TYPES
        .iter()
        .map(|t| state::issue_type_json(&inner.base, version, *t))
        .collect();
    let n = types.len();
    let body = match inner.flavor {
        Flavor::Cloud => json!({"maxResults": 50, "startAt": 0, "total": n, "issueTypes": types}),
        Flavor::DataCenter => {
            json!({"maxResults": 50, "startAt": 0, "total": n, "isLast": true, "values": types})
        }
    };
    json_response(StatusCode::OK, body)
}
