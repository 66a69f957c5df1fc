//! A municipality on the GGk (StUF-GGk envelope over SOAP, mutual TLS),
//! end to end: loket's `[[stuf]]` listener on loopback, and a small
//! Digikoppeling adapter the test runs (mTLS, the test CA), which records
//! what loket posts and can fail on command.
//!
//! - `a_municipality_on_the_ggk`: Di01s of both editions with a WMO305 ->
//!   202, stored once (the same envelope again changes nothing), the 306
//!   leaving as a Du01 answering each (edition from the mapping, or the
//!   section's default); a payload failing its XSD -> a Fo01 StUF055; a 301
//!   from `POST /allocations` leaving as a Di01 after two 503s with one
//!   referentienummer; the provider's Du01 tied to it; a Fo01 refusing it
//!   -> a review item with the code explained; a SOAP fault Client of the
//!   adapter -> failed at once, with a review item.
//! - `the_listener_refuses_what_it_cannot_use`: no certificate or one of
//!   another CA refused in the handshake; garbage, a DTD, another
//!   municipality, a wrong SOAPAction: a SOAP fault and nothing stored.
//!
//! Every envelope in and out is written to `$LOKET_CONFORMANCE_DIR` (when
//! set) for CI's `validate-istandaard`.

#[macro_use]
mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::vsp::TestPki;
use common::*;
use loket::transport::stuf::envelope::{
    self, Bericht, Body, Edition, Envelope, Fout, Kind, Stuurgegevens, Systeem,
};
use serde_json::json;
use sqlx::Row;
use tokio::task::JoinSet;
use uuid::Uuid;

on_both_backends!(
    a_municipality_on_the_ggk,
    the_listener_refuses_what_it_cannot_use,
);

const GEMEENTE: &str = "0363";
/// The provider with a mapping at the municipality (delivery stuf 0210).
const AGB: &str = "73730112";
/// A provider the municipality has no mapping for (the section's 0310).
const OTHER: &str = "12345678";
const PATIENCE: Duration = Duration::from_secs(60);

/// The bare envelope inside a SOAP body (the schemas validate that).
fn bare(soap: &str) -> String {
    let start = soap
        .find("Body>")
        .map(|i| i + "Body>".len())
        .expect("a SOAP Body");
    let end = soap.rfind("</").expect("end");
    let inner = &soap[start..end];
    let inner = &inner[..inner.rfind("</").expect("Body's end")];
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{inner}")
}

/// Writes an envelope for CI's validation, when asked to.
fn conformance(soap: &str, name: &str) {
    if let Ok(dir) = std::env::var("LOKET_CONFORMANCE_DIR") {
        std::fs::create_dir_all(&dir).expect("conformance dir");
        std::fs::write(format!("{dir}/{name}.xml"), bare(soap)).expect("write");
    }
}

/// One post the adapter took.
#[derive(Clone, Debug)]
struct Posted {
    action: String,
    envelope: Envelope,
}

#[derive(Default)]
struct AdapterState {
    posted: Mutex<Vec<Posted>>,
    /// Posts still to be answered 503.
    fail: AtomicUsize,
    /// Posts still to be refused with a SOAP fault Client.
    refuse: AtomicUsize,
}

/// The municipality's Digikoppeling adapter as loket sees it: a SOAP
/// endpoint behind mTLS (the test CA's server certificate, a client
/// certificate of the test CA demanded).
struct Adapter {
    port: u16,
    state: Arc<AdapterState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Adapter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn take(State(s): State<Arc<AdapterState>>, headers: HeaderMap, body: Bytes) -> Response {
    if s.fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if s.refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "text/xml")],
            envelope::fault(true, "Functie niet ondersteund", "Function not supported"),
        )
            .into_response();
    }
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    let env = envelope::decode_soap(text.as_bytes()).expect("loket posts usable envelopes");
    // What the real adapter demands of every envelope.
    let sg = &env.stuurgegevens;
    // A Fo01 goes back to the zender of what it refuses, application
    // included (as the published Fo01); everything else to the GGk.
    if sg.kind != Kind::Fo01 {
        assert_eq!(sg.ontvanger.applicatie, "GGk");
    }
    assert_eq!(sg.zender.organisatie, GEMEENTE);
    assert!(
        envelope::is_uuid_v4(&sg.referentienummer),
        "{}",
        sg.referentienummer
    );
    let n = s.posted.lock().expect("lock").len();
    conformance(&text, &format!("out-{n:03}-{}", sg.kind.as_str()));
    s.posted.lock().expect("lock").push(Posted {
        action: headers
            .get("soapaction")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim_matches('"')
            .to_string(),
        envelope: env,
    });
    StatusCode::ACCEPTED.into_response()
}

impl Adapter {
    async fn start(pki: &TestPki) -> Adapter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(AdapterState::default());
        let tls = tokio_rustls::TlsAcceptor::from(Arc::new(common::vsp::server_config(pki)));
        let router = Router::new()
            .route("/ggk", post(take))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    Ok((tcp, _)) = listener.accept() => {
                        let (tls, router) = (tls.clone(), router.clone());
                        conns.spawn(async move {
                            let Ok(stream) = tls.accept(tcp).await else { return };
                            let _ = hyper_util::server::conn::auto::Builder::new(
                                hyper_util::rt::TokioExecutor::new(),
                            )
                            .http1_only()
                            .serve_connection(
                                hyper_util::rt::TokioIo::new(stream),
                                hyper_util::service::TowerToHyperService::new(router),
                            )
                            .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Adapter { port, state, task }
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/ggk", self.port)
    }

    fn posted(&self) -> Vec<Posted> {
        self.state.posted.lock().expect("lock").clone()
    }

    /// The posts answering (crossRefnummer) `refnr`.
    fn answers(&self, refnr: &str) -> Vec<Posted> {
        self.posted()
            .into_iter()
            .filter(|p| p.envelope.stuurgegevens.cross_refnummer.as_deref() == Some(refnr))
            .collect()
    }

    async fn answer(&self, refnr: &str) -> Posted {
        until(&format!("the answer to {refnr}"), PATIENCE, || {
            std::future::ready(!self.answers(refnr).is_empty())
        })
        .await;
        self.answers(refnr).remove(0)
    }
}

/// loket with municipality 0363 on its GGk listener, the adapter, and the
/// municipality's client (as the adapter posts to loket).
struct Ggk {
    server: Server,
    gemeente: Api,
    worker: Option<loket::outbox::Worker>,
    listener: Option<loket::transport::stuf::server::Running>,
    adapter: Adapter,
    url: String,
    client: reqwest::Client,
    pki: TestPki,
    _dir: tempfile::TempDir,
}

impl Ggk {
    async fn start(db: Db) -> Ggk {
        let pki = TestPki::new();
        let adapter = Adapter::start(&pki).await;
        let dir = tempfile::tempdir().expect("dir");
        let mappings = dir.path().join("mappings");
        std::fs::create_dir_all(mappings.join(GEMEENTE)).expect("mappings");
        std::fs::write(
            mappings
                .join(GEMEENTE)
                .join(format!("aanbieder-{AGB}.toml")),
            format!(
                "[financier]\nkind = \"aanbieder\"\ncode = \"{AGB}\"\nname = \"Aanbieder\"\n\
                 standard = \"iwmo\"\ndelivery = {{ stuf = \"0210\" }}\n"
            ),
        )
        .expect("mapping");
        let files = pki
            .service(GEMEENTE, "Gemeente Amsterdam")
            .write_pem(dir.path());
        let section = loket::transport::stuf::StufConfig {
            tenant: GEMEENTE.into(),
            applicatie: "loket".into(),
            endpoint: adapter.endpoint(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            certificate: Some(files.chain),
            key: Some(files.key),
            pkcs12: None,
            password_env: None,
            ca: vec![pki.write_ca(dir.path())],
            edition: Edition::V0310,
            timeout_secs: 5,
        };
        let config = loket::config::Config {
            mappings_dir: mappings,
            outbox: loket::outbox::Settings {
                retry_base_ms: 20,
                retry_max_ms: 200,
                poll_ms: 20,
                lease_ms: 30_000,
                http_timeout_ms: 10_000,
                ..loket::outbox::Settings::default()
            },
            stuf: vec![section],
            ..loket::config::Config::default()
        };
        let server = Server::start_with(db, config).await;
        let gemeente = server.tenant_api(GEMEENTE).await;
        let state = &server.state;
        let worker = state
            .outbox
            .start(state.ingest.clone(), state.metrics.clone())
            .expect("outbox worker");
        let listener =
            loket::transport::stuf::server::start(&state.outbox.stuf, &state.ingest, &state.outbox)
                .await
                .expect("stuf listener");
        let (tenant, addr) = listener.addresses()[0].clone();
        assert_eq!(tenant, GEMEENTE);
        let client = pki.http_client(Some(&pki.client("adapter", "Digikoppeling-adapter")));
        Ggk {
            url: format!("https://127.0.0.1:{}/ggk", addr.port()),
            server,
            gemeente,
            worker: Some(worker),
            listener: Some(listener),
            adapter,
            client,
            pki,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(l) = self.listener.take() {
            l.stop().await;
        }
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
    }

    /// Posts `soap` with `action` as the adapter does; status and body.
    async fn post(&self, action: &str, soap: &str) -> (u16, String) {
        let r = self
            .client
            .post(&self.url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{action}\""))
            .body(soap.to_string())
            .send()
            .await
            .expect("post to loket");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    /// The outbox item of message `id`, once it is in `state`.
    async fn outbox_item(&self, id: &str, state: &str) -> serde_json::Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let item = self.gemeente.get(&format!("/outbox/{id}")).await.body;
            if item["state"] == state {
                return item;
            }
            assert!(Instant::now() < deadline, "not {state}: {item:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bind)
            .fetch_one(self.server.state.store().pool())
            .await
            .expect("count")
            .try_get::<i64, _>(0)
            .expect("n")
    }
}

/// A WMO305 from `afzender` to the municipality.
fn start_305(afzender: &str, ident: &str) -> String {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/iwmo/valid/WMO305_start.xml");
    std::fs::read_to_string(fixture)
        .expect("fixture")
        .replace(
            "<wmo305:Afzender>73730112<",
            &format!("<wmo305:Afzender>{afzender}<"),
        )
        .replace(
            "<wmo305:Ontvanger>0200<",
            &format!("<wmo305:Ontvanger>{GEMEENTE}<"),
        )
        .replace("ZL2603110001", ident)
}

/// A Di01 in edition 0310, written with loket's own encoder.
fn di01_0310(zender: &str, refnr: &str, payload: &str) -> String {
    envelope::encode_soap(&Envelope {
        edition: Some(Edition::V0310),
        stuurgegevens: Stuurgegevens {
            kind: Kind::Di01,
            zender: Systeem {
                organisatie: zender.into(),
                applicatie: "Zorgsoftware".into(),
            },
            ontvanger: Systeem {
                organisatie: GEMEENTE.into(),
                applicatie: "GGk".into(),
            },
            referentienummer: refnr.into(),
            tijdstip_bericht: "20260311101500".into(),
            cross_refnummer: None,
            functie: Some("WMO305".into()),
        },
        body: Body::Bericht(Bericht {
            applicatie_versie: "0004".into(),
            applicatie_subversie: "0003".into(),
            functie_versie: "0003".into(),
            functie_subversie: "0002".into(),
            bestandsnaam: Some("WMO305.xml".into()),
            text: false,
            inhoud: payload.as_bytes().to_vec(),
        }),
    })
}

/// A Di01 or Du01 in edition 0210, written by hand as the published
/// example is (so the listener is not only tested against loket's own
/// encoder).
fn envelope_0210(
    kind: Kind,
    zender: &str,
    refnr: &str,
    cross: Option<&str>,
    functie: &str,
    payload: &str,
) -> String {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(payload);
    let (root, cross) = match (kind, cross) {
        (Kind::Du01, Some(c)) => (
            "envelopRetourbericht-ggk_Du01",
            format!("<StUF:crossRefnummer>{c}</StUF:crossRefnummer>"),
        ),
        _ => ("envelopHeenbericht-ggk_Di01", String::new()),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Header/>
  <soapenv:Body>
    <GGK:{root} xmlns:StUF="http://www.egem.nl/StUF/StUF0301" xmlns:GGK="http://www.stufstandaarden.nl/koppelvlak/ggk0210">
      <GGK:stuurgegevens>
        <StUF:berichtcode>{code}</StUF:berichtcode>
        <StUF:zender><StUF:organisatie>{zender}</StUF:organisatie><StUF:applicatie>Zorgsoftware</StUF:applicatie></StUF:zender>
        <StUF:ontvanger><StUF:organisatie>{GEMEENTE}</StUF:organisatie><StUF:applicatie>GGk</StUF:applicatie></StUF:ontvanger>
        <StUF:referentienummer>{refnr}</StUF:referentienummer>
        <StUF:tijdstipBericht>20260311101500</StUF:tijdstipBericht>
        {cross}
        <StUF:functie>{functie}</StUF:functie>
      </GGK:stuurgegevens>
      <GGK:parameters>
        <GGK:applicatieVersie>0004</GGK:applicatieVersie>
        <GGK:applicatieSubversie>0003</GGK:applicatieSubversie>
        <GGK:functieVersie>0003</GGK:functieVersie>
        <GGK:functieSubversie>0002</GGK:functieSubversie>
        <GGK:bericht>
          <GGK:xmlBestand>
{data}
          </GGK:xmlBestand>
        </GGK:bericht>
      </GGK:parameters>
    </GGK:{root}>
  </soapenv:Body>
</soapenv:Envelope>"#,
        code = kind.as_str(),
    )
}

fn fo01(refnr: &str, cross: &str, code: &str, omschrijving: &str) -> String {
    envelope::encode_soap(&Envelope {
        edition: None,
        stuurgegevens: Stuurgegevens {
            kind: Kind::Fo01,
            zender: Systeem {
                organisatie: "IB".into(),
                applicatie: "GGK".into(),
            },
            ontvanger: Systeem {
                organisatie: GEMEENTE.into(),
                applicatie: "loket".into(),
            },
            referentienummer: refnr.into(),
            tijdstip_bericht: "20260311101600".into(),
            cross_refnummer: Some(cross.into()),
            functie: None,
        },
        body: Body::Fout(Fout {
            code: code.into(),
            plek: "client".into(),
            omschrijving: omschrijving.into(),
            details: None,
        }),
    })
}

const DI01_0310: &str = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Di01";
const DI01_0210: &str = "http://www.stufstandaarden.nl/koppelvlak/ggk0210/ggk_Di01";
const DU01_0310: &str = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Du01";
const DU01_0210: &str = "http://www.stufstandaarden.nl/koppelvlak/ggk0210/ggk_Du01";
const FO01: &str = "http://www.egem.nl/StUF/StUF0301/Fo01";

fn payload_of(p: &Posted) -> String {
    match &p.envelope.body {
        Body::Bericht(b) => String::from_utf8(b.inhoud.clone()).expect("UTF-8 payload"),
        Body::Fout(_) => panic!("a Fo01, not a message"),
    }
}

/// A grant of dagbesteding to provider AGB.
fn grant_body() -> serde_json::Value {
    json!({
        "aanbieder": AGB, "bsn": "999901023",
        "client": {
            "geboortedatum": "2001-04-03", "geslacht": "2", "achternaam": "Voorbeeld", "voorletters": "J",
            "adres": {"straatnaam": "Dorpsstraat", "huisnummer": 12, "postcode": "1011 AB", "plaatsnaam": "Amsterdam"},
        },
        "products": [{
            "categorie": "07", "code": "07A12", "ingangsdatum": "2026-03-01", "einddatum": "2026-12-31",
            "omvang": {"volume": 6, "eenheid": "16", "frequentie": "2"},
        }],
    })
}

async fn a_municipality_on_the_ggk(db: Db) {
    let x = Ggk::start(db).await;

    // Di01s of both editions, each with a 305: 202 with no body, and the
    // same envelope again is only acknowledged.
    let first = Uuid::new_v4().to_string();
    let second = Uuid::new_v4().to_string();
    let di01_a = di01_0310(AGB, &first, &start_305(AGB, "GGK0001"));
    let di01_b = envelope_0210(
        Kind::Di01,
        OTHER,
        &second,
        None,
        "WMO305",
        &start_305(OTHER, "GGK0002"),
    );
    conformance(&di01_a, "in-Di01-0310");
    conformance(&di01_b, "in-Di01-0210");
    for (action, soap) in [(DI01_0310, &di01_a), (DI01_0210, &di01_b)] {
        for _ in 0..2 {
            let (status, body) = x.post(action, soap).await;
            assert_eq!(status, 202, "{body}");
            assert!(body.is_empty(), "{body}");
        }
    }
    for refnr in [&first, &second] {
        assert_eq!(
            x.count(
                "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND bericht = 'WMO305' AND traceer_id = $1",
                refnr
            )
            .await,
            1,
            "the 305 of {refnr} stored once"
        );
    }
    // Each 306 leaves as a Du01 answering its Di01: in the mapping's
    // edition for AGB, the section's for the provider without a mapping.
    for (refnr, provider, action) in [(&first, AGB, DU01_0210), (&second, OTHER, DU01_0310)] {
        let du = x.adapter.answer(refnr).await;
        let sg = &du.envelope.stuurgegevens;
        assert_eq!(du.action, action);
        assert_eq!(sg.kind, Kind::Du01);
        assert_eq!(sg.functie.as_deref(), Some("WMO306"));
        assert_eq!(sg.ontvanger.organisatie, provider);
        assert_eq!(sg.zender.applicatie, "loket");
        let retour = payload_of(&du);
        assert!(retour.contains("wmo306"), "{retour}");
        assert!(
            retour.contains(&format!("Afzender>{provider}<")),
            "{retour}"
        );
    }

    // A payload failing its XSD (StatusAanlevering is required): 202, and a
    // Fo01 with StUF055 instead of a retour; the same again sends nothing.
    let broken = Uuid::new_v4().to_string();
    let bad_305 = start_305(AGB, "GGK0003")
        .replace("<wmo305:StatusAanlevering>1</wmo305:StatusAanlevering>", "");
    let di01_bad = di01_0310(AGB, &broken, &bad_305);
    for _ in 0..2 {
        let (status, body) = x.post(DI01_0310, &di01_bad).await;
        assert_eq!(status, 202, "{body}");
    }
    let fo = x.adapter.answer(&broken).await;
    assert_eq!(fo.action, FO01);
    assert_eq!(fo.envelope.stuurgegevens.ontvanger.organisatie, AGB);
    let Body::Fout(f) = &fo.envelope.body else {
        panic!("a Fo01")
    };
    assert_eq!((f.code.as_str(), f.plek.as_str()), ("StUF055", "client"));

    // A 301 granted through the API leaves as a Di01 (the mapping's 0210),
    // after two 503s of the adapter, with one referentienummer throughout.
    x.adapter.state.fail.store(2, Ordering::SeqCst);
    let grant = x.gemeente.post_json("/allocations", &grant_body()).await;
    assert_eq!(grant.status, 201, "{}", grant.body);
    x.server.state.outbox.wake();
    let id = grant.body["message_id"].as_str().expect("id").to_string();
    let item = x.outbox_item(&id, "sent").await;
    assert_schema("outbox-item", &item);
    assert_eq!(item["attempts"], 3, "{item:#}");
    assert_eq!(item["target"], json!({"kind": "stuf", "address": "0210"}));
    let traceer = item["exchange"]["traceer_id"]
        .as_str()
        .expect("referentienummer")
        .to_string();
    let di01s: Vec<Posted> = x
        .adapter
        .posted()
        .into_iter()
        .filter(|p| p.envelope.stuurgegevens.functie.as_deref() == Some("WMO301"))
        .collect();
    assert_eq!(di01s.len(), 1, "the 301 reached the adapter once");
    let di = &di01s[0];
    assert_eq!(di.action, DI01_0210);
    assert_eq!(di.envelope.stuurgegevens.referentienummer, traceer);
    assert_eq!(di.envelope.stuurgegevens.cross_refnummer, None);
    assert_eq!(di.envelope.stuurgegevens.ontvanger.organisatie, AGB);
    let sent_301 = payload_of(di);
    assert_eq!(sent_301, x.gemeente.message_xml(&id).await);

    // The provider's 302 comes back as a Du01 answering that Di01.
    let checked = loket::adapter::istandaard::check(
        loket::schema::Schema::builtin().expect("schema"),
        sent_301.as_bytes(),
        &loket::adapter::istandaard::Limits::default(),
    )
    .expect("the 301 reads");
    let retour = loket::adapter::istandaard::retour_xml(
        &checked,
        &loket::adapter::istandaard::RetourSettings::default(),
    )
    .expect("a 302");
    let du_ref = Uuid::new_v4().to_string();
    let du01 = envelope_0210(Kind::Du01, AGB, &du_ref, Some(&traceer), "WMO302", &retour);
    conformance(&du01, "in-Du01-0210");
    let (status, body) = x.post(DU01_0210, &du01).await;
    assert_eq!(status, 202, "{body}");
    let tied = sqlx::query(
        "SELECT als_antwoord_op, conversatie_id FROM messages WHERE direction = 'in' AND bericht = 'WMO302' AND traceer_id = $1",
    )
    .bind(&du_ref)
    .fetch_one(x.server.state.store().pool())
    .await
    .expect("the 302 stored");
    assert_eq!(
        tied.try_get::<Option<String>, _>("als_antwoord_op")
            .expect("column"),
        Some(traceer.clone())
    );
    assert_eq!(
        tied.try_get::<Option<String>, _>("conversatie_id")
            .expect("column"),
        item["exchange"]["conversatie_id"]
            .as_str()
            .map(str::to_string),
        "the 302 joins the 301's conversation"
    );
    assert!(
        x.adapter.answers(&du_ref).is_empty(),
        "a retour gets no answer"
    );

    // A Fo01 refusing the 301: kept with it, and a review item that
    // explains the code; the same Fo01 again adds nothing.
    let fo_ref = Uuid::new_v4().to_string();
    let refusal = fo01(
        &fo_ref,
        &traceer,
        "IB010",
        "Geadresseerde partij niet aangesloten bij VECOZO",
    );
    conformance(&refusal, "in-Fo01");
    for _ in 0..2 {
        let (status, body) = x.post(FO01, &refusal).await;
        assert_eq!(status, 202, "{body}");
    }
    let review = x.gemeente.get("/review?kind=exchange_refused").await;
    assert_eq!(review.status, 200, "{}", review.body);
    let items = review.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", review.body);
    assert_eq!(items[0]["detail"]["message_id"], id.as_str());
    let uitleg = items[0]["detail"]["meldingen"][0]["uitleg"]
        .as_str()
        .expect("explained");
    assert!(uitleg.starts_with("GGk IB010"), "{uitleg}");
    let item = x.gemeente.get(&format!("/outbox/{id}")).await.body;
    assert_eq!(
        item["exchange"]["meldingen"][0]["code"], "IB010",
        "{item:#}"
    );

    // The adapter refuses the next one (a SOAP fault Client): failed, and
    // a review item with its reason; nothing is retried.
    x.adapter.state.refuse.store(1, Ordering::SeqCst);
    let mut refused = grant_body();
    refused["bsn"] = json!("999900018");
    let grant = x.gemeente.post_json("/allocations", &refused).await;
    assert_eq!(grant.status, 201, "{}", grant.body);
    x.server.state.outbox.wake();
    let refused_id = grant.body["message_id"].as_str().expect("id").to_string();
    let item = x.outbox_item(&refused_id, "failed").await;
    assert_eq!(item["attempts"], 1, "{item:#}");
    assert!(
        item["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("Functie niet ondersteund"),
        "{item:#}"
    );
    let review = x.gemeente.get("/review?kind=exchange_refused").await;
    assert_eq!(
        review.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        review.body
    );

    // Nothing went twice: one answer per Di01, one post per message.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for refnr in [&first, &second, &broken] {
        assert_eq!(x.adapter.answers(refnr).len(), 1, "answers to {refnr}");
    }
    let metrics = x.gemeente.metrics_text().await;
    assert!(
        metrics.contains("loket_outbox_deliveries_total{transport=\"stuf\",outcome=\"sent\"}"),
        "{metrics}"
    );
    assert!(!captured_logs().contains("999901023"), "a BSN in the logs");
    x.stop().await;
}

async fn the_listener_refuses_what_it_cannot_use(db: Db) {
    let x = Ggk::start(db).await;
    let refnr = Uuid::new_v4().to_string();
    let good = di01_0310(AGB, &refnr, &start_305(AGB, "GGK0101"));

    // No certificate, or one of another CA: refused in the handshake.
    let anonymous = x.pki.http_client(None);
    let foreign = x
        .pki
        .http_client(Some(&x.pki.foreign_client("adapter", "Onbekend")));
    for client in [anonymous, foreign] {
        let r = client
            .post(&x.url)
            .header("content-type", "text/xml")
            .body(good.clone())
            .send()
            .await;
        assert!(r.is_err(), "a caller without a trusted certificate got in");
    }

    // Envelopes loket cannot use: a SOAP fault of the caller, nothing stored.
    let elsewhere = good.replace(
        &format!("<StUF:organisatie>{GEMEENTE}</StUF:organisatie><StUF:applicatie>GGk"),
        "<StUF:organisatie>0599</StUF:organisatie><StUF:applicatie>GGk",
    );
    let to_other_tenant = di01_0310(
        AGB,
        &Uuid::new_v4().to_string(),
        &start_305(AGB, "GGK0102").replace(
            &format!("<wmo305:Ontvanger>{GEMEENTE}<"),
            "<wmo305:Ontvanger>0599<",
        ),
    );
    let cases = [
        (DI01_0310, "dit is geen XML".to_string(), "well-formed"),
        (
            DI01_0310,
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]>{}",
                &good[good.find("<soap:").expect("soap")..]
            ),
            "DOCTYPE",
        ),
        (
            DI01_0310,
            good.replace("<StUF:berichtcode>Di01</StUF:berichtcode>", ""),
            "berichtcode",
        ),
        (DI01_0310, elsewhere, "0599"),
        (DU01_0310, good.clone(), "SOAPAction"),
        (DI01_0310, to_other_tenant, "0599"),
    ];
    for (action, body, want) in cases {
        let (status, answer) = x.post(action, &body).await;
        assert_eq!(status, 500, "{want}: {answer}");
        assert!(
            answer.contains("<faultcode>soap:Client</faultcode>"),
            "{answer}"
        );
        assert!(answer.contains(want), "{want}: {answer}");
    }
    assert_eq!(
        x.count(
            "SELECT COUNT(*) FROM messages WHERE tenant_id = $1",
            GEMEENTE
        )
        .await,
        0,
        "nothing stored"
    );
    // Too large: refused before it is read.
    // (The server may close the connection before the whole body is sent;
    // an answer, when there is one, is the fault.)
    let huge = "x".repeat(envelope::MAX_ENVELOPE + 1);
    if let Ok(r) = x
        .client
        .post(&x.url)
        .header("content-type", "text/xml")
        .body(huge)
        .send()
        .await
    {
        assert_eq!(r.status().as_u16(), 500);
        let answer = r.text().await.unwrap_or_default();
        assert!(
            answer.is_empty() || answer.contains("soap:Client"),
            "{answer}"
        );
    }
    // The good one still goes in.
    let (status, answer) = x.post(DI01_0310, &good).await;
    assert_eq!(status, 202, "{answer}");
    x.stop().await;
}
