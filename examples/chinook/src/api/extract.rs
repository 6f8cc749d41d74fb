//! Request extractors whose rejections are problem responses: JSON bodies, `{id}` paths, paging
//! queries and the `Ficus-Authoritative-Id` header.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::AUTHORITATIVE_ID_HEADER;
use super::model::MAX_INT;
use super::problem::Problem;

/// A JSON body of type `T`. Rejections: malformed JSON → 400, well-formed JSON of the wrong
/// shape (missing field, wrong type) → 422, missing `Content-Type: application/json` → 415,
/// body too large → 413; all as problem+json.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    Problem::new(rejection.status(), rejection.body_text())
}

/// The `{id}` path segment as an integer. Rejection: not an integer → 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Self(id)),
            Err(rejection) => Err(Problem::bad_request(rejection.body_text())),
        }
    }
}

/// `?limit=L&offset=O`: `limit` in 1..=100 (default 20), `offset` ≥ 0 (default 0).
/// Rejection: anything else → 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size.
pub const MAX_LIMIT: i64 = 100;

#[derive(Deserialize)]
struct RawPaging {
    limit: Option<i64>,
    offset: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawPaging>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Problem::bad_request(rejection.body_text()))?;
        let limit = raw.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Problem::bad_request(format!("limit: must be between 1 and {MAX_LIMIT}")));
        }
        let offset = raw.offset.unwrap_or(0);
        if offset < 0 {
            return Err(Problem::bad_request("offset: must not be negative"));
        }
        Ok(Self { limit, offset })
    }
}

/// The optional `Ficus-Authoritative-Id: N` header: create the row with id `N`.
/// Rejection: present but not an id in 1..=2147483647 → 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthoritativeId(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for AuthoritativeId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORITATIVE_ID_HEADER) else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|id| (1..=MAX_INT).contains(id))
            .map(|id| Self(Some(id)))
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "{AUTHORITATIVE_ID_HEADER}: must be an id between 1 and {MAX_INT}"
                ))
            })
    }
}
