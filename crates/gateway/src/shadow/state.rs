//! What shadow reads have found, per domain, shared by every gateway worker: the diff ledger
//! (per route template and field: raw and noise differences, verdicts), a bounded sample of
//! full examples waiting to be stored, the comparison rules in force (the plan's plus known
//! differences), and the counters behind `ficus_shadow_requests_total`,
//! `ficus_diff_comparisons_total` and `ficus_shadow_duration_seconds`.

use crate::metrics::Histogram;
use arc_swap::ArcSwap;
use ficus_model::Side;
use ficus_model::diff::{
    Comparison, DiffLedger, KnownDifference, KnownFieldError, LedgerReport, NoiseThresholds,
    RuleSet,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Full examples held per domain until the control plane stores them (newest replace oldest).
pub const MAX_EXAMPLES: usize = 100;

/// One shadowed request whose answers differed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// When the comparison was made, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub route: String,
    pub method: String,
    pub target: String,
    pub trace_id: Option<String>,
    pub request_id: Option<String>,
    pub primary: String,
    pub secondary: String,
    pub primary_status: u16,
    pub secondary_status: u16,
    pub primary_body: String,
    pub secondary_body: String,
    /// The request body of a repeatable route (first 2 KiB, lossy UTF-8); `None` without one.
    pub request_body: Option<String>,
    /// The field paths that differed, as in the ledger.
    pub fields: Vec<String>,
    /// The differences, one per line.
    pub differences: Vec<String>,
}

/// How a shadow exchange ended; the `outcome` label of `ficus_shadow_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowOutcome {
    Sent,
    Dropped,
    Timeout,
    Error,
}

impl ShadowOutcome {
    pub const ALL: [ShadowOutcome; 4] =
        [ShadowOutcome::Sent, ShadowOutcome::Dropped, ShadowOutcome::Timeout, ShadowOutcome::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            ShadowOutcome::Sent => "sent",
            ShadowOutcome::Dropped => "dropped",
            ShadowOutcome::Timeout => "timeout",
            ShadowOutcome::Error => "error",
        }
    }
}

/// The `result` label of `ficus_diff_comparisons_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffResult {
    Match,
    Mismatch,
    Noise,
}

impl DiffResult {
    pub const ALL: [DiffResult; 3] = [DiffResult::Match, DiffResult::Mismatch, DiffResult::Noise];

    pub fn as_str(self) -> &'static str {
        match self {
            DiffResult::Match => "match",
            DiffResult::Mismatch => "mismatch",
            DiffResult::Noise => "noise",
        }
    }
}

/// Shadow findings of one domain.
#[derive(Debug)]
pub struct DomainShadow {
    ledger: Mutex<DiffLedger>,
    examples: Mutex<VecDeque<Example>>,
    outcomes: [AtomicU64; 4],
    results: [AtomicU64; 3],
    /// Shadow (and noise) exchange latency by the upstream asked: `[legacy, new]`.
    latency: [Histogram; 2],
    /// The plan's rules and the known differences they are extended with.
    base: Mutex<(RuleSet, Vec<KnownDifference>)>,
    /// The rules in force: read once per comparison, replaced whole.
    rules: ArcSwap<RuleSet>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Updates are whole; a panic elsewhere cannot leave the data half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DomainShadow {
    fn new(thresholds: NoiseThresholds) -> DomainShadow {
        DomainShadow {
            ledger: Mutex::new(DiffLedger::new(thresholds)),
            examples: Mutex::new(VecDeque::new()),
            outcomes: Default::default(),
            results: Default::default(),
            latency: Default::default(),
            base: Mutex::new((RuleSet::default(), Vec::new())),
            rules: ArcSwap::from_pointee(RuleSet::default()),
        }
    }

    /// Compare under the plan's `rules` (extended by the known differences set so far).
    pub fn configure(&self, rules: &RuleSet) {
        let mut base = lock(&self.base);
        if base.0 != *rules {
            base.0 = rules.clone();
            self.rules.store(Arc::new(base.0.with_known(&base.1).0));
        }
    }

    /// The fields marked as known differences, all of them (the control plane's list is the
    /// truth). Newly known fields are forgotten by the ledger. Returns the entries that are not
    /// valid known differences (left out).
    pub fn set_known(&self, known: &[KnownDifference]) -> Vec<(KnownDifference, KnownFieldError)> {
        let mut base = lock(&self.base);
        if base.1 == known {
            return Vec::new();
        }
        {
            let mut ledger = lock(&self.ledger);
            for k in known.iter().filter(|k| !base.1.contains(k)) {
                ledger.forget(&k.route, &k.field);
            }
        }
        base.1 = known.to_vec();
        let (rules, rejected) = base.0.with_known(known);
        self.rules.store(Arc::new(rules));
        rejected.into_iter().map(|(k, e)| (k.clone(), e)).collect()
    }

    /// The rules comparisons use now.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.load_full()
    }

    /// Record how long a shadow or noise exchange with `side` took.
    pub fn record_latency(&self, side: Side, elapsed: Duration) {
        self.latency[side.index()].record(elapsed);
    }

    pub fn count(&self, outcome: ShadowOutcome) {
        self.outcomes[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Record a primary-vs-secondary comparison and say how it came out, judged by the
    /// ledger as it stands after recording.
    pub fn record_raw(&self, route: &str, c: &Comparison) -> DiffResult {
        let mut ledger = lock(&self.ledger);
        ledger.record_raw(route, c);
        let result = if c.is_match() {
            DiffResult::Match
        } else if c
            .fields()
            .iter()
            .any(|f| ledger.verdict(route, f) == ficus_model::diff::FieldVerdict::Mismatch)
        {
            DiffResult::Mismatch
        } else {
            DiffResult::Noise
        };
        self.results[result as usize].fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Record a primary-vs-primary comparison (noise).
    pub fn record_noise(&self, route: &str, c: &Comparison) {
        lock(&self.ledger).record_noise(route, c);
    }

    pub fn keep_example(&self, e: Example) {
        let mut examples = lock(&self.examples);
        if examples.len() == MAX_EXAMPLES {
            examples.pop_front();
        }
        examples.push_back(e);
    }

    /// The ledger's report: per route and field, raw and noise counts and verdicts.
    pub fn report(&self) -> LedgerReport {
        lock(&self.ledger).report()
    }

    /// Share of compared requests with at least one field judged a real mismatch; `None`
    /// before any comparison. A gate input.
    pub fn mismatch_rate(&self) -> Option<f64> {
        lock(&self.ledger).mismatch_rate()
    }

    /// The examples not yet taken, newest last.
    pub fn examples(&self) -> Vec<Example> {
        lock(&self.examples).iter().cloned().collect()
    }

    /// Take the examples kept since the last call (the control plane stores them), oldest
    /// first.
    pub fn take_examples(&self) -> Vec<Example> {
        lock(&self.examples).drain(..).collect()
    }

    pub fn outcome_count(&self, outcome: ShadowOutcome) -> u64 {
        self.outcomes[outcome as usize].load(Ordering::Relaxed)
    }

    pub fn result_count(&self, result: DiffResult) -> u64 {
        self.results[result as usize].load(Ordering::Relaxed)
    }
}

fn registry() -> &'static Mutex<BTreeMap<String, Arc<DomainShadow>>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<String, Arc<DomainShadow>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// The findings of `domain`, created on first use.
pub fn domain(name: &str, thresholds: NoiseThresholds) -> Arc<DomainShadow> {
    Arc::clone(
        lock(registry())
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(DomainShadow::new(thresholds))),
    )
}

/// The findings of `domain`, if any shadow was ever set up for it.
pub fn find(name: &str) -> Option<Arc<DomainShadow>> {
    lock(registry()).get(name).cloned()
}

/// Every domain with shadow findings, by name.
pub fn all() -> Vec<(String, Arc<DomainShadow>)> {
    lock(registry()).iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
}

/// Append the shadow counters in the Prometheus text format.
pub fn render_prometheus(out: &mut String) {
    use std::fmt::Write;
    let map = lock(registry());
    let _ = writeln!(
        out,
        "# HELP ficus_shadow_requests_total Shadow requests by domain and outcome (sent, dropped, timeout, error)."
    );
    let _ = writeln!(out, "# TYPE ficus_shadow_requests_total counter");
    for (name, d) in map.iter() {
        for o in ShadowOutcome::ALL {
            let _ = writeln!(
                out,
                "ficus_shadow_requests_total{{domain=\"{name}\",outcome=\"{}\"}} {}",
                o.as_str(),
                d.outcome_count(o)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP ficus_diff_comparisons_total Shadow comparisons by domain and result (match, mismatch, noise)."
    );
    let _ = writeln!(out, "# TYPE ficus_diff_comparisons_total counter");
    for (name, d) in map.iter() {
        for r in DiffResult::ALL {
            let _ = writeln!(
                out,
                "ficus_diff_comparisons_total{{domain=\"{name}\",result=\"{}\"}} {}",
                r.as_str(),
                d.result_count(r)
            );
        }
    }
    let name = "ficus_shadow_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time of shadow and noise exchanges, by domain and the upstream asked."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (domain, d) in map.iter() {
        for side in [Side::Legacy, Side::New] {
            let h = &d.latency[side.index()];
            if h.count() > 0 {
                h.render(out, name, &format!("domain=\"{domain}\",upstream=\"{side}\""));
            }
        }
    }
}
