//! `${aws-sm:…}` references against AWS Secrets Manager as moto serves it on loopback: plain and
//! JSON secrets, a rotated version picked up within `[secrets] refresh`, a missing secret named
//! at start, and credentials from the environment or from a profile in a shared credentials file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::stateless::{messages, tools_call};

mod support;

/// moto's server, on a free loopback port; killed when dropped.
struct Moto {
    _child: tokio::process::Child,
    url: String,
}

impl Moto {
    async fn start() -> Self {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/py/bin");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(python.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server (scripts/setup installs it)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/moto-api/")).await.is_ok() {
                return Self { _child: child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not start on {url}");
    }

    /// One Secrets Manager API call (moto does not check signatures).
    async fn call(&self, action: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(&self.url)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("secretsmanager.{action}"))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261206/us-east-1/secretsmanager/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{action}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

/// The environment of a gateway that reaches moto: no real AWS configuration of this machine,
/// no instance metadata.
fn aws_env<'a>(moto: &'a Moto, home: &'a Path) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.url.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("HOME", home.display().to_string()),
        ("AWS_CONFIG_FILE", home.join("none").display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("none").display().to_string(),
        ),
    ]
}

fn config(dir: &Path, clients: &str) -> PathBuf {
    let db = dir.join("shop.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        .unwrap();
    let path = dir.join("switchboard.toml");
    std::fs::write(
        &path,
        format!(
            "[pins]\nenabled = false\n[secrets]\nrefresh = \"1s\"\n{clients}\n\
             [servers.db]\nkind = \"postgres\"\nenv = {{ DATABASE_URL = \"sqlite://{}\" }}\n",
            db.display()
        ),
    )
    .unwrap();
    path
}

/// Whether `token` is let in.
async fn admitted(url: &str, token: &str) -> bool {
    let response = tools_call(url, "query", json!({"sql": "SELECT 1"}), json!({}))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if response.status() == 401 {
        return false;
    }
    let answer = messages(&response.text().await.unwrap()).pop().unwrap();
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    true
}

/// `switchboard tools` with `env` (and nothing of the test's own AWS environment).
fn tools(config: &Path, env: &[(&str, String)]) -> std::process::Output {
    Command::new(support::binary())
        .args(["tools", "--config"])
        .arg(config)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_come_from_secrets_manager_and_follow_a_rotation() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    moto.call(
        "CreateSecret",
        json!({"Name": "gateway/ops-token", "SecretString": "ops-token-aws-1"}),
    )
    .await;
    moto.call(
        "CreateSecret",
        json!({"Name": "gateway/app", "SecretString": json!({"token": "app-token-aws-1", "n": 7}).to_string()}),
    )
    .await;
    let config = config(
        dir.path(),
        "[clients.ops]\ntoken = \"${aws-sm:gateway/ops-token}\"\n\
         [clients.app]\ntoken = \"${aws-sm:gateway/app#token}\"\n",
    );
    let mut env = aws_env(&moto, dir.path());
    env.push(("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_owned()));
    env.push(("AWS_SECRET_ACCESS_KEY", "not-a-real-key".to_owned()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut child, url) = support::serve_http(&config, &env_refs).await;
    assert!(admitted(&url, "ops-token-aws-1").await, "a plain secret");
    assert!(
        admitted(&url, "app-token-aws-1").await,
        "a field of a JSON secret"
    );
    assert!(!admitted(&url, "ops-token-aws-2").await);

    moto.call(
        "PutSecretValue",
        json!({"SecretId": "gateway/ops-token", "SecretString": "ops-token-aws-2"}),
    )
    .await;
    let mut rotated = false;
    for _ in 0..100 {
        if admitted(&url, "ops-token-aws-2").await {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "the new version is picked up within the refresh");
    assert!(
        !admitted(&url, "ops-token-aws-1").await,
        "the old one is refused"
    );
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_or_no_credentials_stops_the_start_and_a_profile_is_enough() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    moto.call(
        "CreateSecret",
        json!({"Name": "gateway/ops-token", "SecretString": "ops-token-aws-1"}),
    )
    .await;
    let good = config(
        dir.path(),
        "[clients.ops]\ntoken = \"${aws-sm:gateway/ops-token}\"\n",
    );
    let base = aws_env(&moto, dir.path());

    // No credentials anywhere: the start stops, naming the reference.
    let out = tools(&good, &base);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("${aws-sm:gateway/ops-token}"), "{stderr}");
    assert!(stderr.contains("credentials"), "says why: {stderr}");

    // A profile in a shared credentials file.
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[ci]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    let mut profile = base.clone();
    profile.retain(|(k, _)| *k != "AWS_SHARED_CREDENTIALS_FILE");
    profile.push((
        "AWS_SHARED_CREDENTIALS_FILE",
        credentials.display().to_string(),
    ));
    profile.push(("AWS_PROFILE", "ci".to_owned()));
    let out = tools(&good, &profile);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A secret that does not exist.
    let missing = config(
        dir.path(),
        "[clients.ops]\ntoken = \"${aws-sm:gateway/nope#token}\"\n",
    );
    let out = tools(&missing, &profile);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("clients.ops.token")
            && stderr.contains("${aws-sm:gateway/nope#token}")
            && stderr.contains("no such secret"),
        "{stderr}"
    );
    assert!(!stderr.contains("ops-token-aws-1") && !stderr.contains("profile-secret"));
}
