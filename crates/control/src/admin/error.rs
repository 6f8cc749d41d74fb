//! Admin API errors as RFC 9457 problem+json responses.

use crate::control::ControlError;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An admin request that failed, with the status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a bearer token is required for changes: send Authorization: Bearer <token>")]
    Unauthorized,
    #[error("the bearer token is not valid")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        match e {
            ControlError::UnknownDomain(_) => ApiError::NotFound(e.to_string()),
            ControlError::Refused(_) => ApiError::Conflict(e.to_string()),
            ControlError::Invalid(_) => ApiError::Unprocessable(e.to_string()),
            ControlError::Store(StoreError::Conflict { .. }) => ApiError::Conflict(e.to_string()),
            ControlError::Store(_) => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict { .. } => ApiError::Conflict(e.to_string()),
            _ => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<crate::queue::ProbeError> for ApiError {
    fn from(e: crate::queue::ProbeError) -> ApiError {
        ApiError::Unavailable(e.to_string())
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "admin request failed");
        }
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        let mut resp = (status, Json(body)).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ficus\""),
            );
        }
        resp
    }
}

/// Fallback for unknown admin paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such admin endpoint; see /v1/openapi.json".into())
}
