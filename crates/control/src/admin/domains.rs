//! Handlers for domains, phase changes and the audit log.

use super::AdminState;
use super::auth::require_token;
use super::error::ApiError;
use super::views::{AdvanceRequest, ChangeView, DomainView, PatchRequest, RollbackRequest};
use crate::store::AuditEntry;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use ficus_model::{Percent, Phase, RollbackTarget};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Most audit entries one request returns.
const AUDIT_LIMIT_MAX: u32 = 1000;
const AUDIT_LIMIT_DEFAULT: u32 = 100;

pub(super) fn parse_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::Unprocessable(format!("request body: {e}")))
}

pub(super) fn actor(given: Option<String>, headers: &HeaderMap) -> String {
    given
        .filter(|a| !a.trim().is_empty())
        .or_else(|| headers.get("ficus-actor").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "admin-api".to_owned())
}

fn view(state: &AdminState, name: &str) -> Result<DomainView, ApiError> {
    let control = &state.control;
    let table = control.snapshot();
    let domain = state.domain(name)?;
    let s =
        table.state(name).ok_or_else(|| ApiError::NotFound(format!("no state for {name:?}")))?;
    Ok(DomainView::new(domain, s, &table))
}

#[utoipa::path(get, path = "/v1/domains", responses((status = 200, body = [DomainView])))]
pub async fn list(State(state): State<AdminState>) -> Result<Json<Vec<DomainView>>, ApiError> {
    let names: Vec<String> = state.control.plan().domains.iter().map(|d| d.name.clone()).collect();
    names.iter().map(|n| view(&state, n)).collect::<Result<Vec<_>, _>>().map(Json)
}

#[utoipa::path(get, path = "/v1/domains/{name}",
    params(("name" = String, Path, description = "Domain name")),
    responses((status = 200, body = DomainView), (status = 404, description = "Unknown domain")))]
pub async fn get_one(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<DomainView>, ApiError> {
    view(&state, &name).map(Json)
}

#[utoipa::path(post, path = "/v1/domains/{name}/advance",
    params(("name" = String, Path, description = "Domain name")),
    request_body(content = AdvanceRequest, description = "Optional reason and actor"),
    responses(
        (status = 200, body = ChangeView, description = "Advanced; the gateway already routes by the new phase"),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Unknown domain"), (status = 409, description = "Refused: already in `new`"),
    ),
    security(("bearer" = [])))]
pub async fn advance(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ChangeView>, ApiError> {
    require_token(&state, &headers)?;
    let req: AdvanceRequest = parse_body(&body)?;
    let actor = actor(req.actor, &headers);
    let change = state.control.advance(&name, &actor, req.reason.as_deref().unwrap_or("")).await?;
    Ok(Json(ChangeView::from(&change)))
}

#[utoipa::path(post, path = "/v1/domains/{name}/rollback",
    params(("name" = String, Path, description = "Domain name")),
    request_body(content = RollbackRequest, description = "Optional target phase, force, reason and actor"),
    responses(
        (status = 200, body = ChangeView),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Unknown domain"),
        (status = 409, description = "Refused: not an earlier phase, or leaving `new` without force"),
        (status = 422, description = "Invalid body or phase name"),
    ),
    security(("bearer" = [])))]
pub async fn rollback(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ChangeView>, ApiError> {
    require_token(&state, &headers)?;
    let req: RollbackRequest = parse_body(&body)?;
    let target = match req.to.as_deref() {
        None => RollbackTarget::Previous,
        Some(p) => RollbackTarget::To(
            p.parse::<Phase>().map_err(|e| ApiError::Unprocessable(e.to_string()))?,
        ),
    };
    let actor = actor(req.actor, &headers);
    let change = state
        .control
        .rollback(&name, target, req.force, &actor, req.reason.as_deref().unwrap_or(""))
        .await?;
    Ok(Json(ChangeView::from(&change)))
}

fn percent(field: &str, v: Option<f64>) -> Result<Option<Percent>, ApiError> {
    v.map(|p| {
        Percent::from_percent(p).ok_or_else(|| {
            ApiError::Unprocessable(format!("{field} = {p} is out of range; expected 0 to 100"))
        })
    })
    .transpose()
}

#[utoipa::path(patch, path = "/v1/domains/{name}",
    params(("name" = String, Path, description = "Domain name")),
    request_body(content = PatchRequest, description = "New percentages"),
    responses(
        (status = 200, body = ChangeView),
        (status = 401, description = "No bearer token"), (status = 403, description = "Wrong bearer token"),
        (status = 404, description = "Unknown domain"), (status = 422, description = "Invalid body or percentage"),
    ),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ChangeView>, ApiError> {
    require_token(&state, &headers)?;
    let req: PatchRequest = parse_body(&body)?;
    let read_new = percent("read_new_percent", req.read_new_percent)?;
    let shadow = percent("shadow_percent", req.shadow_percent)?;
    let actor = actor(req.actor, &headers);
    let change = state
        .control
        .set_percentages(&name, read_new, shadow, &actor, req.reason.as_deref().unwrap_or(""))
        .await?;
    Ok(Json(ChangeView::from(&change)))
}

/// Query of `GET /v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only this domain's entries.
    pub domain: Option<String>,
    /// At most this many entries, newest first (default 100, max 1000).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/audit", params(AuditQuery),
    responses((status = 200, body = [AuditEntry], description = "Newest first")))]
pub async fn audit(
    State(state): State<AdminState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(AUDIT_LIMIT_DEFAULT).clamp(1, AUDIT_LIMIT_MAX);
    let entries = state.control.store().audit(q.domain.as_deref(), limit).await?;
    Ok(Json(entries))
}
