//! One shadow exchange: wait for a slot, send to the secondary (and, for a noise sample, to
//! the primary again) within the shadow timeout, wait for the primary's captured answer,
//! compare, record.

use super::FICUS_SHADOW;
use super::Job;
use super::state::{DomainShadow, Example, ShadowOutcome};
use super::tee::Captured;
use crate::body::{Body, full};
use crate::upstream::{UpstreamClient, Upstreams};
use bytes::{Bytes, BytesMut};
use ficus_model::ShadowConfig;
use ficus_model::diff::{Answer, compare};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::{Semaphore, oneshot};

pub(super) struct Ctx {
    pub config: Arc<ShadowConfig>,
    pub slots: Arc<Semaphore>,
    pub admitted: Arc<AtomicUsize>,
    pub findings: Arc<DomainShadow>,
    pub upstreams: Upstreams,
}

/// An answer read whole (up to the comparison cap plus one byte).
struct Owned {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Bytes,
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

async fn exchange(
    client: &UpstreamClient,
    job: &Job,
    body: &Bytes,
    cap: usize,
    findings: &DomainShadow,
) -> Result<Owned, String> {
    let start = Instant::now();
    let result = send(client, job, body, cap).await;
    findings.record_latency(client.side, start.elapsed());
    result
}

async fn send(
    client: &UpstreamClient,
    job: &Job,
    body: &Bytes,
    cap: usize,
) -> Result<Owned, String> {
    let uri = client.target_for(job.path_and_query.as_ref()).map_err(|e| e.to_string())?;
    let mut req: Request<Body> = Request::new(full(body.clone()));
    *req.method_mut() = job.method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = job.headers.clone();
    req.headers_mut().insert(FICUS_SHADOW, HeaderValue::from_static("1"));
    let resp = client.pool.send(req).await.map_err(|e| e.to_string())?;
    let (parts, mut body) = resp.into_parts();
    let mut copy = BytesMut::new();
    while copy.len() <= cap {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let take = (cap + 1 - copy.len()).min(data.len());
                    copy.extend_from_slice(&data[..take]);
                }
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => break,
        }
    }
    Ok(Owned { status: parts.status, headers: header_pairs(&parts.headers), body: copy.freeze() })
}

fn preview(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(&b[..b.len().min(2048)]);
    text.into_owned()
}

/// The request body to repeat: none for a bodiless read; for a repeatable route, the body the
/// primary read, or `Err` when it was too long or broke (nothing is sent then).
async fn request_body(job: &mut Job) -> Result<Bytes, ()> {
    match job.body.take() {
        None => Ok(Bytes::new()),
        Some(rx) => match rx.await {
            Ok(Some(bytes)) => Ok(bytes),
            _ => Err(()),
        },
    }
}

pub(super) async fn run(ctx: Ctx, mut job: Job, primary: oneshot::Receiver<Captured>) {
    let Ok(_slot) = ctx.slots.clone().acquire_owned().await else { return };
    let rules = ctx.findings.rules();
    let rules = rules.for_route(&job.route);
    let cap = rules.max_compared_bytes();
    let secondary_client = ctx.upstreams.get(job.primary.other());
    let primary_client = ctx.upstreams.get(job.primary);
    let findings = &*ctx.findings;
    let work = async {
        let Ok(body) = request_body(&mut job).await else { return None };
        let job = &job;
        let noise = async {
            if job.noise {
                Some(exchange(primary_client, job, &body, cap, findings).await)
            } else {
                None
            }
        };
        let secondary = exchange(secondary_client, job, &body, cap, findings);
        let (secondary, noise) = tokio::join!(secondary, noise);
        Some((secondary, noise, primary.await, body))
    };
    let done = tokio::time::timeout(ctx.config.timeout, work).await;
    ctx.admitted.fetch_sub(1, Ordering::Relaxed);
    let (secondary, noise, primary, request_body) = match done {
        Ok(Some(done)) => done,
        Ok(None) => {
            // A repeatable route's body was longer than the comparison cap, or broke.
            tracing::debug!(route = job.route, "shadow not sent: request body not repeatable");
            ctx.findings.count(ShadowOutcome::Dropped);
            return;
        }
        Err(_) => {
            ctx.findings.count(ShadowOutcome::Timeout);
            return;
        }
    };
    let secondary = match secondary {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(route = job.route, error = %e, "shadow request failed");
            ctx.findings.count(ShadowOutcome::Error);
            return;
        }
    };
    ctx.findings.count(ShadowOutcome::Sent);
    // The client went away or the primary broke: nothing to compare against.
    let Ok(primary) = primary else { return };
    let p_headers = header_pairs(&primary.headers);
    let p = Answer { status: primary.status.as_u16(), headers: &p_headers, body: &primary.body };
    let s = Answer {
        status: secondary.status.as_u16(),
        headers: &secondary.headers,
        body: &secondary.body,
    };
    let comparison = compare(rules, &p, &s);
    ctx.findings.record_raw(&job.route, &comparison);
    if !comparison.is_match() {
        let header =
            |name: &str| job.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        ctx.findings.keep_example(Example {
            at_ms: crate::replay::now_ms(),
            route: job.route.clone(),
            method: job.method.to_string(),
            target: job.path_and_query.as_ref().map_or("/".into(), |p| p.as_str().to_owned()),
            trace_id: header("traceparent").and_then(|t| t.split('-').nth(1).map(str::to_owned)),
            request_id: header("x-request-id"),
            primary: job.primary.as_str().to_owned(),
            secondary: job.primary.other().as_str().to_owned(),
            primary_status: p.status,
            secondary_status: s.status,
            primary_body: preview(&primary.body),
            secondary_body: preview(&secondary.body),
            request_body: (!request_body.is_empty()).then(|| preview(&request_body)),
            fields: comparison.fields().into_iter().map(str::to_owned).collect(),
            differences: comparison
                .differences
                .iter()
                .map(|d| {
                    let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                    format!(
                        "{} {}: {} → {}",
                        d.kind.as_str(),
                        d.at,
                        side(&d.primary),
                        side(&d.secondary)
                    )
                })
                .collect(),
        });
    }
    if let Some(Ok(again)) = noise {
        let n =
            Answer { status: again.status.as_u16(), headers: &again.headers, body: &again.body };
        ctx.findings.record_noise(&job.route, &compare(rules, &p, &n));
    }
}
