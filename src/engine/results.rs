//! Pay-for-results claims in the declaration run.
//!
//! A financier whose mapping has `[[results]]` pays for outcomes. For every
//! participant with an allocation (or order) of such a financier, each
//! result is evaluated on the participant's current measurements and
//! milestones up to the end of the run's period, with the functions every
//! outcome view uses ([`super::outcomes`]); an outcome reached while an
//! allocation of that financier was in force, and never claimed before,
//! becomes one extra [`Line`] of the run: an invoice line for an invoiced
//! financier, an output-based prestatie (eenheid 82) where the
//! participant's iStandaarden allocation for the result's product is
//! outputgericht. The line then goes the way of every line (checked,
//! stored, sent), and the claim is stored with it (`record::results`).
//!
//! A claim line rests on no registration, so it must never look like an
//! earlier line the next computation has to correct: the run reads the
//! prestaties it compares against without the claims' lines
//! ([`super::load`]), and a claim already made is never evaluated again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::Notice;
use super::compute::{Line, Snapshot};
use super::outcomes::{at_least, held, improved_by, series};
use crate::instrument::{Instruments, LADDER, LADDER_DOMAIN, ZRM};
use crate::mapping::results::{PAID_WORK_RUNG, ResultKind, ResultRule, milestone_nl};
use crate::mapping::{Declared, Eenheid, Mappings, Period, ProductKey, Standard};
use crate::record::outcomes::Measurement;
use crate::record::results::MilestoneRow;

/// One piece of evidence: a measurement's score or a milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub measurement_id: Option<String>,
    pub milestone_id: Option<String>,
    pub date: NaiveDate,
    pub domain: Option<String>,
    pub score: Option<i64>,
}

/// An outcome reached: the day it counts from and what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub on: NaiveDate,
    pub evidence: Vec<Evidence>,
}

/// A claim the run makes (or, on a dry run, would make).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub participant_id: String,
    pub financier_id: String,
    pub financier: String,
    pub result_id: String,
    pub result_name: String,
    pub product: ProductKey,
    pub reached_on: NaiveDate,
    pub price_cents: u64,
    pub allocation_id: String,
    pub evidence: Vec<Evidence>,
}

impl Claim {
    /// The line's description: the result and the dates of its evidence
    /// (never a name or a BSN).
    pub fn description(&self) -> String {
        let mut dates: Vec<NaiveDate> = self.evidence.iter().map(|e| e.date).collect();
        dates.sort();
        dates.dedup();
        let dates: Vec<String> = dates
            .iter()
            .map(|d| d.format("%d-%m-%Y").to_string())
            .collect();
        format!(
            "Resultaat/result {}: {}, bereikt/reached {}; bewijs/evidence {}",
            self.result_id,
            self.result_name,
            self.reached_on.format("%d-%m-%Y"),
            dates.join(", ")
        )
    }
}

fn point_evidence(p: &super::outcomes::Point<'_>, domain: &str) -> Evidence {
    Evidence {
        measurement_id: Some(p.measurement_id.to_string()),
        milestone_id: None,
        date: p.date,
        domain: Some(domain.to_string()),
        score: Some(p.score),
    }
}

fn milestone_evidence(m: &MilestoneRow, date: NaiveDate) -> Evidence {
    Evidence {
        measurement_id: None,
        milestone_id: Some(m.id.clone()),
        date,
        domain: None,
        score: None,
    }
}

/// A ladder rung reached and held ([`held`]), as a result reached on the
/// confirming measurement with every measurement since reaching as evidence.
fn rung_held(
    ladder: &crate::instrument::Instrument,
    series: &[super::outcomes::Point<'_>],
    rung: i64,
    months: u32,
) -> Option<Reached> {
    let h = held(ladder, series, rung, months)?;
    Some(Reached {
        on: h.confirmed.date,
        evidence: h
            .evidence
            .iter()
            .map(|p| point_evidence(p, LADDER_DOMAIN))
            .collect(),
    })
}

/// Whether (and when) `rule` is reached by one participant's measurements
/// with the ladder and the ZRM and their milestones, counting only what is
/// dated on or before `until`. Pure: the run and its tests call it alike.
pub fn evaluate(
    instruments: &Instruments,
    rule: &ResultRule,
    ladder: &[Measurement],
    zrm: &[Measurement],
    milestones: &[MilestoneRow],
    until: NaiveDate,
) -> Option<Reached> {
    let upto = |ms: &[Measurement]| -> Vec<Measurement> {
        ms.iter()
            .filter(|m| m.date().is_some_and(|d| d <= until))
            .cloned()
            .collect()
    };
    let dated = |kind: &str| -> Vec<(NaiveDate, &MilestoneRow)> {
        milestones
            .iter()
            .filter(|m| m.kind == kind)
            .filter_map(|m| Some((m.date()?, m)))
            .filter(|(d, _)| *d <= until)
            .collect()
    };
    match &rule.kind {
        ResultKind::LadderHeld { rung, months } => {
            let ladder_i = instruments.get(LADDER)?;
            let ms = upto(ladder);
            rung_held(ladder_i, &series(&ms, LADDER_DOMAIN), *rung, *months)
        }
        ResultKind::ZrmImproved { domains, levels } => {
            let zrm_i = instruments.get(ZRM)?;
            let ms = upto(zrm);
            let mut on = NaiveDate::MIN;
            let mut evidence = Vec::new();
            for d in domains {
                let s = series(&ms, d);
                let (first, better) = improved_by(zrm_i, &s, *levels)?;
                on = on.max(better.date);
                evidence.push(point_evidence(&first, d));
                evidence.push(point_evidence(&better, d));
            }
            (!domains.is_empty()).then_some(Reached { on, evidence })
        }
        ResultKind::WorkHeld { months } => {
            let ladder_i = instruments.get(LADDER)?;
            let ms = upto(ladder);
            let s = series(&ms, LADDER_DOMAIN);
            let by_ladder = rung_held(ladder_i, &s, PAID_WORK_RUNG, *months);
            // Paid work recorded as a milestone holds unless a ladder
            // measurement in the months after it shows the person below
            // paid work.
            let by_milestone = dated("betaald_werk").into_iter().find_map(|(d, m)| {
                let due = d.checked_add_months(Months::new(*months))?;
                if due > until {
                    return None;
                }
                let within: Vec<_> = s.iter().filter(|p| p.date >= d && p.date <= due).collect();
                if within
                    .iter()
                    .any(|p| !at_least(ladder_i, p.score, PAID_WORK_RUNG))
                {
                    return None;
                }
                let mut evidence = vec![milestone_evidence(m, d)];
                evidence.extend(within.iter().map(|p| point_evidence(p, LADDER_DOMAIN)));
                Some(Reached { on: due, evidence })
            });
            match (by_ladder, by_milestone) {
                (Some(a), Some(b)) => Some(if b.on < a.on { b } else { a }),
                (a, b) => a.or(b),
            }
        }
        ResultKind::Milestone { milestone } => {
            let (d, m) = dated(milestone).into_iter().next()?;
            Some(Reached {
                on: d,
                evidence: vec![milestone_evidence(m, d)],
            })
        }
    }
}

/// What a run reads besides its snapshot: per participant id the current
/// ladder and ZRM measurements and the milestones, and the claims made.
#[derive(Debug, Default)]
pub struct Inputs {
    pub ladder: HashMap<String, Vec<Measurement>>,
    pub zrm: HashMap<String, Vec<Measurement>>,
    pub milestones: BTreeMap<String, Vec<MilestoneRow>>,
    pub claimed: HashSet<(String, String, String)>,
}

/// The claims of a run: their lines (to add to the plan) and why outcomes
/// reached could not be claimed.
#[derive(Debug, Default)]
pub struct Claims {
    pub lines: Vec<Line>,
    pub notices: Vec<Notice>,
}

/// Evaluates every result of every financier with `[[results]]` for the
/// participants of `snap` that financier finances.
pub fn claims(
    snap: &Snapshot,
    mappings: &Mappings,
    instruments: &Instruments,
    inputs: &Inputs,
    period: Period,
) -> Claims {
    let mut out = Claims::default();
    // (participant, financier key) → allocation indexes, in snapshot order.
    let mut financed: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    for (i, a) in snap.allocations.iter().enumerate() {
        if a.removed {
            continue;
        }
        let Some(m) = mappings.get(&a.financier) else {
            continue;
        };
        if m.results.is_empty() {
            continue;
        }
        financed
            .entry((a.participant, a.financier_id.clone()))
            .or_default()
            .push(i);
    }
    let none: Vec<Measurement> = Vec::new();
    let no_milestones: Vec<MilestoneRow> = Vec::new();
    for ((p, financier_id), allocations) in financed {
        let participant = &snap.participants[p].id;
        let Some(first) = allocations.first().map(|&i| &snap.allocations[i]) else {
            continue;
        };
        let Some(mapping) = mappings.get(&first.financier) else {
            continue;
        };
        for rule in &mapping.results {
            let key = (participant.clone(), financier_id.clone(), rule.id.clone());
            if inputs.claimed.contains(&key) {
                continue;
            }
            let Some(reached) = evaluate(
                instruments,
                rule,
                inputs.ladder.get(participant).unwrap_or(&none),
                inputs.zrm.get(participant).unwrap_or(&none),
                inputs.milestones.get(participant).unwrap_or(&no_milestones),
                period.end,
            ) else {
                continue;
            };
            let in_force: Vec<usize> = allocations
                .iter()
                .copied()
                .filter(|&i| snap.allocations[i].valid_on(reached.on))
                .collect();
            let output = |i: &usize| {
                let a = &snap.allocations[*i];
                a.product == rule.product
                    && a.eenheid.as_deref() == Some(Eenheid::StuksOutput.code())
            };
            let chosen = match mapping.financier.standard {
                Standard::Ubl => in_force
                    .iter()
                    .copied()
                    .find(|&i| snap.allocations[i].product == rule.product)
                    .or(in_force.first().copied()),
                _ => in_force.iter().copied().find(output),
            };
            let Some(ai) = chosen else {
                let (nl, en) = if in_force.is_empty() {
                    (
                        format!(
                            "Resultaat {:?} bereikt op {}, maar toen liep er geen toewijzing of opdracht van {}: geen claim.",
                            rule.name,
                            reached.on.format("%d-%m-%Y"),
                            mapping.financier.name
                        ),
                        format!(
                            "Result {:?} reached on {}, outside every allocation or order of {}: no claim.",
                            rule.id, reached.on, mapping.financier.name
                        ),
                    )
                } else {
                    (
                        format!(
                            "Resultaat {:?} bereikt op {}, maar er is geen outputgerichte toewijzing (eenheid 82) voor product {}: geen claim. Vraag de gemeente om die toewijzing.",
                            rule.name,
                            reached.on.format("%d-%m-%Y"),
                            rule.product
                        ),
                        format!(
                            "Result {:?} reached on {}, but there is no output-based allocation (unit 82) for product {}: no claim.",
                            rule.id, reached.on, rule.product
                        ),
                    )
                };
                out.notices.push(Notice {
                    kind: "result_not_claimable".into(),
                    participant_id: Some(participant.clone()),
                    allocation_id: None,
                    toewijzing_nummer: None,
                    // The day it was reached, not the run's period: the
                    // same outcome stays one open review item, run after run.
                    period: Some(format!("{}/{}", reached.on, reached.on)),
                    rule: Some(rule.id.clone()),
                    nl,
                    en,
                });
                continue;
            };
            let a = &snap.allocations[ai];
            let line_period = clip(period, a.ingangsdatum, a.einddatum)
                .or_else(|| {
                    let month = crate::mapping::PeriodRule::Month.period_of(reached.on);
                    clip(month, a.ingangsdatum, a.einddatum)
                })
                .unwrap_or(Period {
                    start: reached.on,
                    end: reached.on,
                });
            let claim = Claim {
                participant_id: participant.clone(),
                financier_id: financier_id.clone(),
                financier: mapping.financier.key.to_string(),
                result_id: rule.id.clone(),
                result_name: rule.name.clone(),
                product: rule.product.clone(),
                reached_on: reached.on,
                price_cents: rule.price_cents,
                allocation_id: a.id.clone(),
                evidence: reached.evidence,
            };
            out.lines.push(Line {
                allocation: ai,
                period: line_period,
                declared: Declared {
                    volume: 1,
                    eenheid: Eenheid::StuksOutput,
                    product_tarief: Some(rule.price_cents),
                    bedrag: rule.price_cents,
                },
                credits: None,
                basis: format!("result:{}", rule.id),
                claim: Some(Arc::new(claim)),
            });
        }
    }
    out
}

/// `period` within an allocation's validity; `None` when they do not meet.
fn clip(period: Period, from: NaiveDate, to: Option<NaiveDate>) -> Option<Period> {
    let start = period.start.max(from);
    let end = to.map_or(period.end, |t| period.end.min(t));
    (start <= end).then_some(Period { start, end })
}

/// A claim as a run reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimSummary {
    pub participant_id: String,
    pub financier: String,
    pub result_id: String,
    pub reached_on: String,
    pub amount_cents: u64,
    /// False on a dry run: previewed, not stored.
    pub stored: bool,
}

impl ClaimSummary {
    pub fn of(c: &Claim, stored: bool) -> ClaimSummary {
        ClaimSummary {
            participant_id: c.participant_id.clone(),
            financier: c.financier.clone(),
            result_id: c.result_id.clone(),
            reached_on: c.reached_on.to_string(),
            amount_cents: c.price_cents,
            stored,
        }
    }
}

/// The Dutch label of a piece of evidence (a score with its instrument's
/// wording, or a milestone), for pages and reports.
pub fn evidence_nl(
    instruments: &Instruments,
    domain: Option<&str>,
    score: Option<i64>,
    milestone: Option<&str>,
) -> String {
    match (domain, score) {
        (Some(d), Some(s)) => {
            let (instrument, label) = if d == LADDER_DOMAIN {
                (instruments.get(LADDER), "Participatieladder".to_string())
            } else {
                let zrm = instruments.get(ZRM);
                let name = zrm
                    .and_then(|z| z.domain(d))
                    .map_or(d.to_string(), |dm| format!("ZRM {}", dm.name));
                (zrm, name)
            };
            let score = instrument.map_or(s.to_string(), |i| i.score_label(s));
            format!("{label}: {score}")
        }
        _ => format!("Mijlpaal: {}", milestone_nl(milestone.unwrap_or("eigen"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::outcomes::ScoreRow;

    fn m(id: &str, date: &str, domain: &str, score: i64) -> Measurement {
        Measurement::of_one(id, date, domain, score)
    }

    fn zrm2(id: &str, date: &str, werk: i64, fin: i64) -> Measurement {
        let mut x = m(id, date, "werk_opleiding", werk);
        x.scores.push(ScoreRow {
            measurement_id: id.into(),
            domain: "financien".into(),
            score: fin,
            note: None,
        });
        x
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn rule(kind: ResultKind) -> ResultRule {
        ResultRule {
            id: "r".into(),
            name: "R".into(),
            kind,
            product: ProductKey::new("90", "SI001"),
            price_cents: 100,
        }
    }

    fn milestone(kind: &str, date: &str) -> MilestoneRow {
        MilestoneRow {
            id: format!("ms-{kind}"),
            participant_id: "p".into(),
            kind: kind.into(),
            reached_on: date.into(),
            note: None,
            recorded_by_name: "U".into(),
            created_at: String::new(),
        }
    }

    #[test]
    fn a_ladder_rung_counts_once_held_and_only_up_to_the_period_end() {
        let all = Instruments::builtin().expect("instruments");
        let ladder = vec![
            m("a", "2026-01-05", LADDER_DOMAIN, 3),
            m("b", "2026-02-05", LADDER_DOMAIN, 5),
            m("c", "2026-04-01", LADDER_DOMAIN, 5),
            m("e", "2026-05-06", LADDER_DOMAIN, 6),
        ];
        let r = rule(ResultKind::LadderHeld { rung: 5, months: 3 });
        // In April it is not yet held three months.
        assert_eq!(evaluate(all, &r, &ladder, &[], &[], d("2026-04-30")), None);
        let got = evaluate(all, &r, &ladder, &[], &[], d("2026-05-31")).expect("held");
        assert_eq!(got.on, d("2026-05-06"));
        let ids: Vec<_> = got
            .evidence
            .iter()
            .filter_map(|e| e.measurement_id.as_deref())
            .collect();
        assert_eq!(ids, ["b", "c", "e"]);
    }

    #[test]
    fn zrm_improvement_needs_every_named_domain() {
        let all = Instruments::builtin().expect("instruments");
        let zrm = vec![
            zrm2("1", "2026-01-10", 2, 2),
            zrm2("2", "2026-02-10", 3, 2),
            zrm2("3", "2026-03-10", 3, 3),
        ];
        let r = rule(ResultKind::ZrmImproved {
            domains: vec!["werk_opleiding".into(), "financien".into()],
            levels: 1,
        });
        assert_eq!(evaluate(all, &r, &[], &zrm, &[], d("2026-02-28")), None);
        let got = evaluate(all, &r, &[], &zrm, &[], d("2026-03-31")).expect("improved");
        assert_eq!(got.on, d("2026-03-10"));
        assert_eq!(got.evidence.len(), 4);
    }

    #[test]
    fn paid_work_holds_by_milestone_unless_the_ladder_says_otherwise() {
        let all = Instruments::builtin().expect("instruments");
        let r = rule(ResultKind::WorkHeld { months: 6 });
        let ms = vec![milestone("betaald_werk", "2026-01-15")];
        assert_eq!(evaluate(all, &r, &[], &[], &ms, d("2026-07-14")), None);
        let got = evaluate(all, &r, &[], &[], &ms, d("2026-07-31")).expect("held");
        assert_eq!(got.on, d("2026-07-15"));
        // A measurement in between below paid work: not held.
        let fell = vec![m("x", "2026-04-01", LADDER_DOMAIN, 3)];
        assert_eq!(evaluate(all, &r, &fell, &[], &ms, d("2026-07-31")), None);
        let r = rule(ResultKind::Milestone {
            milestone: "uitkering_beeindigd".into(),
        });
        assert_eq!(evaluate(all, &r, &[], &[], &ms, d("2026-07-31")), None);
        let ms = vec![milestone("uitkering_beeindigd", "2026-03-01")];
        assert_eq!(
            evaluate(all, &r, &[], &[], &ms, d("2026-07-31")).map(|x| x.on),
            Some(d("2026-03-01"))
        );
    }
}
