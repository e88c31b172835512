//! The fixture's tools, named as the conformance scenarios call them. One file per scenario
//! family, each contributing a `#[tool_router]` block:
//!
//! - [`content`]: one tool per content type (text, image, audio, embedded resource, mixed) and
//!   the tool that fails (`isError`).
//! - [`notifications`]: progress and logging during a call, and the hooks that announce
//!   list changes on open `subscriptions/listen` streams.
//! - [`client_requests`]: 2025-11-25 tools that call back into the client mid-call (sampling,
//!   elicitation with defaults and with every enum shape).
//! - [`capabilities`]: 2026-07-28 tools that depend on capabilities the request declares.
//! - [`mrtr`]: 2026-07-28 multi round-trip tools returning `InputRequiredResult`.
//! - [`json_schema`]: a tool whose input schema uses JSON Schema 2020-12 keywords.
//! - [`tasks`]: 2026-07-28 tools that may answer with a task (the Tasks extension, SEP-2663).

pub(crate) mod capabilities;
pub(crate) mod client_requests;
pub(crate) mod content;
pub(crate) mod json_schema;
pub(crate) mod mrtr;
pub(crate) mod notifications;
pub(crate) mod tasks;

use rmcp::handler::server::tool::ToolRouter;

use crate::server::Fixture;

/// Every tool of the fixture.
pub(crate) fn router() -> ToolRouter<Fixture> {
    Fixture::content_router()
        + Fixture::notifications_router()
        + Fixture::client_requests_router()
        + Fixture::capabilities_router()
        + Fixture::mrtr_router()
        + Fixture::json_schema_router()
        + Fixture::tasks_router()
}
