//! `switchboard-bench traces`: what exporting traces costs a call. Two `switchboard serve`
//! gateways over stdio in one run, each fronting its own copy of the same MCP server, the same
//! configuration (audit and metrics on): one with OpenTelemetry's environment unset (no exporter
//! exists), one exporting every span over OTLP to a local collector that accepts and discards
//! (counting what it got). Calls alternate between the two; figures are medians over rounds.

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
    let dir = tempfile::Builder::new()
        .prefix("sb-bench-traces-")
        .tempdir()?;
    let (endpoint, received) = collector().await?;
    let mut sides = Vec::new();
    for (name, exporting) in [("off", false), ("on", true)] {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[audit]\npath = \"audit-{name}.jsonl\"\n[servers.upstream]\ncommand = {}\n",
                Value::String(upstream.to_string_lossy().into_owned())
            ),
        )?;
        let mut command = Command::new(&switchboard);
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
        let mut server = Server::spawn(command, &switchboard)?;
        server.handshake().await?;
        sides.push(server);
    }
    let tool = args.tool.as_str();
    for _ in 0..args.warmup {
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
    let mut rounds: Vec<[Summary; 2]> = Vec::new();
    for _ in 0..args.rounds {
        let mut samples: [Vec<Duration>; 2] = Default::default();
        for i in 0..args.samples {
            for side in [i % 2, 1 - i % 2] {
                let began = Instant::now();
                sides[side].call(tool, json!({})).await?;
                samples[side].push(began.elapsed());
            }
        }
        rounds.push(samples.map(|kept| Summary::of(&kept)));
    }
    let calls = u32::try_from(args.rounds * args.samples).unwrap_or(u32::MAX);
    let cpu: Vec<Duration> = cpu()
        .iter()
        .zip(cpu_before)
        .map(|(after, before)| (*after - before) / calls)
        .collect();
    for side in sides {
        side.stop().await?;
    }
    let median = |mut values: Vec<Duration>| {
        values.sort_unstable();
        values[values.len() / 2]
    };
    let p50 = |side: usize| median(rounds.iter().map(|r| r[side].p50).collect());
    let p99 = |side: usize| median(rounds.iter().map(|r| r[side].p99).collect());
    let added = median(
        rounds
            .iter()
            .map(|r| r[1].p50.saturating_sub(r[0].p50))
            .collect(),
    );
    println!(
        "\ntraces exported vs not: two stdio gateways fronting {}, audit and metrics on, \
         {} x {} calls each, alternating\n",
        upstream.display(),
        args.rounds,
        args.samples
    );
    figure("figure", "traces on", "traces off", "on/off");
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
    ensure!(requests > 0, "the exporting gateway sent no spans");
    println!(
        "\n{}",
        json!({
            "rounds": args.rounds, "samples": args.samples,
            "p50_us": {"on": us(p50(1)), "off": us(p50(0))},
            "p99_us": {"on": us(p99(1)), "off": us(p99(0))},
            "added_p50_us": us(added),
            "cpu_us_per_call": {"on": us(cpu[1]), "off": us(cpu[0])},
            "otlp": {"requests": requests, "bytes": bytes},
        })
    );
    Ok(())
}
