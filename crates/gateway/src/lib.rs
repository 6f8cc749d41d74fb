//! The Ficus data plane: a listener (its own HTTP/1.1 server, hyper for h2c) that matches each request to a domain, decides the
//! primary from the latest [`RoutingTable`] snapshot, and streams the request to it.
//!
//! The request path, in order (DESIGN.md): match → decide → forward → enqueue (an accepted
//! write, to the write queue) → shadow (a sampled read, to the secondary) → record. The hot path
//! only reads the latest snapshot; it never waits on the control plane or the secondary.

mod affinity;
mod body;
mod error;
mod forward;
mod h1;
mod headers;
mod ids;
mod metrics;
mod pool;
mod problem;
pub mod replay;
mod rewind;
mod server;
pub mod shadow;
mod sticky;
mod table;
mod upstream;
pub mod workers;

pub use error::{Failure, FailureSide};
pub use forward::Gateway;
pub use headers::ClientAddr;
pub use metrics::{LATENCY_BUCKETS, Outcome, render_prometheus};
pub use server::{ServeError, serve};
pub use table::{RoutingTable, SnapshotHandle};
pub use upstream::{UpstreamClient, Upstreams};
