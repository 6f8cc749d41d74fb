//! The request path of one request: match → decide → forward → record.

use crate::body::{Body, BoxError};
use crate::error::Failure;
use crate::headers::{self, ClientAddr};
use crate::metrics::{Outcome, RequestMetrics};
use crate::pool::PoolError;
use crate::problem;
use crate::sticky;
use crate::table::{RoutingTable, SnapshotHandle};
use crate::upstream::{UpstreamClient, Upstreams};
use ficus_model::{Side, Unmatched, decide};
use http::{Request, Response, Version, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use std::time::Instant;

/// The gateway: the latest routing snapshot, the upstream clients and the body limit.
#[derive(Debug)]
pub struct Gateway {
    table: SnapshotHandle,
    upstreams: Upstreams,
    max_body_bytes: u64,
}

/// Where a request goes, decided before any I/O.
struct Route<'t> {
    metrics: &'t RequestMetrics,
    primary: Option<Side>,
    domain: &'t str,
}

impl Gateway {
    /// A gateway reading snapshots from `table`.
    pub fn new(table: SnapshotHandle, upstreams: Upstreams, max_body_bytes: u64) -> Gateway {
        Gateway { table, upstreams, max_body_bytes }
    }

    /// The snapshot handle (shared with the control plane).
    pub fn table(&self) -> &SnapshotHandle {
        &self.table
    }

    /// Serve one request. Never fails: a failure becomes a problem+json answer.
    pub async fn handle<B>(&self, req: Request<B>, client: &ClientAddr) -> Response<Body>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let start = Instant::now();
        // The snapshot this request keeps until it ends, whatever is published meanwhile.
        let snapshot: Arc<RoutingTable> = self.table.load_full();
        let (mut parts, body) = req.into_parts();
        let request_id = headers::ensure_request_id(&mut parts.headers);

        // 1. match, 2. decide
        let route = route(&snapshot, &parts);
        if let Err(failure) = check_target(&parts) {
            route.metrics.record(None, Outcome::Rejected, start.elapsed());
            return problem::response(&failure, &request_id);
        }
        let Some(primary) = route.primary else {
            let failure = Failure::NoRoute {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
            };
            route.metrics.record(None, Outcome::Rejected, start.elapsed());
            return problem::response(&failure, &request_id);
        };
        let too_large = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > self.max_body_bytes);
        if too_large {
            route.metrics.record(None, Outcome::Rejected, start.elapsed());
            return problem::response(
                &Failure::BodyTooLarge { limit: self.max_body_bytes },
                &request_id,
            );
        }

        // 3. forward
        let upstream = self.upstreams.get(primary);
        let result = self.forward(upstream, parts, body, client).await;
        let elapsed = start.elapsed();
        match result {
            Ok(mut resp) => {
                let outcome = Outcome::of_status(resp.status().as_u16());
                route.metrics.record(Some(primary), outcome, elapsed);
                resp.headers_mut().insert(headers::X_REQUEST_ID, request_id);
                tracing::debug!(domain = route.domain, upstream = %primary, status = resp.status().as_u16(), ?elapsed, "forwarded");
                resp
            }
            Err(failure) => {
                let outcome = match failure {
                    Failure::UpstreamTimeout { .. } => Outcome::Timeout,
                    Failure::BodyTooLarge { .. }
                    | Failure::BadRequest { .. }
                    | Failure::MethodNotAllowed { .. } => Outcome::Rejected,
                    _ => Outcome::Unreachable,
                };
                route.metrics.record(Some(primary), outcome, elapsed);
                tracing::warn!(
                    domain = route.domain,
                    request_id = request_id.to_str().unwrap_or("-"),
                    failed = failure.side().as_str(),
                    "{failure}"
                );
                problem::response(&failure, &request_id)
            }
        }
    }

    async fn forward<B>(
        &self,
        upstream: &UpstreamClient,
        mut parts: http::request::Parts,
        body: B,
        client: &ClientAddr,
    ) -> Result<Response<Body>, Failure>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let side = upstream.side;
        let uri = upstream
            .target_for(parts.uri.path_and_query())
            .map_err(|e| Failure::BadRequest { detail: format!("request target: {e}") })?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()));
        headers::remove_hop_by_hop(&mut parts.headers);
        // The pool sets Host to the upstream's authority.
        headers::set_forwarded(&mut parts.headers, client, host.as_deref());
        headers::ensure_traceparent(&mut parts.headers);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let limit = usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX);
        // Errors of the client's body are tagged so `classify` can blame the client, not the
        // upstream the body was being streamed to.
        let body: Body = Limited::new(body, limit)
            .map_err(|e| -> BoxError { Box::new(ClientBodyError(e)) })
            .boxed();
        let req = Request::from_parts(parts, body);

        let sent = tokio::time::timeout(upstream.request_timeout, upstream.pool.send(req)).await;
        let resp = match sent {
            Err(_) => {
                return Err(Failure::UpstreamTimeout {
                    side,
                    timeout_ms: upstream.request_timeout.as_millis(),
                });
            }
            Ok(Err(e)) => return Err(classify(side, &e, self.max_body_bytes)),
            Ok(Ok(resp)) => resp,
        };
        let (mut parts, body) = resp.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        let body: Body = body.boxed();
        Ok(Response::from_parts(parts, body))
    }
}

/// Refuse what a reverse proxy must not forward: CONNECT (tunnels), targets that are not a path
/// (`OPTIONS *`), and paths with dot-segments, which a backend may resolve into another
/// domain's route than the one the gateway matched.
fn check_target(parts: &http::request::Parts) -> Result<(), Failure> {
    if parts.method == http::Method::CONNECT {
        return Err(Failure::MethodNotAllowed { method: parts.method.to_string() });
    }
    let path = parts.uri.path();
    if !path.starts_with('/') {
        return Err(Failure::BadRequest {
            detail: format!("request target {path:?} is not a path"),
        });
    }
    let dot_segment = path.split('/').any(is_dot_segment);
    if dot_segment {
        return Err(Failure::BadRequest {
            detail: format!("path {path:?} has a '.' or '..' segment; send the resolved path"),
        });
    }
    Ok(())
}

/// `.` or `..`, also percent-encoded (`%2e`, any case).
fn is_dot_segment(seg: &str) -> bool {
    if seg.is_empty() || seg.len() > 6 {
        return false;
    }
    let mut dots = 0;
    let mut rest = seg.as_bytes();
    while !rest.is_empty() {
        match rest {
            [b'.', tail @ ..] => rest = tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => rest = tail,
            _ => return false,
        }
        dots += 1;
    }
    dots <= 2
}

fn route<'t>(snapshot: &'t RoutingTable, parts: &http::request::Parts) -> Route<'t> {
    let method = parts.method.as_str();
    match snapshot.routes.lookup(method, parts.uri.path()) {
        Some(m) => {
            let d = &snapshot.domains[m.domain];
            let bucket =
                sticky::bucket(d.sticky.as_ref(), &parts.headers, parts.uri.query(), &m.params);
            let decision = decide(d.state.phase, method, bucket, d.state.read_new_percent);
            Route { metrics: &d.metrics, primary: Some(decision.primary), domain: &d.name }
        }
        None => Route {
            metrics: &snapshot.unmatched_metrics,
            primary: match snapshot.unmatched {
                Unmatched::Forward(side) => Some(side),
                Unmatched::Reject => None,
            },
            domain: "unmatched",
        },
    }
}

/// An error while reading the client's request body (over the limit, malformed chunking, cut
/// short).
#[derive(Debug, thiserror::Error)]
#[error("reading the request body: {0}")]
struct ClientBodyError(BoxError);

/// Which side a client error came from: our body limit, the client's body, or the upstream.
fn classify(side: Side, e: &PoolError, limit: u64) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(ClientBodyError(inner)) = err.downcast_ref::<ClientBodyError>() {
            if inner.is::<LengthLimitError>() {
                return Failure::BodyTooLarge { limit };
            }
            return Failure::BadRequest { detail: error_chain(err) };
        }
        source = err.source();
    }
    if e.is_connect() {
        Failure::UpstreamConnect { side, detail: error_chain(e) }
    } else {
        Failure::UpstreamBroken { side, detail: error_chain(e) }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        s.push_str(": ");
        s.push_str(&err.to_string());
        source = err.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::is_dot_segment;

    #[test]
    fn dot_segments_plain_and_encoded() {
        for seg in [".", "..", "%2e", "%2E%2e", ".%2e"] {
            assert!(is_dot_segment(seg), "{seg}");
        }
        for seg in ["", "...", "a.", ".a", "%2f", "%2e%2e%2e", "invoices"] {
            assert!(!is_dot_segment(seg), "{seg}");
        }
    }
}
