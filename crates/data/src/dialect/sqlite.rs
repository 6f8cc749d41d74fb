//! SQLite SQL. SQLite has no SHA-256, so verify hashes SQLite rows in Rust over the canonical text
//! rendered here; timestamps are text (ISO 8601) or Julian/Unix numbers as SQLite's date
//! functions read them, at millisecond precision.

use super::{Dialect, quote_with};
use crate::types::Class;
use ficus_model::mapping::{CastType, Engine};

/// SQLite 3.41+ (`unhex`, `unixepoch`).
#[derive(Debug, Clone, Copy)]
pub struct Sqlite;

impl Dialect for Sqlite {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn quote(&self, ident: &str) -> String {
        quote_with(ident, '"')
    }

    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    fn cast(&self, to: CastType, expr: &str) -> String {
        match to {
            CastType::Integer | CastType::Boolean => format!("CAST({expr} AS INTEGER)"),
            CastType::Decimal { scale, .. } => format!("round(CAST({expr} AS REAL), {scale})"),
            CastType::Float => format!("CAST({expr} AS REAL)"),
            CastType::Text => format!("CAST({expr} AS TEXT)"),
            CastType::Timestamp => format!("strftime('%Y-%m-%d %H:%M:%f', {expr})"),
            CastType::Date => format!("date({expr})"),
        }
    }

    fn money_to_cents(&self, expr: &str) -> String {
        format!("CAST(round(({expr}) * 100) AS INTEGER)")
    }

    fn cents_to_money(&self, expr: &str) -> String {
        format!("printf('%.2f', ({expr}) / 100.0)")
    }

    fn shift_minutes(&self, expr: &str, minutes: i32) -> String {
        format!("strftime('%Y-%m-%d %H:%M:%f', {expr}, '{minutes:+} minutes')")
    }

    fn transfer(&self, class: Class, e: &str) -> String {
        match class {
            Class::Int => format!("CAST(CAST({e} AS INTEGER) AS TEXT)"),
            Class::Decimal | Class::Float | Class::Text | Class::Uuid => {
                format!("CAST({e} AS TEXT)")
            }
            Class::Timestamp => format!("strftime('%Y-%m-%d %H:%M:%f', {e})"),
            Class::Date => format!("date({e})"),
            Class::Bool => bool_text(e),
            Class::Bytes => format!("lower(hex({e}))"),
        }
    }

    fn canon(&self, class: Class, e: &str) -> String {
        match class {
            Class::Int => format!("CAST(CAST({e} AS INTEGER) AS TEXT)"),
            Class::Decimal => trim_decimal(&format!("CAST({e} AS TEXT)")),
            Class::Float => trim_decimal(&format!("printf('%.6f', {e})")),
            Class::Text => format!("CAST({e} AS TEXT)"),
            Class::Timestamp => format!(
                "CAST(unixepoch({e}) * 1000000 + CAST(round((CAST(strftime('%f', {e}) AS REAL) - CAST(strftime('%S', {e}) AS INTEGER)) * 1000) AS INTEGER) * 1000 AS TEXT)"
            ),
            Class::Date => format!("date({e})"),
            Class::Bool => bool_text(e),
            Class::Bytes => format!("lower(hex({e}))"),
            Class::Uuid => format!("lower(CAST({e} AS TEXT))"),
        }
    }

    fn param(&self, class: Class, ph: &str) -> String {
        match class {
            Class::Int | Class::Bool => format!("CAST({ph} AS INTEGER)"),
            Class::Decimal | Class::Float => format!("CAST({ph} AS REAL)"),
            Class::Bytes => format!("unhex({ph})"),
            _ => ph.to_owned(),
        }
    }

    fn insert_param(&self, class: Class, ph: &str) -> String {
        match class {
            Class::Bytes => format!("unhex({ph})"),
            _ => ph.to_owned(),
        }
    }

    fn now_micros(&self) -> String {
        "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)".to_owned()
    }

    fn json_text_array(&self, items: &[String]) -> String {
        format!("json_array({})", items.join(", "))
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS TEXT)")
    }
}

fn bool_text(e: &str) -> String {
    format!("(CASE WHEN {e} THEN '1' WHEN NOT {e} THEN '0' END)")
}

/// Text of a number without trailing fractional zeros; text without a point is left as is.
fn trim_decimal(t: &str) -> String {
    format!("(CASE WHEN instr({t}, '.') > 0 THEN rtrim(rtrim({t}, '0'), '.') ELSE {t} END)")
}
