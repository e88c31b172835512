//! A wire-accurate fake of Jira Cloud (REST v3) and Jira Data Center (REST v2) on 127.0.0.1:0.
//!
//! Follows Atlassian's documented shapes: error bodies `{"errorMessages":[…],"errors":{field: msg}}`;
//! `POST /rest/api/3/issue` takes the description as an Atlassian Document (a plain string is a
//! 400 naming `description`), v2 takes a wiki-markup string (an object is a 400); create answers
//! 201 `{id,key,self}`; Cloud's `/rest/api/3/search/jql` (GET and POST) pages with
//! `nextPageToken`/`isLast` and has no `total`, while the removed `/rest/api/{2,3}/search` answers
//! 410 with Atlassian's body; Data Center's `/rest/api/2/search` pages with
//! `startAt`/`maxResults`/`total`; comments 201; transitions GET and POST 204 (400 for an invalid
//! id); `project` / `project/search`; per-project createmeta issue types. Authentication: Cloud
//! basic (`EMAIL:API_TOKEN`), Data Center bearer (`PERSONAL_TOKEN`); anything else is a 401.
//! Faults ([`Fault`]) can be injected per path for the next N requests.

mod jql;
mod routes;
mod search;
mod state;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

pub use state::{ISSUE_TYPES, PRIORITIES, PROJECTS, validate_adf};

/// Account e-mail the Cloud fake accepts.
pub const EMAIL: &str = "bot@example.com";
/// API token the Cloud fake accepts.
pub const API_TOKEN: &str = "ATATT3xFfGF0-fake-cloud-api-token";
/// Personal access token the Data Center fake accepts.
pub const PERSONAL_TOKEN: &str = "NjM5OTk4-fake-datacenter-pat";

/// Which product the fake imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Jira Cloud: REST v3 (and v2), ADF, `/search/jql`.
    Cloud,
    /// Jira Data Center: REST v2 only, wiki markup, `/search` with `startAt`.
    DataCenter,
}

/// A misbehaviour injected for the next requests to one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: secs` and Atlassian's JSON body.
    RateLimited {
        /// `Retry-After` in seconds.
        retry_after_secs: u64,
    },
    /// This status with an HTML error page (503, 502 ...).
    ServerError {
        /// The status.
        status: u16,
    },
    /// Answer normally after a delay.
    Slow {
        /// The delay.
        delay: Duration,
    },
    /// 200 with a truncated JSON body.
    Malformed,
    /// This status with Jira's error body carrying `message` in `errorMessages`
    /// (e.g. a 403 for a permission the account lacks).
    Status {
        /// The status.
        status: u16,
        /// The error message.
        message: String,
    },
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/rest/api/3/issue`.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// JSON body, when there was one.
    pub body: Option<Value>,
    /// Status answered; 0 while unanswered, or when the client went away first.
    pub status: u16,
    /// The W3C `traceparent` header, when the request carried one.
    pub traceparent: Option<String>,
}

/// A comment as stored.
#[derive(Clone, Debug)]
pub struct FakeComment {
    /// Comment id.
    pub id: String,
    /// Body as sent (ADF object on v3, string on v2).
    pub body: Value,
}

/// An issue as stored.
#[derive(Clone, Debug)]
pub struct FakeIssue {
    /// Issue id.
    pub id: String,
    /// Issue key.
    pub key: String,
    /// The issue's fields as Jira would return them (`project`, `summary`, `description`,
    /// `status`, `labels`, `created`, custom fields …).
    pub fields: serde_json::Map<String, Value>,
    /// Comments.
    pub comments: Vec<FakeComment>,
    /// Transition ids performed, in order.
    pub transitions: Vec<String>,
}

impl FakeIssue {
    /// The project key.
    pub fn project(&self) -> &str {
        self.fields
            .get("project")
            .and_then(|p| p.get("key"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The status name.
    pub fn status(&self) -> &str {
        self.fields
            .get("status")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The labels.
    pub fn labels(&self) -> Vec<String> {
        self.fields
            .get("labels")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) flavor: Flavor,
    pub(crate) base: String,
    pub(crate) issues: Vec<FakeIssue>,
    pub(crate) next_id: u64,
    pub(crate) faults: Vec<(String, VecDeque<Fault>)>,
    pub(crate) requests: Vec<RecordedRequest>,
}

pub(crate) type Shared = Arc<Mutex<Inner>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fake Jira site; stops when dropped.
#[derive(Debug)]
pub struct FakeJira {
    addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeJira {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeJira {
    /// Starts a fake of `flavor` on 127.0.0.1 with an ephemeral port and no issues.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start(flavor: Flavor) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(Inner {
            flavor,
            base: format!("http://{addr}"),
            issues: Vec::new(),
            next_id: 10000,
            faults: Vec::new(),
            requests: Vec::new(),
        }));
        let app = routes::router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// Base URL (`JIRA_URL`), e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The flavour imitated.
    pub fn flavor(&self) -> Flavor {
        lock(&self.state).flavor
    }

    /// All issues, in creation order.
    pub fn issues(&self) -> Vec<FakeIssue> {
        lock(&self.state).issues.clone()
    }

    /// One issue by key.
    pub fn issue(&self, key: &str) -> Option<FakeIssue> {
        lock(&self.state)
            .issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(key))
            .cloned()
    }

    /// Adds an issue directly (as if created in the UI) and returns its key.
    pub fn seed_issue(&self, project: &str, summary: &str) -> String {
        let mut inner = lock(&self.state);
        let fields = serde_json::json!({"project": {"key": project}, "summary": summary, "issuetype": {"name": "Task"}, "labels": []});
        routes::insert_issue(&mut inner, fields.as_object().cloned().unwrap_or_default()).1
    }

    /// Moves an issue's `created` time `secs` seconds into the past.
    pub fn age_issue(&self, key: &str, secs: i64) {
        let mut inner = lock(&self.state);
        if let Some(issue) = inner.issues.iter_mut().find(|i| i.key == key) {
            let then = chrono::Utc::now() - chrono::Duration::seconds(secs);
            issue
                .fields
                .insert("created".into(), Value::String(routes::jira_time(then)));
        }
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Injects `fault` for the next `times` requests whose path starts with `path`.
    pub fn inject(&self, path: &str, fault: Fault, times: usize) {
        lock(&self.state)
            .faults
            .push((path.to_owned(), std::iter::repeat_n(fault, times).collect()));
    }
}
