//! People as callers, against a real OpenID provider (`oidc-provider`, started per test): RFC 9728
//! metadata and the `401` challenge, JWT access tokens checked against the provider's JWKS,
//! opaque tokens by introspection, claims mapped to clients, per-person rate limits, the audit
//! naming each person, refusals of every kind of bad token, key rotation without a restart, and
//! the provider being down. Needs Node and oidc-provider under target/test-tools (scripts/setup).

mod common;
#[path = "common/idp.rs"]
mod idp;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::{Captured, fixture_server, write};
use idp::{Idp, now};
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use switchboard_gateway::audit::read_records;
use switchboard_gateway::downstream::serve_http;
use switchboard_gateway::{Config, Gateway, GatewayOptions};
use switchboard_testkit::stateless;
use tokio_util::sync::CancellationToken;

const CI_TOKEN: &str = "ci-bot-static-token-0001";

struct Served {
    gateway: Gateway,
    url: String,
    resource: String,
    audit: std::path::PathBuf,
    shutdown: CancellationToken,
}

/// A gateway whose `[auth]` trusts `issuers` (the first with introspection), with analysts
/// (per-person buckets of 2 calls a minute, `echo` only), ops, and a static-token bot.
async fn serve(dir: &Path, issuers: &[&str], extra: &str) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let resource = format!("http://{addr}/mcp");
    let audit = dir.join("audit.jsonl");
    let mut toml = format!(
        "[pins]\nenabled = false\n[audit]\npath = {audit:?}\n\
         [auth]\nresource = {resource:?}\nscopes = [\"mcp:tools\"]\n\
         jwks_refresh = \"1s\"\njwks_min_interval = \"200ms\"\n{extra}"
    );
    for (i, issuer) in issuers.iter().enumerate() {
        toml.push_str(&format!("[[auth.issuers]]\nissuer = {issuer:?}\n"));
        if i == 0 {
            toml.push_str(
                "introspection = { client_id = \"gateway\", client_secret = \"${env:SB_INTROSPECTION_SECRET}\" }\n",
            );
        }
    }
    toml.push_str(&format!(
        "[clients.analysts]\nmatch = {{ groups = \"data-analysts\" }}\nallow = [\"echo\"]\n\
         rate_limit = {{ rate = \"2/minute\", per = \"user\" }}\n\
         [clients.ops]\nmatch = {{ groups = [\"ops\", \"sre\"] }}\n\
         [clients.ci-bot]\ntoken = \"${{env:SB_CI_TOKEN}}\"\n{}",
        fixture_server("f", &[])
    ));
    let path = write(dir, "switchboard.toml", &toml);
    let options = GatewayOptions {
        env: [
            ("SB_CI_TOKEN".to_owned(), CI_TOKEN.to_owned()),
            (
                "SB_INTROSPECTION_SECRET".to_owned(),
                "gateway-secret".to_owned(),
            ),
        ]
        .into(),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(Config::load(&path).unwrap(), options)
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_http(gateway.clone(), listener, shutdown.clone()));
    Served {
        gateway,
        url: format!("http://{addr}"),
        resource,
        audit,
        shutdown,
    }
}

/// One stateless (2026-07-28) `tools/call` of `echo` with `token`: the HTTP status, the
/// `WWW-Authenticate` header, and the body.
async fn call(url: &str, token: &str) -> (u16, String, Value) {
    let response = stateless::tools_call(
        &format!("{url}/mcp"),
        "echo",
        json!({"text": "hi"}),
        json!({}),
    )
    .bearer_auth(token)
    .send()
    .await
    .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let answer = stateless::messages(&response.text().await.unwrap()).pop();
    (status, challenge, answer.unwrap_or(Value::Null))
}

/// Whether a `tools/call` answer is a successful echo.
fn echoed(body: &Value) -> bool {
    body["result"]["isError"] != json!(true) && body["result"]["content"][0]["text"] == "hi"
}

#[tokio::test]
async fn people_become_callers_with_their_own_buckets_and_the_audit_names_them() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .try_init();
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[&idp.issuer], "").await;
    let (url, resource) = (&served.url, &served.resource);

    // RFC 9728 metadata, at the root and path-suffixed, without a token.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let doc: Value = reqwest::get(format!("{url}{path}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["resource"], json!(resource));
        assert_eq!(doc["authorization_servers"], json!([idp.issuer]));
        assert_eq!(doc["scopes_supported"], json!(["mcp:tools"]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    // No token: 401 pointing at the metadata, with the scope.
    let bare = reqwest::Client::new()
        .post(format!("{url}/mcp"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    let challenge = bare.headers()["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{url}/.well-known/oauth-protected-resource/mcp\", \
             scope=\"mcp:tools\""
        )
    );

    let alice = idp.token("alice-cli", resource, Some("mcp:tools")).await;
    let bob = idp.token("bob-cli", resource, Some("mcp:tools")).await;
    let carol = idp.token("carol-cli", resource, Some("mcp:tools")).await;
    let mallory = idp.token("mallory-cli", resource, Some("mcp:tools")).await;
    let unscoped = idp.token("alice-cli", resource, None).await;
    let opaque = idp.token("opaque-bob", resource, Some("mcp:tools")).await;
    assert!(!opaque.contains('.'), "an opaque token: {opaque}");

    // Two analysts, each with a bucket of 2: the third call of each is limited, not the
    // second person's first.
    for token in [&alice, &alice, &bob, &bob] {
        let (status, _, body) = call(url, token).await;
        assert_eq!(status, 200);
        assert!(echoed(&body), "{body}");
    }
    for token in [&alice, &bob] {
        let (_, _, body) = call(url, token).await;
        assert_eq!(body["result"]["isError"], json!(true), "{body}");
        assert!(body.to_string().contains("rate limit"), "{body}");
    }
    // carol (ops, any of two groups), a machine's static token.
    assert!(echoed(&call(url, &carol).await.2));
    assert!(echoed(&call(url, CI_TOKEN).await.2));
    // An opaque token is introspected; its person (`bob`, the account, not the CLI client)
    // has a bucket of their own.
    let (status, _, body) = call(url, &opaque).await;
    assert_eq!(status, 200, "{body}");
    assert!(echoed(&body), "{body}");
    // Outside every rule: 403 naming no internals. Without the scope: 403 insufficient_scope.
    let (status, _, body) = call(url, &mallory).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    assert!(!body.to_string().contains("analysts"), "{body}");
    let (status, challenge, _) = call(url, &unscoped).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"mcp:tools\""),
        "{challenge}"
    );

    // Sessions belong to the person, not the client: bob cannot use alice's.
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}},
    });
    let opened = reqwest::Client::new()
        .post(format!("{url}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&alice)
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    for (token, status) in [(&bob, 404), (&alice, 202)] {
        let response = reqwest::Client::new()
            .post(format!("{url}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth(token)
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status);
    }
    let listed = reqwest::Client::new()
        .post(format!("{url}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .bearer_auth(&alice)
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    // The audit names each person (subject and e-mail) beside the client.
    let records = read_records(&served.audit).unwrap();
    let people: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.client.as_str(),
                r.user.as_deref(),
                r.user_name.as_deref(),
                r.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            (
                "analysts",
                Some("alice-cli"),
                Some("alice@example.com"),
                "ok"
            ),
            (
                "analysts",
                Some("alice-cli"),
                Some("alice@example.com"),
                "ok"
            ),
            ("analysts", Some("bob-cli"), Some("bob@example.com"), "ok"),
            ("analysts", Some("bob-cli"), Some("bob@example.com"), "ok"),
            (
                "analysts",
                Some("alice-cli"),
                Some("alice@example.com"),
                "refused"
            ),
            (
                "analysts",
                Some("bob-cli"),
                Some("bob@example.com"),
                "refused"
            ),
            ("ops", Some("carol-cli"), Some("carol@example.com"), "ok"),
            ("ci-bot", None, None, "ok"),
            ("analysts", Some("bob"), Some("bob@example.com"), "ok"),
        ]
    );
    let filter = switchboard_gateway::audit::Filter {
        user: Some("carol@example.com".into()),
        ..Default::default()
    };
    assert_eq!(
        switchboard_gateway::audit::search(&served.audit, &filter)
            .unwrap()
            .len(),
        1
    );

    served.shutdown.cancel();
    served.gateway.shutdown().await;
    // Tokens appear nowhere: not in the audit, not in the logs at TRACE.
    let audit = std::fs::read_to_string(&served.audit).unwrap();
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("tool_call"), "the logs were captured");
    for token in [&alice, &bob, &carol, &mallory, &unscoped, &opaque] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!audit.contains(signature), "a token in the audit");
        assert!(!logs.contains(signature), "a token in the logs");
    }
    assert!(!logs.contains(CI_TOKEN) && !audit.contains(CI_TOKEN));
}

#[tokio::test]
async fn bad_tokens_are_refused_and_a_rotated_key_needs_no_restart() {
    let idp = Idp::start().await;
    // A second trusted issuer nobody answers for: its tokens cannot be checked.
    let down = format!(
        "http://127.0.0.1:{}",
        switchboard_testkit::pg::free_port().unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[&idp.issuer, &down], "").await;
    let (url, resource) = (&served.url, served.resource.as_str());
    let claims = |overrides: Value| {
        let mut c = json!({
            "iss": idp.issuer, "sub": "alice", "aud": resource, "scope": "mcp:tools",
            "groups": ["ops"], "iat": now(0), "exp": now(300),
        });
        for (k, v) in overrides.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let good = idp.sign(claims(json!({}))).await;
    let first = call(url, &good).await;
    assert!(echoed(&first.2), "{first:?}");

    let header = |t: &str| t.split('.').next().unwrap().to_owned();
    let body = |t: &str| t.split('.').nth(1).unwrap().to_owned();
    let none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        body(&good)
    );
    let mut tampered = good.clone();
    tampered.truncate(tampered.len() - 4);
    tampered.push_str("AAAA");
    let swapped = format!(
        "{}.{}.{}",
        header(&good),
        B64.encode(claims(json!({"sub": "root"})).to_string()),
        good.rsplit('.').next().unwrap()
    );
    // HMAC "signed" with the provider's public key as the secret: the classic confusion.
    let jwks: Value = reqwest::get(format!("{}/jwks", idp.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(jwks["keys"][0]["n"].as_str().unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    let cases = [
        (
            "expired",
            idp.sign(claims(json!({"exp": now(-600)}))).await,
            "expired",
        ),
        (
            "not yet valid",
            idp.sign(claims(json!({"nbf": now(600)}))).await,
            "not valid yet",
        ),
        (
            "wrong aud",
            idp.sign(claims(json!({"aud": "https://other.example/mcp"})))
                .await,
            "aud",
        ),
        (
            "no aud",
            idp.sign(claims(json!({"aud": null}))).await,
            "aud",
        ),
        (
            "unknown iss",
            idp.sign(claims(json!({"iss": "https://evil.example"})))
                .await,
            "issuer",
        ),
        ("bad signature", tampered, "signature"),
        ("swapped claims", swapped, "signature"),
        ("alg none", none, "header"),
        ("hmac", hmac, "HMAC"),
        ("garbage", "not-a-token".to_owned(), "not active"),
    ];
    for (case, token, why) in cases {
        let (status, challenge, body) = call(url, &token).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{case}: {challenge}"
        );
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(why), "{case}: {description}");
    }

    // Rotation: a token from the new key is accepted at once (its unknown kid fetches the
    // keys again); once the old key leaves the JWKS, its tokens stop working.
    idp.rotate("RS256").await;
    let fresh = idp.sign(claims(json!({}))).await;
    assert_ne!(header(&fresh), header(&good), "a new kid");
    assert!(echoed(&call(url, &fresh).await.2));
    assert!(
        echoed(&call(url, &good).await.2),
        "the old key is still listed"
    );
    // A flood of tokens naming unknown keys fetches the JWKS at most once per
    // jwks_min_interval (200 ms here), not once per token.
    let before = idp.jwks_fetches().await;
    let started = std::time::Instant::now();
    for i in 0..40 {
        let forged = format!(
            "{}.{}.{}",
            B64.encode(format!(r#"{{"alg":"RS256","kid":"forged-{i}"}}"#)),
            body(&good),
            good.rsplit('.').next().unwrap()
        );
        let (status, _, answer) = call(url, &forged).await;
        assert_eq!(status, 401, "{answer}");
    }
    let fetched = idp.jwks_fetches().await - before;
    let allowed = started.elapsed().as_millis() / 200 + 1;
    assert!(
        u128::from(fetched) <= allowed,
        "{fetched} fetches in {:?}",
        started.elapsed()
    );
    // The other asymmetric algorithms, each from a key the provider just rotated in (past
    // jwks_min_interval, so the unknown kid may fetch the keys again).
    for alg in ["ES256", "PS256", "EdDSA"] {
        idp.rotate(alg).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        let token = idp.sign(claims(json!({}))).await;
        let (status, _, answer) = call(url, &token).await;
        assert!(echoed(&answer), "{alg}: {status} {answer}");
    }
    idp.rotate("RS256").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fresh = idp.sign(claims(json!({}))).await;
    idp.retire().await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let (status, _, body) = call(url, &good).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.to_string().contains("signing key"), "{body}");

    // An issuer that cannot be reached: 503 with Retry-After, at once rather than a hang.
    let unreachable = idp.sign(claims(json!({"iss": down}))).await;
    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{url}/mcp"))
        .bearer_auth(&unreachable)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The provider itself going down: keys already fetched keep checking tokens.
    idp.stop().await;
    assert!(echoed(&call(url, &fresh).await.2));

    served.shutdown.cancel();
    served.gateway.shutdown().await;
}

#[tokio::test]
async fn an_rmcp_client_with_a_persons_token_lists_what_its_client_may_see() {
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[&idp.issuer], "").await;
    let token = idp
        .token("alice-cli", &served.resource, Some("mcp:tools"))
        .await;
    for mode in [
        ClientLifecycleMode::Initialize,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    ] {
        let config = StreamableHttpClientTransportConfig::with_uri(served.resource.clone())
            .auth_header(token.clone());
        let client =
            ().serve_with_lifecycle(StreamableHttpClientTransport::from_config(config), mode)
                .await
                .unwrap();
        let names: Vec<_> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.into_owned())
            .collect();
        assert_eq!(names, ["echo"]);
        let result = client
            .call_tool(
                CallToolRequestParams::new("echo")
                    .with_arguments(json!({"text": "hi"}).as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        assert_eq!(common::text(&result), "hi");
        client.cancel().await.unwrap();
    }
    served.shutdown.cancel();
    served.gateway.shutdown().await;
}

/// The official Python SDK's OAuth client, from the bare `401` to a tool call: it discovers
/// the metadata and the provider, registers, signs in with the authorization code flow and PKCE
/// (its browser driven over HTTP), and calls a tool as the person — in both protocol eras.
#[tokio::test]
async fn the_python_sdk_oauth_client_signs_in_from_the_bare_401() {
    let python =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/py/bin/python");
    assert!(
        python.is_file(),
        "the Python MCP SDK is not installed: run scripts/setup"
    );
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[&idp.issuer], "").await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_oauth.py");
    for (mode, version) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let output = tokio::process::Command::new(&python)
            .arg(&script)
            .args([mode, &served.resource, "alice"])
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{mode}: {stderr}");
        let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            seen,
            json!({
                "protocol_version": version, "tools": ["echo"], "is_error": false,
                "text": "hello", "signed_in": true, "resource_in_authorization": true,
            }),
            "{mode}: {stderr}"
        );
    }
    let records = read_records(&served.audit).unwrap();
    let people: Vec<_> = records
        .iter()
        .map(|r| (r.client.as_str(), r.user.as_deref(), r.user_name.as_deref()))
        .collect();
    assert_eq!(
        people,
        [("analysts", Some("alice"), Some("alice@example.com")); 2]
    );
    served.shutdown.cancel();
    served.gateway.shutdown().await;
}

/// An HTTP upstream that answers `who` with the bearer token its call came with.
#[derive(Clone)]
struct Acting;

impl rmcp::ServerHandler for Acting {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: rmcp::service::RequestContext<rmcp::service::RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, rmcp::ErrorData> {
        let schema = json!({"type": "object"}).as_object().cloned().unwrap();
        Ok(rmcp::model::ListToolsResult::with_all_items(vec![
            rmcp::model::Tool::new("who", "the token of this call", Arc::new(schema)),
        ]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::service::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        let token = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.headers.get("authorization"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("none")
            .to_owned();
        Ok(
            rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(token)])
                .into(),
        )
    }
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

/// No token passthrough: a tool call of a person goes to an upstream configured for token
/// exchange with a token the provider issued for that upstream (RFC 8693), kept per person;
/// the person's own token never reaches it, and a caller without a person is refused.
#[tokio::test]
async fn an_upstream_acting_as_the_person_gets_an_exchanged_token_never_the_callers() {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let idp = Idp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}/mcp", listener.local_addr().unwrap());
    let mcp = StreamableHttpService::new(
        || Ok(Acting),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().nest_service("/mcp", mcp)).await
    });
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[servers.crm]\nurl = {upstream:?}\n\
         token_exchange = {{ token_url = \"{}/token\", client_id = \"gateway\", \
         client_secret = \"${{env:SB_INTROSPECTION_SECRET}}\" }}\n",
        idp.issuer
    );
    let served = serve(dir.path(), &[&idp.issuer], &extra).await;
    let resource = served.resource.clone();
    let who = |token: String| {
        let url = served.resource.clone();
        async move {
            let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
            let client = ()
                .serve_with_lifecycle(
                    StreamableHttpClientTransport::from_config(config),
                    ClientLifecycleMode::Initialize,
                )
                .await
                .unwrap();
            let result = client
                .call_tool(CallToolRequestParams::new("crm__who"))
                .await
                .unwrap();
            client.cancel().await.unwrap();
            (result.is_error == Some(true), common::text(&result))
        }
    };
    let carol = idp.token("carol-cli", &resource, Some("mcp:tools")).await;
    let (failed, first) = who(carol.clone()).await;
    assert!(!failed, "{first}");
    assert_ne!(first, carol, "the person's own token went to the upstream");
    let claims = claims_of(&first);
    assert_eq!(claims["iss"], json!(idp.issuer));
    assert_eq!(claims["sub"], json!("carol-cli"));
    assert_eq!(claims["aud"], json!(upstream));
    assert_eq!(claims["act"]["sub"], json!("gateway"));
    // Kept for the person: the next call goes with the same exchanged token.
    assert_eq!(who(carol.clone()).await.1, first);
    // A machine's static token has no person to act as.
    let (failed, text) = who(CI_TOKEN.to_owned()).await;
    assert!(failed && text.contains("needs a person's token"), "{text}");
    assert!(!text.contains(CI_TOKEN));
    served.shutdown.cancel();
    served.gateway.shutdown().await;
}

/// A person who signs in to the console with their own access token is an operator only while
/// the token is good: the session ends when it expires, though the console's own would last
/// hours.
#[tokio::test]
async fn a_persons_console_session_ends_when_their_token_does() {
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = serve(
        dir.path(),
        &[&idp.issuer],
        "leeway = \"0s\"\n[clients.operators]\nmatch = { groups = \"operators\" }\nadmin = true\n",
    )
    .await;
    let token = idp
        .sign(json!({
            "iss": idp.issuer, "sub": "olivia", "aud": served.resource, "scope": "mcp:tools",
            "groups": ["operators"], "iat": now(0), "exp": now(3),
        }))
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(format!("{}/ui/login", served.url))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = |session: String| {
        let http = http.clone();
        let url = format!("{}/ui", served.url);
        async move {
            let response = http
                .get(url)
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    assert_eq!(page(session.clone()).await, 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        page(session).await,
        303,
        "the expired token ended the session"
    );
    served.shutdown.cancel();
}
