//! Parse + validate throughput on a realistic mix: every valid fixture of
//! both standards (all 28 message types, small answers and larger
//! allocations and declarations), decoded, checked against the structure and
//! every in-message rule, and answered with a retourbericht where one exists.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loket::adapter::istandaard::{self, Limits, RetourSettings};
use loket::schema::Schema;

fn mix() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for std in ["iwmo", "ijw"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(std).join("valid"))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for f in files {
            out.push(std::fs::read(f).expect("read"));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let schema = Schema::builtin().expect("schema");
    let limits = Limits::default();
    let msgs = mix();
    let bytes: usize = msgs.iter().map(Vec::len).sum();

    let mut g = c.benchmark_group("check_mix");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("messages", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(istandaard::check(schema, m, &limits).expect("decodes"));
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("bytes", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(istandaard::check(schema, m, &limits).expect("decodes"));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("retour_mix");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    let settings = RetourSettings::default();
    g.bench_function("check_and_answer", |b| {
        b.iter(|| {
            for m in &msgs {
                let checked = istandaard::check(schema, m, &limits).expect("decodes");
                black_box(istandaard::retour_xml(&checked, &settings).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
