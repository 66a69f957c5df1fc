//! Working days for the iStandaarden's answer deadlines: a retour within 3
//! working days, a start or stop within 5, a 301 or 319 within 5 after a
//! 315, a 325 within 10 after a 323 ([`crate::record::deadlines`]).
//!
//! The standard counts as the Algemene termijnenwet does: Saturdays,
//! Sundays and the general public holidays are not working days. Which
//! holidays those are is data (`schemas/calendar/feestdagen.toml`): a rule
//! per holiday (a fixed date, possibly moved when it falls on a Sunday, or
//! a distance from Easter), compiled in, parsed and checked once at start
//! ([`Calendar::builtin`]), so a wrong rule stops loket instead of quietly
//! moving deadlines.

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

const FEESTDAGEN: &str = include_str!("../schemas/calendar/feestdagen.toml");

/// One holiday rule as the file states it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    naam: String,
    fixed: Option<Fixed>,
    easter: Option<i64>,
    if_sunday: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixed {
    month: u32,
    day: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    feestdag: Vec<Rule>,
}

/// How a holiday's date follows from the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// The same date every year; moved by `if_sunday` days when on a Sunday.
    Fixed {
        month: u32,
        day: u32,
        if_sunday: i64,
    },
    /// A number of days after Eerste Paasdag.
    Easter(i64),
}

/// A public holiday that is not a working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub name: String,
    when: When,
}

impl Holiday {
    /// The holiday's date in `year`.
    pub fn date_in(&self, year: i32) -> Option<NaiveDate> {
        match self.when {
            When::Fixed {
                month,
                day,
                if_sunday,
            } => {
                let d = NaiveDate::from_ymd_opt(year, month, day)?;
                if d.weekday() == Weekday::Sun && if_sunday != 0 {
                    shift(d, if_sunday)
                } else {
                    Some(d)
                }
            }
            When::Easter(offset) => shift(easter(year)?, offset),
        }
    }
}

fn shift(d: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        d.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

/// Eerste Paasdag of `year` (Gregorian), by the anonymous Gregorian
/// algorithm (Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let y = year;
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(y, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The holidays that are not working days, with the weekend.
#[derive(Debug, Clone)]
pub struct Calendar {
    holidays: Vec<Holiday>,
}

impl Calendar {
    /// The compiled-in calendar, parsed and checked on first use (and at
    /// start, by the daemon and the CLI).
    pub fn builtin() -> Result<&'static Calendar> {
        static CAL: OnceLock<std::result::Result<Calendar, String>> = OnceLock::new();
        CAL.get_or_init(|| Calendar::parse(FEESTDAGEN).map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("schemas/calendar/feestdagen.toml: {e}"))
    }

    /// Parses and checks a holiday file: every rule has exactly one of
    /// `fixed` and `easter`, a fixed date exists in a leap year, `if_sunday`
    /// only with `fixed` and within a week, an Easter offset within the
    /// year, no name twice.
    pub fn parse(text: &str) -> Result<Calendar> {
        let file: File = toml::from_str(text).context("cannot read the holiday rules")?;
        let mut holidays: Vec<Holiday> = Vec::with_capacity(file.feestdag.len());
        for r in file.feestdag {
            let name = r.naam.trim().to_string();
            if name.is_empty() {
                bail!("a holiday without a name");
            }
            if holidays.iter().any(|h| h.name == name) {
                bail!("{name}: listed twice");
            }
            let when = match (r.fixed, r.easter) {
                (Some(f), None) => {
                    if NaiveDate::from_ymd_opt(2024, f.month, f.day).is_none() {
                        bail!("{name}: {}-{} is not a date", f.month, f.day);
                    }
                    let if_sunday = r.if_sunday.unwrap_or(0);
                    if !(-6..=6).contains(&if_sunday) {
                        bail!("{name}: if_sunday {if_sunday} moves it more than a week");
                    }
                    When::Fixed {
                        month: f.month,
                        day: f.day,
                        if_sunday,
                    }
                }
                (None, Some(offset)) => {
                    if r.if_sunday.is_some() {
                        bail!("{name}: if_sunday only applies to a fixed date");
                    }
                    if !(-120..=120).contains(&offset) {
                        bail!("{name}: easter offset {offset} is out of range");
                    }
                    When::Easter(offset)
                }
                _ => bail!("{name}: needs exactly one of fixed and easter"),
            };
            holidays.push(Holiday { name, when });
        }
        if holidays.is_empty() {
            bail!("no holidays listed");
        }
        Ok(Calendar { holidays })
    }

    /// The holiday on `date`, if it is one.
    pub fn holiday(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays
            .iter()
            .find(|h| h.date_in(date.year()) == Some(date))
    }

    /// Whether `date` is a working day: not a Saturday, Sunday or holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.holiday(date).is_none()
    }

    /// The `n`th working day after `date` (`date` itself does not count,
    /// whether or not it is a working day): a message due "within 3 working
    /// days" of a Friday is due on the Wednesday after. `n = 0` gives
    /// `date`.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            match d.succ_opt() {
                Some(next) => d = next,
                None => return d,
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days from `from` to `to`: how many working days after `from`
    /// `to` is (negative when `to` is earlier). Days overdue are
    /// `working_days_between(due, today)`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let (a, b, sign) = if from <= to {
            (from, to, 1)
        } else {
            (to, from, -1)
        };
        let mut n = 0;
        let mut d = a;
        while d < b {
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
            if self.is_working_day(d) {
                n += 1;
            }
        }
        sign * n
    }
}

/// Whether `date` is a working day, by the built-in calendar.
pub fn is_working_day(date: NaiveDate) -> Result<bool> {
    Ok(Calendar::builtin()?.is_working_day(date))
}

/// The `n`th working day after `date`, by the built-in calendar.
pub fn add_working_days(date: NaiveDate, n: u32) -> Result<NaiveDate> {
    Ok(Calendar::builtin()?.add_working_days(date, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn cal() -> &'static Calendar {
        Calendar::builtin().expect("built-in calendar")
    }

    #[test]
    fn easter_by_the_algorithm() {
        for (year, date) in [
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter(year), Some(d(date)), "{year}");
        }
    }

    #[test]
    fn holidays_of_known_years() {
        let c = cal();
        let name = |s: &str| c.holiday(d(s)).map(|h| h.name.as_str());
        // 27 April 2025 is a Sunday: Koningsdag is the Saturday before.
        assert_eq!(name("2025-04-26"), Some("Koningsdag"));
        assert_eq!(name("2025-04-27"), None);
        assert_eq!(name("2026-04-27"), Some("Koningsdag"));
        assert_eq!(name("2026-05-14"), Some("Hemelvaartsdag"));
        assert_eq!(name("2026-05-25"), Some("Tweede Pinksterdag"));
        assert_eq!(name("2026-04-06"), Some("Tweede Paasdag"));
        assert_eq!(name("2025-05-29"), Some("Hemelvaartsdag"));
        assert_eq!(name("2025-06-09"), Some("Tweede Pinksterdag"));
        assert_eq!(name("2026-05-05"), Some("Bevrijdingsdag"));
        assert_eq!(name("2026-12-25"), Some("Eerste Kerstdag"));
        assert_eq!(name("2026-12-26"), Some("Tweede Kerstdag"));
        assert_eq!(name("2027-01-01"), Some("Nieuwjaarsdag"));
        // Goede Vrijdag is not one.
        assert_eq!(name("2026-04-03"), None);
    }

    #[test]
    fn working_days() {
        let c = cal();
        assert!(c.is_working_day(d("2026-12-07"))); // Monday
        assert!(!c.is_working_day(d("2026-12-05"))); // Saturday
        assert!(!c.is_working_day(d("2026-12-06"))); // Sunday
        assert!(!c.is_working_day(d("2026-05-14"))); // Hemelvaart, Thursday
        assert!(is_working_day(d("2026-05-15")).expect("calendar"));
    }

    #[test]
    fn adding_working_days_skips_weekends_and_holidays() {
        let c = cal();
        // Friday + 3: Mon, Tue, Wed.
        assert_eq!(c.add_working_days(d("2026-12-04"), 3), d("2026-12-09"));
        // Wednesday 13 May 2026 + 3: Hemelvaart (14th) and the weekend skipped.
        assert_eq!(c.add_working_days(d("2026-05-13"), 3), d("2026-05-19"));
        // Christmas week: 23 Dec 2026 (Wed) + 5 working days: 24, 28, 29, 30, 31.
        assert_eq!(c.add_working_days(d("2026-12-23"), 5), d("2026-12-31"));
        // From a Saturday: the weekend does not count.
        assert_eq!(c.add_working_days(d("2026-12-05"), 1), d("2026-12-07"));
        // Easter 2026: Thursday 2 April + 2: Friday 3 April, Tuesday 7 April.
        assert_eq!(c.add_working_days(d("2026-04-02"), 2), d("2026-04-07"));
        assert_eq!(c.add_working_days(d("2026-04-02"), 0), d("2026-04-02"));
        assert_eq!(
            add_working_days(d("2025-04-24"), 2).expect("calendar"),
            d("2025-04-28")
        );
    }

    #[test]
    fn counting_between() {
        let c = cal();
        assert_eq!(c.working_days_between(d("2026-12-04"), d("2026-12-09")), 3);
        assert_eq!(c.working_days_between(d("2026-12-09"), d("2026-12-04")), -3);
        assert_eq!(c.working_days_between(d("2026-12-09"), d("2026-12-09")), 0);
        for n in 0..30 {
            let start = d("2026-12-18");
            assert_eq!(
                c.working_days_between(start, c.add_working_days(start, n)),
                i64::from(n)
            );
        }
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in [
            "[[feestdag]]\nnaam = \"X\"\n",
            "[[feestdag]]\nnaam = \"X\"\nfixed = { month = 2, day = 30 }\n",
            "[[feestdag]]\nnaam = \"X\"\neaster = 1\nif_sunday = -1\n",
            "[[feestdag]]\nnaam = \"X\"\neaster = 1\nfixed = { month = 1, day = 1 }\n",
            "[[feestdag]]\nnaam = \"X\"\neaster = 1\n[[feestdag]]\nnaam = \"X\"\neaster = 2\n",
            "[[feestdag]]\nnaam = \"X\"\neaster = 1\nextra = 1\n",
            "feestdag = []\n",
        ] {
            assert!(Calendar::parse(bad).is_err(), "{bad}");
        }
    }
}
