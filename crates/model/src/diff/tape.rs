//! A JSON document parsed into one flat tape for [`super::equal`]: a hand-written
//! recursive-descent parser (RFC 8259) that borrows every string and number from the
//! document, stores each object's entries sorted by key in one shared list, and allocates
//! three vectors per document instead of a vector per object and array.
//!
//! It accepts exactly what `serde_json::from_slice::<Value>` accepts (same grammar, UTF-8,
//! nesting limit of 128, finite numbers), so that "both parse and are equal here" implies the
//! full diff parses both too; where it cannot tell (duplicate keys, which `serde_json` keeps
//! the last of) it refuses the document.

use std::borrow::Cow;

/// Deepest nesting accepted (`serde_json`'s recursion limit).
const MAX_DEPTH: usize = 128;

/// One value on the tape. Containers hold where their subtree ends (the index after its
/// last token), so a whole subtree can be skipped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Null,
    True,
    False,
    /// The number's text as written (validated, finite as an `f64`).
    Num(&'a [u8]),
    /// The string's UTF-8 bytes (decoded when it has escapes).
    Str(Cow<'a, [u8]>),
    /// `len` elements follow, the subtree ends at `end`.
    Arr {
        len: u32,
        end: u32,
    },
    /// Entries `entries` of [`Tape::entries`] (sorted by key), the subtree ends at `end`.
    Obj {
        entries: (u32, u32),
        end: u32,
    },
}

/// A parsed document: its tokens in document order and every object's entries (key, index of
/// the value's token), each object's run sorted by key.
#[derive(Debug, Default)]
pub(crate) struct Tape<'a> {
    pub toks: Vec<Tok<'a>>,
    pub entries: Vec<(Cow<'a, [u8]>, u32)>,
}

impl<'a> Tape<'a> {
    /// The tape of `doc`, or `None` when it is not one JSON value (surrounded by optional
    /// whitespace), nests deeper than 128, holds a non-finite number or repeats a key.
    pub fn parse(doc: &'a [u8]) -> Option<Tape<'a>> {
        // One UTF-8 check for the whole document: every string slice cut at ASCII quotes is
        // then valid too.
        std::str::from_utf8(doc).ok()?;
        let mut p = Parser { doc, pos: 0, tape: Tape::default(), open: Vec::new() };
        p.tape.toks.reserve(doc.len() / 8);
        p.tape.entries.reserve(doc.len() / 16);
        p.open.reserve(32);
        p.value(0)?;
        p.ws();
        (p.pos == doc.len()).then_some(p.tape)
    }
}

struct Parser<'a> {
    doc: &'a [u8],
    pos: usize,
    tape: Tape<'a>,
    /// Entries of the objects still open, innermost last (one buffer for all of them).
    open: Vec<(Cow<'a, [u8]>, u32)>,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.doc.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.doc.get(self.pos).copied()
    }

    /// After a list item: `,` (more follow: `false`) or `close` (the list ends: `true`),
    /// consumed; anything else is not JSON.
    fn closes(&mut self, close: u8) -> Option<bool> {
        let b = self.peek()?;
        if b != b',' && b != close {
            return None;
        }
        self.pos += 1;
        Some(b == close)
    }

    fn literal(&mut self, word: &[u8], tok: Tok<'a>) -> Option<()> {
        if self.doc.get(self.pos..self.pos + word.len()) != Some(word) {
            return None;
        }
        self.pos += word.len();
        self.tape.toks.push(tok);
        Some(())
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'n' => self.literal(b"null", Tok::Null),
            b't' => self.literal(b"true", Tok::True),
            b'f' => self.literal(b"false", Tok::False),
            b'"' => {
                let s = self.string()?;
                self.tape.toks.push(Tok::Str(s));
                Some(())
            }
            b'[' => self.array(depth + 1),
            b'{' => self.object(depth + 1),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let at = self.tape.toks.len();
        self.tape.toks.push(Tok::Arr { len: 0, end: 0 });
        let mut len = 0u32;
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                self.value(depth)?;
                len += 1;
                if self.closes(b']')? {
                    break;
                }
            }
        }
        let end = u32::try_from(self.tape.toks.len()).ok()?;
        self.tape.toks[at] = Tok::Arr { len, end };
        Some(())
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let at = self.tape.toks.len();
        self.tape.toks.push(Tok::Obj { entries: (0, 0), end: 0 });
        // Nested objects' entries are gathered above this one's and moved out when they
        // close, so this object's are `open[base..]` when it closes.
        let base = self.open.len();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                if self.peek()? != b':' {
                    return None;
                }
                self.pos += 1;
                let at_value = u32::try_from(self.tape.toks.len()).ok()?;
                self.open.push((key, at_value));
                self.value(depth)?;
                if self.closes(b'}')? {
                    break;
                }
            }
        }
        let mine = &mut self.open[base..];
        // Bytes order is code point order for UTF-8, so this is the keys' order as text.
        mine.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // A repeated key: serde_json keeps the last one; not settled here.
        if mine.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        let first = u32::try_from(self.tape.entries.len()).ok()?;
        self.tape.entries.extend(self.open.drain(base..));
        let last = u32::try_from(self.tape.entries.len()).ok()?;
        let end = u32::try_from(self.tape.toks.len()).ok()?;
        self.tape.toks[at] = Tok::Obj { entries: (first, last), end };
        Some(())
    }

    /// A string at `pos` (its opening quote): borrowed when it has no escapes. Its bytes are
    /// UTF-8: the whole document was checked, and a cut at an ASCII quote keeps that.
    fn string(&mut self) -> Option<Cow<'a, [u8]>> {
        let start = self.pos + 1;
        let rest = self.doc.get(start..)?;
        // The closing quote or the first escape (SIMD search), then no control character
        // before it (a loop without early exit, which vectorises).
        let n = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[..n].iter().fold(false, |bad, &b| bad | (b < 0x20)) {
            return None;
        }
        match rest[n] {
            b'"' => {
                self.pos = start + n + 1;
                Some(Cow::Borrowed(&rest[..n]))
            }
            b'\\' => self.escaped(start),
            _ => None,
        }
    }

    /// The rest of a string holding escapes, decoded.
    fn escaped(&mut self, start: usize) -> Option<Cow<'a, [u8]>> {
        let mut out: Vec<u8> = Vec::with_capacity(16);
        let mut i = start;
        loop {
            let b = *self.doc.get(i)?;
            i += 1;
            match b {
                b'"' => break,
                0x00..=0x1f => return None,
                b'\\' => {
                    let e = *self.doc.get(i)?;
                    i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut c = u32::from(self.hex4(i)?);
                            i += 4;
                            if (0xD800..0xDC00).contains(&c) {
                                // A high surrogate must be followed by an escaped low one.
                                if self.doc.get(i..i + 2) != Some(b"\\u") {
                                    return None;
                                }
                                let lo = u32::from(self.hex4(i + 2)?);
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                i += 6;
                                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            let ch = char::from_u32(c)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return None,
                    }
                }
                _ => out.push(b),
            }
        }
        self.pos = i;
        Some(Cow::Owned(out))
    }

    fn hex4(&self, at: usize) -> Option<u16> {
        let digits = self.doc.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(text, 16).ok()
    }

    /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as its text.
    fn number(&mut self) -> Option<()> {
        let d = self.doc;
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while d.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if d.get(i) == Some(&b'-') {
            i += 1;
        }
        match d.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return None,
        }
        let mut plain = true;
        if d.get(i) == Some(&b'.') {
            i += 1;
            plain = false;
            if !digits(&mut i) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = d.get(i) {
            i += 1;
            plain = false;
            if let Some(b'+' | b'-') = d.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        let text = &d[start..i];
        // serde_json refuses numbers beyond f64's range (an integer of up to 18 digits is
        // always within it).
        if !plain || text.len() > 18 {
            let v: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
            if !v.is_finite() {
                return None;
            }
        }
        self.pos = i;
        self.tape.toks.push(Tok::Num(text));
        Some(())
    }
}
