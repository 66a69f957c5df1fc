//! Pull, ingest, confirm and push back over VECOZO's VSP-Koppeling: how many
//! messages a second one provider's loket gets through when the exchange
//! holds a backlog (issue 16: at least 500 a second, so that loket is never
//! the slow part; the exchange itself is far slower).
//!
//! Per backend (SQLite always; PostgreSQL when `LOKET_BENCH_DATABASE_URL` or
//! `LOKET_TEST_DATABASE_URL` is set, on a fresh database dropped afterwards):
//!
//! 1. The strict VSP counterpart of the tests (`tests/common/vsp`: loopback,
//!    mutual TLS with a test CA, every request checked against the published
//!    OpenAPI descriptions) holds N distinct valid WMO301 allocations
//!    (`LOKET_VSP_N`, default 10,000) from municipality 0200 for provider
//!    73730112: the WMO301 fixtures with fresh BerichtIdentificaties, BSNs
//!    and ToewijzingNummers, each with its own traceerId.
//! 2. loket's pull loop (batches of 250) and outbox worker start, as
//!    `loket serve` runs them: every 301 is downloaded, checked, taken in,
//!    confirmed, and its 302 pushed back answering its traceerId.
//! 3. The clock runs from the start of the loops until all N are confirmed
//!    and all N retours accepted (repeats of a lost answer not counted). The
//!    counterpart's tally is sampled every 2 ms; the moments the confirmed
//!    and the pushed counts cross each multiple of 250 give the time per
//!    batch, of which p50, p99 and the slowest are reported.
//! 4. Then correctness: every traceerId confirmed once, every 301 answered
//!    by exactly one accepted 302 (with `alsAntwoordOp` its traceerId), N
//!    participants, nothing left in the queue or in the outbox.
//!
//! The status loop runs too, with an hour between rounds: following the
//! statuses is its own loop, off the pull and push path, and each of its
//! requests makes the counterpart scan every message it holds, which would
//! measure the counterpart. The counterpart shares the machine's cores with
//! loket and checks every request against the schemas, so the figure is a
//! floor for loket.
//!
//! `cargo bench --bench vsp`. Without `--bench` it is a smoke test of 500
//! messages. `RUST_LOG=loket=info` shows each pull round.

#[path = "support/backend.rs"]
mod backend;
#[path = "support/messages.rs"]
#[allow(dead_code)] // verdict is for the benches that post over HTTP
mod messages;
#[path = "../common/vsp/mod.rs"]
#[allow(dead_code, unused_imports)] // the faults and statuses are for the tests
mod vsp;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use backend::{Backend, backends};
use messages::{Bsns, render, templates};
use sqlx::Row;
use uuid::Uuid;
use vsp::{TestPki, Vsp, VspOptions};

const AGB: &str = "73730112";
const GEMEENTE: &str = "0200";
/// What VECOZO gives per list, and what loket asks for.
const BATCH: usize = 250;
/// Longest a run may take before it counts as stuck.
const PATIENCE: Duration = Duration::from_secs(900);

fn main() -> ExitCode {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let n = std::env::var("LOKET_VSP_N")
        .ok()
        .map(|v| v.trim().parse().expect("LOKET_VSP_N: a number"))
        .unwrap_or(if bench_mode { 10_000 } else { 500 });
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut code = ExitCode::SUCCESS;
    for b in &backends(&rt) {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Err(e) = rt.block_on(run(b, dir.path(), n)) {
            println!("{}: FAILED: {e:#}", b.name);
            code = ExitCode::FAILURE;
        }
        b.clean_up(&rt);
    }
    code
}

/// When the count crossed 250, 500, ... (from the start).
#[derive(Default)]
struct Crossings(Vec<Duration>);

impl Crossings {
    fn update(&mut self, count: usize, at: Duration) {
        while (self.0.len() + 1) * BATCH <= count {
            self.0.push(at);
        }
    }

    /// The time each batch took: from the previous crossing (or the start).
    fn batches(&self) -> Vec<Duration> {
        let mut prev = Duration::ZERO;
        self.0
            .iter()
            .map(|&t| {
                let d = t - prev;
                prev = t;
                d
            })
            .collect()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn summary(what: &str, c: &Crossings) -> String {
    let mut b = c.batches();
    if b.is_empty() {
        return format!("{what}: no full batch");
    }
    b.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{what}: all after {:.2} s; per batch of {BATCH}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        c.0.last().copied().unwrap_or_default().as_secs_f64(),
        ms(percentile(&b, 50.0)),
        ms(percentile(&b, 99.0)),
        ms(*b.last().expect("a batch")),
    )
}

async fn run(b: &Backend, dir: &Path, n: usize) -> anyhow::Result<()> {
    let pki = TestPki::new();
    let vsp = Vsp::start(&pki, VspOptions::default()).await;
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs)?;
    let files = pki
        .client(AGB, &format!("Organisatie {AGB}"))
        .write_pem(&certs);
    let config = loket::config::Config {
        data_dir: dir.to_path_buf(),
        database_url: b.url.clone(),
        mappings_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"),
        outbox: loket::outbox::Settings {
            poll_ms: 50,
            ..loket::outbox::Settings::default()
        },
        vsp: vec![loket::transport::vsp::VspConfig {
            tenant: AGB.into(),
            environment: vsp.base(),
            certificate: Some(files.chain),
            key: Some(files.key),
            pkcs12: None,
            password_env: None,
            ca: vec![pki.write_ca(&certs)],
            // A full list is followed by the next at once; the interval only
            // counts once the queue is empty.
            poll_interval_secs: 1,
            max_backoff_secs: 2,
            batch: BATCH as u32,
            status_interval_secs: 3600,
            timeout_secs: 30,
            pull: true,
        }],
        ..loket::config::Config::default()
    };
    let state = config.state().await?;
    state.store().add_tenant(AGB).await?;

    // The backlog at the exchange.
    let wmo: Vec<_> = templates()
        .into_iter()
        .filter(|t| t.name.starts_with("WMO301_") && t.receiver == AGB)
        .collect();
    ensure!(!wmo.is_empty(), "no WMO301 fixture for {AGB}");
    let mut bsns = Bsns { prefix: 10_000_000 };
    let mut traceers = HashSet::with_capacity(n);
    let mut bytes = 0usize;
    for i in 0..n {
        let body = render(&wmo[i % wmo.len()], i, &bsns.next().expect("bsn"));
        bytes += body.len();
        let traceer = Uuid::new_v4();
        vsp.enqueue(
            AGB,
            ("Gemeente", GEMEENTE),
            vsp::berichtstroom("WMO", "WMO301", 3, 2, "Toewijzing"),
            &body,
            Uuid::new_v4(),
            traceer,
            None,
        );
        traceers.insert(traceer);
    }
    println!(
        "{}: {n} WMO301 at the exchange ({:.0} bytes on average)",
        b.name,
        bytes as f64 / n as f64
    );

    // The clock starts with the loops.
    let t0 = Instant::now();
    let worker = state
        .outbox
        .start(state.ingest.clone(), state.metrics.clone())?;
    let loops = loket::transport::vsp::service::start(
        &state.outbox.vsp,
        &state.ingest,
        &state.outbox,
        &state.metrics,
    );
    let (mut confirmed, mut pushed) = (Crossings::default(), Crossings::default());
    let mut last;
    let done = loop {
        let at = t0.elapsed();
        last = vsp.tally(AGB);
        confirmed.update(last.0, at);
        pushed.update(last.1, at);
        if last.0 >= n && last.1 >= n {
            break Some(at);
        }
        if at > PATIENCE {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    loops.stop().await;
    worker.stop().await;
    let Some(wall) = done else {
        bail!(
            "stuck after {} s: {} confirmed, {} retours pushed of {n}",
            PATIENCE.as_secs(),
            last.0,
            last.1
        );
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{}: {n} pulled, taken in, confirmed and answered in {:.2} s: {:.0} messages/s (load average {})",
        b.name,
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("{}: {}", b.name, summary("confirmed", &confirmed));
    println!("{}: {}", b.name, summary("retours pushed", &pushed));

    check(&vsp, &state, &traceers, last.2).await
}

/// Everything confirmed once, answered once, and in the record.
async fn check(
    vsp: &Vsp,
    state: &loket::server::AppState,
    traceers: &HashSet<Uuid>,
    repeats: usize,
) -> anyhow::Result<()> {
    let n = traceers.len();
    let mut confirmations: HashMap<Uuid, usize> = HashMap::new();
    for (caller, t) in vsp.confirmed() {
        ensure!(caller == AGB, "confirmed by {caller}");
        *confirmations.entry(t).or_default() += 1;
    }
    ensure!(
        confirmations.len() == n && confirmations.keys().all(|t| traceers.contains(t)),
        "{} distinct confirmations for {n} messages",
        confirmations.len()
    );
    ensure!(
        confirmations.values().all(|&c| c == 1),
        "a message confirmed twice"
    );
    let mut answered: HashMap<String, usize> = HashMap::new();
    let mut own = HashSet::new();
    for p in vsp.pushed().iter().filter(|p| !p.repeat) {
        ensure!(p.caller == AGB, "pushed by {}", p.caller);
        let refs = &p.metadata["referentiegegevens"];
        ensure!(
            p.metadata["routeringgegevens"]["berichtstroom"]["berichtsubtype"] == "WMO302",
            "pushed something else than a 302"
        );
        ensure!(
            own.insert(p.traceer_id().to_string()),
            "traceerId pushed twice"
        );
        let answers = refs["alsAntwoordOp"]
            .as_str()
            .context("a retour without alsAntwoordOp")?;
        *answered.entry(answers.to_string()).or_default() += 1;
    }
    ensure!(
        answered.len() == n
            && traceers
                .iter()
                .all(|t| answered.get(&t.to_string()) == Some(&1)),
        "{} messages answered, {} retours, for {n}",
        answered.len(),
        answered.values().sum::<usize>()
    );
    ensure!(vsp.queue_len(AGB) == 0, "messages left at the exchange");
    let pool = state.store().pool();
    let count = |sql: &'static str| async move {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(AGB)
            .fetch_one(pool)
            .await
            .and_then(|r| r.try_get::<i64, _>(0))
    };
    let participants = count("SELECT COUNT(*) FROM participants WHERE tenant_id = $1").await?;
    let open =
        count("SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND state <> 'sent'").await?;
    ensure!(
        participants == n as i64,
        "{participants} participants for {n} allocations"
    );
    ensure!(open == 0, "{open} outbox items not sent");
    ensure!(
        vsp.violations().is_empty(),
        "the counterpart broke the spec"
    );
    println!(
        "checked: {n} confirmed once each, {n} retours pushed once each ({repeats} repeats), {participants} participants"
    );
    Ok(())
}
