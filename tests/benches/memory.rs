//! Peak memory under parallel large bodies (issue 15, item 1): a real
//! `loket serve` process (release build, SQLite in a temp directory) is sent
//! 16 WMO323 declarations at once, of about 9 MB, then one of about 25 MB
//! alone and 16 of them at once (`max_message_bytes` set a tenth above the
//! body), and its peak resident set
//! (VmHWM in /proc/<pid>/status) is compared with the bytes of message
//! bodies it held at once: at most the body budget (`[limits]
//! body_budget_bytes`, default 256 MiB), so requests beyond it wait or are
//! answered 503 with Retry-After, which this client honours before
//! sending again.
//!
//! `cargo bench --bench memory`; prints one line per run and exits non-zero
//! when a request failed or, for parallel bodies, the peak is 4x the bytes
//! in flight or more.
//! Without `--bench` (`cargo test --all-targets`) it runs 4 bodies of 1 MB.

use std::io::Write;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

#[path = "support/declaration.rs"]
mod declaration;
use declaration::declaration;

const PARALLEL: usize = 16;
const MIB: usize = 1024 * 1024;

/// A `/proc/<pid>/status` field in bytes.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

struct Daemon {
    child: Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `loket serve` with `max_message_bytes` and the default limits.
fn start(max_message_bytes: usize) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = env!("CARGO_BIN_EXE_loket");
    let port = free_port();
    let config = dir.path().join("loket.toml");
    let mut f = std::fs::File::create(&config).expect("config");
    writeln!(
        f,
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nmappings_dir = \"{}\"\nmax_message_bytes = {max_message_bytes}",
        dir.path().join("data").display(),
        dir.path().join("mappings").display(),
    )
    .expect("write config");
    std::fs::create_dir_all(dir.path().join("mappings")).expect("mappings dir");
    let out = Command::new(exe)
        .args(["tenant", "add", "0200", "--config"])
        .arg(&config)
        .output()
        .expect("loket tenant add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_string();
    let child = Command::new(exe)
        .args(["serve", "--config"])
        .arg(&config)
        .env("LOKET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("loket serve");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "loket did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon {
        child,
        base,
        token,
        _dir: dir,
    }
}

/// Outcome of one run.
struct Run {
    body_bytes: usize,
    baseline: u64,
    peak: u64,
    in_flight: u64,
    busy: usize,
    failed: usize,
    /// Answered messages by `x-loket-status` (accepted, rejected).
    outcomes: std::collections::BTreeMap<String, usize>,
    seconds: f64,
}

fn run(rt: &Runtime, body_bytes: usize, parallel: usize) -> Run {
    let limit = body_bytes + body_bytes / 10;
    let daemon = start(limit);
    let pid = daemon.child.id();
    let budget = loket::server::limits::Settings::default().body_budget_bytes;
    let bodies: Vec<String> = (0..parallel)
        .map(|i| declaration(&format!("MEM{i:04}"), body_bytes))
        .collect();
    let actual = bodies[0].len();
    let baseline = status_kib(pid, "VmHWM:");
    let started = Instant::now();
    let (busy, failed, outcomes) = rt.block_on(async {
        let http = reqwest::Client::new();
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let http = http.clone();
                let url = format!("{}/messages", daemon.base);
                let token = daemon.token.clone();
                tokio::spawn(async move {
                    let mut busy = 0;
                    loop {
                        let res = http
                            .post(&url)
                            .bearer_auth(&token)
                            .body(body.clone())
                            .send()
                            .await;
                        match res {
                            Ok(r) if r.status().as_u16() == 503 => {
                                busy += 1;
                                let wait = r
                                    .headers()
                                    .get("retry-after")
                                    .and_then(|v| v.to_str().ok())
                                    .and_then(|v| v.parse::<u64>().ok())
                                    .unwrap_or(1);
                                tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
                            }
                            Ok(r) if r.status().is_success() => {
                                let status = r
                                    .headers()
                                    .get("x-loket-status")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("?")
                                    .to_string();
                                return (busy, false, status);
                            }
                            Ok(r) => {
                                let status = r.status();
                                let text = r.text().await.unwrap_or_default();
                                eprintln!("{status}: {}", &text[..text.len().min(300)]);
                                return (busy, true, String::new());
                            }
                            Err(e) => {
                                eprintln!("request failed: {e}");
                                return (busy, true, String::new());
                            }
                        }
                    }
                })
            })
            .collect();
        let (mut busy, mut failed) = (0, 0);
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        for t in tasks {
            let (b, f, status) = t.await.expect("client task");
            busy += b;
            failed += usize::from(f);
            if !f {
                *outcomes.entry(status).or_default() += 1;
            }
        }
        (busy, failed, outcomes)
    });
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib(pid, "VmHWM:");
    let in_flight = (actual as u64 * parallel as u64).min(budget.max(actual as u64));
    Run {
        body_bytes: actual,
        baseline,
        peak,
        in_flight,
        busy,
        failed,
        outcomes,
        seconds,
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // One 25 MB message alone shows what checking a single maximal message
    // costs; sixteen at once show that the body budget bounds the rest.
    let runs: &[(usize, usize)] = if bench {
        &[
            (9 * 1_000_000, PARALLEL),
            (25 * 1_000_000, 1),
            (25 * 1_000_000, PARALLEL),
        ]
    } else {
        &[(MIB, 4)]
    };
    let mut ok = true;
    for &(size, parallel) in runs {
        let r = run(&rt, size, parallel);
        let ratio = r.peak as f64 / r.in_flight as f64;
        println!(
            "memory: {parallel} x {:.1} MB: peak RSS {:.0} MiB (at start {:.0} MiB), \
             at most {:.0} MiB of bodies in flight (budget {} MiB): {ratio:.2}x; \
             {} answers 503 (retried), {} failed, answered {:?}, {:.1} s",
            r.body_bytes as f64 / 1e6,
            r.peak as f64 / MIB as f64,
            r.baseline as f64 / MIB as f64,
            r.in_flight as f64 / MIB as f64,
            loket::server::limits::Settings::default().body_budget_bytes / MIB as u64,
            r.busy,
            r.failed,
            r.outcomes,
            r.seconds,
        );
        // The 4x bound is the budget's promise, for parallel bodies; one
        // message alone costs more than that over its size (its tree,
        // findings and retour; see the README), which the budget covers.
        if r.failed > 0 || (bench && parallel > 1 && ratio >= 4.0) {
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
