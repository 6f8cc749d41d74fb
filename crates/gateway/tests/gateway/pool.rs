//! The upstream keep-alive pool: connections reused, and idle ones the upstream closed not used.

use super::*;

/// A raw HTTP/1.1 backend that counts the connections it accepts and, when `idle_close` is
/// set, closes a connection that stays idle that long (as servers with a short keep-alive
/// timeout do).
async fn counting_backend(
    idle_close: Option<Duration>,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let read = match idle_close {
                        Some(d) => match tokio::time::timeout(d, s.read(&mut chunk)).await {
                            Ok(r) => r,
                            Err(_) => return, // idle too long: close
                        },
                        None => s.read(&mut chunk).await,
                    };
                    let Ok(n) = read else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
                        if s.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, accepted)
}

/// Sequential requests reuse one upstream connection: the pool gives a connection back when
/// the answer's body has been read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_kept_alive_and_reused() {
    let (url, accepted) = counting_backend(None).await;
    let mut opts = util::PlanOpts::new(url.clone(), url);
    opts.phase = "legacy";
    let gw = util::TestGateway::start(opts.parse(), Duration::from_secs(5)).await;
    let client = Client::http1();
    for _ in 0..200 {
        let reply = client.get(&gw.url("/invoices/1")).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one upstream connection for 200 requests"
    );
}

/// An upstream that closes idle keep-alive connections: the next request goes out on a fresh
/// connection and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_upstream_closed_while_idle_is_not_used() {
    let (url, accepted) = counting_backend(Some(Duration::from_millis(50))).await;
    let opts = util::PlanOpts::new(url.clone(), url);
    let gw = util::TestGateway::start(opts.parse(), Duration::from_secs(5)).await;
    let client = Client::http1();
    for _ in 0..5 {
        let reply = client.get(&gw.url("/invoices/1")).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "one fresh connection after each idle close"
    );
}
