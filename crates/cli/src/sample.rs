//! The first run without any configuration: where the sample shop database lives, making sure it
//! is there and current (`switchboard_sql::sqlite::sample`), and telling the user how to connect.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use switchboard_sql::sqlite::sample::{self, Outcome};

/// The sample's directory: `$SWITCHBOARD_DATA_DIR`, else `$XDG_DATA_HOME/switchboard` (when
/// absolute, as the XDG specification requires), else `~/.local/share/switchboard`.
///
/// # Errors
/// When none of these variables is set, or the override cannot be made absolute.
pub(crate) fn data_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("SWITCHBOARD_DATA_DIR") {
        return std::path::absolute(&dir)
            .with_context(|| format!("SWITCHBOARD_DATA_DIR={}", dir.display()));
    }
    if let Some(dir) = var("XDG_DATA_HOME").filter(|dir| dir.is_absolute()) {
        return Ok(dir.join("switchboard"));
    }
    match var("HOME") {
        Some(home) => Ok(home.join(".local/share/switchboard")),
        None => anyhow::bail!(
            "no data directory for the sample database (HOME is not set): set SWITCHBOARD_DATA_DIR"
        ),
    }
}

/// Makes sure the sample database exists and is current; returns its path and a note saying
/// what was done.
///
/// # Errors
/// When there is no data directory, another file occupies the sample's path, or the file cannot
/// be written; the message says what to do.
pub(crate) fn provide() -> anyhow::Result<(PathBuf, String)> {
    let path = data_dir()?.join(sample::FILE_NAME);
    let outcome = sample::ensure(&path, SystemTime::now()).with_context(|| {
        "cannot provide the sample database (set DATABASE_URL to serve your own database, \
         or SWITCHBOARD_DATA_DIR to keep the sample elsewhere)"
    })?;
    let done = match outcome {
        Outcome::Created => "created",
        Outcome::Reused => "reused",
        Outcome::Refreshed => "regenerated (it was older than 12 hours)",
    };
    let note = format!(
        "sample: serving the sample shop database as server \"sample\" (tools sample__*); {done} {}",
        path.display()
    );
    Ok((path, note))
}

/// How to connect to the gateway just started without configuration, ready to copy: Claude Code
/// (HTTP when `url` is given, and stdio), Claude Desktop (stdio), a first query when the sample is
/// served, and how to serve a real database instead.
pub(crate) fn instructions(url: Option<&str>, exe: &Path, sample: bool) -> String {
    let exe_text = exe.to_string_lossy();
    let bin = shell_quote(&exe_text);
    let desktop = serde_json::json!({
        "mcpServers": { "switchboard": { "command": exe_text, "args": ["serve"] } }
    });
    let mut lines = vec!["Connect a client:".to_owned()];
    if let Some(url) = url {
        lines.push(format!("  MCP endpoint:        {url}"));
        lines.push(format!(
            "  Claude Code (HTTP):  claude mcp add --transport http switchboard {url}"
        ));
    }
    lines.push(format!(
        "  Claude Code (stdio): claude mcp add switchboard -- {bin} serve"
    ));
    lines.push("  Claude Desktop (claude_desktop_config.json, stdio):".to_owned());
    lines.push(format!("    {desktop}"));
    if sample {
        let sql = "SELECT id, failure_reason, created_at FROM orders WHERE status = 'failed' \
                   AND created_at >= datetime('now', '-1 day') ORDER BY created_at DESC";
        lines.push("Try it on the sample shop:".to_owned());
        lines.push(format!(
            "  {bin} call sample__query \"{{\\\"sql\\\": \\\"{sql}\\\"}}\""
        ));
        lines.push(
            "  or ask your client: \"Which orders failed in the last 24 hours, and why?\""
                .to_owned(),
        );
    }
    lines.push("Serve your own database:".to_owned());
    lines.push(format!(
        "  DATABASE_URL=postgres://user:password@host:5432/db {bin} serve   (or DATABASE_URL=/path/file.db)"
    ));
    lines
        .push("  or write a switchboard.toml in the working directory (see the README)".to_owned());
    lines.join("\n")
}

/// `text` as one POSIX shell word: as it is when it only has safe characters, else single-quoted.
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,=@%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("/usr/bin/switchboard"), "/usr/bin/switchboard");
        assert_eq!(shell_quote("/opt/my tools/sb"), "'/opt/my tools/sb'");
        assert_eq!(shell_quote("/it's/sb"), r"'/it'\''s/sb'");
    }

    #[test]
    fn instructions_hold_a_desktop_snippet_that_is_json() {
        let text = instructions(
            Some("http://127.0.0.1:8765/mcp"),
            Path::new("/opt/my \"tools\"/switchboard"),
            true,
        );
        assert!(
            text.contains("claude mcp add --transport http switchboard http://127.0.0.1:8765/mcp")
        );
        let snippet = text
            .lines()
            .find(|line| line.trim_start().starts_with('{'))
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(snippet).unwrap();
        assert_eq!(
            json["mcpServers"]["switchboard"]["command"],
            "/opt/my \"tools\"/switchboard"
        );
        let stdio = instructions(None, Path::new("/usr/bin/switchboard"), false);
        assert!(!stdio.contains("http"), "{stdio}");
        assert!(!stdio.contains("sample__query"), "{stdio}");
        assert!(stdio.contains("claude mcp add switchboard -- /usr/bin/switchboard serve"));
    }
}
