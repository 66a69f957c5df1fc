//! The declaration rules catch what they are there for: each case builds a
//! declaration with one deliberate fault and expects exactly its rule.

use std::collections::HashSet;

use super::build::{self, Declaratie, Numbered};
use super::compute::{Allocation, Line, Participant, Prior, Snapshot};
use super::rules::{View, check};
use crate::mapping::{Declared, Eenheid, FinancierKey, Kind, Mappings, Period, ProductKey};
use crate::schema::Schema;

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().expect("date")
}

fn mappings() -> Mappings {
    Mappings::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings")).expect("mappings")
}

fn snapshot() -> Snapshot {
    Snapshot {
        participants: vec![Participant {
            id: "p1".into(),
            bsn: "999901023".into(),
        }],
        allocations: vec![Allocation {
            id: "a1".into(),
            participant: 0,
            financier_id: "f1".into(),
            financier: FinancierKey::new(Kind::Wmo, "0363"),
            toewijzing_nummer: "500001".into(),
            product: ProductKey::new("07", "07A11"),
            ingangsdatum: d("2026-03-10"),
            einddatum: Some(d("2026-12-31")),
            volume: Some(8),
            eenheid: Some("16".into()),
            frequentie: Some("4".into()),
            budget: None,
            removed: false,
            order: Default::default(),
        }],
        registrations: Vec::new(),
        prior: Vec::new(),
    }
}

fn line(begin: &str, end: &str, volume: u64, tarief: u64) -> Line {
    Line {
        allocation: 0,
        period: Period {
            start: d(begin),
            end: d(end),
        },
        declared: Declared {
            volume,
            eenheid: Eenheid::Dagdeel,
            product_tarief: Some(tarief),
            bedrag: volume * tarief,
        },
        credits: None,
        claim: None,
        basis: String::new(),
    }
}

/// The rules that fire for `lines` (with references r1, r2, ...).
fn rules_for(snap: &Snapshot, lines: &[Line], used: &[&str]) -> Vec<String> {
    rules_against(snap, snap, lines, used)
}

/// The declaration built from `built` (what the provider believes), judged
/// against `record` (what the municipality holds).
fn rules_against(
    built: &Snapshot,
    record: &Snapshot,
    lines: &[Line],
    used: &[&str],
) -> Vec<String> {
    let snap = built;
    let schema = Schema::builtin().expect("schema");
    let m = mappings();
    let numbered: Vec<Numbered<'_>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| Numbered {
            line: l,
            allocation: &snap.allocations[l.allocation],
            participant: &snap.participants[0],
            referentie: format!("r{}", i + 1),
        })
        .collect();
    let header = Declaratie {
        prefix: "WMO",
        afzender: "73730112",
        ontvanger: "0363",
        identificatie: "B1",
        nummer: "D1",
        period: Period {
            start: d("2026-03-01"),
            end: d("2026-03-31"),
        },
        dagtekening: d("2026-04-02"),
    };
    let msg = build::declaratie(schema, &header, &numbered).expect("built");
    let references: HashSet<String> = used.iter().map(|s| s.to_string()).collect();
    let numbers = HashSet::new();
    let view = View::new(record, &m, "f1", &references, &numbers, None);
    let mut rules: Vec<String> = check(&view, &msg).into_iter().map(|f| f.rule).collect();
    rules.sort();
    rules.dedup();
    rules
}

#[test]
fn a_correct_line_passes() {
    let snap = snapshot();
    assert!(rules_for(&snap, &[line("2026-03-10", "2026-03-31", 3, 5398)], &[]).is_empty());
}

#[test]
fn wrong_tariff_and_amount() {
    let snap = snapshot();
    let mut l = line("2026-03-10", "2026-03-31", 3, 5000);
    assert_eq!(
        rules_for(&snap, std::slice::from_ref(&l), &[]),
        ["TR346", "TR418"]
    );
    l.declared.product_tarief = Some(5398);
    l.declared.bedrag = 3 * 5398 + 1;
    assert_eq!(rules_for(&snap, &[l], &[]), ["TR346"]);
}

#[test]
fn periods_outside_the_allocation_or_the_month() {
    let snap = snapshot();
    // Starts before the allocation (and not on the 1st nor on its start).
    assert_eq!(
        rules_for(&snap, &[line("2026-03-05", "2026-03-31", 1, 5398)], &[]),
        ["TR307", "TR387"]
    );
    // Ends before the month's end without the allocation ending there.
    assert_eq!(
        rules_for(&snap, &[line("2026-03-10", "2026-03-20", 1, 5398)], &[]),
        ["TR388"]
    );
    // A product period after the declaration period.
    assert_eq!(
        rules_for(&snap, &[line("2026-04-01", "2026-04-30", 1, 5398)], &[]),
        ["TR319"]
    );
}

#[test]
fn volume_beyond_the_allocation() {
    let snap = snapshot();
    assert_eq!(
        rules_for(&snap, &[line("2026-03-10", "2026-03-31", 9, 5398)], &[]),
        ["TR321"]
    );
}

#[test]
fn unknown_removed_and_mismatched_allocations() {
    let mut snap = snapshot();
    snap.allocations[0].removed = true;
    assert_eq!(
        rules_for(&snap, &[line("2026-03-10", "2026-03-31", 1, 5398)], &[]),
        ["TR384"]
    );
    // The record holds another product code and unit than was declared.
    let mut record = snapshot();
    record.allocations[0].product = ProductKey::new("07", "07A12");
    record.allocations[0].eenheid = Some("04".into());
    let rules = rules_against(
        &snapshot(),
        &record,
        &[line("2026-03-10", "2026-03-31", 1, 5398)],
        &[],
    );
    assert!(rules.contains(&"TR340".to_string()), "{rules:?}");
    assert!(rules.contains(&"TR341".to_string()), "{rules:?}");
    // Another client's allocation (TR304).
    let mut record = snapshot();
    record.participants[0].bsn = "999900304".into();
    assert_eq!(
        rules_against(
            &snapshot(),
            &record,
            &[line("2026-03-10", "2026-03-31", 1, 5398)],
            &[]
        ),
        ["TR304"]
    );
    // An allocation of another financier is unknown here (TR338).
    let mut snap = snapshot();
    snap.allocations[0].financier_id = "f2".into();
    assert_eq!(
        rules_for(&snap, &[line("2026-03-10", "2026-03-31", 1, 5398)], &[]),
        ["TR338"]
    );
}

#[test]
fn references_credits_and_doubles() {
    let snap = snapshot();
    // A reference used before (TR314).
    assert_eq!(
        rules_for(&snap, &[line("2026-03-10", "2026-03-31", 1, 5398)], &["r1"]),
        ["TR314"]
    );
    // A credit of a line that was never approved (TR323).
    let mut credit = line("2026-03-10", "2026-03-31", 1, 5398);
    credit.credits = Some("old".into());
    assert_eq!(rules_for(&snap, &[credit.clone()], &[]), ["TR323"]);
    // A standing approved debit for the same period, not credited (TR389);
    // credited in the same message it is fine, credited twice it is not.
    let mut snap = snapshot();
    snap.prior.push(Prior {
        id: "x".into(),
        allocation: 0,
        referentie: "old".into(),
        period: Period {
            start: d("2026-03-10"),
            end: d("2026-03-31"),
        },
        volume: 1,
        eenheid: "16".into(),
        tarief: Some(5398),
        bedrag: 5398,
        credit: false,
        status: "approved".into(),
        credited: false,
    });
    let debit = line("2026-03-10", "2026-03-31", 2, 5398);
    assert_eq!(
        rules_for(&snap, std::slice::from_ref(&debit), &[]),
        ["TR389"]
    );
    assert!(rules_for(&snap, &[credit.clone(), debit.clone()], &[]).is_empty());
    // (Twice the same VorigReferentieNummer is also TR315, an in-message
    // rule the adapter's check reports.)
    assert_eq!(
        rules_for(&snap, &[credit.clone(), credit, debit], &[]),
        ["TR390"]
    );
}

#[test]
fn parallel_keeps_the_order_of_the_jobs() {
    let jobs: Vec<u32> = (0..500).collect();
    let out = super::parallel(jobs, |j| j * 2);
    assert_eq!(out, (0..500).map(|j| j * 2).collect::<Vec<_>>());
    assert!(super::parallel(Vec::<u32>::new(), |j| j).is_empty());
}
