//! Wire types of the Anthropic Messages API (`POST /v1/messages`, `anthropic-version: 2023-06-01`):
//! the request the loop sends, the message it gets back, content blocks and token usage.
//!
//! Content blocks the loop does not interpret (thinking, server tool results, …) are kept verbatim
//! as JSON so they can be sent back unchanged when the conversation continues.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user side: the task and tool results.
    User,
    /// Claude.
    Assistant,
}

/// One message of the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author of the message.
    pub role: Role,
    /// Ordered content blocks.
    pub content: Vec<ContentBlock>,
}

impl Message {
    /// A user message holding one text block.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![ContentBlock::text(text)],
        }
    }
}

/// A content block: one of the kinds the loop understands, or any other block kept verbatim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContentBlock {
    /// A block the loop reads or writes.
    Known(KnownBlock),
    /// Any other block (`thinking`, `server_tool_use`, …), sent back exactly as received.
    Other(Value),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Known(KnownBlock::Text { text: text.into() })
    }

    /// The text of a text block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Known(KnownBlock::Text { text }) => Some(text),
            _ => None,
        }
    }

    /// The `(id, name, input)` of a `tool_use` block.
    pub fn as_tool_use(&self) -> Option<(&str, &str, &Value)> {
        match self {
            Self::Known(KnownBlock::ToolUse { id, name, input }) => Some((id, name, input)),
            _ => None,
        }
    }
}

/// The content blocks the loop interprets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownBlock {
    /// Text written by Claude or the user.
    Text {
        /// The text.
        text: String,
    },
    /// Claude asks for a client tool to be run.
    ToolUse {
        /// `toolu_…` id the result must refer to.
        id: String,
        /// Tool name from the offered catalog.
        name: String,
        /// Arguments, an object matching the tool's `input_schema`.
        input: Value,
    },
    /// The result of one tool call, sent in the user message that follows the `tool_use`.
    ToolResult {
        /// The `id` of the `tool_use` block this answers.
        tool_use_id: String,
        /// The tool's output as text.
        content: String,
        /// Whether the call failed (the model should read `content` as an error).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

/// Token counts reported by the API for one response (or summed over a run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Generated tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub cache_read_input_tokens: u64,
}

fn null_as_zero<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(deserializer)?.unwrap_or(0))
}

impl Usage {
    /// Every token the response consumed or produced: input (cached or not) plus output.
    pub fn total(&self) -> u64 {
        self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
    }

    /// Adds another response's counts to these.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }
}

/// A message returned by the API (`"type": "message"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiMessage {
    /// `msg_…` id.
    pub id: String,
    /// Model that produced it.
    #[serde(default)]
    pub model: String,
    /// Generated content blocks.
    pub content: Vec<ContentBlock>,
    /// Why generation stopped; `None` only in an incomplete stream.
    pub stop_reason: Option<String>,
    /// The stop sequence that matched, when `stop_reason` is `stop_sequence`.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
}

impl ApiMessage {
    /// The text blocks joined together.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(ContentBlock::as_text)
            .collect()
    }
}

/// A tool offered to the model, as sent in the request's `tools` array: a client tool, or (with
/// `kind`) the API's tool search tool.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolParam {
    /// The server tool's type (`tool_search_tool_bm25_20251119`); none for a client tool.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Name matching `^[a-zA-Z0-9_-]{1,64}$`.
    pub name: String,
    /// What the tool does, for the model (none for a server tool).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// JSON Schema of the input; `type` is `object` (none for a server tool).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub input_schema: Value,
    /// Left out of the model's context until the tool search tool finds it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub defer_loading: bool,
    /// Prompt-cache breakpoint (set on the last tool only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
}

/// The beta the tool search tool and `defer_loading` need.
pub const TOOL_SEARCH_BETA: &str = "advanced-tool-use-2025-11-20";

impl ToolParam {
    /// The API's BM25 tool search tool, which finds deferred tools by what they do.
    pub fn tool_search() -> Self {
        Self {
            kind: Some("tool_search_tool_bm25_20251119"),
            name: "tool_search_tool_bm25".to_owned(),
            description: String::new(),
            input_schema: Value::Null,
            defer_loading: false,
            cache_control: None,
        }
    }
}

/// The body of `POST /v1/messages`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessagesRequest {
    /// Model id.
    pub model: String,
    /// Output token limit for this response.
    pub max_tokens: u32,
    /// System prompt as text blocks (so it can carry a cache breakpoint).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<Value>,
    /// Tool catalog; identical on every turn so the prompt cache stays valid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolParam>,
    /// The conversation, with a cache breakpoint on its last user block when enabled.
    pub messages: Vec<Value>,
    /// Whether to stream the response as server-sent events.
    pub stream: bool,
    /// Betas the request needs (`anthropic-beta`).
    #[serde(skip)]
    pub betas: Vec<&'static str>,
}

/// The `cache_control` value marking a prompt-cache breakpoint.
pub fn ephemeral() -> Value {
    serde_json::json!({"type": "ephemeral"})
}

/// Serializes the conversation for a request. With `cache_last_user`, the last block of the last
/// user message gets a cache breakpoint, so every turn reuses the cached prefix of the turn before.
pub fn wire_messages(messages: &[Message], cache_last_user: bool) -> Vec<Value> {
    // Serializing these types cannot fail: every map key is a string.
    let mut wire: Vec<Value> = messages
        .iter()
        .map(|message| serde_json::to_value(message).unwrap_or(Value::Null))
        .collect();
    let last_user = messages.iter().rposition(|m| m.role == Role::User);
    if let (true, Some(index)) = (cache_last_user, last_user) {
        let block = wire[index]
            .get_mut("content")
            .and_then(Value::as_array_mut)
            .and_then(|blocks| blocks.last_mut())
            .and_then(Value::as_object_mut);
        if let Some(block) = block {
            block.insert("cache_control".into(), ephemeral());
        }
    }
    wire
}

/// The system prompt as one text block carrying a cache breakpoint.
pub fn system_blocks(system: &str) -> Vec<Value> {
    if system.is_empty() {
        return Vec::new();
    }
    let mut block = Map::new();
    block.insert("type".into(), "text".into());
    block.insert("text".into(), system.into());
    block.insert("cache_control".into(), ephemeral());
    vec![Value::Object(block)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_blocks_round_trip_verbatim() {
        let raw = json!({"type": "thinking", "thinking": "hmm", "signature": "abc"});
        let block: ContentBlock = serde_json::from_value(raw.clone()).unwrap();
        assert!(matches!(block, ContentBlock::Other(_)));
        assert_eq!(serde_json::to_value(&block).unwrap(), raw);
    }

    #[test]
    fn known_blocks_parse() {
        let block: ContentBlock = serde_json::from_value(
            json!({"type": "tool_use", "id": "toolu_1", "name": "q", "input": {"a": 1}}),
        )
        .unwrap();
        assert_eq!(
            block.as_tool_use(),
            Some(("toolu_1", "q", &json!({"a": 1})))
        );
        let text: ContentBlock =
            serde_json::from_value(json!({"type": "text", "text": "hi", "citations": null}))
                .unwrap();
        assert_eq!(text.as_text(), Some("hi"));
    }

    #[test]
    fn tool_result_omits_false_is_error() {
        let ok = ContentBlock::Known(KnownBlock::ToolResult {
            tool_use_id: "t".into(),
            content: "x".into(),
            is_error: false,
        });
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"type": "tool_result", "tool_use_id": "t", "content": "x"})
        );
    }

    #[test]
    fn usage_accepts_null_cache_fields() {
        let usage: Usage = serde_json::from_value(json!({
            "input_tokens": 3, "output_tokens": 4,
            "cache_creation_input_tokens": null, "cache_read_input_tokens": 5
        }))
        .unwrap();
        assert_eq!(usage.total(), 12);
    }

    #[test]
    fn breakpoint_only_on_last_user_block() {
        let messages = vec![
            Message::user_text("a"),
            Message {
                role: Role::Assistant,
                content: vec![ContentBlock::text("b")],
            },
            Message {
                role: Role::User,
                content: vec![ContentBlock::text("c"), ContentBlock::text("d")],
            },
        ];
        let wire = wire_messages(&messages, true);
        assert!(wire[0]["content"][0].get("cache_control").is_none());
        assert!(wire[2]["content"][0].get("cache_control").is_none());
        assert_eq!(wire[2]["content"][1]["cache_control"], ephemeral());
        let wire = wire_messages(&messages[..2], true);
        assert_eq!(wire[0]["content"][0]["cache_control"], ephemeral());
        assert!(wire[1]["content"][0].get("cache_control").is_none());
        let wire = wire_messages(&messages, false);
        assert!(wire[2]["content"][1].get("cache_control").is_none());
    }
}
