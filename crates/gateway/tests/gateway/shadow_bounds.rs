//! Shadow reads against a misbehaving secondary — slow (seconds), down, or answering garbage —
//! change nothing the client sees: the same status and body, and a median latency within 5 ms
//! of a gateway without shadows, measured in the same run by alternating requests.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A secondary that misbehaves in one way, on its own listener.
enum Bad {
    /// Answers correctly, after 3 s.
    Slow,
    /// Refuses connections.
    Down,
    /// Reads the request, writes bytes that are not HTTP, closes.
    NotHttp,
    /// Answers 200 with a body that is not the JSON its content type claims.
    BrokenJson,
}

async fn bad_secondary(kind: &Bad) -> (String, Option<tokio::task::JoinHandle<()>>) {
    if let Bad::Down = kind {
        return (dead_url().await, None);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let reply: &'static [u8] = match kind {
        Bad::Slow => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        Bad::NotHttp => b"\x00\x13garbage \xff\xfe not a status line\r\n\r\n",
        _ => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"side\":[",
    };
    let delay = matches!(kind, Bad::Slow).then_some(Duration::from_secs(3));
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // One request per connection is enough: the answer closes it.
                let _ = s.read(&mut buf).await;
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (url, Some(task))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// What the client saw, without the per-request headers the backend echoes.
fn seen(reply: &Reply) -> (StatusCode, Option<String>, Option<String>, Option<u64>) {
    let doc = reply.json();
    (
        reply.status,
        doc["side"].as_str().map(str::to_owned),
        doc["path"].as_str().map(str::to_owned),
        doc["body_len"].as_u64(),
    )
}

async fn client_sees_no_difference(kind: Bad, domain: &'static str) {
    let legacy = util::Backend::start("legacy").await;
    let (secondary, task) = bad_secondary(&kind).await;
    let gateway = |shadow: f64| {
        let mut o = util::PlanOpts::new(legacy.url(), secondary.clone());
        o.domain = domain;
        o.phase = "dual-write";
        o.extra = format!(
            "shadow_percent = {shadow:?}\n[domains.{domain}.shadow]\ntimeout = \"5s\"\n\
             max_concurrency = 8\nqueue = 64\nnoise_percent = 50\n"
        );
        util::TestGateway::start(o.parse(), Duration::from_secs(5))
    };
    let plain = gateway(0.0).await;
    let shadowed = gateway(100.0).await;
    let client = Client::http1();
    // Warm both pools.
    for gw in [&plain, &shadowed] {
        assert_eq!(client.get(&gw.url("/invoices/7")).await.status, StatusCode::OK);
    }
    let (mut base, mut with) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let path = format!("/invoices/{i}");
        let t = Instant::now();
        let a = client.get(&plain.url(&path)).await;
        base.push(t.elapsed());
        let t = Instant::now();
        let b = client.get(&shadowed.url(&path)).await;
        with.push(t.elapsed());
        assert_eq!(seen(&a), seen(&b), "request {i}: the shadow changed the answer");
        assert_eq!(seen(&b).1.as_deref(), Some("legacy"));
    }
    let (base, with) = (median(base), median(with));
    assert!(
        with <= base + Duration::from_millis(5),
        "median latency with shadows {with:?} vs {base:?} without"
    );
    let findings = ficus_gateway::shadow::find(domain).unwrap();
    let compared: u64 =
        ficus_gateway::shadow::DiffResult::ALL.iter().map(|r| findings.result_count(*r)).sum();
    match kind {
        Bad::Slow => assert_eq!(compared, 0, "nothing compared before the slow answers"),
        Bad::BrokenJson => {
            wait_until("comparisons of the broken answers", || {
                ficus_gateway::shadow::DiffResult::ALL
                    .iter()
                    .map(|r| findings.result_count(*r))
                    .sum::<u64>()
                    > 0
            })
            .await
        }
        Bad::Down | Bad::NotHttp => {
            wait_until("shadow errors", || {
                findings.outcome_count(ficus_gateway::shadow::ShadowOutcome::Error) > 0
            })
            .await;
        }
    }
    if let Some(t) = task {
        t.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_secondary_changes_nothing_the_client_sees() {
    client_sees_no_difference(Bad::Slow, "bounds-slow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_secondary_changes_nothing_the_client_sees() {
    client_sees_no_difference(Bad::Down, "bounds-down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_speaking_garbage_changes_nothing_the_client_sees() {
    client_sees_no_difference(Bad::NotHttp, "bounds-garbage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_answering_broken_json_changes_nothing_the_client_sees() {
    client_sees_no_difference(Bad::BrokenJson, "bounds-json").await;
}
