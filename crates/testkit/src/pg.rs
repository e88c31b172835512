//! PostgreSQL fixture: each test gets its own freshly created database (and, on request, its own
//! roles), dropped again when the fixture is dropped.
//!
//! The server is found at `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When nothing answers there, the fixture tries the machine's cluster
//! (`pg_ctlcluster --skip-systemctl-redirect <version> main start`), and failing that starts a
//! throwaway cluster of its own with `initdb`/`pg_ctl` in a temporary directory, once per process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio_postgres::{Client, NoTls};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL of a reachable server, resolved once per process.
static ADMIN_URL: OnceLock<String> = OnceLock::new();

/// A database created for one test, dropped (with its roles) on drop.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    admin_url: String,
    roles: Vec<String>,
}

impl TestDb {
    /// Creates a fresh, empty database.
    ///
    /// # Errors
    /// When no PostgreSQL server can be reached or started, or the database cannot be created.
    pub async fn new() -> Result<Self> {
        let admin_url = admin_url()?;
        let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating test database {name}"))?;
        Ok(Self {
            name,
            admin_url,
            roles: Vec::new(),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL connecting to this database as the server's admin role.
    pub fn url(&self) -> String {
        url_with(&self.admin_url, None, &self.name)
    }

    /// A URL connecting to this database as `role` (created with [`TestDb::create_role`]).
    pub fn url_as(&self, role: &str, password: Option<&str>) -> String {
        let user = match password {
            Some(password) => format!("{role}:{password}"),
            None => role.to_owned(),
        };
        url_with(&self.admin_url, Some(&user), &self.name)
    }

    /// Connects to this database as the admin role.
    ///
    /// # Errors
    /// When the connection fails.
    pub async fn connect(&self) -> Result<Client> {
        connect(&self.url()).await
    }

    /// Creates a login role (unique per test; dropped with the database) and returns its name.
    /// `attributes` is appended to `CREATE ROLE`, e.g. `"SUPERUSER"` or `"PASSWORD 'x'"`.
    ///
    /// # Errors
    /// When the role cannot be created.
    pub async fn create_role(&mut self, prefix: &str, attributes: &str) -> Result<String> {
        let role = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let admin = connect(&self.admin_url).await?;
        admin
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN {attributes}; GRANT ALL ON DATABASE {db} TO {role}",
                db = self.name
            ))
            .await
            .with_context(|| format!("creating role {role}"))?;
        self.roles.push(role.clone());
        Ok(role)
    }

    /// Loads `sql` (several statements allowed) into this database as `role`, or as the admin when
    /// `role` is `None`, so that `role` owns what it creates.
    ///
    /// # Errors
    /// When a statement fails.
    pub async fn load(&self, role: Option<&str>, sql: &str) -> Result<()> {
        let client = connect(&self.url()).await?;
        if let Some(role) = role {
            client
                .batch_execute(&format!(
                    "GRANT CREATE ON SCHEMA public TO {role}; SET ROLE {role}"
                ))
                .await?;
        }
        client
            .batch_execute(sql)
            .await
            .context("loading SQL into the test database")
    }

    /// The shared corpus directory (`shared/corpus` beside the repository clone).
    pub fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
    }

    /// Reads one file of the shared corpus.
    ///
    /// # Errors
    /// When the file is missing (the corpus must sit beside the repository).
    pub fn corpus_file(name: &str) -> Result<String> {
        let path = Self::corpus_dir().join(name);
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading corpus file {} (shared/ must sit beside the repository)",
                path.display()
            )
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let roles = std::mem::take(&mut self.roles);
        // Dropping happens outside any runtime's async context: use a thread with its own runtime.
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                let Ok(admin) = connect(&admin_url).await else {
                    return;
                };
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                for role in roles {
                    let _ = admin
                        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Connects with no TLS (the fixture's servers are on loopback).
///
/// # Errors
/// When the connection fails.
pub async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn url_with(admin_url: &str, user: Option<&str>, database: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("admin URL was validated when resolved");
    if let Some(user) = user {
        let (name, password) = user
            .split_once(':')
            .map_or((user, None), |(n, p)| (n, Some(p)));
        let _ = url.set_username(name);
        let _ = url.set_password(password);
    }
    url.set_path(&format!("/{database}"));
    url.to_string()
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The admin URL of a reachable server: `TEST_DATABASE_URL`, the default, the machine's cluster
/// after starting it, or a throwaway cluster.
///
/// # Errors
/// When no server can be reached or started.
pub fn admin_url() -> Result<String> {
    if let Some(url) = ADMIN_URL.get() {
        return Ok(url.clone());
    }
    let url = resolve_admin_url()?;
    Ok(ADMIN_URL.get_or_init(|| url).clone())
}

fn resolve_admin_url() -> Result<String> {
    let url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    url::Url::parse(&url)
        .with_context(|| format!("TEST_DATABASE_URL is not a URL: {}", redact(&url)))?;
    if reachable(&url) {
        return Ok(url);
    }
    if start_machine_cluster() && wait_reachable(&url) {
        return Ok(url);
    }
    start_throwaway_cluster()
}

fn reachable(url: &str) -> bool {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return false;
        };
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(3), connect(&url))
                .await
                .is_ok_and(|r| r.is_ok())
        })
    })
    .join()
    .unwrap_or(false)
}

fn wait_reachable(url: &str) -> bool {
    (0..40).any(|_| {
        let ok = reachable(url);
        if !ok {
            std::thread::sleep(Duration::from_millis(250));
        }
        ok
    })
}

/// Starts the Debian cluster this machine ships with, if there is one.
fn start_machine_cluster() -> bool {
    let Ok(entries) = std::fs::read_dir("/etc/postgresql") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let version = entry.file_name().to_string_lossy().into_owned();
        Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Starts a private cluster with `initdb`/`pg_ctl` on a free port; it lives until the machine
/// cleans its temporary directory (the server is stopped by nobody: tests are short-lived).
fn start_throwaway_cluster() -> Result<String> {
    let bin =
        find_pg_bin().context("no PostgreSQL server reachable and no initdb found to start one")?;
    let dir = std::env::temp_dir().join(format!("switchboard-pg-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let as_postgres = nix_is_root();
    let run = |program: &str, args: &[&str]| -> Result<()> {
        let path = bin.join(program);
        let status = if as_postgres {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &dir.to_string_lossy()])
                .status();
            // `--`: the program's own options (`-D`) are not runuser's.
            let mut full = vec!["-u", "postgres", "--", path.to_str().unwrap_or(program)];
            full.extend_from_slice(args);
            Command::new("runuser").args(full).status()
        } else {
            Command::new(&path).args(args).status()
        }
        .with_context(|| format!("running {program}"))?;
        if !status.success() {
            bail!("{program} failed with {status}");
        }
        Ok(())
    };
    let data_str = data.to_string_lossy().into_owned();
    run(
        "initdb",
        &["-D", &data_str, "-U", "postgres", "-A", "trust"],
    )?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        dir.display()
    );
    let log = dir.join("log").to_string_lossy().into_owned();
    run(
        "pg_ctl",
        &["-D", &data_str, "-o", &options, "-l", &log, "-w", "start"],
    )?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    if !wait_reachable(&url) {
        bail!("the throwaway cluster in {} did not come up", dir.display());
    }
    Ok(url)
}

fn find_pg_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|p| p.join("initdb").exists())
}

/// A loopback port free at the time of asking (for a server that takes its port as an argument).
///
/// # Errors
/// When no socket can be bound.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}
