//! The declaration rules a municipality applies to a WMO323/JW323 against
//! its own record (TR304, TR307, TR308, TR314, TR318, TR319, TR321, TR322,
//! TR323, TR333, TR338 to TR341, TR346, TR369, TR384, TR387 to TR390,
//! TR418), applied by loket to the declaration it is about to send, and by
//! loket as a municipality to the declaration it receives
//! ([`crate::record::declared`]): one implementation, so what a provider
//! checks before sending is what the municipality judges.
//!
//! The engine computes lines that should pass all of them; checking the
//! built message anyway means that a mistake in the computation, a stale
//! allocation or a contract that disagrees with the allocation stops the
//! line here, reported to a person, instead of coming back in a 325 weeks
//! later. The rules read the message, not the engine's structs, so they
//! judge exactly what leaves.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};

use super::compute::{Allocation, Prior, Snapshot};
use crate::finding::Finding;
use crate::mapping::{Eenheid, Kind, Mappings, Period, Rounding, units::round_div};
use crate::message::{Message, NodeRef};

/// What the rules look up.
pub struct View<'a> {
    pub snap: &'a Snapshot,
    pub mappings: &'a Mappings,
    /// The financier's allocations by ToewijzingNummer.
    pub allocations: HashMap<&'a str, usize>,
    /// Every ReferentieNummer this provider used before within the law.
    pub used_references: &'a HashSet<String>,
    /// Every DeclaratieNummer used before within the law.
    pub used_numbers: &'a HashSet<String>,
    /// The latest DeclaratiePeriode sent to this financier.
    pub last_period: Option<Period>,
    /// Earlier prestaties per allocation index.
    pub prior_by_allocation: HashMap<usize, Vec<&'a Prior>>,
    /// The law of every allocation, when their financier key does not say
    /// it: a municipality keys its contract by provider (kind aanbieder).
    pub law: Option<Kind>,
}

impl<'a> View<'a> {
    pub fn new(
        snap: &'a Snapshot,
        mappings: &'a Mappings,
        financier_id: &str,
        used_references: &'a HashSet<String>,
        used_numbers: &'a HashSet<String>,
        last_period: Option<Period>,
    ) -> View<'a> {
        let mut prior_by_allocation: HashMap<usize, Vec<&Prior>> = HashMap::new();
        for p in &snap.prior {
            prior_by_allocation.entry(p.allocation).or_default().push(p);
        }
        View {
            snap,
            mappings,
            allocations: snap
                .allocations
                .iter()
                .enumerate()
                .filter(|(_, a)| a.financier_id == financier_id)
                .map(|(i, a)| (a.toewijzing_nummer.as_str(), i))
                .collect(),
            used_references,
            used_numbers,
            last_period,
            prior_by_allocation,
            law: None,
        }
    }

    /// The law allocation `a` is under.
    fn law_of(&self, a: &Allocation) -> Kind {
        self.law.unwrap_or(a.financier.kind)
    }

    fn prior(&self, allocation: usize) -> &[&'a Prior] {
        self.prior_by_allocation
            .get(&allocation)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn finding(rule: &str, node: NodeRef<'_>, detail_nl: &str, detail_en: &str) -> Finding {
    Finding::cross_message(rule, node, detail_nl, detail_en)
}

fn last_of_month(d: NaiveDate) -> NaiveDate {
    crate::mapping::PeriodRule::Month.period_of(d).end
}

/// Checks a declaration; findings point at the Declaratie or a Prestatie.
pub fn check(view: &View<'_>, msg: &Message) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(decl) = msg.get("Declaratie") else {
        return out;
    };
    let period = match (
        decl.date("DeclaratiePeriode/Begindatum"),
        decl.date("DeclaratiePeriode/Einddatum"),
    ) {
        (Some(start), Some(end)) => Period { start, end },
        _ => return out,
    };
    if view
        .used_numbers
        .contains(decl.value("DeclaratieNummer").unwrap_or_default())
    {
        out.push(finding("TR333", decl, "", ""));
    }
    if let Some(last) = view.last_period
        && period.start < last.start
    {
        out.push(finding(
            "TR318",
            decl,
            &format!(
                "Vorige declaratieperiode: {} t/m {}.",
                last.start.format("%d-%m-%Y"),
                last.end.format("%d-%m-%Y")
            ),
            &format!("Previous invoice period: {} to {}.", last.start, last.end),
        ));
    }

    let mut seen_refs: HashSet<&str> = HashSet::new();
    let mut credited_here: HashSet<&str> = HashSet::new();
    // Volume and amount per allocation in this message, net of credits.
    let mut volume_here: HashMap<usize, i128> = HashMap::new();
    let mut bedrag_here: HashMap<usize, i128> = HashMap::new();
    let mut lines: Vec<(NodeRef<'_>, usize)> = Vec::new();
    let credited_in_message: HashSet<&str> = decl
        .all("Clienten/Client/Prestaties/Prestatie")
        .iter()
        .filter_map(|c| c.value("ProductReferentie/VorigReferentieNummer"))
        .collect();
    let prior_by_ref: HashMap<&str, &Prior> = view
        .snap
        .prior
        .iter()
        .map(|p| (p.referentie.as_str(), p))
        .collect();

    for client in decl.all("Clienten/Client") {
        let bsn = client.value("Bsn").unwrap_or_default();
        for p in client.all("Prestaties/Prestatie") {
            let nummer = p.value("ToewijzingNummer").unwrap_or_default();
            let Some(&ai) = view.allocations.get(nummer) else {
                out.push(finding("TR338", p, "", ""));
                continue;
            };
            let a = &view.snap.allocations[ai];
            if view.snap.participants[a.participant].bsn != bsn {
                out.push(finding("TR304", p, "", ""));
            }
            let before = out.len();
            product_rules(view, a, p, period, &mut out);
            let credit = p.value("IngediendBedrag/DebetCredit") == Some("C");
            let reference = p
                .value("ProductReferentie/ReferentieNummer")
                .unwrap_or_default();
            if view.used_references.contains(reference) || !seen_refs.insert(reference) {
                out.push(finding("TR314", p, "", ""));
            }
            let pstart = p.date("ProductPeriode/Begindatum");
            let pend = p.date("ProductPeriode/Einddatum");
            let vol = p.int("GeleverdVolume").unwrap_or(0) as i128;
            let amount = p.int("IngediendBedrag/Bedrag").unwrap_or(0) as i128;
            if credit {
                let vorig = p
                    .value("ProductReferentie/VorigReferentieNummer")
                    .unwrap_or_default();
                match prior_by_ref.get(vorig) {
                    Some(d) if !d.credit && d.status == "approved" => {
                        if d.credited || !credited_here.insert(vorig) {
                            out.push(finding("TR390", p, "", ""));
                        }
                    }
                    _ => out.push(finding("TR323", p, "", "")),
                }
                *volume_here.entry(ai).or_default() -= vol;
                *bedrag_here.entry(ai).or_default() -= amount;
            } else {
                *volume_here.entry(ai).or_default() += vol;
                *bedrag_here.entry(ai).or_default() += amount;
            }
            if out.len() == before {
                lines.push((p, ai));
            }
            if !credit && let (Some(s), Some(e)) = (pstart, pend) {
                // TR389: an earlier debit for the same product and period
                // still stands, and this message does not credit it.
                let standing = view.prior(ai).iter().any(|q| {
                    q.standing()
                        && q.period == Period { start: s, end: e }
                        && !credited_in_message.contains(q.referentie.as_str())
                });
                if standing {
                    out.push(finding("TR389", p, "", ""));
                }
            }
        }
    }
    volume_rules(view, &lines, &volume_here, &bedrag_here, &mut out);
    out
}

/// The rules that compare one prestatie with its allocation and contract.
fn product_rules(
    view: &View<'_>,
    a: &Allocation,
    p: NodeRef<'_>,
    period: Period,
    out: &mut Vec<Finding>,
) {
    if a.removed {
        out.push(finding("TR384", p, "", ""));
    }
    if p.value("ProductCategorie") != Some(a.product.categorie.as_str()) {
        out.push(finding("TR339", p, "", ""));
    }
    if !a.product.code.is_empty() && p.value("ProductCode") != Some(a.product.code.as_str()) {
        out.push(finding("TR340", p, "", ""));
    }
    let eenheid = p.value("Eenheid").and_then(Eenheid::from_code);
    if let (Some(allocated), Some(e)) = (a.eenheid.as_deref(), eenheid)
        && allocated != e.code()
        && !(allocated == "04" && e == Eenheid::Minuut)
    {
        out.push(finding("TR341", p, "", ""));
    }
    let (Some(start), Some(end)) = (
        p.date("ProductPeriode/Begindatum"),
        p.date("ProductPeriode/Einddatum"),
    ) else {
        return;
    };
    if start < a.ingangsdatum {
        out.push(finding("TR307", p, "", ""));
    }
    if a.einddatum.is_some_and(|e| end > e) {
        out.push(finding("TR308", p, "", ""));
    }
    if end > period.end {
        out.push(finding("TR319", p, "", ""));
    }
    // A product period starts on the 1st, or on the allocation's start.
    if start.day() != 1 && a.ingangsdatum != start {
        out.push(finding("TR387", p, "", ""));
    }
    let month_end = last_of_month(end);
    if end != month_end && a.einddatum != Some(end) {
        out.push(finding("TR388", p, "", ""));
    }
    // TR418: the tariff is the contract's; TR346: the amount is volume times
    // the unrounded tariff.
    let Ok(product) = view.mappings.product(&a.financier, &a.product) else {
        return;
    };
    let Ok(tariff) = product.tariff(start) else {
        out.push(finding(
            "TR418",
            p,
            "Geen contracttarief.",
            "No contract tariff.",
        ));
        return;
    };
    let volume = p.int("GeleverdVolume").unwrap_or(0).max(0) as u64;
    let bedrag = p.int("IngediendBedrag/Bedrag").unwrap_or(0).max(0) as u64;
    let tarief = p.int("ProductTarief").map(|t| t.max(0) as u64);
    let per_minute = eenheid == Some(Eenheid::Minuut) && product.eenheid() == Eenheid::Uur;
    let contract = if per_minute {
        round_div(tariff.price_cents, 60, Rounding::Nearest)
    } else {
        tariff.price_cents
    };
    if eenheid != Some(Eenheid::Euro) {
        if tarief != Some(contract) {
            out.push(finding("TR418", p, "", ""));
        }
        let expected = if per_minute {
            round_div(
                tariff.price_cents.saturating_mul(volume),
                60,
                Rounding::Nearest,
            )
        } else {
            tariff.price_cents.saturating_mul(volume)
        };
        if bedrag != expected {
            out.push(finding("TR346", p, "", ""));
        }
    }
}

/// TR321 (per product period), TR322 (whole allocation) and TR369 (budget),
/// with what was declared before and still stands.
fn volume_rules(
    view: &View<'_>,
    lines: &[(NodeRef<'_>, usize)],
    volume_here: &HashMap<usize, i128>,
    bedrag_here: &HashMap<usize, i128>,
    out: &mut Vec<Finding>,
) {
    let mut reported: HashSet<usize> = HashSet::new();
    for &(p, ai) in lines {
        if p.value("IngediendBedrag/DebetCredit") == Some("C") {
            continue;
        }
        let a = &view.snap.allocations[ai];
        let household = view.law_of(a) == Kind::Wmo && a.product.categorie == "01";
        let allowance = a.allowance(household);
        let eenheid = p.value("Eenheid").and_then(Eenheid::from_code);
        let factor = eenheid.and_then(|e| allowance.factor(e)).unwrap_or(1) as i128;
        let volume = p.int("GeleverdVolume").unwrap_or(0) as i128;
        if let (Some(s), Some(e)) = (
            p.date("ProductPeriode/Begindatum"),
            p.date("ProductPeriode/Einddatum"),
        ) && let Some(max) = allowance.max_in_period(Period { start: s, end: e })
            && volume > i128::from(max) * factor
        {
            out.push(finding("TR321", p, "", ""));
        }
        if !reported.insert(ai) {
            continue;
        }
        let standing: Vec<&&Prior> = view.prior(ai).iter().filter(|q| q.standing()).collect();
        let before_volume: i128 = standing.iter().map(|q| i128::from(q.volume)).sum();
        let before_bedrag: i128 = standing.iter().map(|q| i128::from(q.bedrag)).sum();
        if let Some(max) = allowance.max_total()
            && before_volume + volume_here.get(&ai).copied().unwrap_or(0) > i128::from(max) * factor
        {
            out.push(finding("TR322", p, "", ""));
        }
        if let Some(budget) = allowance.budget
            && before_bedrag + bedrag_here.get(&ai).copied().unwrap_or(0) > i128::from(budget)
        {
            out.push(finding("TR369", p, "", ""));
        }
    }
}
