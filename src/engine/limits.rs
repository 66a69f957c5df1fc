//! How much an allocation allows: per product period (TR321, IV077), over
//! its whole duration (TR322) and within its budget (TR369).
//!
//! A municipality rejects a prestatie whose volume does not fit; loket
//! computes the same ceiling before declaring, declares at most that, and
//! reports the rest as delivery beyond the allocation (with the suggestion
//! of a verzoek om wijziging) instead of sending a line that comes back.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::mapping::{Eenheid, Period};

/// Frequentie (code list WMO757 / JW757).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequentie {
    PerDag,
    PerWeek,
    PerMaand,
    /// Totaal binnen geldigheidsduur toewijzing.
    Totaal,
}

impl Frequentie {
    pub fn from_code(code: &str) -> Option<Frequentie> {
        match code {
            "1" => Some(Frequentie::PerDag),
            "2" => Some(Frequentie::PerWeek),
            "4" => Some(Frequentie::PerMaand),
            "6" => Some(Frequentie::Totaal),
            _ => None,
        }
    }

    /// How staff say it after a volume: "40 dagdelen per maand". The one
    /// wording the pages, the message summary and the review item share.
    pub fn label_nl(self) -> &'static str {
        match self {
            Frequentie::PerDag => "per dag",
            Frequentie::PerWeek => "per week",
            Frequentie::PerMaand => "per maand",
            Frequentie::Totaal => "totaal in de looptijd",
        }
    }
}

/// The uitvoeringsvariant, as far as it changes the arithmetic: outputgericht
/// allocations (stuks output, euro's) count weeks by their Sundays,
/// inspanningsgericht ones by calendar weeks (IV077).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Inspanning,
    Output,
    /// No Omvang: taakgericht or budget-only. Nothing to count volume
    /// against; only a budget, if any, limits.
    Taak,
}

/// An allocation's Omvang (Volume, Eenheid, Frequentie) and Budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Omvang {
    pub volume: u64,
    pub eenheid: Eenheid,
    pub frequentie: Frequentie,
}

/// What limits one allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub omvang: Option<Omvang>,
    /// In cents.
    pub budget: Option<u64>,
    pub ingangsdatum: NaiveDate,
    pub einddatum: Option<NaiveDate>,
    /// iWmo category 01 (hulp bij het huishouden) may use six weekly volumes
    /// in any month (TR321).
    pub household_help: bool,
}

impl Allowance {
    pub fn variant(&self) -> Variant {
        match self.omvang {
            None => Variant::Taak,
            Some(o) if matches!(o.eenheid, Eenheid::Euro | Eenheid::StuksOutput) => Variant::Output,
            Some(_) => Variant::Inspanning,
        }
    }

    /// Factor from the allocation's eenheid to the declared one: an
    /// allocation in hours may be declared in minutes (TR341). `None` when
    /// the two do not fit.
    pub fn factor(&self, declared: Eenheid) -> Option<u64> {
        let allocated = self.omvang?.eenheid;
        if allocated == declared {
            Some(1)
        } else if allocated == Eenheid::Uur && declared == Eenheid::Minuut {
            Some(60)
        } else {
            None
        }
    }

    /// The most that may be declared for `period` (a product period inside
    /// the allocation), in the allocation's eenheid; `None` without a limit
    /// per period.
    pub fn max_in_period(&self, period: Period) -> Option<u64> {
        let o = self.omvang?;
        let times = match o.frequentie {
            Frequentie::PerDag => u64::from(period.days()),
            Frequentie::PerWeek => match self.variant() {
                Variant::Output => self.output_weeks(period),
                _ if self.household_help => 6,
                _ => calendar_weeks(period),
            },
            Frequentie::PerMaand => 1,
            Frequentie::Totaal => return None,
        };
        Some(o.volume.saturating_mul(times))
    }

    /// The most that may be declared over the whole allocation, in its
    /// eenheid; `None` when it has no end (then only per-period limits hold).
    pub fn max_total(&self) -> Option<u64> {
        let o = self.omvang?;
        if o.frequentie == Frequentie::Totaal {
            return Some(o.volume);
        }
        let whole = Period {
            start: self.ingangsdatum,
            end: self.einddatum?,
        };
        let times = match o.frequentie {
            Frequentie::PerDag => u64::from(whole.days()),
            Frequentie::PerWeek => match self.variant() {
                Variant::Output => self.output_weeks(whole),
                _ => calendar_weeks(whole),
            },
            Frequentie::PerMaand => months_touched(whole),
            Frequentie::Totaal => 1,
        };
        Some(o.volume.saturating_mul(times))
    }

    /// Outputgericht per week: the Sundays in the period, plus one when the
    /// allocation's last Sunday lies in it and the allocation does not end
    /// on a Sunday (the week it ends in is paid too).
    fn output_weeks(&self, period: Period) -> u64 {
        let mut n = sundays(period);
        if let Some(end) = self.einddatum
            && end.weekday() != Weekday::Sun
        {
            let last_sunday = end - Days::new(u64::from(end.weekday().num_days_from_sunday()));
            if period.contains(last_sunday)
                || (period.contains(end) && last_sunday < self.ingangsdatum)
            {
                n += 1;
            }
        }
        n
    }
}

/// Number of ISO calendar weeks the period touches (broken weeks count).
pub fn calendar_weeks(period: Period) -> u64 {
    let first_monday =
        period.start - Days::new(u64::from(period.start.weekday().num_days_from_monday()));
    let last_monday =
        period.end - Days::new(u64::from(period.end.weekday().num_days_from_monday()));
    ((last_monday - first_monday).num_days() / 7 + 1) as u64
}

/// Number of Sundays in the period.
pub fn sundays(period: Period) -> u64 {
    let to_sunday = u64::from(6 - period.start.weekday().num_days_from_monday());
    let first = period.start + Days::new(to_sunday);
    if first > period.end {
        0
    } else {
        ((period.end - first).num_days() / 7 + 1) as u64
    }
}

fn months_touched(period: Period) -> u64 {
    let a = period.start.year() * 12 + period.start.month0() as i32;
    let b = period.end.year() * 12 + period.end.month0() as i32;
    (b - a + 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn p(a: &str, b: &str) -> Period {
        Period {
            start: d(a),
            end: d(b),
        }
    }

    fn weekly(volume: u64, eenheid: Eenheid, from: &str, to: &str) -> Allowance {
        Allowance {
            omvang: Some(Omvang {
                volume,
                eenheid,
                frequentie: Frequentie::PerWeek,
            }),
            budget: None,
            ingangsdatum: d(from),
            einddatum: Some(d(to)),
            household_help: false,
        }
    }

    // The worked examples of IV077, recomputed.
    #[test]
    fn inspanning_per_week_counts_calendar_weeks() {
        let a = weekly(3, Eenheid::Uur, "2025-10-07", "2025-12-30");
        assert_eq!(a.max_in_period(p("2025-10-07", "2025-10-31")), Some(12));
        assert_eq!(a.max_in_period(p("2025-11-01", "2025-11-30")), Some(15));
        assert_eq!(a.max_in_period(p("2025-12-01", "2025-12-30")), Some(15));
        assert_eq!(a.max_total(), Some(39));
        assert_eq!(a.factor(Eenheid::Minuut), Some(60));
        assert_eq!(a.factor(Eenheid::Dagdeel), None);
    }

    #[test]
    fn output_per_week_counts_sundays_plus_the_last_week() {
        let a = weekly(30000, Eenheid::Euro, "2025-10-01", "2025-12-31");
        assert_eq!(a.max_in_period(p("2025-10-07", "2025-10-31")), Some(90000));
        assert_eq!(a.max_in_period(p("2025-11-01", "2025-11-30")), Some(150000));
        assert_eq!(a.max_in_period(p("2025-12-01", "2025-12-31")), Some(150000));
        let b = weekly(30000, Eenheid::Euro, "2025-07-07", "2025-09-05");
        assert_eq!(b.max_in_period(p("2025-07-07", "2025-07-31")), Some(90000));
        assert_eq!(b.max_in_period(p("2025-08-01", "2025-08-31")), Some(180000));
    }

    #[test]
    fn household_help_may_use_six_weeks() {
        let mut a = weekly(2, Eenheid::Uur, "2026-01-01", "2026-12-31");
        a.household_help = true;
        assert_eq!(a.max_in_period(p("2026-02-01", "2026-02-28")), Some(12));
    }

    #[test]
    fn per_day_month_and_total() {
        let mut a = weekly(2, Eenheid::Dagdeel, "2026-01-15", "2026-03-31");
        a.omvang.as_mut().unwrap().frequentie = Frequentie::PerDag;
        assert_eq!(a.max_in_period(p("2026-01-15", "2026-01-31")), Some(34));
        a.omvang.as_mut().unwrap().frequentie = Frequentie::PerMaand;
        assert_eq!(a.max_in_period(p("2026-01-15", "2026-01-31")), Some(2));
        assert_eq!(a.max_total(), Some(6));
        a.omvang.as_mut().unwrap().frequentie = Frequentie::Totaal;
        assert_eq!(a.max_in_period(p("2026-01-15", "2026-01-31")), None);
        assert_eq!(a.max_total(), Some(2));
        a.omvang = None;
        assert_eq!(a.variant(), Variant::Taak);
        assert_eq!(a.max_total(), None);
    }

    #[test]
    fn counting_helpers() {
        assert_eq!(sundays(p("2026-11-01", "2026-11-30")), 5);
        assert_eq!(sundays(p("2026-11-02", "2026-11-07")), 0);
        assert_eq!(calendar_weeks(p("2026-11-01", "2026-11-30")), 6);
        assert_eq!(months_touched(p("2025-12-31", "2026-02-01")), 3);
    }
}
