//! The Jira REST client: one method per endpoint the tools use, on the shared HTTP policy.
//!
//! Cloud uses REST v3 (ADF bodies, `/search/jql` with `nextPageToken`); Data Center uses REST v2
//! (wiki-markup strings, `/search` with `startAt`). Writes are sent as non-idempotent requests,
//! so the HTTP layer retries them only when Jira certainly did not process them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use switchboard_http::{HttpClient, HttpError, HttpResponse, Idempotency, reqwest::RequestBuilder};

use crate::config::{Flavor, JiraConfig};
use crate::error::JiraError;

/// The largest page the tools ask for.
pub const MAX_PAGE: u32 = 100;

/// A Jira REST client for one site.
#[derive(Clone, Debug)]
pub struct JiraClient {
    http: HttpClient,
    base: String,
    flavor: Flavor,
}

/// The result of creating an issue.
#[derive(Clone, Debug)]
pub struct Created {
    /// Issue id.
    pub id: String,
    /// Issue key.
    pub key: String,
}

/// One page of search results.
#[derive(Clone, Debug)]
pub struct SearchPage {
    /// Issues as Jira returned them (`id`, `key`, `fields`).
    pub issues: Vec<Value>,
    /// Opaque token for the next page, or `None` on the last page.
    pub next_page_token: Option<String>,
    /// Total matches (Data Center only; Cloud's `/search/jql` has no total).
    pub total: Option<u64>,
}

impl JiraClient {
    /// Builds the client from validated settings.
    ///
    /// # Errors
    /// [`HttpError::Build`] when the HTTP client cannot be built (TLS setup, bad credential bytes).
    pub fn new(config: &JiraConfig) -> Result<Self, HttpError> {
        let http = HttpClient::new(config.http.clone(), config.auth.to_http_auth())?;
        Ok(Self {
            http,
            base: config.base_url.as_str().trim_end_matches('/').to_owned(),
            flavor: config.flavor,
        })
    }

    /// Cloud or Data Center.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/rest/api/{}/{path}",
            self.base,
            self.flavor.api_version()
        )
    }

    /// Sends and maps non-2xx statuses to [`JiraError`]; `what` names the target for 404s.
    async fn call(
        &self,
        builder: RequestBuilder,
        idempotency: Idempotency,
        what: &str,
    ) -> Result<HttpResponse, JiraError> {
        let response = self
            .http
            .send(builder.header("accept", "application/json"), idempotency)
            .await?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(JiraError::from_response(&response, what))
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(response: &HttpResponse) -> Result<T, JiraError> {
        response.json().map_err(JiraError::Http)
    }

    /// `POST /rest/api/{3|2}/issue` with `{"fields": fields}`.
    ///
    /// # Errors
    /// [`JiraError`]; a 400 carries Jira's field errors.
    pub async fn create_issue(&self, fields: Value) -> Result<Created, JiraError> {
        let builder = self
            .http
            .post(&self.url("issue"))
            .json(&json!({ "fields": fields }));
        let response = self
            .call(builder, Idempotency::NonIdempotent, "the project")
            .await?;
        let body: Value = Self::decode(&response)?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        match (text("id"), text("key")) {
            (Some(id), Some(key)) => Ok(Created { id, key }),
            _ => Err(JiraError::Http(HttpError::InvalidResponse {
                target: response.target().to_owned(),
                message: "the create response has no id/key".into(),
            })),
        }
    }

    /// Searches with JQL: Cloud `POST /rest/api/3/search/jql` (token pagination), Data Center
    /// `GET /rest/api/2/search` (`startAt`, carried in the opaque token).
    ///
    /// # Errors
    /// [`JiraError::InvalidArgument`] for a page token this server did not issue; Jira's JQL
    /// errors as [`JiraError::Rejected`].
    pub async fn search(
        &self,
        jql: &str,
        max_results: u32,
        page_token: Option<&str>,
        fields: &[String],
    ) -> Result<SearchPage, JiraError> {
        let max_results = max_results.clamp(1, MAX_PAGE);
        match self.flavor {
            Flavor::Cloud => {
                let mut body = json!({ "jql": jql, "maxResults": max_results, "fields": fields });
                if let Some(token) = page_token {
                    body["nextPageToken"] = Value::from(token);
                }
                let builder = self.http.post(&self.url("search/jql")).json(&body);
                let response = self
                    .call(builder, Idempotency::Idempotent, "the search")
                    .await?;
                let body: Value = Self::decode(&response)?;
                let is_last = body.get("isLast").and_then(Value::as_bool).unwrap_or(true);
                let token = body
                    .get("nextPageToken")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Ok(SearchPage {
                    issues: issues(&body),
                    next_page_token: if is_last { None } else { token },
                    total: None,
                })
            }
            Flavor::DataCenter => {
                let start_at = page_token.map(decode_start_at).transpose()?.unwrap_or(0);
                let query = [
                    ("jql", jql.to_owned()),
                    ("startAt", start_at.to_string()),
                    ("maxResults", max_results.to_string()),
                    ("fields", fields.join(",")),
                ];
                let builder = self.http.get(&self.url("search")).query(&query);
                let response = self
                    .call(builder, Idempotency::Idempotent, "the search")
                    .await?;
                let body: Value = Self::decode(&response)?;
                let found = issues(&body);
                let total = body.get("total").and_then(Value::as_u64);
                let next = start_at + found.len() as u64;
                let more = !found.is_empty() && total.is_some_and(|t| next < t);
                Ok(SearchPage {
                    issues: found,
                    next_page_token: more.then(|| encode_start_at(next)),
                    total,
                })
            }
        }
    }

    /// `GET /rest/api/{3|2}/issue/{key}?fields=...`.
    ///
    /// # Errors
    /// [`JiraError::NotFound`] for an unknown or invisible issue.
    pub async fn get_issue(&self, key: &str, fields: &[&str]) -> Result<Value, JiraError> {
        let builder = self
            .http
            .get(&self.url(&format!("issue/{key}")))
            .query(&[("fields", fields.join(","))]);
        let response = self
            .call(builder, Idempotency::Idempotent, &format!("issue {key}"))
            .await?;
        Self::decode(&response)
    }

    /// `POST /rest/api/{3|2}/issue/{key}/comment` with `{"body": body}`; returns the comment.
    ///
    /// # Errors
    /// [`JiraError`].
    pub async fn add_comment(&self, key: &str, body: Value) -> Result<Value, JiraError> {
        let builder = self
            .http
            .post(&self.url(&format!("issue/{key}/comment")))
            .json(&json!({ "body": body }));
        let response = self
            .call(builder, Idempotency::NonIdempotent, &format!("issue {key}"))
            .await?;
        Self::decode(&response)
    }

    /// `GET /rest/api/{3|2}/issue/{key}/transitions`: the `transitions` array.
    ///
    /// # Errors
    /// [`JiraError`].
    pub async fn transitions(&self, key: &str) -> Result<Vec<Value>, JiraError> {
        let builder = self
            .http
            .get(&self.url(&format!("issue/{key}/transitions")));
        let response = self
            .call(builder, Idempotency::Idempotent, &format!("issue {key}"))
            .await?;
        let body: Value = Self::decode(&response)?;
        Ok(body
            .get("transitions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `POST /rest/api/{3|2}/issue/{key}/transitions` with `{"transition":{"id":id}}` (204).
    ///
    /// # Errors
    /// [`JiraError`]; an invalid transition is a 400.
    pub async fn transition(&self, key: &str, transition_id: &str) -> Result<(), JiraError> {
        let builder = self
            .http
            .post(&self.url(&format!("issue/{key}/transitions")))
            .json(&json!({ "transition": { "id": transition_id } }));
        self.call(builder, Idempotency::NonIdempotent, &format!("issue {key}"))
            .await?;
        Ok(())
    }

    /// Visible projects: Cloud `GET /rest/api/3/project/search` (paged, all pages read up to
    /// 1,000 projects), Data Center `GET /rest/api/2/project`.
    ///
    /// # Errors
    /// [`JiraError`].
    pub async fn projects(&self) -> Result<Vec<Value>, JiraError> {
        match self.flavor {
            Flavor::DataCenter => {
                let response = self
                    .call(
                        self.http.get(&self.url("project")),
                        Idempotency::Idempotent,
                        "the project list",
                    )
                    .await?;
                Self::decode(&response)
            }
            Flavor::Cloud => {
                let mut all = Vec::new();
                let mut start_at = 0u64;
                loop {
                    let query = [
                        ("startAt", start_at.to_string()),
                        ("maxResults", "50".to_owned()),
                    ];
                    let builder = self.http.get(&self.url("project/search")).query(&query);
                    let response = self
                        .call(builder, Idempotency::Idempotent, "the project list")
                        .await?;
                    let body: Value = Self::decode(&response)?;
                    let values = body
                        .get("values")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let is_last = body.get("isLast").and_then(Value::as_bool).unwrap_or(true);
                    start_at += values.len() as u64;
                    all.extend(values);
                    if is_last || start_at == 0 || all.len() >= 1000 {
                        return Ok(all);
                    }
                }
            }
        }
    }

    /// Issue types a project can create, from the per-project createmeta endpoint
    /// `GET /rest/api/{3|2}/issue/createmeta/{project}/issuetypes` (Cloud answers `issueTypes`,
    /// Data Center `values`).
    ///
    /// # Errors
    /// [`JiraError::NotFound`] for an unknown project.
    pub async fn issue_types(&self, project: &str) -> Result<Vec<Value>, JiraError> {
        let builder = self
            .http
            .get(&self.url(&format!("issue/createmeta/{project}/issuetypes")))
            .query(&[("maxResults", "200")]);
        let response = self
            .call(
                builder,
                Idempotency::Idempotent,
                &format!("project {project}"),
            )
            .await?;
        let body: Value = Self::decode(&response)?;
        let list = body
            .get("issueTypes")
            .or_else(|| body.get("values"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(list)
    }
}

fn issues(body: &Value) -> Vec<Value> {
    body.get("issues")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

const START_AT_PREFIX: &str = "startAt:";

/// Data Center's offset as an opaque page token.
fn encode_start_at(start_at: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{START_AT_PREFIX}{start_at}"))
}

fn decode_start_at(token: &str) -> Result<u64, JiraError> {
    URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(START_AT_PREFIX).and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            JiraError::InvalidArgument(
                "next_page_token is not a token returned by search_issues; pass the token from the previous page unchanged, or omit it for the first page".into(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_at_token_round_trip() {
        assert_eq!(decode_start_at(&encode_start_at(150)).unwrap(), 150);
        assert!(decode_start_at("garbage!").is_err());
        assert!(decode_start_at(&URL_SAFE_NO_PAD.encode("other:1")).is_err());
    }
}
