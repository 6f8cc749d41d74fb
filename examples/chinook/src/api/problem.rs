//! RFC 9457 problem responses (`application/problem+json`) and the mapping of database errors
//! onto them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The RFC 9457 members, in the RFC's order.
#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: &'a str,
}

/// An error answer: `{"type":"about:blank","title":<reason phrase>,"status":<code>,"detail":…}`
/// served as `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Human-readable explanation specific to this occurrence.
    pub detail: String,
    /// The failure was transient (deadlock, busy database, id race) and the whole operation may
    /// be retried as is.
    pub retryable: bool,
}

impl Problem {
    /// A problem with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), retryable: false }
    }

    /// 400: the request itself is malformed (query, path, header or JSON syntax).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: `{what} {id} not found`.
    pub fn not_found(what: &str, id: i64) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} {id} not found"))
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 422: the body is well-formed JSON but not a valid object (missing field, wrong type,
    /// out-of-range value, unknown referenced row).
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 500 with a generic detail; the cause is logged, never sent.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

/// Whether a database error is transient: a MySQL deadlock (1213) or lock wait timeout (1205),
/// or SQLite busy/locked (codes 5, 6 and their extended forms).
pub fn is_transient(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), 1205 | 1213);
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
        return matches!(code & 0xff, 5 | 6);
    }
    false
}

/// Whether a database error is a unique-key (primary-key) violation.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether a database error is a foreign-key violation.
pub fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

impl From<sqlx::Error> for Problem {
    /// Logs the error and answers 500 (marked retryable when the error is transient).
    fn from(error: sqlx::Error) -> Self {
        let retryable = is_transient(&error);
        if retryable {
            tracing::debug!(%error, "transient database error");
        } else {
            tracing::error!(%error, "database error");
        }
        Self { retryable, ..Self::internal() }
    }
}

/// Runs `op` and retries it, up to 20 attempts with a short growing pause, while it fails with a
/// retryable problem. Used around write transactions.
pub async fn with_retry<T, F, Fut>(mut op: F) -> Result<T, Problem>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Problem>>,
{
    let mut attempt: u32 = 0;
    loop {
        match op().await {
            Err(problem) if problem.retryable && attempt < 19 => {
                attempt += 1;
                let pause = std::time::Duration::from_millis(u64::from(attempt.min(10)) * 5);
                tokio::time::sleep(pause).await;
            }
            other => return other,
        }
    }
}
