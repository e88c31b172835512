//! `json_schema_2020_12_tool` (`json-schema-2020-12`): a tool whose listed input schema uses
//! JSON Schema 2020-12 keywords (`$schema`, `$defs` with `$anchor`, `$ref`, `allOf`/`anyOf`,
//! `if`/`then`/`else`, `additionalProperties`) that clients must pass through untouched.

use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::Fixture;

const NAME: &str = "json_schema_2020_12_tool";

/// A postal address.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
pub(crate) struct Address {
    /// Street and number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    street: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city: Option<String>,
}

/// Arguments of `json_schema_2020_12_tool` (the listed schema is [`raw_schema`]).
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
pub(crate) struct JsonSchemaArgs {
    /// A name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// An address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
    /// How to contact: `phone` or `email`.
    #[serde(
        default,
        rename = "contactMethod",
        skip_serializing_if = "Option::is_none"
    )]
    contact_method: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

#[tool_router(router = json_schema_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "json_schema_2020_12_tool",
        description = "Echoes its arguments; its input schema exercises JSON Schema 2020-12.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn json_schema_2020_12_tool(
        &self,
        Parameters(args): Parameters<JsonSchemaArgs>,
    ) -> CallToolResult {
        let echoed = serde_json::to_string(&args).unwrap_or_default();
        CallToolResult::success(vec![ContentBlock::text(format!(
            "JSON Schema 2020-12 tool called with: {echoed}"
        ))])
    }
}

/// Replaces the derived input schema of `json_schema_2020_12_tool` by [`raw_schema`]; other
/// tools pass through.
pub(crate) fn with_raw_schema(mut tool: Tool) -> Tool {
    if tool.name == NAME {
        tool.input_schema = Arc::new(raw_schema());
    }
    tool
}

/// The listed input schema of `json_schema_2020_12_tool`.
fn raw_schema() -> JsonObject {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": { "street": { "type": "string" }, "city": { "type": "string" } },
            },
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" },
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false,
    });
    match schema {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}
