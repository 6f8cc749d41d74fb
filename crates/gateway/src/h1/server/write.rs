//! Writing a response to the client (RFC 9112 §4, §6, §7.1): the head with the framing the
//! body needs, then the body as it streams, whatever frames are ready gathered into one write.

use crate::body::{Body, BoxError};
use crate::h1::hex_len;
use crate::h1::response::content_length;
use bytes::{Buf, Bytes};
use http::{HeaderMap, Response, StatusCode, header};
use http_body::Body as _;
use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Body bytes copied into the pending write rather than written on their own: below this a
/// copy costs less than a second system call.
const COPY_BELOW: usize = 16 * 1024;

/// How the response body is delimited on the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body is sent (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding (HTTP/1.1 clients).
    Chunked,
    /// Until the connection closes (HTTP/1.0 clients, length unknown).
    UntilClose,
}

/// Choose the framing of `resp` for a client speaking `http11` (else HTTP/1.0), to a request
/// made with HEAD or not. Sets `Content-Length` when the body's length is known and the
/// response has none; removes any `Transfer-Encoding` and `Connection` of the response (they
/// belong to the upstream hop, and this hop sets its own).
pub(crate) fn framing(resp: &mut Response<Body>, head_request: bool, http11: bool) -> Framing {
    let status = resp.status();
    let headers = resp.headers_mut();
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONNECTION);
    if status.is_informational() || status == StatusCode::NO_CONTENT {
        headers.remove(header::CONTENT_LENGTH);
        return Framing::None;
    }
    if head_request || status == StatusCode::NOT_MODIFIED {
        return Framing::None;
    }
    if let Ok(Some(n)) = content_length(resp.headers()) {
        return Framing::Length(n);
    }
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    let hint = resp.body().size_hint();
    if let Some(n) = hint.exact() {
        let mut digits = itoa::Buffer::new();
        if let Ok(v) = http::HeaderValue::from_str(digits.format(n)) {
            resp.headers_mut().insert(header::CONTENT_LENGTH, v);
        }
        return Framing::Length(n);
    }
    if http11 { Framing::Chunked } else { Framing::UntilClose }
}

/// Append the response head to `out`: status line, `headers`, the framing's field, and
/// `Connection: close` when the connection ends after this response (or `keep-alive` for an
/// HTTP/1.0 client whose connection stays open).
pub(crate) fn encode_head(
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    keep_alive: bool,
    http11: bool,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if !http11 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The body broke off, or did not match its `Content-Length`: the client got a truncated
/// response and the connection must close.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("writing to the client: {0}")]
    Io(#[from] std::io::Error),
    #[error("the response body failed: {0}")]
    Body(#[source] BoxError),
    #[error("the response body was {got} bytes for a content-length of {declared}")]
    Length { declared: u64, got: u64 },
}

/// Write `resp` (its head already encoded into `out`, `framing` from [`framing`]) to `io`.
/// Whatever body frames are ready are gathered with the head into one write; the head alone
/// goes out as soon as the body has nothing ready, so a slow stream is not held back.
///
/// # Errors
/// [`WriteError`]: the write failed, or the body failed or broke its length.
pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    io: &mut W,
    body: Body,
    framing: Framing,
    out: &mut Vec<u8>,
) -> Result<(), WriteError> {
    if framing == Framing::None {
        io.write_all(out).await?;
        return Ok(());
    }
    let mut body = std::pin::pin!(body);
    let mut sent: u64 = 0;
    let mut trailers: Option<HeaderMap> = None;
    loop {
        let ready = poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await;
        let frame = match ready {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                if !out.is_empty() {
                    io.write_all(out).await?;
                    out.clear();
                }
                poll_fn(|cx| body.as_mut().poll_frame(cx)).await
            }
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(WriteError::Body)?;
        let frame = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.get_or_insert_with(HeaderMap::new).extend(t);
                }
                continue;
            }
        };
        if frame.is_empty() {
            continue;
        }
        let len = frame.len() as u64;
        if let Framing::Length(declared) = framing
            && sent + len > declared
        {
            return Err(WriteError::Length { declared, got: sent + len });
        }
        sent += len;
        if framing == Framing::Chunked {
            let mut hex = [0u8; 16];
            out.extend_from_slice(hex_len(frame.len(), &mut hex));
            out.extend_from_slice(b"\r\n");
        }
        if frame.len() < COPY_BELOW {
            out.extend_from_slice(&frame);
        } else {
            write_both(io, out, frame).await?;
            out.clear();
        }
        if framing == Framing::Chunked {
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Framing::Length(declared) = framing
        && sent != declared
    {
        return Err(WriteError::Length { declared, got: sent });
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"0\r\n");
        for (name, value) in trailers.iter().flatten() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
    if !out.is_empty() {
        io.write_all(out).await?;
    }
    Ok(())
}

/// Write `first` then `second` with vectored writes (one system call when the socket takes
/// both).
async fn write_both<W: AsyncWrite + Unpin>(
    io: &mut W,
    first: &[u8],
    mut second: Bytes,
) -> std::io::Result<()> {
    let mut first = first;
    while !first.is_empty() || second.has_remaining() {
        let slices = [IoSlice::new(first), IoSlice::new(&second)];
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write_vectored(cx, &slices)).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_first = n.min(first.len());
        first = &first[from_first..];
        second.advance(n - from_first);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;

    fn encoded(mut resp: Response<Body>, head_req: bool, http11: bool, keep: bool) -> String {
        let framing = framing(&mut resp, head_req, http11);
        let mut out = Vec::new();
        encode_head(resp.status(), resp.headers(), framing, keep, http11, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_known_length_becomes_content_length_and_hop_fields_go() {
        let mut resp = Response::new(full("hello"));
        resp.headers_mut().insert("x-a", "1".parse().unwrap());
        resp.headers_mut().insert("connection", "upgrade".parse().unwrap());
        resp.headers_mut().insert("transfer-encoding", "chunked".parse().unwrap());
        assert_eq!(
            encoded(resp, false, true, true),
            "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n"
        );
    }

    #[test]
    fn head_204_and_304_carry_no_body_and_closing_is_said() {
        let mut resp = Response::new(full(""));
        resp.headers_mut().insert("content-length", "42".parse().unwrap());
        assert_eq!(
            encoded(resp, true, true, false),
            "HTTP/1.1 200 OK\r\ncontent-length: 42\r\nconnection: close\r\n\r\n"
        );
        let mut resp = Response::new(full(""));
        *resp.status_mut() = StatusCode::NO_CONTENT;
        assert_eq!(
            encoded(resp, false, false, true),
            "HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn chunk_sizes_are_hexadecimal() {
        let mut buf = [0u8; 16];
        assert_eq!(hex_len(0, &mut buf), b"0");
        assert_eq!(hex_len(255, &mut buf), b"ff");
        assert_eq!(hex_len(4096, &mut buf), b"1000");
        assert_eq!(hex_len(usize::MAX, &mut buf), b"ffffffffffffffff");
    }
}
