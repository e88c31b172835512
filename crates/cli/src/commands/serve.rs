//! `switchboard serve`: run the gateway over stdio (default) or Streamable HTTP (`--http`).
//! Also the configuration loading shared by `tools` and `call`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use switchboard_gateway::downstream::{serve_http, serve_metrics, serve_stdio, shutdown_signal};
use switchboard_gateway::{Config, Gateway, GatewayOptions};
use tokio_util::sync::CancellationToken;

/// Exit code for usage and configuration errors.
pub(crate) const EXIT_CONFIG: u8 = 2;

/// Where the gateway's configuration comes from.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Configuration file: `switchboard.toml`, or a Claude Desktop / Claude Code JSON file.
    /// Default: ./switchboard.toml when present; otherwise the built-in servers whose settings
    /// are in the environment (DATABASE_URL, JIRA_URL, SLACK_BOT_TOKEN) and, when DATABASE_URL is
    /// not set, a sample shop database in $SWITCHBOARD_DATA_DIR (default
    /// ~/.local/share/switchboard), served as server `sample`.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "SWITCHBOARD_CONFIG",
        value_name = "FILE"
    )]
    pub(crate) config: Option<PathBuf>,
    /// The file as read for its trace settings, before anything was logged: loading takes it
    /// from here rather than reading the file, and its header references, a second time.
    #[arg(skip)]
    loaded: std::sync::OnceLock<Config>,
}

/// What the gateway's configuration was built from.
#[derive(Debug)]
pub(crate) enum Origin {
    /// A configuration file.
    File,
    /// The environment, with the sample database at this path when `DATABASE_URL` is not set.
    Environment { sample: Option<PathBuf> },
}

impl ConfigArgs {
    /// The configuration file chosen, if any: `--config`, else ./switchboard.toml when present.
    fn file(&self) -> Option<PathBuf> {
        let default = PathBuf::from("switchboard.toml");
        match &self.config {
            Some(path) => Some(path.clone()),
            None if default.exists() => Some(default),
            None => None,
        }
    }

    /// `[telemetry]`'s trace settings in the configuration file, read before anything is logged
    /// or traced. None without a file or when the file is not valid (loading it again says why);
    /// a header that cannot be read is warned about, and the file's settings are left out.
    pub(crate) fn trace_config(&self) -> switchboard_telemetry::TraceConfig {
        let Some(config) = self.file().and_then(|path| Config::load(&path).ok()) else {
            return Default::default();
        };
        if config.traces == Default::default() {
            let _ = self.loaded.set(config);
            return Default::default();
        }
        let read = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|runtime| {
                runtime
                    .block_on(config.trace_config())
                    .map_err(|e| e.to_string())
            });
        match read {
            Ok(started) => {
                let export = started.export.clone();
                let _ = self.loaded.set(config.with_started_traces(started));
                export
            }
            Err(error) => {
                eprintln!(
                    "switchboard: {error}; traces go where the environment says, if anywhere"
                );
                Default::default()
            }
        }
    }

    /// The configuration file, loaded: as read for its trace settings, or read now.
    fn load_file(
        &self,
        path: &std::path::Path,
    ) -> Result<Config, switchboard_gateway::ConfigError> {
        match self.loaded.get() {
            Some(config) => Ok(config.clone()),
            None => Config::load(path),
        }
    }

    /// Loads and validates the configuration; prints what was chosen and why on stderr. Without
    /// a file this is the environment's built-in servers only (no sample database).
    pub(crate) fn load(&self) -> Result<Config, switchboard_gateway::ConfigError> {
        if let Some(path) = self.file() {
            return self.load_file(&path);
        }
        let (config, notes) = Config::from_environment();
        print_environment_notes(&notes);
        Ok(config)
    }

    /// Loads the configuration for running the gateway: a file, or the environment plus the
    /// sample database when `DATABASE_URL` is not set. `Err(code)` after printing the error.
    pub(crate) fn load_for_gateway(&self) -> Result<(Config, Origin), ExitCode> {
        let config_error = |error: &dyn std::fmt::Display| {
            eprintln!("switchboard: {error}");
            ExitCode::from(EXIT_CONFIG)
        };
        if let Some(path) = self.file() {
            let config = self.load_file(&path).map_err(|e| config_error(&e))?;
            return Ok((config, Origin::File));
        }
        let (mut config, mut notes) = Config::from_environment();
        let mut sample = None;
        if std::env::var_os("DATABASE_URL").is_none() {
            match crate::sample::provide() {
                Ok((path, note)) => {
                    config.add_sample_database(&path);
                    notes.push(note);
                    sample = Some(path);
                }
                Err(error) => {
                    print_environment_notes(&notes);
                    return Err(config_error(&format_args!("{error:#}")));
                }
            }
        }
        print_environment_notes(&notes);
        Ok((config, Origin::Environment { sample }))
    }

    /// Loads the configuration and starts the gateway. `Err(code)` after printing the error.
    pub(crate) async fn start(&self) -> Result<Gateway, ExitCode> {
        self.start_with_origin().await.map(|(gateway, _)| gateway)
    }

    /// [`Self::start`], also saying where the configuration came from.
    async fn start_with_origin(&self) -> Result<(Gateway, Origin), ExitCode> {
        let (config, origin) = self.load_for_gateway()?;
        Ok((start_gateway(config).await?, origin))
    }
}

/// Starts the gateway on a loaded configuration. `Err(code)` after printing the error.
pub(crate) async fn start_gateway(config: Config) -> Result<Gateway, ExitCode> {
    Gateway::start(config, GatewayOptions::default())
        .await
        .map_err(|error| {
            eprintln!("switchboard: {error}");
            let config_error = matches!(
                error,
                switchboard_gateway::GatewayError::Config(_)
                    | switchboard_gateway::GatewayError::Collision { .. }
                    | switchboard_gateway::GatewayError::InvalidToolName { .. }
            );
            if config_error {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        })
}

fn print_environment_notes(notes: &[String]) {
    eprintln!("switchboard: no configuration file; using the environment:");
    for note in notes {
        eprintln!("  {note}");
    }
}

/// Arguments of `switchboard serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Serve Streamable HTTP on this address (path /mcp, plus /healthz and /readyz) instead of
    /// stdio. A non-loopback address requires client tokens in the configuration.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve the virtual endpoint NAME (`[endpoints.NAME]`) on stdio instead of the whole catalog
    /// (over HTTP every endpoint is served at /mcp/NAME).
    #[arg(long, value_name = "NAME", conflicts_with = "http")]
    endpoint: Option<String>,
    /// Reload the configuration whenever its file changes (checked every second), as SIGHUP
    /// and `switchboard reload` do.
    #[arg(long)]
    watch: bool,
}

impl ServeArgs {
    /// Whether the gateway answers over Streamable HTTP (any number of clients) rather than stdio.
    pub(crate) fn serves_http(&self) -> bool {
        self.http.is_some()
    }
}

/// Runs the gateway until the client disconnects (stdio) or ctrl-c / SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (gateway, origin) = match args.config.start_with_origin().await {
        Ok(started) => started,
        Err(code) => return Ok(code),
    };
    for status in gateway.status() {
        tracing::info!(
            upstream = %status.name,
            tools = status.tools,
            "{}",
            switchboard_gateway::format_health(&status.health)
        );
    }
    let endpoint = match &args.endpoint {
        Some(name) => match gateway.endpoint(name) {
            Some(endpoint) => Some(endpoint),
            None => {
                eprintln!(
                    "switchboard: no endpoint {name:?}: define [endpoints.{name}] in the configuration"
                );
                gateway.shutdown().await;
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
        },
        None => None,
    };
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: draining calls in flight");
            shutdown.cancel();
        });
    }
    tokio::spawn(reload_when_asked(
        gateway.clone(),
        args.watch,
        shutdown.clone(),
    ));
    if gateway.config().config.audit.stream_stdout && args.http.is_none() {
        eprintln!(
            "switchboard: [audit] stream = \"stdout\" needs --http: over stdio, stdout carries \
             the MCP protocol"
        );
        gateway.shutdown().await;
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    if let Some(addr) = gateway.config().config.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} ([telemetry] metrics_addr)"))?;
        let local = listener.local_addr().context("listener address")?;
        eprintln!("switchboard: metrics on http://{local}/metrics");
        tokio::spawn(serve_metrics(gateway.clone(), listener, shutdown.clone()));
    }
    let result = match args.http {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr().context("listener address")?;
            let url = format!("http://{local}/mcp");
            eprintln!("switchboard: serving MCP on {url}");
            print_instructions(&origin, Some(&url));
            serve_http(gateway.clone(), listener, shutdown).await
        }
        None => {
            print_instructions(&origin, None);
            serve_stdio(gateway.clone(), endpoint, shutdown).await
        }
    };
    gateway.shutdown().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Reloads the configuration on SIGHUP and, with `watch`, whenever the file's content changes.
/// A bad file is logged and the running configuration stays (see `Gateway::reload`).
async fn reload_when_asked(gateway: Gateway, watch: bool, shutdown: CancellationToken) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let file = gateway.config().config.file.clone();
    let read = || std::fs::read(&file).ok();
    let mut seen = read();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let hung_up = async {
            #[cfg(unix)]
            if let Some(hangup) = hangup.as_mut() {
                return hangup.recv().await;
            }
            std::future::pending().await
        };
        let by = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(()) = hung_up => "signal",
            _ = tick.tick(), if watch => {
                let now = read();
                if now == seen {
                    continue;
                }
                "watch"
            }
        };
        // The outcome is logged and audited by the gateway.
        let _ = gateway.reload(by).await;
        seen = read();
    }
}

/// After a start without configuration, prints how to connect (see [`crate::sample`]).
fn print_instructions(origin: &Origin, url: Option<&str>) {
    let Origin::Environment { sample } = origin else {
        return;
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("switchboard"));
    eprintln!(
        "\n{}\n",
        crate::sample::instructions(url, &exe, sample.is_some())
    );
}
