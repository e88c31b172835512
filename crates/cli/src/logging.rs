//! Log setup: human-readable lines on stderr (stdout may carry the MCP protocol), filtered by
//! `RUST_LOG` (default `info`, with rmcp's per-session lines at `warn`: over stateless HTTP every
//! request is a session of its own).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once per process.
pub(crate) fn init() {
    init_with_default("info,rmcp=warn");
}

/// [`init`] with another level when `RUST_LOG` is unset: the agent shows its own progress on
/// stderr, so it defaults to `warn` and keeps the gateway's routine lines off the terminal.
pub(crate) fn init_with_default(filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
