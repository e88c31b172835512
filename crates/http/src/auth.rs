//! Credentials attached to every outbound request, and how they become a sensitive header.
//!
//! The header value is marked sensitive (`HeaderValue::set_sensitive`), so reqwest's and http's
//! `Debug` output redact it; [`Auth`]'s own `Debug` shows only the scheme and the user name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

use crate::error::HttpError;
use crate::secret::Secret;

/// How requests authenticate. Added by [`crate::HttpClient`] to every request it sends.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Basic base64(username:password)` (Jira Cloud: email + API token).
    Basic {
        /// The user name (for Jira Cloud, the account e-mail). Not secret; may be logged.
        username: String,
        /// The password or API token.
        password: Secret,
    },
    /// `Authorization: Bearer <token>` (Jira Data Center personal tokens, Slack bot tokens).
    Bearer(Secret),
    /// A custom header carrying the secret, e.g. Anthropic's `x-api-key`.
    Header {
        /// Header name, e.g. `x-api-key`.
        name: HeaderName,
        /// Header value.
        value: Secret,
    },
}

impl Auth {
    /// The header to send, marked sensitive, or `None` for [`Auth::None`].
    ///
    /// # Errors
    /// [`HttpError::Build`] when the secret contains characters that cannot appear in a header
    /// (the message never contains the secret).
    pub fn header(&self) -> Result<Option<(HeaderName, HeaderValue)>, HttpError> {
        let (name, raw) = match self {
            Auth::None => return Ok(None),
            Auth::Basic { username, password } => {
                let joined = format!("{username}:{}", password.expose());
                (AUTHORIZATION, format!("Basic {}", STANDARD.encode(joined)))
            }
            Auth::Bearer(token) => (AUTHORIZATION, format!("Bearer {}", token.expose())),
            Auth::Header { name, value } => (name.clone(), value.expose().to_owned()),
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| HttpError::Build {
            message: format!(
                "the credential for the `{name}` header contains characters that are not allowed \
                 in an HTTP header (check for a stray newline or quote in the token)"
            ),
        })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::Auth;
    use crate::Secret;

    #[test]
    fn basic_header_is_base64_of_user_colon_token() {
        let auth = Auth::Basic {
            username: "a@b.c".into(),
            password: Secret::new("tok"),
        };
        let (name, value) = auth.header().unwrap().unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(value.to_str().unwrap(), "Basic YUBiLmM6dG9r");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("YUBiLmM6dG9r"));
        assert!(!format!("{auth:?}").contains("tok\""));
    }

    #[test]
    fn bearer_with_newline_is_rejected_without_leaking() {
        let err = Auth::Bearer(Secret::new("abc\ndef")).header().unwrap_err();
        assert!(!err.to_string().contains("abc"));
    }
}
