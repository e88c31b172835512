//! `switchboard approvals`: an operator's view of the calls waiting for approval on a running
//! gateway (its `/admin/approvals`, with an operator client's token).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use switchboard_gateway::policy::queue::QueuedApproval;

/// Exit code when the gateway refused the request (not an operator, unknown id, …).
const EXIT_REFUSED: u8 = 1;

#[derive(Debug, Args)]
pub(crate) struct ApprovalsArgs {
    /// The gateway's HTTP address, as given to `serve --http`.
    #[arg(long, env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A bearer token of an operator: a client with `admin = true`, or a person whose token
    /// maps to one.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// List the calls waiting, oldest first.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Let a waiting call run.
    Approve {
        /// The id `list` shows.
        id: String,
    },
    /// Refuse a waiting call; the caller gets the reason.
    Deny {
        /// The id `list` shows.
        id: String,
        /// Why, for the caller and the audit record.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Runs the approvals subcommand.
pub(crate) async fn run(args: ApprovalsArgs) -> anyhow::Result<ExitCode> {
    let base = args.url.trim_end_matches('/').trim_end_matches("/mcp");
    let http = reqwest::Client::new();
    let with_token = |request: reqwest::RequestBuilder| match &args.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let (request, id) = match &args.action {
        Action::List { .. } => (http.get(format!("{base}/admin/approvals")), None),
        Action::Approve { id } => (
            http.post(format!("{base}/admin/approvals/{id}"))
                .json(&json!({"decision": "approve"})),
            Some(id),
        ),
        Action::Deny { id, reason } => (
            http.post(format!("{base}/admin/approvals/{id}"))
                .json(&json!({"decision": "deny", "reason": reason})),
            Some(id),
        ),
    };
    let response = with_token(request)
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {base}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let why = body
            .get("error_description")
            .or_else(|| body.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("no details");
        eprintln!("switchboard: the gateway answered {status}: {why}");
        return Ok(ExitCode::from(EXIT_REFUSED));
    }
    match (&args.action, id) {
        (Action::List { json }, _) => {
            let approvals: Vec<QueuedApproval> =
                serde_json::from_value(body["approvals"].clone()).unwrap_or_default();
            if *json {
                for approval in &approvals {
                    println!("{}", serde_json::to_string(approval)?);
                }
            } else if approvals.is_empty() {
                println!("no calls are waiting for approval");
            } else {
                for a in &approvals {
                    println!(
                        "{}  {}  asked by {} at {}, expires in {}s\n    {}",
                        a.id, a.tool, a.client, a.asked_at, a.expires_in_s, a.arguments
                    );
                }
            }
        }
        (_, Some(id)) => println!("{id}: {}", body["decision"].as_str().unwrap_or("done")),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}
