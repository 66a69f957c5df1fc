//! Peak memory under parallel large bodies (issue 15, item 1): a real
//! `loket serve` process (release build, SQLite in a temp directory) is sent
//! 16 WMO323 declarations at once, of about 9 MB and then about 25 MB each
//! (`max_message_bytes` raised for that run), and its peak resident set
//! (VmHWM in /proc/<pid>/status) is compared with the bytes of message
//! bodies it held at once: at most the body budget (`[limits]
//! body_budget_bytes`, default 256 MiB), so requests beyond it wait or are
//! answered 503 with Retry-After, which this client honours before
//! sending again.
//!
//! `cargo bench --bench memory`; prints one line per run and exits non-zero
//! when a request failed or the peak is 4x the bytes in flight or more.
//! Without `--bench` (`cargo test --all-targets`) it runs 4 bodies of 1 MB.

use std::io::Write;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

const PARALLEL: usize = 16;
const MIB: usize = 1024 * 1024;

/// A valid BSN (elfproef) for every `n`, skipping the bases without one.
fn bsn(n: usize) -> String {
    // Sixteen bases per n: a base fails one time in eleven, so the search
    // never reaches the next n's.
    let mut base = 10_000_000 + n * 16;
    loop {
        let digits: Vec<u32> = format!("{base:08}")
            .bytes()
            .map(|b| u32::from(b - b'0'))
            .collect();
        let sum: u32 = digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
        let check = sum % 11;
        // The weighted sum minus the check digit must be a non-zero
        // multiple of 11.
        if check < 10 && sum != check {
            return format!("{base:08}{check}");
        }
        base += 1;
    }
}

/// A WMO323 from provider 73730112 to municipality 0200 of about `bytes`,
/// one client and prestatie after another.
fn declaration(ident: &str, bytes: usize) -> String {
    const CLIENT: usize = 1_050;
    let n = (bytes / CLIENT).max(1);
    let mut xml = String::with_capacity(bytes + 4096);
    xml.push_str(&format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wmo323:Bericht xmlns:wmo323="http://www.istandaarden.nl/iwmo/3_2/wmo323/schema" xmlns:iwmo="http://www.istandaarden.nl/iwmo/3_2/basisschema/schema">
  <wmo323:Header>
    <wmo323:BerichtCode>484</wmo323:BerichtCode>
    <wmo323:BerichtVersie>3</wmo323:BerichtVersie>
    <wmo323:BerichtSubversie>2</wmo323:BerichtSubversie>
    <wmo323:Afzender>73730112</wmo323:Afzender>
    <wmo323:Ontvanger>0200</wmo323:Ontvanger>
    <wmo323:BerichtIdentificatie>
      <iwmo:Identificatie>{ident}</iwmo:Identificatie>
      <iwmo:Dagtekening>2026-05-06</iwmo:Dagtekening>
    </wmo323:BerichtIdentificatie>
    <wmo323:XsdVersie>
      <iwmo:BasisschemaXsdVersie>1.0.0</iwmo:BasisschemaXsdVersie>
      <iwmo:BerichtXsdVersie>1.0.0</iwmo:BerichtXsdVersie>
    </wmo323:XsdVersie>
  </wmo323:Header>
  <wmo323:Declaratie>
    <wmo323:DeclaratieNummer>{ident}</wmo323:DeclaratieNummer>
    <wmo323:DeclaratiePeriode>
      <iwmo:Begindatum>2026-04-01</iwmo:Begindatum>
      <iwmo:Einddatum>2026-04-30</iwmo:Einddatum>
    </wmo323:DeclaratiePeriode>
    <wmo323:DeclaratieDagtekening>2026-05-06</wmo323:DeclaratieDagtekening>
    <wmo323:TotaalIngediendBedrag>
      <iwmo:TotaalBedrag>{}</iwmo:TotaalBedrag>
      <iwmo:DebetCredit>D</iwmo:DebetCredit>
    </wmo323:TotaalIngediendBedrag>
    <wmo323:Clienten>
"#,
        n * 63_200
    ));
    for i in 0..n {
        xml.push_str(&format!(
            r#"      <wmo323:Client>
        <wmo323:Bsn>{}</wmo323:Bsn>
        <wmo323:Prestaties>
          <wmo323:Prestatie>
            <wmo323:ProductReferentie>
              <iwmo:ReferentieNummer>P{i:08}</iwmo:ReferentieNummer>
            </wmo323:ProductReferentie>
            <wmo323:ToewijzingNummer>{:08}</wmo323:ToewijzingNummer>
            <wmo323:ProductCategorie>01</wmo323:ProductCategorie>
            <wmo323:ProductCode>01A02</wmo323:ProductCode>
            <wmo323:ProductPeriode>
              <iwmo:Begindatum>2026-04-01</iwmo:Begindatum>
              <iwmo:Einddatum>2026-04-30</iwmo:Einddatum>
            </wmo323:ProductPeriode>
            <wmo323:GeleverdVolume>16</wmo323:GeleverdVolume>
            <wmo323:Eenheid>04</wmo323:Eenheid>
            <wmo323:ProductTarief>3950</wmo323:ProductTarief>
            <wmo323:IngediendBedrag>
              <iwmo:Bedrag>63200</iwmo:Bedrag>
              <iwmo:DebetCredit>D</iwmo:DebetCredit>
            </wmo323:IngediendBedrag>
          </wmo323:Prestatie>
        </wmo323:Prestaties>
      </wmo323:Client>
"#,
            bsn(i),
            300_000 + i
        ));
    }
    xml.push_str("    </wmo323:Clienten>\n  </wmo323:Declaratie>\n</wmo323:Bericht>\n");
    xml
}

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
    let sizes: &[usize] = if bench {
        &[9 * 1_000_000, 25 * 1_000_000]
    } else {
        &[MIB]
    };
    let parallel = if bench { PARALLEL } else { 4 };
    let mut ok = true;
    for &size in sizes {
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
        if r.failed > 0 || (bench && ratio >= 4.0) {
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
