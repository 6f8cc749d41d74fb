//! The control loop: desired state (plan + store) → a checked [`RoutingTable`] → published to
//! the gateway. Start-up, every change and the periodic reconcile all go through
//! [`Control::reconcile`], so there is one way state reaches the data plane.

use crate::store::{Store, StoreError};
use ficus_gateway::{RoutingTable, SnapshotHandle};
use ficus_model::phase::{self, RollbackTarget};
use ficus_model::{DomainState, Percent, Plan, Transition, TransitionError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// How often the store is re-read to pick up changes made by another process sharing it.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// A change was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no domain named {0:?} in the plan")]
    UnknownDomain(String),
    #[error(transparent)]
    Refused(#[from] TransitionError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a change: the domain's new state and the table version that carries it.
#[derive(Debug, Clone)]
pub struct Change {
    pub domain: String,
    pub before: DomainState,
    pub after: DomainState,
    pub transition: Option<Transition>,
    pub version: u64,
}

/// The control plane of one Ficus process.
#[derive(Debug)]
pub struct Control {
    plan: Arc<Plan>,
    store: Store,
    table: SnapshotHandle,
    version: AtomicU64,
    /// Changes are serialised so that a read-check-write on a domain is never interleaved.
    changes: Mutex<()>,
}

impl Control {
    /// Make sure every plan domain has a stored state, then build and publish the first table.
    ///
    /// # Errors
    /// A store error.
    pub async fn start(
        plan: Arc<Plan>,
        store: Store,
        actor: &str,
    ) -> Result<Control, ControlError> {
        store.ensure_domains(&plan, actor).await?;
        let table = RoutingTable::build(&plan, &[], 0).into_handle();
        let control =
            Control { plan, store, table, version: AtomicU64::new(0), changes: Mutex::new(()) };
        control.reconcile().await?;
        control.sync_shadow().await?;
        Ok(control)
    }

    /// The handle the gateway reads snapshots from.
    pub fn handle(&self) -> SnapshotHandle {
        Arc::clone(&self.table)
    }

    /// The latest published table.
    pub fn snapshot(&self) -> Arc<RoutingTable> {
        self.table.load_full()
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Read the desired state from the store, build a table and publish it if it differs from
    /// the current one. Returns the table now published.
    ///
    /// # Errors
    /// A store error; the previous table stays published.
    pub async fn reconcile(&self) -> Result<Arc<RoutingTable>, ControlError> {
        let stored = self.store.states().await?;
        let states: Vec<DomainState> = self
            .plan
            .domains
            .iter()
            .map(|d| stored.get(&d.name).copied().unwrap_or_else(|| DomainState::initial(d)))
            .collect();
        let current = self.table.load_full();
        let unchanged = current.version > 0
            && current.domains().len() == states.len()
            && current.domains().iter().zip(&states).all(|(d, s)| d.state == *s);
        if unchanged {
            return Ok(current);
        }
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let table = Arc::new(RoutingTable::build(&self.plan, &states, version));
        self.table.store(Arc::clone(&table));
        tracing::info!(version, "published routing table");
        Ok(table)
    }

    /// Re-read the store every [`RECONCILE_INTERVAL`] until `stop` resolves.
    pub async fn run_reconcile_loop(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(RECONCILE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.reconcile().await {
                        tracing::warn!(error = %e, "reconcile failed; keeping the published table");
                    }
                    if let Err(e) = self.sync_shadow().await {
                        tracing::warn!(error = %e, "storing shadow findings failed");
                    }
                }
                () = &mut stop => return,
            }
        }
    }

    fn current(&self, domain: &str) -> Result<DomainState, ControlError> {
        self.plan.domain(domain).ok_or_else(|| ControlError::UnknownDomain(domain.to_owned()))?;
        self.snapshot().state(domain).ok_or_else(|| ControlError::UnknownDomain(domain.to_owned()))
    }

    async fn transition(
        &self,
        domain: &str,
        decide: impl FnOnce(DomainState) -> Result<Transition, TransitionError>,
    ) -> Result<Change, ControlError> {
        let _guard = self.changes.lock().await;
        // Another process may share the store: decide on the stored state, not a stale table.
        self.reconcile().await?;
        let before = self.current(domain)?;
        let t = decide(before)?;
        self.store.record_transition(domain, &t).await?;
        let table = self.reconcile().await?;
        let after = table.state(domain).unwrap_or(before);
        tracing::info!(domain, from = %t.from, to = %t.to, actor = %t.actor, reason = %t.reason, kind = t.kind.as_str(), "phase changed");
        Ok(Change {
            domain: domain.to_owned(),
            before,
            after,
            transition: Some(t),
            version: table.version,
        })
    }

    /// Move `domain` one phase forward.
    ///
    /// # Errors
    /// Unknown domain, a refused transition, or a store error.
    pub async fn advance(
        &self,
        domain: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Change, ControlError> {
        self.transition(domain, |s| phase::advance(s.phase, actor, reason)).await
    }

    /// Move `domain` back one phase or to `target`.
    ///
    /// # Errors
    /// Unknown domain, a refused transition (leaving `new` without force, not earlier), or a
    /// store error.
    pub async fn rollback(
        &self,
        domain: &str,
        target: RollbackTarget,
        force: bool,
        actor: &str,
        reason: &str,
    ) -> Result<Change, ControlError> {
        self.transition(domain, |s| phase::rollback(s.phase, target, force, actor, reason)).await
    }

    /// Change the read-new and/or shadow percentages of `domain`.
    ///
    /// # Errors
    /// Unknown domain, nothing to change, or a store error.
    pub async fn set_percentages(
        &self,
        domain: &str,
        read_new: Option<Percent>,
        shadow: Option<Percent>,
        actor: &str,
        reason: &str,
    ) -> Result<Change, ControlError> {
        if read_new.is_none() && shadow.is_none() {
            return Err(ControlError::Invalid(
                "nothing to change: give read_new_percent and/or shadow_percent".into(),
            ));
        }
        if actor.trim().is_empty() {
            return Err(TransitionError::MissingActor.into());
        }
        let _guard = self.changes.lock().await;
        self.reconcile().await?;
        let before = self.current(domain)?;
        let after = DomainState {
            read_new_percent: read_new.unwrap_or(before.read_new_percent),
            shadow_percent: shadow.unwrap_or(before.shadow_percent),
            ..before
        };
        self.store.record_percentages(domain, before, after, actor, reason).await?;
        let table = self.reconcile().await?;
        tracing::info!(domain, read_new_percent = %after.read_new_percent, shadow_percent = %after.shadow_percent, actor, reason, "percentages changed");
        Ok(Change {
            domain: domain.to_owned(),
            before,
            after,
            transition: None,
            version: table.version,
        })
    }
}
