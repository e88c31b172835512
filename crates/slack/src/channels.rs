//! Channel resolution: `#name`, `name` or id → the channel's id and facts, through a
//! `conversations.list` cache (cursor-paginated, trusted for a TTL, refreshed once when a name is
//! missing or Slack answers `channel_not_found` for a cached id).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::api::Channel;
use crate::client::SlackClient;
use crate::error::SlackError;

/// Most `conversations.list` pages read to fill the cache (1,000 channels each).
const MAX_PAGES: usize = 50;

/// A resolved channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChannelRef {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) is_member: bool,
    pub(crate) is_archived: bool,
    /// Resolved from the cache by name (so a `channel_not_found` may mean the cache is stale).
    pub(crate) from_cache: bool,
}

impl ChannelRef {
    fn from_channel(channel: &Channel, from_cache: bool) -> Self {
        Self {
            id: channel.id.clone(),
            name: channel.name.clone(),
            is_member: channel.is_member,
            is_archived: channel.is_archived,
            from_cache,
        }
    }

    /// `name` if known, else the id: for messages.
    pub(crate) fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug)]
struct Cached {
    fetched: Instant,
    channels: Vec<ChannelRef>,
}

/// The name → channel cache.
#[derive(Debug)]
pub(crate) struct ChannelDirectory {
    ttl: Duration,
    cache: Mutex<Option<Cached>>,
}

/// Whether `input` (without `#`) is a conversation id rather than a name: ids are upper-case
/// letters and digits starting with C, G or D; names are lower-case.
fn looks_like_id(input: &str) -> bool {
    input.len() >= 9
        && input.starts_with(['C', 'G', 'D'])
        && input
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl ChannelDirectory {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// Resolves `#name`, `name` or an id. A name is looked up in the cache (filled when empty or
    /// older than the TTL); when missing from a cache that was not just filled, the cache is
    /// refreshed once.
    ///
    /// # Errors
    /// [`SlackError::ChannelNotFound`] when no visible channel matches; Slack errors from
    /// `conversations.list` / `conversations.info`.
    pub(crate) async fn resolve(
        &self,
        client: &SlackClient,
        input: &str,
    ) -> Result<ChannelRef, SlackError> {
        let key = input.trim().trim_start_matches('#');
        if key.is_empty() {
            return Err(SlackError::InvalidArgument(
                "channel is empty: give a channel name such as #operations, or an id such as C0123456789"
                    .to_owned(),
            ));
        }
        if looks_like_id(key) {
            return match client.conversations_info(key).await {
                Ok(channel) => Ok(ChannelRef::from_channel(&channel, false)),
                Err(error) if error.code() == Some("channel_not_found") => {
                    Err(SlackError::ChannelNotFound {
                        channel: input.to_owned(),
                    })
                }
                Err(error) => Err(error),
            };
        }
        let name = key.to_lowercase();
        let (found, refreshed) = self.lookup(client, &name, false).await?;
        let found = match found {
            Some(found) => Some(found),
            // Missing from a cache that may be stale: refresh once.
            None if !refreshed => self.lookup(client, &name, true).await?.0,
            None => None,
        };
        found.ok_or_else(|| SlackError::ChannelNotFound {
            channel: input.to_owned(),
        })
    }

    /// Forgets the cache (after Slack said a cached id does not exist).
    pub(crate) async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Looks `name` up, filling the cache first when forced, empty or stale; also says whether
    /// it filled the cache.
    async fn lookup(
        &self,
        client: &SlackClient,
        name: &str,
        force: bool,
    ) -> Result<(Option<ChannelRef>, bool), SlackError> {
        let mut cache = self.cache.lock().await;
        let fresh = cache
            .as_ref()
            .is_some_and(|cached| cached.fetched.elapsed() < self.ttl);
        let refresh = force || !fresh;
        if refresh {
            let channels = fetch_all(client).await?;
            tracing::debug!(count = channels.len(), "channel cache refreshed");
            *cache = Some(Cached {
                fetched: Instant::now(),
                channels,
            });
        }
        let found = cache
            .as_ref()
            .and_then(|cached| {
                cached
                    .channels
                    .iter()
                    .find(|c| c.name.as_deref() == Some(name))
            })
            .cloned();
        Ok((found, refresh))
    }
}

/// Every public and private channel visible to the bot, following `next_cursor`. Without the
/// `groups:read` scope, falls back to public channels only.
async fn fetch_all(client: &SlackClient) -> Result<Vec<ChannelRef>, SlackError> {
    match fetch_types(client, "public_channel,private_channel").await {
        Err(error) if error.code() == Some("missing_scope") => {
            tracing::debug!("no groups:read scope: resolving public channels only");
            fetch_types(client, "public_channel").await
        }
        other => other,
    }
}

async fn fetch_types(client: &SlackClient, types: &str) -> Result<Vec<ChannelRef>, SlackError> {
    let mut channels = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .conversations_list(types, 1000, cursor.as_deref())
            .await?;
        channels.extend(
            page.channels
                .iter()
                .map(|channel| ChannelRef::from_channel(channel, true)),
        );
        cursor = page.response_metadata.next();
        if cursor.is_none() {
            break;
        }
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::looks_like_id;

    #[test]
    fn tells_ids_from_names() {
        assert!(looks_like_id("C0GENERAL1"));
        assert!(looks_like_id("G0123456789"));
        assert!(!looks_like_id("general"));
        assert!(!looks_like_id("C0FFEE"));
        assert!(!looks_like_id("ops-2024"));
    }
}
