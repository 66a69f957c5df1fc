//! What a participant's measurements say, as pure functions over their
//! series: who improved, stayed or fell back between the first and the last
//! measurement, where a group stood at intake and now, and whether an
//! outcome was reached and held. The outcome views, the financiers' reports
//! and the results claims all read outcomes through these functions, so a
//! chart and a claim cannot disagree about whether someone improved.
//!
//! No function here reads the database; `record::outcomes` supplies the
//! measurements (current ones, oldest first).

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};

use crate::instrument::Instrument;
use crate::record::outcomes::Measurement;

/// Fewer people than this behind a figure and it is not shown: a group of
/// four with one who fell back points at a person.
pub const MIN_GROUP: usize = 5;

/// Whether a figure over `n` people may be shown.
pub fn publishable(n: usize) -> bool {
    n >= MIN_GROUP
}

/// One score of one domain on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point<'a> {
    pub measurement_id: &'a str,
    pub date: NaiveDate,
    pub score: i64,
}

/// The scores of `domain` in `measurements` (one participant's, with one
/// instrument), by date; a measurement that did not score the domain or
/// has an unreadable date is left out.
pub fn series<'a>(measurements: &'a [Measurement], domain: &str) -> Vec<Point<'a>> {
    let mut out: Vec<Point<'a>> = measurements
        .iter()
        .filter_map(|m| {
            Some(Point {
                measurement_id: m.row.id.as_str(),
                date: m.date()?,
                score: m.score(domain)?,
            })
        })
        .collect();
    // Stable: two measurements of one day keep the order they were stored.
    out.sort_by_key(|p| p.date);
    out
}

/// Between a first and a last measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    Improved,
    Same,
    Worse,
}

impl Change {
    pub fn nl(self) -> &'static str {
        match self {
            Change::Improved => "vooruit",
            Change::Same => "gelijk",
            Change::Worse => "achteruit",
        }
    }
}

/// The change of one score to another on `instrument`'s scale.
pub fn change_of(instrument: &Instrument, from: i64, to: i64) -> Change {
    if from == to {
        Change::Same
    } else if instrument.improved(from, to) {
        Change::Improved
    } else {
        Change::Worse
    }
}

/// First and last point of a series and the change between them; `None`
/// with fewer than two measurements (one measurement shows no development).
pub fn first_last<'a>(
    instrument: &Instrument,
    series: &[Point<'a>],
) -> Option<(Point<'a>, Point<'a>, Change)> {
    if series.len() < 2 {
        return None;
    }
    let (first, last) = (*series.first()?, *series.last()?);
    Some((first, last, change_of(instrument, first.score, last.score)))
}

/// How a group is spread over the levels of one domain at intake (each
/// participant's first measurement) and now (their last), and how many
/// improved, stayed or fell back between the two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainFigures {
    /// Participants with at least one score on the domain.
    pub participants: usize,
    /// Score → participants, at intake and now.
    pub intake: BTreeMap<i64, usize>,
    pub now: BTreeMap<i64, usize>,
    /// Participants with two measurements or more.
    pub compared: usize,
    pub improved: usize,
    pub same: usize,
    pub worse: usize,
}

/// The figures of one domain over the participants' series (one series per
/// participant).
pub fn domain_figures(
    instrument: &Instrument,
    per_participant: &[Vec<Point<'_>>],
) -> DomainFigures {
    let mut f = DomainFigures::default();
    for s in per_participant {
        let (Some(first), Some(last)) = (s.first(), s.last()) else {
            continue;
        };
        f.participants += 1;
        *f.intake.entry(first.score).or_default() += 1;
        *f.now.entry(last.score).or_default() += 1;
        if let Some((_, _, change)) = first_last(instrument, s) {
            f.compared += 1;
            match change {
                Change::Improved => f.improved += 1,
                Change::Same => f.same += 1,
                Change::Worse => f.worse += 1,
            }
        }
    }
    f
}

/// One participant's measurements (with one instrument, oldest first, as
/// `record::outcomes` returns them) as they count for the period
/// `from..=to`: `None` when none of them lies in the period, so the
/// participant does not count; else every measurement up to `to`. The
/// first stays their intake even when it lies before `from`: development
/// is measured from where someone started, not from where the period cut.
pub fn in_period(
    measurements: &[Measurement],
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Option<&[Measurement]> {
    let upto = measurements
        .iter()
        .position(|m| to.is_some_and(|to| m.date().is_some_and(|d| d > to)))
        .unwrap_or(measurements.len());
    let kept = &measurements[..upto];
    kept.iter()
        .any(|m| {
            m.date()
                .is_some_and(|d| from.is_none_or(|from| d >= from) && to.is_none_or(|to| d <= to))
        })
        .then_some(kept)
}

/// The figures of a group of participants with one instrument: how many
/// participants, and per domain of the instrument (in its order) the
/// intake/now distribution and the changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFigures {
    pub participants: usize,
    /// (domain id, figures)
    pub domains: Vec<(String, DomainFigures)>,
}

/// [`GroupFigures`] over each participant's measurements (one slice per
/// participant, oldest first; an empty slice does not count).
pub fn group_figures(instrument: &Instrument, per_participant: &[&[Measurement]]) -> GroupFigures {
    let people: Vec<&[Measurement]> = per_participant
        .iter()
        .copied()
        .filter(|m| !m.is_empty())
        .collect();
    GroupFigures {
        participants: people.len(),
        domains: instrument
            .domains
            .iter()
            .map(|d| {
                let per: Vec<Vec<Point<'_>>> = people.iter().map(|m| series(m, &d.id)).collect();
                (d.id.clone(), domain_figures(instrument, &per))
            })
            .collect(),
    }
}

/// Which figures of a breakdown that splits people into parts (each in
/// exactly one: groups, with the ones without a group as the remainder)
/// may be shown, given the number of participants behind each: none under
/// [`MIN_GROUP`]; and when exactly one part is hidden, the smallest shown
/// part is hidden too, because the parts add up to everyone and one hidden
/// part could otherwise be computed back from a total shown elsewhere. A
/// part of nobody hides nothing.
pub fn shown_parts(counts: &[usize]) -> Vec<bool> {
    let mut shown: Vec<bool> = counts.iter().map(|n| *n == 0 || publishable(*n)).collect();
    let hidden = shown.iter().filter(|s| !**s).count();
    if hidden == 1 {
        let smallest = counts
            .iter()
            .enumerate()
            .filter(|(i, n)| shown[*i] && **n > 0)
            .min_by_key(|(i, n)| (**n, *i))
            .map(|(i, _)| i);
        if let Some(i) = smallest {
            shown[i] = false;
        }
    }
    shown
}

/// Whether `score` is at `level` or better on `instrument`'s scale.
pub fn at_least(instrument: &Instrument, score: i64, level: i64) -> bool {
    if instrument.higher_is_better {
        score >= level
    } else {
        score <= level
    }
}

/// An outcome reached and held: the measurement that first showed it, the
/// one that showed it still held at least the asked months later, and every
/// measurement in between (all at the level or better): the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held<'a> {
    pub reached: Point<'a>,
    pub confirmed: Point<'a>,
    pub evidence: Vec<Point<'a>>,
}

/// The first time the series reached `level` (or better) and stayed there
/// for at least `months`: every measurement from the one that reached it
/// up to one dated `months` or more later is at the level or better. A fall
/// below in between starts the count again at the next reaching. `months`
/// 0: reached is enough.
pub fn held<'a>(
    instrument: &Instrument,
    series: &[Point<'a>],
    level: i64,
    months: u32,
) -> Option<Held<'a>> {
    let mut start: Option<usize> = None;
    for (i, p) in series.iter().enumerate() {
        if !at_least(instrument, p.score, level) {
            start = None;
            continue;
        }
        let s = *start.get_or_insert(i);
        let reached = series[s];
        let due = reached.date.checked_add_months(Months::new(months))?;
        if p.date >= due {
            return Some(Held {
                reached,
                confirmed: *p,
                evidence: series[s..=i].to_vec(),
            });
        }
    }
    None
}

/// The first measurement at least `levels` better than the first one of
/// the series: (the first, that one).
pub fn improved_by<'a>(
    instrument: &Instrument,
    series: &[Point<'a>],
    levels: i64,
) -> Option<(Point<'a>, Point<'a>)> {
    let first = *series.first()?;
    let gain = |p: &Point<'_>| {
        if instrument.higher_is_better {
            p.score - first.score
        } else {
            first.score - p.score
        }
    };
    series[1..]
        .iter()
        .find(|p| gain(p) >= levels.max(1))
        .map(|p| (first, *p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{Instruments, LADDER, ZRM};

    fn m(id: &str, date: &str, domain: &str, score: i64) -> Measurement {
        Measurement::of_one(id, date, domain, score)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_period_keeps_the_intake_and_cuts_at_its_end() {
        let all = Instruments::builtin().expect("instruments");
        let zrm = all.get(ZRM).expect("zrm");
        let a = vec![
            m("1", "2026-01-05", "financien", 1),
            m("2", "2026-03-05", "financien", 2),
            m("3", "2026-05-05", "financien", 4),
        ];
        let b = vec![m("4", "2026-01-10", "financien", 3)];
        let (mar, apr) = (Some(d("2026-03-01")), Some(d("2026-04-30")));
        // a counts (measured in March) with January as intake, May cut off.
        let kept = in_period(&a, mar, apr).expect("a counts");
        assert_eq!(kept.len(), 2);
        // b was not measured in the period.
        assert!(in_period(&b, mar, apr).is_none());
        assert_eq!(in_period(&b, None, None).map(<[_]>::len), Some(1));
        assert!(in_period(&a, Some(d("2026-06-01")), None).is_none());
        let f = group_figures(zrm, &[kept, &b[..], &[]]);
        assert_eq!(f.participants, 2);
        assert_eq!(f.domains.len(), 13);
        let (id, fin) = &f.domains[0];
        assert_eq!(id, "financien");
        assert_eq!(fin.intake, BTreeMap::from([(1, 1), (3, 1)]));
        assert_eq!(fin.now, BTreeMap::from([(2, 1), (3, 1)]));
        assert_eq!(
            (fin.compared, fin.improved, fin.same, fin.worse),
            (1, 1, 0, 0)
        );
        assert_eq!(f.domains[1].1, DomainFigures::default());
    }

    #[test]
    fn one_hidden_part_hides_the_smallest_other_too() {
        assert_eq!(shown_parts(&[10, 20]), [true, true]);
        assert_eq!(shown_parts(&[10, 3, 6, 20]), [true, false, false, true]);
        assert_eq!(shown_parts(&[10, 3, 4, 20]), [true, false, false, true]);
        assert_eq!(shown_parts(&[0, 7, 20]), [true, true, true]);
        assert_eq!(shown_parts(&[2]), [false]);
        assert_eq!(shown_parts(&[2, 0]), [false, true]);
    }

    #[test]
    fn a_rung_reached_counts_once_it_is_held_for_the_months_asked() {
        let all = Instruments::builtin().expect("instruments");
        let ladder = all.get(LADDER).expect("ladder");
        let ms = vec![
            m("a", "2026-01-10", "participatie", 3),
            m("b", "2026-02-10", "participatie", 5),
            m("c", "2026-03-10", "participatie", 4),
            m("e", "2026-04-01", "participatie", 5),
            m("f", "2026-06-15", "participatie", 6),
            m("g", "2026-07-02", "participatie", 5),
        ];
        let s = series(&ms, "participatie");
        // Rung 5 for three months: reached in February, fell back in March,
        // reached again in April and still there on 2 July.
        let h = held(ladder, &s, 5, 3).expect("held");
        assert_eq!(h.reached.date, d("2026-04-01"));
        assert_eq!(h.confirmed.date, d("2026-07-02"));
        let ids: Vec<&str> = h.evidence.iter().map(|p| p.measurement_id).collect();
        assert_eq!(ids, ["e", "f", "g"]);
        // Rung 6 was reached once and never confirmed.
        assert_eq!(held(ladder, &s, 6, 1), None);
        assert_eq!(
            held(ladder, &s, 6, 0).map(|h| h.reached.date),
            Some(d("2026-06-15"))
        );
        // Not yet three months after 1 April on 30 June.
        assert_eq!(held(ladder, &s[..5], 5, 3), None);
    }

    #[test]
    fn improvement_and_figures_follow_the_first_and_last_measurement() {
        let all = Instruments::builtin().expect("instruments");
        let zrm = all.get(ZRM).expect("zrm");
        let p1 = vec![
            m("1", "2026-01-01", "financien", 2),
            m("2", "2026-03-01", "financien", 4),
        ];
        let p2 = vec![
            m("3", "2026-01-01", "financien", 3),
            m("4", "2026-03-01", "financien", 3),
        ];
        let p3 = vec![
            m("5", "2026-01-01", "financien", 4),
            m("6", "2026-03-01", "financien", 2),
        ];
        let p4 = vec![m("7", "2026-02-01", "financien", 2)];
        let per: Vec<Vec<Point<'_>>> = [&p1, &p2, &p3, &p4]
            .iter()
            .map(|ms| series(ms, "financien"))
            .collect();
        let f = domain_figures(zrm, &per);
        assert_eq!(f.participants, 4);
        assert_eq!(f.compared, 3);
        assert_eq!((f.improved, f.same, f.worse), (1, 1, 1));
        assert_eq!(f.intake, BTreeMap::from([(2, 2), (3, 1), (4, 1)]));
        assert_eq!(f.now, BTreeMap::from([(2, 2), (3, 1), (4, 1)]));
        assert_eq!(
            improved_by(zrm, &per[0], 1).map(|(a, b)| (a.score, b.score)),
            Some((2, 4))
        );
        assert_eq!(improved_by(zrm, &per[1], 1), None);
        assert!(!publishable(4) && publishable(5));
    }
}
