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
