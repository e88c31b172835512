//! A complete message rendered as the Messages API streams it: `message_start` (content empty),
//! `ping`, per block `content_block_start` / `content_block_delta`s (`text_delta`,
//! `input_json_delta` starting with an empty `partial_json`, `thinking_delta`, `signature_delta`) /
//! `content_block_stop`, then `message_delta` (stop reason and cumulative usage) and
//! `message_stop`.

use serde_json::{Value, json};

/// One event as it goes on the wire.
fn event(data: &Value) -> String {
    let name = data["type"].as_str().unwrap_or("message");
    format!("event: {name}\ndata: {data}\n\n")
}

/// `text` in pieces of about `size` characters.
fn pieces(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

fn block_events(index: usize, block: &Value, out: &mut Vec<String>) {
    let delta = |delta: Value| {
        event(&json!({"type": "content_block_delta", "index": index, "delta": delta}))
    };
    match block["type"].as_str() {
        Some("text") => {
            out.push(event(
                &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "text", "text": ""}}),
            ));
            for piece in pieces(block["text"].as_str().unwrap_or(""), 12) {
                out.push(delta(json!({"type": "text_delta", "text": piece})));
            }
        }
        // A server tool's input streams as a client tool's does.
        Some("tool_use" | "server_tool_use") => {
            let mut start = block.clone();
            start["input"] = json!({});
            out.push(event(
                &json!({"type": "content_block_start", "index": index,
                "content_block": start}),
            ));
            out.push(delta(
                json!({"type": "input_json_delta", "partial_json": ""}),
            ));
            for piece in pieces(&block["input"].to_string(), 10) {
                out.push(delta(
                    json!({"type": "input_json_delta", "partial_json": piece}),
                ));
            }
        }
        Some("thinking") => {
            out.push(event(
                &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "thinking", "thinking": ""}}),
            ));
            for piece in pieces(block["thinking"].as_str().unwrap_or(""), 12) {
                out.push(delta(json!({"type": "thinking_delta", "thinking": piece})));
            }
            if let Some(signature) = block["signature"].as_str() {
                out.push(delta(
                    json!({"type": "signature_delta", "signature": signature}),
                ));
            }
        }
        _ => out.push(event(
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        )),
    }
    out.push(event(
        &json!({"type": "content_block_stop", "index": index}),
    ));
}

/// The events of `message` (a complete message object). With `fail_after_blocks`, the stream
/// stops after that many blocks with an `error` event of the given type and message instead.
pub(crate) fn render(
    message: &Value,
    fail_after_blocks: Option<(usize, &str, &str)>,
) -> Vec<String> {
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["stop_sequence"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut out = vec![
        event(&json!({"type": "message_start", "message": start})),
        event(&json!({"type": "ping"})),
    ];
    let empty = Vec::new();
    let blocks = message["content"].as_array().unwrap_or(&empty);
    for (index, block) in blocks.iter().enumerate() {
        if let Some((after, error_type, text)) = fail_after_blocks
            && index == after
        {
            out.push(event(&json!({"type": "error",
                "error": {"type": error_type, "message": text}})));
            return out;
        }
        block_events(index, block, &mut out);
    }
    if let Some((_, error_type, text)) = fail_after_blocks {
        out.push(event(
            &json!({"type": "error", "error": {"type": error_type, "message": text}}),
        ));
        return out;
    }
    out.push(event(&json!({
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
        "usage": {"output_tokens": message["usage"]["output_tokens"]}
    })));
    out.push(event(&json!({"type": "message_stop"})));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_sequence() {
        let message = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [
                {"type": "text", "text": "Let me check that."},
                {"type": "tool_use", "id": "toolu_1", "name": "q", "input": {"sql": "select 1"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 9}
        });
        let events = render(&message, None);
        let names: Vec<&str> = events
            .iter()
            .map(|e| e.lines().next().unwrap().trim_start_matches("event: "))
            .collect();
        assert_eq!(names.first(), Some(&"message_start"));
        assert_eq!(names.last(), Some(&"message_stop"));
        assert!(names.contains(&"ping"));
        assert_eq!(
            names.iter().filter(|n| **n == "content_block_stop").count(),
            2
        );
        let joined: String = events
            .iter()
            .filter(|e| e.contains("input_json_delta"))
            .map(|e| {
                let data: Value =
                    serde_json::from_str(e.lines().nth(1).unwrap().trim_start_matches("data: "))
                        .unwrap();
                data["delta"]["partial_json"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&joined).unwrap(),
            json!({"sql": "select 1"})
        );
        assert!(events[0].contains("\"stop_reason\":null"));
        assert!(events[events.len() - 2].contains("\"stop_reason\":\"tool_use\""));
    }
}
