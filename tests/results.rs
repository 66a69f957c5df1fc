//! Pay-for-results claims end to end over HTTP, on SQLite and PostgreSQL:
//! a social-impact order (`POST /allocations`) and a Wmo outputgericht
//! allocation (a WMO301), measurements and milestones through
//! `record::outcomes` / `record::results`, and `POST /declarations/run`
//! turning an outcome reached into exactly one claim: one invoice line or
//! one output-based 323 prestatie, never a second, never credited.
//!
//! Contracts: `mappings/social-impact-werk.toml` (trede 5 held 3 months
//! 1,500.00; paid work held 6 months 2,500.00; ZRM werk and financiën a
//! level up 500.00; benefit ended 1,000.00, exempt from VAT) and the Wmo
//! 0363 contract with a results product added here (07R01, eenheid 82:
//! trede 4 held 2 months, 1,200.00). Every generated document is written
//! with `common::emit` for CI's official validation and checked with
//! loket's own validators here.

use loket::adapter::istandaard::{self, Limits};
use loket::adapter::ubl::{self, Dec};
use loket::record::access::Actor;
use loket::record::outcomes::{NewMeasurement, NewScore, add_measurement};
use loket::record::results::{NewMilestone, add_milestone};
use loket::schema::Schema;
use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    a_social_impact_result_is_claimed_once_when_reached_and_held,
    an_outputgericht_allocation_gets_one_output_line_and_others_a_notice,
    the_demo_claims_its_social_impact_results_and_shows_them_with_evidence,
);

const AGB: &str = "73730112";
const BSN_1: &str = "999901023";
const BSN_2: &str = "999900304";
const BSN_3: &str = "999900250";
const BSN_4: &str = "999900195";

/// The Wmo 0363 contract with a results product and one result.
const WMO_RESULTS: &str = r#"
[[products]]
categorie = "07"
code = "07R01"
name = "Resultaat participatie"
eenheid = "82"
price_basis = "milestone"
activities = ["resultaat"]
conversion = { measure = "period" }

[[products.tariffs]]
from = 2025-01-01
price_cents = 120000

[[results]]
id = "trede4-2m"
name = "Trede 4 (vrijwilligerswerk), 2 maanden behouden"
kind = "ladder_held"
rung = 4
months = 2
product = { categorie = "07", code = "07R01" }
price_cents = 120000
"#;

async fn provider(db: Db) -> (Server, Api) {
    let dir = db.dir.path().join("results-mappings");
    std::fs::create_dir_all(&dir).expect("mappings dir");
    let wmo = std::fs::read_to_string("mappings/gemeente-0363-wmo.toml").expect("wmo");
    std::fs::write(dir.join("wmo.toml"), format!("{wmo}\n{WMO_RESULTS}")).expect("write");
    std::fs::copy(
        "mappings/social-impact-werk.toml",
        dir.join("social-impact-werk.toml"),
    )
    .expect("copy");
    let config = loket::config::Config {
        mappings_dir: dir,
        ..loket::config::Config::default()
    };
    let s = Server::start_with(db, config).await;
    let api = s.tenant_api(AGB).await;
    (s, api)
}

/// A name part for emitted files: both backends write their own.
fn backend(s: &Server) -> &'static str {
    if s.db.url.is_some() { "pg" } else { "sqlite" }
}

fn actor() -> Actor {
    Actor::user("jbakker", "J. Bakker", "begeleider", None)
}

/// Stores one measurement with one instrument's scores.
async fn measure(
    s: &Server,
    participant: &str,
    instrument: &str,
    date: &str,
    scores: &[(&str, i64)],
) {
    let mut w = s.state.store().begin_write().await.expect("write");
    add_measurement(
        &mut w,
        AGB,
        &s.state.instruments,
        &actor(),
        &NewMeasurement {
            participant_id: participant.into(),
            instrument: instrument.into(),
            measured_on: date.parse().expect("date"),
            scores: scores
                .iter()
                .map(|(d, v)| NewScore {
                    domain: (*d).into(),
                    score: *v,
                    note: None,
                })
                .collect(),
            supersedes: None,
        },
        None,
    )
    .await
    .expect("measurement");
    w.commit().await.expect("commit");
}

async fn ladder(s: &Server, participant: &str, date: &str, rung: i64) {
    measure(
        s,
        participant,
        "participatieladder",
        date,
        &[("participatie", rung)],
    )
    .await;
}

async fn claims(s: &Server) -> i64 {
    count(s, "SELECT COUNT(*) FROM result_claims").await
}

fn sib_order(bsn: &str, order: &str, client: &str) -> Value {
    json!({
        "bsn": bsn,
        "financier": {"kind": "social_impact", "code": "SIBWERK"},
        "order_number": order,
        "service": "SIW01",
        "from": "2026-01-01",
        "to": "2026-12-31",
        "client_reference": client,
    })
}

/// The invoices of a run answer.
fn invoices(report: &Value) -> Vec<Value> {
    report["declarations"]
        .as_array()
        .expect("declarations")
        .iter()
        .filter(|d| d["bericht"] == "Invoice" || d["bericht"] == "CreditNote")
        .cloned()
        .collect()
}

async fn a_social_impact_result_is_claimed_once_when_reached_and_held(db: Db) {
    let (s, api) = provider(db).await;
    let mut ids = Vec::new();
    for (bsn, order, client) in [
        (BSN_1, "SIB-0001", "WL-1001"),
        (BSN_2, "SIB-0002", "WL-1002"),
    ] {
        let reply = api
            .post_json("/allocations", &sib_order(bsn, order, client))
            .await;
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.body);
        ids.push(
            reply.body["participant_id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let (p1, p2) = (ids[0].as_str(), ids[1].as_str());
    // P1 reaches rung 5 on 10 February and is still there on 12 May: held
    // three months from 12 May (10 May due). P2 stays at rungs 2 and 3.
    ladder(&s, p1, "2026-01-10", 3).await;
    ladder(&s, p1, "2026-02-10", 5).await;
    ladder(&s, p1, "2026-03-10", 5).await;
    ladder(&s, p1, "2026-05-12", 6).await;
    ladder(&s, p2, "2026-01-12", 2).await;
    ladder(&s, p2, "2026-03-12", 3).await;
    ladder(&s, p2, "2026-05-14", 3).await;

    // (a), (b): February (reached, not held) and April (not yet three
    // months): no claim, no invoice.
    for (period, day) in [("2026-02", "2026-03-02"), ("2026-04", "2026-05-04")] {
        let report = api.run(period, day).await;
        assert_eq!(report["claims"], json!([]), "{report}");
        assert!(invoices(&report).is_empty(), "{report}");
    }
    assert_eq!(claims(&s).await, 0);

    // (e) A dry run previews the claim and stores nothing.
    let dry = api
        .post_json(
            "/declarations/run",
            &json!({"period": "2026-05", "dagtekening": "2026-06-02", "dry_run": true}),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_schema("declarations-run-result", &dry.body);
    assert_eq!(
        dry.body["claims"],
        json!([{"participant_id": p1, "financier": "social_impact:SIBWERK", "result_id": "trede5-3m",
                "reached_on": "2026-05-12", "amount_cents": 150000, "stored": false}]),
        "{}",
        dry.body
    );
    assert_eq!(claims(&s).await, 0);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM prestaties").await, 0);

    // (c) May: held. Exactly one claim with its evidence, one invoice line.
    let may = api.run("2026-05", "2026-06-02").await;
    assert_eq!(may["claims"].as_array().map(Vec::len), Some(1), "{may}");
    assert_eq!(may["claims"][0]["stored"], true);
    let docs = invoices(&may);
    assert_eq!(docs.len(), 1, "{may}");
    assert_eq!(docs[0]["bericht"], "Invoice");
    assert_eq!(docs[0]["total_cents"], 150000);
    let xml = api
        .message_xml(docs[0]["message_id"].as_str().expect("id"))
        .await;
    emit(&xml, true, &format!("results-sib-{}", backend(&s)));
    let checked = ubl::check(xml.as_bytes(), &Limits::default()).expect("decodes");
    assert!(checked.is_valid(), "{:#?}\n{xml}", checked.findings);
    let doc = checked.document;
    assert_eq!(doc.lines.len(), 1);
    let line = &doc.lines[0];
    assert_eq!(line.quantity, Some(Dec::int(1)));
    assert_eq!(line.price, Some(Dec::cents(150000)));
    assert_eq!(line.amount, Some(Dec::cents(150000)));
    assert_eq!(line.item_id.as_deref(), Some("SIW01"));
    assert_eq!(line.note.as_deref(), Some("WL-1001"));
    let description = line.item_description.as_deref().unwrap_or_default();
    // The result and the dates of its evidence, never the BSN.
    for part in ["trede5-3m", "10-02-2026", "10-03-2026", "12-05-2026"] {
        assert!(description.contains(part), "{description}");
    }
    assert!(!xml.contains(BSN_1));
    assert_eq!(claims(&s).await, 1);
    let evidence: Vec<(String, i64)> =
        sqlx::query_as("SELECT evidence_on, score FROM result_claim_evidence ORDER BY position")
            .fetch_all(s.state.store().pool())
            .await
            .expect("evidence");
    assert_eq!(
        evidence,
        [
            ("2026-02-10".to_string(), 5),
            ("2026-03-10".to_string(), 5),
            ("2026-05-12".to_string(), 6)
        ]
    );
    let listed = loket::record::results::claims(
        s.state.store().pool(),
        AGB,
        None,
        "2026-01-01".parse().unwrap(),
        "2026-12-31".parse().unwrap(),
    )
    .await
    .expect("claims");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].claim.participant_id, p1);
    assert_eq!(listed[0].claim.amount_cents, 150000);
    assert_eq!(listed[0].claim.line_status.as_deref(), Some("invoiced"));
    assert_eq!(listed[0].evidence.len(), 3);

    // (d) May again, then June: still one claim, no second line, and the
    // claim line (no registration behind it) is never credited.
    let again = api.run("2026-05", "2026-06-03").await;
    assert_eq!(again["claims"], json!([]), "{again}");
    assert!(invoices(&again).is_empty(), "{again}");
    // (f) June: P2's benefit ended on 3 June (a milestone staff recorded).
    let mut w = s.state.store().begin_write().await.expect("write");
    add_milestone(
        &mut w,
        AGB,
        &actor(),
        &NewMilestone {
            participant_id: p2.into(),
            kind: "uitkering_beeindigd".into(),
            reached_on: "2026-06-03".parse().unwrap(),
            note: Some("Uitkering stopt per juni".into()),
        },
    )
    .await
    .expect("milestone");
    w.commit().await.expect("commit");
    let june = api.run("2026-06", "2026-07-02").await;
    let made: Vec<(&str, &str)> = june["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .map(|c| {
            (
                c["participant_id"].as_str().unwrap_or_default(),
                c["result_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(made, [(p2, "uitkering-beeindigd")], "{june}");
    let docs = invoices(&june);
    assert_eq!(docs.len(), 1, "{june}");
    assert_eq!(docs[0]["bericht"], "Invoice");
    assert_eq!(docs[0]["total_cents"], 100000);
    assert_eq!(docs[0]["credit_lines"], 0);
    let xml = api
        .message_xml(docs[0]["message_id"].as_str().expect("id"))
        .await;
    emit(&xml, true, &format!("results-milestone-{}", backend(&s)));
    let checked = ubl::check(xml.as_bytes(), &Limits::default()).expect("decodes");
    assert!(checked.is_valid(), "{:#?}\n{xml}", checked.findings);
    assert_eq!(checked.document.lines.len(), 1);
    assert_eq!(checked.document.lines[0].note.as_deref(), Some("WL-1002"));
    let july = api.run("2026-07", "2026-08-03").await;
    assert_eq!(july["claims"], json!([]), "{july}");
    assert!(invoices(&july).is_empty(), "{july}");
    assert_eq!(claims(&s).await, 2);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM prestaties").await, 2);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM prestaties WHERE debet_credit = 'C'"
        )
        .await,
        0
    );
    // A milestone of a kind loket does not know is refused, in Dutch and
    // English; so is one for another tenant's participant.
    let mut w = s.state.store().begin_write().await.expect("write");
    let bad = add_milestone(
        &mut w,
        AGB,
        &actor(),
        &NewMilestone {
            participant_id: p2.into(),
            kind: "loterij".into(),
            reached_on: "2026-06-03".parse().unwrap(),
            note: None,
        },
    )
    .await
    .expect_err("refused");
    assert!(bad.to_string().contains("onbekende mijlpaal"), "{bad}");
    let other = add_milestone(
        &mut w,
        "12345678",
        &actor(),
        &NewMilestone {
            participant_id: p2.into(),
            kind: "diploma".into(),
            reached_on: "2026-06-03".parse().unwrap(),
            note: None,
        },
    )
    .await;
    assert!(other.is_err());
}

async fn an_outputgericht_allocation_gets_one_output_line_and_others_a_notice(db: Db) {
    let (s, api) = provider(db).await;
    let output = Alloc {
        nummer: "700001",
        categorie: "07",
        code: "07R01",
        ingang: "2026-01-01",
        eind: Some("2026-12-31"),
        omvang: Some(("1", "82", "6")),
        reden: None,
    };
    let p3 = api
        .allocate(
            &allocation_xml("WMO", "0363", AGB, "R1", BSN_3, &[output]),
            BSN_3,
        )
        .await;
    // P4 has dagbesteding only: the result is reached, but there is no
    // outputgericht allocation to declare it on.
    let p4 = api
        .allocate(
            &allocation_xml(
                "WMO",
                "0363",
                AGB,
                "R2",
                BSN_4,
                &[dagbesteding("700002", "2026-01-01")],
            ),
            BSN_4,
        )
        .await;
    for p in [&p3, &p4] {
        ladder(&s, p, "2026-02-02", 4).await;
        ladder(&s, p, "2026-03-03", 4).await;
    }
    // March: rung 4 since 2 February, not yet two months.
    let march = api.run("2026-03", "2026-04-01").await;
    assert_eq!(march["claims"], json!([]), "{march}");
    ladder(&s, &p3, "2026-04-06", 5).await;
    ladder(&s, &p4, "2026-04-06", 4).await;
    let april = api.run("2026-04", "2026-05-04").await;
    assert_eq!(april["claims"].as_array().map(Vec::len), Some(1), "{april}");
    assert_eq!(april["claims"][0]["participant_id"], p3.as_str());
    assert_eq!(april["claims"][0]["result_id"], "trede4-2m");
    let decl: Vec<&Value> = april["declarations"]
        .as_array()
        .expect("declarations")
        .iter()
        .filter(|d| d["bericht"] == "WMO323")
        .collect();
    assert_eq!(decl.len(), 1, "{april}");
    assert_eq!(decl[0]["total_cents"], 120000);
    assert_eq!(decl[0]["debit_lines"], 1);
    let xml = api
        .message_xml(decl[0]["message_id"].as_str().expect("id"))
        .await;
    emit(&xml, false, &format!("results-wmo323-{}", backend(&s)));
    let checked = istandaard::check(
        Schema::builtin().unwrap(),
        xml.as_bytes(),
        &Limits::default(),
    )
    .expect("decodes");
    assert!(checked.findings.is_empty(), "{:?}\n{xml}", checked.findings);
    let prestaties = checked
        .message
        .root()
        .all("Declaratie/Clienten/Client/Prestaties/Prestatie");
    assert_eq!(prestaties.len(), 1);
    let p = &prestaties[0];
    assert_eq!(p.value("ToewijzingNummer"), Some("700001"));
    assert_eq!(p.value("ProductCode"), Some("07R01"));
    assert_eq!(p.int("GeleverdVolume"), Some(1));
    assert_eq!(p.value("Eenheid"), Some("82"));
    assert_eq!(p.int("ProductTarief"), Some(120000));
    assert_eq!(p.int("IngediendBedrag/Bedrag"), Some(120000));
    assert_eq!(p.value("IngediendBedrag/DebetCredit"), Some("D"));
    // P4: a notice saying why, in Dutch, not a silent drop.
    let notice = april["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .find(|n| n["kind"] == "result_not_claimable")
        .unwrap_or_else(|| panic!("a notice for P4: {april}"));
    assert_eq!(notice["participant_id"], p4.as_str());
    assert!(
        notice["nl"]
            .as_str()
            .unwrap_or_default()
            .contains("outputgerichte toewijzing"),
        "{notice}"
    );
    // Again and the next month: one claim, one line, no credit; P4's
    // outcome stays one open review item, not one per run.
    let again = api.run("2026-04", "2026-05-05").await;
    assert_eq!(again["claims"], json!([]), "{again}");
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM review_items WHERE kind = 'result_not_claimable' AND status = 'open'"
        )
        .await,
        1
    );
    let may = api.run("2026-05", "2026-06-02").await;
    assert_eq!(may["claims"], json!([]), "{may}");
    assert!(
        !may["declarations"]
            .as_array()
            .expect("declarations")
            .iter()
            .any(|d| d["bericht"] == "WMO323"),
        "{may}"
    );
    assert_eq!(claims(&s).await, 1);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM prestaties WHERE debet_credit = 'C'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM prestaties WHERE product_code = '07R01'"
        )
        .await,
        1
    );
}

async fn the_demo_claims_its_social_impact_results_and_shows_them_with_evidence(db: Db) {
    use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
    let (s, demo) = Server::start_demo(db).await;
    // Participants 24 and 27 held rung 5 for three months, 29's benefit
    // ended: 1,500.00 + 1,500.00 + 1,000.00 on the contract's invoice;
    // 25, 26 and 28 reached nothing on the ladder yet. (The ZRM result
    // depends on the ZRM measurements the demo seeds for everyone, so it is
    // counted, not fixed, here.)
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT result_id, amount_cents FROM result_claims \
         WHERE result_id <> 'zrm-werk-financien' ORDER BY result_id",
    )
    .fetch_all(s.state.store().pool())
    .await
    .expect("claims");
    assert_eq!(
        rows,
        [
            ("trede5-3m".to_string(), 150000),
            ("trede5-3m".to_string(), 150000),
            ("uitkering-beeindigd".to_string(), 100000)
        ]
    );
    let claimed = count(
        &s,
        "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM result_claims",
    )
    .await;
    let n_claims = count(&s, "SELECT COUNT(*) FROM result_claims").await;
    assert!(claimed >= 400000);
    let invoiced: i64 = count(
        &s,
        "SELECT CAST(COALESCE(SUM(d.total_cents), 0) AS BIGINT) FROM declarations d JOIN financiers f ON f.id = d.financier_id \
         WHERE f.kind = 'social_impact'",
    )
    .await;
    assert_eq!(
        invoiced, claimed,
        "every claim is on the contract's invoice"
    );

    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let page = web.get("/resultaten").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let heading = format!(
        "Social-impactcontract Werk Loont ({n_claims} claims, {})",
        loket::web::euro(claimed)
    );
    for text in [
        heading.as_str(),
        "Trede 5 (betaald werk met ondersteuning), 3 maanden behouden",
        "Participatieladder: ",
        "Mijlpaal: Uitkering beëindigd",
        "gefactureerd",
    ] {
        assert!(page.body.contains(text), "{text} on /resultaten");
    }
    let logged = count(
        &s,
        "SELECT COUNT(*) FROM access_log WHERE object = 'GET /resultaten'",
    )
    .await;
    let shown = count(
        &s,
        "SELECT COUNT(*) FROM (SELECT participant_id FROM result_claims UNION \
         SELECT participant_id FROM review_items WHERE kind = 'result_not_claimable' AND status = 'open') x",
    )
    .await;
    assert!(shown >= 3);
    assert_eq!(logged, shown, "one entry per participant shown");
    // The contract's report (Verantwoording) over the claims' days lists
    // the same claims with their evidence.
    let (financier, first, last): (String, String, String) = sqlx::query_as(
        "SELECT financier_id, MIN(reached_on), MAX(reached_on) FROM result_claims GROUP BY financier_id",
    )
    .fetch_one(s.state.store().pool())
    .await
    .expect("the claims' financier");
    let report = web
        .get(&format!(
            "/verantwoording/rapport?financier={financier}&van={first}&tot={last}"
        ))
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let stated = format!(
        "{} bereikt in deze periode en geclaimd, samen {}",
        loket::web::format::count(n_claims, "resultaat", "resultaten"),
        loket::web::euro(claimed)
    );
    for text in [
        "Resultaatclaims",
        stated.as_str(),
        "Trede 5 (betaald werk met ondersteuning), 3 maanden behouden",
        "Mijlpaal: Uitkering beëindigd",
    ] {
        assert!(report.body.contains(text), "{text} in the report");
    }
    // A begeleider may not open it; a municipality neither.
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(coach.get("/resultaten").await.status, 403);
    let mut gemeente = WebClient::new(&s.base);
    gemeente.login("0363", "beoordelaar", DEMO_PASSWORD).await;
    assert_eq!(gemeente.get("/resultaten").await.status, 403);

    // A milestone through the web form and the API; a bad one refused.
    let (participant,): (String,) = sqlx::query_as(
        "SELECT participant_id FROM result_claims WHERE result_id = 'uitkering-beeindigd'",
    )
    .fetch_one(s.state.store().pool())
    .await
    .expect("participant");
    let shown = web.get(&format!("/deelnemers/{participant}")).await;
    assert!(
        shown.body.contains("Mijlpalen"),
        "the participant page shows them"
    );
    assert!(shown.body.contains("Uitkering beëindigd"));
    let csrf = shown.csrf();
    let posted = web
        .post(
            &format!("/deelnemers/{participant}/mijlpaal"),
            &[
                ("csrf", &csrf),
                ("soort", "diploma"),
                ("datum", "2026-03-02"),
                ("toelichting", "MBO-2"),
            ],
        )
        .await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    let bad = web
        .post(
            &format!("/deelnemers/{participant}/mijlpaal"),
            &[
                ("csrf", &csrf),
                ("soort", "loterij"),
                ("datum", "2026-03-02"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("onbekende mijlpaal"), "{}", bad.body);
    let api = Api {
        base: s.base.clone(),
        http: s.http.clone(),
        token: demo.api_token.clone().expect("the demo's token"),
        tenant: DEMO_AGB.into(),
    };
    let reply = api
        .post_json(
            &format!("/participants/{participant}/milestones"),
            &json!({"kind": "betaald_werk", "date": "2026-03-02", "note": "16 uur"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = api
        .post_json(
            &format!("/participants/{participant}/milestones"),
            &json!({"kind": "loterij", "date": "2026-03-02"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = api
        .post_json(
            "/participants/niet-bestaand/milestones",
            &json!({"kind": "diploma", "date": "2026-03-02"}),
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM milestones").await,
        3,
        "the demo's, the form's and the API's"
    );
}
