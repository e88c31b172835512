//! The Jira server's error type: what went wrong, in words a model can act on.
//!
//! Jira's own error bodies (`{"errorMessages":[...],"errors":{field: message}}`) are decoded so
//! every field error reaches the caller by name. Credentials never appear: messages are built
//! from statuses, Jira's messages and request paths only.

use serde::Deserialize;
use switchboard_http::{HttpError, HttpResponse, StatusCode};

/// Jira's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) error_messages: Vec<String>,
    #[serde(default)]
    pub(crate) errors: serde_json::Map<String, serde_json::Value>,
}

/// What went wrong talking to Jira or with the request.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    /// Transport failure, timeout, or retries exhausted (rate limited / unavailable).
    #[error("{}", http_message(.0))]
    Http(#[from] HttpError),

    /// 401: credentials missing, wrong or expired.
    #[error(
        "Jira rejected the credentials (HTTP 401{detail}). Check JIRA_USERNAME and JIRA_API_TOKEN (Cloud) or \
         JIRA_PERSONAL_TOKEN (Data Center), that the token is not expired or revoked, and that JIRA_URL is the right site."
    )]
    Unauthorized {
        /// Jira's message, prefixed with `: `, or empty.
        detail: String,
    },

    /// 403: authenticated but not allowed.
    #[error(
        "Jira refused the operation (HTTP 403{detail}). The account lacks the permission needed for this \
         project or issue; ask a Jira administrator, or use a project the account can work in."
    )]
    Forbidden {
        /// Jira's message, prefixed with `: `, or empty.
        detail: String,
    },

    /// 404: the issue, project or resource does not exist or is not visible.
    #[error(
        "{what} was not found (HTTP 404{detail}). Check the issue key or project key (keys look like ENG-123 / ENG) \
         and that the account can browse it."
    )]
    NotFound {
        /// What was looked up, e.g. `issue ENG-1`.
        what: String,
        /// Jira's message, prefixed with `: `, or empty.
        detail: String,
    },

    /// 410: the endpoint was removed by Atlassian.
    #[error(
        "Jira answered that this endpoint was removed (HTTP 410{detail}). The site no longer offers this API; \
         check JIRA_FLAVOR (cloud sites must use the /search/jql API)."
    )]
    Gone {
        /// Jira's message, prefixed with `: `, or empty.
        detail: String,
    },

    /// 400 (or another 4xx) with Jira's messages and field errors.
    #[error("{}", rejected_message(*.status, .messages, .fields))]
    Rejected {
        /// The status.
        status: StatusCode,
        /// `errorMessages`.
        messages: Vec<String>,
        /// `errors`: field name → message.
        fields: Vec<(String, String)>,
    },

    /// Any other unexpected status.
    #[error("Jira answered HTTP {status} for {target}: {excerpt}")]
    Unexpected {
        /// The status.
        status: StatusCode,
        /// `host/path`.
        target: String,
        /// Body excerpt.
        excerpt: String,
    },

    /// The tool's arguments are unusable (bad key, bad page token, unknown transition ...).
    #[error("{0}")]
    InvalidArgument(String),

    /// Refused by this server's policy (project allow-list).
    #[error("{0}")]
    NotAllowed(String),
}

impl JiraError {
    /// Maps a non-2xx response to an error; `what` names the looked-up thing for 404s.
    pub(crate) fn from_response(response: &HttpResponse, what: &str) -> Self {
        let body: ErrorBody = serde_json::from_slice(response.body()).unwrap_or_default();
        let joined = body.error_messages.join(" ");
        let text = if joined.is_empty() && body.errors.is_empty() {
            response.body_excerpt()
        } else {
            joined
        };
        let detail = if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        };
        match response.status() {
            StatusCode::UNAUTHORIZED => JiraError::Unauthorized { detail },
            StatusCode::FORBIDDEN => JiraError::Forbidden { detail },
            StatusCode::NOT_FOUND => JiraError::NotFound {
                what: what.to_owned(),
                detail,
            },
            StatusCode::GONE => JiraError::Gone { detail },
            status
                if status.is_client_error()
                    && (!body.error_messages.is_empty() || !body.errors.is_empty()) =>
            {
                let fields = body
                    .errors
                    .iter()
                    .map(|(field, message)| {
                        (
                            field.clone(),
                            message
                                .as_str()
                                .map_or_else(|| message.to_string(), str::to_owned),
                        )
                    })
                    .collect();
                JiraError::Rejected {
                    status,
                    messages: body.error_messages,
                    fields,
                }
            }
            status => JiraError::Unexpected {
                status,
                target: response.target().to_owned(),
                excerpt: response.body_excerpt(),
            },
        }
    }
}

fn rejected_message(
    status: StatusCode,
    messages: &[String],
    fields: &[(String, String)],
) -> String {
    let mut parts: Vec<String> = messages.iter().filter(|m| !m.is_empty()).cloned().collect();
    parts.extend(
        fields
            .iter()
            .map(|(field, message)| format!("field `{field}`: {message}")),
    );
    format!(
        "Jira rejected the request (HTTP {}): {}. Fix the named fields or values and try again.",
        status.as_u16(),
        parts.join("; ")
    )
}

fn http_message(error: &HttpError) -> String {
    match error {
        HttpError::RetriesExhausted {
            last_status: Some(StatusCode::TOO_MANY_REQUESTS),
            retry_after,
            ..
        } => {
            let wait = retry_after.map_or_else(String::new, |d| {
                format!(" Jira asked to wait {} s.", d.as_secs_f64().ceil())
            });
            format!(
                "Jira is rate limiting requests (HTTP 429) and the retry budget ran out.{wait} Try again later."
            )
        }
        HttpError::InvalidResponse { .. } => format!(
            "Jira sent a response that could not be read ({error}); try again, and check JIRA_URL points at the Jira site itself"
        ),
        HttpError::Timeout { .. } => format!("{error}"),
        other => format!("Jira could not be reached: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_names_each_field() {
        let e = JiraError::Rejected {
            status: StatusCode::BAD_REQUEST,
            messages: vec![],
            fields: vec![
                (
                    "summary".into(),
                    "You must specify a summary of the issue.".into(),
                ),
                ("priority".into(), "bad".into()),
            ],
        };
        let s = e.to_string();
        assert!(
            s.contains("field `summary`: You must specify a summary of the issue."),
            "{s}"
        );
        assert!(s.contains("field `priority`: bad"), "{s}");
    }
}
