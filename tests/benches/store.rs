//! What a stored message costs, and whether a resend stays as cheap as the
//! table grows.
//!
//! Per backend (SQLite always; PostgreSQL when `LOKET_BENCH_DATABASE_URL` or
//! `LOKET_TEST_DATABASE_URL` is set, on a fresh database dropped afterwards):
//!
//! 1. **Storage**: loket's real server, in-process on loopback, receives N
//!    distinct valid WMO301 and JW301 messages (`LOKET_STORE_N`, default
//!    2,000); the database's growth divided by N is the cost of one received
//!    message with its retourbericht, record changes and indexes. On SQLite
//!    that is the file after a WAL checkpoint, on PostgreSQL
//!    `pg_database_size`; the `messages` table (with its indexes and, on
//!    PostgreSQL, its TOAST) is reported on its own.
//! 2. **Resend**: the `messages` table is grown to each size of
//!    `LOKET_RESEND_SIZES` (default 10,000 and 1,000,000 rows) by copying the
//!    stored messages and their retours under new identifications (as
//!    statements inside the database: posting a million messages would
//!    measure the ingest, not the lookup), `ANALYZE`d, and then 1,000 of the
//!    real messages are posted again, one at a time: each must be answered as
//!    a resend (TR056) with the stored retour. Their latency at each size
//!    shows whether the lookup is constant-time.
//!
//! `cargo bench --bench store`. Without `--bench` it runs a small smoke test
//! (100 messages, sizes 1,000 and 5,000).

#[path = "support/backend.rs"]
mod backend;
#[path = "support/messages.rs"]
#[allow(dead_code)] // the fixtures' names are for http_load's report
mod messages;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use backend::{Backend, backends};
use messages::{Bsns, render, templates, verdict};
use sqlx::{AnyPool, Row};

/// Rows copied per statement while growing the table.
const COPY_CHUNK: i64 = 50_000;

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {v:?}"))
    })
}

fn main() -> ExitCode {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let n = env_usize("LOKET_STORE_N").unwrap_or(if bench_mode { 2_000 } else { 100 });
    let sizes: Vec<usize> = match std::env::var("LOKET_RESEND_SIZES") {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().expect("LOKET_RESEND_SIZES: numbers"))
            .collect(),
        Err(_) if bench_mode => vec![10_000, 1_000_000],
        Err(_) => vec![1_000, 5_000],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backends = backends(&rt);
    let mut code = ExitCode::SUCCESS;
    for b in &backends {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Err(e) = rt.block_on(run(b, dir.path(), n, &sizes)) {
            println!("{}: FAILED: {e:#}", b.name);
            code = ExitCode::FAILURE;
        }
        b.clean_up(&rt);
    }
    code
}

async fn run(b: &Backend, dir: &Path, n: usize, sizes: &[usize]) -> anyhow::Result<()> {
    let config = loket::config::Config {
        data_dir: dir.to_path_buf(),
        database_url: b.url.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    };
    let state = config.state().await?;
    let templates = templates();
    let mut receivers: Vec<String> = templates.iter().map(|t| t.receiver.clone()).collect();
    receivers.sort();
    receivers.dedup();
    let mut tokens = Vec::new();
    for r in &receivers {
        tokens.push(state.store().add_tenant(r).await?);
    }
    let pool = sqlx_pool(b, dir).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = loket::server::router(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://{addr}/messages");

    // 1. Storage.
    let before = size(b, &pool, dir).await?;
    let mut bsns = Bsns { prefix: 10_000_000 };
    let mut sent: Vec<(usize, Bytes)> = Vec::with_capacity(n);
    let mut body_bytes = 0usize;
    for i in 0..n {
        let t = &templates[i % templates.len()];
        let bsn = bsns.next().expect("bsn");
        let body = render(t, i, &bsn);
        body_bytes += body.len();
        let tenant = receivers
            .iter()
            .position(|r| *r == t.receiver)
            .expect("receiver");
        post(&client, &url, &tokens[tenant], body.clone(), false).await?;
        sent.push((tenant, body));
    }
    let after = size(b, &pool, dir).await?;
    let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages")
        .fetch_one(&pool)
        .await?
        .try_get("n")?;
    println!(
        "{}: {n} messages received ({:.0} bytes on average), {rows} rows in messages (with the retours)",
        b.name,
        body_bytes as f64 / n as f64
    );
    println!(
        "{}: per received message: database {:.0} bytes, messages table {:.0} bytes",
        b.name,
        (after.database - before.database) as f64 / n as f64,
        (after.messages - before.messages) as f64 / n as f64
    );

    // 2. Resend latency as the table grows.
    println!(
        "{:<11} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "backend", "messages", "resends", "p50 ms", "p90 ms", "p99 ms"
    );
    let mut batch = 0;
    for &target in sizes {
        grow(&pool, target as i64, &mut batch).await?;
        let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages")
            .fetch_one(&pool)
            .await?
            .try_get("n")?;
        let resends = 1_000.min(sent.len() * 10);
        let mut lat = Vec::with_capacity(resends);
        for k in 0..resends {
            let (tenant, body) = &sent[(k * 7919) % sent.len()];
            let t0 = Instant::now();
            post(&client, &url, &tokens[*tenant], body.clone(), true).await?;
            lat.push(t0.elapsed());
        }
        lat.sort();
        let pct = |p: f64| {
            let i = ((p / 100.0) * lat.len() as f64).ceil() as usize;
            lat[i.clamp(1, lat.len()) - 1].as_secs_f64() * 1000.0
        };
        println!(
            "{:<11} {:>10} {:>8} {:>8.2} {:>8.2} {:>8.2}",
            b.name,
            stored,
            resends,
            pct(50.0),
            pct(90.0),
            pct(99.0)
        );
    }
    Ok(())
}

/// A second pool on the same database, for measuring and growing it.
async fn sqlx_pool(b: &Backend, dir: &Path) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let url = match &b.url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", dir.join("loket.db").display()),
    };
    Ok(sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?)
}

struct Size {
    database: i64,
    messages: i64,
}

async fn size(b: &Backend, pool: &AnyPool, dir: &Path) -> anyhow::Result<Size> {
    if b.url.is_some() {
        let row = sqlx::query(
            "SELECT pg_database_size(current_database()) AS d, pg_total_relation_size('messages') AS m",
        )
        .fetch_one(pool)
        .await?;
        return Ok(Size {
            database: row.try_get("d")?,
            messages: row.try_get("m")?,
        });
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await?;
    let database = std::fs::metadata(dir.join("loket.db"))?.len() as i64;
    // dbstat (compiled into the bundled SQLite) gives the pages of the table
    // and of every index on it.
    let messages: i64 = sqlx::query(
        "SELECT COALESCE(SUM(pgsize), 0) AS m FROM dbstat WHERE name = 'messages' \
         OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages')",
    )
    .fetch_one(pool)
    .await?
    .try_get("m")?;
    Ok(Size { database, messages })
}

/// Copies the stored messages under new ids and identifications until the
/// table holds `target` rows; a retour's copy answers its heenbericht's copy.
async fn grow(pool: &AnyPool, target: i64, batch: &mut i64) -> anyhow::Result<()> {
    let columns: Vec<String> = {
        let row = sqlx::query("SELECT * FROM messages LIMIT 1")
            .fetch_one(pool)
            .await?;
        row.columns()
            .iter()
            .map(|c| sqlx::Column::name(c).to_string())
            .collect()
    };
    let base: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE id NOT LIKE '%~%'")
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    loop {
        let now: i64 = sqlx::query("SELECT COUNT(*) AS n FROM messages")
            .fetch_one(pool)
            .await?
            .try_get("n")?;
        if now >= target {
            break;
        }
        let reps = ((target - now).min(COPY_CHUNK) + base - 1) / base;
        *batch += 1;
        let suffix = format!("'~{batch}~' || CAST(k.i AS TEXT)");
        let select: Vec<String> = columns
            .iter()
            .map(|c| match c.as_str() {
                "id" => format!("m.id || {suffix}"),
                "identificatie" => format!("m.identificatie || {suffix}"),
                "answer_of" => format!("m.answer_of || {suffix}"),
                other => format!("m.{other}"),
            })
            .collect();
        let sql = format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {reps}) \
             INSERT INTO messages ({}) SELECT {} FROM messages m CROSS JOIN k WHERE m.id NOT LIKE '%~%'",
            columns.join(", "),
            select.join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Bytes,
    resend: bool,
) -> anyhow::Result<()> {
    let res = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/xml")
        .timeout(Duration::from_secs(60))
        .body(body)
        .send()
        .await?;
    let status = res.status();
    let (loket, duplicate) = verdict(&res);
    let text = res.bytes().await?;
    let expected = if resend { "true" } else { "false" };
    if status != reqwest::StatusCode::OK
        || loket != "accepted"
        || duplicate != expected
        || (resend && text.is_empty())
    {
        anyhow::bail!(
            "{status} status={loket:?} duplicate={duplicate:?}: {}",
            String::from_utf8_lossy(&text[..text.len().min(300)])
        );
    }
    Ok(())
}
