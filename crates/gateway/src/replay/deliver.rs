//! One delivery attempt of a replayed write to the secondary: the original method, target,
//! headers and body, plus `Idempotency-Key` (the write's id, the same on every attempt),
//! `Ficus-Replay: 1` and, when known, `Ficus-Authoritative-Id`.

use super::{FICUS_AUTHORITATIVE_ID, FICUS_REPLAY, WriteEntry};
use crate::body::full;
use crate::upstream::UpstreamClient;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt;

/// How an attempt ended: the secondary's status, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Answered(u16),
    /// No answer: connection refused or broken, timeout, or a request that cannot be built.
    Failed(String),
}

/// Send `entry` to `client` (the secondary) once, within its request timeout, and read the
/// answer whole (its body is dropped).
pub async fn deliver(client: &UpstreamClient, entry: &WriteEntry) -> Delivery {
    let req = match build(client, entry) {
        Ok(r) => r,
        Err(e) => return Delivery::Failed(e),
    };
    let sent = tokio::time::timeout(client.request_timeout, async {
        let resp = client.pool.send(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await.map_err(|e| e.to_string())?;
        Ok::<u16, String>(status)
    })
    .await;
    match sent {
        Ok(Ok(status)) => Delivery::Answered(status),
        Ok(Err(e)) => Delivery::Failed(e),
        Err(_) => {
            Delivery::Failed(format!("no answer within {} ms", client.request_timeout.as_millis()))
        }
    }
}

fn build(
    client: &UpstreamClient,
    entry: &WriteEntry,
) -> Result<Request<crate::body::Body>, String> {
    let target: http::uri::PathAndQuery =
        entry.target.parse().map_err(|e| format!("target {:?}: {e}", entry.target))?;
    let uri = client.target_for(Some(&target)).map_err(|e| e.to_string())?;
    let method = Method::from_bytes(entry.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = Request::new(full(entry.body.clone()));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    let h = req.headers_mut();
    for (name, value) in &entry.headers {
        if let (Ok(n), Ok(v)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            h.append(n, v);
        }
    }
    let key = HeaderValue::from_str(&entry.id).map_err(|e| e.to_string())?;
    h.insert(HeaderName::from_static("idempotency-key"), key);
    h.insert(FICUS_REPLAY, HeaderValue::from_static("1"));
    if let Some(id) = &entry.authoritative_id
        && let Ok(v) = HeaderValue::from_str(id)
    {
        h.insert(FICUS_AUTHORITATIVE_ID, v);
    }
    Ok(req)
}
