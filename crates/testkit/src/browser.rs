//! A headless Chromium driven over WebDriver, for black-box tests of the pages the gateway serves.
//!
//! [`Browser::start`] runs `chromedriver` (Debian's `chromium-driver`; `scripts/setup` installs it)
//! on a free loopback port and opens a headless session with the browser console captured, so a
//! test can click, type and read a page the way a user does, and then assert that the page logged
//! no errors ([`Browser::console_errors`]): a script that throws or a resource that fails to load
//! is a bug even when the text under test looks right.
//!
//! Elements are found by CSS selector. Actions do not wait: after one that changes the page, use
//! [`Browser::wait_for`] or [`Browser::wait_for_text`].

use std::io::ErrorKind;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use axum::http::Method;
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use url::Url;

/// How long chromedriver may take to listen and report ready.
const DRIVER_STARTUP: Duration = Duration::from_secs(20);
/// How long Chromium may take to start a session.
const SESSION_STARTUP: Duration = Duration::from_secs(60);
/// How often the waits look again.
const POLL: Duration = Duration::from_millis(50);
/// Chromium's flags: headless, as root (tests run as root), and without a GPU or a big /dev/shm.
const CHROMIUM_ARGS: [&str; 5] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// A headless Chromium session and the chromedriver serving it.
///
/// Dropping it kills chromedriver and Chromium; [`Browser::close`] ends the session first.
pub struct Browser {
    client: Client,
    _driver: Driver,
}

/// The chromedriver process and everything it started.
struct Driver {
    child: Child,
    /// `TMPDIR` of chromedriver and Chromium: their profile and scratch files go here.
    _tmp: TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Chromium outlives a killed chromedriver, but it stays in chromedriver's process group.
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

impl Driver {
    /// Starts chromedriver in a temporary directory of its own; its base URL once ready.
    async fn start() -> Result<(Self, String)> {
        let tmp = tempfile::Builder::new()
            .prefix("switchboard-browser-")
            .tempdir()
            .context("creating chromedriver's temporary directory")?;
        let spawned = Command::new("chromedriver")
            .arg("--port=0")
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                bail!("`chromedriver` is not on PATH: install chromium-driver (scripts/setup does)")
            }
            Err(e) => return Err(anyhow!(e).context("starting chromedriver")),
        };
        let stdout = child.stdout.take().context("chromedriver's stdout")?;
        let driver = Self { child, _tmp: tmp };
        let url = tokio::time::timeout(DRIVER_STARTUP, driver_url(BufReader::new(stdout).lines()))
            .await
            .context("chromedriver did not become ready within 20 seconds")??;
        Ok((driver, url))
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with the browser console captured.
    ///
    /// # Errors
    /// When `chromedriver` is not installed, does not become ready within 20 seconds, or cannot
    /// start Chromium.
    pub async fn start() -> Result<Self> {
        // chromedriver picks its own port for `--port=0` and exits when another process holds
        // it ("IPv4 port not available"); a fresh start picks another.
        let mut attempt = 1;
        let (driver, url) = loop {
            match Driver::start().await {
                Err(error)
                    if attempt < 3 && format!("{error:#}").contains("port not available") =>
                {
                    attempt += 1;
                }
                started => break started?,
            }
        };
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "args": CHROMIUM_ARGS },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let mut builder = ClientBuilder::new(HttpConnector::new());
        if let Value::Object(capabilities) = capabilities {
            builder.capabilities(capabilities);
        }
        let session = tokio::time::timeout(SESSION_STARTUP, builder.connect(&url)).await;
        let session = session.context("Chromium did not start within 60 seconds")?;
        let client = session.context("starting Chromium (install chromium; scripts/setup does)")?;
        Ok(Self {
            client,
            _driver: driver,
        })
    }

    /// The WebDriver client, for what this harness does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits for it to load.
    ///
    /// # Errors
    /// When the URL is invalid or the page cannot be loaded.
    pub async fn goto(&self, url: &str) -> Result<()> {
        let opened = self.client.goto(url).await;
        opened.with_context(|| format!("opening {url}"))
    }

    /// The URL of the current page.
    ///
    /// # Errors
    /// When the session is gone.
    pub async fn current_url(&self) -> Result<Url> {
        let url = self.client.current_url().await;
        url.context("reading the current URL")
    }

    /// The visible text of the first element matching `css`.
    ///
    /// # Errors
    /// When no element matches.
    pub async fn text(&self, css: &str) -> Result<String> {
        let text = self.find(css).await?.text().await;
        text.with_context(|| format!("reading `{css}`"))
    }

    /// The visible texts of all elements matching `css`, in document order (none is not an error).
    ///
    /// # Errors
    /// When the session is gone or an element disappears while being read.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        let elements = self.client.find_all(Locator::Css(css)).await;
        let mut texts = Vec::new();
        for element in elements.with_context(|| format!("finding `{css}`"))? {
            let text = element.text().await;
            texts.push(text.with_context(|| format!("reading `{css}`"))?);
        }
        Ok(texts)
    }

    /// Clicks the first element matching `css`.
    ///
    /// # Errors
    /// When no element matches or it cannot be clicked (hidden, covered, disabled).
    pub async fn click(&self, css: &str) -> Result<()> {
        let clicked = self.find(css).await?.click().await;
        clicked.with_context(|| format!("clicking `{css}`"))
    }

    /// Replaces the value of the input or textarea matching `css` by typing `value` into it.
    ///
    /// # Errors
    /// When no element matches or it is not editable.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let element = self.find(css).await?;
        let cleared = element.clear().await;
        cleared.with_context(|| format!("clearing `{css}`"))?;
        let typed = element.send_keys(value).await;
        typed.with_context(|| format!("typing into `{css}`"))
    }

    /// Waits until an element matches `css`.
    ///
    /// # Errors
    /// When none does within `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<()> {
        let wait = self.client.wait().at_most(timeout).every(POLL);
        match wait.for_element(Locator::Css(css)).await {
            Ok(_) => Ok(()),
            Err(CmdError::WaitTimeout) => bail!("no element matched `{css}` within {timeout:?}"),
            Err(e) => Err(anyhow!(e).context(format!("waiting for `{css}`"))),
        }
    }

    /// Waits until an element matching `css` has a visible text containing `needle`.
    ///
    /// # Errors
    /// When none does within `timeout`; the message shows the texts last seen.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            // Elements replaced while being read are seen again on the next look.
            let seen = self.texts(css).await.unwrap_or_default();
            if seen.iter().any(|text| text.contains(needle)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("no `{css}` contained {needle:?} within {timeout:?}; last seen: {seen:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG screenshot of the window to `path`.
    ///
    /// # Errors
    /// When the screenshot cannot be taken or written.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let png = self.client.screenshot().await;
        let png = png.context("taking a screenshot")?;
        let written = tokio::fs::write(path, png).await;
        written.with_context(|| format!("writing {}", path.display()))
    }

    /// The browser console's errors since the last call: uncaught exceptions, `console.error`
    /// calls and failed resource loads (a 404 for a script), each as Chromium words it.
    ///
    /// Chromium fetches `/favicon.ico` for a page that declares no icon, so a server without one
    /// shows up here as a 404.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn console_errors(&self) -> Result<Vec<String>> {
        let log = self.client.issue_cmd(BrowserLog).await;
        let log = log.context("reading the browser console")?;
        let entries = log.as_array().context("the console log is not a list")?;
        let severe = entries.iter().filter(|entry| entry["level"] == "SEVERE");
        let messages = severe.map(|entry| entry["message"].as_str().unwrap_or_default());
        Ok(messages.map(str::to_owned).collect())
    }

    /// The first element matching `css`.
    async fn find(&self, css: &str) -> Result<Element> {
        let element = self.client.find(Locator::Css(css)).await;
        element.with_context(|| format!("no element matches `{css}`"))
    }

    /// Ends the session (Chromium exits and removes its profile) and stops chromedriver.
    ///
    /// # Errors
    /// When chromedriver does not end the session.
    pub async fn close(self) -> Result<()> {
        let closed = self.client.close().await;
        closed.context("ending the browser session")
    }
}

/// Reads chromedriver's output until it says which port it listens on, keeps forwarding that
/// output to `tracing`, and waits for its `/status` to say ready. Gives its base URL.
async fn driver_url(mut lines: Lines<BufReader<ChildStdout>>) -> Result<String> {
    let mut said = Vec::new();
    let port = loop {
        let line = lines.next_line().await;
        let Some(line) = line.context("reading chromedriver's output")? else {
            bail!("chromedriver exited while starting; it said: {said:?}");
        };
        if let Some((_, port)) = line.split_once("started successfully on port ") {
            let port = port.trim_end_matches('.').parse::<u16>();
            break port.with_context(|| format!("chromedriver's port in {line:?}"))?;
        }
        said.push(line);
    };
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "chromedriver", "{line}");
        }
    });
    let url = format!("http://127.0.0.1:{port}/");
    loop {
        let status = reqwest::get(format!("{url}status")).await;
        if let Ok(status) = status
            && let Ok(status) = status.json::<Value>().await
            && status["value"]["ready"] == true
        {
            return Ok(url);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// chromedriver's legacy log endpoint, asked for the browser console; reading empties it.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let session_id = session_id.unwrap_or_default();
        base.join(&format!("session/{session_id}/se/log"))
    }

    fn method_and_body(&self, _url: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::response::Html;
    use axum::routing::get;

    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    // Both pages declare an icon: otherwise Chromium's request for /favicon.ico logs a 404.

    const CLEAN: &str = r#"<!doctype html>
<html><head><title>clean</title><link rel="icon" href="data:,"></head><body>
<p id="status">idle</p>
<button id="go" onclick="document.getElementById('status').textContent = 'clicked'">Go</button>
<form onsubmit="event.preventDefault();
  document.getElementById('echo').textContent = 'hello ' + document.getElementById('name').value">
  <input id="name" value="placeholder"><button id="send">Send</button>
</form>
<p id="echo"></p>
<ul><li>one</li><li>two</li></ul>
</body></html>"#;

    const BROKEN: &str = r#"<!doctype html>
<html><head><title>broken</title><link rel="icon" href="data:,"></head><body>
<p id="status">broken</p>
<script>throw new Error("kaboom from the page");</script>
<script src="/missing.js"></script>
</body></html>"#;

    /// Serves [`CLEAN`] at `/` and [`BROKEN`] at `/broken`; anything else is a 404.
    async fn serve() -> Result<SocketAddr> {
        let app = Router::new()
            .route("/", get(|| async { Html(CLEAN) }))
            .route("/broken", get(|| async { Html(BROKEN) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(addr)
    }

    #[tokio::test]
    async fn browser_clicks_fills_and_screenshots_a_clean_page() -> Result<()> {
        let addr = serve().await?;
        let browser = Browser::start().await?;
        browser.goto(&format!("http://{addr}/")).await?;
        assert_eq!(browser.current_url().await?.path(), "/");
        assert_eq!(browser.texts("li").await?, ["one", "two"]);

        assert_eq!(browser.text("#status").await?, "idle");
        browser.click("#go").await?;
        browser.wait_for_text("#status", "clicked", WAIT).await?;

        browser.fill("#name", "Ada").await?;
        browser.click("#send").await?;
        browser.wait_for_text("#echo", "hello Ada", WAIT).await?;
        assert_eq!(browser.text("#echo").await?, "hello Ada");

        browser.wait_for("#status", WAIT).await?;
        let missing = browser.wait_for("#nothing", Duration::from_millis(200));
        assert!(missing.await.unwrap_err().to_string().contains("#nothing"));

        let dir = tempfile::tempdir()?;
        let png = dir.path().join("clean.png");
        browser.screenshot(&png).await?;
        assert!(std::fs::read(&png)?.starts_with(b"\x89PNG\r\n\x1a\n"));

        assert_eq!(browser.console_errors().await?, Vec::<String>::new());
        browser.close().await
    }

    #[tokio::test]
    async fn browser_reports_console_errors_of_a_broken_page() -> Result<()> {
        let addr = serve().await?;
        let browser = Browser::start().await?;
        browser.goto(&format!("http://{addr}/broken")).await?;
        assert_eq!(browser.text("#status").await?, "broken");

        let errors = browser.console_errors().await?;
        let logged = |needle: &str| errors.iter().any(|error| error.contains(needle));
        assert!(logged("Uncaught Error: kaboom from the page"), "{errors:?}");
        assert!(
            logged("/missing.js - Failed to load resource"),
            "{errors:?}"
        );
        assert!(logged("status of 404"), "{errors:?}");
        let again = browser.console_errors().await?;
        assert!(again.is_empty(), "the log is read once: {again:?}");
        browser.close().await
    }
}
