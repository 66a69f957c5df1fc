//! End-to-end tests of the HTTP API: the real router, served in-process on an
//! ephemeral loopback port, driven over HTTP with reqwest.
//!
//! Every test is written once, as an `async fn(Db)`, and runs twice: on the
//! embedded SQLite store (a fresh temp directory) and, when
//! `LOKET_TEST_DATABASE_URL` is set, on PostgreSQL in a database of its own
//! (created before, dropped after), so tests never see each other's data.
//! Without the variable the PostgreSQL variants pass without doing anything,
//! so `cargo test` works on a machine without PostgreSQL.
//!
//! The messages are the project's fixtures (`fixtures/*/valid`), or variants
//! of them made by replacing element texts (identification, BSN, ...).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    allocation_is_answered_and_recorded,
    ijw_allocation_is_answered_with_jw302,
    resend_gets_the_same_answer_and_changes_nothing,
    concurrent_resends_are_applied_once,
    in_message_rule_violation_is_rejected_with_0001,
    unusable_input_is_refused_with_400,
    body_over_the_limit_is_refused_with_413,
    every_endpoint_but_healthz_needs_a_valid_token,
    tenants_see_only_their_own_data,
    message_for_another_tenant_is_refused_with_403,
    tr063_removal_needs_an_earlier_delivery,
    tr074_first_delivery_twice_then_stop,
    tr332_allocation_number_of_another_client,
    tr379_reference_of_a_sent_request_is_accepted,
    tr379_reference_without_a_request_is_rejected,
    tr385_removal_after_credited_prestaties_is_accepted,
    tr385_removal_with_approved_prestaties_is_rejected,
    healthz_and_metrics,
    no_bsn_in_headers_metrics_or_logs,
);

// ---------------------------------------------------------------------------
// The server and an HTTP client per tenant.

// `Server` (tests/common) serves `server::router` on 127.0.0.1:0 in a spawned
// task, stopped with the test's runtime.
impl Server {
    /// Creates the tenant (AGB code or gemeentecode) and a client with its token.
    async fn tenant(&self, id: &str) -> Api {
        let token = self.state.store().add_tenant(id).await.expect("add tenant");
        self.client(Some(token))
    }

    /// A client with the given token (or none).
    fn client(&self, token: Option<String>) -> Api {
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            token,
        }
    }
}

/// An HTTP client acting as one tenant. Every reply passes
/// [`assert_no_bsn_in_headers`].
#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

/// One HTTP reply, read in full.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the status, showing the body when it differs.
    fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts a JSON error `{"error": {"nl": ..., "en": ...}}` with this status.
    fn expect_error(self, status: u16) -> Value {
        let reply = self.expect(status);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "error is JSON: {:?}",
            reply.headers
        );
        let v = reply.json();
        for lang in ["nl", "en"] {
            assert!(
                v["error"][lang].as_str().is_some_and(|s| !s.is_empty()),
                "error.{lang} missing: {v}"
            );
        }
        v
    }
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let res = req.send().await.expect("request");
        let reply = Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.bytes().await.expect("body").to_vec(),
        };
        assert_no_bsn_in_headers(&reply.headers);
        reply
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).body(body))
            .await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// `POST /messages` with a raw message.
    async fn post_message(&self, xml: &str) -> Reply {
        self.post("/messages", xml.to_string()).await
    }

    /// Posts a message that must be answered (200, XML) with `status`
    /// (accepted/rejected) as a first receipt (not a resend).
    async fn post_new(&self, xml: &str, status: &str) -> Answer {
        let reply = self.post_message(xml).await.expect(200);
        let answer = Answer::of(reply);
        assert_eq!(answer.status, status, "retour:\n{}", answer.xml);
        assert!(!answer.duplicate, "a first receipt is no resend");
        answer
    }

    /// `GET /participants`, which must succeed.
    async fn participants(&self) -> Vec<Value> {
        let list = self.get("/participants").await.expect(200).json();
        list["participants"]
            .as_array()
            .expect("participants array")
            .clone()
    }

    /// `GET /participants/{id}`, which must succeed.
    async fn participant(&self, id: &str) -> Value {
        self.get(&format!("/participants/{id}"))
            .await
            .expect(200)
            .json()
    }

    /// The only participant of this tenant.
    async fn only_participant(&self) -> Value {
        let list = self.participants().await;
        assert_eq!(list.len(), 1, "one participant: {list:?}");
        let id = list[0]["id"].as_str().expect("participant id");
        self.participant(id).await
    }

    /// `GET /messages/{id}`, which must succeed.
    async fn message(&self, id: &str) -> Value {
        self.get(&format!("/messages/{id}"))
            .await
            .expect(200)
            .json()
    }
}

/// The answer to a posted message: the retourbericht and loket's headers.
struct Answer {
    xml: String,
    message_id: String,
    status: String,
    duplicate: bool,
    bericht: String,
}

impl Answer {
    fn of(reply: Reply) -> Answer {
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/xml")),
            "the answer is XML: {:?}",
            reply.headers
        );
        let h = |n: &str| {
            reply
                .header(n)
                .unwrap_or_else(|| panic!("header {n} missing"))
                .to_string()
        };
        let duplicate = match h("x-loket-duplicate").as_str() {
            "true" => true,
            "false" => false,
            other => panic!("x-loket-duplicate: {other}"),
        };
        Answer {
            message_id: h("x-loket-message-id"),
            status: h("x-loket-status"),
            bericht: h("x-loket-bericht"),
            duplicate,
            xml: reply.text(),
        }
    }
}

// ---------------------------------------------------------------------------
// Fixtures and variants of them.

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fixture message by its path below `fixtures/`.
fn fixture(rel: &str) -> String {
    std::fs::read_to_string(fixtures_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Byte ranges of the text of every element with this local name.
fn text_ranges(xml: &str, local: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(lt) = xml[at..].find('<').map(|i| at + i) {
        let Some(gt) = xml[lt..].find('>').map(|i| lt + i) else {
            break;
        };
        let tag = &xml[lt + 1..gt];
        let name = tag.rsplit(':').next().unwrap_or(tag);
        if name == local && !tag.starts_with('/') && !tag.ends_with('/') {
            let end = xml[gt..].find('<').map_or(xml.len(), |i| gt + i);
            out.push((gt + 1, end));
        }
        at = gt + 1;
    }
    out
}

/// The text of the first element with this local name.
fn text_of(xml: &str, local: &str) -> String {
    let (a, b) = *text_ranges(xml, local)
        .first()
        .unwrap_or_else(|| panic!("no element {local}"));
    xml[a..b].to_string()
}

/// `xml` with the text of every element with this local name replaced.
fn with_text(xml: &str, local: &str, value: &str) -> String {
    let ranges = text_ranges(xml, local);
    assert!(!ranges.is_empty(), "no element {local} to replace");
    let mut out = String::with_capacity(xml.len());
    let mut at = 0;
    for (a, b) in ranges {
        out.push_str(&xml[at..a]);
        out.push_str(value);
        at = b;
    }
    out.push_str(&xml[at..]);
    out
}

/// The tenant a message is addressed to (Header/Ontvanger).
fn receiver(xml: &str) -> String {
    text_of(xml, "Ontvanger")
}

/// The same message as a new one: another BerichtIdentificatie.
fn renamed(xml: &str, identificatie: &str) -> String {
    with_text(xml, "Identificatie", identificatie)
}

/// Whether `bsn` passes the elfproef (weights 9..2 and -1).
fn elfproef(bsn: &str) -> bool {
    let d: Vec<i64> = bsn.bytes().map(|b| i64::from(b - b'0')).collect();
    d.len() == 9
        && bsn.bytes().all(|b| b.is_ascii_digit())
        && (d[..8]
            .iter()
            .zip((2..=9).rev())
            .map(|(x, w)| x * w)
            .sum::<i64>()
            - d[8])
            % 11
            == 0
}

/// A test BSN (9999 range) that passes the elfproef and appears in no fixture.
fn fresh_bsn() -> String {
    (99_990_400u32..)
        .flat_map(|p| (0..10).map(move |c| format!("{p}{c}")))
        .find(|b| elfproef(b) && !FIXTURE_BSNS.contains(b))
        .expect("a valid BSN")
}

/// Every BSN in the fixtures.
static FIXTURE_BSNS: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    let mut out = BTreeSet::new();
    for dir in ["iwmo/valid", "ijw/valid", "iwmo/invalid", "ijw/invalid"] {
        for entry in std::fs::read_dir(fixtures_dir().join(dir)).expect("fixture dir") {
            let xml = std::fs::read_to_string(entry.expect("entry").path()).expect("fixture");
            for (a, b) in text_ranges(&xml, "Bsn") {
                let bsn = xml[a..b].trim();
                if bsn.len() >= 8 && bsn.bytes().all(|c| c.is_ascii_digit()) {
                    out.insert(bsn.to_string());
                }
            }
        }
    }
    assert!(out.len() > 5, "fixture BSNs found: {out:?}");
    out
});

/// Every BSN these tests send: what must never show up in headers, metrics or logs.
static ALL_BSNS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut v: Vec<String> = FIXTURE_BSNS.iter().cloned().collect();
    v.push(fresh_bsn());
    v
});

fn assert_no_bsn(what: &str, text: &str) {
    for bsn in ALL_BSNS.iter() {
        assert!(!text.contains(bsn.as_str()), "{what} contains a BSN");
    }
}

fn assert_no_bsn_in_headers(headers: &HeaderMap) {
    for (name, value) in headers {
        assert_no_bsn(
            &format!("response header {name}"),
            &String::from_utf8_lossy(value.as_bytes()),
        );
    }
}

// ---------------------------------------------------------------------------
// Reading retourberichten.

/// Every element text, by its path of local names below the root element.
fn leaves(xml: &str) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(e.local_name().as_ref().to_string()),
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => out.push((
                stack.get(1..).unwrap_or_default().join("/"),
                t.as_ref().to_string(),
            )),
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The value at `path` (local names below the root), which must exist once.
fn leaf(xml: &str, path: &str) -> String {
    let found: Vec<String> = leaves(xml)
        .into_iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "{path} once in:\n{xml}");
    found[0].clone()
}

/// The retourcodes of a retourbericht per class path (`Header`,
/// `Client/StartProducten/StartProduct`, ...).
fn retourcodes(xml: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, value) in leaves(xml) {
        if let Some(class) = path.strip_suffix("/RetourCodes/RetourCode") {
            out.entry(class.to_string()).or_default().push(value);
        }
    }
    out
}

/// The header elements a retourbericht copies from its heenbericht.
const COPIED_HEADER: [&str; 6] = [
    "Header/BerichtVersie",
    "Header/BerichtSubversie",
    "Header/Afzender",
    "Header/Ontvanger",
    "Header/BerichtIdentificatie/Identificatie",
    "Header/BerichtIdentificatie/Dagtekening",
];

/// Asserts that `retour` is the retourbericht `bericht` (namespace and
/// BerichtCode) answering `heen`, with its header copied.
fn assert_retour_of(retour: &str, heen: &str, namespace: &str, bericht_code: &str) {
    assert!(
        retour.contains(&format!("xmlns:{}=\"{namespace}\"", prefix_of(retour))),
        "root in namespace {namespace}:\n{retour}"
    );
    assert_eq!(leaf(retour, "Header/BerichtCode"), bericht_code);
    for path in COPIED_HEADER {
        assert_eq!(leaf(retour, path), leaf(heen, path), "{path} copied");
    }
    assert!(!leaf(retour, "Header/IdentificatieRetour").is_empty());
    assert!(!leaf(retour, "Header/DagtekeningRetour").is_empty());
}

/// The namespace prefix of the root element.
fn prefix_of(xml: &str) -> &str {
    let start = xml.find("Bericht").expect("root element");
    let open = xml[..start].rfind('<').expect("root tag");
    xml[open + 1..start].trim_end_matches(':')
}

/// Asserts a header-only retourbericht: no RetourCodes anywhere, no class
/// but the header (the message is fully approved).
fn assert_fully_approved(retour: &str) {
    assert!(retourcodes(retour).is_empty(), "no retourcodes: {retour}");
    assert!(
        leaves(retour).iter().all(|(p, _)| p.starts_with("Header/")),
        "header only:\n{retour}"
    );
}

// ---------------------------------------------------------------------------
// Helpers over the record.

/// The inbound messages of a participant record as (bericht, status), sorted.
fn inbound(record: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = record["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["direction"] == "in")
        .map(|m| {
            (
                m["bericht"].as_str().unwrap_or_default().to_string(),
                m["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn allocations(record: &Value) -> &Vec<Value> {
    record["allocations"].as_array().expect("allocations")
}

fn pair(bericht: &str, status: &str) -> (String, String) {
    (bericht.to_string(), status.to_string())
}

const WMO301: &str = "iwmo/valid/WMO301_omvang.xml";
const WMO302_NS: &str = "http://www.istandaarden.nl/iwmo/3_2/wmo302/schema";
const WMO305_START: &str = "iwmo/valid/WMO305_start.xml";
const WMO305_REMOVAL: &str = "iwmo/valid/WMO305_verwijderen_aanlevering.xml";
const WMO307_STOP: &str = "iwmo/valid/WMO307_stop.xml";

// ---------------------------------------------------------------------------
// The tests.

/// 1. A valid WMO301 is approved with a header-only WMO302 and lands in the
///    record: the participant, the allocation with its financier and history,
///    and the stored message with its answer.
async fn allocation_is_answered_and_recorded(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let api = s.tenant(&receiver(&xml)).await;

    let answer = api.post_new(&xml, "accepted").await;
    assert_eq!(answer.bericht, "WMO301");
    assert_retour_of(&answer.xml, &xml, WMO302_NS, "415");
    assert_fully_approved(&answer.xml);

    // The participant list.
    let list = api.participants().await;
    assert_eq!(list.len(), 1, "{list:?}");
    let bsn = text_of(&xml, "Bsn");
    assert_eq!(list[0]["bsn"], bsn.as_str());
    assert_eq!(list[0]["geboortedatum"], "1946-09-23");
    let pid = list[0]["id"].as_str().expect("id").to_string();
    assert_ne!(pid, bsn, "the participant id is not the BSN");

    // The merged record.
    let record = api.participant(&pid).await;
    assert_eq!(record["id"], pid.as_str());
    assert_eq!(record["bsn"], bsn.as_str());
    let allocs = allocations(&record);
    assert_eq!(allocs.len(), 1, "{record:#}");
    let a = &allocs[0];
    assert_eq!(a["toewijzing_nummer"], "300145");
    assert_eq!(a["status"], "allocated");
    assert_eq!(a["product"], json!({"categorie": "01", "code": "01A02"}));
    assert_eq!(a["ingangsdatum"], "2026-03-09");
    assert_eq!(a["einddatum"], "2026-12-31");
    assert_eq!(
        a["omvang"],
        json!({"volume": 3, "eenheid": "04", "frequentie": "2"})
    );
    assert_eq!(a["financier"]["kind"], "wmo");
    assert_eq!(a["financier"]["code"], text_of(&xml, "Afzender").as_str());
    assert_eq!(a["financier"]["standard"], "iwmo");
    let history = a["history"].as_array().expect("history");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["status"], "allocated");
    assert_eq!(history[0]["message_id"], answer.message_id.as_str());

    // The message history: the 301 in, its 302 out.
    let messages = record["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{messages:?}");
    let heen = messages
        .iter()
        .find(|m| m["direction"] == "in")
        .expect("inbound");
    assert_eq!(heen["id"], answer.message_id.as_str());
    assert_eq!(heen["bericht"], "WMO301");
    assert_eq!(heen["status"], "accepted");
    let out = messages
        .iter()
        .find(|m| m["direction"] == "out")
        .expect("outbound");
    assert_eq!(out["bericht"], "WMO302");

    // The stored message: raw, parsed, status, answer.
    let m = api.message(&answer.message_id).await;
    assert_eq!(m["id"], answer.message_id.as_str());
    assert_eq!(m["raw"], xml.as_str());
    assert_eq!(m["status"], "accepted");
    assert_eq!(m["bericht"], "WMO301");
    assert_eq!(m["direction"], "in");
    assert_eq!(m["participant_id"], pid.as_str());
    assert_eq!(m["retourcodes"], json!([]));
    assert!(m["parsed"].is_object(), "parsed JSON: {m:#}");
    let parsed = m["parsed"].to_string();
    for value in ["AP2603020001", "300145", "Brinkhuis", "01A02"] {
        assert!(parsed.contains(value), "parsed holds {value}: {parsed}");
    }
    let answer_id = m["answer_id"].as_str().expect("answer id");
    assert_eq!(answer_id, out["id"].as_str().expect("out id"));
    let retour = api.message(answer_id).await;
    assert_eq!(retour["raw"], answer.xml.as_str(), "the answer as sent");
    assert_eq!(retour["answer_of"], answer.message_id.as_str());
    assert_eq!(retour["direction"], "out");

    // The record by BSN, in the body.
    let found = api
        .post_json("/participants/search", &json!({"bsn": bsn}))
        .await
        .expect(200)
        .json();
    assert_eq!(found, record);
}

/// 1 (iJw). The same flow under the Jeugdwet: a JW302 answer and a
/// financier of kind jeugdwet.
async fn ijw_allocation_is_answered_with_jw302(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture("ijw/valid/JW301_omvang.xml");
    let api = s.tenant(&receiver(&xml)).await;
    let answer = api.post_new(&xml, "accepted").await;
    assert_eq!(answer.bericht, "JW301");
    assert_retour_of(
        &answer.xml,
        &xml,
        "http://www.istandaarden.nl/ijw/3_2/jw302/schema",
        "437",
    );
    assert_fully_approved(&answer.xml);
    let record = api.only_participant().await;
    let allocs = allocations(&record);
    assert_eq!(allocs.len(), 1, "{record:#}");
    assert_eq!(allocs[0]["financier"]["kind"], "jeugdwet");
    assert_eq!(allocs[0]["financier"]["standard"], "ijw");
    assert_eq!(allocs[0]["status"], "allocated");
}

/// 2. A resend (same BerichtIdentificatie, TR056) gets the same bytes back,
///    is marked duplicate, and changes nothing in the record.
async fn resend_gets_the_same_answer_and_changes_nothing(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let api = s.tenant(&receiver(&xml)).await;
    let first = api.post_new(&xml, "accepted").await;
    let before = api.only_participant().await;

    let reply = api.post_message(&xml).await.expect(200);
    let again = Answer::of(reply);
    assert!(again.duplicate, "x-loket-duplicate: true");
    assert_eq!(again.status, "accepted", "the first outcome");
    assert_eq!(again.message_id, first.message_id, "the first message");
    assert_eq!(again.xml, first.xml, "the same retour bytes");

    let after = api.only_participant().await;
    assert_eq!(after, before, "the record is unchanged");
    assert_eq!(api.participants().await.len(), 1);
    assert_eq!(allocations(&after).len(), 1);
}

/// 3. Eight concurrent posts of the same new message: one is applied, seven
///    are resends with the same answer.
async fn concurrent_resends_are_applied_once(db: Db) {
    let s = Server::start(db).await;
    let xml = renamed(&fixture(WMO301), "CONC00000001");
    let api = s.tenant(&receiver(&xml)).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (api, xml, barrier) = (api.clone(), xml.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                Answer::of(api.post_message(&xml).await.expect(200))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    let firsts = answers.iter().filter(|a| !a.duplicate).count();
    assert_eq!(firsts, 1, "exactly one first receipt");
    let ids: BTreeSet<&str> = answers.iter().map(|a| a.message_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one stored message: {ids:?}");
    let bodies: BTreeSet<&str> = answers.iter().map(|a| a.xml.as_str()).collect();
    assert_eq!(bodies.len(), 1, "one answer");
    assert!(answers.iter().all(|a| a.status == "accepted"));

    let record = api.only_participant().await;
    assert_eq!(inbound(&record), vec![pair("WMO301", "accepted")]);
    let outbound = record["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["direction"] == "out")
        .count();
    assert_eq!(outbound, 1, "one retour stored");
    let allocs = allocations(&record);
    assert_eq!(allocs.len(), 1);
    assert_eq!(
        allocs[0]["history"].as_array().expect("history").len(),
        1,
        "applied once"
    );
}

/// 4. A message breaking an in-message rule (a `kind = "rule"` fixture) is
///    answered with a header-only retour carrying 0001 and not applied.
async fn in_message_rule_violation_is_rejected_with_0001(db: Db) {
    let rel = "iwmo/invalid/WMO301_toewijzingsdatum_na_dagtekening.xml";
    let expectations: toml::Table =
        toml::from_str(&fixture("expectations.toml")).expect("expectations.toml");
    assert_eq!(
        expectations[rel]["kind"].as_str(),
        Some("rule"),
        "{rel} breaks an in-message rule"
    );
    let bad = fixture(rel);
    let s = Server::start(db).await;
    let api = s.tenant(&receiver(&bad)).await;

    // Alone: rejected, nothing recorded.
    let answer = api.post_new(&bad, "rejected").await;
    assert_retour_of(&answer.xml, &bad, WMO302_NS, "415");
    assert_eq!(
        retourcodes(&answer.xml),
        BTreeMap::from([("Header".to_string(), vec!["0001".to_string()])])
    );
    assert!(
        leaves(&answer.xml)
            .iter()
            .all(|(p, _)| p.starts_with("Header/")),
        "header only:\n{}",
        answer.xml
    );
    assert!(api.participants().await.is_empty(), "no participant");
    let m = api.message(&answer.message_id).await;
    assert_eq!(m["status"], "rejected");
    assert_eq!(m["retourcodes"], json!(["0001"]));
    let findings = m["findings"].to_string();
    assert!(findings.contains("TR134"), "{findings}");

    // After a valid allocation for the same client and number: the rejected
    // variant (another Toewijzingsdatum) leaves the allocation as it was.
    api.post_new(&renamed(&fixture(WMO301), "VALID0000001"), "accepted")
        .await;
    let before = api.only_participant().await;
    api.post_new(&renamed(&bad, "INVALID00002"), "rejected")
        .await;
    let after = api.only_participant().await;
    assert_eq!(allocations(&after), allocations(&before));
    assert_eq!(allocations(&after)[0]["toewijzingsdatum"], "2026-02-27");
    for field in ["bsn", "naam", "contact", "geboortedatum", "geslacht"] {
        assert_eq!(after[field], before[field], "{field} unchanged");
    }
    assert_eq!(
        inbound(&after),
        vec![pair("WMO301", "accepted"), pair("WMO301", "rejected")]
    );
}

/// 5. Input that cannot be read at all: 400 with a bilingual JSON error, and
///    nothing of the input expanded or echoed.
async fn unusable_input_is_refused_with_400(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant(&receiver(&fixture(WMO301))).await;

    let not_xml = api.post_message("dit is geen XML / this is not XML").await;
    not_xml.expect_error(400);

    let xxe = fixture(WMO301).replacen(
        "<wmo301:Bericht",
        "<!DOCTYPE wmo301:Bericht [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<wmo301:Bericht",
        1,
    );
    let xxe = xxe.replacen("Brinkhuis", "&x;", 1);
    let reply = api.post_message(&xxe).await;
    let err = reply.expect_error(400).to_string();
    assert!(!err.contains("root:"), "no file contents: {err}");

    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
        <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
    api.post_message(laughs).await.expect_error(400);

    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>".to_vec();
    api.post("/messages", latin1).await.expect_error(400);

    assert!(api.participants().await.is_empty(), "nothing applied");
}

/// 5. A body over `max_message_bytes` is refused with 413 before it is read;
///    a small body on the same server is still judged normally.
async fn body_over_the_limit_is_refused_with_413(db: Db) {
    let xml = fixture(WMO301);
    let limit = 1024;
    assert!(xml.len() > limit, "the fixture is over the test limit");
    let s = Server::start_with_limit(db, limit).await;
    let api = s.tenant(&receiver(&xml)).await;
    api.post_message(&xml).await.expect_error(413);
    let big = vec![b' '; 64 * 1024];
    api.post("/messages", big).await.expect_error(413);
    api.post_message("<niet").await.expect_error(400);
    assert!(api.participants().await.is_empty());
}

/// 5. Every endpoint but /healthz answers 401 without a valid bearer token,
///    also for ids that exist, and an unauthenticated post stores nothing.
async fn every_endpoint_but_healthz_needs_a_valid_token(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let api = s.tenant(&receiver(&xml)).await;
    let answer = api.post_new(&xml, "accepted").await;
    let pid = api.participants().await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bsn = text_of(&xml, "Bsn");
    let new_message = renamed(&xml, "NOAUTH000001");

    let intruders = [
        s.client(None),
        s.client(Some("0".repeat(64))),
        s.client(Some(format!("{}x", api.token.as_deref().expect("token")))),
    ];
    for intruder in &intruders {
        let replies = [
            intruder.post_message(&new_message).await,
            intruder.get("/participants").await,
            intruder.get(&format!("/participants/{pid}")).await,
            intruder
                .post_json("/participants/search", &json!({"bsn": bsn}))
                .await,
            intruder
                .get(&format!("/messages/{}", answer.message_id))
                .await,
            intruder.get("/metrics").await,
        ];
        for reply in replies {
            let err = reply.expect_error(401).to_string();
            assert!(!err.contains(&bsn));
        }
        intruder.get("/healthz").await.expect(200);
    }
    // Other schemes than Bearer are refused too.
    let basic = s
        .http
        .get(format!("{}/participants", s.base))
        .header("Authorization", "Basic dXNlcjpwYXNz");
    s.client(None).send(basic).await.expect_error(401);

    let record = api.only_participant().await;
    assert_eq!(inbound(&record), vec![pair("WMO301", "accepted")]);
    // The refused message was not stored: posting it now is a first receipt.
    api.post_new(&new_message, "accepted").await;
}

/// 5. A tenant never sees another tenant's data: 404, not 403, and empty lists.
async fn tenants_see_only_their_own_data(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let owner = s.tenant(&receiver(&xml)).await;
    let other = s.tenant("12345678").await;
    let answer = owner.post_new(&xml, "accepted").await;
    let pid = owner.participants().await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let bsn = text_of(&xml, "Bsn");

    other
        .get(&format!("/participants/{pid}"))
        .await
        .expect_error(404);
    other
        .get(&format!("/participants/{bsn}"))
        .await
        .expect_error(404);
    other
        .post_json("/participants/search", &json!({"bsn": bsn}))
        .await
        .expect_error(404);
    other
        .get(&format!("/messages/{}", answer.message_id))
        .await
        .expect_error(404);
    assert!(other.participants().await.is_empty());

    // The owner still sees all of it; unknown ids are 404 for it too.
    owner.participant(&pid).await;
    owner.message(&answer.message_id).await;
    owner
        .get("/participants/00000000-0000-0000-0000-000000000000")
        .await
        .expect_error(404);
    owner.get("/messages/nope").await.expect_error(404);
}

/// 5. A message addressed (Header/Ontvanger) to another tenant is refused
///    with 403 and stored for nobody.
async fn message_for_another_tenant_is_refused_with_403(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let addressee = s.tenant(&receiver(&xml)).await;
    let other = s.tenant("12345678").await;
    let municipality = s.tenant("0363").await;
    other.post_message(&xml).await.expect_error(403);
    municipality.post_message(&xml).await.expect_error(403);
    assert!(other.participants().await.is_empty());
    assert!(municipality.participants().await.is_empty());
    assert!(addressee.participants().await.is_empty());
    // Not stored under the addressee either: its own post is a first receipt.
    addressee.post_new(&xml, "accepted").await;
}

/// 6. TR063: removing (StatusAanlevering 3) a start that was never delivered
///    is rejected with 9063 on the StartProduct and 0200 in the header; once
///    the start is delivered, the same removal is accepted.
async fn tr063_removal_needs_an_earlier_delivery(db: Db) {
    let s = Server::start(db).await;
    let removal = fixture(WMO305_REMOVAL);
    assert_eq!(text_of(&removal, "StatusAanlevering"), "3");
    let api = s.tenant(&receiver(&removal)).await;

    let answer = api.post_new(&removal, "rejected").await;
    assert_retour_of(
        &answer.xml,
        &removal,
        "http://www.istandaarden.nl/iwmo/3_2/wmo306/schema",
        "419",
    );
    let codes = retourcodes(&answer.xml);
    assert_eq!(codes["Header"], ["0200"], "{}", answer.xml);
    assert_eq!(
        codes["Client/StartProducten/StartProduct"],
        ["9063"],
        "{}",
        answer.xml
    );
    assert!(codes.values().flatten().all(|c| c != "0001"), "{codes:?}");
    let m = api.message(&answer.message_id).await;
    assert!(m["findings"].to_string().contains("TR063"), "{m:#}");

    // Deliver the start, then remove it: accepted.
    let start = renamed(
        &with_text(&removal, "StatusAanlevering", "1"),
        "ZL0000000101",
    );
    api.post_new(&start, "accepted").await;
    let again = renamed(&removal, "ZL0000000102");
    let answer = api.post_new(&again, "accepted").await;
    assert_fully_approved(&answer.xml);
}

/// 6. TR074: a first delivery (StatusAanlevering 1) whose key was delivered
///    before is rejected with 9074; a stop for that start is then accepted.
async fn tr074_first_delivery_twice_then_stop(db: Db) {
    let s = Server::start(db).await;
    let start = fixture(WMO305_START);
    assert_eq!(text_of(&start, "StatusAanlevering"), "1");
    let stop = fixture(WMO307_STOP);
    assert_eq!(receiver(&stop), receiver(&start));
    assert_eq!(
        text_of(&stop, "ToewijzingNummer"),
        text_of(&start, "ToewijzingNummer")
    );
    let api = s.tenant(&receiver(&start)).await;

    let first = api.post_new(&start, "accepted").await;
    assert_fully_approved(&first.xml);

    let twice = renamed(&start, "ZL2603110099");
    let answer = api.post_new(&twice, "rejected").await;
    let codes = retourcodes(&answer.xml);
    assert_eq!(codes["Header"], ["0200"], "{}", answer.xml);
    assert_eq!(
        codes["Client/StartProducten/StartProduct"],
        ["9074"],
        "{}",
        answer.xml
    );

    let stopped = api.post_new(&stop, "accepted").await;
    assert_retour_of(
        &stopped.xml,
        &stop,
        "http://www.istandaarden.nl/iwmo/3_2/wmo308/schema",
        "421",
    );
    assert_fully_approved(&stopped.xml);

    let record = api.only_participant().await;
    assert_eq!(
        inbound(&record),
        vec![
            pair("WMO305", "accepted"),
            pair("WMO305", "rejected"),
            pair("WMO307", "accepted"),
        ]
    );
}

/// 6. TR332: a ToewijzingNummer already used for another client (another
///    valid BSN) is rejected with 9332 on that ToegewezenProduct, and the
///    allocation stays with its first client.
async fn tr332_allocation_number_of_another_client(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let api = s.tenant(&receiver(&xml)).await;
    api.post_new(&xml, "accepted").await;
    let before = api.only_participant().await;

    let bsn = fresh_bsn();
    assert!(elfproef(&bsn) && elfproef(&text_of(&xml, "Bsn")));
    let other = renamed(&with_text(&xml, "Bsn", &bsn), "AP2603020002");
    let answer = api.post_new(&other, "rejected").await;
    let codes = retourcodes(&answer.xml);
    assert_eq!(codes["Header"], ["0200"], "{}", answer.xml);
    assert_eq!(
        codes["Client/ToegewezenProducten/ToegewezenProduct"],
        ["9332"],
        "{}",
        answer.xml
    );
    assert!(
        codes.values().flatten().all(|c| c != "0001"),
        "no in-message finding: {codes:?}"
    );

    let after = api.only_participant().await;
    assert_eq!(allocations(&after), allocations(&before));
    let search = api
        .post_json("/participants/search", &json!({"bsn": bsn}))
        .await;
    search.expect_error(404);
    // The same number for the same client is fine (a change, not a clash).
    let same_client = renamed(&xml, "AP2603020003");
    api.post_new(&same_client, "accepted").await;
}

/// 7. /healthz needs no token; /metrics counts messages per bericht and
///    outcome and carries no identifiers.
async fn healthz_and_metrics(db: Db) {
    let s = Server::start(db).await;
    let health = s.client(None).get("/healthz").await.expect(200).json();
    assert_eq!(health["status"], "ok");

    let xml = fixture(WMO301);
    let api = s.tenant(&receiver(&xml)).await;
    let answer = api.post_new(&xml, "accepted").await;
    api.post_message(&xml).await.expect(200);
    api.post_message("geen xml").await.expect_error(400);
    api.post_new(
        &renamed(
            &fixture("iwmo/invalid/WMO301_toewijzingsdatum_na_dagtekening.xml"),
            "M0000001",
        ),
        "rejected",
    )
    .await;

    let reply = api.get("/metrics").await.expect(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        reply.headers
    );
    let text = reply.text();
    for line in [
        "loket_messages_total{bericht=\"WMO301\",outcome=\"accepted\"} 1",
        "loket_messages_total{bericht=\"WMO301\",outcome=\"duplicate\"} 1",
        "loket_messages_total{bericht=\"WMO301\",outcome=\"rejected\"} 1",
        "loket_messages_total{bericht=\"unknown\",outcome=\"unusable\"} 1",
        "loket_message_duration_seconds_count 4",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    assert_no_bsn("/metrics", &text);
    assert!(!text.contains(&answer.message_id), "no message ids");
    assert!(!text.contains(&receiver(&xml)), "no tenant ids");
}

/// 8. No BSN in response headers (checked on every reply), in /metrics, or in
///    the logs, also when the BSN is in the URL of `GET /participants/{bsn}`.
async fn no_bsn_in_headers_metrics_or_logs(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let api = s.tenant(&receiver(&xml)).await;
    let bsn = text_of(&xml, "Bsn");
    api.post_new(&xml, "accepted").await;
    api.post_message(&xml).await.expect(200);
    api.post_new(
        &renamed(&with_text(&xml, "Bsn", &fresh_bsn()), "AP0000000777"),
        "rejected",
    )
    .await;
    let by_bsn = api
        .get(&format!("/participants/{bsn}"))
        .await
        .expect(200)
        .json();
    let by_id = api.only_participant().await;
    assert_eq!(by_bsn, by_id);
    api.post_json("/participants/search", &json!({"bsn": bsn}))
        .await
        .expect(200);
    s.client(None)
        .get(&format!("/participants/{bsn}"))
        .await
        .expect_error(401);

    assert_no_bsn("/metrics", &api.get("/metrics").await.expect(200).text());

    let logs = captured_logs();
    assert!(
        logs.contains("route=/participants/{key}") && logs.contains("route=/messages"),
        "the access log is captured:\n{logs}"
    );
    assert_no_bsn("the log", &logs);
}

// ---------------------------------------------------------------------------
// Rows written by other parts of loket (the outbox, the declaration engine),
// set up directly through the store's pool.

/// An outbound `messages` row (what `requests` and `declarations` point to).
async fn seed_outbound(s: &Server, tenant: &str, bericht: &str) -> String {
    let id = format!("seed-{bericht}-{:016x}", rand::random::<u64>());
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, direction, bericht, status, raw, created_at) \
         VALUES ($1, $2, 'out', $3, 'sent', $4, '2026-03-01T00:00:00.000Z')",
    )
    .bind(&id)
    .bind(tenant)
    .bind(bericht)
    .bind(b"<seed/>".to_vec())
    .execute(s.state.store().pool())
    .await
    .expect("seed message");
    id
}

/// A request (WMO315 aanvraag) this provider sent to `gemeente`.
async fn seed_request(s: &Server, tenant: &str, gemeente: &str, reference: &str) {
    let message_id = seed_outbound(s, tenant, "WMO315").await;
    sqlx::query(
        "INSERT INTO requests (id, tenant_id, message_id, bericht, gemeente, referentie_aanbieder, bsn_hash, status, created_at) \
         VALUES ($1, $2, $3, 'WMO315', $4, $5, 'hash', 'sent', '2026-03-01T00:00:00.000Z')",
    )
    .bind(format!("req-{reference}"))
    .bind(tenant)
    .bind(&message_id)
    .bind(gemeente)
    .bind(reference)
    .execute(s.state.store().pool())
    .await
    .expect("seed request");
}

/// The status of the request with this reference.
async fn request_status(s: &Server, reference: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT status FROM requests WHERE referentie_aanbieder = $1")
        .bind(reference)
        .fetch_one(s.state.store().pool())
        .await
        .expect("request")
        .try_get("status")
        .expect("status")
}

/// A declared prestatie (debit) on the allocation with this number, answered
/// with `status`, and credited when `credited`.
async fn seed_prestatie(s: &Server, tenant: &str, nummer: &str, status: &str, credited: bool) {
    use sqlx::Row;
    let pool = s.state.store().pool();
    let a = sqlx::query(
        "SELECT id, financier_id, participant_id FROM allocations WHERE tenant_id = $1 AND toewijzing_nummer = $2",
    )
    .bind(tenant)
    .bind(nummer)
    .fetch_one(pool)
    .await
    .expect("allocation");
    let (allocation, financier, participant): (String, String, String) = (
        a.try_get("id").expect("id"),
        a.try_get("financier_id").expect("financier"),
        a.try_get("participant_id").expect("participant"),
    );
    let message_id = seed_outbound(s, tenant, "WMO323").await;
    let declaration = format!("decl-{nummer}");
    sqlx::query(
        "INSERT INTO declarations (id, tenant_id, financier_id, message_id, standard, declaratie_nummer, \
         period_begin, period_end, total_cents, status, created_at) \
         VALUES ($1, $2, $3, $4, 'iwmo', $5, '2026-03-01', '2026-03-31', 12000, 'answered', '2026-04-01T00:00:00.000Z')",
    )
    .bind(&declaration)
    .bind(tenant)
    .bind(&financier)
    .bind(&message_id)
    .bind(format!("D{nummer}"))
    .execute(pool)
    .await
    .expect("seed declaration");
    sqlx::query(
        "INSERT INTO prestaties (id, tenant_id, declaration_id, participant_id, allocation_id, standard, \
         referentie_nummer, toewijzing_nummer, product_categorie, product_code, period_begin, period_end, \
         volume, eenheid, bedrag_cents, debet_credit, status, credited_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'iwmo', $6, $7, '01', '01A02', '2026-03-09', '2026-03-31', \
         3, '04', 12000, 'D', $8, $9, '2026-04-01T00:00:00.000Z')",
    )
    .bind(format!("prest-{nummer}"))
    .bind(tenant)
    .bind(&declaration)
    .bind(&participant)
    .bind(&allocation)
    .bind(format!("R{nummer}"))
    .bind(nummer)
    .bind(status)
    .bind(credited.then_some("prest-credit"))
    .execute(pool)
    .await
    .expect("seed prestatie");
}

/// `xml` (a WMO301) with ReferentieAanbieder `reference` in every
/// ToegewezenProduct, where the schema puts it: after the ToewijzingNummer.
fn with_reference(xml: &str, reference: &str) -> String {
    let close = "</wmo301:ToewijzingNummer>";
    assert!(xml.contains(close), "a WMO301 with a ToewijzingNummer");
    xml.replace(
        close,
        &format!("{close}<wmo301:ReferentieAanbieder>{reference}</wmo301:ReferentieAanbieder>"),
    )
}

const WMO301_REMOVAL: &str = "iwmo/valid/WMO301_verwijderd_en_vervangen.xml";

/// 6. TR379: an allocation whose ReferentieAanbieder is that of a request
///    the provider sent to this municipality is accepted, stores the
///    reference, and marks the request honoured.
async fn tr379_reference_of_a_sent_request_is_accepted(db: Db) {
    let s = Server::start(db).await;
    let xml = with_reference(&fixture(WMO301), "VOT-2026-0041");
    let tenant = receiver(&xml);
    let api = s.tenant(&tenant).await;
    seed_request(&s, &tenant, &text_of(&xml, "Afzender"), "VOT-2026-0041").await;

    let answer = api.post_new(&xml, "accepted").await;
    assert_fully_approved(&answer.xml);
    assert_eq!(request_status(&s, "VOT-2026-0041").await, "honoured");
    let record = api.only_participant().await;
    assert_eq!(allocations(&record).len(), 1, "{record:#}");
}

/// 6. TR379: a ReferentieAanbieder that names no request sent to this
///    municipality (here: one sent to another municipality) is rejected with
///    9379 on the ToegewezenProduct; nothing is applied.
async fn tr379_reference_without_a_request_is_rejected(db: Db) {
    let s = Server::start(db).await;
    let xml = with_reference(&fixture(WMO301), "VOT-2026-0042");
    let tenant = receiver(&xml);
    assert_ne!(text_of(&xml, "Afzender"), "0363");
    let api = s.tenant(&tenant).await;
    seed_request(&s, &tenant, "0363", "VOT-2026-0042").await;

    let answer = api.post_new(&xml, "rejected").await;
    let codes = retourcodes(&answer.xml);
    assert_eq!(codes["Header"], ["0200"], "{}", answer.xml);
    assert_eq!(
        codes["Client/ToegewezenProducten/ToegewezenProduct"],
        ["9379"],
        "{}",
        answer.xml
    );
    assert!(api.participants().await.is_empty(), "nothing applied");
    assert_eq!(request_status(&s, "VOT-2026-0042").await, "sent");
    let m = api.message(&answer.message_id).await;
    assert!(m["findings"].to_string().contains("TR379"), "{m:#}");
}

/// 6. TR385: removing (RedenWijziging 13) an allocation whose prestaties
///    were all credited is accepted; the allocation is withdrawn.
async fn tr385_removal_after_credited_prestaties_is_accepted(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let tenant = receiver(&xml);
    let api = s.tenant(&tenant).await;
    api.post_new(&xml, "accepted").await;
    seed_prestatie(&s, &tenant, "300145", "approved", true).await;

    let removal = fixture(WMO301_REMOVAL);
    let answer = api.post_new(&removal, "accepted").await;
    assert_fully_approved(&answer.xml);
    let record = api.only_participant().await;
    let removed = allocations(&record)
        .iter()
        .find(|a| a["toewijzing_nummer"] == "300145")
        .expect("allocation 300145");
    assert_eq!(removed["status"], "withdrawn", "{record:#}");
}

/// 6. TR385: removing an allocation with an approved, not credited debit
///    prestatie is rejected with 9385 on that ToegewezenProduct; the
///    allocation stays as it was.
async fn tr385_removal_with_approved_prestaties_is_rejected(db: Db) {
    let s = Server::start(db).await;
    let xml = fixture(WMO301);
    let tenant = receiver(&xml);
    let api = s.tenant(&tenant).await;
    api.post_new(&xml, "accepted").await;
    seed_prestatie(&s, &tenant, "300145", "approved", false).await;
    let before = api.only_participant().await;

    let removal = fixture(WMO301_REMOVAL);
    let answer = api.post_new(&removal, "rejected").await;
    let codes = retourcodes(&answer.xml);
    assert_eq!(codes["Header"], ["0200"], "{}", answer.xml);
    assert!(
        codes["Client/ToegewezenProducten/ToegewezenProduct"].contains(&"9385".to_string()),
        "{}",
        answer.xml
    );
    let after = api.only_participant().await;
    assert_eq!(allocations(&after), allocations(&before));
    let m = api.message(&answer.message_id).await;
    assert!(m["findings"].to_string().contains("TR385"), "{m:#}");
}
