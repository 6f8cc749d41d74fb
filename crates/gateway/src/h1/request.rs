//! Writing a request head for an upstream (RFC 9112 §3, origin-form target) and choosing how
//! its body is delimited.

use crate::body::Body;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http_body::Body as _;

/// How the request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body and no `Content-Length` (a GET, HEAD, DELETE… without content).
    None,
    /// `Content-Length: n`; the body must yield exactly `n` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`: a streamed body of unknown length.
    Chunked,
}

impl Framing {
    /// The framing of `body` for a request with `parts`: its exact length when known (a
    /// client's `Content-Length`), else chunked. An empty body is sent without a length, unless
    /// the method usually carries content or the client sent `Content-Length: 0` itself.
    pub(crate) fn of(parts: &Parts, body: &Body) -> Framing {
        if body.is_end_stream() {
            let method = &parts.method;
            let usual = *method == http::Method::POST
                || *method == http::Method::PUT
                || *method == http::Method::PATCH;
            return if usual || parts.headers.contains_key(header::CONTENT_LENGTH) {
                Framing::Length(0)
            } else {
                Framing::None
            };
        }
        match body.size_hint().exact() {
            Some(n) => Framing::Length(n),
            None => Framing::Chunked,
        }
    }
}

/// Append the head of `parts` to `out`: request line with the origin-form target, `Host`, the
/// headers of `parts` (without any `Host`, `Content-Length` or `Transfer-Encoding` of theirs),
/// then the framing header. Every piece is already validated by the `http` types (a method is
/// a token, a target has no spaces or controls, header values hold no CR or LF), so nothing a
/// client sent can split the head.
pub(crate) fn encode_head(parts: &Parts, host: &HeaderValue, framing: Framing, out: &mut Vec<u8>) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
    out.extend_from_slice(if target.is_empty() { b"/" } else { target.as_bytes() });
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::HOST
            || name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::None => {}
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;
    use http_body_util::BodyExt;

    fn parts(method: &str, target: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(target);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_head_has_the_request_line_host_headers_and_framing() {
        let p = parts(
            "POST",
            "/invoices/7?x=1",
            &[("host", "client.example"), ("content-length", "3"), ("x-a", "1"), ("x-a", "2")],
        );
        let mut out = Vec::new();
        encode_head(&p, &HeaderValue::from_static("127.0.0.1:9"), Framing::Length(3), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /invoices/7?x=1 HTTP/1.1\r\nhost: 127.0.0.1:9\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 3\r\n\r\n"
        );
    }

    #[test]
    fn framing_follows_the_body() {
        let empty = full("");
        assert_eq!(Framing::of(&parts("GET", "/", &[]), &empty), Framing::None);
        assert_eq!(Framing::of(&parts("POST", "/", &[]), &empty), Framing::Length(0));
        assert_eq!(
            Framing::of(&parts("DELETE", "/", &[("content-length", "0")]), &empty),
            Framing::Length(0)
        );
        assert_eq!(Framing::of(&parts("PUT", "/", &[]), &full("abc")), Framing::Length(3));
        let stream = Unsized(Some(bytes::Bytes::from_static(b"x")))
            .map_err(|never: std::convert::Infallible| -> crate::body::BoxError { match never {} })
            .boxed();
        assert_eq!(Framing::of(&parts("PUT", "/", &[]), &stream), Framing::Chunked);
    }

    /// A body whose length is not known up front (a client's chunked upload).
    struct Unsized(Option<bytes::Bytes>);

    impl http_body::Body for Unsized {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
            std::task::Poll::Ready(self.0.take().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 1024, u64::MAX] {
            let mut out = Vec::new();
            encode_head(
                &parts("PUT", "/", &[]),
                &HeaderValue::from_static("h"),
                Framing::Length(n),
                &mut out,
            );
            let head = String::from_utf8(out).unwrap();
            assert!(head.contains(&format!("\r\ncontent-length: {n}\r\n")), "{head}");
        }
    }
}
