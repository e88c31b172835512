//! No duplicate posts when a client retries `post_message`: calls with the same explicit
//! idempotency key (per channel, kept for a day), or with the same channel, thread and text within
//! a short window, share one outcome — the first call posts, the others (even concurrent ones) get
//! its result. A failed post is not remembered, so a retry after a failure posts again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// How long an explicit idempotency key is remembered.
const KEY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Most remembered posts; the oldest are forgotten first.
const MAX_ENTRIES: usize = 10_000;

struct Entry<T> {
    created: Instant,
    window: Duration,
    cell: Arc<OnceCell<T>>,
}

/// Remembers recent post outcomes by key.
pub(crate) struct Deduper<T> {
    content_window: Duration,
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> std::fmt::Debug for Deduper<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deduper")
            .field("content_window", &self.content_window)
            .finish_non_exhaustive()
    }
}

/// What identifies "the same post".
pub(crate) fn post_key(
    explicit: Option<&str>,
    channel_id: &str,
    thread_ts: Option<&str>,
    text: &str,
) -> (String, bool) {
    match explicit.filter(|key| !key.trim().is_empty()) {
        Some(key) => (format!("key:{channel_id}:{}", key.trim()), true),
        None => {
            let mut hash = Sha256::new();
            for part in [channel_id, thread_ts.unwrap_or(""), text] {
                hash.update(part.len().to_le_bytes());
                hash.update(part.as_bytes());
            }
            (format!("content:{}", hex::encode(hash.finalize())), false)
        }
    }
}

impl<T: Clone> Deduper<T> {
    pub(crate) fn new(content_window: Duration) -> Self {
        Self {
            content_window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, key: &str, explicit: bool) -> Arc<OnceCell<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, entry| entry.created.elapsed() < entry.window);
        if entries.len() >= MAX_ENTRIES
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        let window = if explicit {
            KEY_WINDOW
        } else {
            self.content_window
        };
        let entry = entries.entry(key.to_owned()).or_insert_with(|| Entry {
            created: Instant::now(),
            window,
            cell: Arc::new(OnceCell::new()),
        });
        entry.cell.clone()
    }

    /// Runs `post` unless an outcome for `key` is remembered (or being produced); returns the
    /// outcome and whether it was a remembered one.
    ///
    /// # Errors
    /// `post`'s error; nothing is remembered then.
    pub(crate) async fn run<E, F, Fut>(
        &self,
        key: &str,
        explicit: bool,
        post: F,
    ) -> Result<(T, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = self.cell(key, explicit);
        let mut ran = false;
        let value = cell
            .get_or_try_init(|| {
                ran = true;
                post()
            })
            .await?;
        Ok((value.clone(), !ran))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::{Deduper, post_key};

    #[test]
    fn keys_separate_channels_threads_and_texts() {
        let base = post_key(None, "C1", None, "hi");
        assert_eq!(base, post_key(None, "C1", None, "hi"));
        assert_ne!(base, post_key(None, "C2", None, "hi"));
        assert_ne!(base, post_key(None, "C1", Some("1.2"), "hi"));
        assert_ne!(
            post_key(None, "C1", None, "ab"),
            post_key(None, "C1a", None, "b")
        );
        assert_eq!(
            post_key(Some("k1"), "C1", None, "x"),
            post_key(Some("k1"), "C1", None, "y")
        );
    }

    #[tokio::test]
    async fn concurrent_and_repeated_calls_post_once_and_failures_are_forgotten() {
        let dedupe = Deduper::<u32>::new(Duration::from_secs(60));
        let posts = AtomicUsize::new(0);
        let post = || async {
            posts.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<u32, String>(7)
        };
        let (a, b) = tokio::join!(dedupe.run("k", false, post), dedupe.run("k", false, post));
        let (a, b) = (a.expect("first"), b.expect("second"));
        assert_eq!(posts.load(Ordering::SeqCst), 1);
        assert_eq!((a.0, b.0), (7, 7));
        assert!(a.1 != b.1, "exactly one call is the original");
        let failed = dedupe
            .run("other", false, || async {
                Err::<u32, String>("boom".into())
            })
            .await;
        assert!(failed.is_err());
        let retried = dedupe
            .run("other", false, || async { Ok::<u32, String>(9) })
            .await;
        assert_eq!(retried, Ok((9, false)));
    }

    #[tokio::test]
    async fn content_window_expires() {
        let dedupe = Deduper::<u32>::new(Duration::from_millis(20));
        assert_eq!(
            dedupe.run("k", false, || async { Ok::<u32, ()>(1) }).await,
            Ok((1, false))
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(
            dedupe.run("k", false, || async { Ok::<u32, ()>(2) }).await,
            Ok((2, false))
        );
    }
}
