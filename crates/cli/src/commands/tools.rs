//! `switchboard tools`: start the gateway and print its catalog as a table (or JSON).

use std::process::ExitCode;

use clap::Args;

use super::serve::ConfigArgs;

/// Arguments of `switchboard tools`.
#[derive(Debug, Args)]
pub(crate) struct ToolsArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Show the catalog as this client sees it (its allow/deny scopes).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// Print the tools as JSON (name, description, inputSchema, annotations) instead of a table.
    #[arg(long)]
    json: bool,
}

fn flags(tool: &rmcp::model::Tool) -> String {
    let Some(a) = &tool.annotations else {
        return "-".to_owned();
    };
    let mut out = Vec::new();
    if a.read_only_hint == Some(true) {
        out.push("read-only");
    } else if a.destructive_hint == Some(true) {
        out.push("destructive");
    }
    if a.idempotent_hint == Some(true) {
        out.push("idempotent");
    }
    if a.open_world_hint == Some(true) {
        out.push("open-world");
    }
    if out.is_empty() {
        "-".to_owned()
    } else {
        out.join(",")
    }
}

fn first_line(text: &str, width: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let cut: String = line.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Prints the catalog.
pub(crate) async fn run(args: ToolsArgs) -> anyhow::Result<ExitCode> {
    let gateway = match args.config.start().await {
        Ok(gateway) => gateway,
        Err(code) => return Ok(code),
    };
    let caller = match &args.client {
        Some(name) => gateway.caller(name, "cli"),
        None => gateway.stdio_caller("cli"),
    };
    let tools = gateway.list_tools(&caller).await;
    let catalog = gateway.catalog();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tools)?);
    } else {
        let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
        println!(
            "{:<width$}  {:<12}  {:<24}  DESCRIPTION",
            "TOOL", "SERVER", "HINTS"
        );
        for tool in &tools {
            let server = catalog
                .tool(&tool.name)
                .map(|t| t.server.clone())
                .unwrap_or_default();
            let description = first_line(tool.description.as_deref().unwrap_or_default(), 60);
            println!(
                "{:<width$}  {server:<12}  {:<24}  {description}",
                tool.name,
                flags(tool)
            );
        }
        println!();
        for status in gateway.status() {
            println!(
                "server {}: {} tools, {}{}",
                status.name,
                status.tools,
                switchboard_gateway::format_health(&status.health),
                if status.required { "" } else { " (optional)" }
            );
        }
    }
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
