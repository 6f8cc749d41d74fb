//! The routing snapshot: an immutable table of every domain's phase and shares, published by
//! the control plane and read by each request. A request keeps the snapshot it started with.

use crate::metrics::RequestMetrics;
use arc_swap::ArcSwap;
use ficus_model::{DomainState, Plan, RouteTable, StickyKey, Unmatched};
use std::sync::{Arc, Mutex};

/// Where the latest [`RoutingTable`] lives; the control plane stores, requests load.
pub type SnapshotHandle = Arc<ArcSwap<RoutingTable>>;

/// One domain as the request path needs it.
#[derive(Debug, Clone)]
pub struct DomainRoute {
    pub name: String,
    pub state: DomainState,
    pub sticky: Option<StickyKey>,
    pub(crate) metrics: RequestMetrics,
}

/// An immutable routing snapshot.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    /// Increases with every publication; shown by the admin API.
    pub version: u64,
    pub(crate) routes: RouteTable,
    pub(crate) domains: Vec<DomainRoute>,
    pub(crate) unmatched: Unmatched,
    pub(crate) unmatched_metrics: RequestMetrics,
}

impl RoutingTable {
    /// Build a snapshot from the plan and one state per plan domain (same order).
    /// A domain without a state gets its initial one.
    pub fn build(plan: &Plan, states: &[DomainState], version: u64) -> RoutingTable {
        let domains = plan
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let state = states.get(i).copied().unwrap_or_else(|| DomainState::initial(d));
                DomainRoute {
                    name: d.name.clone(),
                    state,
                    sticky: d.sticky.clone(),
                    metrics: RequestMetrics::new(&d.name, Some(state.phase)),
                }
            })
            .collect();
        RoutingTable {
            version,
            routes: plan.routes.clone(),
            domains,
            unmatched: plan.unmatched,
            unmatched_metrics: RequestMetrics::new("unmatched", None),
        }
    }

    /// A domain's state in this snapshot.
    pub fn state(&self, name: &str) -> Option<DomainState> {
        self.domains.iter().find(|d| d.name == name).map(|d| d.state)
    }

    /// Every domain in plan order.
    pub fn domains(&self) -> &[DomainRoute] {
        &self.domains
    }

    /// A handle holding this table, for the gateway and the control plane to share.
    pub fn into_handle(self) -> SnapshotHandle {
        Arc::new(ArcSwap::from_pointee(self))
    }
}

/// One gateway worker's reference to the latest snapshot. Each request holds a clone of a
/// reference owned by this worker, so the requests of two workers never count references on the
/// same cache line (cloning the shared `Arc` bounced its counter between the cores on every
/// request, as the metrics counters did). A new publication is picked up by the next request:
/// one pointer comparison per request.
#[derive(Debug)]
pub(crate) struct LocalSnapshot {
    handle: SnapshotHandle,
    /// The published table this worker last saw, and its own reference to it.
    cached: Mutex<Option<(Arc<RoutingTable>, Arc<WorkerRef>)>>,
}

/// A worker's own handle on a published table; requests clone the `Arc` around it.
#[derive(Debug)]
pub(crate) struct WorkerRef(Arc<RoutingTable>);

impl std::ops::Deref for WorkerRef {
    type Target = RoutingTable;
    fn deref(&self) -> &RoutingTable {
        &self.0
    }
}

impl LocalSnapshot {
    pub(crate) fn new(handle: SnapshotHandle) -> LocalSnapshot {
        LocalSnapshot { handle, cached: Mutex::new(None) }
    }

    /// The latest snapshot, kept by the caller for as long as it needs it.
    pub(crate) fn load(&self) -> Arc<WorkerRef> {
        let latest = self.handle.load();
        // Only whole values are stored: a panic elsewhere cannot leave it half-written.
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((table, local)) = cached.as_ref()
            && Arc::ptr_eq(table, &latest)
        {
            return Arc::clone(local);
        }
        let table = arc_swap::Guard::into_inner(latest);
        let local = Arc::new(WorkerRef(Arc::clone(&table)));
        *cached = Some((table, Arc::clone(&local)));
        local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_sees_each_publication_and_requests_keep_theirs() {
        let plan = ficus_model::Plan::parse(
            "[upstreams.legacy]\nurl = \"http://127.0.0.1:1\"\n[upstreams.new]\nurl = \"http://127.0.0.1:2\"\n",
            "t.toml",
            std::path::Path::new("."),
        )
        .expect("plan");
        let handle = RoutingTable::build(&plan, &[], 1).into_handle();
        let local = LocalSnapshot::new(Arc::clone(&handle));
        let first = local.load();
        assert!(Arc::ptr_eq(&first, &local.load()), "no new reference while nothing changed");
        handle.store(Arc::new(RoutingTable::build(&plan, &[], 2)));
        let second = local.load();
        assert_eq!((first.version, second.version), (1, 2));
    }
}
