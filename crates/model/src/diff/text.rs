//! Non-JSON bodies: UTF-8 text is compared as text and shown as a unified-diff excerpt around
//! the first difference; anything else is compared as bytes, shown by the first differing offset.

use super::difference::{Collector, DiffKind};
use super::render::{BODY, truncate};
use similar::{ChangeTag, TextDiff};
use std::fmt::Write;

/// Bytes of each text, from a little before the first difference, given to the line diff. The
/// diff never sees more, so its cost is bounded whatever the body size.
const WINDOW_BYTES: usize = 2048;
/// Unchanged lines shown around changed ones in the excerpt.
const CONTEXT_LINES: usize = 2;
/// Longest unified-diff excerpt kept in [`Difference::detail`](super::Difference::detail).
pub const MAX_DETAIL_BYTES: usize = 600;
/// Bytes shown in hex from the first differing offset of binary bodies.
const HEX_BYTES: usize = 16;

/// Compares two bodies (already cut to the compared length) as text when both are UTF-8
/// (an incomplete character at the cut is dropped), else as bytes.
pub(crate) fn compare_body(p: &[u8], s: &[u8], out: &mut Collector) {
    if p == s {
        return;
    }
    match (as_text(p), as_text(s)) {
        (Some(a), Some(b)) if a != b => text(a, b, out),
        _ => bytes(p, s, out),
    }
}

fn as_text(body: &[u8]) -> Option<&str> {
    match std::str::from_utf8(body) {
        Ok(text) => Some(text),
        // Only the last character is incomplete: the cut fell inside it.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&body[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn text(a: &str, b: &str, out: &mut Collector) {
    let mut first = common_prefix(a.as_bytes(), b.as_bytes());
    // Both sides share the bytes before `first`, so a boundary in one is one in the other.
    while !a.is_char_boundary(first) {
        first -= 1;
    }
    let line_start = a[..first].rfind('\n').map_or(0, |i| i + 1);
    let line = a[..first].matches('\n').count() + 1;
    let column = a[line_start..first].chars().count() + 1;
    let mut start = line_start;
    for _ in 0..CONTEXT_LINES {
        start = a[..start.saturating_sub(1)].rfind('\n').map_or(0, |i| i + 1);
    }
    let (wa, wb) = (window(a, start, first), window(b, start, first));
    let mut detail = format!("first difference at line {line}, column {column}:\n");
    excerpt(wa, wb, &mut detail);
    let line_of = |t: &str| truncate(t[line_start..].lines().next().unwrap_or_default());
    out.push(BODY.to_owned(), DiffKind::Body, || {
        (BODY.to_owned(), Some(line_of(a)), Some(line_of(b)), Some(detail))
    });
}

/// `text[start..]`, at most [`WINDOW_BYTES`] past `first`, cut on a character boundary.
fn window(text: &str, start: usize, first: usize) -> &str {
    let mut end = text.len().min(first + WINDOW_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end]
}

/// Unified-diff lines (`-` primary, `+` secondary, ` ` both) of the first changes, without hunk
/// headers (line numbers of a window would mislead), cut to [`MAX_DETAIL_BYTES`].
fn excerpt(a: &str, b: &str, out: &mut String) {
    let limit = out.len() + MAX_DETAIL_BYTES;
    let diff = TextDiff::from_lines(a, b);
    for op in diff.grouped_ops(CONTEXT_LINES).iter().flatten() {
        for change in diff.iter_changes(op) {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let value = change.value();
            let _ = writeln!(out, "{sign}{}", value.strip_suffix('\n').unwrap_or(value));
            if out.len() > limit {
                let mut cut = limit;
                while !out.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.truncate(cut);
                out.push('…');
                return;
            }
        }
    }
    // The last line's newline is noise in a one-field report.
    if out.ends_with('\n') {
        out.pop();
    }
}

fn bytes(p: &[u8], s: &[u8], out: &mut Collector) {
    let first = common_prefix(p, s);
    let side = |b: &[u8]| {
        let rest = &b[first..];
        let mut hex = String::new();
        for byte in rest.iter().take(HEX_BYTES) {
            let _ = write!(hex, " {byte:02x}");
        }
        if rest.len() > HEX_BYTES {
            hex.push_str(" …");
        }
        if rest.is_empty() {
            hex.push_str(" (end)");
        }
        format!("{} bytes; from byte {first}:{hex}", b.len())
    };
    out.push(BODY.to_owned(), DiffKind::Body, || {
        let detail = format!("binary bodies differ from byte {first}");
        (BODY.to_owned(), Some(side(p)), Some(side(s)), Some(detail))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(p: &[u8], s: &[u8]) -> super::super::Difference {
        let mut c = Collector::default();
        compare_body(p, s, &mut c);
        let mut out = c.finish();
        assert_eq!(out.differences.len(), 1);
        out.differences.remove(0)
    }

    #[test]
    fn text_shows_the_differing_lines_and_an_excerpt() {
        let d =
            one(b"<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n", b"<ul>\n<li>a</li>\n<li>c</li>\n</ul>\n");
        assert_eq!((d.field.as_str(), d.kind), ("body", DiffKind::Body));
        assert_eq!(d.primary.as_deref(), Some("<li>b</li>"));
        assert_eq!(d.secondary.as_deref(), Some("<li>c</li>"));
        assert_eq!(
            d.detail.as_deref(),
            Some(
                "first difference at line 3, column 5:\n <ul>\n <li>a</li>\n-<li>b</li>\n+<li>c</li>\n </ul>"
            )
        );
    }

    #[test]
    fn the_excerpt_is_capped_even_for_huge_different_texts() {
        let a = "x\n".repeat(100_000);
        let b = "y\n".repeat(100_000);
        let d = one(a.as_bytes(), b.as_bytes());
        let detail = d.detail.unwrap();
        assert!(detail.len() <= MAX_DETAIL_BYTES + 60, "{}", detail.len());
        assert!(detail.ends_with('…'));
    }

    #[test]
    fn binary_reports_the_first_differing_byte_and_lengths() {
        let d = one(&[0x89, 0x50, 0xff, 0x00], &[0x89, 0x50, 0xfe]);
        assert_eq!(d.primary.as_deref(), Some("4 bytes; from byte 2: ff 00"));
        assert_eq!(d.secondary.as_deref(), Some("3 bytes; from byte 2: fe"));
        let prefix = one(&[0xff, 1], &[0xff]);
        assert_eq!(prefix.secondary.as_deref(), Some("1 bytes; from byte 1: (end)"));
    }

    #[test]
    fn a_character_cut_at_the_cap_is_not_mistaken_for_binary_nor_hidden() {
        // "é" is c3 a9; cut after c3 on one side and after c4 on the other.
        let d = one(b"ab\xc3", b"ab\xc4");
        assert_eq!(d.detail.as_deref(), Some("binary bodies differ from byte 2"));
        let mut c = Collector::default();
        compare_body(b"ab\xc3", b"ab\xc3", &mut c);
        assert!(c.finish().is_match());
    }
}
