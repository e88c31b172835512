//! Authorization: a caller sees and calls only the tools its allow/deny globs permit. A hidden
//! tool is answered exactly like a tool that does not exist, so scopes do not leak the catalog
//! (the audit log says which it was: `refused` by this layer, or `unknown_tool`).

use futures::future::BoxFuture;

use super::{Layer, Next, Outcome, ToolCall};

/// The authorize layer.
pub(crate) struct Authorize;

/// The layer's name in outcomes and audit records.
pub(crate) const LAYER: &str = "authorize";

/// What a caller is told of a tool that does not exist for it: the same words whether it does
/// not exist at all or is hidden by the caller's scopes.
pub(crate) fn unknown_tool(name: &str, client: &str) -> String {
    format!(
        "unknown tool {name:?}: it does not exist or is not available to client {client:?}; call \
         tools/list for the tools you can use"
    )
}

impl Layer for Authorize {
    fn call<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        if !call.caller.access.permits(&call.exposed) {
            let message = unknown_tool(&call.exposed, &call.caller.client);
            return Box::pin(std::future::ready(Outcome::refused(LAYER, message)));
        }
        next.run(call)
    }
}
