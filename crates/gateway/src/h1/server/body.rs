//! A client's request body, read off the client's connection by whoever polls it (the
//! exchange with the upstream, a tee for the shadow or the write queue). The connection's read
//! side goes back to the connection when the body is done with, so the next request can be
//! read from it.

use crate::body::BoxError;
use crate::h1::decode::{Decoder, Step};
use crate::h1::response::Framing;
use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::net::tcp::OwnedReadHalf;

/// The read side of a client connection and the bytes read from it and not yet used.
#[derive(Debug)]
pub(crate) struct Reader {
    pub io: OwnedReadHalf,
    pub buf: BytesMut,
}

impl Reader {
    /// Read what has arrived into the buffer; `Ok(0)` when the client closed its side.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        crate::h1::poll_fill(&mut self.io, &mut self.buf, cx)
    }
}

/// What a body hands back: the reader, and whether the body was read to its end (if not, the
/// next request's start is unknown and the connection must close).
pub(crate) type Returned = Option<(Reader, bool)>;

/// Where a body hands its reader back.
pub(crate) type Slot = Arc<Mutex<Returned>>;

/// The client closed the connection in the middle of its request body.
#[derive(Debug, thiserror::Error)]
#[error("the client closed the connection in the middle of the request body")]
pub(crate) struct ClosedMidBody;

/// A request body streamed from the client's connection.
#[derive(Debug)]
pub(crate) struct RequestBody {
    reader: Option<Reader>,
    decoder: Decoder,
    slot: Option<Slot>,
}

impl RequestBody {
    /// A request without a body: nothing to read, the connection keeps its reader.
    pub(crate) fn empty() -> RequestBody {
        RequestBody { reader: None, decoder: Decoder::new(Framing::Empty), slot: None }
    }

    /// A body delimited by `framing`, read from `reader`, which goes to `slot` when the body
    /// is done with.
    pub(crate) fn new(reader: Reader, framing: Framing, slot: Slot) -> RequestBody {
        RequestBody { reader: Some(reader), decoder: Decoder::new(framing), slot: Some(slot) }
    }

    fn hand_back(&mut self) {
        if let (Some(reader), Some(slot)) = (self.reader.take(), self.slot.as_ref())
            && let Ok(mut slot) = slot.lock()
        {
            *slot = Some((reader, self.decoder.is_done()));
        }
    }

    fn fail(&mut self, e: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // The connection cannot carry another request: the reader is not handed back.
        self.reader = None;
        Poll::Ready(Some(Err(e)))
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        self.hand_back();
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(reader) = this.reader.as_mut() else { return Poll::Ready(None) };
            match this.decoder.step(&mut reader.buf) {
                Err(e) => return this.fail(Box::new(e)),
                Ok(Step::Data(data)) => {
                    if this.decoder.is_done() {
                        this.hand_back();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::End) => {
                    this.hand_back();
                    return Poll::Ready(None);
                }
                Ok(Step::NeedMore) => match reader.poll_fill(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) => return this.fail(Box::new(ClosedMidBody)),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return this.fail(Box::new(e)),
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
