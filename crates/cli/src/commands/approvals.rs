//! `switchboard approvals`: an operator's view of the calls waiting for approval on a running
//! gateway (its `/admin/approvals`, with an operator client's token).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use switchboard_gateway::policy::queue::QueuedApproval;

use super::admin::AdminArgs;

#[derive(Debug, Args)]
pub(crate) struct ApprovalsArgs {
    #[command(flatten)]
    admin: AdminArgs,
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
    let (path, id) = match &args.action {
        Action::List { .. } => ("approvals".to_owned(), None),
        Action::Approve { id } | Action::Deny { id, .. } => (format!("approvals/{id}"), Some(id)),
    };
    let sent = args.admin.send(&path, |http, url| match &args.action {
        Action::List { .. } => http.get(url),
        Action::Approve { .. } => http.post(url).json(&json!({"decision": "approve"})),
        Action::Deny { reason, .. } => http
            .post(url)
            .json(&json!({"decision": "deny", "reason": reason})),
    });
    let body = match sent.await? {
        Ok(body) => body,
        Err(code) => return Ok(code),
    };
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
