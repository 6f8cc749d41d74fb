//! A quick, exact test that two JSON documents are equal — object key order ignored, numbers
//! and strings by value — over borrowed trees. Most shadowed answers agree; deciding that
//! without building two `serde_json::Value` trees (a `String` per key and per string, a B-tree
//! per object) is several times cheaper, and only documents that differ, or that this test
//! cannot settle, go on to the full structural diff.
//!
//! Sound by construction: it says "equal" only where the full diff could find no difference
//! under any rules (ignore rules, tolerances and unordered arrays only remove differences).
//! Whatever it cannot settle exactly — numbers of different kinds (`1` and `1.0`), duplicate
//! object keys, a document that does not parse — it answers "not shown equal".

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Whether `a` and `b` parse as JSON and are equal as documents. `false` means "not shown
/// equal", not "different".
pub(crate) fn json_equal(a: &[u8], b: &[u8]) -> bool {
    let (Ok(mut x), Ok(mut y)) =
        (serde_json::from_slice::<Node<'_>>(a), serde_json::from_slice::<Node<'_>>(b))
    else {
        return false;
    };
    equal(&mut x, &mut y)
}

/// A JSON value borrowing its strings from the document where it can (no escapes).
#[derive(Debug)]
enum Node<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

fn equal(a: &mut Node<'_>, b: &mut Node<'_>) -> bool {
    match (a, b) {
        (Node::Null, Node::Null) => true,
        (Node::Bool(x), Node::Bool(y)) => x == y,
        (Node::Unsigned(x), Node::Unsigned(y)) => x == y,
        (Node::Signed(x), Node::Signed(y)) => x == y,
        // Exactly equal floats only; anything else is left to the diff and its tolerance.
        (Node::Float(x), Node::Float(y)) => x.to_bits() == y.to_bits(),
        (Node::Str(x), Node::Str(y)) => x == y,
        (Node::Array(x), Node::Array(y)) => {
            x.len() == y.len() && x.iter_mut().zip(y.iter_mut()).all(|(p, q)| equal(p, q))
        }
        (Node::Object(x), Node::Object(y)) => {
            if x.len() != y.len() {
                return false;
            }
            x.sort_unstable_by(|p, q| p.0.cmp(&q.0));
            y.sort_unstable_by(|p, q| p.0.cmp(&q.0));
            // A repeated key: serde_json keeps the last one; not settled here.
            if x.windows(2).any(|w| w[0].0 == w[1].0) {
                return false;
            }
            x.iter_mut().zip(y.iter_mut()).all(|(p, q)| p.0 == q.0 && equal(&mut p.1, &mut q.1))
        }
        _ => false,
    }
}

/// A string that borrows from the document when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<Node<'de>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((Text(key), value)) = map.next_entry::<Text<'de>, Node<'de>>()? {
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

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
