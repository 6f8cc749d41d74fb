//! Comparison rules of one domain or route: ignored paths, numeric tolerances, unordered arrays,
//! compared headers and the cap on compared bytes.

use super::pattern::{PointerPattern, Segment};
use std::collections::BTreeSet;

/// Bodies are compared up to this many bytes unless the rules say otherwise (1 MiB).
pub const DEFAULT_MAX_COMPARED_BYTES: usize = 1024 * 1024;
/// Headers compared unless the rules say otherwise (lower case).
pub const DEFAULT_COMPARED_HEADERS: &[&str] = &["content-type"];

/// An array compared as a multiset rather than by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnorderedArray {
    /// Where the array is (matched exactly, not below).
    pub at: PointerPattern,
    /// Object field whose value identifies an element (`id`); `None` matches whole values.
    pub key: Option<String>,
}

/// How one domain's or route's answers are compared. `Default` compares everything: status,
/// the `content-type` header and the whole body (up to [`DEFAULT_MAX_COMPARED_BYTES`]), numbers
/// exactly by value, arrays by position.
///
/// Built with chained calls; the plan checker validates patterns before building:
/// ```
/// use ficus_model::diff::{DiffRules, PointerPattern};
/// let p = |s| PointerPattern::parse(s).unwrap();
/// let rules = DiffRules::new()
///     .ignore(p("/items/*/updated_at"))
///     .tolerance_at(p("/total"), 0.005)
///     .unordered_by_key(p("/lines"), "id")
///     .deny_header("date");
/// assert!(rules.compares_header("Content-Type"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRules {
    ignore: Vec<PointerPattern>,
    tolerance: f64,
    tolerances: Vec<(PointerPattern, f64)>,
    unordered: Vec<UnorderedArray>,
    all_headers: bool,
    headers: BTreeSet<String>,
    denied_headers: BTreeSet<String>,
    max_compared_bytes: usize,
}

impl Default for DiffRules {
    fn default() -> Self {
        DiffRules {
            ignore: Vec::new(),
            tolerance: 0.0,
            tolerances: Vec::new(),
            unordered: Vec::new(),
            all_headers: false,
            headers: DEFAULT_COMPARED_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            denied_headers: BTreeSet::new(),
            max_compared_bytes: DEFAULT_MAX_COMPARED_BYTES,
        }
    }
}

/// A tolerance must be a non-negative number; anything else (negative, NaN) means exact.
fn sane(tolerance: f64) -> f64 {
    if tolerance >= 0.0 { tolerance } else { 0.0 }
}

impl DiffRules {
    /// The rules that compare everything (same as `Default`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Skips the values at and below `pattern` on both sides (including a key present on
    /// one side only).
    pub fn ignore(mut self, pattern: PointerPattern) -> Self {
        self.ignore.push(pattern);
        self
    }

    /// Global absolute tolerance: numbers with `|a - b| <= tolerance` are equal. Negative or
    /// NaN means exact; `f64::INFINITY` makes every pair of numbers equal.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = sane(tolerance);
        self
    }

    /// Absolute tolerance for numbers at and below `pattern`; it replaces the global one there.
    /// When several patterns match, the first one added wins.
    pub fn tolerance_at(mut self, pattern: PointerPattern, tolerance: f64) -> Self {
        self.tolerances.push((pattern, sane(tolerance)));
        self
    }

    /// Compares the array at `pattern` as a multiset of whole values (element order ignored;
    /// elements are matched by canonical equality, so tolerances do not apply inside them).
    pub fn unordered(mut self, pattern: PointerPattern) -> Self {
        self.unordered.push(UnorderedArray { at: pattern, key: None });
        self
    }

    /// Compares the array at `pattern` as a set of objects identified by their field `key`;
    /// matched elements are then compared field by field at paths like `/lines/[id=7]/price`.
    pub fn unordered_by_key(mut self, pattern: PointerPattern, key: impl Into<String>) -> Self {
        self.unordered.push(UnorderedArray { at: pattern, key: Some(key.into()) });
        self
    }

    /// Adds a header to the compared set (case-insensitive).
    pub fn compare_header(mut self, name: &str) -> Self {
        self.headers.insert(name.to_ascii_lowercase());
        self
    }

    /// Replaces the compared set (which defaults to `content-type`); empty compares no header.
    pub fn compare_only_headers<'n>(mut self, names: impl IntoIterator<Item = &'n str>) -> Self {
        self.all_headers = false;
        self.headers = names.into_iter().map(str::to_ascii_lowercase).collect();
        self
    }

    /// Compares every header present on either side, except denied ones.
    pub fn compare_all_headers(mut self) -> Self {
        self.all_headers = true;
        self
    }

    /// Never compares this header, even if allowed (case-insensitive).
    pub fn deny_header(mut self, name: &str) -> Self {
        self.denied_headers.insert(name.to_ascii_lowercase());
        self
    }

    /// Compares bodies only up to `bytes` bytes; see [`compare`](super::compare()) for what
    /// happens to longer bodies.
    pub fn cap_compared_bytes(mut self, bytes: usize) -> Self {
        self.max_compared_bytes = bytes;
        self
    }

    /// The ignore patterns, in the order added.
    pub fn ignored(&self) -> &[PointerPattern] {
        &self.ignore
    }

    /// The unordered-array rules, in the order added.
    pub fn unordered_arrays(&self) -> &[UnorderedArray] {
        &self.unordered
    }

    /// The body comparison cap, in bytes.
    pub fn max_compared_bytes(&self) -> usize {
        self.max_compared_bytes
    }

    /// True if `path` is at or below an ignored pattern.
    pub fn is_ignored(&self, path: &[Segment<'_>]) -> bool {
        self.ignore.iter().any(|p| p.matches(path))
    }

    /// True if an ignore pattern points exactly at `path`. The JSON walk checks every node on
    /// the way down, so at each node only patterns of the same length can newly apply.
    pub(crate) fn is_ignored_here(&self, path: &[Segment<'_>]) -> bool {
        self.ignore.iter().any(|p| p.matches_exactly(path))
    }

    /// The absolute tolerance for a number at `path`: the first per-pattern tolerance that
    /// matches, else the global one.
    pub fn tolerance_for(&self, path: &[Segment<'_>]) -> f64 {
        self.tolerances.iter().find(|(p, _)| p.matches(path)).map_or(self.tolerance, |(_, t)| *t)
    }

    /// The unordered rule for the array at `path`, if any (first match wins).
    pub fn unordered_at(&self, path: &[Segment<'_>]) -> Option<&UnorderedArray> {
        self.unordered.iter().find(|u| u.at.matches_exactly(path))
    }

    /// True if the header `name` (any case) is compared.
    pub fn compares_header(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        (self.all_headers || self.headers.contains(&name)) && !self.denied_headers.contains(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PointerPattern {
        PointerPattern::parse(s).unwrap()
    }

    #[test]
    fn default_compares_content_type_only_and_everything_in_the_body() {
        let rules = DiffRules::default();
        assert!(rules.compares_header("Content-Type"));
        assert!(!rules.compares_header("date"));
        assert!(!rules.is_ignored(&[Segment::Key("a")]));
        assert_eq!(rules.tolerance_for(&[Segment::Key("a")]), 0.0);
        assert_eq!(rules.max_compared_bytes(), DEFAULT_MAX_COMPARED_BYTES);
    }

    #[test]
    fn deny_wins_over_allow_and_names_are_case_insensitive() {
        let rules = DiffRules::new().compare_all_headers().deny_header("Date");
        assert!(rules.compares_header("ETag"));
        assert!(!rules.compares_header("DATE"));
        let only = DiffRules::new().compare_only_headers(["ETag"]);
        assert!(only.compares_header("etag"));
        assert!(!only.compares_header("content-type"));
    }

    #[test]
    fn first_matching_tolerance_wins_over_the_global_one() {
        let rules = DiffRules::new()
            .tolerance(0.5)
            .tolerance_at(p("/id"), 0.0)
            .tolerance_at(p("/*"), 2.0)
            .tolerance(-1.0);
        assert_eq!(rules.tolerance_for(&[Segment::Key("id")]), 0.0);
        assert_eq!(rules.tolerance_for(&[Segment::Key("total")]), 2.0);
        assert_eq!(rules.tolerance_for(&[]), 0.0, "negative global tolerance means exact");
    }

    #[test]
    fn unordered_rules_match_the_array_itself_only() {
        let rules = DiffRules::new().unordered_by_key(p("/lines"), "id");
        assert_eq!(
            rules.unordered_at(&[Segment::Key("lines")]).unwrap().key.as_deref(),
            Some("id")
        );
        assert!(rules.unordered_at(&[Segment::Key("lines"), Segment::Index(0)]).is_none());
    }
}
