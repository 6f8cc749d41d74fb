//! Short renderings for reports: JSON paths as field and concrete pointers, values cut to
//! [`MAX_RENDERED_CHARS`].

use super::pattern::Segment;
use serde_json::Value;
use std::io;

/// Longest rendering of one side of a difference, in characters; longer ones end in `…`.
pub const MAX_RENDERED_CHARS: usize = 200;

/// The name of the whole JSON document (the empty pointer), and of a non-JSON body.
pub(crate) const BODY: &str = "body";

/// The field path a difference is counted under: array elements become `*`.
pub(crate) fn field_path(path: &[Segment<'_>]) -> String {
    if path.is_empty() {
        return BODY.to_owned();
    }
    let mut out = String::new();
    for segment in path {
        out.push('/');
        if segment.is_element() {
            out.push('*');
        } else {
            segment.write_escaped(&mut out);
        }
    }
    out
}

/// The concrete pointer: `/items/3/price`, `/lines/[id=7]/unit_price`.
pub(crate) fn concrete_path(path: &[Segment<'_>]) -> String {
    if path.is_empty() {
        return BODY.to_owned();
    }
    let mut out = String::new();
    for segment in path {
        out.push('/');
        segment.write_escaped(&mut out);
    }
    out
}

/// Cuts `text` to [`MAX_RENDERED_CHARS`] characters, adding `…` when it was longer.
pub(crate) fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_RENDERED_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Compact JSON of `value`, cut to [`MAX_RENDERED_CHARS`]. Serialization stops as soon as
/// enough is written, so a huge subtree costs no more than a small one.
pub(crate) fn render_value(value: &Value) -> String {
    // 4 bytes per char is the UTF-8 maximum; one more char tells us the text was longer.
    let mut w = Bounded { buf: Vec::new(), limit: (MAX_RENDERED_CHARS + 1) * 4 };
    // An error only means the limit was reached; what was written so far is what we want.
    let _ = serde_json::to_writer(&mut w, value);
    let text = match std::str::from_utf8(&w.buf) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&w.buf[..e.valid_up_to()]).unwrap_or_default(),
    };
    let out = truncate(text);
    if w.buf.len() >= w.limit && !out.ends_with('…') { out + "…" } else { out }
}

struct Bounded {
    buf: Vec<u8>,
    limit: usize,
}

impl io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.buf.len();
        if room == 0 {
            return Err(io::Error::other("rendering limit reached"));
        }
        let n = room.min(bytes.len());
        self.buf.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_render_as_fields_and_concrete_pointers() {
        let keyed = Segment::Keyed { field: "id", value: "\"a/b\"".into() };
        let path = [Segment::Key("lines"), keyed, Segment::Key("unit~price")];
        assert_eq!(field_path(&path), "/lines/*/unit~0price");
        assert_eq!(concrete_path(&path), "/lines/[id=\"a~1b\"]/unit~0price");
        assert_eq!(field_path(&[Segment::Key("items"), Segment::Index(3)]), "/items/*");
        assert_eq!(concrete_path(&[]), "body");
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        assert_eq!(render_value(&json!({"a": [1, "x"]})), r#"{"a":[1,"x"]}"#);
        let long = render_value(&json!(vec!["é"; 1000]));
        assert_eq!(long.chars().count(), MAX_RENDERED_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
