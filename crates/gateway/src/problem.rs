//! RFC 9457 problem details (`application/problem+json`) for answers the gateway makes itself.

use crate::body::{Body, full};
use crate::error::Failure;
use http::{HeaderValue, Response, header};

/// Media type of a problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The response for a failure: status, problem+json body naming the side that failed, and the
/// request id so a user can find the log line.
pub fn response(failure: &Failure, request_id: &HeaderValue) -> Response<Body> {
    let status = failure.status();
    let doc = serde_json::json!({
        "type": failure.type_uri(),
        "title": failure.title(),
        "status": status.as_u16(),
        "detail": failure.to_string(),
        "failed": failure.side().as_str(),
        "request_id": request_id.to_str().unwrap_or(""),
    });
    let mut resp = Response::new(full(doc.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp.headers_mut().insert(crate::headers::X_REQUEST_ID, request_id.clone());
    resp.headers_mut().insert(header::DATE, crate::headers::date_now());
    resp
}
