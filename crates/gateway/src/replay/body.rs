//! Reading the authoritative answer of a write for its identifier (`id_pointer`) without
//! losing a byte of what the client gets: the head of the body is read (up to a cap), searched,
//! and sent on before the rest of the stream.

use crate::body::{Body, BoxError};
use bytes::{Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Most of an answer read to find its identifier (1 MiB); a longer answer is passed on whole
/// and its identifier is not sent.
pub const MAX_ID_SCAN_BYTES: usize = 1024 * 1024;

/// Read the head of `body` (all of it if it ends within [`MAX_ID_SCAN_BYTES`]) and find the
/// value at `pointer` (RFC 6901) in it: a string as is, a number as written. Returns the
/// identifier (if found) and a body that yields everything, the read head first.
pub async fn authoritative_id(mut body: Body, pointer: &str) -> (Option<String>, Body) {
    let mut head = BytesMut::new();
    let mut whole = false;
    let mut failed: Option<BoxError> = None;
    while head.len() <= MAX_ID_SCAN_BYTES {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                // Trailers of a write answer are rare, and dropped here.
                if let Ok(data) = frame.into_data() {
                    head.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => {
                whole = true;
                break;
            }
        }
    }
    let head = head.freeze();
    let id = if whole {
        serde_json::from_slice::<serde_json::Value>(&head).ok().and_then(|v| {
            match v.pointer(pointer)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        })
    } else {
        None
    };
    let rest = if whole { None } else { Some(body) };
    (id, http_body_util::BodyExt::boxed(PrefixedBody { head: Some(head), rest, failed }))
}

/// A body that yields `head`, then the rest of a stream (or the error that cut it).
pub struct PrefixedBody {
    head: Option<Bytes>,
    rest: Option<Body>,
    failed: Option<BoxError>,
}

impl http_body::Body for PrefixedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(head) = self.head.take()
            && !head.is_empty()
        {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if let Some(e) = self.failed.take() {
            return Poll::Ready(Some(Err(e)));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.as_ref().is_none_or(Bytes::is_empty)
            && self.failed.is_none()
            && self.rest.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        match &self.rest {
            None => SizeHint::with_exact(head),
            Some(rest) => {
                let inner = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + head);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + head);
                }
                hint
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn finds_the_id_and_passes_every_byte() {
        let (id, body) =
            authoritative_id(crate::body::full(r#"{"id":413,"total":1.98}"#), "/id").await;
        assert_eq!(id.as_deref(), Some("413"));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], br#"{"id":413,"total":1.98}"#);
        let (id, _) = authoritative_id(crate::body::full(r#"{"id":"A-7"}"#), "/id").await;
        assert_eq!(id.as_deref(), Some("A-7"));
        let (id, body) = authoritative_id(crate::body::full("not json"), "/id").await;
        assert_eq!(id, None);
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"not json");
    }
}
