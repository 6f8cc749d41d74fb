//! Header fields of a parsed head turned into a `HeaderMap` whose values share the head's
//! bytes (one allocation for the head instead of one copy per value, as hyper makes).

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::ops::Range;

/// Most header fields a head may carry (hyper's default too).
pub(crate) const MAX_HEADERS: usize = 100;

/// Each field's name and where its value sits in the head.
pub(crate) type Spans = Vec<(HeaderName, Range<usize>)>;

/// Where `part` sits in the head that starts at address `base` and is `len` bytes long.
/// `httparse` hands out sub-slices of the buffer it parsed; anything else would be a parser
/// bug, and is refused rather than trusted.
pub(crate) fn span_of(base: usize, len: usize, part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(base)?;
    (start + part.len() <= len).then(|| start..start + part.len())
}

/// The names and value spans of `fields`, parsed out of the head at `base` (`len` bytes).
///
/// # Errors
/// An invalid field name, or a value outside the head, described.
pub(crate) fn spans(
    base: usize,
    len: usize,
    fields: &[httparse::Header<'_>],
) -> Result<Spans, String> {
    let mut spans = Vec::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| format!("header name {:?}", field.name))?;
        let span =
            span_of(base, len, field.value).ok_or_else(|| format!("value of header {name}"))?;
        spans.push((name, span));
    }
    Ok(spans)
}

/// The header map of `head` (the head's bytes, split off the read buffer), with `room` free
/// places for fields added later.
///
/// # Errors
/// A value with bytes a header value may not hold, named.
pub(crate) fn header_map(head: &Bytes, spans: Spans, room: usize) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(spans.len() + room);
    for (name, span) in spans {
        let value = HeaderValue::from_maybe_shared(head.slice(span))
            .map_err(|_| format!("value of header {name}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}
