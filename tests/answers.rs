//! End to end: the financier's answers to what loket sent (WMO325
//! declaratie-antwoord, retours 306/316/318) are applied to the record, and
//! what a person has to act on lands in the review queue.
//!
//! The outbound side (our 323, 305, 315, 317 with their `declarations`,
//! `prestaties` and `requests` rows) is written straight into the store, as
//! the declaration engine and the outbox will write it; the answers come in
//! over HTTP as real messages, checked by loket's decoder like any other.
//! Every case runs on SQLite and, with `LOKET_TEST_DATABASE_URL`, PostgreSQL.

use loket::adapter::istandaard::{self, Limits};
use loket::message::Message;
use loket::schema::Schema;
use loket::store::{new_id, now};
use serde_json::{Value, json};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    full_approval_approves_every_line,
    partial_rejection_is_applied_per_prestatie,
    declaration_level_rejection_rejects_every_line,
    answer_to_an_unknown_or_answered_declaration_goes_to_review,
    retour_306_rejecting_a_start,
    retours_316_and_318_update_requests,
    review_queue_resolves_and_is_tenant_scoped,
);

const PROVIDER: &str = "73730112";
/// The clients of the fixtures' story; none may appear in review output.
const BSNS: [&str; 3] = ["999901023", "999901138", "999901254"];

fn fixture(rel: &str) -> String {
    let path = format!("{}/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `xml` with the first element `name` holding `value`.
fn with_text(xml: &str, name: &str, value: &str) -> String {
    let open = format!("{name}>");
    let start = xml.find(&open).expect("element") + open.len();
    let end = start + xml[start..].find('<').expect("end tag");
    format!("{}{value}{}", &xml[..start], &xml[end..])
}

fn decode(xml: &str) -> Message {
    let checked = istandaard::check(
        Schema::builtin().expect("schema"),
        xml.as_bytes(),
        &Limits::default(),
    )
    .expect("decodes");
    assert!(checked.is_valid(), "{:?}", checked.findings);
    checked.message
}

fn assert_no_bsn(what: &str, value: &Value) {
    let text = value.to_string();
    for bsn in BSNS {
        assert!(!text.contains(bsn), "{what} shows a BSN: {text}");
    }
}

/// The provider's server with its allocations, as the municipality sent them.
struct Case {
    s: Server,
    token: String,
}

struct Posted {
    status: String,
    duplicate: bool,
    message_id: String,
}

impl Case {
    async fn new(db: Db) -> Case {
        let s = Server::start(db).await;
        let token = s.state.store().add_tenant(PROVIDER).await.expect("tenant");
        let c = Case { s, token };
        for f in [
            "WMO301_verwijderd_en_vervangen",
            "WMO301_meerdere_producten_relatie",
            "WMO301_budget",
        ] {
            let p = c.post_xml(&fixture(&format!("iwmo/valid/{f}.xml"))).await;
            assert_eq!(p.status, "accepted", "{f}");
        }
        c
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.s.state.store().pool()
    }

    async fn post_xml(&self, xml: &str) -> Posted {
        let res = self
            .s
            .http
            .post(format!("{}/messages", self.s.base))
            .bearer_auth(&self.token)
            .body(xml.to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 200, "POST /messages");
        let h = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        Posted {
            status: h("x-loket-status"),
            duplicate: h("x-loket-duplicate") == "true",
            message_id: h("x-loket-message-id"),
        }
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.s.base);
        let req = match method {
            "GET" => self.s.http.get(url),
            _ => self.s.http.post(url),
        };
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let res = req.bearer_auth(token).send().await.expect("request");
        let status = res.status().as_u16();
        let value = res.json().await.expect("JSON answer");
        (status, value)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(&self.token, "GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    async fn review(&self, query: &str) -> Vec<Value> {
        let list = self.get(&format!("/review{query}")).await;
        assert_schema("review-list", &list);
        assert_no_bsn("the review list", &list);
        list["items"].as_array().expect("items").clone()
    }

    /// Stores `xml` as a message loket sent; returns its id.
    async fn record_sent(&self, xml: &str) -> String {
        let m = decode(xml);
        let id = new_id();
        sqlx::query(
            "INSERT INTO messages (id, tenant_id, direction, standard, bericht, sender, receiver, identificatie, \
             dagtekening, status, raw, created_at) VALUES ($1, $2, 'out', $3, $4, $5, $6, $7, $8, 'sent', $9, $10)",
        )
        .bind(&id)
        .bind(PROVIDER)
        .bind(&m.standard().name)
        .bind(m.name())
        .bind(m.value("Header/Afzender"))
        .bind(m.value("Header/Ontvanger"))
        .bind(m.value("Header/BerichtIdentificatie/Identificatie"))
        .bind(m.value("Header/BerichtIdentificatie/Dagtekening"))
        .bind(xml.as_bytes())
        .bind(now())
        .execute(self.pool())
        .await
        .expect("outbound message");
        id
    }

    async fn one_id(&self, sql: &str, key: &str) -> String {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(PROVIDER)
            .bind(key)
            .fetch_one(self.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql} {key}: {e}"))
            .get::<String, _>(0)
    }

    async fn participant(&self, bsn: &str) -> String {
        self.one_id(
            "SELECT id FROM participants WHERE tenant_id = $1 AND bsn = $2",
            bsn,
        )
        .await
    }

    /// Stores a 323 as sent, with its declaration and prestaties (status
    /// submitted). Returns (message id, declaration id).
    async fn record_declaration(&self, xml: &str) -> (String, String) {
        let message_id = self.record_sent(xml).await;
        let m = decode(xml);
        let d = m.get("Declaratie").expect("Declaratie");
        let financier = self
            .one_id(
                "SELECT id FROM financiers WHERE tenant_id = $1 AND code = $2",
                m.value("Header/Ontvanger").expect("Ontvanger"),
            )
            .await;
        let signed = |n: Option<loket::message::NodeRef<'_>>, amount: &str| {
            let n = n.expect("amount");
            let v = n.int(amount).expect("bedrag");
            if n.value("DebetCredit") == Some("C") {
                -v
            } else {
                v
            }
        };
        let declaration = new_id();
        sqlx::query(
            "INSERT INTO declarations (id, tenant_id, financier_id, message_id, standard, declaratie_nummer, \
             period_begin, period_end, total_cents, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'sent', $10)",
        )
        .bind(&declaration)
        .bind(PROVIDER)
        .bind(&financier)
        .bind(&message_id)
        .bind(&m.standard().name)
        .bind(d.value("DeclaratieNummer"))
        .bind(d.value("DeclaratiePeriode/Begindatum"))
        .bind(d.value("DeclaratiePeriode/Einddatum"))
        .bind(signed(d.get("TotaalIngediendBedrag"), "TotaalBedrag"))
        .bind(now())
        .execute(self.pool())
        .await
        .expect("declaration");
        for client in d.all("Clienten/Client") {
            let participant = self.participant(client.value("Bsn").expect("Bsn")).await;
            for p in client.all("Prestaties/Prestatie") {
                let nummer = p.value("ToewijzingNummer").expect("ToewijzingNummer");
                let allocation = self
                    .one_id(
                        "SELECT id FROM allocations WHERE tenant_id = $1 AND toewijzing_nummer = $2",
                        nummer,
                    )
                    .await;
                let amount = signed(p.get("IngediendBedrag"), "Bedrag");
                sqlx::query(
                    "INSERT INTO prestaties (id, tenant_id, declaration_id, participant_id, allocation_id, standard, \
                     referentie_nummer, vorig_referentie_nummer, toewijzing_nummer, product_categorie, product_code, \
                     period_begin, period_end, volume, eenheid, tarief_cents, bedrag_cents, debet_credit, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'submitted', $19)",
                )
                .bind(new_id())
                .bind(PROVIDER)
                .bind(&declaration)
                .bind(&participant)
                .bind(&allocation)
                .bind(&m.standard().name)
                .bind(p.value("ProductReferentie/ReferentieNummer"))
                .bind(p.value("ProductReferentie/VorigReferentieNummer"))
                .bind(nummer)
                .bind(p.value("ProductCategorie"))
                .bind(p.value("ProductCode"))
                .bind(p.value("ProductPeriode/Begindatum"))
                .bind(p.value("ProductPeriode/Einddatum"))
                .bind(p.int("GeleverdVolume"))
                .bind(p.value("Eenheid"))
                .bind(p.int("ProductTarief"))
                .bind(amount.abs())
                .bind(if amount < 0 { "C" } else { "D" })
                .bind(now())
                .execute(self.pool())
                .await
                .expect("prestatie");
            }
        }
        (message_id, declaration)
    }

    /// (status, retourcodes, credited_by, id) of a prestatie.
    async fn prestatie(&self, reference: &str) -> (String, Vec<String>, Option<String>, String) {
        let r = sqlx::query(
            "SELECT id, status, retourcodes, credited_by FROM prestaties WHERE tenant_id = $1 AND referentie_nummer = $2",
        )
        .bind(PROVIDER)
        .bind(reference)
        .fetch_one(self.pool())
        .await
        .expect("prestatie");
        let codes: String = r.get("retourcodes");
        (
            r.get("status"),
            serde_json::from_str(&codes).expect("codes"),
            r.get("credited_by"),
            r.get("id"),
        )
    }

    async fn declaration_status(&self, id: &str) -> (String, Option<String>) {
        let r = sqlx::query("SELECT status, answered_at FROM declarations WHERE id = $1")
            .bind(id)
            .fetch_one(self.pool())
            .await
            .expect("declaration");
        (r.get("status"), r.get("answered_at"))
    }

    /// Inserts a request row for our 315/317 `message_id`.
    async fn record_request(&self, message_id: &str, bericht: &str, reference: &str) {
        sqlx::query(
            "INSERT INTO requests (id, tenant_id, message_id, bericht, gemeente, referentie_aanbieder, bsn_hash, status, created_at) \
             VALUES ($1, $2, $3, $4, '0200', $5, 'x', 'sent', $6)",
        )
        .bind(new_id())
        .bind(PROVIDER)
        .bind(message_id)
        .bind(bericht)
        .bind(reference)
        .bind(now())
        .execute(self.pool())
        .await
        .expect("request");
    }

    async fn request_status(&self, reference: &str) -> String {
        self.one_id(
            "SELECT status FROM requests WHERE tenant_id = $1 AND referentie_aanbieder = $2",
            reference,
        )
        .await
    }

    /// The statuses in the history of allocation `nummer` on the record.
    async fn allocation_history(&self, bsn: &str, nummer: &str) -> Vec<String> {
        let id = self.participant(bsn).await;
        let record = self.get(&format!("/participants/{id}")).await;
        assert_schema("participant", &record);
        record["allocations"]
            .as_array()
            .expect("allocations")
            .iter()
            .filter(|a| a["toewijzing_nummer"] == nummer)
            .flat_map(|a| a["history"].as_array().cloned().unwrap_or_default())
            .map(|e| e["status"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

fn codes_of(item: &Value) -> Vec<String> {
    item["retourcodes"]
        .as_array()
        .expect("retourcodes")
        .iter()
        .map(|c| {
            for lang in ["nl", "en"] {
                assert!(
                    c[lang].as_str().is_some_and(|s| s.len() > 10),
                    "explained: {c}"
                );
            }
            c["code"].as_str().expect("code").to_string()
        })
        .collect()
}

/// The first July declaration and its answer granted in full (8001): the
/// line is approved, the declaration answered, the answer linked.
async fn full_approval(c: &Case) -> (String, String) {
    let (heen, declaration) = c
        .record_declaration(&fixture("answers/WMO323_juli_eerste.xml"))
        .await;
    let answer = c
        .post_xml(&fixture("answers/WMO325_juli_eerste_akkoord.xml"))
        .await;
    assert_eq!(answer.status, "accepted");
    (heen, declaration)
}

async fn full_approval_approves_every_line(db: Db) {
    let c = Case::new(db).await;
    let (heen, declaration) = full_approval(&c).await;
    let (status, codes, credited, _) = c.prestatie("P1-2607-D01").await;
    assert_eq!(
        (status.as_str(), codes.len(), credited),
        ("approved", 0, None)
    );
    let (status, answered_at) = c.declaration_status(&declaration).await;
    assert_eq!(status, "answered");
    assert!(answered_at.is_some());
    let sent = c.get(&format!("/messages/{heen}")).await;
    let answer_id = sent["answer_id"]
        .as_str()
        .expect("answer linked")
        .to_string();
    let answer = c.get(&format!("/messages/{answer_id}")).await;
    assert_eq!(answer["bericht"], "WMO325");
    assert_eq!(answer["answer_of"], heen.as_str());
    assert!(
        c.review("?status=all").await.is_empty(),
        "nothing to review"
    );

    let id = c.participant("999901023").await;
    let record = c.get(&format!("/participants/{id}")).await;
    assert_schema("participant", &record);
    let lines = record["prestaties"].as_array().expect("prestaties");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["referentie_nummer"], "P1-2607-D01");
    assert_eq!(lines[0]["status"], "approved");
    assert_eq!(
        lines[0]["period"],
        json!({"begin": "2026-07-01", "end": "2026-07-31"})
    );
    assert_eq!(lines[0]["bedrag_cents"], 47400);
}

/// The credit/debit declaration answered with two rejected lines.
async fn partial_rejection(c: &Case) -> String {
    full_approval(c).await;
    let (heen, declaration) = c
        .record_declaration(&fixture(
            "iwmo/valid/WMO323_meerdere_clienten_creditdebet.xml",
        ))
        .await;
    let answer = c
        .post_xml(&fixture("iwmo/valid/WMO325_afgewezen_prestaties.xml"))
        .await;
    assert_eq!(answer.status, "accepted");
    let sent = c.get(&format!("/messages/{heen}")).await;
    assert_eq!(sent["answer_id"], answer.message_id.as_str());
    assert_eq!(c.declaration_status(&declaration).await.0, "answered");
    declaration
}

async fn partial_rejection_is_applied_per_prestatie(db: Db) {
    let c = Case::new(db).await;
    partial_rejection(&c).await;

    // Listed lines are rejected with their codes; every other line is approved.
    let (credit_status, _, _, credit_id) = c.prestatie("P1-2607-C01").await;
    assert_eq!(credit_status, "approved");
    for (reference, status, codes) in [
        ("P1-2607-D02", "rejected", vec!["9322"]),
        ("P2-2607-D02", "rejected", vec!["0611"]),
        ("P2-2607-D01", "approved", vec![]),
        ("P3-2607-D01", "approved", vec![]),
    ] {
        let (s, c, _, _) = c.prestatie(reference).await;
        assert_eq!(
            (s.as_str(), c),
            (status, codes.iter().map(|x| x.to_string()).collect()),
            "{reference}"
        );
    }
    // The approved credit marks the debit it cancels.
    let (_, _, credited_by, _) = c.prestatie("P1-2607-D01").await;
    assert_eq!(credited_by.as_deref(), Some(credit_id.as_str()));

    // One review item per rejected line, with explained codes and no BSN.
    let items = c.review("?kind=rejected_prestatie").await;
    assert_eq!(items.len(), 2, "{items:#?}");
    let mut seen: Vec<(String, Vec<String>)> = items
        .iter()
        .map(|i| {
            (
                i["detail"]["referentie_nummer"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                codes_of(i),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("P1-2607-D02".to_string(), vec!["9322".to_string()]),
            ("P2-2607-D02".to_string(), vec!["0611".to_string()])
        ]
    );
    let p1 = c.participant("999901023").await;
    let item = items
        .iter()
        .find(|i| i["detail"]["referentie_nummer"] == "P1-2607-D02")
        .expect("item");
    assert_eq!(item["participant_id"], p1.as_str());
    assert_eq!(item["detail"]["toewijzing_nummer"], "300146");
    assert_eq!(
        item["detail"]["product"],
        json!({"categorie": "01", "code": "01A02"})
    );
    assert_eq!(item["detail"]["amount_cents"], 55300);
    let one = c
        .get(&format!("/review/{}", item["id"].as_str().expect("id")))
        .await;
    assert_schema("review-item", &one);
    assert_eq!(&one, item);
    // The totals agree: no remark about the amount granted.
    assert!(c.review("?kind=unmatched_answer").await.is_empty());

    // The participant record shows the lines with their answer, and the open item.
    let record = c.get(&format!("/participants/{p1}")).await;
    assert_schema("participant", &record);
    let lines = record["prestaties"].as_array().expect("prestaties");
    let line = |r: &str| {
        lines
            .iter()
            .find(|l| l["referentie_nummer"] == r)
            .expect("line")
            .clone()
    };
    assert_eq!(line("P1-2607-D02")["status"], "rejected");
    assert_eq!(line("P1-2607-D02")["retourcodes"][0]["code"], "9322");
    assert_eq!(line("P1-2607-D01")["credited_by"], credit_id.as_str());
    assert_eq!(line("P1-2607-C01")["debet_credit"], "C");
    let open = record["review_items"].as_array().expect("review items");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], item["id"]);

    // The same 325 again is a resend (TR056): nothing changes.
    let again = c
        .post_xml(&fixture("iwmo/valid/WMO325_afgewezen_prestaties.xml"))
        .await;
    assert!(again.duplicate);
    assert_eq!(c.review("?status=all").await.len(), 2);
}

async fn declaration_level_rejection_rejects_every_line(db: Db) {
    let c = Case::new(db).await;
    partial_rejection(&c).await;
    // WMO323_alleen_credit credits P2-2607-D01; the 325 refuses it whole (9333).
    let (_, declaration) = c
        .record_declaration(&fixture("iwmo/valid/WMO323_alleen_credit.xml"))
        .await;
    let answer = c
        .post_xml(&fixture("iwmo/valid/WMO325_declaratie_afgewezen.xml"))
        .await;
    assert_eq!(answer.status, "accepted");
    assert_eq!(c.declaration_status(&declaration).await.0, "answered");
    let (status, codes, _, credit_id) = c.prestatie("P2-2607-C01").await;
    assert_eq!(
        (status.as_str(), codes),
        ("rejected", vec!["9333".to_string()])
    );
    // A rejected credit cancels nothing.
    let (status, _, credited_by, _) = c.prestatie("P2-2607-D01").await;
    assert_eq!((status.as_str(), credited_by), ("approved", None));
    let items = c.review("?kind=rejected_prestatie").await;
    let item = items
        .iter()
        .find(|i| i["subject_id"] == credit_id.as_str())
        .expect("review item for the credit");
    assert_eq!(codes_of(item), ["9333"]);
    assert_eq!(item["detail"]["debet_credit"], "C");
    assert_eq!(item["detail"]["vorig_referentie_nummer"], "P2-2607-D01");
}

async fn answer_to_an_unknown_or_answered_declaration_goes_to_review(db: Db) {
    let c = Case::new(db).await;
    // No 323 was sent for this answer: stored, accepted, put in the queue.
    let answer = fixture("iwmo/valid/WMO325_volledig_akkoord.xml");
    let posted = c.post_xml(&answer).await;
    assert_eq!(posted.status, "accepted");
    let items = c.review("?kind=unmatched_answer").await;
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["subject_id"], posted.message_id.as_str());
    assert_eq!(items[0]["detail"]["identificatie"], "ZL2605060005");
    assert!(
        items[0]["detail"]["reason"]["en"]
            .as_str()
            .unwrap_or_default()
            .contains("No declaration")
    );
    let stored = c.get(&format!("/messages/{}", posted.message_id)).await;
    assert_eq!(stored["answer_of"], Value::Null);

    // Once the 323 is on record, a new answer applies; a further different
    // answer to the same declaration changes nothing and is flagged.
    let (heen, declaration) = c
        .record_declaration(&fixture("iwmo/valid/WMO323_declaratie.xml"))
        .await;
    let first = c
        .post_xml(&with_text(&answer, "iwmo:Identificatie", "AP2605110070"))
        .await;
    assert_eq!(first.status, "accepted");
    assert_eq!(c.prestatie("P1-2604-D01").await.0, "approved");
    assert_eq!(c.declaration_status(&declaration).await.0, "answered");
    let rejecting = with_text(
        &with_text(&answer, "iwmo:Identificatie", "AP2605110071"),
        "RetourCode",
        "0001",
    );
    let second = c.post_xml(&rejecting).await;
    assert_eq!(second.status, "accepted");
    assert_eq!(
        c.prestatie("P1-2604-D01").await.0,
        "approved",
        "first answer stands"
    );
    let items = c.review("?kind=unmatched_answer").await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0]["subject_id"],
        second.message_id.as_str(),
        "newest first"
    );
    assert!(
        items[0]["detail"]["reason"]["nl"]
            .as_str()
            .unwrap_or_default()
            .contains("al beantwoord")
    );
    assert_eq!(codes_of(&items[0]), ["0001"]);
    let sent = c.get(&format!("/messages/{heen}")).await;
    assert_eq!(
        sent["answer_id"],
        first.message_id.as_str(),
        "linked to the first answer only"
    );
}

async fn retour_306_rejecting_a_start(db: Db) {
    let c = Case::new(db).await;
    let heen = c
        .record_sent(&fixture("iwmo/valid/WMO305_start_meerdere.xml"))
        .await;
    // The 306 repeats our header (Afzender is us): it is addressed to us.
    let retour = c
        .post_xml(&fixture("iwmo/valid/WMO306_afgekeurd_startproduct.xml"))
        .await;
    assert_eq!(retour.status, "accepted");
    let sent = c.get(&format!("/messages/{heen}")).await;
    assert_eq!(sent["answer_id"], retour.message_id.as_str());

    let items = c.review("?kind=rejected_message").await;
    assert_eq!(items.len(), 1, "{items:#?}");
    let item = &items[0];
    assert_eq!(codes_of(item), ["9019"]);
    assert_eq!(item["subject_id"], heen.as_str());
    assert_eq!(
        item["participant_id"],
        c.participant("999901138").await.as_str()
    );
    let rejected = item["detail"]["rejected_products"]
        .as_array()
        .expect("products");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["toewijzing_nummer"], "300252");
    assert_eq!(rejected[0]["retourcodes"], json!(["9019"]));

    let confirmed = c.allocation_history("999901138", "300251").await;
    assert!(
        confirmed.contains(&"start_confirmed".to_string()),
        "{confirmed:?}"
    );
    let refused = c.allocation_history("999901138", "300252").await;
    assert!(
        refused.contains(&"start_rejected".to_string()),
        "{refused:?}"
    );
    assert!(
        !refused.contains(&"start_confirmed".to_string()),
        "{refused:?}"
    );

    // A header-only 306 accepts every product of our 305 (taken from it).
    let heen = c
        .record_sent(&fixture("iwmo/valid/WMO305_onbekende_geboortedatum.xml"))
        .await;
    let ok = c
        .post_xml(&fixture("iwmo/valid/WMO306_akkoord_alleen_header.xml"))
        .await;
    assert_eq!(ok.status, "accepted");
    let history = c.allocation_history("999901254", "300188").await;
    assert!(
        history.contains(&"start_confirmed".to_string()),
        "{history:?}"
    );
    assert_eq!(c.review("?kind=rejected_message").await.len(), 1);
    let stored = c.get(&format!("/messages/{}", ok.message_id)).await;
    assert_eq!(stored["answer_of"], heen.as_str());
    assert_eq!(
        stored["participant_id"],
        c.participant("999901254").await.as_str()
    );

    // A retour to a message loket never sent is kept and flagged.
    let stray = with_text(
        &fixture("iwmo/valid/WMO306_volledig_0200.xml"),
        "iwmo:Identificatie",
        "ZL2603119999",
    );
    assert_eq!(c.post_xml(&stray).await.status, "accepted");
    assert_eq!(c.review("?kind=unmatched_answer").await.len(), 1);
}

async fn retours_316_and_318_update_requests(db: Db) {
    let c = Case::new(db).await;
    let aanvraag = c
        .record_sent(&fixture("iwmo/valid/WMO315_meerdere_producten.xml"))
        .await;
    for r in ["VOT-2026-0058", "VOT-2026-0059", "VOT-2026-0060"] {
        c.record_request(&aanvraag, "WMO315", r).await;
    }
    let verzoek = c
        .record_sent(&fixture("iwmo/valid/WMO317_ongewijzigd_en_nieuw.xml"))
        .await;
    c.record_request(&verzoek, "WMO317", "VOW-2026-0011").await;
    let accepted = c
        .record_sent(&fixture("iwmo/valid/WMO317_wijziging_en_nieuw.xml"))
        .await;
    c.record_request(&accepted, "WMO317", "VOW-2026-0007").await;

    for f in [
        "WMO316_afgekeurd_aangevraagd_product",
        "WMO318_afgekeurd_ongewijzigd_product",
        "WMO318_akkoord_alleen_header",
    ] {
        let p = c.post_xml(&fixture(&format!("iwmo/valid/{f}.xml"))).await;
        assert_eq!(p.status, "accepted", "{f}");
    }
    // A 315 asks per product: only the rejected one is rejected.
    assert_eq!(c.request_status("VOT-2026-0058").await, "answered");
    assert_eq!(c.request_status("VOT-2026-0059").await, "rejected");
    assert_eq!(c.request_status("VOT-2026-0060").await, "answered");
    assert_eq!(c.request_status("VOW-2026-0011").await, "rejected");
    assert_eq!(c.request_status("VOW-2026-0007").await, "answered");
    let items = c.review("?kind=rejected_message").await;
    let mut codes: Vec<Vec<String>> = items.iter().map(codes_of).collect();
    codes.sort();
    assert_eq!(codes, [vec!["9347".to_string()], vec!["9350".to_string()]]);
}

async fn review_queue_resolves_and_is_tenant_scoped(db: Db) {
    let c = Case::new(db).await;
    partial_rejection(&c).await;
    let items = c.review("").await;
    assert_eq!(items.len(), 2, "open items by default");
    let id = items[0]["id"].as_str().expect("id").to_string();
    let p1 = c.participant("999901023").await;
    assert_eq!(c.review(&format!("?participant={p1}")).await.len(), 1);
    let page = c.get("/review?limit=1&offset=1").await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["items"].as_array().map(Vec::len)
        ),
        (Some(2), Some(1))
    );

    // Another tenant sees nothing of it.
    let other =
        c.s.state
            .store()
            .add_tenant("87654321")
            .await
            .expect("tenant");
    let (status, err) = c.call(&other, "GET", &format!("/review/{id}"), None).await;
    assert_eq!(status, 404);
    assert_schema("error", &err);
    let body = json!({"resolved_by": "Anna de Vries", "note": "gecorrigeerd"});
    let (status, _) = c
        .call(
            &other,
            "POST",
            &format!("/review/{id}/resolve"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = c.call(&other, "GET", "/review?status=all", None).await;
    assert_eq!(list["total"], 0);

    // The body is checked against its schema.
    let (status, err) = c
        .call(
            &c.token,
            "POST",
            &format!("/review/{id}/resolve"),
            Some(json!({"note": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_schema("error", &err);
    let (status, err) = c.call(&c.token, "GET", "/review?status=closed", None).await;
    assert_eq!(status, 400, "{err}");

    let (status, done) = c
        .call(
            &c.token,
            "POST",
            &format!("/review/{id}/resolve"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_schema("review-item", &done);
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["resolution"]["by"], "Anna de Vries");
    assert_eq!(done["resolution"]["note"], "gecorrigeerd");
    assert!(done["resolution"]["at"].as_str().is_some());
    let (status, err) = c
        .call(
            &c.token,
            "POST",
            &format!("/review/{id}/resolve"),
            Some(body),
        )
        .await;
    assert_eq!(status, 409);
    assert_schema("error", &err);

    assert_eq!(c.review("").await.len(), 1);
    assert_eq!(c.review("?status=resolved").await.len(), 1);
    assert_eq!(c.review("?status=all").await.len(), 2);
    assert!(!captured_logs().contains("999901023"), "no BSN in the logs");
}
