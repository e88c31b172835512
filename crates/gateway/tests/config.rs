//! Configuration: every bad file names the file and the key; Claude Desktop JSON files work
//! unchanged; built-in servers by kind; children get only their declared environment; secret
//! references from env, files and a Vault KV v2 API.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, StatusCode};
use common::{fixture, text, write};
use switchboard_gateway::{Config, ConfigError, Gateway, GatewayError, GatewayOptions};

fn load_toml(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    Config::load(&write(dir.path(), "switchboard.toml", text))
}

fn expect_error(text: &str, key: &str, words: &str) {
    let error = load_toml(text).expect_err("the config is invalid");
    let message = error.to_string();
    assert!(
        message.contains("switchboard.toml"),
        "names the file: {message}"
    );
    assert!(message.contains(key), "names the key {key}: {message}");
    assert!(
        message.contains(words),
        "says what is wrong ({words}): {message}"
    );
}

#[test]
fn bad_files_name_file_key_and_problem() {
    expect_error("[servers.db]\ncomand = \"x\"\n", "comand", "unknown field");
    expect_error(
        "[servers.Bad_Name]\ncommand = \"x\"\n",
        "servers.Bad_Name",
        "lowercase",
    );
    expect_error(
        "[servers.a]\ncommand = \"x\"\nurl = \"http://h/mcp\"\n",
        "servers.a",
        "only one of",
    );
    expect_error("[servers.a]\n", "servers.a", "needs one of");
    expect_error("[endpoints.eng]\n", "endpoints.eng.tools", "list the tools");
    expect_error(
        "[endpoints.eng]\ntools = [\"*\"]\nclients = [\"nobody\"]\n",
        "endpoints.eng.clients[0]",
        "not defined under [clients]",
    );
    expect_error(
        "[endpoints.eng]\ntools = [\"*\"]\n[endpoints.eng.overrides.a]\nrename = \"x\"\n\
         [endpoints.eng.overrides.b]\nrename = \"x\"\n",
        "endpoints.eng.overrides.b.rename",
        "renamed \"x\" too",
    );
    expect_error(
        "[gateway]\ntool_search = \"sometimes\"\n",
        "gateway.tool_search",
        "\"off\", \"on\" or \"auto\"",
    );
    expect_error(
        "[pins]\nnew_tools = \"trust\"\n",
        "pins.new_tools",
        "\"pin\" or \"hold\"",
    );
    expect_error(
        "[servers.a]\ncommand = \"x\"\ntimeout = \"soon\"\n",
        "servers.a.timeout",
        "not a duration",
    );
    expect_error(
        "[rate_limits]\n\"a__b\" = { rate = \"10/fortnight\" }\n",
        "rate_limits.\"a__b\"",
        "unknown period",
    );
    expect_error(
        "[tools.\"a__*\"]\napproval = \"maybe\"\n",
        "tools.\"a__*\".approval",
        "not one of",
    );
    expect_error(
        "[servers.a]\nkind = \"oracle\"\n",
        "servers.a.kind",
        "unknown built-in",
    );
    expect_error(
        "[servers.a]\ncommand = \"x\"\nenv = { K = \"${UNCLOSED\" }\n",
        "servers.a.env.K",
        "unterminated",
    );
    expect_error(
        "[clients.c]\nallow = [\"[\"]\n",
        "clients.c.allow[0]",
        "glob",
    );
    expect_error(
        "[gateway]\nstdio_client = \"ghost\"\n",
        "gateway.stdio_client",
        "not defined",
    );
    expect_error(
        "[servers.a]\nurl = \"http://h/mcp\"\ntype = \"sse\"\n",
        "servers.a.type",
        "SSE",
    );
    let slack = |rest: &str| {
        format!(
            "[approvals]\nslack = {{ channel = \"#approvals\", token = \"${{env:T}}\", \
             signing_secret = \"${{env:S}}\"{rest} }}\n"
        )
    };
    expect_error(&slack(""), "approvals.slack.operators", "nobody could");
    expect_error(
        &slack(", operators = [\"alice\"]"),
        "approvals.slack.operators[0]",
        "not a Slack user id",
    );
    expect_error(
        &slack(", operators = [\"U0A\"], api_url = \"slack.com\""),
        "approvals.slack.api_url",
        "not an http(s) URL",
    );
    load_toml(&slack(", operators = [\"U0ALICE001\", \"W0BOB\"]")).unwrap();
    let error = load_toml("[servers\n").expect_err("syntax");
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
}

#[tokio::test]
async fn unresolvable_references_name_the_key_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "claude.json",
        r#"{"mcpServers": {"gh": {"command": "x", "env": {"TOKEN": "${SB_TEST_NOT_SET}"}}}}"#,
    );
    let config = Config::load(&path).unwrap();
    let error = Gateway::start(config, GatewayOptions::default())
        .await
        .err()
        .expect("unresolvable");
    let message = error.to_string();
    assert!(message.contains("claude.json"), "{message}");
    assert!(message.contains("mcpServers.gh.env.TOKEN"), "{message}");
    assert!(message.contains("SB_TEST_NOT_SET is not set"), "{message}");
}

/// `[telemetry]`'s trace settings: each bad one names its key; good ones reach the exporter's
/// settings with header references read, and `Debug` never shows a header's value.
#[tokio::test]
async fn trace_settings_are_validated_and_their_headers_read_as_secrets() {
    expect_error(
        "[telemetry]\notlp_endpoint = \"collector:4318\"\n",
        "telemetry.otlp_endpoint",
        "not an http:// or https:// URL",
    );
    expect_error(
        "[telemetry]\notlp_protocol = \"http/json\"\n",
        "telemetry.otlp_protocol",
        "\"http/protobuf\" or \"grpc\"",
    );
    expect_error(
        "[telemetry]\notlp_headers = { \"bad header\" = \"x\" }\n",
        "telemetry.otlp_headers.bad header",
        "not a header name",
    );
    expect_error(
        "[telemetry]\nresource_attributes = { team = \"a,b\" }\n",
        "telemetry.resource_attributes.team",
        "OTEL_RESOURCE_ATTRIBUTES",
    );
    expect_error(
        "[telemetry]\nservice_name = \" \"\n",
        "telemetry.service_name",
        "name the service",
    );
    let config = load_toml(
        "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\notlp_protocol = \"grpc\"\n\
         otlp_headers = { Authorization = \"Bearer ${SB_TEST_COLLECTOR_TOKEN:-tok-7f3a}\" }\n\
         service_name = \"edge\"\nresource_attributes = { team = \"data\" }\n",
    )
    .unwrap();
    let traces = config.trace_config().await.unwrap().export;
    assert_eq!(traces.endpoint.as_deref(), Some("http://127.0.0.1:4318"));
    assert_eq!(traces.protocol.as_deref(), Some("grpc"));
    assert_eq!(traces.headers["authorization"], "Bearer tok-7f3a");
    assert_eq!(traces.service_name.as_deref(), Some("edge"));
    assert_eq!(traces.resource_attributes["team"], "data");
    assert!(!format!("{traces:?}").contains("tok-7f3a"), "{traces:?}");
    let unreadable =
        load_toml("[telemetry]\notlp_headers = { authorization = \"${env:SB_TEST_NOT_SET}\" }\n")
            .unwrap()
            .trace_config()
            .await
            .unwrap_err()
            .to_string();
    assert!(
        unreadable.contains("telemetry.otlp_headers.authorization")
            && unreadable.contains("SB_TEST_NOT_SET is not set"),
        "{unreadable}"
    );
}

/// The trace headers read before the process started tracing are not read again when the rest
/// of the configuration is resolved, and their values are secrets all the same.
#[tokio::test]
async fn trace_headers_read_at_start_are_not_read_again_and_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let token = write(dir.path(), "collector-token", "tok-55c1e2\n");
    let toml = format!(
        "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\n\
         otlp_headers = {{ authorization = \"Bearer ${{file:{}}}\" }}\n",
        token.display()
    );
    let config = Config::load(&write(dir.path(), "switchboard.toml", &toml)).unwrap();
    let started = config.trace_config().await.unwrap();
    assert_eq!(started.export.headers["authorization"], "Bearer tok-55c1e2");
    // Read once: gone now, as a rotated secret would be.
    std::fs::remove_file(&token).unwrap();
    let error = config.resolve(&PathBuf::from(fixture())).await.err();
    let error = error
        .expect("read again without the start's values")
        .to_string();
    assert!(
        error.contains("telemetry.otlp_headers.authorization"),
        "{error}"
    );

    let resolved = config
        .with_started_traces(started)
        .resolve(&PathBuf::from(fixture()))
        .await
        .unwrap();
    for value in ["tok-55c1e2", "Bearer tok-55c1e2"] {
        assert!(
            resolved.secrets.contains_secret(value),
            "{value} is a secret"
        );
    }
}

/// A Slack token of the wrong kind is refused naming the key, without repeating the value.
#[tokio::test]
async fn a_slack_approvals_token_of_the_wrong_kind_is_refused_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "switchboard.toml",
        "[approvals]\nslack = { channel = \"#approvals\", token = \"ghp_notslack1234\", \
         signing_secret = \"s3cret-value\", operators = [\"U0ALICE001\"] }\n",
    );
    let config = Config::load(&path).unwrap();
    let message = Gateway::start(config, GatewayOptions::default())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(message.contains("approvals.slack.token"), "{message}");
    assert!(message.contains("xoxb-"), "{message}");
    assert!(!message.contains("ghp_notslack1234"), "{message}");
}

fn options(env: &[(&str, &str)]) -> GatewayOptions {
    GatewayOptions {
        builtin_exe: PathBuf::from(fixture()),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..GatewayOptions::default()
    }
}

#[tokio::test]
async fn claude_desktop_json_works_unchanged_with_expansion_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let json = serde_json::json!({
        "mcpServers": {
            "files": {
                "command": fixture(),
                "args": ["server", "${SB_KIND:-defaulted}"],
                "env": {"GREETING": "${SB_GREETING}"},
                "disabled": false,
                "autoApprove": []
            },
            "other": {"command": fixture(), "args": ["server"]}
        },
        "globalShortcut": "Ctrl+Space",
        "switchboard": {
            "clients": {"viewer": {"allow": ["files__*"]}},
            "servers": {"other": {"start": "lazy"}}
        }
    });
    let path = write(dir.path(), "claude_desktop_config.json", &json.to_string());
    let config = Config::load(&path).unwrap();
    let gateway = Gateway::start(config, options(&[("SB_GREETING", "hello")]))
        .await
        .unwrap();
    let viewer = gateway.caller("viewer", "s");
    let r = gateway.call_tool(&viewer, "files__whoami", None).await;
    assert_eq!(text(&r), "defaulted");
    let r = gateway.call_tool(&viewer, "files__env", None).await;
    let env = r.structured_content.unwrap();
    assert_eq!(env["GREETING"], "hello");
    let tools = gateway.list_tools(&viewer).await;
    assert!(tools.iter().all(|t| t.name.starts_with("files__")));
    gateway.shutdown().await;
}

#[tokio::test]
async fn builtin_by_kind_gets_only_its_declared_environment() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[servers.db]\nkind = \"postgres\"\nenv = { DATABASE_URL = \"${env:DB_URL}\" }\n";
    let path = write(dir.path(), "switchboard.toml", toml);
    let config = Config::load(&path).unwrap();
    let gateway = Gateway::start(config, options(&[("DB_URL", "postgres://u:pw-1234@h/db")]))
        .await
        .unwrap();
    let caller = gateway.caller("local", "s");
    assert_eq!(
        text(&gateway.call_tool(&caller, "whoami", None).await),
        "postgres"
    );
    let env = gateway
        .call_tool(&caller, "env", None)
        .await
        .structured_content
        .unwrap();
    assert_eq!(env["DATABASE_URL"], "postgres://u:pw-1234@h/db");
    // The test process has cargo's variables; a child must not inherit them.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    assert!(env.get("CARGO_MANIFEST_DIR").is_none(), "env_clear: {env}");
    assert!(env.get("PATH").is_some(), "basics are kept");
    gateway.shutdown().await;
}

/// A fake of Vault's KV v2 read API, as documented: `GET /v1/<mount>/data/<path>` with
/// `X-Vault-Token`, answering `{"data": {"data": {...}, "metadata": {...}}}`, 403 with
/// `{"errors": ["permission denied"]}` for a bad token and 404 with `{"errors": []}` for a missing
/// secret.
async fn fake_vault() -> String {
    async fn read(
        axum::extract::Path(path): axum::extract::Path<String>,
        headers: HeaderMap,
    ) -> (StatusCode, axum::Json<serde_json::Value>) {
        if headers.get("x-vault-token").and_then(|v| v.to_str().ok()) != Some("root-token") {
            return (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({"errors": ["permission denied"]})),
            );
        }
        if path != "app" {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({"errors": []})),
            );
        }
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "request_id": "8a1f7d1c-5f6a-4c7a-9b8e-2d3c4b5a6f70",
                "lease_id": "", "renewable": false, "lease_duration": 0,
                "data": {
                    "data": {"api_key": "vault-secret-9876"},
                    "metadata": {
                        "created_time": "2026-01-01T00:00:00.000000Z", "custom_metadata": null,
                        "deletion_time": "", "destroyed": false, "version": 1
                    }
                },
                "wrap_info": null, "warnings": null, "auth": null
            })),
        )
    }
    let app = axum::Router::new().route("/v1/secret/data/{*path}", axum::routing::get(read));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn vault_references_resolve_and_failures_are_clear() {
    let vault = fake_vault().await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = write(dir.path(), "token", "file-secret-5555\n");
    let toml = format!(
        "[servers.s]\ncommand = {:?}\nargs = [\"server\"]\nenv = {{ KEY = \"${{vault:secret/data/app#api_key}}\", \
         FROM_FILE = \"${{file:{}}}\" }}\n",
        fixture(),
        secret_file.display()
    );
    let path = write(dir.path(), "switchboard.toml", &toml);
    let config = Config::load(&path).unwrap();
    let good = options(&[("VAULT_ADDR", &vault), ("VAULT_TOKEN", "root-token")]);
    let gateway = Gateway::start(config.clone(), good).await.unwrap();
    let caller = gateway.caller("local", "s");
    let env = gateway
        .call_tool(&caller, "env", None)
        .await
        .structured_content
        .unwrap();
    assert_eq!(env["KEY"], "vault-secret-9876");
    assert_eq!(env["FROM_FILE"], "file-secret-5555");
    gateway.shutdown().await;

    let bad = options(&[("VAULT_ADDR", &vault), ("VAULT_TOKEN", "wrong")]);
    let error = Gateway::start(config, bad).await.err().expect("denied");
    let message = error.to_string();
    assert!(matches!(
        error,
        GatewayError::Config(ConfigError::Secret { .. })
    ));
    assert!(message.contains("servers.s.env.KEY"), "{message}");
    assert!(
        message.contains("403") && message.contains("permission denied"),
        "{message}"
    );
    assert!(
        !message.contains("wrong"),
        "never echoes the token: {message}"
    );
}

/// A fake of Vault's login, renewal and KV APIs, as documented: `POST /v1/auth/approle/login`
/// (`role_id`, `secret_id`) and `POST /v1/auth/kubernetes/login` (`role`, `jwt`) answer an `auth`
/// with `client_token`, `lease_duration` and `renewable`; `POST /v1/auth/token/renew-self` the
/// same for the calling token; `GET /v1/kv/app` is a KV v1 secret (`data` holds the fields) and
/// `GET /v1/secret/data/app` a KV v2 one. Counts logins and renewals.
#[derive(Clone, Default)]
struct Logins {
    approle: Arc<AtomicUsize>,
    kubernetes: Arc<AtomicUsize>,
    renewals: Arc<AtomicUsize>,
}

async fn fake_vault_with_logins(logins: Logins) -> String {
    use axum::extract::State;
    use serde_json::{Value, json};
    fn auth(token: &str, lease: u64, renewable: bool) -> axum::Json<Value> {
        axum::Json(json!({"auth": {
            "client_token": token, "accessor": "a", "policies": ["default"],
            "lease_duration": lease, "renewable": renewable,
        }}))
    }
    fn denied() -> (StatusCode, axum::Json<Value>) {
        (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"errors": ["permission denied"]})),
        )
    }
    let approle = async |State(l): State<Logins>, axum::Json(body): axum::Json<Value>| {
        if body != json!({"role_id": "role-1", "secret_id": "secret-1"}) {
            return denied();
        }
        l.approle.fetch_add(1, Ordering::SeqCst);
        (StatusCode::OK, auth("approle-token", 3, true))
    };
    let kubernetes = async |State(l): State<Logins>, axum::Json(body): axum::Json<Value>| {
        if body != json!({"role": "gateway", "jwt": "service-account-jwt"}) {
            return denied();
        }
        l.kubernetes.fetch_add(1, Ordering::SeqCst);
        (StatusCode::OK, auth("k8s-token", 3600, false))
    };
    let renew = async |State(l): State<Logins>, headers: HeaderMap| {
        if headers.get("x-vault-token").and_then(|v| v.to_str().ok()) != Some("approle-token") {
            return denied();
        }
        l.renewals.fetch_add(1, Ordering::SeqCst);
        (StatusCode::OK, auth("approle-token", 3, true))
    };
    let read = |data: Value| {
        async move |headers: HeaderMap| {
            let token = headers.get("x-vault-token").and_then(|v| v.to_str().ok());
            if !matches!(token, Some("approle-token" | "k8s-token")) {
                return denied();
            }
            (
                StatusCode::OK,
                axum::Json(json!({"lease_duration": 0, "data": data})),
            )
        }
    };
    let app = axum::Router::new()
        .route("/v1/auth/approle/login", axum::routing::post(approle))
        .route("/v1/auth/kubernetes/login", axum::routing::post(kubernetes))
        .route("/v1/auth/token/renew-self", axum::routing::post(renew))
        .route(
            "/v1/kv/app",
            axum::routing::get(read(json!({"api_key": "kv1-secret-1234"}))),
        )
        .route(
            "/v1/secret/data/app",
            axum::routing::get(read(json!({
                "data": {"api_key": "kv2-secret-5678"},
                "metadata": {"version": 3, "destroyed": false},
            }))),
        )
        .with_state(logins);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn vault_logins_by_approle_and_kubernetes_are_renewed_and_kv_v1_reads() {
    let logins = Logins::default();
    let vault = fake_vault_with_logins(logins.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[servers.s]\ncommand = {:?}\nenv = {{ V1 = \"${{vault:kv/app#api_key}}\", \
         V2 = \"${{vault:secret/data/app#api_key}}\" }}\n",
        fixture()
    );
    let config = Config::load(&write(dir.path(), "switchboard.toml", &toml)).unwrap();
    let resolve = async |env: &[(&str, &str)]| {
        let options = options(env);
        let resolved = config
            .resolve_with(&options.builtin_exe, options.env)
            .await?;
        let switchboard_gateway::config::ResolvedTransport::Stdio { env, .. } =
            &resolved.servers["s"].transport
        else {
            panic!("a stdio server");
        };
        Ok::<_, ConfigError>((env["V1"].clone(), env["V2"].clone()))
    };
    let approle = [
        ("VAULT_ADDR", vault.as_str()),
        ("VAULT_ROLE_ID", "role-1"),
        ("VAULT_SECRET_ID", "secret-1"),
    ];
    let values = resolve(&approle).await.unwrap();
    assert_eq!(values, ("kv1-secret-1234".into(), "kv2-secret-5678".into()));
    resolve(&approle).await.unwrap();
    assert_eq!(
        logins.approle.load(Ordering::SeqCst),
        1,
        "the token is kept"
    );
    assert_eq!(logins.renewals.load(Ordering::SeqCst), 0);
    // Two thirds of the 3 s lease later, the token is renewed rather than replaced.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    resolve(&approle).await.unwrap();
    assert_eq!(logins.renewals.load(Ordering::SeqCst), 1);
    assert_eq!(logins.approle.load(Ordering::SeqCst), 1);

    let jwt = write(dir.path(), "sa-token", "service-account-jwt\n");
    let jwt = jwt.display().to_string();
    let kubernetes = [
        ("VAULT_ADDR", vault.as_str()),
        ("VAULT_K8S_ROLE", "gateway"),
        ("VAULT_K8S_TOKEN_FILE", jwt.as_str()),
    ];
    let values = resolve(&kubernetes).await.unwrap();
    assert_eq!(values.1, "kv2-secret-5678");
    assert_eq!(logins.kubernetes.load(Ordering::SeqCst), 1);

    let wrong = [
        ("VAULT_ADDR", vault.as_str()),
        ("VAULT_ROLE_ID", "role-1"),
        ("VAULT_SECRET_ID", "not-the-secret"),
    ];
    let message = resolve(&wrong).await.unwrap_err().to_string();
    assert!(
        message.contains("servers.s.env")
            && message.contains("approle/login")
            && message.contains("403"),
        "{message}"
    );
    assert!(!message.contains("not-the-secret"), "{message}");
    let none = [("VAULT_ADDR", vault.as_str())];
    let message = resolve(&none).await.unwrap_err().to_string();
    assert!(message.contains("no Vault credentials"), "{message}");
}

#[test]
fn auth_settings_are_validated_and_match_rules_keep_file_order() {
    let auth = "[auth]\nresource = \"https://gw.example.com/mcp\"\n\
                [[auth.issuers]]\nissuer = \"https://login.example.com\"\n";
    let config = load_toml(&format!(
        "{auth}[clients.zz]\nmatch = {{ groups = \"ops\" }}\n\
         [clients.aa]\nmatch = {{ roles = [\"admin\", \"dev\"], issuer = \"https://login.example.com\" }}\n\
         rate_limit = {{ rate = \"5/minute\", per = \"user\" }}\n[clients.bot]\ntoken = \"t\"\n"
    ))
    .unwrap();
    let auth_config = config.auth.unwrap();
    let order: Vec<_> = auth_config.rules.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        order,
        ["zz", "aa"],
        "first match wins in file order, not by name"
    );
    assert_eq!(
        auth_config.issuers[0].audience,
        "https://gw.example.com/mcp"
    );
    assert_eq!(auth_config.issuers[0].groups_claim, "groups");
    assert!(config.clients["aa"].rate_limit.unwrap().per_user);

    expect_error(
        "[clients.a]\nmatch = { groups = \"x\" }\n",
        "clients.a.match",
        "[auth]",
    );
    expect_error(
        "[auth]\nresource = \"gw.example.com\"\n[[auth.issuers]]\nissuer = \"https://i\"\n",
        "auth.resource",
        "absolute",
    );
    expect_error(
        "[auth]\nresource = \"https://gw/mcp\"\n",
        "auth.issuers",
        "at least one",
    );
    expect_error(
        &format!("{auth}[[auth.issuers]]\nissuer = \"https://login.example.com\"\n"),
        "auth.issuers[1].issuer",
        "listed twice",
    );
    expect_error(
        &format!("{auth}[clients.a]\nmatch = {{}}\n"),
        "clients.a.match",
        "every token",
    );
    expect_error(
        "[clients.a]\nrate_limit = { rate = \"5/minute\", per = \"team\" }\n",
        "clients.a.rate_limit.per",
        "\"user\"",
    );
    expect_error(
        "[servers.s]\ncommand = \"x\"\ntoken_exchange = { token_url = \"https://t\", client_id = \"c\", client_secret = \"s\" }\n",
        "servers.s.token_exchange",
        "url servers only",
    );
}
