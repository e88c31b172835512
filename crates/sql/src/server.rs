//! The MCP server handler: tools, table resources, and the role check.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::client::{Database, Unavailable};
use crate::config::SqlConfig;
use crate::exec::{Executor, Limits, QueryError};
use crate::guard::{FunctionPolicy, Guard};
use crate::role::{RoleReport, inspect};
use crate::tls::TlsSetupError;

/// How long the start-up role check waits for the database before moving on.
const STARTUP_PROBE: Duration = Duration::from_secs(5);

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// TLS settings are unusable.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// `--require-read-only-role` and the role can do more than read.
    #[error("refusing to start: {0}")]
    UnsafeRole(String),
}

/// The SQL MCP server. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct SqlServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
}

struct Inner {
    executor: Executor,
    guard: Guard,
    require_read_only_role: bool,
    role: OnceCell<RoleReport>,
}

impl std::fmt::Debug for SqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlServer")
            .field("database", self.inner.executor.database())
            .finish_non_exhaustive()
    }
}

impl SqlServer {
    /// Builds the server and checks the role when the database is reachable (warning on stderr
    /// about risky capabilities, or refusing with `require_read_only_role`). An unreachable
    /// database is not fatal: calls report it until it is back.
    ///
    /// # Errors
    /// When TLS is misconfigured, or the role is refused.
    pub async fn start(config: SqlConfig) -> Result<Self, StartError> {
        let db = Database::new(config.connection, config.timeout)?;
        let policy = FunctionPolicy {
            extra_allowed: config.allow_functions.clone(),
            override_denied: Vec::new(),
        };
        let limits = Limits {
            max_rows: config.max_rows,
            max_bytes: config.max_bytes,
            timeout: config.timeout,
        };
        let server = Self {
            inner: Arc::new(Inner {
                executor: Executor::new(db, Guard::new(policy.clone()), limits),
                guard: Guard::new(policy),
                require_read_only_role: config.require_read_only_role,
                role: OnceCell::new(),
            }),
            tool_router: Self::query_router()
                + Self::explain_router()
                + Self::list_schemas_router()
                + Self::list_tables_router()
                + Self::describe_table_router(),
        };
        match tokio::time::timeout(STARTUP_PROBE, server.ensure_role()).await {
            Ok(Err(QueryError::UnsafeRole(message))) => {
                return Err(StartError::UnsafeRole(message));
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "database not reachable at start; the role is checked on first use")
            }
            Err(_) => tracing::warn!(
                "database did not answer within 5 s at start; the role is checked on first use"
            ),
            Ok(Ok(())) => {}
        }
        Ok(server)
    }

    pub(crate) fn executor(&self) -> &Executor {
        &self.inner.executor
    }

    pub(crate) fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// Inspects the role once (on the first connection that works) and enforces the policy.
    pub(crate) async fn ensure_role(&self) -> Result<(), QueryError> {
        let report = self
            .inner
            .role
            .get_or_try_init(|| async {
                let db = self.inner.executor.database();
                let conn = db.get().await?;
                let report = inspect(&conn).await.map_err(|reason| Unavailable {
                    target: db.target().to_owned(),
                    reason,
                })?;
                if !report.is_read_only() {
                    tracing::warn!("{}", report.summary());
                }
                Ok::<_, QueryError>(report)
            })
            .await?;
        if self.inner.require_read_only_role && !report.is_read_only() {
            return Err(QueryError::UnsafeRole(report.summary()));
        }
        Ok(())
    }

    fn resource_uri(schema: &str, table: &str) -> String {
        format!("postgres:///{}/{}", encode(schema), encode(table))
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A catalog value as a string (catalog queries return text columns).
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SqlServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("switchboard-postgres", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Read-only SQL on a PostgreSQL database. Start with list_tables and describe_table, then \
                 query with one SELECT at a time; results are capped, so aggregate in SQL.",
            )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let tables = self
            .tables(None)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let resources = tables
            .into_iter()
            .map(|t| {
                let description = t
                    .comment
                    .clone()
                    .unwrap_or_else(|| format!("{} {}.{}", t.kind, t.schema, t.name));
                Resource::new(
                    Self::resource_uri(&t.schema, &t.name),
                    format!("{}.{}", t.schema, t.name),
                )
                .with_description(description)
                .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let not_found = || {
            ErrorData::resource_not_found(
                format!(
                    "{} is not a table resource of this server; list resources to see them",
                    request.uri
                ),
                None,
            )
        };
        let path = request
            .uri
            .strip_prefix("postgres:///")
            .ok_or_else(not_found)?;
        let (schema, table) = path.split_once('/').ok_or_else(not_found)?;
        let description = self
            .describe(&decode(table), Some(&decode(schema)))
            .await
            .map_err(|_| not_found())?;
        let text = serde_json::to_string_pretty(&description)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let contents = ResourceContents::TextResourceContents {
            uri: request.uri.clone(),
            mime_type: Some("application/json".to_owned()),
            text,
            meta: None,
        };
        Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
            vec![contents],
        )))
    }
}
