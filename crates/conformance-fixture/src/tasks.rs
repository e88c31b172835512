//! The fixture's task store for the Tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`,
//! 2026-07-28). A `tools/call` whose request declares the extension may answer
//! `resultType: "task"` with a task the client then polls (`tasks/get`), feeds the answers to
//! the task's input requests (`tasks/update`) and may cancel (`tasks/cancel`).
//!
//! Each task's operation runs on its own tokio task; the store keeps, per task id, the task's
//! metadata, the input requests its operation is waiting on while it runs, and its terminal
//! payload (`result` or `error`) once it settles. Over HTTP every request gets its own handler,
//! so the store lives in [`crate::state::Shared`], process-wide.
//!
//! State is bounded twice over:
//! - time: a task is forgotten once its `ttlMs` has passed since it was created, whatever its
//!   status (a running operation is aborted). Expired tasks are swept on every store call, so a
//!   late `tasks/get` gets -32602 like any unknown id.
//! - count: at most [`MAX_TASKS`] exist at once. Creating one more evicts the oldest settled
//!   task; when every task is still running the new one is refused with -32603.
//!
//! Cancellation is honoured at once: `tasks/cancel` aborts the operation and the task reads
//! `cancelled` on the next `tasks/get`. A `subscriptions/listen` stream that names tasks is sent
//! `notifications/tasks` as their status changes (the listen handler in `server.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use rmcp::ErrorData;
use rmcp::model::{
    CallToolResult, DetailedTask, InputRequest, InputRequests, InputResponses, JsonObject, Task,
    TaskPayload, TaskStatus,
};
use rmcp::task_manager::{TaskExit, current_timestamp};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::state::lock;

/// How long a task stays readable after it is created (advertised as `ttlMs`). Longer than
/// any fixture operation runs, so only a task left waiting for input expires unsettled.
pub(crate) const TTL: Duration = Duration::from_secs(300);
/// Suggested polling interval (advertised as `pollIntervalMs`).
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How many tasks may exist at once.
pub(crate) const MAX_TASKS: usize = 1024;

/// Process-wide task store. Cheap to clone; clones share the same tasks.
#[derive(Clone)]
pub(crate) struct TaskStore {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    /// The wire metadata; `status`, `statusMessage` and `lastUpdatedAt` follow `state`.
    task: Task,
    expires: Instant,
    state: State,
}

enum State {
    Running {
        /// Aborts the operation (cancel, expiry, eviction); `None` only while it is spawned.
        operation: Option<AbortHandle>,
        /// Input requests the operation waits on, by key.
        pending: BTreeMap<String, Pending>,
        /// Every key asked so far: a key is never reused within a task (SEP-2663).
        asked: BTreeSet<String>,
    },
    Settled(TaskPayload),
}

struct Pending {
    request: InputRequest,
    reply: oneshot::Sender<Value>,
}

/// What a task's operation gets: a way to ask the client for input.
pub(crate) struct TaskInput {
    id: String,
    store: TaskStore,
}

impl TaskStore {
    /// An empty store with the fixture's limits ([`TTL`], [`MAX_TASKS`]).
    pub(crate) fn new() -> Self {
        Self::with_limits(TTL, MAX_TASKS)
    }

    /// An empty store whose tasks live `ttl` and of which at most `capacity` exist at once.
    pub(crate) fn with_limits(ttl: Duration, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                ttl,
                capacity,
                entries: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts `operation` as a new task and returns the task's seed state for a
    /// `CreateTaskResult`. The task is readable with [`TaskStore::get`] before this returns
    /// (SEP-2663: no `CreateTaskResult` before the task is durably created).
    ///
    /// The operation settles the task: `Ok` as `completed` (a tool error included: it is a
    /// result with `isError`), [`TaskExit::Error`] as `failed`, [`TaskExit::Cancelled`] as
    /// `cancelled`; a panic counts as an internal error.
    ///
    /// # Errors
    /// -32603 when [`MAX_TASKS`] tasks are all still running.
    pub(crate) fn create<F, Fut>(&self, operation: F) -> Result<Task, ErrorData>
    where
        F: FnOnce(TaskInput) -> Fut,
        Fut: Future<Output = Result<CallToolResult, TaskExit>> + Send + 'static,
    {
        let id = new_id();
        let now = current_timestamp();
        let task = Task::new(id.clone(), TaskStatus::Working, now.clone(), now)
            .with_ttl_ms(millis(self.inner.ttl))
            .with_poll_interval_ms(millis(POLL_INTERVAL));
        let future = operation(TaskInput {
            id: id.clone(),
            store: self.clone(),
        });
        {
            let mut entries = lock(&self.inner.entries);
            sweep(&mut entries);
            if entries.len() >= self.inner.capacity && !evict_oldest_settled(&mut entries) {
                return Err(ErrorData::internal_error(
                    format!(
                        "the fixture already runs {} tasks, its limit: cancel one or wait for \
                         one to finish",
                        entries.len()
                    ),
                    None,
                ));
            }
            entries.insert(
                id.clone(),
                Entry {
                    task: task.clone(),
                    expires: Instant::now() + self.inner.ttl,
                    state: State::Running {
                        operation: None,
                        pending: BTreeMap::new(),
                        asked: BTreeSet::new(),
                    },
                },
            );
        }
        // The operation may ask for input at once: its entry exists by now.
        let operation = tokio::spawn(future);
        let abort = operation.abort_handle();
        // Unless it settled already, or is gone (swept): then there is nothing left to abort.
        if let Some(State::Running { operation, .. }) = lock(&self.inner.entries)
            .get_mut(&id)
            .map(|entry| &mut entry.state)
        {
            *operation = Some(abort);
        }
        let store = self.clone();
        let settled_id = id;
        tokio::spawn(async move {
            let outcome = match operation.await {
                Ok(outcome) => outcome,
                Err(error) if error.is_panic() => Err(TaskExit::Error(ErrorData::internal_error(
                    "the task's operation panicked",
                    None,
                ))),
                // Aborted: whoever aborted it (cancel, expiry, eviction) settled the entry.
                Err(_) => return,
            };
            store.settle(&settled_id, outcome);
        });
        Ok(task)
    }

    /// `tasks/get`: the task's current state, with its input requests, result or error.
    ///
    /// # Errors
    /// -32602 for an unknown or expired task id.
    pub(crate) fn get(&self, id: &str) -> Result<DetailedTask, ErrorData> {
        let mut entries = lock(&self.inner.entries);
        sweep(&mut entries);
        let entry = entries.get(id).ok_or_else(|| unknown(id))?;
        Ok(entry.detailed())
    }

    /// `tasks/update`: delivers the answers to outstanding input requests. Keys the task is not
    /// waiting on (never asked, already answered) are ignored, as SEP-2663 asks; a subset of the
    /// outstanding keys is accepted and the task stays `input_required` until the rest arrive.
    ///
    /// # Errors
    /// -32602 for an unknown or expired task id.
    pub(crate) fn update(&self, id: &str, responses: InputResponses) -> Result<(), ErrorData> {
        let mut entries = lock(&self.inner.entries);
        sweep(&mut entries);
        let entry = entries.get_mut(id).ok_or_else(|| unknown(id))?;
        let State::Running { pending, .. } = &mut entry.state else {
            return Ok(());
        };
        let mut delivered = false;
        for (key, answer) in responses {
            if let Some(waiting) = pending.remove(&key) {
                // The operation may have stopped waiting (aborted); the answer is moot then.
                let _ = waiting.reply.send(answer);
                delivered = true;
            }
        }
        if delivered {
            entry.touch();
        }
        Ok(())
    }

    /// `tasks/cancel`: stops a running task, which then reads `cancelled`. Cancelling a settled
    /// task changes nothing and is acknowledged all the same.
    ///
    /// # Errors
    /// -32602 for an unknown or expired task id.
    pub(crate) fn cancel(&self, id: &str) -> Result<(), ErrorData> {
        let mut entries = lock(&self.inner.entries);
        sweep(&mut entries);
        let entry = entries.get_mut(id).ok_or_else(|| unknown(id))?;
        if let State::Running { operation, .. } = &entry.state {
            if let Some(operation) = operation {
                operation.abort();
            }
            entry.state = State::Settled(TaskPayload::Cancelled);
            entry.touch();
        }
        Ok(())
    }

    /// Records how a task's operation ended, unless the task was cancelled or forgotten first.
    fn settle(&self, id: &str, outcome: Result<CallToolResult, TaskExit>) {
        let mut entries = lock(&self.inner.entries);
        if let Some(entry) = entries.get_mut(id)
            && matches!(entry.state, State::Running { .. })
        {
            entry.state = State::Settled(payload(outcome));
            entry.touch();
        }
    }
}

impl TaskInput {
    /// Surfaces `requests` on `tasks/get` (status `input_required`, all of them at once) and
    /// waits until `tasks/update` has answered every one; returns the answers by key.
    ///
    /// # Errors
    /// [`TaskExit::Cancelled`] when the task was cancelled or expired meanwhile;
    /// [`TaskExit::Error`] (internal) when a key was already asked in this task.
    pub(crate) async fn ask(&self, requests: InputRequests) -> Result<InputResponses, TaskExit> {
        let mut waiting = Vec::with_capacity(requests.len());
        {
            let mut entries = lock(&self.store.inner.entries);
            let Some(entry) = entries.get_mut(&self.id) else {
                return Err(TaskExit::Cancelled);
            };
            let State::Running { pending, asked, .. } = &mut entry.state else {
                return Err(TaskExit::Cancelled);
            };
            if let Some(key) = requests.keys().find(|key| asked.contains(*key)) {
                return Err(TaskExit::Error(ErrorData::internal_error(
                    format!("the task asked for input `{key}` twice"),
                    None,
                )));
            }
            for (key, request) in requests {
                let (reply, answer) = oneshot::channel();
                asked.insert(key.clone());
                pending.insert(key.clone(), Pending { request, reply });
                waiting.push((key, answer));
            }
            entry.touch();
        }
        let mut answers = InputResponses::new();
        for (key, answer) in waiting {
            // A dropped sender means the task was cancelled, expired or evicted.
            let answer = answer.await.map_err(|_| TaskExit::Cancelled)?;
            answers.insert(key, answer);
        }
        Ok(answers)
    }
}

impl Entry {
    /// Brings `status`, `statusMessage` and `lastUpdatedAt` in line with `state`.
    fn touch(&mut self) {
        let (status, message) = match &self.state {
            State::Running { pending, .. } if pending.is_empty() => (TaskStatus::Working, None),
            State::Running { pending, .. } => {
                let keys: Vec<&str> = pending.keys().map(String::as_str).collect();
                let message = format!("waiting for the client's answer to: {}", keys.join(", "));
                (TaskStatus::InputRequired, Some(message))
            }
            State::Settled(payload) => (payload.status(), settled_message(payload)),
        };
        self.task.status = status;
        self.task.status_message = message;
        self.task.last_updated_at = current_timestamp();
    }

    fn detailed(&self) -> DetailedTask {
        let payload = match &self.state {
            State::Running { pending, .. } if pending.is_empty() => TaskPayload::Working,
            State::Running { pending, .. } => TaskPayload::InputRequired {
                input_requests: pending
                    .iter()
                    .map(|(key, waiting)| (key.clone(), waiting.request.clone()))
                    .collect(),
            },
            State::Settled(payload) => payload.clone(),
        };
        DetailedTask::new(self.task.clone(), payload)
    }

    fn abort(&self) {
        if let State::Running {
            operation: Some(operation),
            ..
        } = &self.state
        {
            operation.abort();
        }
    }
}

/// Forgets the tasks whose ttl has passed, aborting those still running.
fn sweep(entries: &mut HashMap<String, Entry>) {
    let now = Instant::now();
    entries.retain(|_, entry| {
        let live = entry.expires > now;
        if !live {
            entry.abort();
        }
        live
    });
}

/// Makes room by forgetting the settled task closest to expiry; false if none is settled.
fn evict_oldest_settled(entries: &mut HashMap<String, Entry>) -> bool {
    let oldest = entries
        .iter()
        .filter(|(_, entry)| matches!(entry.state, State::Settled(_)))
        .min_by_key(|(_, entry)| entry.expires)
        .map(|(id, _)| id.clone());
    oldest.is_some_and(|id| entries.remove(&id).is_some())
}

fn payload(outcome: Result<CallToolResult, TaskExit>) -> TaskPayload {
    match outcome {
        Ok(result) => match serde_json::to_value(&result) {
            Ok(Value::Object(result)) => TaskPayload::Completed { result },
            _ => TaskPayload::Failed {
                error: error_object(&ErrorData::internal_error(
                    "the tool result did not serialise to a JSON object",
                    None,
                )),
            },
        },
        Err(TaskExit::Cancelled) => TaskPayload::Cancelled,
        Err(TaskExit::Error(error)) => TaskPayload::Failed {
            error: error_object(&error),
        },
    }
}

fn settled_message(payload: &TaskPayload) -> Option<String> {
    match payload {
        TaskPayload::Failed { error } => Some(format!(
            "failed: {}",
            error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("internal error")
        )),
        TaskPayload::Cancelled => Some("cancelled at the client's request".to_owned()),
        _ => None,
    }
}

/// A JSON-RPC error object (`code`, `message`, `data`) for a failed task's `error`.
fn error_object(error: &ErrorData) -> JsonObject {
    match serde_json::to_value(error) {
        Ok(Value::Object(object)) => object,
        _ => {
            let mut object = JsonObject::new();
            object.insert("code".to_owned(), Value::from(error.code.0));
            object.insert("message".to_owned(), Value::from(error.message.to_string()));
            object
        }
    }
}

fn unknown(id: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!(
            "unknown task `{id}`: no task has this id, or it expired (tasks are kept for ttlMs \
             after they are created)"
        ),
        None,
    )
}

/// 128 random bits in hex: task ids are unguessable, the only thing between a client and
/// another client's task in a stateless server.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;
    use crate::mrtr;

    fn text(result: &str) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::text(result.to_owned())])
    }

    async fn settled(store: &TaskStore, id: &str) -> DetailedTask {
        for _ in 0..200 {
            let task = store.get(id).unwrap();
            if task.status().is_terminal() {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("task {id} did not settle");
    }

    async fn waiting_for(store: &TaskStore, id: &str, keys: usize) -> DetailedTask {
        for _ in 0..200 {
            let task = store.get(id).unwrap();
            if let TaskPayload::InputRequired { input_requests } = &task.payload
                && input_requests.len() == keys
            {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("task {id} did not ask for {keys} inputs");
    }

    fn requests(keys: &[&str]) -> InputRequests {
        keys.iter()
            .map(|key| ((*key).to_owned(), mrtr::list_roots().unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn a_task_is_readable_at_once_and_inlines_its_result() {
        let store = TaskStore::new();
        let task = store
            .create(|_| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(text("done"))
            })
            .unwrap();
        assert_eq!(task.ttl_ms, Some(300_000));
        assert_eq!(
            store.get(&task.task_id).unwrap().status(),
            TaskStatus::Working
        );
        let done = settled(&store, &task.task_id).await;
        let TaskPayload::Completed { result } = done.payload else {
            panic!("expected completed, got {:?}", done.payload);
        };
        assert_eq!(result["content"][0]["text"], "done");
    }

    #[tokio::test]
    async fn errors_and_panics_settle_as_failed() {
        let store = TaskStore::new();
        let failing = store
            .create(|_| async { Err(TaskExit::Error(ErrorData::internal_error("boom", None))) })
            .unwrap();
        let panicking = store
            .create(|_| async {
                if true {
                    panic!("deliberate test panic");
                }
                Ok(text("unreachable"))
            })
            .unwrap();
        for id in [failing.task_id, panicking.task_id] {
            let task = settled(&store, &id).await;
            let TaskPayload::Failed { error } = task.payload else {
                panic!("expected failed, got {:?}", task.payload);
            };
            assert_eq!(error["code"], -32603);
            assert!(task.task.status_message.unwrap().starts_with("failed: "));
        }
    }

    #[tokio::test]
    async fn partial_answers_keep_the_task_waiting_for_the_rest() {
        let store = TaskStore::new();
        let task = store
            .create(|input| async move {
                let answers = input.ask(requests(&["a", "b"])).await?;
                Ok(text(&format!("{} {}", answers["a"], answers["b"])))
            })
            .unwrap();
        let id = task.task_id;
        waiting_for(&store, &id, 2).await;
        let answer = |key: &str, value| InputResponses::from([(key.to_owned(), value)]);
        store.update(&id, answer("a", json!(1))).unwrap();
        store.update(&id, answer("unknown", json!(0))).unwrap();
        let still = waiting_for(&store, &id, 1).await;
        let TaskPayload::InputRequired { input_requests } = still.payload else {
            unreachable!();
        };
        assert!(input_requests.contains_key("b"));
        store.update(&id, answer("b", json!(2))).unwrap();
        let done = settled(&store, &id).await;
        let TaskPayload::Completed { result } = done.payload else {
            panic!("expected completed, got {:?}", done.payload);
        };
        assert_eq!(result["content"][0]["text"], "1 2");
    }

    #[tokio::test]
    async fn a_key_is_asked_once_per_task() {
        let store = TaskStore::new();
        let task = store
            .create(|input| async move {
                let first = input.ask(requests(&["a"]));
                let again = input.ask(requests(&["a"]));
                let (_, again) = tokio::join!(first, again);
                match again {
                    Err(TaskExit::Error(error)) => Err(TaskExit::Error(error)),
                    _ => Ok(text("reused")),
                }
            })
            .unwrap();
        waiting_for(&store, &task.task_id, 1).await;
        store
            .update(
                &task.task_id,
                InputResponses::from([("a".to_owned(), json!(1))]),
            )
            .unwrap();
        let done = settled(&store, &task.task_id).await;
        assert_eq!(done.status(), TaskStatus::Failed);
    }

    #[tokio::test]
    async fn cancel_stops_a_running_task_and_is_idempotent() {
        let store = TaskStore::new();
        let task = store
            .create(|input| async move {
                input.ask(requests(&["never"])).await?;
                Ok(text("answered"))
            })
            .unwrap();
        waiting_for(&store, &task.task_id, 1).await;
        store.cancel(&task.task_id).unwrap();
        assert_eq!(
            store.get(&task.task_id).unwrap().status(),
            TaskStatus::Cancelled
        );
        store.cancel(&task.task_id).unwrap();
        store
            .update(
                &task.task_id,
                InputResponses::from([("never".to_owned(), json!(1))]),
            )
            .unwrap();
        assert_eq!(
            store.get(&task.task_id).unwrap().status(),
            TaskStatus::Cancelled
        );
    }

    #[tokio::test]
    async fn unknown_and_expired_ids_are_invalid_params() {
        let store = TaskStore::with_limits(Duration::from_millis(30), 8);
        assert_eq!(store.get("nope").unwrap_err().code.0, -32602);
        assert_eq!(store.cancel("nope").unwrap_err().code.0, -32602);
        assert_eq!(
            store
                .update("nope", InputResponses::new())
                .unwrap_err()
                .code
                .0,
            -32602
        );
        let task = store
            .create(|input| async move {
                input.ask(requests(&["never"])).await?;
                Ok(text("answered"))
            })
            .unwrap();
        assert_eq!(task.ttl_ms, Some(30));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(store.get(&task.task_id).unwrap_err().code.0, -32602);
    }

    #[tokio::test]
    async fn at_capacity_the_oldest_settled_task_makes_room() {
        let store = TaskStore::with_limits(TTL, 2);
        let first = store.create(|_| async { Ok(text("1")) }).unwrap();
        settled(&store, &first.task_id).await;
        let running = |input: TaskInput| async move {
            input.ask(requests(&["never"])).await?;
            Ok(text("answered"))
        };
        let second = store.create(running).unwrap();
        let third = store.create(running).unwrap();
        assert_eq!(store.get(&first.task_id).unwrap_err().code.0, -32602);
        assert!(store.get(&second.task_id).is_ok());
        assert!(store.get(&third.task_id).is_ok());
        let refused = store.create(running).unwrap_err();
        assert_eq!(refused.code.0, -32603);
    }
}
