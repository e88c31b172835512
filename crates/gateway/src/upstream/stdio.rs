//! Stdio upstreams: a child process with a clean environment (only its declared variables plus
//! PATH/HOME/LANG-style basics), its stdout/stdin carrying MCP, and each stderr line logged with
//! the server's name (secrets scrubbed).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use rmcp::transport::TokioChildProcess;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::ConnectError;
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

/// Spawns `program` with `args`, the environment `env` (plus [`BASIC_ENV`]) and working
/// directory `cwd`, as the upstream `server`; its stderr lines are logged, scrubbed of `secrets`.
///
/// # Errors
/// [`ConnectError::Spawn`], naming the program, when it cannot be spawned.
pub(crate) fn spawn(
    server: &str,
    program: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    cwd: Option<&Path>,
    secrets: &SecretSet,
) -> Result<(TokioChildProcess, Option<u32>), ConnectError> {
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
        .map_err(|source| ConnectError::Spawn {
            program: program.to_owned(),
            source,
        })?;
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
