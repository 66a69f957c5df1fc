//! How the pages write dates, months, times, numbers and counts: the one
//! place every page takes them from, so a date is dd-mm-jjjj, a month
//! "november 2026" and a time Amsterdam's with its zone on every page.
//!
//! The record keeps dates as ISO 8601 and times as UTC (RFC 3339); only
//! the pages turn them into what a Dutch reader expects.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Amsterdam;

/// The Dutch month names, lower case as Dutch writes them.
const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// A date as dd-mm-jjjj ("07-12-2026").
pub fn date(d: NaiveDate) -> String {
    d.format("%d-%m-%Y").to_string()
}

/// An ISO date (or the date part of a timestamp) as dd-mm-jjjj; a value
/// that is not a date is shown as it is rather than hidden.
pub fn date_str(iso: &str) -> String {
    iso.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map_or_else(|| iso.to_string(), date)
}

/// A period "01-11-2026 t/m 30-11-2026".
pub fn period(from: NaiveDate, to: NaiveDate) -> String {
    format!("{} t/m {}", date(from), date(to))
}

/// A month's Dutch name ("november").
pub fn month_name(month: u32) -> &'static str {
    MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

/// A month's short Dutch name as Dutch abbreviates it ("mrt", "okt"),
/// for the axis of a chart where the full name does not fit.
pub fn month_abbr(month: u32) -> &'static str {
    const SHORT: [&str; 12] = [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ];
    SHORT
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

/// A month as "november 2026".
pub fn month(year: i32, month: u32) -> String {
    format!("{} {year}", month_name(month))
}

/// The month of a date as "november 2026".
pub fn month_of(d: NaiveDate) -> String {
    month(d.year(), d.month())
}

/// A month given as "2026-11" (or any ISO date in it) as "november 2026";
/// anything else as it is.
pub fn month_str(ym: &str) -> String {
    let parsed = ym
        .get(..7)
        .and_then(|s| s.split_once('-'))
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u32>().ok()?)))
        .filter(|(_, m)| (1..=12).contains(m));
    parsed.map_or_else(|| ym.to_string(), |(y, m)| month(y, m))
}

/// A moment in Amsterdam's time with its zone: "07-12-2026 01:15 CET"
/// (CEST in summer).
pub fn time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Amsterdam)
        .format("%d-%m-%Y %H:%M %Z")
        .to_string()
}

/// A stored UTC timestamp (RFC 3339, or loket's "YYYY-MM-DD HH:MM:SS"
/// without a zone, which is UTC too) as [`time`]; a bare date as [`date_str`].
pub fn time_str(stored: &str) -> String {
    if let Ok(t) = DateTime::parse_from_rfc3339(stored) {
        return time(t.with_timezone(&Utc));
    }
    let plain = stored.trim_end_matches('Z').replace('T', " ");
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(&plain, fmt) {
            return time(n.and_utc());
        }
    }
    date_str(stored)
}

/// A count with its noun in the right number: "1 deelnemer", "3 deelnemers",
/// "0 deelnemers".
pub fn count(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A volume with its unit from the standard's code list (WSP eenheid,
/// "16" dagdeel): "37 dagdelen", "1 dagdeel"; an unknown code is shown as
/// it is, after the number.
pub fn volume(n: i64, eenheid: &str) -> String {
    crate::mapping::units::Eenheid::from_code(eenheid).map_or_else(
        || format!("{n} {eenheid}").trim_end().to_string(),
        |e| e.count_nl(n),
    )
}

/// A whole number with Dutch thousands separators: "200.000", "-1.234".
pub fn integer(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    out
}

/// A decimal number the Dutch way: a comma, no needless zeros ("5,5",
/// "12", "0,25"); at most `decimals` places.
pub fn number(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    let s = if s == "-0" { "0".to_string() } else { s };
    s.replace('.', ",")
}

/// A number typed by a person: a decimal comma or point ("5,5", "5.5"),
/// no thousands separators, surrounding spaces ignored. `None` when it is
/// not a number; the browser's number input is not used, so this is the
/// only place a typed number is read.
pub fn parse_number(s: &str) -> Option<f64> {
    crate::registration::csv::parse_decimal(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_months_and_periods() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        assert_eq!(date(d), "03-11-2026");
        assert_eq!(date_str("2026-11-03"), "03-11-2026");
        assert_eq!(date_str("2026-11-03T10:00:00Z"), "03-11-2026");
        assert_eq!(date_str("onbekend"), "onbekend");
        assert_eq!(month_of(d), "november 2026");
        assert_eq!(month_str("2026-01"), "januari 2026");
        assert_eq!(month_str("2026-13"), "2026-13");
        assert_eq!(
            (month_abbr(3), month_abbr(10), month_abbr(13)),
            ("mrt", "okt", "")
        );
        assert_eq!(
            period(d, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            "03-11-2026 t/m 30-11-2026"
        );
    }

    #[test]
    fn times_in_amsterdam_with_the_zone() {
        assert_eq!(time_str("2026-12-07T00:15:00Z"), "07-12-2026 01:15 CET");
        assert_eq!(
            time_str("2026-07-01T22:30:00+00:00"),
            "02-07-2026 00:30 CEST"
        );
        assert_eq!(time_str("2026-07-01 10:00:00"), "01-07-2026 12:00 CEST");
        assert_eq!(
            time_str("2026-03-29T01:00:00.123456Z"),
            "29-03-2026 03:00 CEST"
        );
        assert_eq!(time_str("2026-03-29"), "29-03-2026");
    }

    #[test]
    fn counts_and_numbers() {
        assert_eq!(count(1, "deelnemer", "deelnemers"), "1 deelnemer");
        assert_eq!(count(0, "deelnemer", "deelnemers"), "0 deelnemers");
        assert_eq!(count(20, "deelnemer", "deelnemers"), "20 deelnemers");
        assert_eq!(volume(37, "16"), "37 dagdelen");
        assert_eq!(volume(1, "16"), "1 dagdeel");
        assert_eq!(volume(1, "14"), "1 etmaal");
        assert_eq!(volume(6, "04"), "6 uur");
        assert_eq!(volume(3, "zz"), "3 zz");
        assert_eq!(integer(200_000), "200.000");
        assert_eq!(integer(-1234), "-1.234");
        assert_eq!(integer(999), "999");
        assert_eq!(number(5.5, 2), "5,5");
        assert_eq!(number(12.0, 2), "12");
        assert_eq!(number(0.25, 2), "0,25");
        assert_eq!(number(-0.0001, 2), "0");
        assert_eq!(parse_number(" 5,5 "), Some(5.5));
        assert_eq!(parse_number("5.5"), Some(5.5));
        assert_eq!(parse_number("5,5,5"), None);
        assert_eq!(parse_number("vijf"), None);
    }
}
