//! Request metrics: `ficus_requests_total` and `ficus_request_duration_seconds` by domain,
//! upstream, phase and outcome, in a small registry of our own. Recording is three relaxed
//! atomic adds on the calling thread's shard of a cell resolved once per routing snapshot — no locks, no allocation, no
//! background upkeep (the generic Prometheus exporter keeps every histogram sample until an
//! upkeep pass, which cost ~3% of the gateway's throughput in `bench/gateway.sh`).

use ficus_model::{Phase, Side};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const REQUESTS_TOTAL: &str = "ficus_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "ficus_request_duration_seconds";

/// Upper bounds of the latency buckets, in seconds (0.5 ms … 10 s).
pub const LATENCY_BUCKETS: [f64; 15] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The same bounds in nanoseconds, for an integer comparison on the hot path.
const BUCKET_NANOS: [u64; 15] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    7_500_000_000,
    10_000_000_000,
];

/// How a request ended, as seen by the client. A bounded label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered 1xx-3xx.
    Success,
    /// The upstream answered 4xx.
    ClientError,
    /// The upstream answered 5xx.
    ServerError,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The upstream could not be reached or broke the exchange (502).
    Unreachable,
    /// The gateway refused the request itself (413, 405, 400, 404 for no route).
    Rejected,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::Timeout,
        Outcome::Unreachable,
        Outcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::Rejected => "rejected",
        }
    }

    /// The outcome of an upstream answer with this status.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            500.. => Outcome::ServerError,
            400..=499 => Outcome::ClientError,
            _ => Outcome::Success,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Label value for requests that reached no upstream.
const NO_UPSTREAM: &str = "none";
const UPSTREAMS: [&str; 3] = ["legacy", "new", NO_UPSTREAM];

/// One label set's latency histogram over [`LATENCY_BUCKETS`]: lock-free, three relaxed atomic
/// adds per sample.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Per-bucket (not cumulative) counts; a sample above the last bound is only in `count`.
    buckets: [AtomicU64; 15],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub(crate) fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(i) = BUCKET_NANOS.iter().position(|b| nanos <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Append the `_bucket`, `_sum` and `_count` lines of metric `name` with labels `l`
    /// (already formatted, e.g. `domain="a"`).
    pub(crate) fn render(&self, out: &mut String, name: &str, l: &str) {
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{l},le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        // Precision loss above 2^53 ns (104 days of summed latency) is acceptable for a sum.
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{l}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{l}}} {count}");
    }
}

/// Shards of one label set. Each thread records into its own shard, so two gateway workers
/// never write the same cache line (a shared counter bounced between the cores on every request:
/// `RequestMetrics::record` was 1.6 % of the gateway's user time); a scrape adds them up.
#[derive(Debug, Default)]
pub(crate) struct Cell {
    shards: [Shard; SHARDS],
}

/// Threads beyond this many share shards (still correct, only contended).
const SHARDS: usize = 8;

/// One shard, on cache lines of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Histogram);

thread_local! {
    /// This thread's shard, handed out round-robin on first use.
    static SHARD: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        usize::try_from(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS as u64).unwrap_or(0)
    };
}

impl Cell {
    fn record(&self, elapsed: Duration) {
        let shard = SHARD.with(|s| *s);
        if let Some(Shard(h)) = self.shards.get(shard) {
            h.record(elapsed);
        }
    }

    fn count(&self) -> u64 {
        self.shards.iter().map(|Shard(h)| h.count()).sum()
    }

    /// The shards added up.
    fn total(&self) -> Histogram {
        let total = Histogram::default();
        for Shard(h) in &self.shards {
            for (t, b) in total.buckets.iter().zip(&h.buckets) {
                t.fetch_add(b.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            total.count.fetch_add(h.count(), Ordering::Relaxed);
            total.sum_nanos.fetch_add(h.sum_nanos.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        total
    }
}

/// (domain, upstream, phase, outcome)
type Labels = (String, &'static str, &'static str, &'static str);

fn registry() -> &'static Mutex<BTreeMap<Labels, Arc<Cell>>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<Labels, Arc<Cell>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// Cells for one domain in one phase: `[upstream][outcome]`, upstream 0 legacy, 1 new, 2 none.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    cells: Vec<Arc<Cell>>,
}

impl RequestMetrics {
    /// Resolve the cells for `domain` in `phase` (`None` for unmatched requests).
    pub fn new(domain: &str, phase: Option<Phase>) -> RequestMetrics {
        let phase = phase.map_or("none", Phase::as_str);
        let mut map = match registry().lock() {
            Ok(m) => m,
            // A panic while holding the lock cannot leave the map half-updated (inserts are
            // whole), so the data is still good.
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut cells = Vec::with_capacity(UPSTREAMS.len() * Outcome::ALL.len());
        for upstream in UPSTREAMS {
            for outcome in Outcome::ALL {
                let key = (domain.to_owned(), upstream, phase, outcome.as_str());
                cells.push(Arc::clone(map.entry(key).or_default()));
            }
        }
        RequestMetrics { cells }
    }

    /// Count one request and its latency up to the response head.
    pub fn record(&self, upstream: Option<Side>, outcome: Outcome, elapsed: Duration) {
        let u = upstream.map_or(2, Side::index);
        let Some(cell) = self.cells.get(u * Outcome::ALL.len() + outcome.index()) else { return };
        cell.record(elapsed);
    }
}

/// Append the request metrics in the Prometheus text format (0.0.4) to `out`. Label sets that
/// never saw a request are left out.
pub fn render_prometheus(out: &mut String) {
    let map = match registry().lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    let seen: Vec<(&Labels, &Arc<Cell>)> = map.iter().filter(|(_, c)| c.count() > 0).collect();
    let labels = |(d, u, p, o): &Labels| {
        format!("domain=\"{d}\",upstream=\"{u}\",phase=\"{p}\",outcome=\"{o}\"")
    };
    let _ = writeln!(
        out,
        "# HELP {REQUESTS_TOTAL} Requests through the gateway by domain, upstream, phase and outcome."
    );
    let _ = writeln!(out, "# TYPE {REQUESTS_TOTAL} counter");
    for (key, cell) in &seen {
        let _ = writeln!(out, "{REQUESTS_TOTAL}{{{}}} {}", labels(key), cell.count());
    }
    let name = REQUEST_DURATION_SECONDS;
    let _ =
        writeln!(out, "# HELP {name} Time from receiving a request to sending the response head.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (key, cell) in &seen {
        cell.total().render(out, name, &labels(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = RequestMetrics::new("metrics-test", Some(Phase::ReadNew));
        m.record(Some(Side::New), Outcome::Success, Duration::from_micros(300));
        m.record(Some(Side::New), Outcome::Success, Duration::from_millis(3));
        m.record(Some(Side::New), Outcome::Success, Duration::from_secs(20));
        let mut out = String::new();
        render_prometheus(&mut out);
        let l = "domain=\"metrics-test\",upstream=\"new\",phase=\"read-new\",outcome=\"success\"";
        assert!(out.contains(&format!("ficus_requests_total{{{l}}} 3\n")), "{out}");
        assert!(out.contains(&format!("_bucket{{{l},le=\"0.0005\"}} 1\n")), "{out}");
        assert!(out.contains(&format!("_bucket{{{l},le=\"0.005\"}} 2\n")), "{out}");
        assert!(out.contains(&format!("_bucket{{{l},le=\"10\"}} 2\n")), "{out}");
        assert!(out.contains(&format!("_bucket{{{l},le=\"+Inf\"}} 3\n")), "{out}");
        assert!(out.contains(&format!("_sum{{{l}}} 20.0033\n")), "{out}");
        assert!(
            !out.contains("metrics-test\",upstream=\"legacy\""),
            "unused label sets are left out"
        );
    }

    #[test]
    fn samples_from_many_threads_add_up() {
        let m = RequestMetrics::new("metrics-threads", Some(Phase::Legacy));
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        m.record(Some(Side::Legacy), Outcome::Success, Duration::from_millis(2));
                    }
                });
            }
        });
        let mut out = String::new();
        render_prometheus(&mut out);
        let l =
            "domain=\"metrics-threads\",upstream=\"legacy\",phase=\"legacy\",outcome=\"success\"";
        assert!(out.contains(&format!("ficus_requests_total{{{l}}} 12000\n")), "{out}");
        assert!(out.contains(&format!("_bucket{{{l},le=\"0.001\"}} 0\n")), "{out}");
        assert!(out.contains(&format!("_bucket{{{l},le=\"0.0025\"}} 12000\n")), "{out}");
        assert!(out.contains(&format!("_sum{{{l}}} 24\n")), "{out}");
    }
}
