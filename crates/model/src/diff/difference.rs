//! The result of comparing two answers: a list of differences, each with the field path it is
//! counted under, the concrete place it was seen, and short renderings of both sides.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// Examples kept per field and kind in one comparison; further ones are only counted in
/// [`Comparison::omitted`], so a 100 000-element array that differs everywhere stays small.
pub const MAX_EXAMPLES_PER_FIELD: u32 = 5;

/// What kind of difference was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffKind {
    /// The status codes differ.
    Status,
    /// A compared header differs or is present on one side only.
    Header,
    /// A JSON value present only in the primary's answer.
    Missing,
    /// A JSON value present only in the secondary's answer.
    Extra,
    /// Two JSON values of the same type differ.
    Value,
    /// Two JSON values of different types (number vs string, object vs array, …).
    Type,
    /// Non-JSON bodies (text or bytes) differ.
    Body,
}

impl DiffKind {
    /// The kind seen from the other side: `Missing` ↔ `Extra`, the rest unchanged.
    pub fn mirrored(self) -> DiffKind {
        match self {
            DiffKind::Missing => DiffKind::Extra,
            DiffKind::Extra => DiffKind::Missing,
            other => other,
        }
    }

    /// Lower-case name, as in reports and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Status => "status",
            DiffKind::Header => "header",
            DiffKind::Missing => "missing",
            DiffKind::Extra => "extra",
            DiffKind::Value => "value",
            DiffKind::Type => "type",
            DiffKind::Body => "body",
        }
    }
}

/// One difference between the primary's and the secondary's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The path differences are counted under: `status`, `header:<lower-case name>`, `body`
    /// (a non-JSON body, or the JSON document as a whole), or a JSON Pointer whose array
    /// elements are `*` (`/items/*/price` for both `/items/3/price` and `/items/7/price`).
    pub field: String,
    /// The concrete place: same as `field` but with array indices (`/items/3/price`) and keyed
    /// elements (`/lines/[id=7]/unit_price`, the key as canonical JSON) spelled out.
    pub at: String,
    pub kind: DiffKind,
    /// Short rendering of the primary's value (JSON for JSON bodies, at most 200 characters
    /// then `…`); `None` when absent on that side.
    pub primary: Option<String>,
    /// Same for the secondary.
    pub secondary: Option<String>,
    /// More context when useful: a unified-diff excerpt of text bodies, the first differing
    /// byte of binary ones, the two JSON types.
    pub detail: Option<String>,
}

impl Difference {
    /// The same difference seen with primary and secondary swapped (`detail` kept as is).
    pub fn mirrored(&self) -> Difference {
        Difference {
            kind: self.kind.mirrored(),
            primary: self.secondary.clone(),
            secondary: self.primary.clone(),
            ..self.clone()
        }
    }
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Differences in a stable order: status, headers by name, then the body in document order.
    pub differences: Vec<Difference>,
    /// True when a body was longer than the rules' `max_compared_bytes` and so compared only in
    /// part (text, bytes) or not at all (JSON); see [`compare`](super::compare()).
    pub truncated: bool,
    /// Differences seen but not kept, beyond [`MAX_EXAMPLES_PER_FIELD`] per field and kind.
    pub omitted: u64,
}

impl Comparison {
    /// True when nothing differs (a truncated comparison can still match).
    pub fn is_match(&self) -> bool {
        self.differences.is_empty()
    }

    /// The distinct field paths that differ, sorted.
    pub fn fields(&self) -> BTreeSet<&str> {
        self.differences.iter().map(|d| d.field.as_str()).collect()
    }
}

impl fmt::Display for Comparison {
    /// One line per difference, `kind at: primary → secondary`, `(absent)` for a missing side,
    /// details indented below.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.differences.is_empty() {
            writeln!(f, "no differences")?;
        }
        for d in &self.differences {
            let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
            let (p, s) = (side(&d.primary), side(&d.secondary));
            writeln!(f, "{:<8} {}: {p} → {s}", d.kind.as_str(), d.at)?;
            for line in d.detail.iter().flat_map(|t| t.lines()) {
                writeln!(f, "           {line}")?;
            }
        }
        if self.omitted > 0 {
            writeln!(f, "({} more differences in the same fields not kept)", self.omitted)?;
        }
        if self.truncated {
            writeln!(f, "(body longer than max_compared_bytes: compared in part or not at all)")?;
        }
        Ok(())
    }
}

/// Builds a [`Comparison`], keeping at most [`MAX_EXAMPLES_PER_FIELD`] examples per field and
/// kind (so the set of fields and kinds is complete whatever is dropped).
#[derive(Default)]
pub(crate) struct Collector {
    out: Comparison,
    seen: HashMap<(String, DiffKind), u32>,
}

impl Collector {
    /// Records a difference; the closure builds the renderings only if the example is kept.
    pub(crate) fn push(
        &mut self,
        field: String,
        kind: DiffKind,
        build: impl FnOnce() -> (String, Option<String>, Option<String>, Option<String>),
    ) {
        let n = self.seen.entry((field.clone(), kind)).or_insert(0);
        *n += 1;
        if *n > MAX_EXAMPLES_PER_FIELD {
            self.out.omitted += 1;
            return;
        }
        let (at, primary, secondary, detail) = build();
        self.out.differences.push(Difference { field, at, kind, primary, secondary, detail });
    }

    pub(crate) fn set_truncated(&mut self) {
        self.out.truncated = true;
    }

    pub(crate) fn finish(self) -> Comparison {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collector_keeps_five_examples_per_field_and_kind_and_counts_the_rest() {
        let mut c = Collector::default();
        for i in 0..8 {
            c.push("/a/*".into(), DiffKind::Value, || (format!("/a/{i}"), None, None, None));
        }
        c.push("/a/*".into(), DiffKind::Missing, || ("/a/9".into(), None, None, None));
        let out = c.finish();
        assert_eq!(out.differences.len(), 6);
        assert_eq!(out.omitted, 3);
        assert_eq!(out.fields().into_iter().collect::<Vec<_>>(), ["/a/*"]);
    }

    #[test]
    fn mirroring_swaps_sides_and_missing_with_extra() {
        let d = Difference {
            field: "/x".into(),
            at: "/x".into(),
            kind: DiffKind::Missing,
            primary: Some("1".into()),
            secondary: None,
            detail: None,
        };
        let m = d.mirrored();
        assert_eq!((m.kind, m.primary, m.secondary), (DiffKind::Extra, None, Some("1".into())));
        assert_eq!(DiffKind::Value.mirrored(), DiffKind::Value);
    }
}
