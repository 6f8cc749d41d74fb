//! Shadow reads of repeatable routes (with their bodies), comparison rules changed at run time
//! by known differences, and the shadow latency histogram.

use super::*;
use ficus_gateway::shadow::{self, DiffResult, ShadowOutcome};
use ficus_model::diff::{FieldVerdict, KnownDifference};

fn compared(f: &shadow::DomainShadow) -> u64 {
    DiffResult::ALL.iter().map(|r| f.result_count(*r)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeatable_route_is_shadowed_with_its_body() {
    let env = Env::start(|o| {
        o.domain = "rules-body";
        o.phase = "dual-write";
        o.repeatable = true;
        o.extra = "shadow_percent = 100\n[domains.rules-body.shadow]\nnoise_percent = 0\n\
                   max_compared_bytes = 4096\n"
            .into();
    })
    .await;
    let client = Client::http1();
    let findings = || shadow::find("rules-body").unwrap();

    // A POST to the repeatable route: the secondary gets the same body, marked as a shadow.
    let post = |body: &'static str| {
        request(Method::POST, &env.gw.url("/invoices")).body(full(body)).unwrap()
    };
    let reply = client.send(post("{\"customer\":7}")).await;
    assert_eq!((reply.status, reply.side()), (StatusCode::OK, "legacy".to_owned()));
    assert_eq!(reply.json()["body_prefix"], "{\"customer\":7}");
    wait_until("the example of the POST's shadow", || !findings().examples().is_empty()).await;
    let example = findings().examples().pop().unwrap();
    assert_eq!(example.method, "POST");
    assert_eq!(example.request_body.as_deref(), Some("{\"customer\":7}"));
    assert!(example.secondary_body.contains("\"body_prefix\":\"{\\\"customer\\\":7}\""));
    assert!(example.secondary_body.contains("ficus-shadow"), "{}", example.secondary_body);

    // A body longer than the comparison cap (which also bounds the copy of a request body) is
    // not repeated: dropped and counted.
    let dropped = findings().outcome_count(ShadowOutcome::Dropped);
    let long = "x".repeat(10_000);
    let reply = client
        .send(request(Method::POST, &env.gw.url("/invoices")).body(full(long)).unwrap())
        .await;
    assert_eq!((reply.status, reply.json()["body_len"].as_u64()), (StatusCode::OK, Some(10_000)));
    wait_until("the long body's shadow is dropped", || {
        findings().outcome_count(ShadowOutcome::Dropped) == dropped + 1
    })
    .await;

    // PUT is not repeatable here: never shadowed.
    let hits = env.new.hits();
    let reply = client
        .send(request(Method::PUT, &env.gw.url("/invoices/3")).body(full("{}")).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.new.hits(), hits, "a non-repeatable write never reaches the secondary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_difference_stops_counting_at_once() {
    let env = Env::start(|o| {
        o.domain = "rules-known";
        o.phase = "read-new";
        o.extra = "shadow_percent = 100\n[domains.rules-known.shadow]\nnoise_percent = 0\n\
                   ignore = [\"/headers\", \"/version\"]\n"
            .into();
    })
    .await;
    let client = Client::http1();
    let findings = shadow::find("rules-known").unwrap();
    for i in 0..5 {
        assert_eq!(client.get(&env.gw.url(&format!("/invoices/{i}"))).await.status, StatusCode::OK);
    }
    wait_until("five comparisons", || compared(&findings) == 5).await;
    assert_eq!(findings.result_count(DiffResult::Mismatch), 5, "/side differs every time");
    assert_eq!(findings.mismatch_rate(), Some(1.0));

    let known = [KnownDifference { route: "/invoices/{id}".into(), field: "/side".into() }];
    assert!(findings.set_known(&known).is_empty());
    let report = findings.report();
    assert!(
        report.routes.iter().all(|r| r.fields.iter().all(|f| f.field != "/side")),
        "a known field leaves the report: {report:?}"
    );
    assert_eq!(findings.mismatch_rate(), Some(0.0));
    for i in 0..5 {
        client.get(&env.gw.url(&format!("/invoices/{i}"))).await;
    }
    wait_until("five more comparisons", || compared(&findings) == 10).await;
    assert_eq!(findings.result_count(DiffResult::Match), 5, "the field is no longer compared");
    // Only on its route: the list route still differs in /side.
    client.get(&env.gw.url("/invoices")).await;
    wait_until("the list is compared", || compared(&findings) == 11).await;
    let report = findings.report();
    let list = report.routes.iter().find(|r| r.route == "/invoices").unwrap();
    assert_eq!(list.fields[0].field, "/side");
    assert_eq!(list.fields[0].verdict, FieldVerdict::Mismatch);

    // The histogram of shadow latency, per upstream asked (read_new_percent is 0: reads are
    // served by legacy and shadowed to new).
    let mut out = String::new();
    shadow::render_prometheus(&mut out);
    assert!(
        out.contains(
            "ficus_shadow_duration_seconds_count{domain=\"rules-known\",upstream=\"new\"} 11"
        ),
        "{out}"
    );
}
