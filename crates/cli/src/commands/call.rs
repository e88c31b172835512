//! `switchboard call <tool> '<json>'`: call one tool through the gateway's full pipeline
//! (scopes, rate limits, approval, limits, audit) without a model, and print the result.
//!
//! Exit codes: 0 the tool succeeded, 1 it returned an error (or was refused), 2 bad usage or
//! configuration.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use switchboard_gateway::{ApprovalRequest, Approver, Decision};

use super::serve::{ConfigArgs, EXIT_CONFIG};

/// Arguments of `switchboard call`.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The exposed tool name, e.g. `db__query`.
    tool: String,
    /// The arguments as a JSON object.
    #[arg(default_value = "{}")]
    arguments: String,
    /// Call as this client (its scopes and rate limits apply).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
}

/// Asks on the terminal (stderr + stdin) whether a call that needs approval may run.
struct TerminalApprover;

impl Approver for TerminalApprover {
    fn approve<'a>(
        &'a self,
        request: &'a ApprovalRequest,
    ) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        let message = request.message();
        Box::pin(async move {
            let answer = tokio::task::spawn_blocking(move || {
                let mut stderr = std::io::stderr();
                let _ = write!(stderr, "{message} [y/N] ");
                let _ = stderr.flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                line
            })
            .await
            .unwrap_or_default();
            if matches!(answer.trim(), "y" | "Y" | "yes") {
                Decision::Allow
            } else {
                Decision::Deny {
                    reason: "the operator declined".to_owned(),
                }
            }
        })
    }
}

/// Calls the tool and prints its result as JSON.
pub(crate) async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let arguments = match serde_json::from_str::<serde_json::Value>(&args.arguments) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) | Err(_) => {
            eprintln!(
                "switchboard: the arguments must be a JSON object, e.g. '{{\"sql\": \"select 1\"}}'"
            );
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let gateway = match args.config.start().await {
        Ok(gateway) => gateway,
        Err(code) => return Ok(code),
    };
    let mut caller = match &args.client {
        Some(name) => gateway.caller(name, "cli"),
        None => gateway.stdio_caller("cli"),
    };
    if std::io::stdin().is_terminal() {
        caller = caller.with_approver(Arc::new(TerminalApprover));
    }
    let result = gateway
        .call_tool(&caller, &args.tool, Some(arguments))
        .await;
    gateway.shutdown().await;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(if result.is_error == Some(true) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
