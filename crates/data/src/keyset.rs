//! Keyset ranges and their SQL: `(lo, hi]` over the key columns, as row-value comparisons where
//! the engine indexes them well and as the expanded `a > ? OR (a = ? AND b > ?)` form on
//! MariaDB/MySQL (the method of "Use the index, Luke", §"Paging through results").

use crate::dialect::Dialect;
use crate::types::Class;

/// Key values as transfer text, one per key column.
pub(crate) type Key = Vec<String>;

/// Rows whose key is after `lo` (exclusive) and up to `hi` (inclusive); `None` is unbounded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct KeyRange {
    pub lo: Option<Key>,
    pub hi: Option<Key>,
}

/// An SQL text under construction with its text parameters.
pub(crate) struct Query<'d> {
    pub d: &'d dyn Dialect,
    pub params: Vec<Option<String>>,
}

impl<'d> Query<'d> {
    pub fn new(d: &'d dyn Dialect) -> Query<'d> {
        Query { d, params: Vec::new() }
    }

    /// A new placeholder for `value`, read as `class`.
    pub fn bind(&mut self, class: Class, value: &str) -> String {
        self.params.push(Some(value.to_owned()));
        self.d.param(class, &self.d.placeholder(self.params.len()))
    }

    /// `key > values` (`after = true`) or `key <= values`.
    fn compare(&mut self, cols: &[(String, Class)], values: &[String], after: bool) -> String {
        let last_op = if after { ">" } else { "<=" };
        let mid_op = if after { ">" } else { "<" };
        if cols.len() == 1 {
            let p = self.bind(cols[0].1, &values[0]);
            return format!("{} {last_op} {p}", cols[0].0);
        }
        if self.d.row_values() {
            let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
            let ps: Vec<String> = cols.iter().zip(values).map(|(c, v)| self.bind(c.1, v)).collect();
            return format!("({}) {last_op} ({})", names.join(", "), ps.join(", "));
        }
        let mut ors = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            let mut ands = Vec::with_capacity(i + 1);
            for j in 0..i {
                let p = self.bind(cols[j].1, &values[j]);
                ands.push(format!("{} = {p}", cols[j].0));
            }
            let op = if i + 1 == cols.len() { last_op } else { mid_op };
            let p = self.bind(cols[i].1, &values[i]);
            ands.push(format!("{} {op} {p}", cols[i].0));
            ors.push(format!("({})", ands.join(" AND ")));
        }
        format!("({})", ors.join(" OR "))
    }

    /// The predicate of `range` (`TRUE`-like `1=1` when unbounded), ANDed with `filter`.
    pub fn range(
        &mut self,
        cols: &[(String, Class)],
        range: &KeyRange,
        filter: Option<&str>,
    ) -> String {
        let mut parts = Vec::new();
        if let Some(lo) = &range.lo {
            parts.push(self.compare(cols, lo, true));
        }
        if let Some(hi) = &range.hi {
            parts.push(self.compare(cols, hi, false));
        }
        if let Some(f) = filter {
            parts.push(format!("({f})"));
        }
        if parts.is_empty() { "1=1".to_owned() } else { parts.join(" AND ") }
    }

    /// `key = values`.
    pub fn equals(&mut self, cols: &[(String, Class)], values: &[String]) -> String {
        let parts: Vec<String> = cols
            .iter()
            .zip(values)
            .map(|(c, v)| {
                let p = self.bind(c.1, v);
                format!("{} = {p}", c.0)
            })
            .collect();
        format!("({})", parts.join(" AND "))
    }
}

/// A select list with every item aliased `ficus_c0`, `ficus_c1`…: PostgreSQL names
/// `CAST("id" AS text)` `id`, and an ORDER BY on `"id"` would then sort by that text instead
/// of the column.
pub(crate) fn aliased(items: &[String]) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS ficus_c{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a, b` for ORDER BY.
pub(crate) fn order_by(cols: &[(String, Class)]) -> String {
    cols.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{MySql, Postgres};

    fn cols() -> Vec<(String, Class)> {
        vec![("a".into(), Class::Int), ("b".into(), Class::Text)]
    }

    #[test]
    fn row_values_on_postgres() {
        let mut q = Query::new(&Postgres);
        let r = KeyRange { lo: Some(vec!["1".into(), "x".into()]), hi: None };
        assert_eq!(q.range(&cols(), &r, None), "(a, b) > (CAST($1 AS bigint), CAST($2 AS text))");
    }

    #[test]
    fn expanded_form_on_mysql() {
        let mut q = Query::new(&MySql);
        let r = KeyRange {
            lo: Some(vec!["1".into(), "x".into()]),
            hi: Some(vec!["5".into(), "y".into()]),
        };
        let sql = q.range(&cols(), &r, Some("c > 0"));
        assert_eq!(
            sql,
            "((a > CAST(? AS SIGNED)) OR (a = CAST(? AS SIGNED) AND b > ?)) AND \
             ((a < CAST(? AS SIGNED)) OR (a = CAST(? AS SIGNED) AND b <= ?)) AND (c > 0)"
        );
        assert_eq!(q.params.len(), 6);
    }
}
