//! The Slack server's error type: one variant per thing a caller (or a model) does differently,
//! each message saying what happened and what to do. No message ever contains the token.

use std::time::Duration;

use switchboard_http::HttpError;

/// What went wrong with a Slack operation.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `{"ok": false, "error": code}`.
    #[error("Slack refused {method}: {code} — {}", advice(code, needed.as_deref(), provided.as_deref()))]
    Api {
        /// The Web API method.
        method: String,
        /// Slack's error code.
        code: String,
        /// For `missing_scope`: the scope the method needs.
        needed: Option<String>,
        /// For `missing_scope`: the scopes the token has.
        provided: Option<String>,
    },
    /// Slack kept answering HTTP 429 and the retry budget ran out.
    #[error(
        "Slack is rate limiting {method}{}; wait before calling again",
        retry_after.map(|d| format!(" (it asked to retry after {} s)", d.as_secs_f64().ceil())).unwrap_or_default()
    )]
    RateLimited {
        /// The Web API method.
        method: String,
        /// Slack's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The HTTP call failed (timeout, connection, unexpected status).
    #[error("calling Slack's {method} failed: {source}")]
    Http {
        /// The Web API method.
        method: String,
        /// The transport error (never carries credentials).
        source: HttpError,
    },
    /// Slack answered something that is not the documented JSON.
    #[error(
        "Slack's {method} answered with a body that is not the expected JSON ({detail}); this is \
         usually transient — retry reads; for post_message check the channel history first"
    )]
    Malformed {
        /// The Web API method.
        method: String,
        /// What could not be parsed.
        detail: String,
    },
    /// No channel with this name or id is visible to the bot.
    #[error(
        "channel {channel:?} was not found: it does not exist, was renamed, or is private and the \
         bot is not a member; call list_channels to see the channels the bot can use"
    )]
    ChannelNotFound {
        /// The channel as given.
        channel: String,
    },
    /// `SLACK_CHANNELS` does not list the channel.
    #[error(
        "writing to #{channel} is not allowed: this server may only write to {allowed} \
         (SLACK_CHANNELS); choose one of those channels or ask the operator to add this one"
    )]
    ChannelNotAllowed {
        /// The channel's name (or id).
        channel: String,
        /// The allow-list, formatted.
        allowed: String,
    },
    /// No allow-list is configured and the bot is not a member of the channel.
    #[error(
        "the bot is not a member of #{channel}, and without SLACK_CHANNELS it only writes where it \
         is a member: invite it with `/invite @<bot name>` in #{channel}, or choose a channel it is in"
    )]
    NotAMember {
        /// The channel's name.
        channel: String,
    },
    /// The text mentions `@channel`, `@here` or `@everyone` and broadcasts are not allowed.
    #[error(
        "the message contains the broadcast mention {mention}, which notifies everyone in the \
         channel and is disabled on this server (SLACK_ALLOW_BROADCAST); remove it or mention \
         specific people with <@USERID>"
    )]
    BroadcastRefused {
        /// The mention found.
        mention: String,
    },
    /// The text would need more messages than one call may post.
    #[error(
        "the message is {chars} characters after conversion and would need {parts} Slack messages; \
         at most {max_parts} messages of {part_chars} characters are posted per call — shorten it \
         or post it in several calls"
    )]
    TooLong {
        /// Characters after Markdown conversion.
        chars: usize,
        /// Messages it would take.
        parts: usize,
        /// The per-call limit.
        max_parts: usize,
        /// Characters per message.
        part_chars: usize,
    },
    /// A tool argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// A long message failed part-way: some parts were posted.
    #[error(
        "posted {posted} of {total} parts (ts {first_ts}) before failing: {source}; the posted \
         parts stay in the channel — do not repeat them"
    )]
    PartiallyPosted {
        /// Parts posted before the failure.
        posted: usize,
        /// Parts in total.
        total: usize,
        /// The first part's ts.
        first_ts: String,
        /// The failure.
        source: Box<SlackError>,
    },
}

impl SlackError {
    /// Slack's error code, for [`SlackError::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What to do about a Slack error code, in one sentence.
fn advice(code: &str, needed: Option<&str>, provided: Option<&str>) -> String {
    let fixed = match code {
        "not_in_channel" => {
            "the bot is not a member of this channel; invite it with `/invite @<bot name>` in the \
             channel, then retry"
        }
        "missing_scope" => {
            return format!(
                "the token lacks the `{}` scope (it has: {}); add it under OAuth & Permissions in \
                 the Slack app's settings, reinstall the app, and restart this server",
                needed.unwrap_or("(Slack did not say which)"),
                provided.filter(|p| !p.is_empty()).unwrap_or("none")
            );
        }
        "channel_not_found" => {
            "the channel does not exist or is private without the bot in it; check the channel \
             with list_channels"
        }
        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "not_allowed_token_type" => {
            "the Slack token is missing, invalid, revoked, or belongs to a deactivated app; the \
             operator must set a valid SLACK_BOT_TOKEN and restart — retrying will not help"
        }
        "is_archived" => {
            "the channel is archived; choose another channel or ask for it to be unarchived"
        }
        "msg_too_long" => "the text is longer than Slack's 40,000 characters; shorten it",
        "no_text" => "the message text is empty; provide some text",
        "ratelimited" | "rate_limited" => {
            "Slack is rate limiting this app; wait a minute and retry"
        }
        "already_reacted" => "the bot already added this reaction to this message; nothing to do",
        "invalid_name" => {
            "no emoji has that name in this workspace; use a name such as thumbsup, \
             white_check_mark or eyes, without colons"
        }
        "too_many_attachments" => "Slack allows at most 100 attachments per message",
        "too_many_reactions" | "too_many_emoji" => "the message has reached Slack's reaction limit",
        "message_not_found" => {
            "no message has that ts in this channel; take ts values from get_channel_history"
        }
        "thread_not_found" => {
            "no message has that thread_ts in this channel; take it from get_channel_history"
        }
        "bad_timestamp" | "invalid_ts_latest" | "invalid_ts_oldest" => {
            "timestamps must be Slack ts values such as 1700000000.000100"
        }
        "invalid_cursor" => "the cursor is invalid or expired; start again without a cursor",
        "invalid_limit" => "limit must be a positive number",
        "invalid_types" => {
            "types must be a comma-separated list of public_channel, private_channel, mpim, im"
        }
        "no_permission"
        | "restricted_action"
        | "restricted_action_read_only_channel"
        | "restricted_action_thread_only_channel"
        | "ekm_access_denied"
        | "access_denied" => {
            "a workspace or channel setting forbids this action for the bot; choose another \
             channel or ask a Slack admin"
        }
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
            "Slack had an internal problem; retry reads later, and check the channel before \
             repeating a post (it may have gone through)"
        }
        _ => return format!("see https://api.slack.com/methods for what `{code}` means"),
    };
    fixed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::SlackError;

    fn api(code: &str) -> SlackError {
        SlackError::Api {
            method: "chat.postMessage".into(),
            code: code.into(),
            needed: None,
            provided: None,
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        assert!(api("not_in_channel").to_string().contains("/invite"));
        assert!(api("invalid_auth").to_string().contains("SLACK_BOT_TOKEN"));
        assert!(api("something_new").to_string().contains("something_new"));
        let scope = SlackError::Api {
            method: "reactions.add".into(),
            code: "missing_scope".into(),
            needed: Some("reactions:write".into()),
            provided: Some("chat:write,channels:read".into()),
        };
        let text = scope.to_string();
        assert!(
            text.contains("`reactions:write`") && text.contains("chat:write,channels:read"),
            "{text}"
        );
    }
}
