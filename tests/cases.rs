//! The Zorginstituut's case descriptions for iWmo 3.2 and iJw 3.2
//! (casusbeschrijvingen), replayed end to end, each in its iWmo and its iJw
//! reading (with the iJw codes where the document uses iWmo ones), plus the
//! situations around them that a provider meets every week.
//!
//! A provider tenant and a municipality tenant of the same loket talk to
//! each other the way they would through the exchange: the provider's
//! outbox delivers into a folder, which is the municipality's drop-folder
//! inbox; the municipality's retourbericht goes into the provider's
//! drop-folder inbox. The municipality's outbox delivers into the provider's
//! inbox in turn (its mapping subdirectory names the provider, kind
//! aanbieder), and each side's retours are carried to the other's inbox.
//! Every step is driven by loket's own features on both sides: the
//! municipality grants, changes and withdraws with `POST /allocations`,
//! answers requests and judges declarations; the provider registers, ends
//! care and runs its start/stop and declaration runs. Every message carried
//! is written to `LOKET_EMIT_DIR` for CI's official XSD check, and at the
//! end of each case both parties hold the same allocations and the same
//! current starts and stops.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use loket::transport::dropfolder::DropFolder;
use serde_json::{Value, json};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    casus_1_extended_allocation_stop_repeats_the_start_wmo,
    casus_1_extended_allocation_stop_repeats_the_start_jw,
    casus_2_temporary_then_definitive_stop_same_end_wmo,
    casus_2_temporary_then_definitive_stop_same_end_jw,
    casus_3_temporary_then_definitive_stop_later_end_wmo,
    casus_3_temporary_then_definitive_stop_later_end_jw,
    casus_4_stop_corrected_in_one_message_wmo,
    casus_4_stop_corrected_in_one_message_jw,
    restart_after_a_temporary_stop,
    early_end_by_the_municipality_stops_with_36_wmo,
    early_end_by_the_municipality_stops_with_36_jw,
    a_hand_made_stop_is_judged_and_recorded,
    a_rejected_start_waits_for_the_review,
    a_rejected_stop_is_sent_again_once_reviewed,
    withdrawn_and_replaced_wmo,
    withdrawn_and_replaced_jw,
    a_declared_line_rejected_corrected_and_approved,
    verzoek_om_toewijzing_honoured_for_one_product_rejected_for_another,
    verzoek_om_wijziging_rejected_then_honoured,
);

const AGB: &str = "73730112";

/// The law a case runs under: its messages' prefix, municipality, product
/// and activity from the project's own mappings, and the codes that differ.
#[derive(Clone, Copy)]
struct Law {
    prefix: &'static str,
    gemeente: &'static str,
    categorie: &'static str,
    code: &'static str,
    /// Volume, eenheid, frequentie of the allocation.
    omvang: (&'static str, &'static str, &'static str),
    activity: &'static str,
    /// RedenBeeindiging: as planned, in agreement, by the provider.
    volgens_plan: &'static str,
    in_overleg: &'static str,
    door_aanbieder: &'static str,
}

/// iWmo: dagbesteding (07A12) at gemeente 0363, 6 dagdelen a week.
const WMO: Law = Law {
    prefix: "WMO",
    gemeente: "0363",
    categorie: "07",
    code: "07A12",
    omvang: ("6", "16", "2"),
    activity: "kas",
    volgens_plan: "19",
    in_overleg: "23",
    door_aanbieder: "22",
};

/// iJw: ambulante jeugdhulp (45A45) at gemeente 0599, 3 hours a week; the
/// JZ588 codes for the same meanings.
const JW: Law = Law {
    prefix: "JW",
    gemeente: "0599",
    categorie: "45",
    code: "45A45",
    omvang: ("3", "04", "2"),
    activity: "jeugdhulp-specialistisch",
    volgens_plan: "31",
    in_overleg: "34",
    door_aanbieder: "33",
};

/// One loket with a provider and the municipalities, wired through folders.
struct Exchange {
    server: Server,
    worker: Option<loket::outbox::Worker>,
    provider: Api,
    gemeenten: Vec<(Api, DropFolder)>,
    provider_inbox: DropFolder,
    /// Retours already handed to the provider.
    carried: HashSet<PathBuf>,
    /// Every message the exchange carried, in order: (bericht, xml).
    log: Vec<(String, String)>,
    /// The municipality's allocation ids by ToewijzingNummer.
    granted: HashMap<String, String>,
    _dir: tempfile::TempDir,
}

impl Exchange {
    async fn start(db: Db) -> Exchange {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        // The project's own mappings, delivering into each municipality's
        // inbox instead of over HTTP.
        let mappings = root.join("mappings");
        std::fs::create_dir_all(&mappings).expect("mappings dir");
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        for gemeente in ["0363", "0599"] {
            let inbox = root.join(format!("gemeente-{gemeente}"));
            std::fs::create_dir_all(&inbox).expect("inbox");
            for entry in std::fs::read_dir(&project).expect("project mappings") {
                let path = entry.expect("entry").path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if !name.starts_with(&format!("gemeente-{gemeente}-")) || !name.ends_with(".toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("mapping");
                let text = text
                    .lines()
                    .map(|l| {
                        if l.starts_with("delivery = ") {
                            format!("delivery = {{ folder = \"{}\" }}", inbox.display())
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                std::fs::write(mappings.join(&name), text).expect("write mapping");
            }
        }
        // Each municipality's counterpart: the provider, delivered into its
        // inbox.
        let provider_dir = root.join("aanbieder");
        std::fs::create_dir_all(&provider_dir).expect("provider inbox");
        for (gemeente, standard) in [("0363", "iwmo"), ("0599", "ijw")] {
            let own = mappings.join(gemeente);
            std::fs::create_dir_all(&own).expect("municipality mappings");
            std::fs::write(
                own.join(format!("aanbieder-{AGB}.toml")),
                provider_mapping(gemeente, standard, &provider_dir),
            )
            .expect("write provider mapping");
        }
        let config = loket::config::Config {
            mappings_dir: mappings,
            outbox: loket::outbox::Settings {
                retry_base_ms: 20,
                retry_max_ms: 200,
                poll_ms: 20,
                ..loket::outbox::Settings::default()
            },
            ..loket::config::Config::default()
        };
        let server = Server::start_with(db, config).await;
        let provider = server.tenant_api(AGB).await;
        let mut gemeenten = Vec::new();
        for gemeente in ["0363", "0599"] {
            let api = server.tenant_api(gemeente).await;
            let inbox = DropFolder::open(
                server.state.ingest.clone(),
                &loket::transport::dropfolder::DropfolderConfig {
                    tenant: gemeente.into(),
                    inbox: root.join(format!("gemeente-{gemeente}")),
                },
            )
            .await
            .expect("municipality inbox");
            gemeenten.push((api, inbox));
        }
        let provider_inbox = DropFolder::open(
            server.state.ingest.clone(),
            &loket::transport::dropfolder::DropfolderConfig {
                tenant: AGB.into(),
                inbox: provider_dir,
            },
        )
        .await
        .expect("provider inbox");
        let worker = server
            .state
            .outbox
            .start(server.state.ingest.clone(), server.state.metrics.clone())
            .expect("outbox worker");
        Exchange {
            server,
            worker: Some(worker),
            provider,
            gemeenten,
            provider_inbox,
            carried: HashSet::new(),
            log: Vec::new(),
            granted: HashMap::new(),
            _dir: dir,
        }
    }

    fn gemeente(&self, code: &str) -> &Api {
        &self
            .gemeenten
            .iter()
            .find(|(a, _)| a.tenant == code)
            .expect("municipality")
            .0
    }

    /// The municipality grants `allocs` to the provider (`POST
    /// /allocations`); once the exchange carried the 301, returns the
    /// provider's participant id.
    async fn grant(&mut self, law: Law, bsn: &str, allocs: &[Alloc<'_>]) -> String {
        let products: Vec<Value> = allocs.iter().map(|a| grant_product(a)).collect();
        let reply = self
            .gemeente(law.gemeente)
            .post_json(
                "/allocations",
                &json!({"aanbieder": AGB, "bsn": bsn, "client": client_json(), "products": products}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_schema("grant-result", &reply.body);
        self.remember(&reply.body);
        self.settle().await;
        self.provider.participant_by_bsn(bsn).await
    }

    fn remember(&mut self, body: &Value) {
        for a in body["allocations"].as_array().expect("allocations") {
            self.granted.insert(
                a["toewijzing_nummer"].as_str().unwrap().to_string(),
                a["id"].as_str().unwrap().to_string(),
            );
        }
    }

    /// The municipality changes its allocation `nummer` (`POST
    /// /allocations/{id}/change`) and the exchange carries the 301.
    async fn change(&mut self, law: Law, nummer: &str, change: Value) -> Value {
        let id = self
            .granted
            .get(nummer)
            .expect("a granted allocation")
            .clone();
        let reply = self
            .gemeente(law.gemeente)
            .post_json(&format!("/allocations/{id}/change"), &change)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_schema("grant-result", &reply.body);
        self.remember(&reply.body);
        self.settle().await;
        reply.body
    }

    /// Carries everything in flight until both sides are quiet: each
    /// outbox delivers into the other side's inbox, the inboxes take the
    /// messages in and answer, and every retour goes to the inbox of the
    /// party it answers.
    async fn settle(&mut self) {
        for _ in 0..6 {
            self.wait_for_outbox().await;
            for (_, inbox) in &mut self.gemeenten {
                inbox.poll_once().await;
            }
            self.provider_inbox.poll_once().await;
            let mut moved = 0;
            let mut parties: Vec<(String, PathBuf)> = self
                .gemeenten
                .iter()
                .map(|(api, inbox)| (api.tenant.clone(), inbox.inbox().to_path_buf()))
                .collect();
            parties.push((AGB.to_string(), self.provider_inbox.inbox().to_path_buf()));
            for (owner, inbox) in &parties {
                let Ok(entries) = std::fs::read_dir(inbox.join("processed")) else {
                    continue;
                };
                let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                paths.sort();
                for path in paths {
                    if !self.carried.insert(path.clone()) {
                        continue;
                    }
                    let name = path.file_name().unwrap().to_string_lossy().to_string();
                    let xml = std::fs::read_to_string(&path).expect("read processed");
                    let msg = decode(&xml);
                    // A retour goes to whom it is addressed (a 302 ... 320
                    // repeats the header of what it answers, a 325 names
                    // the provider as Ontvanger); one this party received
                    // is addressed to itself.
                    let to = loket::record::answers::addressee(&msg)
                        .unwrap_or_default()
                        .to_string();
                    if !name.ends_with(".retour.xml") || to == *owner {
                        let stem = name.trim_end_matches(".xml");
                        emit(&xml, false, &format!("{}-case-{stem}", msg.name()));
                        self.log.push((msg.name().to_string(), xml.clone()));
                        continue;
                    }
                    let stem = name.trim_end_matches(".xml");
                    emit(&xml, false, &format!("{}-case-{owner}-{stem}", msg.name()));
                    self.log.push((msg.name().to_string(), xml.clone()));
                    let target = parties
                        .iter()
                        .find(|(p, _)| *p == to)
                        .map(|(_, dir)| dir.clone())
                        .unwrap_or_else(|| panic!("no party {to}"));
                    let tmp = target.join(format!(".{owner}-{name}"));
                    std::fs::write(&tmp, &xml).expect("write retour");
                    std::fs::rename(&tmp, target.join(format!("{owner}-{name}")))
                        .expect("publish retour");
                    moved += 1;
                }
            }
            if moved == 0 {
                return;
            }
            for (_, inbox) in &mut self.gemeenten {
                inbox.poll_once().await;
            }
            self.provider_inbox.poll_once().await;
        }
    }

    async fn wait_for_outbox(&self) {
        for _ in 0..500 {
            let pending: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM outbox WHERE state IN ('queued', 'sending')",
            )
            .fetch_one(self.server.state.store().pool())
            .await
            .expect("outbox count")
            .try_get("n")
            .expect("n");
            if pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the outbox did not empty");
    }

    /// Registers present days with the law's activity.
    async fn attend(&self, law: Law, participant: &str, days: &[&str]) {
        let items: Vec<(&str, &str, &str, &str, &str)> = days
            .iter()
            .map(|d| (participant, *d, "09:00", "12:00", law.activity))
            .collect();
        self.provider.days(&items).await;
    }

    /// Registers the end of care.
    async fn end(&self, participant: &str, date: &str, reason: &str) {
        let reply = self
            .provider
            .post_json(
                &format!("/participants/{participant}/end"),
                &json!({"date": date, "reason": reason, "registered_by": "Anna"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    /// The daily start/stop run on `date`, then the exchange carries what
    /// it sent. Returns the run's report.
    async fn run(&mut self, date: &str) -> Value {
        let reply = self
            .provider
            .post_json("/startstop/run", &json!({ "date": date }))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_schema("startstop-run-result", &reply.body);
        self.server.state.outbox.wake();
        self.settle().await;
        reply.body
    }

    /// The last message of this kind the exchange carried, decoded.
    fn last(&self, bericht: &str) -> loket::message::Message {
        let (_, xml) = self
            .log
            .iter()
            .rev()
            .find(|(b, _)| b == bericht)
            .unwrap_or_else(|| panic!("no {bericht} was carried: {:?}", self.berichten()));
        decode(xml)
    }

    fn berichten(&self) -> Vec<&str> {
        self.log.iter().map(|(b, _)| b.as_str()).collect()
    }

    /// Every retour the municipality sent accepted its message.
    fn all_accepted(&self) {
        for (bericht, xml) in &self.log {
            if ["302", "306", "308"].iter().any(|n| bericht.ends_with(n)) {
                let codes = retourcodes(xml);
                assert!(
                    codes.iter().all(|c| c == "0200"),
                    "{bericht} rejected with {codes:?}:\n{xml}"
                );
            }
        }
    }

    /// Both parties hold the same allocations (numbers, products, dates,
    /// volumes, reasons, status) and the same current starts and stops.
    async fn records_agree(&self, gemeente: &str) {
        let provider = allocations(&self.server, AGB, "f.code = $2", gemeente).await;
        let municipality = allocations(&self.server, gemeente, "a.aanbieder = $2", AGB).await;
        assert!(!provider.is_empty(), "the provider holds allocations");
        assert_eq!(
            provider, municipality,
            "provider and municipality agree on the allocations"
        );
        let provider = deliveries(&self.server, AGB).await;
        let municipality = deliveries(&self.server, gemeente).await;
        assert_eq!(
            provider, municipality,
            "provider and municipality agree on the current starts and stops"
        );
    }

    /// Both parties hold the same declared lines with the same verdict:
    /// (ToewijzingNummer, status, D/C, volume, amount) per line.
    async fn agree_on_declarations(&self, gemeente: &str) -> Vec<Vec<String>> {
        let lines = |sql: &'static str, tenant: String| async move {
            let mut rows: Vec<Vec<String>> = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant)
                .fetch_all(self.server.state.store().pool())
                .await
                .expect("lines")
                .iter()
                .map(|r| (0..5).map(|i| r.try_get::<String, _>(i).unwrap()).collect())
                .collect();
            rows.sort();
            rows
        };
        let provider = lines(
            "SELECT toewijzing_nummer, status, debet_credit, CAST(volume AS TEXT), CAST(bedrag_cents AS TEXT) \
             FROM prestaties WHERE tenant_id = $1",
            AGB.to_string(),
        )
        .await;
        let municipality = lines(
            "SELECT toewijzing_nummer, status, debet_credit, CAST(volume AS TEXT), CAST(bedrag_cents AS TEXT) \
             FROM judged_prestaties WHERE tenant_id = $1",
            gemeente.to_string(),
        )
        .await;
        assert!(!provider.is_empty(), "declared lines");
        assert_eq!(
            provider, municipality,
            "both sides judged the same lines alike"
        );
        provider
    }

    async fn stop(mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
    }
}

/// A tenant's allocations as both sides keep them: (ToewijzingNummer,
/// product, Ingangsdatum, Einddatum, volume, eenheid, frequentie, budget,
/// RedenWijziging, status). `filter` selects the counterpart (`$2`).
async fn allocations(
    server: &Server,
    tenant: &str,
    filter: &str,
    counterpart: &str,
) -> BTreeSet<Vec<String>> {
    let sql = format!(
        "SELECT a.toewijzing_nummer, COALESCE(a.product_categorie, '') || '/' || COALESCE(a.product_code, '') AS p, \
         a.ingangsdatum, COALESCE(a.einddatum, '') AS e, COALESCE(CAST(a.volume AS TEXT), '') AS v, \
         COALESCE(a.eenheid, '') AS u, COALESCE(a.frequentie, '') AS fr, COALESCE(CAST(a.budget AS TEXT), '') AS b, \
         COALESCE(a.reden_wijziging, '') AS r, a.status \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id WHERE a.tenant_id = $1 AND {filter}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(counterpart)
        .fetch_all(server.state.store().pool())
        .await
        .expect("allocations")
        .iter()
        .map(|r| {
            (0..10)
                .map(|i| r.try_get::<String, _>(i).unwrap())
                .collect()
        })
        .collect()
}

/// A municipality's provider mapping (kind aanbieder) delivering into the
/// provider's inbox.
/// Its products and tariffs are the contract's, as the provider's own
/// mapping has them (the project's `gemeente-*.toml`), so the municipality
/// judges the tariffs too (TR418, TR346).
fn provider_mapping(gemeente: &str, standard: &str, inbox: &Path) -> String {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let contract = std::fs::read_dir(&project)
        .expect("project mappings")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!("gemeente-{gemeente}-"))
            }) && std::fs::read_to_string(p)
                .is_ok_and(|t| t.contains(&format!("standard = \"{standard}\"")))
        })
        .expect("the contract");
    let text = std::fs::read_to_string(contract).expect("contract");
    let products = &text[text.find("[[products]]").expect("products")..];
    format!(
        "[financier]\nkind = \"aanbieder\"\ncode = \"{AGB}\"\nname = \"Aanbieder {AGB} (gemeente {gemeente})\"\n\
         standard = \"{standard}\"\ndelivery = {{ folder = \"{}\" }}\n\n{products}",
        inbox.display()
    )
}

/// The client a case's municipality grants to: name and BRP address.
fn client_json() -> Value {
    json!({
        "geboortedatum": "2001-04-03", "geslacht": "2", "achternaam": "Voorbeeld", "voorletters": "J",
        "adres": {"straatnaam": "Dorpsstraat", "huisnummer": 12, "postcode": "1011 AB", "plaatsnaam": "Amsterdam"},
    })
}

fn grant_product(a: &Alloc<'_>) -> Value {
    let mut p = json!({
        "toewijzing_nummer": a.nummer, "categorie": a.categorie, "code": a.code,
        "toewijzingsdatum": "2022-12-20", "ingangsdatum": a.ingang,
    });
    if let Some(e) = a.eind {
        p["einddatum"] = json!(e);
    }
    if let Some((v, e, f)) = a.omvang {
        p["omvang"] = json!({"volume": v.parse::<i64>().unwrap(), "eenheid": e, "frequentie": f});
    }
    p
}

/// The current starts and stops a tenant holds, without its own keys.
async fn deliveries(
    server: &Server,
    tenant: &str,
) -> BTreeSet<(String, String, String, String, String)> {
    sqlx::query(
        "SELECT kind, toewijzing_nummer, begindatum, COALESCE(einddatum, '') AS e, \
         COALESCE(reden_beeindiging, '') AS r FROM deliveries WHERE tenant_id = $1 AND current = 1",
    )
    .bind(tenant)
    .fetch_all(server.state.store().pool())
    .await
    .expect("deliveries")
    .iter()
    .map(|r| {
        (
            r.try_get("kind").unwrap(),
            r.try_get("toewijzing_nummer").unwrap(),
            r.try_get("begindatum").unwrap(),
            r.try_get("e").unwrap(),
            r.try_get("r").unwrap(),
        )
    })
    .collect()
}

/// The text of the first `element` (whatever its namespace prefix).
fn value_of(xml: &str, element: &str) -> String {
    let open = format!(":{element}>");
    let at = xml.find(&open).expect("element") + open.len();
    xml[at..].split('<').next().unwrap_or_default().to_string()
}

/// `xml` with the first `element` whose text is `old` set to `new`.
fn with_value(xml: &str, element: &str, old: &str, new: &str) -> String {
    let from = format!(":{element}>{old}<");
    assert!(xml.contains(&from), "{element} {old} in the message");
    xml.replacen(&from, &format!(":{element}>{new}<"), 1)
}

fn decode(xml: &str) -> loket::message::Message {
    let checked = loket::adapter::istandaard::check(
        loket::schema::Schema::builtin().unwrap(),
        xml.as_bytes(),
        &loket::adapter::istandaard::Limits::default(),
    )
    .expect("carried message decodes");
    assert!(checked.findings.is_empty(), "{:?}\n{xml}", checked.findings);
    checked.message
}

fn retourcodes(xml: &str) -> Vec<String> {
    xml.split("RetourCode>")
        .skip(1)
        .step_by(2)
        .filter_map(|s| s.split('<').next())
        .map(str::to_string)
        .collect()
}

fn product<'a>(law: Law, nummer: &'a str, ingang: &'a str, eind: Option<&'a str>) -> Alloc<'a> {
    Alloc {
        nummer,
        categorie: law.categorie,
        code: law.code,
        ingang,
        eind,
        omvang: Some(law.omvang),
        reden: None,
    }
}

/// The StopProducts of the last 307, as (status, begindatum, reden, einddatum).
fn stops(x: &Exchange, law: Law) -> Vec<(String, String, String, String)> {
    let msg = x.last(&format!("{}307", law.prefix));
    msg.root()
        .all("Client/StopProducten/StopProduct")
        .iter()
        .map(|p| {
            let v = |k: &str| p.value(k).unwrap_or_default().to_string();
            (
                v("StatusAanlevering"),
                v("Begindatum"),
                v("RedenBeeindiging"),
                v("Einddatum"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Casus 1: an allocation extended by a new 301 (RedenWijziging 04) while the
// delivery runs. The document ends with the extension; what it implies for
// the provider is that the stop, when it comes, repeats the start's key
// (Begindatum, ToewijzingIngangsdatum, product) and not the changed
// allocation (TR382), which the municipality checks.

async fn casus_1(db: Db, law: Law) {
    let mut x = Exchange::start(db).await;
    let bsn = "999900006";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "667899", "2023-01-01", Some("2023-06-30"))],
        )
        .await;
    x.attend(law, &p, &["2023-01-05", "2023-01-12"]).await;
    let started = x.run("2023-01-06").await;
    assert_eq!(started["messages"][0]["kind"], "start", "{started}");
    let start = x.last(&format!("{}305", law.prefix));
    let sp = start.get("Client/StartProducten/StartProduct").unwrap();
    assert_eq!(sp.value("Begindatum"), Some("2023-01-05"));
    assert_eq!(sp.value("ToewijzingIngangsdatum"), Some("2023-01-01"));
    assert_eq!(sp.value("StatusAanlevering"), Some("1"));
    // Nothing more to send while the delivery runs.
    let quiet = x.run("2023-01-13").await;
    assert!(quiet["messages"].as_array().unwrap().is_empty(), "{quiet}");
    // Step 4: the municipality extends the allocation to 31-12-2023.
    x.change(
        law,
        "667899",
        json!({"reden": "04", "einddatum": "2023-12-31"}),
    )
    .await;
    let extension = x.last(&format!("{}301", law.prefix));
    let tp = extension
        .get("Client/ToegewezenProducten/ToegewezenProduct")
        .unwrap();
    assert_eq!(tp.value("RedenWijziging"), Some("04"));
    assert_eq!(tp.value("Einddatum"), Some("2023-12-31"));
    assert_eq!(tp.value("Ingangsdatum"), Some("2023-01-01"));
    // The old end passes without a stop: the allocation runs on.
    let after = x.run("2023-07-03").await;
    assert!(after["messages"].as_array().unwrap().is_empty(), "{after}");
    // Care ends as planned in November.
    x.end(&p, "2023-11-30", "volgens_plan").await;
    x.run("2023-12-01").await;
    assert_eq!(
        stops(&x, law),
        vec![(
            "1".into(),
            "2023-01-05".into(),
            law.volgens_plan.into(),
            "2023-11-30".into()
        )]
    );
    let stop = x.last(&format!("{}307", law.prefix));
    assert_eq!(
        stop.value("Client/StopProducten/StopProduct/ToewijzingIngangsdatum"),
        Some("2023-01-01")
    );
    x.all_accepted();
    // The municipality's record of the same client: its own allocation,
    // granted to this provider, with the start and the stop it received.
    let record = x
        .gemeente(law.gemeente)
        .post_json("/participants/search", &json!({ "bsn": bsn }))
        .await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert_schema("participant", &record.body);
    let allocation = &record.body["allocations"][0];
    assert_eq!(allocation["aanbieder"], AGB, "{}", record.body);
    assert_eq!(allocation["einddatum"], "2023-12-31", "{}", record.body);
    let received: Vec<(&str, bool)> = allocation["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| (d["kind"].as_str().unwrap_or(""), d["current"] == true))
        .collect();
    assert_eq!(received, vec![("start", true), ("stop", true)]);
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

async fn casus_1_extended_allocation_stop_repeats_the_start_wmo(db: Db) {
    casus_1(db, WMO).await
}

async fn casus_1_extended_allocation_stop_repeats_the_start_jw(db: Db) {
    casus_1(db, JW).await
}

// ---------------------------------------------------------------------------
// Casus 2 and 3: a temporary stop (hospital stay), then the definitive stop
// without a new start (OP377, OP378), its Einddatum equal to (casus 2) or
// later than (casus 3) the temporary one (TR414).

async fn temporary_then_definitive(db: Db, law: Law, pause: &str, end: &str) {
    let mut x = Exchange::start(db).await;
    let bsn = "999996770";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "668877", "2023-05-15", Some("2023-12-31"))],
        )
        .await;
    x.attend(law, &p, &["2023-05-17", "2023-05-24"]).await;
    x.run("2023-05-18").await;
    x.end(&p, pause, "tijdelijk").await;
    x.run(pause).await;
    assert_eq!(
        stops(&x, law),
        vec![("1".into(), "2023-05-17".into(), "20".into(), pause.into())]
    );
    x.end(&p, end, "in_overleg").await;
    let definitive = x.run(end).await;
    assert_eq!(definitive["messages"][0]["kind"], "stop", "{definitive}");
    assert_eq!(
        stops(&x, law),
        vec![(
            "1".into(),
            "2023-05-17".into(),
            law.in_overleg.into(),
            end.into()
        )]
    );
    // Stopped for good: later runs send nothing.
    let later = x.run("2023-08-01").await;
    assert!(later["messages"].as_array().unwrap().is_empty(), "{later}");
    assert_eq!(
        x.berichten().iter().filter(|b| b.ends_with("307")).count(),
        2
    );
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

async fn casus_2_temporary_then_definitive_stop_same_end_wmo(db: Db) {
    temporary_then_definitive(db, WMO, "2023-06-20", "2023-06-20").await
}

async fn casus_2_temporary_then_definitive_stop_same_end_jw(db: Db) {
    temporary_then_definitive(db, JW, "2023-06-20", "2023-06-20").await
}

async fn casus_3_temporary_then_definitive_stop_later_end_wmo(db: Db) {
    temporary_then_definitive(db, WMO, "2023-06-07", "2023-06-29").await
}

async fn casus_3_temporary_then_definitive_stop_later_end_jw(db: Db) {
    temporary_then_definitive(db, JW, "2023-06-07", "2023-06-29").await
}

// ---------------------------------------------------------------------------
// Casus 4: the stop went out with the wrong reason; correcting the end of
// care removes it (StatusAanlevering 3) and adds the right one in one 307,
// which the municipality accepts (3.2 allows both classes in one message).

async fn casus_4(db: Db, law: Law) {
    let mut x = Exchange::start(db).await;
    let bsn = "999900006";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "667899", "2023-01-01", Some("2023-06-30"))],
        )
        .await;
    x.attend(law, &p, &["2023-01-05"]).await;
    x.run("2023-01-06").await;
    x.end(&p, "2023-06-17", "door_aanbieder").await;
    x.run("2023-06-19").await;
    let wrong = (
        "1".to_string(),
        "2023-01-05".to_string(),
        law.door_aanbieder.to_string(),
        "2023-06-17".to_string(),
    );
    assert_eq!(stops(&x, law), vec![wrong.clone()]);
    // The back office registers the right reason.
    x.end(&p, "2023-06-17", "volgens_plan").await;
    let corrected = x.run("2023-06-21").await;
    assert_eq!(
        corrected["messages"][0]["kind"], "correction",
        "{corrected}"
    );
    let mut removal = wrong.clone();
    removal.0 = "3".into();
    assert_eq!(
        stops(&x, law),
        vec![
            removal,
            (
                "1".into(),
                "2023-01-05".into(),
                law.volgens_plan.into(),
                "2023-06-17".into()
            )
        ]
    );
    // The participant record shows the history: the start, the wrong stop
    // struck out by its correction, the right one current.
    let record = x.provider.get(&format!("/participants/{p}")).await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert_schema("participant", &record.body);
    let deliveries: Vec<(String, String, bool)> = record.body["allocations"][0]["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_string(),
                d["reden_beeindiging"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                d["current"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        deliveries,
        vec![
            ("start".into(), String::new(), true),
            ("stop".into(), law.door_aanbieder.into(), false),
            ("stop".into(), law.volgens_plan.into(), true),
        ]
    );
    // Registering the same end again changes nothing.
    x.end(&p, "2023-06-17", "volgens_plan").await;
    let same = x.run("2023-06-22").await;
    assert!(same["messages"].as_array().unwrap().is_empty(), "{same}");
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

async fn casus_4_stop_corrected_in_one_message_wmo(db: Db) {
    casus_4(db, WMO).await
}

async fn casus_4_stop_corrected_in_one_message_jw(db: Db) {
    casus_4(db, JW).await
}

// ---------------------------------------------------------------------------
// Around the cases.

/// Back after the hospital: a registered day after a temporary stop starts
/// the delivery again with a new 305 (the earlier start has its stop, so
/// TR326 allows it), and the final stop repeats the new start's key.
async fn restart_after_a_temporary_stop(db: Db) {
    let law = WMO;
    let mut x = Exchange::start(db).await;
    let bsn = "999996782";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "12563", "2023-03-16", Some("2023-12-31"))],
        )
        .await;
    x.attend(law, &p, &["2023-03-30"]).await;
    x.run("2023-03-31").await;
    x.end(&p, "2023-06-07", "tijdelijk").await;
    x.run("2023-06-08").await;
    x.attend(law, &p, &["2023-07-03", "2023-07-05"]).await;
    let restarted = x.run("2023-07-04").await;
    assert_eq!(restarted["messages"][0]["kind"], "start", "{restarted}");
    let start = x.last("WMO305");
    assert_eq!(
        start.value("Client/StartProducten/StartProduct/Begindatum"),
        Some("2023-07-03")
    );
    x.end(&p, "2023-09-29", "volgens_plan").await;
    x.run("2023-10-02").await;
    assert_eq!(
        stops(&x, law),
        vec![(
            "1".into(),
            "2023-07-03".into(),
            "19".into(),
            "2023-09-29".into()
        )]
    );
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

/// The municipality ends the allocation early (RedenWijziging 05,
/// herbeoordeling: verkorting): once the new Einddatum has passed, the stop
/// goes out with 36 (geïnitieerd door de gemeente) in both laws, repeating
/// the start.
async fn early_end(db: Db, law: Law) {
    let mut x = Exchange::start(db).await;
    let bsn = "999900304";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "770001", "2023-02-01", Some("2023-12-31"))],
        )
        .await;
    x.attend(law, &p, &["2023-02-06"]).await;
    x.run("2023-02-07").await;
    x.change(
        law,
        "770001",
        json!({"reden": "05", "einddatum": "2023-04-30"}),
    )
    .await;
    let before = x.run("2023-04-30").await;
    assert!(
        before["messages"].as_array().unwrap().is_empty(),
        "{before}"
    );
    x.run("2023-05-01").await;
    assert_eq!(
        stops(&x, law),
        vec![(
            "1".into(),
            "2023-02-06".into(),
            "36".into(),
            "2023-04-30".into()
        )]
    );
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

async fn early_end_by_the_municipality_stops_with_36_wmo(db: Db) {
    early_end(db, WMO).await
}

async fn early_end_by_the_municipality_stops_with_36_jw(db: Db) {
    early_end(db, JW).await
}

/// A stop composed by hand (`POST /outbox`) is judged against the record as
/// a generated one: one the municipality would reject (TR414: ending before
/// the temporary stop) is refused and nothing is queued; a good one is
/// queued and shows in the allocation's history, and the run plans from it.
async fn a_hand_made_stop_is_judged_and_recorded(db: Db) {
    let law = WMO;
    let mut x = Exchange::start(db).await;
    let bsn = "999996770";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "668877", "2023-05-15", Some("2023-12-31"))],
        )
        .await;
    x.attend(law, &p, &["2023-05-17"]).await;
    x.run("2023-05-18").await;
    x.end(&p, "2023-06-20", "tijdelijk").await;
    x.run("2023-06-21").await;
    // The temporary stop as sent, turned into a definitive one by hand.
    let temporary = x
        .log
        .iter()
        .rev()
        .find(|(b, _)| b == "WMO307")
        .map(|(_, xml)| xml.clone())
        .expect("the temporary stop");
    let ident = value_of(&temporary, "Identificatie");
    let by_hand = |new_ident: &str, reden: &str, eind: &str| {
        let xml = with_value(&temporary, "Identificatie", &ident, new_ident);
        let xml = with_value(&xml, "RedenBeeindiging", "20", reden);
        with_value(&xml, "Einddatum", "2023-06-20", eind)
    };
    let too_early = x
        .provider
        .post_raw("/outbox", &by_hand("HAND1", "23", "2023-06-10"))
        .await;
    assert_eq!(too_early.status, 422, "{}", too_early.body);
    assert!(
        too_early.body.to_string().contains("TR414"),
        "{}",
        too_early.body
    );
    let good = x
        .provider
        .post_raw("/outbox", &by_hand("HAND2", "23", "2023-06-20"))
        .await;
    assert_eq!(good.status, 202, "{}", good.body);
    x.settle().await;
    let record = x.provider.get(&format!("/participants/{p}")).await;
    assert_eq!(record.status, 200, "{}", record.body);
    let allocation = &record.body["allocations"][0];
    assert_eq!(
        allocation["status"],
        "stopped",
        "{record:?}",
        record = record.body
    );
    // The run sees the definitive stop: nothing more to send.
    let after = x.run("2023-07-03").await;
    assert!(after["messages"].as_array().unwrap().is_empty(), "{after}");
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

/// A start the municipality rejects (its 306 carries a code) is not current
/// on either side: the provider gets a review item and does not send the
/// start again until a person has resolved it; then the next run does.
async fn a_rejected_start_waits_for_the_review(db: Db) {
    let law = WMO;
    let mut x = Exchange::start(db).await;
    let bsn = "999900006";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "667899", "2023-01-01", Some("2023-12-31"))],
        )
        .await;
    // The municipality already holds a start for this allocation (sent by
    // an earlier software, say): a second one breaks TR326.
    let earlier = delivery_xml(law, "SEED1", bsn, "667899", "2023-01-02", None);
    let seeded = x.gemeente(law.gemeente).post_xml(&earlier).await;
    assert!(!seeded.contains("RetourCode>9"), "{seeded}");
    x.attend(law, &p, &["2023-01-05"]).await;
    x.run("2023-01-06").await;
    let retour = x
        .log
        .iter()
        .rev()
        .find(|(b, _)| b == "WMO306")
        .expect("306");
    assert!(retour.1.contains("9326"), "TR326 in the 306: {}", retour.1);
    let review = x.provider.get("/review?kind=rejected_message").await;
    assert_eq!(review.status, 200, "{}", review.body);
    let items = review.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", review.body);
    let record = x.provider.get(&format!("/participants/{p}")).await;
    assert_eq!(
        record.body["allocations"][0]["status"], "allocated",
        "{}",
        record.body
    );
    // Not sent again while the item is open.
    let held = x.run("2023-01-09").await;
    assert!(held["messages"].as_array().unwrap().is_empty(), "{held}");
    // Resolved (the municipality removed its old start): sent again.
    let id = items[0]["id"].as_str().unwrap();
    let resolved = x
        .provider
        .post_json(
            &format!("/review/{id}/resolve"),
            &json!({"resolved_by": "Anna", "note": "oude start bij de gemeente verwijderd"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    let removal = with_value(&earlier, "StatusAanlevering", "1", "3");
    let removal = with_value(&removal, "Identificatie", "SEED1", "SEED2");
    let removed = x.gemeente(law.gemeente).post_xml(&removal).await;
    assert!(!removed.contains("RetourCode>9"), "{removed}");
    let again = x.run("2023-01-10").await;
    assert_eq!(again["messages"][0]["kind"], "start", "{again}");
    let last = x
        .log
        .iter()
        .rev()
        .find(|(b, _)| b == "WMO306")
        .expect("306");
    assert!(!last.1.contains("9326"), "{}", last.1);
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

/// A stop the municipality rejects (it already holds a definitive stop for
/// the start, so ours breaks TR415) is not current on either side; it is not
/// sent again while its review item is open, and once the municipality's
/// record is put right and the item resolved, the run sends it again from
/// the registered end of care.
async fn a_rejected_stop_is_sent_again_once_reviewed(db: Db) {
    let law = JW;
    let mut x = Exchange::start(db).await;
    let bsn = "999900006";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "667899", "2023-01-01", Some("2023-12-31"))],
        )
        .await;
    x.attend(law, &p, &["2023-01-05"]).await;
    x.run("2023-01-06").await;
    // Another system already stopped the delivery at the municipality.
    let other = delivery_xml(
        law,
        "OTHER1",
        bsn,
        "667899",
        "2023-01-05",
        Some(("33", "2023-06-09")),
    );
    let seeded = x.gemeente(law.gemeente).post_xml(&other).await;
    assert!(!seeded.contains("RetourCode>9"), "{seeded}");
    x.end(&p, "2023-06-16", "volgens_plan").await;
    x.run("2023-06-19").await;
    let retour = x.log.iter().rev().find(|(b, _)| b == "JW308").expect("308");
    assert!(retour.1.contains("9415"), "TR415 in the 308: {}", retour.1);
    let record = x.provider.get(&format!("/participants/{p}")).await;
    assert_eq!(
        record.body["allocations"][0]["status"], "started",
        "{}",
        record.body
    );
    let held = x.run("2023-06-20").await;
    assert!(held["messages"].as_array().unwrap().is_empty(), "{held}");
    // The municipality removes the other system's stop; the back office
    // resolves the item; the next run sends the stop again.
    let removal = with_value(&other, "StatusAanlevering", "1", "3");
    let removal = with_value(&removal, "Identificatie", "OTHER1", "OTHER2");
    let removed = x.gemeente(law.gemeente).post_xml(&removal).await;
    assert!(!removed.contains("RetourCode>9"), "{removed}");
    let review = x.provider.get("/review?kind=rejected_message").await;
    let id = review.body["items"][0]["id"]
        .as_str()
        .expect("item")
        .to_string();
    let resolved = x
        .provider
        .post_json(
            &format!("/review/{id}/resolve"),
            &json!({"resolved_by": "Anna", "note": "gemeente heeft de oude stop verwijderd"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    let again = x.run("2023-06-21").await;
    assert_eq!(again["messages"][0]["kind"], "stop", "{again}");
    assert_eq!(
        stops(&x, law),
        vec![(
            "1".into(),
            "2023-01-05".into(),
            "31".into(),
            "2023-06-16".into()
        )]
    );
    let last = x.log.iter().rev().find(|(b, _)| b == "JW308").expect("308");
    assert!(!last.1.contains("9415"), "{}", last.1);
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

/// A 305 (`stop` None) or 307 from the provider to the municipality, as
/// another system of the provider would have sent it.
fn delivery_xml(
    law: Law,
    ident: &str,
    bsn: &str,
    nummer: &str,
    begin: &str,
    stop: Option<(&str, &str)>,
) -> String {
    use loket::adapter::istandaard::encode::Builder;
    let schema = loket::schema::Schema::builtin().unwrap();
    let number = if stop.is_some() { "307" } else { "305" };
    let mut b = Builder::heenbericht(
        schema,
        &format!("{}{number}", law.prefix),
        AGB,
        law.gemeente,
        ident,
        // Sent on the day it reports.
        stop.map_or(begin, |(_, eind)| eind).parse().unwrap(),
    )
    .unwrap();
    let c = client(&mut b, bsn);
    let n = b.add(c, "Naam").unwrap();
    let gn = b.add(n, "Geslachtsnaam").unwrap();
    b.value(gn, "Achternaam", "Voorbeeld").unwrap();
    let (list, item) = if stop.is_some() {
        ("StopProducten", "StopProduct")
    } else {
        ("StartProducten", "StartProduct")
    };
    let list = b.add(c, list).unwrap();
    let sp = b.add(list, item).unwrap();
    b.value(sp, "ToewijzingNummer", nummer).unwrap();
    let pr = b.add(sp, "Product").unwrap();
    b.value(pr, "Categorie", law.categorie).unwrap();
    b.value(pr, "Code", law.code).unwrap();
    b.value(sp, "ToewijzingIngangsdatum", "2023-01-01").unwrap();
    b.value(sp, "Begindatum", begin).unwrap();
    if let Some((reden, eind)) = stop {
        b.value(sp, "RedenBeeindiging", reden).unwrap();
        b.value(sp, "Einddatum", eind).unwrap();
    }
    b.value(sp, "StatusAanlevering", "1").unwrap();
    let (xml, checked) = loket::adapter::istandaard::check_outgoing(
        &b.msg,
        &loket::adapter::istandaard::Limits::default(),
    )
    .unwrap();
    assert!(checked.findings.is_empty(), "{:?}", checked.findings);
    xml
}

// ---------------------------------------------------------------------------
// The municipality's own changes.

/// An allocation granted by mistake is withdrawn (RedenWijziging 13,
/// Einddatum = Ingangsdatum, OP033x1) and replaced by a new one with its
/// own number; the provider starts on the new one only, and the 301 of the
/// replacement no longer repeats the withdrawn one (OP087).
async fn withdrawn_and_replaced(db: Db, law: Law) {
    let mut x = Exchange::start(db).await;
    let bsn = "999900304";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "880001", "2023-03-01", Some("2023-12-31"))],
        )
        .await;
    x.change(law, "880001", json!({"reden": "13"})).await;
    let withdrawal = x.last(&format!("{}301", law.prefix));
    let tp = withdrawal
        .get("Client/ToegewezenProducten/ToegewezenProduct")
        .unwrap();
    assert_eq!(tp.value("RedenWijziging"), Some("13"));
    assert_eq!(tp.value("Einddatum"), Some("2023-03-01"));
    // Withdrawn cannot change any more.
    let id = x.granted["880001"].clone();
    let again = x
        .gemeente(law.gemeente)
        .post_json(
            &format!("/allocations/{id}/change"),
            &json!({"reden": "04", "einddatum": "2024-06-30"}),
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.body);
    let mut replacement = product(law, "880002", "2023-03-01", Some("2023-12-31"));
    replacement.omvang = Some(("4", law.omvang.1, law.omvang.2));
    x.grant(law, bsn, &[replacement]).await;
    let granted = x.last(&format!("{}301", law.prefix));
    let numbers: Vec<&str> = granted
        .root()
        .all("Client/ToegewezenProducten/ToegewezenProduct")
        .iter()
        .filter_map(|tp| tp.value("ToewijzingNummer"))
        .collect();
    assert_eq!(numbers, vec!["880002"]);
    x.attend(law, &p, &["2023-03-06"]).await;
    x.run("2023-03-07").await;
    let start = x.last(&format!("{}305", law.prefix));
    assert_eq!(
        start.value("Client/StartProducten/StartProduct/ToewijzingNummer"),
        Some("880002")
    );
    let record = x.provider.get(&format!("/participants/{p}")).await;
    let statuses: BTreeSet<(String, String)> = record.body["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["toewijzing_nummer"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from([
            ("880001".to_string(), "withdrawn".to_string()),
            ("880002".to_string(), "started".to_string())
        ])
    );
    // The provider's 302s came back to the municipality: each allocation's
    // history says the provider took it in.
    let confirmed: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM allocation_events e JOIN allocations a ON a.id = e.allocation_id \
         WHERE a.tenant_id = $1 AND e.status = 'allocation_confirmed'",
    )
    .bind(law.gemeente)
    .fetch_one(x.server.state.store().pool())
    .await
    .expect("events")
    .try_get("n")
    .expect("n");
    assert_eq!(confirmed, 3, "grant, withdrawal and replacement confirmed");
    let review = x.gemeente(law.gemeente).get("/review").await;
    assert_eq!(review.body["items"], json!([]), "{}", review.body);
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

async fn withdrawn_and_replaced_wmo(db: Db) {
    withdrawn_and_replaced(db, WMO).await
}

async fn withdrawn_and_replaced_jw(db: Db) {
    withdrawn_and_replaced(db, JW).await
}

/// A month declared by the provider and judged by the municipality on its
/// own allocations: the municipality corrects a total volume (RedenWijziging
/// 14) while the declaration is on its way, so its 325 rejects the line
/// beyond the new volume (TR322) and approves the other; the provider
/// applies the 325, corrects the registration, resolves the review item and
/// declares the line again, which the municipality approves. Both keep the
/// same declared and approved lines.
async fn a_declared_line_rejected_corrected_and_approved(db: Db) {
    let law = WMO;
    let mut x = Exchange::start(db).await;
    let bsn = "999900304";
    let dagbesteding = product(law, "990001", "2026-03-01", Some("2026-12-31"));
    let begeleiding = Alloc {
        nummer: "990002",
        categorie: "02",
        code: "02A04",
        ingang: "2026-03-01",
        eind: Some("2026-12-31"),
        omvang: Some(("20", "04", "6")),
        reden: None,
    };
    let p = x.grant(law, bsn, &[dagbesteding, begeleiding]).await;
    // Begeleiding on Mondays, 3 hours each (12 of the 20); dagbesteding on
    // Tuesdays.
    let monday = |d: &'static str, to: &'static str| (p.clone(), d, to);
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
    x.attend(law, &p, &["2026-03-03", "2026-03-10"]).await;
    x.run("2026-03-11").await;
    let declared = x.provider.run("2026-03", "2026-04-03").await;
    assert_eq!(
        declared["declarations"].as_array().unwrap().len(),
        1,
        "{declared}"
    );
    x.server.state.outbox.wake();
    x.wait_for_outbox().await;
    // The municipality corrects the total to 8 hours before it reads the
    // declaration.
    x.change(
        law,
        "990002",
        json!({"reden": "14", "omvang": {"volume": 8, "eenheid": "04", "frequentie": "6"}}),
    )
    .await;
    let answer = x.last("WMO325");
    let rejected: Vec<String> = answer
        .root()
        .all("DeclaratieAntwoord/Clienten/Client/Prestaties/Prestatie")
        .iter()
        .map(|p| p.value("ToewijzingNummer").unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        rejected,
        vec!["990002".to_string()],
        "{}",
        x.log.last().unwrap().1
    );
    let xml = &x.log.iter().rev().find(|(b, _)| b == "WMO325").unwrap().1;
    assert!(xml.contains("9322") || xml.contains("9321"), "{xml}");
    // The provider has the rejection in its review queue.
    let review = x.provider.get("/review?kind=rejected_prestatie").await;
    let items = review.body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{}", review.body);
    x.agree_on_declarations(law.gemeente).await;
    // The registration corrected: two Mondays were one hour (8 in all).
    register(
        &x.provider,
        &[monday("2026-03-16", "10:00"), monday("2026-03-23", "10:00")],
        "begeleiding-individueel",
    )
    .await;
    let id = items[0]["id"].as_str().unwrap();
    let resolved = x
        .provider
        .post_json(
            &format!("/review/{id}/resolve"),
            &json!({"resolved_by": "Anna", "note": "registratie gecorrigeerd"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    let again = x.provider.run("2026-03", "2026-04-10").await;
    assert_eq!(
        again["declarations"].as_array().unwrap().len(),
        1,
        "{again}"
    );
    x.server.state.outbox.wake();
    x.settle().await;
    let second = x.last("WMO325");
    assert!(
        second
            .root()
            .all("DeclaratieAntwoord/Clienten/Client")
            .is_empty(),
        "granted in full: {}",
        x.log.iter().rev().find(|(b, _)| b == "WMO325").unwrap().1
    );
    let statuses = x.agree_on_declarations(law.gemeente).await;
    assert!(
        statuses.contains(&vec![
            "990002".to_string(),
            "approved".to_string(),
            "D".to_string(),
            "480".to_string(),
            "53960".to_string()
        ]),
        "{statuses:?}"
    );
    // An allocation with approved declarations cannot be withdrawn: the
    // municipality's 301 is judged with the provider's own rule (TR385).
    let id = x.granted["990001"].clone();
    let withdraw = x
        .gemeente(law.gemeente)
        .post_json(
            &format!("/allocations/{id}/change"),
            &json!({"reden": "13"}),
        )
        .await;
    assert_eq!(withdraw.status, 422, "{}", withdraw.body);
    assert!(
        withdraw.body.to_string().contains("TR385"),
        "{}",
        withdraw.body
    );
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

/// Registers (participant, day, until) from 09:00 with `activity`.
async fn register(api: &Api, days: &[(String, &str, &str)], activity: &str) {
    let rows: Vec<(&str, &str, &str, &str, &str)> = days
        .iter()
        .map(|(p, d, to)| (p.as_str(), *d, "09:00", *to, activity))
        .collect();
    api.days(&rows).await;
}

// ---------------------------------------------------------------------------
// Requests the provider sends and the municipality answers.

impl Exchange {
    /// The provider composes a request (`POST /requests`) and the exchange
    /// carries it; returns its references.
    async fn request(&mut self, body: Value) -> Vec<String> {
        let reply = self.provider.post_json("/requests", &body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        self.settle().await;
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["referentie_aanbieder"].as_str().unwrap().to_string())
            .collect()
    }

    /// The request with this reference as `api` lists it.
    async fn request_of(api: &Api, reference: &str) -> Value {
        let list = api.get("/requests").await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert_schema("request-list", &list.body);
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["referentie_aanbieder"] == reference)
            .unwrap_or_else(|| panic!("request {reference}: {}", list.body))
            .clone()
    }

    /// The municipality answers the request it received with `reference`.
    async fn answer(&mut self, law: Law, reference: &str, body: Value) -> Value {
        let gemeente = self.gemeente(law.gemeente).clone();
        let request = Exchange::request_of(&gemeente, reference).await;
        assert_eq!(request["direction"], "in", "{request}");
        assert_eq!(request["aanbieder"], AGB, "{request}");
        let id = request["id"].as_str().unwrap();
        let reply = gemeente
            .post_json(&format!("/requests/{id}/answer"), &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_schema("grant-result", &reply.body);
        self.remember(&reply.body);
        self.settle().await;
        reply.body
    }

    /// Both sides see the request with this reference in this status (a
    /// request not answered yet: `answered` at the provider, whose 316 came
    /// back, and `received` at the municipality).
    async fn request_is(&self, law: Law, reference: &str, status: &str) -> (Value, Value) {
        let provider = Exchange::request_of(&self.provider, reference).await;
        let municipality = Exchange::request_of(self.gemeente(law.gemeente), reference).await;
        let (p, m) = match status {
            "received" => ("answered", "received"),
            s => (s, s),
        };
        assert_eq!(provider["status"], p, "provider: {provider}");
        assert_eq!(municipality["status"], m, "municipality: {municipality}");
        (provider, municipality)
    }
}

/// A verzoek om toewijzing (315) for two products: the municipality
/// honours one with a 301 carrying its ReferentieAanbieder and rejects the
/// other with a 319 (no contract for it, WJ759 3).
async fn verzoek_om_toewijzing_honoured_for_one_product_rejected_for_another(db: Db) {
    let law = WMO;
    let mut x = Exchange::start(db).await;
    let bsn = "999996782";
    let product = |categorie: &str, code: &str, omvang: Value| {
        json!({"categorie": categorie, "code": code, "ingangsdatum": "2027-01-01", "einddatum": "2027-06-30",
               "omvang": omvang, "verwijzer": {"type": "02", "zorgverlenercode": "01087654"}})
    };
    let mut refs = x
        .request(json!({
            "kind": "toewijzing", "bsn": bsn, "financier": {"kind": "wmo", "code": law.gemeente},
            "client": {"geboortedatum": "2001-04-03", "geslacht": "2", "achternaam": "Voorbeeld", "voorletters": "J"},
            "products": [
                product("07", "07A12", json!({"volume": 4, "eenheid": "16", "frequentie": "2"})),
                product("02", "02A06", json!({"volume": 2, "eenheid": "04", "frequentie": "2"})),
            ],
        }))
        .await;
    assert_eq!(refs.len(), 2);
    // The dagbesteding first.
    if x.request_is(law, &refs[0], "received").await.1["request"]["product"]["code"] != "07A12" {
        refs.reverse();
    }
    let received = x.request_is(law, &refs[0], "received").await.1;
    assert_eq!(
        received["request"]["product"]["code"], "07A12",
        "{received}"
    );
    let honoured = x
        .answer(
            law,
            &refs[0],
            json!({"answer": "honour", "toewijzing_nummer": "770101", "client": client_json()}),
        )
        .await;
    assert_eq!(honoured["allocations"][0]["referentie_aanbieder"], refs[0]);
    x.answer(law, &refs[1], json!({"answer": "reject", "reden": "3"}))
        .await;
    let allocation = x.last("WMO301");
    assert_eq!(
        allocation.value("Client/ToegewezenProducten/ToegewezenProduct/ReferentieAanbieder"),
        Some(refs[0].as_str())
    );
    let (provider, _) = x.request_is(law, &refs[0], "honoured").await;
    assert!(provider["allocation_id"].is_string(), "{provider}");
    let (provider, _) = x.request_is(law, &refs[1], "rejected").await;
    assert_eq!(
        provider["answer"]["reden_afwijzing"]["code"], "3",
        "{provider}"
    );
    // Answered once: honouring it again is refused.
    let gemeente = x.gemeente(law.gemeente).clone();
    let id = Exchange::request_of(&gemeente, &refs[0]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let twice = gemeente
        .post_json(
            &format!("/requests/{id}/answer"),
            &json!({"answer": "honour"}),
        )
        .await;
    assert_eq!(twice.status, 422, "{}", twice.body);
    assert!(x.berichten().contains(&"WMO319"), "{:?}", x.berichten());
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}

/// A verzoek om wijziging (317) to extend an allocation: rejected first
/// (319, WJ759 2), then, on reconsideration, honoured with a 301 that
/// extends it in place (RedenWijziging 12) with the request's reference.
async fn verzoek_om_wijziging_rejected_then_honoured(db: Db) {
    let law = JW;
    let mut x = Exchange::start(db).await;
    let bsn = "999900006";
    let p = x
        .grant(
            law,
            bsn,
            &[product(law, "660001", "2026-12-01", Some("2027-03-31"))],
        )
        .await;
    let refs = x
        .request(json!({
            "kind": "wijziging", "participant_id": p, "financier": {"kind": "jeugdwet", "code": law.gemeente},
            "reden": "2", "change": [{"allocation": "660001", "einddatum": "2027-06-30"}],
        }))
        .await;
    assert_eq!(refs.len(), 1);
    x.request_is(law, &refs[0], "received").await;
    x.answer(law, &refs[0], json!({"answer": "reject", "reden": "2"}))
        .await;
    let (provider, _) = x.request_is(law, &refs[0], "rejected").await;
    assert_eq!(
        provider["answer"]["reden_afwijzing"]["code"], "2",
        "{provider}"
    );
    let honoured = x.answer(law, &refs[0], json!({"answer": "honour"})).await;
    let a = &honoured["allocations"][0];
    assert_eq!(a["toewijzing_nummer"], "660001", "{honoured}");
    assert_eq!(a["einddatum"], "2027-06-30", "{honoured}");
    assert_eq!(a["reden_wijziging"], "12", "{honoured}");
    assert_eq!(a["referentie_aanbieder"], refs[0], "{honoured}");
    x.request_is(law, &refs[0], "honoured").await;
    x.all_accepted();
    x.records_agree(law.gemeente).await;
    x.stop().await;
}
