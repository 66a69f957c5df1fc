//! A month between a care provider and a municipality, the way the real
//! exchange carries it: the provider on VECOZO's VSP-Koppeling (the strict
//! counterpart in `common::vsp`), the municipality on the GGk's StUF
//! interface (loket's `[[stuf]]` listener and its outbox posting to the
//! adapter), and between them the exchange counterpart in `common::ggk`,
//! playing VECOZO, RINIS and the municipality's Digikoppeling adapter. Both
//! tenants live in one loket; every leg runs over mutual TLS on loopback
//! with certificates of the tests' own CA. The exchange moves only when the
//! test pumps it, so each step is a known state.
//!
//! - `a_month_through_the_exchange`: the municipality grants (301, answered
//!   with a 302), the provider starts (305/306), declares its month (323);
//!   the municipality, which lowered one allocation's total meanwhile,
//!   rejects the line beyond it in its 325; the provider corrects (a credit
//!   and a new debit for the approved line it registered wrong, the rejected
//!   line again at the right volume) and the municipality approves all. At
//!   the end both records agree on allocations and on every declared line,
//!   every envelope fitted the StUF-GGk schemas and loket's identifiers are
//!   the envelopes' (traceer_id the referentienummer, als_antwoord_op the
//!   crossRefnummer). loket writes edition 0310, the exchange 0210.
//! - `payloads_failing_their_xsd_are_answered_with_fo01`: a payload that
//!   fails its XSD is answered to its sender, each way. The provider's 305
//!   is refused at VECOZO (IB014) and the provider's loket makes a review
//!   item of it; the municipality's 301 is answered by the exchange with a
//!   Fo01 (IB014), which loket ties to the 301 and makes a review item at
//!   the municipality, code explained. (loket writes no failing payload: the
//!   exchange is told to take those two as failing.) A provider's 305 with
//!   a payload that really fails, pushed by other software of the provider,
//!   reaches the municipality, whose loket answers with a Fo01 with StUF055,
//!   which the exchange turns into VECOZO's refusal of the provider's message.
//!   loket writes edition 0210, the exchange 0310.

#[macro_use]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::ggk::{Direction, Edition, Ggk, GgkOptions, Kind};
use common::vsp::{Berichtstatus, TestPki, Vsp, VspOptions};
use common::*;
use serde_json::{Value, json};
use sqlx::Row;
use uuid::Uuid;

on_both_backends!(
    a_month_through_the_exchange,
    payloads_failing_their_xsd_are_answered_with_fo01,
);

const AGB: &str = "73730112";
const GEMEENTE: &str = "0363";
/// How long loket may take for one step (pull loop, outbox).
const PATIENCE: Duration = Duration::from_secs(60);

/// The provider's contract with 0363 delivering to VECOZO, and the
/// municipality's mapping of the provider delivering through the GGk in
/// `edition`.
fn write_mappings(dir: &Path, vsp_base: &str, edition: &str) {
    exchange_mappings(
        dir,
        AGB,
        &format!("{{ vsp = \"{vsp_base}\" }}"),
        &format!("{{ stuf = \"{edition}\" }}"),
        "",
    );
}

/// One loket with both tenants, its outbox worker, VSP loops and StUF
/// listener, and the exchange between them.
struct Month {
    server: Server,
    worker: Option<loket::outbox::Worker>,
    vsp_loops: Option<loket::transport::vsp::service::Running>,
    stuf: Option<loket::transport::stuf::server::Running>,
    provider: Api,
    gemeente: Api,
    vsp: Vsp,
    ggk: Ggk,
    /// The municipality's allocation ids by ToewijzingNummer.
    granted: std::collections::HashMap<String, String>,
    _pki: TestPki,
    _dir: tempfile::TempDir,
}

impl Month {
    /// `writes`: the edition in the municipality's mapping (what loket
    /// writes); `reads`: the edition the exchange writes to loket.
    async fn start(db: Db, writes: &str, reads: Edition, opts: GgkOptions) -> Month {
        let pki = TestPki::new();
        let vsp = Vsp::start(&pki, VspOptions::default()).await;
        let ggk = Ggk::start(&pki, opts).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mappings = dir.path().join("mappings");
        write_mappings(&mappings, &vsp.base(), writes);
        let provider_cert = pki
            .client(AGB, &format!("Aanbieder {AGB}"))
            .write_pem(dir.path());
        let gemeente_cert = pki.service(GEMEENTE, "Gemeente 0363").write_pem(dir.path());
        let ca = pki.write_ca(dir.path());
        // `[[stuf]]` as the README documents it, read like loket.toml; the
        // rest of the configuration is the test's.
        let toml = format!(
            r#"
[[stuf]]
tenant = "{GEMEENTE}"
applicatie = "loket"
endpoint = "{endpoint}"
listen = "127.0.0.1:0"
certificate = "{chain}"
key = "{key}"
ca = ["{ca}"]
edition = "{writes}"
timeout_secs = 10

[[vsp]]
tenant = "{AGB}"
environment = "{base}"
certificate = "{pchain}"
key = "{pkey}"
ca = ["{ca}"]
poll_interval_secs = 1
max_backoff_secs = 2
batch = 250
status_interval_secs = 1
timeout_secs = 10
pull = true
"#,
            endpoint = ggk.endpoint(),
            chain = gemeente_cert.chain.display(),
            key = gemeente_cert.key.display(),
            ca = ca.display(),
            base = vsp.base(),
            pchain = provider_cert.chain.display(),
            pkey = provider_cert.key.display(),
        );
        let mut config: loket::config::Config =
            toml::from_str(&toml).expect("[[stuf]] and [[vsp]] as documented");
        config.mappings_dir = mappings;
        config.outbox = loket::outbox::Settings {
            retry_base_ms: 20,
            retry_max_ms: 300,
            poll_ms: 20,
            lease_ms: 30_000,
            http_timeout_ms: 10_000,
            ..loket::outbox::Settings::default()
        };
        let server = Server::start_with(db, config).await;
        let provider = server.tenant_api(AGB).await;
        let gemeente = server.tenant_api(GEMEENTE).await;
        let state = &server.state;
        let worker = state
            .outbox
            .start(state.ingest.clone(), state.metrics.clone())
            .expect("outbox worker");
        let vsp_loops = loket::transport::vsp::service::start(
            &state.outbox.vsp,
            &state.ingest,
            &state.outbox,
            &state.metrics,
        );
        let stuf =
            loket::transport::stuf::server::start(&state.outbox.stuf, &state.ingest, &state.outbox)
                .await
                .expect("the StUF listener");
        let (_, address) = stuf
            .addresses()
            .iter()
            .find(|(t, _)| t == GEMEENTE)
            .expect("0363's listener")
            .clone();
        ggk.municipality(
            GEMEENTE,
            &format!("https://{address}{}", common::ggk::PATH),
            reads,
            "loket",
        );
        Month {
            server,
            worker: Some(worker),
            vsp_loops: Some(vsp_loops),
            stuf: Some(stuf),
            provider,
            gemeente,
            vsp,
            ggk,
            granted: Default::default(),
            _pki: pki,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(s) = self.stuf.take() {
            s.stop().await;
        }
        if let Some(l) = self.vsp_loops.take() {
            l.stop().await;
        }
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
    }

    /// Outbox rows still to go (every tenant).
    async fn outbox_open(&self) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE state IN ('queued', 'sending')")
            .fetch_one(self.server.state.store().pool())
            .await
            .expect("outbox count")
            .try_get("n")
            .expect("n")
    }

    /// Waits until loket has nothing on its way: its outbox is empty (what
    /// the municipality sent is at the adapter) and the provider pulled
    /// everything waiting for it (its answers are queued before it
    /// confirms, so they are in the outbox by then).
    async fn loket_quiet(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.server.state.outbox.wake();
            if self.outbox_open().await == 0 && self.vsp.queue_len(AGB) == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "loket did not settle: {} outbox rows open, {} messages wait for the provider",
                self.outbox_open().await,
                self.vsp.queue_len(AGB)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Carries everything until both sides and the exchange are quiet.
    async fn settle(&self) {
        for _ in 0..50 {
            self.loket_quiet().await;
            let moved = self.ggk.pump(&self.vsp).await;
            assert_eq!(moved.pending, 0, "loket's listener unreachable: {moved:?}");
            if moved.moved() == 0 && self.ggk.waiting() == 0 {
                self.loket_quiet().await;
                if self.ggk.pump(&self.vsp).await.moved() == 0 {
                    return;
                }
            }
        }
        panic!("the exchange did not settle");
    }

    /// The municipality grants `products` to the provider; once carried,
    /// the provider's participant id.
    async fn grant(&mut self, bsn: &str, products: Value) -> String {
        let reply = self
            .gemeente
            .post_json(
                "/allocations",
                &json!({"aanbieder": AGB, "bsn": bsn, "client": client_json(), "products": products}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        self.remember(&reply.body);
        self.settle().await;
        self.provider.participant_by_bsn(bsn).await
    }

    fn remember(&mut self, body: &Value) {
        for a in body["allocations"].as_array().expect("allocations") {
            self.granted.insert(
                a["toewijzing_nummer"].as_str().expect("nummer").to_string(),
                a["id"].as_str().expect("id").to_string(),
            );
        }
    }

    /// The envelopes that crossed, as (direction, kind, functie).
    fn crossed(&self) -> Vec<(Direction, Kind, String)> {
        self.ggk
            .seen()
            .iter()
            .map(|s| {
                (
                    s.direction,
                    s.kind,
                    s.functie.clone().unwrap_or_else(|| "Fo01".into()),
                )
            })
            .collect()
    }

    /// The last envelope with this functie that went `direction`.
    fn last(&self, direction: Direction, functie: &str) -> common::ggk::Seen {
        self.ggk
            .seen()
            .into_iter()
            .rev()
            .find(|s| s.direction == direction && s.functie.as_deref() == Some(functie))
            .unwrap_or_else(|| panic!("no {functie} went {direction:?}: {:?}", self.crossed()))
    }

    async fn rows(&self, sql: &'static str, tenant: &str) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_all(self.server.state.store().pool())
            .await
            .expect("rows")
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .expect("text")
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        rows.sort();
        rows
    }

    /// Both parties hold the same declared lines with the same verdict:
    /// (ToewijzingNummer, status, D/C, volume, amount).
    async fn agree_on_declarations(&self) -> Vec<Vec<String>> {
        let provider = self
            .rows(
                "SELECT toewijzing_nummer, status, debet_credit, CAST(volume AS TEXT), CAST(bedrag_cents AS TEXT) \
                 FROM prestaties WHERE tenant_id = $1",
                AGB,
            )
            .await;
        let municipality = self
            .rows(
                "SELECT toewijzing_nummer, status, debet_credit, CAST(volume AS TEXT), CAST(bedrag_cents AS TEXT) \
                 FROM judged_prestaties WHERE tenant_id = $1",
                GEMEENTE,
            )
            .await;
        assert!(!provider.is_empty(), "declared lines");
        assert_eq!(
            provider, municipality,
            "both sides judged the same lines alike"
        );
        provider
    }

    /// Both parties hold the same allocations.
    async fn agree_on_allocations(&self) {
        const SQL: &str = "SELECT a.toewijzing_nummer, COALESCE(a.product_code, ''), a.ingangsdatum, COALESCE(a.einddatum, ''), \
                   COALESCE(CAST(a.volume AS TEXT), ''), COALESCE(a.eenheid, ''), COALESCE(a.frequentie, ''), \
                   COALESCE(a.reden_wijziging, ''), a.status FROM allocations a WHERE a.tenant_id = $1";
        let provider = self.rows(SQL, AGB).await;
        let municipality = self.rows(SQL, GEMEENTE).await;
        assert!(!provider.is_empty(), "allocations");
        assert_eq!(
            provider, municipality,
            "both sides hold the same allocations"
        );
    }

    /// The message's exchange identifiers in loket: (traceer_id, als_antwoord_op).
    async fn identifiers(
        &self,
        tenant: &str,
        bericht: &str,
        direction: &str,
    ) -> Vec<(String, String)> {
        sqlx::query(
            "SELECT COALESCE(traceer_id, '') AS t, COALESCE(als_antwoord_op, '') AS a FROM messages \
             WHERE tenant_id = $1 AND bericht = $2 AND direction = $3 ORDER BY created_at",
        )
        .bind(tenant)
        .bind(bericht)
        .bind(direction)
        .fetch_all(self.server.state.store().pool())
        .await
        .expect("identifiers")
        .iter()
        .map(|r| (r.try_get("t").expect("t"), r.try_get("a").expect("a")))
        .collect()
    }
}

fn client_json() -> Value {
    json!({
        "geboortedatum": "2001-04-03", "geslacht": "2", "achternaam": "Voorbeeld", "voorletters": "J",
        "adres": {"straatnaam": "Dorpsstraat", "huisnummer": 12, "postcode": "1011 AB", "plaatsnaam": "Amsterdam"},
    })
}

/// `retour` answers `heen`: a Di01, and the Du01 whose crossRefnummer is
/// its referentienummer.
fn answers(heen: &common::ggk::Seen, retour: &common::ggk::Seen) {
    assert_eq!(heen.kind, Kind::Di01, "{:?}", heen.functie);
    assert_eq!(retour.kind, Kind::Du01, "{:?}", retour.functie);
    assert_eq!(
        retour.cross_ref.as_deref(),
        Some(heen.referentienummer.as_str()),
        "{:?} answers {:?}",
        retour.functie,
        heen.functie
    );
}

/// Registers (participant, day, until) from 09:00 with `activity`.
async fn register(api: &Api, days: &[(&str, &str, &str)], activity: &str) {
    let items: Vec<(&str, &str, &str, &str, &str)> = days
        .iter()
        .map(|(p, d, to)| (*p, *d, "09:00", *to, activity))
        .collect();
    api.days(&items).await;
}

async fn a_month_through_the_exchange(db: Db) {
    let mut x = Month::start(db, "0310", Edition::E0210, GgkOptions::default()).await;
    let bsn = "999900304";

    // The municipality grants dagbesteding (6 dagdelen a week) and 20 hours
    // of begeleiding in all: a 301 in a Di01, the provider's 302 in a Du01.
    let p = x
        .grant(
            bsn,
            json!([
                {"toewijzing_nummer": "990001", "categorie": "07", "code": "07A12",
                 "toewijzingsdatum": "2026-02-20", "ingangsdatum": "2026-03-01", "einddatum": "2026-12-31",
                 "omvang": {"volume": 6, "eenheid": "16", "frequentie": "2"}},
                {"toewijzing_nummer": "990002", "categorie": "02", "code": "02A04",
                 "toewijzingsdatum": "2026-02-20", "ingangsdatum": "2026-03-01", "einddatum": "2026-12-31",
                 "omvang": {"volume": 20, "eenheid": "04", "frequentie": "6"}},
            ]),
        )
        .await;
    let heen = x.last(Direction::FromMunicipality, "WMO301");
    let retour = x.last(Direction::ToMunicipality, "WMO302");
    answers(&heen, &retour);
    assert_eq!(
        heen.edition,
        Some(Edition::E0310),
        "loket writes its mapping's edition"
    );
    assert_eq!(heen.ontvanger, AGB);
    // loket keeps the envelopes' numbers: its 301 under the referentienummer
    // it chose, the 302 under the exchange's, answering the 301's.
    assert_eq!(
        x.identifiers(GEMEENTE, "WMO301", "out").await,
        vec![(heen.referentienummer.clone(), String::new())]
    );
    assert_eq!(
        x.identifiers(GEMEENTE, "WMO302", "in").await,
        vec![(
            retour.referentienummer.clone(),
            heen.referentienummer.clone()
        )]
    );

    // Begeleiding on Mondays, 3 hours each (12 of the 20); dagbesteding on
    // two Tuesdays. The start (305) goes, its 306 comes back.
    let monday = |d: &'static str, to: &'static str| (p.as_str(), d, to);
    register(
        &x.provider,
        &[
            monday("2026-03-02", "12:00"),
            monday("2026-03-09", "12:00"),
            monday("2026-03-16", "12:00"),
            monday("2026-03-23", "12:00"),
        ],
        "begeleiding-individueel",
    )
    .await;
    register(
        &x.provider,
        &[(&p, "2026-03-03", "12:00"), (&p, "2026-03-10", "12:00")],
        "kas",
    )
    .await;
    let run = x
        .provider
        .post_json("/startstop/run", &json!({ "date": "2026-03-11" }))
        .await;
    assert_eq!(run.status, 200, "{}", run.body);
    x.settle().await;
    let start = x.last(Direction::ToMunicipality, "WMO305");
    answers(&start, &x.last(Direction::FromMunicipality, "WMO306"));
    assert_eq!(start.edition, Some(Edition::E0210));
    assert_eq!(
        x.identifiers(GEMEENTE, "WMO305", "in").await,
        vec![(start.referentienummer.clone(), String::new())]
    );

    // The month declared (323). The municipality lowers the begeleiding to
    // 8 hours in all before the declaration reaches it: its 325 rejects the
    // line beyond that and approves the dagbesteding.
    let declared = x.provider.run("2026-03", "2026-04-03").await;
    assert_eq!(
        declared["declarations"]
            .as_array()
            .expect("declarations")
            .len(),
        1,
        "{declared}"
    );
    x.loket_quiet().await;
    let id = x.granted["990002"].clone();
    let change = x
        .gemeente
        .post_json(
            &format!("/allocations/{id}/change"),
            &json!({"reden": "14", "omvang": {"volume": 8, "eenheid": "04", "frequentie": "6"}}),
        )
        .await;
    assert_eq!(change.status, 201, "{}", change.body);
    x.remember(&change.body);
    x.settle().await;
    let answer = x.last(Direction::FromMunicipality, "WMO325");
    let declaration = x.last(Direction::ToMunicipality, "WMO323");
    answers(&declaration, &answer);
    let answer_xml = String::from_utf8(answer.payload.clone()).expect("utf-8");
    assert!(
        answer_xml.contains("990002") && !answer_xml.contains("990001"),
        "only the begeleiding rejected: {answer_xml}"
    );
    assert!(
        answer_xml.contains("9322") || answer_xml.contains("9321"),
        "{answer_xml}"
    );
    // The provider applied the 325: the rejection waits in its review queue.
    let review = x.provider.get("/review?kind=rejected_prestatie").await;
    let items = review.body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{}", review.body);
    x.agree_on_declarations().await;

    // The provider corrects: two Mondays were one hour (8 in all), and the
    // second Tuesday a whole day (two dagdelen: the approved line is
    // credited and declared again).
    register(
        &x.provider,
        &[monday("2026-03-16", "10:00"), monday("2026-03-23", "10:00")],
        "begeleiding-individueel",
    )
    .await;
    register(&x.provider, &[(&p, "2026-03-10", "17:00")], "kas").await;
    let item = items[0]["id"].as_str().expect("id");
    let resolved = x
        .provider
        .post_json(
            &format!("/review/{item}/resolve"),
            &json!({"resolved_by": "Anna", "note": "registratie gecorrigeerd"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    let again = x.provider.run("2026-03", "2026-04-10").await;
    assert_eq!(
        again["declarations"]
            .as_array()
            .expect("declarations")
            .len(),
        1,
        "{again}"
    );
    x.settle().await;
    let correction =
        String::from_utf8(x.last(Direction::ToMunicipality, "WMO323").payload).expect("utf-8");
    assert!(
        correction.contains("DebetCredit>C<") && correction.contains("DebetCredit>D<"),
        "a credit and a debit: {correction}"
    );
    let second =
        String::from_utf8(x.last(Direction::FromMunicipality, "WMO325").payload).expect("utf-8");
    assert!(
        !second.contains("<wmo325:Client>"),
        "approved in full: {second}"
    );

    // Both records agree, line by line and allocation by allocation.
    let lines = x.agree_on_declarations().await;
    assert!(
        lines
            .iter()
            .any(|l| l[0] == "990002" && l[1] == "approved" && l[2] == "D"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l[0] == "990001" && l[2] == "C"),
        "{lines:?}"
    );
    x.agree_on_allocations().await;

    // Every leg went the exchange's way: heenberichten as Di01, retours as
    // Du01, nothing refused, nothing sent twice.
    let crossed = x.crossed();
    for (direction, kind, functie) in &crossed {
        let retour = common::ggk::envelope::is_retour(functie);
        assert_eq!(
            *kind == Kind::Du01,
            retour,
            "{direction:?} {kind:?} {functie}"
        );
    }
    let count = |d: Direction, f: &str| {
        crossed
            .iter()
            .filter(|(dd, _, ff)| *dd == d && ff == f)
            .count()
    };
    assert_eq!(
        count(Direction::FromMunicipality, "WMO301"),
        2,
        "{crossed:?}"
    );
    assert_eq!(count(Direction::ToMunicipality, "WMO302"), 2, "{crossed:?}");
    assert_eq!(count(Direction::ToMunicipality, "WMO323"), 2, "{crossed:?}");
    assert_eq!(
        count(Direction::FromMunicipality, "WMO325"),
        2,
        "{crossed:?}"
    );
    assert!(
        x.ggk.refused_by_municipality().is_empty(),
        "{:?}",
        x.ggk.refused_by_municipality()
    );
    assert!(x.ggk.violations().is_empty(), "{:?}", x.ggk.violations());
    // The municipality's outbox shows its messages delivered over StUF.
    let list = x.gemeente.get("/outbox?limit=50").await;
    assert_eq!(list.status, 200, "{}", list.body);
    for item in list.body["items"].as_array().expect("items") {
        assert_eq!(item["state"], "sent", "{item}");
        assert_eq!(item["target"]["kind"], "stuf", "{item}");
    }
    assert!(!captured_logs().contains(bsn), "a BSN in the logs");
    x.stop().await;
}

async fn payloads_failing_their_xsd_are_answered_with_fo01(db: Db) {
    // VECOZO's own payload check off, so a provider's broken payload
    // reaches the municipality and loket's own check answers it.
    let mut x = Month::start(
        db,
        "0210",
        Edition::E0310,
        GgkOptions {
            check_provider_payloads: false,
        },
    )
    .await;
    let p = x
        .grant(
            "999900018",
            json!([{"toewijzing_nummer": "990011", "categorie": "07", "code": "07A12",
                    "toewijzingsdatum": "2026-02-20", "ingangsdatum": "2026-03-01", "einddatum": "2026-12-31",
                    "omvang": {"volume": 6, "eenheid": "16", "frequentie": "2"}}]),
        )
        .await;
    let heen = x.last(Direction::FromMunicipality, "WMO301");
    assert_eq!(
        heen.edition,
        Some(Edition::E0210),
        "loket writes its mapping's edition"
    );

    // The provider's start fails its XSD at VECOZO (loket writes none that
    // fail; the exchange is told to take this one as failing): refused
    // there, and a review item at the provider with the code explained.
    register(&x.provider, &[(&p, "2026-03-03", "12:00")], "kas").await;
    x.ggk.fail_payload("WMO305");
    let run = x
        .provider
        .post_json("/startstop/run", &json!({ "date": "2026-03-11" }))
        .await;
    assert_eq!(run.status, 200, "{}", run.body);
    x.settle().await;
    assert!(
        !x.crossed().iter().any(|(_, _, f)| f == "WMO305"),
        "the refused start never reached the municipality"
    );
    refused_at(&x.provider, "IB014").await;

    // The municipality's change (a 301) fails its XSD at the exchange: a
    // Fo01 comes back and becomes a review item at the municipality.
    x.ggk.fail_payload("WMO301");
    let id = x.granted["990011"].clone();
    let change = x
        .gemeente
        .post_json(
            &format!("/allocations/{id}/change"),
            &json!({"reden": "04", "einddatum": "2027-06-30"}),
        )
        .await;
    assert_eq!(change.status, 201, "{}", change.body);
    x.settle().await;
    let heen = x.last(Direction::FromMunicipality, "WMO301");
    let fo01 = x
        .ggk
        .seen()
        .into_iter()
        .find(|s| s.direction == Direction::ToMunicipality && s.kind == Kind::Fo01)
        .expect("a Fo01 to the municipality");
    assert_eq!(
        fo01.cross_ref.as_deref(),
        Some(heen.referentienummer.as_str())
    );
    assert_eq!(
        x.identifiers(AGB, "WMO301", "in").await.len(),
        1,
        "the refused 301 never reached the provider"
    );
    refused_at(&x.gemeente, common::ggk::PAYLOAD_XSD).await;
    // Its outbox item shows the refusal too.
    let list = x.gemeente.get("/outbox?limit=10").await;
    let item = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["bericht"] == "WMO301")
        .expect("the refused 301")
        .clone();
    let item = x
        .gemeente
        .get(&format!("/outbox/{}", item["id"].as_str().expect("id")))
        .await
        .body;
    assert_schema("outbox-item", &item);
    assert_eq!(
        item["exchange"]["meldingen"][0]["code"],
        common::ggk::PAYLOAD_XSD,
        "{item:#}"
    );

    // A provider's 305 whose payload fails its XSD, pushed by other
    // software of the provider: loket (the municipality) answers with a Fo01
    // with StUF055, and VECOZO reports the refusal to the provider.
    let xml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/iwmo/valid/WMO305_start.xml"),
    )
    .expect("fixture")
    .replace(">0200<", ">0363<")
    .replacen("<wmo305:Bsn>", "<wmo305:Bsn>x", 1);
    let traceer = Uuid::new_v4();
    x.vsp.enqueue(
        GEMEENTE,
        ("Instelling", AGB),
        common::vsp::berichtstroom("WMO", "WMO305", 3, 2, "StartZorg"),
        xml.as_bytes(),
        Uuid::new_v4(),
        traceer,
        None,
    );
    x.settle().await;
    let di01 = x.last(Direction::ToMunicipality, "WMO305");
    let answer = x
        .ggk
        .seen()
        .into_iter()
        .find(|s| s.direction == Direction::FromMunicipality && s.kind == Kind::Fo01)
        .expect("the municipality's Fo01");
    assert_eq!(
        answer.cross_ref.as_deref(),
        Some(di01.referentienummer.as_str())
    );
    assert_eq!(answer.fout.as_ref().map(|f| f.0.as_str()), Some("StUF055"));
    assert_eq!(answer.ontvanger, AGB);
    assert_eq!(
        x.vsp.status(traceer),
        Some(Berichtstatus::AfgekeurdDoorDienst)
    );
    assert!(x.ggk.violations().is_empty(), "{:?}", x.ggk.violations());
    x.stop().await;
}

/// Waits for the review item that says the exchange refused a message of
/// `api`'s tenant with `code`, explained.
async fn refused_at(api: &Api, code: &str) {
    let review = || async {
        let r = api.get("/review?kind=exchange_refused").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"].as_array().cloned().unwrap_or_default()
    };
    until(
        &format!("a review item at {} for the refusal", api.tenant),
        PATIENCE,
        || async { !review().await.is_empty() },
    )
    .await;
    let items = review().await;
    assert_eq!(items.len(), 1, "{items:?}");
    let text = items[0].to_string();
    assert!(text.contains(code), "the code: {text}");
    assert!(text.contains("XSD"), "explained: {text}");
}
