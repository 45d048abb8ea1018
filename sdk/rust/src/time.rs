//! ISO 8601 times as the gateway writes them (`2026-11-01T12:30:00.000Z`), to and from
//! `SystemTime`, without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year to start in March, so the leap day is the last day of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // 0..=399
    let m = month as i64;
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a count of days since 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // 0..=146096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with `Z` or `±HH:MM` (UTC when
/// it has neither). `None` when it is not such a time.
pub fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?)?;
    let month = digits(parts.next()?)? as u32;
    let day = digits(parts.next()?)? as u32;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    let mut nanos: u32 = 0;
    if let Some(time) = time {
        // Split off the zone: Z, or the last + / - (the date part is already gone).
        let (clock, offset_s) = if let Some(stripped) = time.strip_suffix(|c| c == 'Z' || c == 'z') {
            (stripped, 0)
        } else if let Some(i) = time.rfind(['+', '-']) {
            let sign = if &time[i..i + 1] == "-" { -1 } else { 1 };
            let zone = &time[i + 1..];
            let (h, m) = match zone.split_once(':') {
                Some((h, m)) => (digits(h)?, digits(m)?),
                None if zone.len() == 4 => (digits(&zone[..2])?, digits(&zone[2..])?),
                None => (digits(zone)?, 0),
            };
            (&time[..i], sign * (h * 3600 + m * 60))
        } else {
            (time, 0)
        };
        let mut fields = clock.split(':');
        let hour = digits(fields.next()?)?;
        let minute = digits(fields.next()?)?;
        let (sec, frac) = match fields.next() {
            Some(s) => match s.split_once(['.', ',']) {
                Some((whole, frac)) => (digits(whole)?, Some(frac)),
                None => (digits(s)?, None),
            },
            None => (0, None),
        };
        if fields.next().is_some() || hour > 23 || minute > 59 || sec > 60 {
            return None;
        }
        if let Some(frac) = frac {
            digits(frac)?;
            let mut padded: String = frac.chars().take(9).collect();
            while padded.len() < 9 {
                padded.push('0');
            }
            nanos = padded.parse().ok()?;
        }
        seconds += hour * 3600 + minute * 60 + sec - offset_s;
    }
    if seconds >= 0 {
        Some(UNIX_EPOCH + Duration::new(seconds as u64, nanos))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs())).map(|t| t + Duration::from_nanos(nanos as u64))
    }
}

/// `2026-11-01T12:30:00.000Z` (UTC, milliseconds), as JavaScript's `toISOString()` writes it.
pub fn format_iso8601(time: SystemTime) -> String {
    let (secs, millis) = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(e) => {
            let d = e.duration();
            let whole = d.as_secs() as i64 + i64::from(d.subsec_nanos() > 0);
            (-whole, if d.subsec_nanos() > 0 { 1000 - d.subsec_millis() } else { 0 })
        }
    };
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, rest / 3600, rest % 3600 / 60, rest % 60, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_the_gateways_forms() {
        let t = parse_iso8601("2026-11-01T12:30:05.250Z").unwrap();
        assert_eq!(format_iso8601(t), "2026-11-01T12:30:05.250Z");
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_iso8601("2000-03-01"), Some(UNIX_EPOCH + Duration::from_secs(951_868_800)));
        assert_eq!(parse_iso8601("2026-11-01T14:30:05.25+02:00"), Some(t));
        assert_eq!(format_iso8601(UNIX_EPOCH + Duration::from_secs(1_709_164_800)), "2024-02-29T00:00:00.000Z");
        assert_eq!(parse_iso8601("2024-13-01"), None);
        assert_eq!(parse_iso8601("soon"), None);
    }
}
