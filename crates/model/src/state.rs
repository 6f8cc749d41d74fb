//! The live state of a domain: what the control plane stores and the gateway routes by.

use crate::phase::Phase;
use crate::plan::Domain;
use crate::routing::Percent;
use serde::{Deserialize, Serialize};

/// A domain's phase and traffic shares at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainState {
    pub phase: Phase,
    /// Share of subjects whose reads go to new in `read-new`.
    pub read_new_percent: Percent,
    /// Share of reads also sent to the secondary and compared (shadow reads).
    pub shadow_percent: Percent,
}

impl DomainState {
    /// The state a domain starts in: the plan's initial phase and percentages.
    pub fn initial(domain: &Domain) -> DomainState {
        DomainState {
            phase: domain.initial_phase,
            read_new_percent: domain.read_new_percent,
            shadow_percent: domain.shadow_percent,
        }
    }
}
