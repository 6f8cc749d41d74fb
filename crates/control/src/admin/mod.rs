//! The admin API on its own listener (loopback by default): domains, phase changes, the audit
//! log, the OpenAPI document, Prometheus metrics and health. Reads are open; every change needs
//! the bearer token.

mod auth;
mod diffs;
mod domains;
mod error;
mod health;
mod openapi;
mod verifications;
mod views;
mod writes;

pub use diffs::{DiffsView, ExampleSummary, KnownRequest, KnownView};
pub use error::ApiError;
pub use openapi::ApiDoc;
pub use views::{ChangeView, DomainView};
pub use writes::{DeadLetterRequest, DeadLetterView, WritesView};

use crate::control::Control;
use axum::Router;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub control: Arc<Control>,
    /// The bearer token changes must present.
    pub token: Arc<str>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
    /// Set while the process drains: `/readyz` answers 503.
    pub draining: Arc<AtomicBool>,
    /// Where the write queue's depth and lag are read.
    pub queue: crate::queue::QueueProbe,
}

impl AdminState {
    /// The plan's domain `name`, or 404.
    pub(crate) fn domain(&self, name: &str) -> Result<&ficus_model::Domain, ApiError> {
        self.control
            .plan()
            .domain(name)
            .ok_or_else(|| ApiError::NotFound(format!("no domain named {name:?} in the plan")))
    }
}

/// The admin API as a router; serve it with `axum::serve` or call it with `oneshot` in tests.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/v1/domains", get(domains::list))
        .route("/v1/domains/{name}", get(domains::get_one).patch(domains::patch))
        .route("/v1/domains/{name}/advance", post(domains::advance))
        .route("/v1/domains/{name}/rollback", post(domains::rollback))
        .route("/v1/domains/{name}/diffs", get(diffs::report))
        .route("/v1/domains/{name}/diffs/examples", get(diffs::examples))
        .route("/v1/domains/{name}/diffs/examples/{id}", get(diffs::example))
        .route(
            "/v1/domains/{name}/diffs/known",
            post(diffs::mark_known).delete(diffs::unmark_known),
        )
        .route("/v1/domains/{name}/writes", get(writes::list))
        .route("/v1/writes/{id}/retry", post(writes::retry))
        .route("/v1/writes/{id}/discard", post(writes::discard))
        .route("/v1/domains/{name}/verifications", get(verifications::list))
        .route("/v1/domains/{name}/verifications/latest", get(verifications::latest))
        .route("/v1/audit", get(domains::audit))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(health::metrics))
        .route("/livez", get(health::livez))
        .route("/healthz", get(health::livez))
        .route("/readyz", get(health::readyz))
        .fallback(error::not_found)
        .with_state(state)
}
