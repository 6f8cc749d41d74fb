//! Dates and times between transfer text and the engines' binary forms: the calendar
//! arithmetic, and the text written digit by digit (`format!` cost the backfill's client ≈ 5 %
//! of its CPU on the bench's table).

/// `YYYY-MM-DD HH:MM:SS.ffffff` (`time` = `Some((hour, minute, second, microseconds))`) or
/// `YYYY-MM-DD` (`None`); a year over 9999 takes the digits it needs.
pub(crate) fn datetime(
    year: u32,
    month: u32,
    day: u32,
    time: Option<(u32, u32, u32, u32)>,
) -> String {
    let mut out = *b"0000-00-00 00:00:00.000000";
    let (h, mi, s, us) = time.unwrap_or_default();
    for (end, width, v) in
        [(6, 2, month), (9, 2, day), (12, 2, h), (15, 2, mi), (18, 2, s), (25, 6, us)]
    {
        put(&mut out, end, width, v);
    }
    let keep = if time.is_some() { out.len() } else { 10 };
    if year > 9999 {
        return format!("{year}{}", String::from_utf8_lossy(&out[4..keep]));
    }
    put(&mut out, 3, 4, year);
    String::from_utf8_lossy(&out[..keep]).into_owned()
}

/// `v`'s last `width` decimal digits into `out`, the last at `end`.
fn put(out: &mut [u8], end: usize, width: u32, v: u32) {
    let mut v = v;
    for k in 0..width as usize {
        out[end - k] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Source: Howard Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `days_from_civil`.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a count of days since 1970-01-01. Source: Howard Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
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
    use super::{civil_from_days, datetime, days_from_civil};

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn dates_and_times_have_fixed_widths() {
        assert_eq!(datetime(2024, 1, 2, Some((3, 4, 5, 6))), "2024-01-02 03:04:05.000006");
        assert_eq!(datetime(1, 12, 31, None), "0001-12-31");
        assert_eq!(datetime(12345, 6, 7, Some((0, 0, 0, 999_999))), "12345-06-07 00:00:00.999999");
    }
}
