//! A coalescing "look again" signal between producers and one consumer, bounded by construction:
//! the queue holds one signal at most. A signal sent while one is already waiting is dropped —
//! the waiting one already makes the consumer look at the current state, which includes the
//! newer change — so a producer never waits and nothing piles up, however often it signals.
//!
//! Used where the consumer re-reads everything on any signal: an upstream's list changes (the
//! supervisor lists it again) and listing updates (the gateway rebuilds its catalog).

use tokio::sync::mpsc;

/// The producers' end; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Notifier(mpsc::Sender<()>);

/// The consumer's end.
#[derive(Debug)]
pub(crate) struct Waiter(mpsc::Receiver<()>);

/// A new signal.
pub(crate) fn pending() -> (Notifier, Waiter) {
    let (tx, rx) = mpsc::channel(1);
    (Notifier(tx), Waiter(rx))
}

impl Notifier {
    /// Asks the consumer to look again; never waits.
    pub(crate) fn notify(&self) {
        // Full: a signal is waiting already and covers this one. Closed: nobody looks any more.
        let _ = self.0.try_send(());
    }
}

impl Waiter {
    /// Waits for a signal; `false` once every notifier is gone.
    pub(crate) async fn changed(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn signals_coalesce_into_one_and_never_block_the_producer() {
        let (notifier, mut waiter) = pending();
        for _ in 0..10_000 {
            notifier.notify();
        }
        assert!(waiter.changed().await);
        // Everything above was one look; nothing else is queued.
        assert!(waiter.0.try_recv().is_err());
        // A change while the consumer works is one more look.
        notifier.notify();
        assert!(waiter.changed().await);
        drop(notifier);
        assert!(!waiter.changed().await);
    }
}
