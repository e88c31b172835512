//! The gateway's error types: one enum for configuration (every variant names the file and, where
//! there is one, the key) and one for running the gateway.

use std::path::PathBuf;

use thiserror::Error;

/// A configuration file could not be read, parsed, validated or resolved.
///
/// Every message names the file, the key and what is wrong, so an operator can fix it without
/// reading the source. Secret values never appear in these messages.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML / JSON or does not match the expected shape.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The parser's description of the problem, with its position.
        message: String,
    },
    /// A key has a value the gateway cannot use.
    #[error("{file}: {key}: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The dotted path of the key, e.g. `servers.db.command`.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A secret reference or variable in a value could not be resolved.
    #[error("{file}: {key}: {message}")]
    Secret {
        /// The file.
        file: PathBuf,
        /// The dotted path of the key whose value holds the reference.
        key: String,
        /// What could not be resolved (never the secret itself).
        message: String,
    },
}

/// The gateway could not start or serve.
#[derive(Debug, Error)]
pub enum GatewayError {
    /// The configuration is unusable; nothing was started.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Two upstream tools (or prompts) would be exposed under the same name.
    #[error(
        "name collision: {name} is exposed by both {first} and {second}; rename a server, \
         set prefix = true, or exclude one of the tools with exclude_tools"
    )]
    Collision {
        /// The exposed name both would take.
        name: String,
        /// The first owner, `server/tool`.
        first: String,
        /// The second owner, `server/tool`.
        second: String,
    },
    /// An upstream tool's exposed name does not match `^[a-zA-Z0-9_-]{1,64}$`.
    #[error(
        "server {server}: tool {tool:?} would be exposed as {exposed:?}, which does not match \
         ^[a-zA-Z0-9_-]{{1,64}}$; exclude it with exclude_tools or use a shorter server name"
    )]
    InvalidToolName {
        /// The server.
        server: String,
        /// The upstream tool name.
        tool: String,
        /// The name it would be exposed as.
        exposed: String,
    },
    /// The audit log could not be opened or written.
    #[error("audit log {path}: {source}")]
    Audit {
        /// The audit file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The audit database could not be used (the message names it, never its password).
    #[error("{0}")]
    AuditSink(String),
    /// The pin file could not be read.
    #[error("pins: {0}")]
    Pins(#[from] crate::pins::PinError),
    /// A listener could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serving over stdio failed.
    #[error("stdio transport failed: {0}")]
    Stdio(String),
    /// A reload was asked for, but the gateway was not started from a configuration file.
    #[error(
        "nothing to reload: the gateway was started from the environment, not a configuration \
         file (start it with --config FILE)"
    )]
    NoConfigFile,
}
