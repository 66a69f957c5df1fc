//! A test counterpart of the exchange between a care provider on VECOZO's
//! VSP-Koppeling and a municipality on the GGk's StUF interface: it plays
//! VECOZO, RINIS and the municipality's Digikoppeling adapter at once.
//!
//! - **Adapter endpoint** (`POST /ggk`, SOAP 1.1 over mutual TLS): where a
//!   municipality's loket posts its envelopes (Di01, Du01, Fo01). Every
//!   request is checked strictly against the StUF-GGk schemas ([`envelope`])
//!   and the exchange's own rules (the caller's certificate is the zender,
//!   ontvanger applicatie `GGk`, a UUID v4 referentienummer used once, a
//!   Du01's or Fo01's crossRefnummer naming an envelope the exchange
//!   delivered, the payload addressed to the envelope's ontvanger). What the
//!   real one refuses is refused with a SOAP fault (HTTP 500, `soap:Client`);
//!   every refusal and every lesser deviation is recorded in
//!   [`Ggk::violations`], and dropping a `Ggk` with violations fails the test
//!   (unit tests that send defects on purpose take them with
//!   [`Ggk::take_violations`]).
//! - **Routing**, only when a test calls [`Ggk::pump`], so every step is
//!   deterministic: what a provider pushed to the VSP counterpart for a
//!   municipality registered here is taken from its pull queue, wrapped in a
//!   Di01 (a heenbericht) or a Du01 (a retour: its alsAntwoordOp mapped to
//!   the referentienummer of the Di01 it answers) in the municipality's
//!   edition and posted to loket's listener; what the municipality posted
//!   here is unwrapped and placed in the provider's pull queue (a Du01's
//!   crossRefnummer mapped back to the provider's traceerId as
//!   alsAntwoordOp); a Fo01 from the municipality refuses the provider's
//!   message (its status becomes AfgekeurdDoorDienst with the Fo01's code
//!   as melding, the way VECOZO reports what the GGk refused).
//! - **Payload check.** The exchange checks every payload against its XSD.
//!   The stand-in for the XSD is loket's own structure check
//!   (`loket::adapter::istandaard::check`, structure findings only): it runs
//!   in-process everywhere, where `xmllint` is often missing, and the
//!   conformance suite shows it agrees with the official XSDs on ~1,500
//!   mutants. A municipality's payload that fails is answered with a Fo01
//!   (IB014, "Payload voldoet niet aan de XSD": VECOZO is the one that checks
//!   payloads, BIDN only the envelope, says the Fo01 code list) posted to
//!   loket; a provider's is refused at VECOZO (status AfgekeurdDoorDienst,
//!   melding IB014) unless [`GgkOptions::check_provider_payloads`] is off, in
//!   which case it reaches the municipality, whose own check answers with
//!   StUF055. loket never writes a payload that fails, so tests make one
//!   fail with [`Ggk::fail_payload`].
//! - **Conformance.** Every envelope accepted or written is saved as a
//!   document of its own in `$LOKET_CONFORMANCE_DIR` (when set), for CI's
//!   `validate-istandaard` with the official XSDs.
//!
//! Identity is the TLS client certificate's subject CN (the gemeentecode),
//! from the tests' own CA ([`super::vsp::TestPki`]).

pub mod envelope;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::Utc;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;
use uuid::Uuid;

use super::vsp::{Berichtstatus, ClientCert, Melding, TestPki, Vsp};
use envelope::{Checked, Envelope, Fo01, Refusal, Systeem};
pub use envelope::{Edition, Kind};

/// The path of the adapter's SOAP endpoint (and of loket's listener).
pub const PATH: &str = "/ggk";

/// The code the exchange puts in a Fo01 for a payload failing its XSD.
pub const PAYLOAD_XSD: &str = "IB014";

/// The name the exchange gives itself as applicatie on envelopes it writes.
const GGK_APP: &str = "GGk";

/// How the exchange behaves where the specification leaves room.
#[derive(Clone, Debug)]
pub struct GgkOptions {
    /// Whether VECOZO checks a provider's payload against its XSD on
    /// receipt (refusing with IB014). Off: it is passed on to the
    /// municipality, whose own check answers (StUF055 in a Fo01).
    pub check_provider_payloads: bool,
}

impl Default for GgkOptions {
    fn default() -> Self {
        GgkOptions {
            check_provider_payloads: true,
        }
    }
}

/// Which way an envelope went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Posted by the exchange to a municipality's listener.
    ToMunicipality,
    /// Posted by a municipality to the adapter.
    FromMunicipality,
}

/// An envelope the exchange accepted or delivered.
#[derive(Clone, Debug)]
pub struct Seen {
    pub direction: Direction,
    pub kind: Kind,
    pub edition: Option<Edition>,
    pub functie: Option<String>,
    pub referentienummer: String,
    pub cross_ref: Option<String>,
    pub zender: String,
    pub ontvanger: String,
    /// Fo01: (code, omschrijving).
    pub fout: Option<(String, String)>,
    pub payload: Vec<u8>,
    /// The envelope element as a document of its own.
    pub document: String,
}

/// What one [`Ggk::pump`] moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pumped {
    /// Di01/Du01 posted to a municipality and accepted (202).
    pub to_municipality: usize,
    /// Payloads placed in a provider's pull queue.
    pub to_provider: usize,
    /// Fo01s the exchange posted to a municipality (payload failed).
    pub fo01_to_municipality: usize,
    /// Provider messages refused (VECOZO's own check, a municipality's
    /// Fo01, or a municipality's SOAP fault).
    pub refused_at_vsp: usize,
    /// Posts to a municipality that did not get through (kept for the next
    /// pump).
    pub pending: usize,
}

impl Pumped {
    /// Anything moved at all.
    pub fn moved(&self) -> usize {
        self.to_municipality + self.to_provider + self.fo01_to_municipality + self.refused_at_vsp
    }
}

/// A municipality connected through the GGk.
#[derive(Clone, Debug)]
struct Municipality {
    /// loket's `[[stuf]] listen` endpoint, `https://127.0.0.1:PORT/ggk`.
    url: String,
    edition: Edition,
    /// The applicatie named as ontvanger in envelopes to it.
    applicatie: String,
}

/// A provider's message delivered to a municipality as a Di01/Du01.
#[derive(Clone, Debug)]
struct Delivered {
    traceer: Uuid,
    conversatie: Uuid,
    provider: String,
    municipality: String,
}

/// A municipality's message placed in a provider's pull queue.
#[derive(Clone, Debug)]
struct Routed {
    referentienummer: String,
    conversatie: Uuid,
    municipality: String,
}

/// An envelope on its way to a municipality.
#[derive(Clone, Debug)]
struct Outgoing {
    municipality: String,
    action: String,
    document: String,
    seen: Seen,
    /// The provider's message it carries (None for a Fo01).
    delivered: Option<Delivered>,
}

#[derive(Default)]
struct Exchange {
    municipalities: HashMap<String, Municipality>,
    inbox: Vec<Seen>,
    seen: Vec<Seen>,
    violations: Vec<String>,
    /// referentienummer given to a Di01/Du01 the exchange delivered.
    delivered: HashMap<String, Delivered>,
    /// VSP traceerId given to a municipality's message.
    routed: HashMap<Uuid, Routed>,
    /// referentienummer -> document of every envelope a municipality posted
    /// (a repeat of the same envelope is taken as a retry, a different one
    /// under the same number refused).
    received: HashMap<String, String>,
    repeats: usize,
    pending: Vec<Outgoing>,
    /// Functies whose next payload is taken as failing its XSD.
    fail_payload: Vec<String>,
    /// What a municipality answered to posts it refused: (status, body).
    refused_by_municipality: Vec<(u16, String)>,
    written: usize,
}

struct Shared {
    opts: GgkOptions,
    state: Mutex<Exchange>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Exchange> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn violation(&self, v: String) {
        self.lock().violations.push(v);
    }

    /// Saves an envelope for CI's official validation.
    fn conform(&self, seen: &Seen) {
        let Ok(dir) = std::env::var("LOKET_CONFORMANCE_DIR") else {
            return;
        };
        let n = {
            let mut st = self.lock();
            st.written += 1;
            st.written
        };
        std::fs::create_dir_all(&dir).expect("conformance dir");
        let name = format!(
            "{dir}/ggk-{}-{}-{}-{}.xml",
            seen.kind.as_str(),
            seen.functie.as_deref().unwrap_or("Fo01"),
            seen.referentienummer,
            n
        );
        std::fs::write(name, &seen.document).expect("write envelope");
    }
}

/// The running exchange. Dropping it stops the adapter endpoint and fails
/// the test if a municipality posted anything against the specification.
pub struct Ggk {
    shared: Arc<Shared>,
    port: u16,
    task: JoinHandle<()>,
    client: reqwest::Client,
}

impl Drop for Ggk {
    fn drop(&mut self) {
        self.task.abort();
        let v = self.violations();
        if !v.is_empty() && !std::thread::panicking() {
            panic!("a municipality posted against the StUF-GGk specification: {v:#?}");
        }
    }
}

impl Ggk {
    /// Starts the adapter endpoint on 127.0.0.1 (ephemeral port), with the
    /// test CA's server certificate, demanding client certificates of the
    /// test CA. Its own client presents a certificate with CN `ggk-adapter`.
    pub async fn start(pki: &TestPki, opts: GgkOptions) -> Ggk {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            opts,
            state: Mutex::new(Exchange::default()),
        });
        let router = Router::new()
            .route(PATH, post(adapter))
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let task = tokio::spawn(serve(listener, tls_acceptor(pki), router));
        let client = pki.http_client(Some(&pki.client("ggk-adapter", "RINIS (test)")));
        Ggk {
            shared,
            port,
            task,
            client,
        }
    }

    /// `https://127.0.0.1:PORT/ggk`: what a municipality's `[[stuf]]
    /// endpoint` names.
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}{PATH}", self.port)
    }

    /// Connects municipality `code`: its envelopes go to `url` (loket's
    /// listener) in `edition`, addressed to its applicatie `applicatie`.
    pub fn municipality(&self, code: &str, url: &str, edition: Edition, applicatie: &str) {
        self.shared.lock().municipalities.insert(
            code.to_string(),
            Municipality {
                url: url.to_string(),
                edition,
                applicatie: applicatie.to_string(),
            },
        );
    }

    /// The next payload with this functie (WMO301, ...), either way, is
    /// taken as failing its XSD (also when [`GgkOptions::check_provider_payloads`]
    /// is off): loket writes none that fail.
    pub fn fail_payload(&self, functie: &str) {
        self.shared.lock().fail_payload.push(functie.to_string());
    }

    /// Every envelope accepted from or delivered to a municipality, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    /// Envelopes a municipality posted again unchanged (a retry).
    pub fn repeats(&self) -> usize {
        self.shared.lock().repeats
    }

    /// What municipalities posted against the specification (each refusal
    /// with its reason, and lesser deviations).
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// The violations so far, cleared: for tests that post defects.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Answers other than 2xx a municipality gave to the exchange's posts.
    pub fn refused_by_municipality(&self) -> Vec<(u16, String)> {
        self.shared.lock().refused_by_municipality.clone()
    }

    /// Envelopes from municipalities not yet routed.
    pub fn waiting(&self) -> usize {
        self.shared.lock().inbox.len()
    }

    /// Moves everything waiting, both ways, once: provider messages at the
    /// VSP counterpart for a connected municipality to that municipality,
    /// and the municipalities' envelopes received so far to the providers.
    /// Returns what moved; a test calls it until nothing moves.
    pub async fn pump(&self, vsp: &Vsp) -> Pumped {
        let mut out = Pumped::default();
        // Posts that did not get through last time go first, in order.
        let mut outgoing = std::mem::take(&mut self.shared.lock().pending);
        let codes: Vec<String> = self.shared.lock().municipalities.keys().cloned().collect();
        for code in codes {
            for taken in vsp.take_for(&code) {
                match self.wrap(&code, taken) {
                    Ok(o) => outgoing.push(o),
                    Err((traceer, melding)) => {
                        vsp.set_status(traceer, Berichtstatus::AfgekeurdDoorDienst, vec![melding]);
                        out.refused_at_vsp += 1;
                    }
                }
            }
        }
        let inbox = std::mem::take(&mut self.shared.lock().inbox);
        for seen in inbox {
            match seen.kind {
                Kind::Fo01 => {
                    let cross = seen.cross_ref.clone().unwrap_or_default();
                    let Some(d) = self.shared.lock().delivered.get(&cross).cloned() else {
                        continue;
                    };
                    let (code, omschrijving) = seen.fout.clone().unwrap_or_default();
                    vsp.set_status(
                        d.traceer,
                        Berichtstatus::AfgekeurdDoorDienst,
                        vec![Melding::new(&code, &omschrijving)],
                    );
                    out.refused_at_vsp += 1;
                }
                Kind::Di01 | Kind::Du01 => {
                    let functie = seen.functie.clone().unwrap_or_default();
                    if let Some(reason) = self.payload_fails(&functie, &seen.payload) {
                        outgoing.push(self.fo01_for(&seen, &reason));
                        continue;
                    }
                    self.route(vsp, &seen);
                    out.to_provider += 1;
                }
            }
        }
        for o in outgoing {
            let url = match self.shared.lock().municipalities.get(&o.municipality) {
                Some(m) => m.url.clone(),
                None => continue,
            };
            let sent = self
                .client
                .post(&url)
                .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
                .header("SOAPAction", format!("\"{}\"", o.action))
                .body(envelope::soap(&o.document))
                .send()
                .await;
            let (status, body) = match sent {
                Ok(r) => {
                    let s = r.status().as_u16();
                    (s, r.text().await.unwrap_or_default())
                }
                Err(_) => {
                    self.shared.lock().pending.push(o);
                    out.pending += 1;
                    continue;
                }
            };
            if (200..300).contains(&status) {
                self.shared.conform(&o.seen);
                let mut st = self.shared.lock();
                st.seen.push(o.seen.clone());
                match o.delivered {
                    Some(d) => {
                        st.delivered.insert(o.seen.referentienummer.clone(), d);
                        out.to_municipality += 1;
                    }
                    None => out.fo01_to_municipality += 1,
                }
            } else if status >= 500 && !body.contains("Fault") {
                // A server error without a SOAP fault: tried again later.
                self.shared.lock().pending.push(o);
                out.pending += 1;
            } else {
                self.shared
                    .lock()
                    .refused_by_municipality
                    .push((status, body.clone()));
                if let Some(d) = o.delivered {
                    vsp.set_status(
                        d.traceer,
                        Berichtstatus::AanbiedenMislukt,
                        vec![Melding::new("IB010", "De gemeente weigerde de envelop")],
                    );
                    out.refused_at_vsp += 1;
                }
            }
        }
        out
    }

    /// A failure injected for this functie ([`Ggk::fail_payload`]), used up.
    fn injected(&self, functie: &str) -> Option<String> {
        let mut st = self.shared.lock();
        let i = st.fail_payload.iter().position(|f| f == functie)?;
        st.fail_payload.remove(i);
        Some(format!("{functie}: failing on command of the test"))
    }

    /// The stand-in for the payload's XSD (see the module's notes), or a
    /// failure injected for this functie.
    fn payload_fails(&self, functie: &str, payload: &[u8]) -> Option<String> {
        self.injected(functie)
            .or_else(|| payload_xsd(payload).err())
    }

    /// A provider's message as a Di01/Du01 for municipality `code`, or the
    /// refusal VECOZO gives it.
    fn wrap(&self, code: &str, taken: super::vsp::Taken) -> Result<Outgoing, (Uuid, Melding)> {
        let functie = taken.berichtstroom["berichtsubtype"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // An injected failure is VECOZO's check by definition; the real
        // check only when it is on.
        let failed = if self.shared.opts.check_provider_payloads {
            self.payload_fails(&functie, &taken.payload)
        } else {
            self.injected(&functie)
        };
        if let Some(reason) = failed {
            let mut m = Melding::new(PAYLOAD_XSD, "Payload voldoet niet aan de XSD.");
            m.toelichting = Some(reason.chars().take(500).collect());
            return Err((taken.traceer, m));
        }
        let (edition, applicatie) = {
            let st = self.shared.lock();
            let m = &st.municipalities[code];
            (m.edition, m.applicatie.clone())
        };
        let cross_ref = match taken.als_antwoord_op {
            Some(a) => match self.shared.lock().routed.get(&a) {
                Some(r) => Some(r.referentienummer.clone()),
                None => {
                    return Err((
                        taken.traceer,
                        Melding::new("IB021", "AlsAntwoordOp niet gevuld."),
                    ));
                }
            },
            None => None,
        };
        if envelope::is_retour(&functie) != cross_ref.is_some() {
            return Err((
                taken.traceer,
                Melding::new("IB021", "AlsAntwoordOp niet gevuld."),
            ));
        }
        let versie = |k: &str| format!("{:04}", taken.berichtstroom[k].as_u64().unwrap_or(0));
        let env = Envelope {
            edition,
            cross_ref,
            zender: Systeem::new(&taken.sender, GGK_APP),
            ontvanger: Systeem::new(code, &applicatie),
            referentienummer: Uuid::new_v4().to_string(),
            tijdstip: tijdstip(),
            functie: functie.clone(),
            applicatie_versie: "0001".into(),
            applicatie_subversie: "0000".into(),
            functie_versie: versie("berichtversie"),
            functie_subversie: versie("berichtsubversie"),
            payload: taken.payload.clone(),
            bestandsnaam: Some(format!("{functie}.xml")),
            tekst: false,
        };
        let document = env.to_xml();
        Ok(Outgoing {
            municipality: code.to_string(),
            action: env.action(),
            seen: Seen {
                direction: Direction::ToMunicipality,
                kind: env.kind(),
                edition: Some(edition),
                functie: Some(functie),
                referentienummer: env.referentienummer.clone(),
                cross_ref: env.cross_ref.clone(),
                zender: taken.sender.clone(),
                ontvanger: code.to_string(),
                fout: None,
                payload: taken.payload,
                document: document.clone(),
            },
            document,
            delivered: Some(Delivered {
                traceer: taken.traceer,
                conversatie: taken.conversatie,
                provider: taken.sender,
                municipality: code.to_string(),
            }),
        })
    }

    /// The Fo01 answering a municipality's envelope whose payload failed.
    fn fo01_for(&self, seen: &Seen, reason: &str) -> Outgoing {
        let fo = Fo01 {
            zender: Systeem::new("IB", GGK_APP),
            ontvanger: Systeem::new(&seen.zender, "loket"),
            referentienummer: Uuid::new_v4().to_string(),
            tijdstip: tijdstip(),
            cross_ref: seen.referentienummer.clone(),
            code: PAYLOAD_XSD.into(),
            plek: "client".into(),
            omschrijving: "Payload voldoet niet aan de XSD.".into(),
            details: Some(reason.chars().take(1000).collect()),
        };
        let document = fo.to_xml();
        Outgoing {
            municipality: seen.zender.clone(),
            action: envelope::FO01_ACTION.into(),
            seen: Seen {
                direction: Direction::ToMunicipality,
                kind: Kind::Fo01,
                edition: None,
                functie: None,
                referentienummer: fo.referentienummer.clone(),
                cross_ref: Some(fo.cross_ref.clone()),
                zender: "IB".into(),
                ontvanger: seen.zender.clone(),
                fout: Some((fo.code.clone(), fo.omschrijving.clone())),
                payload: Vec::new(),
                document: document.clone(),
            },
            document,
            delivered: None,
        }
    }

    /// A municipality's Di01/Du01 into the provider's pull queue.
    fn route(&self, vsp: &Vsp, seen: &Seen) {
        let functie = seen.functie.clone().unwrap_or_default();
        let answered = seen
            .cross_ref
            .as_ref()
            .and_then(|c| self.shared.lock().delivered.get(c).cloned());
        let (conversatie, als) = match &answered {
            Some(d) => (d.conversatie, Some(d.traceer)),
            None => (Uuid::new_v4(), None),
        };
        let stroom = loket::transport::vsp::routing::Routing::builtin()
            .expect("routing table")
            .stroom(&functie)
            .unwrap_or_else(|| panic!("no berichtstroom for {functie}"));
        let stroom: Value = serde_json::to_value(stroom).expect("berichtstroom");
        let traceer = Uuid::new_v4();
        vsp.enqueue(
            &seen.ontvanger,
            ("Gemeente", &seen.zender),
            stroom,
            &seen.payload,
            conversatie,
            traceer,
            als,
        );
        self.shared.lock().routed.insert(
            traceer,
            Routed {
                referentienummer: seen.referentienummer.clone(),
                conversatie,
                municipality: seen.zender.clone(),
            },
        );
    }

    /// Posts `document` (an envelope or Fo01, without the SOAP envelope)
    /// to `url` as the exchange would, with `action`; (status, body).
    pub async fn post(&self, url: &str, document: &str, action: &str) -> (u16, String) {
        let r = self
            .client
            .post(url)
            .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{action}\""))
            .body(envelope::soap(document))
            .send()
            .await
            .expect("post envelope");
        let s = r.status().as_u16();
        (s, r.text().await.unwrap_or_default())
    }

    /// The referentienummer of the municipality's envelope that the
    /// provider's message `traceer` (at the VSP counterpart) came from.
    pub fn referentienummer_of(&self, traceer: Uuid) -> Option<String> {
        self.shared
            .lock()
            .routed
            .get(&traceer)
            .map(|r| r.referentienummer.clone())
    }

    /// The provider's traceerId behind an envelope the exchange delivered.
    pub fn traceer_of(&self, referentienummer: &str) -> Option<(Uuid, String)> {
        self.shared
            .lock()
            .delivered
            .get(referentienummer)
            .map(|d| (d.traceer, d.provider.clone()))
    }

    /// Which municipality sent the envelope routed as `traceer`.
    pub fn municipality_of(&self, traceer: Uuid) -> Option<String> {
        self.shared
            .lock()
            .routed
            .get(&traceer)
            .map(|r| r.municipality.clone())
    }

    /// Which municipality an envelope the exchange delivered went to.
    pub fn delivered_to(&self, referentienummer: &str) -> Option<String> {
        self.shared
            .lock()
            .delivered
            .get(referentienummer)
            .map(|d| d.municipality.clone())
    }
}

/// `yyyyMMddHHmmss` plus hundredths, UTC (StUF's Tijdstip: digits only).
fn tijdstip() -> String {
    let now = Utc::now();
    format!(
        "{}{:02}",
        now.format("%Y%m%d%H%M%S"),
        now.timestamp_subsec_millis() / 10
    )
}

/// The payload checked like its XSD would: decodable, and no structure
/// finding from loket's schema-driven decoder.
pub fn payload_xsd(payload: &[u8]) -> Result<(), String> {
    use loket::adapter::istandaard::{self, Limits};
    let schema = loket::schema::Schema::builtin().expect("built-in schema");
    let checked = istandaard::check(schema, payload, &Limits::default())
        .map_err(|e| format!("payload unreadable: {e}"))?;
    if let Some(f) = checked
        .findings
        .iter()
        .find(|f| f.level == loket::finding::Level::Structure)
    {
        return Err(format!("{} {}: {}", f.rule, f.path, f.en));
    }
    if !checked.complete {
        return Err("payload incomplete".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The adapter endpoint.

/// The caller, from the client certificate's subject CN.
#[derive(Clone, Debug)]
struct Caller(String);

fn fault(r: &Refusal) -> Response<Body> {
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Body::from(envelope::soap_fault(
            r.code,
            &format!("Envelop geweigerd ({}): {}", r.code, r.reason),
            &format!("Envelope refused ({}): {}", r.code, r.reason),
        )))
        .unwrap_or_default()
}

async fn adapter(
    State(sh): State<Arc<Shared>>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let refused = |r: Refusal| {
        sh.violation(format!("refused from {caller}: {} {}", r.code, r.reason));
        fault(&r)
    };
    let checked = match envelope::check(&body, h("content-type"), h("soapaction")) {
        Ok(c) => c,
        Err(r) => return refused(r),
    };
    match accept(&sh, &caller, &checked) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(r) => refused(r),
    }
}

fn refusal(code: &'static str, reason: String) -> Refusal {
    Refusal { code, reason }
}

/// The exchange's own rules on an envelope that fits its schema.
fn accept(sh: &Shared, caller: &str, c: &Checked) -> Result<(), Refusal> {
    if !sh.lock().municipalities.contains_key(caller) {
        return Err(refusal(
            "IB005",
            format!("organisation {caller} is not connected to the GGk"),
        ));
    }
    if c.zender.organisatie != caller {
        return Err(refusal(
            "IB002",
            format!(
                "zender organisatie {} is not the certificate's {caller}",
                c.zender.organisatie
            ),
        ));
    }
    let cross = c.cross_ref.clone().unwrap_or_default();
    let answered = sh.lock().delivered.get(&cross).cloned();
    let mut lesser = Vec::new();
    match c.kind {
        Kind::Di01 | Kind::Du01 => {
            if c.ontvanger.applicatie != GGK_APP {
                return Err(refusal(
                    "IB001",
                    format!(
                        "ontvanger applicatie {:?}, not \"GGk\"",
                        c.ontvanger.applicatie
                    ),
                ));
            }
            if c.kind == Kind::Du01 {
                match &answered {
                    None => {
                        return Err(refusal(
                            "IB021",
                            format!("crossRefnummer {cross} names no Di01 the GGk delivered"),
                        ));
                    }
                    Some(d) if d.provider != c.ontvanger.organisatie => {
                        return Err(refusal(
                            "IB010",
                            format!(
                                "Du01 to {} answers a message of {}",
                                c.ontvanger.organisatie, d.provider
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            let functie = c.functie.clone().unwrap_or_default();
            // What the payload says of itself (when it reads at all; one
            // that does not is the payload check's, answered with a Fo01).
            let schema = loket::schema::Schema::builtin().expect("schema");
            if let Ok(checked) = loket::adapter::istandaard::check(
                schema,
                &c.payload,
                &loket::adapter::istandaard::Limits::default(),
            ) {
                let msg = &checked.message;
                if msg.name() != functie {
                    return Err(refusal(
                        "IB004",
                        format!("functie {functie} carries a {}", msg.name()),
                    ));
                }
                let to = loket::record::answers::addressee(msg).unwrap_or_default();
                if to != c.ontvanger.organisatie {
                    return Err(refusal(
                        "IB010",
                        format!(
                            "ontvanger {} but the message is for {to}",
                            c.ontvanger.organisatie
                        ),
                    ));
                }
                for (field, path, given) in [
                    ("functieVersie", "Header/BerichtVersie", &c.functie_versie),
                    (
                        "functieSubversie",
                        "Header/BerichtSubversie",
                        &c.functie_subversie,
                    ),
                ] {
                    let want = msg.value(path).and_then(|v| v.parse::<u32>().ok());
                    let got = given.as_deref().and_then(|v| v.parse::<u32>().ok());
                    if want != got {
                        lesser.push(format!(
                            "{field} {given:?} is not the message's {path} {want:?}"
                        ));
                    }
                }
            }
        }
        Kind::Fo01 => match &answered {
            None => {
                return Err(refusal(
                    "IB021",
                    format!("Fo01 crossRefnummer {cross} names no envelope the GGk delivered"),
                ));
            }
            Some(d) if d.provider != c.ontvanger.organisatie => {
                return Err(refusal(
                    "IB010",
                    format!(
                        "Fo01 to {} refuses a message of {}",
                        c.ontvanger.organisatie, d.provider
                    ),
                ));
            }
            Some(_) => {}
        },
    }
    let seen = Seen {
        direction: Direction::FromMunicipality,
        kind: c.kind,
        edition: c.edition,
        functie: c.functie.clone(),
        referentienummer: c.referentienummer.clone(),
        cross_ref: c.cross_ref.clone(),
        zender: c.zender.organisatie.clone(),
        ontvanger: c.ontvanger.organisatie.clone(),
        fout: c.fout.clone(),
        payload: c.payload.clone(),
        document: c.document.clone(),
    };
    {
        let mut st = sh.lock();
        for l in lesser {
            st.violations
                .push(format!("from {caller} ({}): {l}", c.referentienummer));
        }
        match st.received.get(&c.referentienummer) {
            Some(doc) if *doc == c.document => {
                // The same envelope again: a retry after a lost answer.
                st.repeats += 1;
                return Ok(());
            }
            Some(_) => {
                return Err(refusal(
                    "IB016",
                    format!("referentienummer {} is not unique", c.referentienummer),
                ));
            }
            None => {}
        }
        st.received
            .insert(c.referentienummer.clone(), c.document.clone());
        st.seen.push(seen.clone());
        st.inbox.push(seen.clone());
    }
    sh.conform(&seen);
    Ok(())
}

// ---------------------------------------------------------------------------
// TLS and connections (as the VSP counterpart: the caller is the client
// certificate's subject CN).

/// The VSP counterpart's TLS settings: its server certificate from the
/// test CA, client certificates of that CA demanded.
fn tls_acceptor(pki: &TestPki) -> tokio_rustls::TlsAcceptor {
    tokio_rustls::TlsAcceptor::from(Arc::new(super::vsp::server_config(pki)))
}

async fn serve(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, router: Router) {
    // Connections live in the set so that aborting this task ends them too.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    conns.spawn(connection(tcp, tls.clone(), router.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn connection(tcp: tokio::net::TcpStream, tls: tokio_rustls::TlsAcceptor, router: Router) {
    let Ok(stream) = tls.accept(tcp).await else {
        return;
    };
    let Some(caller) = super::vsp::peer_code(stream.get_ref().1.peer_certificates()) else {
        return;
    };
    let svc = tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(Caller(caller.clone()));
        let router = router.clone();
        async move {
            match router.oneshot(req).await {
                Ok(r) => Ok::<_, std::io::Error>(r),
                Err(never) => match never {},
            }
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .http1_only()
        .serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(svc),
        )
        .await;
}

// ---------------------------------------------------------------------------
// A stand-in for loket's listener, for the exchange's own tests: it checks
// what the exchange posts with the same strict checks and records it.

/// A SOAP receiver on mutual TLS that answers 202 to a valid envelope and a
/// SOAP fault to anything else.
pub struct Sink {
    received: Arc<Mutex<Vec<Result<Checked, String>>>>,
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink {
    pub async fn start(pki: &TestPki) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        let router = Router::new().route(
            PATH,
            post(move |headers: HeaderMap, body: Bytes| {
                let rec = rec.clone();
                async move {
                    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
                    let c = envelope::check(&body, h("content-type"), h("soapaction"));
                    let answer = match &c {
                        Ok(_) => StatusCode::ACCEPTED.into_response(),
                        Err(r) => fault(r),
                    };
                    rec.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(c.map_err(|r| format!("{} {}", r.code, r.reason)));
                    answer
                }
            }),
        );
        let task = tokio::spawn(serve(listener, tls_acceptor(pki), router));
        Sink {
            received,
            port,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}{PATH}", self.port)
    }

    pub fn received(&self) -> Vec<Result<Checked, String>> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A client as a municipality's loket: its certificate (CN = gemeentecode),
/// trusting the test CA.
pub fn municipality_client(pki: &TestPki, cert: &ClientCert) -> reqwest::Client {
    pki.http_client(Some(cert))
}
