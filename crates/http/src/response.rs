//! `HttpResponse`: a response whose body has been read in full within the attempt's timeout.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::HttpError;

/// Longest body excerpt put into errors.
const EXCERPT_CHARS: usize = 500;

/// A complete response: status, headers and the body bytes.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) target: String,
    pub(crate) attempts: u32,
}

impl HttpResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `host/path` of the request that produced this response (no query string).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// How many attempts it took to get this response (1 when no retry happened).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body decoded as JSON.
    ///
    /// # Errors
    /// [`HttpError::InvalidResponse`] when the body is not JSON of the expected shape; the
    /// message includes the decoder's error and a body excerpt.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::InvalidResponse {
            target: self.target.clone(),
            message: format!(
                "expected JSON ({e}) but got HTTP {}: {}",
                self.status,
                self.body_excerpt()
            ),
        })
    }

    /// The first characters of the body (whitespace collapsed), for error messages.
    pub fn body_excerpt(&self) -> String {
        excerpt(&self.text())
    }

    /// `Ok(self)` for a 2xx status, otherwise [`HttpError::Status`] with a body excerpt.
    ///
    /// # Errors
    /// [`HttpError::Status`] for any non-2xx status.
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(HttpError::Status {
                status: self.status,
                body_excerpt: self.body_excerpt(),
                target: self.target,
            })
        }
    }
}

/// At most [`EXCERPT_CHARS`] characters of `text`, whitespace runs collapsed, `…` when cut.
pub(crate) fn excerpt(text: &str) -> String {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= EXCERPT_CHARS {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpt_collapses_and_cuts() {
        assert_eq!(excerpt(" a \n\n b "), "a b");
        let long = "x".repeat(600);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 501);
        assert!(cut.ends_with('…'));
    }
}
