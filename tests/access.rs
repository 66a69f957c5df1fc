//! NEN 7513 access log, the AVG export and retention, end to end over HTTP
//! on both backends: every kind of access leaves an entry with who, role,
//! tenant, participant and where from; the log refuses to be changed; the
//! beheer page filters and exports it and nobody else may read it; the
//! export holds everything about one participant and nothing of another;
//! retention pseudonymises exactly the participants past the period and a
//! second run changes nothing.

use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use serde_json::{Value, json};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    every_kind_of_access_is_logged_with_who_role_and_where,
    the_access_log_cannot_be_updated_or_deleted,
    the_beheer_page_filters_pages_and_exports_and_only_beheer_reads_it,
    the_avg_export_holds_every_kind_of_data_of_one_participant_only,
    retention_pseudonymises_exactly_the_participants_past_the_period,
);

/// The demo's API client (its token is printed at start).
fn demo_api(s: &Server, demo: &loket::web::demo::Demo) -> Api {
    Api {
        base: s.base.clone(),
        http: s.http.clone(),
        token: demo.api_token.clone().expect("the demo's API token"),
        tenant: DEMO_AGB.to_string(),
    }
}

async fn participants(s: &Server) -> Vec<(String, String)> {
    sqlx::query("SELECT id, bsn FROM participants WHERE tenant_id = $1 ORDER BY id")
        .bind(DEMO_AGB)
        .fetch_all(s.state.store().pool())
        .await
        .expect("participants")
        .iter()
        .map(|r| (r.get("id"), r.get("bsn")))
        .collect()
}

/// The access log entries of one participant, newest first, as the API
/// lists them.
async fn log_of(api: &Api, participant: &str) -> Vec<Value> {
    let reply = api
        .get(&format!("/access-log?participant={participant}&limit=1000"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("access-log", &reply.body);
    reply.body["items"].as_array().expect("items").clone()
}

/// Registers the end of a participant's care today through the API.
async fn end_care(api: &Api, participant: &str) {
    let today = loket::registration::today().to_string();
    let end = api
        .post_json(
            &format!("/participants/{participant}/end"),
            &json!({"date": today, "reason": "verhuizing", "registered_by": "Anna"}),
        )
        .await;
    assert_eq!(end.status, 201, "{}", end.body);
}

fn has(entries: &[Value], actor: &str, role: &str, kind: &str, object: &str) -> bool {
    entries.iter().any(|e| {
        e["actor"] == actor
            && e["role"] == role
            && e["kind"] == kind
            && e["object"].as_str().is_some_and(|o| o.contains(object))
    })
}

async fn every_kind_of_access_is_logged_with_who_role_and_where(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let api = demo_api(&s, &demo);
    let token_actor = format!(
        "api-token:{}",
        &loket::store::sha256_hex(&[&api.token])[..12]
    );
    // The declaration with the most participants, and one of them.
    let declaration: String = sqlx::query(
        "SELECT declaration_id FROM prestaties WHERE tenant_id = $1 GROUP BY declaration_id \
         ORDER BY COUNT(DISTINCT participant_id) DESC, declaration_id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a declaration")
    .get(0);
    let (pid, bsn): (String, String) = {
        let r = sqlx::query(
            "SELECT p.id, p.bsn FROM participants p JOIN prestaties x ON x.participant_id = p.id \
             WHERE x.declaration_id = $1 ORDER BY p.id LIMIT 1",
        )
        .bind(&declaration)
        .fetch_one(s.state.store().pool())
        .await
        .expect("a declared participant");
        (r.get(0), r.get(1))
    };

    // The web app: a page view, a change, an export, a declaration download.
    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "beheer", DEMO_PASSWORD).await;
    let page = office.get(&format!("/deelnemers/{pid}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Wie heeft dit dossier bekeken"));
    let set = office
        .post(
            &format!("/deelnemers/{pid}/groep"),
            &[("csrf", &page.csrf()), ("groep", "Kas")],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    assert_eq!(
        office.get(&format!("/deelnemers/{pid}/avg")).await.status,
        200
    );
    let xml = office
        .get(&format!("/declaraties/{declaration}/bericht"))
        .await;
    assert_eq!(xml.status, 200);
    assert_eq!(
        office
            .get(&format!("/declaraties/{declaration}"))
            .await
            .status,
        200
    );
    let in_declaration: Vec<String> =
        sqlx::query("SELECT DISTINCT participant_id FROM prestaties WHERE declaration_id = $1")
            .bind(&declaration)
            .fetch_all(s.state.store().pool())
            .await
            .expect("declared participants")
            .iter()
            .map(|r| r.get("participant_id"))
            .collect();
    assert!(in_declaration.len() > 1, "a declaration names many");

    // The API: a view by BSN (the BSN never reaches the log), a message
    // download, a change, an export.
    let found = api
        .post_json("/participants/search", &json!({"bsn": bsn}))
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    let message = found.body["messages"][0]["id"]
        .as_str()
        .expect("a message")
        .to_string();
    assert_eq!(api.get(&format!("/messages/{message}")).await.status, 200);
    end_care(&api, &pid).await;
    let export = api.get(&format!("/participants/{pid}/export")).await;
    assert_eq!(export.status, 200);

    // The API's lists and items are views of every participant they show.
    for (path, key, required) in [
        ("/registrations?limit=50", "registrations", true),
        ("/review?status=all&limit=50", "items", true),
        ("/outbox?limit=50", "items", true),
        // The demo may hold no request: checked when it does.
        ("/requests?limit=50", "items", false),
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let items = reply.body[key].as_array().expect("a list").clone();
        let Some(item) = items.iter().find(|i| i["participant_id"].is_string()) else {
            assert!(!required, "{path} shows a participant in the demo");
            continue;
        };
        let shown = item["participant_id"].as_str().expect("id").to_string();
        let route = path.split('?').next().unwrap_or(path);
        let mut objects = vec![format!("GET {route}")];
        if let Some(id) = item["id"].as_str().filter(|_| key == "items") {
            let one = format!("{route}/{id}");
            assert_eq!(api.get(&one).await.status, 200, "{one}");
            objects.push(format!("GET {one}"));
        }
        let theirs = log_of(&api, &shown).await;
        for object in objects {
            assert!(
                has(&theirs, &token_actor, "api", "view", &object),
                "{object} in {shown}'s log"
            );
        }
    }

    let entries = log_of(&api, &pid).await;
    for (actor, role, kind, object) in [
        ("beheer", "beheer", "view", "GET /deelnemers/{id}"),
        ("beheer", "beheer", "change", "POST /deelnemers/{id}/groep"),
        ("beheer", "beheer", "export", "GET /deelnemers/{id}/avg"),
        ("beheer", "beheer", "download", "/bericht"),
        (&token_actor, "api", "view", "POST /participants/search"),
        (
            &token_actor,
            "api",
            "download",
            &format!("GET /messages/{message}"),
        ),
        (&token_actor, "api", "change", "POST /participants/{id}/end"),
        (
            &token_actor,
            "api",
            "export",
            "GET /participants/{id}/export",
        ),
    ] {
        assert!(
            has(&entries, actor, role, kind, object),
            "{actor} {kind} {object} in {entries:#?}"
        );
    }
    for e in &entries {
        assert_eq!(e["participant_id"], pid.as_str());
        assert_eq!(e["peer"], "127.0.0.1", "the socket peer: {e}");
        assert!(!e.to_string().contains(&bsn), "never the BSN: {e}");
    }
    let web_view = entries
        .iter()
        .find(|e| e["object"] == "GET /deelnemers/{id}")
        .expect("the page view");
    assert_eq!(web_view["actor_name"], "Berend (beheer)");
    // The declaration download is logged for every participant in it.
    for other in &in_declaration {
        let theirs = log_of(&api, other).await;
        assert!(
            has(&theirs, "beheer", "beheer", "download", &declaration),
            "the download in {other}'s log"
        );
        assert!(
            has(&theirs, "beheer", "beheer", "view", "GET /declaraties/{id}"),
            "the declaration page in {other}'s log"
        );
    }
    // The daily registration: the form is a view of everyone on it, a
    // saved day a change, both by the begeleider.
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let yesterday = (loket::registration::today() - chrono::Duration::days(1)).to_string();
    let form = coach.get(&format!("/registratie?datum={yesterday}")).await;
    assert_eq!(form.status, 200);
    let listed = form
        .body
        .split("name=\"s.")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a participant on the form")
        .to_string();
    let field = format!("s.{listed}");
    let saved = coach
        .post(
            "/registratie",
            &[
                ("csrf", &form.csrf()),
                ("datum", &yesterday),
                (&field, "aanwezig"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let theirs = log_of(&api, &listed).await;
    assert!(has(
        &theirs,
        "jobcoach",
        "begeleider",
        "view",
        "GET /registratie"
    ));
    assert!(has(
        &theirs,
        "jobcoach",
        "begeleider",
        "change",
        "registrations"
    ));

    // The tenant is the log's: stored with the demo tenant.
    let tenants: i64 = sqlx::query(
        "SELECT COUNT(*) FROM access_log WHERE participant_id = $1 AND tenant_id <> $2",
    )
    .bind(&pid)
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("count")
    .get(0);
    assert_eq!(tenants, 0);
    assert!(
        !captured_logs().contains(&bsn),
        "no BSN in the daemon's logs"
    );
}

async fn the_access_log_cannot_be_updated_or_deleted(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let api = demo_api(&s, &demo);
    let (pid, _) = participants(&s).await[0].clone();
    assert_eq!(api.get(&format!("/participants/{pid}")).await.status, 200);
    let pool = s.state.store().pool();
    let before: i64 = sqlx::query("SELECT COUNT(*) FROM access_log")
        .fetch_one(pool)
        .await
        .expect("count")
        .get(0);
    assert!(before > 0);
    let update = sqlx::query("UPDATE access_log SET actor = 'iemand-anders'")
        .execute(pool)
        .await;
    let err = update.expect_err("an update is refused").to_string();
    assert!(err.contains("append-only"), "{err}");
    let delete = sqlx::query("DELETE FROM access_log").execute(pool).await;
    assert!(delete.is_err(), "a delete is refused");
    if s.state.store().backend == loket::store::Backend::Postgres {
        assert!(
            sqlx::query("TRUNCATE access_log")
                .execute(pool)
                .await
                .is_err(),
            "a truncate is refused"
        );
    }
    let after: i64 = sqlx::query("SELECT COUNT(*) FROM access_log WHERE actor <> 'iemand-anders'")
        .fetch_one(pool)
        .await
        .expect("count")
        .get(0);
    assert_eq!(after, before, "every entry as it was");
    // Opening the store again (a restart) keeps the guard in place.
    let again = s.state.store().clone();
    loket::store::guards::install(again.pool(), again.backend)
        .await
        .expect("idempotent");
    assert!(
        sqlx::query("DELETE FROM access_log")
            .execute(pool)
            .await
            .is_err()
    );
}

async fn the_beheer_page_filters_pages_and_exports_and_only_beheer_reads_it(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let api = demo_api(&s, &demo);
    let people = participants(&s).await;
    let (a, _) = people[0].clone();
    let (b, _) = people[1].clone();
    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(office.get(&format!("/deelnemers/{a}")).await.status, 200);
    }
    assert_eq!(office.get(&format!("/deelnemers/{b}")).await.status, 200);
    assert_eq!(
        api.get(&format!("/participants/{b}/export")).await.status,
        200
    );

    // Not for a begeleider or back office: 403.
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    for who in [&mut coach, &mut office] {
        assert_eq!(who.get("/toegang").await.status, 403);
        assert_eq!(who.get("/toegang.csv").await.status, 403);
        assert_eq!(who.get(&format!("/deelnemers/{a}/avg")).await.status, 403);
    }
    // The participant's own overview: back office yes, begeleider no.
    let own = office.get(&format!("/deelnemers/{a}/toegang")).await;
    assert_eq!(own.status, 200);
    assert!(own.body.contains("Wie heeft dit dossier bekeken"));
    assert_eq!(
        coach.get(&format!("/deelnemers/{a}/toegang")).await.status,
        403
    );

    let mut beheer = WebClient::new(&s.base);
    beheer.login(DEMO_AGB, "beheer", DEMO_PASSWORD).await;
    let home = beheer.get("/toegang").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("href=\"/toegang\""), "in the nav");
    assert!(home.body.contains("Wijzigingen (audittrail)"));
    // By participant: only that participant's rows.
    let only_a = beheer
        .get(&format!("/toegang?deelnemer={a}&soort=view"))
        .await;
    assert_eq!(only_a.status, 200);
    assert!(only_a.body.contains(&format!("/deelnemers/{a}\"")));
    assert!(!only_a.body.contains(&format!("/deelnemers/{b}\"")));
    // By user and kind: the API token's export of b only.
    let exports = beheer.get("/toegang?soort=export").await;
    assert!(exports.body.contains(&format!("/deelnemers/{b}\"")));
    assert!(!exports.body.contains(&format!("/deelnemers/{a}\"")));
    let by_user = beheer
        .get(&format!("/toegang?gebruiker=backoffice&deelnemer={b}"))
        .await;
    assert!(by_user.body.contains(&format!("/deelnemers/{b}\"")));
    assert!(!by_user.body.contains("api-token:"));
    // A period before today holds nothing; a wrong date is refused.
    let old = beheer.get("/toegang?van=2000-01-01&tot=2000-12-31").await;
    assert!(old.body.contains("Geen toegang geregistreerd"));
    assert_eq!(beheer.get("/toegang?van=gisteren").await.status, 400);
    // Paged: two views of the list (30 participants each) are more than a
    // page.
    for _ in 0..2 {
        assert_eq!(beheer.get("/deelnemers").await.status, 200);
    }
    let first = beheer.get("/toegang").await;
    assert!(first.body.contains("pagina=2"), "a next page");
    let second = beheer.get("/toegang?pagina=2").await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("pagina=1"), "a previous page");

    // CSV of the filter: a header, a's three views by backoffice.
    let csv = beheer
        .get(&format!("/toegang.csv?deelnemer={a}&gebruiker=backoffice"))
        .await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "tijdstip;deelnemer;gebruiker;naam;rol;soort;object;adres"
    );
    assert_eq!(lines.len(), 4, "{}", csv.body);
    for l in &lines[1..] {
        assert!(l.contains(&format!(";{a};backoffice;")), "{l}");
        assert!(l.ends_with(";127.0.0.1"), "{l}");
    }

    // Another tenant sees none of it.
    let other = s.tenant_api("12345678").await;
    let theirs = other.get("/access-log").await;
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.body["items"], json!([]));
    let theirs = other.get(&format!("/access-log?participant={a}")).await;
    assert_eq!(theirs.body["items"], json!([]));
    assert_eq!(
        other.get(&format!("/participants/{a}/export")).await.status,
        404
    );
    assert_eq!(api.get("/access-log?kind=kijken").await.status, 400);
}

async fn the_avg_export_holds_every_kind_of_data_of_one_participant_only(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let api = demo_api(&s, &demo);
    let people = participants(&s).await;
    // A participant with a rejected line (a review item) if there is one.
    let pid: String = sqlx::query(
        "SELECT participant_id FROM review_items WHERE tenant_id = $1 AND participant_id IS NOT NULL LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_optional(s.state.store().pool())
    .await
    .expect("review items")
    .map_or_else(|| people[0].0.clone(), |r| r.get("participant_id"));
    let bsn = people
        .iter()
        .find(|(id, _)| *id == pid)
        .map(|(_, b)| b.clone())
        .expect("bsn");
    // A change and an end of care, so the audit trail and the ends have one.
    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "beheer", DEMO_PASSWORD).await;
    let page = office.get(&format!("/deelnemers/{pid}")).await;
    office
        .post(
            &format!("/deelnemers/{pid}/groep"),
            &[("csrf", &page.csrf()), ("groep", "Houtwerkplaats")],
        )
        .await;
    end_care(&api, &pid).await;
    outcomes_with_notes(&s, &pid, &bsn).await;
    // The review queue names the participants of its items: a view.
    assert_eq!(office.get("/afgekeurd?status=alle").await.status, 200);
    let theirs = log_of(&api, &pid).await;
    assert!(has(&theirs, "beheer", "beheer", "view", "GET /afgekeurd"));

    let reply = api.get(&format!("/participants/{pid}/export")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let x = &reply.body;
    assert_schema("participant-export", x);
    assert_eq!(x["record"]["id"], pid.as_str());
    assert_eq!(x["record"]["bsn"], bsn.as_str());
    assert_eq!(x["tenant"], DEMO_AGB);
    let nonempty = |path: &str| {
        let v = x.pointer(path).unwrap_or(&Value::Null);
        assert!(
            v.as_array().is_some_and(|a| !a.is_empty()),
            "{path} is empty"
        );
    };
    for path in [
        "/record/allocations",
        "/record/allocations/0/history",
        "/record/prestaties",
        "/record/messages",
        "/registrations",
        "/ends_of_care",
        "/messages",
        "/audit",
        "/access_log",
        "/outcomes/measurements/0/scores",
        "/outcomes/goals/0/domains",
        "/outcomes/evaluations/0/progress",
    ] {
        nonempty(path);
    }
    // The demo measured everyone, agreed goals and held evaluations of its
    // own: this test's are found by their text.
    let find = |list: &str, what: &dyn Fn(&Value) -> bool| -> Value {
        x["outcomes"][list]
            .as_array()
            .expect("a list")
            .iter()
            .find(|v| what(v))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let text = |v: &Value, prefix: &str| v.as_str().is_some_and(|t| t.starts_with(prefix));
    let measured = find("measurements", &|m| {
        text(&m["scores"][0]["note"], "schuldhulp")
    });
    assert_eq!(measured["instrument_version"], "2017");
    let goal = find("goals", &|g| text(&g["text"], "Werk vinden"));
    assert_eq!(goal["domains"][0]["domain"], "werk_opleiding");
    let evaluation = find("evaluations", &|e| text(&e["next_step"], "Bellen"));
    assert_eq!(evaluation["satisfaction"], 8);
    assert_eq!(x["outcomes"]["milestones"][0]["kind"], "diploma");
    // A participant the demo's run claimed a result for: the claim with its
    // evidence, in the export and on its page.
    let claimed: String =
        sqlx::query("SELECT participant_id FROM result_claims WHERE tenant_id = $1 LIMIT 1")
            .bind(DEMO_AGB)
            .fetch_one(s.state.store().pool())
            .await
            .expect("the demo claims a result")
            .get(0);
    let y = api.get(&format!("/participants/{claimed}/export")).await;
    assert_eq!(y.status, 200, "{}", y.body);
    assert_schema("participant-export", &y.body);
    assert!(
        y.body["outcomes"]["claims"][0]["evidence"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{}",
        y.body["outcomes"]
    );
    assert!(
        x["messages"][0]["raw"]
            .as_str()
            .is_some_and(|r| r.contains(&bsn)),
        "the participant's own messages whole"
    );
    assert!(
        x["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .any(|a| a["action"] == "participant_group"),
        "the group change in the audit trail"
    );
    assert_eq!(
        x["access_log"][0]["kind"], "export",
        "the export itself is logged, first"
    );
    // Nothing of anyone else.
    let text = x.to_string();
    for (id, other_bsn) in &people {
        if *id != pid {
            assert!(!text.contains(id.as_str()), "another participant's id {id}");
            assert!(
                !text.contains(other_bsn.as_str()),
                "another participant's BSN"
            );
        }
    }
    // The page shows the same, for beheer.
    let html = office.get(&format!("/deelnemers/{pid}/avg")).await;
    assert_eq!(html.status, 200);
    for text in [
        "Identiteit",
        "Toewijzingen met historie",
        "Registraties",
        "Declaratieregels",
        "Berichten",
        "Audittrail",
        "Wie heeft dit dossier bekeken",
        "Ontwikkeling",
        "Zelfredzaamheid-Matrix (versie 2017)",
        "Financiën: 3 – Beperkt zelfredzaam — schuldhulp",
    ] {
        assert!(html.body.contains(text), "{text} on the export page");
    }
    let json_file = office.get(&format!("/deelnemers/{pid}/avg.json")).await;
    assert_eq!(json_file.status, 200);
    let parsed: Value = serde_json::from_str(&json_file.body).expect("JSON");
    assert_eq!(parsed["record"]["id"], pid.as_str());
    // By id only: a BSN is not an export key.
    assert_eq!(
        api.get(&format!("/participants/{bsn}/export")).await.status,
        404
    );
}

/// Outcome data whose free text quotes the participant's BSN, as a typed
/// note can: a goal, an evaluation with its measurement and progress, and
/// the day notes of their registrations.
async fn outcomes_with_notes(s: &Server, pid: &str, bsn: &str) {
    use loket::record::outcomes::*;
    let by =
        loket::record::access::Actor::user("jobcoach", "Jamila (jobcoach)", "begeleider", None);
    let today = loket::registration::today();
    let instruments = &s.state.instruments;
    let mut w = s.state.store().begin_write().await.expect("tx");
    let goal = NewGoal {
        participant_id: pid.into(),
        text: format!("Werk vinden (BSN {bsn})"),
        agreed_on: today,
        domains: vec![("zrm".into(), "werk_opleiding".into())],
    };
    let goal = add_goal(&mut w, DEMO_AGB, instruments, &by, &goal)
        .await
        .expect("goal");
    let evaluation = NewEvaluation {
        participant_id: pid.into(),
        held_on: today,
        period_from: today - chrono::Duration::days(42),
        period_to: today,
        next_step: format!("Bellen over {bsn}"),
        satisfaction: Some(8),
        measurements: vec![NewMeasurement {
            participant_id: pid.into(),
            instrument: "zrm".into(),
            measured_on: today,
            scores: vec![NewScore {
                domain: "financien".into(),
                score: 3,
                note: Some(format!("schuldhulp, dossier {bsn}")),
            }],
            supersedes: None,
        }],
        progress: vec![GoalProgress {
            goal_id: goal,
            progress: Progress::Some,
            note: Some(format!("sollicitatie onder {bsn}")),
        }],
    };
    add_evaluation(&mut w, DEMO_AGB, instruments, &by, &evaluation)
        .await
        .expect("evaluation");
    let milestone = loket::record::results::NewMilestone {
        participant_id: pid.into(),
        kind: "diploma".into(),
        reached_on: today,
        note: Some(format!("diploma op naam van {bsn}")),
    };
    loket::record::results::add_milestone(&mut w, DEMO_AGB, &by, &milestone)
        .await
        .expect("milestone");
    sqlx::query("UPDATE registrations SET day_note = $1 WHERE participant_id = $2")
        .bind(format!("dagnotitie {bsn}"))
        .bind(pid)
        .execute(&mut *w.tx)
        .await
        .expect("day note");
    w.commit().await.expect("commit");
}

/// Every text or byte column of every table holding `needle`, as
/// `table.column` (the migrations' bookkeeping aside).
/// Where `needle` stands in the demo provider's rows (tables with a
/// `tenant_id` only its rows; the demo's municipality keeps its own record
/// of the same people, which the provider's retention does not touch).
async fn columns_holding(s: &Server, needle: &str) -> Vec<String> {
    let pool = s.state.store().pool();
    let postgres = s.state.store().backend == loket::store::Backend::Postgres;
    let columns: Vec<(String, String, String)> = if postgres {
        sqlx::query(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'character varying')",
        )
        .fetch_all(pool)
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    } else {
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(pool)
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
        let mut out = Vec::new();
        for t in tables {
            for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT name, type FROM pragma_table_info('{t}')"
            )))
            .fetch_all(pool)
            .await
            .expect("table info")
            {
                out.push((t.clone(), r.get(0), r.get(1)));
            }
        }
        out
    };
    let mut found = Vec::new();
    // Messages are stored compressed: their bytes are searched unpacked.
    let mut in_messages = false;
    for r in sqlx::query("SELECT raw, raw_encoding FROM messages WHERE tenant_id = $1")
        .bind(DEMO_AGB)
        .fetch_all(pool)
        .await
        .expect("messages")
    {
        let raw = loket::store::body::unpack(&r.get::<String, _>(1), r.get(0)).expect("unpacks");
        in_messages |= String::from_utf8_lossy(&raw).contains(needle);
    }
    if in_messages {
        found.push("messages.raw".to_string());
    }
    let scoped: std::collections::HashSet<String> = columns
        .iter()
        .filter(|(_, c, _)| c == "tenant_id")
        .map(|(t, _, _)| t.clone())
        .collect();
    for (table, column, kind) in columns {
        if table.starts_with("_sqlx") || (table == "messages" && column == "raw") {
            continue;
        }
        let tenant = if scoped.contains(&table) {
            "tenant_id = $2 AND "
        } else {
            ""
        };
        let test = if postgres && kind == "bytea" {
            format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
        } else if postgres {
            format!("\"{column}\" LIKE '%' || $1 || '%'")
        } else {
            format!("CAST(\"{column}\" AS TEXT) LIKE '%' || $1 || '%'")
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM \"{table}\" WHERE {tenant}{test}"
        )))
        .bind(needle);
        if !tenant.is_empty() {
            q = q.bind(DEMO_AGB);
        }
        let n: i64 = q.fetch_one(pool).await.expect("search").get(0);
        if n > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

/// Every participant row as text, and the audit and access log counts: a
/// run that changes nothing leaves these equal.
async fn snapshot(s: &Server) -> String {
    let pool = s.state.store().pool();
    let rows = sqlx::query(
        "SELECT id, bsn, COALESCE(birth_date, '-'), name_json, contact_json, COALESCE(pseudonymised_at, '-') \
         FROM participants ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("participants");
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            (0..6)
                .map(|i| r.get::<String, _>(i))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    for table in ["audit_log", "access_log", "messages WHERE length(raw) = 0"] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(pool)
            .await
            .expect("count")
            .get(0);
        out.push(format!("{table}: {n}"));
    }
    out.join("\n")
}

async fn amounts(s: &Server) -> (i64, i64) {
    let r = sqlx::query(
        "SELECT COUNT(*), CAST(COALESCE(SUM(bedrag_cents), 0) AS BIGINT) FROM prestaties",
    )
    .fetch_one(s.state.store().pool())
    .await
    .expect("amounts");
    (r.get(0), r.get(1))
}

async fn retention_pseudonymises_exactly_the_participants_past_the_period(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let api = demo_api(&s, &demo);
    let pool = s.state.store().pool();
    let people = participants(&s).await;
    // Everyone is still in care (an allocation without an end) ...
    sqlx::query("UPDATE allocations SET einddatum = NULL")
        .execute(pool)
        .await
        .expect("open-ended");
    // ... but three, whose end of care is registered.
    let today = loket::registration::today();
    let ended: Vec<String> = people[1..4].iter().map(|(id, _)| id.clone()).collect();
    for id in &ended {
        end_care(&api, id).await;
    }
    // Care that began again after its end (a new allocation without an
    // end, starting tomorrow) is care.
    let (again, _) = people[4].clone();
    end_care(&api, &again).await;
    sqlx::query("UPDATE allocations SET ingangsdatum = $1 WHERE participant_id = $2")
        .bind((today + chrono::Duration::days(1)).to_string())
        .bind(&again)
        .execute(pool)
        .await
        .expect("care again");
    let kept_bsn = people[0].1.clone();
    // Free text about a person goes with their identity; the one in care
    // keeps it.
    for (id, bsn) in people[0..4].iter() {
        outcomes_with_notes(&s, id, bsn).await;
    }
    let names: Vec<String> = sqlx::query("SELECT name_json FROM participants")
        .fetch_all(pool)
        .await
        .expect("names")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(names.iter().all(|n| n != "{}"), "the demo names everyone");
    let before_amounts = amounts(&s).await;
    let settings = loket::record::retention::Settings::default();
    // Within the period (the demo's care ends this year or next): nothing.
    let now = loket::record::retention::run(s.state.store(), &settings, today, None, false)
        .await
        .expect("run");
    assert!(now.participants.is_empty(), "{now:?}");

    // Thirty years on, the three are past the period, nobody else.
    let later = today + chrono::Duration::days(365 * 30);
    let untouched = snapshot(&s).await;
    let dry = std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
        .args([
            "retention",
            "--dry-run",
            "--json",
            "--date",
            &later.to_string(),
        ])
        .args(s.store_args())
        .output()
        .expect("loket retention");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let report: Value = serde_json::from_slice(&dry.stdout).expect("JSON report");
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["participants"].as_array().map(Vec::len),
        Some(ended.len()),
        "{report}"
    );
    assert_eq!(snapshot(&s).await, untouched, "a dry run changes nothing");

    let run = loket::record::retention::run(s.state.store(), &settings, later, None, false)
        .await
        .expect("run");
    let mut done: Vec<String> = run
        .participants
        .iter()
        .map(|p| p.participant_id.clone())
        .collect();
    done.sort();
    assert_eq!(done, ended, "exactly the participants past the period");
    for (id, bsn) in &people {
        let row = sqlx::query(
            "SELECT bsn, name_json, contact_json, birth_date, pseudonymised_at FROM participants WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("participant");
        let now_bsn: String = row.get("bsn");
        if !ended.contains(id) {
            assert_eq!(now_bsn, *bsn);
            assert!(row.get::<Option<String>, _>("pseudonymised_at").is_none());
            assert_ne!(row.get::<String, _>("name_json"), "{}");
            continue;
        }
        assert!(now_bsn.starts_with("pseudoniem-"), "{now_bsn}");
        assert_eq!(row.get::<String, _>("name_json"), "{}");
        assert_eq!(row.get::<String, _>("contact_json"), "[]");
        assert!(
            row.get::<Option<String>, _>("birth_date")
                .is_none_or(|b| b.len() == 4),
            "the birth year at most"
        );
        // The BSN is nowhere any more: no table, no column, no raw message.
        assert_eq!(columns_holding(&s, bsn).await, Vec::<String>::new(), "{id}");
        let key = loket::record::apply::delivery_key(DEMO_AGB, bsn);
        assert_eq!(columns_holding(&s, &key).await, Vec::<String>::new());
    }
    // The one still in care keeps everything, its own messages included.
    let holding = columns_holding(&s, &kept_bsn).await;
    for column in [
        "participants.bsn",
        "messages.raw",
        "measurement_scores.note",
        "goals.text",
        "evaluations.next_step",
        "evaluation_goals.note",
        "registrations.day_note",
        "milestones.note",
    ] {
        assert!(
            holding.iter().any(|c| c == column),
            "{column} in {holding:?}"
        );
    }
    assert_eq!(amounts(&s).await, before_amounts, "every amount kept");
    // Recorded as the system's action, in the audit trail and the log.
    let gone = ended[0].clone();
    let entries = log_of(&api, &gone).await;
    assert!(has(
        &entries,
        "system:retention",
        "systeem",
        "pseudonymise",
        "retention"
    ));
    let audited: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE actor = 'system:retention' AND action = 'participant_pseudonymised'",
    )
    .fetch_one(pool)
    .await
    .expect("count")
    .get(0);
    assert_eq!(audited as usize, ended.len());
    // The record still reads, as the schema allows a pseudonym.
    let record = api.get(&format!("/participants/{gone}")).await;
    assert_eq!(record.status, 200);
    assert_schema("participant", &record.body);
    let list = api.get("/participants?limit=1000").await;
    assert_schema("participant-list", &list.body);

    // Idempotent: a second run finds nobody and changes nothing.
    let after = snapshot(&s).await;
    let again = loket::record::retention::run(s.state.store(), &settings, later, None, false)
        .await
        .expect("second run");
    assert!(again.participants.is_empty());
    assert_eq!(snapshot(&s).await, after);
}
