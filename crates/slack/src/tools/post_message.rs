//! `post_message`: posts Markdown text (converted to mrkdwn) to a channel or thread, as the bot.
//!
//! Order of checks: empty text, broadcast mentions (unless `SLACK_ALLOW_BROADCAST`), conversion
//! and splitting (at most [`MAX_PARTS`] messages), channel resolution, the write allow-list, then
//! deduplication: a retried call (same `idempotency_key`, or same channel + thread + text within
//! the dedupe window) returns the first call's message instead of posting again. A name resolved
//! from the channel cache that Slack no longer knows (`channel_not_found`) is resolved again once,
//! with a fresh cache.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SlackServer;
use crate::broadcast::{find_broadcast, link_broadcasts};
use crate::channels::ChannelRef;
use crate::dedupe::post_key;
use crate::error::SlackError;
use crate::mrkdwn::to_mrkdwn;
use crate::split::{MAX_PART_CHARS, MAX_PARTS, split_message};

/// Arguments of `post_message`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PostMessageArgs {
    /// Channel to post to: `#name`, `name`, or an id such as `C0123456789`.
    pub channel: String,
    /// Message text in Markdown (bold, italics, code, links, lists, quotes), converted to Slack
    /// mrkdwn. Mention people as `<@USERID>` (ids from list_users). Text longer than 39,000
    /// characters is posted as several messages, at most 4.
    pub text: String,
    /// ts of a thread's parent message, to reply in that thread.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// Optional unique string for this post. Repeating a call with the same key (same channel)
    /// returns the first message instead of posting again. Without a key, an identical post
    /// (same channel, thread and text) within 60 seconds is also treated as a repeat.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Result of `post_message`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PostMessageResult {
    /// Channel id.
    pub channel: String,
    /// Channel name, when known.
    pub channel_name: Option<String>,
    /// ts of the (first) message: pass it as `thread_ts` to reply, or to add_reaction.
    pub ts: String,
    /// The thread the message was posted in, if any.
    pub thread_ts: Option<String>,
    /// Link to the message (absent if Slack could not give one; the message was posted).
    pub permalink: Option<String>,
    /// ts of every message posted, in order (more than one when the text was split).
    pub parts: Vec<String>,
    /// True when this call repeated an earlier one and nothing new was posted.
    pub deduplicated: bool,
}

#[tool_router(router = post_message_router, vis = "pub(crate)")]
impl SlackServer {
    /// Posts a message.
    #[tool(
        name = "post_message",
        description = "Post a message as the bot to a Slack channel (by #name, name or id) or, \
                       with thread_ts, as a reply in a thread. Text is Markdown, converted to \
                       Slack formatting; long text becomes up to 4 messages. @channel/@here/\
                       @everyone are refused unless the operator allows broadcasts. Only \
                       channels this server may write to (SLACK_CHANNELS, else where the bot is \
                       a member). Returns the channel id, ts and a permalink. Repeating the same \
                       call (or idempotency_key) returns the first message instead of posting twice.",
        annotations(
            title = "Post a Slack message",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub(crate) async fn post_message(
        &self,
        Parameters(args): Parameters<PostMessageArgs>,
    ) -> Result<Json<PostMessageResult>, String> {
        self.run_post_message(args)
            .await
            .map(Json)
            .map_err(|error| self.tool_error("post_message", error))
    }
}

/// Turns the model's Markdown into the messages to post.
fn prepare_text(text: &str, allow_broadcast: bool) -> Result<Vec<String>, SlackError> {
    if text.trim().is_empty() {
        return Err(SlackError::InvalidArgument(
            "text is empty: give the message to post".to_owned(),
        ));
    }
    if !allow_broadcast && let Some(mention) = find_broadcast(text) {
        return Err(SlackError::BroadcastRefused { mention });
    }
    let mut converted = to_mrkdwn(text);
    if allow_broadcast {
        converted = link_broadcasts(&converted);
    }
    let parts = split_message(&converted, MAX_PART_CHARS);
    if parts.len() > MAX_PARTS {
        return Err(SlackError::TooLong {
            chars: converted.chars().count(),
            parts: parts.len(),
            max_parts: MAX_PARTS,
            part_chars: MAX_PART_CHARS,
        });
    }
    Ok(parts)
}

impl SlackServer {
    #[tracing::instrument(skip_all, fields(tool = "post_message", channel = %args.channel))]
    async fn run_post_message(
        &self,
        args: PostMessageArgs,
    ) -> Result<PostMessageResult, SlackError> {
        let parts = prepare_text(&args.text, self.config().allow_broadcast)?;
        let thread_ts = args
            .thread_ts
            .as_deref()
            .map(str::trim)
            .filter(|ts| !ts.is_empty());
        let channel = self.resolve_channel(&args.channel).await?;
        self.check_writable(&channel)?;
        let (key, explicit) = post_key(
            args.idempotency_key.as_deref(),
            &channel.id,
            thread_ts,
            &parts.join("\n"),
        );
        let (mut result, deduplicated) = self
            .dedupe()
            .run(&key, explicit, || {
                self.post_parts(channel, &args.channel, thread_ts, &parts)
            })
            .await?;
        if deduplicated {
            tracing::info!(ts = %result.ts, "repeated post_message answered with the first message");
        }
        result.deduplicated = deduplicated;
        Ok(result)
    }

    /// Posts every part; the first one is retried once on a fresh channel cache if Slack says
    /// the cached channel does not exist.
    async fn post_parts(
        &self,
        mut channel: ChannelRef,
        requested: &str,
        thread_ts: Option<&str>,
        parts: &[String],
    ) -> Result<PostMessageResult, SlackError> {
        let client = self.client();
        let first = match client.post_message(&channel.id, &parts[0], thread_ts).await {
            Err(error) if error.code() == Some("channel_not_found") && channel.from_cache => {
                tracing::info!(channel = %channel.label(), "cached channel not found; refreshing");
                self.channels().invalidate().await;
                channel = self.resolve_channel(requested).await?;
                self.check_writable(&channel)?;
                client
                    .post_message(&channel.id, &parts[0], thread_ts)
                    .await?
            }
            other => other?,
        };
        let mut posted = vec![first.ts.clone()];
        for part in &parts[1..] {
            match client.post_message(&first.channel, part, thread_ts).await {
                Ok(next) => posted.push(next.ts),
                Err(source) => {
                    return Err(SlackError::PartiallyPosted {
                        posted: posted.len(),
                        total: parts.len(),
                        first_ts: first.ts,
                        source: Box::new(source),
                    });
                }
            }
        }
        let permalink = match client.get_permalink(&first.channel, &first.ts).await {
            Ok(link) => Some(link),
            Err(error) => {
                tracing::warn!(%error, "message posted but chat.getPermalink failed");
                None
            }
        };
        Ok(PostMessageResult {
            channel: first.channel,
            channel_name: channel.name,
            ts: first.ts,
            thread_ts: thread_ts.map(str::to_owned),
            permalink,
            parts: posted,
            deduplicated: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::prepare_text;
    use crate::error::SlackError;

    #[test]
    fn prepares_converted_parts() {
        assert_eq!(
            prepare_text("**done** <@U1>", false).expect("ok"),
            vec!["*done* <@U1>"]
        );
        assert!(matches!(
            prepare_text("  ", false),
            Err(SlackError::InvalidArgument(_))
        ));
        assert!(matches!(
            prepare_text("hi @here", false),
            Err(SlackError::BroadcastRefused { mention }) if mention == "@here"
        ));
        assert_eq!(
            prepare_text("hi @here", true).expect("ok"),
            vec!["hi <!here>"]
        );
        let huge = "word ".repeat(40_000);
        assert!(matches!(
            prepare_text(&huge, false),
            Err(SlackError::TooLong { parts: 6, .. })
        ));
    }
}
