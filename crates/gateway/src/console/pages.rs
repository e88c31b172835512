//! The console's markup. Every value is escaped by `maud`; ids and classes are what the console's
//! script and its browser test rely on.

use std::sync::Arc;

use maud::{DOCTYPE, Markup, html};

use super::AuditView;
use crate::Health;
use crate::audit::AuditRecord;
use crate::catalog::CatalogTool;
use crate::gateway::UpstreamStatus;
use crate::policy::queue::QueuedApproval;

const NAV: [(&str, &str); 5] = [
    ("/ui", "Upstreams"),
    ("/ui/catalog", "Catalog"),
    ("/ui/calls", "Live calls"),
    ("/ui/audit", "Audit"),
    ("/ui/approvals", "Approvals"),
];

/// A whole page: `who` is the operator signed in (name, CSRF token, approvals waiting), `None`
/// on the sign-in page.
pub(super) fn layout(title: &str, who: Option<(&str, &str, usize)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Switchboard · " (title) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/ui/assets/console.css";
                script src="/ui/assets/console.js" defer {}
            }
            body {
                header {
                    span.brand { "Switchboard" }
                    @if let Some((operator, csrf, pending)) = who {
                        nav {
                            @for (href, label) in NAV {
                                a href=(href) class=[(label == title).then_some("current")] {
                                    (label)
                                    @if href == "/ui/approvals" && pending > 0 {
                                        " " span.badge #pending-count { (pending) }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/ui/logout" {
                            span.who { (operator) }
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub(super) fn login(error: Option<&str>) -> Markup {
    html! {
        form #login method="post" action="/ui/login" {
            p { "Sign in with an operator's token: a client with " code { "admin = true" } ", or your own access token where people's tokens map to one." }
            @if let Some(error) = error {
                p.error #login-error { (error) }
            }
            label for="token" { "Token" }
            input #token type="password" name="token" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
    }
}

fn health(health: &Health) -> (&'static str, String) {
    let class = match health {
        Health::Ready { .. } => "ok",
        Health::Idle | Health::Starting => "idle",
        Health::Backoff { .. } | Health::CircuitOpen { .. } | Health::Stopped => "down",
    };
    (class, crate::format_health(health))
}

pub(super) fn upstreams(status: &[UpstreamStatus]) -> Markup {
    html! {
        table #upstreams {
            thead { tr { th { "Upstream" } th { "Health" } th { "PID" } th { "Restarts" } th { "Circuit" } th { "Tools" } th { "Required" } } }
            tbody {
                @for s in status {
                    @let (class, text) = health(&s.health);
                    tr data-upstream=(s.name) {
                        td.name { (s.name) }
                        td class={ "health " (class) } { (text) }
                        td.pid { @if let Health::Ready { pid: Some(pid) } = s.health { (pid) } @else { "—" } }
                        td.restarts { (s.restarts) }
                        td.circuit { @if matches!(s.health, Health::CircuitOpen { .. }) { "open" } @else { "closed" } }
                        td.tools { (s.tools) }
                        td.required { @if s.required { "yes" } @else { "no" } }
                    }
                }
            }
        }
        @if status.is_empty() {
            p.empty { "No upstream servers are configured." }
        }
    }
}

pub(super) fn catalog(
    clients: &[String],
    client: Option<&str>,
    tools: &[(Arc<CatalogTool>, bool)],
) -> Markup {
    html! {
        @if clients.is_empty() {
            p { "No clients are configured: every caller sees every tool." }
        } @else {
            form #catalog-client method="get" action="/ui/catalog" {
                label for="client" { "As client" }
                select #client name="client" {
                    @for name in clients {
                        option value=(name) selected[Some(name.as_str()) == client] { (name) }
                    }
                }
                button type="submit" { "Show" }
            }
        }
        p.summary { (tools.len()) " tools" @if let Some(client) = client { " visible to " strong { (client) } } }
        table #catalog {
            thead { tr { th { "Tool" } th { "Upstream" } th { "Approval" } th { "Hints" } th { "Description" } } }
            tbody {
                @for (tool, approval) in tools {
                    @let hints = tool.tool.annotations.as_ref();
                    tr data-tool=(tool.exposed) {
                        td.tool { code { (tool.exposed) } }
                        td.server { (tool.server) }
                        td.approval { @if *approval { "required" } @else { "—" } }
                        td.hints {
                            @if hints.and_then(|a| a.read_only_hint) == Some(true) { span.tag { "read-only" } }
                            @if tool.is_destructive() { span.tag.warn { "destructive" } }
                        }
                        td.description { (tool.tool.description.as_deref().map(|d| shorten(d, 240)).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

pub(super) fn calls() -> Markup {
    html! {
        p #calls-status { "Waiting for calls…" }
        table #calls {
            thead { tr { th { "Time" } th { "Client" } th { "Tool" } th { "Outcome" } th { "ms" } th { "Detail" } } }
            tbody {}
        }
    }
}

/// The audit search form's values.
pub(super) struct AuditForm {
    pub(super) client: String,
    pub(super) tool: String,
    pub(super) outcome: String,
    pub(super) since: String,
}

fn record_row(r: &AuditRecord) -> Markup {
    html! {
        tr data-seq=(r.seq) {
            td.time { (r.time) }
            td.client { (r.client) @if let Some(user) = r.user_name.as_ref().or(r.user.as_ref()) { " (" (user) ")" } }
            td.tool { code { (r.tool) } }
            td class={ "outcome " (r.outcome) } { (r.outcome) }
            td.latency { (r.latency_ms) }
            td.detail {
                @if let Some(note) = &r.approval { (note.decision) " by " (note.by.as_deref().unwrap_or("—")) " " }
                (r.layer.as_deref().unwrap_or("")) " " (r.message.as_deref().map(|m| shorten(m, 200)).unwrap_or_default())
            }
        }
    }
}

pub(super) fn audit(form: &AuditForm, view: &AuditView) -> Markup {
    html! {
        p.summary { "Sink: " code { (view.sink) } }
        form #audit-search method="get" action="/ui/audit" {
            input name="client" placeholder="client" value=(form.client);
            input name="tool" placeholder="tool (glob)" value=(form.tool);
            select name="outcome" {
                @for outcome in ["", "ok", "tool_error", "refused", "timeout", "upstream_error", "input_required"] {
                    option value=(outcome) selected[form.outcome == outcome] { @if outcome.is_empty() { "any outcome" } @else { (outcome) } }
                }
            }
            input name="since" placeholder="since (RFC 3339)" value=(form.since);
            button type="submit" { "Search" }
            button type="submit" name="verify" value="1" #verify-chain { "Verify the chain" }
        }
        @if let Some(problem) = &view.problem { p.error { (problem) } }
        @match &view.verified {
            Some(Ok(report)) => p #verify.ok { "Verified: " (report) },
            Some(Err(problem)) => p #verify.error { "Tampering or loss detected: " (problem) },
            None => {},
        }
        p.summary #audit-count { (view.matched) " matching records" @if view.matched > view.records.len() { ", the newest " (view.records.len()) " shown" } }
        table #audit {
            thead { tr { th { "Time" } th { "Client" } th { "Tool" } th { "Outcome" } th { "ms" } th { "Detail" } } }
            tbody { @for r in &view.records { (record_row(r)) } }
        }
    }
}

pub(super) fn approvals(
    waiting: Option<&[QueuedApproval]>,
    csrf: &str,
    flash: Option<Result<String, String>>,
) -> Markup {
    html! {
        @match flash {
            Some(Ok(decided)) => p.flash.ok #flash { "The call was " (decided) "." },
            Some(Err(error)) => p.flash.error #flash { (error) },
            None => {},
        }
        @match waiting {
            None => p { "No approval queue: configure an operator (a client with " code { "admin = true" } ") or " code { "[approvals] slack" } "." },
            Some([]) => p.empty #no-approvals { "No call is waiting for approval." },
            Some(waiting) => {
                @for a in waiting {
                    section.approval data-id=(a.id) {
                        h2 { code { (a.tool) } " on " (a.server) }
                        p { "Asked by " strong { (a.client) } @if let Some(user) = &a.user { " (" (user) ")" } " at " (a.asked_at) "; " (a.expires_in_s) " s left." }
                        pre.arguments { (serde_json::to_string_pretty(&a.arguments).unwrap_or_default()) }
                        form.decide method="post" action={ "/ui/approvals/" (a.id) } {
                            input type="hidden" name="csrf" value=(csrf);
                            input name="reason" placeholder="reason (for a denial)" autocomplete="off";
                            button.approve type="submit" name="decision" value="approve" { "Approve" }
                            button.deny type="submit" name="decision" value="deny" { "Deny" }
                        }
                    }
                }
            }
        }
    }
}
