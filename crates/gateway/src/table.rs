//! The routing snapshot: an immutable table of every domain's phase and shares, published by
//! the control plane and read by each request. A request keeps the snapshot it started with.

use crate::metrics::RequestMetrics;
use arc_swap::ArcSwap;
use ficus_model::{DomainState, Plan, RouteTable, StickyKey, Unmatched};
use std::sync::Arc;

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
