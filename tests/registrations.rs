//! End-to-end tests of the daily registration input: `POST /registrations`
//! and `GET /registrations` over HTTP against the real router, and
//! `loket import registrations` run as the built binary against the same
//! database.
//!
//! Like `tests/http_api.rs`, every test runs on a fresh SQLite store and, when
//! `LOKET_TEST_DATABASE_URL` is set, on a PostgreSQL database of its own.
//! Participants are made the way they arrive in production: by posting a
//! WMO301 (the fixture, or a variant with another BSN and allocation).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    registrations_are_stored_and_listed,
    corrections_keep_history,
    concurrent_corrections_leave_one_current,
    an_invalid_item_stores_nothing_unless_valid_only,
    schema_errors_name_the_paths,
    tenants_see_only_their_own_registrations,
    cli_import_all_or_nothing_valid_only_and_corrections,
);

// ---------------------------------------------------------------------------
// Server and client.

impl Api {
    /// `POST /registrations`; the answer must follow its schema.
    async fn register(&self, body: &Value) -> Reply {
        let reply = self.post_json("/registrations", body).await;
        let schema = if reply.status == 400 {
            "error"
        } else {
            "registrations-result"
        };
        assert_schema(schema, &reply.body);
        reply
    }

    /// `GET /registrations?...` (200, following its schema).
    async fn registrations(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/registrations?{query}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_schema("registration-list", &reply.body);
        reply.body["registrations"]
            .as_array()
            .expect("registrations")
            .clone()
    }

    /// Posts a WMO301 (the fixture with this BSN, allocation number and
    /// message id, addressed to this tenant) and returns the participant's id.
    async fn participant(&self, bsn: &str, nummer: &str, ident: &str) -> String {
        let xml = with_text(&wmo301(bsn, nummer, ident), "Ontvanger", &self.tenant);
        let res = self
            .http
            .post(format!("{}/messages", self.base))
            .bearer_auth(&self.token)
            .body(xml)
            .send()
            .await
            .expect("post 301");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()
                .get("x-loket-status")
                .and_then(|v| v.to_str().ok()),
            Some("accepted")
        );
        let found = self
            .post_json("/participants/search", &json!({"bsn": bsn}))
            .await;
        assert_eq!(found.status, 200, "{}", found.body);
        found.body["id"].as_str().expect("id").to_string()
    }
}

// ---------------------------------------------------------------------------
// Fixtures.

/// The client of the WMO301 fixture, its allocation number and receiver.
const BSN1: &str = "999901023";
const NUMMER1: &str = "300145";
const TENANT: &str = "73730112";
/// A second client (made from the fixture) and one loket does not know.
const BSN2: &str = "999900304";
const NUMMER2: &str = "300146";
const UNKNOWN_BSN: &str = "999900328";
const ALL_BSNS: [&str; 3] = [BSN1, BSN2, UNKNOWN_BSN];

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_path(rel: &str) -> PathBuf {
    manifest().join("fixtures").join(rel)
}

/// The WMO301 fixture with every text of element `local` replaced.
fn with_text(xml: &str, local: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    let mut replaced = 0;
    while let Some(start) = rest.find(&format!(":{local}>")) {
        let open = rest[..start].rfind('<').expect("tag");
        let gt = start + local.len() + 2;
        if rest[open..].starts_with("</") {
            out.push_str(&rest[..gt]);
            rest = &rest[gt..];
            continue;
        }
        let end = rest[gt..].find('<').map(|i| gt + i).expect("text end");
        out.push_str(&rest[..gt]);
        out.push_str(value);
        rest = &rest[end..];
        replaced += 1;
    }
    assert!(replaced > 0, "no element {local}");
    out.push_str(rest);
    out
}

fn wmo301(bsn: &str, nummer: &str, ident: &str) -> String {
    let xml =
        std::fs::read_to_string(fixture_path("iwmo/valid/WMO301_omvang.xml")).expect("fixture");
    let xml = with_text(&xml, "Bsn", bsn);
    let xml = with_text(&xml, "ToewijzingNummer", nummer);
    with_text(&xml, "Identificatie", ident)
}

fn days_ago(n: u64) -> String {
    let today: NaiveDate = chrono::Local::now().date_naive();
    (today - Days::new(n)).to_string()
}

fn assert_no_bsn(what: &str, text: &str) {
    for bsn in ALL_BSNS {
        assert!(!text.contains(bsn), "{what} contains a BSN:\n{text}");
    }
}

fn errors_paths(reply: &Reply) -> Vec<String> {
    reply.body["error"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn outcomes(reply: &Reply) -> Vec<String> {
    reply.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome").to_string())
        .collect()
}

fn assert_no_bsn_in_logs() {
    let logs = captured_logs();
    assert!(
        logs.contains("registrations"),
        "the handler logs its counts"
    );
    assert_no_bsn("the logs", &logs);
}

// ---------------------------------------------------------------------------
// The cases.

async fn registrations_are_stored_and_listed(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(TENANT).await;
    let p1 = api.participant(BSN1, NUMMER1, "AP2611010001").await;
    let (d1, d2, d3) = (days_ago(3), days_ago(2), days_ago(1));
    let reply = api
        .register(&json!({
            "registered_by": "Anna de Vries",
            "registrations": [
                {"bsn": BSN1, "date": d1, "present": true, "from": "09:00", "to": "15:30",
                 "activity": "houtwerkplaats", "allocation": NUMMER1},
                {"participant_id": p1, "date": d2, "present": false, "reason": "sick"},
                {"participant_id": p1, "bsn": BSN1, "date": d3, "present": true, "dagdelen": 2,
                 "activity": "kas", "registered_by": "Bram Jansen"},
                {"bsn": BSN1, "date": d3, "present": true, "hours": 2.25, "activity": "koffiebranderij",
                 "allocation": NUMMER1},
            ]
        }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["stored"], true);
    assert_eq!(reply.body["counts"]["created"], 4);
    assert_eq!(outcomes(&reply), ["created"; 4]);
    let results = reply.body["results"].as_array().expect("results");
    assert!(results.iter().all(|r| r["participant_id"] == p1.as_str()));
    let allocation_id = results[0]["allocation_id"]
        .as_str()
        .expect("allocation resolved");
    assert_eq!(results[3]["allocation_id"], allocation_id);
    assert!(results[1].get("allocation_id").is_none());
    assert_no_bsn("the answer", &reply.body.to_string());

    let list = api.registrations(&format!("participant={p1}")).await;
    assert_eq!(list.len(), 4);
    let by_day = |d: &str, with_allocation: bool| {
        list.iter()
            .find(|r| r["date"] == d && r["allocation_id"].is_string() == with_allocation)
            .unwrap_or_else(|| panic!("registration {d} {with_allocation}"))
            .clone()
    };
    let first = by_day(&d1, true);
    assert_eq!(first["present"], true);
    assert_eq!(
        (first["from"].as_str(), first["to"].as_str()),
        (Some("09:00"), Some("15:30"))
    );
    assert_eq!(first["minutes"], 390);
    assert_eq!(first["activity"], "houtwerkplaats");
    assert_eq!(first["toewijzing_nummer"], NUMMER1);
    assert_eq!(first["registered_by"], "Anna de Vries");
    assert_eq!(first["source"], "api");
    let absent = by_day(&d2, false);
    assert_eq!(
        (absent["present"].as_bool(), absent["reason"].as_str()),
        (Some(false), Some("sick"))
    );
    assert!(absent["minutes"].is_null() && absent["dagdelen"].is_null());
    let third = by_day(&d3, false);
    assert_eq!(
        (third["dagdelen"].as_i64(), third["registered_by"].as_str()),
        (Some(2), Some("Bram Jansen"))
    );
    assert_eq!(by_day(&d3, true)["minutes"], 135);

    // Date filters.
    assert_eq!(
        api.registrations(&format!("from={d2}&to={d3}")).await.len(),
        3
    );
    assert_eq!(api.registrations(&format!("to={d1}")).await.len(), 1);
    assert_eq!(api.registrations("limit=1&offset=1").await.len(), 1);
    let bad = api.get("/registrations?from=gisteren").await;
    assert_eq!(bad.status, 400);
    assert_schema("error", &bad.body);
    assert_no_bsn_in_logs();
}

async fn corrections_keep_history(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(TENANT).await;
    let p1 = api.participant(BSN1, NUMMER1, "AP2611010001").await;
    let day = days_ago(5);
    let body = |by: &str, item: Value| json!({"registered_by": by, "registrations": [item]});

    let first = api
        .register(&body(
            "Anna",
            json!({"bsn": BSN1, "date": day, "present": true, "from": "09:00", "to": "12:00", "activity": "kas"}),
        ))
        .await;
    assert_eq!(outcomes(&first), ["created"]);
    let v1 = first.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // A correction: the participant stayed longer.
    let second = api
        .register(&body(
            "Bram",
            json!({"participant_id": p1, "date": day, "present": true, "from": "09:00", "to": "15:00", "activity": "kas"}),
        ))
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(outcomes(&second), ["corrected"]);
    assert_eq!(second.body["results"][0]["replaces"], v1.as_str());
    let v2 = second.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_ne!(v1, v2);

    // The same again changes nothing.
    let third = api
        .register(&body(
            "Carla",
            json!({"bsn": BSN1, "date": day, "present": true, "from": "09:00", "to": "15:00", "activity": "kas"}),
        ))
        .await;
    assert_eq!(outcomes(&third), ["unchanged"]);
    assert_eq!(third.body["results"][0]["id"], v2.as_str());
    assert_eq!(third.body["counts"]["unchanged"], 1);

    // Then: was not there after all.
    let fourth = api
        .register(&body(
            "Carla",
            json!({"bsn": BSN1, "date": day, "present": false, "reason": "no_show"}),
        ))
        .await;
    assert_eq!(outcomes(&fourth), ["corrected"]);
    assert_eq!(fourth.body["results"][0]["replaces"], v2.as_str());
    let v3 = fourth.body["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();

    let current = api.registrations("").await;
    assert_eq!(current.len(), 1, "one current registration per day");
    assert_eq!(current[0]["id"], v3.as_str());
    assert!(current[0].get("history").is_none());
    let with_history = api.registrations("history=true").await;
    let reg = &with_history[0];
    assert_eq!(reg["present"], false);
    assert_eq!(reg["reason"], "no_show");
    assert_eq!(reg["registered_by"], "Carla");
    let history = reg["history"].as_array().expect("history");
    let ids: Vec<&str> = history.iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(ids, [v2.as_str(), v1.as_str()], "newest first");
    assert_eq!(history[0]["superseded_by"], v3.as_str());
    assert_eq!(history[1]["superseded_by"], v2.as_str());
    assert_eq!(history[0]["registered_by"], "Bram");
    assert_eq!(history[0]["minutes"], 360);
    assert_eq!(history[1]["registered_by"], "Anna");
    assert_eq!(history[1]["minutes"], 180);
    for h in history {
        assert!(h["superseded_at"].is_string() && h["registered_at"].is_string());
        assert!(h["superseded_at"].as_str() >= h["registered_at"].as_str());
    }

    // A registration for the allocation is another one, beside it.
    let other = api
        .register(&body(
            "Anna",
            json!({"bsn": BSN1, "date": day, "present": true, "hours": 3, "allocation": NUMMER1}),
        ))
        .await;
    assert_eq!(outcomes(&other), ["created"]);
    assert_eq!(api.registrations("").await.len(), 2);
}

async fn concurrent_corrections_leave_one_current(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(TENANT).await;
    api.participant(BSN1, NUMMER1, "AP2611010001").await;
    let day = days_ago(4);
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let api = api.clone();
        let day = day.clone();
        tasks.push(tokio::spawn(async move {
            let to = format!("{:02}:00", 10 + i);
            api.register(&json!({
                "registered_by": format!("medewerker {i}"),
                "registrations": [{"bsn": BSN1, "date": day, "present": true, "from": "09:00", "to": to}]
            }))
            .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let reply = t.await.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.body);
        match outcomes(&reply)[0].as_str() {
            "created" => created += 1,
            "corrected" => {}
            other => panic!("outcome {other}"),
        }
    }
    assert_eq!(created, 1, "one first registration, the rest corrections");
    let list = api.registrations("history=true").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["history"].as_array().expect("history").len(), 7);
}

async fn an_invalid_item_stores_nothing_unless_valid_only(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(TENANT).await;
    api.participant(BSN1, NUMMER1, "AP2611010001").await;
    let items = json!([
        {"bsn": BSN1, "date": days_ago(1), "present": true, "from": "09:00", "to": "12:00"},
        {"bsn": BSN1, "date": days_ago(2), "present": true, "from": "15:00", "to": "09:00"},
        {"bsn": UNKNOWN_BSN, "date": days_ago(2), "present": false, "reason": "holiday"},
        {"bsn": BSN1, "date": days_ago(3), "present": false},
        {"bsn": BSN1, "date": days_ago(4), "present": true},
        {"bsn": BSN1, "date": days_ago(0), "present": true, "hours": 1, "allocation": "999999"},
        {"participant_id": "no-such-id", "date": days_ago(5), "present": true, "hours": 1},
        {"bsn": BSN1, "date": days_ago(1), "present": true, "dagdelen": 1},
        {"bsn": BSN1, "date": "2999-01-01", "present": true, "dagdelen": 1},
    ]);
    let reply = api
        .register(&json!({"registered_by": "Anna", "registrations": items}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["stored"], false);
    assert_eq!(
        outcomes(&reply),
        [
            "not_stored",
            "invalid",
            "not_found",
            "invalid",
            "invalid",
            "not_found",
            "not_found",
            "invalid",
            "invalid"
        ]
    );
    let paths = errors_paths(&reply);
    for p in [
        "/registrations/1/to",
        "/registrations/2/bsn",
        "/registrations/3/reason",
        "/registrations/4/present",
        "/registrations/5/allocation",
        "/registrations/6/participant_id",
        "/registrations/7",
        "/registrations/8/date",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} in {paths:?}");
    }
    let unknown = &reply.body["results"][2]["errors"][0];
    assert_eq!(unknown["status"], 404);
    assert_eq!(reply.body["results"][1]["errors"][0]["status"], 422);
    // The duplicate points at the item it repeats.
    let dup = reply.body["results"][7]["errors"][0]["en"]
        .as_str()
        .expect("en");
    assert!(dup.contains("/registrations/0"), "{dup}");
    assert_no_bsn("the answer", &reply.body.to_string());
    assert!(api.registrations("").await.is_empty(), "nothing stored");

    // With valid_only the valid item is stored and the rest reported.
    let reply = api
        .register(&json!({"registered_by": "Anna", "valid_only": true, "registrations": items}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["stored"], true);
    let c = &reply.body["counts"];
    assert_eq!(
        (c["received"].as_u64(), c["created"].as_u64()),
        (Some(9), Some(1))
    );
    assert_eq!(
        (c["invalid"].as_u64(), c["not_found"].as_u64()),
        (Some(5), Some(3))
    );
    assert!(reply.body.get("error").is_none());
    assert_eq!(api.registrations("").await.len(), 1);
}

async fn schema_errors_name_the_paths(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(TENANT).await;
    let reply = api
        .register(&json!({
            "registered_by": "Anna",
            "registrations": [
                {"bsn": BSN1, "present": true, "hours": 2},
                {"bsn": "12345", "date": "2026-01-05", "present": "ja", "hours": 30},
                {"date": "2026-01-05", "present": true, "from": "9:00", "to": "12:00", "colour": "red"},
                {"bsn": BSN1, "date": "2026-01-05", "present": false, "reason": "ziek", "from": "09:00"},
            ]
        }))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let paths = errors_paths(&reply);
    for p in [
        "/registrations/0",
        "/registrations/1/bsn",
        "/registrations/1/present",
        "/registrations/1/hours",
        "/registrations/2",
        "/registrations/2/from",
        "/registrations/3/reason",
        "/registrations/3",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} in {paths:?}");
    }
    assert!(
        !reply.body.to_string().contains("12345"),
        "input values are not echoed"
    );
    assert_no_bsn("the answer", &reply.body.to_string());

    for (body, path) in [
        (
            json!({"registrations": [{"bsn": BSN1, "date": "2026-01-05", "present": false, "reason": "sick"}]}),
            "/",
        ),
        (
            json!({"registered_by": "Anna", "registrations": []}),
            "/registrations",
        ),
        (
            json!({"registered_by": "", "registrations": [{"bsn": BSN1, "date": "2026-01-05", "present": true, "hours": 1}]}),
            "/registered_by",
        ),
        (json!([{"bsn": BSN1}]), "/"),
    ] {
        let reply = api.register(&body).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(
            errors_paths(&reply).iter().any(|p| p == path),
            "{path}: {}",
            reply.body
        );
    }
    // Malformed JSON and a missing token.
    let res = reqwest::Client::new()
        .post(format!("{}/registrations", s.base))
        .bearer_auth(&api.token)
        .body("{\"registrations\": [")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let res = reqwest::Client::new()
        .post(format!("{}/registrations", s.base))
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 401);
    let res = reqwest::Client::new()
        .get(format!("{}/registrations", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
}

async fn tenants_see_only_their_own_registrations(db: Db) {
    let s = Server::start(db).await;
    let a = s.tenant_api(TENANT).await;
    let b = s.tenant_api("12345678").await;
    let p1 = a.participant(BSN1, NUMMER1, "AP2611010001").await;
    let day = days_ago(2);
    let ok = a
        .register(&json!({"registered_by": "Anna", "registrations": [
            {"bsn": BSN1, "date": day, "present": true, "hours": 4, "allocation": NUMMER1}
        ]}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let allocation_id = ok.body["results"][0]["allocation_id"]
        .as_str()
        .expect("allocation")
        .to_string();

    // Tenant B knows neither the participant (by BSN or id) nor the allocation.
    let reply = b
        .register(&json!({"registered_by": "Eve", "registrations": [
            {"bsn": BSN1, "date": day, "present": false, "reason": "other"},
            {"participant_id": p1, "date": day, "present": false, "reason": "other"},
        ]}))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(outcomes(&reply), ["not_found", "not_found"]);
    assert!(b.registrations("").await.is_empty());
    assert!(
        b.registrations(&format!("participant={p1}"))
            .await
            .is_empty()
    );

    // B's own participant with A's allocation id: unknown too; with its own
    // allocation number it is fine.
    b.participant(BSN2, NUMMER2, "AP2611010002").await;
    let foreign = b
        .register(&json!({"registered_by": "Eve", "registrations": [
            {"bsn": BSN2, "date": day, "present": true, "hours": 1, "allocation": allocation_id},
        ]}))
        .await;
    assert_eq!(outcomes(&foreign), ["not_found"]);
    assert_eq!(
        foreign.body["results"][0]["errors"][0]["path"],
        "/registrations/0/allocation"
    );
    let own = b
        .register(&json!({"registered_by": "Eve", "registrations": [
            {"bsn": BSN2, "date": day, "present": true, "hours": 1, "allocation": NUMMER2},
        ]}))
        .await;
    assert_eq!(outcomes(&own), ["created"]);
    assert_eq!(b.registrations("").await.len(), 1);

    // A's registration is untouched.
    let list = a.registrations("").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["present"], true);
}

fn stdout(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_bsn("stdout", &text);
    assert_no_bsn("stderr", &err);
    text
}

async fn cli_import_all_or_nothing_valid_only_and_corrections(db: Db) {
    let s = Server::start(db).await;
    let api = s.tenant_api(TENANT).await;
    let p1 = api.participant(BSN1, NUMMER1, "AP2611010001").await;
    let p2 = api.participant(BSN2, NUMMER2, "AP2611010002").await;
    let dir = fixture_path("registrations");

    // A file with wrong rows imports nothing, and says where and why.
    let fouten = dir.join("fouten.csv");
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), fouten.clone());
        move || run_import(&args.0, &args.1, &["--tenant", TENANT])
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let name = fouten.display().to_string();
    for (line, column) in [
        (3, "Tot"),
        (4, "Reden"),
        (5, "BSN"),
        (6, "Datum"),
        (7, "Aanwezig"),
        (8, "BSN"),
        (9, "Datum"),
    ] {
        let prefix = format!("FOUT/ERROR {name}:{line}: ");
        let found = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("line {line} reported:\n{text}"));
        assert!(
            found.contains(&format!("kolom/column {column:?}")),
            "{found}"
        );
        assert!(found.contains(" / "), "Dutch and English: {found}");
    }
    assert!(!text.contains(&format!("{name}:2:")) && !text.contains(&format!("{name}:10:")));
    assert!(text.contains("nothing imported"), "{text}");
    assert!(api.registrations("").await.is_empty());

    // --valid-only imports the two valid rows (and still exits 1).
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), fouten.clone());
        move || run_import(&args.0, &args.1, &["--tenant", TENANT, "--valid-only"])
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("2 nieuw/created"), "{text}");
    let list = api.registrations("").await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|r| {
        r["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("import:fouten.csv:"))
    }));

    // A clean spreadsheet export: everything in, exit 0; the tenant is the only one.
    let week = dir.join("week_puntkomma.csv");
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), week.clone());
        move || run_import(&args.0, &args.1, &["--registered-by", "Import Test"])
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("6 nieuw/created"), "{text}");
    assert!(text.contains("Naam"), "the ignored column is named: {text}");
    let jan = api
        .registrations(&format!("participant={p1}&from=2026-11-02&to=2026-11-04"))
        .await;
    assert_eq!(jan.len(), 3);
    let first = &jan[0];
    assert_eq!(
        (first["date"].as_str(), first["minutes"].as_i64()),
        (Some("2026-11-02"), Some(390))
    );
    assert_eq!(first["toewijzing_nummer"], NUMMER1);
    assert_eq!(first["activity"], "Houtwerkplaats");
    assert_eq!(first["registered_by"], "Anna de Vries");
    assert_eq!(first["source"], "import:week_puntkomma.csv:2");
    let els = api
        .registrations(&format!("participant={p2}&from=2026-11-02&to=2026-11-06"))
        .await;
    assert_eq!(els.len(), 3);
    assert_eq!(els[0]["dagdelen"], 2);
    assert_eq!(
        (els[1]["present"].as_bool(), els[1]["reason"].as_str()),
        (Some(false), Some("holiday"))
    );
    assert_eq!(
        (els[2]["date"].as_str(), els[2]["minutes"].as_i64()),
        (Some("2026-11-04"), Some(255))
    );

    // The comma-separated export with English headers.
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), dir.join("week_komma.csv"));
        move || {
            run_import(
                &args.0,
                &args.1,
                &["--tenant", TENANT, "--registered-by", "Import Test"],
            )
        }
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("4 nieuw/created"), "{text}");
    let fifth = api.registrations("from=2026-11-05&to=2026-11-05").await;
    assert_eq!(fifth.len(), 2);
    assert!(
        fifth
            .iter()
            .any(|r| r["minutes"] == 330 && r["activity"] == "kas")
    );
    assert!(
        fifth
            .iter()
            .any(|r| r["from"] == "08:30" && r["to"] == "12:00" && r["minutes"] == 210)
    );
    let no_show = api
        .registrations(&format!("participant={p2}&from=2026-11-06&to=2026-11-06"))
        .await;
    assert_eq!(no_show[0]["reason"], "no_show");
    assert_eq!(no_show[0]["registered_by"], "Import Test");

    // Corrections: two changed, one the same; the earlier versions are kept.
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), dir.join("correcties.csv"));
        move || run_import(&args.0, &args.1, &["--tenant", TENANT])
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("0 nieuw/created, 2 gecorrigeerd/corrected, 1 ongewijzigd/unchanged"),
        "{text}"
    );
    let third = api
        .registrations(&format!(
            "participant={p1}&from=2026-11-03&to=2026-11-03&history=true"
        ))
        .await;
    assert_eq!(third.len(), 1);
    assert_eq!(
        (third[0]["to"].as_str(), third[0]["registered_by"].as_str()),
        (Some("13:00"), Some("Carla Smit"))
    );
    let history = third[0]["history"].as_array().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (
            history[0]["to"].as_str(),
            history[0]["registered_by"].as_str()
        ),
        (Some("12:30"), Some("Anna de Vries"))
    );
    assert_eq!(history[0]["superseded_by"], third[0]["id"]);

    // Unusable input: exit 2, nothing imported.
    let bad = s.db.dir.path().join("latin1.csv");
    std::fs::write(
        &bad,
        b"bsn;datum;activiteit\n999901023;05-11-2026;caf\xe9\n",
    )
    .expect("write");
    let out = tokio::task::spawn_blocking({
        let args = s.store_args();
        move || run_import(&args, &bad, &["--tenant", TENANT])
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("CSV UTF-8"), "{text}");
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), dir.join("week_komma.csv"));
        move || run_import(&args.0, &args.1, &["--tenant", "87654321"])
    })
    .await
    .expect("import");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    // An activity no contract knows: imported, and the row is reported as
    // a warning with its line and the activity.
    let typo = s.db.dir.path().join("tikfout.csv");
    std::fs::write(
        &typo,
        format!(
            "bsn;datum;uren;activiteit\n{BSN1};10-11-2026;5,5;kas\n{BSN1};11-11-2026;5,5;kass\n"
        ),
    )
    .expect("write");
    let out = tokio::task::spawn_blocking({
        let args = (s.store_args(), typo.clone());
        move || run_import(&args.0, &args.1, &["--tenant", TENANT])
    })
    .await
    .expect("import");
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning, not an error: {text}"
    );
    assert!(text.contains("2 nieuw/created"), "{text}");
    let warning = format!(
        "LET OP/WARNING {}:3: kolom/column \"activiteit\": activiteit \"kass\": geen contract kent deze activiteit",
        typo.display()
    );
    assert!(text.contains(&warning), "{text}");
    assert_eq!(text.matches("LET OP/WARNING").count(), 1, "{text}");
}

fn run_import(store_args: &[String], file: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec![
        "import".into(),
        "registrations".into(),
        file.display().to_string(),
    ];
    args.extend(store_args.iter().cloned());
    args.extend(extra.iter().map(|a| (*a).to_string()));
    Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(&args)
        .env("LOKET_LOG", "warn")
        .env_remove("LOKET_DATABASE_URL")
        .env_remove("LOKET_DATA_DIR")
        .output()
        .expect("loket runs")
}
