//! `compare`: one primary answer against one secondary answer — status, selected headers, body
//! (JSON structurally, otherwise text or bytes) — under a domain's or route's rules.

use super::difference::{Collector, Comparison, DiffKind};
use super::headers::{compare_headers, is_json_media_type};
use super::json::compare_json;
use super::rules::DiffRules;
use super::text::compare_body;
use serde_json::Value;

/// One upstream's answer as the comparer sees it: borrowed, nothing copied.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// HTTP status code.
    pub status: u16,
    /// Header name/value pairs as received (names in any case, repeated names allowed).
    pub headers: &'a [(String, String)],
    /// The whole body, as received (not decompressed by the comparer).
    pub body: &'a [u8],
}

/// Compares the primary's answer with the secondary's under `rules`. Never panics, whatever
/// the input; cost is linear in the body sizes (n log n for unordered arrays).
///
/// Differences come in this order: `status`, then compared headers by name, then the body.
///
/// The body is compared as **JSON** when a `content-type` on either side names JSON, or when
/// neither side has a `content-type` — and in both cases only if both bodies parse (else as
/// text). Otherwise as **text** if both are UTF-8, else as **bytes**.
///
/// **Cap** (`max_compared_bytes`, see [`DiffRules::cap_compared_bytes`]): text and bytes
/// longer than the cap are compared on their first `max_compared_bytes` bytes only. A JSON body
/// longer than the cap is not compared at all, because a cut document does not parse and its
/// text would differ wherever key order does; in both cases [`Comparison::truncated`] is set
/// and no difference is invented. Byte-identical bodies match whatever their size. ("JSON" here for an over-long body means: a JSON
/// `content-type`, or none on either side and both bodies starting with `{` or `[`.)
pub fn compare(rules: &DiffRules, primary: &Answer<'_>, secondary: &Answer<'_>) -> Comparison {
    let mut out = Collector::default();
    if primary.status != secondary.status {
        let (p, s) = (primary.status.to_string(), secondary.status.to_string());
        out.push("status".to_owned(), DiffKind::Status, || {
            ("status".to_owned(), Some(p), Some(s), None)
        });
    }
    compare_headers(rules, primary.headers, secondary.headers, &mut out);
    compare_bodies(rules, primary, secondary, &mut out);
    out.finish()
}

fn compare_bodies(rules: &DiffRules, p: &Answer<'_>, s: &Answer<'_>, out: &mut Collector) {
    if p.body == s.body {
        return;
    }
    let cap = rules.max_compared_bytes();
    let (pt, st) = (content_type(p.headers), content_type(s.headers));
    let typed_json = pt.is_some_and(is_json_media_type) || st.is_some_and(is_json_media_type);
    let untyped = pt.is_none() && st.is_none();
    let over_cap = p.body.len() > cap || s.body.len() > cap;
    if over_cap {
        out.set_truncated();
        let looks_json = untyped && looks_like_json(p.body) && looks_like_json(s.body);
        if !(typed_json || looks_json) {
            compare_body(&p.body[..p.body.len().min(cap)], &s.body[..s.body.len().min(cap)], out);
        }
        return;
    }
    if typed_json || untyped {
        // Most answers agree: settle that on borrowed trees before building two `Value`s.
        if super::equal::json_equal(p.body, s.body) {
            return;
        }
        // serde_json refuses nesting deeper than 128 levels: such bodies fall back to text.
        let parsed = serde_json::from_slice::<Value>(p.body)
            .and_then(|a| serde_json::from_slice::<Value>(s.body).map(|b| (a, b)));
        if let Ok((a, b)) = parsed {
            return compare_json(rules, &a, &b, out);
        }
    }
    compare_body(p.body, s.body, out);
}

fn content_type(headers: &[(String, String)]) -> Option<&str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str())
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> Vec<(String, String)> {
        vec![("content-type".to_owned(), "application/json".to_owned())]
    }

    fn answer<'a>(status: u16, headers: &'a [(String, String)], body: &'a str) -> Answer<'a> {
        Answer { status, headers, body: body.as_bytes() }
    }

    #[test]
    fn status_headers_and_body_are_reported_in_that_order() {
        let h = json();
        let other = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
        let c = compare(
            &DiffRules::default(),
            &answer(200, &h, r#"{"a":1}"#),
            &answer(500, &other, r#"{"a":2}"#),
        );
        let fields: Vec<_> = c.differences.iter().map(|d| (d.field.as_str(), d.kind)).collect();
        assert_eq!(
            fields,
            [
                ("status", DiffKind::Status),
                ("header:content-type", DiffKind::Header),
                ("/a", DiffKind::Value)
            ]
        );
    }

    #[test]
    fn untyped_bodies_are_json_when_both_parse_and_text_otherwise() {
        let none = [];
        let rules = DiffRules::default();
        assert!(
            compare(
                &rules,
                &answer(200, &none, r#"{"a":1,"b":2}"#),
                &answer(200, &none, r#"{"b":2.0,"a":1}"#)
            )
            .is_match()
        );
        let c = compare(&rules, &answer(200, &none, "1"), &answer(200, &none, "<html>"));
        assert_eq!(c.differences[0].kind, DiffKind::Body);
        let text = vec![("content-type".to_owned(), "text/plain".to_owned())];
        let c = compare(&rules, &answer(200, &text, "1"), &answer(200, &text, "1.0"));
        assert_eq!(c.differences[0].kind, DiffKind::Body, "text/plain is never parsed as JSON");
    }

    #[test]
    fn over_the_cap_text_is_compared_in_part_and_json_not_at_all() {
        let rules = DiffRules::new().cap_compared_bytes(4);
        let text = vec![("content-type".to_owned(), "text/plain".to_owned())];
        let c = compare(&rules, &answer(200, &text, "abcdXX"), &answer(200, &text, "abcdYY"));
        assert!(c.truncated && c.is_match());
        let c = compare(&rules, &answer(200, &text, "abcXXX"), &answer(200, &text, "abdYYY"));
        assert!(c.truncated && !c.is_match());
        let h = json();
        let c = compare(&rules, &answer(200, &h, r#"{"a":1}"#), &answer(200, &h, r#"{"a":2}"#));
        assert!(c.truncated && c.is_match());
        let none = [];
        let c =
            compare(&rules, &answer(200, &none, r#"{"a":1}"#), &answer(200, &none, r#"{"a":2}"#));
        assert!(c.truncated && c.is_match(), "untyped JSON-looking bodies are not cut either");
    }

    #[test]
    fn deep_nesting_neither_panics_nor_overflows() {
        let none = [];
        let deep = |n: usize, leaf: &str| format!("{}{leaf}{}", "[".repeat(n), "]".repeat(n));
        let rules = DiffRules::default();
        // Within serde_json's limit but past MAX_JSON_DEPTH: one opaque difference.
        let (a, b) = (deep(100, "1"), deep(100, "2"));
        let c = compare(&rules, &answer(200, &none, &a), &answer(200, &none, &b));
        assert_eq!(c.differences.len(), 1);
        assert_eq!(c.differences[0].field.matches('*').count(), super::super::MAX_JSON_DEPTH);
        // Past serde_json's limit: compared as text.
        let (a, b) = (deep(100_000, "1"), deep(100_000, "2"));
        let c = compare(&rules, &answer(200, &none, &a), &answer(200, &none, &b));
        assert_eq!(c.differences[0].kind, DiffKind::Body);
    }
}
