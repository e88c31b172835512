//! State shared by every handler instance of one fixture process: the key that seals MRTR
//! `requestState`, the tasks (SEP-2663), the open `subscriptions/listen` streams, and the legacy
//! resource subscriptions. Over HTTP each session (2025-11-25) or request (2026-07-28) gets its own
//! handler, so anything a later request must see lives here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngCore;
use rmcp::model::{RequestStateCodec, RequestStateError};
use rmcp::service::SubscriptionSink;

use crate::tasks::TaskStore;

/// Process-wide fixture state.
pub(crate) struct Shared {
    /// Seals and opens MRTR `requestState` with HMAC-SHA256 under a per-process random key.
    pub(crate) codec: RequestStateCodec,
    /// The tasks created by `tools/call`s that declared the tasks extension.
    pub(crate) tasks: TaskStore,
    listeners: Mutex<BTreeMap<u64, SubscriptionSink>>,
    next_listener: AtomicU64,
    resource_subscriptions: Mutex<BTreeSet<String>>,
}

impl Shared {
    /// Fresh state with a random 32-byte sealing key.
    ///
    /// # Errors
    /// When rmcp refuses the key (it checks only the length, which is its minimum).
    pub(crate) fn new() -> Result<Self, RequestStateError> {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Ok(Self {
            codec: RequestStateCodec::try_new(key.to_vec())?,
            tasks: TaskStore::new(),
            listeners: Mutex::new(BTreeMap::new()),
            next_listener: AtomicU64::new(0),
            resource_subscriptions: Mutex::new(BTreeSet::new()),
        })
    }

    /// Registers an open `subscriptions/listen` stream; returns the key to remove it with.
    pub(crate) fn add_listener(&self, sink: SubscriptionSink) -> u64 {
        let key = self.next_listener.fetch_add(1, Ordering::Relaxed);
        lock(&self.listeners).insert(key, sink);
        key
    }

    /// Forgets a stream registered with [`Shared::add_listener`].
    pub(crate) fn remove_listener(&self, key: u64) {
        lock(&self.listeners).remove(&key);
    }

    /// The open listen streams, copied out so no lock is held while sending.
    pub(crate) fn listeners(&self) -> Vec<SubscriptionSink> {
        lock(&self.listeners).values().cloned().collect()
    }

    /// Records a legacy `resources/subscribe`.
    pub(crate) fn subscribe(&self, uri: String) {
        lock(&self.resource_subscriptions).insert(uri);
    }

    /// Records a legacy `resources/unsubscribe`; returns whether the URI was subscribed.
    pub(crate) fn unsubscribe(&self, uri: &str) -> bool {
        lock(&self.resource_subscriptions).remove(uri)
    }
}

/// Locks a mutex, recovering the data if a panicking holder poisoned it (the critical sections,
/// here and in [`crate::tasks`], are short map updates that never leave the data half-changed).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
