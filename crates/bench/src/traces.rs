//! `switchboard-bench traces`: what telemetry costs a call. Two `switchboard serve` gateways over
//! stdio in one run, each fronting its own copy of the same MCP server, the same configuration
//! (audit on): one with telemetry off (OpenTelemetry's environment unset, so no exporter exists,
//! and no metrics listener), one with both on — every span exported over OTLP to a local
//! collector that accepts and discards (counting what it got), and `/metrics` served on
//! `[telemetry] metrics_addr` and scraped every second. Calls alternate between the two; figures
//! are medians over rounds. The gateway counts its metrics whether or not anyone reads them; what
//! that counting costs a call is measured on its own, in this process.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::mcp::Server;
use crate::stats::{Summary, children, cpu_time, us};
use crate::table::{compare, dur, figure};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The MCP server behind both gateways [default: switchboard-conformance-fixture next to
    /// this program].
    #[arg(long, value_name = "PATH")]
    upstream: Option<PathBuf>,
    /// The upstream's tool to call, without arguments.
    #[arg(long, default_value = "test_simple_text")]
    tool: String,
    /// The switchboard binary [default: the one next to this program].
    #[arg(long, value_name = "PATH")]
    switchboard: Option<PathBuf>,
    /// Rounds (figures are medians over rounds).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Timed calls per side in each round.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Untimed calls per side first.
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
}

/// An OTLP/HTTP collector that answers every export with 200 and counts requests and bytes.
async fn collector() -> anyhow::Result<(String, Arc<[AtomicU64; 2]>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let counts: Arc<[AtomicU64; 2]> = Arc::default();
    let seen = counts.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    // One request at a time: headers, then Content-Length bytes of body.
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < end + 4 + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.drain(..end + 4 + length);
                    seen[0].fetch_add(1, Ordering::Relaxed);
                    seen[1].fetch_add(length as u64, Ordering::Relaxed);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((address, counts))
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
    let figures = compare_telemetry(
        &switchboard,
        (&upstream, &[]),
        &args.tool,
        [args.rounds, args.samples, args.warmup],
    )
    .await?;
    println!("\n{figures}");
    Ok(())
}

/// The comparison, printed as a table: `switchboard` fronting `upstream` (program, arguments)
/// with telemetry on and off, calling `tool`; `rounds` of `samples` timed calls per side after
/// `warmup` untimed ones. Returns the figures.
pub(crate) async fn compare_telemetry(
    switchboard: &std::path::Path,
    (upstream, upstream_args): (&std::path::Path, &[String]),
    tool: &str,
    [rounds, samples, warmup]: [usize; 3],
) -> anyhow::Result<Value> {
    let dir = tempfile::Builder::new()
        .prefix("sb-bench-traces-")
        .tempdir()?;
    let (endpoint, received) = collector().await?;
    let metrics_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let mut sides = Vec::new();
    for (name, exporting) in [("off", false), ("on", true)] {
        let config = dir.path().join(format!("{name}.toml"));
        let telemetry = if exporting {
            format!("[telemetry]\nmetrics_addr = \"{metrics_addr}\"\n")
        } else {
            String::new()
        };
        std::fs::write(
            &config,
            format!(
                "{telemetry}[audit]\npath = \"audit-{name}.jsonl\"\n[servers.upstream]\ncommand = {}\nargs = {}\n",
                Value::String(upstream.to_string_lossy().into_owned()),
                json!(upstream_args),
            ),
        )?;
        let mut command = Command::new(switchboard);
        command
            .arg("serve")
            .arg("-c")
            .arg(&config)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stderr(std::fs::File::create(
                dir.path().join(format!("{name}.log")),
            )?);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
            command.env_remove(key);
        }
        if exporting {
            command.env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
        }
        let mut server = Server::spawn(command, switchboard)?;
        server.handshake().await?;
        sides.push(server);
    }
    let scrapes = Arc::new(AtomicU64::new(0));
    let scraper = tokio::spawn(scrape_every_second(metrics_addr, scrapes.clone()));
    for _ in 0..warmup {
        for side in &mut sides {
            side.call(tool, json!({})).await?;
        }
    }
    let pids: Vec<u32> = sides.iter().map(Server::pid).collect();
    let cpu = || -> Vec<Duration> {
        pids.iter()
            .map(|pid| {
                [vec![*pid], children(*pid)]
                    .concat()
                    .into_iter()
                    .map(cpu_time)
                    .sum()
            })
            .collect()
    };
    let cpu_before = cpu();
    let mut by_round: Vec<[Summary; 2]> = Vec::new();
    for _ in 0..rounds {
        let mut timed: [Vec<Duration>; 2] = Default::default();
        for i in 0..samples {
            for side in [i % 2, 1 - i % 2] {
                let began = Instant::now();
                sides[side].call(tool, json!({})).await?;
                timed[side].push(began.elapsed());
            }
        }
        by_round.push(timed.map(|kept| Summary::of(&kept)));
    }
    let calls = u32::try_from(rounds * samples).unwrap_or(u32::MAX);
    let cpu: Vec<Duration> = cpu()
        .iter()
        .zip(cpu_before)
        .map(|(after, before)| (*after - before) / calls)
        .collect();
    scraper.abort();
    let counted = calls_counted(&scrape(metrics_addr).await?);
    let made = u64::try_from(warmup + rounds * samples)?;
    ensure!(
        counted == made,
        "the gateway's metrics count {counted} tool calls, {made} were made"
    );
    for side in sides {
        side.stop().await?;
    }
    let counting = counting_cost(tool);
    let median = |mut values: Vec<Duration>| {
        values.sort_unstable();
        values[values.len() / 2]
    };
    let p50 = |side: usize| median(by_round.iter().map(|r| r[side].p50).collect());
    let p99 = |side: usize| median(by_round.iter().map(|r| r[side].p99).collect());
    let added = median(
        by_round
            .iter()
            .map(|r| r[1].p50.saturating_sub(r[0].p50))
            .collect(),
    );
    println!(
        "\ntelemetry on (traces exported, /metrics scraped every second) vs off: two stdio \
         gateways fronting {}, audit on, {} x {} calls each, alternating\n",
        upstream.display(),
        rounds,
        samples
    );
    figure("figure", "on", "off", "on/off");
    compare(
        "tools/call p50 (medians over rounds)",
        p50(1),
        p50(0),
        "off",
        "",
    );
    compare("tools/call p99", p99(1), p99(0), "off", "");
    figure("  added p50", &dur(added), "", "");
    compare(
        "CPU per call, gateway + its server",
        cpu[1],
        cpu[0],
        "off",
        "",
    );
    let (requests, bytes) = (
        received[0].load(Ordering::Relaxed),
        received[1].load(Ordering::Relaxed),
    );
    figure(
        "OTLP exports received / bytes",
        &format!("{requests} / {bytes}"),
        "",
        "",
    );
    figure(
        "/metrics scrapes (calls counted = made)",
        &format!("{} ({counted})", scrapes.load(Ordering::Relaxed)),
        "",
        "",
    );
    figure(
        "counting a call's metrics (always on), in-process",
        &format!("{:.0} ns", counting.as_secs_f64() * 1e9),
        "",
        "",
    );
    ensure!(requests > 0, "the exporting gateway sent no spans");
    Ok(json!({
            "rounds": rounds, "samples": samples,
            "p50_us": {"on": us(p50(1)), "off": us(p50(0))},
            "p99_us": {"on": us(p99(1)), "off": us(p99(0))},
            "added_p50_us": us(added),
            "cpu_us_per_call": {"on": us(cpu[1]), "off": us(cpu[0])},
            "otlp": {"requests": requests, "bytes": bytes},
            "metrics": {"scrapes": scrapes.load(Ordering::Relaxed), "calls_counted": counted,
                        "counting_ns_per_call": counting.as_secs_f64() * 1e9},
    }))
}

/// Scrapes `/metrics` at `addr` every second, as a Prometheus server at a short interval would,
/// counting the scrapes answered.
async fn scrape_every_second(addr: std::net::SocketAddr, scrapes: Arc<AtomicU64>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        if scrape(addr).await.is_ok() {
            scrapes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One `GET /metrics`: the body.
async fn scrape(addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("/metrics answered no HTTP response"))?;
    ensure!(head.starts_with("HTTP/1.1 200"), "/metrics answered {head}");
    Ok(body.to_owned())
}

/// The tool calls a Prometheus exposition counts, whatever their labels.
fn calls_counted(exposition: &str) -> u64 {
    exposition
        .lines()
        .filter(|line| line.starts_with("switchboard_tool_calls_total{"))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// What the gateway's counting of one call costs (its counter and its histogram), measured here
/// on the gateway's own metrics: the median of five runs of 200,000.
fn counting_cost(tool: &str) -> Duration {
    let metrics = switchboard_gateway::telemetry::metrics::Metrics::new();
    let took = Duration::from_micros(250);
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let began = Instant::now();
            for _ in 0..200_000 {
                metrics.call(tool, "upstream", "stdio", "ok", None, took);
            }
            began.elapsed() / 200_000
        })
        .collect();
    runs.sort_unstable();
    runs[2]
}

#[cfg(test)]
mod tests {
    #[test]
    fn calls_are_counted_across_labels_and_nothing_else() {
        let exposition = "# TYPE switchboard_tool_calls_total counter\n\
            switchboard_tool_calls_total{tool=\"a\",outcome=\"ok\"} 3\n\
            switchboard_tool_calls_total{tool=\"b\",outcome=\"error\"} 2\n\
            switchboard_refusals_total{layer=\"scopes\"} 7\n";
        assert_eq!(super::calls_counted(exposition), 5);
    }
}
