//! The gateway as the agent's [`ToolHost`]: the agent sees the caller's view of the catalog and
//! every call it makes goes through the gateway's policy pipeline and audit log exactly like any
//! other client's. When the pipeline's approval layer wants a human, it asks the agent's approver
//! (the terminal prompt, or `--yes`) directly: both use the gateway's [`Approver`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, Tool};
use serde_json::Value;
use switchboard_agent::{HostError, ToolHost, ToolOutcome, ToolSpec};
use switchboard_gateway::config::ToolSearch;
use switchboard_gateway::policy::approval::denial_reason;
use switchboard_gateway::{
    Approver, CallRequest, Caller, Gateway, Outcome, format_health, needs_approval,
};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The gateway, seen by one caller.
pub(crate) struct GatewayHost {
    gateway: Gateway,
    caller: Caller,
}

impl GatewayHost {
    /// Offers `caller`'s tools and runs calls as `caller`.
    pub(crate) fn new(gateway: Gateway, caller: Caller) -> Self {
        Self { gateway, caller }
    }

    /// Whether the approval layer will ask before running `tool` (the gateway's rule).
    fn needs_approval(&self, tool: &str) -> bool {
        let rules = &self.gateway.config().config.tools;
        needs_approval(rules, tool, self.gateway.catalog().tool(tool).as_deref())
    }

    fn spec(&self, tool: Tool) -> ToolSpec {
        let description = tool
            .description
            .as_deref()
            .or(tool.title.as_deref())
            .unwrap_or_default()
            .to_owned();
        ToolSpec {
            needs_approval: self.needs_approval(&tool.name),
            name: tool.name.into_owned(),
            description,
            input_schema: Value::Object((*tool.input_schema).clone()),
        }
    }

    /// Why no tool is available, naming each upstream's health.
    fn no_tools(&self) -> HostError {
        let upstreams: Vec<String> = self
            .gateway
            .status()
            .iter()
            .map(|s| format!("{}: {}", s.name, format_health(&s.health)))
            .collect();
        let detail = if upstreams.is_empty() {
            "the configuration declares no servers".to_owned()
        } else {
            format!("upstreams: {}", upstreams.join("; "))
        };
        HostError(format!(
            "client {:?} has no tools to offer ({detail}); check the configuration's servers \
             and this client's allow/deny scopes",
            self.caller.client
        ))
    }
}

impl ToolHost for GatewayHost {
    fn tools(&self) -> BoxFuture<'_, Result<Vec<ToolSpec>, HostError>> {
        Box::pin(async move {
            // Every tool: with a large catalog the agent defers them behind the API's own tool
            // search (`defers`) rather than the gateway's meta tools.
            let mut all = self.caller.clone();
            all.tool_search = ToolSearch::Off;
            let tools = self.gateway.list_tools(&all).await;
            if tools.is_empty() {
                return Err(self.no_tools());
            }
            Ok(tools.into_iter().map(|tool| self.spec(tool)).collect())
        })
    }

    fn defers(&self, tools: usize) -> bool {
        self.caller.tool_search.applies(tools)
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        input: Value,
        approver: Arc<dyn Approver>,
    ) -> BoxFuture<'a, ToolOutcome> {
        Box::pin(async move {
            let arguments = match input {
                Value::Object(map) => Some(map),
                Value::Null => None,
                other => {
                    return ToolOutcome::error(format!(
                        "the arguments of `{name}` must be a JSON object, not {other}"
                    ));
                }
            };
            let caller = self.caller.clone().with_approver(approver);
            let request = CallRequest {
                name: name.to_owned(),
                arguments,
                ..CallRequest::default()
            };
            let outcome = self.gateway.call(&caller, request).await;
            to_outcome(name, outcome)
        })
    }
}

/// What the model is told about a call's outcome. A call the approver denied is told in the
/// agent's words, with the approver's reason.
fn to_outcome(name: &str, outcome: Outcome) -> ToolOutcome {
    if let Outcome::Refused {
        layer: "approval",
        message,
    } = &outcome
        && let Some(reason) = denial_reason(name, message)
    {
        return ToolOutcome::denied(name, reason);
    }
    match outcome {
        Outcome::Completed(result) => from_result(&result),
        other => ToolOutcome::error(result_text(&other.to_result())),
    }
}

/// A completed call's result: its text content, else its structured content as JSON text.
fn from_result(result: &CallToolResult) -> ToolOutcome {
    let text = result_text(result);
    if result.is_error == Some(true) {
        ToolOutcome::error(text)
    } else {
        ToolOutcome::ok(text)
    }
}

fn result_text(result: &CallToolResult) -> String {
    let parts: Vec<String> = result.content.iter().filter_map(block_text).collect();
    if !parts.is_empty() {
        return parts.join("\n");
    }
    match &result.structured_content {
        Some(value) => value.to_string(),
        None => "(the tool returned no content)".to_owned(),
    }
}

/// The text of a content block; other kinds are described, since the model is sent text only.
fn block_text(block: &ContentBlock) -> Option<String> {
    match block {
        ContentBlock::Text(text) => Some(text.text.clone()),
        ContentBlock::Image(image) => Some(format!("[image, {}]", image.mime_type)),
        ContentBlock::Audio(audio) => Some(format!("[audio, {}]", audio.mime_type)),
        ContentBlock::Resource(resource) => Some(
            serde_json::to_value(&resource.resource)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| "[embedded resource]".to_owned()),
        ),
        ContentBlock::ResourceLink(link) => Some(format!("[resource {}]", link.uri)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_wins_over_structured_content_and_errors_stay_errors() {
        let mut result = CallToolResult::success(vec![
            ContentBlock::text("first"),
            ContentBlock::text("second"),
        ]);
        result.structured_content = Some(json!({"ignored": true}));
        assert_eq!(from_result(&result), ToolOutcome::ok("first\nsecond"));

        let mut structured = CallToolResult::success(Vec::new());
        structured.structured_content = Some(json!({"key": "ENG-1"}));
        assert_eq!(
            from_result(&structured),
            ToolOutcome::ok(r#"{"key":"ENG-1"}"#)
        );

        let failed = CallToolResult::error(vec![ContentBlock::text("no such table")]);
        assert_eq!(from_result(&failed), ToolOutcome::error("no such table"));
    }

    #[test]
    fn an_approval_denial_tells_the_model_not_to_insist() {
        let refused = Outcome::refused("approval", "slack__post_message was not run: nope");
        let outcome = to_outcome("slack__post_message", refused);
        assert!(outcome.is_error);
        assert!(outcome.content.contains("`slack__post_message`"));
        assert!(outcome.content.contains("nope"));
        assert!(outcome.content.contains("Do not retry"));
    }

    #[test]
    fn other_refusals_keep_the_gateway_message() {
        let refused = Outcome::refused("rate_limit", "over the rate of 1/minute; retry in 60s");
        let outcome = to_outcome("db__query", refused);
        assert_eq!(
            outcome,
            ToolOutcome::error("over the rate of 1/minute; retry in 60s")
        );
    }
}
