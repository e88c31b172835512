//! A server transport that answers a request whose id duplicates one still in flight.
//!
//! JSON-RPC ids identify a request until its response: a client that sends a second request
//! with the id of one still being served has made an invalid request. rmcp's service keys the
//! requests it serves by id, so the second one silently takes the first one's place and one of
//! them is never answered. [`DistinctIds`] sits between the service and the wire: it remembers
//! the ids in flight, answers a duplicate at once with Invalid Request (never passing it on),
//! and forgets an id when its response (or error) is sent or the client cancels the request.
//! The set is bounded by what the service has in flight.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::RoleServer;
use rmcp::model::{ClientNotification, ErrorData, JsonRpcMessage, RequestId};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;

/// The ids of the requests in flight on one connection.
pub(crate) type Ids = Arc<Mutex<HashSet<RequestId>>>;

/// `transport` with duplicate request ids answered instead of served.
pub struct DistinctIds<T> {
    inner: T,
    in_flight: Ids,
}

impl<T> DistinctIds<T> {
    /// Wraps `transport`.
    pub fn new(transport: T) -> Self {
        Self::sharing(transport, Arc::default())
    }

    /// Wraps `transport`, with the ids in flight kept in `in_flight`, which requests served
    /// past the transport take their ids in too.
    pub(crate) fn sharing(transport: T, in_flight: Ids) -> Self {
        Self {
            inner: transport,
            in_flight,
        }
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, HashSet<RequestId>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error a duplicate gets.
pub fn duplicate_id(id: &RequestId) -> ErrorData {
    ErrorData::invalid_request(duplicate_id_message(&id.to_string()), None)
}

/// What a duplicate is told, for the request id `id` as the client wrote it.
pub fn duplicate_id_message(id: &str) -> String {
    format!(
        "request id {id} is already in use by a request still in flight; use a new id for each \
         request"
    )
}

impl<T> Transport<RoleServer> for DistinctIds<T>
where
    T: Transport<RoleServer>,
{
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            JsonRpcMessage::Response(response) => Some(&response.id),
            JsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        };
        if let Some(id) = answered {
            self.ids().remove(id);
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let message = self.inner.receive().await?;
            match &message {
                JsonRpcMessage::Request(request) if !self.ids().insert(request.id.clone()) => {
                    // Answered here, past `send`: the request that holds the id stays in flight.
                    let error =
                        JsonRpcMessage::error(duplicate_id(&request.id), Some(request.id.clone()));
                    if self.inner.send(error).await.is_err() {
                        return None;
                    }
                }
                JsonRpcMessage::Notification(notification) => {
                    if let ClientNotification::CancelledNotification(cancelled) =
                        &notification.notification
                        && let Some(id) = &cancelled.params.request_id
                    {
                        self.ids().remove(id);
                    }
                    return Some(message);
                }
                _ => return Some(message),
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
