//! The gateway end to end: real backends and a real listener on 127.0.0.1, requests over
//! HTTP/1.1, h2c and raw TCP. Each test proves one behaviour of the request path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "gateway/client_h1.rs"]
mod client_h1;
#[path = "gateway/headers.rs"]
mod headers;
#[path = "gateway/hostile.rs"]
mod hostile;
#[path = "gateway/pool.rs"]
mod pool;
#[path = "gateway/regressions.rs"]
mod regressions;
#[path = "gateway/replay.rs"]
mod replay;
#[path = "gateway/shadow.rs"]
mod shadow;
#[path = "gateway/shadow_bounds.rs"]
mod shadow_bounds;
#[path = "gateway/shadow_rules.rs"]
mod shadow_rules;
#[path = "gateway/upstream_h1.rs"]
mod upstream_h1;
mod util;

use ficus_gateway::ServeError;
use ficus_model::{Bucket, Percent, Phase};
use http::{Method, StatusCode, Version};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{
    Client, Env, Reply, chunked, dead_url, empty, full, raw_exchange, raw_json, request,
    status_line, wait_until,
};

/// The side the model puts `customer` on at `percent` in read-new.
fn model_side(customer: &str, percent: f64) -> &'static str {
    if Percent::from_percent(percent).unwrap().contains(Bucket::of_key(customer.as_bytes())) {
        "new"
    } else {
        "legacy"
    }
}

fn assert_backend_saw(reply: &Reply, side: &str, method: &str, path: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{method} {path}: {reply:?}");
    let doc = reply.json();
    assert_eq!(doc["side"], side, "{method} {path}: {doc}");
    assert_eq!(doc["method"], method, "{doc}");
    assert_eq!(doc["path"], path, "{doc}");
}

// ---------------------------------------------------------------------------------------------
// 1. Routing per phase
// ---------------------------------------------------------------------------------------------

/// Every phase sends reads and writes to the side of the phase table; the read share is
/// ignored outside read-new, and in read-new it splits reads only (writes go to new).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_phase_routes_reads_and_writes_to_the_side_of_the_phase_table() {
    let env = Env::start(|_| {}).await;
    let client = Client::http1();
    // (phase, read_new_percent, reads go to, writes go to)
    let table = [
        (Phase::Legacy, 100.0, "legacy", "legacy"),
        (Phase::DualWrite, 100.0, "legacy", "legacy"),
        (Phase::Backfill, 100.0, "legacy", "legacy"),
        (Phase::ReadNew, 100.0, "new", "new"),
        (Phase::ReadNew, 0.0, "legacy", "new"),
        (Phase::New, 0.0, "new", "new"),
    ];
    for (phase, pct, reads, writes) in table {
        env.gw.set(phase, pct);
        let ctx = format!("{phase} at {pct}%");
        for customer in ["c-1", "c-2", "c-3", "c-4"] {
            let r = client.get_as(&env.gw.url("/invoices/7"), customer).await;
            assert_eq!(r.side(), reads, "{ctx}: GET /invoices/7 as {customer}");
            assert_backend_saw(&r, reads, "GET", "/invoices/7");
        }
        // Without a sticky key the bucket is random; at 0 % / 100 % that cannot matter.
        for _ in 0..4 {
            let r = client.get(&env.gw.url("/invoices?page=2")).await;
            assert_backend_saw(&r, reads, "GET", "/invoices");
            assert_eq!(r.json()["query"], "page=2", "{ctx}");
        }
        for (method, path) in [
            (Method::POST, "/invoices"),
            (Method::PUT, "/invoices/7"),
            (Method::DELETE, "/invoices/7"),
        ] {
            let r = client
                .send(
                    request(method.clone(), &env.gw.url(path))
                        .header("x-customer-id", "c-1")
                        .body(full(r#"{"total":1}"#))
                        .unwrap(),
                )
                .await;
            assert_backend_saw(&r, writes, method.as_str(), path);
            assert_eq!(r.json()["body_len"], 11, "{ctx}: {method} body");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Sticky ramp
// ---------------------------------------------------------------------------------------------

/// GET /invoices/1 once for each customer, 32 at a time; the side each one got.
async fn sides_of(client: &Client, url: &str, customers: &Arc<Vec<String>>) -> Vec<String> {
    const CONCURRENCY: usize = 32;
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let client = client.clone();
        let url = url.to_owned();
        let customers = Arc::clone(customers);
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in (worker..customers.len()).step_by(CONCURRENCY) {
                got.push((i, client.get_as(&url, &customers[i]).await.side()));
            }
            got
        }));
    }
    let mut sides = vec![String::new(); customers.len()];
    for task in tasks {
        for (i, side) in task.await.unwrap() {
            sides[i] = side;
        }
    }
    sides
}

fn share_on_new(sides: &[String]) -> f64 {
    let on_new = sides.iter().filter(|s| *s == "new").count();
    on_new as f64 * 100.0 / sides.len() as f64
}

/// Read-new at 30 % puts ~30 % of 10,000 subjects on new, each exactly where the model's bucket
/// says; raising to 60 % only adds subjects (none goes back to legacy); one subject always gets
/// one side.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sticky_ramp_splits_subjects_and_only_adds_when_raised() {
    let env = Env::start(|o| {
        o.phase = "read-new";
        o.read_new_percent = 30.0;
    })
    .await;
    let client = Client::http1();
    let url = env.gw.url("/invoices/1");
    let customers: Arc<Vec<String>> = Arc::new((0..10_000).map(|i| format!("cust-{i}")).collect());

    let at_30 = sides_of(&client, &url, &customers).await;
    let share = share_on_new(&at_30);
    assert!((share - 30.0).abs() <= 2.0, "30 % setting gave {share} %");
    for (c, side) in customers.iter().zip(&at_30) {
        assert_eq!(side, model_side(c, 30.0), "{c} at 30 %");
    }
    assert_eq!(env.legacy.hits() + env.new.hits(), 10_000);

    env.gw.set(Phase::ReadNew, 60.0);
    let at_60 = sides_of(&client, &url, &customers).await;
    let share = share_on_new(&at_60);
    assert!((share - 60.0).abs() <= 2.0, "60 % setting gave {share} %");
    let moved_back: Vec<&String> = customers
        .iter()
        .zip(at_30.iter().zip(&at_60))
        .filter(|(_, (before, after))| *before == "new" && *after == "legacy")
        .map(|(c, _)| c)
        .collect();
    assert!(
        moved_back.is_empty(),
        "raising the share moved {} subjects back to legacy, e.g. {:?}",
        moved_back.len(),
        &moved_back[..moved_back.len().min(5)]
    );
    for (c, side) in customers.iter().zip(&at_60) {
        assert_eq!(side, model_side(c, 60.0), "{c} at 60 %");
    }

    // One subject, many requests (and connections): always one side.
    let mut seen: HashMap<&str, Vec<String>> = HashMap::new();
    for c in customers.iter().take(40) {
        for _ in 0..5 {
            let side = client.get_as(&url, c).await.side();
            seen.entry(c.as_str()).or_default().push(side);
        }
        let fresh = Client::http1().get_as(&url, c).await.side();
        seen.entry(c.as_str()).or_default().push(fresh);
    }
    for (c, sides) in &seen {
        assert!(sides.iter().all(|s| *s == sides[0]), "{c} flapped: {sides:?}");
    }
    let mixed: Vec<&str> = seen.values().map(|s| s[0].as_str()).collect();
    assert!(
        mixed.contains(&"new") && mixed.contains(&"legacy"),
        "40 subjects at 60 % should span both sides: {mixed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Snapshots
// ---------------------------------------------------------------------------------------------

/// A stored snapshot is used by the very next request, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_request_follows_a_new_snapshot() {
    let env = Env::start(|_| {}).await;
    let client = Client::http1();
    let url = env.gw.url("/invoices/3");
    for round in 0..25 {
        env.gw.set(Phase::Legacy, 0.0);
        assert_eq!(client.get(&url).await.side(), "legacy", "round {round}");
        env.gw.set(Phase::New, 0.0);
        assert_eq!(client.get(&url).await.side(), "new", "round {round}");
        env.gw.set(Phase::ReadNew, 0.0);
        assert_eq!(client.get(&url).await.side(), "legacy", "round {round}");
        env.gw.set(Phase::ReadNew, 100.0);
        assert_eq!(client.get(&url).await.side(), "new", "round {round}");
    }
    assert_eq!(env.gw.handle.load().version, 101);
}

/// A request keeps the snapshot it started with: a slow read sent to legacy finishes on legacy
/// although the domain moved to `new` while it was in flight (and new requests already go to
/// new meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_request_finishes_on_the_snapshot_it_started_with() {
    let env = Env::start(|_| {}).await;
    let client = Client::http1();
    let slow = tokio::spawn({
        let client = client.clone();
        let url = env.gw.url("/invoices/9?delay_ms=1500");
        async move { client.get(&url).await }
    });
    wait_until("the slow request to reach legacy", || env.legacy.hits() == 1).await;
    env.gw.set(Phase::New, 0.0);
    assert!(!slow.is_finished(), "the slow request ended before the swap");

    let fast = client.get(&env.gw.url("/invoices/9")).await;
    assert_eq!(fast.side(), "new", "a request after the swap goes to new");
    assert!(!slow.is_finished(), "the slow request should still be in flight");

    let slow = slow.await.unwrap();
    assert_backend_saw(&slow, "legacy", "GET", "/invoices/9");
    assert_eq!(env.legacy.hits(), 1);
    assert_eq!(env.new.hits(), 1);
}

// ---------------------------------------------------------------------------------------------
// 4. / 5. Upstream failures
// ---------------------------------------------------------------------------------------------

/// Nothing listening on the upstream's port: 502 problem+json naming the side that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_gives_502_naming_it() {
    let legacy = dead_url().await;
    let new = dead_url().await;
    let mut opts = util::PlanOpts::new(legacy, new);
    opts.request_timeout = "5s";
    let gw = util::TestGateway::start(opts.parse(), Duration::from_secs(1)).await;
    let client = Client::http1();

    for (phase, side) in [(Phase::Legacy, "legacy"), (Phase::New, "new")] {
        gw.set(phase, 0.0);
        let started = Instant::now();
        let r = client
            .send(
                request(Method::GET, &gw.url("/invoices/1"))
                    .header("x-request-id", "req-502")
                    .body(empty())
                    .unwrap(),
            )
            .await;
        let doc = r.problem(502);
        assert_eq!(doc["failed"], side, "{doc}");
        assert_eq!(doc["type"], "urn:ficus:problem:upstream-unreachable", "{doc}");
        assert_eq!(doc["request_id"], "req-502");
        assert!(doc["detail"].as_str().unwrap().contains(side), "detail names the upstream: {doc}");
        assert!(started.elapsed() < Duration::from_secs(3), "a refused connect is fast");
    }
}

/// An upstream slower than `request_timeout`: 504 problem+json naming it, in about the timeout;
/// the gateway keeps serving fast requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_gives_504_naming_it() {
    let env = Env::start(|o| o.request_timeout = "200ms").await;
    let client = Client::http1();
    for (phase, side) in [(Phase::Legacy, "legacy"), (Phase::New, "new")] {
        env.gw.set(phase, 0.0);
        let started = Instant::now();
        let r = client.get(&env.gw.url("/invoices/1?delay_ms=2000")).await;
        let took = started.elapsed();
        let doc = r.problem(504);
        assert_eq!(doc["failed"], side, "{doc}");
        assert_eq!(doc["type"], "urn:ficus:problem:upstream-timeout", "{doc}");
        assert!(
            doc["detail"].as_str().unwrap().contains("200 ms"),
            "detail names the timeout: {doc}"
        );
        assert!(
            took >= Duration::from_millis(190) && took < Duration::from_millis(1500),
            "answered after {took:?}, expected about 200 ms"
        );
        let ok = client.get(&env.gw.url("/invoices/1")).await;
        assert_eq!(ok.side(), side);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Body limits
// ---------------------------------------------------------------------------------------------

/// Bodies over `max_body_bytes` are refused with 413 whether the size is declared
/// (Content-Length) or only discovered while streaming (chunked); bodies up to the limit
/// arrive intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413_and_bodies_under_it_arrive_whole() {
    let env = Env::start(|o| o.max_body_bytes = 1024).await;
    let client = Client::http1();
    let post = |body| request(Method::POST, &env.gw.url("/invoices")).body(body).unwrap();

    // Declared too large: refused before anything is sent upstream.
    let r = client.send(post(full(vec![b'a'; 1025]))).await;
    let doc = r.problem(413);
    assert_eq!(doc["failed"], "client", "{doc}");
    assert_eq!(doc["type"], "urn:ficus:problem:body-too-large", "{doc}");
    assert_eq!(env.legacy.hits(), 0, "a declared oversize body is never forwarded");

    // Streamed without a length, going over the limit on the way.
    let r = client.send(post(chunked(4, 512))).await;
    let doc = r.problem(413);
    assert_eq!(doc["failed"], "client", "{doc}");

    // Under and at the limit, declared or streamed: arrives whole.
    for (body, len) in [
        (full(vec![b'a'; 1000]), 1000),
        (full(vec![b'a'; 1024]), 1024),
        (chunked(2, 500), 1000),
        (chunked(4, 256), 1024),
    ] {
        let r = client.send(post(body)).await;
        assert_backend_saw(&r, "legacy", "POST", "/invoices");
        let doc = r.json();
        assert_eq!(doc["body_len"], len, "{doc}");
        assert_eq!(doc["body_error"], serde_json::Value::Null, "{doc}");
    }
}

/// An 8 MiB streamed body goes through with a 16 MiB limit, byte count intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_streams_through() {
    let env = Env::start(|o| o.max_body_bytes = 16 * 1024 * 1024).await;
    let client = Client::http1();
    let r = client
        .send(
            request(Method::POST, &env.gw.url("/invoices")).body(chunked(128, 64 * 1024)).unwrap(),
        )
        .await;
    assert_backend_saw(&r, "legacy", "POST", "/invoices");
    assert_eq!(r.json()["body_len"], 8 * 1024 * 1024);

    let r = client
        .send(
            request(Method::PUT, &env.gw.url("/invoices/8"))
                .body(full(vec![b'z'; 8 * 1024 * 1024]))
                .unwrap(),
        )
        .await;
    assert_backend_saw(&r, "legacy", "PUT", "/invoices/8");
    assert_eq!(r.json()["body_len"], 8 * 1024 * 1024);
}

// ---------------------------------------------------------------------------------------------
// 8. h2c
// ---------------------------------------------------------------------------------------------

/// HTTP/2 with prior knowledge is served on the same port, routed by the phase and the sticky
/// bucket exactly like HTTP/1.1, and forwarded upstream as HTTP/1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_is_served_and_routed_by_the_phase() {
    let env = Env::start(|o| o.max_body_bytes = 1024).await;
    let h2 = Client::h2c();
    let h1 = Client::http1();
    let url = env.gw.url("/invoices/11");

    for (phase, side) in [(Phase::Legacy, "legacy"), (Phase::New, "new")] {
        env.gw.set(phase, 0.0);
        let r = h2.get(&url).await;
        assert_eq!(r.version, Version::HTTP_2);
        assert_backend_saw(&r, side, "GET", "/invoices/11");
        let doc = r.json();
        assert_eq!(doc["version"], "HTTP/1.1", "forwarded upstream as HTTP/1.1");
        assert_eq!(
            r.seen("x-forwarded-host"),
            Some(env.gw.addr.to_string()),
            ":authority becomes x-forwarded-host"
        );
        assert!(r.header("x-request-id").is_some());
    }

    env.gw.set(Phase::ReadNew, 50.0);
    let mut sides = Vec::new();
    for i in 0..40 {
        let c = format!("h2-{i}");
        let over_h2 = h2.get_as(&url, &c).await;
        assert_eq!(over_h2.version, Version::HTTP_2);
        let over_h1 = h1.get_as(&url, &c).await;
        assert_eq!(over_h2.side(), model_side(&c, 50.0), "{c}");
        assert_eq!(over_h2.side(), over_h1.side(), "{c}: h2 and h1 disagree");
        sides.push(over_h2.side());
    }
    assert!(sides.iter().any(|s| s == "new") && sides.iter().any(|s| s == "legacy"));

    // Writes over h2: to the authoritative side; a streamed oversize body is refused.
    let r = h2
        .send(request(Method::POST, &env.gw.url("/invoices")).body(chunked(2, 100)).unwrap())
        .await;
    assert_backend_saw(&r, "new", "POST", "/invoices");
    assert_eq!(r.json()["body_len"], 200);
    let r = h2
        .send(request(Method::POST, &env.gw.url("/invoices")).body(chunked(8, 512)).unwrap())
        .await;
    assert_eq!(r.problem(413)["failed"], "client");
}

// ---------------------------------------------------------------------------------------------
// 9. Unmatched
// ---------------------------------------------------------------------------------------------

/// Requests that match no route (path unknown, or method not in the route's set) follow
/// `[unmatched]`: forwarded to legacy (default) or new, or rejected with 404 problem+json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_requests_follow_the_unmatched_setting() {
    let client = Client::http1();
    for (setting, side) in [("legacy", "legacy"), ("new", "new")] {
        let env = Env::start(|o| {
            o.unmatched = setting;
            // The domain's phase points the other way, to tell the two apart.
            o.phase = if side == "new" { "legacy" } else { "new" };
        })
        .await;
        let r = client.get(&env.gw.url("/elsewhere/1?x=1")).await;
        assert_backend_saw(&r, side, "GET", "/elsewhere/1");
        let r = client
            .send(request(Method::PATCH, &env.gw.url("/invoices/7")).body(full("{}")).unwrap())
            .await;
        assert_backend_saw(&r, side, "PATCH", "/invoices/7");
        let routed = client.get(&env.gw.url("/invoices/7")).await;
        assert_ne!(routed.side(), side, "a routed request follows its domain");
    }

    let env = Env::start(|o| o.unmatched = "reject").await;
    let r = client.get(&env.gw.url("/elsewhere/1")).await;
    let doc = r.problem(404);
    assert_eq!(doc["failed"], "client", "{doc}");
    assert_eq!(doc["type"], "urn:ficus:problem:no-route", "{doc}");
    let r = client
        .send(request(Method::PATCH, &env.gw.url("/invoices/7")).body(empty()).unwrap())
        .await;
    r.problem(404);
    assert_eq!(env.legacy.hits() + env.new.hits(), 0, "rejected requests reach no upstream");
    let routed = client.get(&env.gw.url("/invoices/7")).await;
    assert_eq!(routed.side(), "legacy");
}
