//! Tools for the Tasks extension scenarios (`tasks-*`, SEP-2663, 2026-07-28), named as the suite
//! requires. The server alone decides whether a call becomes a task: these tools do whenever the
//! request declares `io.modelcontextprotocol/tasks` in its per-request client capabilities
//! (2026-07-28 only; a 2025-11-25 session never gets a task), and otherwise either run inline or,
//! when they cannot, refuse with -32021 naming the extension.
//!
//! | tool                  | task support | without the extension                      |
//! |-----------------------|--------------|--------------------------------------------|
//! | `greet`               | never        | `Hello, {name}!`                           |
//! | `slow_compute`        | optional     | sleeps `seconds`, then answers inline      |
//! | `protocol_error_job`  | optional     | -32603 (as a task: `failed` + `error`)     |
//! | `confirm_delete`      | optional     | asks through an `InputRequiredResult`      |
//! | `multi_input`         | optional     | asks both questions the same way           |
//! | `failing_job`         | required     | -32021                                     |
//! | `test_tool_with_task` | required     | -32021                                     |
//!
//! As tasks, `confirm_delete` and `multi_input` ask mid-task (`input_required` on `tasks/get`,
//! answered by `tasks/update`); `test_tool_with_task` asks first through a multi round-trip
//! (`InputRequiredResult` with a sealed `requestState`) and only the final round creates the
//! task, whose result carries the answer. (A 2025-11-25 session cannot be asked either way: rmcp
//! turns an `InputRequiredResult` for it into -32600.)

use std::time::Duration;

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, CreateTaskResult,
    InputRequests, InputRequiredResult,
};
use rmcp::service::RequestContext;
use rmcp::task_manager::TaskExit;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::mrtr::{self, Progress};
use crate::server::{Fixture, stateless_era};
use crate::tasks::TaskInput;

const WITH_TASK: &str = "test_tool_with_task";
/// Longest `slow_compute` run: well inside a task's ttl.
const MAX_SECONDS: f64 = 120.0;

type Outcome = Result<CallToolResponse, ErrorData>;
type TaskOutcome = Result<CallToolResult, TaskExit>;

/// Arguments of `greet`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct GreetArgs {
    /// Who to greet.
    name: String,
}

/// Arguments of `slow_compute`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SlowComputeArgs {
    /// How long to work, in seconds (0 to 120).
    seconds: f64,
    /// A label echoed in the result.
    #[serde(default)]
    label: Option<String>,
}

/// Arguments of `confirm_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ConfirmDeleteArgs {
    /// The file to delete (nothing is deleted: the fixture only pretends).
    filename: String,
}

#[tool_router(router = tasks_router, vis = "pub(crate)")]
impl Fixture {
    #[tool(
        name = "greet",
        description = "Greets `name`. Always answers inline, never as a task.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn greet(&self, Parameters(args): Parameters<GreetArgs>) -> CallToolResult {
        text(format!("Hello, {}!", args.name))
    }

    #[tool(
        name = "slow_compute",
        description = "Works for `seconds` seconds, then reports it. A task when the request \
                       declares the tasks extension (cancellable), inline otherwise.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn slow_compute(
        &self,
        Parameters(args): Parameters<SlowComputeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Outcome {
        if !args.seconds.is_finite() || !(0.0..=MAX_SECONDS).contains(&args.seconds) {
            return Err(ErrorData::invalid_params(
                format!(
                    "seconds must be between 0 and {MAX_SECONDS}; got {}",
                    args.seconds
                ),
                None,
            ));
        }
        let label = args.label.unwrap_or_else(|| "unlabelled".to_owned());
        let seconds = args.seconds;
        let work = async move {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            Ok(text(format!("Computed {label} in {seconds} s")))
        };
        if tasks_declared(&context) {
            return self.start_task(|_| work);
        }
        inline(work.await)
    }

    #[tool(
        name = "protocol_error_job",
        description = "Fails with an internal error (-32603), as a crashed job would: a task \
                       then reads `failed` with the error inlined.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn protocol_error_job(&self, context: RequestContext<RoleServer>) -> Outcome {
        let work = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Err(TaskExit::Error(ErrorData::internal_error(
                "protocol_error_job crashed (a simulated internal failure)",
                None,
            )))
        };
        if tasks_declared(&context) {
            return self.start_task(|_| work);
        }
        inline(work.await)
    }

    #[tool(
        name = "failing_job",
        description = "Needs the tasks extension (-32021 without it). Its task completes after \
                       about a second with a tool error (`isError`), not as `failed`.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn failing_job(&self, context: RequestContext<RoleServer>) -> Outcome {
        if !tasks_declared(&context) {
            return Err(tasks_required());
        }
        self.start_task(|_| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(CallToolResult::error(vec![ContentBlock::text(
                "failing_job failed: the job rejected its input",
            )]))
        })
    }

    #[tool(
        name = "confirm_delete",
        description = "Asks the user to confirm deleting `filename` (elicitation), then reports \
                       the decision. As a task the question appears on tasks/get; otherwise \
                       through an InputRequiredResult.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = false
        )
    )]
    async fn confirm_delete(
        &self,
        Parameters(args): Parameters<ConfirmDeleteArgs>,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Outcome {
        let filename = args.filename;
        let question = mrtr::elicit(&format!("Delete {filename}?"), "confirm", "boolean")?;
        let questions = InputRequests::from([("confirm".to_owned(), question)]);
        if tasks_declared(&context) {
            return self.start_task(move |input| async move {
                let answers = input.ask(questions).await?;
                Ok(deletion(&filename, Some(&answers)))
            });
        }
        if mrtr::answer(responses.as_ref(), "confirm").is_some() {
            return Ok(deletion(&filename, responses.as_ref()).into());
        }
        Ok(InputRequiredResult::from_input_requests(questions).into())
    }

    #[tool(
        name = "multi_input",
        description = "Asks two questions at once (a name and a confirmation), then reports both \
                       answers. As a task both wait on tasks/get until each is answered.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn multi_input(
        &self,
        InputResponses(responses): InputResponses,
        context: RequestContext<RoleServer>,
    ) -> Outcome {
        let questions = InputRequests::from([
            (
                "name".to_owned(),
                mrtr::elicit("What is your name?", "name", "string")?,
            ),
            (
                "confirm".to_owned(),
                mrtr::elicit("Shall I go on?", "confirm", "boolean")?,
            ),
        ]);
        if tasks_declared(&context) {
            return self.start_task(move |input| async move {
                let answers = input.ask(questions).await?;
                Ok(both_answers(&answers))
            });
        }
        match responses {
            Some(answers)
                if questions
                    .keys()
                    .all(|key| mrtr::answer(Some(&answers), key).is_some()) =>
            {
                Ok(both_answers(&answers).into())
            }
            _ => Ok(InputRequiredResult::from_input_requests(questions).into()),
        }
    }

    #[tool(
        name = "test_tool_with_task",
        description = "Needs the tasks extension (-32021 without it). Asks the user's name \
                       through an InputRequiredResult, then escalates to a task whose result \
                       greets them.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn test_tool_with_task(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
        context: RequestContext<RoleServer>,
    ) -> Outcome {
        if !tasks_declared(&context) {
            return Err(tasks_required());
        }
        let codec = &self.shared.codec;
        let progress = mrtr::open_optional(codec, WITH_TASK, state.as_deref())?;
        let name = mrtr::elicited_text(responses.as_ref(), "user_name", "name");
        if let (Some(_), Some(name)) = (progress, name) {
            return self.start_task(move |_| async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                Ok(text(format!("Hello, {name}! (finished in a task)")))
            });
        }
        let state = mrtr::seal(codec, WITH_TASK, &Progress::new("task-escalation", 1))?;
        let question = mrtr::elicit("What is your name?", "name", "string")?;
        let questions = InputRequests::from([("user_name".to_owned(), question)]);
        Ok(InputRequiredResult::new(Some(questions), Some(state)).into())
    }
}

impl Fixture {
    /// Runs `operation` as a new task and answers with its `CreateTaskResult`.
    fn start_task<F, Fut>(&self, operation: F) -> Outcome
    where
        F: FnOnce(TaskInput) -> Fut,
        Fut: Future<Output = TaskOutcome> + Send + 'static,
    {
        let task = self.shared.tasks.create(operation)?;
        Ok(CreateTaskResult::new(task).into())
    }
}

/// Whether this call may become a task: a 2026-07-28 request whose per-request capabilities
/// declare the tasks extension (SEP-2663: never a `CreateTaskResult` to anyone else).
fn tasks_declared(context: &RequestContext<RoleServer>) -> bool {
    stateless_era(context)
        && context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks())
}

/// -32021 naming the tasks extension, for a tool that only runs as a task.
fn tasks_required() -> ErrorData {
    ErrorData::missing_required_client_capability(
        ClientCapabilities::builder().enable_tasks().build(),
    )
}

/// A task operation's outcome as an inline answer.
fn inline(outcome: TaskOutcome) -> Outcome {
    match outcome {
        Ok(result) => Ok(result.into()),
        Err(TaskExit::Error(error)) => Err(error),
        Err(TaskExit::Cancelled) => Err(ErrorData::internal_error("cancelled", None)),
    }
}

fn deletion(filename: &str, answers: Option<&rmcp::model::InputResponses>) -> CallToolResult {
    if mrtr::elicited_bool(answers, "confirm", "confirm") == Some(true) {
        text(format!("Deleted {filename}"))
    } else {
        text(format!("Kept {filename}: the deletion was not confirmed"))
    }
}

fn both_answers(answers: &rmcp::model::InputResponses) -> CallToolResult {
    let name = mrtr::elicited_text(Some(answers), "name", "name");
    let confirmed = mrtr::elicited_bool(Some(answers), "confirm", "confirm") == Some(true);
    text(format!(
        "Name: {}; confirmed: {}",
        name.as_deref().unwrap_or("(declined)"),
        if confirmed { "yes" } else { "no" }
    ))
}

fn text(message: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(message)])
}
