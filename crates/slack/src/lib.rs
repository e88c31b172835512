//! The Slack MCP server (`switchboard server slack`): Slack Web API tools for models.
//!
//! - [`SlackConfig`] reads `SLACK_BOT_TOKEN`, `SLACK_API_URL`, `SLACK_CHANNELS`,
//!   `SLACK_READ_ONLY` and `SLACK_ALLOW_BROADCAST` ([`SlackConfig::from_env`]).
//! - [`SlackServer`] is the rmcp [`ServerHandler`]: tools `post_message`, `list_channels`,
//!   `get_channel_history`, `get_thread_replies`, `add_reaction`, `list_users`, each in its own
//!   file under [`tools`]. In read-only mode the write tools are neither listed nor callable.
//! - [`interactions`] lets other parts of Switchboard ask people in Slack: messages with buttons
//!   posted and updated ([`interactions::Messenger`]), and the signed requests Slack sends when a
//!   button is clicked, verified ([`interactions::verify`]).
//! - Calls go through the shared outbound HTTP policy (`switchboard-http`); Slack's
//!   `{"ok": false, "error": …}` answers become tool errors saying what to do ([`SlackError`]).
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use rmcp::ServiceExt;
//! let server = switchboard_slack::SlackServer::new(switchboard_slack::SlackConfig::from_env()?)?;
//! server.serve(rmcp::transport::stdio()).await?.waiting().await?;
//! # Ok(()) }
//! ```

mod api;
mod broadcast;
mod channels;
mod client;
pub mod config;
mod dedupe;
pub mod error;
pub mod interactions;
pub mod mrkdwn;
mod split;
pub mod tools;

use std::sync::Arc;

use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use tracing::Instrument;

pub use config::{ConfigError, SlackConfig, SlackToken};
pub use error::SlackError;
pub use split::{MAX_PART_CHARS, MAX_PARTS};
pub use tools::WRITE_TOOLS;

use channels::{ChannelDirectory, ChannelRef};
use client::SlackClient;
use dedupe::Deduper;
use tools::post_message::PostMessageResult;

const INSTRUCTIONS: &str = "Slack tools. Find channels with list_channels and people with \
list_users; read with get_channel_history and get_thread_replies; post with post_message (Markdown \
is converted to Slack formatting; mention people as <@USERID>) and react with add_reaction. Message \
ts values identify messages: use them as thread_ts to reply in a thread.";

struct Shared {
    config: SlackConfig,
    client: SlackClient,
    channels: ChannelDirectory,
    dedupe: Deduper<PostMessageResult>,
}

/// The Slack MCP server. Cheap to clone: clones share the HTTP client, the channel cache, the
/// per-channel pacing and the dedupe memory (so one instance can serve many HTTP sessions).
#[derive(Clone)]
pub struct SlackServer {
    shared: Arc<Shared>,
    tool_router: ToolRouter<SlackServer>,
}

impl std::fmt::Debug for SlackServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackServer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl SlackServer {
    /// Builds the server. Call inside a tokio runtime. No request is made to Slack until a tool
    /// is called.
    ///
    /// # Errors
    /// [`SlackError::Http`] when the HTTP client cannot be built (TLS backend, invalid header).
    pub fn new(config: SlackConfig) -> Result<Self, SlackError> {
        let client = SlackClient::new(&config)?;
        let mut tool_router = Self::list_channels_router()
            + Self::get_channel_history_router()
            + Self::get_thread_replies_router()
            + Self::list_users_router();
        if !config.read_only {
            tool_router = tool_router + Self::post_message_router() + Self::add_reaction_router();
        }
        let shared = Shared {
            channels: ChannelDirectory::new(config.channel_cache_ttl),
            dedupe: Deduper::new(config.dedupe_window),
            client,
            config,
        };
        Ok(Self {
            shared: Arc::new(shared),
            tool_router,
        })
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &SlackConfig {
        &self.shared.config
    }

    pub(crate) fn client(&self) -> &SlackClient {
        &self.shared.client
    }

    pub(crate) fn channels(&self) -> &ChannelDirectory {
        &self.shared.channels
    }

    pub(crate) fn dedupe(&self) -> &Deduper<PostMessageResult> {
        &self.shared.dedupe
    }

    pub(crate) async fn resolve_channel(&self, channel: &str) -> Result<ChannelRef, SlackError> {
        self.shared
            .channels
            .resolve(&self.shared.client, channel)
            .await
    }

    /// The write policy: with `SLACK_CHANNELS`, only listed channels; without, only channels the
    /// bot is a member of.
    pub(crate) fn check_writable(&self, channel: &ChannelRef) -> Result<(), SlackError> {
        let config = &self.shared.config;
        match config.allows(&channel.id, channel.name.as_deref()) {
            Some(true) => Ok(()),
            Some(false) => Err(SlackError::ChannelNotAllowed {
                channel: channel.label().to_owned(),
                allowed: config
                    .channels
                    .iter()
                    .flatten()
                    .map(|entry| format!("#{entry}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            None if channel.is_member => Ok(()),
            None => Err(SlackError::NotAMember {
                channel: channel.label().to_owned(),
            }),
        }
    }

    /// Logs a tool failure once and turns it into the text of an `isError` result.
    pub(crate) fn tool_error(&self, tool: &str, error: SlackError) -> String {
        tracing::info!(tool, error = %error, "tool call failed");
        error.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SlackServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "switchboard-slack",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS.to_owned())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.shared.config.read_only && WRITE_TOOLS.contains(&request.name.as_ref()) {
            let message = format!(
                "{} is disabled: this Slack server is read-only (SLACK_READ_ONLY); only reading \
                 tools are available",
                request.name
            );
            return Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into());
        }
        let span = switchboard_telemetry::tool_call_span(
            &request.name,
            context.meta.get_traceparent(),
            context.meta.get_tracestate(),
        );
        let context = ToolCallContext::new(self, request, context);
        self.tool_router.call(context).instrument(span).await
    }
}
