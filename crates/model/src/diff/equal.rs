//! A quick, exact test that two JSON documents are equal — object key order ignored, numbers
//! by their text, strings by value — over flat tapes ([`super::tape`]). Most shadowed answers
//! agree; deciding that without building two `serde_json::Value` trees (a `String` per key and
//! per string, a map per object) is several times cheaper, and only documents that differ, or
//! that this test cannot settle, go on to the full structural diff.
//!
//! Sound by construction: it says "equal" only where the full diff could find no difference
//! under any rules (ignore rules, tolerances and unordered arrays only remove differences).
//! Whatever it cannot settle exactly — numbers written differently (`1` and `1.0`), duplicate
//! object keys, a document that does not parse — it answers "not shown equal".

use super::tape::{Tape, Tok};

/// Whether `a` and `b` parse as JSON and are equal as documents. `false` means "not shown
/// equal", not "different".
pub(crate) fn json_equal(a: &[u8], b: &[u8]) -> bool {
    let (Some(x), Some(y)) = (Tape::parse(a), Tape::parse(b)) else {
        return false;
    };
    equal(&x, 0, &y, 0)
}

/// Whether the value at token `i` of `x` equals the one at token `j` of `y`.
fn equal(x: &Tape<'_>, i: usize, y: &Tape<'_>, j: usize) -> bool {
    match (&x.toks[i], &y.toks[j]) {
        (Tok::Null, Tok::Null) | (Tok::True, Tok::True) | (Tok::False, Tok::False) => true,
        // The same text is the same number; another text (`1` and `1.0`, `1e2` and `100`)
        // is left to the diff and its tolerance.
        (Tok::Num(p), Tok::Num(q)) => p == q,
        (Tok::Str(p), Tok::Str(q)) => p == q,
        (Tok::Arr { len: n, end: _ }, Tok::Arr { len: m, end: _ }) => {
            if n != m {
                return false;
            }
            let (mut p, mut q) = (i + 1, j + 1);
            for _ in 0..*n {
                if !equal(x, p, y, q) {
                    return false;
                }
                p = next(x, p);
                q = next(y, q);
            }
            true
        }
        (Tok::Obj { entries: (a, b), .. }, Tok::Obj { entries: (c, d), .. }) => {
            let (e, f) =
                (&x.entries[*a as usize..*b as usize], &y.entries[*c as usize..*d as usize]);
            e.len() == f.len()
                && e.iter()
                    .zip(f)
                    .all(|((k, v), (l, w))| k == l && equal(x, *v as usize, y, *w as usize))
        }
        _ => false,
    }
}

/// The index of the token after the value at `i` (past a container's subtree).
fn next(t: &Tape<'_>, i: usize) -> usize {
    match t.toks[i] {
        Tok::Arr { end, .. } | Tok::Obj { end, .. } => end as usize,
        _ => i + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::json_equal;

    #[test]
    fn equal_documents_in_any_key_order_and_spacing_are_equal() {
        assert!(json_equal(
            br#"{"a":1,"b":[true,null,"x\u00e9"],"c":{"d":-2,"e":1.5}}"#,
            br#"{ "c": { "e": 1.5, "d": -2 }, "b": [ true, null, "x\u00e9" ], "a": 1 }"#
        ));
        assert!(json_equal(br#""caf\u00e9""#, "\"café\"".as_bytes()), "escapes by value");
        assert!(json_equal(b"[]", b" [ ] "));
        assert!(json_equal(br#""\ud83d\ude00""#, "\"😀\"".as_bytes()), "surrogate pairs");
        assert!(json_equal(br#"{"k\u0041":[1.50,{}]}"#, br#"{"kA":[1.50,{}]}"#), "escaped keys");
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(json_equal(deep(128).as_bytes(), deep(128).as_bytes()));
        assert!(!json_equal(deep(129).as_bytes(), deep(129).as_bytes()), "serde_json's limit");
    }

    #[test]
    fn anything_it_cannot_settle_exactly_is_not_shown_equal() {
        for (a, b) in [
            (r#"{"a":1}"#, r#"{"a":2}"#),
            (r#"{"a":1}"#, r#"{"a":1.0}"#),
            (r#"{"a":1}"#, r#"{"a":1,"b":2}"#),
            (r#"{"a":1,"a":1}"#, r#"{"a":1,"a":1}"#),
            ("[1,2]", "[2,1]"),
            (r#"{"a":"x"}"#, r#"{"b":"x"}"#),
            ("1", "not json"),
            ("null", "false"),
            ("1e400", "1e400"),
            (r#""\ud83d""#, r#""\ud83d""#),
            ("[1,]", "[1,]"),
            ("01", "01"),
        ] {
            assert!(!json_equal(a.as_bytes(), b.as_bytes()), "{a} vs {b}");
        }
    }

    use crate::diff::{Answer, DiffRules, compare};
    use proptest::prelude::*;
    use serde_json::Value;

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::from),
            prop::sample::select(vec![0.5f64, -0.0, 0.0, 1.0, 2.5]).prop_map(Value::from),
            "[a-c\\u{e9}\"\\\\]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Text made of JSON's own pieces, so that near-misses of the grammar come up often.
    fn arb_jsonish() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\n",
            "\"",
            "\\",
            "\\u",
            "d83d",
            "de00",
            "dc00",
            "00e9",
            "a",
            "1",
            "0",
            "-",
            ".",
            "e",
            "+",
            "1e400",
            "true",
            "null",
            "fals",
            "\u{1f600}",
            "\u{0}",
            "\t",
        ]);
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The tape accepts only what serde_json accepts, and every document serde_json
        /// accepts without a repeated key.
        #[test]
        fn the_tape_accepts_what_serde_json_accepts(text in arb_jsonish(), v in arb_value()) {
            let tape = super::super::tape::Tape::parse(text.as_bytes()).is_some();
            let serde = serde_json::from_str::<Value>(&text).is_ok();
            prop_assert!(!tape || serde, "tape accepted what serde_json refuses: {text:?}");
            let doc = serde_json::to_vec_pretty(&v).unwrap();
            prop_assert!(super::super::tape::Tape::parse(&doc).is_some(), "{v}");
        }

        /// Arbitrary bytes never panic it, and the answer does not depend on the order.
        #[test]
        fn arbitrary_input_is_settled_the_same_either_way(a in arb_jsonish(), b in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(json_equal(a.as_bytes(), &b), json_equal(&b, a.as_bytes()));
            prop_assert_eq!(json_equal(a.as_bytes(), a.as_bytes()), serde_json::from_str::<Value>(&a).is_ok()
                && super::super::tape::Tape::parse(a.as_bytes()).is_some());
        }

        /// "Equal" only where the full comparer finds nothing, under the strictest rules; and
        /// every document is equal to itself pretty-printed.
        #[test]
        fn shown_equal_implies_no_difference(a in arb_value(), b in arb_value(), same in any::<bool>()) {
            let b = if same { a.clone() } else { b };
            let (x, y) = (serde_json::to_vec(&a).unwrap(), serde_json::to_vec_pretty(&b).unwrap());
            let shown = json_equal(&x, &y);
            if same {
                prop_assert!(shown, "{a} vs itself");
            }
            if shown {
                let json = [("content-type".to_owned(), "application/json".to_owned())];
                // The full walk itself (`compare` would take the shortcut).
                let walk = |p: &[u8], s: &[u8]| {
                    let (pv, sv): (Value, Value) = (serde_json::from_slice(p).unwrap(), serde_json::from_slice(s).unwrap());
                    let mut out = crate::diff::difference::Collector::default();
                    crate::diff::json::compare_json(&DiffRules::default(), &pv, &sv, &mut out);
                    out.finish()
                };
                let c = walk(&x, &y);
                prop_assert!(c.is_match(), "{a} vs {b}: {c}");
                let c = compare(&DiffRules::default(), &Answer { status: 200, headers: &json, body: &x }, &Answer { status: 200, headers: &json, body: &y });
                prop_assert!(c.is_match());
            }
        }
    }
}
