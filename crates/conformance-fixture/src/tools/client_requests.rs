//! 2025-11-25 tools that call back into the client in the middle of a call: sampling
//! (`tools-call-sampling`), elicitation (`tools-call-elicitation`), elicitation with defaults
//! for every primitive type (`elicitation-sep1034-defaults`) and with every enum shape
//! (`elicitation-sep1330-enums`). On 2026-07-28 a server may not send requests; the
//! multi round-trip tools in [`super::mrtr`] replace these there.

#![expect(
    deprecated,
    reason = "sampling is a 2025-11-25 feature the suite still tests"
)]

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, CreateMessageRequestParams, ElicitRequestParams};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::server::Fixture;

/// Arguments of `test_sampling`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SamplingArgs {
    /// The prompt to send to the client's model.
    prompt: String,
}

/// Arguments of `test_elicitation`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ElicitationArgs {
    /// The message to show the user.
    message: String,
}

#[tool_router(router = client_requests_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "test_sampling",
        description = "Asks the client's model to answer `prompt` (sampling/createMessage) and \
                       returns the answer.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn test_sampling(
        &self,
        Parameters(args): Parameters<SamplingArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let params: CreateMessageRequestParams = from_json(json!({
            "messages": [{ "role": "user", "content": { "type": "text", "text": args.prompt } }],
            "maxTokens": 100,
        }))
        .map_err(|error| error.message.to_string())?;
        let result = context
            .peer
            .create_message(params)
            .await
            .map_err(|error| format!("sampling failed: {error}"))?;
        let text = serde_json::to_value(&result.message)
            .ok()
            .and_then(|message| message["content"]["text"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "No response".to_owned());
        Ok(text_result(format!("LLM response: {text}")))
    }

    #[tool(
        name = "test_elicitation",
        description = "Asks the user for a username and email (elicitation/create) and returns \
                       their answer.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn test_elicitation(
        &self,
        Parameters(args): Parameters<ElicitationArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let schema = json!({
            "type": "object",
            "properties": {
                "username": { "type": "string", "description": "User's response" },
                "email": { "type": "string", "description": "User's email address" },
            },
            "required": ["username", "email"],
        });
        let answer = elicit(&context, &args.message, schema).await?;
        Ok(text_result(format!("User response: {answer}")))
    }

    #[tool(
        name = "test_elicitation_sep1034_defaults",
        description = "Asks the user to review a form whose fields all have defaults.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn test_elicitation_sep1034_defaults(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "description": "User name", "default": "John Doe" },
                "age": { "type": "integer", "description": "User age", "default": 30 },
                "score": { "type": "number", "description": "User score", "default": 95.5 },
                "status": {
                    "type": "string", "description": "User status",
                    "enum": ["active", "inactive", "pending"], "default": "active",
                },
                "verified": {
                    "type": "boolean", "description": "Verification status", "default": true,
                },
            },
            "required": [],
        });
        let message = "Please review and update the form fields with defaults";
        let answer = elicit(&context, message, schema).await?;
        Ok(text_result(format!("Elicitation completed: {answer}")))
    }

    #[tool(
        name = "test_elicitation_sep1330_enums",
        description = "Asks the user to pick from five enum fields (untitled, titled, legacy \
                       titled, untitled multi-select, titled multi-select).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn test_elicitation_sep1330_enums(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let titled = |prefix: &str| {
            json!([
                { "const": "value1", "title": format!("First {prefix}") },
                { "const": "value2", "title": format!("Second {prefix}") },
                { "const": "value3", "title": format!("Third {prefix}") },
            ])
        };
        let options = json!(["option1", "option2", "option3"]);
        let schema = json!({
            "type": "object",
            "properties": {
                "untitledSingle": {
                    "type": "string", "description": "Select one option", "enum": options,
                },
                "titledSingle": {
                    "type": "string", "description": "Select one option with titles",
                    "oneOf": titled("Option"),
                },
                "legacyEnum": {
                    "type": "string", "description": "Select one option (legacy)",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array", "description": "Select multiple options",
                    "minItems": 1, "maxItems": 3,
                    "items": { "type": "string", "enum": options },
                },
                "titledMulti": {
                    "type": "array", "description": "Select multiple options with titles",
                    "minItems": 1, "maxItems": 3,
                    "items": { "anyOf": titled("Choice") },
                },
            },
            "required": [],
        });
        let message = "Please select options from the enum fields";
        let answer = elicit(&context, message, schema).await?;
        Ok(text_result(format!("Elicitation completed: {answer}")))
    }
}

/// Sends a form elicitation and describes the answer as `action=…, content=…`.
async fn elicit(
    context: &RequestContext<RoleServer>,
    message: &str,
    schema: Value,
) -> Result<String, String> {
    let params: ElicitRequestParams = from_json(json!({
        "mode": "form",
        "message": message,
        "requestedSchema": schema,
    }))
    .map_err(|error| error.message.to_string())?;
    let result = context
        .peer
        .create_elicitation(params)
        .await
        .map_err(|error| format!("elicitation failed: {error}"))?;
    let action = serde_json::to_value(result.action).unwrap_or(Value::Null);
    let content = result.content.unwrap_or_else(|| json!({}));
    Ok(format!(
        "action={}, content={content}",
        action.as_str().unwrap_or("unknown")
    ))
}

fn from_json<T: DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|error| {
        ErrorData::internal_error(format!("fixture built an invalid request: {error}"), None)
    })
}

fn text_result(text: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}
