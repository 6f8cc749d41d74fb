//! Cutting a response body out of the bytes read from the upstream: by length, by chunks
//! (RFC 9112 §7.1, chunk sizes parsed by `httparse`), or up to the connection's close.
//! Pure and incremental: it is fed whatever has arrived and says what it can hand on.

use super::H1Error;
use super::response::Framing;
use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk-size line (size and extensions) accepted, in bytes.
const MAX_CHUNK_LINE: usize = 4096;
/// Most bytes of trailer fields accepted (they are read and dropped).
const MAX_TRAILERS: usize = 16 * 1024;

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many body bytes are still due (`Content-Length`).
    Length(u64),
    /// A chunk-size line is next.
    ChunkSize,
    /// This many bytes of the current chunk are still due.
    ChunkData(u64),
    /// The CRLF after a chunk's data is next.
    ChunkEnd,
    /// Trailer fields, up to an empty line; this many trailer bytes were seen so far.
    Trailers(usize),
    /// Everything until the connection closes.
    UntilClose,
    /// The body is complete.
    Done,
}

/// What the decoder can hand on from the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Body bytes.
    Data(Bytes),
    /// More bytes must be read first.
    NeedMore,
    /// The body is complete.
    End,
}

/// An incremental body decoder.
#[derive(Debug)]
pub(crate) struct Decoder {
    state: State,
}

impl Decoder {
    pub(crate) fn new(framing: Framing) -> Decoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Decoder { state }
    }

    /// Whether the whole body has been handed on.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the body ends when the upstream closes the connection.
    pub(crate) fn until_close(&self) -> bool {
        self.state == State::UntilClose
    }

    /// Body bytes still due, when the framing says (for the size hint).
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// The body's size hint: exact when the framing says how much is still due.
    pub(crate) fn size_hint(&self) -> http_body::SizeHint {
        match self.remaining() {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }

    /// Hand on the next piece of the body from `buf` (taking what it uses off the front).
    ///
    /// # Errors
    /// [`H1Error::Malformed`] for bad chunk framing.
    pub(crate) fn step(&mut self, buf: &mut BytesMut) -> Result<Step, H1Error> {
        loop {
            match self.state {
                State::Done => return Ok(Step::End),
                State::Length(left) | State::ChunkData(left) => {
                    if buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = match self.state {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                    // Reach `Done` now if the chunked body's end is already here, so the
                    // frame's receiver learns the body ended without another read.
                    self.settle(buf)?;
                    return Ok(Step::Data(data));
                }
                State::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                State::ChunkSize | State::ChunkEnd | State::Trailers(_) => {
                    if !self.framing_step(buf)? {
                        return Ok(Step::NeedMore);
                    }
                }
            }
        }
    }

    /// Move through chunk framing that is already in `buf`, up to data or the end.
    fn settle(&mut self, buf: &mut BytesMut) -> Result<(), H1Error> {
        while matches!(self.state, State::ChunkSize | State::ChunkEnd | State::Trailers(_)) {
            if !self.framing_step(buf)? {
                break;
            }
        }
        Ok(())
    }

    /// One step through chunk framing; `false` when it needs more bytes.
    fn framing_step(&mut self, buf: &mut BytesMut) -> Result<bool, H1Error> {
        match self.state {
            State::ChunkSize => match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.advance(used);
                    self.state =
                        if size == 0 { State::Trailers(0) } else { State::ChunkData(size) };
                    Ok(true)
                }
                Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => {
                    Err(H1Error::Malformed("chunk-size line too long".to_owned()))
                }
                Ok(httparse::Status::Partial) => Ok(false),
                Err(_) => Err(H1Error::Malformed("invalid chunk size".to_owned())),
            },
            State::ChunkEnd => {
                if buf.len() < 2 {
                    return Ok(false);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(H1Error::Malformed("chunk data longer than its size".to_owned()));
                }
                buf.advance(2);
                self.state = State::ChunkSize;
                Ok(true)
            }
            State::Trailers(seen) => {
                let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
                    if seen + buf.len() > MAX_TRAILERS {
                        return Err(H1Error::Malformed("trailer section too large".to_owned()));
                    }
                    return Ok(false);
                };
                buf.advance(eol + 2);
                // An empty line ends the trailer section, and the body.
                self.state = if eol == 0 { State::Done } else { State::Trailers(seen + eol + 2) };
                if seen + eol + 2 > MAX_TRAILERS {
                    return Err(H1Error::Malformed("trailer section too large".to_owned()));
                }
                Ok(true)
            }
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `wire` to a decoder in pieces of `piece` bytes; the body and whether it ended.
    fn decode(
        framing: Framing,
        wire: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, bool, Vec<u8>), H1Error> {
        let mut d = Decoder::new(framing);
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut pieces = wire.chunks(piece.max(1));
        loop {
            match d.step(&mut buf)? {
                Step::Data(b) => body.extend_from_slice(&b),
                Step::End => return Ok((body, true, buf.to_vec())),
                Step::NeedMore => match pieces.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return Ok((body, false, buf.to_vec())),
                },
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_sizes() {
        let wire = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\nNEXT";
        for piece in [1, 2, 3, 7, 64] {
            let (body, ended, rest) = decode(Framing::Chunked, wire, piece).unwrap();
            assert_eq!(body, b"hello 0123456789", "piece {piece}");
            assert!(ended);
            // Bytes after the body are left for whoever reads next (here: a stray response).
            assert!(b"NEXT".starts_with(&rest), "piece {piece}: {rest:?}");
        }
    }

    #[test]
    fn length_bodies_stop_at_their_length() {
        let (body, ended, rest) = decode(Framing::Length(5), b"helloEXTRA", 64).unwrap();
        assert_eq!((body.as_slice(), ended, rest.as_slice()), (&b"hello"[..], true, &b"EXTRA"[..]));
        let (body, ended, _) = decode(Framing::Length(5), b"hel", 1).unwrap();
        assert_eq!((body.as_slice(), ended), (&b"hel"[..], false));
    }

    #[test]
    fn the_end_of_a_chunked_body_is_seen_with_its_last_data() {
        let mut d = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n0\r\n\r\n"[..]);
        assert_eq!(d.step(&mut buf).unwrap(), Step::Data(Bytes::from_static(b"abc")));
        assert!(d.is_done(), "no read needed to learn that the body ended");
    }

    #[test]
    fn bad_chunk_framing_is_an_error() {
        for wire in [&b"zz\r\nab\r\n"[..], b"2\r\nabc\r\n0\r\n\r\n", b"ffffffffffffffffff\r\n"] {
            assert!(
                decode(Framing::Chunked, wire, 64).is_err(),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let long_line = vec![b'1'; 1]
            .into_iter()
            .chain(std::iter::once(b';'))
            .chain(std::iter::repeat_n(b'e', MAX_CHUNK_LINE + 10))
            .collect::<Vec<u8>>();
        assert!(decode(Framing::Chunked, &long_line, 512).is_err());
    }

    #[test]
    fn until_close_hands_on_everything() {
        let (body, ended, _) = decode(Framing::UntilClose, b"all of it", 4).unwrap();
        assert_eq!((body.as_slice(), ended), (&b"all of it"[..], false));
    }
}
