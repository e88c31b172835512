//! `switchboard-bench fleet`: `switchboard serve --http` replicas sharing their state in Redis
//! behind HAProxy (round robin, the README's "Running a fleet" settings) against one replica
//! called directly, and the PostgreSQL audit sink against the file sink, in one run:
//!
//! 1. `--connections` keep-alive clients calling `query` (`SELECT 1`; 2026-07-28 stateless, with
//!    a client token) back to back: one replica direct (the baseline), then 1, 2 and 3 replicas
//!    through HAProxy; calls/s, p50, p99, and the CPU each process used, per call;
//! 2. the same load on one replica direct with `[audit] path` and with `[audit] sink =
//!    "postgres://…"` on a throwaway database; the records in the file and in the table must
//!    equal the calls answered.
//!
//! Each configuration runs `--rounds` times, interleaved with the others so that drift on a noisy
//! machine falls on all alike; its figures pool the calls of its runs. Every gateway fronts the
//! built-in SQL server over the sample SQLite database; no rate limits, pins off. Everything
//! started is killed on the way out, and the database and the run's Redis keys are removed, also
//! on error or ctrl-c.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow, ensure};
use serde_json::{Value, json};
use switchboard_sql::sqlite::sample;

mod processes;

use crate::http;
use crate::pg;
use crate::stats::{Summary, children, cpu_time, us};
use crate::table::{compare, dur, figure, secs};
use processes::{Fleet, Target, quote, replica_config};

/// Replicas in the largest fleet.
const REPLICAS: usize = 3;

/// The audit comparison's configurations among the targets: after the direct one and the
/// balanced ones.
const FILE: usize = REPLICAS + 1;
const POSTGRES: usize = REPLICAS + 2;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Concurrent clients, one keep-alive HTTP/1.1 connection each.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured seconds of each run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Untimed seconds of load before each run's measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Runs of each configuration, interleaved (its figures pool the calls of all its runs).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The Redis the replicas share (`[state] store`); keys go under a prefix of this run's own,
    /// deleted at the end.
    #[arg(long, default_value = "redis://127.0.0.1:6379/0")]
    redis: String,
    /// PostgreSQL in which to create (and drop) the audit sink's throwaway database.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// The switchboard binary [default: the one next to this program].
    #[arg(long, value_name = "PATH")]
    switchboard: Option<PathBuf>,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let switchboard = crate::sibling(args.switchboard.as_ref(), "switchboard", "--switchboard")?;
    ensure!(
        args.rounds > 0 && args.connections > 0 && args.seconds > 0.0 && args.warmup >= 0.0,
        "--rounds, --connections and --seconds must be positive, --warmup not negative"
    );
    let admin = pg::connect(&args.database_url).await?;
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
    let suffix = format!("{:08x}", seed.subsec_nanos() ^ std::process::id());
    let (database, prefix) = (
        format!("sb_bench_audit_{suffix}"),
        format!("sb-bench-{suffix}"),
    );
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await?;
    let mut sink = url::Url::parse(&args.database_url).context("--database-url")?;
    sink.set_path(&database);
    let redis = args.redis.clone();
    // The work runs in its own task so that ctrl-c or a panic still reaches the clean-up below;
    // aborting it drops every process it started, each killed on drop.
    let mut work = tokio::spawn(measure(args, switchboard, prefix.clone(), sink.to_string()));
    let outcome = tokio::select! {
        joined = &mut work => joined.map_err(anyhow::Error::from).and_then(|r| r),
        _ = tokio::signal::ctrl_c() => {
            work.abort();
            let _ = work.await;
            Err(anyhow!("interrupted"))
        }
    };
    let drop = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
    let dropped = admin.batch_execute(&drop).await;
    let deleted = delete_keys(&redis, &prefix).await;
    let mut figures = outcome?;
    dropped.with_context(|| format!("dropping the database {database}"))?;
    let deleted = deleted.context("deleting the run's Redis keys")?;
    figure(
        "Redis keys written under the run's prefix",
        &deleted.to_string(),
        "",
        "",
    );
    figures["redis_keys"] = json!(deleted);
    println!("\n{figures}");
    Ok(())
}

/// Deletes the keys under `prefix`; how many there were.
async fn delete_keys(url: &str, prefix: &str) -> anyhow::Result<usize> {
    let mut redis = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut redis)
        .await?;
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(&keys)
            .query_async::<()>(&mut redis)
            .await?;
    }
    Ok(keys.len())
}

/// Starts everything, runs the load, prints the table and returns the JSON figures.
async fn measure(
    args: Args,
    switchboard: PathBuf,
    prefix: String,
    sink: String,
) -> anyhow::Result<Value> {
    let dir = tempfile::Builder::new()
        .prefix("sb-bench-fleet-")
        .tempdir()?;
    let db = dir.path().join(sample::FILE_NAME);
    sample::ensure(&db, SystemTime::now()).context("the sample SQLite database")?;
    let config = |audit: &str| replica_config(&args.redis, &prefix, &db, audit);
    let file_audit = config("path = \"audit.jsonl\"");
    let sink_audit = config(&format!("sink = {}", quote(&sink)));
    let fleet = Fleet::start(&switchboard, dir.path(), &file_audit, &sink_audit).await?;
    let audit_db = pg::connect(&sink).await?;
    let settings = audit_db
        .query_one(
            "SELECT current_setting('synchronous_commit'), current_setting('fsync')",
            &[],
        )
        .await?;
    let mut shown = url::Url::parse(&sink)?;
    let _ = shown.set_password(None);
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nswitchboard fleet: {cpus} CPUs, {} clients, {} rounds of {} s (after {} s of \
         warm-up) per configuration. Each replica's configuration (RUST_LOG=warn):\n{file_audit}\n\
         The PostgreSQL sink's replica: [audit] sink = \"{shown}\" (synchronous_commit {}, \
         fsync {}). HAProxy, for 3 replicas:\n{}",
        args.connections,
        args.rounds,
        args.seconds,
        args.warmup,
        settings.get::<_, String>(0),
        settings.get::<_, String>(1),
        fleet.haproxy_config(),
    );
    // The sink's connection, whose CPU a record's insert costs.
    let backends: Vec<u32> = audit_db
        .query(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await?
        .iter()
        .filter_map(|row| u32::try_from(row.get::<_, i32>(0)).ok())
        .collect();
    let targets = fleet.targets(backends)?;
    let tallies = load(&targets, &args).await?;
    let mut figures = print_table(&targets, &tallies);
    let rows: i64 = audit_db
        .query_one("SELECT count(*) FROM switchboard_audit", &[])
        .await?
        .get(0);
    figures["audit_records"] = fleet.check_records(&tallies, u64::try_from(rows)?)?;
    figures["cpus"] = json!(cpus);
    figures["connections"] = json!(args.connections);
    figures["seconds"] = json!(args.seconds);
    figures["warmup_seconds"] = json!(args.warmup);
    figures["rounds"] = json!(args.rounds);
    Ok(figures)
}

/// Prints the table (but for the audit counts); returns the figures.
fn print_table(targets: &[Target], tallies: &[Tally]) -> Value {
    figure("figure", "measured", "baseline", "  ratio");
    let direct = &tallies[0];
    let mut fleet = vec![report(&targets[0].name, direct, None)];
    for (target, tally) in targets.iter().zip(tallies).take(1 + REPLICAS).skip(1) {
        fleet.push(report(&target.name, tally, Some(("direct", direct))));
    }
    println!("  the PostgreSQL audit sink against the file, 1 replica direct:");
    let (file, postgres) = (&tallies[FILE], &tallies[POSTGRES]);
    json!({
        "fleet": fleet,
        "audit": {
            "file": report(&targets[FILE].name, file, None),
            "postgres": report(&targets[POSTGRES].name, postgres, Some(("file", file))),
        },
    })
}

/// CPU time used by the processes of a target, and by the whole machine.
#[derive(Debug, Clone, Default)]
struct Cpu {
    /// Each gateway process, and apart its children (the SQL server it fronts).
    gateways: Vec<Duration>,
    servers: Vec<Duration>,
    haproxy: Duration,
    database: Duration,
    /// This program: the clients.
    clients: Duration,
    /// Every CPU of the machine, whoever's work.
    machine: Duration,
}

impl Cpu {
    /// The CPU used so far.
    fn of(target: &Target) -> Self {
        let servers = |&pid: &u32| children(pid).into_iter().map(cpu_time).sum();
        Self {
            gateways: target.gateways.iter().map(|&pid| cpu_time(pid)).collect(),
            servers: target.gateways.iter().map(servers).collect(),
            haproxy: target.haproxy.map_or(Duration::ZERO, cpu_time),
            database: target.database.iter().map(|&pid| cpu_time(pid)).sum(),
            clients: cpu_time(std::process::id()),
            machine: machine_busy(),
        }
    }

    /// Adds what was used from `before` to `after`.
    fn add(&mut self, before: &Self, after: &Self) {
        let each = |sums: &mut Vec<Duration>, before: &[Duration], after: &[Duration]| {
            sums.resize(after.len(), Duration::ZERO);
            for (sum, (b, a)) in sums.iter_mut().zip(before.iter().zip(after)) {
                *sum += a.saturating_sub(*b);
            }
        };
        each(&mut self.gateways, &before.gateways, &after.gateways);
        each(&mut self.servers, &before.servers, &after.servers);
        self.haproxy += after.haproxy.saturating_sub(before.haproxy);
        self.database += after.database.saturating_sub(before.database);
        self.clients += after.clients.saturating_sub(before.clients);
        self.machine += after.machine.saturating_sub(before.machine);
    }

    /// The parts (key, label, time), the gateways and the SQL servers summed.
    fn parts(&self) -> [(&'static str, &'static str, Duration); 5] {
        [
            ("gateways", "gateways", self.gateways.iter().sum()),
            (
                "sql_servers",
                "their SQL servers",
                self.servers.iter().sum(),
            ),
            ("haproxy", "HAProxy", self.haproxy),
            (
                "postgres",
                "PostgreSQL (the audit sink's backend)",
                self.database,
            ),
            ("clients", "clients (this program)", self.clients),
        ]
    }

    fn ours(&self) -> Duration {
        self.parts().iter().map(|(_, _, used)| *used).sum()
    }
}

/// Busy time of all the machine's CPUs so far (`/proc/stat`, in clock ticks of 10 ms): user,
/// nice, system, irq, softirq and steal.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum();
    Duration::from_millis(busy * 10)
}

/// What a target's runs measured, pooled.
#[derive(Default)]
struct Tally {
    /// Latencies of the calls inside the measured windows.
    latencies: Vec<Duration>,
    window: Duration,
    /// Calls answered in the runs, warm-ups included, and the wall time they took.
    calls: u64,
    wall: Duration,
    /// Calls answered in all, the first checked call included.
    answered: u64,
    cpu: Cpu,
}

impl Tally {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / secs(self.window)
    }

    /// CPU per call (over the warm-ups and windows, per call made in both).
    fn per_call(&self, cpu: Duration) -> Duration {
        cpu / u32::try_from(self.calls.max(1)).unwrap_or(u32::MAX)
    }
}

/// Checks each target with one call, then runs the load on each `--rounds` times, interleaved.
async fn load(targets: &[Target], args: &Args) -> anyhow::Result<Vec<Tally>> {
    let mut tallies: Vec<Tally> = targets.iter().map(|_| Tally::default()).collect();
    for (target, tally) in targets.iter().zip(&mut tallies) {
        target
            .endpoint
            .checked_call()
            .await
            .with_context(|| format!("the first call, {}", target.name))?;
        tally.answered = 1;
    }
    let warmup = Duration::from_secs_f64(args.warmup);
    let window = Duration::from_secs_f64(args.seconds);
    for round in 0..args.rounds {
        for i in 0..targets.len() {
            // Each round starts one configuration later, so none always follows the same one.
            let k = (i + round) % targets.len();
            let (target, tally) = (&targets[k], &mut tallies[k]);
            eprintln!("round {}/{}: {}", round + 1, args.rounds, target.name);
            let before = Cpu::of(target);
            let began = Instant::now();
            let load = http::load(&target.endpoint, args.connections, warmup, window)
                .await
                .with_context(|| target.name.clone())?;
            tally.wall += began.elapsed();
            tally.cpu.add(&before, &Cpu::of(target));
            tally.latencies.extend(load.latencies);
            tally.window += load.window;
            tally.calls += load.calls;
            tally.answered += load.calls;
        }
    }
    Ok(tallies)
}

/// Prints the rows of one configuration, against `base` (its name and figures) when given, and
/// returns its JSON.
fn report(name: &str, tally: &Tally, base: Option<(&str, &Tally)>) -> Value {
    let summary = Summary::of(&tally.latencies);
    let rate = tally.rate();
    let total = tally.per_call(tally.cpu.ours());
    let mut ratios = json!({});
    match base {
        Some((what, base)) => {
            let base_summary = Summary::of(&base.latencies);
            let base_total = base.per_call(base.cpu.ours());
            let ratio = rate / base.rate().max(1e-9);
            figure(
                &format!("{name}: calls/s"),
                &format!("{rate:.0}"),
                &format!("{:.0} {what}", base.rate()),
                &format!("{ratio:>7.2}x"),
            );
            compare("  p50", summary.p50, base_summary.p50, what, "");
            compare("  p99", summary.p99, base_summary.p99, what, "");
            compare("  CPU per call, its processes", total, base_total, what, "");
            ratios = json!({
                "calls_per_s": ratio,
                "p50": secs(summary.p50) / secs(base_summary.p50),
                "p99": secs(summary.p99) / secs(base_summary.p99),
                "cpu_per_call": secs(total) / secs(base_total),
            });
        }
        None => {
            figure(&format!("{name}: calls/s"), &format!("{rate:.0}"), "", "");
            figure("  p50", &dur(summary.p50), "", "");
            figure("  p99", &dur(summary.p99), "", "");
            figure("  CPU per call, its processes", &dur(total), "", "");
        }
    }
    json!({
        "name": name, "calls_per_s": rate.round(), "p50_us": us(summary.p50),
        "p99_us": us(summary.p99), "calls": tally.calls, "ratios": ratios,
        "cpu": cpu_rows(tally),
    })
}

/// Prints the CPU per call of each part and the seconds each process used; returns them.
fn cpu_rows(tally: &Tally) -> Value {
    let cpu = &tally.cpu;
    let mut per_call = json!({});
    for (key, label, used) in cpu.parts() {
        per_call[key] = json!(us(tally.per_call(used)));
        if !used.is_zero() {
            figure(&format!("    {label}"), &dur(tally.per_call(used)), "", "");
        }
    }
    let seconds = |d: &Duration| format!("{:.1}", d.as_secs_f64());
    let each = |all: &[Duration]| all.iter().map(seconds).collect::<Vec<_>>().join(" + ");
    let mut used = vec![
        format!("gateways {}", each(&cpu.gateways)),
        format!("their SQL servers {}", each(&cpu.servers)),
    ];
    for (part, time) in [("HAProxy", &cpu.haproxy), ("PostgreSQL", &cpu.database)] {
        if !time.is_zero() {
            used.push(format!("{part} {}", seconds(time)));
        }
    }
    used.push(format!("clients {}", seconds(&cpu.clients)));
    let (ours, machine) = (
        secs(cpu.ours()) / secs(tally.wall),
        secs(cpu.machine) / secs(tally.wall),
    );
    println!(
        "  CPU seconds: {}; cores busy: ours {ours:.2}, the machine's {machine:.2}",
        used.join(", ")
    );
    let seconds = |d: &Duration| (d.as_secs_f64() * 1000.0).round() / 1000.0;
    json!({
        "us_per_call": per_call,
        "seconds": {
            "gateways": cpu.gateways.iter().map(seconds).collect::<Vec<_>>(),
            "sql_servers": cpu.servers.iter().map(seconds).collect::<Vec<_>>(),
            "haproxy": seconds(&cpu.haproxy), "postgres": seconds(&cpu.database),
            "clients": seconds(&cpu.clients), "machine": seconds(&cpu.machine),
            "wall": seconds(&tally.wall),
        },
        "cores_busy": {"ours": ours, "machine": machine},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_adds_differences() {
        let ms = Duration::from_millis;
        let before = Cpu {
            gateways: vec![ms(1), ms(2)],
            servers: vec![ms(1), ms(1)],
            haproxy: ms(5),
            ..Cpu::default()
        };
        let after = Cpu {
            gateways: vec![ms(4), ms(2)],
            servers: vec![ms(3), ms(3)],
            haproxy: ms(9),
            ..Cpu::default()
        };
        let mut sum = Cpu::default();
        sum.add(&before, &after);
        sum.add(&before, &after);
        assert_eq!(sum.gateways, vec![ms(6), ms(0)]);
        assert_eq!(sum.servers, vec![ms(4), ms(4)]);
        assert_eq!(sum.ours(), ms(22));
        assert!(machine_busy() > Duration::ZERO);
    }
}
