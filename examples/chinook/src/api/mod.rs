//! The JSON API both services serve: resource shapes, input validation, problem responses,
//! request extractors, and the money and time conversions they share.

pub mod convert;
pub mod extract;
pub mod model;
pub mod problem;

pub use convert::{Cents, Timestamp};
pub use extract::{ApiJson, AuthoritativeId, Id, Paging};
pub use model::{
    Customer, CustomerInput, Invoice, InvoiceInput, InvoiceLine, LineInput, Page, Track, TrackInput,
};
pub use problem::Problem;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Request header with which Ficus asks a service to create a row with a given id (the id the
/// authoritative side assigned). Value: a decimal id in `1..=2147483647`.
pub const AUTHORITATIVE_ID_HEADER: &str = "Ficus-Authoritative-Id";

/// `201 Created` with `Location: {collection}/{id}` and the created object as JSON.
pub fn created<T: Serialize>(collection: &str, id: i64, body: T) -> Response {
    (StatusCode::CREATED, [(header::LOCATION, format!("{collection}/{id}"))], Json(body))
        .into_response()
}

/// Body of `GET /healthz`: `{"status":"ok"}`.
pub fn healthy() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Fallback for unknown paths: 404 problem.
pub async fn no_route() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such resource")
}

/// Fallback for a known path with an unsupported method: 405 problem.
pub async fn no_method() -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this resource")
}
