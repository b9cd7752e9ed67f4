//! Formatting of stored times (epoch milliseconds UTC) for display.

/// `2026-11-22 14:03 UTC` from epoch milliseconds.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A UTC day (days since 1970-01-01) as `2026-11-22`.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The UTC day (days since 1970-01-01) of a `2026-11-22` date.
pub fn parse_day(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a date such as 2026-11-22");
    let t = text.trim();
    let parts: Vec<&str> = t.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let n = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let (y, m, d) = (n(parts[0])? as i64, n(parts[1])?, n(parts[2])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let day = days_from_civil(y, m, d);
    // 2026-02-30 would land in March: refuse it rather than move it.
    if civil_from_days(day) != (y, m, d) {
        return Err(bad());
    }
    Ok(day)
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T14:03:05.120Z` (the API's time format).
pub fn to_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Epoch milliseconds from an RFC 3339 time (`2026-11-22T14:03:05Z`, with optional fraction
/// and `±hh:mm` offset; a space may replace the `T`).
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not an RFC 3339 time such as 2026-11-22T14:03:05Z");
    let s = text.trim().as_bytes();
    if s.len() < 20 {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = std::str::from_utf8(&s[range]).map_err(|_| bad())?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<i64>().map_err(|_| bad())
    };
    if s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut i = 19;
    let mut millis = 0i64;
    if s[i] == b'.' {
        i += 1;
        let start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let digits = &s[start..i.min(start + 3)];
        let mut v = std::str::from_utf8(digits)
            .map_err(|_| bad())?
            .parse::<i64>()
            .map_err(|_| bad())?;
        for _ in digits.len()..3 {
            v *= 10;
        }
        millis = v;
    }
    let offset_min = match s.get(i) {
        Some(b'Z' | b'z') if i + 1 == s.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == s.len() && s[i + 3] == b':' => {
            let minutes = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Ok(secs * 1000 + millis)
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `850 ms`, `42 s`, `4 min 12 s`, `2 h 05 min`: a duration in seconds for tables.
pub fn format_duration_s(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    if seconds < 1.0 {
        return format!("{:.0} ms", seconds * 1000.0);
    }
    let s = seconds.round() as i64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// A fraction as a percentage for display: `0.9731` → `97.3%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// "3 minutes", "1 hour" — a coarse duration for messages.
pub fn humanize_ms(ms: i64) -> String {
    let mins = (ms + 59_999) / 60_000;
    if mins < 60 {
        format!("{} minute{}", mins.max(1), if mins == 1 { "" } else { "s" })
    } else {
        let h = (mins + 59) / 60;
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_refuse_impossible_dates() {
        assert_eq!(parse_day("1970-01-02"), Ok(1));
        assert_eq!(format_day(parse_day("2026-11-22").unwrap()), "2026-11-22");
        assert_eq!(
            parse_day("2024-02-29").map(format_day),
            Ok("2024-02-29".into())
        );
        assert!(parse_day("2026-02-30").is_err());
        assert!(parse_day("2026-13-01").is_err());
        assert!(parse_day("22.11.2026").is_err());
    }

    #[test]
    fn rfc3339_round_trips_and_reads_offsets_and_fractions() {
        let ms = 1_763_820_185_120;
        assert_eq!(parse_rfc3339(&to_rfc3339(ms)), Ok(ms));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01 00:00:01.5Z"), Ok(1500));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.123456Z"),
            Ok(1_709_208_000_123)
        );
        assert!(parse_rfc3339("2024-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2024-01-01T00:00:00").is_err());
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_795_355_580_000), "2026-11-22 13:53 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn humanizes_durations_rounding_up() {
        assert_eq!(humanize_ms(1), "1 minute");
        assert_eq!(humanize_ms(14 * 60_000 + 1), "15 minutes");
        assert_eq!(humanize_ms(61 * 60_000), "2 hours");
    }
}
