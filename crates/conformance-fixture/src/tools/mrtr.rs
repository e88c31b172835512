//! 2026-07-28 multi round-trip tools (SEP-2322, the `input-required-result-*` scenarios). Each
//! returns an `InputRequiredResult` naming what it needs and completes once the client retries
//! with the answers. A missing, malformed or declined answer is asked for again; a
//! `requestState` that fails its integrity check is refused with -32602.

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, InputRequests, InputRequiredResult,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use serde_json::Value;

use crate::mrtr::{self, Progress};
use crate::server::Fixture;

const REQUEST_STATE: &str = "test_input_required_result_request_state";
const MULTIPLE_INPUTS: &str = "test_input_required_result_multiple_inputs";
const MULTI_ROUND: &str = "test_input_required_result_multi_round";
const TAMPERED_STATE: &str = "test_input_required_result_tampered_state";

type Outcome = Result<CallToolResponse, ErrorData>;

#[tool_router(router = mrtr_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "test_input_required_result_elicitation",
        description = "Asks the user's name (elicitation), then greets them.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_elicitation(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Outcome {
        match mrtr::elicited_text(responses.as_ref(), "user_name", "name") {
            Some(name) => done(format!("Hello, {name}!")),
            None => ask(
                [(
                    "user_name",
                    mrtr::elicit("What is your name?", "name", "string")?,
                )],
                None,
            ),
        }
    }

    #[tool(
        name = "test_input_required_result_sampling",
        description = "Asks the client's model a question (sampling), then reports the answer.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_sampling(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Outcome {
        match mrtr::answer(responses.as_ref(), "sample_request") {
            Some(answer) => {
                let text = answer["content"]["text"].as_str().unwrap_or("no response");
                done(format!("Sampling result: {text}"))
            }
            None => ask(
                [(
                    "sample_request",
                    mrtr::sample("What is the capital of France?", 100)?,
                )],
                None,
            ),
        }
    }

    #[tool(
        name = "test_input_required_result_list_roots",
        description = "Asks for the client's roots, then counts them.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_list_roots(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Outcome {
        match mrtr::answer(responses.as_ref(), "roots_request")
            .and_then(|answer| answer.get("roots"))
            .and_then(Value::as_array)
        {
            Some(roots) => done(format!("Found {} root(s)", roots.len())),
            None => ask([("roots_request", mrtr::list_roots()?)], None),
        }
    }

    #[tool(
        name = "test_input_required_result_request_state",
        description = "Asks for a confirmation and carries a sealed requestState it checks on \
                       the retry.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_request_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Outcome {
        let codec = &self.shared.codec;
        let progress = mrtr::open_optional(codec, REQUEST_STATE, state.as_deref())?;
        let confirmed = mrtr::elicited_bool(responses.as_ref(), "confirm", "ok") == Some(true);
        if progress.is_some() && confirmed {
            return done("state-ok: requestState validated".to_owned());
        }
        let state = mrtr::seal(codec, REQUEST_STATE, &Progress::new("request-state", 1))?;
        ask([("confirm", confirm_request()?)], Some(state))
    }

    #[tool(
        name = "test_input_required_result_multiple_inputs",
        description = "Asks for a name (elicitation), a greeting (sampling) and the roots in \
                       one round.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_multiple_inputs(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Outcome {
        let codec = &self.shared.codec;
        let progress = mrtr::open_optional(codec, MULTIPLE_INPUTS, state.as_deref())?;
        let responses = responses.as_ref();
        let name = mrtr::elicited_text(responses, "user_name", "name");
        let greeting = mrtr::answer(responses, "greeting");
        let roots = mrtr::answer(responses, "client_roots")
            .and_then(|answer| answer.get("roots"))
            .and_then(Value::as_array);
        if let (Some(_), Some(name), Some(greeting), Some(roots)) =
            (progress, name, greeting, roots)
        {
            let greeting = greeting["content"]["text"]
                .as_str()
                .unwrap_or("Hello there!");
            return done(format!(
                "Name: {name}; Greeting: {greeting}; Roots: {}",
                roots.len()
            ));
        }
        let state = mrtr::seal(codec, MULTIPLE_INPUTS, &Progress::new("multiple-inputs", 1))?;
        ask(
            [
                (
                    "user_name",
                    mrtr::elicit("What is your name?", "name", "string")?,
                ),
                ("greeting", mrtr::sample("Generate a greeting", 50)?),
                ("client_roots", mrtr::list_roots()?),
            ],
            Some(state),
        )
    }

    #[tool(
        name = "test_input_required_result_multi_round",
        description = "Asks for a name, then (second round) a favourite colour, then completes.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_multi_round(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Outcome {
        let codec = &self.shared.codec;
        let responses = responses.as_ref();
        let progress = mrtr::open_optional(codec, MULTI_ROUND, state.as_deref())?;
        match progress {
            Some(Progress { round: 1, .. }) => {
                if let Some(name) = mrtr::elicited_text(responses, "step1", "name") {
                    let mut next = Progress::new("multi-round", 2);
                    next.name = Some(name);
                    return ask_color(&mrtr::seal(codec, MULTI_ROUND, &next)?);
                }
            }
            Some(Progress { round: 2, name, .. }) if mrtr::answer(responses, "step2").is_some() => {
                let color = mrtr::elicited_text(responses, "step2", "color");
                return done(format!(
                    "Multi-round complete for {} who likes {}",
                    name.as_deref().unwrap_or("friend"),
                    color.as_deref().unwrap_or("unknown")
                ));
            }
            // Round 2 without its answer: ask again, keeping the state (and the name).
            Some(Progress { round: 2, .. }) => {
                return ask_color(state.as_deref().unwrap_or_default());
            }
            _ => {}
        }
        let state = mrtr::seal(codec, MULTI_ROUND, &Progress::new("multi-round", 1))?;
        let step1 = mrtr::elicit("Step 1: What is your name?", "name", "string")?;
        ask([("step1", step1)], Some(state))
    }

    #[tool(
        name = "test_input_required_result_tampered_state",
        description = "Asks for a confirmation with an HMAC-sealed requestState; refuses a \
                       retry whose state was altered.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_tampered_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Outcome {
        let codec = &self.shared.codec;
        let progress = mrtr::open_optional(codec, TAMPERED_STATE, state.as_deref())?;
        if progress.is_some() && mrtr::answer(responses.as_ref(), "confirm").is_some() {
            return done("integrity-ok: state verified".to_owned());
        }
        let state = mrtr::seal(codec, TAMPERED_STATE, &Progress::new("tamper-test", 1))?;
        ask([("confirm", confirm_request()?)], Some(state))
    }

    #[tool(
        name = "test_input_required_result_capabilities",
        description = "Asks only for what the request's client capabilities allow \
                       (elicitation and/or sampling).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_input_required_result_capabilities(
        &self,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Outcome {
        if let Some(responses) = responses.filter(|responses| !responses.is_empty()) {
            let keys: Vec<&str> = responses.keys().map(String::as_str).collect();
            return done(format!("capabilities-ok: received {}", keys.join(",")));
        }
        let capabilities = context.client_capabilities().unwrap_or_default();
        let mut requests = InputRequests::new();
        if capabilities.elicitation.is_some() {
            let request = mrtr::elicit("Elicitation input", "value", "string")?;
            requests.insert("elicit_input".to_owned(), request);
        }
        if capabilities.sampling.is_some() {
            requests.insert(
                "sample_input".to_owned(),
                mrtr::sample("Sample request", 50)?,
            );
        }
        if requests.is_empty() {
            return done("No supported capabilities declared".to_owned());
        }
        Ok(InputRequiredResult::from_input_requests(requests).into())
    }
}

fn ask_color(state: &str) -> Outcome {
    let color = mrtr::elicit("Step 2: What is your favorite color?", "color", "string")?;
    ask([("step2", color)], Some(state.to_owned()))
}

fn confirm_request() -> Result<rmcp::model::InputRequest, ErrorData> {
    mrtr::elicit("Please confirm", "ok", "boolean")
}

fn done(text: String) -> Outcome {
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
}

fn ask<const N: usize>(
    requests: [(&str, rmcp::model::InputRequest); N],
    state: Option<String>,
) -> Outcome {
    let requests: InputRequests = requests
        .into_iter()
        .map(|(key, request)| (key.to_owned(), request))
        .collect();
    Ok(InputRequiredResult::new(Some(requests), state).into())
}
