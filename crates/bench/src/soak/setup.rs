//! What the soak runs against: a database on the real PostgreSQL, the Jira and Slack fakes, a
//! Redis of its own (so stopping it disturbs nobody else), server-everything from npm as the
//! third-party stdio server, and `switchboard serve --http` over all four.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use switchboard_testkit::jira::{self, FakeJira, Flavor};
use switchboard_testkit::pg::TestDb;
use switchboard_testkit::slack::FakeSlack;
use tokio::process::{Child, Command};

/// The pinned third-party server (the version the black-box tests use).
const EVERYTHING: &str = "@modelcontextprotocol/server-everything@2026.8.31";

/// Rows in the soak's table.
const ROWS: u32 = 5_000;

/// The systems behind the gateway.
pub(crate) struct Backends {
    pub(crate) db: TestDb,
    pub(crate) reader_url: String,
    pub(crate) jira: FakeJira,
    pub(crate) slack: FakeSlack,
    pub(crate) redis: Option<Redis>,
    pub(crate) everything: PathBuf,
}

impl Backends {
    pub(crate) async fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut db = TestDb::new().await.context("a test database")?;
        let reader = db.create_role("sb_soak_reader", "").await?;
        db.load(
            None,
            &format!(
                "CREATE TABLE soak_orders (id serial PRIMARY KEY, amount numeric, note text);
                 INSERT INTO soak_orders (amount, note)
                   SELECT g % 997, 'row ' || g FROM generate_series(1, {ROWS}) g;
                 GRANT USAGE ON SCHEMA public TO {reader};
                 GRANT SELECT ON soak_orders TO {reader};"
            ),
        )
        .await?;
        let reader_url = db.url_as(&reader, None);
        let jira = FakeJira::start(Flavor::Cloud).await?;
        let slack = FakeSlack::start().await?;
        let redis = Redis::start(dir).await;
        if let Err(error) = &redis {
            println!("soak: no Redis of its own ({error:#}); rate limits stay in process");
        }
        Ok(Self {
            db,
            reader_url,
            jira,
            slack,
            redis: redis.ok(),
            everything: everything().await?,
        })
    }

    /// The gateway's configuration: the three built-in servers and the third-party one.
    pub(crate) fn config(&self) -> String {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        let store = self.redis.as_ref().map_or(String::new(), |r| {
            format!("rate_limit_store = {}\n", q(&r.url()))
        });
        format!(
            "[gateway]\n{store}\n[audit]\npath = \"audit.jsonl\"\n\n\
             [servers.db]\nkind = \"postgres\"\ntimeout = \"10s\"\n\
             env = {{ DATABASE_URL = {db}, SWITCHBOARD_SQL_TIMEOUT_MS = \"5000\" }}\n\n\
             [servers.jira]\nkind = \"jira\"\ntimeout = \"10s\"\n\
             env = {{ JIRA_URL = {jira}, JIRA_FLAVOR = \"cloud\", JIRA_USERNAME = {email}, JIRA_API_TOKEN = {token} }}\n\n\
             [servers.slack]\nkind = \"slack\"\ntimeout = \"10s\"\n\
             env = {{ SLACK_API_URL = {slack}, SLACK_BOT_TOKEN = {bot}, SLACK_CHANNELS = \"operations\" }}\n\n\
             [servers.ev]\ncommand = \"node\"\nargs = [{ev}]\n\n\
             [rate_limits]\n\"*\" = {{ rate = \"100000/minute\" }}\n",
            db = q(&self.reader_url),
            jira = q(&self.jira.url()),
            email = q(jira::EMAIL),
            token = q(jira::API_TOKEN),
            slack = q(&self.slack.url()),
            bot = q(&self.slack.token()),
            ev = q(&self.everything.to_string_lossy()),
        )
    }
}

/// A Redis server of the soak's own, on a free port; stopped and started by the fault schedule.
pub(crate) struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    async fn start(dir: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut redis = Self { port, child: None };
        redis.up(dir).await?;
        Ok(redis)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) async fn up(&mut self, dir: &Path) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
            ])
            .arg(self.port.to_string())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("redis-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            ensure!(Instant::now() < deadline, "redis-server did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    pub(crate) async fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// server-everything's entry point: where the tests install it, else installed there now.
async fn everything() -> anyhow::Result<PathBuf> {
    let target = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("no target directory")?;
    let dir = target.join("tmp/npm-server-everything");
    let entry = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if !entry.is_file() {
        println!("soak: installing {EVERYTHING} into {}", dir.display());
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg(EVERYTHING)
            .status()
            .await
            .context("npm")?;
        ensure!(
            status.success() && entry.is_file(),
            "npm install {EVERYTHING} failed"
        );
    }
    Ok(entry)
}

/// `switchboard serve --http 127.0.0.1:0` with `config`; returns it and its `/mcp` URL.
pub(crate) async fn gateway(
    switchboard: &Path,
    dir: &Path,
    config: &Path,
) -> anyhow::Result<(Child, String)> {
    let log = dir.join("gateway.log");
    let file = std::fs::File::create(&log)?;
    let mut child = Command::new(switchboard)
        .args(["serve", "--http", "127.0.0.1:0", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", switchboard.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some((_, rest)) = text.split_once("serving MCP on ") {
            let url = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            return Ok((child, url));
        }
        if let Some(status) = child.try_wait()? {
            bail!("the gateway exited ({status}) before serving: {text}");
        }
        ensure!(
            Instant::now() < deadline,
            "the gateway did not serve in 60 s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
