//! The MCP server handler: tools, table resources, and the start-up check of the database.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use crate::config::SqlConfig;
use crate::database::{Database, STARTUP_PROBE};
use crate::error::{Engine, QueryError};
use crate::postgres::tls::TlsSetupError;
use crate::tools;

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

/// The SQL MCP server. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqlServer {
    database: Arc<Database>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for SqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlServer")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl SqlServer {
    /// Builds the server for the configured database and checks it when reachable: on
    /// PostgreSQL the role (warning on stderr about risky capabilities, or refusing with
    /// `require_read_only_role`), on SQLite that the file opens. An unreachable database or a
    /// missing file is not fatal: calls report it until it is there.
    ///
    /// # Errors
    /// When TLS is misconfigured, or the role is refused.
    pub async fn start(config: SqlConfig) -> Result<Self, StartError> {
        let mut tool_router = Self::query_router()
            + Self::explain_router()
            + Self::list_schemas_router()
            + Self::list_tables_router()
            + Self::describe_table_router();
        let database = Database::open(&config)?;
        if database.engine() == Engine::Sqlite {
            tools::describe_for_sqlite(&mut tool_router);
        }
        let server = Self {
            database: Arc::new(database),
            tool_router,
        };
        if config.require_read_only_role {
            // A refused role must never serve: check before answering anyone.
            server.probe().await?;
        } else {
            // Only a warning is at stake: answer the client first, check in the background.
            let background = server.clone();
            tokio::spawn(async move { background.probe().await });
        }
        Ok(server)
    }

    /// The start-up check: a refused role is fatal; an unusable database is only logged, since
    /// every call retries it.
    async fn probe(&self) -> Result<(), StartError> {
        match tokio::time::timeout(STARTUP_PROBE, self.database.probe()).await {
            Ok(Err(QueryError::UnsafeRole(message))) => Err(StartError::UnsafeRole(message)),
            Ok(Err(error)) => {
                tracing::warn!(%error, "database not usable at start; every call retries");
                Ok(())
            }
            Err(_) => {
                tracing::warn!("database did not answer within 5 s at start; every call retries");
                Ok(())
            }
            Ok(Ok(())) => Ok(()),
        }
    }

    pub(crate) fn database(&self) -> &Database {
        &self.database
    }

    /// Every table, as a resource.
    async fn table_resources(&self) -> Result<ListResourcesResult, ErrorData> {
        let tables = self
            .database
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
                    self.resource_uri(&t.schema, &t.name),
                    format!("{}.{}", t.schema, t.name),
                )
                .with_description(description)
                .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    /// The description of the table `uri` names.
    async fn table_resource(&self, uri: &str) -> Result<ReadResourceResponse, ErrorData> {
        let not_found = || {
            ErrorData::resource_not_found(
                format!("{uri} is not a table resource of this server; list resources to see them"),
                None,
            )
        };
        let path = uri
            .strip_prefix(self.database.scheme())
            .and_then(|rest| rest.strip_prefix(":///"))
            .ok_or_else(not_found)?;
        let (schema, table) = path.split_once('/').ok_or_else(not_found)?;
        let description = self
            .database
            .describe(&decode(table), Some(&decode(schema)))
            .await
            .map_err(|_| not_found())?;
        let text = serde_json::to_string_pretty(&description)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let contents = ResourceContents::TextResourceContents {
            uri: uri.to_owned(),
            mime_type: Some("application/json".to_owned()),
            text,
            meta: None,
        };
        Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
            vec![contents],
        )))
    }

    fn resource_uri(&self, schema: &str, table: &str) -> String {
        format!(
            "{}:///{}/{}",
            self.database.scheme(),
            encode(schema),
            encode(table)
        )
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

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SqlServer {
    fn get_info(&self) -> ServerConfig {
        let (name, instructions) = self.database.server_info();
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new(name, env!("CARGO_PKG_VERSION")))
        .with_instructions(instructions)
    }

    // The handler's futures are boxed: a request's task is as large as the largest future of
    // the handler, and it is moved a few times per request, a `ping` included.
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Box::pin(self.table_resources()).await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        Box::pin(self.table_resource(&request.uri)).await
    }
}
