//! What the relay tests share: a secondary on loopback that records what it is sent and
//! answers as told, the plan that points `new` at it, a write to queue, and a wait.
#![allow(dead_code)] // Each test file uses part of it.

use axum::extract::Request;
use axum::http::StatusCode;
use ficus_gateway::replay::{WriteEntry, new_write_id, now_ms};
use ficus_model::{Plan, Side};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DOMAIN: &str = "items";

/// One request the secondary answered.
#[derive(Debug, Clone)]
pub struct Hit {
    pub entity: String,
    pub body: String,
    pub idempotency_key: String,
    pub status: u16,
}

/// A secondary on loopback that records every request and answers as told.
#[derive(Default)]
pub struct Secondary {
    pub hits: Mutex<Vec<Hit>>,
    /// Answer 503 to this many requests first.
    pub fail_next: AtomicUsize,
    /// Answer 503 to everything.
    pub down: AtomicBool,
    /// A body starting with `404` is answered 404 until this is set.
    pub accept_404: AtomicBool,
}

impl Secondary {
    pub async fn start() -> (Arc<Secondary>, SocketAddr) {
        let me = Arc::new(Secondary::default());
        let state = Arc::clone(&me);
        let app = axum::Router::new().fallback(move |req: Request| {
            let me = Arc::clone(&state);
            async move { me.answer(req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, addr)
    }

    async fn answer(&self, req: Request) -> StatusCode {
        let entity = req.uri().path().trim_start_matches("/items/").to_owned();
        let idempotency_key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
        let failing = self.down.load(Ordering::SeqCst)
            || self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let status = if failing {
            StatusCode::SERVICE_UNAVAILABLE
        } else if body.starts_with(b"404") && !self.accept_404.load(Ordering::SeqCst) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        let body = String::from_utf8_lossy(&body).into_owned();
        let hit = Hit { entity, body, idempotency_key, status: status.as_u16() };
        self.hits.lock().unwrap().push(hit);
        status
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Bodies delivered (answered 2xx) for `entity`, in the order they arrived.
    pub fn delivered(&self, entity: &str) -> Vec<String> {
        let hits = self.hits();
        hits.into_iter().filter(|h| h.entity == entity && h.status == 200).map(|h| h.body).collect()
    }
}

/// A plan whose `new` upstream is the secondary at `addr`, with fast retries.
pub fn plan(addr: SocketAddr, dir: &std::path::Path) -> Arc<Plan> {
    let text = format!(
        r#"
[upstreams.legacy]
url = "http://127.0.0.1:1"
[upstreams.new]
url = "http://{addr}"
request_timeout = "2s"
[write_queue]
backoff_initial = "20ms"
backoff_max = "100ms"
max_attempts = 50
concurrency = 4
[domains.{DOMAIN}]
phase = "dual-write"
routes = [{{ methods = ["PUT"], path = "/items/{{id}}" }}]
"#
    );
    Arc::new(Plan::parse(&text, "test.toml", dir).unwrap())
}

/// A secondary, a temp dir, the plan pointing `new` at the secondary, and a fresh store.
pub async fn setup() -> (Arc<Secondary>, tempfile::TempDir, Arc<Plan>, ficus_control::Store) {
    let (secondary, addr) = Secondary::start().await;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(addr, dir.path());
    let store = ficus_control::Store::open(&plan.state_path).await.unwrap();
    (secondary, dir, plan, store)
}

/// A write of `body` to `/items/{entity}`, to be replayed on `new`.
pub fn entry(entity: &str, body: &str) -> WriteEntry {
    WriteEntry {
        id: new_write_id(),
        domain: DOMAIN.into(),
        route: "/items/{id}".into(),
        key: entity.into(),
        method: "PUT".into(),
        target: format!("/items/{entity}"),
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.to_owned().into(),
        to: Side::New,
        authoritative_id: None,
        accepted_at_ms: now_ms(),
        unreplayable: None,
    }
}

/// Wait until `done` holds, at most 20 s.
pub async fn eventually<F: Fn() -> bool>(what: &str, done: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
