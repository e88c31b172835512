//! The fixture's prompts: a simple one, one with two required arguments, one embedding a
//! resource, one with an image, and (for 2026-07-28 peers) one that first asks the client for
//! input through an `InputRequiredResult`.

use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{
    ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, InputRequests,
    InputRequiredResult, ListPromptsResult, Prompt, PromptArgument, PromptMessage,
    ResourceContents, Role,
};
use rmcp::service::RequestContext;
use serde_json::{Map, Value};

use crate::data::PNG_BASE64;
use crate::mrtr;

const SIMPLE: &str = "test_simple_prompt";
const WITH_ARGUMENTS: &str = "test_prompt_with_arguments";
const WITH_RESOURCE: &str = "test_prompt_with_embedded_resource";
const WITH_IMAGE: &str = "test_prompt_with_image";
const INPUT_REQUIRED: &str = "test_input_required_result_prompt";

/// `prompts/list`; the input-requiring prompt only for peers that can answer it.
pub(crate) fn list(input_required: bool) -> ListPromptsResult {
    let argument = |name: &str, description: &str| {
        PromptArgument::new(name)
            .with_description(description)
            .with_required(true)
    };
    let mut prompts = vec![
        Prompt::new(SIMPLE, Some("A simple prompt without arguments"), None)
            .with_title("Simple Test Prompt"),
        Prompt::new(
            WITH_ARGUMENTS,
            Some("A prompt with two required arguments"),
            Some(vec![
                argument("arg1", "First test argument"),
                argument("arg2", "Second test argument"),
            ]),
        )
        .with_title("Prompt With Arguments"),
        Prompt::new(
            WITH_RESOURCE,
            Some("A prompt that embeds a resource"),
            Some(vec![argument(
                "resourceUri",
                "URI of the resource to embed",
            )]),
        )
        .with_title("Prompt With Embedded Resource"),
        Prompt::new(WITH_IMAGE, Some("A prompt that includes an image"), None)
            .with_title("Prompt With Image"),
    ];
    if input_required {
        prompts.push(
            Prompt::new(
                INPUT_REQUIRED,
                Some("A prompt that first asks the client for context (multi round-trip)"),
                None,
            )
            .with_title("Prompt Requiring Input"),
        );
    }
    ListPromptsResult::with_all_items(prompts)
}

/// `prompts/get`.
///
/// # Errors
/// -32602 for an unknown prompt, a missing argument or a tampered `requestState`.
pub(crate) fn get(
    request: GetPromptRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<GetPromptResponse, ErrorData> {
    let arguments = request.arguments.unwrap_or_default();
    let user = |content: ContentBlock| PromptMessage::new(Role::User, content);
    let messages = match request.name.as_str() {
        SIMPLE => vec![user(ContentBlock::text(
            "This is a simple prompt for testing.",
        ))],
        WITH_ARGUMENTS => {
            let arg1 = required(&arguments, "arg1")?;
            let arg2 = required(&arguments, "arg2")?;
            vec![user(ContentBlock::text(format!(
                "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
            )))]
        }
        WITH_RESOURCE => {
            let uri = required(&arguments, "resourceUri")?;
            let resource = ResourceContents::text("Embedded resource content for testing.", uri)
                .with_mime_type("text/plain");
            vec![
                user(ContentBlock::resource(resource)),
                user(ContentBlock::text(
                    "Please process the embedded resource above.",
                )),
            ]
        }
        WITH_IMAGE => vec![
            user(ContentBlock::image(PNG_BASE64, "image/png")),
            user(ContentBlock::text("Please analyze the image above.")),
        ],
        INPUT_REQUIRED if crate::server::stateless_era(context) => {
            let responses = request.input_responses.as_ref();
            match mrtr::elicited_text(responses, "user_context", "context") {
                Some(text) => vec![user(ContentBlock::text(format!(
                    "Prompt with context: {text}"
                )))],
                None => {
                    let mut requests = InputRequests::new();
                    requests.insert(
                        "user_context".to_owned(),
                        mrtr::elicit("What context should the prompt use?", "context", "string")?,
                    );
                    return Ok(InputRequiredResult::from_input_requests(requests).into());
                }
            }
        }
        other => {
            return Err(ErrorData::invalid_params(
                format!("no prompt named {other}: list them with prompts/list"),
                None,
            ));
        }
    };
    Ok(GetPromptResult::new(messages).into())
}

fn required<'a>(arguments: &'a Map<String, Value>, name: &str) -> Result<&'a str, ErrorData> {
    arguments.get(name).and_then(Value::as_str).ok_or_else(|| {
        ErrorData::invalid_params(format!("argument {name} (a string) is required"), None)
    })
}
