//! Structural comparison of two JSON documents: object key order ignored, numbers by value with
//! tolerance, arrays by position or — where a rule says so — as multisets, keyed or not.
//!
//! Paths of array elements: a positional element is its index (`/items/3`); an element of a
//! keyed unordered array is `[key=value]` with the value as canonical JSON (`/lines/[id=7]`,
//! `/lines/[sku="A-7"]`); an unmatched element of an unkeyed unordered array is its index on
//! the side where it is (`/tags/2` missing means the primary's element 2 has no equal).
//! All of them count as `*` in the field path.

use super::canonical::{canonical, canonical_key, numbers_equal};
use super::difference::{Collector, DiffKind};
use super::pattern::Segment;
use super::render::{concrete_path, field_path, render_value};
use super::rules::DiffRules;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};

/// Values nested deeper than this many levels are compared as a whole, by canonical text, and
/// reported as one `Value` difference at that depth. This bounds recursion; documents nested
/// deeper than 128 levels do not even parse (serde_json's limit) and are compared as text.
pub const MAX_JSON_DEPTH: usize = 64;

/// Compares two documents and records their differences in `out`.
pub(crate) fn compare_json(
    rules: &DiffRules,
    primary: &Value,
    secondary: &Value,
    out: &mut Collector,
) {
    let mut path = Vec::new();
    Walk { rules, out }.node(&mut path, Some(primary), Some(secondary));
}

struct Walk<'w> {
    rules: &'w DiffRules,
    out: &'w mut Collector,
}

type Path<'a> = Vec<Segment<'a>>;

impl<'w> Walk<'w> {
    /// One node, present on one side or both. Ignore rules are checked at every node on the
    /// way down, so only patterns pointing exactly here can newly apply.
    fn node<'a>(&mut self, path: &mut Path<'a>, p: Option<&'a Value>, s: Option<&'a Value>)
    where
        'w: 'a,
    {
        if self.rules.is_ignored_here(path) {
            return;
        }
        match (p, s) {
            (Some(p), Some(s)) => self.values(path, p, s),
            (Some(p), None) => self.push(path, DiffKind::Missing, Some(p), None, None),
            (None, Some(s)) => self.push(path, DiffKind::Extra, None, Some(s), None),
            (None, None) => {}
        }
    }

    fn values<'a>(&mut self, path: &mut Path<'a>, p: &'a Value, s: &'a Value)
    where
        'w: 'a,
    {
        if path.len() >= MAX_JSON_DEPTH {
            return self.opaque(path, p, s);
        }
        let differ = match (p, s) {
            (Value::Object(a), Value::Object(b)) => return self.objects(path, a, b),
            (Value::Array(a), Value::Array(b)) => {
                let rules = self.rules;
                return match rules.unordered_at(path).map(|u| u.key.as_deref()) {
                    None => self.positional(path, a, b),
                    Some(None) => self.multiset(path, a, &all(a), b, &all(b)),
                    Some(Some(key)) => self.keyed(path, a, b, key),
                };
            }
            (Value::Number(x), Value::Number(y)) => {
                x != y && !numbers_equal(x, y, self.rules.tolerance_for(path))
            }
            (Value::String(x), Value::String(y)) => x != y,
            (Value::Bool(x), Value::Bool(y)) => x != y,
            (Value::Null, Value::Null) => false,
            _ => {
                let detail = format!("{} vs {}", type_name(p), type_name(s));
                return self.push(path, DiffKind::Type, Some(p), Some(s), Some(detail));
            }
        };
        if differ {
            self.push(path, DiffKind::Value, Some(p), Some(s), None);
        }
    }

    fn objects<'a>(
        &mut self,
        path: &mut Path<'a>,
        a: &'a Map<String, Value>,
        b: &'a Map<String, Value>,
    ) where
        'w: 'a,
    {
        // Sorted union of keys: the same order whichever side is primary.
        let mut keys: Vec<&'a String> =
            a.keys().chain(b.keys().filter(|k| !a.contains_key(k.as_str()))).collect();
        keys.sort_unstable();
        for key in keys {
            path.push(Segment::Key(key));
            self.node(path, a.get(key.as_str()), b.get(key.as_str()));
            path.pop();
        }
    }

    fn positional<'a>(&mut self, path: &mut Path<'a>, a: &'a [Value], b: &'a [Value])
    where
        'w: 'a,
    {
        for i in 0..a.len().max(b.len()) {
            path.push(Segment::Index(i));
            self.node(path, a.get(i), b.get(i));
            path.pop();
        }
    }

    /// Elements matched by the canonical text of their `key` field (a hash map, k-th
    /// occurrence of a key with the k-th); elements without the key fall back to `multiset`.
    fn keyed<'a>(&mut self, path: &mut Path<'a>, a: &'a [Value], b: &'a [Value], key: &'a str)
    where
        'w: 'a,
    {
        let key_of = |v: &Value| v.as_object().and_then(|o| o.get(key)).map(canonical_key);
        let mut by_key: HashMap<String, VecDeque<usize>> = HashMap::new();
        let mut b_rest = Vec::new();
        let b_keys: Vec<Option<String>> = b.iter().map(key_of).collect();
        for (j, k) in b_keys.iter().enumerate() {
            match k {
                Some(k) => by_key.entry(k.clone()).or_default().push_back(j),
                None => b_rest.push(j),
            }
        }
        let mut b_used = vec![false; b.len()];
        let mut a_rest = Vec::new();
        for (i, item) in a.iter().enumerate() {
            let Some(k) = key_of(item) else {
                a_rest.push(i);
                continue;
            };
            let other = by_key.get_mut(&k).and_then(VecDeque::pop_front);
            if let Some(j) = other {
                b_used[j] = true;
            }
            path.push(Segment::Keyed { field: key, value: k });
            self.node(path, Some(item), other.and_then(|j| b.get(j)));
            path.pop();
        }
        for (j, k) in b_keys.into_iter().enumerate() {
            if let (Some(k), false) = (k, b_used[j]) {
                path.push(Segment::Keyed { field: key, value: k });
                self.node(path, None, b.get(j));
                path.pop();
            }
        }
        self.multiset(path, a, &a_rest, b, &b_rest);
    }

    /// The elements `ai` of `a` and `bi` of `b` matched as whole values: both sides' canonical
    /// texts are sorted and merged, O(n log n). Unmatched elements are reported at their index.
    fn multiset<'a>(
        &mut self,
        path: &mut Path<'a>,
        a: &'a [Value],
        ai: &[usize],
        b: &'a [Value],
        bi: &[usize],
    ) where
        'w: 'a,
    {
        let mut ca = self.canonical_all(path, a, ai);
        let mut cb = self.canonical_all(path, b, bi);
        ca.sort_unstable();
        cb.sort_unstable();
        let (mut missing, mut extra) = (Vec::new(), Vec::new());
        let (mut x, mut y) = (ca.into_iter().peekable(), cb.into_iter().peekable());
        loop {
            match (x.peek(), y.peek()) {
                (Some(l), Some(r)) if l.0 == r.0 => {
                    x.next();
                    y.next();
                }
                (Some(l), Some(r)) if l.0 < r.0 => missing.extend(x.next()),
                (Some(_), Some(_)) | (None, Some(_)) => extra.extend(y.next()),
                (Some(_), None) => missing.extend(x.next()),
                (None, None) => break,
            }
        }
        missing.sort_unstable_by_key(|(_, i)| *i);
        extra.sort_unstable_by_key(|(_, j)| *j);
        for (_, i) in missing {
            path.push(Segment::Index(i));
            self.node(path, a.get(i), None);
            path.pop();
        }
        for (_, j) in extra {
            path.push(Segment::Index(j));
            self.node(path, None, b.get(j));
            path.pop();
        }
    }

    /// (canonical text, index) of the listed elements that are not ignored.
    fn canonical_all<'a>(
        &self,
        path: &mut Path<'a>,
        items: &'a [Value],
        idx: &[usize],
    ) -> Vec<(String, usize)> {
        let mut out = Vec::with_capacity(idx.len());
        for &i in idx {
            let Some(item) = items.get(i) else { continue };
            path.push(Segment::Index(i));
            if !self.rules.is_ignored_here(path) {
                let mut text = String::new();
                canonical(item, path, self.rules, &mut text);
                out.push((text, i));
            }
            path.pop();
        }
        out
    }

    /// Below [`MAX_JSON_DEPTH`]: equal iff the canonical texts are equal.
    fn opaque<'a>(&mut self, path: &mut Path<'a>, p: &'a Value, s: &'a Value) {
        let (mut cp, mut cs) = (String::new(), String::new());
        canonical(p, path, self.rules, &mut cp);
        canonical(s, path, self.rules, &mut cs);
        if cp != cs {
            let detail = format!("nested deeper than {MAX_JSON_DEPTH} levels: compared as a whole");
            self.push(path, DiffKind::Value, Some(p), Some(s), Some(detail));
        }
    }

    fn push(
        &mut self,
        path: &[Segment<'_>],
        kind: DiffKind,
        p: Option<&Value>,
        s: Option<&Value>,
        detail: Option<String>,
    ) {
        self.out.push(field_path(path), kind, || {
            (concrete_path(path), p.map(render_value), s.map(render_value), detail)
        });
    }
}

fn all(items: &[Value]) -> Vec<usize> {
    (0..items.len()).collect()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
