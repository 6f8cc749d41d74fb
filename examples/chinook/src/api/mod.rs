//! The JSON API both services serve: resource shapes, input validation, problem responses,
//! request extractors, and the money and time conversions they share.

pub mod convert;
pub mod extract;
pub mod idempotency;
pub mod model;
pub mod problem;

pub use convert::{Cents, Timestamp};
pub use extract::{ApiJson, AuthoritativeId, Id, Paging};
pub use idempotency::{Answer, IdempotencyKey};
pub use model::{
    Customer, CustomerInput, Invoice, InvoiceInput, InvoiceLine, LineInput, Page, Track, TrackInput,
};
pub use problem::Problem;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Request header with which Ficus asks a service to create a row with a given id (the id the
/// authoritative side assigned). Value: a decimal id in `1..=2147483647`.
pub const AUTHORITATIVE_ID_HEADER: &str = "Ficus-Authoritative-Id";

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
