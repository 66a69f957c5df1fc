//! Invoices end to end over HTTP, on SQLite and PostgreSQL: orders of
//! invoiced financiers (`POST /allocations`), daily registrations, the
//! declaration run producing UBL invoices and credit notes, municipalities
//! receiving invoices (`POST /invoices`), and the command line (`loket
//! declare --out`, `loket parse --emit json`, `loket validate`).
//!
//! Contracts are the example mappings in `mappings/` (UWV: jobcoaching at
//! 76.90 per hour from 2026, werkfit per month 950.00, exempt from VAT;
//! Participatiewet 0363: beschut werk 62.40 per day, begeleiding 69.00 per
//! hour to the minute, 21% VAT). Every invoice a test receives is written to
//! `$LOKET_EMIT_DIR/ubl`, which CI validates with the official UBL XSD and
//! EN 16931 XSLT (.ci/conformance.sh).

use loket::adapter::istandaard::Limits;
use loket::adapter::ubl::rules::{self, RuleSet};
use loket::adapter::ubl::{self, Dec, Kind};
use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    an_order_and_a_month_of_registrations_become_one_invoice,
    a_correction_of_an_invoiced_month_is_a_credit_note_and_a_new_invoice,
    order_price_minutes_and_standard_rate_vat,
    a_municipality_receives_an_invoice_as_declaration_lines,
    bad_orders_and_bad_invoices_get_clear_errors,
    declare_writes_the_invoices_and_parse_reads_them,
    generated_invoices_and_credit_notes_pass_peppol_and_nlcius,
);

const AGB: &str = "73730112";
const BSN: &str = "999901023";
const BSN_2: &str = "999900304";
/// The buyer's OIN in mappings/gemeente-0363-participatiewet.toml.
const OIN_0363: &str = "00000001002564440000";

async fn provider(db: Db) -> (Server, Api) {
    let s = Server::start(db).await;
    let api = s.tenant_api(AGB).await;
    (s, api)
}

impl Api {
    async fn order(&self, body: Value) -> Value {
        let reply = self.post_json("/allocations", &body).await;
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.body);
        reply.body
    }

    /// The stored document, checked as any incoming invoice is, and kept
    /// for CI's official validation.
    async fn invoice(&self, message_id: &str) -> (String, ubl::Document) {
        let xml = self.message_xml(message_id).await;
        let checked = ubl::check(xml.as_bytes(), &Limits::default()).expect("decodes");
        assert!(checked.is_valid(), "{:#?}\n{xml}", checked.findings);
        (xml, checked.document)
    }
}

fn uwv_order(bsn: &str, order: &str, client: &str) -> Value {
    json!({
        "bsn": bsn,
        "financier": {"kind": "uwv", "code": "UWV"},
        "order_number": order,
        "service": "JC001",
        "from": "2026-01-01",
        "to": "2026-12-31",
        "client_reference": client,
    })
}

fn cents(d: Option<Dec>) -> i64 {
    d.and_then(Dec::to_cents).expect("an amount")
}

/// (kind, summary) of every document in a run answer.
fn documents(report: &Value) -> Vec<Value> {
    report["declarations"]
        .as_array()
        .expect("declarations")
        .iter()
        .filter(|d| d["bericht"] == "Invoice" || d["bericht"] == "CreditNote")
        .cloned()
        .collect()
}

async fn an_order_and_a_month_of_registrations_become_one_invoice(db: Db) {
    let (_s, api) = provider(db).await;
    let order = api.order(uwv_order(BSN, "UWV-2026-0042", "K-1001")).await;
    assert_eq!(order["created"], true);
    assert_eq!(order["price_basis"], "hour");
    let p = order["participant_id"].as_str().unwrap().to_string();
    // 2.5 + 3 + 1.25 hours = 6.75 -> 7 hours (nearest, per month).
    api.days(&[
        (&p, "2026-03-02", "09:00", "11:30", "jobcoaching"),
        (&p, "2026-03-03", "13:00", "16:00", "jobcoaching"),
        (&p, "2026-03-05", "10:00", "11:15", "jobcoaching"),
        // Not an activity of the order: not invoiced.
        (&p, "2026-03-06", "09:00", "12:00", "kas"),
    ])
    .await;
    let report = api.run("2026-03", "2026-04-02").await;
    let docs = documents(&report);
    assert_eq!(docs.len(), 1, "{report}");
    let d = &docs[0];
    assert_eq!(d["bericht"], "Invoice");
    assert_eq!(d["financier"], "uwv:UWV");
    assert_eq!(d["total_cents"], 7 * 7690);
    // No start message: invoiced financiers get none.
    assert_eq!(report["messages"], json!([]), "{report}");
    let (xml, doc) = api.invoice(d["message_id"].as_str().unwrap()).await;
    assert_eq!(doc.kind, Kind::Invoice);
    assert_eq!(doc.order_reference.as_deref(), Some("UWV-2026-0042"));
    assert_eq!(doc.payee_account.as_deref(), Some("NL91ABNA0417164300"));
    assert_eq!(doc.issue_date.as_deref(), Some("2026-04-02"));
    assert_eq!(doc.due_date.as_deref(), Some("2026-05-02"));
    assert_eq!(doc.subtotals[0].category, "E");
    assert_eq!(cents(doc.totals.payable), 7 * 7690);
    assert_eq!(doc.lines.len(), 1);
    let line = &doc.lines[0];
    assert_eq!(line.note.as_deref(), Some("K-1001"));
    assert_eq!(line.unit_code.as_deref(), Some("HUR"));
    assert_eq!(line.quantity, Some(Dec::int(7)));
    assert_eq!(line.price, Some(Dec::cents(7690)));
    assert_eq!(
        line.period,
        Some((Some("2026-03-01".into()), Some("2026-03-31".into())))
    );
    // The participant's reference, never the BSN, on the invoice, in the
    // run's answer and in the logs.
    for text in [xml.as_str(), &report.to_string(), &captured_logs()] {
        assert!(!text.contains(BSN), "a BSN leaked");
    }
    let stored = api
        .get(&format!("/declarations/{}", d["id"].as_str().unwrap()))
        .await;
    assert_schema("declaration-list", &stored.body);
    assert_eq!(stored.body["prestaties"][0]["status"], "invoiced");
    // The outbox holds it; running again sends nothing twice.
    let outbox = api.get("/outbox").await;
    assert!(
        outbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["bericht"] == "Invoice"),
        "{}",
        outbox.body
    );
    let again = api.run("2026-03", "2026-04-03").await;
    assert!(documents(&again).is_empty(), "{again}");
}

async fn a_correction_of_an_invoiced_month_is_a_credit_note_and_a_new_invoice(db: Db) {
    let (_s, api) = provider(db).await;
    let order = api.order(uwv_order(BSN, "UWV-2026-0043", "K-1002")).await;
    let p = order["participant_id"].as_str().unwrap().to_string();
    api.days(&[(&p, "2026-04-06", "09:00", "12:00", "jobcoaching")])
        .await;
    let april = api.run("2026-04", "2026-05-04").await;
    let first = &documents(&april)[0];
    let first_number = first["declaratie_nummer"].as_str().unwrap().to_string();
    assert_eq!(first["total_cents"], 3 * 7690);
    api.invoice(first["message_id"].as_str().unwrap()).await;

    // 6 April was four hours, and there is May.
    api.days(&[
        (&p, "2026-04-06", "09:00", "13:00", "jobcoaching"),
        (&p, "2026-05-11", "09:00", "11:00", "jobcoaching"),
    ])
    .await;
    let may = api.run("2026-05", "2026-06-02").await;
    let docs = documents(&may);
    let credit = docs
        .iter()
        .find(|d| d["bericht"] == "CreditNote")
        .unwrap_or_else(|| panic!("a credit note: {may}"));
    let invoice = docs
        .iter()
        .find(|d| d["bericht"] == "Invoice")
        .unwrap_or_else(|| panic!("an invoice: {may}"));
    assert_eq!(docs.len(), 2, "{may}");
    assert_eq!(credit["total_cents"], -(3 * 7690));
    assert_eq!(credit["credit_lines"], 1);
    // The new invoice: April again at 4 hours, and May at 2.
    assert_eq!(invoice["total_cents"], 6 * 7690);
    let (_, cn) = api.invoice(credit["message_id"].as_str().unwrap()).await;
    assert_eq!(cn.kind, Kind::CreditNote);
    assert_eq!(cn.billing_references[0].0, first_number);
    assert_eq!(cn.billing_references[0].1.as_deref(), Some("2026-05-04"));
    assert_eq!(cn.lines[0].quantity, Some(Dec::int(3)));
    let (_, inv) = api.invoice(invoice["message_id"].as_str().unwrap()).await;
    let mut periods: Vec<(String, Dec)> = inv
        .lines
        .iter()
        .map(|l| (l.period.clone().unwrap().0.unwrap(), l.quantity.unwrap()))
        .collect();
    periods.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        periods,
        vec![
            ("2026-04-01".to_string(), Dec::int(4)),
            ("2026-05-01".to_string(), Dec::int(2))
        ]
    );
    // Never a silent double, never a lost correction: nothing more to send.
    let again = api.run("2026-05", "2026-06-03").await;
    assert!(documents(&again).is_empty(), "{again}");
}

async fn order_price_minutes_and_standard_rate_vat(db: Db) {
    let (_s, api) = provider(db).await;
    let day = api
        .order(json!({
            "bsn": BSN_2,
            "financier": {"kind": "participatiewet", "code": "0363"},
            "order_number": "WI-2026-7",
            "order_line": "1",
            "service": "BW001",
            "from": "2026-01-01",
            "client_reference": "W-77",
            "price_cents": 6500,
            "price_basis": "day",
        }))
        .await;
    let p = day["participant_id"].as_str().unwrap().to_string();
    api.order(json!({
        "participant_id": p,
        "financier": {"kind": "participatiewet", "code": "0363"},
        "order_number": "WI-2026-7",
        "order_line": "2",
        "service": "PB001",
        "from": "2026-01-01",
        "client_reference": "W-77",
    }))
    .await;
    api.days(&[
        (&p, "2026-06-01", "09:00", "15:00", "beschut-werk"),
        (&p, "2026-06-02", "09:00", "15:00", "beschut-werk"),
        (
            &p,
            "2026-06-03",
            "10:00",
            "11:35",
            "participatiebegeleiding",
        ),
    ])
    .await;
    let report = api.run("2026-06", "2026-07-01").await;
    let docs = documents(&report);
    assert_eq!(docs.len(), 1, "{report}");
    let (_, doc) = api.invoice(docs[0]["message_id"].as_str().unwrap()).await;
    assert_eq!(
        doc.customization_id.as_deref(),
        Some("urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0")
    );
    assert_eq!(doc.buyer_reference.as_deref(), Some("WI-0363"));
    let by_unit = |u: &str| {
        doc.lines
            .iter()
            .find(|l| l.unit_code.as_deref() == Some(u))
            .unwrap_or_else(|| panic!("a {u} line"))
            .clone()
    };
    // Two days at the order's price, not the contract's 62.40.
    let days = by_unit("DAY");
    assert_eq!(days.quantity, Some(Dec::int(2)));
    assert_eq!(days.price, Some(Dec::cents(6500)));
    assert_eq!(days.order_line.as_deref(), Some("1"));
    // 95 minutes at 69.00 an hour: 109.25, written per 60 minutes.
    let minutes = by_unit("MIN");
    assert_eq!(minutes.quantity, Some(Dec::int(95)));
    assert_eq!(minutes.base_quantity, Some(Dec::int(60)));
    assert_eq!(cents(minutes.amount), 10925);
    let net = 2 * 6500 + 10925;
    let vat = (net * 21 + 50) / 100;
    assert_eq!(doc.subtotals[0].category, "S");
    assert_eq!(cents(Some(doc.subtotals[0].amount)), vat);
    assert_eq!(cents(doc.totals.payable), net + vat);
    assert_eq!(docs[0]["total_cents"], net + vat);
}

async fn a_municipality_receives_an_invoice_as_declaration_lines(db: Db) {
    let (s, api) = provider(db).await;
    let order = api
        .order(json!({
            "bsn": BSN,
            "financier": {"kind": "participatiewet", "code": "0363"},
            "order_number": "WI-2026-8",
            "service": "BW001",
            "from": "2026-01-01",
            "client_reference": "W-78",
        }))
        .await;
    let p = order["participant_id"].as_str().unwrap().to_string();
    api.days(&[(&p, "2026-02-02", "09:00", "15:00", "beschut-werk")])
        .await;
    let report = api.run("2026-02", "2026-03-02").await;
    let (xml, _) = api
        .invoice(documents(&report)[0]["message_id"].as_str().unwrap())
        .await;

    let gemeente = s.tenant_api("0363").await;
    s.state
        .store()
        .set_tenant_oin("0363", OIN_0363)
        .await
        .expect("oin");
    let post = |api: &Api, body: Vec<u8>| {
        let req = api
            .http
            .post(format!("{}/invoices", api.base))
            .bearer_auth(&api.token)
            .body(body);
        async move {
            let res = req.send().await.expect("post");
            let status = res.status().as_u16();
            let dup = res
                .headers()
                .get("x-loket-duplicate")
                .map(|v| v.to_str().unwrap_or_default().to_string());
            let body: Value = res.json().await.expect("json");
            (status, dup, body)
        }
    };
    let (status, dup, body) = post(&gemeente, xml.clone().into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(dup.as_deref(), Some("false"));
    assert_schema("invoice-lines", &body);
    assert_eq!(body["document"], "Invoice");
    assert_eq!(body["order_reference"], "WI-2026-8");
    let line = &body["lines"][0];
    assert_eq!(line["participant"], "W-78");
    assert_eq!(line["product"], "BW001");
    assert_eq!(line["quantity"], "1");
    assert_eq!(line["unit"], "DAY");
    assert_eq!(line["amount_cents"], 6240);
    assert_eq!(line["debit_credit"], "D");
    assert_eq!(body["total_cents"], 6240 + 1310);
    // The same invoice again: the same answer, stored once.
    let (status, dup, again) = post(&gemeente, xml.clone().into_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(dup.as_deref(), Some("true"));
    assert_eq!(again["message_id"], body["message_id"]);
    // Another municipality is not the buyer; a provider receives nothing.
    let other = s.tenant_api("0599").await;
    s.state
        .store()
        .set_tenant_oin("0599", "00000001001234560000")
        .await
        .expect("oin");
    assert_eq!(post(&other, xml.clone().into_bytes()).await.0, 403);
    assert_eq!(post(&api, xml.clone().into_bytes()).await.0, 403);
    // Without its order reference the invoice is still valid to the
    // standard: loket's own check (LOKET-ORDER) only warns on receipt.
    let bare = regex::Regex::new(r"(?s)<cac:OrderReference>.*?</cac:OrderReference>")
        .unwrap()
        .replace(&xml, "")
        .to_string();
    assert_ne!(bare, xml);
    let (status, _, body) = post(&gemeente, bare.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_schema("invoice-lines", &body);
    let warned: Vec<&str> = body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["rule"].as_str().unwrap())
        .collect();
    assert_eq!(warned, ["LOKET-ORDER"], "{body}");
    assert!(
        body["warnings"][0]["nl"]
            .as_str()
            .unwrap()
            .contains("opdrachtreferentie")
    );
    // The official examples are read (their buyer is someone else).
    for entry in std::fs::read_dir("../shared/reference/ubl/examples").expect("examples") {
        let path = entry.expect("entry").path();
        let (status, _, body) = post(&gemeente, std::fs::read(&path).unwrap()).await;
        assert_eq!(status, 403, "{}: {body}", path.display());
    }
}

async fn bad_orders_and_bad_invoices_get_clear_errors(db: Db) {
    let (s, api) = provider(db).await;
    let mut bad = uwv_order(BSN, "UWV-1", "K-1");
    bad["service"] = json!("XX999");
    let r = api.post_json("/allocations", &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["paths"][0], "/service");
    let mut bad = uwv_order(BSN, "UWV-1", "K-1");
    bad["price_basis"] = json!("day");
    let r = api.post_json("/allocations", &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["en"].as_str().unwrap().contains("per hour"));
    let mut bad = uwv_order("123456789", "UWV-1", "K-1");
    bad["bsn"] = json!("123456789");
    let r = api.post_json("/allocations", &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(!r.body.to_string().contains("123456789"));
    // Missing order reference: the schema says which path.
    let mut bad = uwv_order(BSN, "UWV-1", "K-1");
    bad.as_object_mut().unwrap().remove("order_number");
    let r = api.post_json("/allocations", &bad).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A Wmo municipality is not invoiced.
    let mut bad = uwv_order(BSN, "UWV-1", "K-1");
    bad["financier"] = json!({"kind": "participatiewet", "code": "0599"});
    let r = api.post_json("/allocations", &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Changing an order is the same allocation.
    let a = api.order(uwv_order(BSN, "UWV-2", "K-2")).await;
    let mut changed = uwv_order(BSN, "UWV-2", "K-2");
    changed["to"] = json!("2026-06-30");
    let b = api.order(changed).await;
    assert_eq!(a["id"], b["id"]);
    assert_eq!(b["created"], false);

    // Invoices a municipality cannot take: each finding named.
    let gemeente = s.tenant_api("0363").await;
    let mut doc = ubl::check(
        &std::fs::read("../shared/reference/ubl/examples/peppol-base-example.xml").unwrap(),
        &Limits::default(),
    )
    .unwrap()
    .document;
    // Not an ISO 4217 code (XXX is one: "no currency").
    doc.currency = Some("XYZ".into());
    doc.totals.payable = Some(Dec::parse("1.005").unwrap());
    let xml = ubl::encode::encode(&doc)
        .replace(">1.01</cbc:PayableAmount>", ">1.005</cbc:PayableAmount>");
    let res = gemeente
        .http
        .post(format!("{}/invoices", gemeente.base))
        .bearer_auth(&gemeente.token)
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let body: Value = res.json().await.unwrap();
    let paths = body["error"]["paths"].to_string();
    for rule in ["BR-CL-04", "BR-DEC-18", "BR-CO-16"] {
        assert!(paths.contains(rule), "{rule}: {body}");
    }
    for (bytes, want) in [
        (&b"<Bericht xmlns=\"urn:x\"/>"[..], 400),
        (b"<!DOCTYPE a [<!ENTITY b \"c\">]><Invoice/>", 400),
        (b"not xml", 400),
    ] {
        let res = gemeente
            .http
            .post(format!("{}/invoices", gemeente.base))
            .bearer_auth(&gemeente.token)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), want);
    }
}

async fn declare_writes_the_invoices_and_parse_reads_them(db: Db) {
    let (s, api) = provider(db).await;
    let order = api.order(uwv_order(BSN, "UWV-2026-0050", "K-1050")).await;
    let p = order["participant_id"].as_str().unwrap().to_string();
    api.order(json!({
        "participant_id": p,
        "financier": {"kind": "uwv", "code": "UWV"},
        "order_number": "UWV-2026-0050",
        "service": "WF001",
        "from": "2026-01-01",
        "client_reference": "K-1050",
    }))
    .await;
    api.days(&[
        (&p, "2026-07-01", "09:00", "12:00", "jobcoaching"),
        (&p, "2026-07-02", "09:00", "12:00", "werkfit"),
    ])
    .await;
    let out = tempfile::tempdir().unwrap();
    let args = s.store_args();
    let dir = out.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
            .arg("declare")
            .args([
                "--period",
                "2026-07",
                "--dagtekening",
                "2026-08-03",
                "--tenant",
                AGB,
                "--json",
            ])
            .arg("--out")
            .arg(&dir)
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("loket declare")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.code() == Some(0) || run.status.code() == Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("Invoice-")
        })
        .collect();
    assert_eq!(files.len(), 1, "{report}");
    // One invoice, two lines: an hourly one and a monthly one.
    let parsed = std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(["parse", "--emit", "json"])
        .arg(&files[0])
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let v: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(v["document"], "Invoice");
    let mut units: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["unit"].as_str().unwrap())
        .collect();
    units.sort();
    assert_eq!(units, ["HUR", "MON"]);
    let xml = std::fs::read_to_string(&files[0]).unwrap();
    emit(&xml, true, "Invoice-declare-out");
    assert!(!xml.contains(BSN));
    // validate reads UBL as well; the official examples are valid.
    let validate = std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
        .arg("validate")
        .arg(&files[0])
        .args(
            std::fs::read_dir("../shared/reference/ubl/examples")
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&validate.stdout);
    assert!(validate.status.success(), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("OK ")).count(),
        9,
        "{text}"
    );
}

/// The Peppol rules that say a document is Peppol's (its specification
/// and business process): an NLCIUS document breaks them by being NLCIUS.
const PEPPOL_IDENTITY: [&str; 3] = [
    "PEPPOL-EN16931-R001",
    "PEPPOL-EN16931-R004",
    "PEPPOL-EN16931-R007",
];

/// Every fatal finding of EN 16931, Peppol BIS and the Dutch rules on a
/// stored document, whatever its CustomizationID claims (for an NLCIUS
/// document Peppol's identity rules aside), and Peppol's warnings.
async fn fatal_in_every_rule_set(api: &Api, message_id: &str) -> (Kind, String, Vec<String>) {
    let xml = api.message_xml(message_id).await;
    let (doc, _, tree) = ubl::decode::decode(xml.as_bytes(), &Limits::default()).expect("decodes");
    let nlcius = doc
        .customization_id
        .as_deref()
        .is_some_and(|c| c.contains("nlcius"));
    let verdict = rules::judge(
        &tree,
        doc.kind,
        &[RuleSet::En16931, RuleSet::Peppol, RuleSet::Nlcius],
    );
    // Peppol's and the Dutch warnings too: the example mappings' KvK, OIN
    // and VAT numbers are in the format their schemes ask.
    let peppol_warnings = verdict
        .warnings
        .iter()
        .filter(|f| f.rule.starts_with("PEPPOL") || f.rule.starts_with("NL-R"));
    let fatal = verdict
        .errors
        .iter()
        .filter(|f| !(nlcius && PEPPOL_IDENTITY.contains(&f.rule.as_str())))
        .chain(peppol_warnings)
        .map(|f| format!("{} {} {}", f.rule, f.path, f.en))
        .collect();
    (doc.kind, doc.customization_id.unwrap_or_default(), fatal)
}

/// A Peppol invoice and credit note (UWV) and an NLCIUS invoice and credit
/// note (municipality 0363), each a correction of a month invoiced before,
/// pass EN 16931, Peppol BIS Billing 3.0 and the Dutch NL-R rules alike.
async fn generated_invoices_and_credit_notes_pass_peppol_and_nlcius(db: Db) {
    let (_s, api) = provider(db).await;
    let mut judged: Vec<(Kind, String)> = Vec::new();
    let mut judge = async |report: &Value, want: usize| {
        let docs = documents(report);
        assert_eq!(docs.len(), want, "{report}");
        for d in docs {
            let (kind, customization, fatal) =
                fatal_in_every_rule_set(&api, d["message_id"].as_str().unwrap()).await;
            assert!(fatal.is_empty(), "{kind:?} {customization}: {fatal:#?}");
            judged.push((kind, customization));
        }
    };

    // Peppol: April invoiced, then April corrected with May.
    let order = api.order(uwv_order(BSN, "UWV-2026-0050", "K-50")).await;
    let p = order["participant_id"].as_str().unwrap().to_string();
    api.days(&[(&p, "2026-04-06", "09:00", "12:00", "jobcoaching")])
        .await;
    judge(&api.run("2026-04", "2026-05-04").await, 1).await;
    api.days(&[
        (&p, "2026-04-06", "09:00", "13:00", "jobcoaching"),
        (&p, "2026-05-11", "09:00", "11:00", "jobcoaching"),
    ])
    .await;
    judge(&api.run("2026-05", "2026-06-02").await, 2).await;

    // NLCIUS: June's begeleiding to the minute, then one day longer.
    let order = api
        .order(json!({
            "bsn": BSN_2,
            "financier": {"kind": "participatiewet", "code": "0363"},
            "order_number": "WI-2026-8",
            "order_line": "1",
            "service": "PB001",
            "from": "2026-01-01",
            "client_reference": "W-78",
        }))
        .await;
    let q = order["participant_id"].as_str().unwrap().to_string();
    let begeleiding = "participatiebegeleiding";
    api.days(&[(&q, "2026-06-03", "10:00", "11:35", begeleiding)])
        .await;
    judge(&api.run("2026-06", "2026-07-01").await, 1).await;
    api.days(&[
        (&q, "2026-06-03", "10:00", "11:50", begeleiding),
        (&q, "2026-07-07", "10:00", "11:00", begeleiding),
    ])
    .await;
    judge(&api.run("2026-07", "2026-08-03").await, 2).await;

    let count = |kind: Kind, spec: &str| {
        judged
            .iter()
            .filter(|(k, c)| *k == kind && c.contains(spec))
            .count()
    };
    for spec in ["peppol", "nlcius"] {
        assert_eq!(count(Kind::Invoice, spec), 2, "{judged:?}");
        assert_eq!(count(Kind::CreditNote, spec), 1, "{judged:?}");
    }
}
