//! The ingest writer judges 301s a run at a time (`lookahead`). These cases
//! put messages that depend on each other into one batch and check that the
//! record and the answers are exactly what the messages give one batch at a
//! time, and what the careful pass (one message at a time, in savepoints)
//! gives. Every case runs on SQLite and, with `LOKET_TEST_DATABASE_URL`, on
//! a PostgreSQL database of its own.

use sqlx::{Connection, Executor, Row};

use super::*;
use crate::store::TenantKind;

const PROVIDER: &str = "73730112";

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{rel}", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture")
}

/// `xml` with the text of every element `local` replaced by `value`.
fn with_text(xml: &str, local: &str, value: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut at = 0;
    let mut found = false;
    while let Some(lt) = xml[at..].find('<').map(|i| at + i) {
        let gt = lt + xml[lt..].find('>').expect("tag end");
        let tag = &xml[lt + 1..gt];
        let name = tag.rsplit(':').next().unwrap_or(tag);
        if name == local && !tag.starts_with('/') {
            let end = gt + xml[gt..].find('<').expect("text end");
            out.push_str(&xml[at..=gt]);
            out.push_str(value);
            at = end;
            found = true;
        } else {
            out.push_str(&xml[at..=gt]);
            at = gt + 1;
        }
    }
    out.push_str(&xml[at..]);
    assert!(found, "no element {local}");
    out
}

/// The omvang allocation (ToewijzingNummer 300145) as message `ident`.
fn allocation(ident: &str) -> String {
    with_text(
        &fixture("iwmo/valid/WMO301_omvang.xml"),
        "Identificatie",
        ident,
    )
}

/// Withdraws 300145 and allocates 300146 instead.
fn withdrawal(ident: &str) -> String {
    with_text(
        &fixture("iwmo/valid/WMO301_verwijderd_en_vervangen.xml"),
        "Identificatie",
        ident,
    )
}

/// A store on each backend: SQLite in a temp directory, and PostgreSQL in a
/// fresh database when `LOKET_TEST_DATABASE_URL` is set (dropped by
/// [`Backends::drop_all`]).
struct Backends {
    admin: Option<String>,
    dirs: Vec<tempfile::TempDir>,
    databases: Vec<String>,
}

impl Backends {
    fn new() -> Backends {
        Backends {
            admin: std::env::var("LOKET_TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
            dirs: Vec::new(),
            databases: Vec::new(),
        }
    }

    fn kinds(&self) -> Vec<bool> {
        if self.admin.is_some() {
            vec![false, true]
        } else {
            vec![false]
        }
    }

    async fn store(&mut self, postgres: bool) -> Store {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match (&self.admin, postgres) {
            (Some(admin), true) => {
                let name = format!("loket_u_{:016x}", rand::random::<u64>());
                let mut conn = sqlx::postgres::PgConnection::connect(admin)
                    .await
                    .expect("PostgreSQL");
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create database");
                self.databases.push(name.clone());
                let base = &admin[..admin.rfind('/').expect("database in URL")];
                Some(format!("{base}/{name}"))
            }
            _ => None,
        };
        let store = Store::open(url.as_deref(), dir.path())
            .await
            .expect("store");
        self.dirs.push(dir);
        store.add_tenant(PROVIDER).await.expect("tenant");
        store
    }

    async fn drop_all(self) {
        let Some(admin) = self.admin else { return };
        let mut conn = sqlx::postgres::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL");
        for name in self.databases {
            conn.execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
            .expect("drop database");
        }
    }
}

fn job(xml: &str) -> Job {
    let checked = istandaard::check(
        Schema::builtin().expect("schema"),
        xml.as_bytes(),
        &Limits::default(),
    )
    .expect("decodes");
    Job {
        tenant: Tenant {
            id: PROVIDER.to_string(),
            kind: TenantKind::Aanbieder,
        },
        prepared: Prepared::new(checked, Packed::new(xml.as_bytes())),
        reply: oneshot::channel().0,
    }
}

#[derive(Clone, Copy, Debug)]
enum Way {
    /// All messages in one batch, 301s in runs.
    Batch,
    /// All in one batch, the careful pass (one at a time, savepoints).
    Careful,
    /// One batch per message.
    OneByOne,
}

async fn ingest(
    store: &Store,
    known: &mut apply::Known,
    xmls: &[String],
    way: Way,
) -> Vec<Received> {
    let mut out = Vec::new();
    let batches: Vec<Vec<Job>> = match way {
        Way::OneByOne => xmls.iter().map(|x| vec![job(x)]).collect(),
        _ => vec![xmls.iter().map(|x| job(x)).collect()],
    };
    for mut batch in batches {
        let careful = matches!(way, Way::Careful);
        let results = write_batch(
            store,
            &TenantMappings::default(),
            known,
            &mut batch,
            careful,
        )
        .await
        .expect("batch")
        .expect("no failing message");
        out.extend(results.into_iter().map(|r| {
            let mut r = r.expect("message stored");
            r.unpack_retour().expect("retour unpacks");
            r
        }));
    }
    out
}

/// The record as text, without ids and timestamps: what must not depend on
/// how messages were batched.
async fn record(store: &Store) -> Vec<String> {
    let queries = [
        "SELECT 'participant', bsn, COALESCE(birth_date, '-'), COALESCE(gender, '-'), name_json, contact_json \
         FROM participants",
        "SELECT 'allocation', a.toewijzing_nummer, a.status, p.bsn, COALESCE(a.reden_wijziging, '-'), \
           COALESCE(a.einddatum, '-') || ' ' || COALESCE(CAST(a.volume AS TEXT), '-') \
         FROM allocations a JOIN participants p ON p.id = a.participant_id",
        "SELECT 'event', a.toewijzing_nummer, m.identificatie, e.status, e.detail, '' \
         FROM allocation_events e JOIN allocations a ON a.id = e.allocation_id JOIN messages m ON m.id = e.message_id",
        "SELECT 'message', m.direction, COALESCE(m.identificatie, '-'), m.status, m.retourcodes, \
           COALESCE((SELECT p.bsn FROM participants p WHERE p.id = m.participant_id), '-') \
         FROM messages m",
        "SELECT 'financier', id, kind, code, name, standard FROM financiers",
    ];
    let mut out = Vec::new();
    for q in queries {
        for r in sqlx::query(q).fetch_all(store.pool()).await.expect("dump") {
            let cols: Vec<String> = (0..6)
                .map(|i| r.try_get::<String, _>(i).expect("text column"))
                .collect();
            out.push(cols.join(" | "));
        }
    }
    out.sort();
    out
}

/// The answers without message ids; a resend must name the message it
/// repeats.
fn answers(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            format!(
                "{} {} duplicate={} {:?} {}",
                r.bericht, r.status, r.duplicate, r.retourcodes, r.retour_xml
            )
        })
        .collect()
}

/// Runs `setup` (one batch per message, then `after_setup` SQL) and then
/// `case` in each way on each backend; the record and the answers must be the
/// same every way. Returns the answers and record of the batched way, per
/// backend.
async fn same_every_way(
    setup: &[String],
    after_setup: &[&'static str],
    case: &[String],
) -> Vec<(Vec<Received>, Vec<String>)> {
    let mut backends = Backends::new();
    let mut out = Vec::new();
    for postgres in backends.kinds() {
        let mut seen: Option<(Vec<String>, Vec<String>)> = None;
        for way in [Way::Batch, Way::Careful, Way::OneByOne] {
            let store = backends.store(postgres).await;
            let mut known = apply::Known::default();
            ingest(&store, &mut known, setup, Way::OneByOne).await;
            for sql in after_setup {
                sqlx::query(*sql)
                    .execute(store.pool())
                    .await
                    .expect("setup SQL");
            }
            let got = ingest(&store, &mut known, case, way).await;
            let rec = record(&store).await;
            let now = (answers(&got), rec.clone());
            match &seen {
                None => seen = Some(now),
                Some(first) => assert_eq!(
                    first,
                    &now,
                    "{way:?} differs from the batch on {}",
                    if postgres { "PostgreSQL" } else { "SQLite" }
                ),
            }
            if matches!(way, Way::Batch) {
                out.push((got, rec));
            }
        }
    }
    backends.drop_all().await;
    out
}

fn events(rec: &[String], nummer: &str) -> Vec<String> {
    rec.iter()
        .filter(|l| l.starts_with(&format!("event | {nummer} |")))
        .cloned()
        .collect()
}

fn status(rec: &[String], nummer: &str) -> String {
    rec.iter()
        .find(|l| l.starts_with(&format!("allocation | {nummer} |")))
        .and_then(|l| l.split(" | ").nth(2))
        .unwrap_or("none")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_messages_on_one_allocation_in_one_batch() {
    let changed = with_text(&allocation("B2"), "Volume", "5");
    for (got, rec) in same_every_way(&[], &[], &[allocation("B1"), changed]).await {
        assert!(got.iter().all(|r| r.status == "accepted" && !r.duplicate));
        let ev = events(&rec, "300145");
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(
            ev[0].contains("| B1 | allocated | nieuwe toewijzing"),
            "{ev:?}"
        );
        assert!(ev[1].contains("| B2 | allocated | gewijzigd"), "{ev:?}");
        assert!(
            rec.iter()
                .any(|l| l.starts_with("allocation | 300145 |") && l.ends_with(" 5"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_in_the_same_batch_gets_the_same_answer() {
    let case = [allocation("R1"), allocation("R1"), allocation("R2")];
    for (got, rec) in same_every_way(&[], &[], &case).await {
        assert!(!got[0].duplicate && got[1].duplicate && !got[2].duplicate);
        assert_eq!(got[1].message_id, got[0].message_id);
        assert_eq!(got[1].retour_xml, got[0].retour_xml);
        let inbound = rec
            .iter()
            .filter(|l| l.starts_with("message | in |"))
            .count();
        assert_eq!(inbound, 2, "the resend is not stored: {rec:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_of_an_earlier_batch_inside_a_run() {
    let case = [allocation("S1"), allocation("S2")];
    for (got, _) in same_every_way(&[allocation("S1")], &[], &case).await {
        assert!(got[0].duplicate && !got[1].duplicate);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tr332_against_an_allocation_made_earlier_in_the_batch() {
    // Another client with the same ToewijzingNummer: rejected, and its row
    // names no participant; the client's next (accepted) message creates it.
    let other = |ident: &str| with_text(&allocation(ident), "Bsn", "999900018");
    let own_number = with_text(&other("T3"), "ToewijzingNummer", "300999");
    let case = [allocation("T1"), other("T2"), own_number];
    for (got, rec) in same_every_way(&[], &[], &case).await {
        assert_eq!(got[0].status, "accepted");
        assert_eq!(got[1].status, "rejected");
        assert!(got[1].retour_xml.contains("TR332") || !got[1].retourcodes.is_empty());
        assert_eq!(got[2].status, "accepted");
        assert!(
            rec.iter()
                .any(|l| l.starts_with("message | in | T2 | rejected |") && l.ends_with("| -")),
            "{rec:?}"
        );
        assert!(
            rec.iter()
                .any(|l| l.starts_with("message | in | T3 | accepted |")
                    && l.ends_with("| 999900018")),
            "{rec:?}"
        );
        assert_eq!(status(&rec, "300999"), "allocated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_and_changed_again_in_one_batch() {
    // 300145 is started (as a declaration run would have it); withdrawn and
    // changed again in one batch, it ends allocated, as one by one.
    let started = ["UPDATE allocations SET status = 'started' WHERE toewijzing_nummer = '300145'"];
    let case = [withdrawal("W2"), allocation("W3")];
    for (_, rec) in same_every_way(&[allocation("W1")], &started, &case).await {
        assert_eq!(status(&rec, "300145"), "allocated", "{rec:?}");
        assert_eq!(status(&rec, "300146"), "allocated");
        let ev = events(&rec, "300145");
        assert!(
            ev.iter().any(|e| e.contains("| W2 | withdrawn |")),
            "{ev:?}"
        );
        assert!(
            ev.iter()
                .any(|e| e.contains("| W3 | allocated | gewijzigd")),
            "{ev:?}"
        );
    }
    // Changed twice without a withdrawal, it stays started.
    let case = [allocation("W2"), allocation("W3")];
    for (_, rec) in same_every_way(&[allocation("W1")], &started, &case).await {
        assert_eq!(status(&rec, "300145"), "started", "{rec:?}");
    }
    // Changed, then withdrawn: withdrawn.
    let case = [allocation("W2"), withdrawal("W3")];
    for (_, rec) in same_every_way(&[allocation("W1")], &started, &case).await {
        assert_eq!(status(&rec, "300145"), "withdrawn", "{rec:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_kind_between_301s_keeps_the_order() {
    // A retour (WMO306) to the provider between two 301s ends the run.
    let retour = fixture("iwmo/valid/WMO306_akkoord_alleen_header.xml");
    let case = [allocation("K1"), retour, allocation("K2")];
    for (got, rec) in same_every_way(&[], &[], &case).await {
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].status, "accepted");
        assert_eq!(events(&rec, "300145").len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_fields_merge_over_a_run() {
    // Two messages about one new client in one run: one participant, with
    // what the later message says (a 301 always carries Naam and
    // Contactgegevens).
    let first = allocation("P1");
    let second = with_text(&first, "Identificatie", "P2");
    let second = with_text(&second, "Geslacht", "1");
    let second = with_text(&second, "Straatnaam", "Kastanjelaan");
    for (got, rec) in same_every_way(&[], &[], &[first, second]).await {
        assert!(
            got.iter().all(|r| r.status == "accepted"),
            "{:?}",
            answers(&got)
        );
        let p: Vec<&String> = rec
            .iter()
            .filter(|l| l.starts_with("participant"))
            .collect();
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains("| 1 |") && p[0].contains("Kastanjelaan"),
            "{p:?}"
        );
    }
}
