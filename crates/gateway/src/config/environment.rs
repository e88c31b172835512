//! The configuration used when there is no file: the built-in servers whose settings are in
//! the environment (`DATABASE_URL` → `db`, `JIRA_URL` → `jira`, `SLACK_BOT_TOKEN` → `slack`),
//! each given exactly its own variables, by reference — and the sample database served in place
//! of `db` when `DATABASE_URL` is not set ([`Config::add_sample_database`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    AuditSettings, BuiltinKind, Config, GatewaySettings, PinSettings, RestartPolicy, ServerConfig,
    SessionLimits, StartMode, ToolSearch, TransportConfig,
};
use crate::secrets::Template;

/// Environment variables each built-in server reads (its settings), by kind.
const BUILTIN_ENV: &[(BuiltinKind, &str, &[&str])] = &[
    (
        BuiltinKind::Postgres,
        "DATABASE_URL",
        &[
            "DATABASE_URL",
            "SWITCHBOARD_SQL_MAX_ROWS",
            "SWITCHBOARD_SQL_MAX_BYTES",
            "SWITCHBOARD_SQL_TIMEOUT_MS",
        ],
    ),
    (
        BuiltinKind::Jira,
        "JIRA_URL",
        &[
            "JIRA_URL",
            "JIRA_USERNAME",
            "JIRA_API_TOKEN",
            "JIRA_PERSONAL_TOKEN",
            "JIRA_PROJECTS",
            "JIRA_READ_ONLY",
        ],
    ),
    (
        BuiltinKind::Slack,
        "SLACK_BOT_TOKEN",
        &[
            "SLACK_BOT_TOKEN",
            "SLACK_API_URL",
            "SLACK_CHANNELS",
            "SLACK_READ_ONLY",
        ],
    ),
];

pub(super) fn from_environment() -> (Config, Vec<String>) {
    let file = PathBuf::from("<environment>");
    let mut servers = BTreeMap::new();
    let mut notes = Vec::new();
    for (kind, trigger, vars) in BUILTIN_ENV {
        let name = match kind {
            BuiltinKind::Postgres => "db",
            other => other.as_str(),
        };
        if std::env::var_os(trigger).is_none() {
            notes.push(format!(
                "{}: not started ({trigger} is not set)",
                kind.as_str()
            ));
            continue;
        }
        notes.push(format!(
            "{}: started as server {name:?} ({trigger} is set)",
            kind.as_str()
        ));
        let env = vars
            .iter()
            .filter(|v| std::env::var_os(v).is_some())
            .map(|v| ((*v).to_owned(), Template::parse(&format!("${{env:{v}}}"))))
            .filter_map(|(k, t)| t.ok().map(|t| (k, t)))
            .collect();
        servers.insert(name.to_owned(), builtin(name, *kind, env));
    }
    let config = Config {
        file,
        gateway: GatewaySettings {
            name: "switchboard".to_owned(),
            drain_timeout: Duration::from_secs(10),
            shutdown_delay: Duration::ZERO,
            startup_timeout: Duration::from_secs(30),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            stdio_client: None,
            rate_limit_store: None,
            store_key: "state.store",
            rate_limit_prefix: "switchboard".to_owned(),
            sessions: SessionLimits::default(),
            tool_search: ToolSearch::default(),
        },
        audit: AuditSettings {
            path: None,
            redact: Vec::new(),
            fsync: false,
            sink: None,
            replica: "gateway".to_owned(),
            stream_stdout: false,
        },
        pins: PinSettings::default(),
        auth: None,
        approval_timeout: Duration::from_secs(300),
        approvals_slack: None,
        secrets_refresh: super::DEFAULT_SECRETS_REFRESH,
        metrics_addr: None,
        traces: super::TraceSettings::default(),
        servers,
        clients: BTreeMap::new(),
        rate_limits: Vec::new(),
        endpoints: BTreeMap::new(),
        tools: Vec::new(),
        agent: None,
        started_traces: None,
        servers_key: "servers",
        source: serde_json::Value::Null,
    };
    (config, notes)
}

impl Config {
    /// The name of the server [`Config::add_sample_database`] adds.
    pub const SAMPLE_SERVER: &str = "sample";

    /// Adds the built-in SQL server over the SQLite file `path` (opened read-only) as server
    /// [`Config::SAMPLE_SERVER`], its tools always prefixed (`sample__query`, ...) even when it is the
    /// only server, so the names stay the same when other servers join it.
    /// `path` should be absolute and end in `.db`: it is passed as `DATABASE_URL` as it is (a plain
    /// path, so no %-escape in it is decoded).
    pub fn add_sample_database(&mut self, path: &Path) {
        let url = path.to_string_lossy().into_owned();
        let env = BTreeMap::from([("DATABASE_URL".to_owned(), Template::literal(url))]);
        let mut server = builtin(Self::SAMPLE_SERVER, BuiltinKind::Postgres, env);
        server.prefix = Some(true);
        self.servers.insert(Self::SAMPLE_SERVER.to_owned(), server);
    }
}

/// A built-in server started at boot with the gateway's defaults.
fn builtin(name: &str, kind: BuiltinKind, env: BTreeMap<String, Template>) -> ServerConfig {
    ServerConfig {
        name: name.to_owned(),
        transport: TransportConfig::Builtin {
            kind,
            env,
            args: Vec::new(),
        },
        prefix: None,
        start: StartMode::Boot,
        required: true,
        timeout: Duration::from_secs(60),
        max_concurrency: 16,
        health_interval: Duration::from_secs(30),
        ping_timeout: Duration::from_secs(10),
        restart: RestartPolicy::default(),
        exclude_tools: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_a_prefixed_sql_server_on_the_file_as_given() {
        let (mut config, _) = from_environment();
        config.add_sample_database(Path::new("/data/50%/sample-shop.db"));
        let server = &config.servers[Config::SAMPLE_SERVER];
        assert_eq!(server.prefix, Some(true), "prefixed even when alone");
        assert_eq!(server.start, StartMode::Boot);
        let TransportConfig::Builtin { kind, env, args } = &server.transport else {
            panic!("{:?}", server.transport);
        };
        assert_eq!(*kind, BuiltinKind::Postgres);
        assert!(args.is_empty());
        assert_eq!(
            env,
            &BTreeMap::from([(
                "DATABASE_URL".to_owned(),
                Template::literal("/data/50%/sample-shop.db")
            )])
        );
    }
}
