//! The Ficus control plane: the state store and its audit log, the function that turns desired
//! state into a published [`ficus_gateway::RoutingTable`], and the admin API.

pub mod admin;
mod control;
mod findings;
pub mod queue;
mod shadow_sync;
mod store;
mod verifications;

pub use control::{Change, Control, ControlError, RECONCILE_INTERVAL};
pub use findings::{EXAMPLES_PER_KIND, ExampleFilter, KnownEntry, StoredExample};
pub use store::{AuditEntry, Store, StoreError};
pub use verifications::{VERIFY_RUNS_KEPT, VerifyRun};
