//! Where a PostgreSQL database is and how to reach it, read from a `postgres://` URL: the host,
//! port, user, password and database for tokio-postgres, and libpq's `sslmode` and `sslrootcert`,
//! which tokio-postgres does not handle and [`crate::tls`] does.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// An `sslmode` that is not one of libpq's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "sslmode {0:?} is not supported; use disable, allow, prefer, require, verify-ca or verify-full"
)]
pub struct SslModeError(pub String);

/// A `postgres://` URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL, or one tokio-postgres does not accept (the reason, never the URL).
    #[error("not a valid postgres:// URL ({0})")]
    Malformed(String),
    /// A URL whose scheme is neither `postgres` nor `postgresql`.
    #[error("scheme {0:?} is neither postgres:// nor postgresql://")]
    Scheme(String),
    /// `sslmode` is not one of libpq's modes.
    #[error(transparent)]
    SslMode(#[from] SslModeError),
}

/// libpq's `sslmode`, all six of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// Plain TCP (libpq would fall back to TLS; we never need to).
    Allow,
    /// TLS when the server offers it, without certificate checks; plain otherwise.
    Prefer,
    /// TLS without certificate checks (with checks when a root certificate is given, as libpq).
    Require,
    /// TLS; the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = SslModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => return Err(SslModeError(other.to_owned())),
        })
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Connection {
    /// Host, port, user, password, database (the TLS part is handled by [`Connection::ssl_mode`]).
    pub pg: tokio_postgres::Config,
    /// TLS mode.
    pub ssl_mode: SslMode,
    /// A PEM file of trusted roots (libpq's `sslrootcert`); the web PKI roots otherwise.
    pub ssl_root_cert: Option<PathBuf>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio_postgres::Config redacts the password in its Debug output.
        f.debug_struct("Connection")
            .field("pg", &self.pg)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .finish()
    }
}

impl Connection {
    /// A human-readable, secret-free description (`user@host:port/db`).
    pub fn describe(&self) -> String {
        let host = self
            .pg
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{host}:{port}/{}",
            self.pg.get_user().unwrap_or("?"),
            self.pg.get_dbname().unwrap_or("?")
        )
    }

    /// Parses a `postgres://` URL (percent-encoded credentials, `sslmode`, `sslrootcert`);
    /// `sslmode` defaults to `prefer`, as in libpq.
    ///
    /// # Errors
    /// When the URL or its TLS parameters are invalid.
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        let parsed = url::Url::parse(url).map_err(|e| UrlError::Malformed(e.to_string()))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(UrlError::Scheme(parsed.scheme().to_owned()));
        }
        let mut ssl_mode = SslMode::Prefer;
        let mut ssl_root_cert = None;
        let mut rest = parsed.clone();
        rest.query_pairs_mut().clear();
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "sslmode" => ssl_mode = value.parse()?,
                "sslrootcert" => ssl_root_cert = Some(PathBuf::from(value.as_ref())),
                _ => {
                    rest.query_pairs_mut().append_pair(&key, &value);
                }
            }
        }
        let mut text = rest.to_string();
        if text.ends_with('?') {
            text.pop();
        }
        let pg = tokio_postgres::Config::from_str(&text)
            .map_err(|e| UrlError::Malformed(e.to_string()))?;
        Ok(Self {
            pg,
            ssl_mode,
            ssl_root_cert,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_decoded_and_tls_parameters_taken_out_of_the_url() {
        let connection = Connection::from_url(
            "postgresql://app%40corp:p%40ss%2Fw%3Ard@db.example.com:6543/shop?sslmode=verify-ca&sslrootcert=/etc/ca.pem&application_name=sb",
        )
        .unwrap();
        assert_eq!(connection.pg.get_user(), Some("app@corp"));
        assert_eq!(connection.pg.get_password(), Some(&b"p@ss/w:rd"[..]));
        assert_eq!(connection.pg.get_application_name(), Some("sb"));
        assert_eq!(connection.ssl_mode, SslMode::VerifyCa);
        assert_eq!(
            connection.ssl_root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(connection.describe(), "app@corp@db.example.com:6543/shop");
        assert!(
            !format!("{connection:?}").contains("p@ss"),
            "{connection:?}"
        );
    }

    #[test]
    fn sslmode_defaults_to_prefer_and_every_libpq_mode_parses() {
        let connection = Connection::from_url("postgres://u@h/d").unwrap();
        assert_eq!(connection.ssl_mode, SslMode::Prefer);
        assert_eq!(connection.ssl_root_cert, None);
        assert_eq!(connection.describe(), "u@h:5432/d");
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(text.parse::<SslMode>(), Ok(mode));
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_the_password() {
        let error = Connection::from_url("postgres://u:pw-1234@h/d?sslmode=sometimes").unwrap_err();
        assert_eq!(
            error,
            UrlError::SslMode(SslModeError("sometimes".to_owned()))
        );
        assert!(error.to_string().contains("verify-full"), "{error}");
        let error = Connection::from_url("mysql://u:pw-1234@h/d").unwrap_err();
        assert_eq!(error, UrlError::Scheme("mysql".to_owned()));
        let error = Connection::from_url("postgres://u:pw-1234@h:notaport/d").unwrap_err();
        assert!(matches!(error, UrlError::Malformed(_)), "{error}");
        let error = Connection::from_url("postgres://u:pw-1234@h/d?no_such_option=1").unwrap_err();
        assert!(matches!(error, UrlError::Malformed(_)), "{error}");
        assert!(!error.to_string().contains("pw-1234"), "{error}");
    }
}
