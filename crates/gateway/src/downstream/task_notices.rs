//! Task status notifications (`notifications/tasks`, the Tasks extension) on a 2026-07-28
//! `subscriptions/listen` stream that names tasks (`notifications.taskIds`).
//!
//! rmcp reads a listen request's filter without its `taskIds`, so [`take_task_ids`] reads them
//! from the body first — refusing a client that did not declare the extension (-32021) or names
//! more than [`MAX_TASKS`] — and hands them on in the request's extensions ([`named`]). A listen
//! stream then follows each task with [`Following`]: it asks for the task as the client's own
//! `tasks/get` would (through the gateway: the same route, the same check that the task is the
//! caller's), at the task's poll interval, and [`send`]s the whole task whenever its status or
//! status message changed, the first time at once, until it ends. A task that is unknown, expired
//! or another client's is dropped without a word, as `tasks/get` would refuse it. The gateway's
//! HTTP listen streams and the conformance fixture's both work this way.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    DetailedTask, ErrorCode, ErrorData, NotificationMetaObject, RequestId, ServerJsonRpcMessage,
    ServerNotification, TaskStatus, TaskStatusNotification, TaskStatusNotificationParams,
};
use rmcp::service::{RequestContext, RoleServer};
use serde::Deserialize;
use tokio::time::Instant;

/// The most tasks one listen stream may follow.
pub const MAX_TASKS: usize = 100;
/// The largest listen body read here; a longer one is refused.
const HOLD: usize = 64 * 1024;
/// Bounds on how often a task is asked for: its own poll interval, within these.
const FASTEST: Duration = Duration::from_millis(100);
const SLOWEST: Duration = Duration::from_secs(5);
/// The extension's name, as clients declare it.
const TASKS: &str = "io.modelcontextprotocol/tasks";

/// The tasks a listen request named, for the stream to follow.
#[derive(Debug, Clone)]
struct ListenedTasks(Vec<String>);

/// The tasks the listen request of `request` named (read by [`take_task_ids`]).
pub fn named(request: &RequestContext<RoleServer>) -> Vec<String> {
    request
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ListenedTasks>())
        .map(|tasks| tasks.0.clone())
        .unwrap_or_default()
}

/// Sends `task` on the listen stream of `request`, as `notifications/tasks` with the stream's
/// subscription id.
///
/// # Errors
/// When the stream is gone.
pub async fn send(
    request: &RequestContext<RoleServer>,
    task: DetailedTask,
) -> Result<(), rmcp::service::ServiceError> {
    let mut meta = NotificationMetaObject::new();
    meta.set_subscription_id(request.id.clone());
    let params = TaskStatusNotificationParams::new(task).with_meta(meta);
    let notification =
        ServerNotification::TaskStatusNotification(TaskStatusNotification::new(params));
    request.peer.send_notification(notification).await
}

/// Reads the `taskIds` of a `subscriptions/listen` request into its extensions; other requests
/// pass untouched.
pub async fn take_task_ids(request: Request, next: Next) -> Response {
    let listen = request.method() == axum::http::Method::POST
        && request
            .headers()
            .get("mcp-method")
            .is_some_and(|m| m == "subscriptions/listen");
    if !listen {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, HOLD).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a subscriptions/listen request is at most {HOLD} bytes"),
        )
            .into_response();
    };
    match task_ids(&bytes) {
        Ok(Some(ids)) => {
            parts.extensions.insert(ListenedTasks(ids));
        }
        Ok(None) => {}
        Err((id, error)) => {
            return super::lean::answer(&ServerJsonRpcMessage::error(error, Some(id)));
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The task ids a listen body names, if any; an error for the request when the client did not
/// declare the extension or names too many. A body that is not a listen request as expected is
/// left for rmcp to judge.
fn task_ids(body: &[u8]) -> Result<Option<Vec<String>>, (RequestId, ErrorData)> {
    #[derive(Deserialize)]
    struct Listen {
        id: RequestId,
        params: Params,
    }
    #[derive(Deserialize)]
    struct Params {
        #[serde(default)]
        notifications: Filter,
        #[serde(rename = "_meta", default)]
        meta: serde_json::Value,
    }
    #[derive(Deserialize, Default)]
    struct Filter {
        #[serde(rename = "taskIds", default)]
        task_ids: Vec<String>,
    }
    let Ok(listen) = serde_json::from_slice::<Listen>(body) else {
        return Ok(None);
    };
    let ids = listen.params.notifications.task_ids;
    if ids.is_empty() {
        return Ok(None);
    }
    let declared = listen
        .params
        .meta
        .pointer("/io.modelcontextprotocol~1clientCapabilities/extensions")
        .and_then(|e| e.get(TASKS))
        .is_some();
    if !declared {
        let data = serde_json::json!({"requiredCapabilities": {"extensions": {TASKS: {}}}});
        let error = ErrorData::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!(
                "task notifications need the {TASKS} extension: declare it in the request's client capabilities"
            ),
            Some(data),
        );
        return Err((listen.id, error));
    }
    if ids.len() > MAX_TASKS {
        let error = ErrorData::invalid_params(
            format!(
                "a subscription follows at most {MAX_TASKS} tasks; it named {}",
                ids.len()
            ),
            None,
        );
        return Err((listen.id, error));
    }
    Ok(Some(ids))
}

/// The tasks one listen stream follows, and what it last sent of each.
pub struct Following {
    tasks: HashMap<String, Followed>,
}

struct Followed {
    due: Instant,
    /// Status and status message last sent.
    sent: Option<(TaskStatus, Option<String>)>,
}

impl Following {
    /// Follows `ids`, each due at once.
    #[must_use]
    pub fn new(ids: Vec<String>) -> Self {
        let now = Instant::now();
        let tasks = ids
            .into_iter()
            .map(|id| {
                (
                    id,
                    Followed {
                        due: now,
                        sent: None,
                    },
                )
            })
            .collect();
        Self { tasks }
    }

    /// When the next task is due to be asked for; `None` when none is followed.
    #[must_use]
    pub fn next_due(&self) -> Option<Instant> {
        self.tasks.values().map(|t| t.due).min()
    }

    /// The tasks due now.
    #[must_use]
    pub fn due(&self) -> Vec<String> {
        let now = Instant::now();
        self.tasks
            .iter()
            .filter(|(_, t)| t.due <= now)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// What `tasks/get` answered for `id` (an error: it is not the caller's, or is gone): the
    /// task to send when it changed since last sent. An ended task is followed no longer.
    pub fn seen(
        &mut self,
        id: &str,
        answer: Result<DetailedTask, ErrorData>,
    ) -> Option<DetailedTask> {
        let Ok(task) = answer else {
            self.tasks.remove(id);
            return None;
        };
        let state = (task.task.status, task.task.status_message.clone());
        let ended = matches!(
            state.0,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        );
        if ended {
            self.tasks.remove(id);
        } else if let Some(followed) = self.tasks.get_mut(id) {
            let every = task
                .task
                .poll_interval_ms
                .map_or(Duration::from_secs(1), Duration::from_millis)
                .clamp(FASTEST, SLOWEST);
            followed.due = Instant::now() + every;
            if followed.sent.as_ref() == Some(&state) {
                return None;
            }
            followed.sent = Some(state);
        }
        Some(task)
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{Task, TaskPayload};

    use super::*;

    fn body(meta: serde_json::Value, ids: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen",
            "params": {"_meta": meta, "notifications": {"taskIds": ids}}
        }))
        .unwrap()
    }

    fn declaring() -> serde_json::Value {
        serde_json::json!({"io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}}})
    }

    #[test]
    fn task_ids_need_the_extension_and_are_bounded() {
        assert_eq!(
            task_ids(&body(declaring(), &["a", "b"])).unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            task_ids(&body(declaring(), &[])).unwrap(),
            None,
            "no tasks named"
        );
        assert_eq!(
            task_ids(b"not json").unwrap(),
            None,
            "left for rmcp to refuse"
        );
        let (id, error) = task_ids(&body(serde_json::json!({}), &["a"])).unwrap_err();
        assert_eq!(id, RequestId::Number(7));
        assert_eq!(error.code, ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
        let many: Vec<String> = (0..=MAX_TASKS).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let (_, error) = task_ids(&body(declaring(), &many)).unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    }

    fn task(status: TaskStatus, message: &str) -> DetailedTask {
        let task = Task::new("t", status, "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z")
            .with_status_message(message);
        let payload = match status {
            TaskStatus::Completed => TaskPayload::Completed {
                result: rmcp::model::JsonObject::new(),
            },
            _ => TaskPayload::Working,
        };
        DetailedTask::new(task, payload)
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_is_sent_when_it_changes_until_it_ends() {
        let mut following = Following::new(vec!["t".into(), "gone".into()]);
        assert_eq!(following.due().len(), 2, "both are asked for at once");
        assert!(
            following
                .seen("gone", Err(ErrorData::invalid_params("no task", None)))
                .is_none()
        );
        assert!(
            following
                .seen("t", Ok(task(TaskStatus::Working, "waiting")))
                .is_some()
        );
        assert!(
            following.due().is_empty(),
            "asked again after its poll interval"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(following.due(), vec!["t".to_owned()]);
        assert!(
            following
                .seen("t", Ok(task(TaskStatus::Working, "waiting")))
                .is_none(),
            "unchanged"
        );
        assert!(
            following
                .seen("t", Ok(task(TaskStatus::Working, "approved")))
                .is_some()
        );
        assert!(
            following
                .seen("t", Ok(task(TaskStatus::Completed, "done")))
                .is_some()
        );
        assert_eq!(
            following.next_due(),
            None,
            "an ended task is followed no longer"
        );
    }
}
