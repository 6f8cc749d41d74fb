//! JSON Pointer patterns (RFC 6901 with a `*` wildcard segment) and the concrete path segments
//! they are matched against.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One step of a concrete path inside a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// An object member, by its (unescaped) key.
    Key(&'a str),
    /// An element of an array compared by position, 0-based.
    Index(usize),
    /// An element of an array compared as a set keyed by a field: `field` is the key field's
    /// name, `value` the key's canonical JSON rendering (`7`, `"A-7"`). Written `[id=7]`.
    Keyed { field: &'a str, value: String },
}

impl Segment<'_> {
    /// True for array elements (positional or keyed): they count as `*` in a field path.
    pub fn is_element(&self) -> bool {
        !matches!(self, Segment::Key(_))
    }

    /// Appends the RFC 6901 escaped text of this segment (`~` → `~0`, `/` → `~1`).
    pub(crate) fn write_escaped(&self, out: &mut String) {
        match self {
            Segment::Key(key) => escape_into(key, out),
            Segment::Index(i) => out.push_str(&i.to_string()),
            Segment::Keyed { field, value } => {
                out.push('[');
                escape_into(field, out);
                out.push('=');
                escape_into(value, out);
                out.push(']');
            }
        }
    }
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// A pattern over JSON paths: an RFC 6901 pointer whose segment `*` matches any object key or
/// array element. `""` is the whole document. See [`PointerPattern::matches`] for what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PointerPattern {
    /// The text as written, kept for messages and serialization.
    source: String,
    segments: Vec<PatternSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PatternSegment {
    Any,
    /// Unescaped literal text.
    Literal(String),
}

/// A pointer pattern that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is neither empty nor starts with `/`.
    #[error(
        "JSON pointer pattern `{pattern}` must start with `/` (RFC 6901), e.g. `/items/*/updated_at`"
    )]
    MissingLeadingSlash { pattern: String },
    /// A `~` not followed by `0` or `1`; `offset` is its byte offset in the pattern.
    #[error(
        "JSON pointer pattern `{pattern}`: `~` at byte {offset} must be followed by `0` (for `~`) \
         or `1` (for `/`)"
    )]
    BadEscape { pattern: String, offset: usize },
}

impl PointerPattern {
    /// Parses `/a/*/b`: segments separated by `/`, `~1` unescapes to `/` and `~0` to `~`, a
    /// segment exactly `*` is the wildcard. `""` is the whole document.
    ///
    /// Errors: [`PatternError::MissingLeadingSlash`], [`PatternError::BadEscape`].
    pub fn parse(pattern: &str) -> Result<PointerPattern, PatternError> {
        if pattern.is_empty() {
            return Ok(PointerPattern { source: String::new(), segments: Vec::new() });
        }
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(PatternError::MissingLeadingSlash { pattern: pattern.to_owned() });
        };
        let mut segments = Vec::new();
        let mut offset = 1;
        for raw in rest.split('/') {
            segments.push(if raw == "*" {
                PatternSegment::Any
            } else {
                PatternSegment::Literal(unescape(raw, pattern, offset)?)
            });
            offset += raw.len() + 1;
        }
        Ok(PointerPattern { source: pattern.to_owned(), segments })
    }

    /// Number of segments (`/a/*` has 2; `""` has 0).
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// True for `""`, the whole document.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// True if the pattern points at `path` or at one of its ancestors: a pattern covers the
    /// value it points at and everything below it (`/meta` matches `/meta/etag`).
    pub fn matches(&self, path: &[Segment<'_>]) -> bool {
        path.len() >= self.len() && self.matches_exactly(&path[..self.len()])
    }

    /// True if the pattern points exactly at `path` (same length, every segment matching).
    pub fn matches_exactly(&self, path: &[Segment<'_>]) -> bool {
        path.len() == self.len() && self.segments.iter().zip(path).all(|(p, s)| p.matches(s))
    }
}

impl PatternSegment {
    fn matches(&self, segment: &Segment<'_>) -> bool {
        let PatternSegment::Literal(text) = self else { return true };
        match segment {
            Segment::Key(key) => text == key,
            // RFC 6901 indices have no leading zeros: `03` does not match element 3.
            Segment::Index(i) => {
                (text == "0" || !text.starts_with('0')) && text.parse::<usize>().ok() == Some(*i)
            }
            Segment::Keyed { field, value } => text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.strip_prefix(*field))
                .and_then(|t| t.strip_prefix('='))
                .is_some_and(|v| v == value),
        }
    }
}

fn unescape(raw: &str, pattern: &str, offset: usize) -> Result<String, PatternError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '0')) => out.push('~'),
            Some((_, '1')) => out.push('/'),
            _ => {
                let offset = offset + i;
                return Err(PatternError::BadEscape { pattern: pattern.to_owned(), offset });
            }
        }
    }
    Ok(out)
}

impl fmt::Display for PointerPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for PointerPattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PointerPattern::parse(s)
    }
}

impl TryFrom<String> for PointerPattern {
    type Error = PatternError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PointerPattern::parse(&s)
    }
}

impl From<PointerPattern> for String {
    fn from(p: PointerPattern) -> String {
        p.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PointerPattern {
        PointerPattern::parse(s).unwrap()
    }

    #[test]
    fn wildcard_matches_keys_indices_and_keyed_elements() {
        let pat = p("/items/*/updated_at");
        let keyed = Segment::Keyed { field: "id", value: "7".into() };
        assert!(pat.matches(&[
            Segment::Key("items"),
            Segment::Index(3),
            Segment::Key("updated_at")
        ]));
        assert!(pat.matches(&[Segment::Key("items"), keyed, Segment::Key("updated_at")]));
        assert!(pat.matches(&[
            Segment::Key("items"),
            Segment::Key("x"),
            Segment::Key("updated_at")
        ]));
        assert!(!pat.matches(&[Segment::Key("items"), Segment::Index(3), Segment::Key("price")]));
        assert!(!pat.matches(&[Segment::Key("items"), Segment::Index(3)]));
    }

    #[test]
    fn a_pattern_covers_everything_below_but_matches_exactly_only_itself() {
        let pat = p("/meta");
        let below = [Segment::Key("meta"), Segment::Key("etag")];
        assert!(pat.matches(&below));
        assert!(!pat.matches_exactly(&below));
        assert!(p("").matches(&below));
        assert!(p("").matches(&[]));
    }

    #[test]
    fn literals_are_unescaped_and_indices_have_no_leading_zero() {
        assert!(p("/a~1b/m~0n").matches(&[Segment::Key("a/b"), Segment::Key("m~n")]));
        assert!(p("/3").matches(&[Segment::Index(3)]));
        assert!(p("/3").matches(&[Segment::Key("3")]));
        assert!(!p("/03").matches(&[Segment::Index(3)]));
        assert!(p("/0").matches(&[Segment::Index(0)]));
        let keyed = Segment::Keyed { field: "id", value: "\"A-7\"".into() };
        assert!(p("/[id=\"A-7\"]").matches(std::slice::from_ref(&keyed)));
        assert!(!p("/[id=7]").matches(&[keyed]));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            PointerPattern::parse("items/*").unwrap_err().to_string(),
            "JSON pointer pattern `items/*` must start with `/` (RFC 6901), e.g. `/items/*/updated_at`"
        );
        assert_eq!(
            PointerPattern::parse("/a/b~2c").unwrap_err(),
            PatternError::BadEscape { pattern: "/a/b~2c".into(), offset: 4 }
        );
        assert!(matches!(PointerPattern::parse("/a~"), Err(PatternError::BadEscape { .. })));
    }

    #[test]
    fn serde_round_trips_through_the_text() {
        let pat = p("/lines/*/id");
        let json = serde_json::to_string(&pat).unwrap();
        assert_eq!(json, "\"/lines/*/id\"");
        assert_eq!(serde_json::from_str::<PointerPattern>(&json).unwrap(), pat);
        assert!(serde_json::from_str::<PointerPattern>("\"nope\"").is_err());
    }
}
