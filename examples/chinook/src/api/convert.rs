//! Money as integer cents (decimal text, JSON numbers) and timestamps as whole UTC seconds (RFC 3339,
//! the legacy `YYYY-MM-DD HH:MM:SS` text), shared so both services convert identically.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest amount a `NUMERIC(10,2)` column holds, in cents (99 999 999.99).
pub const MAX_CENTS: i64 = 9_999_999_999;

/// An amount of money in integer cents. Serialized as a JSON number of currency units
/// (`198` cents → `1.98`); deserialized from a JSON number with at most two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(pub i64);

impl Cents {
    /// The amount in currency units, as served in JSON (`cents / 100`).
    pub fn as_units(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// Parses decimal text as stored by the legacy database (`"1.98"`, `"2"`, `"2.0"`, `"-0.5"`,
    /// `"1e2"`) into cents. Errors on malformed text, more than two non-zero decimals, or
    /// overflow.
    pub fn parse_decimal(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not an amount with at most two decimals");
        if text.contains(['e', 'E']) {
            let value: f64 = text.parse().map_err(|_| bad())?;
            return Self::from_units(value).ok_or_else(bad);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction)
        {
            return Err(bad());
        }
        let (kept, rest) = fraction.split_at(fraction.len().min(2));
        if rest.bytes().any(|b| b != b'0') {
            return Err(bad());
        }
        let mut cents: i64 = 0;
        for b in whole.bytes() {
            cents = cents
                .checked_mul(10)
                .and_then(|c| c.checked_add(i64::from(b - b'0')))
                .ok_or_else(bad)?;
        }
        let mut frac: i64 = 0;
        for (i, b) in kept.bytes().enumerate() {
            frac += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
        }
        cents = cents.checked_mul(100).and_then(|c| c.checked_add(frac)).ok_or_else(bad)?;
        Ok(Self(if negative { -cents } else { cents }))
    }

    /// Converts an amount in currency units to cents if it is finite, has at most two decimals
    /// (within floating-point noise) and fits `NUMERIC(10,2)`.
    pub fn from_units(value: f64) -> Option<Self> {
        if !value.is_finite() {
            return None;
        }
        let scaled = value * 100.0;
        let rounded = scaled.round();
        let tolerance = 1e-6 * rounded.abs().max(1.0);
        if (scaled - rounded).abs() > tolerance || rounded.abs() > MAX_CENTS as f64 {
            return None;
        }
        Some(Self(rounded as i64))
    }
}

impl fmt::Display for Cents {
    /// Decimal text with exactly two decimals: `198` → `1.98`, `-5` → `-0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Cents {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_units())
    }
}

impl<'de> Deserialize<'de> for Cents {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CentsVisitor;

        impl Visitor<'_> for CentsVisitor {
            type Value = Cents;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number with at most two decimals")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cents, E> {
                v.checked_mul(100)
                    .filter(|c| c.abs() <= MAX_CENTS)
                    .map(Cents)
                    .ok_or_else(|| E::custom(format!("{v} is out of range")))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cents, E> {
                let v = i64::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))?;
                self.visit_i64(v)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cents, E> {
                // Rust prints the shortest text that round-trips, never with an exponent.
                Cents::parse_decimal(&v.to_string())
                    .ok()
                    .filter(|c| c.0.abs() <= MAX_CENTS)
                    .ok_or_else(|| {
                        E::custom(format!("{v} is not an amount with at most two decimals"))
                    })
            }
        }

        deserializer.deserialize_any(CentsVisitor)
    }
}

/// A UTC instant with whole-second precision, years 1000..=9999 (the `DATETIME` range).
/// Serialized as RFC 3339 UTC (`"2021-01-01T00:00:00Z"`); deserialized from RFC 3339 with any
/// offset (normalized to UTC) and no non-zero fractional seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    unix: i64,
}

const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.unix
    }

    /// From calendar fields read as UTC; `None` if any is out of range.
    pub fn from_utc(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> Option<Self> {
        let valid = (1000..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && (0..24).contains(&hour)
            && (0..60).contains(&minute)
            && (0..60).contains(&second);
        valid.then(|| Self {
            unix: days_from_civil(year, month, day) * SECONDS_PER_DAY
                + hour * 3600
                + minute * 60
                + second,
        })
    }

    /// Parses RFC 3339 (`2021-01-01T00:00:00Z`, `2021-01-01T01:00:00+01:00`, `t`/space separator
    /// accepted, fractional seconds only if zero). Errors say what is wrong.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text:?} is not an RFC 3339 timestamp: {why}");
        let b = text.as_bytes();
        if b.len() < 20 {
            return Err(bad("too short"));
        }
        let (year, month, day, hour, minute, second) =
            parse_fields(&b[..19], b"Tt ").ok_or_else(|| bad("expected YYYY-MM-DDTHH:MM:SS"))?;
        let mut rest = &b[19..];
        if let Some(frac) = rest.strip_prefix(b".") {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return Err(bad("empty fraction"));
            }
            if frac[..n].iter().any(|&c| c != b'0') {
                return Err(bad("fractional seconds are not supported"));
            }
            rest = &frac[n..];
        }
        let offset = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours =
                    two_digits(*h1, *h2).filter(|h| *h < 24).ok_or_else(|| bad("bad offset"))?;
                let minutes =
                    two_digits(*m1, *m2).filter(|m| *m < 60).ok_or_else(|| bad("bad offset"))?;
                let seconds = hours * 3600 + minutes * 60;
                if *sign == b'-' { -seconds } else { seconds }
            }
            _ => return Err(bad("expected Z or an offset like +01:00")),
        };
        let local = Self::from_utc(year, month, day, hour, minute, second)
            .ok_or_else(|| bad("field out of range (years 1000-9999)"))?;
        let utc = Self { unix: local.unix - offset };
        let (y, ..) = utc.fields();
        if !(1000..=9999).contains(&y) {
            return Err(bad("year out of range after conversion to UTC"));
        }
        Ok(utc)
    }

    /// Parses the legacy `DATETIME` text `YYYY-MM-DD HH:MM:SS` (a `T` separator and a trailing
    /// fraction are tolerated and the fraction dropped), read as UTC.
    pub fn parse_legacy(text: &str) -> Result<Self, String> {
        let b = text.trim().as_bytes();
        let fields = if b.len() >= 19 { parse_fields(&b[..19], b" T") } else { None };
        let tail_ok = b.len() == 19
            || (b.len() > 20 && b[19] == b'.' && b[20..].iter().all(u8::is_ascii_digit));
        match fields {
            Some((y, mo, d, h, mi, s)) if tail_ok => Self::from_utc(y, mo, d, h, mi, s),
            _ => None,
        }
        .ok_or_else(|| format!("{text:?} is not a YYYY-MM-DD HH:MM:SS date-time"))
    }

    /// `(year, month, day, hour, minute, second)` in UTC.
    pub fn fields(self) -> (i64, i64, i64, i64, i64, i64) {
        let days = self.unix.div_euclid(SECONDS_PER_DAY);
        let secs = self.unix.rem_euclid(SECONDS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
    }

    /// RFC 3339 UTC text, e.g. `2021-01-01T00:00:00Z` (the API and new-schema form).
    pub fn to_rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.fields();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// Legacy `DATETIME` text, e.g. `2021-01-01 00:00:00`.
    pub fn to_legacy(self) -> String {
        let (y, mo, d, h, mi, s) = self.fields();
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(TimestampVisitor)
    }
}

/// Parses `YYYY-MM-DD?HH:MM:SS` (19 bytes) where `?` is one of `separators`.
fn parse_fields(b: &[u8], separators: &[u8]) -> Option<(i64, i64, i64, i64, i64, i64)> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !separators.contains(&b[10])
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = two_digits(b[0], b[1])? * 100 + two_digits(b[2], b[3])?;
    Some((
        year,
        two_digits(b[5], b[6])?,
        two_digits(b[8], b[9])?,
        two_digits(b[11], b[12])?,
        two_digits(b[14], b[15])?,
        two_digits(b[17], b[18])?,
    ))
}

fn two_digits(a: u8, b: u8) -> Option<i64> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_to_cents() {
        assert_eq!(Cents::parse_decimal("1.98"), Ok(Cents(198)));
        assert_eq!(Cents::parse_decimal("2"), Ok(Cents(200)));
        assert_eq!(Cents::parse_decimal("2.0"), Ok(Cents(200)));
        assert_eq!(Cents::parse_decimal("0.990"), Ok(Cents(99)));
        assert_eq!(Cents::parse_decimal("-0.5"), Ok(Cents(-50)));
        assert_eq!(Cents::parse_decimal(".5"), Ok(Cents(50)));
        assert_eq!(Cents::parse_decimal("1e2"), Ok(Cents(10_000)));
        assert!(Cents::parse_decimal("0.999").is_err());
        assert!(Cents::parse_decimal("abc").is_err());
        assert!(Cents::parse_decimal(".").is_err());
        assert_eq!(Cents(198).to_string(), "1.98");
        assert_eq!(Cents(-5).to_string(), "-0.05");
        assert_eq!(Cents(1300).to_string(), "13.00");
    }

    #[test]
    fn cents_json() {
        assert_eq!(serde_json::to_string(&Cents(198)).ok(), Some("1.98".to_owned()));
        let parsed: Result<Cents, _> = serde_json::from_str("0.99");
        assert_eq!(parsed.ok(), Some(Cents(99)));
        let parsed: Result<Cents, _> = serde_json::from_str("13.86");
        assert_eq!(parsed.ok(), Some(Cents(1386)));
        let parsed: Result<Cents, _> = serde_json::from_str("3");
        assert_eq!(parsed.ok(), Some(Cents(300)));
        assert!(serde_json::from_str::<Cents>("0.001").is_err());
        assert!(serde_json::from_str::<Cents>("\"1.00\"").is_err());
    }

    #[test]
    fn timestamps() {
        let t = Timestamp::parse_rfc3339("2021-01-01T00:00:00Z");
        assert_eq!(t.map(Timestamp::to_legacy), Ok("2021-01-01 00:00:00".to_owned()));
        let t = Timestamp::parse_rfc3339("2021-01-01T01:30:00+02:00");
        assert_eq!(t.map(Timestamp::to_rfc3339), Ok("2020-12-31T23:30:00Z".to_owned()));
        let t = Timestamp::parse_rfc3339("2024-02-29T12:00:00.000Z");
        assert_eq!(t.map(Timestamp::to_rfc3339), Ok("2024-02-29T12:00:00Z".to_owned()));
        assert!(Timestamp::parse_rfc3339("2023-02-29T12:00:00Z").is_err());
        assert!(Timestamp::parse_rfc3339("2023-01-01T12:00:00.5Z").is_err());
        assert!(Timestamp::parse_rfc3339("2023-01-01 12:00:00").is_err());
        assert!(Timestamp::parse_rfc3339("0999-01-01T12:00:00Z").is_err());
        let t = Timestamp::parse_legacy("2025-12-22 00:00:00");
        assert_eq!(t.map(Timestamp::to_rfc3339), Ok("2025-12-22T00:00:00Z".to_owned()));
        assert_eq!(Timestamp::from_utc(1970, 1, 1, 0, 0, 0).map(Timestamp::unix_seconds), Some(0));
        for days in [-400_000, -1, 0, 1, 59, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
