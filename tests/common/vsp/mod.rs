//! A test counterpart of VECOZO's VSP-Koppeling (push, pull, berichtstatus)
//! that loket's end-to-end tests start on loopback.
//!
//! It is strict on purpose: every request is checked against the published
//! OpenAPI descriptions (read at run time from `../shared/reference/vecozo-vsp/`,
//! see [`schema`]) and refused the way VECOZO refuses it, so a client that
//! passes here does not rely on leniency the real exchange lacks. Every JSON
//! it answers is checked against the same descriptions; a mismatch is a bug in
//! the counterpart and is recorded in [`Vsp::violations`] (dropping a `Vsp`
//! with violations fails the test).
//!
//! Identity is the TLS client certificate: the handshake demands one issued by
//! the [`TestPki`] CA, and the caller is the certificate's subject CN (the
//! tenant's AGB code or gemeentecode).
//!
//! Simplifications, each documented where it lives: a pushed message is in its
//! addressees' pull queues at once (VECOZO routes it after processing; tests
//! should not have to wait for that), statuses advance one step per status
//! query or [`Vsp::advance`], and an unregistered certificate is answered with
//! 403 (the gateway's answer) rather than a handshake failure.

mod pki;
pub mod schema;

// Re-exported for the suites; a suite that uses none of them is fine.
#[allow(unused_imports)]
pub use pki::{CertFiles, ClientCert, ServerCert, TestPki};
#[allow(unused_imports)]
pub use schema::spec_dir;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, FromRequest, Multipart, Path, Query, State};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;
use uuid::Uuid;

/// VECOZO's limit per message. The exchange says "25 MB"; the counterpart
/// reads it as MiB, the larger reading, so it never refuses what VECOZO takes.
pub const MAX_PAYLOAD: usize = 25 * 1024 * 1024;

/// The most items one list answer holds (pull list, search, status list).
pub const MAX_LIST: usize = 250;

/// The title ASP.NET gives a 400 ValidationProblemDetails.
const INVALID: &str = "One or more validation errors occurred.";

const PUSH: &str = "/berichtenservice/berichten/rest-push/v1/berichten";
const PULL: &str = "/berichtenservice/berichten/rest-pull/v1/berichten";
const STATUS: &str = "/berichtenservice/berichtstatus/rest-pull/v3/berichtstatussen";

/// How the counterpart behaves where the specification leaves room.
#[derive(Clone, Debug)]
pub struct VspOptions {
    /// Largest accepted payload in bytes; larger pushes get 400.
    pub max_payload: usize,
    /// Whether every status query moves the statuses it reported one step
    /// on (otherwise only [`Vsp::advance`] does).
    pub advance_on_status_query: bool,
}

impl Default for VspOptions {
    fn default() -> Self {
        VspOptions {
            max_payload: MAX_PAYLOAD,
            advance_on_status_query: true,
        }
    }
}

/// The operations, for counters and per-endpoint faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST .../rest-push/v1/berichten`
    Push,
    /// `GET .../rest-pull/v1/berichten`
    List,
    /// `POST .../rest-pull/v1/berichten/zoeken`
    Search,
    /// `GET .../rest-pull/v1/berichten/{traceerId}/payload`
    Payload,
    /// `DELETE .../rest-pull/v1/berichten/{traceerId}`
    Confirm,
    /// `GET .../berichtstatus/rest-pull/v3/berichtstatussen`
    Status,
    /// Anything else (answered 404/405).
    Other,
}

/// The statuses of the berichtstatus service, in the published spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Berichtstatus {
    Ontvangen,
    DeelsOntvangen,
    DeelberichtAanleveringAfgekeurd,
    WordtVerwerkt,
    AfgekeurdDoorDienst,
    VerwerkingVoltooid,
    WordtAangeboden,
    Bezorgd,
    AanbiedenMislukt,
    BezorgingAfgebroken,
}

impl Berichtstatus {
    pub fn as_str(self) -> &'static str {
        use Berichtstatus::*;
        match self {
            Ontvangen => "Ontvangen",
            DeelsOntvangen => "DeelsOntvangen",
            DeelberichtAanleveringAfgekeurd => "DeelberichtAanleveringAfgekeurd",
            WordtVerwerkt => "WordtVerwerkt",
            AfgekeurdDoorDienst => "AfgekeurdDoorDienst",
            VerwerkingVoltooid => "VerwerkingVoltooid",
            WordtAangeboden => "WordtAangeboden",
            Bezorgd => "Bezorgd",
            AanbiedenMislukt => "AanbiedenMislukt",
            BezorgingAfgebroken => "BezorgingAfgebroken",
        }
    }

    /// Refusals: the message is not (or no longer) offered to its addressees.
    pub fn is_refusal(self) -> bool {
        use Berichtstatus::*;
        matches!(
            self,
            DeelberichtAanleveringAfgekeurd
                | AfgekeurdDoorDienst
                | AanbiedenMislukt
                | BezorgingAfgebroken
        )
    }

    /// The next step on the happy path, if any. `WordtAangeboden` moves to
    /// `Bezorgd` only once every addressee confirmed (see [`Vsp::advance`]).
    fn next(self) -> Option<Self> {
        use Berichtstatus::*;
        match self {
            Ontvangen | DeelsOntvangen => Some(WordtVerwerkt),
            WordtVerwerkt => Some(VerwerkingVoltooid),
            VerwerkingVoltooid => Some(WordtAangeboden),
            WordtAangeboden => Some(Bezorgd),
            _ => None,
        }
    }
}

/// A `melding` on a status: why a message was refused.
#[derive(Clone, Debug)]
pub struct Melding {
    pub code: String,
    pub omschrijving: String,
    pub toelichting: Option<String>,
}

impl Melding {
    pub fn new(code: &str, omschrijving: &str) -> Self {
        Melding {
            code: code.into(),
            omschrijving: omschrijving.into(),
            toelichting: None,
        }
    }

    fn json(&self) -> Value {
        let mut m = json!({"code": self.code, "omschrijving": self.omschrijving});
        if let Some(t) = &self.toelichting {
            m["toelichting"] = json!(t);
        }
        m
    }
}

/// Misbehaviour on command. A [`Fault`] becomes a [`FaultRule`] (all
/// endpoints, until cleared) or is narrowed with [`Fault::on`] and
/// [`Fault::times`]. Rules are tried in the order given; the first that
/// applies to a request fires.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status (500, 503, ...) and a problem body; the
    /// request is not processed.
    Http(u16),
    /// 429 with `Retry-After: <seconds>`; not processed.
    TooManyRequests { retry_after: u64 },
    /// Never answer (until the client gives up or the `Vsp` is dropped).
    Hang,
    /// Close the connection without answering; not processed.
    ResetBefore,
    /// Process the request, then close the connection without answering: the
    /// client cannot know its push was taken or its confirmation done.
    ResetAfter,
    /// Process the request, send the status line, headers and half the body,
    /// then close the connection (an answer without body: like `ResetAfter`).
    Truncate,
    /// Push only: refuse with 422 and this ValidationProblemDetails body;
    /// nothing is stored.
    Refuse(Value),
    /// Payload download only: one byte of the payload differs, the size is
    /// right, so only the SHA-256 gives it away.
    BadChecksum,
    /// Payload download only: the last byte is missing.
    BadSize,
    /// Calls with this client code's certificate get 403, as for a
    /// systeemcertificaat VECOZO does not know (or not from this address).
    RefuseClient(String),
}

/// A fault with its scope.
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub fault: Fault,
    /// `None`: every endpoint the fault applies to.
    pub endpoint: Option<Endpoint>,
    /// `None`: until [`Vsp::clear_faults`].
    pub remaining: Option<u32>,
}

impl Fault {
    /// Only on this endpoint.
    pub fn on(self, endpoint: Endpoint) -> FaultRule {
        FaultRule::from(self).on(endpoint)
    }

    /// Only for the next `n` requests it applies to.
    pub fn times(self, n: u32) -> FaultRule {
        FaultRule::from(self).times(n)
    }
}

impl FaultRule {
    pub fn on(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn applies(&self, endpoint: Endpoint, caller: &str) -> bool {
        if self.endpoint.is_some_and(|e| e != endpoint) {
            return false;
        }
        match &self.fault {
            Fault::Refuse(_) => endpoint == Endpoint::Push,
            Fault::BadChecksum | Fault::BadSize => endpoint == Endpoint::Payload,
            Fault::RefuseClient(code) => code == caller,
            _ => true,
        }
    }
}

impl From<Fault> for FaultRule {
    fn from(fault: Fault) -> Self {
        FaultRule {
            fault,
            endpoint: None,
            remaining: None,
        }
    }
}

/// One push the counterpart accepted (204), in arrival order.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The client certificate's CN.
    pub caller: String,
    /// The `berichtMetadata` part as sent.
    pub metadata: Value,
    pub payload: Vec<u8>,
    /// True when this was an identical repeat of an earlier push (same
    /// traceerId, metadata and payload), answered 204 without a second message.
    pub repeat: bool,
}

impl Pushed {
    pub fn traceer_id(&self) -> &str {
        self.metadata["referentiegegevens"]["traceerId"]
            .as_str()
            .unwrap_or_default()
    }
}

/// A message [`Vsp::take_for`] took out of a pull queue.
#[derive(Clone, Debug)]
pub struct Taken {
    pub traceer: Uuid,
    pub conversatie: Uuid,
    pub als_antwoord_op: Option<Uuid>,
    /// The code of the party that pushed it.
    pub sender: String,
    pub berichtstroom: Value,
    pub payload: Vec<u8>,
}

/// A message held by the counterpart: pushed by a client or placed with
/// [`Vsp::enqueue`].
#[derive(Clone, Debug)]
struct Message {
    /// `routeringgegevens`, `referentiegegevens` and `verwerkingscontext`.
    metadata: Value,
    payload: Vec<u8>,
    traceer: Uuid,
    conversatie: Uuid,
    als_antwoord_op: Option<Uuid>,
    sender: String,
    /// Codes of the geadresseerden; each has the message in its pull queue
    /// until it confirms.
    addressees: Vec<String>,
    confirmed_by: Vec<String>,
    ontvangen_op: DateTime<Utc>,
    status: Berichtstatus,
    status_at: DateTime<Utc>,
    meldingen: Vec<Melding>,
}

impl Message {
    fn waiting_for(&self, code: &str) -> bool {
        !self.status.is_refusal()
            && self.addressees.iter().any(|a| a == code)
            && !self.confirmed_by.iter().any(|c| c == code)
    }

    fn all_confirmed(&self) -> bool {
        self.addressees
            .iter()
            .all(|a| self.confirmed_by.iter().any(|c| c == a))
    }

    fn advance(&mut self) {
        if self.status == Berichtstatus::WordtAangeboden && !self.all_confirmed() {
            return;
        }
        if let Some(next) = self.status.next() {
            self.status = next;
            self.status_at = Utc::now();
        }
    }
}

#[derive(Default)]
struct Store {
    /// In arrival order: the pull queues are "oldest first".
    messages: Vec<Message>,
    by_traceer: HashMap<Uuid, usize>,
    pushed: Vec<Pushed>,
    confirmed: Vec<(String, Uuid)>,
    faults: Vec<FaultRule>,
    counts: HashMap<Endpoint, u64>,
    handshake_failures: u64,
    violations: Vec<String>,
}

struct Shared {
    opts: VspOptions,
    base: String,
    state: Mutex<Store>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panicking test thread must not hide the counterpart's state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn payload_url(&self, traceer: Uuid) -> String {
        format!(
            "{}/berichten/rest-pull/v1/berichten/{traceer}/payload",
            self.base
        )
    }

    /// The pull-side metadata: what was pushed plus `basisgegevens`.
    fn pull_metadata(&self, m: &Message) -> Value {
        let mut v = m.metadata.clone();
        v["basisgegevens"] = json!({
            "ontvangenOp": rfc3339(m.ontvangen_op),
            "payload": {
                "url": self.payload_url(m.traceer),
                "grootte": m.payload.len(),
                "checksum": {"algoritme": "SHA256", "waarde": hex::encode(Sha256::digest(&m.payload))},
            },
        });
        v
    }

    fn status_json(&self, m: &Message) -> Value {
        let mut v = json!({
            "referentiegegevens": m.metadata["referentiegegevens"],
            "berichtstroom": m.metadata["routeringgegevens"]["berichtstroom"],
            "berichtstatus": m.status.as_str(),
            "berichtstatusGewijzigdOp": rfc3339(m.status_at),
            "berichtOntvangenOp": rfc3339(m.ontvangen_op),
        });
        if !m.meldingen.is_empty() {
            v["meldingen"] = Value::Array(m.meldingen.iter().map(Melding::json).collect());
        }
        v
    }

    /// Checks one of the counterpart's own answers; a violation is recorded,
    /// not panicked on, so the client under test still gets an answer.
    fn check(&self, what: &str, v: &jsonschema::Validator, value: &Value) {
        let errs = schema::errors(v, value);
        if !errs.is_empty() {
            self.lock()
                .violations
                .push(format!("{what}: {errs:?} in {value}"));
        }
    }

    fn json(&self, status: StatusCode, body: Value) -> Response<Body> {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from(body.to_string()))
            .unwrap_or_default()
    }

    /// A ValidationProblemDetails answer. ASP.NET (which VECOZO's answers
    /// show) labels it `application/problem+json`; clients must accept that.
    fn problem(
        &self,
        status: StatusCode,
        title: &str,
        errors: &[(String, String)],
    ) -> Response<Body> {
        let mut map = Map::new();
        for (k, msg) in errors {
            let entry = map.entry(k.clone()).or_insert_with(|| json!([]));
            if let Value::Array(a) = entry {
                a.push(json!(msg));
            }
        }
        let body = json!({
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5",
            "title": title,
            "status": status.as_u16(),
            "errors": map,
        });
        self.problem_body(status, body)
    }

    fn problem_body(&self, status: StatusCode, body: Value) -> Response<Body> {
        self.check("ValidationProblemDetails", &schema::SPEC.problem, &body);
        Response::builder()
            .status(status)
            .header(
                header::CONTENT_TYPE,
                "application/problem+json; charset=utf-8",
            )
            .body(Body::from(body.to_string()))
            .unwrap_or_default()
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn err(key: &str, msg: impl Into<String>) -> Vec<(String, String)> {
    vec![(key.to_string(), msg.into())]
}

/// The caller, from the client certificate's subject CN.
#[derive(Clone, Debug)]
struct Caller(String);

/// Set by a [`Fault::BadChecksum`] / [`Fault::BadSize`] for the payload handler.
#[derive(Clone, Copy, Debug)]
enum Corrupt {
    Checksum,
    Size,
}

/// The running counterpart. Dropping it stops the server (also hanging
/// answers) and fails the test if the counterpart broke the specification.
pub struct Vsp {
    shared: Arc<Shared>,
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Vsp {
    fn drop(&mut self) {
        self.task.abort();
        let v = self.violations();
        if !v.is_empty() && !std::thread::panicking() {
            panic!("the VSP counterpart answered against the specification: {v:#?}");
        }
    }
}

impl Vsp {
    /// Starts serving HTTPS on 127.0.0.1 with an ephemeral port. Must run
    /// inside a tokio runtime (the server is spawned onto it).
    pub async fn start(pki: &TestPki, opts: VspOptions) -> Vsp {
        // Fail here, not in the first request, when the descriptions are missing.
        let _ = &*schema::SPEC;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            opts,
            base: format!("https://127.0.0.1:{port}/berichtenservice"),
            state: Mutex::new(Store::default()),
        });
        let tls = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(pki)));
        let router = router(shared.clone());
        let task = tokio::spawn(serve(listener, tls, router, shared.clone()));
        Vsp { shared, port, task }
    }

    /// `https://127.0.0.1:PORT/berichtenservice`: what loket's `vsp` delivery
    /// takes as a base URL.
    pub fn base(&self) -> String {
        self.shared.base.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The push endpoint.
    pub fn push_url(&self) -> String {
        format!("{}/berichten/rest-push/v1/berichten", self.base())
    }

    /// The pull list endpoint (`/zoeken`, `/{id}/payload`, `/{id}` below it).
    pub fn pull_url(&self) -> String {
        format!("{}/berichten/rest-pull/v1/berichten", self.base())
    }

    /// The status endpoint.
    pub fn status_url(&self) -> String {
        format!(
            "{}/berichtstatus/rest-pull/v3/berichtstatussen",
            self.base()
        )
    }

    /// Places a message in `to_code`'s pull queue as if `from` (rol, code)
    /// had pushed it. Panics when the result would not fit the pull schema
    /// (a mistake in the test), or when `traceer` is already taken.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue(
        &self,
        to_code: &str,
        from: (&str, &str),
        berichtstroom: Value,
        payload: &[u8],
        conversatie: Uuid,
        traceer: Uuid,
        als_antwoord_op: Option<Uuid>,
    ) {
        let mut referentie = json!({
            "conversatieId": conversatie.to_string(),
            "traceerId": traceer.to_string(),
        });
        if let Some(a) = als_antwoord_op {
            referentie["alsAntwoordOp"] = json!(a.to_string());
        }
        let metadata = json!({
            "routeringgegevens": {
                "afzender": {"rol": from.0, "code": from.1},
                "geadresseerden": [{"rol": rol_of(to_code), "code": to_code}],
                "berichtstroom": berichtstroom,
            },
            "referentiegegevens": referentie,
        });
        let now = Utc::now();
        let m = Message {
            metadata,
            payload: payload.to_vec(),
            traceer,
            conversatie,
            als_antwoord_op,
            sender: from.1.to_string(),
            addressees: vec![to_code.to_string()],
            confirmed_by: vec![],
            ontvangen_op: now,
            status: Berichtstatus::WordtAangeboden,
            status_at: now,
            meldingen: vec![],
        };
        let errs = schema::errors(&schema::SPEC.pull_metadata, &self.shared.pull_metadata(&m));
        assert!(
            errs.is_empty(),
            "enqueue makes invalid pull metadata: {errs:?}"
        );
        let mut st = self.shared.lock();
        assert!(
            !st.by_traceer.contains_key(&traceer),
            "traceerId {traceer} already used"
        );
        let idx = st.messages.len();
        st.by_traceer.insert(traceer, idx);
        st.messages.push(m);
    }

    /// Takes every message waiting for `code` out of its pull queue and
    /// confirms it on `code`'s behalf, oldest first. The exchange test
    /// counterpart (`tests/common/ggk`) does this for a municipality that is
    /// reached through the GGk's StUF interface instead of a pull of its own.
    pub fn take_for(&self, code: &str) -> Vec<Taken> {
        let mut st = self.shared.lock();
        let mut out = Vec::new();
        for m in st.messages.iter_mut().filter(|m| m.waiting_for(code)) {
            m.confirmed_by.push(code.to_string());
            if m.status == Berichtstatus::WordtAangeboden && m.all_confirmed() {
                m.advance();
            }
            out.push(Taken {
                traceer: m.traceer,
                conversatie: m.conversatie,
                als_antwoord_op: m.als_antwoord_op,
                sender: m.sender.clone(),
                berichtstroom: m.metadata["routeringgegevens"]["berichtstroom"].clone(),
                payload: m.payload.clone(),
            });
        }
        let confirmed: Vec<(String, Uuid)> =
            out.iter().map(|t| (code.to_string(), t.traceer)).collect();
        st.confirmed.extend(confirmed);
        out
    }

    /// Every accepted push (204), repeats included, in arrival order.
    pub fn pushed(&self) -> Vec<Pushed> {
        self.shared.lock().pushed.clone()
    }

    /// How many messages wait for `code` to pull and confirm them.
    pub fn queue_len(&self, code: &str) -> usize {
        self.shared
            .lock()
            .messages
            .iter()
            .filter(|m| m.waiting_for(code))
            .count()
    }

    /// How far `caller` got, counted under the lock without copying what
    /// was pushed: (confirmations, accepted pushes that were not repeats,
    /// repeats). A benchmark samples this every few milliseconds, where
    /// [`Vsp::pushed`] would copy every payload each time.
    pub fn tally(&self, caller: &str) -> (usize, usize, usize) {
        let st = self.shared.lock();
        let confirmed = st.confirmed.iter().filter(|(c, _)| c == caller).count();
        let (mut fresh, mut repeats) = (0, 0);
        for p in st.pushed.iter().filter(|p| p.caller == caller) {
            if p.repeat {
                repeats += 1;
            } else {
                fresh += 1;
            }
        }
        (confirmed, fresh, repeats)
    }

    /// Every successful confirmation (DELETE answered 202): (caller, traceerId).
    pub fn confirmed(&self) -> Vec<(String, Uuid)> {
        self.shared.lock().confirmed.clone()
    }

    /// Sets a message's status (e.g. `AfgekeurdDoorDienst` with the codes of
    /// the refusal). A refusal takes it out of the pull queues.
    pub fn set_status(&self, traceer: Uuid, status: Berichtstatus, meldingen: Vec<Melding>) {
        let mut st = self.shared.lock();
        let idx = *st
            .by_traceer
            .get(&traceer)
            .unwrap_or_else(|| panic!("set_status: unknown traceerId {traceer}"));
        let m = &mut st.messages[idx];
        m.status = status;
        m.status_at = Utc::now();
        m.meldingen = meldingen;
    }

    /// The current status of a message.
    pub fn status(&self, traceer: Uuid) -> Option<Berichtstatus> {
        let st = self.shared.lock();
        st.by_traceer.get(&traceer).map(|&i| st.messages[i].status)
    }

    /// Moves every message one step along Ontvangen -> WordtVerwerkt ->
    /// VerwerkingVoltooid -> WordtAangeboden -> Bezorgd (the last only when
    /// every addressee confirmed). Refusals and Bezorgd stay.
    pub fn advance(&self) {
        for m in self.shared.lock().messages.iter_mut() {
            m.advance();
        }
    }

    /// Adds a fault rule (see [`Fault`]).
    pub fn fault(&self, rule: impl Into<FaultRule>) {
        self.shared.lock().faults.push(rule.into());
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Requests that reached the HTTP layer for `endpoint` (faulted ones
    /// included), so tests can assert nothing was sent or confirmed twice.
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.shared
            .lock()
            .counts
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// TLS handshakes the counterpart refused (no or a foreign certificate).
    pub fn handshake_failures(&self) -> u64 {
        self.shared.lock().handshake_failures
    }

    /// Where the counterpart's own answers broke the specification.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }
}

/// A berichtstroom object (`actie` as VECOZO names it for this message).
pub fn berichtstroom(
    berichttype: &str,
    berichtsubtype: &str,
    versie: u32,
    subversie: u32,
    actie: &str,
) -> Value {
    json!({
        "berichttype": berichttype,
        "berichtsubtype": berichtsubtype,
        "berichtversie": versie,
        "berichtsubversie": subversie,
        "actie": actie,
    })
}

/// The role for a tenant code: a 4-digit gemeentecode is a Gemeente, an
/// 8-digit AGB code an Instelling.
pub fn rol_of(code: &str) -> &'static str {
    if code.len() == 4 {
        "Gemeente"
    } else {
        "Instelling"
    }
}

// ---------------------------------------------------------------------------
// TLS and connections.

/// The counterpart's TLS: its server certificate from the test CA, and a
/// client certificate of the test CA demanded (also the StUF tests' adapter).
pub fn server_config(pki: &TestPki) -> rustls::ServerConfig {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca_der()))
        .expect("test CA as root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let server = pki.server_cert();
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![
                CertificateDer::from(server.cert_der.clone()),
                CertificateDer::from(pki.ca_der()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.key_der.clone())),
        )
        .expect("server certificate");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

async fn serve(
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    router: Router,
    shared: Arc<Shared>,
) {
    // Connections live in the set so that aborting this task ends them too.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    conns.spawn(connection(tcp, tls.clone(), router.clone(), shared.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    tls: tokio_rustls::TlsAcceptor,
    router: Router,
    shared: Arc<Shared>,
) {
    let stream = match tls.accept(tcp).await {
        Ok(s) => s,
        Err(_) => {
            shared.lock().handshake_failures += 1;
            return;
        }
    };
    let Some(caller) = peer_code(stream.get_ref().1.peer_certificates()) else {
        shared.lock().handshake_failures += 1;
        return;
    };
    let svc = tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        dispatch(shared.clone(), router.clone(), caller.clone(), req)
    });
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .http1_only()
        .serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(svc),
        )
        .await;
}

/// The subject CN of the client's leaf certificate (the exchange
/// counterpart in `tests/common/ggk` identifies its callers the same way).
pub fn peer_code(certs: Option<&[rustls::pki_types::CertificateDer<'_>]>) -> Option<String> {
    let leaf = certs?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

fn classify(method: &Method, path: &str) -> Endpoint {
    let pull_item = path.strip_prefix(PULL).and_then(|r| r.strip_prefix('/'));
    match (method, path, pull_item) {
        (&Method::POST, PUSH, _) => Endpoint::Push,
        (&Method::GET, PULL, _) => Endpoint::List,
        (&Method::GET, STATUS, _) => Endpoint::Status,
        (&Method::POST, _, Some("zoeken")) => Endpoint::Search,
        (&Method::GET, _, Some(r)) if r.ends_with("/payload") && r.matches('/').count() == 1 => {
            Endpoint::Payload
        }
        (&Method::DELETE, _, Some(r)) if !r.contains('/') => Endpoint::Confirm,
        _ => Endpoint::Other,
    }
}

/// Counts the request, applies a fault if one is due, else hands it to the
/// router with the caller attached.
async fn dispatch(
    shared: Arc<Shared>,
    router: Router,
    caller: String,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let endpoint = classify(req.method(), req.uri().path());
    let fault = {
        let mut st = shared.lock();
        *st.counts.entry(endpoint).or_default() += 1;
        take_fault(&mut st.faults, endpoint, &caller)
    };
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(Caller(caller));
    let reset = || std::io::Error::other("VSP counterpart fault: connection closed");
    let Some(fault) = fault else {
        return Ok(route(router, req).await);
    };
    match fault {
        Fault::Http(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Ok(shared.problem(status, "Fault on command", &[]))
        }
        Fault::TooManyRequests { retry_after } => {
            let mut r = shared.problem(StatusCode::TOO_MANY_REQUESTS, "Too many requests", &[]);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            Ok(r)
        }
        Fault::Hang => {
            std::future::pending::<()>().await;
            Err(reset())
        }
        Fault::ResetBefore => Err(reset()),
        Fault::ResetAfter => {
            let _ = route(router, req).await;
            Err(reset())
        }
        Fault::Truncate => {
            let r = route(router, req).await;
            let (parts, body) = r.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .map_err(|_| reset())?;
            if bytes.is_empty() {
                return Err(reset());
            }
            let mut r = Response::from_parts(
                parts,
                Body::new(Truncated {
                    part: Some(bytes.slice(..bytes.len() / 2)),
                    flushed: false,
                }),
            );
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            Ok(r)
        }
        Fault::Refuse(body) => Ok(shared.problem_body(StatusCode::UNPROCESSABLE_ENTITY, body)),
        Fault::BadChecksum => {
            req.extensions_mut().insert(Corrupt::Checksum);
            Ok(route(router, req).await)
        }
        Fault::BadSize => {
            req.extensions_mut().insert(Corrupt::Size);
            Ok(route(router, req).await)
        }
        Fault::RefuseClient(_) => Ok(shared.problem(
            StatusCode::FORBIDDEN,
            "Certificaat niet geregistreerd",
            &err(
                "certificaat",
                "Het systeemcertificaat is niet bekend of niet toegestaan",
            ),
        )),
    }
}

fn take_fault(rules: &mut Vec<FaultRule>, endpoint: Endpoint, caller: &str) -> Option<Fault> {
    let i = rules.iter().position(|r| r.applies(endpoint, caller))?;
    let fault = rules[i].fault.clone();
    if let Some(n) = rules[i].remaining.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            rules.remove(i);
        }
    }
    Some(fault)
}

async fn route(router: Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A body that yields its part and then fails, so hyper drops the
/// connection mid-answer. Between the two it reports "not ready" once: hyper
/// flushes what it has at that point, so the client really gets the status,
/// the headers and part of the body before the connection goes.
struct Truncated {
    part: Option<Bytes>,
    flushed: bool,
}

impl http_body::Body for Truncated {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if let Some(b) = self.part.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(b))));
        }
        if !self.flushed {
            self.flushed = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Some(Err(std::io::Error::other(
            "VSP counterpart fault: truncated",
        ))))
    }
}

// ---------------------------------------------------------------------------
// The three services.

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(PUSH, post(push))
        .route(PULL, get(list))
        .route(&format!("{PULL}/zoeken"), post(search))
        .route(&format!("{PULL}/{{id}}/payload"), get(payload))
        .route(&format!("{PULL}/{{id}}"), delete(confirm))
        .route(STATUS, get(status))
        // The push handler counts the payload itself and answers 400 over
        // the limit; axum's own 2 MB default would refuse valid messages.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

type Params = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

async fn push(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    req: Request<Body>,
) -> Response<Body> {
    let bad = |errors: Vec<(String, String)>| sh.problem(StatusCode::BAD_REQUEST, INVALID, &errors);
    let refuse = |errors: Vec<(String, String)>| {
        sh.problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Het bericht is niet in ontvangst genomen.",
            &errors,
        )
    };
    let mut mp = match Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(e) => {
            return bad(err(
                "$",
                format!("multipart/form-data expected: {}", e.body_text()),
            ));
        }
    };
    let mut metadata: Option<Vec<u8>> = None;
    let mut payload: Option<Vec<u8>> = None;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(err("$", format!("unreadable multipart body: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let (slot, limit) = match name.as_str() {
            "berichtMetadata" => {
                let json = field
                    .content_type()
                    .and_then(|c| c.split(';').next())
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
                if !json {
                    return bad(err(&name, "part berichtMetadata must be application/json"));
                }
                (&mut metadata, 1024 * 1024)
            }
            "payload" => (&mut payload, sh.opts.max_payload),
            _ => return bad(err(&name, format!("unexpected part '{name}'"))),
        };
        if slot.is_some() {
            return bad(err(&name, format!("part '{name}' given twice")));
        }
        let mut buf = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(c)) => {
                    if buf.len() + c.len() > limit {
                        return bad(err(&name, format!("part '{name}' exceeds {limit} bytes")));
                    }
                    buf.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return bad(err(&name, format!("unreadable part: {e}"))),
            }
        }
        *slot = Some(buf);
    }
    let (Some(metadata), Some(payload)) = (metadata, payload) else {
        return bad(err(
            "$",
            "parts berichtMetadata and payload are both required",
        ));
    };
    let metadata: Value = match serde_json::from_slice(&metadata) {
        Ok(v) => v,
        Err(e) => return bad(err("berichtMetadata", format!("not JSON: {e}"))),
    };
    let errors = schema::errors(&schema::SPEC.push_metadata, &metadata);
    if !errors.is_empty() {
        return bad(errors);
    }
    let refs = &metadata["referentiegegevens"];
    let uuid = |k: &str| refs[k].as_str().map(Uuid::parse_str);
    let (Some(Ok(traceer)), Some(Ok(conversatie))) = (uuid("traceerId"), uuid("conversatieId"))
    else {
        return bad(err(
            "/referentiegegevens",
            "traceerId and conversatieId must be UUIDs",
        ));
    };
    let als_antwoord_op = match uuid("alsAntwoordOp") {
        None => None,
        Some(Ok(u)) => Some(u),
        Some(Err(_)) => return bad(err("/referentiegegevens/alsAntwoordOp", "not a UUID")),
    };
    let routing = &metadata["routeringgegevens"];
    if routing["afzender"]["code"].as_str() != Some(caller.as_str()) {
        return refuse(err(
            "/routeringgegevens/afzender/code",
            format!("afzender does not match the certificate of {caller}"),
        ));
    }
    let addressees: Vec<String> = routing["geadresseerden"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| g["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if addressees.is_empty() {
        return refuse(err(
            "/routeringgegevens/geadresseerden",
            "no geadresseerde with a code",
        ));
    }
    {
        let mut st = sh.lock();
        if let Some(&i) = st.by_traceer.get(&traceer) {
            let m = &st.messages[i];
            let same = m.metadata == metadata && m.payload == payload && m.sender == caller;
            if same {
                st.pushed.push(Pushed {
                    caller,
                    metadata,
                    payload,
                    repeat: true,
                });
                return StatusCode::NO_CONTENT.into_response();
            }
            drop(st);
            return refuse(err(
                "/referentiegegevens/traceerId",
                "traceerId already used for a different message",
            ));
        }
    }
    if let Err(e) = well_formed(&payload) {
        return refuse(err(
            "payload",
            format!("payload is not well-formed XML: {e}"),
        ));
    }
    let now = Utc::now();
    let mut st = sh.lock();
    // Checked again under the lock: two identical pushes may race.
    if st.by_traceer.contains_key(&traceer) {
        drop(st);
        return refuse(err(
            "/referentiegegevens/traceerId",
            "traceerId already used",
        ));
    }
    let idx = st.messages.len();
    st.by_traceer.insert(traceer, idx);
    st.messages.push(Message {
        metadata: metadata.clone(),
        payload: payload.clone(),
        traceer,
        conversatie,
        als_antwoord_op,
        sender: caller.clone(),
        addressees,
        confirmed_by: vec![],
        ontvangen_op: now,
        status: Berichtstatus::Ontvangen,
        status_at: now,
        meldingen: vec![],
    });
    st.pushed.push(Pushed {
        caller,
        metadata,
        payload,
        repeat: false,
    });
    StatusCode::NO_CONTENT.into_response()
}

/// The payload must be one well-formed XML document (VECOZO checks the XSD
/// on receipt; well-formedness is the part that needs no XSD).
fn well_formed(bytes: &[u8]) -> Result<(), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let (mut depth, mut roots) = (0usize, 0usize);
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{e} at byte {}", reader.buffer_position()))?;
        match event {
            Event::Start(_) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Empty(_) => roots += usize::from(depth == 0),
            Event::Text(t) if depth == 0 && !t.chars().all(|c| c.is_ascii_whitespace()) => {
                return Err("text outside the root element".into());
            }
            Event::CData(_) | Event::GeneralRef(_) if depth == 0 => {
                return Err("content outside the root element".into());
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    match (roots, depth) {
        (1, 0) => Ok(()),
        (0, _) => Err("no root element".into()),
        (_, 0) => Err("more than one root element".into()),
        _ => Err("unclosed element".into()),
    }
}

/// `limit`: an integer 1..=250, default 250.
fn limit(params: &[(String, String)]) -> Result<usize, Vec<(String, String)>> {
    let mut out = MAX_LIST;
    for (k, v) in params {
        if k == "limit" {
            match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIST).contains(&n) => out = n,
                _ => {
                    return Err(err(
                        "limit",
                        format!("limit must be 1..{MAX_LIST}, not '{v}'"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn bad_query(sh: &Shared, e: impl std::fmt::Display) -> Response<Body> {
    sh.problem(StatusCode::BAD_REQUEST, INVALID, &err("$", e.to_string()))
}

/// Answers a list of pull metadata, each item checked against the schema.
fn metadata_list(
    sh: &Shared,
    caller: &str,
    limit: usize,
    keep: impl Fn(&Message) -> bool,
) -> Response<Body> {
    let items: Vec<Value> = {
        let st = sh.lock();
        st.messages
            .iter()
            .filter(|m| m.waiting_for(caller) && keep(m))
            .take(limit)
            .map(|m| sh.pull_metadata(m))
            .collect()
    };
    for item in &items {
        sh.check("pull BerichtMetadata", &schema::SPEC.pull_metadata, item);
    }
    sh.json(StatusCode::OK, Value::Array(items))
}

async fn list(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    params: Params,
) -> Response<Body> {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return bad_query(&sh, e),
    };
    match limit(&params) {
        Ok(n) => metadata_list(&sh, &caller, n, |_| true),
        Err(e) => sh.problem(StatusCode::BAD_REQUEST, INVALID, &e),
    }
}

async fn search(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    params: Params,
    body: Bytes,
) -> Response<Body> {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return bad_query(&sh, e),
    };
    let n = match limit(&params) {
        Ok(n) => n,
        Err(e) => return sh.problem(StatusCode::BAD_REQUEST, INVALID, &e),
    };
    let zoekpad: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_query(&sh, format!("Zoekpad is not JSON: {e}")),
    };
    let kind = zoekpad["zoekpadType"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((_, validator)) = schema::SPEC.zoekpad.iter().find(|(k, _)| *k == kind) else {
        return sh.problem(
            StatusCode::BAD_REQUEST,
            INVALID,
            &err("/zoekpadType", format!("unknown zoekpadType '{kind}'")),
        );
    };
    let errors = schema::errors(validator, &zoekpad);
    if !errors.is_empty() {
        return sh.problem(StatusCode::BAD_REQUEST, INVALID, &errors);
    }
    let z = zoekpad.clone();
    metadata_list(&sh, &caller, n, move |m| {
        let routing = &m.metadata["routeringgegevens"];
        let same = |field: &str, key: &str| {
            z.get(key)
                .is_none_or(|want| routing["berichtstroom"].get(field) == Some(want))
        };
        match kind.as_str() {
            "ZoekpadOpConversatieId" => {
                z["conversatieId"].as_str() == Some(m.conversatie.to_string().as_str())
            }
            "ZoekpadOpAlsAntwoordOp" => {
                m.als_antwoord_op.map(|u| u.to_string()).as_deref() == z["alsAntwoordOp"].as_str()
            }
            _ => {
                [
                    "berichttype",
                    "berichtsubtype",
                    "berichtversie",
                    "berichtsubversie",
                    "actie",
                ]
                .iter()
                .all(|f| same(f, f))
                    && routing["geadresseerden"].as_array().is_some_and(|gs| {
                        gs.iter().any(|g| {
                            z.get("geadresseerdeRol")
                                .is_none_or(|r| g.get("rol") == Some(r))
                                && z.get("geadresseerdeCode")
                                    .is_none_or(|c| g.get("code") == Some(c))
                        })
                    })
            }
        }
    })
}

/// A path traceerId: not a UUID is a bad request.
fn path_id(id: &str) -> Result<Uuid, Vec<(String, String)>> {
    Uuid::parse_str(id).map_err(|_| err("traceerId", format!("'{id}' is not a UUID")))
}

async fn payload(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    corrupt: Option<Extension<Corrupt>>,
    Path(id): Path<String>,
) -> Response<Body> {
    let traceer = match path_id(&id) {
        Ok(u) => u,
        Err(e) => return sh.problem(StatusCode::BAD_REQUEST, INVALID, &e),
    };
    let bytes = {
        let st = sh.lock();
        match st.by_traceer.get(&traceer).map(|&i| &st.messages[i]) {
            Some(m) if m.waiting_for(&caller) => m.payload.clone(),
            _ => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let mut bytes = bytes;
    match corrupt.map(|Extension(c)| c) {
        Some(Corrupt::Checksum) => {
            if let Some(b) = bytes.last_mut() {
                *b ^= 0x01;
            }
        }
        Some(Corrupt::Size) => {
            bytes.pop();
        }
        None => {}
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap_or_default()
}

async fn confirm(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
) -> Response<Body> {
    let traceer = match path_id(&id) {
        Ok(u) => u,
        Err(e) => return sh.problem(StatusCode::BAD_REQUEST, INVALID, &e),
    };
    let mut st = sh.lock();
    let Some(&i) = st.by_traceer.get(&traceer) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let m = &mut st.messages[i];
    if !m.waiting_for(&caller) {
        return StatusCode::NOT_FOUND.into_response();
    }
    m.confirmed_by.push(caller.clone());
    if m.status == Berichtstatus::WordtAangeboden && m.all_confirmed() {
        m.advance();
    }
    st.confirmed.push((caller, traceer));
    StatusCode::ACCEPTED.into_response()
}

async fn status(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    params: Params,
) -> Response<Body> {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return bad_query(&sh, e),
    };
    let bad = |key: &str, msg: &str| sh.problem(StatusCode::BAD_REQUEST, INVALID, &err(key, msg));
    let mut by_traceer = None;
    let mut by_conversatie = None;
    for (k, v) in &params {
        let slot = match k.as_str() {
            "traceerId" => &mut by_traceer,
            "conversatieId" => &mut by_conversatie,
            _ => continue,
        };
        match Uuid::parse_str(v) {
            Ok(u) if slot.is_none() => *slot = Some(u),
            Ok(_) => return bad(k, "given twice"),
            Err(_) => return bad(k, "not a UUID"),
        }
    }
    let matches: Box<dyn Fn(&Message) -> bool> = match (by_traceer, by_conversatie) {
        (Some(t), None) => Box::new(move |m| m.traceer == t || m.als_antwoord_op == Some(t)),
        (None, Some(c)) => Box::new(move |m| m.conversatie == c),
        _ => return bad("$", "give exactly one of traceerId and conversatieId"),
    };
    let items: Vec<Value> = {
        let mut st = sh.lock();
        let mut out = Vec::new();
        for m in st
            .messages
            .iter_mut()
            .filter(|m| m.sender == caller && matches(m))
            .take(MAX_LIST)
        {
            out.push(sh.status_json(m));
            if sh.opts.advance_on_status_query {
                m.advance();
            }
        }
        out
    };
    for item in &items {
        sh.check("BerichtstatusGegevens", &schema::SPEC.status, item);
    }
    sh.json(StatusCode::OK, Value::Array(items))
}
