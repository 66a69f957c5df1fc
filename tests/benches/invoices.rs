//! Invoices at scale: 10,000 invoice lines (participants with a UWV
//! jobcoaching order, from the example mapping) generated and validated as
//! the declaration run does it: build the UBL document, write it, read it
//! back through the decoder (structure UBL 2.1 requires) and check the EN
//! 16931 rules, for every document ([`loket::engine::invoice::build_all`]).
//!
//! Two shapes: one order holding all lines (one document of 10,000 lines),
//! and one order per participant (10,000 documents of one line). Each is
//! run `LOKET_INVOICE_RUNS` times (default 7); best, median and worst are
//! printed. `LOKET_INVOICE_LINES` sets the number of lines. Without
//! `--bench` (`cargo test --all-targets`) it runs 200 lines once as a
//! smoke test.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use loket::engine::RunOptions;
use loket::engine::compute::{Allocation, Line, Order, Participant, Snapshot};
use loket::engine::invoice;
use loket::mapping::{Declared, Eenheid, FinancierKey, Kind, Mappings, Period, ProductKey};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// `n` participants, each with one UWV jobcoaching allocation; `orders`
/// decides how they share order numbers.
fn snapshot(n: usize, one_order: bool) -> Snapshot {
    let mut snap = Snapshot::default();
    for i in 0..n {
        snap.participants.push(Participant {
            id: format!("p{i}"),
            bsn: String::new(),
        });
        snap.allocations.push(Allocation {
            id: format!("a{i}"),
            participant: i,
            financier_id: "t:uwv-UWV".into(),
            financier: FinancierKey::new(Kind::Uwv, "UWV"),
            toewijzing_nummer: format!("ORD:{i}:JC001"),
            product: ProductKey::new("90", "JC001"),
            ingangsdatum: d("2026-01-01"),
            einddatum: None,
            volume: None,
            eenheid: None,
            frequentie: None,
            budget: None,
            removed: false,
            order: Order {
                number: Some(if one_order {
                    "UWV-2026-BENCH".into()
                } else {
                    format!("UWV-2026-{i:06}")
                }),
                line: Some((i % 100 + 1).to_string()),
                price_cents: None,
                client_reference: Some(format!("K-{i:06}")),
            },
        });
    }
    snap
}

fn lines(n: usize) -> Vec<Line> {
    (0..n)
        .map(|i| {
            let hours = (i % 40 + 1) as u64;
            Line {
                allocation: i,
                period: Period {
                    start: d("2026-03-01"),
                    end: d("2026-03-31"),
                },
                declared: Declared {
                    volume: hours,
                    eenheid: Eenheid::Uur,
                    product_tarief: Some(7690),
                    bedrag: hours * 7690,
                },
                credits: None,
                basis: String::new(),
                claim: None,
            }
        })
        .collect()
}

fn run(mappings: &Mappings, n: usize, one_order: bool) -> (Duration, usize) {
    let snap = snapshot(n, one_order);
    let lines = lines(n);
    let groups = vec![(
        "t:uwv-UWV".to_string(),
        Period {
            start: d("2026-03-01"),
            end: d("2026-03-31"),
        },
        lines.iter().collect::<Vec<_>>(),
    )];
    let opts = RunOptions {
        period: groups[0].1,
        today: d("2026-04-02"),
        dry_run: true,
        out_dir: None,
    };
    let mut notices = Vec::new();
    let started = Instant::now();
    let docs = invoice::build_all(
        &snap,
        mappings,
        &opts,
        &groups,
        &HashMap::new(),
        &mut notices,
    );
    let took = started.elapsed();
    assert!(notices.is_empty(), "{notices:?}");
    let total: usize = docs.iter().map(|g| g.document.lines.len()).sum();
    assert_eq!(total, n, "every line invoiced");
    (took, docs.len())
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("LOKET_INVOICE_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 10_000 } else { 200 });
    let runs: usize = std::env::var("LOKET_INVOICE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 7 } else { 1 });
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/mappings");
    let mappings = Mappings::load_dir(dir).unwrap_or_else(|e| panic!("{e}"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "invoices: {n} lines, {runs} runs, load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (label, one_order) in [("one order", true), ("one order per line", false)] {
        let mut times = Vec::new();
        let mut docs = 0;
        for _ in 0..runs {
            let (t, k) = run(&mappings, n, one_order);
            times.push(t);
            docs = k;
        }
        times.sort();
        let ms = |t: Duration| t.as_secs_f64() * 1000.0;
        println!(
            "  {label:>20}: {docs:>6} document(s), generate + validate best {:.0} ms, median {:.0} ms, worst {:.0} ms",
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
}
