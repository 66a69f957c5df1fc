//! Evaluations, goals and measurements over HTTP on both backends: the API
//! (stored, read back, wrong input refused with nothing stored, a
//! municipality refused, the access log written), the evaluation form
//! (one transaction: a bad score stores nothing at all), the due list with
//! hand-computed due dates for every source of the interval, a
//! begeleider's groups as the scope of what they see, and the day note from
//! the day page to the evaluation form.

use chrono::{Duration, NaiveDate};
use loket::record::outcomes::{EvaluationSettings, IntervalSource, due_evaluations};
use loket::registration::today;
use loket::web::demo::{DEMO_AGB, DEMO_GEMEENTE, DEMO_PASSWORD};
use serde_json::{Value, json};

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    measurements_goals_and_evaluations_over_the_api,
    the_evaluation_form_saves_everything_or_nothing,
    the_due_list_takes_the_interval_from_plan_financier_group_or_default,
    a_begeleider_sees_only_the_participants_of_their_groups,
    the_day_note_is_shown_on_the_evaluation_form,
);

/// An API client with a bearer token.
struct Token {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Token {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

async fn demo(db: Db) -> (Server, Token) {
    let (s, demo) = Server::start_demo(db).await;
    let token = Token {
        base: s.base.clone(),
        token: demo.api_token.expect("a fresh demo has a token"),
        http: reqwest::Client::new(),
    };
    (s, token)
}

/// A participant of the demo in `group`, by id.
async fn in_group(s: &Server, group: &str) -> String {
    let (id,): (String,) = sqlx::query_as(
        "SELECT id FROM participants WHERE tenant_id = $1 AND group_name = $2 ORDER BY id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .bind(group)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a participant in the group");
    id
}

async fn outcome_rows(s: &Server) -> [i64; 5] {
    [
        count(s, "SELECT COUNT(*) FROM measurements").await,
        count(s, "SELECT COUNT(*) FROM measurement_scores").await,
        count(s, "SELECT COUNT(*) FROM goals").await,
        count(s, "SELECT COUNT(*) FROM evaluations").await,
        count(s, "SELECT COUNT(*) FROM evaluation_goals").await,
    ]
}

async fn access_rows(s: &Server, pid: &str, kind: &str, object: &str) -> i64 {
    count(
        s,
        &format!(
            "SELECT COUNT(*) FROM access_log WHERE participant_id = '{pid}' AND kind = '{kind}' \
             AND object = '{object}' AND actor LIKE 'api-token:%'"
        ),
    )
    .await
}

fn day(d: NaiveDate) -> String {
    d.to_string()
}

async fn measurements_goals_and_evaluations_over_the_api(db: Db) {
    let (s, api) = demo(db).await;
    let pid = in_group(&s, "Kas").await;
    let today = today();
    let base = format!("/participants/{pid}");

    // A measurement: 201 with its id, read back with the instrument's
    // version, the scorer (the token) and the scores.
    let (status, body) = api
        .post(
            &format!("{base}/measurements"),
            &json!({"instrument": "zrm", "measured_on": day(today - Duration::days(3)),
                    "scores": [{"domain": "financien", "score": 2, "note": "schulden in beeld"},
                               {"domain": "huisvesting", "score": 4}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mid = body["id"].as_str().expect("an id").to_string();
    assert_eq!(
        access_rows(&s, &pid, "change", "POST /participants/{id}/measurements").await,
        1
    );
    let (status, list) = api
        .get(&format!("{base}/measurements?instrument=zrm"))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_schema("measurement-list", &list);
    let got = list["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == mid.as_str())
        .expect("the measurement read back");
    assert_eq!(got["instrument_version"], "2017");
    assert!(got["scored_by"].as_str().unwrap().starts_with("api-token:"));
    assert_eq!(got["scores"][0]["domain"], "financien");
    assert_eq!(got["scores"][0]["score"], 2);
    assert_eq!(got["scores"][0]["note"], "schulden in beeld");
    assert_eq!(
        access_rows(&s, &pid, "view", "GET /participants/{id}/measurements").await,
        1
    );
    let (_, other) = api
        .get(&format!(
            "{base}/measurements?instrument=positieve-gezondheid"
        ))
        .await;
    assert!(
        other["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["instrument"] == "positieve-gezondheid")
    );

    // Wrong input: refused with the bilingual error, nothing stored.
    let before = outcome_rows(&s).await;
    let future = day(today + Duration::days(1));
    for (body, expect) in [
        (
            json!({"instrument": "zrm-x", "measured_on": day(today), "scores": [{"domain": "financien", "score": 2}]}),
            422,
        ),
        (
            json!({"instrument": "zrm", "measured_on": day(today), "scores": [{"domain": "geluk", "score": 2}]}),
            422,
        ),
        (
            json!({"instrument": "zrm", "measured_on": day(today), "scores": [{"domain": "financien", "score": 6}]}),
            422,
        ),
        (
            json!({"instrument": "zrm", "measured_on": future, "scores": [{"domain": "financien", "score": 3}]}),
            422,
        ),
        (
            json!({"instrument": "zrm", "measured_on": "2026-02-30", "scores": [{"domain": "financien", "score": 3}]}),
            422,
        ),
        (
            json!({"instrument": "zrm", "measured_on": "gisteren", "scores": [{"domain": "financien", "score": 3}]}),
            400,
        ),
        (
            json!({"instrument": "zrm", "measured_on": day(today), "scores": []}),
            400,
        ),
    ] {
        let (status, answer) = api.post(&format!("{base}/measurements"), &body).await;
        assert_eq!(status, expect, "{body} -> {answer}");
        assert_schema("error", &answer);
        assert!(
            answer["error"]["nl"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(
            answer["error"]["en"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }
    assert_eq!(outcome_rows(&s).await, before, "nothing stored");

    // A goal, then an evaluation with a measurement and the goal reached.
    let (status, g) = api
        .post(
            &format!("{base}/goals"),
            &json!({"text": "Zelf de huur betalen", "agreed_on": day(today - Duration::days(20)),
                    "domains": [{"instrument": "zrm", "domain": "financien"}]}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (status, bad) = api
        .post(
            &format!("{base}/goals"),
            &json!({"text": "x", "agreed_on": day(today), "domains": [{"instrument": "zrm", "domain": "nergens"}]}),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    let before = outcome_rows(&s).await;
    // A wrong score in the evaluation's measurement: the evaluation and
    // the goal's progress are not stored either.
    let evaluation = |score: i64| {
        json!({"held_on": day(today), "period_from": day(today - Duration::days(20)), "period_to": day(today),
               "next_step": "Budgetcoach vragen", "satisfaction": 8,
               "measurements": [{"instrument": "zrm", "scores": [{"domain": "financien", "score": score}]}],
               "progress": [{"goal_id": gid, "progress": "reached", "note": "lukt al twee maanden"}]})
    };
    let (status, bad) = api
        .post(&format!("{base}/evaluations"), &evaluation(0))
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(outcome_rows(&s).await, before, "nothing of the evaluation");
    let (status, e) = api
        .post(&format!("{base}/evaluations"), &evaluation(4))
        .await;
    assert_eq!(status, 201, "{e}");
    let eid = e["id"].as_str().unwrap().to_string();
    let after = outcome_rows(&s).await;
    assert_eq!(
        [
            after[0] - before[0],
            after[1] - before[1],
            after[3] - before[3],
            after[4] - before[4]
        ],
        [1, 1, 1, 1]
    );

    let (status, goals) = api.get(&format!("{base}/goals")).await;
    assert_eq!(status, 200);
    assert_schema("goal-list", &goals);
    let goal = goals["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == gid.as_str())
        .unwrap();
    assert_eq!(goal["status"], "reached");
    assert_eq!(goal["closed_on"], day(today));
    assert_eq!(
        goal["domains"],
        json!([{"instrument": "zrm", "domain": "financien"}])
    );
    let (status, evaluations) = api.get(&format!("{base}/evaluations")).await;
    assert_eq!(status, 200);
    assert_schema("evaluation-list", &evaluations);
    let first = &evaluations["evaluations"][0];
    assert_eq!(first["id"], eid.as_str());
    assert_eq!(first["satisfaction"], 8);
    assert_eq!(first["progress"][0]["progress"], "reached");
    let (_, list) = api.get(&format!("{base}/measurements")).await;
    assert!(
        list["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["evaluation_id"] == eid.as_str() && m["measured_on"] == day(today))
    );
    for object in [
        "POST /participants/{id}/goals",
        "POST /participants/{id}/evaluations",
    ] {
        assert_eq!(access_rows(&s, &pid, "change", object).await, 1, "{object}");
    }
    for object in [
        "GET /participants/{id}/goals",
        "GET /participants/{id}/evaluations",
    ] {
        assert_eq!(access_rows(&s, &pid, "view", object).await, 1, "{object}");
    }

    // Unknown participant: 404. A municipality's token: 403, and no
    // outcome data in the answer.
    let (status, _) = api.get("/participants/nobody/goals").await;
    assert_eq!(status, 404);
    let gemeente = Token {
        base: s.base.clone(),
        token: s
            .state
            .store()
            .add_token(DEMO_GEMEENTE, "test")
            .await
            .expect("token"),
        http: reqwest::Client::new(),
    };
    for path in ["measurements", "goals", "evaluations"] {
        let (status, answer) = gemeente.get(&format!("{base}/{path}")).await;
        assert_eq!(status, 403, "{path}: {answer}");
        assert!(answer.get(path).is_none());
    }
    let (status, _) = gemeente
        .post(
            &format!("{base}/measurements"),
            &json!({"instrument": "zrm", "measured_on": day(today), "scores": [{"domain": "financien", "score": 3}]}),
        )
        .await;
    assert_eq!(status, 403);
}

/// Logs `user` in on the demo tenant.
async fn login(s: &Server, user: &str) -> WebClient {
    let mut web = WebClient::new(&s.base);
    let page = web.login(DEMO_AGB, user, DEMO_PASSWORD).await;
    assert_eq!(page.status, 303, "login of {user}: {}", page.body);
    web
}

async fn the_evaluation_form_saves_everything_or_nothing(db: Db) {
    let (s, api) = demo(db).await;
    let pid = in_group(&s, "Houtwerkplaats").await;
    let today = today();
    let (_, g) = api
        .post(
            &format!("/participants/{pid}/goals"),
            &json!({"text": "Zelfstandig met de bus reizen", "agreed_on": day(today - Duration::days(30)),
                    "domains": [{"instrument": "zrm", "domain": "maatschappelijke_participatie"}]}),
        )
        .await;
    let gid = g["id"].as_str().expect("goal").to_string();
    let (status, _) = api
        .post(
            &format!("/participants/{pid}/measurements"),
            &json!({"instrument": "zrm", "measured_on": day(today - Duration::days(30)),
                    "scores": [{"domain": "maatschappelijke_participatie", "score": 2}]}),
        )
        .await;
    assert_eq!(status, 201);

    let mut web = login(&s, "jobcoach").await;
    let form = web.get(&format!("/deelnemers/{pid}/evaluatie")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("Zelfstandig met de bus reizen"));
    assert!(
        form.body.contains("vorige: 2 – Niet zelfredzaam"),
        "the previous score per domain"
    );
    assert!(form.body.contains(&format!("name=\"voortgang.{gid}\"")));
    let csrf = form.csrf();
    let held = day(today);
    let from = day(today - Duration::days(30));
    let voortgang = format!("voortgang.{gid}");
    let note = format!("doelnotitie.{gid}");
    let fields = |score: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("datum", held.clone()),
            ("van", from.clone()),
            ("tot", held.clone()),
            ("m.zrm.maatschappelijke_participatie", score.to_string()),
            (
                "n.zrm.maatschappelijke_participatie",
                "reist nu alleen".to_string(),
            ),
            ("m.positieve-gezondheid.zingeving", "7".to_string()),
            (voortgang.as_str(), "reached".to_string()),
            (note.as_str(), "sinds drie weken".to_string()),
            ("tevredenheid", "8".to_string()),
            ("volgende_stap", "Oefenen met de trein".to_string()),
        ]
    };
    let before = outcome_rows(&s).await;
    let audit_before = count(
        &s,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'evaluation_add'",
    )
    .await;
    let bad = fields("9");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = web
        .post(&format!("/deelnemers/{pid}/evaluatie"), &bad)
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("Er is niets opgeslagen"),
        "{}",
        page.body
    );
    assert!(page.body.contains("buiten 1–5"), "says what is wrong");
    assert!(
        page.body.contains("Oefenen met de trein"),
        "keeps what was typed"
    );
    assert_eq!(outcome_rows(&s).await, before, "a bad score stores nothing");
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'evaluation_add'"
        )
        .await,
        audit_before
    );

    let good = fields("4");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = web
        .post(&format!("/deelnemers/{pid}/evaluatie"), &good)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/deelnemers/{pid}/evaluaties?opgeslagen=1").as_str())
    );
    let after = outcome_rows(&s).await;
    // Two measurements (ZRM and Positieve Gezondheid, one score each), one
    // evaluation, one goal's progress.
    assert_eq!(
        [
            after[0] - before[0],
            after[1] - before[1],
            after[3] - before[3],
            after[4] - before[4]
        ],
        [2, 2, 1, 1]
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'evaluation_add'"
        )
        .await,
        audit_before + 1
    );
    assert_eq!(
        count(
            &s,
            &format!(
                "SELECT COUNT(*) FROM access_log WHERE participant_id = '{pid}' AND kind = 'change' \
                 AND object = 'POST /deelnemers/{{id}}/evaluatie' AND actor = 'jobcoach'"
            )
        )
        .await,
        1
    );
    let (_, goals) = api.get(&format!("/participants/{pid}/goals")).await;
    let goal = goals["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == gid.as_str())
        .unwrap()
        .clone();
    assert_eq!(goal["status"], "reached", "a goal reached is closed");
    let (_, list) = api
        .get(&format!("/participants/{pid}/measurements?instrument=zrm"))
        .await;
    let last = list["measurements"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["scores"][0]["score"], 4);
    assert_eq!(last["scores"][0]["note"], "reist nu alleen");
    assert_eq!(last["scored_by"], "jobcoach");

    let history = web
        .get(&format!("/deelnemers/{pid}/evaluaties?opgeslagen=1"))
        .await;
    assert_eq!(history.status, 200);
    assert!(history.body.contains("De evaluatie is opgeslagen."));
    assert!(history.body.contains("Oefenen met de trein"));
    assert!(history.body.contains("Rapportcijfer deelnemer: 8"));
    // The reached goal is no longer on the form.
    let form = web.get(&format!("/deelnemers/{pid}/evaluatie")).await;
    assert!(!form.body.contains(&format!("name=\"voortgang.{gid}\"")));

    // A goal added on the page, with its domains.
    let csrf = form.csrf();
    let page = web
        .post(
            &format!("/deelnemers/{pid}/doelen"),
            &[
                ("csrf", csrf.as_str()),
                ("tekst", "Een stage vinden"),
                ("datum", &held),
                ("domein", "participatieladder/participatie"),
                ("domein", "zrm/werk_opleiding"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let (_, goals) = api.get(&format!("/participants/{pid}/goals")).await;
    let added = goals["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["text"] == "Een stage vinden")
        .expect("the goal added")
        .clone();
    assert_eq!(added["domains"].as_array().unwrap().len(), 2);
}

async fn the_due_list_takes_the_interval_from_plan_financier_group_or_default(db: Db) {
    let (s, api) = demo(db).await;
    let pool = s.state.store().pool();
    let today = today();
    // The UWV contract asks for an evaluation every three weeks; the
    // Houtwerkplaats every eight; else every six.
    let mut list: Vec<loket::mapping::Mapping> = s
        .state
        .mappings
        .for_tenant(DEMO_AGB)
        .iter()
        .cloned()
        .collect();
    for m in &mut list {
        if m.financier.key.kind == loket::mapping::Kind::Uwv {
            m.evaluation_weeks = Some(3);
        }
    }
    let mappings = loket::mapping::Mappings::new(list).expect("mappings");
    let settings = EvaluationSettings {
        every_weeks: 6,
        groups: [("Houtwerkplaats".to_string(), 8)].into_iter().collect(),
    };
    let one = |sql: &'static str| async move {
        let (id,): (String,) = sqlx::query_as(sql)
            .bind(DEMO_AGB)
            .fetch_one(pool)
            .await
            .expect(sql);
        id
    };
    let uwv = one(
        "SELECT MIN(a.participant_id) FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1 AND f.kind = 'uwv'",
    )
    .await;
    let hout = one(
        "SELECT MIN(p.id) FROM participants p WHERE p.tenant_id = $1 AND p.group_name = 'Houtwerkplaats' \
         AND p.id NOT IN (SELECT a.participant_id FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE f.kind = 'uwv')",
    )
    .await;
    let kas = one(
        "SELECT MIN(p.id) FROM participants p WHERE p.tenant_id = $1 AND p.group_name = 'Kas' \
         AND p.id NOT IN (SELECT a.participant_id FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE f.kind = 'uwv')",
    )
    .await;
    // Clear any plan the demo gave them (the back office's form), then an
    // evaluation ten days ago.
    let mut web = login(&s, "backoffice").await;
    let csrf = web.get(&format!("/deelnemers/{uwv}")).await.csrf();
    let held = today - Duration::days(10);
    for pid in [&uwv, &hout, &kas] {
        let page = web
            .post(
                &format!("/deelnemers/{pid}/evaluatieplan"),
                &[("csrf", csrf.as_str()), ("weken", "")],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        let (status, body) = api
            .post(
                &format!("/participants/{pid}/evaluations"),
                &json!({"held_on": day(held), "period_from": day(held - Duration::days(30)),
                        "period_to": day(held), "next_step": "verder"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let due = |rows: &[loket::record::outcomes::DueEvaluation], pid: &str| {
        let r = rows
            .iter()
            .find(|r| r.participant_id == pid)
            .unwrap_or_else(|| panic!("{pid} on the due list"));
        (r.weeks, r.source.clone(), r.due, r.overdue, r.last_held)
    };
    let rows = due_evaluations(pool, DEMO_AGB, &mappings, &settings, None, today)
        .await
        .expect("due list");
    let (weeks, source, date, overdue, last) = due(&rows, &uwv);
    assert_eq!(weeks, 3);
    assert!(matches!(source, IntervalSource::Financier(_)), "{source:?}");
    assert_eq!(date, held + Duration::days(21));
    assert!(!overdue);
    assert_eq!(last, Some(held));
    assert_eq!(
        due(&rows, &hout),
        (
            8,
            IntervalSource::Group("Houtwerkplaats".into()),
            held + Duration::days(56),
            false,
            Some(held)
        )
    );
    assert_eq!(
        due(&rows, &kas),
        (
            6,
            IntervalSource::Default,
            held + Duration::days(42),
            false,
            Some(held)
        )
    );
    // The participant's own plan beats the contract: one week, so ten
    // days after the evaluation it is three days overdue.
    let page = web
        .post(
            &format!("/deelnemers/{uwv}/evaluatieplan"),
            &[("csrf", csrf.as_str()), ("weken", "1")],
        )
        .await;
    assert_eq!(page.status, 303);
    let rows = due_evaluations(pool, DEMO_AGB, &mappings, &settings, None, today)
        .await
        .expect("due list");
    assert_eq!(
        due(&rows, &uwv),
        (
            1,
            IntervalSource::Plan,
            held + Duration::days(7),
            true,
            Some(held)
        )
    );
    // Overdue first, then by due date.
    let first_on_time = rows.iter().position(|r| !r.overdue).unwrap_or(rows.len());
    assert!(rows[first_on_time..].iter().all(|r| !r.overdue));
    assert!(
        rows[..first_on_time]
            .windows(2)
            .all(|w| w[0].due <= w[1].due)
    );
    assert!(
        rows[first_on_time..]
            .windows(2)
            .all(|w| w[0].due <= w[1].due)
    );
    // Without an evaluation: the start of the earliest allocation in force
    // plus the interval.
    let (never, start): (String, String) = sqlx::query_as(
        "SELECT a.participant_id, MIN(a.ingangsdatum) FROM allocations a WHERE a.tenant_id = $1 \
         AND a.status IN ('allocated', 'started') AND a.participant_id NOT IN (SELECT participant_id FROM evaluations) \
         AND a.participant_id NOT IN (SELECT participant_id FROM evaluation_plans) \
         AND a.participant_id NOT IN (SELECT a2.participant_id FROM allocations a2 JOIN financiers f ON f.id = a2.financier_id WHERE f.kind = 'uwv') \
         GROUP BY a.participant_id ORDER BY a.participant_id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(pool)
    .await
    .expect("a participant never evaluated");
    let start: NaiveDate = start.parse().unwrap();
    let (weeks, _, date, overdue, last) = due(&rows, &never);
    assert_eq!(last, None);
    assert_eq!(date, start + Duration::weeks(i64::from(weeks)));
    assert_eq!(overdue, date < today);

    // The page: the application's own settings (every six weeks), the
    // participant's own plan of one week, overdue.
    let page = web.get("/evaluaties").await;
    assert_eq!(page.status, 200);
    let row_start = page
        .body
        .find(&format!("/deelnemers/{uwv}/evaluatie"))
        .expect("the participant listed");
    let row = &page.body[row_start..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("te laat (3 dagen)"), "{row}");
    assert!(row.contains("elke 1 week · eigen plan"), "{row}");

    // Care that ended is not evaluated any more, though the participant
    // came in the last weeks: their allocations ended yesterday and the
    // end of care is registered.
    let yesterday = (today - Duration::days(1)).to_string();
    sqlx::query(
        "UPDATE allocations SET einddatum = $1, status = 'ended' WHERE participant_id = $2",
    )
    .bind(&yesterday)
    .bind(&never)
    .execute(pool)
    .await
    .expect("allocations ended");
    let listed = |rows: &[loket::record::outcomes::DueEvaluation]| {
        rows.iter().any(|r| r.participant_id == never)
    };
    let rows = due_evaluations(pool, DEMO_AGB, &mappings, &settings, None, today)
        .await
        .expect("due list");
    assert!(
        listed(&rows),
        "registered in the last 90 days, no end of care yet"
    );
    sqlx::query(
        "INSERT INTO participant_ends (id, tenant_id, participant_id, end_date, reason, registered_by, created_at) \
         VALUES ('end-test', $1, $2, $3, 'volgens_plan', 'test', '2026-01-01T00:00:00Z')",
    )
    .bind(DEMO_AGB)
    .bind(&never)
    .bind(&yesterday)
    .execute(pool)
    .await
    .expect("end of care");
    let rows = due_evaluations(pool, DEMO_AGB, &mappings, &settings, None, today)
        .await
        .expect("due list");
    assert!(!listed(&rows), "care ended: no evaluation due");
}

async fn a_begeleider_sees_only_the_participants_of_their_groups(db: Db) {
    let (s, _api) = demo(db).await;
    let pid = in_group(&s, "Kas").await;
    loket::web::auth::add_user(
        s.state.store(),
        DEMO_AGB,
        "piet",
        "Piet (begeleider)",
        loket::web::auth::Role::Begeleider,
        DEMO_PASSWORD,
    )
    .await
    .expect("user");
    let mut piet = login(&s, "piet").await;
    let page = piet.get(&format!("/deelnemers/{pid}/evaluatie")).await;
    assert_eq!(page.status, 403);
    let page = piet.get(&format!("/deelnemers/{pid}/evaluaties")).await;
    assert_eq!(page.status, 403);
    let page = piet.get(&format!("/deelnemers/{pid}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Ontwikkeling en evaluaties"));
    let page = piet.get("/evaluaties").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&format!("/deelnemers/{pid}/evaluatie")));
    let csrf = page.csrf();
    let page = piet
        .post(
            &format!("/deelnemers/{pid}/doelen"),
            &[
                ("csrf", csrf.as_str()),
                ("tekst", "x"),
                ("datum", &day(today())),
            ],
        )
        .await;
    assert_eq!(page.status, 403);

    // Beheer gives Piet the Kas; a begeleider may not do that themselves.
    let page = piet
        .post(
            "/gebruikers/groepen",
            &[
                ("csrf", csrf.as_str()),
                ("gebruiker", "piet"),
                ("groep", "Kas"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    let mut beheer = login(&s, "beheer").await;
    let users = beheer.get("/gebruikers").await;
    assert!(users.body.contains("Groepen per begeleider"));
    let page = beheer
        .post(
            "/gebruikers/groepen",
            &[
                ("csrf", users.csrf().as_str()),
                ("gebruiker", "piet"),
                ("groep", "Kas"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user_groups'"
        )
        .await,
        1
    );
    let page = piet.get(&format!("/deelnemers/{pid}/evaluatie")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = piet.get(&format!("/deelnemers/{pid}")).await;
    assert!(page.body.contains("Ontwikkeling en evaluaties"));
    assert!(
        page.body
            .contains(&format!("/deelnemers/{pid}/ontwikkeling"))
    );
    let hout = in_group(&s, "Houtwerkplaats").await;
    let page = piet.get(&format!("/deelnemers/{hout}/evaluatie")).await;
    assert_eq!(page.status, 403, "another group stays out of scope");
    // An unknown group is refused.
    let page = beheer
        .post(
            "/gebruikers/groepen",
            &[
                ("csrf", users.csrf().as_str()),
                ("gebruiker", "piet"),
                ("groep", "Nergens"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
}

async fn the_day_note_is_shown_on_the_evaluation_form(db: Db) {
    let (s, api) = demo(db).await;
    let pool = s.state.store().pool();
    // A participant and a weekday of the demo's month with a registration.
    let (pid, date): (String, String) = sqlx::query_as(
        "SELECT participant_id, MAX(day) FROM registrations WHERE tenant_id = $1 AND superseded_by IS NULL \
         AND allocation_id IS NULL GROUP BY participant_id ORDER BY participant_id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(pool)
    .await
    .expect("a registration");
    let mut web = login(&s, "jobcoach").await;
    let page = web.get(&format!("/registratie?datum={date}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("name=\"n.{pid}\"")),
        "a note per row"
    );
    let csrf = page.csrf();
    let note = "Vandaag zelf met de bus gekomen";
    let s_key = format!("s.{pid}");
    let n_key = format!("n.{pid}");
    let page = web
        .post(
            "/registratie",
            &[
                ("csrf", csrf.as_str()),
                ("datum", &date),
                ("groep", ""),
                (&s_key, "aanwezig"),
                (&n_key, note),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let form = web
        .get(&format!(
            "/deelnemers/{pid}/evaluatie?van={date}&tot={date}"
        ))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains(note),
        "the period's day notes on the form"
    );
    // Outside the period it is not listed.
    let before: NaiveDate = date.parse::<NaiveDate>().unwrap() - Duration::days(1);
    let form = web
        .get(&format!(
            "/deelnemers/{pid}/evaluatie?van={before}&tot={before}"
        ))
        .await;
    assert!(!form.body.contains(note));

    // Over the API: the note is read back, a correction without one keeps
    // it, an empty one removes it, one too long is refused.
    async fn read(api: &Token, pid: String, date: String) -> Value {
        let (_, list) = api
            .get(&format!(
                "/registrations?participant={pid}&from={date}&to={date}"
            ))
            .await;
        assert_schema("registration-list", &list);
        list["registrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["allocation_id"].is_null())
            .expect("the day's registration")["day_note"]
            .clone()
    }
    assert_eq!(read(&api, pid.clone(), date.clone()).await, note);
    let item = |extra: Value| {
        let mut r = json!({"participant_id": pid, "date": date, "present": true, "dagdelen": 1});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        json!({"registered_by": "test", "registrations": [r]})
    };
    let (status, body) = api.post("/registrations", &item(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(read(&api, pid.clone(), date.clone()).await, note, "kept");
    let (status, body) = api
        .post(
            "/registrations",
            &item(json!({"day_note": "x".repeat(501)})),
        )
        .await;
    // The schema's limit: 400 with the path of the note.
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["paths"], json!(["/registrations/0/day_note"]));
    assert_eq!(read(&api, pid.clone(), date.clone()).await, note);
    let (status, _) = api
        .post("/registrations", &item(json!({"day_note": ""})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(read(&api, pid.clone(), date.clone()).await, Value::Null);
}
