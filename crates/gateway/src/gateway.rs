//! The gateway as a value: start it from a configuration, list and call tools for a caller
//! through the full pipeline, watch its health, shut it down. Downstream transports (stdio,
//! HTTP) and the agent crate all use this same API.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock, ErrorData, InputResponses, JsonObject, Tool};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::audit::postgres::PostgresSink;
use crate::audit::{AuditLog, AuditRecord, AuditSink};
use crate::caller::{Access, Caller};
use crate::catalog::{Catalog, ListChanges, Source};
use crate::config::{Config, ResolvedConfig, StartMode, ToolSearch};
use crate::endpoints::Endpoint;
use crate::error::GatewayError;
use crate::pending::{Notifier, Waiter, pending};
use crate::pins::Pins;
use crate::policy::approval::ApprovalLayer;
use crate::policy::audit::{AuditLayer, Redactor};
use crate::policy::authorize::Authorize;
use crate::policy::limits::Limits;
use crate::policy::queue::ApprovalQueue;
use crate::policy::rate_limit::{LocalBackend, RateLimit, RateLimitBackend, RedisBackend};
use crate::policy::slack::SlackApprovals;
use crate::policy::{Outcome, Parts, Pipeline, ToolCall};
use crate::reload::{self, ReloadReport};
use crate::search;
use crate::supervisor;
use crate::telemetry::metrics::{Metrics, Snapshot};
use crate::upstream::Relay;
use crate::upstream::{Health, Upstream};

/// Options that are not part of the configuration file.
#[derive(Clone)]
pub struct GatewayOptions {
    /// The executable whose `server <kind>` subcommands are the built-in servers (normally
    /// `std::env::current_exe()`).
    pub builtin_exe: PathBuf,
    /// Where rate-limit buckets live (default: in this process).
    pub rate_limit_backend: Option<Arc<dyn RateLimitBackend>>,
    /// Variables for resolving `${VAR}` / `${env:NAME}` references, consulted before the
    /// process environment (embedding and tests).
    pub env: BTreeMap<String, String>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            builtin_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("switchboard")),
            rate_limit_backend: None,
            env: BTreeMap::new(),
        }
    }
}

/// One tool call request, as it arrives from any downstream.
#[derive(Debug, Clone, Default)]
pub struct CallRequest {
    /// The exposed tool name.
    pub name: String,
    /// The arguments.
    pub arguments: Option<JsonObject>,
    /// Answers to an earlier `input_required` result.
    pub input_responses: Option<InputResponses>,
    /// The echoed `requestState`.
    pub request_state: Option<String>,
    /// The caller's W3C trace context (`params._meta` or the HTTP headers): the call's spans
    /// continue its trace.
    pub trace: Option<switchboard_telemetry::TraceContext>,
    /// Cancelled when the caller no longer wants the call (a client's own cancellation reaches
    /// a relayed call through its relay): a wait for an operator is withdrawn, the upstream is
    /// told, and the call is audited as it ended.
    pub cancelled: Option<CancellationToken>,
}

/// The access of a caller that may use every tool (the local user, anonymous loopback HTTP),
/// made once: the stdio caller is derived for every request.
static EVERY_TOOL: std::sync::LazyLock<Arc<Access>> =
    std::sync::LazyLock::new(|| Arc::new(Access::all()));

/// How often the pin file is checked for an operator's decision.
const PIN_CHECK: Duration = Duration::from_secs(1);

/// The health of one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamStatus {
    /// Its name.
    pub name: String,
    /// Whether `/readyz` requires it.
    pub required: bool,
    /// Its current health.
    pub health: Health,
    /// How many tools it exposes.
    pub tools: usize,
    /// How often it was restarted since the gateway started.
    pub restarts: u64,
}

/// Everything one configuration decides. A reload builds a new one and swaps it in whole; the
/// calls that started under the old one finish with it.
struct Live {
    config: Arc<ResolvedConfig>,
    upstreams: BTreeMap<String, Arc<Upstream>>,
    pipeline: Pipeline,
    /// Client name by static bearer token.
    tokens: HashMap<String, String>,
    /// What each configured client may see and call.
    access: HashMap<String, Arc<Access>>,
    auth: Option<Arc<crate::auth::Authenticator>>,
}

/// The configuration in force and the catalog built from its upstreams, read together so a
/// call never pairs a catalog with another configuration's upstreams.
#[derive(Clone)]
struct Current {
    live: Arc<Live>,
    catalog: Arc<Catalog>,
}

/// What outlives a reload: the audit log, the secrets seen (for scrubbing), the rate-limit
/// buckets, the metrics.
struct Shared {
    audit_log: Option<Arc<AuditSink>>,
    secrets: crate::secrets::SecretSet,
    rate_limits: Arc<dyn RateLimitBackend>,
    metrics: Arc<Metrics>,
    /// Cancelled when shutdown begins: new calls are refused (and audited) from then on.
    draining: CancellationToken,
    /// Cancelled when a shutdown signal arrives, before draining: `/readyz` answers `503` so a
    /// balancer stops sending, while calls are still served.
    leaving: CancellationToken,
    /// Where calls wait for an operator (shared with the other replicas through the state
    /// store, when there is one).
    approvals: Arc<ApprovalQueue>,
    /// Each call's audit record as it is written, for whoever watches (the console's live
    /// calls); a watcher that falls behind skips records instead of holding them.
    calls: broadcast::Sender<Arc<crate::audit::AuditRecord>>,
}

struct Inner {
    current: RwLock<Current>,
    shared: Shared,
    options: GatewayOptions,
    shutdown: CancellationToken,
    supervisors: TaskTracker,
    calls: TaskTracker,
    /// The tasks that clients follow through this gateway: where each lives.
    tasks: crate::tasks::TaskRoutes,
    /// The gateway's own tasks (calls waiting for an operator).
    task_manager: rmcp::task_manager::TaskManager,
    list_changed: broadcast::Sender<ListChanges>,
    /// Tells the catalog task an upstream's listing changed (handed to every supervisor).
    changed: Notifier,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Why the last refresh of the secrets failed, while it has not succeeded since.
    stale_secrets: std::sync::Mutex<Option<String>>,
    /// The HTTP session table, once HTTP serving has started (for `/metrics`).
    http_sessions: std::sync::OnceLock<Arc<crate::downstream::sessions::Sessions>>,
    lazy_started: std::sync::atomic::AtomicBool,
    pins: Pins,
}

/// A running gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl Live {
    /// The pipeline, clients and upstreams of `resolved`. Upstreams whose settings and values
    /// are unchanged from `previous` are carried over (running); the others are new, and not
    /// yet supervised.
    fn new(
        resolved: ResolvedConfig,
        shared: &Shared,
        previous: Option<&Self>,
        shutdown: &CancellationToken,
    ) -> Self {
        let cfg = &resolved.config;
        let redactor = || Redactor::new(&cfg.audit.redact, shared.secrets.clone());
        let approval = {
            let before = previous.map(|p| p.pipeline.approval());
            let layer = match before {
                Some(before) => before.successor(cfg.tools.clone()),
                None => ApprovalLayer::new(cfg.tools.clone())
                    .with_store(shared.approvals.store().cloned()),
            };
            let slack = resolved.approvals_slack.as_ref().and_then(|slack| {
                SlackApprovals::new(slack)
                    .inspect_err(|error| {
                        tracing::error!(
                            target: "switchboard::approvals",
                            %error, "approvals cannot be posted to Slack"
                        );
                    })
                    .ok()
                    .map(Arc::new)
            });
            // Calls wait for an operator only where one can answer.
            if cfg.clients.values().any(|c| c.admin) || slack.is_some() {
                let queue = shared.approvals.clone();
                layer.with_queue(queue, cfg.approval_timeout, redactor(), slack)
            } else {
                layer
            }
        };
        let pipeline = Pipeline::new(Parts {
            audit: AuditLayer {
                stream: cfg.audit.stream_stdout,
                log: shared.audit_log.clone(),
                redactor: redactor(),
                metrics: shared.metrics.clone(),
                watchers: shared.calls.clone(),
            },
            authorize: Authorize,
            rate_limit: RateLimit::new(
                shared.rate_limits.clone(),
                cfg.rate_limits.clone(),
                cfg.clients
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                shared.metrics.clone(),
            ),
            approval,
            limits: Limits {
                rules: cfg.tools.clone(),
                draining: shared.draining.clone(),
            },
        });
        let upstreams = resolved
            .servers
            .values()
            .map(|server| {
                let kept = previous
                    .and_then(|p| p.upstreams.get(&server.config.name))
                    .filter(|u| u.server == *server);
                let upstream = match kept {
                    Some(u) => u.clone(),
                    None => Upstream::new(server.clone(), shutdown.child_token()),
                };
                (server.config.name.clone(), upstream)
            })
            .collect();
        let tokens = resolved
            .clients
            .values()
            .filter_map(|c| c.token.clone().map(|t| (t, c.config.name.clone())))
            .collect();
        let access = resolved
            .clients
            .values()
            .map(|c| {
                let access = Access::new(c.config.allow.clone(), c.config.deny.clone());
                (c.config.name.clone(), Arc::new(access))
            })
            .collect();
        let auth = cfg.auth.as_ref().map(|config| {
            let same = previous
                .and_then(|p| p.auth.as_ref().map(|a| (p, a)))
                .filter(|(p, _)| {
                    p.config.config.auth.as_ref() == Some(config)
                        && p.config.introspection_secrets == resolved.introspection_secrets
                });
            match same {
                Some((_, auth)) => auth.clone(),
                None => Arc::new(crate::auth::Authenticator::new(
                    config.clone(),
                    &resolved.introspection_secrets,
                )),
            }
        });
        Self {
            config: Arc::new(resolved),
            upstreams,
            pipeline,
            tokens,
            access,
            auth,
        }
    }

    /// Every upstream's listing, its tools checked against the pins.
    fn sources<'a>(&'a self, pins: &Pins) -> Vec<Source<'a>> {
        let many = self.upstreams.len() > 1;
        self.upstreams
            .values()
            .map(|u| {
                let exclude = &u.server.config.exclude_tools;
                let mut listing = u.listing();
                listing
                    .tools
                    .retain(|t| !exclude.iter().any(|p| p.matches(&t.name)));
                let reviewed = pins.review(&u.name, &listing.tools);
                listing.tools = reviewed.serve;
                Source {
                    server: &u.name,
                    prefix: u.server.config.prefix.unwrap_or(many),
                    exclude,
                    listing,
                    withheld: reviewed.withheld,
                }
            })
            .collect()
    }
}

impl Gateway {
    /// Resolves `config`, opens the audit log, starts every boot-time upstream and waits (up to
    /// `gateway.startup_timeout`) for them to come up or fail, then builds the catalog.
    ///
    /// An upstream that fails to start does not stop the gateway (its tools answer "unavailable"
    /// while it is retried); a configuration error, an unopenable audit log or a tool-name
    /// collision does, and nothing is left running.
    ///
    /// # Errors
    /// [`GatewayError::Config`], [`GatewayError::Audit`], [`GatewayError::Collision`],
    /// [`GatewayError::InvalidToolName`].
    pub async fn start(config: Config, options: GatewayOptions) -> Result<Self, GatewayError> {
        let resolved = config
            .resolve_with(&options.builtin_exe, options.env.clone())
            .await?;
        let audit_log = match (&resolved.audit_sink, &resolved.config.audit.path) {
            (Some(url), _) => Some(Arc::new(AuditSink::Postgres(
                PostgresSink::open(url, &resolved.config.audit.replica)
                    .await
                    .map_err(GatewayError::AuditSink)?,
            ))),
            (None, Some(path)) => Some(Arc::new(AuditSink::File(
                AuditLog::open(path, resolved.config.audit.fsync).map_err(|source| {
                    GatewayError::Audit {
                        path: path.clone(),
                        source,
                    }
                })?,
            ))),
            (None, None) => None,
        };
        let pins = Pins::open(
            resolved.config.pins.clone(),
            shared_pins(&resolved)?,
            audit_log.clone(),
        )?;
        let rate_limits = rate_limit_backend(&options, &resolved)?;
        let approvals = Arc::new(ApprovalQueue::new(resolved.config.approval_timeout));
        let queue_store = queue_store(&resolved)?;
        if let Some(store) = &queue_store {
            approvals.share(store.clone());
        }
        let shared = Shared {
            approvals: approvals.clone(),
            rate_limits,
            audit_log,
            secrets: resolved.secrets.clone(),
            metrics: Arc::new(Metrics::new()),
            draining: CancellationToken::new(),
            leaving: CancellationToken::new(),
            calls: broadcast::channel(256).0,
        };
        let shutdown = CancellationToken::new();
        let live = Live::new(resolved, &shared, None, &shutdown);
        let (changed, changed_rx) = pending();
        let inner = Arc::new(Inner {
            current: RwLock::new(Current {
                live: Arc::new(live),
                catalog: Arc::new(Catalog::default()),
            }),
            shared,
            options,
            shutdown,
            supervisors: TaskTracker::new(),
            calls: TaskTracker::new(),
            tasks: crate::tasks::TaskRoutes::default(),
            task_manager: rmcp::task_manager::TaskManager::new(),
            list_changed: broadcast::channel(16).0,
            changed,
            reloading: tokio::sync::Mutex::new(()),
            stale_secrets: std::sync::Mutex::default(),
            http_sessions: std::sync::OnceLock::new(),
            lazy_started: std::sync::atomic::AtomicBool::new(false),
            pins,
        });
        let gateway = Self { inner };
        if let Some(store) = queue_store {
            // Decisions taken on other replicas for the calls waiting here.
            let shutdown = gateway.inner.shutdown.clone();
            gateway.inner.supervisors.spawn(async move {
                let deliver = |d: crate::policy::queue_store::Decided| {
                    let _ = approvals.decide_here(&d.id, d.note);
                };
                store.listen(deliver, shutdown).await;
            });
        }
        gateway.boot(changed_rx).await?;
        Ok(gateway)
    }

    async fn boot(&self, changed: Waiter) -> Result<(), GatewayError> {
        let live = self.live();
        let fresh: Vec<_> = live.upstreams.values().cloned().collect();
        self.supervise(&fresh, live.config.config.gateway.startup_timeout)
            .await;
        match Catalog::build(live.sources(&self.inner.pins)) {
            Ok(catalog) => {
                self.set_catalog(&live, catalog);
            }
            Err(error) => {
                self.shutdown().await;
                return Err(error);
            }
        }
        let gateway = self.clone();
        self.inner
            .supervisors
            .spawn(gateway.maintain_catalog(changed));
        self.inner
            .supervisors
            .spawn(self.clone().refresh_periodically());
        Ok(())
    }

    /// Refreshes the secrets every `[secrets] refresh` (as the configuration in force says).
    async fn refresh_periodically(self) {
        loop {
            let every = self.live().config.config.secrets_refresh;
            let wait = if every.is_zero() {
                Duration::from_secs(60)
            } else {
                every
            };
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if !every.is_zero() {
                // The outcome is logged, counted and (when something changed) audited.
                let _ = self.refresh_secrets().await;
            }
        }
    }

    /// Starts supervising `upstreams` and waits (up to `gateway.startup_timeout`) for the
    /// boot-time ones among them to come up or fail.
    async fn supervise(&self, upstreams: &[Arc<Upstream>], limit: Duration) {
        let inner = &self.inner;
        for upstream in upstreams {
            inner.supervisors.spawn(supervisor::supervise(
                upstream.clone(),
                inner.shared.secrets.clone(),
                inner.changed.clone(),
                upstream.stop.clone(),
            ));
        }
        let waits = upstreams
            .iter()
            .filter(|u| u.server.config.start == StartMode::Boot)
            .map(|u| u.wait_settled(limit));
        futures::future::join_all(waits).await;
    }

    /// The configuration in force and its catalog.
    fn current(&self) -> Current {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn live(&self) -> Arc<Live> {
        self.current().live
    }

    /// Replaces the catalog, unless a reload replaced `live` meanwhile (it built its own).
    fn set_catalog(&self, live: &Arc<Live>, catalog: Catalog) -> Option<Arc<Catalog>> {
        let mut current = self
            .inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !Arc::ptr_eq(&current.live, live) {
            return None;
        }
        Some(std::mem::replace(&mut current.catalog, Arc::new(catalog)))
    }

    /// Rebuilds the catalog whenever an upstream's listing changes, or an operator decided on a
    /// pin (the pin file changed), and tells sessions which lists changed.
    async fn maintain_catalog(self, mut changed: Waiter) {
        let mut pin_check = tokio::time::interval(PIN_CHECK);
        pin_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                more = changed.changed() => {
                    if !more { return }
                    self.rebuild_catalog();
                }
                _ = pin_check.tick(), if self.inner.pins.kept() => {
                    // Asking the store may block (a file's metadata, a Redis round trip).
                    let gateway = self.clone();
                    let changed = tokio::task::spawn_blocking(move || gateway.inner.pins.changed());
                    if changed.await.unwrap_or(false) {
                        self.rebuild_catalog();
                    }
                }
            }
        }
    }

    fn rebuild_catalog(&self) {
        let live = self.live();
        let (catalog, errors) = Catalog::build_lenient(live.sources(&self.inner.pins));
        for error in errors {
            tracing::error!("{error}; the tool is left out");
        }
        let Some(before) = self.set_catalog(&live, catalog) else {
            return;
        };
        let changes = self.catalog().changes_from(&before);
        if changes.any() {
            let _ = self.inner.list_changed.send(changes);
        }
    }

    /// Reloads the configuration file the gateway started from. The new file is parsed,
    /// validated and resolved completely first; if anything is wrong, the running configuration
    /// stays and the error names the file and key. Otherwise the difference is applied: new
    /// upstreams are started (and waited for, as at start), changed ones replaced, removed ones
    /// drained and stopped; clients, scopes, rate limits, approvals and tool settings apply to
    /// the next call, while calls in flight finish under the rules they started with. Sessions
    /// stay, and are told when a list they see may have changed. `by` (who asked: `signal`,
    /// `watch`, a client) and the changed keys — never values — go to the audit log.
    ///
    /// # Errors
    /// The reason the file was not taken: [`GatewayError::Config`], a tool-name collision, or
    /// [`GatewayError::NoConfigFile`].
    pub async fn reload(&self, by: &str) -> Result<ReloadReport, GatewayError> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let result = self.apply_file().await;
        self.record_reload(by, &result);
        result
    }

    /// Reads every secret reference of the configuration in force again (`[secrets] refresh`
    /// does, on its own) and applies the values that changed as a reload would: an upstream whose
    /// header, OAuth client secret or environment changed gets a new connection or process, the
    /// old one drained; a client's new token is accepted at once. When a reference cannot be
    /// read, everything keeps its last good value, and `/readyz` and
    /// `switchboard_secrets_stale` say so until a refresh succeeds.
    ///
    /// # Errors
    /// The reference that could not be read (never a value).
    pub async fn refresh_secrets(&self) -> Result<ReloadReport, GatewayError> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let old = self.live();
        let options = &self.inner.options;
        let result = match old
            .config
            .config
            .resolve_with(&options.builtin_exe, options.env.clone())
            .await
        {
            Ok(resolved) => {
                let changed = reload::changed_values(&old.config, &resolved);
                if changed.is_empty() {
                    Ok(ReloadReport::default())
                } else {
                    self.apply(&old, resolved, changed).await
                }
            }
            Err(error) => Err(error.into()),
        };
        let stale = result
            .as_ref()
            .err()
            .map(|e| self.inner.shared.secrets.scrub(&e.to_string()));
        self.inner.shared.metrics.secrets_stale(stale.is_some());
        *self
            .inner
            .stale_secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stale;
        if result.as_ref().map_or(true, ReloadReport::any) {
            self.record_reload("refresh", &result);
        }
        result
    }

    /// Why the last refresh of the secrets failed, while the values in use are the last good
    /// ones.
    pub fn stale_secrets(&self) -> Option<String> {
        self.inner
            .stale_secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Logs, counts and audits a reload's outcome.
    fn record_reload(&self, by: &str, result: &Result<ReloadReport, GatewayError>) {
        let file = self.live().config.config.file.display().to_string();
        let (outcome, message, arguments) = match result {
            Ok(report) => (
                "ok",
                report.summary(),
                serde_json::to_value(report).unwrap_or_default(),
            ),
            Err(error) => (
                "refused",
                self.inner.shared.secrets.scrub(&error.to_string()),
                Value::Null,
            ),
        };
        self.inner.shared.metrics.reloaded(result.is_ok());
        match result {
            Ok(_) => {
                tracing::info!(target: "switchboard::reload", by, "reloaded {file}: {message}")
            }
            Err(_) => tracing::error!(
                target: "switchboard::reload",
                by,
                "{message}; the running configuration stays"
            ),
        }
        if let Some(log) = &self.inner.shared.audit_log {
            let record = AuditRecord::event(
                by.to_owned(),
                "reload".to_owned(),
                None,
                "config",
                outcome,
                message,
                arguments,
            );
            log.append_detached(record);
        }
    }

    async fn apply_file(&self) -> Result<ReloadReport, GatewayError> {
        let old = self.live();
        if old.config.config.source.is_null() {
            return Err(GatewayError::NoConfigFile);
        }
        let options = &self.inner.options;
        let config = Config::load(&old.config.config.file)?;
        let resolved = config
            .resolve_with(&options.builtin_exe, options.env.clone())
            .await?;
        let changed = reload::changed_keys(&old.config.config.source, &resolved.config.source);
        self.apply(&old, resolved, changed).await
    }

    /// Applies `resolved` in place of `old`; `changed` are the keys whose values differ.
    async fn apply(
        &self,
        old: &Arc<Live>,
        mut resolved: ResolvedConfig,
        changed: Vec<String>,
    ) -> Result<ReloadReport, GatewayError> {
        let restart_needed = changed
            .iter()
            .filter(|k| reload::needs_restart(k))
            .cloned()
            .collect();
        reload::keep_running(&old.config, &mut resolved);
        let guarded = |c: &ResolvedConfig| {
            c.config.auth.is_some() || c.clients.values().any(|c| c.token.is_some())
        };
        if guarded(&old.config) && !guarded(&resolved) {
            // Without tokens, HTTP would admit anyone who can reach it.
            return Err(crate::error::ConfigError::Invalid {
                file: resolved.config.file.clone(),
                key: "clients".to_owned(),
                message: "the running gateway requires tokens and this file gives no client a \
                          token (nor [auth]); a reload cannot open it up — restart it for that"
                    .to_owned(),
            }
            .into());
        }
        let secrets = resolved.secrets.clone();
        let new = Arc::new(Live::new(
            resolved,
            &self.inner.shared,
            Some(old),
            &self.inner.shutdown,
        ));
        let kept = |a: &BTreeMap<String, Arc<Upstream>>, u: &Arc<Upstream>| {
            a.get(&u.name).is_some_and(|v| Arc::ptr_eq(v, u))
        };
        let fresh: Vec<_> = new
            .upstreams
            .values()
            .filter(|u| !kept(&old.upstreams, u))
            .cloned()
            .collect();
        let retired: Vec<_> = old
            .upstreams
            .values()
            .filter(|u| !kept(&new.upstreams, u))
            .cloned()
            .collect();
        if self
            .inner
            .lazy_started
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            for upstream in &fresh {
                upstream.trigger_start();
            }
        }
        self.supervise(&fresh, new.config.config.gateway.startup_timeout)
            .await;
        let catalog = match Catalog::build(new.sources(&self.inner.pins)) {
            Ok(catalog) => catalog,
            Err(error) => {
                for upstream in &fresh {
                    upstream.stop.cancel();
                }
                return Err(error);
            }
        };
        self.inner.shared.secrets.take_over(&secrets);
        let before = std::mem::replace(
            &mut *self
                .inner
                .current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Current {
                live: new.clone(),
                catalog: Arc::new(catalog),
            },
        );
        let mut changes = self.catalog().changes_from(&before.catalog);
        changes.tools |= changed.iter().any(|k| reload::affects_views(k));
        if changes.any() {
            let _ = self.inner.list_changed.send(changes);
        }
        let drain = new.config.config.gateway.drain_timeout;
        for upstream in &retired {
            self.inner
                .supervisors
                .spawn(retire(upstream.clone(), drain));
        }
        let names = |list: &[Arc<Upstream>], among: &BTreeMap<String, Arc<Upstream>>, is: bool| {
            list.iter()
                .filter(|u| among.contains_key(&u.name) == is)
                .map(|u| u.name.clone())
                .collect()
        };
        Ok(ReloadReport {
            changed,
            restart_needed,
            started: names(&fresh, &old.upstreams, false),
            restarted: names(&fresh, &old.upstreams, true),
            stopped: names(&retired, &new.upstreams, false),
        })
    }

    /// The tasks that clients follow through this gateway.
    pub(crate) fn tasks(&self) -> &crate::tasks::TaskRoutes {
        &self.inner.tasks
    }

    /// The gateway's own tasks.
    pub(crate) fn task_manager(&self) -> &rmcp::task_manager::TaskManager {
        &self.inner.task_manager
    }

    /// Whether a call of `tool` by `caller` would wait in the approval queue for an operator (it
    /// needs approval, the caller cannot be asked, and an operator can answer); how long it may
    /// wait, if so.
    pub(crate) fn waits_for_operator(&self, caller: &Caller, tool: &str) -> Option<Duration> {
        let Current { live, catalog } = self.current();
        let queue = live.pipeline.approval().queue()?;
        let entry = catalog.tool(tool)?;
        (matches!(caller.approval, crate::caller::ApprovalChannel::None)
            && caller.access.permits(tool)
            && crate::policy::approval::needs_approval(
                &live.config.config.tools,
                tool,
                Some(&entry),
            ))
        .then(|| queue.timeout())
    }

    /// How long a call of `tool` may run, when its rule makes it a task of the gateway's own
    /// for a client that follows tasks (`[tools."…"] task = true`); `None` otherwise.
    pub(crate) fn runs_as_task(&self, caller: &Caller, tool: &str) -> Option<Duration> {
        let Current { live, catalog } = self.current();
        let entry = catalog.tool(tool)?;
        let rules = &live.config.config.tools;
        (caller.access.permits(tool) && rules.iter().any(|r| r.task && r.pattern.matches(tool)))
            .then(|| {
                let server = live
                    .upstreams
                    .get(&entry.server)
                    .map(|u| u.server.config.timeout);
                crate::policy::limits::budget(rules, tool, server)
            })
    }

    /// Each call's audit record from now on, as it is written.
    pub fn watch_calls(&self) -> broadcast::Receiver<Arc<crate::audit::AuditRecord>> {
        self.inner.shared.calls.subscribe()
    }

    /// The catalog's tools client `client` may see (every tool for `None`), each with whether a
    /// call of it needs a person's approval.
    pub fn tools_for(&self, client: Option<&str>) -> Vec<(Arc<crate::catalog::CatalogTool>, bool)> {
        let Current { live, catalog } = self.current();
        let caller = client.map(|name| self.caller(name, ""));
        catalog
            .tools()
            .filter(|t| caller.as_ref().is_none_or(|c| c.access.permits(&t.exposed)))
            .map(|t| {
                let approval = crate::policy::approval::needs_approval(
                    &live.config.config.tools,
                    &t.exposed,
                    Some(t),
                );
                (t.clone(), approval)
            })
            .collect()
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.current().catalog
    }

    /// The resolved configuration in force.
    pub fn config(&self) -> Arc<ResolvedConfig> {
        self.live().config.clone()
    }

    /// Notified whenever the catalog changes (an upstream came up, sent a `list_changed`, …),
    /// saying which lists changed.
    pub fn subscribe_list_changed(&self) -> broadcast::Receiver<ListChanges> {
        self.inner.list_changed.subscribe()
    }

    /// Whether any client has a token (then HTTP requires one).
    pub fn requires_tokens(&self) -> bool {
        let live = self.live();
        !live.tokens.is_empty() || live.auth.is_some()
    }

    /// Whether `caller` is an operator (`admin = true` on its client).
    pub fn is_admin(&self, caller: &Caller) -> bool {
        self.live()
            .config
            .config
            .clients
            .get(&caller.client)
            .is_some_and(|c| c.admin)
    }

    /// Where approvals are posted in Slack, when `[approvals] slack` is configured.
    pub(crate) fn slack_approvals(&self) -> Option<Arc<crate::policy::slack::SlackApprovals>> {
        self.live().pipeline.approval().slack().cloned()
    }

    /// The calls waiting for an operator's approval, oldest first (`None`: no queue, because no
    /// client is an operator).
    pub async fn approvals(&self) -> Option<Vec<crate::policy::queue::QueuedApproval>> {
        let live = self.live();
        match live.pipeline.approval().queue() {
            Some(queue) => Some(queue.list().await),
            None => None,
        }
    }

    /// An operator's answer to the queued call `id`: it runs (`approve`) or is refused with
    /// `reason`; the call's audit record names `by`.
    ///
    /// # Errors
    /// [`crate::policy::queue::DecideError::Unknown`] when nothing waits under `id`.
    pub async fn decide_approval(
        &self,
        id: &str,
        approve: bool,
        reason: Option<String>,
        by: &Caller,
    ) -> Result<(), crate::policy::queue::DecideError> {
        self.decide_approval_as(id, approve, reason, by.describe())
            .await
    }

    /// [`Gateway::decide_approval`] by someone named `by` who is not a caller (a Slack user).
    pub(crate) async fn decide_approval_as(
        &self,
        id: &str,
        approve: bool,
        reason: Option<String>,
        by: String,
    ) -> Result<(), crate::policy::queue::DecideError> {
        use crate::policy::queue::{ApprovalNote, DecideError, now_rfc3339};
        let live = self.live();
        let queue = live
            .pipeline
            .approval()
            .queue()
            .ok_or(DecideError::Unknown)?;
        let note = ApprovalNote {
            decision: if approve { "approved" } else { "denied" }.to_owned(),
            by: Some(by),
            at: now_rfc3339(),
            reason: reason.filter(|r| !r.is_empty()),
        };
        tracing::info!(
            target: "switchboard::approvals",
            id, decision = %note.decision, by = ?note.by, "an operator decided"
        );
        queue.decide(id, note).await
    }

    /// The verifier of people's tokens, when `[auth]` is configured.
    pub fn authenticator(&self) -> Option<Arc<crate::auth::Authenticator>> {
        self.live().auth.clone()
    }

    /// The caller a bearer token stands for: a client's static token, or a person's token
    /// from a trusted issuer (`[auth]`) mapped to a client by its claims.
    ///
    /// # Errors
    /// A [`crate::auth::Refusal`] saying which answer the request gets.
    pub async fn identify(
        &self,
        token: &str,
        session: impl Into<String>,
    ) -> Result<Caller, crate::auth::Refusal> {
        let session = session.into();
        if let Some(caller) = self.authenticate(token, session.clone()) {
            return Ok(caller);
        }
        let Some(auth) = self.live().auth.clone() else {
            return Err(crate::auth::Refusal::Invalid("unknown token".into()));
        };
        let (client, person) = auth.identify(token).await?;
        let mut caller = self.caller(&client, session);
        caller.user = Some(Arc::new(person));
        Ok(caller)
    }

    /// The caller for client `name` (its access from `[clients]`). A name that is not
    /// configured gets every tool when no clients are configured at all, and none otherwise.
    pub fn caller(&self, name: &str, session: impl Into<String>) -> Caller {
        let live = self.live();
        let clients = &live.config.clients;
        let access = match live.access.get(name) {
            Some(access) => access.clone(),
            None if clients.is_empty() => EVERY_TOOL.clone(),
            None => Arc::new(Access::none()),
        };
        let mut caller = Caller::new(name, session, access);
        caller.tool_search = clients
            .get(name)
            .and_then(|c| c.config.tool_search)
            .unwrap_or(live.config.config.gateway.tool_search);
        caller
    }

    /// The caller of the stdio connection: `gateway.stdio_client` when set, else `local` with
    /// every tool (stdio is the local user's own process).
    pub fn stdio_caller(&self, session: impl Into<String>) -> Caller {
        let settings = &self.live().config.config.gateway;
        match &settings.stdio_client {
            Some(name) => self.caller(name, session),
            None => {
                let mut caller = Caller::new("local", session, EVERY_TOOL.clone());
                caller.tool_search = settings.tool_search;
                caller
            }
        }
    }

    /// The caller of an HTTP request when no client tokens are configured (loopback only):
    /// `anonymous`, with every tool.
    pub fn anonymous_caller(&self) -> Caller {
        let mut caller = Caller::new("anonymous", "", EVERY_TOOL.clone());
        caller.tool_search = self.live().config.config.gateway.tool_search;
        caller
    }

    /// The caller owning bearer `token`, if any.
    pub fn authenticate(&self, token: &str, session: impl Into<String>) -> Option<Caller> {
        // Compare every token in constant time per byte, so timing does not reveal prefixes.
        let mut found = None;
        for (candidate, name) in &self.live().tokens {
            if constant_time_eq(candidate.as_bytes(), token.as_bytes()) {
                found = Some(name.clone());
            }
        }
        found.map(|name| self.caller(&name, session))
    }

    /// Starts lazy upstreams (once) and waits for them, so listings are complete.
    async fn ensure_lazy_started(&self) {
        use std::sync::atomic::Ordering;
        if self.inner.lazy_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let live = self.live();
        let lazy: Vec<_> = live
            .upstreams
            .values()
            .filter(|u| u.server.config.start == StartMode::Lazy)
            .collect();
        for u in &lazy {
            u.trigger_start();
        }
        let limit = live.config.config.gateway.startup_timeout;
        futures::future::join_all(lazy.iter().map(|u| u.wait_settled(limit))).await;
        let (catalog, errors) = Catalog::build_lenient(live.sources(&self.inner.pins));
        for error in errors {
            tracing::error!("{error}; the tool is left out");
        }
        self.set_catalog(&live, catalog);
    }

    /// The tools `caller` may see, in catalog order; or, when tool search applies to it, the
    /// two meta tools that search them and call one.
    pub async fn list_tools(&self, caller: &Caller) -> Vec<Tool> {
        self.ensure_lazy_started().await;
        let visible = visible(caller, &self.catalog());
        if caller.tool_search.applies(visible.len()) {
            return search::meta_tools(visible.len());
        }
        visible
    }

    /// A fingerprint of what `caller`'s `tools/list` shows now, under the configuration in
    /// force (its scopes as they are now, not as when it connected).
    pub(crate) fn view(&self, caller: &Caller) -> u64 {
        use std::hash::{Hash as _, Hasher as _};
        let live = self.live();
        let mut caller = caller.clone();
        if let Some(client) = live.config.clients.get(&caller.client) {
            caller.access = live.access[&caller.client].clone();
            caller.tool_search = client
                .config
                .tool_search
                .unwrap_or(live.config.config.gateway.tool_search);
        }
        if let Some(search) = caller.endpoint.as_ref().and_then(|e| e.tool_search) {
            caller.tool_search = search;
        }
        let visible = visible(&caller, &self.catalog());
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        if caller.tool_search.applies(visible.len()) {
            "search".hash(&mut hasher);
        } else {
            serde_json::to_string(&visible)
                .unwrap_or_default()
                .hash(&mut hasher);
        }
        hasher.finish()
    }

    /// The tools `caller` may see, when tool search applies to it.
    fn searching(&self, caller: &Caller, catalog: &Catalog) -> Option<Vec<Arc<Tool>>> {
        if caller.tool_search == ToolSearch::Off {
            return None;
        }
        let visible = visible(caller, catalog);
        caller
            .tool_search
            .applies(visible.len())
            .then(|| visible.into_iter().map(Arc::new).collect())
    }

    /// The virtual endpoint `name`.
    pub fn endpoint(&self, name: &str) -> Option<Arc<Endpoint>> {
        self.live().config.config.endpoints.get(name).cloned()
    }

    /// Answers `search_tools` for `caller` (audited like any call).
    async fn search_tools(live: &Live, call: &ToolCall, visible: Vec<Arc<Tool>>) -> Outcome {
        let outcome = match search::search_arguments(&call.arguments) {
            Ok((query, limit)) => {
                let found: Vec<Value> = search::Index::new(visible)
                    .search(&query, limit)
                    .iter()
                    .map(|tool| serde_json::to_value(tool.as_ref()).unwrap_or(Value::Null))
                    .collect();
                let answer = json!({ "tools": found });
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(answer.to_string())]);
                result.structured_content = Some(answer);
                Outcome::Completed(result)
            }
            Err(message) => {
                Outcome::Completed(CallToolResult::error(vec![ContentBlock::text(message)]))
            }
        };
        live.pipeline.answer(call, outcome).await
    }

    /// Calls tool `name` for `caller` through the full pipeline and audit.
    pub async fn call_tool(
        &self,
        caller: &Caller,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> CallToolResult {
        let request = CallRequest {
            name: name.to_owned(),
            arguments,
            ..CallRequest::default()
        };
        self.call(caller, request).await.into_result()
    }

    /// Calls a tool and returns the full [`Outcome`] (needed to answer `input_required`).
    pub async fn call(&self, caller: &Caller, request: CallRequest) -> Outcome {
        self.call_with(caller, request, None).await
    }

    /// Like [`Self::call`], for a request an MCP client sent: what the upstream sends while
    /// serving it (progress, log messages, requests) goes back through `relay`, and a JSON-RPC
    /// error from the upstream is returned as that error.
    pub(crate) async fn call_relayed(
        &self,
        caller: &Caller,
        request: CallRequest,
        relay: Arc<Relay>,
    ) -> Result<Outcome, ErrorData> {
        let outcome = self.call_with(caller, request, Some(relay)).await;
        match outcome.protocol_error() {
            Some(error) => Err(error),
            None => Ok(outcome),
        }
    }

    async fn call_with(
        &self,
        caller: &Caller,
        request: CallRequest,
        relay: Option<Arc<Relay>>,
    ) -> Outcome {
        let received = Instant::now();
        // While draining, calls still go through the pipeline so the limits layer's refusal
        // is audited.
        if !self.inner.calls.is_closed() {
            self.ensure_lazy_started().await;
        }
        let Current { live, catalog } = self.current();
        let mut request = request;
        let mut meta = None;
        if catalog.tool(&request.name).is_none()
            && let Some(visible) = self.searching(caller, &catalog)
        {
            match request.name.as_str() {
                search::SEARCH_TOOLS => meta = Some(Ok(visible)),
                search::CALL_TOOL => {
                    match search::call_arguments(
                        request.arguments.as_ref().unwrap_or(&JsonObject::new()),
                    ) {
                        // The named tool goes through everything below, as if called directly.
                        Ok((name, arguments)) => {
                            request.name = name;
                            request.arguments = arguments;
                        }
                        Err(message) => meta = Some(Err(message)),
                    }
                }
                _ => {}
            }
        }
        // On a virtual endpoint, the name its clients call, and the arguments it fixes.
        let mut off_endpoint = false;
        if meta.is_none()
            && let Some(endpoint) = &caller.endpoint
        {
            match endpoint.resolve(&request.name) {
                Some((exposed, fixed)) => {
                    request.name = exposed;
                    if !fixed.is_empty() {
                        request.arguments.get_or_insert_default().extend(fixed);
                    }
                }
                None => off_endpoint = true,
            }
        }
        let tool = catalog.tool(&request.name);
        let (server, upstream_name) = match &tool {
            Some(t) => (Some(t.server.clone()), t.upstream_name.clone()),
            None => match catalog.server_by_prefix(&request.name) {
                Some(server) => {
                    let rest = &request.name[server.len() + crate::catalog::SEPARATOR.len()..];
                    (Some(server.to_owned()), rest.to_owned())
                }
                None => (None, request.name.clone()),
            },
        };
        let trace = request.trace;
        let cancelled = match &relay {
            Some(relay) => relay.cancelled.clone(),
            None => request.cancelled.unwrap_or_default(),
        };
        let call = ToolCall {
            caller: caller.clone(),
            exposed: request.name,
            tool,
            upstream: server.and_then(|s| live.upstreams.get(&s).cloned()),
            upstream_name,
            arguments: request.arguments.unwrap_or_default(),
            input_responses: request.input_responses,
            request_state: request.request_state,
            received,
            relay,
            cancelled,
            decided: Arc::default(),
        };
        if off_endpoint {
            return live.pipeline.unknown(&call).await;
        }
        match meta {
            Some(Ok(visible)) => return Self::search_tools(&live, &call, visible).await,
            Some(Err(message)) => {
                let result = CallToolResult::error(vec![ContentBlock::text(message)]);
                return live
                    .pipeline
                    .answer(&call, Outcome::Completed(result))
                    .await;
            }
            None => {}
        }
        if call.tool.is_none()
            && call.caller.access.permits(&call.exposed)
            && let Some(reason) = catalog.withheld(&call.exposed)
        {
            return live.pipeline.withheld(&call, reason.to_owned()).await;
        }
        if call.upstream.is_none() {
            return live.pipeline.unknown(&call).await;
        }
        let span = if switchboard_telemetry::enabled() {
            // Exported: OpenTelemetry's MCP and GenAI conventions, `tools/call <tool>`, a server
            // span continuing the client's trace. Every field is an attribute, so each is
            // named by the conventions and said once.
            let span = tracing::info_span!(
                "tool_call",
                otel.name = %format_args!("tools/call {}", call.exposed),
                otel.kind = "server",
                mcp.method.name = "tools/call",
                gen_ai.operation.name = "execute_tool",
                gen_ai.tool.name = %call.exposed,
                switchboard.upstream = call.server().unwrap_or_default(),
                switchboard.client = %call.caller.client,
                user.id = call.caller.user.as_ref().map(|p| p.subject.as_str()),
                mcp.session.id = %call.caller.session,
            );
            switchboard_telemetry::set_parent(
                &span,
                trace.as_ref().map(|t| t.traceparent.as_str()),
                trace.as_ref().and_then(|t| t.tracestate.as_deref()),
            );
            span
        } else {
            tracing::info_span!(
                "tool_call",
                tool = %call.exposed,
                upstream = call.server().unwrap_or_default(),
                client = %call.caller.client,
                user = call.caller.user.as_ref().map(|p| p.subject.as_str()),
                session = %call.caller.session,
            )
        };
        // The call finishes under the configuration it started with, whatever a reload does.
        self.inner
            .calls
            .track_future(async move { live.pipeline.run(call).await })
            .instrument(span)
            .await
    }

    /// Whether `caller` may use at least one tool of `server` (and so see its resources).
    pub fn sees_server(&self, caller: &Caller, server: &str) -> bool {
        self.catalog()
            .tools()
            .any(|t| t.server == server && caller.access.permits(&t.exposed))
    }

    /// Every upstream's health.
    pub fn status(&self) -> Vec<UpstreamStatus> {
        let Current { live, catalog } = self.current();
        live.upstreams
            .values()
            .map(|u| UpstreamStatus {
                name: u.name.clone(),
                required: u.server.config.required,
                health: u.health(),
                tools: catalog.tools().filter(|t| t.server == u.name).count(),
                restarts: u.restarts.load(std::sync::atomic::Ordering::Relaxed),
            })
            .collect()
    }

    /// Whether every required upstream is healthy.
    pub fn ready(&self) -> bool {
        !self.leaving()
            && self
                .status()
                .iter()
                .all(|s| !s.required || matches!(s.health, Health::Ready { .. } | Health::Idle))
    }

    /// Every upstream, in name order.
    pub(crate) fn upstreams(&self) -> Vec<Arc<Upstream>> {
        self.live().upstreams.values().cloned().collect()
    }

    /// The upstream (for resources and prompts).
    pub(crate) fn upstream(&self, name: &str) -> Option<Arc<Upstream>> {
        self.live().upstreams.get(name).cloned()
    }

    /// The Prometheus text exposition of the gateway's metrics; `sessions` are the open
    /// sessions of each era, as the serving code counts them.
    /// The Prometheus exposition now, with the open HTTP sessions when HTTP serving runs.
    pub fn metrics_now(&self) -> String {
        let open = self.inner.http_sessions.get().map_or(0, |s| s.open());
        self.metrics_text(&[("2025-11-25", open)])
    }

    /// Records the HTTP session table `/metrics` reports.
    pub(crate) fn set_http_sessions(&self, sessions: Arc<crate::downstream::sessions::Sessions>) {
        let _ = self.inner.http_sessions.set(sessions);
    }

    pub fn metrics_text(&self, sessions: &[(&'static str, usize)]) -> String {
        let upstreams = self
            .upstreams()
            .iter()
            .map(|u| {
                let health = u.health();
                (
                    u.name.clone(),
                    matches!(health, Health::Ready { .. }),
                    matches!(health, Health::CircuitOpen { .. }),
                    u.restarts.load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect();
        self.inner.shared.metrics.render(&Snapshot {
            upstreams,
            sessions: sessions.to_vec(),
            approvals_pending: self.live().pipeline.approvals_waiting(),
        })
    }

    /// Cancelled when the gateway shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Marks the gateway as on its way out: not ready any more, still serving.
    pub fn leave(&self) {
        self.inner.shared.leaving.cancel();
    }

    /// Whether a shutdown has begun ([`Gateway::leave`] or [`Gateway::drain`]).
    pub fn leaving(&self) -> bool {
        self.inner.shared.leaving.is_cancelled() || self.inner.shared.draining.is_cancelled()
    }

    /// Waits for the calls in flight to finish, at most `gateway.drain_timeout`.
    pub async fn drain(&self) {
        let inner = &self.inner;
        inner.shared.draining.cancel();
        inner.calls.close();
        let drain = self.live().config.config.gateway.drain_timeout;
        if tokio::time::timeout(drain, inner.calls.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} calls still in flight after {drain:?}; stopping anyway",
                inner.calls.len()
            );
        }
    }

    /// Drains calls in flight (up to `gateway.drain_timeout`), then stops every upstream.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        self.drain().await;
        inner.shutdown.cancel();
        inner.supervisors.close();
        if tokio::time::timeout(Duration::from_secs(10), inner.supervisors.wait())
            .await
            .is_err()
        {
            tracing::warn!("some upstreams did not stop within 10s");
        }
    }
}

/// Stops an upstream a reload removed or replaced, once the calls it is serving have finished
/// (at most `drain` later).
async fn retire(upstream: Arc<Upstream>, drain: Duration) {
    let all = u32::try_from(upstream.server.config.max_concurrency).unwrap_or(u32::MAX);
    if tokio::time::timeout(drain, upstream.semaphore.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            upstream = %upstream.name,
            "calls still in flight after {drain:?}; stopping the old upstream anyway"
        );
    }
    upstream.stop.cancel();
}

/// The fleet's pins, when `[state] store` names a store.
fn shared_pins(resolved: &ResolvedConfig) -> Result<Option<crate::pins::SharedPins>, GatewayError> {
    let Some(url) = &resolved.rate_limit_store else {
        return Ok(None);
    };
    let settings = &resolved.config.gateway;
    crate::pins::SharedPins::new(url, &settings.rate_limit_prefix)
        .map(Some)
        .map_err(|message| store_error(resolved, message))
}

/// A `[state] store` that cannot be used, as the configuration error naming its key.
fn store_error(resolved: &ResolvedConfig, message: String) -> GatewayError {
    crate::error::ConfigError::Invalid {
        file: resolved.config.file.clone(),
        key: resolved.config.gateway.store_key.to_owned(),
        message,
    }
    .into()
}

/// The approval queue's store, when `[state] store` names one.
fn queue_store(
    resolved: &ResolvedConfig,
) -> Result<Option<Arc<crate::policy::queue_store::QueueStore>>, GatewayError> {
    let Some(url) = &resolved.rate_limit_store else {
        return Ok(None);
    };
    let settings = &resolved.config.gateway;
    crate::policy::queue_store::QueueStore::new(url, &settings.rate_limit_prefix)
        .map(|store| Some(Arc::new(store)))
        .map_err(|message| store_error(resolved, message))
}

/// The buckets: the embedder's backend, else Redis when `[state] store` names it, else
/// this process.
fn rate_limit_backend(
    options: &GatewayOptions,
    resolved: &ResolvedConfig,
) -> Result<Arc<dyn RateLimitBackend>, GatewayError> {
    if let Some(backend) = &options.rate_limit_backend {
        return Ok(backend.clone());
    }
    let Some(url) = &resolved.rate_limit_store else {
        return Ok(Arc::new(LocalBackend::new()));
    };
    let settings = &resolved.config.gateway;
    let backend = RedisBackend::new(url, &settings.rate_limit_prefix)
        .map_err(|message| store_error(resolved, message))?;
    Ok(Arc::new(backend))
}

/// The tools `caller` may see, in catalog order, as its endpoint (if any) presents them.
fn visible(caller: &Caller, catalog: &Catalog) -> Vec<Tool> {
    catalog
        .tools()
        .filter(|t| caller.access.permits(&t.exposed))
        .filter_map(|t| match &caller.endpoint {
            None => Some(t.tool.clone()),
            Some(endpoint) => endpoint
                .includes(&t.exposed)
                .then(|| endpoint.present(&t.exposed, &t.tool)),
        })
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
