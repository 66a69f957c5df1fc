//! From registered days to declaration lines: pure computation over a
//! [`Snapshot`] of the record, no database, so that a month of ten thousand
//! participants is a loop over memory and every case is testable on its own.
//!
//! Per participant and day the registered time is split over the
//! allocations valid that day ([`split_day`]: priority between financiers,
//! daily maxima); per allocation and product period the days are converted
//! to the declared eenheid and priced with the contract tariff of each day
//! ([`crate::mapping::units`]). What an allocation allows ([`super::limits`])
//! caps the line; the rest is reported, never declared. A line that differs
//! from what was declared before for the same allocation and product period
//! becomes a credit of the earlier line plus a new debit.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::limits::{Allowance, Frequentie, Omvang};
use crate::mapping::{
    Candidate, DayInput, DayShare, Declared, Eenheid, FinancierKey, Mappings, Period, PeriodRule,
    Product, ProductKey, Registered, split_day, units,
};

/// A participant, as far as messages need it.
#[derive(Debug, Clone)]
pub struct Participant {
    pub id: String,
    pub bsn: String,
}

/// An allocation (toewijzing) of the record.
#[derive(Debug, Clone)]
pub struct Allocation {
    pub id: String,
    pub participant: usize,
    pub financier_id: String,
    pub financier: FinancierKey,
    pub toewijzing_nummer: String,
    pub product: ProductKey,
    pub ingangsdatum: NaiveDate,
    pub einddatum: Option<NaiveDate>,
    pub volume: Option<u64>,
    pub eenheid: Option<String>,
    pub frequentie: Option<String>,
    pub budget: Option<u64>,
    /// RedenWijziging 13: removed; nothing may be declared on it (TR384).
    pub removed: bool,
    /// For an invoiced financier: the order it delivers under.
    pub order: Order,
}

/// What an invoiced financier's order (opdracht) adds to an allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Order {
    /// The number the invoice quotes as its order reference.
    pub number: Option<String>,
    pub line: Option<String>,
    /// A price agreed in the order itself; it replaces the contract tariff.
    pub price_cents: Option<u64>,
    /// The participant's reference at the financier (client number): what
    /// an invoice line names instead of the BSN.
    pub client_reference: Option<String>,
}

impl Allocation {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        !self.removed && self.ingangsdatum <= day && self.einddatum.is_none_or(|e| day <= e)
    }

    pub fn allowance(&self, household_help_category: bool) -> Allowance {
        let omvang = match (
            self.volume,
            self.eenheid.as_deref(),
            self.frequentie.as_deref(),
        ) {
            (Some(volume), Some(e), Some(f)) => {
                match (Eenheid::from_code(e), Frequentie::from_code(f)) {
                    (Some(eenheid), Some(frequentie)) => Some(Omvang {
                        volume,
                        eenheid,
                        frequentie,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        Allowance {
            omvang,
            budget: self.budget,
            ingangsdatum: self.ingangsdatum,
            einddatum: self.einddatum,
            household_help: household_help_category,
        }
    }
}

/// One current registration of a present participant.
#[derive(Debug, Clone)]
pub struct Registration {
    pub participant: usize,
    pub day: NaiveDate,
    /// Tied to one allocation (index) by the person who registered it.
    pub allocation: Option<usize>,
    pub registered: Registered,
    /// Shared between the days of one activity.
    pub activity: std::sync::Arc<str>,
}

/// A prestatie declared before.
#[derive(Debug, Clone)]
pub struct Prior {
    pub id: String,
    pub allocation: usize,
    pub referentie: String,
    pub period: Period,
    pub volume: u64,
    pub eenheid: String,
    pub tarief: Option<u64>,
    pub bedrag: u64,
    pub credit: bool,
    /// submitted | approved | rejected
    pub status: String,
    pub credited: bool,
}

impl Prior {
    /// A debit that still counts: sent or approved, not rejected, not
    /// cancelled by a credit.
    pub fn standing(&self) -> bool {
        !self.credit && !self.credited && self.status != "rejected"
    }
}

/// Everything one run reads.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub participants: Vec<Participant>,
    pub allocations: Vec<Allocation>,
    /// Sorted by participant, then day.
    pub registrations: Vec<Registration>,
    pub prior: Vec<Prior>,
}

/// One line to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub allocation: usize,
    pub period: Period,
    pub declared: Declared,
    /// A credit cancels the earlier line named here (its ReferentieNummer
    /// becomes VorigReferentieNummer).
    pub credits: Option<String>,
    /// SHA-256 over the registrations the line was computed from;
    /// `result:<id>` for a results claim.
    pub basis: String,
    /// A pay-for-results claim ([`super::results`]): the line rests on an
    /// outcome reached, not on registrations.
    pub claim: Option<std::sync::Arc<super::results::Claim>>,
}

/// Something a person should know; never declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// More was delivered than the allocation allows: declared up to the
    /// limit; a verzoek om wijziging (317) would cover the rest.
    OverAllocation {
        allocation: usize,
        period: Period,
        delivered: u64,
        declared: u64,
        eenheid: Eenheid,
        limit: &'static str,
    },
    /// Registered time or presence that no allocation takes.
    NotDeclarable {
        participant: usize,
        day: NaiveDate,
        minutes: u32,
        reason: Uncounted,
    },
    /// The line changed, but the earlier line has no answer yet: a credit
    /// needs an approved debit (TR323), so the correction waits for the 325.
    AwaitingAnswer { allocation: usize, period: Period },
    /// The mapping cannot price or convert the allocation.
    Unpriceable {
        allocation: usize,
        period: Period,
        reason: String,
    },
}

/// The result of computing one run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub lines: Vec<Line>,
    pub reports: Vec<Report>,
}

/// What days one allocation got in one declaration period.
#[derive(Default)]
struct Acc {
    days: Vec<(NaiveDate, DayShare)>,
    regs: Vec<usize>,
}

/// Computes the lines for the declaration periods `periods` (sorted), and
/// compares them with what was declared before.
pub fn compute(snap: &Snapshot, mappings: &Mappings, periods: &[Period]) -> Plan {
    // Participants are independent of each other: each thread takes a
    // contiguous range of them (registrations are sorted by participant).
    let n = snap.participants.len();
    if n < 1000 {
        return compute_range(snap, mappings, periods, 0..n);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = n.div_ceil(threads);
    let ranges: Vec<_> = (0..threads)
        .map(|t| (t * per).min(n)..((t + 1) * per).min(n))
        .collect();
    let parts = super::parallel(ranges, |range| {
        compute_range(snap, mappings, periods, range)
    });
    let mut plan = Plan::default();
    for p in parts {
        plan.lines.extend(p.lines);
        plan.reports.extend(p.reports);
    }
    plan
}

/// [`compute`] for the participants in `range`.
fn compute_range(
    snap: &Snapshot,
    mappings: &Mappings,
    periods: &[Period],
    range: std::ops::Range<usize>,
) -> Plan {
    let mut plan = Plan::default();
    let (products, by_participant) = products_of(snap, mappings);
    let period_of = |day: NaiveDate| periods.iter().position(|p| p.contains(day));

    let mut acc: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    let mut cands: Vec<Candidate<'_>> = Vec::new();
    let mut idx: Vec<usize> = Vec::new();
    let regs = &snap.registrations;
    let first = regs.partition_point(|r| r.participant < range.start);
    let last = regs.partition_point(|r| r.participant < range.end);
    for (ri, reg) in regs.iter().enumerate().take(last).skip(first) {
        let Some(pi) = period_of(reg.day) else {
            continue;
        };
        let (split, uncounted) = assess(
            snap,
            mappings,
            &products,
            &by_participant[reg.participant],
            reg,
            &mut cands,
            &mut idx,
        );
        for share in &split.shares {
            let e = acc.entry((idx[share.candidate], pi)).or_default();
            e.days.push((reg.day, share.share));
            e.regs.push(ri);
        }
        if let Some(reason) = uncounted {
            plan.reports.push(Report::NotDeclarable {
                participant: reg.participant,
                day: reg.day,
                minutes: split.unassigned_minutes,
                reason,
            });
        }
    }

    // Earlier lines per allocation, and the product periods they cover in
    // the periods computed now: a period whose delivery disappeared must be
    // credited too.
    let mut prior_of: HashMap<usize, Vec<&Prior>> = HashMap::new();
    for p in &snap.prior {
        prior_of.entry(p.allocation).or_default().push(p);
    }
    for p in snap
        .prior
        .iter()
        .filter(|p| p.standing() && range.contains(&snap.allocations[p.allocation].participant))
    {
        if let Some(pi) = period_of(p.period.start) {
            acc.entry((p.allocation, pi)).or_default();
        }
    }

    for ((ai, pi), got) in acc {
        let a = &snap.allocations[ai];
        let Some(product) = products[ai] else {
            continue;
        };
        let Some(product_period) = periods[pi].clip(Some(a.ingangsdatum), a.einddatum) else {
            continue;
        };
        let prior = prior_of.get(&ai).map(Vec::as_slice).unwrap_or(&[]);
        allocation_period(
            &mut plan,
            a,
            ai,
            product,
            product_period,
            &got,
            prior,
            &snap.registrations,
        );
    }
    plan
}

/// Each allocation's contracted product (`None`: the contract does not
/// have it), and per participant the allocations that have one: what
/// [`assess`] takes.
pub fn products_of<'a>(
    snap: &Snapshot,
    mappings: &'a Mappings,
) -> (Vec<Option<&'a Product>>, Vec<Vec<usize>>) {
    let products: Vec<Option<&Product>> = snap
        .allocations
        .iter()
        .map(|a| mappings.product(&a.financier, &a.product).ok())
        .collect();
    let mut by_participant: Vec<Vec<usize>> = vec![Vec::new(); snap.participants.len()];
    for (i, a) in snap.allocations.iter().enumerate() {
        if products[i].is_some() {
            by_participant[a.participant].push(i);
        }
    }
    (products, by_participant)
}

/// Why (part of) a registered day counts for no allocation: what the
/// declaration run reports and what the registration pages warn about when
/// the day is saved, from the one decision [`assess`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncounted {
    /// No allocation with a contract in force that day (or not the one the
    /// registration is tied to).
    NoAllocation,
    /// No activity registered, and the contracts count named activities only.
    NoActivity,
    /// An activity no contract of the tenant names (a typing error?).
    UnknownActivity,
    /// An activity the contracts know, but none of the participant's
    /// allocations in force counts it.
    OtherActivity,
    /// Present without a time, and the allocations are paid by time.
    NoTime,
    /// More time than the daily maxima of the allocations allow.
    DailyMaximum,
}

impl Uncounted {
    /// The code notices keep.
    pub fn as_str(self) -> &'static str {
        match self {
            Uncounted::NoAllocation => "no_allocation",
            Uncounted::NoActivity => "no_activity",
            Uncounted::UnknownActivity => "unknown_activity",
            Uncounted::OtherActivity => "other_activity",
            Uncounted::NoTime => "no_time",
            Uncounted::DailyMaximum => "daily_maximum",
        }
    }

    /// The reason in Dutch, for a person.
    pub fn nl(self) -> &'static str {
        match self {
            Uncounted::NoAllocation => "geen toewijzing in voor deze dag",
            Uncounted::NoActivity => {
                "geen activiteit ingevuld, en het contract telt alleen benoemde activiteiten"
            }
            Uncounted::UnknownActivity => "deze activiteit kent geen enkel contract",
            Uncounted::OtherActivity => "geen toewijzing van deze deelnemer telt deze activiteit",
            Uncounted::NoTime => "aanwezig zonder uren, en de toewijzing wordt per tijd betaald",
            Uncounted::DailyMaximum => "boven het dagmaximum van de toewijzingen",
        }
    }

    /// The reason in English, for the run's notices.
    pub fn en(self) -> &'static str {
        match self {
            Uncounted::NoAllocation => "no allocation in force on the day",
            Uncounted::NoActivity => {
                "no activity given, and the contract counts named activities only"
            }
            Uncounted::UnknownActivity => "no contract knows this activity",
            Uncounted::OtherActivity => "no allocation of the participant counts this activity",
            Uncounted::NoTime => "present without hours, and the allocation is paid by time",
            Uncounted::DailyMaximum => "above the daily maximum of the allocations",
        }
    }
}

/// The declaration engine's decision for one registration: how the day
/// splits over the participant's allocations in force (`own`: indices of
/// the participant's allocations with a product), and why anything is left
/// over. `cands` and `idx` are scratch buffers kept between calls;
/// afterwards `idx[share.candidate]` is the allocation a share went to.
/// The declaration run and the warning at saving a day both call this, so
/// the page warns about exactly what the run will not declare.
pub fn assess<'a>(
    snap: &'a Snapshot,
    mappings: &'a Mappings,
    products: &[Option<&'a Product>],
    own: &[usize],
    reg: &'a Registration,
    cands: &mut Vec<Candidate<'a>>,
    idx: &mut Vec<usize>,
) -> (crate::mapping::DaySplit, Option<Uncounted>) {
    cands.clear();
    idx.clear();
    for &ai in own {
        let a = &snap.allocations[ai];
        if !a.valid_on(reg.day) || reg.allocation.is_some_and(|want| want != ai) {
            continue;
        }
        let Some(product) = products[ai] else {
            continue;
        };
        cands.push(Candidate {
            allocation: &a.toewijzing_nummer,
            financier: &a.financier,
            product,
            daily_max_minutes: daily_cap(a),
        });
        idx.push(ai);
    }
    let split = split_day(&DayInput {
        activity: &reg.activity,
        registered: reg.registered,
        candidates: cands,
        rules: mappings.priority(),
    });
    let uncounted = if split.unassigned_minutes == 0 && !split.unassigned_presence {
        None
    } else if cands.is_empty() {
        Some(Uncounted::NoAllocation)
    } else if split.no_allocation && reg.activity.trim().is_empty() {
        Some(Uncounted::NoActivity)
    } else if split.no_allocation && !mappings.knows_activity(&reg.activity) {
        Some(Uncounted::UnknownActivity)
    } else if split.no_allocation {
        Some(Uncounted::OtherActivity)
    } else if split.unassigned_presence {
        Some(Uncounted::NoTime)
    } else {
        Some(Uncounted::DailyMaximum)
    };
    (split, uncounted)
}

/// An Omvang per day in time units caps the day (in minutes) for the split.
fn daily_cap(a: &Allocation) -> Option<u32> {
    if a.frequentie.as_deref() != Some("1") {
        return None;
    }
    let unit = Eenheid::from_code(a.eenheid.as_deref()?)?.minutes()?;
    u32::try_from(a.volume?).ok()?.checked_mul(unit)
}

#[allow(clippy::too_many_arguments)]
fn allocation_period(
    plan: &mut Plan,
    a: &Allocation,
    ai: usize,
    product: &Product,
    product_period: Period,
    got: &Acc,
    prior: &[&Prior],
    regs: &[Registration],
) {
    // Tariff parts: a tariff that changes inside the period splits the line;
    // a price agreed in the order is one part for the whole period.
    let parts = match a.order.price_cents {
        Some(price_cents) => Ok(vec![(
            product_period,
            crate::mapping::Tariff {
                from: product_period.start,
                to: None,
                price_cents,
            },
        )]),
        None => product
            .tariffs_in(product_period)
            .map(|v| v.into_iter().map(|(p, t)| (p, *t)).collect::<Vec<_>>()),
    };
    let parts = match parts {
        Ok(p) => p,
        Err(e) => {
            plan.reports.push(Report::Unpriceable {
                allocation: ai,
                period: product_period,
                reason: e.to_string(),
            });
            return;
        }
    };
    let household_help =
        a.financier.kind == crate::mapping::Kind::Wmo && a.product.categorie == "01";
    let allowance = a.allowance(household_help);
    let conversion = &product.conversion;
    let declared_eenheid = conversion.declared_eenheid();
    let factor = match (allowance.omvang, allowance.factor(declared_eenheid)) {
        (None, _) => 1,
        (Some(_), Some(f)) => f,
        (Some(o), None) => {
            plan.reports.push(Report::Unpriceable {
                allocation: ai,
                period: product_period,
                reason: format!(
                    "allocated in eenheid {} but the contract declares {} (TR341)",
                    o.eenheid, declared_eenheid
                ),
            });
            return;
        }
    };
    // What other periods already hold (standing debits elsewhere).
    let elsewhere_volume: u64 = prior
        .iter()
        .filter(|p| p.standing() && !product_period.contains(p.period.start))
        .map(|p| p.volume)
        .sum();
    let elsewhere_bedrag: u64 = prior
        .iter()
        .filter(|p| p.standing() && !product_period.contains(p.period.start))
        .map(|p| p.bedrag)
        .sum();
    let mut room_period = allowance
        .max_in_period(product_period)
        .map(|m| m.saturating_mul(factor));
    let mut room_total = allowance
        .max_total()
        .map(|m| m.saturating_mul(factor).saturating_sub(elsewhere_volume));
    let mut room_budget = allowance.budget.map(|b| b.saturating_sub(elsewhere_bedrag));

    for (part, tariff) in parts {
        let days: Vec<DayShare> = got
            .days
            .iter()
            .filter(|(d, _)| part.contains(*d))
            .map(|(_, s)| *s)
            .collect();
        let delivered = conversion.period_units(&days);
        let price = tariff.price_cents;
        let full = match units::declare(conversion, delivered, price) {
            Ok(d) => d,
            Err(e) => {
                plan.reports.push(Report::Unpriceable {
                    allocation: ai,
                    period: part,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        // The first limit the full delivery breaks, if any.
        let broken = [
            (room_period.is_some_and(|r| full.volume > r), "TR321"),
            (room_total.is_some_and(|r| full.volume > r), "TR322"),
            (room_budget.is_some_and(|r| full.bedrag > r), "TR369"),
        ]
        .into_iter()
        .find_map(|(broken, rule)| broken.then_some(rule));
        let declared = match broken {
            None => full,
            Some(limit) => {
                let fits = |d: &Declared| {
                    room_period.is_none_or(|r| d.volume <= r)
                        && room_total.is_none_or(|r| d.volume <= r)
                        && room_budget.is_none_or(|r| d.bedrag <= r)
                };
                // Volume and amount grow with the units: the largest number
                // of units that fits is found by bisection.
                let (mut lo, mut hi) = (0u64, delivered);
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    if units::declare(conversion, mid, price).is_ok_and(|d| fits(&d)) {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                let capped = units::declare(conversion, lo, price).unwrap_or(Declared {
                    volume: 0,
                    bedrag: 0,
                    ..full
                });
                plan.reports.push(Report::OverAllocation {
                    allocation: ai,
                    period: part,
                    delivered: full.volume,
                    declared: capped.volume,
                    eenheid: declared_eenheid,
                    limit,
                });
                capped
            }
        };
        room_period = room_period.map(|r| r - declared.volume.min(r));
        room_total = room_total.map(|r| r - declared.volume.min(r));
        room_budget = room_budget.map(|r| r - declared.bedrag.min(r));

        let basis = basis_of(got, regs, part);
        let standing: Vec<&&Prior> = prior
            .iter()
            .filter(|p| p.standing() && p.period == part)
            .collect();
        let same = |p: &Prior| {
            p.volume == declared.volume
                && p.bedrag == declared.bedrag
                && p.tarief == declared.product_tarief
                && p.eenheid == declared.eenheid.code()
        };
        if standing.iter().any(|p| same(p)) && standing.len() == 1 {
            continue;
        }
        // A debit without an answer yet cannot be credited (TR323); an
        // invoice line has no answer to wait for.
        if standing.iter().any(|p| p.status == "submitted") {
            plan.reports.push(Report::AwaitingAnswer {
                allocation: ai,
                period: part,
            });
            continue;
        }
        for p in standing {
            plan.lines.push(Line {
                allocation: ai,
                period: part,
                declared: Declared {
                    volume: p.volume,
                    eenheid: Eenheid::from_code(&p.eenheid).unwrap_or(declared.eenheid),
                    product_tarief: p.tarief,
                    bedrag: p.bedrag,
                },
                credits: Some(p.referentie.clone()),
                basis: basis.clone(),
                claim: None,
            });
        }
        if declared.volume > 0 {
            plan.lines.push(Line {
                allocation: ai,
                period: part,
                declared,
                credits: None,
                basis,
                claim: None,
            });
        }
    }
}

/// Hash over what was registered (day, time, activity) for a line in
/// `part`: stored with the line, it shows later what the line was made of.
fn basis_of(got: &Acc, regs: &[Registration], part: Period) -> String {
    let mut h = Sha256::new();
    for &ri in &got.regs {
        let r = &regs[ri];
        if part.contains(r.day) {
            h.update(format!("{}|{:?}|{}\n", r.day, r.registered, r.activity).as_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// The calendar month `YYYY-MM` as a period.
pub fn month(spec: &str) -> Option<Period> {
    let day = NaiveDate::parse_from_str(&format!("{spec}-01"), "%Y-%m-%d").ok()?;
    if spec.len() != 7 {
        return None;
    }
    Some(PeriodRule::Month.period_of(day))
}
