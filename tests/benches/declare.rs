//! The engine at scale: N participants, each with two allocations (Wmo 0363
//! dagbesteding and Jeugdwet 0599 groepstraining, from the example mappings)
//! and 22 registered days in the month, on the durable SQLite store in a
//! fresh temp directory. Times one declaration run for the month (read the
//! record, compute, build and check every WMO323/JW323, store the
//! declarations, prestaties and outbox entries in one transaction) and
//! reports the peak memory of the run: the run happens in a fresh process
//! of the same binary, and its VmHWM (peak resident memory) is reported.
//!
//! `cargo bench --bench declare` runs 1,000, 10,000 and 100,000
//! participants; `LOKET_DECLARE_SIZES=1000,10000` picks sizes. Without
//! `--bench` (`cargo test --all-targets`) it runs 200 participants as a
//! smoke test. The allocations are already started, so the run makes
//! declarations only, which is what the target is about; set
//! `LOKET_DECLARE_WITH_STARTS=1` to include the 305 start messages.

use std::process::ExitCode;
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use loket::engine::{self, RunOptions};
use loket::mapping::Mappings;
use loket::store::{Store, Tenant, TenantKind, new_id, now};

const AGB: &str = "73730112";

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The `n`-th valid BSN (elfproef) from 100000000 on: every 8-digit
/// prefix has at most one check digit, and about one in eleven has none.
fn bsns(count: u64) -> Vec<String> {
    let mut out = Vec::with_capacity(count as usize);
    let mut prefix: u64 = 10_000_000;
    while (out.len() as u64) < count {
        let digits: Vec<u64> = prefix
            .to_string()
            .bytes()
            .map(|b| u64::from(b - b'0'))
            .collect();
        let sum: u64 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| (9 - i as u64) * d)
            .sum();
        let check = sum % 11;
        let bsn = format!("{prefix}{check}");
        if check <= 9 && loket::adapter::istandaard::rules::elfproef(&bsn) {
            out.push(bsn);
        }
        prefix += 1;
    }
    out
}

async fn setup(store: &Store, n: u64, month: NaiveDate, started: bool) -> anyhow::Result<()> {
    store.add_tenant(AGB).await?;
    let ts = now();
    let mut w = store.begin_write().await?;
    for (id, kind, code, standard) in [
        ("f-wmo", "wmo", "0363", "iwmo"),
        ("f-jw", "jeugdwet", "0599", "ijw"),
    ] {
        sqlx::query("INSERT INTO financiers (id, tenant_id, kind, code, standard) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(AGB)
            .bind(kind)
            .bind(code)
            .bind(standard)
            .execute(&mut *w.tx)
            .await?;
    }
    let status = if started { "started" } else { "allocated" };
    let days: Vec<NaiveDate> = month
        .iter_days()
        .take_while(|d| d.month() == month.month())
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .take(22)
        .collect();
    let bsn = bsns(n);
    if started {
        // Started means a current start in the record (record::delivery),
        // as a sent 305 leaves it; one message row stands for them.
        sqlx::query(
            "INSERT INTO messages (id, tenant_id, direction, standard, bericht, status, raw, created_at) \
             VALUES ('bench-305', $1, 'out', 'iwmo', 'WMO305', 'sent', $2, $3)",
        )
        .bind(AGB)
        .bind(Vec::<u8>::new())
        .bind(&ts)
        .execute(&mut *w.tx)
        .await?;
    }
    const CHUNK: u64 = 200;
    let mut i = 0;
    while i < n {
        let end = (i + CHUNK).min(n);
        let mut parts = String::new();
        let mut allocs = String::new();
        let mut regs = String::new();
        let mut starts = String::new();
        for k in i..end {
            let pid = format!("p{k}");
            if !parts.is_empty() {
                parts.push(',');
                allocs.push(',');
            }
            parts.push_str(&format!(
                "('{pid}', '{AGB}', '{}', '1990-01-01', '1', '{{}}', '[]', '{ts}', '{ts}')",
                bsn[k as usize]
            ));
            allocs.push_str(&format!(
                "('a{k}w', '{AGB}', '{pid}', 'f-wmo', '{}', '07', '07A11', '2025-01-01', NULL, 60, '16', '4', '{status}', '{ts}'),\
                 ('a{k}j', '{AGB}', '{pid}', 'f-jw', '{}', '45', '45A48', '2025-01-01', NULL, 60, '04', '4', '{status}', '{ts}')",
                100_000 + k,
                500_000 + k
            ));
            if started {
                let key = loket::record::apply::delivery_key(AGB, &bsn[k as usize]);
                for (a, nummer, cat, code) in [
                    ("w", 100_000 + k, "07", "07A11"),
                    ("j", 500_000 + k, "45", "45A48"),
                ] {
                    if !starts.is_empty() {
                        starts.push(',');
                    }
                    starts.push_str(&format!(
                        "('{}', '{AGB}', 'start', '{key}', '{nummer}', '{cat}', '{code}', '2025-01-01', '2025-01-06', \
                         '1', 1, 'bench-305', 'a{k}{a}', '{ts}')",
                        new_id()
                    ));
                }
            }
            for d in &days {
                if !regs.is_empty() {
                    regs.push(',');
                }
                regs.push_str(&format!(
                    "('{}', '{AGB}', '{pid}', '{d}', 1, '09:00', '17:30', 510, 'houtwerkplaats', 'bench', 'api', '{ts}')",
                    new_id()
                ));
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO participants (id, tenant_id, bsn, birth_date, gender, name_json, contact_json, created_at, updated_at) VALUES {parts}"
        )))
        .execute(&mut *w.tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO allocations (id, tenant_id, participant_id, financier_id, toewijzing_nummer, product_categorie, product_code, \
             ingangsdatum, einddatum, volume, eenheid, frequentie, status, updated_at) VALUES {allocs}"
        )))
        .execute(&mut *w.tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO registrations (id, tenant_id, participant_id, day, present, time_from, time_to, minutes, activity, \
             registered_by, source, created_at) VALUES {regs}"
        )))
        .execute(&mut *w.tx)
        .await?;
        if started {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO deliveries (id, tenant_id, kind, bsn_hash, toewijzing_nummer, product_categorie, product_code, \
                 toewijzing_ingangsdatum, begindatum, status_aanlevering, current, message_id, allocation_id, created_at) \
                 VALUES {starts}"
            )))
            .execute(&mut *w.tx)
            .await?;
        }
        i = end;
    }
    w.commit().await?;
    Ok(())
}

/// The timed part, in a process of its own so that its peak memory is the
/// run's and not the setup's: opens the store in `dir`, runs the month, and
/// prints `seconds peak_kib declarations lines`.
fn child(dir: &str, n: u64) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let mappings = Mappings::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"))?;
    rt.block_on(async {
        let store = Store::open(None, std::path::Path::new(dir)).await?;
        let tenant = Tenant {
            id: AGB.into(),
            kind: TenantKind::Aanbieder,
        };
        let opts = RunOptions {
            period: engine::parse_period("2026-03")?,
            today: "2026-04-02".parse()?,
            dry_run: false,
            out_dir: None,
        };
        let t = Instant::now();
        let report = engine::run(&store, &mappings, &tenant, &opts).await?;
        let secs = t.elapsed().as_secs_f64();
        let lines: usize = report
            .declarations
            .iter()
            .map(|d| d.debit_lines + d.credit_lines)
            .sum();
        anyhow::ensure!(
            lines as u64 == 2 * n,
            "expected {} lines, got {lines}; notices: {:?}",
            2 * n,
            report.notices.first()
        );
        println!(
            "{secs} {} {} {lines}",
            peak_rss_kib().unwrap_or(0),
            report.declarations.len()
        );
        Ok(())
    })
}

fn main() -> ExitCode {
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    if let (Ok(dir), Ok(n)) = (
        std::env::var("LOKET_DECLARE_CHILD_DIR"),
        std::env::var("LOKET_DECLARE_CHILD_N"),
    ) {
        return match child(&dir, n.parse().unwrap_or(0)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<u64> = match std::env::var("LOKET_DECLARE_SIZES") {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) if bench => vec![1_000, 10_000, 100_000],
        Err(_) => vec![200],
    };
    let with_starts = std::env::var("LOKET_DECLARE_WITH_STARTS").is_ok_and(|v| v == "1");
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "participants  registrations  setup (s)  run (s)  per participant (µs)  peak RSS of the run's process (MiB)  declarations  lines"
    );
    for n in sizes {
        let result: anyhow::Result<()> = (|| {
            let dir = tempfile::tempdir()?;
            let keep = std::env::var("LOKET_DECLARE_KEEP").ok();
            let dir_path = match &keep {
                // For looking at query plans afterwards.
                Some(k) => {
                    std::fs::create_dir_all(k)?;
                    std::path::PathBuf::from(k)
                }
                None => dir.path().to_path_buf(),
            };
            let t = Instant::now();
            rt.block_on(async {
                let store = Store::open(None, &dir_path).await?;
                setup(&store, n, "2026-03-01".parse()?, !with_starts).await?;
                store.pool().close().await;
                anyhow::Ok(())
            })?;
            let setup_secs = t.elapsed().as_secs_f64();
            let out = std::process::Command::new(std::env::current_exe()?)
                .env("LOKET_DECLARE_CHILD_DIR", &dir_path)
                .env("LOKET_DECLARE_CHILD_N", n.to_string())
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<&str> = text.split_whitespace().collect();
            anyhow::ensure!(f.len() == 4, "unexpected child output {text:?}");
            let secs: f64 = f[0].parse()?;
            let peak: f64 = f[1].parse::<f64>()? / 1024.0;
            println!(
                "{n:>12}  {:>13}  {setup_secs:>9.1}  {secs:>7.2}  {:>20.1}  {peak:>35.1}  {:>12}  {:>5}",
                n * 22,
                secs * 1e6 / n as f64,
                f[2],
                f[3],
            );
            if let Some(k) = keep {
                println!("database kept in {k}");
            }
            Ok(())
        })();
        if let Err(e) = result {
            eprintln!("{n} participants: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
