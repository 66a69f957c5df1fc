//! Decisions before the 325 leaves (`[declarations] decide = "person"` in
//! the municipality's mapping of the provider), on both backends.
//!
//! The provider and municipality 0363 are tenants of one loket. The 301s
//! and the 323 are handed over by the test; the municipality takes the 323
//! in the way the VSP pull (and the StUF listener) does: stored by the
//! ingest, then `record::exchange::taken_in`, which queues the 325 through
//! `outbox::enqueue_reply`. That is where a held 325 stays back.
//!
//! - `a_held_325_waits_for_a_person`: the 325 is held, not queued; a person
//!   approves the line loket rejected (0611: the municipality's tariff
//!   differs) and rejects one it approved (9321), each audited; wrong codes,
//!   a provider and a decision after release are refused; the released 325
//!   is valid and the provider applies it as the decisions say.
//! - `a_held_325_leaves_before_its_term`: the daily release sends it two
//!   working days before the ten-working-day term.
//! - `automatic_is_unchanged`: without the setting the 325 is queued at
//!   once and nothing is held.
//! - `an_answer_given_at_once_holds_nothing`: with the setting, a 323
//!   answered in the same exchange (HTTP, drop folder) shows its verdicts in
//!   the export and cannot be released.
//! - `the_pages_keep_roles_and_tenants_apart`: on the demo, someone who may
//!   only look cannot decide or send, a provider's user finds no municipality
//!   pages, a form without the session's CSRF token is refused, and the
//!   beoordelaar's decision and send go through.

#[macro_use]
mod common;

use common::*;
use serde_json::{Value, json};

on_both_backends!(
    a_held_325_waits_for_a_person,
    a_held_325_leaves_before_its_term,
    automatic_is_unchanged,
    an_answer_given_at_once_holds_nothing,
    the_pages_keep_roles_and_tenants_apart,
);

const AGB: &str = "73730112";
const GEMEENTE: &str = "0363";
const BSN_A: &str = "999900304";
const BSN_B: &str = "999901023";

struct Setup {
    server: Server,
    provider: Api,
    gemeente: Api,
    _dir: tempfile::TempDir,
}

/// The project's Wmo contract for the provider, and the municipality's
/// mapping of the provider with the same products, except for a tariff of
/// 07A11 the provider does not declare (so loket's judgement rejects that
/// line with 0611); `person` sets `[declarations] decide = "person"`.
async fn setup(db: Db, person: bool) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mappings = dir.path().join("mappings");
    let out = dir.path().join("out");
    std::fs::create_dir_all(mappings.join(GEMEENTE)).expect("mappings");
    std::fs::create_dir_all(&out).expect("out");
    let folder = format!("delivery = {{ folder = \"{}\" }}", out.display());
    let (provider, products) = wmo_contract(&folder);
    std::fs::write(mappings.join("gemeente-0363-wmo.toml"), provider).expect("provider mapping");
    let products = products
        .replace("price_cents = 5214", "price_cents = 5000")
        .replace("price_cents = 5398", "price_cents = 5000");
    let decide = if person {
        "\n[declarations]\ndecide = \"person\"\n"
    } else {
        ""
    };
    std::fs::write(
        mappings.join(GEMEENTE).join(format!("aanbieder-{AGB}.toml")),
        format!(
            "[financier]\nkind = \"aanbieder\"\ncode = \"{AGB}\"\nname = \"Zorg B.V.\"\nstandard = \"iwmo\"\n\
             {folder}\n{decide}\n{products}"
        ),
    )
    .expect("municipality's provider mapping");
    let config = loket::config::Config {
        mappings_dir: mappings,
        ..loket::config::Config::default()
    };
    let server = Server::start_with(db, config).await;
    let provider = server.tenant_api(AGB).await;
    let gemeente = server.tenant_api(GEMEENTE).await;
    Setup {
        server,
        provider,
        gemeente,
        _dir: dir,
    }
}

/// The municipality grants `code` to the client; the provider receives the
/// 301. Returns the provider's participant id.
async fn grant(s: &Setup, bsn: &str, nummer: &str, code: &str) -> String {
    let grant = s
        .gemeente
        .post_json("/allocations", &grant_body(AGB, bsn, nummer, code))
        .await;
    assert_eq!(grant.status, 201, "{}", grant.body);
    let id = grant.body["message_id"].as_str().expect("message id");
    let xml = s.gemeente.message_xml(id).await;
    s.provider.post_xml(&xml).await;
    s.provider.participant_by_bsn(bsn).await
}

/// Two clients declared for March 2026 (07A12 and 07A11); the 323 taken in
/// by the municipality as the exchange's pull does. Returns the 323's and
/// the 325's ids at the municipality.
async fn declared(s: &Setup) -> (String, String) {
    let received = answered_at_once(s).await;
    let ids = loket::record::exchange::Ids {
        conversatie_id: uuid::Uuid::new_v4().to_string(),
        traceer_id: uuid::Uuid::new_v4().to_string(),
        als_antwoord_op: None,
    };
    let queued = loket::record::exchange::taken_in(
        s.server.state.store(),
        GEMEENTE,
        &[(received.message_id.clone(), ids)],
        loket::record::exchange::ReplyTo {
            kind: loket::outbox::TARGET_VSP,
            target: "https://vsp.test",
        },
    )
    .await
    .expect("taken in");
    assert_eq!(queued.len(), 1, "the 325 in the outbox");
    (received.message_id, queued[0].clone())
}

/// The same 323 taken in by the municipality's ingest alone, as `POST
/// /messages` and the drop folder do: the 325 is the answer itself.
async fn answered_at_once(s: &Setup) -> loket::record::Received {
    let a = grant(s, BSN_A, "990001", "07A12").await;
    let b = grant(s, BSN_B, "990002", "07A11").await;
    s.provider
        .days(&[
            (&a, "2026-03-03", "09:00", "12:00", "kas"),
            (&a, "2026-03-10", "09:00", "12:00", "kas"),
            (&b, "2026-03-04", "09:00", "12:00", "kas"),
        ])
        .await;
    let run = s.provider.run("2026-03", "2026-04-03").await;
    let declaration = run["declarations"][0]["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a 323: {run}"))
        .to_string();
    let xml = s.provider.message_xml(&declaration).await;
    let tenant = loket::store::Tenant {
        id: GEMEENTE.into(),
        kind: loket::store::TenantKind::Gemeente,
    };
    let received = s
        .server
        .state
        .ingest
        .receive(&tenant, xml.as_bytes())
        .await
        .expect("the 323 taken in");
    // "rejected" as a whole when a line is: the 325 still judges per line.
    assert!(!received.retour_xml.is_empty(), "a 325");
    received
}

fn line<'a>(view: &'a Value, code: &str) -> &'a Value {
    view["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["product_code"] == code)
        .unwrap_or_else(|| panic!("a {code} line: {view:#}"))
}

/// The provider's lines of the 323: product code -> (status, codes).
async fn provider_lines(s: &Setup, participant_bsn: &str) -> Value {
    let p = s.provider.participant_by_bsn(participant_bsn).await;
    let r = s.provider.get(&format!("/participants/{p}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["prestaties"].clone()
}

async fn a_held_325_waits_for_a_person(db: Db) {
    let s = setup(db, true).await;
    let (message, retour) = declared(&s).await;
    // Held: in the outbox, not queued.
    let item = s.gemeente.get(&format!("/outbox/{retour}")).await;
    assert_eq!(item.status, 200, "{}", item.body);
    assert_eq!(item.body["state"], "held", "{}", item.body);
    assert_schema("outbox-item", &item.body);
    // To the deadlines the 323 is still unanswered.
    let deadlines = s.gemeente.get("/deadlines").await;
    assert!(
        deadlines.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|d| d["kind"] == "declaratie_antwoord" && d["message_id"] == message.as_str()),
        "{}",
        deadlines.body
    );
    let path = format!("/declarations/received/{message}");
    let view = s.gemeente.get(&format!("{path}/decision")).await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert_schema("declaration-decisions", &view.body);
    assert_eq!(view.body["hold"]["state"], "held");
    let rejected = line(&view.body, "07A11");
    assert_eq!(rejected["status"], "rejected");
    assert!(rejected["retourcodes"].to_string().contains("0611"));
    assert!(!rejected["explained"][0]["nl"].as_str().unwrap().is_empty());
    let approved = line(&view.body, "07A12");
    assert_eq!(approved["status"], "approved");
    let (rejected, approved) = (
        rejected["id"].as_str().unwrap().to_string(),
        approved["id"].as_str().unwrap().to_string(),
    );

    // What is refused: a provider, a code that cannot reject a prestatie,
    // no reason, another tenant's declaration.
    let no = s
        .provider
        .post_json(
            &format!("{path}/lines/{approved}"),
            &json!({"decision": "reject", "retourcode": "9321", "reason": "x"}),
        )
        .await;
    assert_eq!(no.status, 403, "{}", no.body);
    let no = s
        .gemeente
        .post_json(
            &format!("{path}/lines/{approved}"),
            &json!({"decision": "reject", "retourcode": "0001", "reason": "x"}),
        )
        .await;
    assert_eq!(no.status, 422, "{}", no.body);
    assert!(
        no.body["error"]["nl"]
            .as_str()
            .unwrap_or_default()
            .contains("0001")
            || no.body.to_string().contains("0001")
    );
    let no = s
        .gemeente
        .post_json(
            &format!("{path}/lines/{approved}"),
            &json!({"decision": "reject", "retourcode": "9321"}),
        )
        .await;
    assert_eq!(no.status, 400, "{}", no.body);
    let no = s
        .gemeente
        .post_json(
            "/declarations/received/nope/lines/nope",
            &json!({"decision": "approve", "reason": "x"}),
        )
        .await;
    assert_eq!(no.status, 404, "{}", no.body);

    // The person's decisions: approve loket's rejection, reject an approval.
    let d = s
        .gemeente
        .post_json(
            &format!("{path}/lines/{rejected}"),
            &json!({"decision": "approve", "reason": "tarief 2026 met de aanbieder afgesproken"}),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["old_status"], "rejected");
    assert_eq!(d.body["new_status"], "approved");
    let d = s
        .gemeente
        .post_json(
            &format!("{path}/lines/{approved}"),
            &json!({"decision": "reject", "retourcode": "9321", "reason": "meer dagdelen dan afgesproken"}),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["old_status"], "approved");
    assert_eq!(d.body["new_codes"], json!(["9321"]));
    let view = s.gemeente.get(&format!("{path}/decision")).await;
    assert_schema("declaration-decisions", &view.body);
    let decisions = view.body["hold"]["decisions"]
        .as_array()
        .expect("decisions");
    assert_eq!(decisions.len(), 2, "{}", view.body);
    assert!(
        decisions
            .iter()
            .all(|d| d["actor"] != "" && d["role"] != "" && d["decided_at"] != "")
    );
    assert_eq!(line(&view.body, "07A11")["status"], "approved");
    assert_eq!(line(&view.body, "07A12")["status"], "rejected");
    // Still held until a person sends it.
    let item = s.gemeente.get(&format!("/outbox/{retour}")).await;
    assert_eq!(item.body["state"], "held");

    let sent = s
        .gemeente
        .post_json(&format!("{path}/release"), &json!({}))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["released_how"], "person");
    let item = s.gemeente.get(&format!("/outbox/{retour}")).await;
    assert_eq!(item.body["state"], "queued", "{}", item.body);
    let again = s
        .gemeente
        .post_json(
            &format!("{path}/lines/{approved}"),
            &json!({"decision": "approve", "reason": "te laat"}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let again = s
        .gemeente
        .post_json(&format!("{path}/release"), &json!({}))
        .await;
    assert_eq!(again.status, 409, "{}", again.body);

    // The rebuilt 325 is valid and the provider applies it as decided.
    let xml = s.gemeente.message_xml(&retour).await;
    let checked = loket::adapter::istandaard::check(
        loket::schema::Schema::builtin().expect("schema"),
        xml.as_bytes(),
        &loket::adapter::istandaard::config::Limits::default(),
    )
    .expect("decodes");
    assert!(checked.is_valid(), "{:?}\n{xml}", checked.findings);
    assert!(xml.contains("9321") && !xml.contains("0611"), "{xml}");
    s.provider.post_xml(&xml).await;
    let a = provider_lines(&s, BSN_A).await;
    assert_eq!(a[0]["status"], "rejected", "{a}");
    assert!(a[0]["retourcodes"].to_string().contains("9321"), "{a}");
    let b = provider_lines(&s, BSN_B).await;
    assert_eq!(b[0]["status"], "approved", "{b}");
}

async fn a_held_325_leaves_before_its_term(db: Db) {
    let s = setup(db, true).await;
    let (message, retour) = declared(&s).await;
    let store = s.server.state.store();
    let today = loket::registration::today();
    // Ten working days: released on the eighth, not before.
    let calendar = loket::calendar::Calendar::builtin().expect("calendar");
    let early = calendar.add_working_days(today, 7);
    assert_eq!(
        loket::record::decisions::release_due(store, early)
            .await
            .expect("run"),
        0
    );
    let item = s.gemeente.get(&format!("/outbox/{retour}")).await;
    assert_eq!(item.body["state"], "held");
    let due = calendar.add_working_days(today, 8);
    assert_eq!(
        loket::record::decisions::release_due(store, due)
            .await
            .expect("run"),
        1
    );
    let item = s.gemeente.get(&format!("/outbox/{retour}")).await;
    assert_eq!(item.body["state"], "queued");
    let view = s
        .gemeente
        .get(&format!("/declarations/received/{message}/decision"))
        .await;
    assert_eq!(
        view.body["hold"]["released_how"], "deadline",
        "{}",
        view.body
    );
    assert_eq!(view.body["hold"]["released_by"], "loket");
    // loket's own judgement left: the 0611 line rejected.
    let xml = s.gemeente.message_xml(&retour).await;
    assert!(xml.contains("0611"), "{xml}");
}

/// With a person deciding, a 323 answered at once (its 325 went back as
/// the HTTP answer or beside the drop-folder file) waits for nobody: the
/// export shows loket's verdicts, not `ingediend`, and nothing can be
/// decided or released any more.
async fn an_answer_given_at_once_holds_nothing(db: Db) {
    let s = setup(db, true).await;
    let received = answered_at_once(&s).await;
    let message = received.message_id;
    let export = s.gemeente.get("/declarations/received").await;
    assert_eq!(export.status, 200, "{}", export.body);
    let statuses: Vec<&str> = export.body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter(|l| l["message_id"] == message.as_str())
        .map(|l| l["status"].as_str().unwrap_or_default())
        .collect();
    assert!(!statuses.is_empty(), "{}", export.body);
    assert!(
        statuses
            .iter()
            .all(|s| *s == "goedgekeurd" || *s == "afgekeurd"),
        "{statuses:?}"
    );
    let no = s
        .gemeente
        .post_json(
            &format!("/declarations/received/{message}/release"),
            &json!({}),
        )
        .await;
    assert!(no.status == 409 || no.status == 404, "{}", no.body);
}

async fn automatic_is_unchanged(db: Db) {
    let s = setup(db, false).await;
    let (message, retour) = declared(&s).await;
    let item = s.gemeente.get(&format!("/outbox/{retour}")).await;
    assert_eq!(item.body["state"], "queued", "{}", item.body);
    let view = s
        .gemeente
        .get(&format!("/declarations/received/{message}/decision"))
        .await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert_schema("declaration-decisions", &view.body);
    assert!(view.body["hold"].is_null(), "{}", view.body);
    let no = s
        .gemeente
        .post_json(
            &format!("/declarations/received/{message}/release"),
            &json!({}),
        )
        .await;
    assert_eq!(no.status, 404, "{}", no.body);
}

async fn the_pages_keep_roles_and_tenants_apart(db: Db) {
    use loket::web::demo::{DEMO_AGB, DEMO_GEMEENTE, DEMO_PASSWORD};
    let (s, _demo) = Server::start_demo(db).await;
    let pool = s.state.store().pool();
    let (message, line): (String, String) = sqlx::query_as(
        "SELECT j.message_id, j.id FROM judged_prestaties j WHERE j.tenant_id = $1 AND j.status = 'rejected'",
    )
    .bind(DEMO_GEMEENTE)
    .fetch_one(pool)
    .await
    .expect("the demo's rejected line");
    let page = format!("/gemeente/declaraties/{message}");

    let mut look = WebClient::new(&s.base);
    assert_eq!(
        look.login(DEMO_GEMEENTE, "meekijker", DEMO_PASSWORD)
            .await
            .status,
        303
    );
    let home = look.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/gemeente/declaraties"));
    for path in [
        "/gemeente/declaraties",
        "/gemeente/toewijzingen",
        "/gemeente/verzoeken",
        &page,
    ] {
        let p = look.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
    }
    let shown = look.get(&page).await;
    assert!(
        shown.body.contains("wacht op uw beslissing"),
        "{}",
        shown.body
    );
    assert!(
        !shown.body.contains("/regels/"),
        "no decision forms for a looker"
    );
    let csrf = shown.csrf();
    let no = look
        .post(&format!("{page}/versturen"), &[("csrf", &csrf)])
        .await;
    assert_eq!(no.status, 403);

    let mut provider = WebClient::new(&s.base);
    assert_eq!(
        provider
            .login(DEMO_AGB, "backoffice", DEMO_PASSWORD)
            .await
            .status,
        303
    );
    for path in ["/gemeente/declaraties", &page] {
        assert_eq!(provider.get(path).await.status, 404, "{path}");
    }

    let mut decide = WebClient::new(&s.base);
    assert_eq!(
        decide
            .login(DEMO_GEMEENTE, "beoordelaar", DEMO_PASSWORD)
            .await
            .status,
        303
    );
    let shown = decide.get(&page).await;
    assert!(shown.body.contains("325 versturen"), "{}", shown.body);
    let form = [
        ("csrf", "niet-van-deze-sessie"),
        ("besluit", "goedkeuren"),
        ("reden", "in overleg"),
    ];
    let no = decide.post(&format!("{page}/regels/{line}"), &form).await;
    assert_eq!(no.status, 403, "another session's CSRF token");
    let csrf = shown.csrf();
    let done = decide
        .post(
            &format!("{page}/regels/{line}"),
            &[
                ("csrf", &csrf),
                ("besluit", "goedkeuren"),
                ("reden", "in overleg"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert!(
        done.location
            .as_deref()
            .unwrap_or_default()
            .contains("melding=beslissing-opgeslagen")
    );
    let no_code = decide
        .post(
            &format!("{page}/regels/{line}"),
            &[("csrf", &csrf), ("besluit", "afkeuren"), ("reden", "x")],
        )
        .await;
    assert!(
        no_code
            .location
            .as_deref()
            .unwrap_or_default()
            .contains("melding=beslissing-ongeldig")
    );
    let sent = decide
        .post(&format!("{page}/versturen"), &[("csrf", &csrf)])
        .await;
    assert!(
        sent.location
            .as_deref()
            .unwrap_or_default()
            .contains("melding=325-verstuurd")
    );
    let again = decide
        .post(&format!("{page}/versturen"), &[("csrf", &csrf)])
        .await;
    assert!(
        again
            .location
            .as_deref()
            .unwrap_or_default()
            .contains("melding=325-al-verstuurd")
    );
    let after = decide.get(&page).await;
    assert!(
        after.body.contains("Greet (beoordelaar Wmo)"),
        "{}",
        after.body
    );
    assert!(
        !after.body.contains("/regels/"),
        "no decisions after sending"
    );
    // Who looked is in the access log.
    let views: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_log WHERE tenant_id = $1 AND actor = 'meekijker'",
    )
    .bind(DEMO_GEMEENTE)
    .fetch_one(pool)
    .await
    .expect("access log");
    assert!(views > 0);
}
