//! MariaDB/MySQL values as sqlx receives them — in the binary protocol, since `sqlx::query`
//! always runs a prepared statement (MariaDB manual, "Binary Protocol Result-Set Row") — turned
//! into transfer text ([`texts`]) or, for a PostgreSQL table that takes binary `COPY`, straight
//! into that format ([`copy`]), without a `String` per value and its parse back in between.
//!
//! The two agree by construction: [`copy`] encodes integers and dates from their binary form
//! only where the text would have been read back to the same value, and sends every other value
//! through [`value_text`] and [`pgcopy::field`], the text path's own steps; where the text path
//! would refuse a value (`pgcopy` does not read it, or it is not UTF-8) [`copy`] refuses the
//! chunk, and the caller takes the text path for it.

use crate::db::TextRow;
use crate::pgcopy::{self, Wire};
use crate::render;
use sqlx::mysql::MySqlRow;
use sqlx::{Column, Row, TypeInfo};

/// How a value of a result column arrives, by sqlx's name for the column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A little-endian integer of `bytes` bytes.
    Int { bytes: usize, signed: bool },
    /// `DATETIME`/`TIMESTAMP` (`date_only: false`) or `DATE`: a length byte, then the year
    /// (2 bytes, little-endian), month, day, hour, minute, second and microseconds (4 bytes),
    /// the fields past the length left out when zero.
    Temporal { date_only: bool },
    /// Any other type: its bytes, taken as UTF-8 text.
    Bytes,
}

impl Kind {
    pub(crate) fn of(ty: &str) -> Kind {
        let int = |bytes, signed| Kind::Int { bytes, signed };
        match ty {
            // `BOOLEAN` is sqlx's name for `tinyint(1)`, signed or not; a signed byte is the
            // common case, and raw `tinyint` columns are never selected for transfer.
            "TINYINT" | "BOOLEAN" => int(1, true),
            "SMALLINT" => int(2, true),
            "INT" | "MEDIUMINT" => int(4, true),
            "BIGINT" => int(8, true),
            "TINYINT UNSIGNED" => int(1, false),
            "SMALLINT UNSIGNED" | "YEAR" => int(2, false),
            "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => int(4, false),
            "BIGINT UNSIGNED" => int(8, false),
            "DATETIME" | "TIMESTAMP" => Kind::Temporal { date_only: false },
            "DATE" => Kind::Temporal { date_only: true },
            _ => Kind::Bytes,
        }
    }
}

/// The first `n` columns of `row` as text ([`value_text`]).
///
/// # Errors
/// A value sqlx cannot read, a binary value of the wrong length, or text that is not UTF-8.
pub(crate) fn texts(row: &MySqlRow, n: usize) -> Result<TextRow, sqlx::Error> {
    let columns = row.columns();
    (0..n)
        .map(|i| {
            let raw: Option<&[u8]> = row.try_get_unchecked(i)?;
            let bad = |source: Box<dyn std::error::Error + Send + Sync>| {
                sqlx::Error::ColumnDecode { index: i.to_string(), source }
            };
            let Some(b) = raw else { return Ok(None) };
            let ty = columns.get(i).map_or("", |c| c.type_info().name());
            match value_text(Kind::of(ty), b) {
                Some(Ok(text)) => Ok(Some(text)),
                Some(Err(e)) => Err(bad(Box::new(e))),
                None => Err(bad(format!("a {ty} value of {} bytes", b.len()).into())),
            }
        })
        .collect()
}

/// One value of `kind` as text: integers in decimal, as `CAST(… AS CHAR)` renders them;
/// `DATETIME`/`TIMESTAMP` as `YYYY-MM-DD HH:MM:SS.ffffff` (always six fraction digits, as the
/// transfer's `DATE_FORMAT(…, '%f')`) and `DATE` as `YYYY-MM-DD`; everything else as its
/// bytes, taken as UTF-8. `None` when an integer or date has the wrong length; the inner error
/// when text is not UTF-8.
pub(crate) fn value_text(
    kind: Kind,
    b: &[u8],
) -> Option<Result<String, std::string::FromUtf8Error>> {
    let mut n = itoa::Buffer::new();
    let text = match kind {
        Kind::Int { bytes, signed: true } => n.format(signed(b, bytes)?).to_owned(),
        Kind::Int { bytes, signed: false } => n.format(le(b, bytes)?).to_owned(),
        Kind::Temporal { date_only } => {
            let f = temporal(b)?;
            let time = (!date_only).then_some((f.hour, f.minute, f.second, f.micros));
            render::datetime(f.year, f.month, f.day, time)
        }
        Kind::Bytes => return Some(String::from_utf8(b.to_vec())),
    };
    Some(Ok(text))
}

/// `rows` (one value per `wires` entry) as a whole binary `COPY` stream, as
/// [`pgcopy::encode`] of their [`texts`] would be; `None` where that would be `None` or fail
/// (the caller then takes the text path, which decides and reports as before), or when a row
/// has another width.
pub(crate) fn copy(rows: &[MySqlRow], wires: &[Wire]) -> Option<Vec<u8>> {
    let kinds: Vec<Kind> = match rows.first() {
        Some(r) => r.columns().iter().map(|c| Kind::of(c.type_info().name())).collect(),
        None => Vec::new(),
    };
    if !rows.is_empty() && kinds.len() != wires.len() {
        return None;
    }
    let fields = i16::try_from(wires.len()).ok()?;
    let mut out = pgcopy::start(rows.len(), wires.len());
    for row in rows {
        if row.len() != wires.len() {
            return None;
        }
        out.extend_from_slice(&fields.to_be_bytes());
        for (i, (&kind, &w)) in kinds.iter().zip(wires).enumerate() {
            match row.try_get_unchecked::<Option<&[u8]>, _>(i).ok()? {
                None => pgcopy::null(&mut out),
                Some(b) => field(&mut out, kind, w, b)?,
            }
        }
    }
    pgcopy::finish(&mut out);
    Some(out)
}

/// One non-NULL value into a `COPY` field: an integer into an integer column, a
/// `DATETIME`/`TIMESTAMP` into a `timestamp` column and a `DATE` into a `date` column from
/// their binary form when it is in range; text as it is; everything else by its text.
fn field(out: &mut Vec<u8>, kind: Kind, w: Wire, b: &[u8]) -> Option<()> {
    if let Some(v) = binary(kind, w, b) {
        return match v {
            Binary::Short(v) => pgcopy::fixed(out, &v.to_be_bytes()),
            Binary::Int(v) => pgcopy::fixed(out, &v.to_be_bytes()),
            Binary::Long(v) => pgcopy::fixed(out, &v.to_be_bytes()),
        };
    }
    match kind {
        Kind::Bytes => pgcopy::field(out, w, std::str::from_utf8(b).ok()?),
        _ => pgcopy::field(out, w, &value_text(kind, b)?.ok()?),
    }
}

/// A fixed-width field's value.
enum Binary {
    Short(i16),
    Int(i32),
    Long(i64),
}

/// [`field`]'s value from the binary form, or `None` for the text's way.
fn binary(kind: Kind, w: Wire, b: &[u8]) -> Option<Binary> {
    match (kind, w) {
        (Kind::Int { bytes, signed: s }, _) => {
            let v: i128 = if s { signed(b, bytes)?.into() } else { le(b, bytes)?.into() };
            match w {
                Wire::Int2 => Some(Binary::Short(i16::try_from(v).ok()?)),
                Wire::Int4 => Some(Binary::Int(i32::try_from(v).ok()?)),
                Wire::Int8 => Some(Binary::Long(i64::try_from(v).ok()?)),
                _ => None,
            }
        }
        (Kind::Temporal { date_only: false }, Wire::Timestamp) => {
            let f = temporal(b)?;
            let days = pgcopy::days(f.year.into(), f.month.into(), f.day.into())?;
            let time = [f.hour, f.minute, f.second, f.micros].map(i64::from);
            Some(Binary::Long(pgcopy::timestamp_micros(days, time)?))
        }
        (Kind::Temporal { date_only: true }, Wire::Date) => {
            let f = temporal(b)?;
            Some(Binary::Int(pgcopy::days(f.year.into(), f.month.into(), f.day.into())?))
        }
        _ => None,
    }
}

/// A little-endian unsigned integer of exactly `n` bytes.
fn le(b: &[u8], n: usize) -> Option<u64> {
    (b.len() == n && n <= 8).then(|| b.iter().rev().fold(0u64, |acc, x| acc << 8 | u64::from(*x)))
}

/// A little-endian two's-complement integer of exactly `n` bytes (1, 2, 4 or 8).
fn signed(b: &[u8], n: usize) -> Option<i64> {
    let v = le(b, n)?;
    Some(match n {
        1 => i64::from(v as u8 as i8),
        2 => i64::from(v as u16 as i16),
        4 => i64::from(v as u32 as i32),
        _ => v as i64,
    })
}

/// The fields of a binary `DATETIME`/`TIMESTAMP`/`DATE`.
struct Fields {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
}

/// A length byte (0, 4, 7 or 11) and that many bytes of fields.
fn temporal(b: &[u8]) -> Option<Fields> {
    let (&len, f) = b.split_first()?;
    if usize::from(len) != f.len() || ![0, 4, 7, 11].contains(&len) {
        return None;
    }
    let at = |i: usize| f.get(i).copied().map_or(0, u32::from);
    Some(Fields {
        year: at(0) | at(1) << 8,
        month: at(2),
        day: at(3),
        hour: at(4),
        minute: at(5),
        second: at(6),
        micros: at(7) | at(8) << 8 | at(9) << 16 | at(10) << 24,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ty: &str, b: &[u8]) -> Option<String> {
        value_text(Kind::of(ty), b).map(|r| r.unwrap())
    }

    #[test]
    fn binary_protocol_values_render_as_text() {
        assert_eq!(text("BIGINT", &(-5i64).to_le_bytes()).as_deref(), Some("-5"));
        assert_eq!(text("INT UNSIGNED", &u32::MAX.to_le_bytes()).as_deref(), Some("4294967295"));
        assert_eq!(text("SMALLINT", &(-2i16).to_le_bytes()).as_deref(), Some("-2"));
        // 2024-01-02 03:04:05.000006, then the same day with the zero fields left out.
        let full = [11, 0xe8, 0x07, 1, 2, 3, 4, 5, 6, 0, 0, 0];
        assert_eq!(text("DATETIME", &full).as_deref(), Some("2024-01-02 03:04:05.000006"));
        assert_eq!(
            text("DATETIME", &[4, 0xe8, 0x07, 1, 2]).as_deref(),
            Some("2024-01-02 00:00:00.000000")
        );
        assert_eq!(text("DATE", &[4, 0xe8, 0x07, 1, 2]).as_deref(), Some("2024-01-02"));
        assert_eq!(text("TIMESTAMP", &[0]).as_deref(), Some("0000-00-00 00:00:00.000000"));
        assert_eq!(text("VARCHAR", "é😀".as_bytes()).as_deref(), Some("é😀"));
        // Wrong lengths are refused, not misread.
        assert_eq!(text("BIGINT", &[1, 2, 3, 4]), None);
        assert_eq!(text("DATETIME", &[7, 1, 2, 3]), None);
        assert_eq!(text("DATETIME", &[5, 0xe8, 0x07, 1, 2, 3]), None);
        assert!(value_text(Kind::of("TEXT"), &[0xff]).is_some_and(|r| r.is_err()));
    }

    /// Every (kind, wire) pair over values at and past the edges: [`field`] writes what the text
    /// path ([`value_text`], then [`pgcopy::field`]) writes, and refuses what it refuses.
    #[test]
    fn binary_fields_encode_as_their_text_would() {
        let mut values: Vec<(Kind, Vec<u8>)> = Vec::new();
        for (bytes, ints) in [
            (1usize, vec![0i64, 1, -1, 127, -128]),
            (2, vec![0, 300, -300, 32767, -32768]),
            (4, vec![0, 70_000, -70_000, i64::from(i32::MAX), i64::from(i32::MIN)]),
            (8, vec![0, 5_000_000_000, -5_000_000_000, i64::MAX, i64::MIN]),
        ] {
            for v in ints {
                let b = v.to_le_bytes()[..bytes].to_vec();
                values.push((Kind::Int { bytes, signed: true }, b.clone()));
                values.push((Kind::Int { bytes, signed: false }, b));
            }
        }
        // Wrong lengths.
        values.push((Kind::Int { bytes: 4, signed: true }, vec![1, 2]));
        let temporal = |y: u16, mo: u8, d: u8, time: Option<(u8, u8, u8, u32)>| {
            let mut b = vec![0u8];
            b.extend_from_slice(&y.to_le_bytes());
            b.extend_from_slice(&[mo, d]);
            if let Some((h, mi, s, us)) = time {
                b.extend_from_slice(&[h, mi, s]);
                if us > 0 {
                    b.extend_from_slice(&us.to_le_bytes());
                }
            }
            b[0] = (b.len() - 1) as u8;
            b
        };
        let dates = [
            temporal(2024, 2, 29, Some((23, 59, 59, 999_999))),
            temporal(2023, 2, 29, Some((0, 0, 0, 0))),
            temporal(1, 1, 1, Some((12, 0, 0, 10))),
            temporal(9999, 12, 31, None),
            temporal(1999, 12, 31, Some((0, 0, 1, 0))),
            temporal(0, 0, 0, None),
            temporal(2024, 13, 1, None),
            temporal(2024, 1, 1, Some((24, 0, 0, 0))),
            temporal(2024, 1, 1, Some((1, 60, 0, 0))),
            temporal(2024, 1, 1, Some((1, 0, 0, 1_000_000))),
            vec![0],
            vec![3, 1, 2, 3],
        ];
        for b in dates {
            values.push((Kind::Temporal { date_only: false }, b.clone()));
            values.push((Kind::Temporal { date_only: true }, b));
        }
        for text in ["12.5000", "-0.0001", "abc", "", "2024-01-02 03:04:05.5", "1", "0"] {
            values.push((Kind::Bytes, text.as_bytes().to_vec()));
        }
        values.push((Kind::Bytes, vec![0xFF, 0xFE]));
        let wires = [
            Wire::Int2,
            Wire::Int4,
            Wire::Int8,
            Wire::Float8,
            Wire::Numeric,
            Wire::Timestamp,
            Wire::Date,
            Wire::Bool,
            Wire::Text,
        ];
        let (mut compared, mut encoded) = (0, 0);
        for (kind, b) in &values {
            for &w in &wires {
                let mut direct = Vec::new();
                let got = field(&mut direct, *kind, w, b).map(|()| direct);
                let want = match value_text(*kind, b) {
                    Some(Ok(text)) => {
                        let mut by_text = Vec::new();
                        pgcopy::field(&mut by_text, w, &text).map(|()| by_text)
                    }
                    _ => None,
                };
                encoded += usize::from(got.is_some());
                assert_eq!(got, want, "{kind:?} {b:?} into {w:?}");
                compared += 1;
            }
        }
        assert_eq!(compared, values.len() * wires.len());
        // Many pairs encode (most others mix kinds, such as a date into an integer): this
        // compares bytes, not only refusals.
        assert!(encoded * 3 > compared, "{encoded} of {compared} encoded");
    }
}
