//! Self-test of the VSP counterpart (tests/common/vsp): loket's end-to-end
//! tests trust it to refuse what VECOZO refuses, so each refusal and each
//! behaviour is proven here with a plain HTTPS client before loket meets it.

mod common;

use std::time::Duration;

use common::vsp::schema::{SPEC, errors};
use common::vsp::{
    Berichtstatus, Endpoint, Fault, Melding, TestPki, Vsp, VspOptions, berichtstroom,
};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const AGB: &str = "12345678";
const GEMEENTE: &str = "0363";
const XML: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Bericht><Header><Code>414</Code></Header></Bericht>\n";

struct Setup {
    pki: TestPki,
    vsp: Vsp,
    provider: Client,
    gemeente: Client,
}

async fn setup_with(opts: VspOptions) -> Setup {
    let pki = TestPki::new();
    let vsp = Vsp::start(&pki, opts).await;
    let provider = pki.http_client(Some(&pki.client(AGB, "Zorg B.V.")));
    let gemeente = pki.http_client(Some(&pki.client(GEMEENTE, "Gemeente Amsterdam")));
    Setup {
        pki,
        vsp,
        provider,
        gemeente,
    }
}

async fn setup() -> Setup {
    setup_with(VspOptions::default()).await
}

fn metadata(afzender: &str, to: &str, traceer: Uuid, conversatie: Uuid) -> Value {
    json!({
        "routeringgegevens": {
            "afzender": {"rol": "Instelling", "code": afzender},
            "geadresseerden": [{"rol": "Gemeente", "code": to}],
            "berichtstroom": berichtstroom("JW", "JW315", 3, 2, "VerzoekToewijzing"),
        },
        "referentiegegevens": {"conversatieId": conversatie.to_string(), "traceerId": traceer.to_string()},
    })
}

fn form(metadata: &str, payload: &[u8]) -> Form {
    Form::new()
        .part(
            "berichtMetadata",
            Part::text(metadata.to_string())
                .mime_str("application/json")
                .expect("mime"),
        )
        .part(
            "payload",
            Part::bytes(payload.to_vec())
                .mime_str("application/octet-stream")
                .expect("mime"),
        )
}

async fn push(client: &Client, vsp: &Vsp, metadata: &Value, payload: &[u8]) -> reqwest::Response {
    client
        .post(vsp.push_url())
        .multipart(form(&metadata.to_string(), payload))
        .send()
        .await
        .expect("push answered")
}

/// The status and the parsed ValidationProblemDetails of a refusal.
async fn problem(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("application/problem+json"), "{ct}");
    let body: Value = r.json().await.expect("problem JSON");
    assert_eq!(body["status"], json!(status.as_u16()));
    (status, body)
}

/// The status of an answer.
async fn status_of(r: reqwest::RequestBuilder) -> StatusCode {
    r.send().await.expect("answer").status()
}

/// The JSON body of an answer.
async fn json_of<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> T {
    r.json().await.expect("JSON answer")
}

async fn list(client: &Client, vsp: &Vsp, query: &str) -> reqwest::Response {
    client
        .get(format!("{}{query}", vsp.pull_url()))
        .send()
        .await
        .expect("list answered")
}

async fn statuses(client: &Client, vsp: &Vsp, query: &str) -> reqwest::Response {
    client
        .get(format!("{}{query}", vsp.status_url()))
        .send()
        .await
        .expect("status answered")
}

#[tokio::test]
async fn handshake_demands_a_certificate_from_the_test_ca() {
    let s = setup().await;
    let none = s.pki.http_client(None);
    let r = none.get(s.vsp.pull_url()).send().await;
    assert!(r.is_err(), "no certificate must be refused: {r:?}");
    let foreign = s
        .pki
        .http_client(Some(&s.pki.foreign_client(AGB, "Zorg B.V.")));
    let r = foreign.get(s.vsp.pull_url()).send().await;
    assert!(r.is_err(), "a foreign CA must be refused: {r:?}");
    assert!(s.vsp.handshake_failures() >= 2);
    assert_eq!(s.vsp.requests(Endpoint::List), 0, "no request got through");
    let ok = list(&s.provider, &s.vsp, "").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.expect("json"), json!([]));
    // The PEM helpers write what loket's configuration will name.
    let dir = tempfile::tempdir().expect("tempdir");
    let files = s.pki.client(AGB, "Zorg B.V.").write_pem(dir.path());
    let ca = s.pki.write_ca(dir.path());
    for f in [&files.cert, &files.key, &files.chain, &ca] {
        assert!(std::fs::metadata(f).expect("written").len() > 0);
    }
    // The PKCS#12 form opens with its password and holds key, leaf and CA.
    let p12 = s
        .pki
        .client(AGB, "Zorg B.V.")
        .write_pkcs12(dir.path(), "geheim");
    let store = p12_keystore::KeyStore::from_pkcs12(
        &std::fs::read(&p12).expect("read p12"),
        "geheim",
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .expect("PKCS#12 opens");
    let (_, chain) = store.private_key_chain().expect("key chain");
    assert_eq!(chain.certs().len(), 2);
}

#[tokio::test]
async fn push_refusals_are_the_specified_ones() {
    let s = setup_with(VspOptions {
        max_payload: 1024,
        ..VspOptions::default()
    })
    .await;
    let (t, c) = (Uuid::new_v4(), Uuid::new_v4());
    let good = metadata(AGB, GEMEENTE, t, c);
    let send = |f: Form| s.provider.post(s.vsp.push_url()).multipart(f).send();

    // Not multipart at all.
    let r = s
        .provider
        .post(s.vsp.push_url())
        .json(&good)
        .send()
        .await
        .expect("answer");
    assert_eq!(problem(r).await.0, StatusCode::BAD_REQUEST);
    // A part missing, a part too many, metadata not labelled JSON.
    let only_meta = Form::new().part(
        "berichtMetadata",
        Part::text(good.to_string())
            .mime_str("application/json")
            .expect("mime"),
    );
    assert_eq!(
        problem(send(only_meta).await.expect("answer")).await.0,
        StatusCode::BAD_REQUEST
    );
    let extra = form(&good.to_string(), XML).text("bijlage", "x");
    assert_eq!(
        problem(send(extra).await.expect("answer")).await.0,
        StatusCode::BAD_REQUEST
    );
    let plain = Form::new()
        .text("berichtMetadata", good.to_string())
        .part("payload", Part::bytes(XML.to_vec()));
    assert_eq!(
        problem(send(plain).await.expect("answer")).await.0,
        StatusCode::BAD_REQUEST
    );
    // Unparsable JSON.
    let r = send(form("{not json", XML)).await.expect("answer");
    assert_eq!(problem(r).await.0, StatusCode::BAD_REQUEST);
    // Schema: a version as text, an unknown property, a traceerId that is no UUID.
    let mut v = good.clone();
    v["routeringgegevens"]["berichtstroom"]["berichtversie"] = json!("3");
    let (st, body) = problem(push(&s.provider, &s.vsp, &v, XML).await).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"].to_string().contains("berichtversie"),
        "{body}"
    );
    let mut v = good.clone();
    v["routeringgegevens"]["extra"] = json!(1);
    assert_eq!(
        problem(push(&s.provider, &s.vsp, &v, XML).await).await.0,
        StatusCode::BAD_REQUEST
    );
    let mut v = good.clone();
    v["referentiegegevens"]["traceerId"] = json!("bericht-1");
    let (st, body) = problem(push(&s.provider, &s.vsp, &v, XML).await).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body["errors"].to_string().contains("traceerId"), "{body}");
    // Over the size limit.
    let big = format!("<a>{}</a>", "x".repeat(2000));
    let (st, _) = problem(push(&s.provider, &s.vsp, &good, big.as_bytes()).await).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // 422: afzender is not the certificate's, no geadresseerden, not XML.
    let v = metadata("87654321", GEMEENTE, t, c);
    assert_eq!(
        problem(push(&s.provider, &s.vsp, &v, XML).await).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut v = good.clone();
    v["routeringgegevens"]["geadresseerden"] = json!([]);
    assert_eq!(
        problem(push(&s.provider, &s.vsp, &v, XML).await).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for not_xml in [&b"<a><b></a>"[..], b"plain text", b"<a/><b/>", b""] {
        assert_eq!(
            problem(push(&s.provider, &s.vsp, &good, not_xml).await)
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            String::from_utf8_lossy(not_xml)
        );
    }
    assert!(s.vsp.pushed().is_empty(), "nothing refused was stored");
    assert_eq!(s.vsp.queue_len(GEMEENTE), 0);

    // Accepted, then the same traceerId: identical is idempotent, different is 422.
    assert_eq!(
        push(&s.provider, &s.vsp, &good, XML).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        push(&s.provider, &s.vsp, &good, XML).await.status(),
        StatusCode::NO_CONTENT
    );
    let other = b"<Bericht><Anders/></Bericht>";
    assert_eq!(
        problem(push(&s.provider, &s.vsp, &good, other).await)
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let pushed = s.vsp.pushed();
    assert_eq!(pushed.len(), 2);
    assert!(!pushed[0].repeat && pushed[1].repeat);
    assert_eq!(pushed[0].caller, AGB);
    assert_eq!(pushed[0].traceer_id(), t.to_string());
    assert_eq!(
        s.vsp.queue_len(GEMEENTE),
        1,
        "a repeat is not a second message"
    );
    assert_eq!(s.vsp.requests(Endpoint::Push), 18);
}

#[tokio::test]
async fn a_push_is_pulled_checked_and_confirmed_by_its_addressee() {
    let s = setup().await;
    let (t, c) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        push(&s.provider, &s.vsp, &metadata(AGB, GEMEENTE, t, c), XML)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // The sender's own queue stays empty; the addressee's holds it.
    let mine: Value = json_of(list(&s.provider, &s.vsp, "").await).await;
    assert_eq!(mine, json!([]));
    let r = list(&s.gemeente, &s.vsp, "?limit=10").await;
    assert_eq!(r.status(), StatusCode::OK);
    let items: Vec<Value> = r.json().await.expect("json");
    assert_eq!(items.len(), 1);
    let m = &items[0];
    assert_eq!(m["referentiegegevens"]["traceerId"], json!(t.to_string()));
    assert_eq!(m["routeringgegevens"]["afzender"]["code"], json!(AGB));
    let dl = &m["basisgegevens"]["payload"];
    assert_eq!(dl["checksum"]["algoritme"], json!("SHA256"));
    let url = dl["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/{t}/payload", s.vsp.pull_url()));

    // Only the addressee may download it; the bytes match size and checksum.
    assert_eq!(status_of(s.provider.get(url)).await, StatusCode::NOT_FOUND);
    let bytes = s
        .gemeente
        .get(url)
        .send()
        .await
        .expect("answer")
        .bytes()
        .await
        .expect("body");
    assert_eq!(bytes.as_ref(), XML);
    assert_eq!(dl["grootte"], json!(XML.len()));
    assert_eq!(
        dl["checksum"]["waarde"],
        json!(hex::encode(Sha256::digest(&bytes)))
    );

    // Confirm: only the addressee, once; then it is gone.
    let item = format!("{}/{t}", s.vsp.pull_url());
    assert_eq!(
        status_of(s.provider.delete(&item)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(s.gemeente.delete(&item)).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        status_of(s.gemeente.delete(&item)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(status_of(s.gemeente.get(url)).await, StatusCode::NOT_FOUND);
    let left: Value = json_of(list(&s.gemeente, &s.vsp, "").await).await;
    assert_eq!(left, json!([]));
    assert_eq!(s.vsp.confirmed(), vec![(GEMEENTE.to_string(), t)]);
    assert_eq!(s.vsp.queue_len(GEMEENTE), 0);

    // Parameters per the specification.
    for q in ["?limit=0", "?limit=251", "?limit=tien", "?limit=-1"] {
        assert_eq!(
            problem(list(&s.gemeente, &s.vsp, q).await).await.0,
            StatusCode::BAD_REQUEST,
            "{q}"
        );
    }
    let r = s
        .gemeente
        .get(format!("{}/geen-uuid/payload", s.vsp.pull_url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(problem(r).await.0, StatusCode::BAD_REQUEST);
    let r = s
        .gemeente
        .delete(format!("{}/{}", s.vsp.pull_url(), Uuid::new_v4()))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(s.vsp.violations().is_empty(), "{:?}", s.vsp.violations());
}

#[tokio::test]
async fn statuses_move_and_are_only_the_senders() {
    let s = setup().await;
    let (t, c) = (Uuid::new_v4(), Uuid::new_v4());
    push(&s.provider, &s.vsp, &metadata(AGB, GEMEENTE, t, c), XML).await;
    let q = format!("?traceerId={t}");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let items: Vec<Value> = json_of(statuses(&s.provider, &s.vsp, &q).await).await;
        assert_eq!(items.len(), 1);
        assert_eq!(errors(&SPEC.status, &items[0]), vec![], "{}", items[0]);
        seen.push(
            items[0]["berichtstatus"]
                .as_str()
                .expect("status")
                .to_string(),
        );
    }
    assert_eq!(
        seen,
        [
            "Ontvangen",
            "WordtVerwerkt",
            "VerwerkingVoltooid",
            "WordtAangeboden",
            "WordtAangeboden"
        ],
        "Bezorgd only after the addressee confirmed"
    );
    s.gemeente
        .delete(format!("{}/{t}", s.vsp.pull_url()))
        .send()
        .await
        .expect("confirm");
    let items: Vec<Value> =
        json_of(statuses(&s.provider, &s.vsp, &format!("?conversatieId={c}")).await).await;
    assert_eq!(items[0]["berichtstatus"], json!("Bezorgd"));
    assert_eq!(items[0]["berichtstroom"]["berichtsubtype"], json!("JW315"));

    // Someone else's message is not shown; the parameters are checked.
    let theirs: Value = json_of(statuses(&s.gemeente, &s.vsp, &q).await).await;
    assert_eq!(theirs, json!([]));
    for bad in [
        String::new(),
        format!("?traceerId={t}&conversatieId={c}"),
        "?traceerId=x".into(),
    ] {
        assert_eq!(
            problem(statuses(&s.provider, &s.vsp, &bad).await).await.0,
            StatusCode::BAD_REQUEST
        );
    }

    // A refusal carries its meldingen and leaves the pull queue.
    let t2 = Uuid::new_v4();
    push(&s.provider, &s.vsp, &metadata(AGB, GEMEENTE, t2, c), XML).await;
    assert_eq!(s.vsp.queue_len(GEMEENTE), 1);
    s.vsp.set_status(
        t2,
        Berichtstatus::AfgekeurdDoorDienst,
        vec![Melding::new("0001", "Bericht is afgekeurd")],
    );
    assert_eq!(s.vsp.queue_len(GEMEENTE), 0);
    let items: Vec<Value> =
        json_of(statuses(&s.provider, &s.vsp, &format!("?traceerId={t2}")).await).await;
    assert_eq!(items[0]["berichtstatus"], json!("AfgekeurdDoorDienst"));
    assert_eq!(items[0]["meldingen"][0]["code"], json!("0001"));
    s.vsp.advance();
    assert_eq!(
        s.vsp.status(t2),
        Some(Berichtstatus::AfgekeurdDoorDienst),
        "final"
    );
    assert!(s.vsp.violations().is_empty(), "{:?}", s.vsp.violations());
}

#[tokio::test]
async fn enqueued_messages_are_listed_oldest_first_and_searchable() {
    let s = setup().await;
    let conv = Uuid::new_v4();
    let heen = Uuid::new_v4();
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let from = ("Gemeente", GEMEENTE);
    s.vsp.enqueue(
        AGB,
        from,
        berichtstroom("JW", "JW301", 3, 2, "Toewijzing"),
        XML,
        conv,
        ids[0],
        None,
    );
    s.vsp.enqueue(
        AGB,
        from,
        berichtstroom("JW", "JW302", 3, 2, "Retour"),
        XML,
        Uuid::new_v4(),
        ids[1],
        Some(heen),
    );
    s.vsp.enqueue(
        AGB,
        from,
        berichtstroom("JW", "JW301", 3, 2, "Toewijzing"),
        XML,
        Uuid::new_v4(),
        ids[2],
        None,
    );
    assert_eq!(s.vsp.queue_len(AGB), 3);

    let items: Vec<Value> = json_of(list(&s.provider, &s.vsp, "?limit=2").await).await;
    let got: Vec<&str> = items
        .iter()
        .map(|m| m["referentiegegevens"]["traceerId"].as_str().expect("id"))
        .collect();
    assert_eq!(got, [ids[0].to_string(), ids[1].to_string()]);

    let zoek = |body: Value| {
        let client = s.provider.clone();
        let url = format!("{}/zoeken", s.vsp.pull_url());
        async move { client.post(url).json(&body).send().await.expect("answer") }
    };
    let ids_of = |items: Vec<Value>| -> Vec<String> {
        items
            .iter()
            .map(|m| {
                m["referentiegegevens"]["traceerId"]
                    .as_str()
                    .expect("id")
                    .to_string()
            })
            .collect()
    };
    let r: Vec<Value> = json_of(
        zoek(json!({"zoekpadType": "ZoekpadOpConversatieId", "conversatieId": conv.to_string()}))
            .await,
    )
    .await;
    assert_eq!(ids_of(r), [ids[0].to_string()]);
    let r: Vec<Value> = json_of(
        zoek(json!({"zoekpadType": "ZoekpadOpAlsAntwoordOp", "alsAntwoordOp": heen.to_string()}))
            .await,
    )
    .await;
    assert_eq!(ids_of(r), [ids[1].to_string()]);
    let r: Vec<Value> = json_of(zoek(json!({"zoekpadType": "ZoekpadOpBerichtstroom", "berichttype": "JW", "berichtsubtype": "JW301", "geadresseerdeCode": AGB})).await).await;
    assert_eq!(ids_of(r), [ids[0].to_string(), ids[2].to_string()]);
    for bad in [
        json!({"zoekpadType": "ZoekpadOpIets"}),
        json!({"zoekpadType": "ZoekpadOpConversatieId", "conversatieId": "x"}),
        json!({"zoekpadType": "ZoekpadOpConversatieId", "conversatieId": conv.to_string(), "extra": 1}),
        json!({"zoekpadType": "ZoekpadOpBerichtstroom"}),
    ] {
        assert_eq!(
            problem(zoek(bad.clone()).await).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert!(s.vsp.violations().is_empty(), "{:?}", s.vsp.violations());
}

#[tokio::test]
async fn faults_fire_on_command() {
    let s = setup().await;
    let meta = |t: Uuid| metadata(AGB, GEMEENTE, t, Uuid::new_v4());

    // 503 once on push, then normal service; nothing stored by the fault.
    s.vsp.fault(Fault::Http(503).on(Endpoint::Push).times(1));
    let t1 = Uuid::new_v4();
    assert_eq!(
        push(&s.provider, &s.vsp, &meta(t1), XML).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(s.vsp.pushed().is_empty());
    let m1 = meta(t1);
    assert_eq!(
        push(&s.provider, &s.vsp, &m1, XML).await.status(),
        StatusCode::NO_CONTENT
    );

    // 429 with Retry-After.
    s.vsp
        .fault(Fault::TooManyRequests { retry_after: 7 }.times(1));
    let r = list(&s.gemeente, &s.vsp, "").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "7");

    // 422 with a given body.
    let body = json!({"title": "Afgekeurd", "status": 422, "errors": {"payload": ["BRS03"]}});
    s.vsp.fault(Fault::Refuse(body.clone()).times(1));
    let r = push(&s.provider, &s.vsp, &meta(Uuid::new_v4()), XML).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.expect("json"), body);

    // Reset after processing: the push is taken though the client saw no
    // answer; its retry is the idempotent repeat.
    s.vsp.fault(Fault::ResetAfter.on(Endpoint::Push).times(1));
    let t2 = Uuid::new_v4();
    let m2 = meta(t2);
    let lost = s
        .provider
        .post(s.vsp.push_url())
        .multipart(form(&m2.to_string(), XML))
        .send()
        .await;
    assert!(lost.is_err(), "no answer");
    assert_eq!(
        push(&s.provider, &s.vsp, &m2, XML).await.status(),
        StatusCode::NO_CONTENT
    );
    let p = s.vsp.pushed();
    assert_eq!(
        p.iter()
            .filter(|p| p.traceer_id() == t2.to_string())
            .count(),
        2
    );
    assert!(p.last().expect("pushed").repeat);

    // Reset before processing: nothing happens.
    s.vsp
        .fault(Fault::ResetBefore.on(Endpoint::Confirm).times(1));
    let item = format!("{}/{t1}", s.vsp.pull_url());
    assert!(s.gemeente.delete(&item).send().await.is_err());
    assert!(s.vsp.confirmed().is_empty());

    // Payload faults: wrong bytes with the right size, a short payload, a
    // truncated answer.
    let url = format!("{}/{t1}/payload", s.vsp.pull_url());
    let get = || async {
        s.gemeente
            .get(&url)
            .send()
            .await
            .expect("answer")
            .bytes()
            .await
    };
    s.vsp.fault(Fault::BadChecksum.times(1));
    let b = get().await.expect("body");
    assert_eq!(b.len(), XML.len());
    assert_ne!(Sha256::digest(&b), Sha256::digest(XML));
    s.vsp.fault(Fault::BadSize.times(1));
    assert_eq!(get().await.expect("body").len(), XML.len() - 1);
    s.vsp.fault(Fault::Truncate.on(Endpoint::Payload).times(1));
    let r = s
        .gemeente
        .get(&url)
        .send()
        .await
        .expect("status and headers arrive");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.is_err(), "the body breaks off");
    assert_eq!(
        get().await.expect("body").as_ref(),
        XML,
        "faults were used up"
    );

    // Hang until the client gives up.
    s.vsp.fault(Fault::Hang.on(Endpoint::Status).times(1));
    let impatient = s.pki.http_client(Some(&s.pki.client(AGB, "Zorg B.V.")));
    let e = impatient
        .get(format!("{}?traceerId={t1}", s.vsp.status_url()))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("hangs");
    assert!(e.is_timeout());

    // A certificate VECOZO does not know: 403 for that code only.
    s.vsp.fault(Fault::RefuseClient(AGB.into()));
    assert_eq!(
        list(&s.provider, &s.vsp, "").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(list(&s.gemeente, &s.vsp, "").await.status(), StatusCode::OK);
    s.vsp.clear_faults();
    assert_eq!(list(&s.provider, &s.vsp, "").await.status(), StatusCode::OK);

    // Now confirm for real: one confirmation, counted requests.
    assert_eq!(
        status_of(s.gemeente.delete(&item)).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(s.vsp.confirmed().len(), 1);
    assert_eq!(s.vsp.requests(Endpoint::Confirm), 2);
    assert_eq!(s.vsp.requests(Endpoint::Payload), 4);
    assert_eq!(s.vsp.requests(Endpoint::Push), 5);
    assert!(s.vsp.violations().is_empty(), "{:?}", s.vsp.violations());
}

#[test]
fn the_validators_are_the_published_schemas() {
    // A status the description does not list, a missing required field, a
    // non-UUID traceerId: each must be caught, or the counterpart's checks
    // of its own answers would prove nothing.
    let good = json!({
        "referentiegegevens": {"conversatieId": Uuid::new_v4().to_string(), "traceerId": Uuid::new_v4().to_string()},
        "berichtstroom": berichtstroom("JW", "JW315", 3, 2, "VerzoekToewijzing"),
        "berichtstatus": "Bezorgd",
        "berichtstatusGewijzigdOp": "2026-01-05T10:00:00.000Z",
        "berichtOntvangenOp": "2026-01-05T09:00:00.000Z",
    });
    assert_eq!(errors(&SPEC.status, &good), vec![]);
    let mut v = good.clone();
    v["berichtstatus"] = json!("Verzonden");
    assert!(!errors(&SPEC.status, &v).is_empty());
    let mut v = good.clone();
    v.as_object_mut()
        .expect("object")
        .remove("berichtOntvangenOp");
    assert!(!errors(&SPEC.status, &v).is_empty());
    let mut v = good.clone();
    v["referentiegegevens"]["traceerId"] = json!("42");
    assert!(!errors(&SPEC.status, &v).is_empty());
    // Pull metadata needs basisgegevens; push metadata must not have it.
    let push = metadata(AGB, GEMEENTE, Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(errors(&SPEC.push_metadata, &push), vec![]);
    assert!(!errors(&SPEC.pull_metadata, &push).is_empty());
    // The Zoekpad variants accept their own fields plus zoekpadType only.
    let (_, conv) = SPEC
        .zoekpad
        .iter()
        .find(|(k, _)| k == "ZoekpadOpConversatieId")
        .expect("variant");
    let ok = json!({"zoekpadType": "ZoekpadOpConversatieId", "conversatieId": Uuid::new_v4().to_string()});
    assert_eq!(errors(conv, &ok), vec![]);
    assert!(!errors(conv, &json!({"zoekpadType": "ZoekpadOpConversatieId"})).is_empty());
}
