//! The gateway's own HTTP/1.1 server side against raw TCP clients: pipelining, request body
//! framings, refused heads, `Expect: 100-continue`, HTTP/1.0 keep-alive, and the answer to a
//! request whose body was not read.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every answer in `raw`: (status line, JSON body) in order, cut by their `content-length`.
fn answers(raw: &[u8]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned)
            })
            .map_or(0, |v| v.trim().parse().unwrap());
        let body = &rest[end + 4..end + 4 + len];
        out.push((head.lines().next().unwrap().to_owned(), serde_json::from_slice(body).unwrap()));
        rest = &rest[end + 4 + len..];
    }
    assert!(rest.is_empty(), "bytes after the last answer: {:?}", String::from_utf8_lossy(rest));
    out
}

type Value = serde_json::Value;

/// Two requests written at once are both answered, in order, on the one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let env = Env::start(|_| {}).await;
    let raw = raw_exchange(
        env.gw.addr,
        b"GET /invoices/1 HTTP/1.1\r\nhost: x\r\n\r\nGET /invoices/2?b=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        false,
        Duration::from_secs(5),
    )
    .await;
    let got = answers(&raw);
    assert_eq!(got.len(), 2, "{}", String::from_utf8_lossy(&raw));
    assert!(got.iter().all(|(line, _)| line == "HTTP/1.1 200 OK"));
    assert_eq!(got[0].1["path"], "/invoices/1");
    assert_eq!(got[1].1["path"], "/invoices/2");
    assert_eq!(got[1].1["query"], "b=1");
}

/// A chunked upload reaches the upstream whole, and the connection then carries the next
/// request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_upload_is_forwarded_whole_and_the_connection_goes_on() {
    let env = Env::start(|_| {}).await;
    let raw = raw_exchange(
        env.gw.addr,
        b"PUT /invoices/1 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: t\r\n\r\n\
          GET /invoices/2 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        false,
        Duration::from_secs(5),
    )
    .await;
    let got = answers(&raw);
    assert_eq!(got.len(), 2, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(got[0].0, "HTTP/1.1 200 OK");
    assert_eq!(got[0].1["method"], "PUT");
    assert_eq!(got[0].1["body_len"], 11);
    assert_eq!(got[0].1["body_prefix"], "hello world");
    assert_eq!(got[1].1["path"], "/invoices/2");
}

/// Framing a proxy must not guess at is refused with 400 and the connection closed: nothing
/// after the head is taken for a request, and nothing reaches an upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_request_framing_is_refused_and_the_connection_closed() {
    let env = Env::start(|_| {}).await;
    for (head, status) in [
        (
            "POST /invoices HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            400,
        ),
        ("POST /invoices HTTP/1.0\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n", 400),
        (
            "POST /invoices HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            400,
        ),
        ("POST /invoices HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n", 501),
        ("GET /invoices/1 HTTP/3.0\r\nhost: x\r\n\r\n", 505),
    ] {
        let mut bytes = head.as_bytes().to_vec();
        bytes.extend_from_slice(b"0\r\n\r\nGET /invoices/2 HTTP/1.1\r\nhost: x\r\n\r\n");
        let raw = raw_exchange(env.gw.addr, &bytes, false, Duration::from_secs(5)).await;
        let got = answers(&raw);
        assert_eq!(got.len(), 1, "{head:?}: {}", String::from_utf8_lossy(&raw));
        assert!(got[0].0.starts_with(&format!("HTTP/1.1 {status} ")), "{head:?}: {}", got[0].0);
        assert_eq!(got[0].1["status"], status);
        assert_eq!(got[0].1["failed"], "client");
        assert!(String::from_utf8_lossy(&raw).contains("connection: close\r\n"));
    }
    assert_eq!(env.legacy.hits() + env.new.hits(), 0, "a refused head reached an upstream");
}

/// `Expect: 100-continue` gets the interim answer, then the body is read and forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_gets_the_interim_answer() {
    let env = Env::start(|_| {}).await;
    let mut conn = TcpStream::connect(env.gw.addr).await.unwrap();
    conn.write_all(b"PUT /invoices/1 HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(b"hello").await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let got = answers(&raw);
    assert_eq!(got[0].0, "HTTP/1.1 200 OK");
    assert_eq!(got[0].1["body_len"], 5);
    assert_eq!(got[0].1["body_prefix"], "hello");
}

/// An HTTP/1.0 client's connection closes after the answer unless it asked for keep-alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_connections_close_unless_kept_alive() {
    let env = Env::start(|_| {}).await;
    let wait = Duration::from_secs(5);
    let raw =
        raw_exchange(env.gw.addr, b"GET /invoices/1 HTTP/1.0\r\nhost: x\r\n\r\n", false, wait)
            .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("connection: close\r\n"),
        "{text}"
    );
    assert_eq!(answers(&raw).len(), 1);

    let raw = raw_exchange(
        env.gw.addr,
        b"GET /invoices/1 HTTP/1.0\r\nhost: x\r\nconnection: keep-alive\r\n\r\nGET /invoices/2 HTTP/1.0\r\nhost: x\r\n\r\n",
        false,
        wait,
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("connection: keep-alive\r\n"), "{text}");
    let got = answers(&raw);
    assert_eq!(got.len(), 2, "{text}");
    assert_eq!(got[1].1["path"], "/invoices/2");
    assert_eq!(got[1].1["version"], "HTTP/1.1", "forwarded upstream as HTTP/1.1");
}

/// A request answered without its body being read (413 from the declared length) gets its
/// whole answer, then the connection closes: the client is still sending, and the close must
/// not reset the connection before the answer is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_body_is_answered_whole_then_the_connection_closes() {
    let env = Env::start(|o| o.max_body_bytes = 1024).await;
    let mut bytes =
        b"PUT /invoices/1 HTTP/1.1\r\nhost: x\r\ncontent-length: 300000\r\n\r\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 300_000));
    let raw = raw_exchange(env.gw.addr, &bytes, false, Duration::from_secs(10)).await;
    let got = answers(&raw);
    assert_eq!(got.len(), 1, "{}", String::from_utf8_lossy(&raw));
    assert!(got[0].0.starts_with("HTTP/1.1 413 "), "{}", got[0].0);
    assert!(String::from_utf8_lossy(&raw).contains("connection: close\r\n"));
    assert_eq!(env.legacy.hits(), 0);
}
