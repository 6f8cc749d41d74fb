//! Shadow findings of a domain: `GET /v1/domains/{name}/diffs` (per route template and field,
//! raw and noise difference counts with their verdicts after Diffy, the mismatch rate, the
//! shadow counters, the known differences and the newest examples), the stored examples
//! (`…/diffs/examples`, `…/diffs/examples/{id}`), and marking a field as a known difference
//! (`POST` / `DELETE …/diffs/known`), which turns it into an ignore rule of its route.

use super::AdminState;
use super::auth::require_token;
use super::domains::{actor, parse_body};
use super::error::ApiError;
use crate::findings::{ExampleFilter, KnownEntry, StoredExample};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use ficus_gateway::shadow::{self, DiffResult, ShadowOutcome};
use ficus_model::diff::KnownDifference;
use serde::{Deserialize, Serialize};

/// Examples listed in the domain's report.
const REPORT_EXAMPLES: u32 = 20;
const LIST_LIMIT_DEFAULT: u32 = 50;
const LIST_LIMIT_MAX: u32 = 500;

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
    /// Fields marked as known differences (not compared).
    pub known: Vec<KnownEntry>,
    /// The newest stored examples, newest first (at most 20; see `…/diffs/examples`).
    pub examples: Vec<ExampleSummary>,
}

/// One stored example, in short.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExampleSummary {
    pub id: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub route: String,
    pub method: String,
    pub target: String,
    pub primary_status: u16,
    pub secondary_status: u16,
    pub fields: Vec<String>,
    pub trace_id: Option<String>,
}

impl From<&StoredExample> for ExampleSummary {
    fn from(s: &StoredExample) -> Self {
        let e = &s.example;
        ExampleSummary {
            id: s.id,
            at_ms: e.at_ms,
            route: e.route.clone(),
            method: e.method.clone(),
            target: e.target.clone(),
            primary_status: e.primary_status,
            secondary_status: e.secondary_status,
            fields: e.fields.clone(),
            trace_id: e.trace_id.clone(),
        }
    }
}

/// Body of `POST` and `DELETE /v1/domains/{name}/diffs/known`.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KnownRequest {
    /// Route template, as in the report (`/invoices/{id}`).
    pub route: String,
    /// Field path, as in the report (`/total`, `/lines/*/unit_price`, `header:etag`).
    pub field: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
}

/// Answer of a known-difference change.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KnownView {
    pub domain: String,
    pub route: String,
    pub field: String,
    /// Whether this call changed anything (false: it already was so).
    pub changed: bool,
}

#[utoipa::path(get, path = "/v1/domains/{name}/diffs",
    params(("name" = String, Path, description = "Domain name")),
    responses((status = 200, body = DiffsView), (status = 404, description = "Unknown domain")))]
pub async fn report(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<DiffsView>, ApiError> {
    let domain = state.domain(&name)?;
    // Store what the gateway found since the last tick, so the answer is current.
    state.control.sync_shadow().await?;
    let findings = shadow::domain(&domain.name, domain.shadow.thresholds);
    let outcomes: serde_json::Map<String, serde_json::Value> = ShadowOutcome::ALL
        .iter()
        .map(|o| (o.as_str().to_owned(), findings.outcome_count(*o).into()))
        .collect();
    let results: serde_json::Map<String, serde_json::Value> = DiffResult::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), findings.result_count(*r).into()))
        .collect();
    let store = state.control.store();
    let known = store.known_differences(Some(&name)).await?;
    let filter = ExampleFilter { limit: REPORT_EXAMPLES, ..ExampleFilter::default() };
    let examples = store.examples(&name, &filter).await?;
    Ok(Json(DiffsView {
        domain: name,
        mismatch_rate: findings.mismatch_rate(),
        shadow_requests: outcomes.into(),
        comparisons: results.into(),
        report: to_json(&findings.report()),
        known: known.into_iter().map(|(_, k)| k).collect(),
        examples: examples.iter().map(ExampleSummary::from).collect(),
    }))
}

/// Query of `GET /v1/domains/{name}/diffs/examples`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExamplesQuery {
    /// Only this route template.
    pub route: Option<String>,
    /// Only examples in which this field differed.
    pub field: Option<String>,
    /// At most this many, newest first (default 50, max 500).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/domains/{name}/diffs/examples",
    params(("name" = String, Path, description = "Domain name"), ExamplesQuery),
    responses((status = 200, body = [StoredExample], description = "Newest first"),
              (status = 404, description = "Unknown domain")))]
pub async fn examples(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Query<ExamplesQuery>,
) -> Result<Json<Vec<StoredExample>>, ApiError> {
    state.domain(&name)?;
    state.control.sync_shadow().await?;
    let filter = ExampleFilter {
        route: q.route.as_deref(),
        field: q.field.as_deref(),
        limit: q.limit.unwrap_or(LIST_LIMIT_DEFAULT).clamp(1, LIST_LIMIT_MAX),
    };
    let list = state.control.store().examples(&name, &filter).await?;
    Ok(Json(list))
}

#[utoipa::path(get, path = "/v1/domains/{name}/diffs/examples/{id}",
    params(("name" = String, Path, description = "Domain name"), ("id" = i64, Path, description = "Example id")),
    responses((status = 200, body = StoredExample), (status = 404, description = "Unknown domain or example")))]
pub async fn example(
    State(state): State<AdminState>,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Json<StoredExample>, ApiError> {
    state.domain(&name)?;
    state
        .control
        .store()
        .example(&name, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("domain {name:?} has no example {id}")))
}

#[utoipa::path(post, path = "/v1/domains/{name}/diffs/known",
    params(("name" = String, Path, description = "Domain name")),
    request_body(content = KnownRequest, description = "The route template and field to stop comparing"),
    responses(
        (status = 201, body = KnownView, description = "Marked; the field is no longer compared on the route"),
        (status = 200, body = KnownView, description = "It already was marked"),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Unknown domain"),
        (status = 422, description = "Not a route of the domain, or a field that cannot be ignored"),
    ),
    security(("bearer" = [])))]
pub async fn mark_known(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<KnownView>), ApiError> {
    require_token(&state, &headers)?;
    let req: KnownRequest = parse_body(&body)?;
    let known = KnownDifference { route: req.route, field: req.field };
    let actor = actor(req.actor, &headers);
    let reason = req.reason.unwrap_or_default();
    let changed = state.control.mark_known(&name, &known, &actor, &reason).await?;
    let status = if changed { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(KnownView { domain: name, route: known.route, field: known.field, changed })))
}

#[utoipa::path(delete, path = "/v1/domains/{name}/diffs/known",
    params(("name" = String, Path, description = "Domain name")),
    request_body(content = KnownRequest, description = "The route template and field to compare again"),
    responses(
        (status = 200, body = KnownView),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Unknown domain"), (status = 422, description = "Not a route of the domain"),
    ),
    security(("bearer" = [])))]
pub async fn unmark_known(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<KnownView>, ApiError> {
    require_token(&state, &headers)?;
    let req: KnownRequest = parse_body(&body)?;
    let known = KnownDifference { route: req.route, field: req.field };
    let actor = actor(req.actor, &headers);
    let reason = req.reason.unwrap_or_default();
    let changed = state.control.unmark_known(&name, &known, &actor, &reason).await?;
    Ok(Json(KnownView { domain: name, route: known.route, field: known.field, changed }))
}

/// Serialise for the answer; a value serde cannot represent becomes null rather than an error.
fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
