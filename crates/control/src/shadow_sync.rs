//! The control plane's side of shadow reads: moving the gateway's examples into the store,
//! applying known differences to the gateway's rules, and marking or unmarking a field as a
//! known difference.

use crate::control::{Control, ControlError};
use ficus_gateway::shadow;
use ficus_model::TransitionError;
use ficus_model::diff::{KnownDifference, known_rule};
use std::collections::HashMap;

impl Control {
    /// Store the examples the gateway kept since the last call, and apply the stored known
    /// differences to the rules the gateway compares with. Runs with every reconcile tick.
    ///
    /// # Errors
    /// A store error; the gateway keeps comparing under the rules it had.
    pub async fn sync_shadow(&self) -> Result<(), ControlError> {
        let mut known: HashMap<String, Vec<KnownDifference>> = HashMap::new();
        for (domain, k) in self.store().known_differences(None).await? {
            known
                .entry(domain)
                .or_default()
                .push(KnownDifference { route: k.route, field: k.field });
        }
        for d in &self.plan().domains {
            let findings = shadow::domain(&d.name, d.shadow.thresholds);
            let list = known.remove(&d.name).unwrap_or_default();
            for (k, e) in findings.set_known(&list) {
                tracing::warn!(domain = d.name, route = k.route, field = k.field, error = %e, "stored known difference left out");
            }
            let examples = findings.take_examples();
            if let Err(e) =
                self.store().store_examples(&d.name, &examples, d.shadow.max_examples).await
            {
                tracing::warn!(domain = d.name, lost = examples.len(), error = %e, "could not store shadow examples");
            }
        }
        Ok(())
    }

    /// Mark `field` of `route` as a known difference of `domain`: from now on it is not compared
    /// on that route, its counts leave the report and the mismatch rate, and the audit log has
    /// an entry. Returns `false` if it already was marked.
    ///
    /// # Errors
    /// [`ControlError::UnknownDomain`]; [`ControlError::Invalid`] for a route that is not one
    /// of the domain's templates or a field that cannot be ignored (`status`, `body`); a store
    /// error.
    pub async fn mark_known(
        &self,
        domain: &str,
        known: &KnownDifference,
        actor: &str,
        reason: &str,
    ) -> Result<bool, ControlError> {
        self.check_known(domain, known, actor)?;
        known_rule(&known.field).map_err(|e| ControlError::Invalid(e.to_string()))?;
        let added = self.store().add_known_difference(domain, known, actor, reason).await?;
        self.sync_shadow().await?;
        tracing::info!(
            domain,
            route = known.route,
            field = known.field,
            actor,
            reason,
            "marked a known difference"
        );
        Ok(added)
    }

    /// Compare a known difference again. Returns `false` if it was not marked.
    ///
    /// # Errors
    /// As [`Control::mark_known`], except that any field may be unmarked.
    pub async fn unmark_known(
        &self,
        domain: &str,
        known: &KnownDifference,
        actor: &str,
        reason: &str,
    ) -> Result<bool, ControlError> {
        self.check_known(domain, known, actor)?;
        let removed = self.store().remove_known_difference(domain, known, actor, reason).await?;
        self.sync_shadow().await?;
        Ok(removed)
    }

    fn check_known(
        &self,
        domain: &str,
        known: &KnownDifference,
        actor: &str,
    ) -> Result<(), ControlError> {
        let d =
            self.plan().domain(domain).ok_or_else(|| ControlError::UnknownDomain(domain.into()))?;
        if actor.trim().is_empty() {
            return Err(TransitionError::MissingActor.into());
        }
        if !d.routes.iter().any(|r| r.path == known.route) {
            let templates: Vec<&str> = d.routes.iter().map(|r| r.path.as_str()).collect();
            return Err(ControlError::Invalid(format!(
                "{:?} is not a route of domain {domain:?}; expected one of {}",
                known.route,
                templates.join(", ")
            )));
        }
        Ok(())
    }
}
