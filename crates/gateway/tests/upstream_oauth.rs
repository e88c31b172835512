//! OAuth to Streamable HTTP upstreams: a small authorization server and an MCP server that
//! demands its tokens (both in-test, axum), and the gateway connecting to it with the
//! client credentials grant.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{start, text, try_start, write};
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Value, json};
use switchboard_gateway::{Caller, Config, Gateway, Health};

const CLIENT_ID: &str = "gateway-client";
const CLIENT_SECRET: &str = "s3cret-client-secret-value";

/// What the authorization server issued and what both servers saw.
#[derive(Default)]
struct World {
    base: String,
    /// Lifetime of issued access tokens, in seconds.
    expires_in: u64,
    /// Whether token responses carry a refresh token.
    refresh_tokens: bool,
    /// Access tokens the MCP server accepts.
    valid: Vec<String>,
    /// Every token issued (access and refresh), to look for in logs.
    issued: Vec<String>,
    /// `grant_type` of every token request, in order.
    grants: Vec<String>,
    /// Form of every token request.
    token_requests: Vec<HashMap<String, String>>,
    /// Paths of the metadata documents fetched.
    discovery: Vec<String>,
    /// Bearer tokens the MCP server received.
    presented: Vec<String>,
}

type Shared = Arc<Mutex<World>>;

/// The MCP server's one tool.
#[derive(Clone)]
struct Upstream;

impl ServerHandler for Upstream {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, rmcp::ErrorData> {
        let schema = json!({"type": "object"}).as_object().cloned().unwrap();
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "hello",
            "says hello",
            Arc::new(schema),
        )]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text("hello")]).into())
    }
}

/// Starts the authorization server and the protected MCP server on one address.
async fn serve(expires_in: u64, refresh_tokens: bool) -> Shared {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let world: Shared = Arc::new(Mutex::new(World {
        base: base.clone(),
        expires_in,
        refresh_tokens,
        ..World::default()
    }));
    let mcp = StreamableHttpService::new(
        || Ok(Upstream),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let protected =
        Router::new()
            .nest_service("/mcp", mcp)
            .layer(axum::middleware::from_fn_with_state(
                world.clone(),
                demand_token,
            ));
    let router = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(server_metadata),
        )
        .route("/token", post(token))
        .with_state(world.clone())
        .merge(protected);
    tokio::spawn(async move { axum::serve(listener, router).await });
    world
}

async fn demand_token(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let accepted = {
        let mut world = world.lock().unwrap();
        if let Some(token) = &bearer {
            world.presented.push(token.clone());
        }
        bearer.is_some_and(|t| world.valid.contains(&t))
    };
    if accepted {
        return next.run(request).await;
    }
    let base = world.lock().unwrap().base.clone();
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""),
        )],
    )
        .into_response()
}

async fn resource_metadata(State(world): State<Shared>) -> Json<Value> {
    let mut world = world.lock().unwrap();
    world.discovery.push("oauth-protected-resource".to_owned());
    Json(json!({
        "resource": format!("{}/mcp", world.base),
        "authorization_servers": [world.base],
        "scopes_supported": ["tools:read", "tools:call"],
    }))
}

async fn server_metadata(State(world): State<Shared>) -> Json<Value> {
    let mut world = world.lock().unwrap();
    world
        .discovery
        .push("oauth-authorization-server".to_owned());
    let base = &world.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "grant_types_supported": ["client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// The token endpoint: client credentials (Basic or in the body) and refresh tokens.
async fn token(
    State(world): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut world = world.lock().unwrap();
    world.token_requests.push(form.clone());
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    world.grants.push(grant.clone());
    let (id, secret) = client_of(&headers, &form);
    if id.as_deref() != Some(CLIENT_ID) || secret.as_deref() != Some(CLIENT_SECRET) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "bad client"})),
        )
            .into_response();
    }
    match grant.as_str() {
        "client_credentials" => {}
        "refresh_token"
            if form
                .get("refresh_token")
                .is_some_and(|r| world.issued.contains(r)) => {}
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant"})),
            )
                .into_response();
        }
    }
    let n = world.issued.len();
    let access = format!("access-token-{n}-{}", uuid_like(n));
    world.valid.push(access.clone());
    world.issued.push(access.clone());
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": world.expires_in,
    });
    if world.refresh_tokens {
        let refresh = format!("refresh-token-{n}-{}", uuid_like(n));
        world.issued.push(refresh.clone());
        body["refresh_token"] = json!(refresh);
    }
    Json(body).into_response()
}

fn uuid_like(n: usize) -> String {
    format!(
        "{:016x}",
        (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

fn client_of(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    use base64::Engine;
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic)
        && let Ok(pair) = String::from_utf8(decoded)
        && let Some((id, secret)) = pair.split_once(':')
    {
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return (unescape(id), unescape(secret));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

/// A configuration with the upstream at `world`, its client secret `secret` read from a file
/// in `dir`.
fn config(world: &Shared, dir: &std::path::Path, secret: &str) -> String {
    let base = world.lock().unwrap().base.clone();
    let secret_file = write(dir, "client-secret", secret);
    format!(
        "[servers.remote]\nurl = \"{base}/mcp\"\nprefix = true\n\
         oauth = {{ client_id = \"{CLIENT_ID}\", client_secret = \"${{file:{}}}\", \
         scopes = [\"tools:call\"] }}\n",
        secret_file.display()
    )
}

/// A gateway with the upstream at `world` (and the directory its configuration lives in).
async fn started(world: &Shared) -> (Gateway, Caller, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &config(world, dir.path(), CLIENT_SECRET)).await;
    let caller = gateway.caller("local", "s");
    (gateway, caller, dir)
}

/// The text of a `remote__hello` call.
async fn hello(gateway: &Gateway, caller: &Caller) -> String {
    text(&gateway.call_tool(caller, "remote__hello", None).await)
}

#[tokio::test]
async fn client_credentials_after_discovery_from_the_challenge() {
    let world = serve(3600, false).await;
    let (gateway, caller, _dir) = started(&world).await;
    let result = gateway.call_tool(&caller, "remote__hello", None).await;
    assert_eq!(text(&result), "hello", "{result:?}");
    {
        let world = world.lock().unwrap();
        assert_eq!(
            world.discovery,
            ["oauth-protected-resource", "oauth-authorization-server"]
        );
        assert_eq!(world.grants, ["client_credentials"]);
        let request = &world.token_requests[0];
        assert_eq!(
            request.get("resource"),
            Some(&format!("{}/mcp", world.base))
        );
        assert_eq!(request.get("scope").map(String::as_str), Some("tools:call"));
        // After the first, unauthenticated request, every request carried the token.
        assert!(world.presented.len() >= 3, "{:?}", world.presented);
        assert!(world.presented.iter().all(|t| *t == world.issued[0]));
    }
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_rejected_token_is_replaced_and_the_call_retried() {
    let world = serve(3600, false).await;
    let (gateway, caller, _dir) = started(&world).await;
    assert_eq!(hello(&gateway, &caller).await, "hello");
    // The server revokes the token: the next call gets a 401, and without a refresh token the
    // gateway runs the grant again and retries the call once.
    world.lock().unwrap().valid.clear();
    let result = gateway.call_tool(&caller, "remote__hello", None).await;
    assert_eq!(text(&result), "hello", "{result:?}");
    {
        let world = world.lock().unwrap();
        assert_eq!(world.grants, ["client_credentials", "client_credentials"]);
        assert_eq!(world.presented.last(), Some(&world.issued[1]));
    }
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_use() {
    // Tokens live two seconds and come with a refresh token; the gateway refreshes when less
    // than a second is left, before sending the request.
    let world = serve(2, true).await;
    let (gateway, caller, _dir) = started(&world).await;
    assert_eq!(hello(&gateway, &caller).await, "hello");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let presented_before = world.lock().unwrap().presented.len();
    let result = gateway.call_tool(&caller, "remote__hello", None).await;
    assert_eq!(text(&result), "hello", "{result:?}");
    {
        let world = world.lock().unwrap();
        assert_eq!(world.grants[..2], ["client_credentials", "refresh_token"]);
        let fresh = &world.issued[2];
        assert!(
            world.presented[presented_before..]
                .iter()
                .all(|t| t == fresh),
            "only the refreshed token is sent after expiry: {:?}",
            &world.presented[presented_before..]
        );
    }
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_a_clear_error_naming_the_server() {
    let world = serve(3600, false).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "not-the-client-secret";
    let toml = format!("{}required = false\n", config(&world, dir.path(), wrong));
    let gateway = start(dir.path(), &toml).await;
    let status = gateway.status();
    let error = match &status[0].health {
        Health::Backoff { error, .. } | Health::CircuitOpen { error, .. } => error.clone(),
        other => panic!("expected the upstream down, got {other:?}"),
    };
    assert!(
        error.contains("OAuth authorization to upstream \"remote\" failed"),
        "{error}"
    );
    assert!(error.contains("invalid_client"), "{error}");
    assert!(!error.contains(wrong), "the secret leaked: {error}");
    assert_eq!(world.lock().unwrap().grants, ["client_credentials"]);
    gateway.shutdown().await;
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_and_the_client_secret_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The test runs on one thread (current-thread runtime), so every task logs here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let world = serve(2, true).await;
    let (gateway, caller, _dir) = started(&world).await;
    assert_eq!(hello(&gateway, &caller).await, "hello");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    world.lock().unwrap().valid.truncate(1);
    assert_eq!(hello(&gateway, &caller).await, "hello");
    gateway.shutdown().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("authorized to upstream"),
        "the subscriber saw the flow"
    );
    let world = world.lock().unwrap();
    assert!(world.issued.len() >= 3, "{:?}", world.grants);
    for secret in world
        .issued
        .iter()
        .map(String::as_str)
        .chain([CLIENT_SECRET])
    {
        assert!(!logs.contains(secret), "{secret} is in the logs");
    }
}

#[test]
fn oauth_settings_are_validated_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let load = |oauth: &str| {
        let toml = format!("[servers.remote]\nurl = \"https://mcp.example.com/mcp\"\n{oauth}\n");
        Config::load(&write(dir.path(), "switchboard.toml", &toml))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let cases = [
        (
            "oauth = { client_id = \"a\" }",
            "servers.remote.oauth.client_secret",
        ),
        (
            "oauth = { client_secret = \"b\" }",
            "servers.remote.oauth.client_id",
        ),
        (
            "oauth = { grant = \"password\" }",
            "servers.remote.oauth.grant",
        ),
        (
            "oauth = { client_id = \"a\", client_secret = \"b\", redirect_uri = \"http://x/cb\" }",
            "servers.remote.oauth.redirect_uri",
        ),
        (
            "oauth = { grant = \"authorization_code\", client_metadata_url = \"http://x/m.json\" }",
            "servers.remote.oauth.client_metadata_url",
        ),
        (
            "oauth = { client_id = \"a\", client_secret = \"b\", scopes = [\"two words\"] }",
            "servers.remote.oauth.scopes[0]",
        ),
        (
            "oauth = { client_id = \"a\", client_secret = \"b\", audience = \"x\" }",
            "audience",
        ),
        (
            "headers = { Authorization = \"Bearer x\" }\n\
             oauth = { client_id = \"a\", client_secret = \"b\" }",
            "servers.remote.oauth",
        ),
    ];
    for (oauth, key) in cases {
        let error = load(oauth);
        assert!(
            error.contains(key),
            "{oauth}: {error:?} does not name {key}"
        );
    }
    assert_eq!(
        load("oauth = { client_id = \"a\", client_secret = \"${env:X}\", scopes = [\"s\"] }"),
        ""
    );
    assert_eq!(load("oauth = { grant = \"authorization_code\" }"), "");

    let stdio = "[servers.local]\ncommand = \"x\"\noauth = { client_id = \"a\" }\n";
    let error = Config::load(&write(dir.path(), "switchboard.toml", stdio))
        .unwrap_err()
        .to_string();
    assert!(error.contains("servers.local.oauth"), "{error}");
}

#[tokio::test]
async fn a_missing_secret_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[servers.remote]\nurl = \"https://mcp.example.com/mcp\"\n\
                oauth = { client_id = \"a\", client_secret = \"${env:OAUTH_TEST_UNSET}\" }\n";
    let error = try_start(dir.path(), toml)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("servers.remote.oauth.client_secret"),
        "{error}"
    );
}
