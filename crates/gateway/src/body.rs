//! Body types of the gateway: one boxed, streaming body type for both directions.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};

/// Error carried by a streaming body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the gateway serves and sends upstream: streamed, never buffered whole.
pub type Body = BoxBody<Bytes, BoxError>;

/// A body with fixed bytes (problem documents).
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}
