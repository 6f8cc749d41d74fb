//! Header rules: hop-by-hop out, forwarding headers, trace context and request ids.

use super::*;

// ---------------------------------------------------------------------------------------------
// 7. Headers
// ---------------------------------------------------------------------------------------------

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_valid_traceparent(tp: &str) -> bool {
    let parts: Vec<&str> = tp.split('-').collect();
    parts.len() == 4
        && parts[0] == "00"
        && is_lower_hex(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && is_lower_hex(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && is_lower_hex(parts[3], 2)
}

/// Hop-by-hop headers (and those named in Connection) stay behind in both directions; the
/// forwarding headers describe the client; end-to-end headers pass through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_stay_and_forwarding_headers_are_set() {
    let env = Env::start(|_| {}).await;
    let client = Client::http1();
    let r = client
        .send(
            request(Method::GET, &env.gw.url("/invoices/5?hop=1"))
                .header("host", "shop.example")
                .header("connection", "keep-alive, x-connection-only")
                .header("x-connection-only", "must not pass")
                .header("keep-alive", "timeout=30")
                .header("te", "trailers")
                .header("upgrade", "websocket")
                .header("proxy-authorization", "Basic c2VjcmV0")
                .header("proxy-connection", "keep-alive")
                .header("x-forwarded-for", "203.0.113.9")
                .header("authorization", "Bearer end-to-end")
                .header("x-custom", "kept")
                .body(empty())
                .unwrap(),
        )
        .await;
    assert_backend_saw(&r, "legacy", "GET", "/invoices/5");
    for gone in [
        "connection",
        "x-connection-only",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "transfer-encoding",
    ] {
        assert_eq!(r.seen_all(gone), Vec::<String>::new(), "{gone} was forwarded");
    }
    assert_eq!(r.seen("authorization").as_deref(), Some("Bearer end-to-end"));
    assert_eq!(r.seen("x-custom").as_deref(), Some("kept"));
    assert_eq!(
        r.seen("x-forwarded-for").as_deref(),
        Some("203.0.113.9, 127.0.0.1"),
        "the client address is appended"
    );
    assert_eq!(r.seen("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(r.seen("x-forwarded-host").as_deref(), Some("shop.example"));
    assert_eq!(
        r.seen("forwarded").as_deref(),
        Some(r#"for=127.0.0.1;proto=http;host="shop.example""#)
    );
    assert_eq!(
        r.seen("host"),
        Some(env.legacy.addr.to_string()),
        "the upstream gets its own authority as Host"
    );

    // The response side: the backend's hop-by-hop headers are not passed to the client.
    assert_eq!(r.header("x-backend-hop"), None, "Connection-named response header leaked");
    assert_eq!(r.header("keep-alive"), None);
    assert_eq!(r.header("x-backend-kept"), Some("yes"));

    // Without a prior X-Forwarded-For the client address starts the list.
    let r = client.get(&env.gw.url("/invoices/5")).await;
    assert_eq!(r.seen("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        r.seen("x-forwarded-host"),
        Some(env.gw.addr.to_string()),
        "the original Host is passed on"
    );
}

/// A valid `traceparent` goes through untouched; an invalid one (and its `tracestate`) is
/// replaced by a new valid trace; a missing one is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_is_kept_when_valid_and_replaced_when_not() {
    let env = Env::start(|_| {}).await;
    let client = Client::http1();
    let send = |tp: Option<&'static str>| {
        let mut b = request(Method::GET, &env.gw.url("/invoices/1")).header("tracestate", "v=1");
        if let Some(tp) = tp {
            b = b.header("traceparent", tp);
        }
        client.send(b.body(empty()).unwrap())
    };

    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = send(Some(valid)).await;
    assert_eq!(r.seen("traceparent").as_deref(), Some(valid));
    assert_eq!(r.seen("tracestate").as_deref(), Some("v=1"), "tracestate kept with it");

    for invalid in [
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        let r = send(Some(invalid)).await;
        let tp = r.seen("traceparent").expect("no traceparent forwarded");
        assert_ne!(tp, invalid);
        assert!(is_valid_traceparent(&tp), "{invalid:?} replaced by invalid {tp:?}");
        assert_eq!(r.seen("tracestate"), None, "tracestate of a dropped trace kept");
    }

    let a = send(None).await.seen("traceparent").unwrap();
    let b = send(None).await.seen("traceparent").unwrap();
    assert!(is_valid_traceparent(&a) && is_valid_traceparent(&b), "{a} {b}");
    assert_ne!(a[3..35], b[3..35], "each new trace gets its own id");
}

/// `x-request-id` is passed through when given, created (32 lowercase hex) when not, and the
/// client gets the same id back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_passed_through_or_created_and_echoed() {
    let env = Env::start(|_| {}).await;
    let client = Client::http1();
    let r = client
        .send(
            request(Method::GET, &env.gw.url("/invoices/1"))
                .header("x-request-id", "order-42-abc")
                .body(empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.seen("x-request-id").as_deref(), Some("order-42-abc"));
    assert_eq!(r.header("x-request-id"), Some("order-42-abc"));

    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = client.get(&env.gw.url("/invoices/1")).await;
        let sent = r.seen("x-request-id").expect("no request id forwarded");
        assert!(is_lower_hex(&sent, 32), "created id {sent:?}");
        assert_eq!(r.header("x-request-id"), Some(sent.as_str()), "echoed");
        ids.push(sent);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "created ids are distinct: {ids:?}");

    // An id that is not a sane token is replaced, not passed on.
    let r = client
        .send(
            request(Method::GET, &env.gw.url("/invoices/1"))
                .header("x-request-id", "has spaces in it")
                .body(empty())
                .unwrap(),
        )
        .await;
    let sent = r.seen("x-request-id").unwrap();
    assert!(is_lower_hex(&sent, 32), "replaced by {sent:?}");
    assert_eq!(r.header("x-request-id"), Some(sent.as_str()));

    // A gateway answer (no route here) carries the id too.
    let env = Env::start(|o| o.unmatched = "reject").await;
    let r = client
        .send(
            request(Method::GET, &env.gw.url("/nowhere"))
                .header("x-request-id", "lost-1")
                .body(empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.problem(404)["request_id"], "lost-1");
}
