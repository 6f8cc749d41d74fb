//! An upstream's response head (RFC 9112 §4, parsed by `httparse`) and how its body is
//! delimited (RFC 9112 §6.3).

use super::H1Error;
use super::fields::{self, MAX_HEADERS};
use bytes::BytesMut;
use http::header::{self, HeaderMap};
use http::{StatusCode, Version};

/// Largest response head accepted, in bytes.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
}

/// How the body of a response ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: a response to HEAD, or a 1xx, 204 or 304 status.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// Take one response head off the front of `buf`; `Ok(None)` while it is incomplete.
///
/// # Errors
/// [`H1Error::Malformed`] for a head that is not HTTP/1.x, and [`H1Error::HeadTooLarge`] when
/// more than [`MAX_HEAD_BYTES`] arrived without the head's end.
pub(crate) fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, H1Error> {
    let mut fields =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut fields,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(H1Error::HeadTooLarge(MAX_HEAD_BYTES));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(H1Error::Malformed(format!("more than {MAX_HEADERS} header fields")));
        }
        Err(e) => return Err(H1Error::Malformed(format!("response head: {e}"))),
    };
    let code = resp.code.unwrap_or(0);
    let status = StatusCode::from_u16(code)
        .map_err(|_| H1Error::Malformed(format!("status code {code}")))?;
    let version = if resp.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let spans =
        fields::spans(buf.as_ptr() as usize, len, resp.headers).map_err(H1Error::Malformed)?;
    let head = buf.split_to(len).freeze();
    let headers = fields::header_map(&head, spans, 0).map_err(H1Error::Malformed)?;
    Ok(Some(Head { status, version, headers }))
}

/// How `head`'s body is delimited, for a request made with HEAD or not, and whether the
/// connection may carry another exchange afterwards (the upstream did not ask to close, and
/// the framing is unambiguous). A `Content-Length` beside `Transfer-Encoding` is removed from
/// `head` (the transfer coding wins, RFC 9112 §6.3 item 3).
///
/// # Errors
/// [`H1Error::Malformed`] for an invalid or self-contradicting `Content-Length`, which a
/// proxy must treat as an unrecoverable error (RFC 9112 §6.3 item 5).
pub(crate) fn framing(head: &mut Head, head_request: bool) -> Result<(Framing, bool), H1Error> {
    let mut reusable = keep_alive(head);
    if head_request
        || head.status.is_informational()
        || head.status == StatusCode::NO_CONTENT
        || head.status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Empty, reusable));
    }
    if head.headers.contains_key(header::TRANSFER_ENCODING) {
        if head.headers.remove(header::CONTENT_LENGTH).is_some() {
            reusable = false;
        }
        // Only a final `chunked` coding delimits the body; otherwise it runs to the close.
        return Ok(match codings(&head.headers).last() {
            Some(t) if t.eq_ignore_ascii_case(b"chunked") => (Framing::Chunked, reusable),
            _ => (Framing::UntilClose, false),
        });
    }
    Ok(match content_length(&head.headers).map_err(H1Error::Malformed)? {
        Some(0) => (Framing::Empty, reusable),
        Some(n) => (Framing::Length(n), reusable),
        None => (Framing::UntilClose, false),
    })
}

/// Whether the upstream lets the connection stay open.
fn keep_alive(head: &Head) -> bool {
    persistent(head.version, &head.headers)
}

/// Whether a message of `version` with `headers` lets its connection stay open: HTTP/1.1
/// unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
pub(crate) fn persistent(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &[u8]| {
        headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    };
    if version == Version::HTTP_10 { has(b"keep-alive") } else { !has(b"close") }
}

/// The transfer codings named in `headers`' `Transfer-Encoding` fields, in order, trimmed.
pub(crate) fn codings(headers: &HeaderMap) -> Vec<&[u8]> {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The message's `Content-Length`: `None` without one; a list of equal values counts as one
/// (RFC 9110 §8.6).
///
/// # Errors
/// A value that is not a decimal number, or values that differ, described for the message.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, String> {
    let mut length: Option<u64> = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|b| *b == b',') {
            let part = part.trim_ascii();
            let n = std::str::from_utf8(part)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    format!("content-length {:?}", String::from_utf8_lossy(value.as_bytes()))
                })?;
            if length.is_some_and(|l| l != n) {
                return Err("content-length values differ".to_owned());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        let h = parse_head(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty(), "the head is taken off the buffer");
        h
    }

    #[test]
    fn partial_heads_wait_and_oversized_ones_fail() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\ncontent-le");
        assert!(parse_head(&mut buf).unwrap().is_none());
        let mut big = BytesMut::from("HTTP/1.1 200 OK\r\n");
        while big.len() <= MAX_HEAD_BYTES {
            big.extend_from_slice(b"x-pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(matches!(
            parse_head(&mut big),
            Err(H1Error::Malformed(_) | H1Error::HeadTooLarge(_))
        ));
        assert!(parse_head(&mut BytesMut::from("SSH-2.0-OpenSSH\r\n\r\n")).is_err());
    }

    #[test]
    fn the_body_after_the_head_stays_in_the_buffer() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
        let h = parse_head(&mut buf).unwrap().unwrap();
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(&buf[..], b"hi");
    }

    #[test]
    fn framing_follows_rfc_9112_section_6_3() {
        for (raw, head_req, want) in [
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", false, (Framing::Length(5), true)),
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true, (Framing::Empty, true)),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, (Framing::Empty, true)),
            (
                "HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n",
                false,
                (Framing::Empty, true),
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false, (Framing::Empty, true)),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                false,
                (Framing::Chunked, true),
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n",
                false,
                (Framing::Chunked, true),
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
                false,
                (Framing::UntilClose, false),
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", false, (Framing::UntilClose, false)),
            (
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n",
                false,
                (Framing::Length(1), false),
            ),
            ("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", false, (Framing::Length(1), false)),
            (
                "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 1\r\n\r\n",
                false,
                (Framing::Length(1), true),
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\n\r\n", false, (Framing::Length(3), true)),
        ] {
            assert_eq!(framing(&mut head(raw), head_req).unwrap(), want, "{raw:?} head={head_req}");
        }
    }

    #[test]
    fn transfer_encoding_wins_over_content_length_and_the_connection_is_not_reused() {
        let mut h =
            head("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n");
        assert_eq!(framing(&mut h, false).unwrap(), (Framing::Chunked, false));
        assert!(!h.headers.contains_key(header::CONTENT_LENGTH));
    }

    #[test]
    fn bad_content_lengths_are_errors() {
        for cl in ["abc", "-1", "3, 4", "", "1 2", "+5", "99999999999999999999999"] {
            let raw = format!("HTTP/1.1 200 OK\r\ncontent-length: {cl}\r\n\r\n");
            assert!(framing(&mut head(&raw), false).is_err(), "{cl:?}");
        }
        let two = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n";
        assert!(framing(&mut head(two), false).is_err());
    }
}
