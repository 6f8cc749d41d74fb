//! A response body that streams to the client unchanged while keeping a copy of its first
//! bytes for the shadow comparison; the copy is handed over when the body ends.

use crate::body::{Body, BoxError};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use http_body::Body as _;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// The primary's answer as the comparison needs it.
#[derive(Debug)]
pub struct Captured {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// At most the cap plus one byte, so the comparer can tell a longer body.
    pub body: Bytes,
}

pub struct TeeBody {
    inner: Body,
    status: StatusCode,
    headers: HeaderMap,
    copy: BytesMut,
    cap: usize,
    done: Option<oneshot::Sender<Captured>>,
}

impl TeeBody {
    pub fn new(
        inner: Body,
        status: StatusCode,
        headers: HeaderMap,
        cap: usize,
        done: oneshot::Sender<Captured>,
    ) -> TeeBody {
        TeeBody { inner, status, headers, copy: BytesMut::new(), cap, done: Some(done) }
    }

    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            let captured = Captured {
                status: self.status,
                headers: std::mem::take(&mut self.headers),
                body: std::mem::take(&mut self.copy).freeze(),
            };
            // The shadow may have given up (timeout); nothing to do then.
            let _ = done.send(captured);
        }
    }
}

impl http_body::Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let room = (self.cap + 1).saturating_sub(self.copy.len());
                    let take = room.min(data.len());
                    if take > 0 {
                        let chunk = data.slice(..take);
                        self.copy.extend_from_slice(&chunk);
                    }
                }
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None) => self.finish(),
            // A broken primary body is not compared: dropping the sender tells the shadow.
            Poll::Ready(Some(Err(_))) => self.done = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TeeBody {
    fn drop(&mut self) {
        // An empty body may be dropped without ever being polled to its end.
        if self.inner.is_end_stream() {
            self.finish();
        }
    }
}

/// A request body that streams to the primary unchanged while keeping a copy for the shadow
/// of a repeatable route; the copy is handed over when the body ends, or `None` if it was
/// longer than `cap` bytes or broke (the shadow is then not sent).
pub struct RequestTee<B> {
    inner: Pin<Box<B>>,
    copy: BytesMut,
    cap: usize,
    done: Option<oneshot::Sender<Option<Bytes>>>,
}

impl<B> RequestTee<B> {
    pub fn new(inner: B, cap: usize, done: oneshot::Sender<Option<Bytes>>) -> RequestTee<B> {
        RequestTee { inner: Box::pin(inner), copy: BytesMut::new(), cap, done: Some(done) }
    }

    fn finish(&mut self, whole: bool) {
        if let Some(done) = self.done.take() {
            let copy = std::mem::take(&mut self.copy).freeze();
            let _ = done.send(whole.then_some(copy));
        }
    }
}

impl<B> http_body::Body for RequestTee<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if self.copy.len() + data.len() > self.cap {
                        self.finish(false);
                    } else if self.done.is_some() {
                        self.copy.extend_from_slice(data);
                    }
                }
                if self.inner.is_end_stream() {
                    self.finish(true);
                }
            }
            Poll::Ready(None) => self.finish(true),
            Poll::Ready(Some(Err(_))) => self.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for RequestTee<B> {
    fn drop(&mut self) {
        // Dropped before its end (the primary failed or answered early): nothing to repeat.
        self.finish(false);
    }
}
