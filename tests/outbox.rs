//! End-to-end tests of the outbox over HTTP: a provider's loket (the system
//! under test, on SQLite and on PostgreSQL through tests/common) sends to a
//! real counterpart, a second loket with the municipality as tenant, behind
//! a small front server that can be told to hold requests or to answer a
//! few with an error first (a counterpart that is down, or refuses).
//!
//! The counterpart always runs on its own SQLite store: it is the other
//! party, not what is tested.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use loket::outbox::Settings;
use loket::server::input::violations;
use serde_json::Value;
use sqlx::Row;
use tokio::sync::Semaphore;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    http_delivery_waits_out_an_outage_sends_once_and_stores_the_retour,
    refused_message_fails_and_is_retried_by_hand,
    expired_lease_is_resent_and_the_receiver_answers_the_same,
    folder_delivery_writes_the_file,
    post_outbox_checks_sender_financier_and_findings,
);

const PROVIDER: &str = "73730112";
const GEMEENTE: &str = "0200";
/// The client in the WMO315 fixture.
const BSN: &str = "999901370";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/iwmo/valid")
            .join(name),
    )
    .expect("fixture")
}

fn replace(xml: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(xml.to_vec()).expect("UTF-8");
    assert!(text.contains(from), "{from} in the fixture");
    text.replace(from, to).into_bytes()
}

/// Test timing: retries a few milliseconds apart, a quick poll.
fn settings() -> Settings {
    Settings {
        retry_base_ms: 40,
        retry_max_ms: 1_000,
        poll_ms: 20,
        http_timeout_ms: 10_000,
        connect_timeout_ms: 2_000,
        lease_ms: 30_000,
        concurrency: 4,
    }
}

// ---------------------------------------------------------------------------
// A loket instance and a client per tenant.

struct Loket {
    base: String,
    state: loket::server::AppState,
    worker: Option<loket::outbox::Worker>,
    _dir: Option<tempfile::TempDir>,
}

impl Loket {
    async fn start(url: Option<String>, data_dir: &Path, mappings_dir: PathBuf) -> Loket {
        let config = loket::config::Config {
            data_dir: data_dir.to_path_buf(),
            database_url: url,
            max_message_bytes: LIMIT,
            mappings_dir,
            outbox: settings(),
            ..loket::config::Config::default()
        };
        let state = config.state().await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = loket::server::router(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Loket {
            base: format!("http://{addr}"),
            state,
            worker: None,
            _dir: None,
        }
    }

    fn start_worker(&mut self) {
        let worker = self
            .state
            .outbox
            .start(self.state.ingest.clone(), self.state.metrics.clone())
            .expect("worker");
        self.worker = Some(worker);
    }

    async fn stop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
    }

    async fn tenant(&self, id: &str) -> Api {
        let token = self.state.store().add_tenant(id).await.expect("tenant");
        Api {
            base: self.base.clone(),
            http: reqwest::Client::new(),
            token,
        }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.state.store().pool()
    }
}

#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
    token: String,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// A JSON answer that follows schema `name`.
    fn valid(&self, name: &str) -> Value {
        let v = self.json();
        let found = violations(name, &v).expect("schema compiles");
        assert!(found.is_empty(), "{name}: {found:?}\n{v:#}");
        v
    }
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.bearer_auth(&self.token).send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.bytes().await.expect("body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Reply {
        self.send(self.http.post(format!("{}{path}", self.base)).body(body))
            .await
    }

    /// `POST /outbox`, expecting it queued; returns the outbox item.
    async fn queue(&self, xml: Vec<u8>) -> Value {
        let reply = self.post("/outbox", xml).await.expect(202);
        let item = reply.valid("outbox-item");
        let id = item["id"].as_str().expect("id");
        assert_eq!(
            reply.headers.get("location").and_then(|v| v.to_str().ok()),
            Some(format!("/outbox/{id}").as_str())
        );
        item
    }

    async fn item(&self, id: &str) -> Value {
        self.get(&format!("/outbox/{id}"))
            .await
            .expect(200)
            .valid("outbox-item")
    }

    /// Polls `GET /outbox/{id}` until `done` holds (10 s at most).
    async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let item = self.item(id).await;
            if done(&item) {
                return item;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {item:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn wait_state(&self, id: &str, state: &str) -> Value {
        self.wait_for(id, state, |i| i["state"] == state).await
    }
}

// ---------------------------------------------------------------------------
// The counterpart: a municipality's loket behind a front that can hold
// requests and answer the first few with a given status.

struct Hit {
    at: Instant,
    body: Vec<u8>,
}

struct FrontInner {
    /// Statuses to answer with, in order, before passing requests on.
    script: Mutex<VecDeque<u16>>,
    /// Requests wait here until the test lets them through.
    gate: Semaphore,
    hits: Mutex<Vec<Hit>>,
    /// Requests passed on to the municipality's loket.
    forwarded: AtomicUsize,
    loket: String,
    token: String,
    http: reqwest::Client,
}

#[derive(Clone)]
struct Front(Arc<FrontInner>);

struct Counterpart {
    front: Front,
    url: String,
    loket: Loket,
    _dir: tempfile::TempDir,
}

impl Counterpart {
    async fn start(script: &[u16], open: bool) -> Counterpart {
        let dir = tempfile::tempdir().expect("tempdir");
        let loket = Loket::start(None, dir.path(), dir.path().join("no-mappings")).await;
        let api = loket.tenant(GEMEENTE).await;
        let front = Front(Arc::new(FrontInner {
            script: Mutex::new(script.iter().copied().collect()),
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
            hits: Mutex::new(Vec::new()),
            forwarded: AtomicUsize::new(0),
            loket: loket.base.clone(),
            token: api.token,
            http: reqwest::Client::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/iwmo/in", axum::routing::post(receive))
            .with_state(front.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Counterpart {
            front,
            url: format!("http://{addr}/iwmo/in"),
            loket,
            _dir: dir,
        }
    }

    fn open(&self) {
        self.front.0.gate.add_permits(10_000);
    }

    fn hits(&self) -> usize {
        self.front.0.hits.lock().unwrap().len()
    }

    fn forwarded(&self) -> usize {
        self.front.0.forwarded.load(Ordering::SeqCst)
    }

    /// How often the municipality's loket stored a message with this
    /// identification from the provider.
    async fn stored(&self, identificatie: &str) -> i64 {
        sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE tenant_id = $1 AND direction = 'in' \
             AND sender = $2 AND identificatie = $3",
        )
        .bind(GEMEENTE)
        .bind(PROVIDER)
        .bind(identificatie)
        .fetch_one(self.loket.pool())
        .await
        .expect("count")
        .try_get::<i64, _>("n")
        .expect("n")
    }

    async fn wait_hits(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.hits() < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} requests"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn receive(State(front): State<Front>, headers: HeaderMap, body: Bytes) -> Response {
    let f = &front.0;
    assert!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/xml")),
        "sent as XML: {headers:?}"
    );
    f.hits.lock().unwrap().push(Hit {
        at: Instant::now(),
        body: body.to_vec(),
    });
    f.gate.acquire().await.expect("gate").forget();
    let scripted = f.script.lock().unwrap().pop_front();
    if let Some(status) = scripted {
        let status = StatusCode::from_u16(status).expect("status");
        return (status, format!("scripted {status} for client {BSN}")).into_response();
    }
    f.forwarded.fetch_add(1, Ordering::SeqCst);
    let res = f
        .http
        .post(format!("{}/messages", f.loket))
        .bearer_auth(&f.token)
        .body(body)
        .send()
        .await
        .expect("forward");
    let status = StatusCode::from_u16(res.status().as_u16()).expect("status");
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_string();
    let body = res.bytes().await.expect("answer").to_vec();
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

// ---------------------------------------------------------------------------
// The provider's side.

/// A mapping for Wmo financier 0200 delivering as `delivery` (TOML inline table).
fn write_mapping(dir: &Path, delivery: &str) {
    std::fs::create_dir_all(dir).expect("mappings dir");
    let text = format!(
        r#"
[financier]
kind = "wmo"
code = "{GEMEENTE}"
name = "Gemeente {GEMEENTE} (Wmo)"
standard = "iwmo"
delivery = {delivery}

[declaration]
period = "month"

[[products]]
categorie = "02"
code = "02A04"
name = "Begeleiding individueel"
eenheid = "04"
activities = ["begeleiding"]
conversion = {{ measure = "time", round_per = "day", round_to = "unit", rounding = "nearest" }}

[[products.tariffs]]
from = 2026-01-01
price_cents = 6745
"#
    );
    std::fs::write(dir.join("gemeente-0200-wmo.toml"), text).expect("mapping");
}

/// The provider's loket on the backend under test, delivering to `delivery`.
async fn provider(db: &Db, delivery: &str) -> (Loket, Api) {
    let mappings = db.dir.path().join("mappings");
    write_mapping(&mappings, delivery);
    let loket = Loket::start(db.url.clone(), &db.dir.path().join("data"), mappings).await;
    let api = loket.tenant(PROVIDER).await;
    (loket, api)
}

async fn metric(api: &Api, line_start: &str) -> Option<u64> {
    let text = String::from_utf8(api.get("/metrics").await.expect(200).body).expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .map(|v| v.trim().parse().expect("number"))
}

// ---------------------------------------------------------------------------
// The cases.

/// Stored before it is sent; while the counterpart answers 503 it is tried
/// again with growing pauses; once through, it is sent exactly once, and
/// the retour the counterpart answered with is stored and linked.
async fn http_delivery_waits_out_an_outage_sends_once_and_stores_the_retour(db: Db) {
    let cp = Counterpart::start(&[503, 503], false).await;
    let (mut a, api) = provider(&db, &format!("{{ http = \"{}\" }}", cp.url)).await;
    a.start_worker();

    let xml = fixture("WMO315_omvang.xml");
    let item = api.queue(xml.clone()).await;
    let id = item["id"].as_str().expect("id").to_string();
    assert_eq!(item["bericht"], "WMO315");
    assert_eq!(item["financier"], "wmo:0200");
    assert_eq!(item["target"]["kind"], "http");
    assert_eq!(item["target"]["address"], cp.url.as_str());

    // The first attempt is held by the counterpart: by then the message is
    // stored, and what went out is exactly what was stored.
    cp.wait_hits(1).await;
    let held = api.item(&id).await;
    assert_eq!(held["state"], "sending", "{held:#}");
    assert_eq!(held["attempts"], 1);
    let stored = api
        .get(&format!("/messages/{id}"))
        .await
        .expect(200)
        .valid("message");
    assert_eq!(stored["direction"], "out");
    assert_eq!(stored["status"], "queued");
    let first = cp.front.0.hits.lock().unwrap()[0].body.clone();
    assert_eq!(stored["raw"].as_str().expect("raw").as_bytes(), &first[..]);

    cp.open();
    let sent = api.wait_state(&id, "sent").await;
    assert_eq!(sent["attempts"], 3, "{sent:#}");
    assert_eq!(sent["response_status"], 200);
    assert!(sent["last_error"].is_null(), "{sent:#}");
    assert!(sent["sent_at"].is_string());
    assert!(sent["next_attempt_at"].is_null());

    // Backoff: the second pause (after two failures) is at least the base
    // doubled, halved by the jitter; the first at least half the base.
    {
        let hits = cp.front.0.hits.lock().unwrap();
        assert_eq!(hits.len(), 3);
        let gap1 = hits[1].at - hits[0].at;
        let gap2 = hits[2].at - hits[1].at;
        assert!(gap1 >= Duration::from_millis(20), "{gap1:?}");
        assert!(gap2 >= Duration::from_millis(40), "{gap2:?}");
    }

    // Sent once: the municipality stored it once, and nothing more arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(cp.hits(), 3);
    assert_eq!(cp.forwarded(), 1);
    assert_eq!(cp.stored("ZL2604070001").await, 1);

    // The retour (WMO316) is stored as an inbound message answering ours.
    let retour_id = sent["retour_id"].as_str().expect("retour id");
    let retour = api
        .get(&format!("/messages/{retour_id}"))
        .await
        .expect(200)
        .valid("message");
    assert_eq!(retour["direction"], "in");
    assert_eq!(retour["bericht"], "WMO316");
    // A retour repeats the header of the message it answers.
    assert_eq!(retour["sender"], PROVIDER);
    assert_eq!(retour["receiver"], GEMEENTE);
    assert_eq!(retour["status"], "accepted");
    assert_eq!(retour["answer_of"], id.as_str());
    let message = api
        .get(&format!("/messages/{id}"))
        .await
        .expect(200)
        .valid("message");
    assert_eq!(message["status"], "sent");
    assert_eq!(message["answer_id"], retour_id);

    // The outage and the delivery are counted; no BSN anywhere.
    assert_eq!(
        metric(
            &api,
            "loket_outbox_deliveries_total{transport=\"http\",outcome=\"retry\"}"
        )
        .await,
        Some(2)
    );
    assert_eq!(
        metric(
            &api,
            "loket_outbox_deliveries_total{transport=\"http\",outcome=\"sent\"}"
        )
        .await,
        Some(1)
    );
    let list = api.get("/outbox").await.expect(200).valid("outbox-list");
    assert!(!list.to_string().contains(BSN));
    assert!(!captured_logs().contains(BSN), "a BSN in the logs");
    a.stop().await;
}

/// A 4xx other than 408/429 is a refusal: the message fails at once (no
/// retries), shows why, and goes again when queued by hand.
async fn refused_message_fails_and_is_retried_by_hand(db: Db) {
    let cp = Counterpart::start(&[422], true).await;
    let (mut a, api) = provider(&db, &format!("{{ http = \"{}\" }}", cp.url)).await;
    a.start_worker();
    let id = api.queue(fixture("WMO317_wijziging_en_nieuw.xml")).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let failed = api.wait_state(&id, "failed").await;
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["response_status"], 422);
    let error = failed["last_error"].as_str().expect("last_error");
    assert!(error.contains("422"), "{error}");
    // The counterpart's text quoted a BSN; it is not kept.
    assert!(!error.contains(BSN), "{error}");
    assert_eq!(cp.hits(), 1);
    let message = api.get(&format!("/messages/{id}")).await.expect(200).json();
    assert_eq!(message["status"], "failed");

    // Visible in the list by state; nothing else is.
    let list = api
        .get("/outbox?state=failed")
        .await
        .expect(200)
        .valid("outbox-list");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let found = violations("outbox-item", i).expect("schema");
            assert!(found.is_empty(), "{found:?}");
            i["id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let sent = api.get("/outbox?state=sent").await.expect(200).json();
    assert_eq!(sent["items"].as_array().map(Vec::len), Some(0));
    api.get("/outbox?state=lost")
        .await
        .expect(400)
        .valid("error");

    // Another tenant sees none of it.
    let other = a.tenant("12345678").await;
    other
        .get(&format!("/outbox/{id}"))
        .await
        .expect(404)
        .valid("error");
    other
        .post(&format!("/outbox/{id}/retry"), Vec::new())
        .await
        .expect(404)
        .valid("error");
    let theirs = other.get("/outbox").await.expect(200).json();
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));

    // Queued again by hand, it goes through this time.
    let again = api
        .post(&format!("/outbox/{id}/retry"), Vec::new())
        .await
        .expect(200)
        .valid("outbox-item");
    assert!(again["state"] == "queued" || again["state"] == "sending" || again["state"] == "sent");
    let sent = api.wait_state(&id, "sent").await;
    assert_eq!(sent["attempts"], 2);
    assert!(sent["retour_id"].is_string());
    assert_eq!(cp.stored("ZL2606100001").await, 1);
    // Only a failed message can be retried.
    api.post(&format!("/outbox/{id}/retry"), Vec::new())
        .await
        .expect(409)
        .valid("error");
    assert_eq!(
        metric(
            &api,
            "loket_outbox_deliveries_total{transport=\"http\",outcome=\"failed\"}"
        )
        .await,
        Some(1)
    );
    a.stop().await;
}

/// A worker that stopped mid-send (after the counterpart took the message
/// in, before recording it) leaves a lease that runs out; the message is
/// sent again, and the counterpart's TR056 check makes that harmless: it
/// answers with the same retour and stores nothing new.
async fn expired_lease_is_resent_and_the_receiver_answers_the_same(db: Db) {
    let cp = Counterpart::start(&[], true).await;
    let (mut a, api) = provider(&db, &format!("{{ http = \"{}\" }}", cp.url)).await;
    // No worker yet: the message stays queued.
    let xml = fixture("WMO315_meerdere_producten.xml");
    let id = api.queue(xml).await["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(api.item(&id).await["state"], "queued");
    assert_eq!(cp.hits(), 0);

    // The "crashed" worker's send: the stored bytes reached the counterpart...
    let stored = sqlx::query("SELECT raw, raw_encoding FROM messages WHERE id = $1")
        .bind(&id)
        .fetch_one(a.pool())
        .await
        .expect("raw");
    let raw = loket::store::body::unpack(
        &stored
            .try_get::<String, _>("raw_encoding")
            .expect("encoding"),
        stored.try_get("raw").expect("raw"),
    )
    .expect("unpacks");
    let first = reqwest::Client::new()
        .post(&cp.url)
        .header("content-type", "application/xml")
        .body(raw)
        .send()
        .await
        .expect("first send");
    assert_eq!(first.status(), 200);
    let first_retour = first.bytes().await.expect("retour").to_vec();
    assert_eq!(cp.stored("ZL2608180002").await, 1);
    // ...and its claim was left behind, its lease now run out.
    sqlx::query(
        "UPDATE outbox SET state = 'sending', attempts = 1, lease_until = '2000-01-01T00:00:00.000Z' WHERE message_id = $1",
    )
    .bind(&id)
    .execute(a.pool())
    .await
    .expect("claim");

    a.start_worker();
    let sent = api.wait_state(&id, "sent").await;
    assert_eq!(sent["attempts"], 2);
    assert_eq!(cp.forwarded(), 2);
    // The resend changed nothing at the counterpart.
    assert_eq!(cp.stored("ZL2608180002").await, 1);
    let retour_id = sent["retour_id"].as_str().expect("retour");
    let retour = api
        .get(&format!("/messages/{retour_id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        retour["raw"].as_str().expect("raw").as_bytes(),
        &first_retour[..]
    );
    a.stop().await;
}

/// Folder delivery: the message appears whole as `<BerichtIdentificatie>.xml`.
async fn folder_delivery_writes_the_file(db: Db) {
    let out = db.dir.path().join("out-0200");
    std::fs::create_dir_all(&out).expect("out");
    let (mut a, api) = provider(&db, &format!("{{ folder = \"{}\" }}", out.display())).await;
    a.start_worker();
    let id = api.queue(fixture("WMO315_omvang.xml")).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let sent = api.wait_state(&id, "sent").await;
    assert_eq!(sent["attempts"], 1);
    assert_eq!(sent["target"]["kind"], "folder");
    assert!(sent["response_status"].is_null());
    assert!(sent["retour_id"].is_null());
    let message = api.get(&format!("/messages/{id}")).await.expect(200).json();
    let written = std::fs::read(out.join("ZL2604070001.xml")).expect("the file");
    assert_eq!(written, message["raw"].as_str().expect("raw").as_bytes());
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ZL2604070001.xml"]);
    assert_eq!(
        metric(
            &api,
            "loket_outbox_deliveries_total{transport=\"folder\",outcome=\"sent\"}"
        )
        .await,
        Some(1)
    );
    a.stop().await;
}

/// `POST /outbox` takes only a message that passes every check, comes from
/// the tenant and goes to a financier it has a mapping for; a 315 or 317
/// records its requests (without the BSN).
async fn post_outbox_checks_sender_financier_and_findings(db: Db) {
    let (a, api) = provider(&db, "{ folder = \"/nonexistent/loket-test\" }").await;
    let xml = fixture("WMO315_omvang.xml");

    // Not a message at all.
    api.post("/outbox", b"<hello/>".to_vec())
        .await
        .expect(400)
        .valid("error");
    // Findings: every one, in Dutch and English; nothing stored.
    let broken = replace(
        &xml,
        "<iwmo:Volume>2</iwmo:Volume>",
        "<iwmo:Volume>twee</iwmo:Volume>",
    );
    let e = api.post("/outbox", broken).await.expect(422).valid("error");
    let findings = e["error"]["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        assert!(f["nl"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        assert!(f["en"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
    }
    // Another sender.
    let foreign = replace(
        &xml,
        "<wmo315:Afzender>73730112",
        "<wmo315:Afzender>12345678",
    );
    api.post("/outbox", foreign)
        .await
        .expect(403)
        .valid("error");
    // A municipality without a mapping.
    let unmapped = replace(&xml, "<wmo315:Ontvanger>0200", "<wmo315:Ontvanger>0363");
    let e = api
        .post("/outbox", unmapped)
        .await
        .expect(422)
        .valid("error");
    assert!(
        e["error"]["en"]
            .as_str()
            .is_some_and(|s| s.contains("wmo:0363")),
        "{e}"
    );
    // A retour is not composed by hand.
    let retour = fixture("WMO316_akkoord_alleen_header.xml");
    let retour = String::from_utf8(retour).expect("UTF-8");
    let retour = retour
        .replace("<wmo316:Afzender>0200", "<wmo316:Afzender>73730112")
        .replace("<wmo316:Ontvanger>73730112", "<wmo316:Ontvanger>0200");
    api.post("/outbox", retour.into_bytes())
        .await
        .expect(422)
        .valid("error");
    // A declaration is made by the declaration run, never by hand: it would
    // leave without the prestaties the record judges its answer against.
    let e = api
        .post("/outbox", fixture("WMO323_declaratie.xml"))
        .await
        .expect(422)
        .valid("error");
    assert!(
        e["error"]["nl"]
            .as_str()
            .is_some_and(|s| s.contains("declaratierun")),
        "{e}"
    );
    let none: i64 = sqlx::query("SELECT COUNT(*) AS n FROM outbox")
        .fetch_one(a.pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n");
    assert_eq!(none, 0);

    // The 315 is queued with its request; a second one with the same
    // identification is refused (TR056).
    let item = api.queue(xml.clone()).await;
    assert_eq!(item["state"], "queued");
    api.post("/outbox", xml).await.expect(409).valid("error");
    let item317 = api.queue(fixture("WMO317_wijziging_en_nieuw.xml")).await;
    let rows = sqlx::query(
        "SELECT message_id, bericht, gemeente, referentie_aanbieder, bsn_hash, status FROM requests \
         WHERE tenant_id = $1 ORDER BY bericht",
    )
    .bind(PROVIDER)
    .fetch_all(a.pool())
    .await
    .expect("requests");
    let got: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            let hash: String = r.try_get("bsn_hash").expect("hash");
            assert_eq!(hash.len(), 64);
            assert!(!hash.contains(BSN));
            (
                r.try_get("message_id").expect("message"),
                r.try_get("bericht").expect("bericht"),
                r.try_get("gemeente").expect("gemeente"),
                r.try_get("referentie_aanbieder").expect("ref"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                item["id"].as_str().expect("id").to_string(),
                "WMO315".to_string(),
                GEMEENTE.to_string(),
                "VOT-2026-0041".to_string()
            ),
            (
                item317["id"].as_str().expect("id").to_string(),
                "WMO317".to_string(),
                GEMEENTE.to_string(),
                "VOW-2026-0007".to_string()
            ),
        ]
    );
    // The request's client is found by the same key as deliveries.
    let hash: String = rows[0].try_get("bsn_hash").expect("hash");
    assert_eq!(hash, loket::record::apply::delivery_key(PROVIDER, BSN));
}
