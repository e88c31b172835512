//! Slack as a place where people decide: a message with buttons, posted and later updated through
//! the Web API ([`Messenger`]), and the interaction request Slack sends when someone clicks a
//! button ([`Click`]), taken only when its signature verifies ([`verify`]).
//!
//! Verification follows api.slack.com's "Verifying requests from Slack": the signature is `v0=`
//! and the hex HMAC-SHA256, keyed with the app's signing secret, of `v0:<timestamp>:<body>`; it
//! is compared in constant time, and a request whose `X-Slack-Request-Timestamp` is more than
//! five minutes from now is refused, so a captured request cannot be replayed later.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::SlackClient;
use crate::config::SlackConfig;
use crate::error::SlackError;

/// How far a request's timestamp may be from now.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Why an interaction request was not taken as Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// A header Slack always sends is missing or unreadable.
    #[error("the request has no readable {0} header; only Slack's signed requests are taken")]
    Missing(&'static str),
    /// The timestamp is more than [`REPLAY_WINDOW`] from now.
    #[error(
        "the request's timestamp is more than five minutes from now: a replay, or a clock that is off"
    )]
    Stale,
    /// The signature does not match the body and the signing secret.
    #[error(
        "the request's signature does not match: it was not signed with this app's signing secret"
    )]
    Mismatch,
}

/// Checks that `body` came from Slack: `timestamp` and `signature` are the
/// `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers, `now` the current time.
///
/// # Errors
/// [`Unverified`] saying why not.
pub fn verify(
    signing_secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Result<(), Unverified> {
    let timestamp = timestamp.ok_or(Unverified::Missing("X-Slack-Request-Timestamp"))?;
    let sent: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Unverified::Missing("X-Slack-Request-Timestamp"))?;
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if now.abs_diff(sent) > REPLAY_WINDOW.as_secs() {
        return Err(Unverified::Stale);
    }
    let signature = signature
        .and_then(|s| s.strip_prefix("v0="))
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or(Unverified::Missing("X-Slack-Signature"))?;
    let (key, signed) = signing(signing_secret, timestamp, body);
    ring::hmac::verify(&key, &signed, &signature).map_err(|_| Unverified::Mismatch)
}

/// The key and the bytes Slack signs: `v0:<timestamp>:<body>`.
fn signing(signing_secret: &str, timestamp: &str, body: &[u8]) -> (ring::hmac::Key, Vec<u8>) {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, signing_secret.as_bytes());
    let mut signed = format!("v0:{timestamp}:").into_bytes();
    signed.extend_from_slice(body);
    (key, signed)
}

/// The `X-Slack-Signature` of `body` sent at `timestamp` (what Slack computes; for tests and
/// tools that stand in for Slack).
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let (key, signed) = signing(signing_secret, timestamp, body);
    format!("v0={}", hex::encode(ring::hmac::sign(&key, &signed)))
}

/// A click on a button of a message: a `block_actions` interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// The Slack user who clicked (`U…`).
    pub user_id: String,
    /// Their handle, when Slack sent it.
    pub user_name: Option<String>,
    /// The button's `action_id`.
    pub action_id: String,
    /// The button's `value`.
    pub value: String,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: PayloadUser,
    #[serde(default)]
    actions: Vec<PayloadAction>,
}

#[derive(Deserialize)]
struct PayloadUser {
    id: String,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct PayloadAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// The click in an interaction request's body (`application/x-www-form-urlencoded` with the JSON
/// in `payload`). Call it only on a body that [`verify`] accepted.
///
/// # Errors
/// What is wrong with the body, in words that never repeat it (it carries a verification token).
pub fn click(body: &[u8]) -> Result<Click, String> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .ok_or("the body has no `payload` field")?
        .1;
    let payload: Payload = serde_json::from_str(&payload)
        .map_err(|e| format!("the payload is not an interaction: {}", classify(&e)))?;
    if payload.kind != "block_actions" {
        return Err(format!(
            "only button clicks (block_actions) are taken, not {:?}",
            payload.kind
        ));
    }
    let action = payload
        .actions
        .into_iter()
        .next()
        .ok_or("the interaction has no action")?;
    Ok(Click {
        user_id: payload.user.id,
        user_name: payload.user.username,
        action_id: action.action_id,
        value: action.value.unwrap_or_default(),
    })
}

/// What is wrong with a payload that did not parse, without quoting it.
fn classify(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not JSON",
        serde_json::error::Category::Data => "a field is missing or has the wrong type",
    }
}

/// A message the bot posted: where it is, to update it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel's id.
    pub channel: String,
    /// The message's ts.
    pub ts: String,
}

/// Posts and updates messages with blocks, through the same client (retries, `Retry-After`,
/// pacing per channel, token redaction) as the Slack server's tools.
#[derive(Debug)]
pub struct Messenger {
    client: SlackClient,
}

impl Messenger {
    /// A messenger calling the Web API of `config` (its token and `api_url`).
    ///
    /// # Errors
    /// [`SlackError::Http`] when the HTTP client cannot be built.
    pub fn new(config: &SlackConfig) -> Result<Self, SlackError> {
        Ok(Self {
            client: SlackClient::new(config)?,
        })
    }

    /// `chat.postMessage` of `blocks` to `channel` (a name with `#` or an id), with `text` as the
    /// notification's fallback.
    ///
    /// # Errors
    /// [`SlackError`] as Slack refused it or the call failed.
    pub async fn post(
        &self,
        channel: &str,
        text: &str,
        blocks: Value,
    ) -> Result<Message, SlackError> {
        let body = json!({ "channel": channel, "text": text, "blocks": blocks });
        let posted = self.client.post(channel, body).await?;
        Ok(Message {
            channel: posted.channel,
            ts: posted.ts,
        })
    }

    /// `chat.update` of `message` to `text` and `blocks`.
    ///
    /// # Errors
    /// [`SlackError`] as Slack refused it or the call failed.
    pub async fn update(
        &self,
        message: &Message,
        text: &str,
        blocks: Value,
    ) -> Result<(), SlackError> {
        let body = json!({
            "channel": message.channel, "ts": message.ts, "text": text, "blocks": blocks,
        });
        self.client.update(body).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of api.slack.com's "Verifying requests from Slack".
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn slacks_documented_example_verifies_and_any_change_does_not() {
        let now = at(1_531_420_618 + 10);
        assert_eq!(sign(SECRET, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        verify(
            SECRET,
            Some(TIMESTAMP),
            Some(SIGNATURE),
            BODY.as_bytes(),
            now,
        )
        .unwrap();
        let tampered = BODY.replace("roadrunner", "coyote");
        assert_eq!(
            verify(
                SECRET,
                Some(TIMESTAMP),
                Some(SIGNATURE),
                tampered.as_bytes(),
                now
            ),
            Err(Unverified::Mismatch)
        );
        assert_eq!(
            verify(
                "another secret",
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                now
            ),
            Err(Unverified::Mismatch)
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1531420619"),
                Some(SIGNATURE),
                BODY.as_bytes(),
                now
            ),
            Err(Unverified::Mismatch),
            "the timestamp is signed too"
        );
        assert_eq!(
            verify(SECRET, None, Some(SIGNATURE), BODY.as_bytes(), now),
            Err(Unverified::Missing("X-Slack-Request-Timestamp"))
        );
        assert_eq!(
            verify(
                SECRET,
                Some(TIMESTAMP),
                Some("a2114d57"),
                BODY.as_bytes(),
                now
            ),
            Err(Unverified::Missing("X-Slack-Signature"))
        );
    }

    #[test]
    fn a_request_older_or_newer_than_five_minutes_is_stale() {
        let sent = 1_531_420_618;
        for now in [sent + 300, sent - 300] {
            verify(
                SECRET,
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                at(now),
            )
            .unwrap();
        }
        for now in [sent + 301, sent - 301] {
            assert_eq!(
                verify(
                    SECRET,
                    Some(TIMESTAMP),
                    Some(SIGNATURE),
                    BODY.as_bytes(),
                    at(now)
                ),
                Err(Unverified::Stale)
            );
        }
    }

    #[test]
    fn a_click_is_read_from_the_payload_and_nothing_else_is_taken() {
        let payload = json!({
            "type": "block_actions",
            "token": "verification-token-never-echoed",
            "user": {"id": "U0ALICE001", "username": "alice", "team_id": "T1"},
            "actions": [{"action_id": "approve", "value": "abc123", "type": "button"}],
        });
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        assert_eq!(
            click(body.as_bytes()).unwrap(),
            Click {
                user_id: "U0ALICE001".into(),
                user_name: Some("alice".into()),
                action_id: "approve".into(),
                value: "abc123".into(),
            }
        );
        let modal = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(
                "payload",
                &json!({"type": "view_submission", "user": {"id": "U1"}}).to_string(),
            )
            .finish();
        assert!(
            click(modal.as_bytes())
                .unwrap_err()
                .contains("view_submission")
        );
        let garbage = "payload=%7B%22token%22%3A%22secret-token%22";
        let error = click(garbage.as_bytes()).unwrap_err();
        assert!(!error.contains("secret-token"), "{error}");
        assert!(click(b"text=hi").is_err());
    }
}
