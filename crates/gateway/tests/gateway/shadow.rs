//! Shadow reads, seen from the client: nothing changes whatever the secondary does.

use super::*;

/// Polls `cond` for up to 5 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Shadow reads never change what the client sees, whether the secondary answers, is down or
/// hangs; a burst beyond the bounds is dropped and counted. One test, run in sequence, because
/// the findings of a domain are shared by every gateway of the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_reads_never_change_what_the_client_sees() {
    use ficus_gateway::shadow::{self, DiffResult, ShadowOutcome};
    let shadow_table = "shadow_percent = 100\n[domains.invoices.shadow]\ntimeout = \"300ms\"\n\
                        max_concurrency = 2\nqueue = 2\nnoise_percent = 100\n";
    let client = Client::http1();
    let findings =
        || shadow::find("invoices").expect("shadow findings exist once a gateway has a shadow");

    // A live secondary: the comparison is made and recorded; the shadow is marked.
    let env = Env::start(|o| {
        o.phase = "dual-write";
        o.extra = shadow_table.into();
    })
    .await;
    let before = findings();
    let compared =
        |f: &shadow::DomainShadow| DiffResult::ALL.iter().map(|r| f.result_count(*r)).sum::<u64>();
    let (sent0, compared0) = (before.outcome_count(ShadowOutcome::Sent), compared(&before));
    let reply = client.get(&env.gw.url("/invoices/1")).await;
    assert_eq!((reply.status, reply.json()["side"].as_str()), (StatusCode::OK, Some("legacy")));
    eventually("a comparison", || compared(&findings()) > compared0).await;
    assert!(findings().outcome_count(ShadowOutcome::Sent) > sent0);
    assert!(env.new.hits() >= 1, "the secondary got the shadow");
    let example = findings().examples().pop().expect("the two sides answer differently");
    assert!(example.secondary_body.contains("ficus-shadow"), "{}", example.secondary_body);
    assert!(example.differences.iter().any(|d| d.contains("/side")), "{:?}", example.differences);
    drop(env);

    // A secondary that is down: counted as shadow errors, the client never notices.
    let legacy = util::Backend::start("legacy").await;
    let mut opts = util::PlanOpts::new(legacy.url(), util::dead_url().await);
    opts.phase = "dual-write";
    opts.extra = shadow_table.into();
    let gw = util::TestGateway::start(opts.parse(), Duration::from_secs(5)).await;
    let errors0 = findings().outcome_count(ShadowOutcome::Error);
    for _ in 0..20 {
        let reply = client.get(&gw.url("/invoices/1")).await;
        assert_eq!((reply.status, reply.json()["side"].as_str()), (StatusCode::OK, Some("legacy")));
    }
    eventually("shadow errors counted", || {
        findings().outcome_count(ShadowOutcome::Error) > errors0
    })
    .await;
    drop(gw);

    // A secondary that accepts and never answers: shadows time out, a burst beyond
    // max_concurrency + queue is dropped, and the client's answers stay fast and correct.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = hole.accept().await {
            conns.push(s);
        }
    });
    let mut opts = util::PlanOpts::new(legacy.url(), hole_url);
    opts.phase = "dual-write";
    opts.extra = shadow_table.into();
    let gw = util::TestGateway::start(opts.parse(), Duration::from_secs(5)).await;
    let (dropped0, timeouts0) = (
        findings().outcome_count(ShadowOutcome::Dropped),
        findings().outcome_count(ShadowOutcome::Timeout),
    );
    let started = Instant::now();
    for _ in 0..30 {
        let reply = client.get(&gw.url("/invoices/1")).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shadows never slow the client: {:?}",
        started.elapsed()
    );
    assert!(
        findings().outcome_count(ShadowOutcome::Dropped) > dropped0,
        "a burst past the bounds is dropped"
    );
    eventually("shadow timeouts counted", || {
        findings().outcome_count(ShadowOutcome::Timeout) > timeouts0
    })
    .await;
    held.abort();
}
