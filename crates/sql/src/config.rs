//! Settings of the SQL server: where the database is and the budgets every query runs under.
//!
//! Read from the environment (so the server works as a plain MCP server in any client config) and
//! overridable by flags: `DATABASE_URL` (or libpq's `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`), `SWITCHBOARD_SQL_MAX_ROWS`,
//! `SWITCHBOARD_SQL_MAX_BYTES`, `SWITCHBOARD_SQL_TIMEOUT_MS`, `SWITCHBOARD_SQL_ALLOW_FUNCTIONS`.
//!
//! `DATABASE_URL` selects the backend ([`Target`]): `postgres://` / `postgresql://` is PostgreSQL;
//! `sqlite:///abs/path.db`, `sqlite://relative.db`, `sqlite:relative.db` or a plain path ending in
//! `.db`, `.sqlite` or `.sqlite3` is an SQLite file, always opened read-only.

use std::path::PathBuf;
use std::time::Duration;

pub use switchboard_pg::{Connection, SslMode};
use switchboard_pg::{SslModeError, UrlError};

/// Default row budget of one query.
pub const DEFAULT_MAX_ROWS: usize = 200;
/// Default byte budget (encoded JSON rows) of one query.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// Default statement timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A configuration value that is missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `DATABASE_URL` nor `PGHOST`/`PGDATABASE` is set.
    #[error(
        "no database configured: set DATABASE_URL (postgres://user:password@host:5432/db) or PGHOST/PGDATABASE"
    )]
    Missing,
    /// `DATABASE_URL` could not be parsed.
    #[error(
        "DATABASE_URL is not a valid database URL ({0}); expected postgres://user:password@host:5432/db (special characters percent-encoded) or sqlite:///path/to/file.db"
    )]
    BadUrl(String),
    /// A numeric setting is not a positive integer.
    #[error("{name} must be a positive integer, got {value:?}")]
    BadNumber {
        /// The variable or flag.
        name: &'static str,
        /// What it held.
        value: String,
    },
    /// A `sqlite:` URL that names no usable file.
    #[error(
        "DATABASE_URL is not a usable SQLite location ({0}); expected sqlite:///absolute/path.db, sqlite:relative.db or a path ending in .db, .sqlite or .sqlite3"
    )]
    BadSqlitePath(String),
    /// `sslmode` is not one of libpq's modes.
    #[error(transparent)]
    BadSslMode(#[from] SslModeError),
}

impl From<UrlError> for ConfigError {
    fn from(error: UrlError) -> Self {
        match error {
            UrlError::Malformed(reason) => Self::BadUrl(reason),
            UrlError::Scheme(scheme) => Self::BadUrl(format!(
                "scheme {scheme:?} is neither postgres:// nor sqlite:"
            )),
            UrlError::SslMode(error) => Self::BadSslMode(error),
        }
    }
}

/// Builds the connection from libpq's `PG*` variables.
///
/// # Errors
/// When neither `PGHOST` nor `PGDATABASE` is set, or `PGSSLMODE` is invalid.
fn connection_from_pg_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Connection, ConfigError> {
    if env("PGHOST").is_none() && env("PGDATABASE").is_none() {
        return Err(ConfigError::Missing);
    }
    let mut pg = tokio_postgres::Config::new();
    pg.host(env("PGHOST").as_deref().unwrap_or("localhost"));
    if let Some(port) = env("PGPORT") {
        let port = port.parse().map_err(|_| ConfigError::BadNumber {
            name: "PGPORT",
            value: port.clone(),
        })?;
        pg.port(port);
    }
    let user = env("PGUSER")
        .or_else(|| env("USER"))
        .unwrap_or_else(|| "postgres".to_owned());
    pg.user(&user);
    if let Some(password) = env("PGPASSWORD") {
        pg.password(password);
    }
    pg.dbname(env("PGDATABASE").as_deref().unwrap_or(&user));
    let ssl_mode = env("PGSSLMODE")
        .map(|m| m.parse())
        .transpose()?
        .unwrap_or(SslMode::Prefer);
    Ok(Connection {
        pg,
        ssl_mode,
        ssl_root_cert: env("PGSSLROOTCERT").map(PathBuf::from),
    })
}

/// Which database the server serves, and so which backend answers the tools.
#[derive(Debug, Clone)]
pub enum Target {
    /// A PostgreSQL server.
    Postgres(Box<Connection>),
    /// An SQLite database file (absolute path), opened read-only; it must exist.
    Sqlite(PathBuf),
}

impl Target {
    /// Reads `DATABASE_URL`: an SQLite location (see the module docs) or a `postgres://` URL.
    ///
    /// # Errors
    /// When the URL is neither, or is malformed.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        match sqlite_path(url) {
            Some(path) => Ok(Self::Sqlite(path?)),
            None => Ok(Self::Postgres(Box::new(Connection::from_url(url)?))),
        }
    }

    /// A human-readable, secret-free description (`user@host:port/db`, or `sqlite:/path/file.db`).
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres(connection) => connection.describe(),
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
        }
    }
}

/// The file an SQLite location names, made absolute against the current directory; `None` when
/// `url` is not an SQLite location. `sqlite://` and `sqlite:` forms are percent-decoded (sqlx's
/// convention: `sqlite:///abs.db` is `/abs.db`, `sqlite://rel.db` and `sqlite:rel.db` are
/// relative); a plain path is taken as it is.
fn sqlite_path(url: &str) -> Option<Result<PathBuf, ConfigError>> {
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with("sqlite://") {
        Some(&url["sqlite://".len()..])
    } else if lower.starts_with("sqlite:") {
        Some(&url["sqlite:".len()..])
    } else {
        None
    };
    let text = match rest {
        Some(rest) => {
            if rest.contains('?') || rest.contains('#') {
                return Some(Err(ConfigError::BadSqlitePath(
                    "query parameters are not supported: the file is always opened read-only"
                        .to_owned(),
                )));
            }
            match percent_decode(rest) {
                Some(text) => text,
                None => {
                    return Some(Err(ConfigError::BadSqlitePath(
                        "the path has a malformed %-escape or is not UTF-8 once decoded".to_owned(),
                    )));
                }
            }
        }
        None => {
            let extension = std::path::Path::new(url)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if url.contains("://")
                || !matches!(extension.as_deref(), Some("db" | "sqlite" | "sqlite3"))
            {
                return None;
            }
            url.to_owned()
        }
    };
    if text.is_empty() || text == ":memory:" || text.starts_with(":memory:") {
        return Some(Err(ConfigError::BadSqlitePath(
            "an in-memory database would be empty; name a database file".to_owned(),
        )));
    }
    Some(std::path::absolute(&text).map_err(|e| ConfigError::BadSqlitePath(format!("{text}: {e}"))))
}

/// Decodes `%XX` escapes; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Everything the SQL server needs.
#[derive(Debug, Clone)]
pub struct SqlConfig {
    /// Which database, and so which backend.
    pub target: Target,
    /// Row budget per query (a query's `max_rows` may only lower it).
    pub max_rows: usize,
    /// Byte budget per query: the size of the rows encoded as JSON.
    pub max_bytes: usize,
    /// Statement, lock and idle-in-transaction timeout.
    pub timeout: Duration,
    /// Refuse to start (and to run queries) when the role could write or read server files
    /// (PostgreSQL; an SQLite file is always opened read-only).
    pub require_read_only_role: bool,
    /// Functions allowed beyond the built-in safe list even if volatile (`schema.name` or `name`;
    /// PostgreSQL only).
    pub allow_functions: Vec<String>,
}

impl SqlConfig {
    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// When a variable is missing or malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the settings through `env` (testable without touching the process environment).
    ///
    /// # Errors
    /// When a variable is missing or malformed.
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let target = match env("DATABASE_URL") {
            Some(url) => Target::from_url(&url)?,
            None => Target::Postgres(Box::new(connection_from_pg_env(env)?)),
        };
        Self::with_target(target, env)
    }

    /// The settings for `target` (chosen by the caller, e.g. a file given on the command line),
    /// with the budgets read through `env`.
    ///
    /// # Errors
    /// When a budget variable is malformed.
    pub fn with_target(
        target: Target,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let number = |name: &'static str, default: usize| -> Result<usize, ConfigError> {
            env(name).map_or(Ok(default), |value| positive(name, &value))
        };
        Ok(Self {
            target,
            max_rows: number("SWITCHBOARD_SQL_MAX_ROWS", DEFAULT_MAX_ROWS)?,
            max_bytes: number("SWITCHBOARD_SQL_MAX_BYTES", DEFAULT_MAX_BYTES)?,
            timeout: Duration::from_millis(number(
                "SWITCHBOARD_SQL_TIMEOUT_MS",
                usize::try_from(DEFAULT_TIMEOUT.as_millis()).unwrap_or(10_000),
            )? as u64),
            require_read_only_role: env("SWITCHBOARD_SQL_REQUIRE_READ_ONLY_ROLE")
                .is_some_and(|v| truthy(&v)),
            allow_functions: env("SWITCHBOARD_SQL_ALLOW_FUNCTIONS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Parses a positive integer setting.
///
/// # Errors
/// When `value` is not a positive integer.
pub fn positive(name: &'static str, value: &str) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::BadNumber {
            name,
            value: value.to_owned(),
        }),
    }
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn pg(config: &SqlConfig) -> &Connection {
        match &config.target {
            Target::Postgres(connection) => connection,
            Target::Sqlite(path) => panic!("expected PostgreSQL, got SQLite {path:?}"),
        }
    }

    fn sqlite(url: &str) -> Result<PathBuf, String> {
        match Target::from_url(url) {
            Ok(Target::Sqlite(path)) => Ok(path),
            Ok(Target::Postgres(_)) => Err("postgres".to_owned()),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn sqlite_locations_select_the_sqlite_backend() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            sqlite("sqlite:///var/data/shop.db"),
            Ok(PathBuf::from("/var/data/shop.db"))
        );
        assert_eq!(
            sqlite("SQLITE:///var/My%20Data/shop.db"),
            Ok(PathBuf::from("/var/My Data/shop.db"))
        );
        assert_eq!(sqlite("sqlite://shop.db"), Ok(cwd.join("shop.db")));
        assert_eq!(sqlite("sqlite:data/shop.db"), Ok(cwd.join("data/shop.db")));
        assert_eq!(
            sqlite("sqlite:/abs/a+b.db"),
            Ok(PathBuf::from("/abs/a+b.db"))
        );
        assert_eq!(
            sqlite("/srv/app.sqlite3"),
            Ok(PathBuf::from("/srv/app.sqlite3"))
        );
        assert_eq!(sqlite("local.SQLITE"), Ok(cwd.join("local.SQLITE")));
        // A plain path is taken literally: no %-decoding.
        assert_eq!(
            sqlite("/srv/100%25.db"),
            Ok(PathBuf::from("/srv/100%25.db"))
        );
        assert_eq!(sqlite("postgres://u@h/shop.db"), Err("postgres".to_owned()));
        for bad in [
            "sqlite::memory:",
            "sqlite:",
            "sqlite:///x.db?mode=rwc",
            "sqlite:///x%zz.db",
        ] {
            let error = sqlite(bad).unwrap_err();
            assert!(error.contains("SQLite location"), "{bad}: {error}");
        }
        let error =
            SqlConfig::from_lookup(&lookup(&[("DATABASE_URL", "/srv/notes.txt")])).unwrap_err();
        assert!(error.to_string().contains("sqlite:"), "{error}");
        let config =
            SqlConfig::from_lookup(&lookup(&[("DATABASE_URL", "sqlite:///srv/app.db")])).unwrap();
        assert_eq!(config.target.describe(), "sqlite:/srv/app.db");
    }

    #[test]
    fn url_with_percent_encoded_password_and_tls() {
        let env = lookup(&[(
            "DATABASE_URL",
            "postgres://app%40corp:p%40ss%2Fw%3Ard@db.example.com:6543/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=sb",
        )]);
        let config = SqlConfig::from_lookup(&env).unwrap();
        assert_eq!(pg(&config).pg.get_user(), Some("app@corp"));
        assert_eq!(pg(&config).pg.get_password(), Some(&b"p@ss/w:rd"[..]));
        assert_eq!(pg(&config).pg.get_ports(), [6543]);
        assert_eq!(pg(&config).ssl_mode, SslMode::VerifyFull);
        assert_eq!(
            pg(&config).ssl_root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(pg(&config).describe(), "app@corp@db.example.com:6543/shop");
        assert!(
            !format!("{config:?}").contains("p@ss"),
            "Debug must not show the password"
        );
        assert_eq!(
            (config.max_rows, config.max_bytes),
            (DEFAULT_MAX_ROWS, DEFAULT_MAX_BYTES)
        );
    }

    #[test]
    fn pg_variables_are_accepted() {
        let env = lookup(&[
            ("PGHOST", "127.0.0.1"),
            ("PGUSER", "u"),
            ("PGDATABASE", "d"),
            ("PGSSLMODE", "disable"),
        ]);
        let config = SqlConfig::from_lookup(&env).unwrap();
        assert_eq!(pg(&config).describe(), "u@127.0.0.1:5432/d");
        assert_eq!(pg(&config).ssl_mode, SslMode::Disable);
    }

    #[test]
    fn bad_values_are_named() {
        let missing = SqlConfig::from_lookup(&lookup(&[])).unwrap_err();
        assert!(missing.to_string().contains("DATABASE_URL"));
        let env = lookup(&[
            ("DATABASE_URL", "postgres://h/d"),
            ("SWITCHBOARD_SQL_MAX_ROWS", "0"),
        ]);
        assert!(
            SqlConfig::from_lookup(&env)
                .unwrap_err()
                .to_string()
                .contains("SWITCHBOARD_SQL_MAX_ROWS")
        );
        let env = lookup(&[("DATABASE_URL", "postgres://h/d?sslmode=sometimes")]);
        assert!(
            SqlConfig::from_lookup(&env)
                .unwrap_err()
                .to_string()
                .contains("verify-full")
        );
        let env = lookup(&[("DATABASE_URL", "mysql://h/d")]);
        assert!(
            SqlConfig::from_lookup(&env)
                .unwrap_err()
                .to_string()
                .contains("postgres://")
        );
    }
}
