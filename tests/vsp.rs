//! loket on VECOZO's VSP-Koppeling, end to end, against the strict
//! counterpart in `common::vsp` (every request checked against the published
//! OpenAPI descriptions, a client certificate from the tests' own CA
//! demanded).
//!
//! - `both_parties_talk_through_vecozo`: a provider and a municipality
//!   tenant of one loket, each with its own systeemcertificaat, exchange the
//!   whole lifecycle through the counterpart: 301 pushed by the
//!   municipality, pulled by the provider, 302 pushed back answering it;
//!   registrations -> 305 and 306; a declaration -> 323, judged by the
//!   municipality -> 325, applied by the provider. Statuses are followed
//!   until Bezorgd, and every pushed message is written for CI's official
//!   validation.
//! - `faults_lose_nothing_and_send_nothing_twice`: the counterpart fails on
//!   command (5xx, 429, a hang, connections cut before and after an answer,
//!   a wrong checksum, a refused certificate, a 422, a refusal after
//!   receipt); every message is taken in and answered exactly once.
//! - `killed_between_commit_and_confirm`: `loket serve` aborted (test hook)
//!   after a pulled message is committed and before it is confirmed; the
//!   restart confirms it without taking it in or answering it again.

#[macro_use]
mod common;

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::vsp::{Berichtstatus, Endpoint, Fault, Melding, TestPki, Vsp, VspOptions};
use common::*;
use serde_json::{Value, json};
use sqlx::Row;
use uuid::Uuid;

on_both_backends!(
    both_parties_talk_through_vecozo,
    a_held_325_is_pushed_once_released,
    faults_lose_nothing_and_send_nothing_twice,
    killed_between_commit_and_confirm,
);

const AGB: &str = "73730112";
const GEMEENTE: &str = "0363";
/// How long anything may take to cross the exchange.
const PATIENCE: Duration = Duration::from_secs(90);

/// Polls `check` until it holds, or fails the test saying `what`.
async fn until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    common::until(what, PATIENCE, check).await;
}

/// The project's Wmo contract of `gemeente`, as a provider's mapping
/// delivering to VECOZO at `base`, and as the municipality's mapping of
/// the provider (kind aanbieder) delivering there too.
fn write_mappings(dir: &Path, base: &str, decide: &str) {
    let vsp = format!("{{ vsp = \"{base}\" }}");
    exchange_mappings(
        dir,
        AGB,
        &vsp,
        &vsp,
        &format!("[declarations]\ndecide = \"{decide}\""),
    );
}

/// A `[[vsp]]` section for `tenant` with the certificate files of `pki`.
fn vsp_config(
    pki: &TestPki,
    dir: &Path,
    tenant: &str,
    base: &str,
    timeout_secs: u64,
) -> loket::transport::vsp::VspConfig {
    let files = pki
        .client(tenant, &format!("Organisatie {tenant}"))
        .write_pem(dir);
    loket::transport::vsp::VspConfig {
        tenant: tenant.into(),
        environment: base.into(),
        certificate: Some(files.chain),
        key: Some(files.key),
        pkcs12: None,
        password_env: None,
        ca: vec![pki.write_ca(dir)],
        poll_interval_secs: 1,
        max_backoff_secs: 2,
        batch: 250,
        status_interval_secs: 1,
        timeout_secs,
        pull: true,
    }
}

/// One loket with its outbox worker and VSP loops, its tenants, and the
/// counterpart they talk to.
struct Exchange {
    server: Server,
    worker: Option<loket::outbox::Worker>,
    vsp_loops: Option<loket::transport::vsp::service::Running>,
    provider: Api,
    gemeente: Api,
    vsp: Vsp,
    _pki: TestPki,
    _certs: tempfile::TempDir,
}

impl Exchange {
    async fn start(db: Db, timeout_secs: u64) -> Exchange {
        Exchange::start_deciding(db, timeout_secs, "automatic").await
    }

    /// [`Exchange::start`] with the municipality's `[declarations] decide`.
    async fn start_deciding(db: Db, timeout_secs: u64, decide: &str) -> Exchange {
        let pki = TestPki::new();
        let vsp = Vsp::start(&pki, VspOptions::default()).await;
        let certs = tempfile::tempdir().expect("certs dir");
        let mappings = certs.path().join("mappings");
        write_mappings(&mappings, &vsp.base(), decide);
        let config = loket::config::Config {
            mappings_dir: mappings,
            outbox: loket::outbox::Settings {
                retry_base_ms: 20,
                retry_max_ms: 300,
                poll_ms: 20,
                lease_ms: 30_000,
                http_timeout_ms: 10_000,
                ..loket::outbox::Settings::default()
            },
            vsp: vec![
                vsp_config(&pki, certs.path(), AGB, &vsp.base(), timeout_secs),
                vsp_config(&pki, certs.path(), GEMEENTE, &vsp.base(), timeout_secs),
            ],
            ..loket::config::Config::default()
        };
        let server = Server::start_with(db, config).await;
        let provider = server.tenant_api(AGB).await;
        let gemeente = server.tenant_api(GEMEENTE).await;
        let state = &server.state;
        let worker = state
            .outbox
            .start(state.ingest.clone(), state.metrics.clone())
            .expect("outbox worker");
        let vsp_loops = loket::transport::vsp::service::start(
            &state.outbox.vsp,
            &state.ingest,
            &state.outbox,
            &state.metrics,
        );
        Exchange {
            server,
            worker: Some(worker),
            vsp_loops: Some(vsp_loops),
            provider,
            gemeente,
            vsp,
            _pki: pki,
            _certs: certs,
        }
    }

    async fn stop(mut self) {
        if let Some(l) = self.vsp_loops.take() {
            l.stop().await;
        }
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
    }

    /// The first accepted (non-repeated) push of `bericht`, waiting for it.
    async fn pushed(&self, bericht: &str, nth: usize) -> common::vsp::Pushed {
        let mut found = None;
        until(&format!("push {nth} of {bericht}"), || {
            let all: Vec<_> = self
                .vsp
                .pushed()
                .into_iter()
                .filter(|p| {
                    !p.repeat
                        && p.metadata["routeringgegevens"]["berichtstroom"]["berichtsubtype"]
                            == bericht
                })
                .collect();
            found = all.get(nth).cloned();
            std::future::ready(found.is_some())
        })
        .await;
        found.expect("found")
    }

    /// Waits until nothing waits in loket's outbox or in anyone's pull
    /// queue at the counterpart.
    async fn settle(&self) {
        let pool = self.server.state.store().pool().clone();
        until("the exchange to settle", || {
            let pool = pool.clone();
            let queues = self.vsp.queue_len(AGB) + self.vsp.queue_len(GEMEENTE);
            async move {
                let pending: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM outbox WHERE state IN ('queued', 'sending')",
                )
                .fetch_one(&pool)
                .await
                .expect("outbox count")
                .try_get("n")
                .expect("n");
                pending == 0 && queues == 0
            }
        })
        .await;
    }

    /// Every push was accepted once (repeats of a lost answer aside), and
    /// every traceerId confirmed at most once; the payloads go to CI's
    /// official validation.
    fn nothing_twice(&self) {
        let pushed = self.vsp.pushed();
        let mut seen = HashSet::new();
        for p in pushed.iter().filter(|p| !p.repeat) {
            assert!(
                seen.insert(p.traceer_id().to_string()),
                "{} pushed twice",
                p.traceer_id()
            );
            let bericht = p.metadata["routeringgegevens"]["berichtstroom"]["berichtsubtype"]
                .as_str()
                .unwrap_or("bericht")
                .to_string();
            emit(
                &String::from_utf8_lossy(&p.payload),
                false,
                &format!("vsp-{bericht}-{}", p.traceer_id()),
            );
        }
        let mut confirmed = HashSet::new();
        for (who, t) in self.vsp.confirmed() {
            assert!(
                confirmed.insert((who.clone(), t)),
                "{t} confirmed twice by {who}"
            );
        }
    }

    async fn count(&self, sql: &'static str, tenant: &str) -> i64 {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_one(self.server.state.store().pool())
            .await
            .expect("count")
            .try_get::<i64, _>(0)
            .expect("n")
    }
}

/// The participant of `api`'s tenant with `bsn`, once it exists.
async fn participant(api: &Api, bsn: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = api
            .post_json("/participants/search", &json!({ "bsn": bsn }))
            .await;
        if r.status == 200 {
            return r.body["id"].as_str().expect("id").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the participant at {}",
            api.tenant
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The outbox item of message `id`, once `check` holds for it.
async fn outbox_item(api: &Api, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = api.get(&format!("/outbox/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if check(&r.body) {
            assert_schema("outbox-item", &r.body);
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn referentie(p: &common::vsp::Pushed, key: &str) -> String {
    p.metadata["referentiegegevens"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The lifecycle between a municipality and a provider, each on its own
/// certificate, only through the counterpart.
async fn both_parties_talk_through_vecozo(db: Db) {
    let x = Exchange::start(db, 10).await;
    let bsn = "999900304";
    // The municipality grants; its 301 goes to VECOZO.
    let grant = x
        .gemeente
        .post_json("/allocations", &grant_body(AGB, bsn, "990001", "07A12"))
        .await;
    assert_eq!(grant.status, 201, "{}", grant.body);
    let toewijzing = x.pushed("WMO301", 0).await;
    assert_eq!(toewijzing.caller, GEMEENTE);
    let routing = &toewijzing.metadata["routeringgegevens"];
    assert_eq!(
        routing["afzender"],
        json!({"rol": "Gemeente", "code": GEMEENTE})
    );
    assert_eq!(
        routing["geadresseerden"],
        json!([{"rol": "Instelling", "code": AGB}])
    );
    assert_eq!(routing["berichtstroom"]["berichttype"], "WMO");
    assert_eq!(routing["berichtstroom"]["actie"], "Toewijzing");
    assert!(
        toewijzing.metadata["referentiegegevens"]
            .get("alsAntwoordOp")
            .is_none()
    );

    // The provider pulls it: a participant with the allocation, and a 302
    // back in the same conversation, answering the 301's traceerId.
    let p = participant(&x.provider, bsn).await;
    let retour = x.pushed("WMO302", 0).await;
    assert_eq!(retour.caller, AGB);
    assert_eq!(
        referentie(&retour, "alsAntwoordOp"),
        toewijzing.traceer_id()
    );
    assert_eq!(
        referentie(&retour, "conversatieId"),
        referentie(&toewijzing, "conversatieId")
    );
    assert_eq!(
        retour.metadata["routeringgegevens"]["geadresseerden"],
        json!([{"rol": "Gemeente", "code": GEMEENTE}])
    );
    // The provider's record knows the 301 by its traceerId.
    let record = x.provider.get(&format!("/participants/{p}")).await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert_schema("participant", &record.body);
    let pulled = record.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["bericht"] == "WMO301")
        .expect("the 301")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let message = x.provider.get(&format!("/messages/{pulled}")).await;
    assert_eq!(message.status, 200, "{}", message.body);
    assert_schema("message", &message.body);
    assert_eq!(
        message.body["exchange"]["traceer_id"],
        toewijzing.traceer_id()
    );

    // The municipality follows its 301 until the provider confirmed it.
    let granted_id = x.gemeente.get("/outbox?limit=10").await.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["bericht"] == "WMO301")
        .expect("the 301 in the outbox")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let delivered = outbox_item(&x.gemeente, &granted_id, "the 301 delivered", |i| {
        i["exchange_status"] == "Bezorgd"
    })
    .await;
    assert_eq!(delivered["target"]["kind"], "vsp");
    assert_eq!(delivered["exchange"]["final"], true, "{delivered:#}");
    assert_eq!(delivered["exchange"]["traceer_id"], toewijzing.traceer_id());

    // Registrations -> the start (305), answered with a 306.
    x.provider
        .days(&[
            (&p, "2026-03-03", "09:00", "12:00", "kas"),
            (&p, "2026-03-10", "09:00", "12:00", "kas"),
        ])
        .await;
    let run = x
        .provider
        .post_json("/startstop/run", &json!({ "date": "2026-03-11" }))
        .await;
    assert_eq!(run.status, 200, "{}", run.body);
    x.server.state.outbox.wake();
    let start = x.pushed("WMO305", 0).await;
    let start_retour = x.pushed("WMO306", 0).await;
    assert_eq!(start_retour.caller, GEMEENTE);
    assert_eq!(
        referentie(&start_retour, "alsAntwoordOp"),
        start.traceer_id()
    );

    // The declaration (323), judged by the municipality: its 325 comes back.
    let declared = x.provider.run("2026-03", "2026-04-03").await;
    assert_eq!(
        declared["declarations"]
            .as_array()
            .expect("declarations")
            .len(),
        1,
        "{declared}"
    );
    x.server.state.outbox.wake();
    let declaration = x.pushed("WMO323", 0).await;
    let answer = x.pushed("WMO325", 0).await;
    assert_eq!(
        referentie(&answer, "alsAntwoordOp"),
        declaration.traceer_id()
    );
    x.settle().await;
    // Both hold the same lines with the same verdict.
    until("the 325 applied", || async {
        x.count(
            "SELECT COUNT(*) FROM prestaties WHERE tenant_id = $1 AND status = 'approved'",
            AGB,
        )
        .await
            > 0
    })
    .await;
    assert_eq!(
        x.count(
            "SELECT COUNT(*) FROM judged_prestaties WHERE tenant_id = $1",
            GEMEENTE
        )
        .await,
        x.count("SELECT COUNT(*) FROM prestaties WHERE tenant_id = $1", AGB)
            .await,
    );
    // Every retour arrived and was accepted; nothing went twice.
    for (tenant, bericht) in [(GEMEENTE, "WMO302"), (AGB, "WMO306"), (AGB, "WMO325")] {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND bericht = $2 AND direction = 'in' AND status = 'accepted'",
        )
        .bind(tenant)
        .bind(bericht)
        .fetch_one(x.server.state.store().pool())
        .await
        .expect("count")
        .try_get(0)
        .expect("n");
        assert_eq!(n, 1, "{bericht} at {tenant}");
    }
    x.nothing_twice();
    let metrics = x.provider.metrics_text().await;
    assert!(
        metrics.contains("loket_vsp_pulled_total{outcome=\"confirmed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("loket_outbox_deliveries_total{transport=\"vsp\",outcome=\"sent\"}"));
    assert!(!captured_logs().contains(bsn), "a BSN in the logs");
    x.stop().await;
}

/// A municipality that decides on its provider's declarations
/// (`[declarations] decide = "person"`): its 325 stays in the outbox, held,
/// while everything else crosses the exchange; a person rejects a line; once
/// released it is pushed, answering the 323, and the provider applies it as
/// decided.
async fn a_held_325_is_pushed_once_released(db: Db) {
    let x = Exchange::start_deciding(db, 10, "person").await;
    let bsn = "999900304";
    let grant = x
        .gemeente
        .post_json("/allocations", &grant_body(AGB, bsn, "990001", "07A12"))
        .await;
    assert_eq!(grant.status, 201, "{}", grant.body);
    let p = participant(&x.provider, bsn).await;
    x.provider
        .days(&[(&p, "2026-03-03", "09:00", "12:00", "kas")])
        .await;
    x.provider.run("2026-03", "2026-04-03").await;
    x.server.state.outbox.wake();
    let declaration = x.pushed("WMO323", 0).await;
    // Taken in by the municipality, its 325 held.
    let deadline = Instant::now() + PATIENCE;
    let held = loop {
        let r = x.gemeente.get("/outbox?state=held").await;
        if let Some(item) = r.body["items"].as_array().and_then(|i| i.first()) {
            break Some(item.clone());
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the held 325"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let held = held.expect("held");
    assert_eq!(held["bericht"], "WMO325");
    let retour = held["id"].as_str().expect("id").to_string();
    x.settle().await;
    assert!(
        !x.vsp.pushed().iter().any(
            |p| p.metadata["routeringgegevens"]["berichtstroom"]["berichtsubtype"] == "WMO325"
        ),
        "nothing pushed while held"
    );
    let message: String =
        sqlx::query_scalar("SELECT answer_of FROM messages WHERE id = $1 AND tenant_id = $2")
            .bind(&retour)
            .bind(GEMEENTE)
            .fetch_one(x.server.state.store().pool())
            .await
            .expect("the 323 it answers");
    let path = format!("/declarations/received/{message}");
    let view = x.gemeente.get(&format!("{path}/decision")).await;
    assert_eq!(view.status, 200, "{}", view.body);
    let line = view.body["lines"][0]["id"]
        .as_str()
        .expect("line")
        .to_string();
    let decided = x
        .gemeente
        .post_json(
            &format!("{path}/lines/{line}"),
            &json!({"decision": "reject", "retourcode": "9321", "reason": "meer dan afgesproken"}),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let released = x
        .gemeente
        .post_json(&format!("{path}/release"), &json!({}))
        .await;
    assert_eq!(released.status, 200, "{}", released.body);
    let answer = x.pushed("WMO325", 0).await;
    assert_eq!(
        referentie(&answer, "alsAntwoordOp"),
        declaration.traceer_id()
    );
    x.settle().await;
    until("the 325 applied by the provider", || async {
        x.count(
            "SELECT COUNT(*) FROM prestaties WHERE tenant_id = $1 AND status = 'rejected'",
            AGB,
        )
        .await
            == 1
    })
    .await;
    let record = x.provider.get(&format!("/participants/{p}")).await;
    assert!(
        record.body["prestaties"][0]["retourcodes"]
            .to_string()
            .contains("9321"),
        "{}",
        record.body
    );
    x.nothing_twice();
    x.stop().await;
}

/// A 301 from the municipality at the counterpart, for the provider.
fn enqueue_allocation(vsp: &Vsp, ident: &str, bsn: &str, nummer: &str) -> Uuid {
    let xml = allocation_xml(
        "WMO",
        GEMEENTE,
        AGB,
        ident,
        bsn,
        &[dagbesteding(nummer, "2025-12-01")],
    );
    let traceer = Uuid::new_v4();
    vsp.enqueue(
        AGB,
        ("Gemeente", GEMEENTE),
        common::vsp::berichtstroom("WMO", "WMO301", 3, 2, "Toewijzing"),
        xml.as_bytes(),
        Uuid::new_v4(),
        traceer,
        None,
    );
    traceer
}

/// The provider's 302 answering `traceer`, and how often it was accepted
/// (not as a repeat).
fn answers_to(vsp: &Vsp, traceer: Uuid) -> Vec<common::vsp::Pushed> {
    vsp.pushed()
        .into_iter()
        .filter(|p| !p.repeat && referentie(p, "alsAntwoordOp") == traceer.to_string())
        .collect()
}

async fn faults_lose_nothing_and_send_nothing_twice(db: Db) {
    // A short timeout, so a hanging counterpart costs seconds.
    let x = Exchange::start(db, 2).await;
    let vsp = &x.vsp;

    // The list fails twice, the first payload has a wrong checksum, the
    // second download hangs; the first push gets 503, the next is taken
    // but its answer is cut off, then 429.
    vsp.fault(Fault::Http(500).on(Endpoint::List).times(2));
    vsp.fault(Fault::BadChecksum.on(Endpoint::Payload).times(1));
    vsp.fault(Fault::Hang.on(Endpoint::Payload).times(1));
    vsp.fault(Fault::Http(503).on(Endpoint::Push).times(1));
    vsp.fault(Fault::ResetAfter.on(Endpoint::Push).times(1));
    vsp.fault(
        Fault::TooManyRequests { retry_after: 1 }
            .on(Endpoint::Push)
            .times(1),
    );
    let first = enqueue_allocation(vsp, "VSP-F1", "999900006", "880001");
    let second = enqueue_allocation(vsp, "VSP-F2", "999900018", "880002");
    participant(&x.provider, "999900006").await;
    participant(&x.provider, "999900018").await;
    until("both answered", || {
        std::future::ready(
            !answers_to(vsp, first).is_empty() && !answers_to(vsp, second).is_empty(),
        )
    })
    .await;
    x.settle().await;
    assert_eq!(answers_to(vsp, first).len(), 1);
    assert_eq!(answers_to(vsp, second).len(), 1);
    // The answer cut off after the push: the same push again, with the
    // same traceerId, which the counterpart recognised as a repeat.
    assert!(vsp.pushed().iter().any(|p| p.repeat), "a repeated push");
    let kept = x.provider.metrics_text().await;
    assert!(
        kept.contains("loket_vsp_pulled_total{outcome=\"kept\"} "),
        "{kept}"
    );

    // A confirmation whose answer is lost: the message is gone at VECOZO
    // and loket does not take it in again.
    vsp.fault(Fault::ResetAfter.on(Endpoint::Confirm).times(1));
    let third = enqueue_allocation(vsp, "VSP-F3", "999900031", "880003");
    participant(&x.provider, "999900031").await;
    x.settle().await;
    assert_eq!(answers_to(vsp, third).len(), 1);

    // A certificate VECOZO refuses: nothing is pulled or lost meanwhile.
    vsp.fault(Fault::RefuseClient(AGB.into()));
    let fourth = enqueue_allocation(vsp, "VSP-F4", "999900043", "880004");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(vsp.queue_len(AGB), 1, "still waiting at VECOZO");
    vsp.clear_faults();
    participant(&x.provider, "999900043").await;
    x.settle().await;
    assert_eq!(answers_to(vsp, fourth).len(), 1);

    // A 422: the message fails with VECOZO's reason, in the review queue
    // too; queued again by hand it goes.
    vsp.fault(Fault::Refuse(json!({
        "title": "Bericht geweigerd",
        "status": 422,
        "errors": {"berichtMetadata": ["De geadresseerde is niet bekend"]},
    })));
    let fifth = enqueue_allocation(vsp, "VSP-F5", "999900055", "880005");
    participant(&x.provider, "999900055").await;
    let retour_id = {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let list = x.provider.get("/outbox?state=failed").await;
            if let Some(i) = list.body["items"].as_array().and_then(|a| a.first()) {
                break i["id"].as_str().expect("id").to_string();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the refused 302"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let failed = outbox_item(&x.provider, &retour_id, "failed", |i| {
        i["state"] == "failed"
    })
    .await;
    assert_eq!(failed["response_status"], 422);
    let error = failed["last_error"].as_str().expect("error");
    assert!(
        error.contains("De geadresseerde is niet bekend") && error.contains("422"),
        "{error}"
    );
    let review = x.provider.get("/review?status=open").await;
    assert_eq!(review.status, 200, "{}", review.body);
    let refused = review.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == "exchange_refused" && i["subject_id"] == retour_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("a review item: {}", review.body));
    assert_schema("review-item", &refused);
    vsp.clear_faults();
    let again = x
        .provider
        .post_raw(&format!("/outbox/{retour_id}/retry"), "")
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    outbox_item(&x.provider, &retour_id, "sent again", |i| {
        i["state"] == "sent"
    })
    .await;
    assert_eq!(answers_to(vsp, fifth).len(), 1);

    // Refused after receipt (the national checks): the status shows it,
    // with the melding explained, and a person gets a review item. The 301
    // comes from a municipality no tenant here pulls for, so its 302 is
    // not confirmed (and Bezorgd) before the refusal.
    let xml = allocation_xml(
        "WMO",
        "0599",
        AGB,
        "VSP-F6",
        "999900079",
        &[dagbesteding("880006", "2025-12-01")],
    );
    let sixth = Uuid::new_v4();
    vsp.enqueue(
        AGB,
        ("Gemeente", "0599"),
        common::vsp::berichtstroom("WMO", "WMO301", 3, 2, "Toewijzing"),
        xml.as_bytes(),
        Uuid::new_v4(),
        sixth,
        None,
    );
    until("the 0599 allocation answered", || {
        std::future::ready(!answers_to(vsp, sixth).is_empty())
    })
    .await;
    let answer = answers_to(vsp, sixth).remove(0);
    let traceer: Uuid = answer.traceer_id().parse().expect("uuid");
    vsp.set_status(
        traceer,
        Berichtstatus::AfgekeurdDoorDienst,
        vec![Melding::new("BRS03", "Geen toestemming voor deze afzender")],
    );
    let id = referentie(&answer, "referentieId");
    let refused = outbox_item(&x.provider, &id, "the refusal reported", |i| {
        i["exchange_status"] == "AfgekeurdDoorDienst"
    })
    .await;
    let melding = &refused["exchange"]["meldingen"][0];
    assert_eq!(melding["code"], "BRS03");
    assert!(!melding["uitleg"].as_str().unwrap_or_default().is_empty());
    // The back office sees it on the message's page, explained.
    loket::web::auth::add_user(
        x.server.state.store(),
        AGB,
        "kantoor",
        "Kantoor",
        loket::web::auth::Role::Backoffice,
        "een-lang-wachtwoord-voor-de-test",
    )
    .await
    .expect("user");
    let mut office = WebClient::new(&x.server.base);
    office
        .login(AGB, "kantoor", "een-lang-wachtwoord-voor-de-test")
        .await;
    let page = office.get(&format!("/berichten/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("VECOZO") && page.body.contains("BRS03"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            melding["uitleg"]
                .as_str()
                .expect("uitleg")
                .split_whitespace()
                .next()
                .expect("a word")
        )
    );
    let review = x.provider.get("/review?status=open").await;
    assert!(
        review.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["kind"] == "exchange_refused" && i["subject_id"] == id.as_str()),
        "{}",
        review.body
    );

    // Each 301 was taken in once.
    assert_eq!(
        x.count(
            "SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND bericht = 'WMO301' AND direction = 'in'",
            AGB
        )
        .await,
        6
    );
    x.nothing_twice();
    x.stop().await;
}

// ---------------------------------------------------------------------------
// kill -9 between commit and confirm.

/// `loket ARGS --config config`, without any LOKET_* setting of the caller.
fn loket(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loket"));
    c.args(args).arg("--config").arg(config);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LOKET_") {
            c.env_remove(k);
        }
    }
    c
}

/// The environment variable the kill test's PKCS#12 password is in.
const PASSWORD_ENV: &str = "LOKET_VSP_PASSWORD_73730112";
const PASSWORD: &str = "geheim-voor-de-test";

fn serve(config: &Path, logs: &Path, fault: bool, run: &str) -> Child {
    let mut c = loket(config, &["serve"]);
    c.env(PASSWORD_ENV, PASSWORD);
    if fault {
        c.env(loket::transport::vsp::pull::FAULT_ENV, "committed");
    }
    let log = |kind: &str| {
        std::fs::File::create(logs.join(format!("{run}.{kind}.log"))).expect("log file")
    };
    c.stdin(Stdio::null())
        .stdout(log("stdout"))
        .stderr(log("stderr"))
        .spawn()
        .expect("loket serve")
}

async fn killed_between_commit_and_confirm(db: Db) {
    let pki = TestPki::new();
    let vsp = Vsp::start(&pki, VspOptions::default()).await;
    let root = db.dir.path().to_path_buf();
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("data");
    // The systeemcertificaat as VECOZO hands it out: a PKCS#12 file, its
    // password in the environment.
    let section = vsp_config(&pki, &root, AGB, &vsp.base(), 5);
    let database = match &db.url {
        Some(u) => format!("database_url = {u:?}\n"),
        None => String::new(),
    };
    let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let config = root.join("loket.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {data:?}\nmappings_dir = {mappings:?}\n{database}\
             [startstop]\nenabled = false\n\n\
             [[vsp]]\ntenant = \"{AGB}\"\nenvironment = \"{}\"\npkcs12 = {:?}\npassword_env = \"{PASSWORD_ENV}\"\n\
             ca = [{:?}]\npoll_interval_secs = 1\nstatus_interval_secs = 1\ntimeout_secs = 5\n",
            vsp.base(),
            pki.client(AGB, "Zorgaanbieder").write_pkcs12(&root, PASSWORD),
            section.ca[0],
        ),
    )
    .expect("config");
    let out = loket(&config, &["tenant", "add", AGB])
        .output()
        .expect("tenant add");
    assert!(out.status.success(), "{out:?}");
    let traceer = enqueue_allocation(&vsp, "VSP-K1", "999900067", "770001");

    // Aborted by the hook right after the commit: taken in, not confirmed.
    let mut child = serve(&config, &root, true, "killed");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "loket did not abort; is {} this checkout's build?\n{}",
                env!("CARGO_BIN_EXE_loket"),
                std::fs::read_to_string(root.join("killed.stderr.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.signal(), Some(6), "aborted by the hook: {status:?}");
    assert!(vsp.confirmed().is_empty(), "not confirmed before the crash");
    assert_eq!(vsp.queue_len(AGB), 1);

    // Started again: recognised, confirmed, answered once.
    let mut child = serve(&config, &root, false, "again");
    let deadline = Instant::now() + PATIENCE;
    while vsp.confirmed().is_empty() || answers_to(&vsp, traceer).is_empty() {
        if Instant::now() > deadline || child.try_wait().expect("try_wait").is_some() {
            let _ = child.kill();
            panic!(
                "the restart did not confirm and answer\n{}",
                std::fs::read_to_string(root.join("again.stderr.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a second round the chance to do anything twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(vsp.confirmed().len(), 1);
    assert_eq!(answers_to(&vsp, traceer).len(), 1);
    let store = loket::store::Store::open(db.url.as_deref(), &data)
        .await
        .expect("store");
    let counts: HashMap<String, i64> = sqlx::query(
        "SELECT bericht, COUNT(*) AS n FROM messages WHERE tenant_id = $1 GROUP BY bericht",
    )
    .bind(AGB)
    .fetch_all(store.pool())
    .await
    .expect("counts")
    .into_iter()
    .map(|r| {
        (
            r.try_get::<String, _>("bericht").expect("bericht"),
            r.try_get::<i64, _>("n").expect("n"),
        )
    })
    .collect();
    assert_eq!(counts.get("WMO301"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("WMO302"), Some(&1), "{counts:?}");
    let outbox: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE tenant_id = $1")
        .bind(AGB)
        .fetch_one(store.pool())
        .await
        .expect("outbox")
        .try_get(0)
        .expect("n");
    assert_eq!(outbox, 1, "one retour queued");
}
