//! The Slack Web API client: one method per Web API call the tools make, every call through the
//! shared outbound HTTP policy (`switchboard-http`: timeouts, retries honouring `Retry-After`,
//! token redaction), and Slack's envelope turned into typed results or a [`SlackError`].
//!
//! Wire format: read methods send `application/x-www-form-urlencoded` bodies (Slack's read methods
//! do not take JSON); write methods send `application/json; charset=utf-8`. The token travels
//! only in the `Authorization: Bearer` header added by the HTTP client.
//!
//! `chat.postMessage` is paced per channel to Slack's one message per second (a keyed `governor`
//! limiter), so a burst of posts is spread out here instead of being answered with HTTP 429.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use switchboard_http::{Auth, HttpClient, HttpError, Idempotency, StatusCode, header};

use crate::api::{
    Channel, ChannelInfo, ChannelsPage, Empty, MessagesPage, Permalink, Posted, UsersPage,
};
use crate::config::SlackConfig;
use crate::error::SlackError;

/// A request body.
enum Body {
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

/// Calls the Slack Web API. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub(crate) struct SlackClient {
    http: HttpClient,
    base: String,
    pacing: DefaultKeyedRateLimiter<String>,
}

impl SlackClient {
    /// Builds the client for `config`.
    ///
    /// # Errors
    /// [`SlackError::Http`] when the HTTP client cannot be built.
    pub(crate) fn new(config: &SlackConfig) -> Result<Self, SlackError> {
        let http = HttpClient::new(config.http.clone(), Auth::Bearer(config.token.secret()))
            .map_err(|source| SlackError::Http {
                method: "(client setup)".to_owned(),
                source,
            })?;
        let base = config.api_url.as_str().trim_end_matches('/').to_owned();
        let pacing = RateLimiter::keyed(Quota::per_second(NonZeroU32::MIN));
        Ok(Self { http, base, pacing })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        body: Body,
        idempotency: Idempotency,
    ) -> Result<T, SlackError> {
        let url = format!("{}/{method}", self.base);
        let builder = match body {
            Body::Form(pairs) => self.http.post(&url).form(&pairs),
            Body::Json(value) => self
                .http
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(value.to_string()),
        };
        let response =
            self.http
                .send(builder, idempotency)
                .await
                .map_err(|source| match source {
                    HttpError::RetriesExhausted {
                        last_status: Some(StatusCode::TOO_MANY_REQUESTS),
                        retry_after,
                        ..
                    } => SlackError::RateLimited {
                        method: method.to_owned(),
                        retry_after,
                    },
                    source => SlackError::Http {
                        method: method.to_owned(),
                        source,
                    },
                })?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = switchboard_http::parse_retry_after(
                response.headers(),
                std::time::SystemTime::now(),
            );
            return Err(SlackError::RateLimited {
                method: method.to_owned(),
                retry_after,
            });
        }
        let response = response
            .error_for_status()
            .map_err(|source| SlackError::Http {
                method: method.to_owned(),
                source,
            })?;
        let malformed = |detail: String| SlackError::Malformed {
            method: method.to_owned(),
            detail,
        };
        let value: Value = serde_json::from_slice(response.body())
            .map_err(|error| malformed(format!("not JSON: {error}")))?;
        check_envelope(method, &value)?;
        serde_json::from_value(value).map_err(|error| malformed(error.to_string()))
    }

    /// `conversations.list`: one page.
    pub(crate) async fn conversations_list(
        &self,
        types: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<ChannelsPage, SlackError> {
        let mut form = vec![("types", types.to_owned()), ("limit", limit.to_string())];
        push_opt(&mut form, "cursor", cursor);
        self.call(
            "conversations.list",
            Body::Form(form),
            Idempotency::Idempotent,
        )
        .await
    }

    /// `conversations.info`.
    pub(crate) async fn conversations_info(&self, channel: &str) -> Result<Channel, SlackError> {
        let form = vec![("channel", channel.to_owned())];
        let info: ChannelInfo = self
            .call(
                "conversations.info",
                Body::Form(form),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(info.channel)
    }

    /// `conversations.history`: one page, newest first.
    pub(crate) async fn conversations_history(
        &self,
        channel: &str,
        limit: u32,
        oldest: Option<&str>,
        latest: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<MessagesPage, SlackError> {
        let mut form = vec![
            ("channel", channel.to_owned()),
            ("limit", limit.to_string()),
        ];
        push_opt(&mut form, "oldest", oldest);
        push_opt(&mut form, "latest", latest);
        push_opt(&mut form, "cursor", cursor);
        self.call(
            "conversations.history",
            Body::Form(form),
            Idempotency::Idempotent,
        )
        .await
    }

    /// `conversations.replies`: one page, parent first.
    pub(crate) async fn conversations_replies(
        &self,
        channel: &str,
        ts: &str,
        cursor: Option<&str>,
    ) -> Result<MessagesPage, SlackError> {
        let mut form = vec![("channel", channel.to_owned()), ("ts", ts.to_owned())];
        form.push(("limit", "200".to_owned()));
        push_opt(&mut form, "cursor", cursor);
        self.call(
            "conversations.replies",
            Body::Form(form),
            Idempotency::Idempotent,
        )
        .await
    }

    /// `chat.postMessage`, after waiting for the channel's one-message-per-second slot.
    pub(crate) async fn post_message(
        &self,
        channel_id: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Result<Posted, SlackError> {
        let mut body = json!({ "channel": channel_id, "text": text });
        if let Some(thread_ts) = thread_ts {
            body["thread_ts"] = json!(thread_ts);
        }
        self.post(channel_id, body).await
    }

    /// `chat.postMessage` of `body` (its `channel` is `channel`), after waiting for the channel's
    /// one-message-per-second slot.
    pub(crate) async fn post(&self, channel: &str, body: Value) -> Result<Posted, SlackError> {
        self.pacing.until_key_ready(&channel.to_owned()).await;
        self.call(
            "chat.postMessage",
            Body::Json(body),
            Idempotency::NonIdempotent,
        )
        .await
    }

    /// `chat.update` of one of the bot's messages (an update is idempotent: the same text twice
    /// leaves the same message).
    pub(crate) async fn update(&self, body: Value) -> Result<Posted, SlackError> {
        self.call("chat.update", Body::Json(body), Idempotency::Idempotent)
            .await
    }

    /// `chat.getPermalink`.
    pub(crate) async fn get_permalink(
        &self,
        channel_id: &str,
        ts: &str,
    ) -> Result<String, SlackError> {
        let form = vec![
            ("channel", channel_id.to_owned()),
            ("message_ts", ts.to_owned()),
        ];
        let link: Permalink = self
            .call(
                "chat.getPermalink",
                Body::Form(form),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(link.permalink)
    }

    /// `reactions.add`.
    pub(crate) async fn reactions_add(
        &self,
        channel_id: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), SlackError> {
        let body = json!({ "channel": channel_id, "timestamp": ts, "name": name });
        let _: Empty = self
            .call(
                "reactions.add",
                Body::Json(body),
                Idempotency::NonIdempotent,
            )
            .await?;
        Ok(())
    }

    /// `users.list`: one page.
    pub(crate) async fn users_list(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<UsersPage, SlackError> {
        let mut form = vec![("limit", limit.to_string())];
        push_opt(&mut form, "cursor", cursor);
        self.call("users.list", Body::Form(form), Idempotency::Idempotent)
            .await
    }
}

fn push_opt(form: &mut Vec<(&'static str, String)>, name: &'static str, value: Option<&str>) {
    if let Some(value) = value.filter(|value| !value.is_empty()) {
        form.push((name, value.to_owned()));
    }
}

/// Checks Slack's `ok`, turning `ok: false` into [`SlackError::Api`], and logs warnings.
fn check_envelope(method: &str, value: &Value) -> Result<(), SlackError> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    if let Some(warning) = text("warning") {
        tracing::warn!(method, warning, "Slack warning");
    }
    let warnings = value
        .pointer("/response_metadata/warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for warning in warnings {
        tracing::warn!(method, warning, "Slack response_metadata warning");
    }
    match value.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(()),
        Some(false) => Err(SlackError::Api {
            method: method.to_owned(),
            code: text("error").unwrap_or_else(|| "unknown_error".to_owned()),
            needed: text("needed"),
            provided: text("provided"),
        }),
        None => Err(SlackError::Malformed {
            method: method.to_owned(),
            detail: "no boolean `ok` field".to_owned(),
        }),
    }
}
