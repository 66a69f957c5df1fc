//! End to end over HTTP: the standard's answer deadlines (`GET /deadlines`,
//! the `loket_deadlines_overdue` gauge, the Termijnen page's data) and the
//! conversation ledger in `GET /messages/{id}`, for a provider and a
//! municipality. Each situation is put in the record as the ingest and the
//! outbox leave it, with dates in 2020 so that every clock has run out; the
//! answer is then recorded the same way and the item is gone. Every case
//! runs on SQLite and, with `LOKET_TEST_DATABASE_URL`, PostgreSQL.

use serde_json::Value;
use sqlx::AnyPool;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    provider_deadlines,
    municipality_deadlines,
    starts_and_stops_follow_the_run,
    the_back_office_sees_what_is_overdue,
);

const AGB: &str = "73730112";
const GEMEENTE: &str = "0363";

/// A stored message, as the ingest or the outbox writes one.
struct Msg<'a> {
    id: &'a str,
    tenant: &'a str,
    direction: &'a str,
    bericht: &'a str,
    status: &'a str,
    sender: &'a str,
    receiver: &'a str,
    participant: Option<&'a str>,
    answer_of: Option<&'a str>,
    at: &'a str,
}

async fn message(pool: &AnyPool, m: Msg<'_>) {
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, direction, standard, bericht, sender, receiver, identificatie, dagtekening, \
         participant_id, status, raw, answer_of, created_at) \
         VALUES ($1, $2, $3, NULL, $4, $5, $6, $1, '2020-03-02', $7, $8, $9, $10, $11)",
    )
    .bind(m.id)
    .bind(m.tenant)
    .bind(m.direction)
    .bind(m.bericht)
    .bind(m.sender)
    .bind(m.receiver)
    .bind(m.participant)
    .bind(m.status)
    .bind(b"<Bericht/>".to_vec())
    .bind(m.answer_of)
    .bind(m.at)
    .execute(pool)
    .await
    .expect("message");
}

/// An outbox row for an outbound message in `state`, sent at `sent_at`.
async fn outbox(pool: &AnyPool, id: &str, bericht: &str, state: &str, sent_at: Option<&str>) {
    sqlx::query(
        "INSERT INTO outbox (message_id, tenant_id, financier, bericht, identificatie, target_kind, target, state, \
         attempts, next_attempt_at, created_at, updated_at, sent_at) \
         VALUES ($1, $2, 'wmo:0363', $3, $1, 'http', 'http://127.0.0.1:9/none', $4, 1, '2020-03-02T09:00:00.000Z', \
         '2020-03-02T09:00:00.000Z', '2020-03-02T09:00:00.000Z', $5)",
    )
    .bind(id)
    .bind(AGB)
    .bind(bericht)
    .bind(state)
    .bind(sent_at)
    .execute(pool)
    .await
    .expect("outbox");
}

async fn exec(pool: &AnyPool, sql: &str, binds: &[&str]) {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `GET /deadlines` (schema-checked) and its items.
async fn deadlines(api: &Api, query: &str) -> Vec<Value> {
    let reply = api.get(&format!("/deadlines{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("deadlines", &reply.body);
    reply.body["items"].as_array().expect("items").clone()
}

fn find<'a>(items: &'a [Value], kind: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["kind"] == kind).collect()
}

async fn provider_deadlines(db: Db) {
    let server = Server::start(db).await;
    let api = server.tenant_api(AGB).await;
    let pool = server.state.store().pool().clone();
    let ts = "2020-03-02T08:00:00.000Z";
    exec(
        &pool,
        "INSERT INTO participants (id, tenant_id, bsn, name_json, created_at, updated_at) \
         VALUES ('p1', $1, '999901023', '{\"Geslachtsnaam\":\"Termijn\"}', $2, $2)",
        &[AGB, ts],
    )
    .await;
    exec(
        &pool,
        "INSERT INTO financiers (id, tenant_id, kind, code, standard) VALUES ('f1', $1, 'wmo', '0363', 'iwmo')",
        &[AGB],
    )
    .await;
    exec(
        &pool,
        "INSERT INTO allocations (id, tenant_id, participant_id, financier_id, toewijzing_nummer, ingangsdatum, status, updated_at) \
         VALUES ('a1', $1, 'p1', 'f1', '1001', '2020-01-01', 'started', $2)",
        &[AGB, ts],
    )
    .await;
    let out = |id: &'static str, bericht: &'static str| Msg {
        id,
        tenant: AGB,
        direction: "out",
        bericht,
        status: "sent",
        sender: AGB,
        receiver: GEMEENTE,
        participant: Some("p1"),
        answer_of: None,
        at: ts,
    };
    // What the municipality sends back, answering `of`.
    let back =
        |id: &'static str, bericht: &'static str, of: Option<&'static str>, at: &'static str| Msg {
            direction: "in",
            status: "accepted",
            sender: GEMEENTE,
            receiver: AGB,
            answer_of: of,
            at,
            ..out(id, bericht)
        };
    // A 305 delivered on Monday 2 March 2020 without its 306: due Thursday 5 March.
    message(&pool, out("m305", "WMO305")).await;
    outbox(
        &pool,
        "m305",
        "WMO305",
        "sent",
        Some("2020-03-02T10:00:00.000Z"),
    )
    .await;
    // A start built for a first day of care, still failing in the outbox.
    message(&pool, out("m305b", "WMO305")).await;
    outbox(&pool, "m305b", "WMO305", "failed", None).await;
    exec(
        &pool,
        "INSERT INTO deliveries (id, tenant_id, kind, bsn_hash, toewijzing_nummer, begindatum, status_aanlevering, \
         message_id, created_at, allocation_id) VALUES ('d1', $1, 'start', 'h', '1001', '2020-02-03', '1', 'm305b', $2, 'a1')",
        &[AGB, ts],
    )
    .await;
    // A 315 delivered and taken in by its 316, not yet answered by a 301 or 319.
    message(&pool, out("m315", "WMO315")).await;
    outbox(
        &pool,
        "m315",
        "WMO315",
        "sent",
        Some("2020-03-02T10:00:00.000Z"),
    )
    .await;
    message(
        &pool,
        back("m316", "WMO316", Some("m315"), "2020-03-02T11:00:00.000Z"),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO requests (id, tenant_id, message_id, bericht, gemeente, referentie_aanbieder, bsn_hash, status, \
         created_at, participant_id, retour_message_id, direction) \
         VALUES ('r1', $1, 'm315', 'WMO315', '0363', 'REF1', 'h', 'answered', $2, 'p1', 'm316', 'out')",
        &[AGB, ts],
    )
    .await;
    // A 323 delivered without its 325.
    message(
        &pool,
        Msg {
            participant: None,
            ..out("m323", "WMO323")
        },
    )
    .await;
    outbox(
        &pool,
        "m323",
        "WMO323",
        "sent",
        Some("2020-03-02T10:00:00.000Z"),
    )
    .await;
    exec(
        &pool,
        "INSERT INTO declarations (id, tenant_id, financier_id, message_id, standard, declaratie_nummer, period_begin, \
         period_end, total_cents, status, created_at) \
         VALUES ('decl1', $1, 'f1', 'm323', 'iwmo', 'D1', '2020-02-01', '2020-02-29', 1000, 'sent', $2)",
        &[AGB, ts],
    )
    .await;

    let items = deadlines(&api, "").await;
    let retour = find(&items, "retour");
    assert_eq!(retour.len(), 1, "{items:#?}");
    assert_eq!(retour[0]["message_id"], "m305");
    assert_eq!(retour[0]["started_on"], "2020-03-02");
    assert_eq!(retour[0]["due_on"], "2020-03-05");
    assert_eq!(retour[0]["waiting_on"], "counterpart");
    assert_eq!(retour[0]["counterpart"], GEMEENTE);
    assert_eq!(retour[0]["overdue"], true);
    let start = find(&items, "start");
    assert_eq!(start.len(), 1, "{items:#?}");
    assert_eq!(start[0]["allocation_id"], "a1");
    assert_eq!(start[0]["started_on"], "2020-02-03");
    assert_eq!(start[0]["due_on"], "2020-02-10");
    assert_eq!(start[0]["waiting_on"], "loket");
    let verzoek = find(&items, "verzoek_antwoord");
    assert_eq!(verzoek.len(), 1, "{items:#?}");
    assert_eq!(verzoek[0]["request_id"], "r1");
    assert_eq!(verzoek[0]["participant_id"], "p1");
    assert_eq!(verzoek[0]["due_on"], "2020-03-09");
    let decl = find(&items, "declaratie_antwoord");
    assert_eq!(decl.len(), 1, "{items:#?}");
    assert_eq!(decl[0]["declaration_id"], "decl1");
    assert_eq!(decl[0]["due_on"], "2020-03-16");
    assert_eq!(items.len(), 4, "{items:#?}");
    assert!(items.iter().all(|i| i["overdue"] == true));
    // Nothing in the list is a BSN.
    assert!(
        !serde_json::to_string(&items)
            .expect("json")
            .contains("999901023")
    );
    // On an earlier reference date the retour still has days left.
    let early = deadlines(&api, "?date=2020-03-03").await;
    let r = find(&early, "retour");
    assert_eq!(r[0]["days_overdue"], -2);
    assert_eq!(r[0]["overdue"], false);
    assert!(
        find(
            &deadlines(&api, "?overdue=true&date=2020-03-03").await,
            "retour"
        )
        .is_empty()
    );
    // The list is a view of the participants it names.
    let logged: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM access_log WHERE tenant_id = $1 AND participant_id = 'p1' AND object = 'GET /deadlines'",
    )
    .bind(AGB)
    .fetch_one(&pool)
    .await
    .expect("access log");
    assert!(logged.0 >= 1);
    // The gauge counts them, by kind only.
    let metrics = api.metrics_text().await;
    for kind in ["retour", "start", "verzoek_antwoord", "declaratie_antwoord"] {
        assert!(
            metrics.contains(&format!("loket_deadlines_overdue{{kind=\"{kind}\"}} 1")),
            "{metrics}"
        );
    }
    assert!(
        metrics.contains("loket_deadlines_overdue{kind=\"stop\"} 0"),
        "{metrics}"
    );

    // The answers arrive.
    message(
        &pool,
        back("m306", "WMO306", Some("m305"), "2020-03-04T11:00:00.000Z"),
    )
    .await;
    exec(&pool, "UPDATE outbox SET state = 'sent', sent_at = '2020-03-04T10:00:00.000Z' WHERE message_id = 'm305b'", &[]).await;
    message(
        &pool,
        back("m306b", "WMO306", Some("m305b"), "2020-03-04T11:00:00.000Z"),
    )
    .await;
    message(
        &pool,
        back("m319", "WMO319", None, "2020-03-05T11:00:00.000Z"),
    )
    .await;
    // ... with the 320 the ingest answers it with at once.
    message(
        &pool,
        Msg {
            answer_of: Some("m319"),
            at: "2020-03-05T11:00:00.000Z",
            ..out("m320", "WMO320")
        },
    )
    .await;
    exec(
        &pool,
        "UPDATE requests SET status = 'accepted', answer_message_id = 'm319', answer_code = '2' WHERE id = 'r1'",
        &[],
    )
    .await;
    message(
        &pool,
        Msg {
            participant: None,
            ..back("m325", "WMO325", Some("m323"), "2020-03-10T11:00:00.000Z")
        },
    )
    .await;
    exec(
        &pool,
        "UPDATE declarations SET status = 'answered' WHERE id = 'decl1'",
        &[],
    )
    .await;
    let after = deadlines(&api, "").await;
    assert!(after.is_empty(), "{after:#?}");

    // A retour the exchange says answers a 305 (alsAntwoordOp = its
    // traceerId) ends the wait and joins the conversation, before anything
    // else linked it.
    message(&pool, out("v305", "WMO305")).await;
    outbox(
        &pool,
        "v305",
        "WMO305",
        "sent",
        Some("2020-03-02T10:00:00.000Z"),
    )
    .await;
    exec(
        &pool,
        "UPDATE messages SET traceer_id = 't-305' WHERE id = 'v305'",
        &[],
    )
    .await;
    assert_eq!(find(&deadlines(&api, "").await, "retour").len(), 1);
    message(
        &pool,
        back("v306", "WMO306", None, "2020-03-03T11:00:00.000Z"),
    )
    .await;
    exec(
        &pool,
        "UPDATE messages SET als_antwoord_op = 't-305' WHERE id = 'v306'",
        &[],
    )
    .await;
    assert!(deadlines(&api, "").await.is_empty());
    let reply = api.get("/messages/v305").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let conv = &reply.body["conversation"]["messages"];
    assert_eq!(conv.as_array().map(Vec::len), Some(2), "{conv:#}");
    assert_eq!(conv[1]["id"], "v306");
    assert_eq!(conv[1]["answers"], "v305");

    // The conversation of the 315, from its 319: 315 -> 316, 319.
    let reply = api.get("/messages/m319").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("message", &reply.body);
    let conv = &reply.body["conversation"]["messages"];
    let ids: Vec<&str> = conv
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["m315", "m316", "m319", "m320"], "{conv:#}");
    assert_eq!(conv[0]["role"], "heenbericht");
    assert_eq!(conv[1]["role"], "retour");
    assert_eq!(conv[1]["answers"], "m315");
    assert_eq!(conv[2]["answers"], "m315");
    assert_eq!(conv[3]["answers"], "m319");
    // A 323 and its 325.
    let reply = api.get("/messages/m323").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("message", &reply.body);
    let conv = &reply.body["conversation"]["messages"];
    assert_eq!(conv.as_array().map(Vec::len), Some(2), "{conv:#}");
    assert_eq!(conv[1]["id"], "m325");
    assert_eq!(conv[1]["role"], "antwoord");
}

async fn municipality_deadlines(db: Db) {
    let server = Server::start(db).await;
    let api = server.tenant_api(GEMEENTE).await;
    let pool = server.state.store().pool().clone();
    let ts = "2020-03-02T08:00:00.000Z";
    exec(
        &pool,
        "INSERT INTO participants (id, tenant_id, bsn, created_at, updated_at) VALUES ('p2', $1, '999901023', $2, $2)",
        &[GEMEENTE, ts],
    )
    .await;
    let inbound = |id: &'static str, bericht: &'static str| Msg {
        id,
        tenant: GEMEENTE,
        direction: "in",
        bericht,
        status: "accepted",
        sender: AGB,
        receiver: GEMEENTE,
        participant: Some("p2"),
        answer_of: None,
        at: ts,
    };
    // A 315 received and never answered: neither its 316 nor a 301 or 319.
    message(&pool, inbound("g315", "WMO315")).await;
    exec(
        &pool,
        "INSERT INTO requests (id, tenant_id, message_id, bericht, gemeente, referentie_aanbieder, bsn_hash, status, \
         created_at, participant_id, direction, aanbieder) \
         VALUES ('r2', $1, 'g315', 'WMO315', '0363', 'REF2', 'h', 'received', $2, 'p2', 'in', $3)",
        &[GEMEENTE, ts, AGB],
    )
    .await;
    // A 323 received without its 325: the 10-day deadline, not the retour.
    message(
        &pool,
        Msg {
            participant: None,
            ..inbound("g323", "WMO323")
        },
    )
    .await;
    // A 315 loket refused and could not address is not waiting for a retour.
    message(
        &pool,
        Msg {
            status: "rejected",
            ..inbound("g315x", "WMO315")
        },
    )
    .await;

    let items = deadlines(&api, "").await;
    let retour = find(&items, "retour");
    assert_eq!(retour.len(), 1, "{items:#?}");
    assert_eq!(retour[0]["message_id"], "g315");
    assert_eq!(retour[0]["waiting_on"], "loket");
    assert_eq!(retour[0]["counterpart"], AGB);
    let verzoek = find(&items, "verzoek_antwoord");
    assert_eq!(verzoek.len(), 1, "{items:#?}");
    assert_eq!(verzoek[0]["request_id"], "r2");
    assert_eq!(verzoek[0]["waiting_on"], "loket");
    let decl = find(&items, "declaratie_antwoord");
    assert_eq!(decl.len(), 1, "{items:#?}");
    assert_eq!(decl[0]["message_id"], "g323");
    assert_eq!(decl[0]["started_on"], "2020-03-02");
    assert_eq!(decl[0]["due_on"], "2020-03-16");
    assert_eq!(items.len(), 3, "{items:#?}");

    // loket answers: the 316, a 319, the 325.
    let out = |id: &'static str, bericht: &'static str, of: &'static str| Msg {
        direction: "out",
        status: "sent",
        answer_of: Some(of),
        at: "2020-03-02T08:00:01.000Z",
        ..inbound(id, bericht)
    };
    message(&pool, out("g316", "WMO316", "g315")).await;
    message(
        &pool,
        Msg {
            answer_of: None,
            ..out("g319", "WMO319", "")
        },
    )
    .await;
    exec(
        &pool,
        "UPDATE requests SET status = 'accepted', answer_message_id = 'g319' WHERE id = 'r2'",
        &[],
    )
    .await;
    message(
        &pool,
        Msg {
            participant: None,
            ..out("g325", "WMO325", "g323")
        },
    )
    .await;
    let after = deadlines(&api, "").await;
    assert!(after.is_empty(), "{after:#?}");

    // The 316's conversation reaches the 319 through the request.
    let reply = api.get("/messages/g316").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("message", &reply.body);
    let ids: Vec<&str> = reply.body["conversation"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["g315", "g316", "g319"]);
    // Messages of one exchange conversation belong together even where
    // nothing else links them (a retour pulled before it was placed).
    message(
        &pool,
        Msg {
            at: "2020-03-03T08:00:00.000Z",
            ..inbound("g305", "WMO305")
        },
    )
    .await;
    message(
        &pool,
        Msg {
            at: "2020-03-03T08:00:02.000Z",
            ..out("g306", "WMO306", "")
        },
    )
    .await;
    exec(
        &pool,
        "UPDATE messages SET conversatie_id = 'conv-a', answer_of = NULL WHERE id IN ('g305', 'g306')",
        &[],
    )
    .await;
    let reply = api.get("/messages/g305").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("message", &reply.body);
    assert_eq!(
        reply.body["conversation"]["conversatie_ids"],
        serde_json::json!(["conv-a"])
    );
    let ids: Vec<&str> = reply.body["conversation"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["g305", "g306"]);
    // Another tenant sees none of it.
    let other = server.tenant_api("0599").await;
    assert!(deadlines(&other, "").await.is_empty());
    assert_eq!(other.get("/messages/g316").await.status, 404);
}

/// The start and the stop as the start/stop run sees them: due from the
/// first registered day (and the end of care) until the 305 (307) has left
/// the outbox; then the clock for its retour runs.
async fn starts_and_stops_follow_the_run(db: Db) {
    let server = Server::start(db).await;
    let api = server.tenant_api(AGB).await;
    let pool = server.state.store().pool().clone();
    let bsn = "999901023";
    let xml = allocation_xml(
        "WMO",
        GEMEENTE,
        AGB,
        "SD1",
        bsn,
        &[dagbesteding("600001", "2026-01-01")],
    );
    let p = api.allocate(&xml, bsn).await;
    // The 301 was answered with its 302 at once: nothing is due.
    assert!(deadlines(&api, "?date=2026-02-02").await.is_empty());
    // Tuesday 3 February 2026 is the first day of care: the 305 is due
    // five working days later, before the run has built it.
    api.days(&[(&p, "2026-02-03", "09:00", "13:00", "kas")])
        .await;
    let items = deadlines(&api, "?date=2026-02-20").await;
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["kind"], "start");
    assert_eq!(items[0]["message_id"], Value::Null);
    assert_eq!(items[0]["participant_id"], p.as_str());
    assert_eq!(items[0]["started_on"], "2026-02-03");
    assert_eq!(items[0]["due_on"], "2026-02-10");
    assert_eq!(items[0]["days_overdue"], 8);
    assert_eq!(items[0]["counterpart"], GEMEENTE);
    let allocation = items[0]["allocation_id"].clone();
    // The run builds it; queued, it is not sent yet.
    let run = api
        .post_json("/startstop/run", &serde_json::json!({"date": "2026-02-20"}))
        .await;
    assert_eq!(run.status, 200, "{}", run.body);
    let items = deadlines(&api, "?date=2026-02-20").await;
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["kind"], "start");
    assert_eq!(items[0]["allocation_id"], allocation);
    let start_id = items[0]["message_id"]
        .as_str()
        .expect("queued 305")
        .to_string();
    assert_eq!(items[0]["bericht"], "WMO305");
    // Delivered: the start is done, its retour is awaited.
    exec(
        &pool,
        "UPDATE outbox SET state = 'sent', sent_at = '2026-02-20T10:00:00.000Z' WHERE message_id = $1",
        &[&start_id],
    )
    .await;
    let items = deadlines(&api, "?date=2026-02-20").await;
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["kind"], "retour");
    assert_eq!(items[0]["message_id"], start_id.as_str());
    assert_eq!(items[0]["due_on"], "2026-02-25");
    assert_eq!(items[0]["overdue"], false);
    // The end of care on Friday 6 March: the 307 is due on Friday 13 March.
    let end = api
        .post_json(
            &format!("/participants/{p}/end"),
            &serde_json::json!({"date": "2026-03-06", "reason": "volgens_plan", "registered_by": "Anna"}),
        )
        .await;
    assert_eq!(end.status, 201, "{}", end.body);
    let items = deadlines(&api, "?date=2026-03-20").await;
    let stop = find(&items, "stop");
    assert_eq!(stop.len(), 1, "{items:#?}");
    assert_eq!(stop[0]["started_on"], "2026-03-06");
    assert_eq!(stop[0]["due_on"], "2026-03-13");
    assert_eq!(stop[0]["overdue"], true);
}

/// The Termijnen page (back office only, in the navigation) lists the
/// overdue item with the participant's name and links to its conversation;
/// both pages are views of the participants they show.
async fn the_back_office_sees_what_is_overdue(db: Db) {
    use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
    let (s, _demo) = Server::start_demo(db).await;
    let pool = s.state.store().pool().clone();
    let (participant,): (String,) =
        sqlx::query_as("SELECT id FROM participants WHERE tenant_id = $1 ORDER BY id LIMIT 1")
            .bind(DEMO_AGB)
            .fetch_one(&pool)
            .await
            .expect("a demo participant");
    message(
        &pool,
        Msg {
            id: "web305",
            tenant: DEMO_AGB,
            direction: "out",
            bericht: "WMO305",
            status: "sent",
            sender: DEMO_AGB,
            receiver: GEMEENTE,
            participant: Some(&participant),
            answer_of: None,
            at: "2020-03-02T08:00:00.000Z",
        },
    )
    .await;
    sqlx::query(
        "INSERT INTO outbox (message_id, tenant_id, financier, bericht, identificatie, target_kind, target, state, \
         attempts, next_attempt_at, created_at, updated_at, sent_at) \
         VALUES ('web305', $1, 'wmo:0363', 'WMO305', 'web305', 'http', 'http://127.0.0.1:9/none', 'sent', 1, \
         '2020-03-02T09:00:00.000Z', '2020-03-02T09:00:00.000Z', '2020-03-02T09:00:00.000Z', '2020-03-02T10:00:00.000Z')",
    )
    .bind(DEMO_AGB)
    .execute(&pool)
    .await
    .expect("outbox");

    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(coach.get("/termijnen").await.status, 403);
    assert_eq!(coach.get("/berichten/web305").await.status, 403);

    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let page = office.get("/termijnen").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("href=\"/termijnen\""),
        "in the navigation"
    );
    assert!(page.body.contains("Verlopen ("), "{}", page.body);
    assert!(page.body.contains("Peildatum"), "{}", page.body);
    assert!(
        page.body.contains("href=\"/berichten/web305\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("href=\"/deelnemers/{participant}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("05-03-2020"),
        "the due date: {}",
        page.body
    );
    let conversation = office.get("/berichten/web305").await;
    assert_eq!(conversation.status, 200, "{}", conversation.body);
    assert!(conversation.body.contains("Gesprek"));
    assert!(conversation.body.contains("WMO305"));
    assert_eq!(office.get("/berichten/onbekend").await.status, 404);
    for object in ["GET /termijnen", "GET /berichten/{id}"] {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM access_log WHERE tenant_id = $1 AND participant_id = $2 AND object = $3",
        )
        .bind(DEMO_AGB)
        .bind(&participant)
        .bind(object)
        .fetch_one(&pool)
        .await
        .expect("access log");
        assert!(n >= 1, "{object} is logged");
    }
}
