//! Shadow reads (the parallel run): a sampled share of a domain's reads is also sent to the
//! secondary — beside the primary, never in the client's way — and the two answers are
//! compared field by field; a sample of those also goes a second time to the primary so that
//! differences that are only noise can be told apart (Diffy's method, see
//! `ficus_model::diff`). Bounded per worker and domain: at most `max_concurrency` exchanges in
//! flight and `queue` waiting; past that a shadow is dropped and counted, never queued without
//! limit. Shadow requests carry `Ficus-Shadow: 1` and the primary's trace context.

mod run;
mod state;
mod tee;

pub use state::{
    DiffResult, DomainShadow, Example, MAX_EXAMPLES, ShadowOutcome, all, domain, find,
    render_prometheus,
};
pub(crate) use tee::{RequestTee, TeeBody};

use crate::upstream::Upstreams;
use ficus_model::{ShadowConfig, Side};
use http::{HeaderMap, HeaderName, Method};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Semaphore, oneshot};

/// The header that marks a shadow (or noise) request.
pub const FICUS_SHADOW: HeaderName = HeaderName::from_static("ficus-shadow");

/// One worker's shadow bounds for one domain.
#[derive(Debug)]
pub(crate) struct Shadower {
    config: Arc<ShadowConfig>,
    slots: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    findings: Arc<DomainShadow>,
}

/// What a shadow exchange needs from the request, taken before the primary is forwarded.
pub(crate) struct Job {
    pub route: String,
    pub method: Method,
    pub path_and_query: Option<http::uri::PathAndQuery>,
    pub headers: HeaderMap,
    pub primary: Side,
    pub noise: bool,
    /// The request body of a repeatable route, once the primary has read it whole; `None`
    /// inside when it was longer than the comparison cap or broke.
    pub body: Option<oneshot::Receiver<Option<bytes::Bytes>>>,
}

impl Shadower {
    pub fn new(domain: &str, config: &ShadowConfig) -> Shadower {
        Shadower {
            config: Arc::new(config.clone()),
            slots: Arc::new(Semaphore::new(config.max_concurrency)),
            admitted: Arc::new(AtomicUsize::new(0)),
            findings: domain_findings(domain, config),
        }
    }

    pub fn config(&self) -> &ShadowConfig {
        &self.config
    }

    /// The domain's findings (and the rules in force).
    pub fn findings(&self) -> &DomainShadow {
        &self.findings
    }

    /// Start a shadow exchange if there is room, returning where the primary's answer goes
    /// (see [`TeeBody`]); `None` when the queue is full (the shadow is dropped and counted).
    pub fn start(&self, upstreams: &Upstreams, job: Job) -> Option<oneshot::Sender<tee::Captured>> {
        let limit = self.config.max_concurrency + self.config.queue;
        let admitted = self.admitted.fetch_add(1, Ordering::Relaxed);
        if admitted >= limit {
            self.admitted.fetch_sub(1, Ordering::Relaxed);
            self.findings.count(ShadowOutcome::Dropped);
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let ctx = run::Ctx {
            config: Arc::clone(&self.config),
            slots: Arc::clone(&self.slots),
            admitted: Arc::clone(&self.admitted),
            findings: Arc::clone(&self.findings),
            upstreams: upstreams.clone(),
        };
        tokio::spawn(run::run(ctx, job, rx));
        Some(tx)
    }
}

fn domain_findings(domain: &str, config: &ShadowConfig) -> Arc<DomainShadow> {
    let findings = state::domain(domain, config.thresholds);
    findings.configure(&config.rules);
    findings
}
