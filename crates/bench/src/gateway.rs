//! `switchboard-bench gateway`: `switchboard serve` fronting one MCP server (a stdio child)
//! against that same server spoken to directly, in one run:
//!
//! 1. added latency over stdio — the same trivial tool called one call at a time, directly,
//!    through the gateway and through a bare line relay (the floor of any stdio front,
//!    `crate::relay`), interleaved call by call; medians over rounds;
//! 2. HTTP throughput — N keep-alive clients calling back to back for a fixed time, through
//!    `serve --http`, against the server's own Streamable HTTP endpoint, and through a bare HTTP
//!    front for the same stdio child (the floor of any HTTP front for a stdio server,
//!    `crate::http_relay`);
//! 3. the gateway's memory after start and after the runs;
//! 4. what telemetry costs a stdio call: traces exported and `/metrics` scraped against both off
//!    (`crate::traces`).
//!
//! The gateway runs with the configuration a user would write (written to a temporary
//! directory and printed): the upstream plus an audit log, every other setting at its default
//! (audit fsync off, log level info, concurrency limit 16 per upstream).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

mod sessions;

use crate::http::{self, Endpoint, Era, Load};
use crate::mcp::Server;
use crate::stats::{Memory, Summary, children, cpu_time, us};
use crate::table::{compare, dur, figure, secs};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The MCP server behind the gateway and called directly: it serves stdio, and Streamable
    /// HTTP with `--http 127.0.0.1:0` (printing `listening on ADDR`) [default:
    /// switchboard-conformance-fixture next to this program].
    #[arg(long, value_name = "PATH")]
    upstream: Option<PathBuf>,
    /// An argument for the upstream, before `--http` (repeat for several).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    upstream_arg: Vec<String>,
    /// The upstream's tool to call, without arguments; it should do nothing.
    #[arg(long, default_value = "test_simple_text")]
    tool: String,
    /// The switchboard binary [default: the one next to this program].
    #[arg(long, value_name = "PATH")]
    switchboard: Option<PathBuf>,
    /// Rounds of the stdio comparison (figures are medians over rounds).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Timed stdio calls per side in each round.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Untimed stdio calls per side before the first round.
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
    /// Concurrent HTTP clients, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    clients: Vec<usize>,
    /// Measured seconds of each HTTP run (after one untimed second).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// HTTP runs per side and client count (figures are medians over runs).
    #[arg(long, default_value_t = 3)]
    http_rounds: usize,
    /// Only the stdio comparison.
    #[arg(long)]
    no_http: bool,
    /// Leave out the telemetry comparison (part 4).
    #[arg(long)]
    no_telemetry: bool,
    /// `initialize` requests of the session flood (none closes its session).
    #[arg(long, default_value_t = 100_000)]
    session_attempts: usize,
    /// Concurrent connections of the session flood.
    #[arg(long, default_value_t = 4)]
    session_connections: usize,
}

/// The programs and the directory the gateway runs in.
struct Setup {
    upstream: PathBuf,
    upstream_args: Vec<String>,
    switchboard: PathBuf,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn upstream(&self, http: bool, log: &str) -> anyhow::Result<Command> {
        let mut command = Command::new(&self.upstream);
        command.args(&self.upstream_args).env("RUST_LOG", "warn");
        if http {
            command.args(["--http", "127.0.0.1:0"]);
        }
        self.log_to(&mut command, log)?;
        Ok(command)
    }

    /// `switchboard serve` as a user starts it: their config file, `RUST_LOG` unset.
    fn gateway(&self, http: bool, log: &str) -> anyhow::Result<Command> {
        let mut command = Command::new(&self.switchboard);
        command.arg("serve").arg("-c").arg(&self.config);
        if http {
            command.args(["--http", "127.0.0.1:0"]);
        }
        command
            .env_remove("RUST_LOG")
            .env_remove("SWITCHBOARD_CONFIG")
            .current_dir(self.dir.path());
        self.log_to(&mut command, log)?;
        Ok(command)
    }

    /// The floor relay in front of the upstream: `relay` (stdio) or `relay-http`.
    fn floor(&self, http: bool, log: &str) -> anyhow::Result<Command> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg(if http { "relay-http" } else { "relay" })
            .arg(&self.upstream)
            .args(&self.upstream_args)
            .env("RUST_LOG", "warn");
        self.log_to(&mut command, log)?;
        Ok(command)
    }

    /// Sends stderr (and, for a server that prints its address there, stdout) to `name`.
    fn log_to(&self, command: &mut Command, name: &str) -> anyhow::Result<()> {
        let file = File::create(self.dir.path().join(name))?;
        command.stdout(file.try_clone()?).stderr(file);
        Ok(())
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let switchboard = crate::sibling(args.switchboard.as_ref(), "switchboard", "--switchboard")?;
    let upstream = crate::sibling(
        args.upstream.as_ref(),
        "switchboard-conformance-fixture",
        "--upstream",
    )?;
    ensure!(
        args.rounds > 0 && args.samples > 0,
        "--rounds and --samples must be positive"
    );
    let dir = tempfile::Builder::new().prefix("sb-bench-").tempdir()?;
    let config = dir.path().join("switchboard.toml");
    let quote = |s: &str| Value::String(s.to_owned()).to_string();
    let upstream_args: Vec<String> = args.upstream_arg.iter().map(|a| quote(a)).collect();
    let text = format!(
        "# switchboard-bench: one stdio server behind the gateway, every other setting default.\n\
         [audit]\npath = \"audit.jsonl\"\n\n[servers.upstream]\ncommand = {}\nargs = [{}]\n",
        quote(&upstream.to_string_lossy()),
        upstream_args.join(", "),
    );
    std::fs::write(&config, &text)?;
    let setup = Setup {
        upstream,
        upstream_args: args.upstream_arg.clone(),
        switchboard,
        dir,
        config,
    };
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nswitchboard serve fronting {} (tool {}), {cpus} CPUs; config {}:\n{text}",
        setup.upstream.display(),
        args.tool,
        setup.config.display(),
    );
    figure("figure", "switchboard", "baseline", "sb/base  goal");
    let (stdio, mut through_gateway, exposed) = stdio(&setup, &args).await?;
    let http = if args.no_http {
        Value::Null
    } else {
        let (figures, calls) = http_runs(&setup, &args, &exposed).await?;
        through_gateway += calls;
        figures
    };
    println!("  sessions (2025-11-25, default caps):");
    let sessions = sessions::run(
        &setup,
        &exposed,
        args.session_attempts,
        args.session_connections,
    )
    .await?;
    through_gateway += 2; // the checked calls before and after the flood
    let records = count_call_records(&setup.audit_path())?;
    figure(
        "audit records / calls through the gateway",
        &records.to_string(),
        &through_gateway.to_string(),
        "",
    );
    ensure!(
        records == through_gateway,
        "{records} audit records for {through_gateway} calls: expected one per call"
    );
    let telemetry = if args.no_telemetry {
        Value::Null
    } else {
        crate::traces::compare_telemetry(
            &setup.switchboard,
            (&setup.upstream, &setup.upstream_args),
            &args.tool,
            [args.rounds, args.samples, args.warmup],
        )
        .await?
    };
    let figures = json!({
        "cpus": cpus, "upstream": setup.upstream.display().to_string(), "tool": args.tool,
        "audit": {"on": true, "fsync": false, "records": records}, "stdio": stdio, "http": http,
        "sessions": sessions, "telemetry": telemetry,
    });
    println!("\n{figures}");
    Ok(())
}

/// Part 1 (and the stdio gateway's memory); returns the figures, the calls made through the
/// gateway and the tool's name there.
///
/// Three sides are called in turn, call by call: the server directly, the gateway in front of it,
/// and the floor — the bare line relay of [`crate::relay`] in front of the same server, which
/// does nothing a relay could leave out. CPU is read from `/proc` around each round's calls only
/// (pings are timed in a loop of their own), so it is CPU per relayed call.
async fn stdio(setup: &Setup, args: &Args) -> anyhow::Result<(Value, u64, String)> {
    let mut direct = Server::spawn(
        setup.upstream(false, "upstream-stdio.log")?,
        &setup.upstream,
    )?;
    direct.handshake().await?;
    let mut gateway = Server::spawn(
        setup.gateway(false, "gateway-stdio.log")?,
        &setup.switchboard,
    )?;
    gateway.handshake().await?;
    let this = std::env::current_exe()?;
    let mut floor = Server::spawn(setup.floor(false, "relay-stdio.log")?, &this)?;
    floor.handshake().await?;
    let listed = gateway.request("tools/list", json!({})).await?;
    let tool = exposed_name(&listed, &args.tool)?;
    let after_start = Memory::of(gateway.pid());
    let mut sides = [direct, gateway, floor];
    let names = [args.tool.as_str(), tool.as_str(), args.tool.as_str()];
    let no_args = || json!({});
    for _ in 0..args.warmup {
        for (server, name) in sides.iter_mut().zip(names) {
            server.call(name, no_args()).await?;
        }
    }
    // Per round: a call direct, through the gateway and through the floor relay; a ping direct
    // and to the gateway.
    let mut rounds: Vec<[Summary; 5]> = Vec::new();
    let pids = sides.each_ref().map(Server::pid);
    // CPU of: the server called directly, the gateway, the server behind it, the floor relay.
    let cpu = || -> [Duration; 4] {
        let behind = |pid| children(pid).into_iter().map(cpu_time).sum();
        [
            cpu_time(pids[0]),
            cpu_time(pids[1]),
            behind(pids[1]),
            cpu_time(pids[2]),
        ]
    };
    let mut cpu_spent = [Duration::ZERO; 4];
    for _ in 0..args.rounds {
        let mut samples: [Vec<Duration>; 5] = Default::default();
        let cpu_before = cpu();
        for i in 0..args.samples {
            // Rotate which side goes first, so none always runs on a just-woken CPU.
            for k in 0..3 {
                let side = (i + k) % 3;
                let began = Instant::now();
                sides[side].call(names[side], no_args()).await?;
                samples[side].push(began.elapsed());
            }
        }
        for (spent, (after, before)) in cpu_spent.iter_mut().zip(cpu().into_iter().zip(cpu_before))
        {
            *spent += after.saturating_sub(before);
        }
        for i in 0..args.samples {
            for k in 0..2 {
                let side = (i + k) % 2;
                let began = Instant::now();
                sides[side].request("ping", json!({})).await?;
                samples[3 + side].push(began.elapsed());
            }
        }
        rounds.push(samples.map(|kept| Summary::of(&kept)));
    }
    let calls = u32::try_from(args.rounds * args.samples).unwrap_or(u32::MAX);
    let cpu = cpu_spent.map(|spent| spent / calls);
    let after_runs = Memory::of(pids[1]);
    for server in sides {
        server.stop().await?;
    }
    let pick = |side: usize, p: fn(&Summary) -> Duration| -> Duration {
        median(rounds.iter().map(|r| p(&r[side])).collect())
    };
    // What `side` adds to the direct call, per round; the median over rounds.
    let added = |side: usize, p: fn(&Summary) -> Duration| -> Duration {
        median(
            rounds
                .iter()
                .map(|r| p(&r[side]).saturating_sub(p(&r[0])))
                .collect(),
        )
    };
    let n = args.samples;
    let label = format!("stdio tools/call p50 ({} x {n}, medians)", args.rounds);
    compare(&label, pick(1, p50), pick(0, p50), "direct", "");
    compare(
        "stdio tools/call p99",
        pick(1, p99),
        pick(0, p99),
        "direct",
        "",
    );
    let spread: Vec<Duration> = rounds
        .iter()
        .map(|r| r[1].p50.saturating_sub(r[0].p50))
        .collect();
    let (low, high) = (spread.iter().min(), spread.iter().max());
    compare(
        "  added p50",
        added(1, p50),
        added(2, p50),
        "floor",
        "<= 30 us",
    );
    let range = format!(
        "{} .. {}",
        dur(*low.unwrap_or(&Duration::ZERO)),
        dur(*high.unwrap_or(&Duration::ZERO))
    );
    figure("  added p50, range over rounds", &range, "", "");
    compare(
        "  added p99",
        added(1, p99),
        added(2, p99),
        "floor",
        "<= 60 us",
    );
    compare(
        "  MCP ping p50 (answered by the gateway)",
        pick(4, p50),
        pick(3, p50),
        "direct",
        "<= 1.2x",
    );
    compare(
        "  gateway CPU per relayed call",
        cpu[1],
        cpu[3],
        "floor",
        "<= 30 us",
    );
    compare(
        "  server CPU per call, behind the gateway",
        cpu[2],
        cpu[0],
        "direct",
        "",
    );
    for (when, memory) in [("start", after_start), ("the stdio runs", after_runs)] {
        let label = format!("gateway (stdio) RSS/peak/anon after {when}");
        figure(&label, &memory.to_string(), "", "");
    }
    let summaries =
        |side: usize| json!({"p50_us": us(pick(side, p50)), "p99_us": us(pick(side, p99))});
    let figures = json!({
        "rounds": args.rounds, "samples": n, "warmup": args.warmup, "tool": tool,
        "direct": summaries(0), "gateway": summaries(1), "floor_relay": summaries(2),
        "added_p50_us": {"gateway": us(added(1, p50)), "floor_relay": us(added(2, p50))},
        "added_p99_us": {"gateway": us(added(1, p99)), "floor_relay": us(added(2, p99))},
        "ping": {"direct": summaries(3), "gateway": summaries(4)},
        "cpu_us_per_call": {"direct_server": us(cpu[0]), "gateway": us(cpu[1]),
                            "server_behind_gateway": us(cpu[2]), "floor_relay": us(cpu[3])},
        "gateway_memory": {"after_start": after_start.json(), "after_runs": after_runs.json()},
    });
    let calls = (args.warmup + args.rounds * n) as u64;
    Ok((figures, calls, tool))
}

fn p50(summary: &Summary) -> Duration {
    summary.p50
}

fn p99(summary: &Summary) -> Duration {
    summary.p99
}

/// The name under which the gateway exposes `tool` (prefixed or not) in a `tools/list` result.
fn exposed_name(listed: &Value, tool: &str) -> anyhow::Result<String> {
    let suffix = format!("__{tool}");
    listed["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .find(|name| *name == tool || name.ends_with(&suffix))
        .map(str::to_owned)
        .with_context(|| format!("the gateway lists no {tool}: {listed}"))
}

/// One HTTP server process (the upstream or the gateway) and its `/mcp` URL.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    /// Starts `command` and waits for the address it prints to `log`.
    async fn start(mut command: Command, log: &Path) -> anyhow::Result<Self> {
        let mut child = command.stdin(Stdio::null()).kill_on_drop(true).spawn()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let printed = ["listening on ", "serving MCP on "]
                .iter()
                .find_map(|marker| text.split_once(marker).map(|(_, rest)| rest));
            if let Some(rest) = printed {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                break match addr.starts_with("http") {
                    true => addr.to_owned(),
                    false => format!("http://{addr}/mcp"),
                };
            }
            if let Some(status) = child.try_wait()? {
                bail!("exited ({status}) before serving HTTP: {text}");
            }
            ensure!(
                Instant::now() < deadline,
                "no address printed in 20 s: {text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Ok(Self { child, url })
    }

    /// The endpoint calling `tool` in `era`, checked with one call.
    async fn endpoint(&self, tool: &str, era: Era) -> anyhow::Result<Arc<Endpoint>> {
        let endpoint = Arc::new(Endpoint::tools_call(&self.url, tool, era)?);
        endpoint
            .checked_call()
            .await
            .with_context(|| format!("first {} call to {}", era.protocol(), self.url))?;
        Ok(endpoint)
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

/// One HTTP run's figures.
struct Run {
    load: Load,
    /// CPU used during the run by the server side (the front and the server behind it, or the
    /// server alone), by the front process alone (the gateway or the floor relay), and by this
    /// program.
    server_cpu: Duration,
    front_cpu: Duration,
    bench_cpu: Duration,
}

/// The sides of an HTTP run: the server's own endpoint, the gateway in front of the server over
/// stdio, and the floor relay in front of the same server.
const HTTP_SIDES: usize = 3;

/// Part 2 (and the HTTP gateway's memory), calling the tool by its `exposed` name through the
/// gateway, in both eras; returns the figures and the calls made through the gateway.
async fn http_runs(setup: &Setup, args: &Args, exposed: &str) -> anyhow::Result<(Value, u64)> {
    let log = setup.dir.path().join("upstream-http.log");
    let direct = Served::start(setup.upstream(true, "upstream-http.log")?, &log).await?;
    let log = setup.dir.path().join("gateway-http.log");
    let gateway = Served::start(setup.gateway(true, "gateway-http.log")?, &log).await?;
    let log = setup.dir.path().join("relay-http.log");
    let floor = Served::start(setup.floor(true, "relay-http.log")?, &log).await?;
    let gateway_pid = gateway.pid();
    let after_start = Memory::of(gateway_pid);
    let warmup = Duration::from_secs(1);
    let window = Duration::from_secs_f64(args.seconds);
    let mut calls = 0;
    let mut eras = Vec::new();
    for era in [Era::Stateless, Era::Sessions] {
        println!("  HTTP, protocol {}:", era.protocol());
        let endpoints = [
            direct.endpoint(&args.tool, era).await?,
            gateway.endpoint(exposed, era).await?,
            floor.endpoint(&args.tool, era).await?,
        ];
        calls += 1; // the checked first call
        let mut levels = Vec::new();
        for &n in &args.clients {
            let mut runs: [Vec<Run>; HTTP_SIDES] = Default::default();
            for round in 0..args.http_rounds {
                // Rotate which side goes first, so none always runs after the same one.
                for k in 0..HTTP_SIDES {
                    let side = (round + k) % HTTP_SIDES;
                    let front = [None, Some(gateway.pid()), Some(floor.pid())][side];
                    let server_pids: Vec<u32> = match front {
                        None => vec![direct.pid()],
                        Some(pid) => [vec![pid], children(pid)].concat(),
                    };
                    let cpu = || -> [Duration; 3] {
                        let server = server_pids.iter().map(|&p| cpu_time(p)).sum();
                        let front = front.map_or(Duration::ZERO, cpu_time);
                        [server, front, cpu_time(std::process::id())]
                    };
                    let before = cpu();
                    let load = http::load(&endpoints[side], n, warmup, window).await?;
                    let after = cpu();
                    if side == 1 {
                        calls += load.calls;
                    }
                    // CPU over warm-up and window together, per call made in both.
                    runs[side].push(Run {
                        server_cpu: after[0] - before[0],
                        front_cpu: after[1] - before[1],
                        bench_cpu: after[2] - before[2],
                        load,
                    });
                }
            }
            levels.push(level(n, &runs, args));
        }
        eras.push(json!({"protocol": era.protocol(), "levels": levels}));
    }
    let after_runs = Memory::of(gateway_pid);
    for (when, memory) in [("start", after_start), ("the HTTP runs", after_runs)] {
        let label = format!("gateway (HTTP) RSS/peak/anon after {when}");
        figure(&label, &memory.to_string(), "", "");
    }
    drop((direct, gateway, floor));
    let figures = json!({
        "seconds": args.seconds, "runs": args.http_rounds, "eras": eras,
        "gateway_memory": {"after_start": after_start.json(), "after_runs": after_runs.json()},
    });
    Ok((figures, calls))
}

/// Prints and returns the figures of one client count: medians over runs.
fn level(n: usize, runs: &[Vec<Run>; HTTP_SIDES], args: &Args) -> Value {
    let rate = |side: usize| median(runs[side].iter().map(|r| r.load.rate()).collect());
    let summary = |side: usize, p: fn(&Summary) -> Duration| {
        median(
            runs[side]
                .iter()
                .map(|r| p(&Summary::of(&r.load.latencies)))
                .collect(),
        )
    };
    let per_call = |side: usize, cpu: fn(&Run) -> Duration| -> Duration {
        median(
            runs[side]
                .iter()
                .map(|r| cpu(r) / u32::try_from(r.load.calls.max(1)).unwrap_or(u32::MAX))
                .collect(),
        )
    };
    let (gw, base, floor) = (rate(1), rate(0), rate(2));
    let label = format!(
        "HTTP {n} clients: calls/s ({} x {} s)",
        args.http_rounds, args.seconds
    );
    figure(
        &label,
        &format!("{gw:.0}"),
        &format!("{base:.0} direct"),
        &format!("{:>7.2}x  >= 0.9x", gw / base.max(1e-9)),
    );
    figure(
        "  floor relay calls/s",
        &format!("{floor:.0}"),
        &format!("{base:.0} direct"),
        &format!("{:>7.2}x", floor / base.max(1e-9)),
    );
    let p99_goal = if n == 32 { "<= 2 ms" } else { "" };
    // The gateway against the server called directly, then against the floor front.
    let against_both = |label: &str, of: &dyn Fn(usize) -> Duration, goal: &str| {
        compare(label, of(1), of(0), "direct", goal);
        compare(label, of(1), of(2), "floor", "");
    };
    against_both("  p50", &|side| summary(side, p50), "");
    against_both("  p99", &|side| summary(side, p99), p99_goal);
    against_both(
        "  server-side CPU per call",
        &|side| per_call(side, |r| r.server_cpu),
        "",
    );
    compare(
        "    of which the gateway process",
        per_call(1, |r| r.front_cpu),
        per_call(2, |r| r.front_cpu),
        "floor",
        "<= 30 us",
    );
    let bench = (per_call(1, |r| r.bench_cpu), per_call(0, |r| r.bench_cpu));
    figure(
        "  bench client CPU per call",
        &dur(bench.0),
        &format!("{} direct", dur(bench.1)),
        "",
    );
    let json_of = |side: usize| {
        json!({
            "calls_per_s": rate(side).round(),
            "p50_us": us(summary(side, p50)), "p99_us": us(summary(side, p99)),
            "server_cpu_us_per_call": us(per_call(side, |r| r.server_cpu)),
            "bench_cpu_us_per_call": us(per_call(side, |r| r.bench_cpu)),
        })
    };
    json!({
        "clients": n, "gateway": json_of(1), "direct": json_of(0), "floor_relay": json_of(2),
        "gateway_process_cpu_us_per_call": us(per_call(1, |r| r.front_cpu)),
        "floor_relay_process_cpu_us_per_call": us(per_call(2, |r| r.front_cpu)),
        "ratio_calls_per_s": gw / base.max(1e-9),
        "floor_ratio_calls_per_s": floor / base.max(1e-9),
        "ratio_p50": secs(summary(1, p50)) / secs(summary(0, p50)),
    })
}

/// The median (upper, for an even count) of `values`; the default when there are none.
fn median<T: Copy + PartialOrd + Default>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The records of calls in an audit file (0 when it does not exist): every line but the pin
/// records the gateway writes when it first sees each tool (layer `pins`).
fn count_call_records(path: &Path) -> anyhow::Result<u64> {
    let Ok(file) = File::open(path) else {
        return Ok(0);
    };
    let mut count = 0;
    for line in BufReader::new(file).split(b'\n') {
        let record: Value = serde_json::from_slice(&line?).context("an audit line")?;
        if record["layer"] != "pins" {
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_exposed_names() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4, 1, 3, 2]), 3);
        assert_eq!(median(Vec::<u64>::new()), 0);
        let listed = json!({"tools": [{"name": "a__echo"}, {"name": "up__test_simple_text"}]});
        assert_eq!(
            exposed_name(&listed, "test_simple_text").unwrap(),
            "up__test_simple_text"
        );
        assert_eq!(
            exposed_name(&json!({"tools": [{"name": "echo"}]}), "echo").unwrap(),
            "echo"
        );
        assert!(exposed_name(&listed, "nope").is_err());
    }

    #[test]
    fn pin_records_are_not_calls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let lines = [
            json!({"tool": "up__a", "layer": "pins", "outcome": "pinned"}),
            json!({"tool": "up__a", "outcome": "ok"}),
            json!({"tool": "up__a", "layer": "authorize", "outcome": "refused"}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(count_call_records(&path).unwrap(), 2);
        assert_eq!(count_call_records(&dir.path().join("none")).unwrap(), 0);
    }
}
