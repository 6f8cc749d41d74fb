//! PostgreSQL's binary `COPY` format: which target column types it encodes ([`wire`]), and one
//! chunk of transfer-text rows encoded into it ([`encode`]).
//!
//! Why: in binary format the server runs each type's `*_recv` function instead of parsing text
//! (`timestamp_in`, `numeric_in`, `int8in`, and `COPY`'s own line splitting and de-escaping).
//! The same 1,000,000 rows of the bench's table loaded by a server-side `COPY` took 1.18–1.27 s
//! in binary format against 1.65–1.79 s in text (three interleaved pairs).
//!
//! Source: the PostgreSQL manual, "COPY — File Formats — Binary Format", and the `*_recv`
//! functions of `src/backend/utils/adt/` (`numeric_recv`, `timestamp_recv`, `date_recv`,
//! `uuid_recv`, `jsonb_recv` …). Each `*_recv` applies the column's type modifier as its text
//! input does (`numeric(12,4)` rounds to 4 places, `varchar(100)` checks the length,
//! `timestamp(3)` rounds the fraction), so a value lands the same either way.
//!
//! The encoder reads only the transfer texts the dialects produce ([`crate::dialect::Dialect::transfer`]):
//! plain integers and decimals, `YYYY-MM-DD HH:MM:SS[.ffffff]`, `1`/`0`, lower-case hex, UUIDs.
//! Any other text (`NaN`, `1e5`, a year 0, `24:00:00`, an out-of-range integer …) makes
//! [`encode`] return `None`, and the caller sends the chunk as text: PostgreSQL then decides
//! about that value exactly as before, its error included.

use crate::db::TextRow;
use crate::render;

/// The binary encoding of one target column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    /// `timestamp` and `timestamptz`: microseconds since 2000-01-01 00:00:00 (UTC for
    /// `timestamptz`: the transfer text has no zone and Ficus's sessions run in UTC).
    Timestamp,
    /// Days since 2000-01-01.
    Date,
    Bool,
    /// `text`, `varchar`, `char`, `json`: the UTF-8 bytes.
    Text,
    /// A version byte (1), then the JSON text.
    Jsonb,
    /// Lower-case hex in transfer text, raw bytes on the wire.
    Bytea,
    Uuid,
}

/// The wire encoding of a PostgreSQL column declared as `declared` (`format_type()` text), or
/// `None` for a type this module does not encode (arrays, enums, domains, `money`, `inet` …):
/// a table with such a column is copied in text format.
pub fn wire(declared: &str) -> Option<Wire> {
    let t = declared.trim().to_ascii_lowercase();
    if t.ends_with("[]") {
        return None;
    }
    // The name without a type modifier: `numeric(12,4)` → `numeric`, `timestamp(3) with time
    // zone` → `timestamp with time zone`.
    let base = match (t.find('('), t.find(')')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &t[..a], &t[b + 1..]),
        _ => t,
    };
    Some(match base.trim() {
        "smallint" | "int2" => Wire::Int2,
        "integer" | "int" | "int4" => Wire::Int4,
        "bigint" | "int8" => Wire::Int8,
        "real" | "float4" => Wire::Float4,
        "double precision" | "float8" => Wire::Float8,
        "numeric" | "decimal" => Wire::Numeric,
        "timestamp without time zone"
        | "timestamp with time zone"
        | "timestamp"
        | "timestamptz" => Wire::Timestamp,
        "date" => Wire::Date,
        "boolean" | "bool" => Wire::Bool,
        "text" | "character varying" | "varchar" | "character" | "bpchar" | "json" => Wire::Text,
        "jsonb" => Wire::Jsonb,
        "bytea" => Wire::Bytea,
        "uuid" => Wire::Uuid,
        _ => return None,
    })
}

/// `rows` (transfer text, one value per `wires` entry) as a whole binary `COPY` stream:
/// signature, header, one tuple per row, trailer. `None` when a value is not a transfer text
/// this module reads (see the module docs) or a row has the wrong width.
pub fn encode(rows: &[TextRow], wires: &[Wire]) -> Option<Vec<u8>> {
    let fields = i16::try_from(wires.len()).ok()?;
    let mut out = start(rows.len(), wires.len());
    for row in rows {
        if row.len() != wires.len() {
            return None;
        }
        out.extend_from_slice(&fields.to_be_bytes());
        for (value, &w) in row.iter().zip(wires) {
            match value {
                None => null(&mut out),
                Some(s) => field(&mut out, w, s)?,
            }
        }
    }
    finish(&mut out);
    Some(out)
}

/// A stream's signature and header, with room for about `rows` rows of `columns` values.
pub(crate) fn start(rows: usize, columns: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + rows * (2 + 12 * columns + 48));
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    out
}

/// A NULL field.
pub(crate) fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// A stream's trailer.
pub(crate) fn finish(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i16).to_be_bytes());
}

/// One non-NULL field: its length, then its bytes.
pub(crate) fn field(out: &mut Vec<u8>, w: Wire, s: &str) -> Option<()> {
    match w {
        Wire::Int2 => fixed(out, &i16::try_from(int(s)?).ok()?.to_be_bytes()),
        Wire::Int4 => fixed(out, &i32::try_from(int(s)?).ok()?.to_be_bytes()),
        Wire::Int8 => fixed(out, &int(s)?.to_be_bytes()),
        Wire::Float4 => fixed(out, &float::<f32>(s)?.to_be_bytes()),
        Wire::Float8 => fixed(out, &float::<f64>(s)?.to_be_bytes()),
        Wire::Numeric => numeric(out, s),
        Wire::Timestamp => fixed(out, &timestamp(s)?.to_be_bytes()),
        Wire::Date => fixed(out, &date(s.as_bytes())?.to_be_bytes()),
        Wire::Bool => match s {
            "1" => fixed(out, &[1]),
            "0" => fixed(out, &[0]),
            _ => None,
        },
        Wire::Text => fixed(out, s.as_bytes()),
        Wire::Jsonb => {
            out.extend_from_slice(&i32::try_from(s.len() + 1).ok()?.to_be_bytes());
            out.push(1);
            out.extend_from_slice(s.as_bytes());
            Some(())
        }
        Wire::Bytea => {
            let b = s.as_bytes();
            if !b.len().is_multiple_of(2) {
                return None;
            }
            out.extend_from_slice(&i32::try_from(b.len() / 2).ok()?.to_be_bytes());
            for pair in b.chunks_exact(2) {
                out.push(hex(pair[0])? << 4 | hex(pair[1])?);
            }
            Some(())
        }
        Wire::Uuid => fixed(out, &uuid(s.as_bytes())?),
    }
}

/// A field's length, then its bytes; `None` past 2 GiB (PostgreSQL takes no field that long).
pub(crate) fn fixed(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    out.extend_from_slice(&i32::try_from(bytes.len()).ok()?.to_be_bytes());
    out.extend_from_slice(bytes);
    Some(())
}

/// An optionally signed run of ASCII digits.
fn int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A finite, normal (or exactly zero) float. Rust's parser and PostgreSQL's (`strtod` /
/// `strtof`) both round correctly, so they agree on every such text; a subnormal or an
/// underflow to zero, where PostgreSQL may raise "out of range", is left to PostgreSQL.
fn float<F: std::str::FromStr + Into<f64> + Copy>(s: &str) -> Option<F> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) {
        return None;
    }
    let v: F = s.parse().ok()?;
    let wide: f64 = v.into();
    let mantissa = s.split(['e', 'E']).next().unwrap_or("");
    let zero_text = !mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    let normal =
        if std::mem::size_of::<F>() == 4 { (wide as f32).is_normal() } else { wide.is_normal() };
    (normal || (wide == 0.0 && zero_text)).then_some(v)
}

/// `[-]ddd[.ddd]` as PostgreSQL's `NumericVar` on the wire: digit count, weight (of the first
/// base-10000 digit), sign, display scale, then the base-10000 digits (`numeric_recv`).
fn numeric(out: &mut Vec<u8>, s: &str) -> Option<()> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac) = body.split_once('.').unwrap_or((body, ""));
    let digit = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac.is_empty()) || !digit(int_part) || !digit(frac) {
        return None;
    }
    // NUMERIC_DSCALE_MASK: the display scale is 14 bits.
    let dscale = u16::try_from(frac.len()).ok().filter(|d| *d <= 0x3FFF)?;
    let int_part = int_part.trim_start_matches('0');
    let group = |g: &[u8]| g.iter().fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0'));
    let mut digits: Vec<i16> = Vec::with_capacity(int_part.len() / 4 + frac.len() / 4 + 2);
    // Integer digits in groups of four counted from the point; the first group may be short.
    let head = int_part.len() % 4;
    if head > 0 {
        digits.push(group(&int_part.as_bytes()[..head]));
    }
    digits.extend(int_part.as_bytes()[head..].chunks(4).map(group));
    let mut weight = i32::try_from(digits.len()).ok()? - 1;
    // Fraction digits in groups of four from the point, the last padded with zeros.
    for g in frac.as_bytes().chunks(4) {
        digits.push(group(g) * [1000, 100, 10, 1][g.len() - 1]);
    }
    let lead = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..lead);
    weight -= i32::try_from(lead).ok()?;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let (weight, sign) =
        if digits.is_empty() { (0, 0) } else { (weight, if negative { 0x4000u16 } else { 0 }) };
    let ndigits = u16::try_from(digits.len()).ok()?;
    let weight = i16::try_from(weight).ok()?;
    out.extend_from_slice(&(8 + 2 * i32::from(ndigits)).to_be_bytes());
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
    Some(())
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `YYYY-MM-DD HH:MM:SS[.f…]` (1–6 fraction digits) as microseconds since 2000-01-01.
fn timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = date(&b[..10])?;
    let (h, mi, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut micros = 0;
    if b.len() > 19 {
        let frac = &b[20..];
        if b[19] != b'.' || frac.is_empty() || frac.len() > 6 {
            return None;
        }
        micros = num(frac)? * 10i64.pow(6 - frac.len() as u32);
    }
    timestamp_micros(days, [h, mi, sec, micros])
}

/// Days since 2000-01-01 and `[hour, minute, second, microseconds]` of a time of day (each in
/// its range, no leap second) as microseconds since 2000-01-01 00:00:00.
pub(crate) fn timestamp_micros(days: i32, time: [i64; 4]) -> Option<i64> {
    let [h, mi, sec, micros] = time;
    let in_range = |v: i64, max: i64| (0..=max).contains(&v);
    if !in_range(h, 23) || !in_range(mi, 59) || !in_range(sec, 59) || !in_range(micros, 999_999) {
        return None;
    }
    Some(i64::from(days) * MICROS_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1_000_000 + micros)
}

/// `YYYY-MM-DD` (years 1–9999, a real calendar day) as days since 2000-01-01.
fn date(b: &[u8]) -> Option<i32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    days(num(&b[..4])?, num(&b[5..7])?, num(&b[8..10])?)
}

/// A real calendar day of the years 1–9999 as days since 2000-01-01.
pub(crate) fn days(y: i64, m: i64, d: i64) -> Option<i32> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=9999).contains(&y) || d < 1 || d > month_days {
        return None;
    }
    i32::try_from(render::days_from_civil(y, m, d) - PG_EPOCH_DAYS).ok()
}

/// A run of 1–6 ASCII digits.
fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 6 {
        return None;
    }
    b.iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` or 32 hex digits, as its 16 bytes.
fn uuid(b: &[u8]) -> Option<[u8; 16]> {
    let digits: Vec<u8> = match b.len() {
        36 if [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') => {
            b.iter().copied().filter(|&c| c != b'-').collect()
        }
        32 => b.to_vec(),
        _ => return None,
    };
    if digits.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *o = hex(pair[0])? << 4 | hex(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(w: Wire, s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        field(&mut out, w, s)?;
        Some(out[4..].to_vec())
    }

    #[test]
    fn declared_types_map_to_their_wire() {
        assert_eq!(wire("numeric(12,4)"), Some(Wire::Numeric));
        assert_eq!(wire("timestamp(3) with time zone"), Some(Wire::Timestamp));
        assert_eq!(wire("timestamp without time zone"), Some(Wire::Timestamp));
        assert_eq!(wire("character varying(100)"), Some(Wire::Text));
        assert_eq!(wire("double precision"), Some(Wire::Float8));
        assert_eq!(wire("integer[]"), None);
        assert_eq!(wire("money"), None);
        assert_eq!(wire("mood"), None);
        assert_eq!(wire("\"char\""), None);
    }

    #[test]
    fn numerics_encode_as_base_10000_digits() {
        // 170.3610: weight 0, digits [170, 3610], dscale 4.
        assert_eq!(
            one(Wire::Numeric, "170.3610").unwrap(),
            [0, 2, 0, 0, 0, 0, 0, 4, 0, 170, 14, 26]
        );
        // -12345678.9: digits [1234, 5678, 9000], weight 1, negative, dscale 1.
        assert_eq!(
            one(Wire::Numeric, "-12345678.9").unwrap(),
            [0, 3, 0, 1, 0x40, 0, 0, 1, 4, 210, 22, 46, 35, 40]
        );
        // 0.00001234: one digit 1234 at weight -2.
        assert_eq!(one(Wire::Numeric, "0.00001234").unwrap(), [0, 1, 255, 254, 0, 0, 0, 8, 4, 210]);
        // Zero keeps its scale and loses its sign; 10000 is one digit at weight 1.
        assert_eq!(one(Wire::Numeric, "-0.00").unwrap(), [0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(one(Wire::Numeric, "10000").unwrap(), [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        for bad in ["NaN", "1e5", "", "-", ".", "1.2.3", " 1", "+1"] {
            assert_eq!(one(Wire::Numeric, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let micros = |s| i64::from_be_bytes(one(Wire::Timestamp, s).unwrap().try_into().unwrap());
        assert_eq!(micros("2000-01-01 00:00:00"), 0);
        assert_eq!(micros("2000-01-01 00:00:00.5"), 500_000);
        assert_eq!(micros("1999-12-31 23:59:59.999999"), -1);
        // 2024-01-01 is 8766 days after 2000-01-01.
        assert_eq!(micros("2024-01-01 00:00:01.007919"), 8766 * MICROS_PER_DAY + 1_007_919);
        assert_eq!(micros("2024-02-29 12:00:00"), (8766 + 59) * MICROS_PER_DAY + 43_200_000_000);
        for bad in [
            "2023-02-29 00:00:00",
            "0000-01-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:00:60",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00.1234567",
            "2024-01-01 00:00:00.",
            "infinity",
        ] {
            assert_eq!(one(Wire::Timestamp, bad), None, "{bad:?}");
        }
        let days = |s| i32::from_be_bytes(one(Wire::Date, s).unwrap().try_into().unwrap());
        assert_eq!(days("2000-03-01"), 60);
        assert_eq!(days("0001-01-01"), -730_119);
    }

    #[test]
    fn other_types_read_only_their_transfer_text() {
        assert_eq!(one(Wire::Int4, "-42").unwrap(), (-42i32).to_be_bytes());
        assert_eq!(one(Wire::Int2, "40000"), None);
        assert_eq!(one(Wire::Int8, "1.0"), None);
        assert_eq!(one(Wire::Bool, "1").unwrap(), [1]);
        assert_eq!(one(Wire::Bool, "t"), None);
        assert_eq!(one(Wire::Bytea, "00ff10").unwrap(), [0, 255, 16]);
        assert_eq!(one(Wire::Bytea, "0g"), None);
        assert_eq!(one(Wire::Jsonb, "{}").unwrap(), [1, b'{', b'}']);
        assert_eq!(
            one(Wire::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap()[..3],
            [0xa0, 0xee, 0xbc]
        );
        assert_eq!(one(Wire::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"), None);
        assert_eq!(one(Wire::Float8, "0.1").unwrap(), 0.1f64.to_be_bytes());
        assert_eq!(one(Wire::Float4, "0.1").unwrap(), 0.1f32.to_be_bytes());
        for bad in ["NaN", "inf", "1e400", "1e-320", "0x10", ""] {
            assert_eq!(one(Wire::Float8, bad), None, "{bad:?}");
        }
        assert_eq!(one(Wire::Float4, "1e-40"), None);
    }

    #[test]
    fn a_stream_has_header_tuples_and_trailer() {
        let rows = vec![vec![Some("7".to_owned()), None]];
        let out = encode(&rows, &[Wire::Int4, Wire::Text]).unwrap();
        assert_eq!(&out[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&out[19..], [0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 255, 255, 255, 255, 255, 255]);
        assert_eq!(encode(&rows, &[Wire::Int4]), None, "a row of the wrong width");
    }
}
