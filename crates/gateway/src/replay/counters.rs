//! `ficus_write_queue_appends_total{domain,outcome}`: writes handed to the write queue by the
//! gateway (`queued`), and those the queue could not make durable (`failed`) — each of those is
//! a write the secondary will miss until a backfill or repair.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How an append ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Queued,
    Failed,
}

type Counts = [AtomicU64; 2];

fn registry() -> &'static Mutex<BTreeMap<String, Arc<Counts>>> {
    static R: OnceLock<Mutex<BTreeMap<String, Arc<Counts>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// Count one append of `domain`.
pub fn count(domain: &str, outcome: AppendOutcome) {
    let cell = {
        let mut map = registry().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(domain.to_owned()).or_default())
    };
    cell[outcome as usize].fetch_add(1, Ordering::Relaxed);
}

/// Append the counters in the Prometheus text format.
pub fn render_prometheus(out: &mut String) {
    use std::fmt::Write;
    let map = registry().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let name = "ficus_write_queue_appends_total";
    let _ = writeln!(
        out,
        "# HELP {name} Accepted writes handed to the write queue, by domain and outcome (queued, failed)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for (domain, c) in map.iter() {
        for (i, outcome) in ["queued", "failed"].iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}{{domain=\"{domain}\",outcome=\"{outcome}\"}} {}",
                c[i].load(Ordering::Relaxed)
            );
        }
    }
}
