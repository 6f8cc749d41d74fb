//! Unit tests of the JSON walk: paths, unordered arrays, tolerances, depth and size bounds.

use super::*;
use crate::diff::{Comparison, PointerPattern};
use serde_json::json;

fn p(s: &str) -> PointerPattern {
    PointerPattern::parse(s).unwrap()
}

fn diff(rules: &DiffRules, a: Value, b: Value) -> Comparison {
    let mut out = Collector::default();
    compare_json(rules, &a, &b, &mut out);
    out.finish()
}

/// `kind at` of every difference, in order.
fn brief(c: &Comparison) -> Vec<String> {
    c.differences.iter().map(|d| format!("{} {}", d.kind.as_str(), d.at)).collect()
}

#[test]
fn objects_ignore_key_order_and_report_missing_and_extra_keys() {
    let c =
        diff(&DiffRules::default(), json!({"a": 1, "b": {"c": 2}}), json!({"b": {"d": 2}, "a": 1}));
    assert_eq!(brief(&c), ["missing /b/c", "extra /b/d"]);
    assert_eq!(c.differences[0].primary.as_deref(), Some("2"));
    assert_eq!(c.differences[0].secondary, None);
}

#[test]
fn positional_arrays_count_every_index_as_one_field() {
    let c = diff(
        &DiffRules::default(),
        json!({"items": [{"p": 1}, {"p": 2}, {"p": 3}]}),
        json!({"items": [{"p": 1}, {"p": 9}]}),
    );
    assert_eq!(brief(&c), ["value /items/1/p", "missing /items/2"]);
    assert_eq!(c.fields().into_iter().collect::<Vec<_>>(), ["/items/*", "/items/*/p"]);
}

#[test]
fn type_differences_name_both_types() {
    let c = diff(&DiffRules::default(), json!({"total": 1.98}), json!({"total": "1.98"}));
    let d = &c.differences[0];
    assert_eq!((d.kind, d.detail.as_deref()), (DiffKind::Type, Some("number vs string")));
    assert_eq!((d.primary.as_deref(), d.secondary.as_deref()), (Some("1.98"), Some("\"1.98\"")));
    let root = diff(&DiffRules::default(), json!([1]), json!({"a": 1}));
    assert_eq!(brief(&root), ["type body"]);
}

#[test]
fn keyed_arrays_match_by_key_then_compare_fields() {
    let rules = DiffRules::new().unordered_by_key(p("/lines"), "id");
    let a = json!({"lines": [{"id": 7, "q": 1}, {"id": "7", "q": 1}, {"id": 8, "q": 2}, {"x": 1}]});
    let b = json!({"lines": [{"x": 1}, {"id": 8, "q": 3}, {"id": 7.0, "q": 1}, {"id": 9}]});
    let c = diff(&rules, a, b);
    assert_eq!(
        brief(&c),
        ["missing /lines/[id=\"7\"]", "value /lines/[id=8]/q", "extra /lines/[id=9]"]
    );
    assert_eq!(c.differences[1].field, "/lines/*/q");
}

#[test]
fn keyed_duplicates_pair_in_order_and_keyless_elements_fall_back_to_values() {
    let rules = DiffRules::new().unordered_by_key(p("/l"), "id");
    let c = diff(
        &rules,
        json!({"l": [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}, 5, 6]}),
        json!({"l": [6, {"id": 1, "v": "a"}, 7]}),
    );
    assert_eq!(brief(&c), ["missing /l/[id=1]", "missing /l/2", "extra /l/2"]);
}

#[test]
fn unkeyed_unordered_arrays_are_multisets() {
    let rules = DiffRules::new().unordered(p("/tags"));
    assert!(
        diff(&rules, json!({"tags": ["a", "b", "a", 1]}), json!({"tags": [1.0, "a", "b", "a"]}))
            .is_match()
    );
    let c = diff(&rules, json!({"tags": ["a", "a", "b"]}), json!({"tags": ["b", "a", "c"]}));
    assert_eq!(brief(&c), ["missing /tags/1", "extra /tags/2"]);
}

#[test]
fn ignore_rules_apply_inside_unordered_elements() {
    let rules = DiffRules::new().unordered(p("/l")).ignore(p("/l/*/at"));
    let a = json!({"l": [{"n": 1, "at": "x"}, {"n": 2, "at": "y"}]});
    let b = json!({"l": [{"n": 2, "at": "z"}, {"n": 1}]});
    assert!(diff(&rules, a, b).is_match());
}

#[test]
fn tolerance_applies_where_its_pattern_matches() {
    let rules = DiffRules::new().tolerance_at(p("/total"), 0.01);
    assert!(diff(&rules, json!({"total": 1.98}), json!({"total": 1.985})).is_match());
    let c = diff(&rules, json!({"total": 1.98, "tax": 0.1}), json!({"total": 1.98, "tax": 0.105}));
    assert_eq!(brief(&c), ["value /tax"]);
}

#[test]
fn ignore_hides_a_value_and_a_key_present_on_one_side_only() {
    let rules = DiffRules::new().ignore(p("/meta")).ignore(p("/items/*/updated_at"));
    let a = json!({"meta": {"etag": 1}, "items": [{"updated_at": 1, "p": 1}]});
    let b = json!({"items": [{"p": 1}]});
    assert!(diff(&rules, a, b).is_match());
    assert!(diff(&DiffRules::new().ignore(p("")), json!(1), json!(2)).is_match());
}

#[test]
fn a_large_positional_array_is_linear_and_keeps_few_examples() {
    let a: Vec<Value> = (0..200_000).map(|i| json!({"id": i, "p": i})).collect();
    let b: Vec<Value> = (0..200_000).map(|i| json!({"id": i, "p": i + 1})).collect();
    let c = diff(&DiffRules::default(), Value::Array(a.clone()), Value::Array(b.clone()));
    assert_eq!(c.differences.len(), MAX_EXAMPLES_PER_FIELD_USIZE);
    assert_eq!(c.omitted, 200_000 - MAX_EXAMPLES_PER_FIELD_USIZE as u64);
    let mut reversed = b;
    reversed.reverse();
    let keyed = DiffRules::new().unordered_by_key(p(""), "id");
    let c = diff(&keyed, Value::Array(a), Value::Array(reversed));
    assert_eq!(c.fields().into_iter().collect::<Vec<_>>(), ["/*/p"]);
}

const MAX_EXAMPLES_PER_FIELD_USIZE: usize = crate::diff::MAX_EXAMPLES_PER_FIELD as usize;

#[test]
fn values_below_the_depth_bound_are_compared_whole() {
    let mut a = json!({"leaf": 1, "same": [1]});
    let mut b = json!({"same": [1.0], "leaf": 1});
    for _ in 0..MAX_JSON_DEPTH {
        a = json!({"n": a});
        b = json!({"n": b});
    }
    assert!(diff(&DiffRules::default(), a.clone(), b).is_match());
    let mut c = json!({"leaf": 2, "same": [1]});
    for _ in 0..MAX_JSON_DEPTH {
        c = json!({"n": c});
    }
    let out = diff(&DiffRules::default(), a, c);
    assert_eq!(out.differences.len(), 1);
    assert_eq!(
        out.differences[0].detail.as_deref(),
        Some("nested deeper than 64 levels: compared as a whole")
    );
}
