//! What the operator commands (`approvals`, `reload`) share: the gateway's address, an
//! operator's token, and how a refusal is told.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

/// Exit code when the gateway refused the request (not an operator, unknown id, a bad file, …).
const EXIT_REFUSED: u8 = 1;

#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The gateway's HTTP address, as given to `serve --http`.
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A bearer token of an operator: a client with `admin = true`, or a person whose token
    /// maps to one.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl AdminArgs {
    /// Sends the request `build` makes from the client and `/admin/…` URL `path`; the answer's
    /// JSON, or the exit code after telling why the gateway refused.
    pub(crate) async fn send(
        &self,
        path: &str,
        build: impl FnOnce(&reqwest::Client, String) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Result<Value, ExitCode>> {
        let base = self.url.trim_end_matches('/').trim_end_matches("/mcp");
        let mut request = build(&reqwest::Client::new(), format!("{base}/admin/{path}"));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {base}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Ok(body));
        }
        let why = body
            .get("error_description")
            .or_else(|| body.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("no details");
        eprintln!("switchboard: the gateway answered {status}: {why}");
        Ok(Err(ExitCode::from(EXIT_REFUSED)))
    }
}
