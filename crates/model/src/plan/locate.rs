//! Finds the line of a key path in plan text, for errors found after parsing.

use super::error::line_of_offset;

/// One step of a key path.
#[derive(Debug, Clone)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The 1-based line of the value at `path`, or of its closest existing parent.
pub(crate) fn line_of(src: &str, path: &[Seg<'_>]) -> Option<usize> {
    let doc = toml_edit::Document::parse(src).ok()?;
    let mut item = doc.as_item();
    let mut best = None;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => item.get(*k),
            Seg::Index(i) => item.get(*i),
        };
        match next {
            Some(n) => {
                item = n;
                if let Some(span) = n.span() {
                    best = Some(line_of_offset(src, span.start));
                }
            }
            None => break,
        }
    }
    best
}

/// Render a path as `a.b[0].c`.
pub(crate) fn render(path: &[Seg<'_>]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}
