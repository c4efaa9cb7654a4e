//! Unix time to and from calendar dates, for the few dates the protocols carry: HTTP dates
//! (`Last-Modified`, `If-Modified-Since`), listing times, Wantu's `${year}`-style variables.
//!
//! Public so that the CLI and the emulator share this one implementation instead of a date
//! crate or copies of it. The arithmetic is Howard Hinnant's days-from-civil and
//! civil-from-days (proleptic Gregorian, UTC).

/// A date and a time of day in UTC (or in whatever zone the seconds passed in were shifted to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS_FROM_THURSDAY: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

impl DateTime {
    /// The date at `secs` seconds since 1970-01-01 00:00:00 (negative: before it).
    pub fn from_unix_secs(secs: i64) -> DateTime {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        // In range by construction: day 1–31, month 1–12, rem < 86 400.
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let rem = rem as u32;
        DateTime { year, month, day, hour: rem / 3600, minute: rem % 3600 / 60, second: rem % 60 }
    }

    /// The date at `ms` Unix milliseconds (the unit the stores and clocks here use).
    pub fn from_unix_ms(ms: u64) -> DateTime {
        // u64::MAX / 1000 fits an i64.
        DateTime::from_unix_secs((ms / 1000) as i64)
    }

    /// Seconds since 1970-01-01 00:00:00. The fields are not range-checked: a day 31 in
    /// February counts on into March, as `Date.UTC` does.
    pub fn to_unix_secs(&self) -> i64 {
        let month = i64::from(self.month);
        let y = if month <= 2 { self.year - 1 } else { self.year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }
}

/// RFC 7231's IMF-fixdate (`Tue, 14 Nov 2023 22:13:20 GMT`) for Unix milliseconds.
pub fn http_date(ms: u64) -> String {
    let t = DateTime::from_unix_ms(ms);
    let weekday = WEEKDAYS_FROM_THURSDAY[(ms / 1000 / 86_400 % 7) as usize];
    let month = MONTHS[t.month as usize - 1];
    format!("{weekday}, {:02} {month} {} {:02}:{:02}:{:02} GMT", t.day, t.year, t.hour, t.minute, t.second)
}

/// An IMF-fixdate as Unix seconds; `None` for anything else, or a date before 1970. The weekday
/// is not checked and the month name is read in any case, as servers and browsers differ there.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let mut it = text.split_whitespace();
    let _weekday = it.next()?;
    let day: u32 = it.next()?.parse().ok()?;
    let month_name = it.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as u32 + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<u32>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    let in_range = (1..=9999).contains(&year) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second <= 60;
    in_range.then_some(())?;
    u64::try_from(DateTime { year, month, day, hour, minute, second }.to_unix_secs()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (Unix seconds, y, m, d, h, mi, s), across leap days, century rules and the epoch.
    const VECTORS: &[(i64, i64, u32, u32, u32, u32, u32)] = &[
        (0, 1970, 1, 1, 0, 0, 0),
        (-1, 1969, 12, 31, 23, 59, 59),
        (951_782_400, 2000, 2, 29, 0, 0, 0),
        (1_700_000_000, 2023, 11, 14, 22, 13, 20),
        (4_107_542_399, 2100, 2, 28, 23, 59, 59),
        (4_107_542_400, 2100, 3, 1, 0, 0, 0),
        (253_402_300_799, 9999, 12, 31, 23, 59, 59),
    ];

    #[test]
    fn dates_round_trip_through_the_vectors() {
        for &(secs, year, month, day, hour, minute, second) in VECTORS {
            let t = DateTime { year, month, day, hour, minute, second };
            assert_eq!(DateTime::from_unix_secs(secs), t, "{secs}");
            assert_eq!(t.to_unix_secs(), secs, "{t:?}");
        }
        assert_eq!(DateTime::from_unix_ms(1_700_000_000_999).second, 20);
        // The largest millisecond count does not overflow.
        assert!(DateTime::from_unix_ms(u64::MAX).year > 500_000_000);
    }

    #[test]
    fn http_dates_are_written_and_read() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_700_000_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
        for ms in [0, 951_782_400_000, 1_700_000_000_000, 253_402_300_799_000] {
            assert_eq!(parse_http_date(&http_date(ms)), Some(ms / 1000));
        }
        assert_eq!(parse_http_date("tue, 14 nov 2023 22:13:20 gmt"), Some(1_700_000_000));
        for bad in [
            "soon",
            "",
            "Tue, 14 Nov 2023 22:13",
            "Tue, 14 Foo 2023 22:13:20 GMT",
            "Tue, 14 Nov 99999999999999999 22:13:20 GMT",
            "Tue, 32 Nov 2023 22:13:20 GMT",
            "Tue, 14 Nov 2023 24:00:00 GMT",
            "Tue, 14 Nov 2023 -1:00:00 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }
}
