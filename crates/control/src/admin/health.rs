//! `/livez`, `/readyz` (store reachable, routes loaded, not draining) and `/metrics`.

use super::AdminState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;

#[utoipa::path(get, path = "/livez", responses((status = 200, description = "The process is alive")))]
pub async fn livez() -> &'static str {
    "ok\n"
}

#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Routes loaded, store reachable, not draining"),
    (status = 503, description = "Not ready; the body says why"),
))]
pub async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n".into());
    }
    if state.control.snapshot().version == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "routes not loaded\n".into());
    }
    match state.control.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store unreachable: {e}\n")),
    }
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let mut body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ficus_gateway::render_prometheus(&mut body);
    ficus_gateway::shadow::render_prometheus(&mut body);
    ficus_gateway::replay::render_prometheus(&mut body);
    super::writes::render_prometheus(&state, &mut body).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}
