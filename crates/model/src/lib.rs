//! Pure types and rules of Ficus: the plan (raw → checked), the five phases and their
//! transitions, route matching and the routing decision. No I/O, no async runtime.

pub mod defaults;
pub mod diff;
pub mod mapping;
pub mod phase;
pub mod plan;
pub mod routing;
pub mod side;
pub mod state;

pub use phase::{
    Phase, PhaseParseError, RollbackTarget, Transition, TransitionError, TransitionKind,
};
pub use plan::{
    Domain, Plan, PlanError, QueueBackend, Route, ShadowConfig, StickyKey, SyncMode, TokenSource,
    Unmatched, Upstream, WriteQueueConfig,
};
pub use routing::{Bucket, Decision, Percent, RouteMatch, RouteTable, decide};
pub use side::Side;
pub use state::DomainState;
