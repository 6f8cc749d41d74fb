//! `GET /v1/domains/{name}/diffs`: what shadow reads found for a domain — per route template
//! and field, raw and noise difference counts with their verdicts (Diffy's method), the
//! domain's mismatch rate, the shadow counters and a sample of full examples.

use super::AdminState;
use super::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use ficus_gateway::shadow::{self, DiffResult, ShadowOutcome};
use serde::{Deserialize, Serialize};

/// Shadow findings of one domain.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DiffsView {
    pub domain: String,
    /// Share (0..1) of compared requests with at least one field judged a real mismatch;
    /// null before any comparison.
    pub mismatch_rate: Option<f64>,
    /// Shadow requests by outcome: sent, dropped, timeout, error.
    #[schema(value_type = Object)]
    pub shadow_requests: serde_json::Value,
    /// Comparisons by result: match, mismatch, noise.
    #[schema(value_type = Object)]
    pub comparisons: serde_json::Value,
    /// Per route template and field: raw, noise, verdict.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    /// Newest last; at most 100.
    #[schema(value_type = Vec<Object>)]
    pub examples: Vec<serde_json::Value>,
}

#[utoipa::path(get, path = "/v1/domains/{name}/diffs",
    params(("name" = String, Path, description = "Domain name")),
    responses((status = 200, body = DiffsView), (status = 404, description = "Unknown domain")))]
pub async fn report(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<DiffsView>, ApiError> {
    let domain = state
        .control
        .plan()
        .domain(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no domain named {name:?} in the plan")))?;
    let findings = shadow::domain(&domain.name, domain.shadow.thresholds);
    let outcomes: serde_json::Map<String, serde_json::Value> = ShadowOutcome::ALL
        .iter()
        .map(|o| (o.as_str().to_owned(), findings.outcome_count(*o).into()))
        .collect();
    let results: serde_json::Map<String, serde_json::Value> = DiffResult::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), findings.result_count(*r).into()))
        .collect();
    Ok(Json(DiffsView {
        domain: name,
        mismatch_rate: findings.mismatch_rate(),
        shadow_requests: outcomes.into(),
        comparisons: results.into(),
        report: to_json(&findings.report()),
        examples: findings.examples().iter().map(to_json).collect(),
    }))
}

/// Serialise for the answer; a value serde cannot represent becomes null rather than an error.
fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
