//! Where one upstream's traffic for clients goes ([`Routes`]): the forwarded requests in flight
//! (by progress token, and the most recent one), and the clients subscribed to each resource.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{ProgressToken, ResourceUpdatedNotificationParam};
use rmcp::service::{Peer, RoleServer, SubscriptionSink};

use super::relay::Relay;

/// The clients subscribed to each resource URI: (session, its peer).
type Subscribers = HashMap<String, Vec<(String, Subscriber)>>;

/// Where a resource's updates go: a 2025-11-25 session that called `resources/subscribe`, or a
/// 2026-07-28 client's `subscriptions/listen` stream that named the resource.
#[derive(Clone)]
pub(crate) enum Subscriber {
    Session(Peer<RoleServer>),
    Stream(SubscriptionSink),
}

impl Subscriber {
    /// A closed session; a stream is taken out when its listen request ends.
    fn is_gone(&self) -> bool {
        match self {
            Self::Session(peer) => peer.is_transport_closed(),
            Self::Stream(_) => false,
        }
    }

    pub(super) async fn updated(&self, params: ResourceUpdatedNotificationParam) {
        let _ = match self {
            Self::Session(peer) => peer.notify_resource_updated(params).await.is_ok(),
            Self::Stream(sink) => sink.notify_resource_updated(params.uri).await.is_ok(),
        };
    }
}

/// The mark a forwarded request carries (in its extensions) to the transport: its relay, and
/// whether the gateway has stopped waiting for it (then it is not recorded, should it be written
/// after all).
#[derive(Clone)]
pub(crate) struct Forwarded {
    relay: Arc<Relay>,
    finished: Arc<AtomicBool>,
}

impl Forwarded {
    pub(crate) fn new(relay: Arc<Relay>) -> Self {
        Self {
            relay,
            finished: Arc::default(),
        }
    }
}

struct Route {
    progress_token: Option<ProgressToken>,
    forwarded: Forwarded,
}

/// Where one upstream's traffic for clients goes: the forwarded requests in flight, and the
/// clients subscribed to each resource. Outlives connections (subscriptions survive a restart of
/// the gateway's bookkeeping; the upstream is asked again on the next subscribe).
#[derive(Default)]
pub(crate) struct Routes {
    in_flight: Mutex<Vec<Route>>,
    subscribers: Mutex<Subscribers>,
}

impl Routes {
    fn flights(&self) -> std::sync::MutexGuard<'_, Vec<Route>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn register(&self, progress_token: Option<ProgressToken>, forwarded: &Forwarded) {
        let mut flights = self.flights();
        if !forwarded.finished.load(Ordering::SeqCst) {
            flights.push(Route {
                progress_token,
                forwarded: forwarded.clone(),
            });
        }
    }

    /// Forgets a forwarded request (answered, cancelled or abandoned), written or not.
    pub(crate) fn finish(&self, forwarded: &Forwarded) {
        let mut flights = self.flights();
        forwarded.finished.store(true, Ordering::SeqCst);
        flights.retain(|r| !Arc::ptr_eq(&r.forwarded.finished, &forwarded.finished));
    }

    pub(super) fn by_progress(&self, token: &ProgressToken) -> Option<Arc<Relay>> {
        self.flights()
            .iter()
            .find(|r| r.progress_token.as_ref() == Some(token))
            .map(|r| r.forwarded.relay.clone())
    }

    pub(super) fn latest(&self) -> Option<Arc<Relay>> {
        self.flights().last().map(|r| r.forwarded.relay.clone())
    }

    /// Records that `session` (a session id, or a listen stream's own key) wants
    /// `notifications/resources/updated` for `uri`.
    pub(crate) fn subscribe(&self, uri: &str, session: &str, subscriber: Subscriber) {
        let mut subs = self.subs();
        let list = subs.entry(uri.to_owned()).or_default();
        list.retain(|(s, p)| s != session && !p.is_gone());
        list.push((session.to_owned(), subscriber));
    }

    /// Forgets `session`'s subscription to `uri`; returns whether anyone else still has one.
    pub(crate) fn unsubscribe(&self, uri: &str, session: &str) -> bool {
        let mut subs = self.subs();
        let Some(list) = subs.get_mut(uri) else {
            return false;
        };
        list.retain(|(s, p)| s != session && !p.is_gone());
        if list.is_empty() {
            subs.remove(uri);
            return false;
        }
        true
    }

    /// Whether `session` is subscribed to `uri` here.
    pub(crate) fn is_subscribed(&self, uri: &str, session: &str) -> bool {
        self.subs()
            .get(uri)
            .is_some_and(|list| list.iter().any(|(s, _)| s == session))
    }

    pub(super) fn subscribers(&self, uri: &str) -> Vec<Subscriber> {
        self.subs()
            .get(uri)
            .map(|list| list.iter().map(|(_, p)| p.clone()).collect())
            .unwrap_or_default()
    }
}
