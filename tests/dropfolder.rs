//! The drop-folder transport on real files in a temp dir and a real SQLite
//! store: what ends up in processed/ and rejected/, and what the record holds.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loket::adapter::istandaard::{self, Limits, RetourSettings};
use loket::config::Config;
use loket::record::Ingest;
use loket::schema::Schema;
use loket::store::Store;
use loket::transport::dropfolder::{self, DropFolder, DropfolderConfig, Handled, Outcome};
use sqlx::Row;

const VALID: &str = "iwmo/valid/WMO301_omvang.xml";
const RULE_VIOLATION: &str = "iwmo/invalid/WMO301_bsn_elfproef.xml";

struct Env {
    dir: tempfile::TempDir,
    inbox: PathBuf,
    store: Store,
    ingest: Ingest,
}

impl Env {
    async fn new(tenants: &[&str]) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let inbox = dir.path().join("inbox");
        fs::create_dir(&inbox).expect("inbox");
        let store = Store::open(None, &dir.path().join("data"))
            .await
            .expect("store");
        for t in tenants {
            store.add_tenant(t).await.expect("tenant");
        }
        let ingest = Ingest::new(store.clone()).expect("ingest");
        Env {
            dir,
            inbox,
            store,
            ingest,
        }
    }

    async fn folder(&self, tenant: &str) -> DropFolder {
        DropFolder::open(self.ingest.clone(), &config(tenant, &self.inbox))
            .await
            .expect("dropfolder")
    }

    fn drop_file(&self, name: &str, bytes: &[u8]) {
        fs::write(self.inbox.join(name), bytes).expect("write");
    }

    fn processed(&self) -> PathBuf {
        self.inbox.join(dropfolder::PROCESSED)
    }

    fn rejected(&self) -> PathBuf {
        self.inbox.join(dropfolder::REJECTED)
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.store.pool())
            .await
            .expect("query")
            .try_get::<i64, _>(0)
            .expect("count")
    }
}

fn config(tenant: &str, inbox: &Path) -> DropfolderConfig {
    DropfolderConfig {
        tenant: tenant.to_string(),
        inbox: inbox.to_path_buf(),
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel),
    )
    .expect("fixture")
}

/// The tenant a fixture is for: its Header/Ontvanger.
fn ontvanger(bytes: &[u8]) -> String {
    header_field(bytes, "Ontvanger")
}

fn afzender(bytes: &[u8]) -> String {
    header_field(bytes, "Afzender")
}

/// The text of the first element `name` (a header field).
fn header_field(bytes: &[u8], name: &str) -> String {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    text.split(&format!("{name}>"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_string()
}

/// Names in a directory (files only), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn parse(bytes: &[u8]) -> istandaard::Checked {
    istandaard::check(
        Schema::builtin().expect("schema"),
        bytes,
        &Limits::default(),
    )
    .expect("decodes")
}

fn only(handled: Vec<Handled>) -> Handled {
    assert_eq!(handled.len(), 1, "{handled:?}");
    handled.into_iter().next().expect("one")
}

#[tokio::test]
async fn valid_message_is_processed_with_its_retour_beside_it() {
    let xml = fixture(VALID);
    let tenant = ontvanger(&xml);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("WMO301_omvang.xml", &xml);

    let h = only(folder.poll_once().await);
    assert_eq!(h.file, "WMO301_omvang.xml");
    let Outcome::Processed {
        status,
        duplicate,
        path,
        retour,
    } = h.outcome
    else {
        panic!("{h:?}")
    };
    assert_eq!(status, "accepted");
    assert!(!duplicate);
    assert_eq!(path, env.processed().join("WMO301_omvang.xml"));
    let retour = retour.expect("retour");
    assert_eq!(retour, env.processed().join("WMO301_omvang.xml.retour.xml"));
    assert_eq!(fs::read(&path).expect("moved"), xml, "moved unchanged");
    assert!(files(&env.inbox).is_empty(), "inbox is empty");
    assert_eq!(
        files(&env.processed()),
        ["WMO301_omvang.xml", "WMO301_omvang.xml.retour.xml"]
    );

    // The retour is the WMO302 the standard prescribes for this message:
    // the same as `loket retour` builds, header only, no retourcode.
    let retour_bytes = fs::read(&retour).expect("retour");
    let expected =
        istandaard::retour_xml(&parse(&xml), &RetourSettings::default()).expect("expected");
    assert_eq!(String::from_utf8(retour_bytes.clone()).unwrap(), expected);
    let r = parse(&retour_bytes);
    assert_eq!(r.message.name(), "WMO302");
    assert!(r.is_valid(), "{:?}", r.findings);
    assert_eq!(r.message.value("Header/Afzender"), Some("0200"));
    assert_eq!(r.message.value("Header/Ontvanger"), Some(tenant.as_str()));
    assert!(
        r.message
            .root()
            .all("Header/RetourCodes/RetourCode")
            .is_empty()
    );

    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status = 'accepted'")
            .await,
        1
    );
}

#[tokio::test]
async fn rule_violation_is_processed_with_a_header_only_0001_retour() {
    let xml = fixture(RULE_VIOLATION);
    let tenant = ontvanger(&xml);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("elfproef.xml", &xml);

    let h = only(folder.poll_once().await);
    let Outcome::Processed { status, retour, .. } = h.outcome else {
        panic!("{h:?}")
    };
    assert_eq!(status, "rejected");
    assert_eq!(
        retour,
        Some(env.processed().join("elfproef.xml.retour.xml"))
    );
    assert_eq!(
        files(&env.processed()),
        ["elfproef.xml", "elfproef.xml.retour.xml"]
    );
    assert!(files(&env.rejected()).is_empty());
    let r = parse(&fs::read(retour.unwrap()).unwrap());
    assert_eq!(r.message.name(), "WMO302");
    let codes: Vec<&str> = r
        .message
        .root()
        .all("Header/RetourCodes/RetourCode")
        .iter()
        .map(|n| n.text())
        .collect();
    assert_eq!(codes, ["0001"]);
    let classes: Vec<&str> = r.message.root().children().map(|c| c.name()).collect();
    assert_eq!(classes, ["Header"], "header only");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND status = 'rejected'")
            .await,
        1
    );
}

#[tokio::test]
async fn garbage_is_rejected_with_a_bilingual_error() {
    let tenant = ontvanger(&fixture(VALID));
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("rommel.xml", b"dit is geen XML <<<");

    let h = only(folder.poll_once().await);
    let Outcome::Rejected { path, error } = h.outcome else {
        panic!("{h:?}")
    };
    assert_eq!(path, env.rejected().join("rommel.xml"));
    assert_eq!(error, env.rejected().join("rommel.xml.error.txt"));
    assert_eq!(fs::read(&path).unwrap(), b"dit is geen XML <<<");
    let text = fs::read_to_string(&error).unwrap();
    assert!(text.contains("rommel.xml"), "{text}");
    assert!(text.contains("NL: Het bestand is niet verwerkt"), "{text}");
    assert!(text.contains("EN: The file was not processed"), "{text}");
    assert!(files(&env.inbox).is_empty());
    assert!(files(&env.processed()).is_empty());
}

#[tokio::test]
async fn files_still_being_written_are_left_alone_until_renamed() {
    let xml = fixture(VALID);
    let tenant = ontvanger(&xml);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("WMO301.xml.part", &xml[..xml.len() / 2]);
    env.drop_file("WMO301.xml.tmp", &xml);
    env.drop_file(".WMO301.xml", &xml);

    assert!(folder.poll_once().await.is_empty());
    assert_eq!(
        files(&env.inbox),
        [".WMO301.xml", "WMO301.xml.part", "WMO301.xml.tmp"]
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM messages").await, 0);

    // The sender finishes writing and renames.
    env.drop_file("WMO301.xml.part", &xml);
    fs::rename(
        env.inbox.join("WMO301.xml.part"),
        env.inbox.join("WMO301.xml"),
    )
    .unwrap();
    let h = only(folder.poll_once().await);
    assert_eq!(h.file, "WMO301.xml");
    assert!(
        matches!(&h.outcome, Outcome::Processed { status, .. } if status == "accepted"),
        "{h:?}"
    );
}

#[tokio::test]
async fn the_same_file_twice_gets_the_identical_retour_and_is_stored_once() {
    let xml = fixture(VALID);
    let tenant = ontvanger(&xml);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;

    env.drop_file("WMO301.xml", &xml);
    let first = only(folder.poll_once().await);
    env.drop_file("WMO301.xml", &xml);
    let second = only(folder.poll_once().await);

    let (
        Outcome::Processed {
            duplicate: false,
            retour: Some(r1),
            ..
        },
        Outcome::Processed {
            duplicate: true,
            path: p2,
            retour: Some(r2),
            ..
        },
    ) = (&first.outcome, &second.outcome)
    else {
        panic!("{first:?} {second:?}")
    };
    // Nothing is overwritten: the second copy gets a suffix.
    assert_eq!(p2, &env.processed().join("WMO301.1.xml"));
    assert_eq!(r2, &env.processed().join("WMO301.1.xml.retour.xml"));
    assert_eq!(
        files(&env.processed()),
        [
            "WMO301.1.xml",
            "WMO301.1.xml.retour.xml",
            "WMO301.xml",
            "WMO301.xml.retour.xml"
        ]
    );
    assert_eq!(fs::read(r1).unwrap(), fs::read(r2).unwrap(), "same retour");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
            .await,
        1
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM messages WHERE direction = 'out'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_file_for_another_tenant_is_rejected() {
    let xml = fixture(VALID);
    let addressee = ontvanger(&xml);
    let env = Env::new(&[&addressee, "12345678"]).await;
    let mut folder = env.folder("12345678").await;
    env.drop_file("WMO301.xml", &xml);

    let h = only(folder.poll_once().await);
    let Outcome::Rejected { path, error } = h.outcome else {
        panic!("{h:?}")
    };
    assert_eq!(path, env.rejected().join("WMO301.xml"));
    let text = fs::read_to_string(error).unwrap();
    assert!(text.contains(&addressee), "{text}");
    assert!(text.contains("gericht aan"), "{text}");
    assert!(text.contains("addressed to"), "{text}");
    assert!(files(&env.processed()).is_empty());
    assert_eq!(env.count("SELECT COUNT(*) FROM messages").await, 0);
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_rejected_unread() {
    let xml = fixture(VALID);
    let tenant = ontvanger(&xml);
    let mut env = Env::new(&[&tenant]).await;
    env.ingest.limits.max_bytes = 100;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("groot.xml", &xml);

    let h = only(folder.poll_once().await);
    let Outcome::Rejected { error, .. } = h.outcome else {
        panic!("{h:?}")
    };
    let text = fs::read_to_string(error).unwrap();
    assert!(
        text.contains("groter dan de limiet van 100 bytes"),
        "{text}"
    );
    assert!(text.contains("exceeds the limit of 100 bytes"), "{text}");
    assert_eq!(env.count("SELECT COUNT(*) FROM messages").await, 0);
}

#[tokio::test]
async fn files_are_taken_in_name_order_and_rejections_never_overwrite() {
    let tenant = ontvanger(&fixture(VALID));
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    for name in ["b.xml", "a.xml", "c.xml"] {
        env.drop_file(name, b"geen xml");
    }
    fs::write(env.rejected().join("a.xml"), "al aanwezig").unwrap();
    let order: Vec<String> = folder
        .poll_once()
        .await
        .into_iter()
        .map(|h| h.file)
        .collect();
    assert_eq!(order, ["a.xml", "b.xml", "c.xml"]);
    assert_eq!(
        fs::read_to_string(env.rejected().join("a.xml")).unwrap(),
        "al aanwezig"
    );
    assert_eq!(
        files(&env.rejected()),
        [
            "a.1.xml",
            "a.1.xml.error.txt",
            "a.xml",
            "b.xml",
            "b.xml.error.txt",
            "c.xml",
            "c.xml.error.txt"
        ]
    );
}

#[tokio::test]
async fn when_the_store_is_down_files_stay_and_are_retried() {
    let xml = fixture(VALID);
    let tenant = ontvanger(&xml);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("1.xml", &xml);
    env.drop_file("2.xml", b"geen xml");

    env.store.pool().close().await;
    // The poll stops at the first file, so the order is kept: the claimed
    // file waits in work/, the next one in the inbox.
    let h = only(folder.poll_once().await);
    assert_eq!(h.file, "1.xml");
    assert_eq!(h.outcome, Outcome::Retry);
    assert_eq!(files(&env.inbox), ["2.xml"]);
    assert_eq!(files(&env.inbox.join(dropfolder::WORK)), [".lock", "1.xml"]);
    assert!(files(&env.processed()).is_empty());
    assert!(files(&env.rejected()).is_empty());
    // Its watcher ends (and with it the inbox's lock).
    drop(folder);

    // The database is back (here: opened again).
    let store = Store::open(None, &env.dir.path().join("data"))
        .await
        .expect("store");
    let ingest = Ingest::new(store.clone()).expect("ingest");
    let mut folder = DropFolder::open(ingest, &config(&tenant, &env.inbox))
        .await
        .expect("dropfolder");
    let handled = folder.poll_once().await;
    assert_eq!(handled.len(), 2, "{handled:?}");
    assert!(matches!(handled[0].outcome, Outcome::Processed { .. }));
    assert!(matches!(handled[1].outcome, Outcome::Rejected { .. }));
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM messages WHERE status = 'accepted'")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_retourbericht_is_filed_without_an_answer() {
    let xml = fixture("iwmo/valid/WMO302_akkoord_alleen_header.xml");
    // A retour copies its heenbericht's header: it is addressed to the
    // Afzender, the municipality that sent the 301.
    let tenant = afzender(&xml);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("WMO302.xml", &xml);
    let h = only(folder.poll_once().await);
    let Outcome::Processed { retour, .. } = &h.outcome else {
        panic!("{h:?}")
    };
    assert_eq!(retour, &None);
    assert_eq!(files(&env.processed()), ["WMO302.xml"]);
}

#[tokio::test]
async fn startup_refuses_an_unknown_tenant_or_a_doubled_inbox() {
    let env = Env::new(&["73730112"]).await;
    let err = dropfolder::start(&env.ingest, &[config("87654321", &env.inbox)])
        .await
        .err()
        .expect("unknown tenant refused");
    let msg = format!("{err:#}");
    assert!(msg.contains("bestaat niet"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");

    let err = dropfolder::start(
        &env.ingest,
        &[
            config("73730112", &env.inbox),
            config("73730112", &env.inbox),
        ],
    )
    .await
    .err()
    .expect("doubled inbox refused");
    assert!(format!("{err:#}").contains("configured twice"), "{err:#}");

    let err = dropfolder::start(
        &env.ingest,
        &[config("73730112", &env.dir.path().join("nope"))],
    )
    .await
    .err()
    .expect("missing inbox refused");
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
}

#[tokio::test]
async fn the_watcher_picks_files_up_and_stops_on_request() {
    let xml = fixture(VALID);
    let tenant = ontvanger(&xml);
    let env = Env::new(&[&tenant]).await;
    let watchers = dropfolder::start(&env.ingest, &[config(&tenant, &env.inbox)])
        .await
        .expect("start");
    assert_eq!(watchers.len(), 1);

    env.drop_file("WMO301.xml.part", &xml);
    fs::rename(
        env.inbox.join("WMO301.xml.part"),
        env.inbox.join("WMO301.xml"),
    )
    .unwrap();
    let retour = env.processed().join("WMO301.xml.retour.xml");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(retour.exists() && env.processed().join("WMO301.xml").exists()) {
        assert!(Instant::now() < deadline, "not picked up in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), watchers.stop())
        .await
        .expect("watchers stop");
}

#[test]
fn config_takes_dropfolder_sections() {
    let c: Config = toml::from_str(
        r#"
        [[dropfolder]]
        tenant = "73730112"
        inbox = "/srv/loket/inbox/73730112"

        [[dropfolder]]
        tenant = "0200"
        inbox = "inbox-0200"
        "#,
    )
    .expect("parses");
    assert_eq!(
        c.dropfolder,
        [
            config("73730112", Path::new("/srv/loket/inbox/73730112")),
            config("0200", Path::new("inbox-0200")),
        ]
    );
    assert!(
        toml::from_str::<Config>("[[dropfolder]]\ntenant = \"0200\"\ninbox = \"x\"\nextra = 1\n")
            .is_err(),
        "unknown keys are refused"
    );
}

/// A message whose header cannot be answered (here an Afzender that is no AGB
/// code) is stored as rejected by ingest and set aside at once, with the
/// reason, without blocking the files after it.
#[tokio::test]
async fn a_message_without_possible_retour_is_set_aside_without_blocking_others() {
    let poison = fixture("iwmo/invalid/WMO323_afzender_agb_7_cijfers.xml");
    let good = fixture("iwmo/valid/WMO305_start.xml");
    let tenant = ontvanger(&poison);
    assert_eq!(ontvanger(&good), tenant);
    let env = Env::new(&[&tenant]).await;
    let mut folder = env.folder(&tenant).await;
    env.drop_file("a.xml", &poison);
    env.drop_file("b.xml", &good);

    let first = folder.poll_once().await;
    assert_eq!(first.len(), 2, "{first:?}");
    let Outcome::Rejected { error, .. } = &first[0].outcome else {
        panic!("{first:?}")
    };
    assert!(
        matches!(first[1].outcome, Outcome::Processed { .. }),
        "{first:?}"
    );
    let text = fs::read_to_string(error).unwrap();
    assert!(text.contains("retourbericht"), "{text}");
    assert!(files(&env.inbox).is_empty());
}

#[tokio::test]
async fn a_message_without_receiver_is_rejected() {
    let xml = fixture("iwmo/invalid/WMO307_header_ontbreekt.xml");
    let env = Env::new(&["73730112"]).await;
    let mut folder = env.folder("73730112").await;
    env.drop_file("geen_header.xml", &xml);
    let h = only(folder.poll_once().await);
    let Outcome::Rejected { error, .. } = h.outcome else {
        panic!("{h:?}")
    };
    let text = fs::read_to_string(error).unwrap();
    assert!(text.contains("geen Header/Ontvanger"), "{text}");
    assert!(text.contains("no Header/Ontvanger"), "{text}");
}
