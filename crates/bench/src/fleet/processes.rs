//! What `switchboard-bench fleet` starts and loads: the replicas (`switchboard serve --http`,
//! each in its own directory), HAProxy over the first 1, 2 and 3 of them, the two gateways of the
//! audit comparison, and the configurations the clients call.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::{FILE, POSTGRES, REPLICAS, Tally};
use crate::http::{Endpoint, Era};
use crate::table::figure;

/// The bearer token of the benchmark's client.
const TOKEN: &str = "bench-fleet-token-0001";

/// A replica's configuration: the shared store under the run's prefix, pins off, `audit` as the
/// body of `[audit]`, one client with a token, the built-in SQL server over `db`.
pub(super) fn replica_config(redis: &str, prefix: &str, db: &Path, audit: &str) -> String {
    format!(
        "[state]\nstore = {}\nprefix = {}\n\n[pins]\nenabled = false\n\n[audit]\n{audit}\n\n\
         [clients.bench]\ntoken = {}\n\n[servers.db]\nkind = \"postgres\"\n\
         env = {{ DATABASE_URL = {} }}\n",
        quote(redis),
        quote(prefix),
        quote(TOKEN),
        quote(&format!("sqlite://{}", db.display())),
    )
}

/// `s` as a TOML (and JSON) string.
pub(super) fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn plural(replicas: usize) -> String {
    match replicas {
        1 => "1 replica".to_owned(),
        n => format!("{n} replicas"),
    }
}

/// Every process the benchmark starts: the replicas, HAProxy over the first 1, 2 and 3 of
/// them, and the two gateways of the audit comparison (file, PostgreSQL).
pub(super) struct Fleet {
    replicas: Vec<Gateway>,
    balancers: Vec<Balancer>,
    audited: [Gateway; 2],
}

impl Fleet {
    pub(super) async fn start(
        switchboard: &Path,
        dir: &Path,
        file_audit: &str,
        sink_audit: &str,
    ) -> anyhow::Result<Self> {
        let mut replicas = Vec::new();
        for i in 0..REPLICAS {
            let at = dir.join(format!("replica-{i}"));
            replicas.push(Gateway::start(switchboard, at, file_audit).await?);
        }
        let mut balancers = Vec::new();
        for n in 1..=REPLICAS {
            balancers.push(Balancer::start(dir, &replicas[..n]).await?);
        }
        let audited = [
            Gateway::start(switchboard, dir.join("audit-file"), file_audit).await?,
            Gateway::start(switchboard, dir.join("audit-postgres"), sink_audit).await?,
        ];
        Ok(Self {
            replicas,
            balancers,
            audited,
        })
    }

    /// The configuration of HAProxy over every replica.
    pub(super) fn haproxy_config(&self) -> &str {
        &self.balancers[REPLICAS - 1].config
    }

    /// The configurations under load: one replica direct, 1 to 3 via HAProxy, then at
    /// [`FILE`] and [`POSTGRES`] the audit comparison (`database`: the sink's backends).
    pub(super) fn targets(&self, database: Vec<u32>) -> anyhow::Result<Vec<Target>> {
        let replicas = &self.replicas;
        let (first, [file, sink]) = (&replicas[0], &self.audited);
        let mut targets = vec![Target::new(
            "1 replica direct",
            &first.url,
            vec![first.pid()],
        )?];
        for (n, balancer) in self.balancers.iter().enumerate() {
            let name = format!("{} via HAProxy", plural(n + 1));
            let pids = replicas[..=n].iter().map(Gateway::pid).collect();
            let mut target = Target::new(&name, &balancer.url, pids)?;
            target.haproxy = balancer.child.id();
            targets.push(target);
        }
        targets.push(Target::new("audit to a file", &file.url, vec![file.pid()])?);
        let mut target = Target::new("audit to PostgreSQL", &sink.url, vec![sink.pid()])?;
        target.database = database;
        targets.push(target);
        Ok(targets)
    }

    /// Prints the audit records beside the calls answered (`rows` in the PostgreSQL table);
    /// fails unless they are equal.
    pub(super) fn check_records(&self, tallies: &[Tally], rows: u64) -> anyhow::Result<Value> {
        let fleet_answered = tallies[..=REPLICAS].iter().map(|t| t.answered).sum();
        let fleet_records = self
            .replicas
            .iter()
            .map(Gateway::audit_records)
            .sum::<anyhow::Result<u64>>()?;
        let file_records = self.audited[0].audit_records()?;
        let records = [
            (
                "audit records: PostgreSQL table",
                rows,
                tallies[POSTGRES].answered,
            ),
            ("  the file", file_records, tallies[FILE].answered),
            ("  the fleet's files", fleet_records, fleet_answered),
        ];
        for (label, records, answered) in records {
            figure(
                label,
                &records.to_string(),
                &format!("{answered} answered"),
                "",
            );
        }
        for (label, records, answered) in records {
            ensure!(
                records == answered,
                "{}: {records} audit records for {answered} answered calls; expected one per call",
                label.trim()
            );
        }
        Ok(json!({"postgres": rows, "file": file_records, "fleet_files": fleet_records}))
    }
}

/// One `switchboard serve --http` (killed when dropped) in its own directory.
struct Gateway {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Gateway {
    async fn start(switchboard: &Path, dir: PathBuf, config: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("switchboard.toml");
        std::fs::write(&file, config)?;
        let (child, url) = crate::soak::setup::gateway(switchboard, &dir, &file).await?;
        Ok(Self { child, url, dir })
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Lines of its audit file (0 when it has none).
    fn audit_records(&self) -> anyhow::Result<u64> {
        let Ok(file) = File::open(self.dir.join("audit.jsonl")) else {
            return Ok(0);
        };
        BufReader::new(file)
            .split(b'\n')
            .try_fold(0, |n, line| Ok(line.map(|_| n + 1)?))
    }
}

/// HAProxy over some replicas on a free port (killed when dropped), with the README's backend
/// settings and `option httpchk GET /readyz`.
struct Balancer {
    child: Child,
    url: String,
    config: String,
}

impl Balancer {
    async fn start(dir: &Path, replicas: &[Gateway]) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let servers: String = replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let addr = r.url.trim_start_matches("http://").trim_end_matches("/mcp");
                format!("  server g{i} {addr} check\n")
            })
            .collect();
        let config = format!(
            "global\n  maxconn 512\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  \
             timeout server 30s\n  retries 2\n  option redispatch\n\
             frontend mcp\n  bind 127.0.0.1:{port}\n  default_backend gateways\n\
             backend gateways\n  balance roundrobin\n  option httpchk GET /readyz\n  \
             stick-table type string len 64 size 100k expire 30m\n  \
             stick match req.hdr(mcp-session-id)\n  \
             stick store-response res.hdr(mcp-session-id)\n{servers}"
        );
        let name = format!("haproxy-{}", replicas.len());
        let file = dir.join(format!("{name}.cfg"));
        std::fs::write(&file, &config)?;
        let log = File::create(dir.join(format!("{name}.log")))?;
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&file)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("haproxy (scripts/setup installs it)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            ensure!(
                Instant::now() < deadline,
                "haproxy did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = format!("http://127.0.0.1:{port}/mcp");
        Ok(Self { child, url, config })
    }
}

/// One configuration under load: where the clients connect, and the processes that serve it.
pub(super) struct Target {
    pub(super) name: String,
    pub(super) endpoint: Arc<Endpoint>,
    /// The gateways behind it (their children are the SQL servers they front).
    pub(super) gateways: Vec<u32>,
    pub(super) haproxy: Option<u32>,
    /// PostgreSQL backends writing the audit sink's records.
    pub(super) database: Vec<u32>,
}

impl Target {
    /// Calls to `url`, served by the `gateways` (process ids).
    fn new(name: &str, url: &str, gateways: Vec<u32>) -> anyhow::Result<Self> {
        let endpoint = Endpoint::tools_call(url, "query", Era::Stateless)?
            .with_arguments(json!({"sql": "SELECT 1"}))?
            .with_bearer(TOKEN)?;
        Ok(Self {
            name: name.to_owned(),
            endpoint: Arc::new(endpoint),
            gateways,
            haproxy: None,
            database: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_share_the_store_without_pins() {
        let text = replica_config("redis://h/0", "p-1", Path::new("/tmp/x.db"), "path = \"a\"");
        assert!(text.contains("store = \"redis://h/0\"\nprefix = \"p-1\""));
        assert!(text.contains("DATABASE_URL = \"sqlite:///tmp/x.db\""));
        assert!(text.contains("[pins]\nenabled = false"));
        assert_eq!(plural(1), "1 replica");
        assert_eq!(plural(3), "3 replicas");
    }
}
