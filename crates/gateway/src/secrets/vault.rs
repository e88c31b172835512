//! `${vault:mount/path#field}`: one field of a HashiCorp Vault secret over its HTTP API, KV v2
//! (`secret/data/app`) or KV v1 (`kv/app`), told apart by the answer's shape.
//!
//! The token is `VAULT_TOKEN`, or one the gateway logs in for: AppRole (`VAULT_ROLE_ID` with
//! `VAULT_SECRET_ID` or `VAULT_SECRET_ID_FILE`; `VAULT_APPROLE_MOUNT`, default `approle`) or
//! Kubernetes (`VAULT_K8S_ROLE`, the service account token at `VAULT_K8S_TOKEN_FILE`, default
//! the pod's; `VAULT_K8S_MOUNT`, default `kubernetes`). A login's token is kept for the
//! process's life and renewed (`auth/token/renew-self`) once two thirds of its lease have
//! passed; one that cannot be renewed is replaced by a new login.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// The pod's service account token.
const K8S_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Where and how to authenticate, from the environment.
pub(crate) struct Settings {
    addr: String,
    namespace: Option<String>,
    auth: Auth,
}

enum Auth {
    Token(String),
    AppRole {
        mount: String,
        role_id: String,
        secret_id: String,
    },
    Kubernetes {
        mount: String,
        role: String,
        jwt_file: String,
    },
}

impl Settings {
    /// Reads the settings with `var` (the resolver's variables).
    ///
    /// # Errors
    /// Which variable is missing.
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let addr = var("VAULT_ADDR").ok_or("VAULT_ADDR is not set")?;
        let mount = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let auth = if let Some(token) = var("VAULT_TOKEN") {
            Auth::Token(token)
        } else if let Some(role_id) = var("VAULT_ROLE_ID") {
            let secret_id = match (var("VAULT_SECRET_ID"), var("VAULT_SECRET_ID_FILE")) {
                (Some(id), _) => id,
                (None, Some(file)) => std::fs::read_to_string(&file)
                    .map_err(|e| format!("VAULT_SECRET_ID_FILE {file}: {e}"))?
                    .trim()
                    .to_owned(),
                (None, None) => {
                    return Err("VAULT_ROLE_ID is set but neither VAULT_SECRET_ID nor \
                                VAULT_SECRET_ID_FILE is"
                        .to_owned());
                }
            };
            Auth::AppRole {
                mount: mount("VAULT_APPROLE_MOUNT", "approle"),
                role_id,
                secret_id,
            }
        } else if let Some(role) = var("VAULT_K8S_ROLE") {
            Auth::Kubernetes {
                mount: mount("VAULT_K8S_MOUNT", "kubernetes"),
                role,
                jwt_file: mount("VAULT_K8S_TOKEN_FILE", K8S_TOKEN_FILE),
            }
        } else {
            return Err(
                "no Vault credentials: set VAULT_TOKEN, VAULT_ROLE_ID (AppRole) or \
                        VAULT_K8S_ROLE (Kubernetes)"
                    .to_owned(),
            );
        };
        Ok(Self {
            addr: addr.trim_end_matches('/').to_owned(),
            namespace: var("VAULT_NAMESPACE"),
            auth,
        })
    }

    /// The key of this login in [`SESSIONS`].
    fn login_key(&self) -> Option<String> {
        match &self.auth {
            Auth::Token(_) => None,
            Auth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                // Other credentials, another login (the key holds a digest, not the secret).
                use sha2::Digest as _;
                let digest = hex::encode(sha2::Sha256::digest(secret_id.as_bytes()));
                Some(format!("{} approle {mount} {role_id} {digest}", self.addr))
            }
            Auth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => Some(format!(
                "{} kubernetes {mount} {role} {jwt_file}",
                self.addr
            )),
        }
    }
}

/// A token a login gave.
#[derive(Clone)]
struct Session {
    token: String,
    renewable: bool,
    lease: Duration,
    since: Instant,
}

impl Session {
    /// Whether two thirds of its lease have passed (never, for a lease of 0: no expiry).
    fn due(&self) -> bool {
        !self.lease.is_zero() && self.since.elapsed() >= self.lease * 2 / 3
    }
}

/// The tokens of logins, kept across resolutions (a refresh every few minutes must not log in
/// every time).
static SESSIONS: LazyLock<tokio::sync::Mutex<HashMap<String, Session>>> =
    LazyLock::new(Default::default);

type Fields = Arc<Map<String, Value>>;

/// The reads of one resolution, each secret read once.
pub(crate) struct Vault {
    http: reqwest::Client,
    read: Mutex<HashMap<String, Fields>>,
}

impl Vault {
    pub(crate) fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            read: Mutex::default(),
        }
    }

    /// Field `field` of the secret at `path`.
    ///
    /// # Errors
    /// What went wrong, naming the reference and never a value.
    pub(crate) async fn field(
        &self,
        settings: Result<Settings, String>,
        path: &str,
        field: &str,
    ) -> Result<String, String> {
        let what = format!("secret ${{vault:{path}#{field}}}");
        let fields = self
            .secret(settings, path)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        match fields.get(field) {
            Some(Value::String(value)) => Ok(value.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(format!("{what}: the secret has no field {field:?}")),
        }
    }

    async fn secret(
        &self,
        settings: Result<Settings, String>,
        path: &str,
    ) -> Result<Fields, String> {
        let cached = self
            .read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(path)
            .cloned();
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let settings = settings?;
        let token = self.token(&settings).await?;
        let answer = self
            .send(&settings, reqwest::Method::GET, path, Some(&token), None)
            .await;
        if let (Err(_), Some(key)) = (&answer, settings.login_key()) {
            // A revoked or expired login: log in again next time.
            SESSIONS.lock().await.remove(&key);
        }
        let data = match answer?.get_mut("data").map(Value::take) {
            // KV v2 wraps the fields with their metadata; KV v1 answers the fields.
            Some(Value::Object(mut v2))
                if v2.contains_key("metadata") && v2.get("data").is_some_and(Value::is_object) =>
            {
                match v2.remove("data") {
                    Some(Value::Object(fields)) => fields,
                    _ => Map::new(),
                }
            }
            Some(Value::Object(v1)) => v1,
            _ => return Err("the answer has no data".to_owned()),
        };
        let fields = Arc::new(data);
        self.read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.to_owned(), fields.clone());
        Ok(fields)
    }

    /// The token to read with: `VAULT_TOKEN`, or the login's, renewed or replaced when due.
    async fn token(&self, settings: &Settings) -> Result<String, String> {
        let Some(key) = settings.login_key() else {
            let Auth::Token(token) = &settings.auth else {
                unreachable!("only a token has no login")
            };
            return Ok(token.clone());
        };
        let mut sessions = SESSIONS.lock().await;
        let session = match sessions.get(&key) {
            Some(s) if !s.due() => return Ok(s.token.clone()),
            Some(s) if s.renewable => match self.renew(settings, &s.token).await {
                Ok(renewed) => renewed,
                Err(error) => {
                    tracing::warn!(target: "switchboard::secrets", "Vault token renewal failed ({error}); logging in again");
                    self.login(settings).await?
                }
            },
            _ => self.login(settings).await?,
        };
        let token = session.token.clone();
        sessions.insert(key, session);
        Ok(token)
    }

    async fn login(&self, settings: &Settings) -> Result<Session, String> {
        let (path, body) = match &settings.auth {
            Auth::Token(_) => unreachable!("a token needs no login"),
            Auth::AppRole {
                mount,
                role_id,
                secret_id,
            } => (
                format!("auth/{mount}/login"),
                json!({"role_id": role_id, "secret_id": secret_id}),
            ),
            Auth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => {
                let jwt = std::fs::read_to_string(jwt_file)
                    .map_err(|e| format!("the Kubernetes service account token {jwt_file}: {e}"))?;
                (
                    format!("auth/{mount}/login"),
                    json!({"role": role, "jwt": jwt.trim()}),
                )
            }
        };
        let answer = self
            .send(settings, reqwest::Method::POST, &path, None, Some(body))
            .await
            .map_err(|e| format!("Vault login ({path}): {e}"))?;
        session(&answer).ok_or_else(|| format!("Vault login ({path}): the answer has no auth"))
    }

    async fn renew(&self, settings: &Settings, token: &str) -> Result<Session, String> {
        let path = "auth/token/renew-self";
        let answer = self
            .send(
                settings,
                reqwest::Method::POST,
                path,
                Some(token),
                Some(json!({})),
            )
            .await?;
        session(&answer).ok_or_else(|| "the renewal's answer has no auth".to_owned())
    }

    /// One request to `/v1/<path>`; the JSON answer, or Vault's errors.
    async fn send(
        &self,
        settings: &Settings,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let addr = &settings.addr;
        let mut request = self.http.request(method, format!("{addr}/v1/{path}"));
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(namespace) = &settings.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach Vault at {addr}: {}", e.without_url()))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| format!("Vault answered {status} with an unreadable body: {e}"))?;
        if status.is_success() {
            return Ok(answer);
        }
        let errors: Vec<&str> = answer["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let detail = if errors.is_empty() {
            "no such secret".to_owned()
        } else {
            errors.join("; ")
        };
        Err(format!("Vault answered {status}: {detail}"))
    }
}

/// The token and lease of a login's or renewal's `auth`.
fn session(answer: &Value) -> Option<Session> {
    let auth = answer.get("auth")?;
    Some(Session {
        token: auth["client_token"].as_str()?.to_owned(),
        renewable: auth["renewable"].as_bool().unwrap_or(false),
        lease: Duration::from_secs(auth["lease_duration"].as_u64().unwrap_or(0)),
        since: Instant::now(),
    })
}
