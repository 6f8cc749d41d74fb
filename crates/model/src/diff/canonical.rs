//! Numbers by value and the canonical text of a JSON value (sorted keys, normalised numbers),
//! used to match elements of unordered arrays and to compare subtrees too deep to walk.

use super::pattern::Segment;
use super::rules::DiffRules;
use serde_json::{Number, Value};
use std::fmt::Write;

/// A JSON number by value: integers exactly (also integral floats such as `1.0` or `1e0`),
/// everything else as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

/// Integral floats below this magnitude convert to `i128` exactly (2^120, well inside range).
const INT_LIMIT: f64 = 1.329_227_995_784_916e36;

fn num(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        return Num::Int(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Num::Int(i128::from(u));
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() == 0.0 && f.abs() < INT_LIMIT {
        // Exact: an integral f64 below 2^120 is representable as i128.
        Num::Int(f as i128)
    } else {
        Num::Float(f)
    }
}

/// True if `a` and `b` are equal by value, or within `tolerance` (absolute). Two integers are
/// compared exactly (no f64 rounding of big integers); otherwise in `f64`. "Integer" means
/// what serde_json keeps as one: literals within `i64`/`u64`. Longer integer literals are
/// already `f64` after parsing (serde_json without `arbitrary_precision`, a feature we do not
/// turn on because it would change number handling for the whole workspace).
pub(crate) fn numbers_equal(a: &Number, b: &Number, tolerance: f64) -> bool {
    match (num(a), num(b)) {
        (Num::Int(x), Num::Int(y)) => x == y || (x.abs_diff(y) as f64) <= tolerance,
        (x, y) => {
            let (x, y) = (as_f64(x), as_f64(y));
            x == y || (x - y).abs() <= tolerance
        }
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

/// Appends the canonical text of `value`: like compact JSON, but object keys sorted, numbers by
/// value (`1`, `1.0` and `1e0` all give `1`) and values at ignored paths left out. `path` is the
/// value's path (restored on return); ignore rules are applied below it.
pub(crate) fn canonical<'a>(
    value: &'a Value,
    path: &mut Vec<Segment<'a>>,
    rules: &DiffRules,
    out: &mut String,
) {
    match value {
        Value::Number(n) => write_number(n, out),
        Value::Array(items) => {
            out.push('[');
            let mut first = true;
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                if !rules.is_ignored_here(path) {
                    comma(&mut first, out);
                    canonical(item, path, rules, out);
                }
                path.pop();
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            let mut first = true;
            for key in keys {
                path.push(Segment::Key(key));
                if !rules.is_ignored_here(path) {
                    comma(&mut first, out);
                    write_string(key, out);
                    out.push(':');
                    canonical(&map[key.as_str()], path, rules, out);
                }
                path.pop();
            }
            out.push('}');
        }
        Value::String(s) => write_string(s, out),
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
    }
}

/// Canonical text of a key value of a keyed unordered array (no ignore rules inside keys).
pub(crate) fn canonical_key(value: &Value) -> String {
    let mut out = String::new();
    canonical(value, &mut Vec::new(), &DiffRules::default(), &mut out);
    out
}

fn comma(first: &mut bool, out: &mut String) {
    if !*first {
        out.push(',');
    }
    *first = false;
}

fn write_number(n: &Number, out: &mut String) {
    // Writing to a String cannot fail. Plain decimals where they stay short, else exponent form;
    // both are the shortest text that reads back as the same f64.
    let _ = match num(n) {
        Num::Int(i) => write!(out, "{i}"),
        Num::Float(f) if (1e-6..1e21).contains(&f.abs()) => write!(out, "{f}"),
        Num::Float(f) => write!(out, "{f:e}"),
    };
}

fn write_string(s: &str, out: &mut String) {
    // Serializing a &str to JSON cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(v: Value) -> Number {
        match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        }
    }

    fn parse(s: &str) -> Number {
        n(serde_json::from_str(s).unwrap())
    }

    #[test]
    fn numbers_are_compared_by_value() {
        assert!(numbers_equal(&parse("1"), &parse("1.0"), 0.0));
        assert!(numbers_equal(&parse("1e0"), &parse("1"), 0.0));
        assert!(numbers_equal(&parse("-0.0"), &parse("0"), 0.0));
        assert!(!numbers_equal(&parse("1.98"), &parse("1.99"), 0.0));
        assert!(numbers_equal(&parse("1.98"), &parse("1.99"), 0.011));
    }

    #[test]
    fn big_integers_are_compared_exactly() {
        // 2^53 + 1 and 2^53 are the same f64 but different integers.
        assert!(!numbers_equal(&parse("9007199254740993"), &parse("9007199254740992"), 0.0));
        assert!(!numbers_equal(
            &parse("18446744073709551615"),
            &parse("18446744073709551614"),
            0.0
        ));
        assert!(numbers_equal(&parse("9007199254740993"), &parse("9007199254740992"), 1.0));
    }

    #[test]
    fn canonical_text_sorts_keys_and_normalises_numbers() {
        let a = json!({"b": [1.0, {"y": 2, "x": 1e0}], "a": "s"});
        let b: Value = serde_json::from_str(r#"{"a":"s","b":[1,{"x":1,"y":2.0}]}"#).unwrap();
        let (mut ca, mut cb) = (String::new(), String::new());
        canonical(&a, &mut Vec::new(), &DiffRules::default(), &mut ca);
        canonical(&b, &mut Vec::new(), &DiffRules::default(), &mut cb);
        assert_eq!(ca, cb);
        assert_eq!(ca, r#"{"a":"s","b":[1,{"x":1,"y":2}]}"#);
        assert_eq!(canonical_key(&json!(0.5)), "0.5");
        assert_eq!(canonical_key(&json!(1e300)), "1e300");
        assert_eq!(canonical_key(&json!("A-7")), "\"A-7\"");
    }
}
