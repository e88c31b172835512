//! Approvals in Slack (`[approvals] slack`): each call that starts waiting in the approval queue
//! is posted to a channel with Approve and Deny buttons. A click comes back to the gateway's
//! `/slack/interactions` and decides the call as `switchboard approvals` would — but only when
//! Slack's signature verifies, the request is neither stale nor a replay, and the person who
//! clicked is a listed operator. When the wait ends — decided anywhere, timed out, or the caller
//! gone — the message is updated to say how and by whom, and loses its buttons.
//!
//! Slack is a second way to reach operators, never the only one: when posting fails the call keeps
//! waiting for the console and the CLI, and the failure is logged (never with the token).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchboard_slack::interactions::{self, Message, Messenger, Unverified};
use switchboard_slack::mrkdwn::escape;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::queue::{ApprovalNote, QueuedApproval};
use crate::config::ResolvedSlackApprovals;

/// The `action_id`s of the two buttons.
const APPROVE: &str = "approve";
const DENY: &str = "deny";

/// How much of a call's (redacted) arguments a message shows.
const MAX_ARGUMENTS: usize = 2_000;

/// Posts waiting calls to Slack and takes operators' clicks.
pub(crate) struct SlackApprovals {
    messenger: Messenger,
    channel: String,
    signing_secret: String,
    operators: Vec<String>,
    /// Signatures taken within the replay window, so the same request is taken once.
    seen: Mutex<HashMap<String, Instant>>,
}

/// An operator's click, verified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SlackDecision {
    /// The queued call's id.
    pub(crate) id: String,
    /// Approve (or deny).
    pub(crate) approve: bool,
    /// Who, as the audit record names them: `slack:<user id> (<handle>)`.
    pub(crate) by: String,
}

/// Why an interaction request decided nothing.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// Not shown to be Slack's.
    #[error("{0}")]
    Unverified(#[from] Unverified),
    /// Slack's, but taken before.
    #[error("this request was taken before (a replay)")]
    Replayed,
    /// Slack's, but not a click on one of these buttons.
    #[error("{0}")]
    Malformed(String),
    /// A click by someone who is not a listed operator.
    #[error("Slack user {0} is not an operator ([approvals] slack operators)")]
    NotAnOperator(String),
}

impl SlackApprovals {
    /// Approvals posted through `config`'s Web API.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub(crate) fn new(config: &ResolvedSlackApprovals) -> Result<Self, String> {
        Ok(Self {
            messenger: Messenger::new(&config.slack).map_err(|e| e.to_string())?,
            channel: config.channel.clone(),
            signing_secret: config.signing_secret.clone(),
            operators: config.operators.clone(),
            seen: Mutex::default(),
        })
    }

    /// Starts posting `shown` (which waits up to `wait`); the message is settled when the
    /// returned [`Announcement`] is told the answer, or dropped.
    pub(crate) fn announce(
        self: &Arc<Self>,
        shown: QueuedApproval,
        wait: Duration,
    ) -> Announcement {
        let slack = self.clone();
        let posting = {
            let shown = shown.clone();
            tokio::spawn(async move {
                let (text, blocks) = asking(&shown, wait);
                match slack.messenger.post(&slack.channel, &text, blocks).await {
                    Ok(message) => Some(message),
                    Err(error) => {
                        tracing::warn!(
                            target: "switchboard::approvals",
                            id = %shown.id, %error,
                            "the approval request could not be posted to Slack; operators can still decide it with switchboard approvals"
                        );
                        None
                    }
                }
            })
        };
        Announcement {
            slack: self.clone(),
            shown,
            posting: Some(posting),
            note: None,
        }
    }

    /// The decision in an interaction request: `timestamp` and `signature` are its
    /// `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers.
    ///
    /// # Errors
    /// [`Refused`] saying why the request decides nothing.
    pub(crate) fn decision(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<SlackDecision, Refused> {
        interactions::verify(&self.signing_secret, timestamp, signature, body, now)?;
        self.first_time(signature.unwrap_or_default())?;
        let click = interactions::click(body).map_err(Refused::Malformed)?;
        if !self.operators.contains(&click.user_id) {
            return Err(Refused::NotAnOperator(click.user_id));
        }
        let approve = match click.action_id.as_str() {
            APPROVE => true,
            DENY => false,
            other => {
                return Err(Refused::Malformed(format!(
                    "{other:?} is not one of the approval buttons"
                )));
            }
        };
        let by = match &click.user_name {
            Some(name) => format!("slack:{} ({name})", click.user_id),
            None => format!("slack:{}", click.user_id),
        };
        Ok(SlackDecision {
            id: click.value,
            approve,
            by,
        })
    }

    /// Remembers `signature` for the replay window; a second sighting is a replay.
    fn first_time(&self, signature: &str) -> Result<(), Refused> {
        let now = Instant::now();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, at| now.duration_since(*at) <= interactions::REPLAY_WINDOW);
        if seen.insert(signature.to_owned(), now).is_some() {
            return Err(Refused::Replayed);
        }
        Ok(())
    }
}

/// A call's message in Slack, from posting to its last update.
pub(crate) struct Announcement {
    slack: Arc<SlackApprovals>,
    shown: QueuedApproval,
    posting: Option<JoinHandle<Option<Message>>>,
    note: Option<ApprovalNote>,
}

impl Announcement {
    /// How the wait ended, for the message's update.
    pub(crate) fn answered(&mut self, note: &ApprovalNote) {
        self.note = Some(note.clone());
    }
}

impl Drop for Announcement {
    /// Updates the message once it is posted, without holding up the call.
    fn drop(&mut self) {
        let Some(posting) = self.posting.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (slack, shown, note) = (self.slack.clone(), self.shown.clone(), self.note.take());
        runtime.spawn(async move {
            let Ok(Some(message)) = posting.await else {
                return;
            };
            let (text, blocks) = settled(&shown, note.as_ref());
            if let Err(error) = slack.messenger.update(&message, &text, blocks).await {
                tracing::warn!(
                    target: "switchboard::approvals",
                    id = %shown.id, %error, "the approval message in Slack could not be updated"
                );
            }
        });
    }
}

fn arguments(shown: &QueuedApproval) -> String {
    let mut text = serde_json::to_string_pretty(&shown.arguments).unwrap_or_default();
    if text.len() > MAX_ARGUMENTS {
        let mut cut = MAX_ARGUMENTS;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n…");
    }
    escape(&text.replace("```", "'''"))
}

fn who(shown: &QueuedApproval) -> String {
    escape(&shown.client)
}

/// The message asking operators: what is called, by whom, with which arguments, and the buttons.
fn asking(shown: &QueuedApproval, wait: Duration) -> (String, Value) {
    let (tool, server) = (escape(&shown.tool), escape(&shown.server));
    let text = format!(
        "Approval needed: {tool} on {server}, asked by {}",
        who(shown)
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*Approval needed*: `{tool}` on `{server}`, asked by *{}*", who(shown))}},
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("```{}```", arguments(shown))}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "Request `{}` waits up to {} s · or `switchboard approvals approve {}`",
            shown.id, wait.as_secs(), shown.id)}]},
        {"type": "actions", "block_id": "switchboard_approval", "elements": [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": shown.id,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": DENY, "style": "danger", "value": shown.id,
             "text": {"type": "plain_text", "text": "Deny"}},
        ]},
    ]);
    (text, blocks)
}

/// The message once the wait is over: how it ended and by whom; no buttons.
fn settled(shown: &QueuedApproval, note: Option<&ApprovalNote>) -> (String, Value) {
    let outcome = match note {
        Some(note) => {
            let by = escape(note.by.as_deref().unwrap_or("an operator"));
            match note.decision.as_str() {
                "approved" => format!("Approved by {by}"),
                "denied" => match &note.reason {
                    Some(reason) => format!("Denied by {by}: {}", escape(reason)),
                    None => format!("Denied by {by}"),
                },
                _ => "Timed out: nobody decided in time".to_owned(),
            }
        }
        None => "Withdrawn: the caller stopped waiting".to_owned(),
    };
    let (tool, server) = (escape(&shown.tool), escape(&shown.server));
    let text = format!("{outcome}: {tool} on {server}, asked by {}", who(shown));
    let at = note.map_or_else(super::queue::now_rfc3339, |n| n.at.clone());
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{outcome}*: `{tool}` on `{server}`, asked by *{}*", who(shown))}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "Request `{}` · {at}", shown.id)}]},
    ]);
    (text, blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approvals() -> SlackApprovals {
        let token = switchboard_slack::SlackToken::new("xoxb-1-2-abc").unwrap();
        SlackApprovals::new(&ResolvedSlackApprovals {
            slack: switchboard_slack::SlackConfig::new(token),
            channel: "#approvals".into(),
            signing_secret: "signing-secret".into(),
            operators: vec!["U0ALICE001".into()],
        })
        .unwrap()
    }

    fn click(user: &str, action: &str) -> String {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": "alice"},
            "actions": [{"action_id": action, "value": "abc"}],
        });
        format!("payload={}", urlencode(&payload.to_string()))
    }

    fn urlencode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    fn decide(slack: &SlackApprovals, body: &str, ts: u64) -> Result<SlackDecision, Refused> {
        let timestamp = ts.to_string();
        let signature = interactions::sign("signing-secret", &timestamp, body.as_bytes());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(ts + 1);
        slack.decision(Some(&timestamp), Some(&signature), body.as_bytes(), now)
    }

    #[tokio::test]
    async fn a_signed_click_by_an_operator_decides_once_and_nothing_else_does() {
        let slack = approvals();
        let approve = click("U0ALICE001", APPROVE);
        assert_eq!(
            decide(&slack, &approve, 1_000).unwrap(),
            SlackDecision {
                id: "abc".into(),
                approve: true,
                by: "slack:U0ALICE001 (alice)".into()
            }
        );
        assert_eq!(decide(&slack, &approve, 1_000), Err(Refused::Replayed));
        assert!(
            !decide(&slack, &click("U0ALICE001", DENY), 1_001)
                .unwrap()
                .approve
        );
        assert_eq!(
            decide(&slack, &click("U0MALLORY1", APPROVE), 1_002),
            Err(Refused::NotAnOperator("U0MALLORY1".into()))
        );
        assert!(matches!(
            decide(&slack, &click("U0ALICE001", "delete_everything"), 1_003),
            Err(Refused::Malformed(_))
        ));
        let forged = slack.decision(
            Some("1004"),
            Some(&interactions::sign(
                "another-secret",
                "1004",
                approve.as_bytes(),
            )),
            approve.as_bytes(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_004),
        );
        assert_eq!(forged, Err(Refused::Unverified(Unverified::Mismatch)));
    }

    #[test]
    fn text_from_the_caller_cannot_mention_or_link_anyone() {
        let shown = QueuedApproval {
            id: "abc".into(),
            client: "<!channel> ci".into(),
            user: None,
            tool: "slack__post_message".into(),
            server: "slack".into(),
            arguments: json!({"text": "<@U0ALICE001> see <https://evil.example|this> ```"}),
            asked_at: String::new(),
            expires_in_s: 0,
        };
        let (text, blocks) = asking(&shown, Duration::from_secs(300));
        let all = format!("{text}{blocks}");
        assert!(
            !all.contains("<@") && !all.contains("<!") && !all.contains("<http"),
            "{all}"
        );
        assert!(all.contains("&lt;@U0ALICE001&gt;"));
        let (_, settled) = settled(&shown, None);
        assert!(settled.to_string().contains("Withdrawn"));
        assert!(!settled.to_string().contains("\"actions\""));
    }
}
