//! The gateway's own HTTP/1.1 client against scripted raw-TCP upstreams: every way an answer
//! can be delimited, interim answers, answers before the upload ended, connection reuse, and
//! broken answers (502 naming the upstream, never a hang or a panic).

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a scripted upstream does with a request, chosen by its path.
#[derive(Clone, Copy)]
enum Script {
    /// Write these bytes, then keep the connection for the next request.
    Answer(&'static [u8]),
    /// Write these bytes, then close.
    AnswerAndClose(&'static [u8]),
    /// Answer at once without reading the body, and keep the connection open unread for a
    /// while (a server refusing an upload).
    RefuseUpload(&'static [u8]),
    /// Answer `100 Continue` at once, read a body of this many bytes, then write these bytes
    /// and close.
    ContinueThenAnswer(usize, &'static [u8]),
    /// Answer whether the connection's first read held the whole request, body `hello`
    /// included (`yes` or `no`).
    FirstReadWhole,
}

fn script_for(path: &str) -> Script {
    match path {
        "/invoices/chunked" => Script::Answer(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n\
              5\r\nhello\r\n1;ext=yes\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n",
        ),
        "/invoices/close" => {
            Script::AnswerAndClose(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the close")
        }
        "/invoices/continue" => Script::Answer(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
              HTTP/1.1 201 Created\r\ncontent-length: 7\r\n\r\ncreated",
        ),
        "/invoices/length" => Script::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nlength"),
        "/invoices/dated" => Script::Answer(
            b"HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 2\r\n\r\nok",
        ),
        "/invoices/garbage" => Script::AnswerAndClose(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
        "/invoices/two-lengths" => Script::AnswerAndClose(
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
        ),
        "/invoices/silent-close" => Script::AnswerAndClose(b""),
        "/invoices/cut" => {
            Script::AnswerAndClose(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        }
        "/invoices/expect" => Script::ContinueThenAnswer(
            5,
            b"HTTP/1.1 201 Created\r\ncontent-length: 7\r\nconnection: close\r\n\r\ncreated",
        ),
        "/invoices/first-read" => Script::FirstReadWhole,
        "/invoices/upload" => Script::RefuseUpload(
            b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo much",
        ),
        _ => Script::AnswerAndClose(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
    }
}

/// A raw upstream following [`script_for`]; counts the connections it accepts.
async fn scripted_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_scripted(s));
        }
    });
    (url, accepted)
}

async fn serve_scripted(mut s: TcpStream) {
    let mut buf = Vec::new();
    let mut first_read: Option<Vec<u8>> = None;
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    first_read.get_or_insert_with(|| chunk[..n].to_vec());
                }
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        match script_for(&path) {
            Script::Answer(bytes) => {
                if s.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Script::AnswerAndClose(bytes) => {
                let _ = s.write_all(bytes).await;
                return;
            }
            Script::ContinueThenAnswer(len, bytes) => {
                if s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                    return;
                }
                while buf.len() < len {
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s.write_all(bytes).await;
                return;
            }
            Script::FirstReadWhole => {
                let whole = first_read.as_deref().is_some_and(|r| r.ends_with(b"\r\n\r\nhello"));
                let answer = if whole { "yes" } else { "no" };
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}", answer.len()).as_bytes())
                    .await;
                return;
            }
            Script::RefuseUpload(bytes) => {
                let _ = s.write_all(bytes).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
        }
    }
}

async fn gateway_on(url: String, max_body_bytes: u64) -> util::TestGateway {
    let mut opts = util::PlanOpts::new(url.clone(), url);
    opts.max_body_bytes = max_body_bytes;
    opts.request_timeout = "4s";
    util::TestGateway::start(opts.parse(), Duration::from_secs(5)).await
}

/// Chunked (with extensions and trailers), close-delimited and length-delimited answers reach
/// the client whole; interim 100 and 103 answers are not passed on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_answer_body_reaches_the_client_whole() {
    let (url, _) = scripted_upstream().await;
    let gw = gateway_on(url, 1_048_576).await;
    let client = Client::http1();
    for (path, status, body) in [
        ("/invoices/chunked", StatusCode::OK, "hello world"),
        ("/invoices/close", StatusCode::OK, "until the close"),
        ("/invoices/continue", StatusCode::CREATED, "created"),
        ("/invoices/length", StatusCode::OK, "length"),
    ] {
        let reply = client.get(&gw.url(path)).await;
        assert_eq!(reply.status, status, "{path}");
        assert_eq!(String::from_utf8_lossy(&reply.body), body, "{path}");
    }
}

/// A connection carries the next request after a chunked or length-delimited answer, and is
/// never reused after an answer delimited by the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_reused_only_after_an_answer_with_a_known_end() {
    let (url, accepted) = scripted_upstream().await;
    let gw = gateway_on(url, 1_048_576).await;
    let client = Client::http1();
    for _ in 0..20 {
        assert_eq!(client.get(&gw.url("/invoices/chunked")).await.status, StatusCode::OK);
        assert_eq!(client.get(&gw.url("/invoices/length")).await.status, StatusCode::OK);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "40 answers over one connection");
    for _ in 0..3 {
        assert_eq!(client.get(&gw.url("/invoices/close")).await.status, StatusCode::OK);
    }
    assert_eq!(client.get(&gw.url("/invoices/length")).await.status, StatusCode::OK);
    // The first close-delimited answer came on the kept connection; each close needs a new one.
    assert_eq!(accepted.load(Ordering::SeqCst), 4, "a fresh connection after each close");
}

/// Answers that are not HTTP, contradict their own length or never come are 502s naming the
/// upstream; an answer cut short reaches the client cut short (never padded, never hung).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_answers_are_502_naming_the_upstream() {
    let (url, _) = scripted_upstream().await;
    let gw = gateway_on(url, 1_048_576).await;
    let client = Client::http1();
    for path in ["/invoices/garbage", "/invoices/two-lengths", "/invoices/silent-close"] {
        let reply = client.get(&gw.url(path)).await;
        let doc = reply.problem(502);
        assert_eq!(doc["failed"], "legacy", "{path}: {doc}");
    }
    let started = Instant::now();
    let raw = util::raw_exchange(
        gw.addr,
        b"GET /invoices/cut HTTP/1.1\r\nhost: x\r\n\r\n",
        false,
        Duration::from_secs(3),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3), "the client's connection was closed");
    // Whatever arrived (hyper may drop the connection before flushing the head) is a 200
    // shorter than its content-length.
    let text = String::from_utf8_lossy(&raw);
    if !text.is_empty() {
        assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
        let (_, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(body.len() < 100, "the cut answer is not completed: {body:?}");
    }
}

/// An upstream that answers 413 without reading a large upload: the client gets that 413 at
/// once, instead of the gateway blocking on a full socket until its request timeout (504).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_before_the_upload_ended_is_passed_on() {
    let (url, _) = scripted_upstream().await;
    let size: usize = 64 * 1024 * 1024;
    let gw = gateway_on(url, size as u64).await;
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    let (mut rd, mut wr) = stream.split();
    let head =
        format!("POST /invoices/upload HTTP/1.1\r\nhost: x\r\ncontent-length: {size}\r\n\r\n");
    let write = async {
        let _ = wr.write_all(head.as_bytes()).await;
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..size / block.len() {
            if wr.write_all(&block).await.is_err() {
                break;
            }
        }
    };
    let started = Instant::now();
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(8).any(|w| w == b"too much") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    };
    let got = tokio::select! {
        got = read => got,
        () = async { write.await; std::future::pending::<()>().await } => unreachable!(),
    };
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered after {:?}", started.elapsed());
}

/// The upstream's `Date` is passed on as it is; an answer without one gets the gateway's
/// (RFC 9110 §6.6.1), and so do the gateway's own answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_is_passed_on_or_added_when_missing() {
    let (url, _) = scripted_upstream().await;
    let gw = gateway_on(url, 1_048_576).await;
    let client = Client::http1();
    let dated = client.get(&gw.url("/invoices/dated")).await;
    assert_eq!(dated.header("date"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
    for path in ["/invoices/length", "/invoices/garbage"] {
        let reply = client.get(&gw.url(path)).await;
        let date = reply.header("date").unwrap_or_else(|| panic!("{path}: no date"));
        let when = httpdate::parse_http_date(date).expect("an IMF-fixdate");
        let age = std::time::SystemTime::now().duration_since(when).unwrap_or_default();
        assert!(age < Duration::from_secs(5), "{path}: {date}");
    }
}

/// An upstream that answers `100 Continue` before the body has arrived still gets the whole
/// body: the interim answer does not stop the upload (it used to be taken for an early final
/// answer, and the exchange hung until the request timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interim_answer_during_the_upload_does_not_stop_it() {
    let (url, _) = scripted_upstream().await;
    let gw = gateway_on(url, 1_048_576).await;
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(b"PUT /invoices/expect HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    // Long enough for the upstream's 100 to reach the gateway before the body does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(b"hello").await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), conn.read_to_end(&mut raw))
        .await
        .expect("the exchange hung")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 201 Created\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\ncreated"), "{text}");
}

/// A small request goes upstream in one write, head and body together, so the upstream reads
/// it whole at once instead of a head and then a body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_request_goes_upstream_in_one_write() {
    let (url, _) = scripted_upstream().await;
    let gw = gateway_on(url, 1_048_576).await;
    let raw = raw_exchange(
        gw.addr,
        b"PUT /invoices/first-read HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
        false,
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nyes"), "the upstream's first read missed the body: {text}");
}
