//! PostgreSQL values as sqlx receives them — in binary format, for a prepared statement — turned
//! into transfer text: integers, `numeric` and `timestamp` exactly as the transfer's SQL
//! (`CAST(… AS text)`, `to_char(…, 'YYYY-MM-DD HH24:MI:SS.US')`) renders them, so a PostgreSQL
//! source's columns of those types are read as they are
//! ([`crate::resolve::ResolvedColumn::source_raw`]) and the server formats nothing.
//!
//! Source: the `*_send` functions of PostgreSQL's `src/backend/utils/adt/` (`int8send`,
//! `numeric_send`, `timestamp_send`) for the formats, `get_str_from_var` (numeric.c) for the
//! numeric's text.

use crate::render;
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// The first `n` columns of `row` as text: the types above rendered from their binary form,
/// everything else decoded by sqlx as text.
///
/// # Errors
/// A value sqlx cannot read as text, or a binary value of the wrong length.
pub(crate) fn texts(row: &PgRow, n: usize) -> Result<Vec<Option<String>>, sqlx::Error> {
    (0..n)
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(None);
            }
            let ty = row.columns().get(i).map_or("", |c| c.type_info().name());
            let binary = matches!(raw.format(), PgValueFormat::Binary)
                && matches!(ty, "INT2" | "INT4" | "INT8" | "NUMERIC" | "TIMESTAMP");
            if !binary {
                return row.try_get::<Option<String>, _>(i);
            }
            let b = raw.as_bytes().map_err(|source| decode_error(i, source))?;
            value_text(ty, b)
                .map(Some)
                .ok_or_else(|| decode_error(i, format!("a {ty} value of {} bytes", b.len()).into()))
        })
        .collect()
}

fn decode_error(i: usize, source: Box<dyn std::error::Error + Send + Sync>) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: i.to_string(), source }
}

/// One binary value of type `ty` (sqlx's name) as text; `None` when its length is wrong.
fn value_text(ty: &str, b: &[u8]) -> Option<String> {
    let mut n = itoa::Buffer::new();
    Some(match ty {
        "INT2" => n.format(i16::from_be_bytes(b.try_into().ok()?)).to_owned(),
        "INT4" => n.format(i32::from_be_bytes(b.try_into().ok()?)).to_owned(),
        "INT8" => n.format(i64::from_be_bytes(b.try_into().ok()?)).to_owned(),
        "NUMERIC" => numeric_text(b)?,
        "TIMESTAMP" => timestamp_text(i64::from_be_bytes(b.try_into().ok()?)),
        _ => return None,
    })
}

/// A `numeric` on the wire (digit count, weight of the first base-10000 digit, sign, display
/// scale, digits) as `numeric_out` prints it: the integer digits without leading zeros (`0`
/// when there are none), then exactly `dscale` fraction digits; `NaN`, `Infinity`,
/// `-Infinity` for the special values.
fn numeric_text(b: &[u8]) -> Option<String> {
    let word = |i: usize| b.get(i..i + 2).map(|w| u16::from_be_bytes([w[0], w[1]]));
    let (count, weight, sign, dscale) = (word(0)?, word(2)? as i16, word(4)?, word(6)?);
    let count = usize::from(count);
    if b.len() != 8 + 2 * count {
        return None;
    }
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    // Digit `j` counts 10000^(weight - j); positions outside the stored digits are zero.
    let digit = |j: i32| {
        usize::try_from(j).ok().filter(|j| *j < count).and_then(|j| word(8 + 2 * j)).unwrap_or(0)
    };
    let mut out: Vec<u8> = Vec::with_capacity(8 + 4 * count + usize::from(dscale));
    if sign == 0x4000 {
        out.push(b'-');
    }
    let weight = i32::from(weight);
    if weight < 0 {
        out.push(b'0');
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(digit(0)).as_bytes());
    }
    let four = |out: &mut Vec<u8>, d: u16| {
        out.extend_from_slice(&[1000, 100, 10, 1].map(|p| b'0' + (d / p % 10) as u8));
    };
    for j in 1..=weight {
        four(&mut out, digit(j));
    }
    if dscale > 0 {
        out.push(b'.');
        let end = out.len() + usize::from(dscale);
        let mut j = weight + 1;
        while out.len() < end {
            four(&mut out, digit(j));
            j += 1;
        }
        out.truncate(end);
    }
    String::from_utf8(out).ok()
}

/// Microseconds since 2000-01-01 as `YYYY-MM-DD HH:MM:SS.ffffff` (`to_char`'s
/// `YYYY-MM-DD HH24:MI:SS.US`); `infinity` and `-infinity` as PostgreSQL prints them; a year
/// before 1 as PostgreSQL's text does (`0044-03-15 00:00:00.000000 BC`), which `to_char`
/// cannot tell from the year after Christ.
fn timestamp_text(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".to_owned(),
        i64::MIN => return "-infinity".to_owned(),
        _ => {}
    }
    let (days, rest) = (micros.div_euclid(86_400_000_000), micros.rem_euclid(86_400_000_000));
    let (year, month, day) = render::civil_from_days(days + 10_957);
    let secs = rest / 1_000_000;
    // Every field is in range here: `rest` is under a day, the year under 300,000.
    let field = |v: i64| u32::try_from(v).unwrap_or(0);
    let time =
        (field(secs / 3600), field(secs / 60 % 60), field(secs % 60), field(rest % 1_000_000));
    if year < 1 {
        let text = render::datetime(field(1 - year), field(month), field(day), Some(time));
        return format!("{text} BC");
    }
    render::datetime(field(year), field(month), field(day), Some(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(words: &[u16]) -> Option<String> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        numeric_text(&bytes)
    }

    #[test]
    fn numerics_print_as_numeric_out_does() {
        assert_eq!(numeric(&[2, 0, 0, 4, 170, 3610]).as_deref(), Some("170.3610"));
        assert_eq!(numeric(&[3, 1, 0x4000, 1, 1234, 5678, 9000]).as_deref(), Some("-12345678.9"));
        assert_eq!(numeric(&[1, 0xFFFE, 0, 8, 1234]).as_deref(), Some("0.00001234"));
        assert_eq!(numeric(&[0, 0, 0, 2]).as_deref(), Some("0.00"));
        assert_eq!(numeric(&[1, 1, 0, 0, 1]).as_deref(), Some("10000"));
        assert_eq!(numeric(&[1, 0, 0, 2, 5]).as_deref(), Some("5.00"));
        assert_eq!(numeric(&[0, 0, 0xC000, 0]).as_deref(), Some("NaN"));
        assert_eq!(numeric(&[0, 0, 0xF000, 0]).as_deref(), Some("-Infinity"));
        assert_eq!(numeric(&[2, 0, 0, 0, 1]), None, "two digits announced, one sent");
    }

    #[test]
    fn timestamps_print_as_to_char_does() {
        assert_eq!(timestamp_text(0), "2000-01-01 00:00:00.000000");
        assert_eq!(timestamp_text(-1), "1999-12-31 23:59:59.999999");
        assert_eq!(timestamp_text(8766 * 86_400_000_000 + 1_007_919), "2024-01-01 00:00:01.007919");
        assert_eq!(timestamp_text(-730_119 * 86_400_000_000), "0001-01-01 00:00:00.000000");
        assert_eq!(timestamp_text(-730_120 * 86_400_000_000), "0001-12-31 00:00:00.000000 BC");
        assert_eq!(timestamp_text(i64::MAX), "infinity");
    }
}
