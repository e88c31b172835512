//! Helpers for multi round-trip requests (SEP-2322, 2026-07-28): building the input requests a
//! tool or prompt asks the client to fulfil, reading the client's answers, and sealing the
//! `requestState` that carries progress between rounds.
//!
//! Every `requestState` the fixture issues is sealed with HMAC-SHA256 and bound to the tool or
//! prompt that issued it, so a client that edits it, or replays it against another tool, gets
//! -32602 instead of a result.

use rmcp::ErrorData;
use rmcp::model::{InputRequest, InputResponses, RequestStateCodec, SealOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What the fixture remembers between rounds. `kind` names the flow, `round` how far it got.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub(crate) kind: String,
    pub(crate) round: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
}

impl Progress {
    pub(crate) fn new(kind: &str, round: u8) -> Self {
        Self {
            kind: kind.to_owned(),
            round,
            name: None,
        }
    }
}

/// Seals `progress` for the tool or prompt `owner`.
///
/// # Errors
/// Internal error if the state cannot be serialised (it always can: plain strings and numbers).
pub(crate) fn seal(
    codec: &RequestStateCodec,
    owner: &str,
    progress: &Progress,
) -> Result<String, ErrorData> {
    codec
        .seal_json_with(
            progress,
            &SealOptions::new().associated_data(owner.as_bytes()),
        )
        .map_err(|error| ErrorData::internal_error(format!("cannot seal state: {error}"), None))
}

/// Opens a `requestState` echoed back by the client for `owner`.
///
/// # Errors
/// -32602 (invalid params) when the state was forged, edited or issued for something else.
pub(crate) fn open(
    codec: &RequestStateCodec,
    owner: &str,
    sealed: &str,
) -> Result<Progress, ErrorData> {
    codec
        .open_json_with(sealed, owner.as_bytes())
        .map_err(|error| {
            ErrorData::invalid_params(
                format!(
                    "requestState integrity check failed ({error}): send back the requestState of \
                 the previous round unchanged, or call again without one to start over"
                ),
                None,
            )
        })
}

/// Like [`open`], but a missing state is `Ok(None)`.
///
/// # Errors
/// As [`open`].
pub(crate) fn open_optional(
    codec: &RequestStateCodec,
    owner: &str,
    sealed: Option<&str>,
) -> Result<Option<Progress>, ErrorData> {
    sealed.map(|state| open(codec, owner, state)).transpose()
}

/// An `elicitation/create` form request for one required property of type `kind`.
///
/// # Errors
/// Internal error if rmcp rejects the request shape (a bug in the fixture).
pub(crate) fn elicit(message: &str, property: &str, kind: &str) -> Result<InputRequest, ErrorData> {
    input_request(json!({
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": { property: { "type": kind } },
                "required": [property],
            },
        },
    }))
}

/// A `sampling/createMessage` request with one user message.
///
/// # Errors
/// As [`elicit`].
pub(crate) fn sample(prompt: &str, max_tokens: u32) -> Result<InputRequest, ErrorData> {
    input_request(json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
            "maxTokens": max_tokens,
        },
    }))
}

/// A `roots/list` request.
///
/// # Errors
/// As [`elicit`].
pub(crate) fn list_roots() -> Result<InputRequest, ErrorData> {
    input_request(json!({ "method": "roots/list" }))
}

fn input_request(value: Value) -> Result<InputRequest, ErrorData> {
    serde_json::from_value(value).map_err(|error| {
        ErrorData::internal_error(
            format!("fixture built an invalid input request: {error}"),
            None,
        )
    })
}

/// The client's answer under `key`, if it is a JSON object (anything else counts as missing, so
/// the fixture asks again instead of completing on malformed input).
pub(crate) fn answer<'a>(
    responses: Option<&'a InputResponses>,
    key: &str,
) -> Option<&'a Map<String, Value>> {
    responses?.get(key)?.as_object()
}

/// The string field `field` of an accepted elicitation answer under `key`.
pub(crate) fn elicited_text(
    responses: Option<&InputResponses>,
    key: &str,
    field: &str,
) -> Option<String> {
    let answer = answer(responses, key)?;
    if answer.get("action").and_then(Value::as_str) != Some("accept") {
        return None;
    }
    answer
        .get("content")?
        .get(field)?
        .as_str()
        .map(str::to_owned)
}

/// The boolean field `field` of an accepted elicitation answer under `key`.
pub(crate) fn elicited_bool(
    responses: Option<&InputResponses>,
    key: &str,
    field: &str,
) -> Option<bool> {
    let answer = answer(responses, key)?;
    if answer.get("action").and_then(Value::as_str) != Some("accept") {
        return None;
    }
    answer.get("content")?.get(field)?.as_bool()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> RequestStateCodec {
        RequestStateCodec::try_new(vec![7u8; 32]).unwrap()
    }

    #[test]
    fn sealed_state_round_trips_for_its_owner_only() {
        let codec = codec();
        let mut progress = Progress::new("multi-round", 2);
        progress.name = Some("Alice".to_owned());
        let sealed = seal(&codec, "tool_a", &progress).unwrap();
        assert_eq!(open(&codec, "tool_a", &sealed).unwrap(), progress);
        assert_eq!(open(&codec, "tool_b", &sealed).unwrap_err().code.0, -32602);
    }

    #[test]
    fn edited_state_is_rejected() {
        let codec = codec();
        let sealed = seal(&codec, "tool_a", &Progress::new("x", 1)).unwrap();
        let tampered = format!("{sealed}-TAMPERED");
        assert_eq!(
            open(&codec, "tool_a", &tampered).unwrap_err().code.0,
            -32602
        );
    }

    #[test]
    fn input_requests_serialise_with_their_method() {
        for (request, method) in [
            (
                elicit("Name?", "name", "string").unwrap(),
                "elicitation/create",
            ),
            (sample("Hi", 10).unwrap(), "sampling/createMessage"),
            (list_roots().unwrap(), "roots/list"),
        ] {
            assert_eq!(serde_json::to_value(&request).unwrap()["method"], method);
        }
    }

    #[test]
    fn non_object_or_declined_answers_count_as_missing() {
        let mut responses = InputResponses::new();
        responses.insert("n".into(), json!(12345));
        responses.insert("d".into(), json!({ "action": "decline" }));
        responses.insert(
            "a".into(),
            json!({ "action": "accept", "content": { "name": "Al" } }),
        );
        assert!(answer(Some(&responses), "n").is_none());
        assert_eq!(elicited_text(Some(&responses), "d", "name"), None);
        assert_eq!(
            elicited_text(Some(&responses), "a", "name").as_deref(),
            Some("Al")
        );
        assert_eq!(elicited_text(None, "a", "name"), None);
    }
}
