//! The approval queue: a call that needs a person's yes, from a client that cannot be asked (no
//! elicitation, a stateless script, a CI job), waits here — bounded by `[approvals] timeout` —
//! until an operator approves or denies it (`switchboard approvals`, or the gateway's
//! `/admin/approvals`). It waits only where an operator can answer: with a client configured as
//! `admin = true`; otherwise the call is refused at once, as before.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::slack::SlackApprovals;

/// A call waiting for an operator, as operators see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedApproval {
    /// Its id, for `switchboard approvals approve ID`.
    pub id: String,
    /// Who asked: the client, and the person where a person's token made the call.
    pub client: String,
    /// The person's subject, for people's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The exposed tool name.
    pub tool: String,
    /// The upstream server.
    pub server: String,
    /// The arguments, redacted as in the audit log.
    pub arguments: serde_json::Value,
    /// When it was asked (RFC 3339).
    pub asked_at: String,
    /// Seconds left before it is refused for want of an answer.
    pub expires_in_s: u64,
}

/// An operator's answer, as the call's audit record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApprovalNote {
    /// `approved`, `denied` or `timed_out`.
    pub decision: String,
    /// The operator (client, and person where a person's token decided); absent on timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When (RFC 3339).
    pub at: String,
    /// The reason given, for a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a decision could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    /// No call waits under that id (decided already, timed out, or never asked).
    Unknown,
    /// The call waits on another replica, and the shared store could not tell it.
    Unavailable(String),
}

struct Entry {
    shown: QueuedApproval,
    expires: tokio::time::Instant,
    answer: oneshot::Sender<ApprovalNote>,
}

/// The calls waiting for an operator, oldest first.
pub(crate) struct ApprovalQueue {
    /// How long a call waits, in milliseconds (a reload may change it).
    timeout_ms: std::sync::atomic::AtomicU64,
    entries: Mutex<IndexMap<String, Entry>>,
    /// Where replicas share their queues (`[state] store`), when they do.
    store: OnceLock<Arc<super::queue_store::QueueStore>>,
}

/// Takes a call's entry out of the queue when its wait ends, however it ends.
struct Leave<'a>(&'a ApprovalQueue, String);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.lock().shift_remove(&self.1);
        if let Some(store) = self.0.store.get() {
            let (store, id) = (store.clone(), self.1.clone());
            tokio::spawn(async move { store.take(&id).await });
        }
    }
}

fn timed_out() -> ApprovalNote {
    ApprovalNote {
        decision: "timed_out".into(),
        by: None,
        at: now_rfc3339(),
        reason: None,
    }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl ApprovalQueue {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout_ms: u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .into(),
            entries: Mutex::new(IndexMap::new()),
            store: OnceLock::new(),
        }
    }

    /// The store replicas share this queue through, if they do.
    pub(crate) fn store(&self) -> Option<&Arc<super::queue_store::QueueStore>> {
        self.store.get()
    }

    /// Shares this queue with the other replicas through `store`.
    pub(crate) fn share(&self, store: Arc<super::queue_store::QueueStore>) {
        let _ = self.store.set(store);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long a call waits.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Calls that start waiting from now on wait up to `timeout`.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.timeout_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The calls waiting now: every replica's, when the queue is shared (this replica's alone
    /// while the store does not answer).
    pub(crate) async fn list(&self) -> Vec<QueuedApproval> {
        if let Some(store) = self.store.get() {
            match store.list().await {
                Ok(all) => return all,
                Err(error) => tracing::warn!(
                    target: "switchboard::approvals",
                    %error, "the shared store did not answer; listing this replica's calls only"
                ),
            }
        }
        self.list_here()
    }

    fn list_here(&self) -> Vec<QueuedApproval> {
        let now = tokio::time::Instant::now();
        self.lock()
            .values()
            .map(|e| QueuedApproval {
                expires_in_s: e.expires.saturating_duration_since(now).as_secs(),
                ..e.shown.clone()
            })
            .collect()
    }

    /// How many calls wait.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Applies an operator's answer to the call waiting under `id`.
    ///
    /// # Errors
    /// [`DecideError::Unknown`] when nothing waits under `id`.
    pub(crate) async fn decide(&self, id: &str, note: ApprovalNote) -> Result<(), DecideError> {
        let Some(store) = self.store.get() else {
            return self.decide_here(id, note);
        };
        match store.take(id).await {
            // Taken here first: no other operator's answer counts.
            Ok(true) => match self.decide_here(id, note.clone()) {
                Ok(()) => Ok(()),
                Err(_) => store.publish(id, note).await.map_err(|error| {
                    DecideError::Unavailable(format!(
                        "the call waits on another replica and the shared store did not take \
                         the answer ({error}); try again"
                    ))
                }),
            },
            // Not in the store: decided already, or it never got there (the store was down).
            Ok(false) => self.decide_here(id, note),
            Err(error) => {
                tracing::warn!(target: "switchboard::approvals", %error, "the shared store did not answer; deciding here only");
                self.decide_here(id, note)
            }
        }
    }

    /// Applies an answer to a call waiting on this replica.
    ///
    /// # Errors
    /// [`DecideError::Unknown`] when nothing waits here under `id`.
    pub(crate) fn decide_here(&self, id: &str, note: ApprovalNote) -> Result<(), DecideError> {
        let entry = self.lock().shift_remove(id).ok_or(DecideError::Unknown)?;
        // The waiting call may have just given up; then there is nobody to tell.
        entry.answer.send(note).map_err(|_| DecideError::Unknown)
    }

    /// Puts `shown` (its id and `asked_at` filled in here) in the queue and waits for an
    /// operator, calling `tick` with the time waited every `every` (the caller's progress
    /// notifications); posts it to `slack` too, when given. A timeout is an answer of its own
    /// (`timed_out`).
    pub(crate) async fn wait<F, Fut>(
        &self,
        mut shown: QueuedApproval,
        slack: Option<&Arc<SlackApprovals>>,
        every: Duration,
        mut tick: F,
    ) -> ApprovalNote
    where
        F: FnMut(Duration, &str) -> Fut,
        Fut: Future<Output = ()>,
    {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (answer, answered) = oneshot::channel();
        let started = tokio::time::Instant::now();
        let expires = started + self.timeout();
        shown.id.clone_from(&id);
        shown.asked_at = now_rfc3339();
        tracing::info!(
            target: "switchboard::approvals",
            id = %id, tool = %shown.tool, client = %shown.client,
            "a call waits for an operator's approval"
        );
        let shared = shown.clone();
        let mut announced = slack.map(|slack| slack.announce(shown.clone(), self.timeout()));
        self.lock().insert(
            id.clone(),
            Entry {
                shown,
                expires,
                answer,
            },
        );
        let _leave = Leave(self, id.clone());
        if let Some(store) = self.store.get()
            && let Err(error) = store.put(&shared, self.timeout()).await
        {
            tracing::warn!(
                target: "switchboard::approvals",
                %error, "the shared store did not answer; only this replica's operators see the call"
            );
        }
        let mut answered = std::pin::pin!(answered);
        let mut ticks = tokio::time::interval_at(started + every, every);
        let note = loop {
            tokio::select! {
                biased;
                note = &mut answered => {
                    // An error: the sender went away without an answer, which only a queue
                    // being dropped does.
                    break note.unwrap_or_else(|_| timed_out());
                }
                () = tokio::time::sleep_until(expires) => break timed_out(),
                _ = ticks.tick() => tick(started.elapsed(), &id).await,
            }
        };
        if let Some(announced) = &mut announced {
            announced.answered(&note);
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(tool: &str) -> QueuedApproval {
        QueuedApproval {
            id: String::new(),
            client: "ci".into(),
            user: None,
            tool: tool.into(),
            server: "s".into(),
            arguments: serde_json::json!({}),
            asked_at: String::new(),
            expires_in_s: 0,
        }
    }

    fn note(decision: &str) -> ApprovalNote {
        ApprovalNote {
            decision: decision.into(),
            by: Some("ops".into()),
            at: now_rfc3339(),
            reason: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_call_gets_the_operators_answer_or_times_out() {
        let queue = std::sync::Arc::new(ApprovalQueue::new(Duration::from_secs(60)));
        let waiting = {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue
                    .wait(shown("a"), None, Duration::from_secs(5), |_, _| async {})
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let listed = queue.list_here();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].expires_in_s, 59);
        assert_eq!(
            queue.decide_here("nope", note("approved")),
            Err(DecideError::Unknown)
        );
        queue.decide_here(&listed[0].id, note("approved")).unwrap();
        assert_eq!(waiting.await.unwrap().decision, "approved");
        assert_eq!(queue.len(), 0);
        assert_eq!(
            queue.decide_here(&listed[0].id, note("denied")),
            Err(DecideError::Unknown),
            "decided once"
        );

        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = ticks.clone();
        let note = queue
            .wait(shown("b"), None, Duration::from_secs(5), move |_, _| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async {}
            })
            .await;
        assert_eq!(note.decision, "timed_out");
        assert_eq!(ticks.load(std::sync::atomic::Ordering::SeqCst), 11);
        assert_eq!(queue.len(), 0, "a timed-out call leaves the queue");
    }
}
