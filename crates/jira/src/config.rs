//! Settings of the Jira server, read from the environment and validated with actionable errors.
//!
//! | variable | meaning |
//! |---|---|
//! | `JIRA_URL` | base URL of the site, e.g. `https://acme.atlassian.net` or `https://jira.acme.com/jira` |
//! | `JIRA_USERNAME` + `JIRA_API_TOKEN` | Cloud: account e-mail and API token → basic auth |
//! | `JIRA_PERSONAL_TOKEN` | Data Center: personal access token → bearer auth |
//! | `JIRA_FLAVOR` | `cloud` or `datacenter`; default: detected from the host |
//! | `JIRA_PROJECTS` | comma-separated project keys every tool is restricted to |
//! | `JIRA_READ_ONLY` | `1`/`true`/`yes`/`on`: write tools are neither listed nor callable |
//! | `JIRA_RATE_LIMIT` | requests per second sent to Jira, bursts of twice that; `off` for none; default 10 |

use std::fmt;
use std::num::NonZeroU32;

use switchboard_http::{Auth, HttpConfig, RateLimit, Secret};
use url::Url;

/// Host suffixes of Atlassian's cloud (commercial, government and developer sites, and the
/// OAuth API gateway).
const CLOUD_HOST_SUFFIXES: &[&str] = &[
    ".atlassian.net",
    ".jira.com",
    ".jira-dev.com",
    ".atlassian-us-gov-mod.net",
    ".atlassian-us-gov.net",
    "api.atlassian.com",
];

/// Which Jira product the server talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Jira Cloud: REST v3, Atlassian Document Format, `accountId`s, `/search/jql`.
    Cloud,
    /// Jira Data Center / Server: REST v2, wiki markup, user names, `/search` with `startAt`.
    DataCenter,
}

impl Flavor {
    /// The REST API version path segment (`3` or `2`).
    pub fn api_version(self) -> &'static str {
        match self {
            Flavor::Cloud => "3",
            Flavor::DataCenter => "2",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Cloud => "cloud",
            Flavor::DataCenter => "datacenter",
        })
    }
}

/// Credentials. `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub enum JiraAuth {
    /// Cloud: e-mail + API token, sent as HTTP basic auth.
    Basic {
        /// Account e-mail.
        email: String,
        /// API token.
        token: Secret,
    },
    /// Data Center: personal access token, sent as a bearer token.
    Bearer(Secret),
}

impl JiraAuth {
    pub(crate) fn to_http_auth(&self) -> Auth {
        match self {
            JiraAuth::Basic { email, token } => Auth::Basic {
                username: email.clone(),
                password: token.clone(),
            },
            JiraAuth::Bearer(token) => Auth::Bearer(token.clone()),
        }
    }
}

/// Why the settings are unusable; each message says which variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// Variable name.
        name: &'static str,
        /// What to put there.
        hint: &'static str,
    },
    /// A variable has a value that cannot be used.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// Why (never contains a secret).
        reason: String,
    },
}

/// Validated settings of the Jira server.
#[derive(Clone, Debug)]
pub struct JiraConfig {
    /// Base URL (no trailing slash in its path).
    pub base_url: Url,
    /// Cloud or Data Center.
    pub flavor: Flavor,
    /// Credentials.
    pub auth: JiraAuth,
    /// Upper-cased project keys every tool is restricted to; `None` means all projects.
    pub projects: Option<Vec<String>>,
    /// When true, write tools are neither listed nor callable.
    pub read_only: bool,
    /// Outbound HTTP policy (timeouts, retries, rate limit).
    pub http: HttpConfig,
}

impl JiraConfig {
    /// Reads the settings from the process environment (empty values count as unset).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable to fix.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable name → value function).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable to fix.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let raw_url = get("JIRA_URL").ok_or(ConfigError::Missing {
            name: "JIRA_URL",
            hint: "set it to your site, e.g. https://your-domain.atlassian.net (Cloud) or https://jira.example.com (Data Center)",
        })?;
        let base_url = parse_base_url(&raw_url)?;
        let flavor = match get("JIRA_FLAVOR") {
            Some(value) => parse_flavor(&value)?,
            None => detect_flavor(&base_url),
        };
        let auth = read_auth(&get, flavor)?;
        let projects = get("JIRA_PROJECTS")
            .map(|v| parse_projects(&v))
            .transpose()?;
        let read_only = get("JIRA_READ_ONLY")
            .map(|v| parse_bool("JIRA_READ_ONLY", &v))
            .transpose()?
            .unwrap_or(false);
        let rate_limit = match get("JIRA_RATE_LIMIT") {
            Some(value) => parse_rate_limit(&value)?,
            // Atlassian's cloud rate limits are per user; a steady 10/s with bursts of 20 stays
            // well inside them and still lets a model page through results quickly.
            None => Some(paced(DEFAULT_RATE)),
        };
        let http = HttpConfig {
            rate_limit,
            ..HttpConfig::default()
        };
        Ok(Self {
            base_url,
            flavor,
            auth,
            projects,
            read_only,
            http,
        })
    }

    /// The browse URL of an issue: `{JIRA_URL}/browse/KEY`.
    pub fn browse_url(&self, key: &str) -> String {
        format!(
            "{}/browse/{key}",
            self.base_url.as_str().trim_end_matches('/')
        )
    }

    /// Whether `project` (a key, any case) is allowed by `JIRA_PROJECTS`.
    pub fn project_allowed(&self, project: &str) -> bool {
        match &self.projects {
            None => true,
            Some(list) => list.iter().any(|p| p.eq_ignore_ascii_case(project)),
        }
    }
}

fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "JIRA_URL",
        reason,
    };
    let mut url = Url::parse(raw).map_err(|e| {
        invalid(format!(
            "`{raw}` is not a URL ({e}); expected e.g. https://your-domain.atlassian.net"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none() {
        return Err(invalid("the URL has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("put credentials in JIRA_USERNAME/JIRA_API_TOKEN or JIRA_PERSONAL_TOKEN, not in the URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "the URL must not have a query string or fragment".into(),
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

fn detect_flavor(url: &Url) -> Flavor {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if CLOUD_HOST_SUFFIXES
        .iter()
        .any(|suffix| host.ends_with(suffix) || host == suffix.trim_start_matches('.'))
    {
        Flavor::Cloud
    } else {
        Flavor::DataCenter
    }
}

fn parse_flavor(value: &str) -> Result<Flavor, ConfigError> {
    match value
        .to_ascii_lowercase()
        .replace(['-', '_', ' '], "")
        .as_str()
    {
        "cloud" => Ok(Flavor::Cloud),
        "datacenter" | "dc" | "server" => Ok(Flavor::DataCenter),
        _ => Err(ConfigError::Invalid {
            name: "JIRA_FLAVOR",
            reason: format!("`{value}` is neither `cloud` nor `datacenter`"),
        }),
    }
}

fn read_auth(
    get: &dyn Fn(&str) -> Option<String>,
    flavor: Flavor,
) -> Result<JiraAuth, ConfigError> {
    let personal = get("JIRA_PERSONAL_TOKEN");
    let username = get("JIRA_USERNAME");
    let api_token = get("JIRA_API_TOKEN");
    match (personal, username, api_token) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ConfigError::Invalid {
            name: "JIRA_PERSONAL_TOKEN",
            reason: "set either JIRA_PERSONAL_TOKEN (Data Center) or JIRA_USERNAME + JIRA_API_TOKEN (Cloud), not both".into(),
        }),
        (Some(token), None, None) => {
            if flavor == Flavor::Cloud {
                tracing::warn!("JIRA_PERSONAL_TOKEN with a Cloud site: Jira Cloud expects JIRA_USERNAME + JIRA_API_TOKEN");
            }
            Ok(JiraAuth::Bearer(Secret::new(token)))
        }
        (None, Some(email), Some(token)) => Ok(JiraAuth::Basic { email, token: Secret::new(token) }),
        (None, Some(_), None) => Err(ConfigError::Missing {
            name: "JIRA_API_TOKEN",
            hint: "JIRA_USERNAME is set; add the API token created at https://id.atlassian.com/manage-profile/security/api-tokens",
        }),
        (None, None, Some(_)) => Err(ConfigError::Missing {
            name: "JIRA_USERNAME",
            hint: "JIRA_API_TOKEN is set; add the e-mail address of the Atlassian account that owns it",
        }),
        (None, None, None) => Err(ConfigError::Missing {
            name: match flavor {
                Flavor::Cloud => "JIRA_API_TOKEN",
                Flavor::DataCenter => "JIRA_PERSONAL_TOKEN",
            },
            hint: "Cloud: set JIRA_USERNAME (e-mail) and JIRA_API_TOKEN; Data Center: set JIRA_PERSONAL_TOKEN",
        }),
    }
}

fn parse_projects(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut keys = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let valid = part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::Invalid {
                name: "JIRA_PROJECTS",
                reason: format!(
                    "`{part}` is not a project key (letters, digits and `_`, starting with a letter)"
                ),
            });
        }
        keys.push(part.to_ascii_uppercase());
    }
    if keys.is_empty() {
        return Err(ConfigError::Invalid {
            name: "JIRA_PROJECTS",
            reason: "no project key given; unset it to allow all projects".into(),
        });
    }
    Ok(keys)
}

/// Requests per second when `JIRA_RATE_LIMIT` is unset.
const DEFAULT_RATE: NonZeroU32 = NonZeroU32::new(10).expect("not zero");

/// `per_second` requests a second, with bursts of twice that.
fn paced(per_second: NonZeroU32) -> RateLimit {
    const TWICE: NonZeroU32 = NonZeroU32::new(2).expect("not zero");
    RateLimit::per_second(per_second.get()).with_burst(per_second.saturating_mul(TWICE))
}

fn parse_rate_limit(value: &str) -> Result<Option<RateLimit>, ConfigError> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match value.parse::<NonZeroU32>() {
        Ok(n) if n.get() <= 10_000 => Ok(Some(paced(n))),
        _ => Err(ConfigError::Invalid {
            name: "JIRA_RATE_LIMIT",
            reason: format!(
                "`{value}` is not a number of requests per second from 1 to 10000, or `off`"
            ),
        }),
    }
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!("`{value}` is not a boolean (use true or false)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<JiraConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        JiraConfig::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn cloud_detected_from_host_with_basic_auth() {
        let c = config(&[
            ("JIRA_URL", "https://acme.atlassian.net/"),
            ("JIRA_USERNAME", "a@b.c"),
            ("JIRA_API_TOKEN", "tok"),
        ])
        .unwrap();
        assert_eq!(c.flavor, Flavor::Cloud);
        assert!(matches!(c.auth, JiraAuth::Basic { .. }));
        assert_eq!(
            c.browse_url("ENG-1"),
            "https://acme.atlassian.net/browse/ENG-1"
        );
        assert!(format!("{c:?}").contains("[redacted]"));
        for host in [
            "https://x.jira.com",
            "https://api.atlassian.com/ex/jira/123",
            "https://x.atlassian-us-gov-mod.net",
        ] {
            let c = config(&[
                ("JIRA_URL", host),
                ("JIRA_USERNAME", "a"),
                ("JIRA_API_TOKEN", "t"),
            ])
            .unwrap();
            assert_eq!(c.flavor, Flavor::Cloud, "{host}");
        }
    }

    #[test]
    fn datacenter_detected_and_overridable() {
        let c = config(&[
            ("JIRA_URL", "https://jira.acme.com/jira"),
            ("JIRA_PERSONAL_TOKEN", "pat"),
        ])
        .unwrap();
        assert_eq!(c.flavor, Flavor::DataCenter);
        assert_eq!(c.browse_url("X-1"), "https://jira.acme.com/jira/browse/X-1");
        let c = config(&[
            ("JIRA_URL", "http://127.0.0.1:9"),
            ("JIRA_FLAVOR", "Cloud"),
            ("JIRA_USERNAME", "a"),
            ("JIRA_API_TOKEN", "t"),
        ])
        .unwrap();
        assert_eq!(c.flavor, Flavor::Cloud);
        let c = config(&[
            ("JIRA_URL", "https://acme.atlassian.net"),
            ("JIRA_FLAVOR", "data-center"),
            ("JIRA_PERSONAL_TOKEN", "t"),
        ])
        .unwrap();
        assert_eq!(c.flavor, Flavor::DataCenter);
    }

    #[test]
    fn actionable_errors() {
        let e = config(&[]).unwrap_err().to_string();
        assert!(e.contains("JIRA_URL"), "{e}");
        let e = config(&[
            ("JIRA_URL", "https://acme.atlassian.net"),
            ("JIRA_USERNAME", "a@b.c"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("JIRA_API_TOKEN"), "{e}");
        let e = config(&[
            ("JIRA_URL", "https://acme.atlassian.net"),
            ("JIRA_API_TOKEN", "secret-x"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("JIRA_USERNAME") && !e.contains("secret-x"),
            "{e}"
        );
        let e = config(&[
            ("JIRA_URL", "https://u:p@acme.atlassian.net"),
            ("JIRA_PERSONAL_TOKEN", "t"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("not in the URL"), "{e}");
        let e = config(&[("JIRA_URL", "ftp://x"), ("JIRA_PERSONAL_TOKEN", "t")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("scheme"), "{e}");
        let e = config(&[
            ("JIRA_URL", "https://x"),
            ("JIRA_PERSONAL_TOKEN", "t"),
            ("JIRA_FLAVOR", "onprem"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("JIRA_FLAVOR"), "{e}");
        let e = config(&[
            ("JIRA_URL", "https://x"),
            ("JIRA_PERSONAL_TOKEN", "t"),
            ("JIRA_USERNAME", "u"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("not both"), "{e}");
        let e = config(&[
            ("JIRA_URL", "https://x"),
            ("JIRA_PERSONAL_TOKEN", "t"),
            ("JIRA_PROJECTS", "ENG, a b"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("`a b`"), "{e}");
        let e = config(&[
            ("JIRA_URL", "https://x"),
            ("JIRA_PERSONAL_TOKEN", "t"),
            ("JIRA_READ_ONLY", "maybe"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("JIRA_READ_ONLY"), "{e}");
    }

    #[test]
    fn projects_and_read_only() {
        let c = config(&[
            ("JIRA_URL", "https://x"),
            ("JIRA_PERSONAL_TOKEN", "t"),
            ("JIRA_PROJECTS", "eng, OPS,,"),
            ("JIRA_READ_ONLY", "TRUE"),
        ])
        .unwrap();
        assert_eq!(c.projects, Some(vec!["ENG".to_owned(), "OPS".to_owned()]));
        assert!(c.read_only);
        assert!(c.project_allowed("eng") && !c.project_allowed("HR"));
    }

    #[test]
    fn rate_limit_defaults_to_ten_a_second_and_can_be_changed_or_turned_off() {
        let base = [("JIRA_URL", "https://x"), ("JIRA_PERSONAL_TOKEN", "t")];
        let with = |value: &str| {
            let mut vars = base.to_vec();
            vars.push(("JIRA_RATE_LIMIT", value));
            config(&vars)
        };
        let ten = config(&base).unwrap().http.rate_limit.unwrap();
        assert_eq!(
            (ten.period, ten.burst.get()),
            (std::time::Duration::from_millis(100), 20)
        );
        let fifty = with("50").unwrap().http.rate_limit.unwrap();
        assert_eq!(
            (fifty.period, fifty.burst.get()),
            (std::time::Duration::from_millis(20), 100)
        );
        assert!(with("OFF").unwrap().http.rate_limit.is_none());
        for bad in ["0", "-1", "ten", "10001", "1.5"] {
            let e = with(bad).unwrap_err().to_string();
            assert!(
                e.contains("JIRA_RATE_LIMIT") && e.contains(bad),
                "{bad}: {e}"
            );
        }
    }
}
