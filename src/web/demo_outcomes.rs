//! The demo's measurements: six months of development for the thirty demo
//! participants, so the outcome charts and the breakdowns show at once.
//!
//! About every six weeks a Zelfredzaamheid-Matrix (4 or 5 per person), the
//! participatieladder each time and Positieve Gezondheid for half of them,
//! all scored by the demo's jobcoach. The trajectories are plausible and
//! varied but fixed (a pattern per participant's index, no randomness), so
//! a test and a screenshot see the same demo every time: most improve
//! slowly on a few domains, some stay where they are, some fall back after
//! a setback, two recover from one. The ZRM domain Justitie is scored for
//! four people only, so every breakdown shows a figure withheld for a
//! group under five; Positieve Gezondheid's UWV participants are four.
//!
//! The last six participants' participatieladder is the social-impact
//! demo's (`demo_results`), which needs a rung reached and held; their
//! other instruments are written here. Everything goes through
//! [`outcomes::add_measurement`], the one writer.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};

use crate::instrument::{Instrument, LADDER, LADDER_DOMAIN, POSITIVE_HEALTH, ZRM};
use crate::record::access::Actor;
use crate::record::outcomes::{self, NewMeasurement, NewScore};
use crate::server::AppState;

/// The participants (0-based, in demo order) whose participatieladder the
/// social-impact demo writes.
pub const LADDER_BY_RESULTS: std::ops::RangeInclusive<usize> = 24..=29;

/// Days between two measurements, and how many at most.
const EVERY_DAYS: i64 = 42;
const MEASUREMENTS: usize = 5;

/// How a participant develops over the six months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    /// A level up on the domains they work on, now and then.
    Improves,
    /// Where they were.
    Stays,
    /// Up at first, then a setback below where they started.
    FallsBack,
    /// A setback half way, then back and further.
    Recovers,
}

fn course(i: usize) -> Course {
    match i {
        7 | 19 => Course::Recovers,
        _ if i % 5 == 3 => Course::Stays,
        _ if i % 7 == 4 => Course::FallsBack,
        _ => Course::Improves,
    }
}

/// The change from the starting score at measurement `k` of `last`, on a
/// domain the participant works on, in steps of the scale.
fn delta(c: Course, k: usize, last: usize) -> i64 {
    match c {
        Course::Improves => match k {
            0 | 1 => 0,
            2 | 3 => 1,
            _ => 2,
        },
        Course::Stays => 0,
        Course::FallsBack if k == last => -1,
        Course::FallsBack => i64::from(k >= 1),
        Course::Recovers => match k {
            0 | 1 => 0,
            2 => -1,
            3 => 1,
            _ => 2,
        },
    }
}

/// Notes a coach writes beside a changed score.
const UP: [&str; 4] = [
    "Gaat vooruit: afspraken zelf nagekomen.",
    "Pakt dit nu grotendeels zelf op, met af en toe een vraag.",
    "Duidelijke stap gezet; doel bijna bereikt.",
    "Meer zelfvertrouwen, vraagt minder vaak om hulp.",
];
const DOWN: [&str; 3] = [
    "Terugval na een moeilijke periode thuis; extra gesprekken afgesproken.",
    "Minder grip dan bij de vorige meting; samen met netwerk besproken.",
    "Tijdelijk achteruit door ziekte.",
];

/// Seeds the measurements of `participants` (the demo's ids, in demo
/// order), the last of them `today - 14 days`.
pub async fn seed(
    state: &AppState,
    tenant: &str,
    participants: &[String],
    today: NaiveDate,
) -> Result<()> {
    let by = Actor::user("jobcoach", "Jamila (jobcoach)", "begeleider", None);
    let zrm = state.instruments.get(ZRM).context("no ZRM instrument")?;
    let ladder = state
        .instruments
        .get(LADDER)
        .context("no participatieladder")?;
    let health = state
        .instruments
        .get(POSITIVE_HEALTH)
        .context("no Positieve Gezondheid")?;
    let first = today - Duration::days(14 + EVERY_DAYS * (MEASUREMENTS as i64 - 1));
    for (i, id) in participants.iter().enumerate() {
        let from = first_measurement(i);
        let last = MEASUREMENTS - 1;
        let mut w = state.store().begin_write().await?;
        for k in from..MEASUREMENTS {
            let on = first + Duration::days(EVERY_DAYS * k as i64);
            let mut plans = vec![(zrm, zrm_scores(zrm, i, k, last))];
            if !LADDER_BY_RESULTS.contains(&i) {
                plans.push((ladder, ladder_scores(i, k, last)));
            }
            if i.is_multiple_of(2) {
                plans.push((health, health_scores(health, i, k, last)));
            }
            for (instrument, scores) in plans {
                let m = NewMeasurement {
                    participant_id: id.clone(),
                    instrument: instrument.id.clone(),
                    measured_on: on,
                    scores,
                    supersedes: None,
                };
                outcomes::add_measurement(&mut w, tenant, &state.instruments, &by, &m, None)
                    .await
                    .with_context(|| format!("demo measurement {i}/{k} {}", instrument.id))?;
            }
        }
        w.commit().await?;
    }
    Ok(())
}

/// The index of participant `i`'s first measurement: a quarter joined six
/// weeks later and has four.
fn first_measurement(i: usize) -> usize {
    usize::from(i % 4 == 1)
}

/// The domains participant `i` works on (three, never Justitie).
fn focus(i: usize, domains: usize) -> [usize; 3] {
    [i % domains, (i + 4) % domains, (i + 9) % domains]
        .map(|d| if d == domains - 1 { 1 } else { d })
}

/// A score kept within `instrument`'s scale.
fn clamp(instrument: &Instrument, score: i64) -> i64 {
    score.clamp(instrument.min, instrument.max)
}

/// The note beside a focus domain's score at measurement `k`: at intake,
/// and where the score moved since the previous measurement.
fn note(i: usize, k: usize, before: i64, now: i64, first: bool) -> Option<String> {
    if first {
        return i
            .is_multiple_of(3)
            .then(|| "Intake: samen met de deelnemer gescoord.".to_string());
    }
    if now > before {
        Some(UP[(i + k) % UP.len()].to_string())
    } else if now < before {
        Some(DOWN[(i + k) % DOWN.len()].to_string())
    } else {
        None
    }
}

fn zrm_scores(zrm: &Instrument, i: usize, k: usize, last: usize) -> Vec<NewScore> {
    let n = zrm.domains.len();
    let focus = focus(i, n);
    let c = course(i);
    let first = first_measurement(i);
    zrm.domains
        .iter()
        .enumerate()
        // Justitie (the last domain) only where it plays a part.
        .filter(|(d, _)| *d != n - 1 || i.is_multiple_of(8))
        .map(|(d, domain)| {
            let base = 1 + ((i * 7 + d * 3) % 4) as i64;
            let score_at = |k: usize| {
                if focus.contains(&d) {
                    clamp(zrm, base + delta(c, k, last))
                } else {
                    base
                }
            };
            let now = score_at(k);
            let before = score_at(k.saturating_sub(1));
            NewScore {
                domain: domain.id.clone(),
                score: now,
                note: focus
                    .contains(&d)
                    .then(|| note(i, k, before, now, k == first))
                    .flatten(),
            }
        })
        .collect()
}

fn ladder_scores(i: usize, k: usize, last: usize) -> Vec<NewScore> {
    let base = 2 + (i % 3) as i64;
    let step = match course(i) {
        Course::Improves => i64::from(k >= 3),
        c => delta(c, k, last),
    };
    vec![NewScore {
        domain: LADDER_DOMAIN.into(),
        score: (base + step).clamp(1, 6),
        note: None,
    }]
}

fn health_scores(health: &Instrument, i: usize, k: usize, last: usize) -> Vec<NewScore> {
    let c = course(i);
    health
        .domains
        .iter()
        .enumerate()
        .map(|(d, domain)| {
            let base = 4 + ((i + d * 2) % 4) as i64;
            let moves = (i + d).is_multiple_of(2);
            let step = if moves { 2 * delta(c, k, last) } else { 0 };
            NewScore {
                domain: domain.id.clone(),
                score: clamp(health, base + step),
                note: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn courses_are_varied_and_fixed() {
        let courses: Vec<Course> = (0..30).map(course).collect();
        let n = |c| courses.iter().filter(|x| **x == c).count();
        assert_eq!(n(Course::Recovers), 2);
        assert!(n(Course::Improves) > 15, "most improve");
        assert!(n(Course::Stays) >= 3 && n(Course::FallsBack) >= 2);
        // Falls back: up, then below the start at the last measurement.
        let path: Vec<i64> = (0..5).map(|k| delta(Course::FallsBack, k, 4)).collect();
        assert_eq!(path, [0, 1, 1, 1, -1]);
        let path: Vec<i64> = (0..5).map(|k| delta(Course::Recovers, k, 4)).collect();
        assert_eq!(path, [0, 0, -1, 1, 2]);
        for i in 0..30 {
            assert!(!focus(i, 13).contains(&12), "never Justitie");
        }
    }
}
