//! Replayed writes of a domain: `GET /v1/domains/{name}/writes` (queue depth, replay lag,
//! replayed / succeeded / dead-lettered counts and the dead letters), and acting on one dead
//! letter: `POST /v1/writes/{id}/retry`, `POST /v1/writes/{id}/discard` (both audited).

use super::AdminState;
use super::auth::require_token;
use super::domains::{actor, parse_body};
use super::error::ApiError;
use crate::queue::{DeadLetter, QueueStats};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use ficus_gateway::replay::now_ms;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Dead letters listed per domain.
const DEAD_LETTERS_LISTED: u32 = 100;

/// The replayed writes of one domain.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WritesView {
    pub stats: QueueStats,
    /// Oldest first, at most 100.
    pub dead_letters: Vec<DeadLetter>,
}

/// Body of retry and discard.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetterRequest {
    pub reason: Option<String>,
    pub actor: Option<String>,
}

/// Answer of retry and discard.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetterView {
    pub id: String,
    pub domain: String,
    /// `retried` or `discarded`.
    pub action: String,
}

#[utoipa::path(get, path = "/v1/domains/{name}/writes",
    params(("name" = String, Path, description = "Domain name")),
    responses((status = 200, body = WritesView), (status = 404, description = "Unknown domain")))]
pub async fn list(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<WritesView>, ApiError> {
    state.domain(&name)?;
    let store = state.control.store();
    let stats = state.queue.stats(store, &name, now_ms()).await?;
    let dead_letters = store.dead_letters(&name, DEAD_LETTERS_LISTED).await?;
    Ok(Json(WritesView { stats, dead_letters }))
}

async fn act(
    state: &AdminState,
    id: &str,
    headers: &HeaderMap,
    body: &Bytes,
    retry: bool,
) -> Result<Json<DeadLetterView>, ApiError> {
    require_token(state, headers)?;
    let req: DeadLetterRequest = parse_body(body)?;
    let actor = actor(req.actor, headers);
    let reason = req.reason.unwrap_or_default();
    let store = state.control.store();
    let letter = store
        .dead_letter(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no dead letter {id:?}")))?;
    let done = if retry {
        store.retry_dead_letter(id, &actor, &reason, now_ms()).await
    } else {
        store.discard_dead_letter(id, &actor, &reason).await
    }?;
    if !done {
        return Err(ApiError::Conflict(format!("{id:?} is no longer a dead letter")));
    }
    let action = if retry { "retried" } else { "discarded" };
    tracing::info!(write = id, domain = letter.domain, actor, reason, action, "dead letter");
    Ok(Json(DeadLetterView { id: id.to_owned(), domain: letter.domain, action: action.into() }))
}

#[utoipa::path(post, path = "/v1/writes/{id}/retry",
    params(("id" = String, Path, description = "Write id")),
    request_body(content = DeadLetterRequest, description = "Optional reason and actor"),
    responses((status = 200, body = DeadLetterView, description = "Queued again, ahead of later writes of its entity"),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Not a dead letter")),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DeadLetterView>, ApiError> {
    act(&state, &id, &headers, &body, true).await
}

#[utoipa::path(post, path = "/v1/writes/{id}/discard",
    params(("id" = String, Path, description = "Write id")),
    request_body(content = DeadLetterRequest, description = "Optional reason and actor"),
    responses((status = 200, body = DeadLetterView, description = "Dropped for good"),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Not a dead letter")),
    security(("bearer" = [])))]
pub async fn discard(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DeadLetterView>, ApiError> {
    act(&state, &id, &headers, &body, false).await
}

/// Append the write queue's gauges and counters of every plan domain.
pub async fn render_prometheus(state: &AdminState, out: &mut String) {
    let now = now_ms();
    let mut stats = Vec::new();
    for d in &state.control.plan().domains {
        if let Ok(s) = state.queue.stats(state.control.store(), &d.name, now).await {
            stats.push(s);
        }
    }
    let gauge = |out: &mut String, name: &str, help: &str, v: &dyn Fn(&QueueStats) -> String| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for s in &stats {
            let _ = writeln!(out, "{name}{{domain=\"{}\"}} {}", s.domain, v(s));
        }
    };
    gauge(out, "ficus_write_queue_depth", "Replayed writes waiting for delivery.", &|s| {
        s.depth.to_string()
    });
    gauge(
        out,
        "ficus_write_replay_lag_seconds",
        "Age of the oldest write waiting for delivery.",
        &|s| s.lag_seconds.to_string(),
    );
    gauge(
        out,
        "ficus_write_dead_letters",
        "Replayed writes given up on, waiting for an operator.",
        &|s| s.dead.to_string(),
    );
    let name = "ficus_writes_replayed_total";
    let _ = writeln!(
        out,
        "# HELP {name} Replay delivery attempts by domain and outcome (succeeded, failed, dead_lettered)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for s in &stats {
        let failed = s.replayed.saturating_sub(s.succeeded);
        for (outcome, v) in
            [("succeeded", s.succeeded), ("failed", failed), ("dead_lettered", s.dead_lettered)]
        {
            let _ = writeln!(out, "{name}{{domain=\"{}\",outcome=\"{outcome}\"}} {v}", s.domain);
        }
    }
}
