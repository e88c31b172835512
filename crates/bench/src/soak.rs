//! `switchboard-bench soak --minutes N`: the gateway under mixed load and faults for a long time.
//!
//! `switchboard serve --http` fronts the three built-in servers (PostgreSQL on the real server,
//! Jira and Slack on the testkit fakes) and server-everything from npm over stdio. Python MCP SDK
//! clients in both protocol eras call tools concurrently while the fault schedule ([`faults`])
//! kills children, cuts database connections, stops Redis, makes the fakes fail and sends
//! malformed requests. Every `--sample` seconds it prints the calls so far and the gateway's RSS,
//! open descriptors, threads and children. At the end: calls by outcome, every unexpected error,
//! `switchboard audit verify`, and the count checks — every answered call audited exactly once,
//! no Jira issue or Slack message created twice, none reported created but missing.
//!
//! Exits non-zero when a check fails.

mod clients;
mod faults;
mod report;
pub(crate) mod setup;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokio_util::sync::CancellationToken;

use crate::stats::{Memory, children, mb};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How long the clients call.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Concurrent clients (half in each protocol era).
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Seconds between samples.
    #[arg(long, default_value_t = 30)]
    sample: u64,
    /// Seconds between faults.
    #[arg(long, default_value_t = 10)]
    fault_every: u64,
    /// The switchboard binary [default: the one next to this program].
    #[arg(long, value_name = "PATH")]
    switchboard: Option<PathBuf>,
    /// A Python with the `mcp` package [default: target/test-tools/py/bin/python, which
    /// scripts/setup installs].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
}

/// One sample of the gateway process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) at: Duration,
    pub(crate) calls: u64,
    pub(crate) rss_kb: u64,
    pub(crate) fds: usize,
    pub(crate) threads: u64,
    pub(crate) children: usize,
    pub(crate) children_rss_kb: u64,
}

fn sample(pid: u32, at: Duration, calls: u64) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let kids = children(pid);
    Sample {
        at,
        calls,
        rss_kb: Memory::of(pid).rss_kb,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count),
        threads,
        children: kids.len(),
        children_rss_kb: kids.iter().map(|k| Memory::of(*k).rss_kb).sum(),
    }
}

fn print_sample(s: &Sample) {
    println!(
        "{:>7.0}s {:>9} {:>9} {:>5} {:>8} {:>9} {:>12}",
        s.at.as_secs_f64(),
        s.calls,
        mb(s.rss_kb),
        s.fds,
        s.threads,
        s.children,
        mb(s.children_rss_kb),
    );
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let switchboard = crate::sibling(args.switchboard.as_ref(), "switchboard", "--switchboard")?;
    let python = match &args.python {
        Some(python) => python.clone(),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/py/bin/python")
        }
    };
    ensure!(
        python.is_file(),
        "no {}: run scripts/setup or pass --python",
        python.display()
    );
    let seconds = (args.minutes * 60.0).round().max(1.0) as u64;
    let dir = tempfile::Builder::new().prefix("sb-soak-").tempdir()?;
    let backends = setup::Backends::start(dir.path()).await?;
    let config = dir.path().join("switchboard.toml");
    let text = backends.config();
    std::fs::write(&config, &text)?;
    let backends = Arc::new(tokio::sync::Mutex::new(backends));
    let (mut gateway, url) = setup::gateway(&switchboard, dir.path(), &config).await?;
    let pid = gateway.id().context("gateway pid")?;
    println!(
        "soak: {} min, {} clients (both eras), a fault every {} s; gateway {url} (pid {pid}), \
         files in {}\n{text}",
        args.minutes,
        args.clients,
        args.fault_every,
        dir.path().display()
    );

    let tally = Arc::new(Mutex::new(clients::Tally::default()));
    let started = Instant::now();
    let mut set = clients::spawn(&python, &url, args.clients, seconds, tally.clone())?;
    let stop = CancellationToken::new();
    let log = Arc::new(Mutex::new(faults::Log::default()));
    let schedule = tokio::spawn({
        let (backends, url, dir, stop, log) = (
            backends.clone(),
            url.clone(),
            dir.path().to_owned(),
            stop.clone(),
            log.clone(),
        );
        let every = Duration::from_secs(args.fault_every.max(1));
        async move { faults::run(backends, pid, url, &dir, every, stop, log).await }
    });
    println!(
        "{:>8} {:>9} {:>9} {:>5} {:>8} {:>9} {:>12}",
        "time", "calls", "RSS MB", "fds", "threads", "children", "children MB"
    );
    let calls = || {
        tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .calls()
    };
    let mut samples = vec![sample(pid, started.elapsed(), calls())];
    print_sample(&samples[0]);
    let mut tick = tokio::time::interval(Duration::from_secs(args.sample.max(1)));
    tick.tick().await;
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(result) => { result??; }
                None => break,
            },
            _ = tick.tick() => {
                let s = sample(pid, started.elapsed(), calls());
                print_sample(&s);
                samples.push(s);
            }
        }
    }
    stop.cancel();
    let _ = schedule.await;
    // Let calls in flight and restarts settle, then take the last sample and stop the gateway.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let last = sample(pid, started.elapsed(), calls());
    print_sample(&last);
    samples.push(last);
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let exit = tokio::time::timeout(Duration::from_secs(30), gateway.wait()).await;
    let backends = backends.lock().await;
    let tally = std::mem::take(
        &mut *tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let log = std::mem::take(
        &mut *log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let end = report::End {
        switchboard: &switchboard,
        dir: dir.path(),
        drained: exit.is_ok(),
    };
    report::report(&end, &backends, &tally, &log, &samples).await
}
