//! End to end over HTTP: requests the provider composes through loket
//! (`POST /requests`: a WMO315 verzoek om toewijzing, a WMO317 verzoek om
//! wijziging), the municipality's answers that complete them (319 in
//! onderzoek or afgewezen, a 301 that honours one, a 319 loket cannot
//! place), the reads (`GET /requests`, `GET /requests/{id}`), and the
//! participant page's forms. Every case runs on SQLite and, with
//! `LOKET_TEST_DATABASE_URL`, PostgreSQL.

use chrono::{Duration, NaiveDate};
use loket::adapter::istandaard::encode::Builder;
use loket::adapter::istandaard::{self, Limits};
use loket::schema::Schema;
use serde_json::{Value, json};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    a_provider_composes_a_315_and_a_317,
    bad_bodies_and_broken_rules_store_nothing,
    answers_complete_the_request,
    the_participant_page_sends_a_verzoek_om_wijziging,
);

const AGB: &str = "73730112";
const GEMEENTE: &str = "0363";
const BSN: &str = "999901023";

fn today() -> NaiveDate {
    loket::registration::today()
}

fn day(offset: i64) -> String {
    (today() + Duration::days(offset)).to_string()
}

/// One ToegewezenProduct of a test 301.
struct Toegewezen<'a> {
    nummer: &'a str,
    code: &'a str,
    ingang: String,
    eind: String,
    referentie: Option<&'a str>,
}

/// A WMO301 from the municipality to the provider, built as the municipality
/// would and checked before it is sent.
fn wmo301(ident: &str, products: &[Toegewezen<'_>]) -> String {
    let schema = Schema::builtin().expect("schema");
    let mut b =
        Builder::heenbericht(schema, "WMO301", GEMEENTE, AGB, ident, today()).expect("header");
    let c = b.add(0, "Client").expect("client");
    for (name, value) in [("Bsn", BSN), ("Geslacht", "2")] {
        b.value(c, name, value).expect("value");
    }
    let g = b.add(c, "Geboortedatum").expect("geboortedatum");
    b.value(g, "Datum", "1984-03-02").expect("datum");
    let n = b.add(c, "Naam").expect("naam");
    let gn = b.add(n, "Geslachtsnaam").expect("geslachtsnaam");
    b.value(gn, "Achternaam", "Verzoek").expect("achternaam");
    b.value(n, "NaamGebruik", "1").expect("naamgebruik");
    let cg = b.add(c, "Contactgegevens").expect("cg");
    let ct = b.add(cg, "Contact").expect("contact");
    b.value(ct, "Soort", "01").expect("soort");
    let ad = b.add(ct, "Adres").expect("adres");
    let huis = b.add(ad, "Huis").expect("huis");
    b.value(huis, "Huisnummer", "7").expect("huisnummer");
    b.value(ad, "Postcode", "1011AB").expect("postcode");
    b.value(ad, "Plaatsnaam", "Amsterdam").expect("plaats");
    b.value(ad, "LandCode", "NL").expect("land");
    let list = b.add(c, "ToegewezenProducten").expect("list");
    for p in products {
        let tp = b.add(list, "ToegewezenProduct").expect("product");
        b.value(tp, "ToewijzingNummer", p.nummer).expect("nummer");
        b.opt(tp, "ReferentieAanbieder", p.referentie).expect("ref");
        let pr = b.add(tp, "Product").expect("product");
        b.value(pr, "Categorie", &p.code[..2]).expect("categorie");
        b.value(pr, "Code", p.code).expect("code");
        b.value(tp, "Toewijzingsdatum", &today().to_string())
            .expect("datum");
        b.value(tp, "Toewijzingstijd", "09:30:00").expect("tijd");
        b.value(tp, "Ingangsdatum", &p.ingang).expect("ingang");
        b.value(tp, "Einddatum", &p.eind).expect("eind");
        let o = b.add(tp, "Omvang").expect("omvang");
        for (name, value) in [("Volume", "8"), ("Eenheid", "16"), ("Frequentie", "2")] {
            b.value(o, name, value).expect("omvang");
        }
    }
    checked_xml(&b)
}

/// A WMO319 antwoordbericht from the municipality: `antwoord` 1 rejects
/// (with `reden`, WJ759), 2 is "in onderzoek".
fn wmo319(ident: &str, reference: &str, antwoord: &str, reden: Option<&str>) -> String {
    wmo319_to(AGB, ident, reference, antwoord, reden)
}

fn wmo319_to(
    agb: &str,
    ident: &str,
    reference: &str,
    antwoord: &str,
    reden: Option<&str>,
) -> String {
    let schema = Schema::builtin().expect("schema");
    let mut b =
        Builder::heenbericht(schema, "WMO319", GEMEENTE, agb, ident, today()).expect("header");
    let a = b.add(0, "Antwoord").expect("antwoord");
    b.value(a, "ReferentieAanbieder", reference).expect("ref");
    b.value(a, "VerzoekAntwoord", antwoord).expect("antwoord");
    b.opt(a, "RedenAfwijzingVerzoek", reden).expect("reden");
    checked_xml(&b)
}

fn checked_xml(b: &Builder) -> String {
    let (xml, checked) = istandaard::check_outgoing(&b.msg, &Limits::default()).expect("encode");
    assert!(checked.findings.is_empty(), "{:?}", checked.findings);
    xml
}

impl Api {
    /// Posts an inbound message; it must be accepted.
    async fn receive(&self, xml: &str) -> String {
        let res = self.post_message(xml).await;
        assert_eq!(res.status(), 200);
        let header = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("x-loket-status"), "accepted", "{xml}");
        header("x-loket-message-id")
    }

    /// `POST /requests` that must be created: the answer follows its
    /// schema, each request request-item.json; the generated message passes
    /// loket's own check (and is written out for the official XSD in CI).
    async fn request(&self, body: &Value) -> Value {
        let reply = self.post_json("/requests", body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_schema("request-list", &reply.body);
        for item in reply.body["items"].as_array().expect("items") {
            assert_schema("request-item", item);
            assert_eq!(item["status"], "sent");
            assert_eq!(item["outbox_state"], "queued");
        }
        let xml = self
            .message_xml(reply.body["message_id"].as_str().expect("id"))
            .await;
        let checked = istandaard::check(
            Schema::builtin().expect("schema"),
            xml.as_bytes(),
            &Limits::default(),
        )
        .expect("decodes");
        assert!(checked.is_valid(), "{:?}\n{xml}", checked.findings);
        reply.body
    }

    async fn request_item(&self, id: &str) -> Value {
        let reply = self.get(&format!("/requests/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_schema("request-item", &reply.body);
        reply.body
    }
}

/// The provider with one participant and two allocations from 0363.
async fn provider(db: Db) -> (Server, Api, String) {
    let s = Server::start(db).await;
    let api = s.tenant_api(AGB).await;
    api.receive(&wmo301(
        "T301A",
        &[
            Toegewezen {
                nummer: "1001",
                code: "07A11",
                ingang: day(-60),
                eind: day(120),
                referentie: None,
            },
            Toegewezen {
                nummer: "1002",
                code: "02A04",
                ingang: day(-60),
                eind: day(120),
                referentie: None,
            },
        ],
    ))
    .await;
    let found = api
        .post_json("/participants/search", &json!({"bsn": BSN}))
        .await;
    assert_eq!(found.status, 200);
    let pid = found.body["id"].as_str().expect("id").to_string();
    (s, api, pid)
}

fn text_of<'a>(xml: &'a str, element: &str) -> Vec<&'a str> {
    xml.split(&format!("{element}>"))
        .skip(1)
        .step_by(2)
        .filter_map(|s| s.split('<').next())
        .collect()
}

fn toewijzing(pid: &str) -> Value {
    json!({
        "kind": "toewijzing",
        "participant_id": pid,
        "financier": {"kind": "wmo", "code": GEMEENTE},
        "commentaar": "Aanvraag na keukentafelgesprek",
        "products": [
            {"categorie": "07", "code": "07A12", "ingangsdatum": day(14), "einddatum": day(200),
             "omvang": {"volume": 4, "eenheid": "16", "frequentie": "2"},
             "verwijzer": {"type": "02", "zorgverlenercode": "01087654"}},
            {"categorie": "02", "code": "02A04", "ingangsdatum": day(14), "einddatum": day(200),
             "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
             "verwijzer": {"type": "01"}, "commentaar": "Begeleiding thuis"}
        ]
    })
}

async fn a_provider_composes_a_315_and_a_317(db: Db) {
    let (_s, api, pid) = provider(db).await;

    // 315: one reference per product, the client from the record.
    let vot = api.request(&toewijzing(&pid)).await;
    assert_eq!(vot["bericht"], "WMO315");
    let items = vot["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let xml = api
        .message_xml(vot["message_id"].as_str().expect("id"))
        .await;
    let refs = text_of(&xml, "wmo315:ReferentieAanbieder");
    assert_eq!(refs.len(), 2);
    for item in items {
        let r = item["referentie_aanbieder"].as_str().expect("ref");
        assert!(r.starts_with("VOT-") && r.len() <= 36, "{r}");
        assert!(refs.contains(&r), "{r} in the message");
        assert_eq!(item["participant_id"], pid.as_str());
        assert_eq!(item["kind"], "toewijzing");
    }
    assert_eq!(text_of(&xml, "wmo315:Bsn"), [BSN]);
    assert_eq!(text_of(&xml, "iwmo:Achternaam"), ["Verzoek"]);
    assert_eq!(text_of(&xml, "iwmo:ZorgverlenerCode"), ["01087654"]);

    // 317: extend 1001; 1002 stays (named by loket, IV092); one new product.
    let vow = api
        .request(&json!({
            "kind": "wijziging",
            "participant_id": pid,
            "financier": {"kind": "wmo", "code": GEMEENTE},
            "reden": "2",
            "change": [{"allocation": "1001", "einddatum": day(300)}],
            "new": [{"categorie": "07", "code": "07A12", "ingangsdatum": day(30), "einddatum": day(300),
                     "omvang": {"volume": 2, "eenheid": "16", "frequentie": "2"}}]
        }))
        .await;
    assert_eq!(vow["bericht"], "WMO317");
    let items = vow["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "a 317 is one request");
    let reference = items[0]["referentie_aanbieder"].as_str().expect("ref");
    assert!(reference.starts_with("VOW-"));
    let xml = api
        .message_xml(vow["message_id"].as_str().expect("id"))
        .await;
    assert_eq!(text_of(&xml, "wmo317:ReferentieAanbieder"), [reference]);
    assert_eq!(text_of(&xml, "wmo317:RedenVerzoek"), ["2"]);
    assert_eq!(text_of(&xml, "wmo317:ToewijzingNummer"), ["1002", "1001"]);
    // The extension applies from the allocation's start and keeps its omvang.
    assert_eq!(
        text_of(&xml, "wmo317:GewensteIngangsdatum"),
        [day(-60), day(30)]
    );
    assert_eq!(text_of(&xml, "wmo317:Einddatum"), [day(300), day(300)]);
    assert_eq!(text_of(&xml, "iwmo:Volume"), ["8", "2"]);
    let summary = &items[0]["request"];
    assert_eq!(summary["ongewijzigd"], json!(["1002"]));
    assert_eq!(summary["te_wijzigen"][0]["einddatum"], day(300));

    // Ending 1002 early: the end date goes on the TeWijzigenProduct.
    let end = api
        .request(&json!({
            "kind": "wijziging", "participant_id": pid, "financier": {"kind": "wmo", "code": GEMEENTE},
            "reden": "1", "unchanged": ["1001"], "change": [{"allocation": "1002", "einddatum": day(10)}]
        }))
        .await;
    let xml = api
        .message_xml(end["message_id"].as_str().expect("id"))
        .await;
    assert_eq!(text_of(&xml, "wmo317:Einddatum"), [day(10)]);

    // A jeugdwet request goes as a JW315 to 0599.
    let jw = api
        .request(&json!({
            "kind": "toewijzing", "bsn": BSN, "financier": {"kind": "jeugdwet", "code": "0599"},
            "products": [{"categorie": "45", "code": "45A48", "ingangsdatum": day(7), "einddatum": day(180),
                          "omvang": {"volume": 6, "eenheid": "04", "frequentie": "4"},
                          "verwijzer": {"type": "03", "naam": "Jeugdarts De Vries"}}]
        }))
        .await;
    assert_eq!(jw["bericht"], "JW315");

    // The reads: per participant, per status; another tenant sees nothing.
    let list = api.get(&format!("/requests?participant={pid}")).await;
    assert_eq!(list.status, 200);
    assert_schema("request-list", &list.body);
    assert_eq!(list.body["items"].as_array().expect("items").len(), 5);
    let sent = api.get("/requests?status=sent").await;
    assert_eq!(sent.body["items"].as_array().expect("items").len(), 5);
    assert_eq!(
        api.get("/requests?status=accepted").await.body["items"],
        json!([])
    );
    let bad = api.get("/requests?status=bogus").await;
    assert_eq!(bad.status, 400);
    assert_schema("error", &bad.body);
    let one = api.request_item(items[0]["id"].as_str().expect("id")).await;
    assert_eq!(one["referentie_aanbieder"], reference);
    assert!(!one.to_string().contains(BSN), "no BSN in a request: {one}");
}

async fn bad_bodies_and_broken_rules_store_nothing(db: Db) {
    let (s, api, pid) = provider(db).await;
    let pool = s.state.store().pool();
    let count = |table: &'static str| async move {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(pool)
        .await
        .expect("count")
        .try_get::<i64, _>("n")
        .expect("n")
    };

    // The schema: 400 with the JSON paths.
    let mut missing = toewijzing(&pid);
    missing["products"][0]
        .as_object_mut()
        .expect("product")
        .remove("ingangsdatum");
    missing["products"][1]["omvang"]["volume"] = json!("drie");
    let e = api.post_json("/requests", &missing).await;
    assert_eq!(e.status, 400, "{}", e.body);
    assert_schema("error", &e.body);
    let paths = e.body["error"]["paths"].as_array().expect("paths");
    assert!(paths.contains(&json!("/products/0")), "{paths:?}");
    assert!(
        paths.contains(&json!("/products/1/omvang/volume")),
        "{paths:?}"
    );
    let no_reden = json!({"kind": "wijziging", "participant_id": pid,
        "financier": {"kind": "wmo", "code": GEMEENTE}, "change": [{"allocation": "1001", "einddatum": day(90)}]});
    assert_eq!(api.post_json("/requests", &no_reden).await.status, 400);
    let both = json!({"kind": "toewijzing", "participant_id": pid, "bsn": BSN,
        "financier": {"kind": "wmo", "code": GEMEENTE}, "products": toewijzing(&pid)["products"]});
    assert_eq!(api.post_json("/requests", &both).await.status, 400);

    // Not a request loket can make: 422 with the path.
    let mut unknown = toewijzing(&pid);
    unknown["financier"]["code"] = json!("9999");
    let e = api.post_json("/requests", &unknown).await;
    assert_eq!(e.status, 422, "{}", e.body);
    assert_eq!(e.body["error"]["paths"], json!(["/financier"]));
    let e = api
        .post_json(
            "/requests",
            &json!({"kind": "wijziging", "participant_id": pid, "financier": {"kind": "wmo", "code": GEMEENTE},
                    "reden": "1", "change": [{"allocation": "4040", "einddatum": day(90)}]}),
        )
        .await;
    assert_eq!(e.status, 422);
    assert_eq!(e.body["error"]["paths"], json!(["/change/0/allocation"]));
    let mut bsn = toewijzing(&pid);
    bsn.as_object_mut().expect("body").remove("participant_id");
    bsn["bsn"] = json!("123456789");
    assert_eq!(api.post_json("/requests", &bsn).await.status, 422);
    let mut stranger = toewijzing(&pid);
    stranger["participant_id"] = json!("niet-van-deze-aanbieder");
    assert_eq!(api.post_json("/requests", &stranger).await.status, 404);

    // The message would break the standard: 422 with every finding.
    // TR380: a changed end date lies after the Dagtekening.
    let e = api
        .post_json(
            "/requests",
            &json!({"kind": "wijziging", "participant_id": pid, "financier": {"kind": "wmo", "code": GEMEENTE},
                    "reden": "1", "change": [{"allocation": "1001", "einddatum": day(0)}]}),
        )
        .await;
    assert_eq!(e.status, 422, "{}", e.body);
    assert_schema("error", &e.body);
    let rules: Vec<&str> = e.body["error"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert_eq!(rules, ["TR380"]);
    // CD067: a huisarts without AGB code needs a name; an unknown eenheid.
    let mut broken = toewijzing(&pid);
    broken["products"][0]["verwijzer"] = json!({"type": "02"});
    broken["products"][1]["omvang"]["eenheid"] = json!("99");
    let e = api.post_json("/requests", &broken).await;
    assert_eq!(e.status, 422, "{}", e.body);
    let findings = e.body["error"]["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["rule"] == "CD067"),
        "{findings:?}"
    );
    assert!(findings.len() >= 2, "{findings:?}");
    for f in findings {
        assert!(f["nl"].as_str().is_some_and(|t| !t.is_empty()));
    }

    assert_eq!(count("requests").await, 0, "nothing stored");
    assert_eq!(count("outbox").await, 0, "nothing queued");
    assert_eq!(count("participants").await, 1, "no participant created");

    // A municipality does not send requests.
    let gemeente = s.tenant_api(GEMEENTE).await;
    assert_eq!(
        gemeente
            .post_json("/requests", &toewijzing(&pid))
            .await
            .status,
        403
    );
}

async fn answers_complete_the_request(db: Db) {
    let (s, api, pid) = provider(db).await;
    let vot = api.request(&toewijzing(&pid)).await;
    let vot_items = vot["items"].as_array().expect("items");
    let (first, second) = (&vot_items[0], &vot_items[1]);
    let vow = api
        .request(&json!({
            "kind": "wijziging", "participant_id": pid, "financier": {"kind": "wmo", "code": GEMEENTE},
            "reden": "1", "change": [{"allocation": "1002", "omvang": {"volume": 12, "eenheid": "16", "frequentie": "2"}}]
        }))
        .await;
    let vow_item = &vow["items"][0];
    let reference = |v: &Value| v["referentie_aanbieder"].as_str().expect("ref").to_string();
    let id = |v: &Value| v["id"].as_str().expect("id").to_string();

    // 319 "in onderzoek": accepted.
    let m = api
        .receive(&wmo319("T319A", &reference(first), "2", None))
        .await;
    let r = api.request_item(&id(first)).await;
    assert_eq!(r["status"], "accepted");
    assert_eq!(r["answer"]["message_id"], m.as_str());
    assert_eq!(r["answer"]["verzoek_antwoord"]["code"], "2");
    assert!(r["answered_at"].is_string());

    // 319 rejected with WJ759 code 4: rejected, and a review item with the
    // reason in Dutch and English.
    api.receive(&wmo319("T319B", &reference(vow_item), "1", Some("4")))
        .await;
    let r = api.request_item(&id(vow_item)).await;
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["answer"]["reden_afwijzing"]["code"], "4");
    assert!(
        r["answer"]["reden_afwijzing"]["nl"]
            .as_str()
            .is_some_and(|t| t.contains("contract")),
        "{r}"
    );
    let queue = api.get("/review?kind=rejected_request").await;
    assert_eq!(queue.status, 200);
    assert_schema("review-list", &queue.body);
    let items = queue.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", queue.body);
    let item = &items[0];
    assert_eq!(item["participant_id"], pid.as_str());
    assert_eq!(item["subject_id"], id(vow_item).as_str());
    assert_eq!(item["detail"]["reden_afwijzing"]["code"], "4");
    assert!(item["detail"]["reden_afwijzing"]["nl"].is_string());
    assert!(item["detail"]["reden_afwijzing"]["en"].is_string());
    assert!(
        item["title"]["nl"]
            .as_str()
            .is_some_and(|t| t.contains("afgewezen"))
    );
    assert!(!queue.body.to_string().contains(BSN));

    // A 301 that carries the second product's reference honours it and is
    // linked to the allocation it made (TR379 found the request).
    api.receive(&wmo301(
        "T301B",
        &[Toegewezen {
            nummer: "1009",
            code: "02A04",
            ingang: day(14),
            eind: day(200),
            referentie: Some(&reference(second)),
        }],
    ))
    .await;
    let r = api.request_item(&id(second)).await;
    assert_eq!(r["status"], "honoured");
    let record = api.get(&format!("/participants/{pid}")).await.body;
    let b9 = record["allocations"]
        .as_array()
        .expect("allocations")
        .iter()
        .find(|a| a["toewijzing_nummer"] == "1009")
        .expect("1009");
    assert_eq!(r["allocation_id"], b9["id"]);
    assert_eq!(b9["referentie_aanbieder"], reference(second).as_str());
    // The first one stays accepted: the 301 named only the second.
    assert_eq!(api.request_item(&id(first)).await["status"], "accepted");

    // A 319 for a reference loket never sent: stored, accepted, and an
    // unmatched_answer review item; never refused.
    let unknown = api
        .receive(&wmo319("T319C", "VOT-ONBEKEND-1", "1", Some("3")))
        .await;
    let queue = api.get("/review?kind=unmatched_answer").await;
    let items = queue.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", queue.body);
    assert_eq!(items[0]["subject_id"], unknown.as_str());
    assert_eq!(items[0]["detail"]["referentie_aanbieder"], "VOT-ONBEKEND-1");

    // Statuses through the list.
    let statuses = |v: Value| -> usize { v["items"].as_array().map_or(0, Vec::len) };
    assert_eq!(statuses(api.get("/requests?status=rejected").await.body), 1);
    assert_eq!(statuses(api.get("/requests?status=honoured").await.body), 1);

    // Another tenant sees nothing of it.
    let other = s.tenant_api("12345678").await;
    assert_eq!(
        other.get(&format!("/requests/{}", id(first))).await.status,
        404
    );
    assert_eq!(statuses(other.get("/requests").await.body), 0);
    assert_eq!(
        other
            .get(&format!("/requests?participant={pid}"))
            .await
            .body["items"],
        json!([])
    );
}

/// The back office asks for an extension from the participant page: the
/// form goes through the same composing as the API, with CSRF and roles.
async fn the_participant_page_sends_a_verzoek_om_wijziging(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let pool = s.state.store().pool();
    let row = sqlx::query(
        "SELECT a.id, a.participant_id, a.toewijzing_nummer FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE f.kind = 'wmo' AND a.status IN ('allocated', 'started') ORDER BY a.participant_id, a.toewijzing_nummer",
    )
    .fetch_all(pool)
    .await
    .expect("allocations");
    let first = row.first().expect("a demo allocation");
    let (aid, pid): (String, String) = (
        first.try_get("id").expect("id"),
        first.try_get("participant_id").expect("participant"),
    );
    let requests = || async {
        sqlx::query("SELECT COUNT(*) AS n FROM requests")
            .fetch_one(pool)
            .await
            .expect("count")
            .try_get::<i64, _>("n")
            .expect("n")
    };
    let form = |csrf: String, einddatum: String| {
        vec![
            ("csrf".to_string(), csrf),
            ("toewijzing".to_string(), aid.clone()),
            ("actie".to_string(), "verlengen".to_string()),
            ("einddatum".to_string(), einddatum),
            ("volume".to_string(), String::new()),
            ("ingangsdatum".to_string(), String::new()),
            ("reden".to_string(), "2".to_string()),
        ]
    };
    let path = format!("/deelnemers/{pid}/verzoek/wijziging");
    // A begeleider sees no form and may not post one.
    let mut coach = WebClient::new(&s.base);
    coach
        .login(
            loket::web::demo::DEMO_AGB,
            "jobcoach",
            loket::web::demo::DEMO_PASSWORD,
        )
        .await;
    let page = coach.get(&format!("/deelnemers/{pid}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Verzoeken aan de gemeente"));
    assert!(!page.body.contains("verzoek/wijziging"));
    let csrf = page.csrf();
    let refused = post_form(&mut coach, &path, &form(csrf, day(200))).await;
    assert_eq!(refused.status, 403);

    let mut web = WebClient::new(&s.base);
    web.login(
        loket::web::demo::DEMO_AGB,
        "backoffice",
        loket::web::demo::DEMO_PASSWORD,
    )
    .await;
    let page = web.get(&format!("/deelnemers/{pid}")).await;
    assert!(
        page.body.contains("Verzoek om wijziging versturen"),
        "the form"
    );
    assert!(
        page.body.contains("Verzoek om toewijzing versturen"),
        "the form"
    );
    let csrf = page.csrf();

    // Without the session's CSRF token nothing is sent.
    let forged = post_form(&mut web, &path, &form("vervalst".into(), day(200))).await;
    assert_ne!(forged.status, 303);
    assert_eq!(requests().await, 0);

    // A date the standard refuses (TR380) is explained in Dutch.
    let wrong = post_form(&mut web, &path, &form(csrf.clone(), day(0))).await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.body.contains("Het verzoek is niet verstuurd"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("TR380"));
    assert_eq!(requests().await, 0);

    let sent = post_form(&mut web, &path, &form(csrf, day(200))).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let location = sent.location.expect("back to the page");
    assert!(location.starts_with(&format!("/deelnemers/{pid}?melding=")));
    assert_eq!(requests().await, 1);
    let page = web.get(&location).await;
    assert!(
        page.body.contains("staat klaar voor verzending"),
        "{}",
        page.body
    );
    assert!(page.body.contains("WMO317"));
    assert!(page.body.contains("verzonden, wacht op de gemeente"));
    let audited = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'request'")
        .fetch_one(pool)
        .await
        .expect("audit")
        .try_get::<i64, _>("n")
        .expect("n");
    assert_eq!(audited, 1);

    // The municipality rejects it: the page and the review queue give the
    // WJ759 reason in Dutch.
    let reference: String = sqlx::query("SELECT referentie_aanbieder FROM requests")
        .fetch_one(pool)
        .await
        .expect("request")
        .try_get("referentie_aanbieder")
        .expect("reference");
    let api = s.tenant_api(loket::web::demo::DEMO_AGB).await;
    api.receive(&wmo319_to(
        loket::web::demo::DEMO_AGB,
        "T319W",
        &reference,
        "1",
        Some("7"),
    ))
    .await;
    let page = web.get(&format!("/deelnemers/{pid}")).await;
    assert!(
        page.body
            .contains("Afgewezen (7): Afgewezen op zorginhoudelijke gronden"),
        "{}",
        page.body
    );
    let item: String = sqlx::query("SELECT id FROM review_items WHERE kind = 'rejected_request'")
        .fetch_one(pool)
        .await
        .expect("review item")
        .try_get("id")
        .expect("id");
    let review = web.get(&format!("/afgekeurd/{item}")).await;
    assert_eq!(review.status, 200);
    assert!(review.body.contains("Verzoek afgewezen"));
    assert!(review.body.contains("Reden afwijzing"));
    assert!(review.body.contains(&reference));
    assert!(review.body.contains("Opnieuw indienen kan niet"));
}

async fn post_form(web: &mut WebClient, path: &str, fields: &[(String, String)]) -> Page {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    web.post(path, &refs).await
}
