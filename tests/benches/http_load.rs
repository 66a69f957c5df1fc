//! HTTP load: loket's real server, in-process on loopback, with durable SQLite
//! storage (WAL, synchronous=FULL) in a fresh temp directory, fed N distinct
//! valid WMO301 and JW301 messages by a bounded number of concurrent client
//! tasks over reused keep-alive connections. The same client and concurrency
//! then post the same bodies to a trivial axum endpoint (a handler that takes
//! the body and returns "ok") served the same way: the ceiling for HTTP alone
//! on this machine.
//!
//! `cargo bench --bench http_load`; LOKET_LOAD_N (default 20000) and
//! LOKET_LOAD_CONCURRENCY (default 64) change the load. Without `--bench`
//! (`cargo test --all-targets`) it runs a 300-message smoke test. The timed
//! part stops after N requests per endpoint or 120 s in all; exits non-zero if
//! any request failed.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use axum::serve::ListenerExt;
use tokio::runtime::Runtime;

const TIME_LIMIT: Duration = Duration::from_secs(120);
/// Messages posted (and checked) before timing: two per fixture.
const SAMPLE_PER_TEMPLATE: usize = 2;
/// Untimed requests to the trivial endpoint before timing it.
const TRIVIAL_WARMUP: usize = 500;

#[path = "support/messages.rs"]
mod messages;

use messages::{Bsns, render, templates};

struct Request {
    tenant: usize,
    body: Bytes,
}

// ---------------------------------------------------------------------------
// Servers.

/// Serves `router` on 127.0.0.1:0 on the server runtime; counts the TCP
/// connections accepted (so reuse is visible).
fn serve(rt: &Runtime, router: axum::Router) -> (SocketAddr, Arc<AtomicUsize>) {
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let listener = listener.tap_io(move |tcp| {
        counter.fetch_add(1, Ordering::Relaxed);
        let _ = tcp.set_nodelay(true);
    });
    rt.spawn(async move {
        axum::serve(listener, router).await.expect("server");
    });
    (addr, conns)
}

// ---------------------------------------------------------------------------
// Load.

#[derive(Clone, Copy)]
enum Expect {
    /// 200, `x-loket-status: accepted`, not a duplicate.
    Accepted,
    /// 200 with body "ok".
    Ok,
}

struct Outcome {
    done: usize,
    failed: usize,
    examples: Vec<String>,
    elapsed: Duration,
    /// Sorted latencies in microseconds.
    latencies: Vec<u64>,
    timed_out: bool,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }

    fn pct_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let idx = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[idx.clamp(1, self.latencies.len()) - 1] as f64 / 1000.0
    }
}

async fn one(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Bytes,
    expect: Expect,
) -> Result<(), String> {
    let res = client
        .post(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = res.status();
    let (loket_status, duplicate) = messages::verdict(&res);
    // Reading the whole body returns the connection to the pool.
    let text = res.bytes().await.map_err(|e| format!("body: {e}"))?;
    let ok = status == reqwest::StatusCode::OK
        && match expect {
            Expect::Accepted => loket_status == "accepted" && duplicate == "false",
            Expect::Ok => &text[..] == b"ok",
        };
    if ok {
        Ok(())
    } else {
        let snippet: String = String::from_utf8_lossy(&text).chars().take(300).collect();
        Err(format!(
            "{status} status={loket_status:?} duplicate={duplicate:?}: {snippet}"
        ))
    }
}

/// Posts every request once with `concurrency` tasks; stops early at
/// `deadline`.
async fn load(
    client: reqwest::Client,
    url: String,
    tokens: Arc<Vec<String>>,
    reqs: Arc<Vec<Request>>,
    concurrency: usize,
    expect: Expect,
    deadline: Instant,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, tokens, reqs, next) = (
            client.clone(),
            url.clone(),
            tokens.clone(),
            reqs.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut failed, mut examples, mut timed_out) =
                (Vec::new(), 0usize, Vec::new(), false);
            loop {
                if Instant::now() >= deadline {
                    timed_out = true;
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = reqs.get(i) else { break };
                let t0 = Instant::now();
                let res = one(&client, &url, &tokens[r.tenant], r.body.clone(), expect).await;
                lat.push(t0.elapsed().as_micros() as u64);
                if let Err(e) = res {
                    failed += 1;
                    if examples.len() < 3 {
                        examples.push(format!("#{i}: {e}"));
                    }
                }
            }
            (lat, failed, examples, timed_out)
        }));
    }
    let mut out = Outcome {
        done: 0,
        failed: 0,
        examples: Vec::new(),
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        timed_out: false,
    };
    for t in tasks {
        let (lat, failed, examples, timed_out) = t.await.expect("client task");
        out.latencies.extend(lat);
        out.failed += failed;
        out.examples.extend(examples);
        out.timed_out |= timed_out;
    }
    out.elapsed = started.elapsed();
    out.done = out.latencies.len();
    out.latencies.sort_unstable();
    out.examples.truncate(5);
    out
}

/// Other work on the machine skews every figure; print it alongside.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let v: Vec<&str> = s.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {v:?}"))
    })
}

fn main() -> ExitCode {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    // RUST_LOG=loket=debug shows each ingest batch (size, time per stage)
    // on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let n = env_usize("LOKET_LOAD_N").unwrap_or(if bench_mode { 20_000 } else { 300 });
    let concurrency = env_usize("LOKET_LOAD_CONCURRENCY").unwrap_or(64).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());

    // Server and client get their own runtimes (threads loket-server-* and
    // load-client-*), so a profile separates them; both compete for the same
    // cores, as a co-located client would.
    let server_threads = env_usize("LOKET_SERVER_THREADS").unwrap_or(cores).max(1);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name("loket-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("load-client")
        .enable_all()
        .build()
        .expect("client runtime");

    let data_dir = std::env::temp_dir().join(format!(
        "loket-http-load-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let code = run(&server_rt, &client_rt, &data_dir, n, concurrency, cores);
    drop(client_rt);
    server_rt.shutdown_timeout(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&data_dir);
    code
}

fn run(
    server_rt: &Runtime,
    client_rt: &Runtime,
    data_dir: &Path,
    n: usize,
    concurrency: usize,
    cores: usize,
) -> ExitCode {
    // Messages: a checked sample first, then the N timed ones, all distinct.
    let templates = templates();
    let mut receivers: Vec<String> = templates.iter().map(|t| t.receiver.clone()).collect();
    receivers.sort();
    receivers.dedup();
    let sample_n = SAMPLE_PER_TEMPLATE * templates.len();
    let gen_started = Instant::now();
    let mut bsns = Bsns { prefix: 10_000_000 };
    let mut all: Vec<Request> = (0..sample_n + n)
        .map(|i| {
            let t = &templates[i % templates.len()];
            let bsn = bsns.next().expect("bsn");
            Request {
                tenant: receivers.iter().position(|r| *r == t.receiver).unwrap(),
                body: render(t, i, &bsn),
            }
        })
        .collect();
    let timed: Vec<Request> = all.split_off(sample_n);
    let sample = all;
    let gen_time = gen_started.elapsed();

    // loket, exactly as `loket serve` builds it, on a durable SQLite file.
    let config = loket::config::Config {
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_message_bytes: loket::adapter::istandaard::Limits::default().max_bytes,
        ..Default::default()
    };
    let state = server_rt
        .block_on(config.state())
        .expect("loket state (SQLite in temp dir)");
    let tokens: Vec<String> = receivers
        .iter()
        .map(|r| {
            server_rt
                .block_on(state.store().add_tenant(r))
                .expect("add tenant")
        })
        .collect();
    let tokens = Arc::new(tokens);
    let (loket_addr, loket_conns) = serve(server_rt, loket::server::router(state));
    let trivial = axum::Router::new().route("/ok", post(|_body: Bytes| async { "ok" }));
    let (trivial_addr, trivial_conns) = serve(server_rt, trivial);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .pool_idle_timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let loket_url = format!("http://{loket_addr}/messages");
    let trivial_url = format!("http://{trivial_addr}/ok");

    println!(
        "http_load: {n} messages ({} fixtures: {}), concurrency {concurrency}, {cores} cores, \
         SQLite (WAL, synchronous=FULL) in {}",
        templates.len(),
        templates
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        data_dir.display()
    );
    println!(
        "generated {} distinct messages in {:.0} ms; load average before: {}",
        sample.len() + timed.len(),
        gen_time.as_secs_f64() * 1000.0,
        load_average()
    );

    // The sample: each fixture twice, one at a time, must be accepted.
    let mut sample_failures = Vec::new();
    for (i, r) in sample.iter().enumerate() {
        let t = &templates[i % templates.len()];
        if let Err(e) = client_rt.block_on(one(
            &client,
            &loket_url,
            &tokens[r.tenant],
            r.body.clone(),
            Expect::Accepted,
        )) {
            sample_failures.push(format!("{}: {e}", t.name));
        }
    }
    if !sample_failures.is_empty() {
        println!(
            "sample NOT accepted ({} of {}):",
            sample_failures.len(),
            sample.len()
        );
        for f in &sample_failures {
            println!("  {f}");
        }
        return ExitCode::FAILURE;
    }
    println!(
        "sample: {} messages accepted (status accepted, no duplicate)",
        sample.len()
    );

    // The trivial endpoint: warm up, then the same N bodies.
    let timed = Arc::new(timed);
    let warm: Arc<Vec<Request>> = Arc::new(
        timed
            .iter()
            .take(TRIVIAL_WARMUP)
            .map(|r| Request {
                tenant: r.tenant,
                body: r.body.clone(),
            })
            .collect(),
    );
    let warm_out = client_rt.block_on(load(
        client.clone(),
        trivial_url.clone(),
        tokens.clone(),
        warm,
        concurrency,
        Expect::Ok,
        Instant::now() + TIME_LIMIT,
    ));
    let deadline = Instant::now() + TIME_LIMIT;
    let trivial_out = client_rt.block_on(load(
        client.clone(),
        trivial_url,
        tokens.clone(),
        timed.clone(),
        concurrency,
        Expect::Ok,
        deadline,
    ));
    let loket_out = client_rt.block_on(load(
        client,
        loket_url,
        tokens,
        timed,
        concurrency,
        Expect::Accepted,
        deadline,
    ));

    println!();
    println!(
        "{:<22} {:>8} {:>7} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "endpoint", "requests", "failed", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (name, o, conns) in [
        ("trivial POST /ok", &trivial_out, &trivial_conns),
        ("loket POST /messages", &loket_out, &loket_conns),
    ] {
        println!(
            "{:<22} {:>8} {:>7} {:>6} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}{}",
            name,
            o.done,
            o.failed,
            conns.load(Ordering::Relaxed),
            o.rate(),
            o.pct_ms(50.0),
            o.pct_ms(90.0),
            o.pct_ms(99.0),
            o.pct_ms(100.0),
            if o.timed_out { "  (time limit)" } else { "" }
        );
    }
    println!("load average after: {}", load_average());
    let share = 100.0 * loket_out.rate() / trivial_out.rate();
    println!("loket rate = {share:.1} % of the trivial endpoint");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets: >= 2000 msg/s {}; p99 < 50 ms {}; >= 25 % of trivial {}",
        verdict(loket_out.rate() >= 2000.0),
        verdict(loket_out.pct_ms(99.0) < 50.0),
        verdict(share >= 25.0)
    );
    for (name, o) in [
        ("trivial warm-up", &warm_out),
        ("trivial", &trivial_out),
        ("loket", &loket_out),
    ] {
        for e in &o.examples {
            println!("{name} failure {e}");
        }
    }
    if warm_out.failed + trivial_out.failed + loket_out.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
