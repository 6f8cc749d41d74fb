//! Ficus's own HTTP/1.1 server side (RFC 9112): one task per client connection reads each
//! request head, hands the request to the gateway, and writes the answer, then reads the next
//! request from the same buffer (keep-alive and pipelining).
//!
//! Why not hyper's server: its dispatcher, the channel behind every request body and its
//! per-request header-read timer cost about a third of the gateway's user CPU per proxied
//! request (`perf`, the gateway benchmark). Here a request without a body is parsed straight
//! into the parts the gateway routes on, the answer's head and ready body bytes leave in one
//! write, and the idle timer is armed once per connection and only moved when it fires (as
//! nginx's lazy timers do). Parsing stays with `httparse`; framing rules are in [`head`] and
//! [`write`], each with its RFC section. HTTP/2 (prior knowledge) stays with hyper.

mod body;
mod head;
mod write;

use body::Reader;

use crate::forward::Gateway;
use crate::headers::ClientAddr;
use body::{RequestBody, Returned, Slot};
use bytes::{Bytes, BytesMut};
use head::{Refusal, RequestHead};
use http::{Method, Request};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio::time::Sleep;

/// Time a client gets to send a whole request head, and how long an idle keep-alive
/// connection is kept. Checked lazily: a connection is closed when a whole period passed with
/// no request answered on it, so the limit is enforced within one to two periods.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// After an answer that ends the connection while the client may still be sending (a body
/// that was not read), how long its bytes are read and dropped before the socket is closed,
/// so the close does not reset the connection before the client has read the answer (nginx's
/// `lingering_close`).
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes read and dropped while lingering.
const LINGER_BYTES: usize = 1 << 20;

/// The interim answer to `Expect: 100-continue` (RFC 9110 §15.2.1).
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why waiting for the next request head stopped without one.
enum Wait {
    /// Bytes arrived.
    Read,
    /// The client closed its side, the read failed, the head did not arrive in time, or the
    /// gateway is shutting down while the connection is idle.
    Stop,
}

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a connection left [`serve`].
pub(crate) enum Served {
    /// It was served to its end.
    Done,
    /// It opened with the HTTP/2 preface: `read` holds the bytes read so far.
    H2 { stream: TcpStream, read: Bytes },
}

/// Serve a client connection: HTTP/1.x here, until the client closes, an answer ends the
/// connection, or `shutdown` turns true while the connection is between requests; a
/// connection that opens with the HTTP/2 preface is handed back for HTTP/2.
pub(crate) async fn serve(
    stream: TcpStream,
    gateway: Arc<Gateway>,
    peer: Arc<ClientAddr>,
    mut shutdown: watch::Receiver<bool>,
) -> Served {
    let (read, writer) = stream.into_split();
    let mut reader = Reader { io: read, buf: BytesMut::with_capacity(8 * 1024) };
    // One timer for the connection's life, moved on only when it fires: no clock reading or
    // timer-wheel update per request (nginx's lazy timers).
    let timer = tokio::time::sleep(HEADER_READ_TIMEOUT);
    tokio::pin!(timer);
    let mut idle = Idle { answered: 0, answered_at_arming: 0 };
    // The first bytes tell HTTP/2 with prior knowledge from HTTP/1.x.
    while reader.buf.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&reader.buf) {
        if let Wait::Stop =
            wait_for_bytes(&mut reader, timer.as_mut(), &mut idle, &mut shutdown).await
        {
            return Served::Done;
        }
    }
    if reader.buf.starts_with(H2_PREFACE) {
        return match reader.io.reunite(writer) {
            Ok(stream) => Served::H2 { stream, read: reader.buf.freeze() },
            Err(_) => Served::Done,
        };
    }
    serve_h1(reader, writer, gateway, peer, shutdown, timer.as_mut(), idle).await;
    Served::Done
}

/// Serve HTTP/1.x on `reader` (bytes already read in its buffer) and `writer`.
async fn serve_h1(
    mut reader: Reader,
    mut writer: OwnedWriteHalf,
    gateway: Arc<Gateway>,
    peer: Arc<ClientAddr>,
    mut shutdown: watch::Receiver<bool>,
    mut timer: Pin<&mut Sleep>,
    mut idle: Idle,
) {
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let head = loop {
            match head::parse_request(&mut reader.buf) {
                Ok(Some(head)) => break Ok(head),
                Err(refusal) => break Err(refusal),
                Ok(None) => {}
            }
            match wait_for_bytes(&mut reader, timer.as_mut(), &mut idle, &mut shutdown).await {
                Wait::Read => {}
                Wait::Stop => return,
            }
        };
        let head = match head {
            Ok(head) => head,
            Err(refusal) => {
                refuse(&mut writer, &refusal, &mut out).await;
                linger(reader, writer).await;
                return;
            }
        };
        let RequestHead { parts, framing, keep_alive, expect_continue } = head;
        let head_request = parts.method == Method::HEAD;
        let http11 = parts.version == http::Version::HTTP_11;
        let (req, slot, kept) = if framing == crate::h1::response::Framing::Empty {
            (Request::from_parts(parts, RequestBody::empty()), None, Some(reader))
        } else {
            let declared = match framing {
                crate::h1::response::Framing::Length(n) => n,
                _ => 0,
            };
            if expect_continue
                && declared <= gateway.max_body_bytes()
                && writer.write_all(CONTINUE).await.is_err()
            {
                return;
            }
            let slot: Slot = Arc::new(Mutex::new(None));
            let body = RequestBody::new(reader, framing, Arc::clone(&slot));
            (Request::from_parts(parts, body), Some(slot), None)
        };
        let mut resp = crate::server::handle(Arc::clone(&gateway), req, Arc::clone(&peer)).await;
        // The body, read to its end or not, is done with: its reader comes back, unless the
        // connection broke while it was read.
        let (next, body_done) = match slot {
            None => (kept, true),
            Some(slot) => match take(&slot) {
                Some((r, done)) => (Some(r), done),
                None => (None, false),
            },
        };
        let stopping = *shutdown.borrow();
        let keep = keep_alive && body_done && !stopping;
        let framing = write::framing(&mut resp, head_request, http11);
        let keep = keep && framing != write::Framing::UntilClose;
        out.clear();
        write::encode_head(resp.status(), resp.headers(), framing, keep, http11, &mut out);
        let written = write::write_response(&mut writer, resp.into_body(), framing, &mut out).await;
        out.clear();
        if let Err(e) = written {
            tracing::debug!(client = %peer.addr, error = %e, "response not completed; closing the connection");
            return;
        }
        let Some(next) = next else { return };
        if !keep {
            if !body_done {
                linger(next, writer).await;
            }
            return;
        }
        reader = next;
        idle.answered += 1;
    }
}

/// What the body handed back, if it did.
fn take(slot: &Slot) -> Returned {
    slot.lock().ok().and_then(|mut s| s.take())
}

/// Requests answered on a connection, for its lazy idle timer.
struct Idle {
    answered: u64,
    /// `answered` when the timer was last armed.
    answered_at_arming: u64,
}

/// Wait for more bytes of a request head. When the timer fires and a request was answered
/// since it was armed, it is armed again for another period; otherwise the connection has
/// been idle, or stuck in one head, for a whole period and is closed.
async fn wait_for_bytes(
    reader: &mut Reader,
    mut timer: Pin<&mut Sleep>,
    idle: &mut Idle,
    shutdown: &mut watch::Receiver<bool>,
) -> Wait {
    let between_requests = reader.buf.is_empty();
    if between_requests && *shutdown.borrow() {
        return Wait::Stop;
    }
    loop {
        tokio::select! {
            biased;
            read = poll_fn(|cx| reader.poll_fill(cx)) => {
                return match read {
                    Ok(0) | Err(_) => Wait::Stop,
                    Ok(_) => Wait::Read,
                };
            }
            () = &mut timer => {
                if idle.answered == idle.answered_at_arming {
                    tracing::debug!("no request answered for {HEADER_READ_TIMEOUT:?}; closing");
                    return Wait::Stop;
                }
                idle.answered_at_arming = idle.answered;
                timer.as_mut().reset(Instant::now() + HEADER_READ_TIMEOUT);
            }
            _ = shutdown.wait_for(|s| *s), if between_requests => return Wait::Stop,
        }
    }
}

/// Answer a head the gateway refuses: a problem document, then the connection closes.
async fn refuse(writer: &mut OwnedWriteHalf, refusal: &Refusal, out: &mut Vec<u8>) {
    let request_id = crate::headers::ensure_request_id(&mut http::HeaderMap::new());
    let mut resp = crate::problem::document(
        refusal.status,
        "urn:ficus:problem:bad-request-head",
        "Request head refused",
        &refusal.detail,
        "client",
        &request_id,
    );
    tracing::debug!(status = refusal.status.as_u16(), detail = %refusal.detail, "request head refused");
    let framing = write::framing(&mut resp, false, true);
    out.clear();
    write::encode_head(resp.status(), resp.headers(), framing, false, true, out);
    let _ = write::write_response(writer, resp.into_body(), framing, out).await;
    out.clear();
}

/// Close after an answer while the client may still be sending: stop writing, then read and
/// drop what arrives for a while, so the client reads the answer instead of a reset.
async fn linger(mut reader: Reader, mut writer: OwnedWriteHalf) {
    let _ = writer.shutdown().await;
    let mut scratch = vec![0u8; 16 * 1024];
    let mut dropped = 0usize;
    let _ = tokio::time::timeout(LINGER, async {
        while dropped < LINGER_BYTES {
            match reader.io.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    })
    .await;
}
