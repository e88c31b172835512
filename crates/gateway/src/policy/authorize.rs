//! Authorization: a caller sees and calls only the tools its allow/deny globs permit. A hidden
//! tool is answered exactly like a tool that does not exist, so scopes do not leak the catalog.

use futures::future::BoxFuture;

use super::{Layer, Next, Outcome, ToolCall};

/// The authorize layer.
pub(crate) struct Authorize;

impl Layer for Authorize {
    fn call<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        if !call.caller.access.permits(&call.exposed) || call.upstream.is_none() {
            let message = format!(
                "unknown tool {:?}: it does not exist or is not available to client {:?}; call \
                 tools/list for the tools you can use",
                call.exposed, call.caller.client
            );
            return Box::pin(std::future::ready(Outcome::refused("authorize", message)));
        }
        next.run(call)
    }
}
