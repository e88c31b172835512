//! Stdio upstreams: a child process with a clean environment (only its declared variables plus
//! PATH/HOME/LANG-style basics), its stdout/stdin carrying MCP, and each stderr line logged with
//! the server's name (secrets scrubbed).

use std::process::Stdio;

use rmcp::transport::TokioChildProcess;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::ResolvedTransport;
use crate::secrets::SecretSet;

/// Variables a child inherits from the gateway when set: what programs need to run at all.
/// Nothing else crosses over, so the gateway's own secrets never reach a child.
pub(crate) const BASIC_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "RUST_LOG",
    "SYSTEMROOT",
];

/// Spawns the child described by `transport` (which must be `Stdio`).
///
/// # Errors
/// A message naming the program when it cannot be spawned.
pub(crate) fn spawn(
    server: &str,
    transport: &ResolvedTransport,
    secrets: &SecretSet,
) -> Result<(TokioChildProcess, Option<u32>), String> {
    let ResolvedTransport::Stdio {
        program,
        args,
        env,
        cwd,
    } = transport
    else {
        return Err("not a stdio transport".to_owned());
    };
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_clear();
    for name in BASIC_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.envs(env);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let (child, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e}"))?;
    let pid = child.id();
    if let Some(stderr) = stderr {
        let server = server.to_owned();
        let secrets = secrets.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(upstream = %server, "{}", secrets.scrub(&line));
            }
        });
    }
    Ok((child, pid))
}
