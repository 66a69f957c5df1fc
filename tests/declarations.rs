//! Scenarios for the engine, end to end over HTTP: allocations arrive as
//! WMO301/JW301 messages, staff register days with `POST /registrations`,
//! `POST /declarations/run` produces the starts, stops and declarations, and
//! the generated messages are read back from `GET /messages/{id}` and
//! checked line by line. Every generated message is also checked by loket's
//! own decoder and rules; CI additionally runs the official XSDs over the
//! messages `loket declare --out` writes (.ci/conformance.sh).
//!
//! Contracts are the example mappings in `mappings/` (Wmo 0363: dagbesteding
//! per dagdeel at 52.14 in 2025 and 53.98 from 1 January 2026; Jeugdwet
//! 0599), so the expected amounts below can be checked by hand.

use loket::adapter::istandaard::{self, Limits};
use loket::schema::Schema;
use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    a_month_of_registrations_becomes_one_declaration_and_a_start,
    tariff_changes_on_the_first_of_january,
    two_municipalities_and_uwv_in_the_same_month,
    delivery_beyond_the_allocation_is_reported_not_declared,
    the_end_of_care_stops_every_started_allocation,
    a_correction_after_declaring_credits_and_debits,
    a_rejected_line_in_the_325_reaches_the_review_queue,
    dry_run_stores_nothing_and_municipalities_cannot_declare,
    casus_1_an_extended_allocation_declares_beyond_its_first_end,
    a_skipped_month_gets_its_own_declaration,
    more_clients_than_max_clients_make_several_declarations,
);

const AGB: &str = "73730112";
const BSN_A: &str = "999901023";
const BSN_B: &str = "999900304";

/// A valid WMO301 / JW301 from `gemeente` to this suite's provider.
fn allocation_xml(
    prefix: &str,
    gemeente: &str,
    ident: &str,
    bsn: &str,
    allocs: &[Alloc<'_>],
) -> String {
    common::allocation_xml(prefix, gemeente, AGB, ident, bsn, allocs)
}

impl Api {
    /// A participant with one Wmo 0363 dagbesteding allocation.
    async fn dagbesteding(&self, ident: &str, bsn: &str, nummer: &str, ingang: &str) -> String {
        let xml = allocation_xml("WMO", "0363", ident, bsn, &[dagbesteding(nummer, ingang)]);
        self.allocate(&xml, bsn).await
    }

    async fn declaration(&self, id: &str) -> Value {
        let reply = self.get(&format!("/declarations/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_schema("declaration-list", &reply.body);
        reply.body
    }
}

/// The generated message decodes and passes every in-message rule.
fn assert_valid(xml: &str) -> loket::message::Message {
    let checked = istandaard::check(
        Schema::builtin().unwrap(),
        xml.as_bytes(),
        &Limits::default(),
    )
    .expect("generated message decodes");
    assert!(checked.findings.is_empty(), "{:?}\n{xml}", checked.findings);
    checked.message
}

/// One Prestatie: (ToewijzingNummer, begin, end, volume, eenheid, tarief, bedrag, D/C).
type Line = (
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    i64,
    String,
);

/// Every Prestatie of a declaration.
fn lines(msg: &loket::message::Message) -> Vec<Line> {
    msg.root()
        .all("Declaratie/Clienten/Client/Prestaties/Prestatie")
        .iter()
        .map(|p| {
            (
                p.value("ToewijzingNummer").unwrap().to_string(),
                p.value("ProductPeriode/Begindatum").unwrap().to_string(),
                p.value("ProductPeriode/Einddatum").unwrap().to_string(),
                p.int("GeleverdVolume").unwrap(),
                p.value("Eenheid").unwrap().to_string(),
                p.int("ProductTarief"),
                p.int("IngediendBedrag/Bedrag").unwrap(),
                p.value("IngediendBedrag/DebetCredit").unwrap().to_string(),
            )
        })
        .collect()
}

async fn provider(db: Db) -> (Server, Api) {
    let s = Server::start(db).await;
    let api = s.tenant_api(AGB).await;
    (s, api)
}

async fn a_month_of_registrations_becomes_one_declaration_and_a_start(db: Db) {
    let (_s, api) = provider(db).await;
    let xml = allocation_xml(
        "WMO",
        "0363",
        "T1",
        BSN_A,
        &[dagbesteding("500001", "2026-01-01")],
    );
    let p = api.allocate(&xml, BSN_A).await;
    // 6.5 hours -> 2 dagdelen (nearest), 3.5 hours -> 1, 1 hour -> 0.
    api.days(&[
        (&p, "2026-03-02", "09:00", "15:30", "houtwerkplaats"),
        (&p, "2026-03-03", "09:00", "12:30", "kas"),
        (&p, "2026-03-04", "09:00", "10:00", "kas"),
    ])
    .await;
    let report = api.run("2026-03", "2026-04-02").await;
    assert_eq!(
        report["declarations"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    let d = &report["declarations"][0];
    assert_eq!(d["bericht"], "WMO323");
    assert_eq!(d["period_begin"], "2026-03-01");
    assert_eq!(d["total_cents"], 3 * 5398);
    let msg = assert_valid(&api.message_xml(d["message_id"].as_str().unwrap()).await);
    assert_eq!(msg.value("Header/Ontvanger"), Some("0363"));
    assert_eq!(msg.value("Header/Afzender"), Some(AGB));
    assert_eq!(
        lines(&msg),
        vec![(
            "500001".into(),
            "2026-03-01".into(),
            "2026-03-31".into(),
            3,
            "16".into(),
            Some(5398),
            3 * 5398,
            "D".into()
        )]
    );
    // The first delivered day started the allocation.
    let starts = report["messages"].as_array().unwrap();
    assert_eq!(starts.len(), 1, "{report}");
    assert_eq!(starts[0]["bericht"], "WMO305");
    let start = assert_valid(
        &api.message_xml(starts[0]["message_id"].as_str().unwrap())
            .await,
    );
    assert_eq!(
        start.value("Client/StartProducten/StartProduct/Begindatum"),
        Some("2026-03-02")
    );
    let stored = api.declaration(d["id"].as_str().unwrap()).await;
    assert_eq!(stored["prestaties"][0]["status"], "submitted");
    assert_eq!(stored["prestaties"][0]["participant_id"], p.as_str());

    // Running again sends nothing: no silent double.
    let again = api.run("2026-03", "2026-04-03").await;
    assert_eq!(again["declarations"], json!([]), "{again}");
    assert_eq!(again["messages"], json!([]), "{again}");
    // Neither the runs' answers nor the logs name a participant by BSN.
    for text in [report.to_string(), again.to_string(), captured_logs()] {
        assert!(!text.contains(BSN_A), "a BSN leaked: {text}");
    }
}

async fn tariff_changes_on_the_first_of_january(db: Db) {
    let (_s, api) = provider(db).await;
    let xml = allocation_xml(
        "WMO",
        "0363",
        "T2",
        BSN_A,
        &[dagbesteding("500002", "2025-12-01")],
    );
    let p = api.allocate(&xml, BSN_A).await;
    api.days(&[
        (&p, "2025-12-30", "09:00", "17:00", "kas"),
        (&p, "2026-01-02", "09:00", "17:00", "kas"),
    ])
    .await;
    let dec = api.run("2025-12", "2026-01-05").await;
    let jan = api.run("2026-01", "2026-02-03").await;
    let dec_msg = assert_valid(
        &api.message_xml(dec["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    );
    let jan_msg = assert_valid(
        &api.message_xml(jan["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    );
    let d = lines(&dec_msg);
    let j = lines(&jan_msg);
    assert_eq!((d[0].3, d[0].5, d[0].6), (2, Some(5214), 2 * 5214), "{d:?}");
    assert_eq!((j[0].3, j[0].5, j[0].6), (2, Some(5398), 2 * 5398), "{j:?}");
    assert_eq!(d[0].1, "2025-12-01");
    assert_eq!(j[0].2, "2026-01-31");
}

/// Issue 4 item 8: a participant financed by two municipalities and UWV in
/// the same month.
async fn two_municipalities_and_uwv_in_the_same_month(db: Db) {
    let (_s, api) = provider(db).await;
    let p = api.dagbesteding("T3", BSN_B, "600001", "2026-01-01").await;
    let jw = Alloc {
        nummer: "700001",
        categorie: "45",
        code: "45A48",
        ingang: "2026-01-01",
        eind: Some("2026-12-31"),
        omvang: Some(("40", "04", "4")),
        reden: None,
    };
    api.allocate(&allocation_xml("JW", "0599", "T4", BSN_B, &[jw]), BSN_B)
        .await;
    // And UWV, which sends no 301: the provider registers its order.
    let order = api
        .post_json(
            "/allocations",
            &json!({
                "participant_id": p,
                "financier": {"kind": "uwv", "code": "UWV"},
                "order_number": "UWV-2026-0400",
                "service": "JC001",
                "from": "2026-01-01",
                "client_reference": "K-400",
            }),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    api.days(&[
        (&p, "2026-04-01", "09:00", "13:00", "kas"),
        (&p, "2026-04-02", "13:00", "16:00", "training-groep"),
        (&p, "2026-04-03", "13:00", "16:30", "training-groep"),
        (&p, "2026-04-06", "09:00", "11:00", "jobcoaching"),
    ])
    .await;
    let report = api.run("2026-04", "2026-05-04").await;
    let decls = report["declarations"].as_array().unwrap();
    assert_eq!(decls.len(), 3, "{report}");
    let mut by_bericht: Vec<(String, Value)> = decls
        .iter()
        .map(|d| (d["bericht"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    by_bericht.sort_by(|a, b| a.0.cmp(&b.0));
    // UWV: a UBL invoice, two hours of jobcoaching, the client number
    // instead of the BSN.
    assert_eq!(by_bericht[0].0, "Invoice");
    let invoice = api
        .message_xml(by_bericht[0].1["message_id"].as_str().unwrap())
        .await;
    let checked = loket::adapter::ubl::check(invoice.as_bytes(), &Limits::default())
        .expect("invoice decodes");
    assert!(checked.is_valid(), "{:?}", checked.findings);
    let uwv = loket::adapter::ubl::decode::lines(&checked.document);
    assert_eq!(
        (
            uwv[0].participant.as_str(),
            uwv[0].quantity.as_str(),
            uwv[0].amount_cents
        ),
        ("K-400", "2", 2 * 7690)
    );
    assert!(!invoice.contains(BSN_B));
    let jw = assert_valid(
        &api.message_xml(by_bericht[1].1["message_id"].as_str().unwrap())
            .await,
    );
    let wmo = assert_valid(
        &api.message_xml(by_bericht[2].1["message_id"].as_str().unwrap())
            .await,
    );
    assert_eq!(jw.name(), "JW323");
    assert_eq!(jw.value("Header/Ontvanger"), Some("0599"));
    // Jeugdwet: 6.5 hours in the month, per period to whole hours (nearest): 7 x 35.33.
    assert_eq!(lines(&jw)[0].3, 7);
    assert_eq!(lines(&jw)[0].6, 7 * 3533);
    // Wmo: 4 hours is one dagdeel.
    assert_eq!(wmo.value("Header/Ontvanger"), Some("0363"));
    assert_eq!(lines(&wmo)[0].3, 1);
}

async fn delivery_beyond_the_allocation_is_reported_not_declared(db: Db) {
    let (_s, api) = provider(db).await;
    // Two dagdelen per week; the participant comes three whole days a week.
    let a = Alloc {
        omvang: Some(("2", "16", "2")),
        eind: Some("2026-12-31"),
        ..dagbesteding("500003", "2026-01-01")
    };
    let p = api
        .allocate(&allocation_xml("WMO", "0363", "T5", BSN_A, &[a]), BSN_A)
        .await;
    let mut days = Vec::new();
    for d in [
        "2026-06-01",
        "2026-06-02",
        "2026-06-03",
        "2026-06-08",
        "2026-06-09",
        "2026-06-10",
    ] {
        days.push((p.as_str(), d, "09:00", "17:00", "houtwerkplaats"));
    }
    api.days(&days).await;
    let report = api.run("2026-06", "2026-07-02").await;
    // June 2026 touches 5 calendar weeks: at most 10 dagdelen of the 12 delivered.
    let msg = assert_valid(
        &api.message_xml(report["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    );
    assert_eq!(lines(&msg)[0].3, 10);
    let notice = report["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "over_allocation")
        .unwrap_or_else(|| panic!("over_allocation notice: {report}"));
    assert_eq!(notice["rule"], "TR321");
    assert!(notice["nl"].as_str().unwrap().contains("317"), "{notice}");
    // Also stored for the review queue, once.
    api.run("2026-06", "2026-07-03").await;
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM review_items WHERE kind = 'over_allocation'")
            .fetch_one(_s.state.store().pool())
            .await
            .expect("count");
    assert_eq!(rows, 1);
}

async fn the_end_of_care_stops_every_started_allocation(db: Db) {
    let (_s, api) = provider(db).await;
    let p = api.dagbesteding("T6", BSN_A, "500004", "2026-01-01").await;
    api.days(&[(&p, "2026-02-02", "09:00", "13:00", "kas")])
        .await;
    let first = api.run("2026-02", "2026-03-02").await;
    assert_eq!(first["messages"][0]["kind"], "start");
    let end = api
        .post_json(
            &format!("/participants/{p}/end"),
            &json!({"date": "2026-03-13", "reason": "verhuizing", "registered_by": "Anna"}),
        )
        .await;
    assert_eq!(end.status, 201, "{}", end.body);
    // The code follows the law of each allocation: a move is 31 in iWmo, 35 in iJw.
    assert_eq!(end.body["reden_beeindiging"]["iwmo"], "31");
    assert_eq!(end.body["reden_beeindiging"]["ijw"], "35");
    let report = api.run("2026-03", "2026-04-01").await;
    let stop = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "stop")
        .unwrap_or_else(|| panic!("stop: {report}"));
    assert_eq!(stop["bericht"], "WMO307");
    let msg = assert_valid(&api.message_xml(stop["message_id"].as_str().unwrap()).await);
    let sp = msg.get("Client/StopProducten/StopProduct").unwrap();
    assert_eq!(sp.value("RedenBeeindiging"), Some("31"));
    assert_eq!(sp.value("Einddatum"), Some("2026-03-13"));
    // TR382: the stop repeats the start's key.
    assert_eq!(sp.value("Begindatum"), Some("2026-02-02"));
    // Stopped once.
    let again = api.run("2026-03", "2026-04-02").await;
    assert!(again["messages"].as_array().unwrap().is_empty(), "{again}");
}

/// The municipality's answer to a declaration: loket's own 325 builder, as
/// a municipality running loket would send it, with `reject` lines (by
/// ReferentieNummer) rejected with 9321.
fn answer_325(declaration_xml: &str, reject: &[&str]) -> String {
    let schema = Schema::builtin().unwrap();
    let mut checked =
        istandaard::check(schema, declaration_xml.as_bytes(), &Limits::default()).unwrap();
    for p in checked
        .message
        .root()
        .all("Declaratie/Clienten/Client/Prestaties/Prestatie")
    {
        if reject.contains(&p.value("ProductReferentie/ReferentieNummer").unwrap()) {
            checked.findings.push(loket::finding::Finding {
                rule: "TR321".into(),
                retourcode: "9321".into(),
                path: p.path(),
                line: None,
                level: loket::finding::Level::CrossMessage,
                nl: String::new(),
                en: String::new(),
                class_node: Some(p.id),
            });
        }
    }
    let settings = loket::adapter::istandaard::RetourSettings {
        today: Some("2026-05-10".parse().unwrap()),
        ..Default::default()
    };
    istandaard::retour_xml(&checked, &settings).expect("325")
}

async fn a_correction_after_declaring_credits_and_debits(db: Db) {
    let (_s, api) = provider(db).await;
    let p = api.dagbesteding("T7", BSN_A, "500005", "2026-01-01").await;
    api.days(&[
        (&p, "2026-04-06", "09:00", "17:00", "kas"),
        (&p, "2026-04-07", "09:00", "13:00", "kas"),
    ])
    .await;
    let april = api.run("2026-04", "2026-05-04").await;
    let first_xml = api
        .message_xml(april["declarations"][0]["message_id"].as_str().unwrap())
        .await;
    let first = lines(&assert_valid(&first_xml));
    assert_eq!(first[0].3, 3);
    // The municipality approves everything.
    api.post_xml(&answer_325(&first_xml, &[])).await;

    // 7 April was a whole day after all.
    api.days(&[(&p, "2026-04-07", "09:00", "17:00", "kas")])
        .await;
    api.days(&[(&p, "2026-05-04", "09:00", "13:00", "kas")])
        .await;
    let may = api.run("2026-05", "2026-06-02").await;
    let msg = assert_valid(
        &api.message_xml(may["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    );
    let mut got = lines(&msg);
    got.sort_by_key(|l| (l.1.clone(), l.7.clone()));
    // April credited at the old volume, debited at the new; May debited.
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        (got[0].1.as_str(), got[0].3, got[0].7.as_str()),
        ("2026-04-01", 3, "C")
    );
    assert_eq!(
        (got[1].1.as_str(), got[1].3, got[1].7.as_str()),
        ("2026-04-01", 4, "D")
    );
    assert_eq!(
        (got[2].1.as_str(), got[2].3, got[2].7.as_str()),
        ("2026-05-01", 1, "D")
    );
    let credit = msg
        .root()
        .all("Declaratie/Clienten/Client/Prestaties/Prestatie")
        .into_iter()
        .find(|p| p.value("IngediendBedrag/DebetCredit") == Some("C"))
        .unwrap();
    let old_ref = first_xml
        .split("ReferentieNummer>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert_eq!(
        credit.value("ProductReferentie/VorigReferentieNummer"),
        Some(old_ref)
    );
    assert_eq!(
        msg.value("Declaratie/TotaalIngediendBedrag/TotaalBedrag"),
        Some(&*(2 * 5398).to_string())
    );
    // Nothing twice: the next run has nothing to send.
    let again = api.run("2026-05", "2026-06-03").await;
    assert_eq!(again["declarations"], json!([]), "{again}");
}

async fn a_rejected_line_in_the_325_reaches_the_review_queue(db: Db) {
    let (s, api) = provider(db).await;
    let p = api.dagbesteding("T8", BSN_A, "500006", "2026-01-01").await;
    api.days(&[(&p, "2026-04-06", "09:00", "17:00", "kas")])
        .await;
    let april = api.run("2026-04", "2026-05-04").await;
    let xml = api
        .message_xml(april["declarations"][0]["message_id"].as_str().unwrap())
        .await;
    let reference = xml
        .split("ReferentieNummer>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    api.post_xml(&answer_325(&xml, &[&reference])).await;
    let decl = api
        .declaration(april["declarations"][0]["id"].as_str().unwrap())
        .await;
    assert_eq!(decl["prestaties"][0]["status"], "rejected", "{decl}");
    assert_eq!(decl["prestaties"][0]["retourcodes"][0]["code"], "9321");
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM review_items WHERE kind = 'rejected_prestatie' AND status = 'open'",
    )
    .fetch_one(s.state.store().pool())
    .await
    .expect("count");
    assert_eq!(open, 1);
    // Nothing changed: the next run does not send the same line again.
    let unchanged = api.run("2026-05", "2026-06-01").await;
    assert_eq!(unchanged["declarations"], json!([]), "{unchanged}");
    // Once a person resolved the item (the allocation was widened, say),
    // the next run declares the period again.
    let items = api.get("/review?kind=rejected_prestatie").await;
    let item = items.body["items"][0]["id"]
        .as_str()
        .expect("review item")
        .to_string();
    let resolved = api
        .post_json(
            &format!("/review/{item}/resolve"),
            &json!({"resolved_by": "Anna", "note": "toewijzing verhoogd"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    let may = api.run("2026-05", "2026-06-02").await;
    let again = lines(&assert_valid(
        &api.message_xml(may["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    ));
    assert_eq!(
        (again[0].1.as_str(), again[0].7.as_str()),
        ("2026-04-01", "D"),
        "{again:?}"
    );
}

async fn dry_run_stores_nothing_and_municipalities_cannot_declare(db: Db) {
    let (s, api) = provider(db).await;
    let p = api.dagbesteding("T9", BSN_A, "500007", "2026-01-01").await;
    api.days(&[(&p, "2026-04-06", "09:00", "17:00", "kas")])
        .await;
    let dry = api
        .post_json(
            "/declarations/run",
            &json!({"period": "2026-04", "dry_run": true}),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["declarations"].as_array().unwrap().len(), 1);
    assert!(dry.body["declarations"][0]["id"].is_null());
    let list = api.get("/declarations").await;
    assert_eq!(list.body["declarations"], json!([]));
    let bad = api
        .post_json("/declarations/run", &json!({"period": "2026-13"}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let gemeente = s.tenant_api("0363").await;
    let refused = gemeente
        .post_json("/declarations/run", &json!({"period": "2026-04"}))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // Another tenant does not see the declaration or the participant.
    let other = s.tenant_api("12345678").await;
    assert_eq!(
        other
            .post_json(
                &format!("/participants/{p}/end"),
                &json!({"date": "2026-04-30", "reason": "overlijden", "registered_by": "x"})
            )
            .await
            .status,
        404
    );
}

/// Casus 1 of the 3.2 case descriptions (Van Toewijzing naar Verlengen
/// Toewijzing via Oprekken Einddatum), in our own numbers: ambulant
/// jeugdhulp 3 hours a week until 30 June; the provider starts; the
/// municipality stretches the Einddatum (RedenWijziging 04); July is
/// declared only after that, and the start is not sent again.
async fn casus_1_an_extended_allocation_declares_beyond_its_first_end(db: Db) {
    let (_s, api) = provider(db).await;
    let mut a = Alloc {
        nummer: "667899",
        categorie: "45",
        code: "45A45",
        ingang: "2026-01-01",
        eind: Some("2026-06-30"),
        omvang: Some(("3", "04", "2")),
        reden: None,
    };
    let p = api
        .allocate(
            &allocation_xml("JW", "0599", "C1", BSN_B, &[a.clone()]),
            BSN_B,
        )
        .await;
    api.days(&[(
        &p,
        "2026-01-05",
        "10:00",
        "11:30",
        "jeugdhulp-specialistisch",
    )])
    .await;
    let jan = api.run("2026-01", "2026-02-02").await;
    assert_eq!(jan["messages"][0]["bericht"], "JW305", "{jan}");
    let start = assert_valid(
        &api.message_xml(jan["messages"][0]["message_id"].as_str().unwrap())
            .await,
    );
    assert_eq!(
        start.value("Client/StartProducten/StartProduct/Begindatum"),
        Some("2026-01-05")
    );
    let jan_lines = lines(&assert_valid(
        &api.message_xml(jan["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    ));
    // Declared in minutes at the hourly tariff / 60 (TR341, TR346).
    assert_eq!(
        (
            jan_lines[0].3,
            jan_lines[0].4.as_str(),
            jan_lines[0].5,
            jan_lines[0].6
        ),
        (90, "01", Some(170), 15263)
    );

    // July lies beyond the allocation: reported, not declared.
    api.days(&[(
        &p,
        "2026-07-06",
        "10:00",
        "11:00",
        "jeugdhulp-specialistisch",
    )])
    .await;
    let before = api.run("2026-07", "2026-08-03").await;
    assert_eq!(before["declarations"], json!([]), "{before}");
    assert!(
        before["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "not_declarable"),
        "{before}"
    );
    // The municipality stretches the Einddatum.
    a.eind = Some("2026-12-31");
    a.reden = Some("04");
    api.allocate(&allocation_xml("JW", "0599", "C2", BSN_B, &[a]), BSN_B)
        .await;
    let after = api.run("2026-07", "2026-08-04").await;
    assert_eq!(after["messages"], json!([]), "no second start: {after}");
    let july = lines(&assert_valid(
        &api.message_xml(after["declarations"][0]["message_id"].as_str().unwrap())
            .await,
    ));
    assert_eq!((july[0].1.as_str(), july[0].3), ("2026-07-01", 60));
}

/// TR318: after January was declared, a run for March also declares
/// February (a month with care may not be skipped), each in a declaration
/// with its own DeclaratiePeriode, February first.
async fn a_skipped_month_gets_its_own_declaration(db: Db) {
    let (_s, api) = provider(db).await;
    let p = api.dagbesteding("S1", BSN_A, "500009", "2026-01-01").await;
    api.days(&[(&p, "2026-01-12", "09:00", "13:00", "kas")])
        .await;
    api.run("2026-01", "2026-02-02").await;
    api.days(&[
        (&p, "2026-02-09", "09:00", "13:00", "kas"),
        (&p, "2026-03-09", "09:00", "17:00", "kas"),
    ])
    .await;
    let report = api.run("2026-03", "2026-04-01").await;
    let decls = report["declarations"].as_array().unwrap();
    assert_eq!(decls.len(), 2, "{report}");
    assert_eq!(decls[0]["period_begin"], "2026-02-01");
    assert_eq!(decls[1]["period_begin"], "2026-03-01");
    let feb = lines(&assert_valid(
        &api.message_xml(decls[0]["message_id"].as_str().unwrap())
            .await,
    ));
    let mar = lines(&assert_valid(
        &api.message_xml(decls[1]["message_id"].as_str().unwrap())
            .await,
    ));
    assert_eq!((feb[0].1.as_str(), feb[0].3), ("2026-02-01", 1));
    assert_eq!((mar[0].1.as_str(), mar[0].3), ("2026-03-01", 2));
}

/// A contract's `max_clients` caps the clients per message: three clients
/// with `max_clients = 2` make two WMO323 for the same month, each with its
/// own DeclaratieNummer, together declaring every line exactly once.
async fn more_clients_than_max_clients_make_several_declarations(db: Db) {
    let mappings = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("mappings").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace(
                "[declaration]\nperiod = \"month\"\n",
                "[declaration]\nperiod = \"month\"\nmax_clients = 2\n",
            );
            std::fs::write(mappings.path().join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let config = loket::config::Config {
        mappings_dir: mappings.path().to_path_buf(),
        ..loket::config::Config::default()
    };
    let s = Server::start_with(db, config).await;
    let api = s.tenant_api(AGB).await;
    let mut days = Vec::new();
    let mut participants = Vec::new();
    for (i, bsn) in [BSN_A, BSN_B, "999900250"].iter().enumerate() {
        let nummer = format!("80000{i}");
        participants.push(
            api.dagbesteding(&format!("T8{i}"), bsn, &nummer, "2026-01-01")
                .await,
        );
    }
    for p in &participants {
        days.push((p, "2026-05-04", "09:00", "13:00", "kas"));
    }
    let days: Vec<_> = days
        .iter()
        .map(|(p, d, f, t, a)| (p.as_str(), *d, *f, *t, *a))
        .collect();
    api.days(&days).await;
    let report = api.run("2026-05", "2026-06-02").await;
    let decls = report["declarations"].as_array().unwrap();
    assert_eq!(decls.len(), 2, "{report}");
    let mut clients = Vec::new();
    let mut nummers = std::collections::HashSet::new();
    for d in decls {
        let msg = assert_valid(&api.message_xml(d["message_id"].as_str().unwrap()).await);
        assert_eq!(msg.name(), "WMO323");
        assert!(
            nummers.insert(
                msg.value("Declaratie/DeclaratieNummer")
                    .unwrap()
                    .to_string()
            )
        );
        let n = msg.root().all("Declaratie/Clienten/Client").len();
        assert!(n <= 2, "{n} clients in one declaration");
        clients.push(n);
        assert_eq!(lines(&msg).len(), n);
    }
    clients.sort();
    assert_eq!(clients, vec![1, 2]);
    let total: i64 = decls
        .iter()
        .map(|d| d["total_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3 * 5398);
}
