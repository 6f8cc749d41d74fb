//! Header comparison: the headers the rules select, names case-insensitive, values exact
//! except `content-type`, whose type is case-insensitive and parameters order- and
//! space-insensitive (RFC 9110 §8.3.1).

use super::difference::{Collector, DiffKind};
use super::render::truncate;
use super::rules::DiffRules;
use std::collections::BTreeMap;

/// Values of the compared headers by lower-case name, in order of appearance, trimmed.
fn select<'h>(
    rules: &DiffRules,
    headers: &'h [(String, String)],
) -> BTreeMap<String, Vec<&'h str>> {
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in headers {
        if rules.compares_header(name) {
            out.entry(name.to_ascii_lowercase()).or_default().push(value.trim());
        }
    }
    out
}

/// Records a `Header` difference, field `header:<name>`, for each compared header whose values
/// differ or that is present on one side only (the absent side is `None`).
pub(crate) fn compare_headers(
    rules: &DiffRules,
    primary: &[(String, String)],
    secondary: &[(String, String)],
    out: &mut Collector,
) {
    let (p, s) = (select(rules, primary), select(rules, secondary));
    let mut names: Vec<&String> =
        p.keys().chain(s.keys().filter(|k| !p.contains_key(*k))).collect();
    names.sort_unstable();
    for name in names {
        let (pv, sv) = (p.get(name).map(|v| v.join(", ")), s.get(name).map(|v| v.join(", ")));
        let same = match (&pv, &sv) {
            (Some(a), Some(b)) if name == "content-type" => {
                normalize_content_type(a) == normalize_content_type(b)
            }
            (a, b) => a == b,
        };
        if !same {
            let field = format!("header:{name}");
            out.push(field.clone(), DiffKind::Header, || {
                (field, pv.as_deref().map(truncate), sv.as_deref().map(truncate), None)
            });
        }
    }
}

/// `Application/JSON ; Charset="UTF-8"` → `application/json; charset=utf-8`: type, subtype and
/// parameter names in lower case (case-insensitive by RFC 9110), quotes around a parameter
/// value removed, `charset` value in lower case (case-insensitive too), parameters sorted.
pub(crate) fn normalize_content_type(value: &str) -> String {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut params: Vec<String> = parts
        .filter_map(|param| {
            let param = param.trim();
            if param.is_empty() {
                return None;
            }
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            let value =
                if name == "charset" { value.to_ascii_lowercase() } else { value.to_owned() };
            Some(format!("{name}={value}"))
        })
        .collect();
    params.sort_unstable();
    std::iter::once(essence).chain(params).collect::<Vec<_>>().join("; ")
}

/// True if a `content-type` value names JSON: `application/json`, `text/json` or `*/*+json`.
pub(crate) fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    fn diff(rules: &DiffRules, p: &[(&str, &str)], s: &[(&str, &str)]) -> Vec<String> {
        let mut out = Collector::default();
        compare_headers(rules, &h(p), &h(s), &mut out);
        out.finish().differences.into_iter().map(|d| d.field).collect()
    }

    #[test]
    fn content_type_parameters_order_case_and_space_do_not_matter() {
        assert_eq!(
            normalize_content_type(r#"Application/JSON ; Charset="UTF-8";q=1"#),
            "application/json; charset=utf-8; q=1"
        );
        let rules = DiffRules::default();
        let p = [("Content-Type", "application/json; charset=utf-8; a=b")];
        let s = [("content-type", "application/json;a=b;charset=UTF-8")];
        assert!(diff(&rules, &p, &s).is_empty());
        assert_eq!(diff(&rules, &p, &[("content-type", "text/html")]), ["header:content-type"]);
    }

    #[test]
    fn only_selected_headers_count_and_absence_is_a_difference() {
        let rules = DiffRules::new().compare_all_headers().deny_header("date");
        let p = [("Date", "Mon"), ("ETag", "\"1\""), ("X-A", "1")];
        let s = [("date", "Tue"), ("X-B", "1"), ("etag", "\"1\"")];
        assert_eq!(diff(&rules, &p, &s), ["header:x-a", "header:x-b"]);
        assert!(diff(&DiffRules::default(), &p, &s).is_empty());
    }

    #[test]
    fn json_media_types_are_recognised() {
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/problem+JSON"));
        assert!(!is_json_media_type("text/html"));
    }
}
