//! `loket serve --demo` as a newcomer runs it, the real binary with its
//! outbox worker and drop-folder watcher: the provider's WMO323 is at
//! municipality 0363, whose 325 waits for a person; once the municipality
//! sends it, the 325 travels back through the outbox into the provider's
//! inbox, and the provider takes it in and applies it (its rejected line
//! joins the review queue). The web pages of both sides are tested in
//! `tests/browser.rs`; this follows the declaration there and back.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Db, on_postgres, on_sqlite};
use loket::web::demo::{DEMO_AGB, DEMO_GEMEENTE};
use serde_json::Value;

/// How long the demo may take to start, and the answer to travel back.
const PATIENCE: Duration = Duration::from_secs(120);

/// `loket ARGS --config config`, without any LOKET_* setting of the caller.
fn loket(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loket"));
    c.args(args).arg("--config").arg(config);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LOKET_") {
            c.env_remove(k);
        }
    }
    c
}

/// Kills the demo when the test ends, passed or not.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("json")
}

/// The rejected lines (9308) in the provider's review queue.
async fn rejected_lines(http: &reqwest::Client, base: &str, token: &str) -> usize {
    let review = get(http, &format!("{base}/review"), token).await;
    review["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "rejected_prestatie")
        .count()
}

async fn the_municipalitys_325_travels_back(db: Db) {
    let root = db.dir.path().to_path_buf();
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let database = match &db.url {
        Some(u) => format!("database_url = {u:?}\n"),
        None => String::new(),
    };
    let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let config = root.join("loket.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {data:?}\nmappings_dir = {mappings:?}\n{database}"
        ),
    )
    .expect("config");
    let stdout = root.join("stdout.log");
    // `--demo` without `--data-dir` keeps its data in ./loket-demo.
    let data_arg = data.to_str().expect("UTF-8 temp path");
    let child = loket(&config, &["serve", "--demo", "--data-dir", data_arg])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout"))
        .stderr(std::fs::File::create(root.join("stderr.log")).expect("stderr"))
        .spawn()
        .expect("loket serve --demo");
    let _demo = Demo(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // The provider's token is printed once the demo is seeded.
    let deadline = Instant::now() + PATIENCE;
    let provider = loop {
        let printed = std::fs::read_to_string(&stdout).unwrap_or_default();
        if let Some(t) = printed
            .lines()
            .find_map(|l| l.trim().strip_prefix("API-token: "))
        {
            break t.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not start:\n{printed}\n{}",
            std::fs::read_to_string(root.join("stderr.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The municipality's own API token (the demo prints only the
    // provider's; its people log in on the web pages).
    let out = loket(
        &config,
        &[
            "token",
            "add",
            DEMO_GEMEENTE,
            "--name",
            "demo-test",
            "--data-dir",
            data_arg,
        ],
    )
    .output()
    .expect("token add");
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let gemeente = printed
        .lines()
        .map(str::trim)
        .rfind(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no token in {printed:?} {out:?}"))
        .to_string();
    loop {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(Instant::now() < deadline, "loket is not ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // At the start: the seeded Jeugdwet answer's rejected line only; the
    // Wmo declaration's lines are ingediend at the municipality, its 325 held.
    assert_eq!(rejected_lines(&http, &base, &provider).await, 1);
    let received = get(&http, &format!("{base}/declarations/received"), &gemeente).await;
    let lines = received["lines"].as_array().expect("lines");
    assert!(!lines.is_empty(), "the 323 at the municipality");
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "ingediend" && l["aanbieder"] == DEMO_AGB),
        "{received}"
    );
    let declaration = lines[0]["message_id"].as_str().expect("message id");
    let decision = get(
        &http,
        &format!("{base}/declarations/received/{declaration}/decision"),
        &gemeente,
    )
    .await;
    assert_eq!(decision["hold"]["state"], "held", "{decision}");

    // The municipality sends its 325 as loket judged it.
    let r = http
        .post(format!(
            "{base}/declarations/received/{declaration}/release"
        ))
        .bearer_auth(&gemeente)
        .send()
        .await
        .expect("release");
    assert!(r.status().is_success(), "{}", r.status());

    // It reaches the provider, which applies it: one more rejected line, and
    // the municipality's export says what was decided.
    loop {
        if rejected_lines(&http, &base, &provider).await == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the 325 did not reach the provider"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let received = get(&http, &format!("{base}/declarations/received"), &gemeente).await;
    let lines = received["lines"].as_array().expect("lines");
    assert_eq!(
        lines.iter().filter(|l| l["status"] == "afgekeurd").count(),
        1,
        "{received}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "afgekeurd" || l["status"] == "goedgekeurd")
    );
    let processed = data
        .join(format!("inbox-{DEMO_AGB}"))
        .join(loket::transport::dropfolder::PROCESSED);
    let files: Vec<_> = std::fs::read_dir(&processed)
        .expect("processed/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.iter().filter(|f| !f.ends_with(".retour.xml")).count(),
        1,
        "{files:?}"
    );

    // The log written to a file: plain text (no terminal colour codes),
    // absent values left out rather than written as None, request times in
    // milliseconds with at most one decimal.
    let log = std::fs::read_to_string(root.join("stderr.log")).expect("stderr.log");
    assert!(!log.contains('\u{1b}'), "colour codes in the log");
    assert!(!log.contains("None"), "None in the log");
    let times: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" request "))
        .filter_map(|l| l.split(" ms=").nth(1))
        .map(|t| t.split_whitespace().next().unwrap_or_default())
        .collect();
    assert!(!times.is_empty(), "no request lines in the log");
    for t in times {
        let decimals = t.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(t.parse::<f64>().is_ok() && decimals <= 1, "ms={t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_municipalitys_325_travels_back() {
    on_sqlite(the_municipalitys_325_travels_back).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_municipalitys_325_travels_back() {
    on_postgres(the_municipalitys_325_travels_back).await;
}

/// A demo that cannot start says why in both languages, exits 2 and leaves
/// no folder behind: a mappings folder that is not there, an address that
/// is taken.
#[test]
fn a_demo_that_cannot_start_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("loket.toml");
    std::fs::write(&config, "").expect("config");
    let data = dir.path().join("demo");
    let data_arg = data.to_str().expect("utf-8 path");
    let out = loket(
        &config,
        &[
            "serve",
            "--demo",
            "--data-dir",
            data_arg,
            "--mappings",
            "/nonexistent/mappings",
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bestaat niet") && err.contains("does not exist"),
        "{err}"
    );
    assert!(err.contains("--mappings"), "{err}");
    assert!(!data.exists());

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = loket(
        &config,
        &["serve", "--demo", "--data-dir", data_arg, "--listen", &addr],
    )
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kan niet luisteren") && err.contains("cannot listen"),
        "{err}"
    );
    assert!(!data.exists());
}

/// An instrument file with a mistake stops the daemon at start with the
/// file and line, before anyone scores on a scale that does not say what its
/// numbers mean; no data directory is left behind.
#[test]
fn a_bad_instrument_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let instruments = dir.path().join("instruments");
    std::fs::create_dir(&instruments).expect("instruments dir");
    std::fs::write(
        instruments.join("eigen.toml"),
        "id = \"eigen\"\nname = \"Eigen\"\nversion = \"1\"\nscale = { min = 1, max = 3 }\n\n\
         [[levels]]\nvalue = 1\nlabel = \"Laag\"\n\n[[levels]]\nvalue = 7\nlabel = \"Hoog\"\n\n\
         [[domains]]\nid = \"werk\"\nname = \"Werk\"\n",
    )
    .expect("instrument");
    let config = dir.path().join("loket.toml");
    std::fs::write(
        &config,
        format!(
            "instruments_dir = {:?}\n",
            instruments.to_str().expect("utf-8")
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let mut child = loket(
        &config,
        &[
            "serve",
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("loket started with a bad instrument file");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(!status.success(), "{err}");
    assert!(err.contains("eigen.toml:11"), "{err}");
    assert!(err.contains("level 7 is outside the scale"), "{err}");
    assert!(err.contains("missing: 2, 3"), "{err}");
    assert!(!data.exists(), "a data directory was made");
}
