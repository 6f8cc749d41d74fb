//! What real services do that a parallel run must cope with, switched on per service by the
//! demo: a generated timestamp in every answer (`served_at`, microseconds — noise, since two
//! answers of the same service already differ there), and, in the new service, track prices
//! rendered as decimal strings (`"0.99"` where legacy sends `0.99` — an honest difference, the
//! kind of bug a shadow read exists to catch before clients do).

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::header;
use axum::response::Response;
use serde_json::Value;
use std::time::SystemTime;

/// Largest answer the quirks rewrite; longer ones pass unchanged.
const MAX_REWRITTEN_BYTES: usize = 4 * 1024 * 1024;

/// Which quirks a service has. `Quirks::default()` has none: both services then agree on every
/// read (the parity tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Add `"served_at": "<RFC 3339, µs>"` to every JSON object answer.
    pub served_at: bool,
    /// Render the `unit_price` of tracks (one, or a page's items) as a string with two decimals.
    pub price_as_text: bool,
}

impl Quirks {
    /// `router` with these quirks applied to its JSON answers.
    pub fn apply(self, router: Router) -> Router {
        if self == Quirks::default() {
            return router;
        }
        router.layer(axum::middleware::map_response(move |resp: Response| rewrite(self, resp)))
    }
}

async fn rewrite(q: Quirks, resp: Response) -> Response {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_REWRITTEN_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if q.price_as_text {
        price_as_text(&mut value);
        if let Some(items) = value.get_mut("items").and_then(Value::as_array_mut) {
            items.iter_mut().for_each(price_as_text);
        }
    }
    if q.served_at
        && let Some(obj) = value.as_object_mut()
    {
        obj.insert("served_at".into(), Value::String(now_rfc3339_micros()));
    }
    let out = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// A track (it has `unit_price` and `media_type_id`): its price as `"0.99"`.
fn price_as_text(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else { return };
    if !obj.contains_key("media_type_id") {
        return;
    }
    if let Some(price) = obj.get("unit_price").and_then(Value::as_f64) {
        obj.insert("unit_price".into(), Value::String(format!("{price:.2}")));
    }
}

fn now_rfc3339_micros() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_prices_become_text_and_other_objects_stay() {
        let mut track = serde_json::json!({ "id": 1, "media_type_id": 1, "unit_price": 0.99 });
        price_as_text(&mut track);
        assert_eq!(track["unit_price"], "0.99");
        let mut line = serde_json::json!({ "id": 1, "track_id": 1, "unit_price": 0.99 });
        price_as_text(&mut line);
        assert_eq!(line["unit_price"], 0.99, "invoice lines are not tracks");
    }

    #[test]
    fn served_at_is_rfc3339_with_microseconds() {
        let t = now_rfc3339_micros();
        assert_eq!(t.len(), "2026-11-21T00:00:00.000000Z".len(), "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
