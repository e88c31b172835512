//! Prometheus expositions as tests read them: scraped over HTTP, checked by `promtool`, and one
//! sample's value looked up by its name and labels.

use anyhow::{Context, Result, bail, ensure};
use tokio::io::AsyncWriteExt;

/// `GET http://{addr}/metrics`: the exposition's text.
///
/// # Errors
/// When the request fails or the answer is not 200.
pub async fn scrape(addr: &str) -> Result<String> {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .with_context(|| format!("scraping {addr}"))?;
    ensure!(
        response.status() == 200,
        "/metrics answered {}",
        response.status()
    );
    Ok(response.text().await?)
}

/// `promtool check metrics` (Debian's `prometheus` package) on `text`.
///
/// # Errors
/// When promtool is missing or finds a problem, with its report.
pub async fn promtool_check(text: &str) -> Result<()> {
    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("promtool (Debian's prometheus package) must be installed: scripts/setup does")?;
    let mut stdin = promtool.stdin.take().context("promtool's stdin")?;
    stdin.write_all(text.as_bytes()).await?;
    drop(stdin);
    let checked = promtool.wait_with_output().await?;
    if !checked.status.success() {
        bail!(
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    Ok(())
}

/// The value of the sample `name` whose labels include every `labels` pair, summed over the
/// samples that match (0 when none does).
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_value_is_found_by_name_and_some_labels() {
        let text = "# HELP x_total x\nx_total{a=\"1\",b=\"2\"} 3\nx_total{a=\"1\",b=\"3\"} 4\nx_total_other 9\ny 5\n";
        assert_eq!(super::value(text, "x_total", &[("a", "1")]), 7.0);
        assert_eq!(super::value(text, "x_total", &[("b", "3")]), 4.0);
        assert_eq!(super::value(text, "y", &[]), 5.0);
        assert_eq!(super::value(text, "x_total", &[("a", "2")]), 0.0);
    }
}
