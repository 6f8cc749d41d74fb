//! One upstream connection: the exchange (request head and body out, response head in) and
//! the response body, read from the socket by whoever polls it and handed back for reuse
//! once it has ended cleanly.

use super::H1Error;
use super::decode::{Decoder, Step};
use super::request::Framing as RequestFraming;
use super::response::{self, Framing, Head};
use crate::body::{Body, BoxError};
use bytes::{Buf, Bytes, BytesMut};
use http::StatusCode;
use http_body::{Body as _, Frame, SizeHint};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Request body bytes gathered behind the head (or each other) before they are written.
const GATHER_BELOW: usize = 64 * 1024;

/// An open connection to an upstream, with the bytes read from it and not yet used.
#[derive(Debug)]
pub(crate) struct Conn {
    io: TcpStream,
    buf: BytesMut,
}

impl Conn {
    /// Open a connection to `addr` (`host:port`), with Nagle's algorithm off.
    ///
    /// # Errors
    /// The connect failed.
    pub(crate) async fn connect(addr: &str) -> io::Result<Conn> {
        let io = TcpStream::connect(addr).await?;
        io.set_nodelay(true)?;
        Ok(Conn { io, buf: BytesMut::new() })
    }

    /// Whether an idle connection can carry a request: the upstream has neither closed it nor
    /// sent anything unasked. An idle socket the worker's poller saw become readable is
    /// checked with one non-blocking read; otherwise no system call is made.
    pub(crate) fn idle_usable(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readiness can be left over from the last read of the previous answer.
            Poll::Ready(Ok(())) => {
                matches!(self.io.try_read(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        super::poll_fill(&mut self.io, &mut self.buf, cx)
    }

    /// Send a request (`head` from [`super::encode_head`], then `body` framed as `framing`) and
    /// read the answer's head. Interim 1xx answers are skipped. The answer may come before the
    /// body was sent whole (a 413, a 401): sending stops and the answer is returned.
    ///
    /// Returns the head, how its body is delimited, and whether the connection may carry
    /// another exchange once that body has been read.
    ///
    /// # Errors
    /// [`H1Error`]: the write or read failed, the upstream closed the connection, the answer
    /// is not HTTP/1.1, or the request body failed or broke its `Content-Length`.
    pub(crate) async fn exchange(
        &mut self,
        head: &[u8],
        body: Option<Body>,
        framing: RequestFraming,
        head_request: bool,
    ) -> Result<(Head, Framing, bool), H1Error> {
        let complete = match body {
            None => {
                self.io.write_all(head).await.map_err(H1Error::Write)?;
                true
            }
            Some(body) => match self.send_with_body(head, body, framing).await {
                Ok(complete) => complete,
                // The upstream may have answered and stopped reading: its answer wins.
                Err(H1Error::Write(e)) => match self.read_head(head_request).await {
                    Ok((head, framing, _)) => return Ok((head, framing, false)),
                    Err(_) => return Err(H1Error::Write(e)),
                },
                Err(e) => return Err(e),
            },
        };
        let (head, framing, reusable) = self.read_head(head_request).await?;
        Ok((head, framing, reusable && complete))
    }

    async fn read_head(&mut self, head_request: bool) -> Result<(Head, Framing, bool), H1Error> {
        let mut got_any = !self.buf.is_empty();
        loop {
            if let Some(mut head) = response::parse_head(&mut self.buf)? {
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(H1Error::Malformed(
                        "101 Switching Protocols to a request that asked for no upgrade".to_owned(),
                    ));
                }
                if head.status.is_informational() {
                    // 100 Continue, 103 Early Hints: interim, not passed on.
                    continue;
                }
                let (framing, reusable) = response::framing(&mut head, head_request)?;
                return Ok((head, framing, reusable));
            }
            match poll_fn(|cx| self.poll_fill(cx)).await {
                Ok(0) if got_any => return Err(H1Error::ClosedMidResponse),
                Ok(0) => return Err(H1Error::ClosedBeforeAnswer),
                Ok(_) => got_any = true,
                Err(e) if got_any => return Err(H1Error::Read(e)),
                Err(e) => return Err(H1Error::ResetBeforeAnswer(e)),
            }
        }
    }

    /// Write `head` and `body`; `Ok(false)` when the upstream began to answer before the body
    /// was sent whole (the connection cannot be reused then).
    async fn send_with_body(
        &mut self,
        head: &[u8],
        mut body: Body,
        framing: RequestFraming,
    ) -> Result<bool, H1Error> {
        let declared = match framing {
            RequestFraming::Length(n) => Some(n),
            _ => None,
        };
        let chunked = framing == RequestFraming::Chunked;
        let mut out = BytesMut::with_capacity(head.len() + 1024);
        out.extend_from_slice(head);
        let mut sent: u64 = 0;
        let mut ended = false;
        let io = &mut self.io;
        let answer = &mut self.buf;
        poll_fn(|cx| {
            loop {
                // Whatever the upstream sends meanwhile: interim answers (a `100 Continue` to
                // the client's `Expect`, `103 Early Hints`) are dropped and the upload goes on;
                // the start of a final answer stops it.
                while io.poll_read_ready(cx).is_ready() {
                    match super::poll_fill(&mut *io, &mut *answer, cx) {
                        Poll::Pending => break,
                        Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Ok(false)),
                        Poll::Ready(Ok(_)) => {
                            if final_answer_begun(answer) {
                                return Poll::Ready(Ok(false));
                            }
                        }
                    }
                }
                // Gather whatever of the body is ready behind the head, so a small request
                // leaves in one write (one segment for the upstream to read, not two).
                let mut body_pending = false;
                while !ended && out.len() < GATHER_BELOW {
                    match Pin::new(&mut body).poll_frame(cx) {
                        Poll::Pending => {
                            body_pending = true;
                            break;
                        }
                        Poll::Ready(Some(Err(e))) => {
                            return Poll::Ready(Err(H1Error::RequestBody(e)));
                        }
                        Poll::Ready(None) => {
                            ended = true;
                            if let Some(declared) = declared
                                && sent != declared
                            {
                                return Poll::Ready(Err(H1Error::BodyLength {
                                    declared,
                                    got: sent,
                                }));
                            }
                            if chunked {
                                out.extend_from_slice(b"0\r\n\r\n");
                            }
                        }
                        Poll::Ready(Some(Ok(frame))) => {
                            // Trailers are not forwarded (`TE: trailers` is never sent upstream).
                            let Ok(data) = frame.into_data() else { continue };
                            if data.is_empty() {
                                continue;
                            }
                            sent += data.len() as u64;
                            if let Some(declared) = declared
                                && sent > declared
                            {
                                return Poll::Ready(Err(H1Error::BodyLength {
                                    declared,
                                    got: sent,
                                }));
                            }
                            if chunked {
                                let mut hex = [0u8; 16];
                                out.extend_from_slice(super::hex_len(data.len(), &mut hex));
                                out.extend_from_slice(b"\r\n");
                                out.extend_from_slice(&data);
                                out.extend_from_slice(b"\r\n");
                            } else {
                                out.extend_from_slice(&data);
                            }
                        }
                    }
                }
                while !out.is_empty() {
                    match Pin::new(&mut *io).poll_write(cx, &out) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(H1Error::Write(
                                io::ErrorKind::WriteZero.into(),
                            )));
                        }
                        Poll::Ready(Ok(n)) => out.advance(n),
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(H1Error::Write(e))),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                if ended {
                    return Poll::Ready(Ok(true));
                }
                if body_pending {
                    return Poll::Pending;
                }
            }
        })
        .await
    }
}

/// Drop the complete interim (1xx, not 101) answer heads at the front of `buf`; whether what
/// is left begins a final answer (a complete head of another status, or bytes that are not an
/// answer head at all: both are for [`Conn::read_head`] to take or report). An incomplete head
/// waits for more bytes.
fn final_answer_begun(buf: &mut BytesMut) -> bool {
    while !buf.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; super::fields::MAX_HEADERS];
        let mut head = httparse::Response::new(&mut fields);
        match head.parse(buf) {
            Ok(httparse::Status::Complete(len)) => match head.code {
                Some(code) if (100..200).contains(&code) && code != 101 => buf.advance(len),
                _ => return true,
            },
            Ok(httparse::Status::Partial) => return false,
            Err(_) => return true,
        }
    }
    false
}

/// Where a connection goes once an answer's body has ended and it may carry another exchange.
pub(crate) trait Recycle: Send + Sync + 'static {
    fn recycle(&self, conn: Conn);
}

/// The body of an upstream's answer, read from its connection as it is polled. The
/// connection is handed to [`Recycle`] as soon as the body has ended cleanly (before the last
/// frame is returned, so the next request can use it at once); dropped early, or after an
/// error, the connection is closed with it.
#[derive(Debug)]
pub(crate) struct ResponseBody<R: Recycle> {
    conn: Option<Conn>,
    decoder: Decoder,
    reusable: bool,
    recycle: R,
}

impl<R: Recycle> ResponseBody<R> {
    pub(crate) fn new(conn: Conn, framing: Framing, reusable: bool, recycle: R) -> Self {
        let mut body =
            ResponseBody { conn: Some(conn), decoder: Decoder::new(framing), reusable, recycle };
        if body.decoder.is_done() {
            body.release();
        }
        body
    }

    /// The body ended: the connection goes back if it may carry another exchange and holds
    /// no bytes beyond this answer.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.buf.is_empty()
        {
            self.recycle.recycle(conn);
        }
    }

    fn fail(&mut self, e: H1Error) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(Box::new(e))))
    }
}

impl<R: Recycle + Unpin> http_body::Body for ResponseBody<R> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else { return Poll::Ready(None) };
            match this.decoder.step(&mut conn.buf) {
                Err(e) => return this.fail(e),
                Ok(Step::Data(data)) => {
                    if this.decoder.is_done() {
                        this.release();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::End) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Ok(Step::NeedMore) => match conn.poll_fill(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) if this.decoder.until_close() => {
                        this.conn = None;
                        return Poll::Ready(None);
                    }
                    Poll::Ready(Ok(0)) => return this.fail(H1Error::ClosedMidResponse),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return this.fail(H1Error::Read(e)),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        self.decoder.size_hint()
    }
}
