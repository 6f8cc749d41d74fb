//! The request path of one request: match → decide → forward → record.

use crate::body::{Body, BoxError};
use crate::error::Failure;
use crate::headers::{self, ClientAddr};
use crate::metrics::{Outcome, RequestMetrics};
use crate::pool::PoolError;
use crate::problem;
use crate::replay::{AppendOutcome, WriteEntry, WriteQueue};
use crate::shadow::{Job, RequestTee, Shadower, TeeBody};
use crate::sticky;
use crate::table::{LocalSnapshot, RoutingTable, SnapshotHandle};
use crate::upstream::{UpstreamClient, Upstreams};
use bytes::Bytes;
use ficus_model::{Bucket, Percent, Side, SyncMode, Unmatched, decide};
use http::{Request, Response, Version, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

/// The gateway: the latest routing snapshot, the upstream clients, the body limit and the
/// shadow bounds of each domain (one gateway per worker thread).
#[derive(Debug)]
pub struct Gateway {
    table: LocalSnapshot,
    upstreams: Upstreams,
    max_body_bytes: u64,
    /// Per plan domain, in plan order.
    shadows: Vec<Shadower>,
    /// Per plan domain: how writes are replayed (sync mode, and per route the id pointer and
    /// key parameter).
    replay: Vec<DomainReplay>,
    /// Where accepted writes go; `None` replays nothing.
    queue: Option<Arc<dyn WriteQueue>>,
}

#[derive(Debug)]
struct DomainReplay {
    sync: SyncMode,
    /// Per route of the domain: (id_pointer, key parameter).
    routes: Vec<(Option<String>, Option<String>)>,
}

/// A write to replay once the authoritative side accepts it.
struct PlannedReplay {
    to: Side,
    domain: usize,
    domain_name: String,
    route: usize,
    template: String,
    /// The key parameter's value, if the route has one.
    key: Option<String>,
}

/// What a replay needs from the client's request, taken before it is forwarded.
struct ReplayRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// The body as the primary read it; `None` for a request without a body.
    body: Option<oneshot::Receiver<Option<Bytes>>>,
}

impl ReplayRequest {
    /// The request as forwarded, minus what each delivery sets itself.
    fn of(parts: &http::request::Parts) -> ReplayRequest {
        let skip = |name: &header::HeaderName| {
            name == header::HOST
                || name == header::CONTENT_LENGTH
                || name == header::TRANSFER_ENCODING
                || name.as_str() == "idempotency-key"
                || name.as_str().starts_with("ficus-")
        };
        ReplayRequest {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            headers: parts
                .headers
                .iter()
                .filter(|(n, _)| !skip(n))
                .map(|(n, v)| {
                    (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())
                })
                .collect(),
            body: None,
        }
    }
}

fn has_body(headers: &http::HeaderMap) -> bool {
    headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
        || headers.contains_key(header::TRANSFER_ENCODING)
}

/// Where the copy of a repeatable request's body goes (`None` if it could not be kept whole).
type BodyCopy = oneshot::Sender<Option<Bytes>>;

/// Where a request goes, decided before any I/O.
struct Route<'t> {
    metrics: &'t RequestMetrics,
    primary: Option<Side>,
    domain: &'t str,
    /// The plan domain's index, the matched template, and whether the route may be sent twice.
    matched: Option<(usize, &'t str, bool)>,
    /// Set for a write of a domain kept in sync by replay, in a phase that syncs.
    replay: Option<PlannedReplay>,
}

impl Gateway {
    /// A gateway reading snapshots from `table`, without shadow reads.
    pub fn new(table: SnapshotHandle, upstreams: Upstreams, max_body_bytes: u64) -> Gateway {
        Gateway {
            table: LocalSnapshot::new(table),
            upstreams,
            max_body_bytes,
            shadows: Vec::new(),
            replay: Vec::new(),
            queue: None,
        }
    }

    /// Replay accepted writes through `queue` (domains with `sync = "replay"`).
    pub fn with_queue(mut self, queue: Arc<dyn WriteQueue>) -> Gateway {
        self.queue = Some(queue);
        self
    }

    /// A gateway for `plan`: its upstreams, body limit and every domain's shadow settings.
    pub fn from_plan(table: SnapshotHandle, plan: &ficus_model::Plan) -> Gateway {
        Gateway {
            table: LocalSnapshot::new(table),
            upstreams: Upstreams::from_plan(plan),
            max_body_bytes: plan.listener.max_body_bytes,
            shadows: plan.domains.iter().map(|d| Shadower::new(&d.name, &d.shadow)).collect(),
            replay: plan
                .domains
                .iter()
                .map(|d| DomainReplay {
                    sync: d.sync,
                    routes: d
                        .routes
                        .iter()
                        .map(|r| (r.id_pointer.clone(), r.key.clone()))
                        .collect(),
                })
                .collect(),
            queue: None,
        }
    }

    /// Whether this request gets a shadow, and if so what it needs: a sampled read, or a
    /// request to a repeatable route (whose body, if any, is copied as the primary reads it),
    /// of a domain whose phase allows shadowing. Returns the route's comparison cap and, for a
    /// body to copy, where the copy goes.
    fn shadow_job(
        &self,
        snapshot: &RoutingTable,
        route: &Route<'_>,
        parts: &http::request::Parts,
        primary: Side,
        body_taken: bool,
    ) -> Option<(&Shadower, Job, usize, Option<BodyCopy>)> {
        let (di, template, repeatable) = route.matched?;
        let shadower = self.shadows.get(di)?;
        let state = snapshot.domains.get(di)?.state;
        // Most requests of most domains are never shadowed: decide that before any other work.
        if state.shadow_percent == Percent::ZERO {
            return None;
        }
        let sampled = state.shadow_percent.contains(Bucket::from_random(crate::ids::next_u64()));
        let read = ficus_model::routing::is_read(parts.method.as_str());
        let eligible =
            ficus_model::routing::shadow_eligible(state.phase, shadower.config().in_legacy);
        if !(sampled && (read || repeatable) && eligible) {
            return None;
        }
        let bodiless = !has_body(&parts.headers);
        if !bodiless && body_taken {
            // The body's copy goes to the write queue; a shadow of this write is left out.
            return None;
        }
        let cap = shadower.findings().rules().for_route(template).max_compared_bytes();
        let (body_tx, body_rx) = if bodiless {
            (None, None)
        } else if repeatable {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            // A safe method with a body: its meaning may depend on the body; not repeated.
            return None;
        };
        let noise =
            shadower.config().noise_percent.contains(Bucket::from_random(crate::ids::next_u64()));
        let job = Job {
            route: template.to_owned(),
            method: parts.method.clone(),
            path_and_query: parts.uri.path_and_query().cloned(),
            headers: parts.headers.clone(),
            primary,
            noise,
            body: body_rx,
        };
        Some((shadower, job, cap, body_tx))
    }

    /// Steps 1 and 2, match and decide: the domain, the primary, and whether an accepted write is replayed.
    fn route<'t>(&self, snapshot: &'t RoutingTable, parts: &http::request::Parts) -> Route<'t> {
        let method = parts.method.as_str();
        let Some(m) = snapshot.routes.lookup(method, parts.uri.path()) else {
            return Route {
                metrics: &snapshot.unmatched_metrics,
                primary: match snapshot.unmatched {
                    Unmatched::Forward(side) => Some(side),
                    Unmatched::Reject => None,
                },
                domain: "unmatched",
                matched: None,
                replay: None,
            };
        };
        let d = &snapshot.domains[m.domain];
        let bucket =
            sticky::bucket(d.sticky.as_ref(), &parts.headers, parts.uri.query(), &m.params);
        let decision = decide(d.state.phase, method, bucket, d.state.read_new_percent);
        let replay = match (&self.queue, self.replay.get(m.domain), d.state.phase.synced()) {
            (Some(_), Some(r), Some(to)) if !decision.read && r.sync == SyncMode::Replay => {
                let key_name = r.routes.get(m.route).and_then(|(_, k)| k.as_deref());
                let key = match key_name {
                    Some(name) => m.params.iter().find(|(n, _)| *n == name),
                    None => m.params.last(),
                };
                Some(PlannedReplay {
                    to,
                    domain: m.domain,
                    domain_name: d.name.clone(),
                    route: m.route,
                    template: m.template.to_owned(),
                    key: key.map(|(_, v)| (*v).to_owned()),
                })
            }
            _ => None,
        };
        Route {
            metrics: &d.metrics,
            primary: Some(decision.primary),
            domain: &d.name,
            matched: Some((m.domain, m.template, m.repeatable)),
            replay,
        }
    }

    /// Step 4, enqueue: hand an accepted write to the write queue and wait until it is durable;
    /// the answer's body is read first when the route names an `id_pointer`.
    async fn enqueue(
        &self,
        plan: PlannedReplay,
        request: ReplayRequest,
        resp: Response<Body>,
    ) -> Response<Body> {
        let Some(queue) = &self.queue else { return resp };
        let (parts, body) = resp.into_parts();
        let replay = self.replay.get(plan.domain);
        let pointer = replay.and_then(|r| r.routes.get(plan.route)).and_then(|(p, _)| p.as_deref());
        let (id, body) = match pointer {
            Some(p) => crate::replay::authoritative_id(body, p).await,
            None => (None, body),
        };
        let domain = plan.domain_name.as_str();
        let wait = self.upstreams.get(plan.to.other()).request_timeout;
        let (req_body, unreplayable) = match request.body {
            None => (Bytes::new(), None),
            Some(rx) => match tokio::time::timeout(wait, rx).await {
                Ok(Ok(Some(b))) => (b, None),
                _ => (
                    Bytes::new(),
                    Some(
                        "the request body was not read whole by the authoritative side".to_owned(),
                    ),
                ),
            },
        };
        let entry = WriteEntry {
            id: crate::replay::new_write_id(),
            domain: plan.domain_name.clone(),
            route: plan.template,
            key: plan.key.or_else(|| id.clone()).unwrap_or_default(),
            method: request.method,
            target: request.target,
            headers: request.headers,
            body: req_body,
            to: plan.to,
            authoritative_id: id,
            accepted_at_ms: crate::replay::now_ms(),
            unreplayable,
        };
        let write_id = entry.id.clone();
        match queue.append(entry).await {
            Ok(()) => crate::replay::count(domain, AppendOutcome::Queued),
            Err(e) => {
                crate::replay::count(domain, AppendOutcome::Failed);
                tracing::error!(domain, write_id, error = %e, "accepted write not queued: the secondary will miss it until a backfill or repair");
            }
        }
        Response::from_parts(parts, body)
    }

    /// Largest request body forwarded, in bytes.
    pub(crate) fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// Serve one request. Never fails: a failure becomes a problem+json answer.
    pub async fn handle<B>(&self, req: Request<B>, client: &ClientAddr) -> Response<Body>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let start = Instant::now();
        // The snapshot this request keeps until it ends, whatever is published meanwhile.
        let snapshot = self.table.load();
        let (mut parts, body) = req.into_parts();
        // Room for the headers added below (request id, X-Forwarded-*, Forwarded, traceparent)
        // at once: the map comes sized to what the client sent, and grew twice per request.
        parts.headers.reserve(8);
        let request_id = headers::ensure_request_id(&mut parts.headers);

        // 1. match, 2. decide
        let route = self.route(&snapshot, &parts);
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

        rewrite_request_headers(&mut parts, client);
        // 5. shadow: sent beside the primary; it gets the primary's answer when that is done.
        // 4. enqueue (prepared): keep what a replay of this write needs.
        let mut replay_request = route.replay.as_ref().map(|_| ReplayRequest::of(&parts));
        let mut body_copy = None;
        if let Some(r) = replay_request.as_mut()
            && has_body(&parts.headers)
        {
            let (tx, rx) = oneshot::channel();
            r.body = Some(rx);
            body_copy = Some((usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX), tx));
        }
        let body_taken = body_copy.is_some();
        let shadow = self.shadow_job(&snapshot, &route, &parts, primary, body_taken).and_then(
            |(shadower, job, cap, body_tx)| {
                let done = shadower.start(&self.upstreams, job)?;
                if let Some(tx) = body_tx {
                    body_copy = Some((cap, tx));
                }
                Some((cap, done))
            },
        );

        // 3. forward
        let upstream = self.upstreams.get(primary);
        let result = match body_copy {
            Some((cap, tx)) => self.forward(upstream, parts, RequestTee::new(body, cap, tx)).await,
            None => self.forward(upstream, parts, body).await,
        };
        match result {
            Ok(mut resp) => {
                if let (Some(plan), Some(request)) = (route.replay, replay_request)
                    && resp.status().is_success()
                {
                    resp = self.enqueue(plan, request, resp).await;
                }
                let elapsed = start.elapsed();
                let outcome = Outcome::of_status(resp.status().as_u16());
                route.metrics.record(Some(primary), outcome, elapsed);
                resp.headers_mut().insert(headers::X_REQUEST_ID, request_id);
                if let Some((cap, done)) = shadow {
                    let (parts, body) = resp.into_parts();
                    let tee = TeeBody::new(body, parts.status, parts.headers.clone(), cap, done);
                    resp = Response::from_parts(parts, tee.boxed());
                }
                tracing::debug!(domain = route.domain, upstream = %primary, status = resp.status().as_u16(), ?elapsed, "forwarded");
                resp
            }
            Err(failure) => {
                let elapsed = start.elapsed();
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
    ) -> Result<Response<Body>, Failure>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let side = upstream.side;
        let uri = upstream
            .target_for(parts.uri.path_and_query())
            .map_err(|e| Failure::BadRequest { detail: format!("request target: {e}") })?;
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
        headers::ensure_date(&mut parts.headers);
        let body: Body = body.boxed();
        Ok(Response::from_parts(parts, body))
    }
}

/// Hop-by-hop headers out; forwarding headers and trace context in. The pool sets `Host` to the
/// upstream's authority.
fn rewrite_request_headers(parts: &mut http::request::Parts, client: &ClientAddr) {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    headers::remove_hop_by_hop(&mut parts.headers);
    headers::set_forwarded(&mut parts.headers, client, host.as_deref());
    headers::ensure_traceparent(&mut parts.headers);
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
