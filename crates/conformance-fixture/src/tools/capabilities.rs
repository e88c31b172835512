//! 2026-07-28 tools that need a capability the client must declare in each request's `_meta`
//! (the `server-stateless` scenario): without it the call is refused with -32021
//! (missing required client capability) naming what is missing.

use rmcp::handler::server::tool::InputResponses;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, InputRequests,
    InputRequiredResult,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};

use crate::mrtr;
use crate::server::Fixture;

#[tool_router(router = capabilities_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "test_missing_capability",
        description = "Needs the sampling capability; refuses (-32021) a request that does not \
                       declare it.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_missing_capability(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let declared = context.client_capabilities().unwrap_or_default();
        if declared.sampling.is_none() {
            let mut required = ClientCapabilities::default();
            required.sampling = Some(Default::default());
            return Err(ErrorData::missing_required_client_capability(required));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text("Success")]))
    }

    #[tool(
        name = "test_streaming_elicitation",
        description = "Needs the elicitation capability: asks for a value through an \
                       InputRequiredResult, then completes.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_streaming_elicitation(
        &self,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let declared = context.client_capabilities().unwrap_or_default();
        if declared.elicitation.is_none() {
            let mut required = ClientCapabilities::default();
            required.elicitation = Some(Default::default());
            return Err(ErrorData::missing_required_client_capability(required));
        }
        if mrtr::answer(responses.as_ref(), "value").is_some() {
            let result = CallToolResult::success(vec![ContentBlock::text("Streaming complete")]);
            return Ok(result.into());
        }
        let mut requests = InputRequests::new();
        requests.insert(
            "value".to_owned(),
            mrtr::elicit("A value, please", "value", "string")?,
        );
        Ok(InputRequiredResult::from_input_requests(requests).into())
    }
}
