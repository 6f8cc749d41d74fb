//! MariaDB/MySQL SQL. Connections run with `time_zone = '+00:00'` and `utf8mb4`, so `TIMESTAMP`
//! columns read in UTC and 4-byte characters survive.

use super::{CheckForm, CheckPart, ChunkSql, Dialect, quote_with};
use crate::types::{Class, Shape};
use ficus_model::mapping::{CastType, Engine};

/// MariaDB 10.5+ and MySQL 8.
#[derive(Debug, Clone, Copy)]
pub struct MySql;

impl Dialect for MySql {
    fn engine(&self) -> Engine {
        Engine::MySql
    }

    fn quote(&self, ident: &str) -> String {
        quote_with(ident, '`')
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_owned()
    }

    fn cast(&self, to: CastType, expr: &str) -> String {
        match to {
            CastType::Integer => format!("CAST({expr} AS SIGNED)"),
            CastType::Decimal { precision, scale } => {
                format!("CAST({expr} AS DECIMAL({precision},{scale}))")
            }
            CastType::Float => format!("CAST({expr} AS DOUBLE)"),
            CastType::Text => format!("CAST({expr} AS CHAR)"),
            CastType::Timestamp => format!("CAST({expr} AS DATETIME(6))"),
            CastType::Date => format!("CAST({expr} AS DATE)"),
            CastType::Boolean => format!("(CASE WHEN {expr} THEN 1 WHEN NOT {expr} THEN 0 END)"),
        }
    }

    fn money_to_cents(&self, expr: &str) -> String {
        format!("CAST(ROUND(({expr}) * 100) AS SIGNED)")
    }

    fn cents_to_money(&self, expr: &str) -> String {
        format!("(CAST({expr} AS DECIMAL(65,0)) / 100)")
    }

    fn shift_minutes(&self, expr: &str, minutes: i32) -> String {
        format!("(({expr}) + INTERVAL {minutes} MINUTE)")
    }

    fn transfer(&self, class: Class, e: &str) -> String {
        match class {
            Class::Int | Class::Decimal | Class::Float => format!("CAST({e} AS CHAR)"),
            Class::Text | Class::Uuid => format!("CONVERT({e} USING utf8mb4)"),
            Class::Timestamp => format!("DATE_FORMAT({e}, '%Y-%m-%d %H:%i:%s.%f')"),
            Class::Date => format!("DATE_FORMAT({e}, '%Y-%m-%d')"),
            Class::Bool => bool_text(e),
            Class::Bytes => format!("LOWER(HEX({e}))"),
        }
    }

    fn canon(&self, class: Class, e: &str) -> String {
        match class {
            Class::Int => format!("CAST({e} AS CHAR)"),
            Class::Decimal => trim_decimal(&format!("CAST({e} AS DECIMAL(65,30))")),
            Class::Float => trim_decimal(&format!("CAST(ROUND({e}, 6) AS DECIMAL(65,6))")),
            Class::Text => format!("CONVERT({e} USING utf8mb4)"),
            Class::Timestamp => {
                format!("CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {e}) AS CHAR)")
            }
            Class::Date => format!("DATE_FORMAT({e}, '%Y-%m-%d')"),
            Class::Bool => bool_text(e),
            Class::Bytes => format!("LOWER(HEX({e}))"),
            Class::Uuid => format!("LOWER(CONVERT({e} USING utf8mb4))"),
        }
    }

    fn param(&self, class: Class, ph: &str) -> String {
        match class {
            Class::Int | Class::Bool => format!("CAST({ph} AS SIGNED)"),
            Class::Decimal => format!("CAST({ph} AS DECIMAL(65,30))"),
            Class::Float => format!("CAST({ph} AS DOUBLE)"),
            Class::Timestamp => format!("CAST({ph} AS DATETIME(6))"),
            Class::Date => format!("CAST({ph} AS DATE)"),
            Class::Bytes => format!("UNHEX({ph})"),
            Class::Text | Class::Uuid => ph.to_owned(),
        }
    }

    fn concat(&self, parts: &[String]) -> String {
        format!("CONCAT({})", parts.join(", "))
    }

    /// One `CONCAT`; a framed part is the column itself, then `0xFF`, with `0xFE` for NULL.
    /// The framing bytes are `CAST(X'..' AS BINARY)`: binary strings of the column's own
    /// derivation (implicit), and at equal derivation a binary string wins the collation
    /// aggregation (MariaDB `DTCollation::aggregate`). So `COALESCE` and `CONCAT` are binary
    /// and take the utf8mb4 text's bytes as they are — a bare `X'FE'` (coercible) would be
    /// converted to utf8mb4 instead and refused (error 1300) — with no copy: casting the column
    /// itself to `BINARY` cost ≈ 8 % of MariaDB's chunk checksum CPU (measured).
    /// A framed part is always a plain column ([`CheckForm::Utf8`] needs one).
    fn check_concat(&self, parts: &[CheckPart]) -> String {
        let mut args = Vec::with_capacity(parts.len() + 1);
        for p in parts {
            match p {
                CheckPart::Text(t) => args.push(t.clone()),
                CheckPart::Framed { expr, nullable } => {
                    args.push(if *nullable {
                        format!("COALESCE({expr}, {NULL_BYTE})")
                    } else {
                        expr.clone()
                    });
                    args.push(END_BYTE.to_owned());
                }
            }
        }
        self.concat(&args)
    }

    fn char_length(&self, expr: &str) -> String {
        format!("CHAR_LENGTH({expr})")
    }

    fn lock_rows(&self) -> &'static str {
        " LOCK IN SHARE MODE"
    }

    fn now_micros(&self) -> String {
        "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)".to_owned()
    }

    fn json_text_array(&self, items: &[String]) -> String {
        format!("JSON_ARRAY({})", items.join(", "))
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS CHAR)")
    }

    /// `SHA2` hashes a string's bytes in its own character set: utf8mb4 for every text here.
    fn sha256(&self, expr: &str, _bytes: bool) -> Option<String> {
        Some(format!("SHA2({expr}, 256)"))
    }

    fn check_text(&self, form: CheckForm, shape: Shape, class: Class, e: &str) -> String {
        // The column itself: CONCAT converts it to the same text as CAST(… AS CHAR), at
        // ~15 % less MariaDB CPU per checksummed row (measured).
        let own = e.to_owned();
        match (form, shape) {
            // The canonical text of utf8mb4 text is the column itself (no CONVERT).
            (CheckForm::Canon, Shape::Utf8Text) if class == Class::Text => e.to_owned(),
            (CheckForm::Canon, _) => self.canon(class, e),
            // A fixed-width fraction loses its trailing zeros (and a bare point); a type
            // without fraction has no point, and its zeros are digits to keep.
            // Trimmed as bytes: `TRIM` of a multi-byte (utf8mb4) string finds character
            // boundaries from its start for every trim; of a binary one it looks back from
            // the end (the rtrim's share of MariaDB's samples in a chunk checksum: 4.8 % →
            // 2.3 %). The text is ASCII, so its bytes are unchanged.
            (CheckForm::Decimal { trim: true }, Shape::Decimal { scale }) if scale > 0 => {
                trim_fraction_bytes(&own)
            }
            (CheckForm::IsoTimestamp, Shape::Timestamp { precision }) if precision > 0 => {
                trim_fraction_bytes(&own)
            }
            _ => own,
        }
    }

    /// The count, the SHA-256 of the rows' texts concatenated by `GROUP_CONCAT` (in scan order:
    /// InnoDB reads a range of the primary key in key order; any other order only makes the
    /// chunk look different and be bisected), and, when `find_cut`, whether the concatenation
    /// was cut: at `group_concat_max_len` or `max_allowed_packet`, whichever is less, on a
    /// character boundary (so up to 3 bytes short of it). Finding it costs a derived table
    /// (≈ 6 % more CPU), so it is skipped against other engines, which never cut.
    fn chunk_digest(&self, c: &ChunkSql<'_>) -> Option<String> {
        let (row, table, pred) = (c.row, c.table, c.pred);
        let concat = format!("GROUP_CONCAT({row} SEPARATOR '')");
        Some(if c.find_cut {
            format!(
                "SELECT CAST(n AS CHAR), SHA2(g, 256), {CUT} \
                 FROM (SELECT COUNT(*) AS n, {concat} AS g FROM {table} WHERE {pred}) AS c"
            )
        } else {
            format!(
                "SELECT CAST(COUNT(*) AS CHAR), SHA2({concat}, 256), '0' FROM {table} WHERE {pred}"
            )
        })
    }

    /// Grouped in a derived table, so the cut check reads each group's text once.
    fn bucket_digest(&self, c: &ChunkSql<'_>, bucket: &str) -> Option<String> {
        let (row, table, pred, order) = (c.row, c.table, c.pred, c.order);
        Some(format!(
            "SELECT CAST(b AS CHAR), CAST(n AS CHAR), SHA2(g, 256), {CUT} \
             FROM (SELECT {bucket} AS b, COUNT(*) AS n, GROUP_CONCAT({row} ORDER BY {order} SEPARATOR '') AS g \
             FROM {table} WHERE {pred} GROUP BY 1) AS c"
        ))
    }

    /// One `GROUP_CONCAT` of binary parts. Cut at `group_concat_max_len` or
    /// `max_allowed_packet`, it loses its last `0xFC` or whole rows, which the caller sees.
    fn packed_rows(&self, c: &ChunkSql<'_>, keys: &[String]) -> Option<String> {
        let mut parts: Vec<String> = Vec::with_capacity(keys.len() * 2 + 2);
        for k in keys {
            parts.push(format!("CAST({k} AS BINARY)"));
            parts.push("X'FD'".to_owned());
        }
        parts.push(format!("CAST({} AS BINARY)", c.row));
        parts.push("X'FC'".to_owned());
        Some(format!(
            "SELECT CAST(COUNT(*) AS CHAR), GROUP_CONCAT({} SEPARATOR '') FROM {} WHERE {}",
            self.concat(&parts),
            c.table,
            c.pred
        ))
    }

    fn int_div(&self, a: &str, b: &str) -> String {
        format!("({a}) DIV ({b})")
    }

    /// MySQL does not use an index for `(a, b) > (?, ?)` (it does for the expanded form).
    fn row_values(&self) -> bool {
        false
    }
}

/// The cut flag of a concatenation `g`, as [`MySql::chunk_digest`] describes it.
const CUT: &str = "CAST(COALESCE(LENGTH(g) + 3 >= LEAST(@@group_concat_max_len, @@max_allowed_packet), 0) AS CHAR)";

fn bool_text(e: &str) -> String {
    format!("(CASE WHEN {e} THEN '1' WHEN NOT {e} THEN '0' END)")
}

/// A DECIMAL rendered without trailing fractional zeros (`12.3400` → `12.34`, `5.000` → `5`).
/// The input always has a point (scale > 0), so only fractional zeros are trimmed.
fn trim_decimal(dec: &str) -> String {
    trim_fraction(&format!("CAST({dec} AS CHAR)"))
}

/// Text holding a point (a decimal of scale > 0, a timestamp with a fraction) without the
/// trailing zeros of its fraction, and without the point when nothing is left after it.
fn trim_fraction(text: &str) -> String {
    format!("TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text}))")
}

/// [`trim_fraction`] of a decimal or temporal column's text, as bytes: a number's or a
/// time's text (numeric derivation) aggregates with the binary literals `X'30'` (`0`) and
/// `X'2E'` (`.`) to binary, so `TRIM` takes its single-byte path without a `CAST` copying the
/// text first (≈ 2 % of MariaDB's chunk checksum CPU, measured).
fn trim_fraction_bytes(column: &str) -> String {
    format!("TRIM(TRAILING X'2E' FROM TRIM(TRAILING X'30' FROM {column}))")
}

/// `0xFE`, a framed part's NULL, and `0xFF`, its end, as [`MySql::check_concat`] says.
const NULL_BYTE: &str = "CAST(X'FE' AS BINARY)";
const END_BYTE: &str = "CAST(X'FF' AS BINARY)";
