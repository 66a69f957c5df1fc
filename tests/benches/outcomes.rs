//! Outcomes at scale: a provider with `LOKET_OUTCOME_PARTICIPANTS`
//! participants (default 2,000), each measured five times with the
//! Zelfredzaamheid-Matrix (13 domains) and the participatieladder, as six
//! months of evaluations leave them. Measured, on the embedded SQLite and
//! (with `LOKET_BENCH_DATABASE_URL` or `LOKET_TEST_DATABASE_URL`) on a fresh
//! PostgreSQL database:
//!
//! - storing: the measurements through `record::outcomes::add_measurement`,
//!   one transaction per participant (as an evaluation form saves them);
//! - the aggregate page's work (`/ontwikkeling`): reading every ZRM
//!   measurement of the tenant and computing the figures per domain for
//!   the whole group (`engine::outcomes::group_figures`);
//! - the participant page's read (`measurements_of`), per participant;
//! - what a results claim evaluates (`engine::outcomes::held` on each
//!   participant's ladder series).
//!
//! Each read is run `LOKET_OUTCOME_RUNS` times (default 5); best, median and
//! worst are printed. Without `--bench` (`cargo test --all-targets`) it runs
//! 40 participants once as a smoke test.

use std::time::{Duration, Instant};

#[path = "support/backend.rs"]
mod backend;

use chrono::{Duration as Days, NaiveDate};
use loket::engine::outcomes;
use loket::instrument::{Instruments, LADDER, LADDER_DOMAIN, ZRM};
use loket::record::access::Actor;
use loket::record::outcomes::{
    NewMeasurement, NewScore, add_measurement, measurements_of, measurements_with,
};
use loket::store::Store;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: best {:.1} ms, median {:.1} ms, worst {:.1} ms ({} runs)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

async fn seed(store: &Store, instruments: &Instruments, n: usize) -> Vec<String> {
    let tenant = "12345678";
    store.add_tenant(tenant).await.expect("tenant");
    let zrm = instruments.get(ZRM).expect("zrm");
    let by = Actor::user("bench", "Bench", "begeleider", None);
    let first = NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
    let mut ids = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let id = format!("bench-{i:06}");
        sqlx::query(
            "INSERT INTO participants (id, tenant_id, bsn, name_json, created_at, updated_at, group_name) \
             VALUES ($1, $2, $3, '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', $4)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(format!("{:09}", 100_000_000 + i))
        .bind(["Houtwerkplaats", "Kas", "Koffiebranderij"][i % 3])
        .execute(store.pool())
        .await
        .expect("participant");
        let mut w = store.begin_write().await.expect("tx");
        for k in 0..5i64 {
            let day = first + Days::days(42 * k);
            // Slow growth on some domains, a setback on others, per index.
            let scores = zrm
                .domains
                .iter()
                .enumerate()
                .map(|(d, dom)| NewScore {
                    domain: dom.id.clone(),
                    score: (1 + ((i + d) % 3) as i64 + if (i + d) % 4 == 0 { k / 2 } else { 0 })
                        .min(5),
                    note: None,
                })
                .collect();
            for m in [
                NewMeasurement {
                    participant_id: id.clone(),
                    instrument: ZRM.into(),
                    measured_on: day,
                    scores,
                    supersedes: None,
                },
                NewMeasurement {
                    participant_id: id.clone(),
                    instrument: LADDER.into(),
                    measured_on: day,
                    scores: vec![NewScore {
                        domain: LADDER_DOMAIN.into(),
                        score: (2 + (i % 3) as i64 + k).min(6),
                        note: None,
                    }],
                    supersedes: None,
                },
            ] {
                add_measurement(&mut w, tenant, instruments, &by, &m, None)
                    .await
                    .expect("measurement");
            }
        }
        w.commit().await.expect("commit");
        ids.push(id);
    }
    let took = started.elapsed();
    println!(
        "stored {n} participants x 5 evaluations (ZRM 13 domains + ladder): {:.2} s, {:.2} ms per participant",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / n as f64
    );
    ids
}

async fn measure(label: &str, store: &Store, n: usize, runs: usize) {
    println!("== {label}");
    let instruments = Instruments::builtin().expect("instruments");
    let ids = seed(store, instruments, n).await;
    let zrm = instruments.get(ZRM).expect("zrm");
    let ladder = instruments.get(LADDER).expect("ladder");
    let pool = store.pool();

    let mut read = Vec::new();
    let mut figures = Vec::new();
    let mut improved = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let all = measurements_with(pool, "12345678", ZRM, None)
            .await
            .expect("read");
        read.push(t.elapsed());
        let t = Instant::now();
        let per: Vec<&[loket::record::outcomes::Measurement]> = all
            .chunk_by(|a, b| a.row.participant_id == b.row.participant_id)
            .collect();
        let f = outcomes::group_figures(zrm, &per);
        figures.push(t.elapsed());
        improved = f.domains.iter().map(|(_, d)| d.improved).sum::<usize>();
        assert_eq!(per.len(), n);
    }
    summary(
        &format!("read every ZRM measurement ({} rows)", n * 5),
        read,
    );
    summary("figures per domain for the whole group", figures);
    println!("   (improvements counted over all domains: {improved})");

    let mut one = Vec::new();
    for i in (0..n).step_by((n / runs.max(1)).max(1)).take(runs) {
        let t = Instant::now();
        let ms = measurements_of(pool, "12345678", &ids[i])
            .await
            .expect("one");
        one.push(t.elapsed());
        assert_eq!(ms.len(), 10);
    }
    summary("one participant's measurements (participant page)", one);

    let ladders = measurements_with(pool, "12345678", LADDER, None)
        .await
        .expect("ladder");
    let t = Instant::now();
    let mut held = 0;
    for ms in ladders.chunk_by(|a, b| a.row.participant_id == b.row.participant_id) {
        let s = outcomes::series(ms, LADDER_DOMAIN);
        if outcomes::held(ladder, &s, 5, 3).is_some() {
            held += 1;
        }
    }
    println!(
        "rung 5 held 3 months, evaluated for {n} participants: {:.2} ms ({held} reached)",
        t.elapsed().as_secs_f64() * 1000.0
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (n, runs) = if bench {
        (
            env_usize("LOKET_OUTCOME_PARTICIPANTS", 2000),
            env_usize("LOKET_OUTCOME_RUNS", 5),
        )
    } else {
        (40, 1)
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for backend in backend::backends(&rt) {
        let dir = tempfile::tempdir().expect("tempdir");
        rt.block_on(async {
            let store = Store::open(backend.url.as_deref(), dir.path())
                .await
                .expect("store");
            measure(backend.name, &store, n, runs).await;
        });
        backend.clean_up(&rt);
    }
}
