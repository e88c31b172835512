//! Tasks (the 2026-07-28 Tasks extension, SEP-2663) that clients follow through the gateway with
//! `tasks/get`, `tasks/update` and `tasks/cancel`, of two kinds:
//! - the gateway's own: a call from a client that declared the extension and that would wait in
//!   the approval queue is answered at once with a task, which completes with the call's result
//!   once an operator decides (or fails when nobody does in time; `tasks/cancel` withdraws it);
//! - an upstream's: an upstream answers `tools/call` with a task when the client declared the
//!   extension (its capabilities travel upstream with the request); the gateway sends the
//!   client's `tasks/*` requests for it back to that upstream.
//!
//! The client sees an id of the gateway's, random and unguessable, never the upstream's: two
//! upstreams may pick the same ids, and an id is honoured only for the client whose call created
//! it. Routes are kept for the task's `ttlMs` (at most a day; a day when the upstream sets none),
//! at most [`MAX_ROUTES`] of them; past that the one closest to expiry is dropped. They live in
//! this process: behind a balancer, a client follows its tasks through the replica that created
//! them (sticky sessions), or gets "no such task" elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rmcp::model::{CreateTaskResult, ErrorData, Task};
use tokio::time::Instant;

/// The most task routes kept.
pub(crate) const MAX_ROUTES: usize = 10_000;
/// The longest a route is kept.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// Where a task lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// In the gateway's own task manager, under the same id.
    Own,
    /// At an upstream.
    Upstream {
        /// The upstream server holding it.
        server: String,
        /// Its id there.
        upstream_id: String,
    },
}

struct Entry {
    route: Route,
    client: String,
    expires: Instant,
}

/// The tasks of the calls relayed through this gateway, by the ids clients know them by.
#[derive(Default)]
pub(crate) struct TaskRoutes {
    entries: Mutex<HashMap<String, Entry>>,
}

impl TaskRoutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers `task`, created by `server` for a call of `client`, and gives it the id the
    /// client will know it by.
    pub(crate) fn add(&self, server: &str, client: &str, task: &mut CreateTaskResult) {
        let id = uuid::Uuid::new_v4().to_string();
        let upstream_id = std::mem::replace(&mut task.task.task_id, id.clone());
        let route = Route::Upstream {
            server: server.to_owned(),
            upstream_id,
        };
        self.insert(id, route, client, task.task.ttl_ms);
    }

    /// Remembers the gateway's own task `task`, created for a call of `client`.
    pub(crate) fn add_own(&self, client: &str, task: &Task) {
        self.insert(task.task_id.clone(), Route::Own, client, task.ttl_ms);
    }

    fn insert(&self, id: String, route: Route, client: &str, ttl_ms: Option<u64>) {
        let now = Instant::now();
        let ttl = ttl_ms.map_or(MAX_TTL, Duration::from_millis).min(MAX_TTL);
        let mut entries = self.lock();
        crate::expiring::make_room(&mut entries, MAX_ROUTES, now, |e| e.expires);
        entries.insert(
            id,
            Entry {
                route,
                client: client.to_owned(),
                expires: now + ttl,
            },
        );
    }

    /// Where the task the client `client` knows as `id` lives.
    ///
    /// # Errors
    /// Invalid params (as for any unknown task) when there is no such task, it expired, or
    /// another client's call created it.
    pub(crate) fn route(&self, id: &str, client: &str) -> Result<Route, ErrorData> {
        let entries = self.lock();
        entries
            .get(id)
            .filter(|e| e.client == client && e.expires > Instant::now())
            .map(|e| e.route.clone())
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    format!("no task {id:?}: it never existed, expired, or is not yours"),
                    None,
                )
            })
    }

    /// How many routes are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::TaskStatus;

    use super::*;

    fn task(id: &str, ttl_ms: Option<u64>) -> CreateTaskResult {
        let mut task = Task::new(id, TaskStatus::Working, "t", "t");
        task.ttl_ms = ttl_ms;
        CreateTaskResult::new(task)
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_is_routed_for_its_client_only_until_it_expires() {
        let routes = TaskRoutes::default();
        let (mut a, mut b) = (task("1", Some(60_000)), task("1", None));
        routes.add("alpha", "ci", &mut a);
        routes.add("beta", "ci", &mut b);
        let (a_id, b_id) = (a.task.task_id.clone(), b.task.task_id.clone());
        assert_ne!(a_id, "1", "the client never sees the upstream's id");
        assert_ne!(a_id, b_id, "the same upstream id twice is two tasks");
        assert_eq!(
            routes.route(&a_id, "ci").unwrap(),
            Route::Upstream {
                server: "alpha".into(),
                upstream_id: "1".into()
            }
        );
        assert!(matches!(
            routes.route(&b_id, "ci").unwrap(),
            Route::Upstream { server, .. } if server == "beta"
        ));
        let own = task("gw-1", Some(1_000)).task;
        routes.add_own("ci", &own);
        assert_eq!(routes.route("gw-1", "ci").unwrap(), Route::Own);
        assert!(routes.route(&a_id, "ops").is_err(), "another client's task");
        assert!(
            routes.route("1", "ci").is_err(),
            "the upstream's id is not a route"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(routes.route(&a_id, "ci").is_err(), "expired with its ttl");
        assert!(routes.route(&b_id, "ci").is_ok(), "no ttl: kept for a day");
    }

    #[tokio::test(start_paused = true)]
    async fn routes_are_bounded() {
        let routes = TaskRoutes::default();
        for i in 0..MAX_ROUTES + 10 {
            routes.add("s", "ci", &mut task(&i.to_string(), Some(60_000)));
        }
        assert_eq!(routes.len(), MAX_ROUTES);
    }
}
