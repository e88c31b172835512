//! `JiraServer`: the MCP `ServerHandler` — the tool router (write tools left out in read-only
//! mode), shared state, and the helpers the tools share (allow-list checks, rich text).

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool_handler};
use serde_json::Value;
use tracing::Instrument;

use crate::adf::markdown_to_adf;
use crate::client::JiraClient;
use crate::config::{Flavor, JiraConfig};
use crate::dedupe::Memo;
use crate::error::JiraError;
use crate::wiki::markdown_to_wiki;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP client could not be built.
    #[error("cannot build the Jira HTTP client: {0}")]
    Http(#[from] switchboard_http::HttpError),
    /// Serving over stdio failed.
    #[error("MCP over stdio failed: {0}")]
    Serve(String),
}

/// The Jira MCP server. Cheap to clone; clones share the HTTP client and the create memo.
#[derive(Clone)]
pub struct JiraServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
}

struct Inner {
    config: JiraConfig,
    client: JiraClient,
    memo: Memo,
}

impl std::fmt::Debug for JiraServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraServer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl JiraServer {
    /// Builds the server. Needs no network: Jira is first contacted by a tool call.
    ///
    /// # Errors
    /// [`StartError::Http`] when the HTTP client cannot be built.
    pub fn new(config: JiraConfig) -> Result<Self, StartError> {
        let client = JiraClient::new(&config)?;
        let mut tool_router = Self::search_issues_router()
            + Self::get_issue_router()
            + Self::get_transitions_router()
            + Self::list_projects_router()
            + Self::list_issue_types_router();
        if !config.read_only {
            tool_router = tool_router
                + Self::create_issue_router()
                + Self::add_comment_router()
                + Self::transition_issue_router();
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                memo: Memo::default(),
            }),
            tool_router,
        })
    }

    pub(crate) fn config(&self) -> &JiraConfig {
        &self.inner.config
    }

    pub(crate) fn client(&self) -> &JiraClient {
        &self.inner.client
    }

    pub(crate) fn memo(&self) -> &Memo {
        &self.inner.memo
    }

    /// Markdown as the site's rich-text body: ADF on Cloud, a wiki-markup string on Data Center.
    pub(crate) fn rich_text(&self, markdown: &str) -> Value {
        match self.inner.config.flavor {
            Flavor::Cloud => markdown_to_adf(markdown),
            Flavor::DataCenter => Value::String(markdown_to_wiki(markdown)),
        }
    }

    /// Refuses a project outside `JIRA_PROJECTS`.
    pub(crate) fn check_project(&self, project: &str) -> Result<(), JiraError> {
        if self.inner.config.project_allowed(project) {
            return Ok(());
        }
        let allowed = self
            .inner
            .config
            .projects
            .as_deref()
            .unwrap_or_default()
            .join(", ");
        Err(JiraError::NotAllowed(format!(
            "project {project} is outside this server's allowed projects ({allowed}); use one of those"
        )))
    }

    /// Normalises an issue key (`eng-12` → `ENG-12`) and checks its project against the allow-list.
    pub(crate) fn check_key(&self, key: &str) -> Result<String, JiraError> {
        let key = key.trim().to_ascii_uppercase();
        let Some((project, number)) = key.rsplit_once('-') else {
            return Err(invalid_key(&key));
        };
        let project_ok = project
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && project
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !project_ok || number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid_key(&key));
        }
        self.check_project(project)?;
        Ok(key)
    }
}

fn invalid_key(key: &str) -> JiraError {
    JiraError::InvalidArgument(format!(
        "`{key}` is not an issue key; keys look like ENG-123 (project key, dash, number)"
    ))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for JiraServer {
    fn get_info(&self) -> ServerConfig {
        let mut instructions = String::from(if self.inner.config.read_only {
            "Jira tools (read-only): search issues with JQL, read issues, their transitions, projects and issue types."
        } else {
            "Jira tools: search with JQL, read issues, create issues, comment and move issues through their workflow. \
             Descriptions and comments are written in Markdown."
        });
        if let Some(projects) = &self.inner.config.projects {
            instructions.push_str(&format!(
                " Only these projects are available: {}.",
                projects.join(", ")
            ));
        }
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "switchboard-jira",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(instructions)
    }

    /// Each call runs in its span, a child of the caller's (`_meta`), so its requests to Jira
    /// join the caller's trace.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let span = switchboard_telemetry::tool_call_span(
            &request.name,
            context.meta.get_traceparent(),
            context.meta.get_tracestate(),
        );
        let context = ToolCallContext::new(self, request, context);
        self.tool_router.call(context).instrument(span).await
    }
}

/// Serves `server` on stdin/stdout until the client closes the stream. Logs go to stderr.
///
/// # Errors
/// [`StartError::Serve`] when the MCP handshake or the session fails.
pub async fn serve_stdio(server: JiraServer) -> Result<(), StartError> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| StartError::Serve(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| StartError::Serve(e.to_string()))?;
    Ok(())
}
