//! Garbage input and shutdown: the gateway survives the first and drains on the second.

use super::*;

// ---------------------------------------------------------------------------------------------
// 10. Garbage input
// ---------------------------------------------------------------------------------------------

/// Deterministic junk bytes (no HTTP/2 preface, no valid request line).
fn junk(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8 | 0x80
        })
        .collect()
}

/// Malformed and hostile input gets an error answer or a closed connection, never a crash or
/// a stuck listener: a normal request succeeds afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_input_does_not_hurt_the_gateway() {
    let env = Env::start(|o| o.max_body_bytes = 1024).await;
    let addr = env.gw.addr;
    let wait = Duration::from_secs(3);

    // An invalid request line: 400.
    let raw = raw_exchange(addr, b"THIS IS NOT HTTP\r\n\r\n", false, wait).await;
    let line = status_line(&raw).unwrap_or_default();
    assert!(line.starts_with("HTTP/1.1 400"), "invalid request line: {line:?}");

    // A 100 KB header (under hyper's ~400 KB head limit): served, or refused with 431.
    let mut big = b"GET /invoices/1 HTTP/1.1\r\nhost: x\r\nx-big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 100 * 1024));
    big.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
    let raw = raw_exchange(addr, &big, false, wait).await;
    let line = status_line(&raw).unwrap_or_default();
    assert!(
        line.starts_with("HTTP/1.1 200") || line.starts_with("HTTP/1.1 431"),
        "100 KB header: {line:?}"
    );

    // A megabyte of headers: refused.
    let mut huge = b"GET /invoices/1 HTTP/1.1\r\nhost: x\r\n".to_vec();
    for i in 0..256 {
        huge.extend_from_slice(format!("x-h{i}: ").as_bytes());
        huge.extend(std::iter::repeat_n(b'b', 4096));
        huge.extend_from_slice(b"\r\n");
    }
    huge.extend_from_slice(b"\r\n");
    let raw = raw_exchange(addr, &huge, false, wait).await;
    if let Some(line) = status_line(&raw) {
        assert!(line.starts_with("HTTP/1.1 4"), "1 MB of headers must not be served: {line:?}");
    }

    // Binary junk.
    let raw = raw_exchange(addr, &junk(4096), true, wait).await;
    if let Some(line) = status_line(&raw) {
        assert!(line.starts_with("HTTP/1.1 4"), "junk: {line:?}");
    }

    // The HTTP/2 preface followed by junk.
    let mut h2junk = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    h2junk.extend(junk(512));
    let _ = raw_exchange(addr, &h2junk, true, wait).await;

    // A declared body over the limit, truncated, then closed: 413 without waiting for it.
    let raw = raw_exchange(
        addr,
        b"POST /invoices HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999\r\n\r\nabc",
        false,
        Duration::from_millis(1500),
    )
    .await;
    let line = status_line(&raw).unwrap_or_default();
    assert!(line.starts_with("HTTP/1.1 413"), "oversize declared body: {line:?}");

    // A body shorter than declared (under the limit), then the client goes away.
    let _ = raw_exchange(
        addr,
        b"POST /invoices HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\nabc",
        true,
        Duration::from_millis(500),
    )
    .await;

    // A broken chunked encoding.
    let _ = raw_exchange(
        addr,
        b"POST /invoices HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n",
        true,
        wait,
    )
    .await;

    // Odd request targets.
    for target in [
        &b"OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"[..],
        b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\n\r\n",
        b"GET http://other.example/invoices/1 HTTP/1.1\r\nhost: other.example\r\nconnection: close\r\n\r\n",
        b"GET /invoices/%ZZ/../../etc HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    ] {
        let raw = raw_exchange(addr, target, false, Duration::from_millis(1500)).await;
        if let Some(line) = status_line(&raw) {
            assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
        }
    }

    // Many connections opened and dropped without a byte.
    for _ in 0..50 {
        drop(tokio::net::TcpStream::connect(addr).await.unwrap());
    }

    assert!(!env.gw.has_stopped(), "the listener stopped");
    let client = Client::http1();
    let r = client.get(&env.gw.url("/invoices/1")).await;
    assert_backend_saw(&r, "legacy", "GET", "/invoices/1");
    let r = client
        .send(request(Method::POST, &env.gw.url("/invoices")).body(full("ok")).unwrap())
        .await;
    assert_eq!(r.json()["body_len"], 2);
}

// ---------------------------------------------------------------------------------------------
// 11. Graceful shutdown
// ---------------------------------------------------------------------------------------------

/// On shutdown the listener closes at once (new connections are refused) while the request in
/// flight still completes with 200; then `serve` returns Ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_refuses_new_connections_and_drains_in_flight_requests() {
    let mut env = Env::start_with_drain(|_| {}, Duration::from_secs(10)).await;
    let addr = env.gw.addr;
    let client = Client::http1();
    let slow = tokio::spawn({
        let client = client.clone();
        let url = env.gw.url("/invoices/1?delay_ms=1500");
        async move { client.get(&url).await }
    });
    wait_until("the slow request to reach legacy", || env.legacy.hits() == 1).await;

    env.gw.trigger_shutdown();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            // Reset: caught in the backlog while the listener was being closed.
            Err(e) if e.kind() != std::io::ErrorKind::ConnectionReset => {
                panic!("unexpected connect error: {e}")
            }
            Ok(_) | Err(_) => {
                assert!(Instant::now() < deadline, "still accepting after shutdown");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    assert!(!slow.is_finished(), "the slow request should still be in flight");
    assert!(!env.gw.has_stopped(), "serve returned before the drain ended");

    let slow = slow.await.unwrap();
    assert_backend_saw(&slow, "legacy", "GET", "/invoices/1");
    env.gw.served().await.expect("drain finished in time");
    let err = client
        .try_send(request(Method::GET, &env.gw.url("/invoices/1")).body(empty()).unwrap())
        .await
        .expect_err("served after shutdown");
    assert!(!err.is_empty());
}

/// A request that outlives the drain deadline is cut and `serve` reports the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_after_the_drain_deadline() {
    let mut env = Env::start_with_drain(|_| {}, Duration::from_millis(200)).await;
    let client = Client::http1();
    let slow = tokio::spawn({
        let client = client.clone();
        let url = env.gw.url("/invoices/1?delay_ms=3000");
        async move { client.try_send(request(Method::GET, &url).body(empty()).unwrap()).await }
    });
    wait_until("the slow request to reach legacy", || env.legacy.hits() == 1).await;
    let started = Instant::now();
    env.gw.trigger_shutdown();
    match env.gw.served().await {
        Err(ServeError::DrainTimeout(d)) => assert_eq!(d, Duration::from_millis(200)),
        other => panic!("expected a drain timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    drop(slow);
}
