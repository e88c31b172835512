//! `switchboard-bench postgres`: `switchboard server postgres` over stdio against its floor (an MCP
//! `ping` plus the same statement sent directly over the extended protocol) and a prepared
//! statement, with the server's CPU per call beside a `ping`'s, in one run on a throwaway database (dropped afterwards, also on error or
//! ctrl-c).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::mcp::Server;
use crate::pg;
use crate::stats::{Memory, Summary, cpu_time, mb, thread_cpu_time, us};
use crate::table::{compare, dur, figure, secs};

/// Benchmark of the PostgreSQL MCP server: point-query and `SELECT 1` latency against the floor,
/// CPU per call, start-up, memory, capped results.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Rows in the generated `orders` table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Timed point queries per side.
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    /// Untimed point queries per side before those.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Calls of each kind (ping, point query, `SELECT 1`) over which the server's CPU per call
    /// is measured.
    #[arg(long, default_value_t = 3000)]
    cpu_calls: usize,
    /// Server starts timed (spawn to the `tools/list` answer).
    #[arg(long, default_value_t = 20)]
    starts: usize,
    /// Timed `SELECT * FROM orders` calls through the server.
    #[arg(long, default_value_t = 10)]
    scans: usize,
    /// PostgreSQL in which to create (and drop) the throwaway database; plain TCP (the server
    /// gets `sslmode=disable` unless the URL names an sslmode).
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
    let binary = crate::sibling(args.switchboard.as_ref(), "switchboard", "--switchboard")?;
    let admin = pg::connect(&args.database_url).await?;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let name = format!("sb_bench_{:08x}", seed.subsec_nanos() ^ std::process::id());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let mut url = url::Url::parse(&args.database_url).context("--database-url")?;
    url.set_path(&name);
    if !url.query_pairs().any(|(key, _)| key == "sslmode") {
        // The direct side is plain TCP; so is the server unless told otherwise.
        url.query_pairs_mut().append_pair("sslmode", "disable");
    }
    // The work runs in its own task so that ctrl-c or a panic still reaches the DROP below;
    // aborting it drops the server processes, which are killed on drop.
    let mut work = tokio::spawn(measure(args, binary, url.to_string()));
    let outcome = tokio::select! {
        joined = &mut work => joined.map_err(anyhow::Error::from).and_then(|r| r),
        _ = tokio::signal::ctrl_c() => {
            work.abort();
            let _ = work.await;
            Err(anyhow!("interrupted"))
        }
    };
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let dropped = admin.batch_execute(&drop).await;
    let figures = outcome?;
    dropped.with_context(|| format!("dropping the database {name}"))?;
    println!("\n{figures}");
    Ok(())
}

/// All phases on the throwaway database; prints the table as it goes and returns the JSON line.
async fn measure(args: Args, binary: PathBuf, url: String) -> anyhow::Result<Value> {
    let client = pg::connect(&url).await?;
    eprintln!("filling orders with {} rows ...", args.rows);
    pg::fill(&client, args.rows).await?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nswitchboard server postgres: {} rows, {cpus} CPUs",
        args.rows
    );
    figure("figure", "switchboard", "baseline", "sb/base  goal");
    let mut starts = Vec::new();
    for _ in 0..args.starts {
        let (server, took) = start(&binary, &url).await?;
        starts.push(took);
        server.stop().await?;
    }
    let startup = Summary::of(&starts);
    for (name, took) in [("p50", startup.p50), ("p99", startup.p99)] {
        let label = format!("start to tools/list {name} ({} starts)", args.starts);
        figure(&label, &dur(took), "", "          <= 20 ms");
    }
    let (mut server, _) = start(&binary, &url).await?;
    let after_start = Memory::of(server.pid());
    let n = args.iterations;
    let series = points(&mut server, &client, &args).await?;
    println!(
        "\n{n} calls each, interleaved; baselines are tokio-postgres in the same loop: prepared = \
         prepare once, then Bind/Execute; extended = the statement's text with query_typed \
         (Parse/Bind/Execute each time, as pgbench -M extended); floor = MCP ping p50 + extended p50"
    );
    figure(
        "MCP ping round trip p50 / p99",
        &dur(series.ping.p50),
        &dur(series.ping.p99),
        "",
    );
    let point = report_statement(
        "point query",
        &series.server_point,
        &series.prepared_point,
        &series.extended_point,
        &series.ping,
    );
    let one = report_statement(
        "SELECT 1",
        &series.server_one,
        &series.prepared_one,
        &series.extended_one,
        &series.ping,
    );
    let [cpu_ping, cpu_point, cpu_one] = cpu_per_call(&mut server, &args).await?;
    let [cpu_guard, cpu_client] = cpu_floor_parts(&client, &args).await?;
    let cpu_floor = cpu_ping + cpu_guard + cpu_client;
    println!(
        "\nserver CPU per call (its threads' run time from /proc/<pid>/task/*/schedstat, {} calls \
         each in a row); floor = ping + the guard's check of the statement + the client side of \
         the extended statement, both measured here",
        args.cpu_calls
    );
    figure("  ping", &dur(cpu_ping), "", "");
    figure(
        "  guard check of a point statement",
        &dur(cpu_guard),
        "",
        "",
    );
    figure(
        "  extended point statement, client side",
        &dur(cpu_client),
        "",
        "",
    );
    compare("  point query", cpu_point, cpu_ping, "ping", "<= 2x");
    compare("  point query", cpu_point, cpu_floor, "floor", "");
    compare("  SELECT 1", cpu_one, cpu_ping, "ping", "");
    let after_points = Memory::of(server.pid());
    let (scans, after_first) = scans(&mut server, &client, &args).await?;
    let after_scans = Memory::of(server.pid());
    server.stop().await?;
    let memory = [
        ("start", after_start, "<= 12 MB"),
        ("the point queries", after_points, ""),
        ("the first SELECT *", after_first, "flat"),
        ("the last SELECT *", after_scans, "flat"),
    ];
    for (when, figures, goal) in memory {
        let label = format!("server RSS/peak/anon after {when}");
        figure(&label, &figures.to_string(), "", &format!("{goal:>18}"));
    }
    Ok(json!({
        "rows": args.rows, "cpus": cpus, "startup": startup.json(),
        "iterations": n, "ping": series.ping.json(), "point": point, "select_1": one,
        "cpu_per_call_us": {"calls": args.cpu_calls, "ping": us(cpu_ping), "point": us(cpu_point),
                            "select_1": us(cpu_one), "guard_point": us(cpu_guard),
                            "client_point": us(cpu_client), "floor_point": us(cpu_floor)},
        "server_memory": {"after_start": after_start.json(), "after_points": after_points.json(),
                          "after_first_select_all": after_first.json(),
                          "after_select_all": after_scans.json()},
        "select_all": scans,
    }))
}

/// Spawns a server and completes the handshake and `tools/list`; returns it and the time taken.
async fn start(binary: &Path, url: &str) -> anyhow::Result<(Server, Duration)> {
    let began = Instant::now();
    let mut command = tokio::process::Command::new(binary);
    command
        .args(["server", "postgres"])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .stderr(std::process::Stdio::null());
    let mut server = Server::spawn(command, binary)?;
    server.handshake().await?;
    let tools = server.request("tools/list", json!({})).await?;
    let took = began.elapsed();
    let mut listed = tools["tools"].as_array().into_iter().flatten();
    ensure!(
        listed.any(|t| t["name"] == "query"),
        "no query tool in {tools}"
    );
    Ok((server, took))
}

/// The point query through the server and directly, keyed by `id`.
fn point_sql(id: i64) -> String {
    format!("SELECT id, status, amount FROM orders WHERE id = {id}")
}

/// The latency series of the interleaved loop.
struct Series {
    ping: Summary,
    server_point: Summary,
    server_one: Summary,
    prepared_point: Summary,
    extended_point: Summary,
    prepared_one: Summary,
    extended_one: Summary,
}

/// One statement's figures: the server against the floor (MCP ping + the same statement over the
/// extended protocol, parsed and planned each time) and the prepared statement.
fn report_statement(
    name: &str,
    server: &Summary,
    prepared: &Summary,
    extended: &Summary,
    ping: &Summary,
) -> Value {
    let floor = ping.p50 + extended.p50;
    figure(
        &format!("{name}: prepared p50 / p99"),
        &dur(prepared.p50),
        &dur(prepared.p99),
        "",
    );
    figure(
        &format!("{name}: extended p50 / p99"),
        &dur(extended.p50),
        &dur(extended.p99),
        "",
    );
    compare(
        &format!("{name}: server p50"),
        server.p50,
        floor,
        "floor",
        "<= 1.5x",
    );
    compare(
        &format!("{name}: server p99"),
        server.p99,
        floor,
        "floor",
        "<= 3x",
    );
    json!({"server": server.json(), "prepared": prepared.json(), "extended": extended.json(),
           "floor_us": us(floor), "ratio_p50": secs(server.p50) / secs(floor),
           "ratio_p99": secs(server.p99) / secs(floor)})
}

/// Interleaved one by one so that noise on the machine hits every series alike: the point query
/// and `SELECT 1` through the server, an MCP `ping`, and the same two statements sent directly
/// with tokio-postgres, prepared once (`prepare`, then Bind/Execute) and over the extended
/// protocol with their text (`query_typed`: Parse/Bind/Execute each time, as `pgbench -M
/// extended`).
async fn points(server: &mut Server, client: &Client, args: &Args) -> anyhow::Result<Series> {
    let point = client
        .prepare("SELECT id, status, amount FROM orders WHERE id = $1")
        .await?;
    let one = client.prepare("SELECT 1").await?;
    let mut samples: [Vec<Duration>; 7] = Default::default();
    for i in 0..(args.warmup + args.iterations) as u64 {
        let id = i64::try_from(1 + (i * 7919) % args.rows)?;
        let sql = point_sql(id);
        let began = Instant::now();
        let result = server.query(&sql).await?;
        let server_point = began.elapsed();
        ensure!(result["row_count"] == 1, "{sql} returned {result}");
        let began = Instant::now();
        let one_result = server.query("SELECT 1").await?;
        let server_one = began.elapsed();
        ensure!(
            one_result["rows"] == json!([[1]]),
            "SELECT 1 returned {one_result}"
        );
        let began = Instant::now();
        server.request("ping", json!({})).await?;
        let ping = began.elapsed();
        let began = Instant::now();
        let values = pg::decode(&client.query_one(&point, &[&id]).await?)?;
        let prepared_point = began.elapsed();
        ensure!(result["rows"][0] == json!(values), "{result} != {values:?}");
        let began = Instant::now();
        let rows = client.query_typed(&sql, &[]).await?;
        let extended_point = began.elapsed();
        ensure!(rows.len() == 1 && json!(pg::decode(&rows[0])?) == json!(values));
        let began = Instant::now();
        let _: i32 = client.query_one(&one, &[]).await?.try_get(0)?;
        let prepared_one = began.elapsed();
        let began = Instant::now();
        let _: i32 = client.query_typed("SELECT 1", &[]).await?[0].try_get(0)?;
        let extended_one = began.elapsed();
        if i >= args.warmup as u64 {
            let taken = [
                ping,
                server_point,
                server_one,
                prepared_point,
                extended_point,
                prepared_one,
                extended_one,
            ];
            for (kept, took) in samples.iter_mut().zip(taken) {
                kept.push(took);
            }
        }
    }
    let [
        ping,
        server_point,
        server_one,
        prepared_point,
        extended_point,
        prepared_one,
        extended_one,
    ] = samples.map(|kept| Summary::of(&kept));
    Ok(Series {
        ping,
        server_point,
        server_one,
        prepared_point,
        extended_point,
        prepared_one,
        extended_one,
    })
}

/// The server's CPU time (all its threads' run time, [`cpu_time`]) per call over
/// `args.cpu_calls` calls of each kind in a row: `ping`, the point query, `SELECT 1`.
async fn cpu_per_call(server: &mut Server, args: &Args) -> anyhow::Result<[Duration; 3]> {
    let n = args.cpu_calls;
    let mut per_call = [Duration::ZERO; 3];
    for (kind, slot) in per_call.iter_mut().enumerate() {
        let before = cpu_time(server.pid());
        for i in 0..n as u64 {
            match kind {
                0 => drop(server.request("ping", json!({})).await?),
                1 => drop(
                    server
                        .query(&point_sql(i64::try_from(1 + (i * 7919) % args.rows)?))
                        .await?,
                ),
                _ => drop(server.query("SELECT 1").await?),
            }
        }
        *slot = (cpu_time(server.pid()) - before) / u32::try_from(n)?;
    }
    Ok(per_call)
}

/// The CPU per point query of the two parts a server taking SQL text cannot skip, over
/// `args.cpu_calls` statements with the same ids as the server got: the statement guard's check
/// (PostgreSQL's parser through libpg_query, then the walk over the tree; the server's own code,
/// run on this thread), and the client side of sending the statement over the extended protocol
/// and decoding its row (tokio-postgres `query_typed`; this process's run time, which includes
/// the connection's task).
async fn cpu_floor_parts(client: &Client, args: &Args) -> anyhow::Result<[Duration; 2]> {
    let n = args.cpu_calls;
    let statements: Vec<String> = (0..n as u64)
        .map(|i| Ok(point_sql(i64::try_from(1 + (i * 7919) % args.rows)?)))
        .collect::<anyhow::Result<_>>()?;
    let guard =
        switchboard_sql::guard::Guard::new(switchboard_sql::guard::FunctionPolicy::default());
    let before = thread_cpu_time();
    for sql in &statements {
        std::hint::black_box(guard.check(std::hint::black_box(sql)))
            .map_err(|refusal| anyhow!("the guard refused {sql}: {refusal}"))?;
    }
    let guard_cpu = (thread_cpu_time() - before) / u32::try_from(n)?;
    let before = cpu_time(std::process::id());
    for sql in &statements {
        let rows = client.query_typed(sql, &[]).await?;
        ensure!(rows.len() == 1, "{sql} returned {} rows", rows.len());
    }
    let client_cpu = (cpu_time(std::process::id()) - before) / u32::try_from(n)?;
    Ok([guard_cpu, client_cpu])
}

/// `SELECT * FROM orders` through the server (capped), and once directly in full as the baseline.
/// Returns the figures and the server's memory after the first call.
async fn scans(
    server: &mut Server,
    client: &Client,
    args: &Args,
) -> anyhow::Result<(Value, Memory)> {
    let (mut times, mut last, mut after_first) = (Vec::new(), Value::Null, Memory::default());
    for call in 0..args.scans {
        let began = Instant::now();
        last = server.query("SELECT * FROM orders").await?;
        times.push(began.elapsed());
        if call == 0 {
            after_first = Memory::of(server.pid());
        }
    }
    let capped = Summary::of(&times);
    let bytes = serde_json::to_vec(&last["rows"])?.len();
    let own = Memory::own();
    let began = Instant::now();
    let rows = client.query("SELECT * FROM orders", &[]).await?;
    let fetch = began.elapsed();
    let mut full_bytes = 0;
    for r in &rows {
        full_bytes += serde_json::to_vec(&pg::decode(r)?)?.len() + 1;
    }
    let decoded = began.elapsed();
    let growth_kb = Memory::own().hwm_kb.saturating_sub(own.hwm_kb);
    for (name, took) in [("p50", capped.p50), ("p99", capped.p99)] {
        let label = format!("SELECT * FROM orders {name} ({} calls)", args.scans);
        compare(&label, took, fetch, "full", "<= 50 ms");
    }
    let cut = last["truncated_by"].as_str().unwrap_or("none");
    let ours = format!("{} ({cut})", last["row_count"]);
    figure("  rows returned", &ours, &rows.len().to_string(), "");
    let full = format!("{} MB", mb(full_bytes as u64 / 1024));
    figure("  JSON bytes of the rows", &bytes.to_string(), &full, "");
    let cost = format!("{}, +{} MB", dur(decoded), mb(growth_kb));
    figure(
        "  full: with decoding; bench peak RSS growth",
        "",
        &cost,
        "",
    );
    let figures = json!({
        "switchboard": capped.json(), "rows": last["row_count"], "json_bytes": bytes,
        "truncated_by": cut, "direct_full": {"fetch_us": us(fetch), "fetch_decode_us": us(decoded),
        "rows": rows.len(), "json_bytes": full_bytes, "bench_hwm_growth_kb": growth_kb},
    });
    Ok((figures, after_first))
}
