//! What the approvals of replicas share in Redis (`[state] store`): the one-time states of
//! `input_required` rounds (`<prefix>:round:<state>`, expiring, taken with `GETDEL`), and the
//! approval queue. What waits in the queue is a hash,
//! `<prefix>:approvals` (id → the call as operators see it, with its deadline), so any replica
//! lists every replica's waiting calls; a decision is claimed by deleting the entry (so it is
//! taken once, whichever replica two operators use) and published on `<prefix>:approvals:decided`,
//! where the replica holding the call hears it.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use super::queue::{ApprovalNote, QueuedApproval};

/// How long subscribing may take.
const TIMEOUT: Duration = Duration::from_secs(1);

/// One waiting call as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    shown: QueuedApproval,
    /// When it stops waiting, in ms since the epoch.
    deadline_ms: u64,
}

/// A decision on its way to the replica holding the call.
#[derive(Serialize, Deserialize)]
pub(crate) struct Decided {
    pub(crate) id: String,
    pub(crate) note: ApprovalNote,
}

/// The queue's entries in Redis.
pub(crate) struct QueueStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    key: String,
    channel: String,
    prefix: String,
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}

impl QueueStore {
    /// The store at `url`, under `<prefix>:approvals`. Nothing connects until it is used.
    ///
    /// # Errors
    /// When `url` cannot be used (the message never repeats it).
    pub(crate) fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("cannot be used: {e}"))?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            key: format!("{prefix}:approvals"),
            channel: format!("{prefix}:approvals:decided"),
            prefix: prefix.to_owned(),
        })
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| super::rate_limit::connect(&self.client))
            .await
            .cloned()
    }

    /// Shows `shown` to every replica until `wait` has passed.
    pub(crate) async fn put(
        &self,
        shown: &QueuedApproval,
        wait: Duration,
    ) -> redis::RedisResult<()> {
        let stored = Stored {
            shown: shown.clone(),
            deadline_ms: now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        };
        let json = serde_json::to_string(&stored).unwrap_or_default();
        self.connection()
            .await?
            .hset(&self.key, &shown.id, json)
            .await
    }

    /// Takes `id` out: `true` for the one caller that took it.
    pub(crate) async fn take(&self, id: &str) -> redis::RedisResult<bool> {
        let removed: u64 = self.connection().await?.hdel(&self.key, id).await?;
        Ok(removed == 1)
    }

    /// Every replica's waiting calls, oldest first; entries past their deadline (a replica that
    /// died with them) are dropped.
    pub(crate) async fn list(&self) -> redis::RedisResult<Vec<QueuedApproval>> {
        let mut connection = self.connection().await?;
        let all: std::collections::HashMap<String, String> = connection.hgetall(&self.key).await?;
        let now = now_ms();
        let mut waiting = Vec::new();
        for (id, json) in all {
            match serde_json::from_str::<Stored>(&json) {
                Ok(stored) if stored.deadline_ms > now => waiting.push(QueuedApproval {
                    expires_in_s: (stored.deadline_ms - now) / 1000,
                    ..stored.shown
                }),
                _ => {
                    let _: redis::RedisResult<u64> = connection.hdel(&self.key, &id).await;
                }
            }
        }
        waiting.sort_by(|a, b| a.asked_at.cmp(&b.asked_at));
        Ok(waiting)
    }

    /// Keeps the one-time state of an `input_required` round for `ttl`.
    pub(crate) async fn put_round(
        &self,
        state: &str,
        json: &str,
        ttl: Duration,
    ) -> redis::RedisResult<()> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.connection()
            .await?
            .pset_ex(self.round_key(state), json, ms)
            .await
    }

    /// Takes the round `state` names, once: a second take, on any replica, finds nothing.
    pub(crate) async fn take_round(&self, state: &str) -> redis::RedisResult<Option<String>> {
        self.connection()
            .await?
            .get_del(self.round_key(state))
            .await
    }

    fn round_key(&self, state: &str) -> String {
        format!("{}:round:{state}", self.prefix)
    }

    /// Tells the replica holding call `id` its answer.
    pub(crate) async fn publish(&self, id: &str, note: ApprovalNote) -> redis::RedisResult<()> {
        let message = serde_json::to_string(&Decided {
            id: id.to_owned(),
            note,
        })
        .unwrap_or_default();
        let _receivers: u64 = self
            .connection()
            .await?
            .publish(&self.channel, message)
            .await?;
        Ok(())
    }

    /// Hands every decision published by any replica to `deliver`, until `shutdown`;
    /// reconnects (every second) when the store goes away.
    pub(crate) async fn listen(&self, deliver: impl Fn(Decided), shutdown: CancellationToken) {
        use futures::StreamExt as _;
        loop {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                redis::RedisResult::Ok(pubsub)
            };
            match tokio::time::timeout(TIMEOUT, subscribed).await {
                Ok(Ok(mut pubsub)) => {
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            message = messages.next() => {
                                let Some(message) = message else { break };
                                let payload: String = message.get_payload().unwrap_or_default();
                                if let Ok(decided) = serde_json::from_str(&payload) {
                                    deliver(decided);
                                }
                            }
                        }
                    }
                    tracing::warn!(target: "switchboard::approvals", "lost the shared store's decisions channel; reconnecting");
                }
                Ok(Err(error)) => {
                    tracing::warn!(target: "switchboard::approvals", %error, "cannot subscribe to the shared store's decisions");
                }
                Err(_) => {
                    tracing::warn!(target: "switchboard::approvals", "the shared store did not answer the subscription");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
