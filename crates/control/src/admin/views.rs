//! JSON shapes of the admin API (requests and responses), shared with the CLI.

use crate::control::Change;
use ficus_gateway::RoutingTable;
use ficus_model::{Domain, DomainState, Phase, routing};
use serde::{Deserialize, Serialize};

/// A domain as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainView {
    pub name: String,
    /// One of `legacy`, `dual-write`, `backfill`, `read-new`, `new`.
    pub phase: String,
    /// Share of subjects reading from new in `read-new`, in percent (0-100, 0.01 steps).
    pub read_new_percent: f64,
    /// Share of reads shadowed to the secondary, in percent.
    pub shadow_percent: f64,
    /// `legacy`, `new`, or `ramp` (split by read_new_percent).
    pub reads_served_by: String,
    /// The side whose writes are the truth.
    pub authoritative: String,
    /// The side kept in sync asynchronously, if any.
    pub synced: Option<String>,
    pub next_phase: Option<String>,
    pub previous_phase: Option<String>,
    /// Routes as `METHODS /template`.
    pub routes: Vec<String>,
    /// Where the sticky key is read, e.g. `header:x-customer-id`.
    pub sticky: Option<String>,
    /// The routing table version that carries this state.
    pub table_version: u64,
}

impl DomainView {
    pub fn new(domain: &Domain, state: DomainState, table: &RoutingTable) -> DomainView {
        let p = state.phase;
        let reads = match p {
            Phase::ReadNew => "ramp",
            Phase::New => "new",
            _ => "legacy",
        };
        DomainView {
            name: domain.name.clone(),
            phase: p.as_str().to_owned(),
            read_new_percent: state.read_new_percent.as_percent(),
            shadow_percent: state.shadow_percent.as_percent(),
            reads_served_by: reads.to_owned(),
            authoritative: p.authoritative().as_str().to_owned(),
            synced: p.synced().map(|s| s.as_str().to_owned()),
            next_phase: p.next().map(|n| n.as_str().to_owned()),
            previous_phase: p.previous().map(|n| n.as_str().to_owned()),
            routes: domain.routes.iter().map(routing::describe).collect(),
            sticky: domain.sticky.as_ref().map(|s| match s {
                ficus_model::StickyKey::Header(h) => format!("header:{h}"),
                ficus_model::StickyKey::Cookie(c) => format!("cookie:{c}"),
                ficus_model::StickyKey::Query(q) => format!("query:{q}"),
                ficus_model::StickyKey::PathParam(p) => format!("path:{p}"),
            }),
            table_version: table.version,
        }
    }
}

/// The result of a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeView {
    pub domain: String,
    /// `advance`, `rollback` or `set`.
    pub action: String,
    pub from_phase: String,
    pub to_phase: String,
    pub read_new_percent: f64,
    pub shadow_percent: f64,
    /// True when leaving `new` was forced.
    pub forced: bool,
    /// The routing table version that carries the change (already published).
    pub table_version: u64,
}

impl From<&Change> for ChangeView {
    fn from(c: &Change) -> ChangeView {
        ChangeView {
            domain: c.domain.clone(),
            action: c.transition.as_ref().map_or("set", |t| t.kind.as_str()).to_owned(),
            from_phase: c.before.phase.as_str().to_owned(),
            to_phase: c.after.phase.as_str().to_owned(),
            read_new_percent: c.after.read_new_percent.as_percent(),
            shadow_percent: c.after.shadow_percent.as_percent(),
            forced: c.transition.as_ref().is_some_and(|t| t.forced),
            table_version: c.version,
        }
    }
}

/// Body of `POST /v1/domains/{name}/advance` (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    pub reason: Option<String>,
    /// Who asks; defaults to the `Ficus-Actor` header, then `admin-api`.
    pub actor: Option<String>,
}

/// Body of `POST /v1/domains/{name}/rollback` (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// An earlier phase to go to; one step back when absent.
    pub to: Option<String>,
    /// Leave `new` even though legacy is no longer kept in sync.
    #[serde(default)]
    pub force: bool,
    pub reason: Option<String>,
    pub actor: Option<String>,
}

/// Body of `PATCH /v1/domains/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    /// 0-100, in percent.
    pub read_new_percent: Option<f64>,
    /// 0-100, in percent.
    pub shadow_percent: Option<f64>,
    pub reason: Option<String>,
    pub actor: Option<String>,
}
