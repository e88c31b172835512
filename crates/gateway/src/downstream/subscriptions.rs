//! Resource subscriptions and list-change notifications: a 2025-11-25 session's
//! `resources/subscribe`, a 2026-07-28 `subscriptions/listen` stream's resources, and what a
//! catalog change means to a listener.

use std::sync::Arc;

use rmcp::model::{
    ClientRequest, ErrorCode, ErrorData, SubscribeRequest, SubscribeRequestParams,
    UnsubscribeRequest, UnsubscribeRequestParams,
};
use rmcp::service::SubscriptionContext;

use super::{Downstream, forward_relayed, resource_not_found};
use crate::caller::Caller;
use crate::catalog::ListChanges;
use crate::upstream::Upstream;
use crate::upstream::{Relay, Subscriber};

/// Routes `uri`'s updates to `subscriber` (known as `key`: a session id, or a listen stream's
/// own) and asks the upstream for them; undone when the upstream refuses.
pub(super) async fn subscribe_resource(
    upstream: &Upstream,
    uri: &str,
    key: &str,
    subscriber: Subscriber,
    relay: Option<Arc<Relay>>,
) -> Result<(), ErrorData> {
    upstream.routes.subscribe(uri, key, subscriber);
    let params = SubscribeRequestParams::new(uri.to_owned());
    let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(params));
    if let Err(error) = forward_relayed(upstream, request, relay).await {
        upstream.routes.unsubscribe(uri, key);
        return Err(error);
    }
    Ok(())
}

/// Stops routing `uri`'s updates to `key`; the upstream keeps sending them while anyone else is
/// subscribed, and is told to stop otherwise.
pub(super) async fn unsubscribe_resource(
    upstream: &Upstream,
    uri: &str,
    key: &str,
    relay: Option<Arc<Relay>>,
) -> Result<(), ErrorData> {
    if upstream.routes.unsubscribe(uri, key) {
        return Ok(());
    }
    let params = UnsubscribeRequestParams::new(uri.to_owned());
    let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(params));
    forward_relayed(upstream, request, relay).await.map(drop)
}

/// What a catalog change means to a listener: `None` once the gateway is gone; every list when
/// notifications were missed.
pub(super) fn received(
    change: Result<ListChanges, tokio::sync::broadcast::error::RecvError>,
) -> Option<ListChanges> {
    match change {
        Ok(changes) => Some(changes),
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some(ListChanges::ALL),
        Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
    }
}

/// A listen stream's resource subscriptions, taken out of the upstreams' routes when the stream
/// ends (and the upstream told when nobody else wants a resource's updates).
pub(super) struct StreamSubscriptions {
    key: String,
    resources: Vec<(Arc<Upstream>, String)>,
}

impl Drop for StreamSubscriptions {
    fn drop(&mut self) {
        let resources = std::mem::take(&mut self.resources);
        let key = self.key.clone();
        tokio::spawn(async move {
            for (upstream, uri) in resources {
                let _ = unsubscribe_resource(&upstream, &uri, &key, None).await;
            }
        });
    }
}

impl Downstream {
    /// Subscribes a listen stream to the resources it named that the caller may see; unknown
    /// and hidden ones are left out silently, as are upstreams that refuse the subscription.
    pub(super) async fn listen_to_resources(
        &self,
        context: &SubscriptionContext,
    ) -> Result<StreamSubscriptions, ErrorData> {
        let request = context.request_context();
        let caller = self.caller(request)?;
        let mut subscriptions = StreamSubscriptions {
            key: format!("listen {}", uuid::Uuid::new_v4()),
            resources: Vec::new(),
        };
        let uris = context.accepted().resource_subscriptions.iter().flatten();
        for uri in uris {
            let Ok(upstreams) = self.resource_upstreams(&caller, uri) else {
                continue;
            };
            // Sent as the gateway's own request (no relay), in the era of its connection to the
            // upstream: `resources/subscribe` does not exist in the listening client's era.
            let key = &subscriptions.key;
            let subscribed = in_turn(upstreams, uri, |upstream| {
                let sink = Subscriber::Stream(context.sink().clone());
                async move { subscribe_resource(&upstream, uri, key, sink, None).await }
            })
            .await;
            match subscribed {
                Ok((upstream, ())) => subscriptions.resources.push((upstream, uri.clone())),
                Err(error) => {
                    let error = error.message;
                    tracing::info!(%uri, %error, "no upstream took a resource subscription");
                }
            }
        }
        Ok(subscriptions)
    }

    /// The upstreams that may serve resource `uri` for `caller`, in the order to ask them: the
    /// one that lists it or whose template matches it; else every upstream the caller may see
    /// that offers resources (a URI a tool returned need not be listed anywhere).
    pub(super) fn resource_upstreams(
        &self,
        caller: &Caller,
        uri: &str,
    ) -> Result<Vec<Arc<Upstream>>, ErrorData> {
        let catalog = self.gateway.catalog();
        let upstreams: Vec<_> = match catalog.resource_server(uri) {
            Some(server) => self
                .gateway
                .upstream(server)
                .filter(|_| self.gateway.sees_server(caller, server))
                .into_iter()
                .collect(),
            None => self
                .gateway
                .upstreams()
                .into_iter()
                .filter(|u| u.has_resources() && self.gateway.sees_server(caller, &u.name))
                .collect(),
        };
        if upstreams.is_empty() {
            return Err(resource_not_found(uri));
        }
        Ok(upstreams)
    }

    /// The upstream that holds `key`'s subscription to `uri`, else those that may serve it.
    pub(super) fn subscribed_upstreams(
        &self,
        caller: &Caller,
        uri: &str,
    ) -> Result<Vec<Arc<Upstream>>, ErrorData> {
        let holding: Vec<_> = self
            .gateway
            .upstreams()
            .into_iter()
            .filter(|u| u.routes.is_subscribed(uri, &caller.session))
            .collect();
        if holding.is_empty() {
            self.resource_upstreams(caller, uri)
        } else {
            Ok(holding)
        }
    }
}

/// Asks `upstreams` in turn until one answers: a "not found" (or invalid params) from one moves
/// on to the next; any other error, or the last one's, is the answer.
pub(super) async fn in_turn<T, F, Fut>(
    upstreams: Vec<Arc<Upstream>>,
    uri: &str,
    mut ask: F,
) -> Result<(Arc<Upstream>, T), ErrorData>
where
    F: FnMut(Arc<Upstream>) -> Fut,
    Fut: Future<Output = Result<T, ErrorData>>,
{
    let mut last = None;
    for upstream in upstreams {
        match ask(upstream.clone()).await {
            Ok(answer) => return Ok((upstream, answer)),
            Err(error)
                if error.code == ErrorCode::RESOURCE_NOT_FOUND
                    || error.code == ErrorCode::INVALID_PARAMS =>
            {
                last = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| resource_not_found(uri)))
}
