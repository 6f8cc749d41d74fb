//! Ficus's own HTTP/1.1 client side of an upstream exchange (RFC 9112), driven by the task of
//! the request it serves.
//!
//! Why not hyper's client: its connection runs as a task of its own, fed through a channel, so
//! every exchange crossed two extra task hand-offs on the worker's run queue — the upstream
//! request went out only after every other ready task had run, and so did the answer (the
//! gateway benchmark's p99). Here the request's own task writes the head the moment the route
//! is decided, and the upstream socket's readiness wakes that task directly, as nginx's event
//! handlers do. Parsing stays with `httparse` (hyper's parser); framing, chunked decoding and
//! keep-alive rules are in [`response`] and [`decode`], each with its RFC section.

mod conn;
mod decode;
mod fields;
mod request;
mod response;
pub(crate) mod server;

pub(crate) use conn::{Conn, Recycle, ResponseBody};
pub(crate) use request::{Framing as RequestFraming, encode_head};

/// Room made in a read buffer before a read, in bytes.
const READ_RESERVE: usize = 8 * 1024;

/// Read what has arrived on `io` into `buf`, making room first; `Ok(0)` when the peer closed
/// its side. Both sides' connections read through this.
pub(crate) fn poll_fill<R: tokio::io::AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut bytes::BytesMut,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<std::io::Result<usize>> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_RESERVE);
    }
    tokio_util::io::poll_read_buf(std::pin::Pin::new(io), cx, buf)
}

/// `n` in lower-case hexadecimal (a chunk size, RFC 9112 §7.1), written into `buf`.
pub(crate) fn hex_len(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 || at == 0 {
            return &buf[at..];
        }
    }
}

/// An exchange with an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    /// Writing the request failed.
    #[error("writing the request: {0}")]
    Write(#[source] std::io::Error),
    /// The connection broke before any byte of the answer arrived.
    #[error("the upstream reset the connection before answering: {0}")]
    ResetBeforeAnswer(#[source] std::io::Error),
    /// The upstream closed the connection before any byte of the answer.
    #[error("the upstream closed the connection before answering")]
    ClosedBeforeAnswer,
    /// Reading the answer failed after part of it arrived.
    #[error("reading the response: {0}")]
    Read(#[source] std::io::Error),
    /// The upstream closed the connection in the middle of the answer.
    #[error("the upstream closed the connection in the middle of the response")]
    ClosedMidResponse,
    /// The answer is not valid HTTP/1.1.
    #[error("malformed response from the upstream: {0}")]
    Malformed(String),
    /// The response head did not end within the limit, in bytes.
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    /// The request body sent fewer or more bytes than its `Content-Length`.
    #[error("the request body was {got} bytes for a content-length of {declared}")]
    BodyLength { declared: u64, got: u64 },
    /// The request body (the client's, as it streamed) failed.
    #[error("request body")]
    RequestBody(#[source] crate::body::BoxError),
}

impl H1Error {
    /// Whether the failure shows an idle keep-alive connection the upstream had already closed:
    /// nothing of the exchange was answered, so an idempotent request without a body may be
    /// sent again on a fresh connection.
    pub(crate) fn is_stale_connection(&self) -> bool {
        matches!(
            self,
            H1Error::Write(_) | H1Error::ResetBeforeAnswer(_) | H1Error::ClosedBeforeAnswer
        )
    }
}
