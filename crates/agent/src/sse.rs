//! Streaming responses: server-sent-event framing (bytes → events, across arbitrary chunk
//! boundaries) and the Anthropic event sequence (`message_start`, `content_block_start/delta/stop`,
//! `message_delta`, `message_stop`, `ping`, `error`) assembled into the message a non-streaming
//! call would have returned.

use serde_json::{Map, Value};

use crate::messages::{ApiMessage, ContentBlock, KnownBlock, Usage};

/// One server-sent event: its `event:` name and its `data:` lines joined by `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when absent, per the SSE specification.
    pub event: String,
    /// The `data:` payload.
    pub data: String,
}

/// Incremental SSE parser: feed bytes as they arrive, take complete events out.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n' || b == b'\r') {
            // A `\r` at the very end may be the first half of `\r\n`: wait for the next byte.
            if self.buffer[end] == b'\r' && end + 1 == self.buffer.len() {
                break;
            }
            let skip = if self.buffer[end] == b'\r' && self.buffer[end + 1] == b'\n' {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            return data.map(|data| SseEvent {
                event: event.unwrap_or_else(|| "message".to_string()),
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

/// Something the stream says that the caller acts on.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamUpdate {
    /// Text was generated.
    TextDelta(String),
    /// The message is complete.
    Done,
}

/// Why a stream could not be assembled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The API sent an `error` event (for example `overloaded_error` under load).
    #[error("{error_type}: {message}")]
    Api {
        /// The error's `type`.
        error_type: String,
        /// The error's `message`.
        message: String,
    },
    /// An event could not be understood.
    #[error("malformed stream: {0}")]
    Malformed(String),
}

/// Assembles a streamed message from its events.
#[derive(Debug, Default)]
pub struct MessageAssembler {
    message: Option<ApiMessage>,
    /// Raw blocks by index, with the partial JSON of tool inputs alongside.
    blocks: Vec<(Value, String)>,
    /// Index of a tool input that was not complete JSON when its block stopped.
    incomplete_input: Option<usize>,
    done: bool,
}

impl MessageAssembler {
    /// An assembler that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `message_stop` has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Applies one event.
    ///
    /// # Errors
    /// [`StreamError::Api`] for an `error` event, [`StreamError::Malformed`] for an event whose
    /// data is not what the API documents.
    pub fn apply(&mut self, event: &SseEvent) -> Result<Option<StreamUpdate>, StreamError> {
        let data: Value = match event.event.as_str() {
            "ping" => return Ok(None),
            _ => serde_json::from_str(&event.data)
                .map_err(|e| StreamError::Malformed(format!("{} data: {e}", event.event)))?,
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&event.event);
        match kind {
            "message_start" => {
                let message = serde_json::from_value(data["message"].clone())
                    .map_err(|e| StreamError::Malformed(format!("message_start: {e}")))?;
                self.message = Some(message);
                Ok(None)
            }
            "content_block_start" => {
                let index = index_of(&data)?;
                // Blocks start in order (0, 1, 2, ...): an index past the next one would make the
                // assembler allocate for blocks that were never sent.
                if index > self.blocks.len() {
                    return Err(StreamError::Malformed(format!(
                        "content block {index} started before block {}",
                        self.blocks.len()
                    )));
                }
                if index == self.blocks.len() {
                    self.blocks.push((Value::Null, String::new()));
                }
                self.blocks[index] = (data["content_block"].clone(), String::new());
                Ok(None)
            }
            "content_block_delta" => self.delta(&data),
            "content_block_stop" => self.stop_block(index_of(&data)?),
            "message_delta" => {
                let message = self.message_mut()?;
                if let Some(reason) = data["delta"].get("stop_reason").and_then(Value::as_str) {
                    message.stop_reason = Some(reason.to_string());
                }
                if let Some(seq) = data["delta"].get("stop_sequence").and_then(Value::as_str) {
                    message.stop_sequence = Some(seq.to_string());
                }
                merge_usage(&mut message.usage, &data["usage"]);
                Ok(None)
            }
            "message_stop" => {
                self.done = true;
                Ok(Some(StreamUpdate::Done))
            }
            "error" => Err(StreamError::Api {
                error_type: data["error"]["type"]
                    .as_str()
                    .unwrap_or("error")
                    .to_string(),
                message: data["error"]["message"].as_str().unwrap_or("").to_string(),
            }),
            // New event types may be added; the API asks clients to ignore unknown ones.
            _ => Ok(None),
        }
    }

    fn message_mut(&mut self) -> Result<&mut ApiMessage, StreamError> {
        self.message
            .as_mut()
            .ok_or_else(|| StreamError::Malformed("event before message_start".into()))
    }

    fn delta(&mut self, data: &Value) -> Result<Option<StreamUpdate>, StreamError> {
        let index = index_of(data)?;
        let (block, partial_json) = self
            .blocks
            .get_mut(index)
            .ok_or_else(|| StreamError::Malformed(format!("delta for unknown block {index}")))?;
        let delta = &data["delta"];
        match delta["type"].as_str() {
            Some("text_delta") => {
                let text = delta["text"].as_str().unwrap_or("");
                append_str(block, "text", text);
                Ok(Some(StreamUpdate::TextDelta(text.to_string())))
            }
            Some("input_json_delta") => {
                partial_json.push_str(delta["partial_json"].as_str().unwrap_or(""));
                Ok(None)
            }
            Some("thinking_delta") => {
                append_str(block, "thinking", delta["thinking"].as_str().unwrap_or(""));
                Ok(None)
            }
            Some("signature_delta") => {
                append_str(
                    block,
                    "signature",
                    delta["signature"].as_str().unwrap_or(""),
                );
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn stop_block(&mut self, index: usize) -> Result<Option<StreamUpdate>, StreamError> {
        let Some((block, partial_json)) = self.blocks.get_mut(index) else {
            return Err(StreamError::Malformed(format!(
                "stop for unknown block {index}"
            )));
        };
        let has_input = block.get("input").is_some();
        if has_input && !partial_json.trim().is_empty() {
            match serde_json::from_str(partial_json) {
                Ok(input) => block["input"] = input,
                // Legitimate only when `max_tokens` cut the call short; checked in `finish`.
                Err(_) => self.incomplete_input = Some(index),
            }
            partial_json.clear();
        }
        Ok(None)
    }

    /// The assembled message. A tool input cut off by `max_tokens` is left as the empty object
    /// (the caller retries such a response with more room).
    ///
    /// # Errors
    /// [`StreamError::Malformed`] when no `message_start` was seen, or a tool input is not valid
    /// JSON although the response was not cut off by `max_tokens`.
    pub fn finish(mut self) -> Result<ApiMessage, StreamError> {
        let mut message = self
            .message
            .take()
            .ok_or_else(|| StreamError::Malformed("stream ended before message_start".into()))?;
        if let Some(index) = self.incomplete_input
            && message.stop_reason.as_deref() != Some("max_tokens")
        {
            return Err(StreamError::Malformed(format!(
                "tool input of block {index} is not valid JSON"
            )));
        }
        message.content = self
            .blocks
            .into_iter()
            .filter(|(block, _)| !block.is_null())
            .map(|(block, _)| {
                serde_json::from_value(block.clone()).unwrap_or(ContentBlock::Other(block))
            })
            .collect();
        Ok(message)
    }
}

fn index_of(data: &Value) -> Result<usize, StreamError> {
    data.get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| StreamError::Malformed("content block event without index".into()))
}

fn append_str(block: &mut Value, field: &str, text: &str) {
    if let Some(object) = block.as_object_mut() {
        let current = object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        object.insert(field.to_string(), Value::String(current + text));
    }
}

/// `message_delta` usage is cumulative: each present field replaces the earlier value.
fn merge_usage(usage: &mut Usage, delta: &Value) {
    let Some(delta) = delta.as_object() else {
        return;
    };
    let get = |map: &Map<String, Value>, key: &str| map.get(key).and_then(Value::as_u64);
    if let Some(v) = get(delta, "output_tokens") {
        usage.output_tokens = v;
    }
    if let Some(v) = get(delta, "input_tokens") {
        usage.input_tokens = v;
    }
    if let Some(v) = get(delta, "cache_creation_input_tokens") {
        usage.cache_creation_input_tokens = v;
    }
    if let Some(v) = get(delta, "cache_read_input_tokens") {
        usage.cache_read_input_tokens = v;
    }
}

/// Whether a block is a `tool_use` (used to spot a tool call cut off by `max_tokens`).
pub fn is_tool_use(block: &ContentBlock) -> bool {
    matches!(block, ContentBlock::Known(KnownBlock::ToolUse { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(input: &str, chunk: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        input
            .as_bytes()
            .chunks(chunk)
            .flat_map(|c| parser.feed(c))
            .collect()
    }

    #[test]
    fn parses_events_across_any_chunking() {
        let input = "event: ping\ndata: {\"type\": \"ping\"}\n\n: comment\nevent: a\r\ndata: x\r\ndata: y\r\n\r\ndata: z\n\n";
        let expected = vec![
            SseEvent {
                event: "ping".into(),
                data: "{\"type\": \"ping\"}".into(),
            },
            SseEvent {
                event: "a".into(),
                data: "x\ny".into(),
            },
            SseEvent {
                event: "message".into(),
                data: "z".into(),
            },
        ];
        for chunk in 1..input.len() {
            assert_eq!(events(input, chunk), expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn incomplete_event_is_not_emitted() {
        let mut parser = SseParser::new();
        assert!(parser.feed(b"event: a\ndata: 1\n").is_empty());
        assert_eq!(parser.feed(b"\n").len(), 1);
        assert!(parser.feed(b"event: only-name\n\n").is_empty());
    }

    #[test]
    fn data_without_space_and_multibyte_split() {
        let input = "data:héllo\n\n";
        assert_eq!(events(input, 1)[0].data, "héllo");
    }

    fn stream(lines: &[Value]) -> String {
        lines
            .iter()
            .map(|v| format!("event: {}\ndata: {}\n\n", v["type"].as_str().unwrap(), v))
            .collect()
    }

    fn assemble(text: &str) -> (Result<ApiMessage, StreamError>, Vec<String>) {
        let mut assembler = MessageAssembler::new();
        let mut deltas = Vec::new();
        for event in events(text, 5) {
            match assembler.apply(&event) {
                Ok(Some(StreamUpdate::TextDelta(t))) => deltas.push(t),
                Ok(_) => {}
                Err(e) => return (Err(e), deltas),
            }
        }
        (assembler.finish(), deltas)
    }

    #[test]
    fn assembles_text_and_tool_input() {
        let text = stream(&[
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 7}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "q", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"sql\": \"sel"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ect 1\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "n", "input": {}}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 42}}),
            json!({"type": "message_stop"}),
        ]);
        let (message, deltas) = assemble(&text);
        let message = message.unwrap();
        assert_eq!(deltas, vec!["Hel", "lo"]);
        assert_eq!(message.text(), "Hello");
        assert_eq!(
            message.content[1].as_tool_use(),
            Some(("toolu_1", "q", &json!({"sql": "select 1"})))
        );
        assert_eq!(
            message.content[2].as_tool_use(),
            Some(("toolu_2", "n", &json!({})))
        );
        assert_eq!(message.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!(message.usage.output_tokens, 42);
        assert_eq!(message.usage.input_tokens, 10);
        assert_eq!(message.usage.cache_read_input_tokens, 7);
    }

    #[test]
    fn error_event_is_reported() {
        let text = stream(&[
            json!({"type": "message_start", "message": {"id": "msg_1", "content": [], "stop_reason": null, "usage": {}}}),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ]);
        let (result, _) = assemble(&text);
        assert_eq!(
            result.unwrap_err(),
            StreamError::Api {
                error_type: "overloaded_error".into(),
                message: "Overloaded".into()
            }
        );
    }

    #[test]
    fn thinking_blocks_are_kept() {
        let text = stream(&[
            json!({"type": "message_start", "message": {"id": "msg_1", "content": [], "stop_reason": null, "usage": {}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "a"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "some_future_event", "x": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
            json!({"type": "message_stop"}),
        ]);
        let message = assemble(&text).0.unwrap();
        assert_eq!(
            serde_json::to_value(&message.content[0]).unwrap(),
            json!({"type": "thinking", "thinking": "a", "signature": "s"})
        );
    }

    #[test]
    fn malformed_tool_json_is_an_error() {
        let text = stream(&[
            json!({"type": "message_start", "message": {"id": "m", "content": [], "stop_reason": null, "usage": {}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "n", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
            json!({"type": "content_block_stop", "index": 0}),
        ]);
        assert!(matches!(assemble(&text).0, Err(StreamError::Malformed(_))));
    }

    #[test]
    fn tool_input_cut_by_max_tokens_is_tolerated() {
        let text = stream(&[
            json!({"type": "message_start", "message": {"id": "m", "content": [], "stop_reason": null, "usage": {}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "n", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ]);
        let message = assemble(&text).0.unwrap();
        assert_eq!(
            message.content[0].as_tool_use(),
            Some(("t", "n", &json!({})))
        );
    }

    #[test]
    fn delta_before_start_is_malformed() {
        let mut assembler = MessageAssembler::new();
        let event = SseEvent {
            event: "message_delta".into(),
            data: json!({"type": "message_delta", "delta": {}, "usage": {}}).to_string(),
        };
        assert!(assembler.apply(&event).is_err());
    }
}
