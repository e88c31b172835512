//! Approval: tools marked `approval = "required"` in `[tools]` — and, by default, tools whose
//! annotations say they are destructive — run only after a human says yes.
//!
//! How the human is asked depends on the caller ([`ApprovalChannel`]):
//! - an [`Approver`] (MCP elicitation in a 2025-11-25 session, or a terminal prompt supplied by
//!   the agent command) is asked directly;
//! - a 2026-07-28 client that declares elicitation gets an `input_required` result carrying the
//!   question and an opaque one-time `requestState`, and retries the call with its answer. When
//!   the approved call's upstream answers `input_required` of its own, its `requestState` is kept
//!   here behind another one-time state of the gateway's, so the rounds that follow go through
//!   without asking the human again and reach the upstream with the upstream's own state;
//! - anyone else waits in the approval queue ([`super::queue`]) for an operator, when the gateway
//!   has one (a client with `admin = true`), with progress notifications while it waits; without
//!   an operator it is refused with a message saying approval is required.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    ClientResult, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    InputRequest, InputRequests, InputRequiredResult, ProgressNotificationParam, ServerRequest,
};
use rmcp::service::{Peer, RoleServer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::Instrument;

use super::audit::Redactor;
use super::queue::{ApprovalQueue, QueuedApproval};
use super::slack::SlackApprovals;
use super::{Layer, Next, Outcome, ToolCall};
use crate::caller::ApprovalChannel;
use crate::catalog::CatalogTool;
use crate::config::{Approval, ToolRule};

/// Whether a call of the exposed tool `name` needs a person's approval: the first `[tools]` rule
/// in `rules` with an `approval` setting decides; without one (or with `auto`), a tool needs it
/// when its annotations say it is destructive ([`CatalogTool::is_destructive`]). `tool` is the
/// catalog's entry, `None` for a tool the catalog does not know.
pub fn needs_approval(rules: &[ToolRule], name: &str, tool: Option<&CatalogTool>) -> bool {
    let rule = rules
        .iter()
        .find(|r| r.approval.is_some() && r.pattern.matches(name))
        .and_then(|r| r.approval);
    match rule.unwrap_or(Approval::Auto) {
        Approval::Required => true,
        Approval::Never => false,
        Approval::Auto => tool.is_some_and(CatalogTool::is_destructive),
    }
}

/// The refusal message of a call of `tool` that an [`Approver`] denied for `reason`.
pub fn denial_message(tool: &str, reason: &str) -> String {
    format!("{tool} was not run: {reason}")
}

/// The reason an [`Approver`] gave, read back from a [`denial_message`] about `tool`.
pub fn denial_reason<'a>(tool: &str, message: &'a str) -> Option<&'a str> {
    message
        .strip_prefix(tool)
        .and_then(|rest| rest.strip_prefix(" was not run: "))
}

/// What a human is asked to approve.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    /// The client asking.
    pub client: String,
    /// The exposed tool name.
    pub tool: String,
    /// The upstream server.
    pub server: String,
    /// The call's arguments.
    pub arguments: serde_json::Value,
}

impl ApprovalRequest {
    /// The question shown to the human.
    pub fn message(&self) -> String {
        let mut args = self.arguments.to_string();
        if args.len() > 2000 {
            let mut cut = 2000;
            while !args.is_char_boundary(cut) {
                cut -= 1;
            }
            args.truncate(cut);
            args.push('…');
        }
        format!(
            "Client {:?} wants to call {} (server {}) with arguments {args}. Approve this call?",
            self.client, self.tool, self.server
        )
    }
}

/// A human's (or a policy's) answer to "may this call run?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run this call.
    Allow,
    /// Run this call, and every later call of the same tool without asking: an approver that
    /// remembers answers (the agent's, for the rest of its run) stops asking; the gateway's
    /// approval layer treats it as [`Decision::Allow`].
    AlwaysAllow,
    /// Do not run it; `reason` is told to the caller.
    Deny {
        /// Why, in words the caller (a person or a model) can act on.
        reason: String,
    },
}

impl Decision {
    /// Whether the call may run.
    pub fn allows(&self) -> bool {
        !matches!(self, Self::Deny { .. })
    }

    fn deny(reason: impl Into<String>) -> Self {
        Self::Deny {
            reason: reason.into(),
        }
    }
}

/// Asks whether a tool call may run. The gateway asks it for the calls its approval layer holds
/// ([`needs_approval`]); implementations ask a person through MCP elicitation
/// ([`ElicitationApprover`]), on a terminal (the `call` and `agent` commands), or not at all
/// (`--yes`).
pub trait Approver: Send + Sync {
    /// The decision about `request`.
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Decision>;
}

/// Asks through MCP elicitation (`elicitation/create`) on a 2025-11-25 session.
pub struct ElicitationApprover {
    peer: Peer<RoleServer>,
    timeout: Duration,
}

impl ElicitationApprover {
    /// Asks the client behind `peer`, waiting at most `timeout` for the human.
    pub fn new(peer: Peer<RoleServer>, timeout: Duration) -> Self {
        Self { peer, timeout }
    }
}

fn approval_schema() -> rmcp::model::ElicitationSchema {
    // `build` only rejects required fields without a property, which this one has.
    rmcp::model::ElicitationSchema::builder()
        .required_bool("approve")
        .build_unchecked()
}

fn elicit_params(request: &ApprovalRequest) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: request.message(),
        requested_schema: approval_schema(),
    }
}

fn decide(result: &ElicitResult) -> Decision {
    let approved = result.action == ElicitationAction::Accept
        && result
            .content
            .as_ref()
            .and_then(|c| c.get("approve"))
            .and_then(serde_json::Value::as_bool)
            == Some(true);
    if approved {
        Decision::Allow
    } else {
        Decision::deny("the call was not approved")
    }
}

impl Approver for ElicitationApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            let ask = self
                .peer
                .send_request(ServerRequest::ElicitRequest(ElicitRequest::new(
                    elicit_params(request),
                )));
            match tokio::time::timeout(self.timeout, ask).await {
                Ok(Ok(ClientResult::ElicitResult(result))) => decide(&result),
                Ok(Ok(_)) => Decision::deny("the client sent an unexpected answer"),
                Ok(Err(e)) => Decision::deny(format!("the approval request failed: {e}")),
                Err(_) => Decision::deny(format!(
                    "no answer to the approval request within {}s",
                    self.timeout.as_secs()
                )),
            }
        })
    }
}

/// A pending 2026-07-28 approval round: whose, for which call, and where it stands.
#[derive(Serialize, Deserialize)]
struct Pending {
    client: String,
    tool: String,
    digest: String,
    stage: Stage,
}

/// Where a pending 2026-07-28 approval stands.
#[derive(Serialize, Deserialize)]
enum Stage {
    /// The human was asked; the retry must carry the answer.
    Asked,
    /// The human approved and the upstream asked for input of its own; the retry carries the
    /// upstream's answers, and its `requestState` is restored.
    Approved { upstream_state: Option<String> },
}

/// The approval layer.
pub(crate) struct ApprovalLayer {
    rules: Vec<ToolRule>,
    /// Where calls from clients that cannot be asked wait for an operator, when there is one.
    queue: Option<Operators>,
    /// Shared with the layers of later configurations (after a reload), so an approval asked
    /// for under one is answered under the next.
    pending: Arc<Mutex<HashMap<String, (Pending, Instant)>>>,
    /// Where the rounds live when replicas share them (`[state] store`): a round may come back
    /// through any replica, and is taken once, whichever.
    store: Option<Arc<super::queue_store::QueueStore>>,
    /// Approval requests sent to a person through the caller's approver, not answered yet.
    asking: Arc<AtomicUsize>,
}

/// How calls reach operators: the queue, the redaction its entries are shown with, and Slack
/// when requests are posted there too.
struct Operators {
    queue: Arc<ApprovalQueue>,
    redactor: Redactor,
    slack: Option<Arc<SlackApprovals>>,
}

const INPUT_KEY: &str = "approval";
const PENDING_TTL: Duration = Duration::from_secs(600);
/// How often a call waiting in the queue tells its client (when it asked for progress).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl ApprovalLayer {
    pub(crate) fn new(rules: Vec<ToolRule>) -> Self {
        Self {
            rules,
            queue: None,
            pending: Arc::default(),
            store: None,
            asking: Arc::default(),
        }
    }

    /// The layer keeping its rounds in `store`, shared with the other replicas.
    pub(crate) fn with_store(mut self, store: Option<Arc<super::queue_store::QueueStore>>) -> Self {
        self.store = store;
        self
    }

    /// The layer of a reloaded configuration: its `rules`, and the approvals this one has in
    /// progress.
    pub(crate) fn successor(&self, rules: Vec<ToolRule>) -> Self {
        Self {
            rules,
            queue: None,
            pending: self.pending.clone(),
            store: self.store.clone(),
            asking: self.asking.clone(),
        }
    }

    /// The layer with the gateway's approval queue: calls from clients that cannot be asked
    /// wait up to `timeout` for an operator; the queue shows their arguments through
    /// `redactor`, and posts them to `slack` when given.
    pub(crate) fn with_queue(
        mut self,
        queue: Arc<ApprovalQueue>,
        timeout: Duration,
        redactor: Redactor,
        slack: Option<Arc<SlackApprovals>>,
    ) -> Self {
        queue.set_timeout(timeout);
        self.queue = Some(Operators {
            queue,
            redactor,
            slack,
        });
        self
    }

    /// The approval queue, when the gateway has one.
    pub(crate) fn queue(&self) -> Option<&ApprovalQueue> {
        self.queue.as_ref().map(|o| o.queue.as_ref())
    }

    /// Where waiting calls are posted in Slack, when they are.
    pub(crate) fn slack(&self) -> Option<&Arc<SlackApprovals>> {
        self.queue.as_ref().and_then(|o| o.slack.as_ref())
    }

    /// Approval requests waiting for a person: asked through an approver, or sent to a
    /// 2026-07-28 client as `input_required` and not yet answered (nor expired).
    pub(crate) fn waiting(&self) -> usize {
        let now = Instant::now();
        let sent = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|(p, expires)| *expires > now && matches!(p.stage, Stage::Asked))
            .count();
        sent + self.asking.load(Ordering::Relaxed) + self.queue().map_or(0, ApprovalQueue::len)
    }

    /// Waits for an operator's answer to `call` in the queue; the call's audit record keeps it.
    async fn wait_for_operator(
        &self,
        Operators {
            queue,
            redactor,
            slack,
        }: &Operators,
        call: &ToolCall,
    ) -> Result<(), Outcome> {
        let shown = QueuedApproval {
            id: String::new(),
            client: call.caller.describe(),
            user: call.caller.user.as_ref().map(|p| p.subject.clone()),
            tool: call.exposed.clone(),
            server: call.server().unwrap_or_default().to_owned(),
            arguments: redactor.redact(&call.exposed, &Value::Object(call.arguments.clone())),
            asked_at: String::new(),
            expires_in_s: 0,
        };
        let total = queue.timeout().as_secs_f64();
        let relay = call.relay.clone();
        let waiting = queue.wait(shown, slack.as_ref(), PROGRESS_EVERY, |waited, id| {
            let relay = relay.clone();
            let message = format!(
                "waiting for an operator to approve {} (switchboard approvals approve {id})",
                call.exposed
            );
            async move {
                if let Some(relay) = relay
                    && let Some(token) = relay.progress_token.clone()
                {
                    let _ = relay
                        .peer
                        .notify_progress(
                            ProgressNotificationParam::new(token, waited.as_secs_f64())
                                .with_total(total)
                                .with_message(message),
                        )
                        .await;
                }
            }
        });
        // A caller that gives up withdraws its call from the queue (dropping the wait does).
        let note = tokio::select! {
            note = waiting => note,
            () = call.cancelled.cancelled() => {
                return Err(Outcome::refused(
                    "approval",
                    format!(
                        "{} was withdrawn while it waited for an operator: the caller cancelled it",
                        call.exposed
                    ),
                ));
            }
        };
        let _ = call.decided.set(note.clone());
        match note.decision.as_str() {
            "approved" => Ok(()),
            "denied" => Err(Outcome::refused(
                "approval",
                denial_message(
                    &call.exposed,
                    &format!(
                        "denied by {}{}",
                        note.by.as_deref().unwrap_or("an operator"),
                        note.reason.map(|r| format!(": {r}")).unwrap_or_default()
                    ),
                ),
            )),
            _ => Err(Outcome::refused(
                "approval",
                format!(
                    "{} requires approval by a person, and no operator approved it within {}s; \
                     call it again to ask anew",
                    call.exposed,
                    queue.timeout().as_secs()
                ),
            )),
        }
    }

    /// Asks `approver`, counted in [`Self::waiting`] until it answers.
    async fn ask_approver(&self, approver: &dyn Approver, request: &ApprovalRequest) -> Decision {
        struct Asking<'a>(&'a AtomicUsize);
        impl Drop for Asking<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.asking.fetch_add(1, Ordering::Relaxed);
        let _asking = Asking(&self.asking);
        approver.approve(request).await
    }

    fn required(&self, call: &ToolCall) -> bool {
        needs_approval(&self.rules, &call.exposed, call.tool.as_deref())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Pending, Instant)>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The 2026-07-28 round trip: first call → `input_required`; retry → check the answer. On
    /// `Ok` the call is ready for the upstream: the gateway's own state and answer are taken out
    /// of it, and an upstream state kept from an earlier round is put back.
    async fn admit(&self, call: &mut ToolCall, request: &ApprovalRequest) -> Result<(), Outcome> {
        let digest = digest(call);
        if call.request_state.is_none() {
            return Err(self.ask(call, request, digest).await);
        }
        match self.take(call, &digest).await {
            None => Err(Outcome::refused(
                "approval",
                "the approval is unknown, expired, or for a different call; call the tool again \
                 without requestState to be asked anew",
            )),
            Some(Stage::Approved { upstream_state }) => {
                call.request_state = upstream_state;
                Ok(())
            }
            Some(Stage::Asked) => {
                let answer = call
                    .input_responses
                    .as_mut()
                    .and_then(|r| r.remove(INPUT_KEY))
                    .and_then(|v| serde_json::from_value::<ElicitResult>(v).ok());
                call.request_state = None;
                if call.input_responses.as_ref().is_some_and(|r| r.is_empty()) {
                    call.input_responses = None;
                }
                match answer.map(|a| decide(&a)) {
                    Some(Decision::Allow | Decision::AlwaysAllow) => Ok(()),
                    Some(Decision::Deny { reason }) => Err(Outcome::refused("approval", reason)),
                    None => Err(Outcome::refused(
                        "approval",
                        "the retry carried no answer to the approval request",
                    )),
                }
            }
        }
    }

    /// Whether `call` carries the state of a round approved already; if so, the upstream's own
    /// state is put back in its place.
    async fn resume(&self, call: &mut ToolCall) -> bool {
        if call.request_state.is_none() {
            return false;
        }
        match self.take(call, &digest(call)).await {
            Some(Stage::Approved { upstream_state }) => {
                call.request_state = upstream_state;
                true
            }
            _ => false,
        }
    }

    /// The pending approval `call`'s `requestState` names, if it is this caller's, for this very
    /// call and not expired. A state is good for one round: it is forgotten either way.
    async fn take(&self, call: &ToolCall, digest: &str) -> Option<Stage> {
        let state = call.request_state.as_ref()?;
        let shared = match &self.store {
            Some(store) => match store.take_round(state).await {
                Ok(json) => json.and_then(|j| serde_json::from_str::<Pending>(&j).ok()),
                Err(error) => {
                    tracing::warn!(target: "switchboard::approvals", %error, "the shared store did not answer; looking for the approval round here only");
                    None
                }
            },
            None => None,
        };
        // Rounds asked while the store was down (or without one) are kept here.
        let local = self
            .lock()
            .remove(state)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(p, _)| p);
        let pending = shared.or(local);
        pending
            .filter(|p| {
                p.client == call.caller.principal() && p.tool == call.exposed && p.digest == digest
            })
            .map(|p| p.stage)
    }

    /// Remembers a pending approval for the caller's next round and returns its state.
    async fn remember(&self, call: &ToolCall, digest: String, stage: Stage) -> String {
        let state = uuid::Uuid::new_v4().to_string();
        let pending = Pending {
            client: call.caller.principal(),
            tool: call.exposed.clone(),
            digest,
            stage,
        };
        if let Some(store) = &self.store {
            let json = serde_json::to_string(&pending).unwrap_or_default();
            match store.put_round(&state, &json, PENDING_TTL).await {
                Ok(()) => return state,
                Err(error) => tracing::warn!(
                    target: "switchboard::approvals",
                    %error, "the shared store did not answer; this round can only come back here"
                ),
            }
        }
        let now = Instant::now();
        let mut rounds = self.lock();
        rounds.retain(|_, (_, expires)| *expires > now);
        rounds.insert(state.clone(), (pending, now + PENDING_TTL));
        state
    }

    /// The first round: `input_required` asking the human.
    async fn ask(&self, call: &ToolCall, request: &ApprovalRequest, digest: String) -> Outcome {
        let state = self.remember(call, digest, Stage::Asked).await;
        let mut requests = InputRequests::new();
        requests.insert(
            INPUT_KEY.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(elicit_params(request))),
        );
        Outcome::InputRequired(Box::new(InputRequiredResult::new(
            Some(requests),
            Some(state),
        )))
    }

    /// An approved call's outcome; when its upstream asks for input, the upstream's state goes
    /// behind one of the gateway's, so the next round is known to be approved.
    async fn carry(&self, call: &ToolCall, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::InputRequired(mut result) => {
                let stage = Stage::Approved {
                    upstream_state: result.request_state.take(),
                };
                result.request_state = Some(self.remember(call, digest(call), stage).await);
                Outcome::InputRequired(result)
            }
            other => other,
        }
    }
}

fn digest(call: &ToolCall) -> String {
    let mut hasher = Sha256::new();
    hasher.update(call.exposed.as_bytes());
    hasher.update(
        serde_json::Value::Object(call.arguments.clone())
            .to_string()
            .as_bytes(),
    );
    hex::encode(hasher.finalize())
}

/// The approval stage's own span, a child of the call's, when traces are exported: how the call
/// waited for a person (`channel`) and, once known, what was decided. None otherwise.
fn stage_span(channel: &'static str) -> tracing::Span {
    if !switchboard_telemetry::enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        target: switchboard_telemetry::EXPORTED_ONLY,
        "approval",
        otel.name = "approval",
        switchboard.approval.channel = channel,
    )
}

/// Records on `span` (from [`stage_span`]) what the person decided.
fn decided(span: &tracing::Span, decision: &str) {
    if switchboard_telemetry::enabled() {
        switchboard_telemetry::attribute(
            span,
            "switchboard.approval.decision",
            decision.to_owned(),
        );
    }
}

impl Layer for ApprovalLayer {
    fn call<'a>(&'a self, mut call: ToolCall, next: Next<'a>) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            if !self.required(&call) {
                return next.run(call).await;
            }
            let request = ApprovalRequest {
                client: call.caller.describe(),
                tool: call.exposed.clone(),
                server: call.server().unwrap_or_default().to_owned(),
                arguments: serde_json::Value::Object(call.arguments.clone()),
            };
            match call.caller.approval.clone() {
                ApprovalChannel::Approver(approver) => {
                    let span = stage_span("client");
                    // A later round of a call approved already (its upstream asked for input,
                    // and the gateway answers for a client that cannot) is not asked again.
                    if !self.resume(&mut call).instrument(span.clone()).await
                        && let Decision::Deny { reason } = self
                            .ask_approver(&*approver, &request)
                            .instrument(span.clone())
                            .await
                    {
                        decided(&span, "denied");
                        return Outcome::refused(
                            "approval",
                            denial_message(&call.exposed, &reason),
                        );
                    }
                    decided(&span, "approved");
                    drop(span);
                    let outcome = next.run(call.clone()).await;
                    self.carry(&call, outcome).await
                }
                ApprovalChannel::InputRequired => {
                    let span = stage_span("input_required");
                    let admitted = self
                        .admit(&mut call, &request)
                        .instrument(span.clone())
                        .await;
                    // Not approved yet: the client is asked (an `input_required` result), or
                    // its answer refused the call.
                    decided(
                        &span,
                        match &admitted {
                            Ok(()) => "approved",
                            Err(Outcome::Refused { .. }) => "denied",
                            Err(_) => "asked",
                        },
                    );
                    drop(span);
                    match admitted {
                        Ok(()) => {
                            let outcome = next.run(call.clone()).await;
                            self.carry(&call, outcome).await
                        }
                        Err(outcome) => outcome,
                    }
                }
                ApprovalChannel::None => match &self.queue {
                    Some(operators) => {
                        let span = stage_span("operators");
                        let waited = self
                            .wait_for_operator(operators, &call)
                            .instrument(span.clone())
                            .await;
                        if let Some(note) = call.decided.get() {
                            decided(&span, &note.decision);
                        }
                        drop(span);
                        match waited {
                            Ok(()) => next.run(call).await,
                            Err(refused) => refused,
                        }
                    }
                    None => Outcome::refused(
                        "approval",
                        format!(
                            "{} requires approval by a person, and this client cannot be asked \
                             (it does not support elicitation); ask an operator to run it",
                            call.exposed
                        ),
                    ),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::future::BoxFuture;

    use super::{
        ApprovalLayer, ApprovalRequest, Approver, Decision, denial_message, denial_reason,
    };

    /// Answers when told to.
    struct Person(Arc<tokio::sync::Notify>);

    impl Approver for Person {
        fn approve<'a>(&'a self, _request: &'a ApprovalRequest) -> BoxFuture<'a, Decision> {
            Box::pin(async move {
                self.0.notified().await;
                Decision::Allow
            })
        }
    }

    #[tokio::test]
    async fn a_request_is_counted_as_waiting_until_the_person_answers() {
        let layer = Arc::new(ApprovalLayer::new(Vec::new()));
        let answer = Arc::new(tokio::sync::Notify::new());
        let person = Person(answer.clone());
        let request = ApprovalRequest {
            client: "c".into(),
            tool: "t".into(),
            server: "s".into(),
            arguments: serde_json::json!({}),
        };
        assert_eq!(layer.waiting(), 0);
        let asking = {
            let layer = layer.clone();
            tokio::spawn(async move { layer.ask_approver(&person, &request).await })
        };
        while layer.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(layer.waiting(), 1);
        answer.notify_one();
        assert!(matches!(asking.await.unwrap(), Decision::Allow));
        assert_eq!(layer.waiting(), 0);
    }

    #[test]
    fn a_denial_reason_is_read_back_from_its_message() {
        let message = denial_message("jira__create_issue", "the user declined: not now");
        assert_eq!(
            denial_reason("jira__create_issue", &message),
            Some("the user declined: not now")
        );
        assert_eq!(denial_reason("jira__create", &message), None);
        assert_eq!(
            denial_reason("db__query", "db__query requires approval by a person"),
            None
        );
    }
}
