//! Tools returning each content type (`tools-call-simple-text`, `-image`, `-audio`,
//! `-embedded-resource`, `-mixed-content`) and one that fails (`tools-call-error`).

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use rmcp::{tool, tool_router};
use serde_json::json;

use crate::data::{PNG_BASE64, WAV_BASE64};
use crate::server::Fixture;

#[tool_router(router = content_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "test_simple_text",
        description = "Returns one fixed text block.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_simple_text(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::text(
            "This is a simple text response for testing.",
        )])
    }

    #[tool(
        name = "test_image_content",
        description = "Returns a 1x1 PNG image block.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_image_content(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::image(PNG_BASE64, "image/png")])
    }

    #[tool(
        name = "test_audio_content",
        description = "Returns a tiny WAV audio block.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_audio_content(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::audio(WAV_BASE64, "audio/wav")])
    }

    #[tool(
        name = "test_embedded_resource",
        description = "Returns an embedded text resource block.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_embedded_resource(&self) -> CallToolResult {
        let resource = ResourceContents::text(
            "This is an embedded resource content.",
            "test://embedded-resource",
        )
        .with_mime_type("text/plain");
        CallToolResult::success(vec![ContentBlock::resource(resource)])
    }

    #[tool(
        name = "test_multiple_content_types",
        description = "Returns text, image and embedded resource blocks in one result.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_multiple_content_types(&self) -> CallToolResult {
        let resource = ResourceContents::text(
            json!({ "test": "data", "value": 123 }).to_string(),
            "test://mixed-content-resource",
        )
        .with_mime_type("application/json");
        CallToolResult::success(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(PNG_BASE64, "image/png"),
            ContentBlock::resource(resource),
        ])
    }

    #[tool(
        name = "test_error_handling",
        description = "Always fails: returns an isError result.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn test_error_handling(&self) -> Result<CallToolResult, String> {
        Err("This tool intentionally returns an error for testing".to_owned())
    }
}
