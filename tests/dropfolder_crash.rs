//! The drop folder under kill -9: `loket serve` is started with a drop folder,
//! aborted by the test hook (`LOKET_FAULT_DROPFOLDER`) right after each step
//! of taking a file in, and started again without it. Whatever the step,
//! every file must end exactly once in `processed/` (or `rejected/`) with
//! exactly one retour (or error text), the database must hold each message
//! and its retour once, and no temp or work file may remain.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Db, allocation_xml, dagbesteding, on_postgres, on_sqlite};
use loket::store::Store;
use loket::transport::dropfolder::{FAULT_ENV, FAULT_STEPS, PROCESSED, REJECTED, WORK};
use sqlx::Row;

const PROVIDER: &str = "73730112";
const GEMEENTE: &str = "0363";
/// The valid messages of every run, with their BerichtIdentificatie. Name
/// order is the order loket takes them in: the hook strikes the first.
const MESSAGES: [(&str, &str); 3] = [
    ("a-toewijzing.xml", "CRASH-A"),
    ("b-toewijzing.xml", "CRASH-B"),
    ("c-toewijzing.xml", "CRASH-C"),
];
/// Input that cannot be taken in: it goes to rejected/.
const GARBAGE: &str = "z-rommel.xml";
/// How long a run may take to abort, or to finish every file.
const PATIENCE: Duration = Duration::from_secs(120);

struct Setup {
    config: PathBuf,
    inbox: PathBuf,
    logs: PathBuf,
}

impl Setup {
    fn new(db: &Db) -> Setup {
        let root = db.dir.path();
        let inbox = root.join("inbox");
        fs::create_dir_all(&inbox).expect("inbox");
        let data = root.join("data");
        fs::create_dir_all(&data).expect("data dir");
        let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let database = match &db.url {
            Some(u) => format!("database_url = {u:?}\n"),
            None => String::new(),
        };
        let config = root.join("loket.toml");
        fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = {data:?}\nmappings_dir = {mappings:?}\n{database}\
                 [startstop]\nenabled = false\n\n\
                 [[dropfolder]]\ntenant = \"{PROVIDER}\"\ninbox = {inbox:?}\n",
            ),
        )
        .expect("config");
        let setup = Setup {
            config,
            inbox,
            logs: root.to_path_buf(),
        };
        let out = setup
            .loket(&["tenant", "add", PROVIDER])
            .output()
            .expect("loket tenant add");
        assert!(out.status.success(), "{out:?}");
        setup
    }

    /// `loket ARGS --config ...`, without any LOKET_* setting of the caller.
    fn loket(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_loket"));
        c.args(args).arg("--config").arg(&self.config);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("LOKET_") {
                c.env_remove(k);
            }
        }
        c
    }

    fn serve(&self, fault: Option<&str>, run: &str) -> Child {
        let mut c = self.loket(&["serve"]);
        if let Some(step) = fault {
            c.env(FAULT_ENV, step);
        }
        let log = |kind: &str| {
            fs::File::create(self.logs.join(format!("{run}.{kind}.log"))).expect("log file")
        };
        c.stdin(Stdio::null())
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .spawn()
            .expect("loket serve")
    }

    fn log(&self, run: &str) -> String {
        fs::read_to_string(self.logs.join(format!("{run}.stderr.log"))).unwrap_or_default()
    }

    fn dir(&self, sub: &str) -> PathBuf {
        self.inbox.join(sub)
    }
}

/// Every name in `dir`, hidden ones included, sorted (none before loket
/// made the directory).
fn names(dir: &Path) -> Vec<String> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    let mut n: Vec<String> = entries
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

fn message(ident: &str, nummer: &str) -> String {
    allocation_xml(
        "WMO",
        GEMEENTE,
        PROVIDER,
        ident,
        "999901023",
        &[dagbesteding(nummer, "2025-12-01")],
    )
}

/// What processed/ and rejected/ must hold when every file is done.
fn expected_processed() -> Vec<String> {
    let mut n: Vec<String> = MESSAGES
        .iter()
        .flat_map(|(f, _)| [f.to_string(), format!("{f}.retour.xml")])
        .collect();
    n.sort();
    n
}

fn expected_rejected() -> Vec<String> {
    vec![GARBAGE.to_string(), format!("{GARBAGE}.error.txt")]
}

fn wait_for_exit(child: &mut Child, setup: &Setup, run: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        // Everything done and still running: the hook never fired (a
        // target/debug/loket built from another checkout, without it?).
        let all_done = names(&setup.dir(PROCESSED)) == expected_processed();
        if all_done || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "loket did not abort (all files done: {all_done}); is {} this checkout's build?\n{}",
                env!("CARGO_BIN_EXE_loket"),
                setup.log(run)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills loket at `step` with files in the inbox, restarts it and checks
/// that every file is taken in exactly once.
async fn killed_after(step: &'static str, db: Db) {
    let setup = Setup::new(&db);
    let mut xml = Vec::new();
    for (i, (file, ident)) in MESSAGES.iter().enumerate() {
        let x = message(ident, &format!("{}", 9100 + i));
        fs::write(setup.inbox.join(file), &x).expect("drop");
        xml.push(x);
    }
    fs::write(setup.inbox.join(GARBAGE), "dit is geen XML <<<").expect("drop");

    let run = format!("{step}-1");
    let mut child = setup.serve(Some(step), &run);
    let status = tokio::task::block_in_place(|| wait_for_exit(&mut child, &setup, &run));
    assert_eq!(
        status.signal(),
        Some(6),
        "the hook aborts loket after {step}: {status:?}\n{}",
        setup.log(&run)
    );
    // The first file was caught half-way: not all done yet.
    assert_ne!(
        names(&setup.dir(PROCESSED)),
        expected_processed(),
        "{step}: the crash left work to do"
    );

    let run = format!("{step}-2");
    let mut child = setup.serve(None, &run);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let done = names(&setup.dir(PROCESSED)) == expected_processed()
            && names(&setup.dir(REJECTED)) == expected_rejected()
            && names(&setup.dir(WORK)) == [".lock"]
            && names(&setup.inbox) == [PROCESSED, REJECTED, WORK];
        if done {
            break;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("loket stopped: {status:?}\n{}", setup.log(&run));
        }
        assert!(
            Instant::now() < deadline,
            "{step}: not every file done in time: inbox {:?}, work {:?}, processed {:?}, rejected {:?}\n{}",
            names(&setup.inbox),
            names(&setup.dir(WORK)),
            names(&setup.dir(PROCESSED)),
            names(&setup.dir(REJECTED)),
            setup.log(&run)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let a (wrong) second round show itself before looking.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("kill");
    child.wait().expect("wait");

    // Exactly once on disk: the names (no suffixed copies, no temp files),
    // the message unchanged.
    assert_eq!(names(&setup.dir(PROCESSED)), expected_processed(), "{step}");
    assert_eq!(names(&setup.dir(REJECTED)), expected_rejected(), "{step}");
    assert_eq!(names(&setup.dir(WORK)), [".lock"], "{step}");
    assert_eq!(
        names(&setup.inbox),
        [PROCESSED, REJECTED, WORK],
        "{step}: the inbox is empty"
    );
    let error = fs::read_to_string(setup.dir(REJECTED).join(format!("{GARBAGE}.error.txt")))
        .expect("error text");
    assert!(error.contains("EN: The file was not processed"), "{error}");

    // Exactly once in the database, and the retour on disk is the one stored.
    let store = Store::open(db.url.as_deref(), &db.dir.path().join("data"))
        .await
        .expect("store");
    for ((file, ident), x) in MESSAGES.iter().zip(&xml) {
        let moved = fs::read(setup.dir(PROCESSED).join(file)).expect("processed file");
        assert_eq!(&moved, x.as_bytes(), "{step}: {file} moved unchanged");
        let rows = sqlx::query(
            "SELECT m.id, a.raw AS answer, a.raw_encoding AS answer_encoding FROM messages m \
             LEFT JOIN messages a ON a.answer_of = m.id AND a.direction = 'out' \
             WHERE m.tenant_id = $1 AND m.direction = 'in' AND m.identificatie = $2",
        )
        .bind(PROVIDER)
        .bind(*ident)
        .fetch_all(store.pool())
        .await
        .expect("query");
        assert_eq!(rows.len(), 1, "{step}: {ident} stored once with one retour");
        let answer = loket::store::body::unpack_opt(
            rows[0].try_get("answer_encoding").expect("encoding"),
            rows[0].try_get("answer").expect("answer"),
        )
        .expect("stored retour");
        let retour =
            fs::read(setup.dir(PROCESSED).join(format!("{file}.retour.xml"))).expect("retour file");
        assert_eq!(
            answer.as_deref(),
            Some(retour.as_slice()),
            "{step}: {file}'s retour is the stored answer"
        );
    }
    let inbound: i64 = sqlx::query(
        "SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND direction = 'in' AND identificatie IS NOT NULL",
    )
    .bind(PROVIDER)
    .fetch_one(store.pool())
    .await
    .expect("count")
    .get(0);
    assert_eq!(
        inbound,
        MESSAGES.len() as i64,
        "{step}: nothing else stored"
    );
    store.pool().close().await;
}

macro_rules! crash_cases {
    ($($case:ident => $step:literal),* $(,)?) => {
        $(
            async fn $case(db: Db) {
                killed_after($step, db).await;
            }
        )*

        #[test]
        fn every_step_is_covered() {
            let mut steps = vec![$($step),*];
            steps.sort();
            let mut all = FAULT_STEPS.to_vec();
            all.sort();
            assert_eq!(steps, all);
        }

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_postgres(super::$case).await;
                }
            )*
        }
    };
}

crash_cases! {
    killed_after_claim => "claimed",
    killed_after_commit => "committed",
    killed_after_writing_the_retour => "companion-written",
    killed_after_placing_the_retour => "companion-placed",
    killed_after_filing => "filed",
}
