//! Verify runs of a domain, as `ficus verify` recorded them:
//! `GET /v1/domains/{name}/verifications` (newest first, without reports) and
//! `GET /v1/domains/{name}/verifications/latest` (the newest run with its report).

use super::AdminState;
use super::error::ApiError;
use crate::verifications::VerifyRun;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

const LIST_LIMIT_DEFAULT: u32 = 20;

/// Query of the list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Most runs listed (default 20, at most 100).
    pub limit: Option<u32>,
}

/// The verify runs of one domain.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerificationsView {
    pub domain: String,
    /// Newest first.
    pub runs: Vec<VerifyRun>,
}

#[utoipa::path(get, path = "/v1/domains/{name}/verifications",
    params(("name" = String, Path, description = "Domain name"), ListQuery),
    responses((status = 200, body = VerificationsView), (status = 404, description = "Unknown domain")))]
pub async fn list(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<VerificationsView>, ApiError> {
    state.domain(&name)?;
    let limit = q.limit.unwrap_or(LIST_LIMIT_DEFAULT).clamp(1, 100);
    let runs = state.control.store().verify_runs(&name, limit, false).await?;
    Ok(Json(VerificationsView { domain: name, runs }))
}

#[utoipa::path(get, path = "/v1/domains/{name}/verifications/latest",
    params(("name" = String, Path, description = "Domain name")),
    responses((status = 200, body = VerifyRun),
        (status = 404, description = "Unknown domain, or never verified")))]
pub async fn latest(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<VerifyRun>, ApiError> {
    state.domain(&name)?;
    let mut runs = state.control.store().verify_runs(&name, 1, true).await?;
    runs.pop()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("domain {name:?} has no recorded verify run")))
}
