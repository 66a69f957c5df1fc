//! Declaration periods.
//!
//! The iStandaarden declare per calendar month (TR318, TR387, TR388); some
//! invoiced financiers (UWV, a pgb) are billed per four weeks instead. The
//! engine asks which periods a stretch of registrations falls into and
//! declares each of them separately, clipped to the allocation's dates.

use chrono::{Datelike, Days, NaiveDate};

/// How a financier's declaration periods are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodRule {
    /// Calendar months.
    Month,
    /// Blocks of 28 days, one of which starts on `start`; the others lie a
    /// whole number of blocks before or after it.
    FourWeekly { start: NaiveDate },
}

/// One declaration period, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }

    /// The part of this period that lies within `from..=to` (both optional,
    /// as an allocation's end date is), or `None` when they do not meet.
    /// TR387 and TR388 cut a product period this way to the allocation.
    pub fn clip(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<Period> {
        let start = from.map_or(self.start, |f| f.max(self.start));
        let end = to.map_or(self.end, |t| t.min(self.end));
        (start <= end).then_some(Period { start, end })
    }

    /// Number of days, both ends included.
    pub fn days(&self) -> u32 {
        u32::try_from((self.end - self.start).num_days() + 1).unwrap_or(0)
    }
}

const BLOCK: i64 = 28;

impl PeriodRule {
    /// The period `date` falls in.
    pub fn period_of(&self, date: NaiveDate) -> Period {
        match *self {
            PeriodRule::Month => {
                let start = date.with_day(1).expect("day 1 exists");
                let next = start
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(NaiveDate::MAX);
                Period {
                    start,
                    end: next.pred_opt().unwrap_or(NaiveDate::MAX),
                }
            }
            PeriodRule::FourWeekly { start } => {
                let offset = (date - start).num_days().div_euclid(BLOCK) * BLOCK;
                let begin = start + chrono::Duration::days(offset);
                Period {
                    start: begin,
                    end: begin + Days::new(BLOCK as u64 - 1),
                }
            }
        }
    }

    /// Every period that `from..=to` touches, in order; whole periods, not
    /// clipped. Empty when `from` is after `to`.
    pub fn periods(&self, from: NaiveDate, to: NaiveDate) -> Vec<Period> {
        let mut out = Vec::new();
        let mut date = from;
        while date <= to {
            let p = self.period_of(date);
            out.push(p);
            match p.end.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn p(a: &str, b: &str) -> Period {
        Period {
            start: d(a),
            end: d(b),
        }
    }

    #[test]
    fn calendar_months_across_the_year_and_february() {
        let m = PeriodRule::Month;
        assert_eq!(m.period_of(d("2025-12-31")), p("2025-12-01", "2025-12-31"));
        assert_eq!(m.period_of(d("2026-01-01")), p("2026-01-01", "2026-01-31"));
        assert_eq!(m.period_of(d("2028-02-10")), p("2028-02-01", "2028-02-29"));
        assert_eq!(m.period_of(d("2026-02-28")), p("2026-02-01", "2026-02-28"));
        assert_eq!(
            m.periods(d("2025-11-15"), d("2026-02-01")),
            vec![
                p("2025-11-01", "2025-11-30"),
                p("2025-12-01", "2025-12-31"),
                p("2026-01-01", "2026-01-31"),
                p("2026-02-01", "2026-02-28"),
            ]
        );
        assert_eq!(
            m.periods(d("2026-03-05"), d("2026-03-05")),
            vec![p("2026-03-01", "2026-03-31")]
        );
        assert!(m.periods(d("2026-03-06"), d("2026-03-05")).is_empty());
    }

    #[test]
    fn four_weekly_before_and_after_the_start() {
        let r = PeriodRule::FourWeekly {
            start: d("2025-12-29"),
        };
        assert_eq!(r.period_of(d("2025-12-29")), p("2025-12-29", "2026-01-25"));
        assert_eq!(r.period_of(d("2026-01-25")), p("2025-12-29", "2026-01-25"));
        assert_eq!(r.period_of(d("2026-01-26")), p("2026-01-26", "2026-02-22"));
        assert_eq!(r.period_of(d("2025-12-28")), p("2025-12-01", "2025-12-28"));
        assert_eq!(r.period_of(d("2025-01-01")), p("2024-12-30", "2025-01-26"));
        let all = r.periods(d("2025-12-20"), d("2026-02-01"));
        assert_eq!(
            all,
            vec![
                p("2025-12-01", "2025-12-28"),
                p("2025-12-29", "2026-01-25"),
                p("2026-01-26", "2026-02-22"),
            ]
        );
        assert!(all.iter().all(|p| p.days() == 28));
    }

    #[test]
    fn clipping_to_an_allocation() {
        let month = p("2026-01-01", "2026-01-31");
        assert_eq!(
            month.clip(Some(d("2026-01-12")), None),
            Some(p("2026-01-12", "2026-01-31"))
        );
        assert_eq!(
            month.clip(Some(d("2025-06-01")), Some(d("2026-01-20"))),
            Some(p("2026-01-01", "2026-01-20"))
        );
        assert_eq!(month.clip(Some(d("2026-02-01")), None), None);
        assert_eq!(month.clip(None, Some(d("2025-12-31"))), None);
        assert_eq!(month.days(), 31);
        assert!(month.contains(d("2026-01-31")));
        assert!(!month.contains(d("2026-02-01")));
    }
}
