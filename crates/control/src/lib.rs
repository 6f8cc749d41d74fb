//! The Ficus control plane: the state store and its audit log, the function that turns desired
//! state into a published [`ficus_gateway::RoutingTable`], and the admin API.

pub mod admin;
mod control;
mod store;

pub use control::{Change, Control, ControlError, RECONCILE_INTERVAL};
pub use store::{AuditEntry, Store, StoreError};
