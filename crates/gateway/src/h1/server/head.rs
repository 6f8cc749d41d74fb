//! A client's request head (RFC 9112 §3, parsed by `httparse`) and how its body is delimited
//! (RFC 9112 §6.1–6.3). Pure: bytes in, a request head or a refusal out.

use crate::h1::fields::{self, MAX_HEADERS};
use crate::h1::response::{Framing, codings, content_length, persistent};
use bytes::BytesMut;
use http::{HeaderMap, Method, Request, StatusCode, Uri, Version, header};

/// Largest request head accepted, in bytes (request line and header fields).
pub(crate) const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// Places kept free in each request's header map for the fields the gateway adds (request id,
/// `X-Forwarded-*`, `Forwarded`, `traceparent`), so the map is not grown per request.
const ADDED_FIELDS: usize = 8;

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub parts: http::request::Parts,
    /// How the body is delimited: [`Framing::Empty`], [`Framing::Length`] or
    /// [`Framing::Chunked`] (a request body never runs to the close).
    pub framing: Framing,
    /// Whether the client lets the connection carry another request (RFC 9112 §9.3).
    pub keep_alive: bool,
    /// `Expect: 100-continue` (RFC 9110 §10.1.1).
    pub expect_continue: bool,
}

/// A head the gateway will not serve: answered with `status` and `detail`, then the connection
/// is closed (after a framing error the next request's start cannot be known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub detail: String,
}

impl Refusal {
    fn bad(detail: impl Into<String>) -> Refusal {
        Refusal { status: StatusCode::BAD_REQUEST, detail: detail.into() }
    }
}

/// Take one request head off the front of `buf`; `Ok(None)` while it is incomplete.
///
/// # Errors
/// A [`Refusal`]: 400 for a head that is not HTTP/1.x or whose framing is invalid or
/// ambiguous, 431 for a head over [`MAX_REQUEST_HEAD_BYTES`] or with more than 100 fields,
/// 501 for a transfer coding other than `chunked`, 505 for an HTTP version other than 1.x.
pub(crate) fn parse_request(buf: &mut BytesMut) -> Result<Option<RequestHead>, Refusal> {
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) if len > MAX_REQUEST_HEAD_BYTES => {
            return Err(too_large());
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_HEAD_BYTES => {
            return Err(too_large());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal {
                status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                detail: format!("more than {MAX_HEADERS} header fields"),
            });
        }
        Err(httparse::Error::Version) if names_a_version(buf) => {
            return Err(Refusal {
                status: StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                detail: "only HTTP/1.0, HTTP/1.1 and h2c with prior knowledge are served".into(),
            });
        }
        Err(e) => return Err(Refusal::bad(format!("request head: {e}"))),
    };
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| Refusal::bad("request method"))?;
    let version = if req.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let base = buf.as_ptr() as usize;
    let target = fields::span_of(base, len, req.path.unwrap_or("").as_bytes())
        .ok_or_else(|| Refusal::bad("request target"))?;
    let spans = fields::spans(base, len, req.headers).map_err(Refusal::bad)?;
    let head = buf.split_to(len).freeze();
    let uri = Uri::from_maybe_shared(head.slice(target))
        .map_err(|e| Refusal::bad(format!("request target: {e}")))?;
    let headers = fields::header_map(&head, spans, ADDED_FIELDS).map_err(Refusal::bad)?;
    let framing = framing(version, &headers)?;
    let keep_alive = persistent(version, &headers);
    let expect_continue = version == Version::HTTP_11
        && headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(RequestHead { parts, framing, keep_alive, expect_continue }))
}

/// Whether the request line ends in a well-formed HTTP version (`HTTP/d.d`), so a version
/// refused by the parser is one not served (505) rather than a malformed line (400).
fn names_a_version(buf: &[u8]) -> bool {
    let line = buf.split(|b| *b == b'\n').find(|l| !l.trim_ascii().is_empty()).unwrap_or(&[]);
    let version = line.trim_ascii().rsplit(|b| *b == b' ').next().unwrap_or(&[]);
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

fn too_large() -> Refusal {
    Refusal {
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        detail: format!("request head larger than {MAX_REQUEST_HEAD_BYTES} bytes"),
    }
}

/// How a request's body is delimited (RFC 9112 §6.1–6.3). Stricter than the RFC's minimum
/// where a proxy must be: a request carrying both `Transfer-Encoding` and `Content-Length` is
/// refused rather than read by the transfer coding (the classic request-smuggling shape, RFC
/// 9112 §11.2), as is `Transfer-Encoding` in HTTP/1.0.
fn framing(version: Version, headers: &HeaderMap) -> Result<Framing, Refusal> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if version == Version::HTTP_10 {
            return Err(Refusal::bad("transfer-encoding in an HTTP/1.0 request"));
        }
        if headers.contains_key(header::CONTENT_LENGTH) {
            return Err(Refusal::bad("both transfer-encoding and content-length"));
        }
        let codings = codings(headers);
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            [.., last] if !last.eq_ignore_ascii_case(b"chunked") => {
                Err(Refusal::bad("transfer-encoding whose last coding is not chunked"))
            }
            _ => Err(Refusal {
                status: StatusCode::NOT_IMPLEMENTED,
                detail: "transfer codings other than chunked are not supported".into(),
            }),
        };
    }
    Ok(match content_length(headers).map_err(Refusal::bad)? {
        None | Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Option<RequestHead>, Refusal> {
        parse_request(&mut BytesMut::from(raw))
    }

    fn status(raw: &str) -> StatusCode {
        parse(raw).unwrap_err().status
    }

    #[test]
    fn a_head_becomes_parts_and_leaves_the_body_in_the_buffer() {
        let mut buf = BytesMut::from(
            "POST /invoices/7?x=1 HTTP/1.1\r\nHost: shop\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 3\r\n\r\nabcGET",
        );
        let head = parse_request(&mut buf).unwrap().unwrap();
        assert_eq!(head.parts.method, Method::POST);
        assert_eq!(head.parts.uri, "/invoices/7?x=1");
        assert_eq!(head.parts.version, Version::HTTP_11);
        assert_eq!(head.parts.headers["host"], "shop");
        let xa: Vec<_> = head.parts.headers.get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert_eq!(head.framing, Framing::Length(3));
        assert!(head.keep_alive);
        assert!(!head.expect_continue);
        assert_eq!(&buf[..], b"abcGET");
    }

    #[test]
    fn partial_heads_wait_and_oversized_ones_are_refused_with_431() {
        assert!(parse("GET / HTTP/1.1\r\nhost: a\r\n").unwrap().is_none());
        let mut big = String::from("GET / HTTP/1.1\r\n");
        while big.len() <= MAX_REQUEST_HEAD_BYTES {
            big.push_str("x-pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(status(&big), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn framing_follows_rfc_9112_and_refuses_the_ambiguous() {
        let framing = |raw: &str| parse(raw).unwrap().unwrap().framing;
        assert_eq!(framing("GET / HTTP/1.1\r\n\r\n"), Framing::Empty);
        assert_eq!(framing("POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n"), Framing::Empty);
        assert_eq!(framing("POST / HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\n"), Framing::Length(5));
        assert_eq!(
            framing("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n"),
            Framing::Chunked
        );
        for (raw, want) in [
            (
                "POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            ("POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n", StatusCode::BAD_REQUEST),
            ("POST / HTTP/1.1\r\ncontent-length: 0x10\r\n\r\n", StatusCode::BAD_REQUEST),
            (
                "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            ("POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n", StatusCode::BAD_REQUEST),
            (
                "POST / HTTP/1.1\r\ntransfer-encoding: chunked, gzip\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            (
                "POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
                StatusCode::NOT_IMPLEMENTED,
            ),
            ("GET / HTTP/2.0\r\n\r\n", StatusCode::HTTP_VERSION_NOT_SUPPORTED),
            ("THIS IS NOT HTTP\r\n\r\n", StatusCode::BAD_REQUEST),
            ("GET / HTTP/1.1\r\nbad header\r\n\r\n", StatusCode::BAD_REQUEST),
            ("G\0T / HTTP/1.1\r\n\r\n", StatusCode::BAD_REQUEST),
        ] {
            assert_eq!(status(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn keep_alive_and_expect_follow_the_version() {
        let head = |raw: &str| parse(raw).unwrap().unwrap();
        assert!(head("GET / HTTP/1.1\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nconnection: Close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n").keep_alive);
        assert!(
            head("PUT / HTTP/1.1\r\nexpect: 100-Continue\r\ncontent-length: 1\r\n\r\n")
                .expect_continue
        );
        assert!(
            !head("PUT / HTTP/1.0\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n")
                .expect_continue
        );
    }

    #[test]
    fn absolute_form_targets_and_leading_empty_lines_are_accepted() {
        let head = parse("\r\nGET http://shop.example/a?b HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.parts.uri.path_and_query().map(|p| p.as_str()), Some("/a?b"));
        assert_eq!(head.parts.uri.host(), Some("shop.example"));
    }

    /// A valid request head, then some bytes of whatever follows it.
    const VALID: &[u8] =
        b"POST /invoices/7?x=1 HTTP/1.1\r\nhost: shop\r\ncontent-length: 3\r\n\r\nabc";

    proptest::proptest! {
        /// Arbitrary bytes never panic the parser; a head it takes is taken off the front of
        /// the buffer and what is left is exactly the rest of the input.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            if let Ok(Some(_)) = parse_request(&mut buf) {
                proptest::prop_assert!(bytes.ends_with(&buf));
            }
        }

        /// A valid head with one byte changed, cut short anywhere, is parsed, refused or
        /// waited for, never a panic; when the change was cut away (a prefix of the valid
        /// head), it is waited for until the head is whole, then parsed.
        #[test]
        fn damaged_heads_never_panic(at in 0..VALID.len(), byte in proptest::num::u8::ANY, cut in 0..=VALID.len()) {
            let mut bytes = VALID.to_vec();
            bytes[at] = byte;
            bytes.truncate(cut);
            let mut buf = BytesMut::from(&bytes[..]);
            let parsed = parse_request(&mut buf);
            if at >= cut || byte == VALID[at] {
                let head_end = VALID.len() - 3;
                proptest::prop_assert_eq!(matches!(parsed, Ok(Some(_))), cut >= head_end);
                proptest::prop_assert!(parsed.is_ok());
            }
        }
    }
}
