//! PostgreSQL SQL. Connections run with `TimeZone=UTC`, so zone-aware timestamps render in UTC.

use super::{CheckForm, CheckPart, ChunkSql, Dialect, quote_with};
use crate::types::{Class, Shape};
use ficus_model::mapping::{CastType, Engine};

/// PostgreSQL (9.6+; `trim_scale` needs 13+).
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl Dialect for Postgres {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn quote(&self, ident: &str) -> String {
        quote_with(ident, '"')
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn cast(&self, to: CastType, expr: &str) -> String {
        match to {
            CastType::Integer => format!("CAST({expr} AS bigint)"),
            CastType::Decimal { precision, scale } => {
                format!("CAST({expr} AS numeric({precision},{scale}))")
            }
            CastType::Float => format!("CAST({expr} AS double precision)"),
            CastType::Text => format!("CAST({expr} AS text)"),
            CastType::Timestamp => format!("CAST({expr} AS timestamp)"),
            CastType::Date => format!("CAST({expr} AS date)"),
            CastType::Boolean => format!("CAST({expr} AS boolean)"),
        }
    }

    fn constant(&self, c: &ficus_model::mapping::Constant) -> String {
        use ficus_model::mapping::Constant;
        match c {
            Constant::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
            Constant::Text(s) => format!("CAST('{}' AS text)", s.replace('\'', "''")),
            Constant::Null => "NULL".to_owned(),
            Constant::Int(i) => i.to_string(),
            Constant::Float(f) => format!("{f:?}"),
        }
    }

    fn money_to_cents(&self, expr: &str) -> String {
        format!("CAST(round(({expr}) * 100) AS bigint)")
    }

    fn cents_to_money(&self, expr: &str) -> String {
        format!("(CAST({expr} AS numeric) / 100)")
    }

    fn shift_minutes(&self, expr: &str, minutes: i32) -> String {
        format!("(({expr}) + interval '{minutes} minutes')")
    }

    fn transfer(&self, class: Class, e: &str) -> String {
        match class {
            Class::Int | Class::Float | Class::Text | Class::Uuid => format!("CAST({e} AS text)"),
            Class::Decimal => format!("CAST(CAST({e} AS numeric) AS text)"),
            // `to_char` gives NULL for `infinity` and `-infinity` (those keep their own text)
            // and drops the era before the year 1 (`BC` is added there).
            Class::Timestamp => format!(
                "CASE WHEN NOT isfinite({e}) THEN CAST({e} AS text) \
                 WHEN {e} < '0001-01-01' THEN to_char({e}, 'YYYY-MM-DD HH24:MI:SS.US BC') \
                 ELSE to_char({e}, 'YYYY-MM-DD HH24:MI:SS.US') END"
            ),
            Class::Date => format!(
                "CASE WHEN NOT isfinite(CAST({e} AS date)) THEN CAST({e} AS text) \
                 WHEN CAST({e} AS date) < '0001-01-01' THEN to_char(CAST({e} AS date), 'YYYY-MM-DD BC') \
                 ELSE to_char(CAST({e} AS date), 'YYYY-MM-DD') END"
            ),
            Class::Bool => bool_text(e),
            Class::Bytes => format!("encode(CAST({e} AS bytea), 'hex')"),
        }
    }

    fn canon(&self, class: Class, e: &str) -> String {
        match class {
            Class::Int | Class::Text => format!("CAST({e} AS text)"),
            Class::Decimal => format!("CAST(trim_scale(CAST({e} AS numeric)) AS text)"),
            Class::Float => format!("CAST(trim_scale(round(CAST({e} AS numeric), 6)) AS text)"),
            Class::Timestamp => {
                format!("CAST(CAST(extract(epoch FROM {e}) * 1000000 AS bigint) AS text)")
            }
            Class::Date => format!("to_char(CAST({e} AS date), 'YYYY-MM-DD')"),
            Class::Bool => bool_text(e),
            Class::Bytes => format!("encode(CAST({e} AS bytea), 'hex')"),
            Class::Uuid => format!("lower(CAST({e} AS text))"),
        }
    }

    fn param(&self, class: Class, ph: &str) -> String {
        match class {
            Class::Int => format!("CAST({ph} AS bigint)"),
            Class::Decimal => format!("CAST({ph} AS numeric)"),
            Class::Float => format!("CAST({ph} AS double precision)"),
            Class::Text => format!("CAST({ph} AS text)"),
            Class::Timestamp => format!("CAST({ph} AS timestamp)"),
            Class::Date => format!("CAST({ph} AS date)"),
            Class::Bool => format!("CAST({ph} AS boolean)"),
            Class::Bytes => format!("decode({ph}, 'hex')"),
            Class::Uuid => format!("CAST({ph} AS uuid)"),
        }
    }

    fn char_length(&self, expr: &str) -> String {
        format!("char_length({expr})")
    }

    fn lock_rows(&self) -> &'static str {
        " FOR SHARE"
    }

    fn now_micros(&self) -> String {
        "CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint)".to_owned()
    }

    fn json_text_array(&self, items: &[String]) -> String {
        format!("CAST(json_build_array({}) AS text)", items.join(", "))
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS text)")
    }

    /// `sha256` takes `bytea`: text goes through `textsend` (its UTF-8 bytes, as in
    /// [`Postgres::check_concat`]).
    fn sha256(&self, expr: &str, bytes: bool) -> Option<String> {
        Some(if bytes {
            format!("encode(sha256({expr}), 'hex')")
        } else {
            format!("encode(sha256(textsend({expr})), 'hex')")
        })
    }

    fn check_text(&self, form: CheckForm, _shape: Shape, class: Class, e: &str) -> String {
        match form {
            CheckForm::Canon => self.canon(class, e),
            // A `text` or `varchar` column of a UTF8 database (Shape::Utf8Text).
            CheckForm::Utf8 => e.to_owned(),
            CheckForm::Decimal { trim: true } => format!("CAST(trim_scale({e}) AS text)"),
            // Sessions use DateStyle ISO (sqlx's default), so a `timestamp` prints as
            // `YYYY-MM-DD HH:MM:SS[.ffffff]` without trailing fractional zeros.
            CheckForm::Digits | CheckForm::Decimal { trim: false } | CheckForm::IsoTimestamp => {
                format!("CAST({e} AS text)")
            }
        }
    }

    /// Text only: `||`. With framed parts, `bytea`: each run of text parts concatenated
    /// as text and turned into bytes once by `textsend` — the text's bytes in the session's
    /// client encoding, UTF8 for every session (sqlx sets it), so no conversion in a UTF8
    /// database and no validation pass (`convert_to` validates, measured slower) — and each
    /// framed text `textsend` too.
    fn check_concat(&self, parts: &[CheckPart]) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut run: Vec<&str> = Vec::new();
        for p in parts {
            match p {
                CheckPart::Text(t) => run.push(t),
                CheckPart::Framed { expr, nullable } => {
                    if !run.is_empty() {
                        out.push(format!("textsend({})", run.join(" || ")));
                        run.clear();
                    }
                    let bytes = format!("textsend({expr})");
                    out.push(if *nullable {
                        format!("COALESCE({bytes}, decode('fe', 'hex'))")
                    } else {
                        bytes
                    });
                    out.push("decode('ff', 'hex')".to_owned());
                }
            }
        }
        if out.is_empty() {
            // No framed part: the row stays text.
            return self.concat(&run.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>());
        }
        if !run.is_empty() {
            out.push(format!("textsend({})", run.join(" || ")));
        }
        out.join(" || ")
    }

    /// One `string_agg` of `bytea`: keys and a text row through `textsend` (their UTF-8
    /// bytes, as in [`Postgres::check_concat`]).
    fn packed_rows(&self, c: &ChunkSql<'_>, keys: &[String]) -> Option<String> {
        let mut parts: Vec<String> = Vec::with_capacity(keys.len() * 2 + 2);
        for k in keys {
            parts.push(format!("textsend({k})"));
            parts.push("decode('fd', 'hex')".to_owned());
        }
        parts.push(if c.bytes { format!("({})", c.row) } else { format!("textsend({})", c.row) });
        parts.push("decode('fc', 'hex')".to_owned());
        Some(format!(
            "SELECT CAST(count(*) AS text), string_agg({}, ''::bytea) FROM {} WHERE {}",
            parts.join(" || "),
            c.table,
            c.pred
        ))
    }

    /// An ordered aggregate per bucket (the rows are grouped, so scan order is not theirs).
    fn bucket_digest(&self, c: &ChunkSql<'_>, bucket: &str) -> Option<String> {
        let (row, table, pred, order) = (c.row, c.table, c.pred, c.order);
        let digest = self.sha256(&format!("string_agg({row}, '' ORDER BY {order})"), c.bytes)?;
        Some(format!(
            "SELECT CAST({bucket} AS text), CAST(count(*) AS text), {digest}, '0' \
             FROM {table} WHERE {pred} GROUP BY 1"
        ))
    }

    /// The count and the SHA-256 of the rows' values aggregated from a subquery in key order
    /// (the order `string_agg` sees); never cut short (a value over 1 GB fails the query
    /// instead).
    fn chunk_digest(&self, c: &ChunkSql<'_>) -> Option<String> {
        let (row, table, pred, order) = (c.row, c.table, c.pred, c.order);
        let digest = self.sha256("string_agg(r, '')", c.bytes)?;
        Some(format!(
            "SELECT CAST(count(*) AS text), {digest}, '0' \
             FROM (SELECT {row} AS r FROM {table} WHERE {pred} ORDER BY {order}) AS c"
        ))
    }
}

fn bool_text(e: &str) -> String {
    format!("CASE WHEN CAST({e} AS boolean) THEN '1' WHEN NOT CAST({e} AS boolean) THEN '0' END")
}
