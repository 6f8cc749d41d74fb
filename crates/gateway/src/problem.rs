//! RFC 9457 problem details (`application/problem+json`) for answers the gateway makes itself.

use crate::body::{Body, full};
use crate::error::Failure;
use http::{HeaderValue, Response, StatusCode, header};

/// Media type of a problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The response for a failure: status, problem+json body naming the side that failed, and the
/// request id so a user can find the log line.
pub fn response(failure: &Failure, request_id: &HeaderValue) -> Response<Body> {
    document(
        failure.status(),
        failure.type_uri(),
        failure.title(),
        &failure.to_string(),
        failure.side().as_str(),
        request_id,
    )
}

/// A problem document answer: `status`, the document (`type`, `title`, `status`, `detail`,
/// `failed` naming the side at fault, `request_id`), its media type, the request id and `Date`.
pub fn document(
    status: StatusCode,
    type_uri: &str,
    title: &str,
    detail: &str,
    failed: &str,
    request_id: &HeaderValue,
) -> Response<Body> {
    let doc = serde_json::json!({
        "type": type_uri,
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "failed": failed,
        "request_id": request_id.to_str().unwrap_or(""),
    });
    let mut resp = Response::new(full(doc.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp.headers_mut().insert(crate::headers::X_REQUEST_ID, request_id.clone());
    resp.headers_mut().insert(header::DATE, crate::headers::date_now());
    resp
}
