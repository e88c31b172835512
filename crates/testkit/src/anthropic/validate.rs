//! Request validation as the Messages API performs it, with the API's error messages
//! (`<path>: <problem>`, as returned in `error.message` of a 400 `invalid_request_error`).

use std::collections::HashSet;

use serde_json::{Map, Value};

/// The tool name pattern the fake enforces (the tool-use documentation's).
pub const TOOL_NAME_PATTERN: &str = "^[a-zA-Z0-9_-]{1,64}$";

/// Top-level request fields the API accepts; anything else is "Extra inputs are not permitted".
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "stream",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "metadata",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

/// The beta that enables the tool search tool and `defer_loading`.
pub const TOOL_SEARCH_BETA: &str = "advanced-tool-use-2025-11-20";

/// The tool search tools: `(type, name)`.
const TOOL_SEARCH_TOOLS: &[(&str, &str)] = &[
    ("tool_search_tool_bm25_20251119", "tool_search_tool_bm25"),
    ("tool_search_tool_regex_20251119", "tool_search_tool_regex"),
];

/// The first problem the API would report for `body`, as its error message. `betas` are the
/// values of the request's `anthropic-beta` header.
pub(crate) fn validate(body: &Value, strict_roles: bool, betas: &[&str]) -> Result<(), String> {
    let Some(body) = body.as_object() else {
        return Err("Input should be a valid dictionary".into());
    };
    if let Some(extra) = body.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(format!("{extra}: Extra inputs are not permitted"));
    }
    match body.get("model") {
        None => return Err("model: Field required".into()),
        Some(Value::String(m)) if !m.is_empty() => {}
        Some(_) => return Err("model: Input should be a valid string".into()),
    }
    match body.get("max_tokens") {
        None => return Err("max_tokens: Field required".into()),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => {}
            Some(_) => return Err("max_tokens: Input should be greater than or equal to 1".into()),
            None => return Err("max_tokens: Input should be a valid integer".into()),
        },
    }
    if let Some(stream) = body.get("stream")
        && !stream.is_boolean()
    {
        return Err("stream: Input should be a valid boolean".into());
    }
    if let Some(system) = body.get("system") {
        validate_system(system)?;
    }
    if let Some(tools) = body.get("tools") {
        validate_tools(tools, betas)?;
    }
    let messages = match body.get("messages") {
        None => return Err("messages: Field required".into()),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err("messages: Input should be a valid list".into()),
    };
    validate_messages(messages, strict_roles)?;
    validate_cache_control(body)
}

fn validate_system(system: &Value) -> Result<(), String> {
    match system {
        Value::String(_) => Ok(()),
        Value::Array(blocks) => {
            for (i, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(format!("system.{i}.type: Input should be 'text'"));
                }
                if !block.get("text").is_some_and(Value::is_string) {
                    return Err(format!("system.{i}.text: Field required"));
                }
            }
            Ok(())
        }
        _ => Err("system: Input should be a valid string or list".into()),
    }
}

fn validate_tools(tools: &Value, betas: &[&str]) -> Result<(), String> {
    let Some(tools) = tools.as_array() else {
        return Err("tools: Input should be a valid list".into());
    };
    let mut names = HashSet::new();
    let (mut searchers, mut deferred) = (0, 0);
    for (i, tool) in tools.iter().enumerate() {
        if let Some(kind) = tool.get("type").and_then(Value::as_str)
            && kind != "custom"
        {
            let Some((_, name)) = TOOL_SEARCH_TOOLS.iter().find(|(t, _)| *t == kind) else {
                return Err(format!(
                    "tools.{i}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags"
                ));
            };
            if !betas.contains(&TOOL_SEARCH_BETA) {
                return Err(format!(
                    "tools.{i}: the tool search tool requires the beta header \
                     `anthropic-beta: {TOOL_SEARCH_BETA}`"
                ));
            }
            if tool.get("name").and_then(Value::as_str) != Some(name) {
                return Err(format!("tools.{i}.{kind}.name: Input should be '{name}'"));
            }
            if tool.get("defer_loading") == Some(&Value::Bool(true)) {
                return Err(format!(
                    "tools.{i}: the tool search tool cannot be deferred"
                ));
            }
            searchers += 1;
            names.insert(*name);
            continue;
        }
        match tool.get("defer_loading") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => deferred += 1,
            Some(_) => {
                return Err(format!(
                    "tools.{i}.custom.defer_loading: Input should be a valid boolean"
                ));
            }
        }
        let name = match tool.get("name") {
            None => return Err(format!("tools.{i}.custom.name: Field required")),
            Some(Value::String(name)) => name,
            Some(_) => {
                return Err(format!(
                    "tools.{i}.custom.name: Input should be a valid string"
                ));
            }
        };
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!(
                "tools.{i}.custom.name: String should match pattern '{TOOL_NAME_PATTERN}'"
            ));
        }
        match tool.get("input_schema") {
            None => return Err(format!("tools.{i}.custom.input_schema: Field required")),
            Some(schema) if schema.get("type").and_then(Value::as_str) == Some("object") => {}
            Some(_) => {
                return Err(format!(
                    "tools.{i}.custom.input_schema.type: Input should be 'object'"
                ));
            }
        }
        if let Some(description) = tool.get("description")
            && !description.is_string()
        {
            return Err(format!(
                "tools.{i}.custom.description: Input should be a valid string"
            ));
        }
        names.insert(name.as_str());
    }
    if names.len() != tools.len() {
        return Err("tools: Tool names must be unique.".into());
    }
    if deferred > 0 && searchers == 0 {
        return Err(
            "tools: tools with defer_loading require a tool search tool in the request".into(),
        );
    }
    Ok(())
}

/// A message's content as blocks (a string is one text block).
fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![serde_json::json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

fn block_type(block: &Value) -> &str {
    block.get("type").and_then(Value::as_str).unwrap_or("")
}

fn validate_messages(messages: &[Value], strict_roles: bool) -> Result<(), String> {
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let mut roles = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        roles.push(validate_message(i, message, i + 1 == messages.len())?);
    }
    if roles[0] != "user" {
        return Err("messages: first message must use the \"user\" role".into());
    }
    if strict_roles && let Some(pair) = roles.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!(
            "messages: roles must alternate between \"user\" and \"assistant\", but found \
             multiple \"{}\" roles in a row",
            pair[0]
        ));
    }
    validate_tool_pairing(messages)?;
    let last = &messages[messages.len() - 1];
    if roles[roles.len() - 1] == "assistant" {
        let last_text = blocks(&last["content"])
            .last()
            .filter(|b| block_type(b) == "text")
            .and_then(|b| b.get("text").and_then(Value::as_str).map(str::to_string));
        if last_text.is_some_and(|t| t.ends_with(char::is_whitespace)) {
            return Err(
                "messages: final assistant content cannot end with trailing whitespace".into(),
            );
        }
    }
    Ok(())
}

fn validate_message(i: usize, message: &Value, is_last: bool) -> Result<&'static str, String> {
    let role = match message.get("role").and_then(Value::as_str) {
        Some("user") => "user",
        Some("assistant") => "assistant",
        Some(_) => {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        None => return Err(format!("messages.{i}.role: Field required")),
    };
    let content = match message.get("content") {
        None => return Err(format!("messages.{i}.content: Field required")),
        Some(c @ (Value::String(_) | Value::Array(_))) => c,
        Some(_) => {
            return Err(format!(
                "messages.{i}.content: Input should be a valid string or list"
            ));
        }
    };
    let blocks = blocks(content);
    if blocks.is_empty() && !(is_last && role == "assistant") {
        return Err(format!(
            "messages.{i}: all messages must have non-empty content except for the optional \
             final assistant message"
        ));
    }
    for (j, block) in blocks.iter().enumerate() {
        validate_block(i, j, role, block)?;
    }
    Ok(role)
}

fn validate_block(i: usize, j: usize, role: &str, block: &Value) -> Result<(), String> {
    let at = format!("messages.{i}.content.{j}");
    match block_type(block) {
        "text" => match block.get("text").and_then(Value::as_str) {
            None => Err(format!("{at}.text: Field required")),
            Some("") => Err("messages: text content blocks must be non-empty".into()),
            Some(_) => Ok(()),
        },
        "tool_use" if role != "assistant" => Err(format!(
            "{at}: `tool_use` blocks can only be in `assistant` messages"
        )),
        "tool_use" => {
            let has = |k: &str| block.get(k).is_some();
            if !(has("id") && has("name")) {
                return Err(format!(
                    "{at}: `tool_use` blocks need `id`, `name` and `input`"
                ));
            }
            if !block.get("input").is_some_and(Value::is_object) {
                return Err(format!("{at}.input: Input should be a valid dictionary"));
            }
            Ok(())
        }
        "tool_result" if role != "user" => Err(format!(
            "{at}: `tool_result` blocks can only be in `user` messages"
        )),
        "tool_result" => {
            if !block.get("tool_use_id").is_some_and(Value::is_string) {
                return Err(format!("{at}.tool_use_id: Field required"));
            }
            if let Some(is_error) = block.get("is_error")
                && !is_error.is_boolean()
            {
                return Err(format!("{at}.is_error: Input should be a valid boolean"));
            }
            Ok(())
        }
        "" => Err(format!("{at}.type: Field required")),
        // Images, documents, thinking and server-tool blocks are accepted as they are.
        _ => Ok(()),
    }
}

fn ids_of<'a>(blocks: &'a [Value], kind: &str, field: &str) -> Vec<&'a str> {
    blocks
        .iter()
        .filter(|b| block_type(b) == kind)
        .filter_map(|b| b.get(field).and_then(Value::as_str))
        .collect()
}

fn validate_tool_pairing(messages: &[Value]) -> Result<(), String> {
    let all: Vec<Vec<Value>> = messages.iter().map(|m| blocks(&m["content"])).collect();
    for (i, message_blocks) in all.iter().enumerate() {
        let role = messages[i]["role"].as_str().unwrap_or("");
        if role == "assistant" {
            let uses = ids_of(message_blocks, "tool_use", "id");
            let Some(next) = all.get(i + 1) else {
                continue;
            };
            if uses.is_empty() {
                continue;
            }
            let results = ids_of(next, "tool_result", "tool_use_id");
            let missing: Vec<&str> = uses
                .iter()
                .copied()
                .filter(|id| !results.contains(id))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks \
                     immediately after: {}. Each `tool_use` block must have a corresponding \
                     `tool_result` block in the next message.",
                    missing.join(", ")
                ));
            }
            let leading = next
                .iter()
                .take_while(|b| block_type(b) == "tool_result")
                .count();
            if leading < uses.len() {
                return Err(format!(
                    "messages.{}: Did not find {} tool_result block(s) at the beginning of this \
                     message. Messages following tool_use blocks must begin with a matching \
                     number of tool_result blocks.",
                    i + 1,
                    uses.len()
                ));
            }
        } else {
            let previous_uses = match i.checked_sub(1) {
                Some(p) if messages[p]["role"] == "assistant" => ids_of(&all[p], "tool_use", "id"),
                _ => Vec::new(),
            };
            for (j, block) in message_blocks.iter().enumerate() {
                if block_type(block) != "tool_result" {
                    continue;
                }
                let id = block["tool_use_id"].as_str().unwrap_or("");
                if !previous_uses.contains(&id) {
                    return Err(format!(
                        "messages.{i}.content.{j}: unexpected `tool_use_id` found in \
                         `tool_result` blocks: {id}. Each `tool_result` block must have a \
                         corresponding `tool_use` block in the previous message."
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every `cache_control` in the request with its path.
fn cache_controls<'a>(body: &'a Map<String, Value>) -> Vec<(String, &'a Value)> {
    let mut found = Vec::new();
    let mut visit = |path: String, value: &'a Value| {
        if let Some(cc) = value.get("cache_control") {
            found.push((format!("{path}.cache_control"), cc));
        }
    };
    if let Some(Value::Array(system)) = body.get("system") {
        system
            .iter()
            .enumerate()
            .for_each(|(i, b)| visit(format!("system.{i}"), b));
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        tools
            .iter()
            .enumerate()
            .for_each(|(i, t)| visit(format!("tools.{i}.custom"), t));
    }
    if let Some(Value::Array(messages)) = body.get("messages") {
        for (i, message) in messages.iter().enumerate() {
            if let Some(Value::Array(content)) = message.get("content") {
                content
                    .iter()
                    .enumerate()
                    .for_each(|(j, b)| visit(format!("messages.{i}.content.{j}"), b));
            }
        }
    }
    found
}

fn validate_cache_control(body: &Map<String, Value>) -> Result<(), String> {
    let found = cache_controls(body);
    for (path, cc) in &found {
        if cc.get("type").and_then(Value::as_str) != Some("ephemeral") {
            return Err(format!("{path}.type: Input should be 'ephemeral'"));
        }
    }
    if found.len() > 4 {
        return Err(format!(
            "A maximum of 4 blocks with cache_control may be provided. Found {}.",
            found.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(messages: Value) -> Value {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": messages})
    }

    fn err(body: Value) -> String {
        validate(&body, true, &[]).unwrap_err()
    }

    #[test]
    fn required_fields() {
        assert_eq!(
            err(json!({"max_tokens": 1, "messages": []})),
            "model: Field required"
        );
        assert_eq!(
            err(json!({"model": "m", "messages": []})),
            "max_tokens: Field required"
        );
        assert_eq!(
            err(json!({"model": "m", "max_tokens": 0, "messages": []})),
            "max_tokens: Input should be greater than or equal to 1"
        );
        assert_eq!(
            err(base(json!([]))),
            "messages: at least one message is required"
        );
        let mut extra = base(json!([{"role": "user", "content": "hi"}]));
        extra["maxTokens"] = json!(1);
        assert_eq!(err(extra), "maxTokens: Extra inputs are not permitted");
    }

    #[test]
    fn roles() {
        assert_eq!(
            err(base(json!([{"role": "assistant", "content": "x"}]))),
            "messages: first message must use the \"user\" role"
        );
        let doubled = base(json!([
            {"role": "user", "content": "a"}, {"role": "user", "content": "b"}
        ]));
        assert!(err(doubled.clone()).contains("multiple \"user\" roles in a row"));
        assert!(validate(&doubled, false, &[]).is_ok());
        assert_eq!(
            err(base(
                json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b "}])
            )),
            "messages: final assistant content cannot end with trailing whitespace"
        );
        assert!(
            validate(
                &base(
                    json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": []}])
                ),
                true,
                &[]
            )
            .is_ok()
        );
        assert!(err(base(json!([{"role": "user", "content": []}]))).contains("non-empty content"));
    }

    #[test]
    fn tool_pairing() {
        let assistant = json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "t", "input": {}},
            {"type": "tool_use", "id": "toolu_b", "name": "t", "input": {}}
        ]});
        let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "r"});
        let ok = base(json!([{"role": "user", "content": "q"}, assistant.clone(),
            {"role": "user", "content": [result("toolu_b"), result("toolu_a"), {"type": "text", "text": "more"}]}]));
        assert!(validate(&ok, true, &[]).is_ok());
        let missing = base(json!([{"role": "user", "content": "q"}, assistant.clone(),
            {"role": "user", "content": [result("toolu_a")]}]));
        assert_eq!(
            err(missing),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_b. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        );
        let late = base(json!([{"role": "user", "content": "q"}, assistant.clone(),
            {"role": "user", "content": [result("toolu_a"), {"type": "text", "text": "x"}, result("toolu_b")]}]));
        assert!(err(late).starts_with("messages.2: Did not find 2 tool_result block(s)"));
        let stray = base(json!([{"role": "user", "content": [result("toolu_z")]}]));
        assert!(err(stray).starts_with("messages.0.content.0: unexpected `tool_use_id`"));
    }

    #[test]
    fn tool_search_needs_its_beta_and_deferred_tools_need_it() {
        let mut body = base(json!([{"role": "user", "content": "a"}]));
        let custom = |defer: bool| json!({"name": "q", "description": "d", "input_schema": {"type": "object"}, "defer_loading": defer});
        let search =
            json!({"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"});
        body["tools"] = json!([search, custom(true)]);
        assert!(validate(&body, true, &[TOOL_SEARCH_BETA]).is_ok());
        assert!(
            validate(&body, true, &[])
                .unwrap_err()
                .contains(TOOL_SEARCH_BETA)
        );
        body["tools"] = json!([custom(true)]);
        assert!(
            validate(&body, true, &[TOOL_SEARCH_BETA])
                .unwrap_err()
                .contains("tool search tool")
        );
        body["tools"] =
            json!([{"type": "tool_search_tool_bm25_20251119", "name": "other"}, custom(false)]);
        assert!(
            validate(&body, true, &[TOOL_SEARCH_BETA])
                .unwrap_err()
                .contains("name")
        );
        body["tools"] = json!([{"type": "web_searcher", "name": "x"}]);
        assert!(
            validate(&body, true, &[TOOL_SEARCH_BETA])
                .unwrap_err()
                .contains("tag")
        );
    }

    #[test]
    fn tools_and_cache_control() {
        let with_tools = |tools: Value| {
            let mut body = base(json!([{"role": "user", "content": "q"}]));
            body["tools"] = tools;
            body
        };
        assert_eq!(
            err(with_tools(
                json!([{"name": "a.b", "input_schema": {"type": "object"}}])
            )),
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
        );
        assert_eq!(
            err(with_tools(json!([
                {"name": "a", "input_schema": {"type": "object"}},
                {"name": "a", "input_schema": {"type": "object"}}
            ]))),
            "tools: Tool names must be unique."
        );
        assert_eq!(
            err(with_tools(
                json!([{"name": "a", "input_schema": {"type": "array"}}])
            )),
            "tools.0.custom.input_schema.type: Input should be 'object'"
        );
        let cc = json!({"type": "ephemeral"});
        let five: Vec<Value> = (0..5)
            .map(|i| json!({"name": format!("t{i}"), "input_schema": {"type": "object"}, "cache_control": cc}))
            .collect();
        assert_eq!(
            err(with_tools(Value::Array(five))),
            "A maximum of 4 blocks with cache_control may be provided. Found 5."
        );
    }
}
