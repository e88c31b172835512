//! `switchboard-bench catalog`: what a client loads before its first call from a large catalog —
//! the full `tools/list` against tool search (the two meta tools plus one search) — and how often
//! a search for a task puts the right tool in the top 3.
//!
//! The catalog: the three built-in servers (on a real PostgreSQL database and the Jira and Slack
//! fakes), server-everything from npm, and a generated server (`generated-server`, this program)
//! listing 128 tools of a business back office: 16 kinds of record, 8 operations each, so many
//! tools differ by one word. The task phrases are written for this benchmark, each with the one
//! tool that does it.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::mcp::Server;
use crate::soak::setup::Backends;
use crate::table::figure;

/// Benchmark of tool search over a catalog of 150+ tools.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The switchboard binary [default: the one next to this program].
    #[arg(long, value_name = "PATH")]
    switchboard: Option<PathBuf>,
}

/// Kinds of record of the generated server, with what one is.
const RECORDS: &[(&str, &str)] = &[
    ("customer", "a person or company that buys from us"),
    ("invoice", "a bill sent to a customer for payment"),
    (
        "shipment",
        "a parcel on its way to a customer, with carrier and tracking number",
    ),
    ("refund", "money returned to a customer for an order"),
    ("employee", "a person on the payroll, with team and manager"),
    ("contract", "a signed agreement with a customer or supplier"),
    ("warehouse", "a storage site holding stock"),
    ("campaign", "a marketing email or advertising campaign"),
    ("lead", "a prospective customer found by sales"),
    ("subscription", "a recurring plan a customer pays for"),
    ("supplier", "a company we buy goods from"),
    ("expense", "a cost an employee claims back"),
    ("meeting", "a calendar meeting with attendees"),
    ("document", "a file in the shared document store"),
    ("alert", "a monitoring alert raised by a service"),
    ("payment", "a payment received from a customer"),
];

/// Operations of the generated server.
const OPERATIONS: &[(&str, &str)] = &[
    ("create", "Create a new {r}"),
    ("get", "Get one {r} by its id"),
    ("update", "Update fields of an existing {r}"),
    ("delete", "Delete a {r} permanently"),
    ("list", "List {r}s, page by page"),
    ("search", "Search {r}s by free text"),
    ("archive", "Archive a {r} so it no longer shows up in lists"),
    ("export", "Export {r}s as a CSV file"),
];

/// Task phrases and the tool that does each.
const TASKS: &[(&str, &str)] = &[
    ("count the failed orders of the last 24 hours", "db__query"),
    ("run a SQL select on the shop database", "db__query"),
    (
        "what columns does the orders table have",
        "db__describe_table",
    ),
    ("show the query plan of a slow select", "db__explain"),
    ("which schemas are in the database", "db__list_schemas"),
    ("list the tables in the database", "db__list_tables"),
    ("file a high priority bug in ENG", "jira__create_issue"),
    (
        "find jira issues matching a JQL query",
        "jira__search_issues",
    ),
    ("add a comment to issue ENG-42", "jira__add_comment"),
    ("move a jira issue to Done", "jira__transition_issue"),
    (
        "which issue types can a project use",
        "jira__list_issue_types",
    ),
    ("list the jira projects", "jira__list_projects"),
    ("get the details of issue ENG-7", "jira__get_issue"),
    (
        "which workflow transitions does an issue have",
        "jira__get_transitions",
    ),
    ("post a summary to #operations", "slack__post_message"),
    (
        "react to a slack message with an emoji",
        "slack__add_reaction",
    ),
    (
        "read the latest messages of a slack channel",
        "slack__get_channel_history",
    ),
    (
        "read the replies in a slack thread",
        "slack__get_thread_replies",
    ),
    ("which slack channels are there", "slack__list_channels"),
    (
        "look up the users of the slack workspace",
        "slack__list_users",
    ),
    ("echo a message back", "ev__echo"),
    ("add two numbers", "ev__get-sum"),
    ("create a new customer record", "ops__customer_create"),
    ("export all invoices as csv", "ops__invoice_export"),
    ("archive an old marketing campaign", "ops__campaign_archive"),
    ("delete an employee permanently", "ops__employee_delete"),
    ("update the fields of a contract", "ops__contract_update"),
    ("search suppliers by name", "ops__supplier_search"),
    ("list our warehouses", "ops__warehouse_list"),
    ("get a subscription by its id", "ops__subscription_get"),
    ("claim back an expense", "ops__expense_create"),
    ("schedule a meeting with attendees", "ops__meeting_create"),
    (
        "find documents in the shared store that mention pricing",
        "ops__document_search",
    ),
    ("export the sales leads to a csv file", "ops__lead_export"),
    ("list the monitoring alerts", "ops__alert_list"),
    ("look up a payment by id", "ops__payment_get"),
    (
        "return money to a customer for an order",
        "ops__refund_create",
    ),
    (
        "update a shipment's tracking number",
        "ops__shipment_update",
    ),
    ("archive a customer", "ops__customer_archive"),
    ("delete an invoice", "ops__invoice_delete"),
    ("search the payments received", "ops__payment_search"),
    ("create a new supplier", "ops__supplier_create"),
];

/// The generated server's tools.
fn generated_tools() -> Vec<Value> {
    let mut tools = Vec::new();
    for (record, what) in RECORDS {
        for (operation, sentence) in OPERATIONS {
            let description = format!("{}. A {record} is {what}.", sentence.replace("{r}", record));
            let properties = match *operation {
                "create" | "update" => {
                    json!({"id": {"type": "string", "description": format!("The {record}'s id (update only)")},
                           "fields": {"type": "object", "description": format!("The {record}'s fields")}})
                }
                "list" | "export" => {
                    json!({"page": {"type": "integer", "description": "Page number, from 1"}})
                }
                "search" => {
                    json!({"text": {"type": "string", "description": "Words to look for"}})
                }
                _ => {
                    json!({"id": {"type": "string", "description": format!("The {record}'s id")}})
                }
            };
            tools.push(json!({
                "name": format!("{record}_{operation}"),
                "description": description,
                "inputSchema": {"type": "object", "properties": properties},
            }));
        }
    }
    tools
}

/// `switchboard-bench generated-server`: the generated server, over stdio (newline-delimited
/// JSON-RPC, as the MCP stdio transport).
pub(crate) fn serve_generated() -> anyhow::Result<()> {
    let tools = generated_tools();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let message: Value = serde_json::from_str(&line?)?;
        let Some(id) = message.get("id").cloned() else {
            continue; // a notification
        };
        let result = match message["method"].as_str().unwrap_or_default() {
            "initialize" => json!({
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "generated", "version": "1"},
            }),
            "tools/list" => json!({ "tools": tools }),
            "tools/call" => json!({
                "content": [{"type": "text", "text": format!("done: {}", message["params"]["name"])}],
                "isError": false,
            }),
            "ping" => json!({}),
            other => {
                let error = json!({"jsonrpc": "2.0", "id": id,
                                   "error": {"code": -32601, "message": format!("no method {other}")}});
                writeln!(stdout, "{error}")?;
                stdout.flush()?;
                continue;
            }
        };
        writeln!(
            stdout,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        )?;
        stdout.flush()?;
    }
    Ok(())
}

/// A gateway over the catalog, on stdio, with `gateway` settings.
async fn gateway(
    binary: &std::path::Path,
    dir: &std::path::Path,
    backends: &Backends,
    gateway: &str,
) -> anyhow::Result<Server> {
    let me = std::env::current_exe()?;
    let config = format!(
        "{}\n[servers.ops]\ncommand = {}\nargs = [\"generated-server\"]\n",
        backends
            .config()
            .replacen("[gateway]\n", &format!("[gateway]\n{gateway}\n"), 1),
        Value::String(me.to_string_lossy().into_owned()),
    );
    let path = dir.join(format!("catalog-{}.toml", gateway.len()));
    std::fs::write(&path, config)?;
    let mut command = Command::new(binary);
    command
        .args(["serve", "-c"])
        .arg(&path)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .stderr(std::process::Stdio::null());
    let mut server = Server::spawn(command, binary)?;
    server.handshake().await?;
    Ok(server)
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let binary = crate::sibling(args.switchboard.as_ref(), "switchboard", "--switchboard")?;
    let dir = tempfile::Builder::new().prefix("sb-catalog-").tempdir()?;
    let backends = Backends::start(dir.path()).await?;

    let mut full = gateway(&binary, dir.path(), &backends, "tool_search = \"off\"").await?;
    let listed = full.request("tools/list", json!({})).await?;
    let tools = listed["tools"].as_array().context("tools/list")?.len();
    let full_bytes = listed.to_string().len();
    full.stop().await?;
    ensure!(tools >= 150, "the catalog has only {tools} tools");

    let mut searching = gateway(&binary, dir.path(), &backends, "tool_search = \"on\"").await?;
    let meta = searching.request("tools/list", json!({})).await?;
    let meta_bytes = meta.to_string().len();
    let mut first_search = 0;
    let mut hits = 0;
    let mut misses = Vec::new();
    for (i, (task, expected)) in TASKS.iter().enumerate() {
        let arguments = json!({"query": task, "limit": 3});
        let result = searching.call("search_tools", arguments).await?;
        if i == 0 {
            first_search = result.to_string().len();
        }
        let found: Vec<String> = result["structuredContent"]["tools"]
            .as_array()
            .context("search_tools result")?
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        if found.iter().any(|name| name == expected) {
            hits += 1;
        } else {
            misses.push(format!("{task:?} → {found:?} (wanted {expected})"));
        }
    }
    searching.stop().await?;

    let loaded_search = meta_bytes + first_search;
    let tokens = |bytes: usize| bytes.div_ceil(4);
    let share = f64::from(hits) / TASKS.len() as f64;
    println!(
        "\ncatalog: {tools} tools (db, jira, slack built in; server-everything; 128 generated)"
    );
    figure("figure", "search mode", "full list", "ratio  goal");
    figure(
        "loaded before the first call, bytes",
        &loaded_search.to_string(),
        &full_bytes.to_string(),
        &format!("1/{:.0}", full_bytes as f64 / loaded_search as f64),
    );
    figure(
        "  estimated tokens (bytes / 4)",
        &tokens(loaded_search).to_string(),
        &tokens(full_bytes).to_string(),
        "",
    );
    figure(
        "  of which: tools/list, one search_tools",
        &format!("{meta_bytes}, {first_search}"),
        "",
        "",
    );
    figure(
        &format!("right tool in the top 3 ({} tasks)", TASKS.len()),
        &format!("{hits} ({:.0} %)", share * 100.0),
        "",
        "      >= 90 %",
    );
    for miss in &misses {
        println!("  missed: {miss}");
    }
    println!(
        "\n{}",
        json!({"tools": tools, "full_list_bytes": full_bytes, "search_list_bytes": meta_bytes,
               "first_search_bytes": first_search, "tasks": TASKS.len(), "top3_hits": hits,
               "top3_share": share, "misses": misses})
    );
    Ok(())
}
