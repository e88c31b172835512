//! `switchboard-conformance-client`: rmcp's MCP client driven by the client scenarios of the
//! official conformance suite. The suite starts it as `switchboard-conformance-client <url>` with
//! `MCP_CONFORMANCE_SCENARIO` (which scenario), `MCP_CONFORMANCE_PROTOCOL_VERSION` (2025-11-25:
//! `initialize` session; 2026-07-28: `server/discover` and per-request metadata) and, for some
//! scenarios, `MCP_CONFORMANCE_CONTEXT` (JSON with the tool calls to make). The suite's mock
//! server judges what the client sends; this program only does what a client would do.
//!
//! It connects through the gateway's upstream transport (`switchboard_gateway::
//! http_upstream_transport`), so the authorization (`auth/*`) scenarios exercise the gateway's
//! OAuth client: each scenario becomes the `oauth` settings an operator would configure for such
//! a server (see [`oauth_settings`]).
//!
//! Exit codes: 0 when the scenario's flow ran, 1 when it could not (no URL, no connection,
//! authorization refused).

#![expect(
    deprecated,
    reason = "sampling and roots are part of the 2025-11-25 client scenarios"
)]

use std::process::ExitCode;

use anyhow::{Context, bail};
use rmcp::ClientHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    ElicitationAction, GetPromptRequestParams, Implementation, InputResponses, ProtocolVersion,
    ReadResourceRequestParams, SamplingMessage,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient, RunningService,
};
use serde_json::{Map, Value, json};
use switchboard_gateway::config::{OAuthGrant, ResolvedOAuth};
use switchboard_gateway::secrets::SecretSet;

/// Answers sampling with a fixed text and elicitation with each field's default (or a fixed
/// confirmation), as a scripted user would.
#[derive(Clone)]
struct ScriptedUser;

impl ClientHandler for ScriptedUser {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = serde_json::from_value(json!({
            "sampling": {},
            "elicitation": { "form": { "applyDefaults": true } },
            "roots": {},
        }))
        .unwrap_or_default();
        ClientConfig::new(
            capabilities,
            Implementation::new("switchboard-conformance-client", "1.0.0"),
        )
    }

    async fn create_message(
        &self,
        _params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, rmcp::ErrorData> {
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("This is a test response from the client"),
            "conformance-model".to_owned(),
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = Some(Value::Object(elicitation_answer(&request)));
        Ok(result)
    }
}

/// The answer to a form: every property that has a default gets it; with no defaults at all,
/// `{"confirmed": true}`.
fn elicitation_answer(request: &ElicitRequestParams) -> Map<String, Value> {
    let schema = serde_json::to_value(request).unwrap_or_default();
    let mut answer = Map::new();
    if let Some(properties) = schema["requestedSchema"]["properties"].as_object() {
        for (name, property) in properties {
            if let Some(default) = property.get("default") {
                answer.insert(name.clone(), default.clone());
            }
        }
    }
    if answer.is_empty() {
        answer.insert("confirmed".to_owned(), Value::Bool(true));
    }
    answer
}

type Client = RunningService<RoleClient, ScriptedUser>;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let Some(url) = std::env::args().nth(1) else {
        bail!("usage: switchboard-conformance-client <server-url>");
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let version = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_default();
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or(Value::Null);
    let lifecycle = if version.as_str() >= ProtocolVersion::V_2026_07_28.as_str() {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    let oauth = oauth_settings(&scenario, &context);
    let transport = switchboard_gateway::http_upstream_transport(
        "conformance",
        &url,
        &Default::default(),
        oauth.as_ref(),
        &SecretSet::default(),
    )
    .map_err(anyhow::Error::msg)?;
    let client = ScriptedUser
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    let outcome = exercise(&client, &scenario, &context).await;
    let _ = client.cancel().await;
    outcome
}

/// The client ID metadata document the suite's authorization servers accept (SEP-991).
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// The `oauth` settings an operator would give the gateway for the scenario's server: none for
/// the non-authorization scenarios; client credentials where the suite hands out a client ID and
/// secret for them; otherwise the authorization code grant, with the pre-registered client the
/// context names, else the client ID metadata document (used when the server supports them), else
/// dynamic registration.
fn oauth_settings(scenario: &str, context: &Value) -> Option<ResolvedOAuth> {
    if !scenario.starts_with("auth/") {
        return None;
    }
    let text = |key: &str| context[key].as_str().map(str::to_owned);
    let grant = if scenario.starts_with("auth/client-credentials") {
        OAuthGrant::ClientCredentials
    } else {
        OAuthGrant::AuthorizationCode
    };
    Some(ResolvedOAuth {
        grant,
        client_id: text("client_id"),
        client_secret: text("client_secret"),
        scopes: Vec::new(),
        redirect_uri: "http://localhost:3000/callback".to_owned(),
        client_metadata_url: (grant == OAuthGrant::AuthorizationCode)
            .then(|| CLIENT_METADATA_URL.to_owned()),
        client_name: "switchboard-conformance-client".to_owned(),
    })
}

/// The scenario's flow. Failures of individual calls are logged, not fatal: the suite's mock
/// server decides what a correct client does, including when a call is refused.
async fn exercise(client: &Client, scenario: &str, context: &Value) -> anyhow::Result<()> {
    let tools = client.list_all_tools().await.context("tools/list failed")?;
    if let Some(calls) = context["toolCalls"].as_array() {
        for call in calls {
            let name = call["name"].as_str().unwrap_or_default();
            report(
                name,
                client
                    .call_tool_once(params(name, call["arguments"].clone()))
                    .await,
            );
        }
        return Ok(());
    }
    match scenario {
        "json-schema-ref-no-deref" => {}
        "sep-2322-client-request-state" => request_state(client).await,
        "elicitation-sep1034-client-defaults" => {
            let name = "test_client_elicitation_defaults";
            report(
                name,
                client
                    .call_tool(params(name, json!({})))
                    .await
                    .map(CallToolResponse::from),
            );
        }
        "sse-retry" => {
            let name = "test_reconnection";
            report(
                name,
                client
                    .call_tool(params(name, json!({})))
                    .await
                    .map(CallToolResponse::from),
            );
        }
        _ => {
            if let Some(tool) = tools.first() {
                let name = tool.name.to_string();
                let result = client
                    .call_tool(params(&name, json!({ "a": 2, "b": 3 })))
                    .await;
                report(&name, result.map(CallToolResponse::from));
            }
            touch_prompts_and_resources(client).await;
        }
    }
    Ok(())
}

/// Gets every prompt and reads every resource the server lists (the header scenarios watch
/// `prompts/get` and `resources/read` too). Servers without them answer -32601: fine.
async fn touch_prompts_and_resources(client: &Client) {
    if let Ok(prompts) = client.list_all_prompts().await {
        for prompt in prompts {
            let _ = client
                .get_prompt(GetPromptRequestParams::new(prompt.name))
                .await;
        }
    }
    if let Ok(resources) = client.list_all_resources().await {
        for resource in resources {
            let _ = client
                .read_resource(ReadResourceRequestParams::new(resource.uri.clone()))
                .await;
        }
    }
}

/// SEP-2322 by hand: fulfil an `InputRequiredResult`, make an unrelated call in between (which
/// must carry no MRTR state), then retry with the answers and the `requestState` unchanged.
async fn request_state(client: &Client) {
    for name in ["test_mrtr_echo_state", "test_mrtr_no_state"] {
        let first = client.call_tool_once(params(name, json!({}))).await;
        let Ok(CallToolResponse::InputRequired(input)) = first else {
            report(name, first);
            continue;
        };
        let mut answers = InputResponses::new();
        for (key, request) in input.input_requests.iter().flatten() {
            let request = serde_json::to_value(request).unwrap_or_default();
            if request["method"] == "elicitation/create" {
                answers.insert(
                    key.clone(),
                    json!({ "action": "accept", "content": { "confirmed": true } }),
                );
            }
        }
        if name == "test_mrtr_echo_state" {
            let unrelated = "test_mrtr_unrelated";
            report(
                unrelated,
                client.call_tool_once(params(unrelated, json!({}))).await,
            );
        }
        let mut retry = params(name, json!({}));
        retry.input_responses = Some(answers);
        retry.request_state = input.request_state;
        report(name, client.call_tool_once(retry).await);
    }
    let name = "test_mrtr_no_result_type";
    report(name, client.call_tool_once(params(name, json!({}))).await);
}

fn params(name: &str, arguments: Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

fn report<E: std::fmt::Display>(name: &str, outcome: Result<CallToolResponse, E>) {
    match outcome {
        Ok(CallToolResponse::Complete(result)) => {
            eprintln!("{name}: complete (isError: {:?})", result.is_error);
        }
        Ok(_) => eprintln!("{name}: not complete"),
        Err(error) => eprintln!("{name}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(properties: Value) -> ElicitRequestParams {
        serde_json::from_value(json!({
            "mode": "form",
            "message": "?",
            "requestedSchema": { "type": "object", "properties": properties },
        }))
        .unwrap()
    }

    #[test]
    fn answers_with_every_default() {
        let request = form(json!({
            "name": { "type": "string", "default": "John Doe" },
            "age": { "type": "integer", "default": 30 },
            "note": { "type": "string" },
        }));
        let answer = elicitation_answer(&request);
        assert_eq!(
            Value::Object(answer),
            json!({ "name": "John Doe", "age": 30 })
        );
    }

    #[test]
    fn confirms_a_form_without_defaults() {
        let answer = elicitation_answer(&form(json!({ "ok": { "type": "boolean" } })));
        assert_eq!(Value::Object(answer), json!({ "confirmed": true }));
    }
}
