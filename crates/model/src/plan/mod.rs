//! The plan (`ficus.toml`): parsed raw, then checked into the model below, which is the only
//! thing the runtime sees. See the README's plan reference for every key.

mod check;
mod data;
mod error;
mod locate;
mod raw;
mod shadow;
mod writes;

pub use error::{PlanError, PlanIssue};

use crate::phase::Phase;
use crate::routing::{Percent, RouteTable};
use crate::side::Side;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A checked plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub listener: Listener,
    pub admin: Admin,
    /// The SQLite file of the control-plane store (absolute, or relative to the working
    /// directory when the plan was given as text).
    pub state_path: PathBuf,
    /// `[legacy, new]`, indexed by [`Side::index`].
    pub upstreams: [Upstream; 2],
    pub unmatched: Unmatched,
    /// Domains in name order.
    pub domains: Vec<Domain>,
    /// The compiled routes of every domain.
    pub routes: RouteTable,
    /// Where replayed writes wait and how they are delivered.
    pub write_queue: WriteQueueConfig,
}

/// The write queue (`[write_queue]`).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteQueueConfig {
    pub backend: QueueBackend,
    /// Deliveries of one write before it becomes a dead letter.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled each time (full jitter), up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Writes of different entities delivered at once.
    pub concurrency: usize,
}

/// Where the write queue lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueBackend {
    /// In the control-plane store (SQLite, WAL, group commit).
    Embedded,
    /// A NATS JetStream stream.
    Nats { url: String, stream: String },
}

impl Default for WriteQueueConfig {
    fn default() -> WriteQueueConfig {
        WriteQueueConfig {
            backend: QueueBackend::Embedded,
            max_attempts: crate::defaults::REPLAY_MAX_ATTEMPTS,
            backoff_initial: crate::defaults::REPLAY_BACKOFF_INITIAL,
            backoff_max: crate::defaults::REPLAY_BACKOFF_MAX,
            concurrency: crate::defaults::REPLAY_CONCURRENCY,
        }
    }
}

/// How a domain's secondary is kept in sync while both sides hold the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The gateway replays each accepted write to the secondary through the write queue.
    Replay,
    /// Database change capture (the data engine); the gateway replays nothing.
    Capture,
    /// Nothing keeps the secondary in sync (e.g. a read-only domain).
    Off,
}

/// The gateway's listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub address: SocketAddr,
    /// Largest request body forwarded, in bytes; larger gets 413.
    pub max_body_bytes: u64,
    /// Gateway worker threads, each with its own listener and upstream pools; `None` for one
    /// per available core.
    pub workers: Option<usize>,
    /// Pin worker `i` to the `i`-th CPU the process may run on (thread-per-core), so the
    /// kernel never stacks two busy workers on one core.
    pub pin_workers: bool,
}

/// The admin API's listener and token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub address: SocketAddr,
    pub token: TokenSource,
}

/// Where the admin bearer token comes from. Read at start-up by `serve`, never by `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable.
    Env(String),
    /// A file whose content (trimmed) is the token.
    File(PathBuf),
}

/// One backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub side: Side,
    /// `host:port` to connect to.
    pub authority: String,
    /// Path prefix prepended to every forwarded path, without a trailing slash ("" for none).
    pub path_prefix: String,
    pub connect_timeout: Duration,
    /// From sending the request to receiving the response head; past it the gateway answers 504.
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept to this upstream.
    pub pool_max_idle: usize,
}

/// What happens to a request no domain claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Forward it to this side.
    Forward(Side),
    /// Answer 404.
    Reject,
}

/// A unit of migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub name: String,
    pub routes: Vec<Route>,
    /// The phase a domain starts in when the store has none for it yet.
    pub initial_phase: Phase,
    pub read_new_percent: Percent,
    pub shadow_percent: Percent,
    /// Where the subject of a request is read from, for the sticky read ramp.
    pub sticky: Option<StickyKey>,
    /// How reads are shadowed and compared.
    pub shadow: ShadowConfig,
    /// How the secondary is kept in sync (`sync = "replay" | "capture" | "off"`).
    pub sync: SyncMode,
    /// The databases and table mappings of backfill and verify (`[domains.NAME.data]`).
    pub data: Option<crate::mapping::DataConfig>,
}

/// Shadow reads of a domain: where and how many, and how answers are compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowConfig {
    /// Also shadow in `legacy` (to new), before any write reaches new.
    pub in_legacy: bool,
    /// Time a shadow (or noise) request may take; past it the comparison is abandoned.
    pub timeout: Duration,
    /// Shadow exchanges in flight at once, per gateway worker.
    pub max_concurrency: usize,
    /// Shadow exchanges waiting for a slot, per gateway worker; past it they are dropped.
    pub queue: usize,
    /// Share of shadowed reads also sent again to the primary, to measure noise.
    pub noise_percent: Percent,
    /// How the two answers are compared: the domain's rules and those of routes with their
    /// own (`[[domains.NAME.routes]] shadow = { … }`).
    pub rules: crate::diff::RuleSet,
    /// Full examples of differences kept in the control-plane store (newest replace oldest).
    pub max_examples: usize,
    /// When a field's differences count as a real mismatch rather than noise.
    pub thresholds: crate::diff::NoiseThresholds,
}

impl Default for ShadowConfig {
    fn default() -> ShadowConfig {
        ShadowConfig {
            in_legacy: false,
            timeout: crate::defaults::SHADOW_TIMEOUT,
            max_concurrency: crate::defaults::SHADOW_MAX_CONCURRENCY,
            queue: crate::defaults::SHADOW_QUEUE,
            noise_percent: Percent::from_percent(crate::defaults::SHADOW_NOISE_PERCENT)
                .unwrap_or(Percent::ZERO),
            rules: crate::diff::RuleSet::default(),
            max_examples: crate::defaults::SHADOW_MAX_EXAMPLES,
            thresholds: crate::diff::NoiseThresholds::default(),
        }
    }
}

/// Method set and path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper-case methods; `None` for every method.
    pub methods: Option<Vec<String>>,
    /// A matchit template such as `/invoices/{id}`.
    pub path: String,
    /// Safe to send twice (a shadow read) although its methods are not all safe.
    pub repeatable: bool,
    /// JSON Pointer (RFC 6901) to the identifier in the authoritative answer of a write (`/id`);
    /// a replay sends it in `Ficus-Authoritative-Id` and orders by it when the path has no key.
    pub id_pointer: Option<String>,
    /// The path parameter that names the entity a write changes; replays of one entity are
    /// delivered in order. Default: the template's last parameter.
    pub key: Option<String>,
}

/// Where the sticky key of a request is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyKey {
    /// A request header (name lower-cased).
    Header(String),
    /// A cookie.
    Cookie(String),
    /// A query parameter.
    Query(String),
    /// A path parameter of the matched template.
    PathParam(String),
}

impl Plan {
    /// Read and check a plan file. Opens no socket or database.
    ///
    /// # Errors
    /// [`PlanError`] naming the file; an unreadable file is one issue with an empty path.
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| PlanError {
            origin: origin.clone(),
            issues: vec![PlanIssue {
                path: String::new(),
                line: None,
                message: format!("cannot read the plan: {e}"),
            }],
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Plan::parse(&src, &origin, base)
    }

    /// Check plan text. `origin` names it in messages; relative file paths in the plan are
    /// resolved against `base_dir`.
    ///
    /// # Errors
    /// [`PlanError`] with every problem found.
    pub fn parse(src: &str, origin: &str, base_dir: &Path) -> Result<Plan, PlanError> {
        check::parse(src, base_dir)
            .map_err(|issues| PlanError { origin: origin.to_owned(), issues })
    }

    /// The upstream of one side.
    pub fn upstream(&self, side: Side) -> &Upstream {
        &self.upstreams[side.index()]
    }

    /// A domain by name.
    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.name == name)
    }
}
