//! Who is calling: the identity that travels with every request through the pipeline (client
//! id, session, the tools it may see) and, optionally, how to ask its human for approval.

use std::sync::Arc;

use crate::config::ToolSearch;
use crate::policy::approval::Approver;

/// The tools a client may see and call: exposed-name globs.
#[derive(Debug, Clone)]
pub struct Access {
    allow: Vec<glob::Pattern>,
    deny: Vec<glob::Pattern>,
}

impl Access {
    /// Everything.
    pub fn all() -> Self {
        Self {
            allow: vec![glob::Pattern::new("*").unwrap_or_default()],
            deny: Vec::new(),
        }
    }

    /// Nothing (an unknown client when clients are configured).
    pub fn none() -> Self {
        Self {
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// `allow` minus `deny`.
    pub fn new(allow: Vec<glob::Pattern>, deny: Vec<glob::Pattern>) -> Self {
        Self { allow, deny }
    }

    /// Whether the exposed tool `name` is visible and callable.
    pub fn permits(&self, name: &str) -> bool {
        self.allow.iter().any(|p| p.matches(name)) && !self.deny.iter().any(|p| p.matches(name))
    }

    /// The allow patterns, as written (the client's scopes, for the audit log).
    pub fn scopes(&self) -> Vec<String> {
        self.allow.iter().map(|p| p.as_str().to_owned()).collect()
    }
}

/// How approval can be obtained for this caller's calls.
#[derive(Clone, Default)]
pub enum ApprovalChannel {
    /// No way to ask: calls that need approval are refused.
    #[default]
    None,
    /// Ask with the given approver (MCP elicitation in a session, a terminal prompt, …).
    Approver(Arc<dyn Approver>),
    /// Ask with an `input_required` result (2026-07-28 stateless clients that declare
    /// elicitation): the client answers by retrying the call with `inputResponses`.
    InputRequired,
}

impl std::fmt::Debug for ApprovalChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Approver(_) => "Approver",
            Self::InputRequired => "InputRequired",
        })
    }
}

/// The caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client id (a `[clients]` name, `local` or `anonymous`).
    pub client: String,
    /// The person, when the client was picked by a person's token (`[auth]`).
    pub user: Option<Arc<crate::auth::Person>>,
    /// The session (MCP session id, connection id, or a caller-chosen id).
    pub session: String,
    /// What it may see and call.
    pub access: Arc<Access>,
    /// How to ask for approval.
    pub approval: ApprovalChannel,
    /// Whether its `tools/list` offers the search meta tools instead of every tool.
    pub tool_search: ToolSearch,
    /// The virtual endpoint it came through, whose view of the catalog it gets.
    pub endpoint: Option<Arc<crate::endpoints::Endpoint>>,
}

impl Caller {
    /// A caller with the given identity and access, without an approval channel.
    pub fn new(client: impl Into<String>, session: impl Into<String>, access: Arc<Access>) -> Self {
        Self {
            client: client.into(),
            user: None,
            session: session.into(),
            access,
            approval: ApprovalChannel::None,
            tool_search: ToolSearch::Off,
            endpoint: None,
        }
    }

    /// Who owns what this caller opens (sessions): the client, or for a person's token the
    /// client and the person, so people sharing a client never share sessions.
    pub fn principal(&self) -> String {
        match &self.user {
            Some(person) => format!("{}:{}@{}", self.client, person.subject, person.issuer),
            None => self.client.clone(),
        }
    }

    /// The caller for people to read: the client, and the person's name when there is one.
    pub fn describe(&self) -> String {
        match &self.user {
            Some(person) => format!(
                "{} ({})",
                self.client,
                person.name.as_deref().unwrap_or(&person.subject)
            ),
            None => self.client.clone(),
        }
    }

    /// The same caller, asking `approver` when a call needs approval.
    pub fn with_approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approval = ApprovalChannel::Approver(approver);
        self
    }
}
