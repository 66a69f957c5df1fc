//! Registration in the web app over HTTP, on both backends: the week view
//! with every registration of a day and the days without one, corrections
//! that keep what was not changed, the warnings after saving a day (open
//! rows, days a declaration run will not count), decimal commas in hours,
//! and the end of care that needs a reason.

use chrono::{Datelike, Duration, NaiveDate};
use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    the_week_view_links_every_registration_of_a_day,
    a_participant_link_opens_the_week_marked_with_the_missing_days,
    a_correction_keeps_activity_allocation_and_hours,
    saving_a_day_warns_about_open_rows_and_days_that_do_not_count,
    the_end_of_care_needs_a_reason,
);

/// The page with its attribute escapes undone, to search for links.
fn plain(body: &str) -> String {
    body.replace("&amp;", "&")
}

/// A week view page (`query` after `/registratie/week?`), shown, with its
/// attribute escapes undone.
async fn week_page(web: &mut WebClient, query: &str) -> String {
    let page = web.get(&format!("/registratie/week?{query}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    plain(&page.body)
}

/// The `<tr>` of a participant in the week view.
fn row_of<'a>(body: &'a str, pid: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"deelnemer-{pid}\""))
        .unwrap_or_else(|| panic!("a row for {pid}"));
    let rest = &body[start..];
    &rest[..rest.find("</tr>").expect("end of the row")]
}

/// A demo participant and day holding two current registrations: the day
/// itself and jobcoaching on the UWV order.
async fn a_day_with_two(s: &Server) -> (String, String, String) {
    let row = sqlx::query(
        "SELECT participant_id, day, MAX(allocation_id) AS allocation_id FROM registrations \
         WHERE tenant_id = $1 AND superseded_by IS NULL \
         GROUP BY participant_id, day HAVING COUNT(*) = 2 ORDER BY day, participant_id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a day with two registrations");
    (
        row.try_get("participant_id").unwrap(),
        row.try_get("day").unwrap(),
        row.try_get("allocation_id").unwrap(),
    )
}

async fn the_week_view_links_every_registration_of_a_day(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let (pid, day, alloc) = a_day_with_two(&s).await;
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let body = week_page(&mut web, &format!("week={day}&deelnemer={pid}")).await;
    let row = row_of(&body, &pid);
    let untied = format!("deelnemer={pid}&dag={day}&toewijzing=#corrigeren");
    let tied = format!("deelnemer={pid}&dag={day}&toewijzing={alloc}#corrigeren");
    assert!(row.contains(&untied), "the day's own registration: {row}");
    assert!(row.contains(&tied), "the jobcoaching on its order: {row}");
    assert_eq!(
        row.matches(&format!("&dag={day}&toewijzing=")).count(),
        2,
        "one link per registration: {row}"
    );
    assert!(row.contains("jobcoaching"), "{row}");

    // Each link opens the form on its own registration.
    let form = week_page(
        &mut web,
        &format!("week={day}&deelnemer={pid}&dag={day}&toewijzing={alloc}"),
    )
    .await;
    assert!(
        form.contains(&format!("name=\"toewijzing\" value=\"{alloc}\"")),
        "{form}"
    );
    assert!(
        form.contains("<option value=\"jobcoaching\" selected>"),
        "{form}"
    );
    another_allocation_is_added_beside_the_day(&s, &mut web, &pid, &alloc).await;
}

/// A day with only its own registration offers to add one on the order,
/// and adding it keeps both.
async fn another_allocation_is_added_beside_the_day(
    s: &Server,
    web: &mut WebClient,
    pid: &str,
    alloc: &str,
) {
    let single: String = sqlx::query_scalar(
        "SELECT MIN(day) FROM registrations r WHERE participant_id = $1 AND superseded_by IS NULL \
         AND allocation_id IS NULL AND NOT EXISTS (SELECT 1 FROM registrations o \
           WHERE o.participant_id = r.participant_id AND o.day = r.day AND o.allocation_id IS NOT NULL)",
    )
    .bind(pid)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a day without jobcoaching");
    let form = week_page(web, &format!("week={single}&deelnemer={pid}&dag={single}")).await;
    assert!(
        form.contains("Ook een registratie voor een andere toewijzing"),
        "{form}"
    );
    let add = format!("deelnemer={pid}&dag={single}&toewijzing={alloc}");
    assert!(form.contains(&format!("{add}#corrigeren")), "{form}");
    let body = week_page(web, &format!("week={single}&{add}")).await;
    assert!(body.contains("Toevoegen: "), "{body}");
    assert!(body.contains("Registratie toevoegen"), "{body}");
    let csrf = Page {
        status: 200,
        location: None,
        body,
    }
    .csrf();
    let saved = web
        .post(
            "/registratie/week/correctie",
            &[
                ("csrf", &csrf),
                ("deelnemer", pid),
                ("dag", &single),
                ("groep", ""),
                ("toewijzing", alloc),
                ("keuze", "aanwezig"),
                ("uren", "1,5"),
                ("activiteit", "jobcoaching"),
                ("reden", "jobcoaching vergeten"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let current: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registrations WHERE participant_id = $1 AND day = $2 AND superseded_by IS NULL",
    )
    .bind(pid)
    .bind(&single)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    assert_eq!(
        current, 2,
        "the day keeps its own registration beside the new one"
    );
}

async fn a_participant_link_opens_the_week_marked_with_the_missing_days(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let today = loket::registration::today();
    let pid: String = sqlx::query(
        "SELECT p.id FROM participants p JOIN allocations a ON a.participant_id = p.id \
         WHERE p.tenant_id = $1 AND a.einddatum IS NULL ORDER BY p.id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a participant")
    .try_get("id")
    .unwrap();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    // The working days of this week up to today without a registration.
    let mut missing = Vec::new();
    let mut d = monday;
    while d <= today {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM registrations WHERE participant_id = $1 AND day = $2",
        )
        .bind(&pid)
        .bind(d.to_string())
        .fetch_one(s.state.store().pool())
        .await
        .unwrap();
        if n == 0 && d.weekday().num_days_from_monday() < 5 {
            missing.push(d);
        }
        d += Duration::days(1);
    }

    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    // The contract others link to: a date in the week and the participant.
    // A date at the calendar's end is refused, not stepped past.
    for far in ["%2B262142-12-31", "0001-01-01"] {
        let refused = web.get(&format!("/registratie/week?week={far}")).await;
        assert_eq!(refused.status, 400, "{far}: {}", refused.body);
        assert!(refused.body.contains("geen datum"), "{}", refused.body);
    }
    let body = week_page(&mut web, &format!("week={today}&deelnemer={pid}")).await;
    let heading = format!(
        "Weekoverzicht {} t/m {}",
        monday.format("%d-%m-%Y"),
        (monday + Duration::days(6)).format("%d-%m-%Y")
    );
    assert!(body.contains(&heading), "the week of the date: {heading}");
    assert!(
        body.contains(&format!("class=\"gemarkeerd\" id=\"deelnemer-{pid}\"")),
        "the participant is marked with an anchor"
    );
    assert_eq!(body.matches("class=\"gemarkeerd\"").count(), 1);
    let row = row_of(&body, &pid);
    if missing.is_empty() {
        assert!(!row.contains("geen registratie"), "{row}");
    } else {
        let n = missing.len();
        let count = if n == 1 {
            "1 dag zonder registratie".to_string()
        } else {
            format!("{n} dagen zonder registratie")
        };
        assert!(row.contains(&count), "{count}: {row}");
        assert_eq!(row.matches("geen registratie").count(), n, "{row}");
        assert!(row.contains("class=\"ontbreekt\""), "{row}");
    }

    // A day in the demo month with a registration: not missing, and the
    // week's other participants are not marked.
    let (other, day, _) = a_day_with_two(&s).await;
    let page = week_page(&mut web, &format!("week={day}&deelnemer={other}&dag={day}")).await;
    assert!(page.contains("id=\"corrigeren\""), "the form for the day");
    let row = row_of(&page, &other);
    let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap();
    assert!(
        !row.contains(&format!("&dag={date}#corrigeren\">geen registratie")),
        "{row}"
    );
}

/// The current registration of a participant's day not tied to an
/// allocation: activity, dagdelen, present.
async fn untied(s: &Server, pid: &str, day: &str) -> sqlx::any::AnyRow {
    sqlx::query(
        "SELECT activity, dagdelen, present FROM registrations \
         WHERE participant_id = $1 AND day = $2 AND superseded_by IS NULL AND allocation_id IS NULL",
    )
    .bind(pid)
    .bind(day)
    .fetch_one(s.state.store().pool())
    .await
    .expect("the day's own registration")
}

async fn a_correction_keeps_activity_allocation_and_hours(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let (pid, day, alloc) = a_day_with_two(&s).await;
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let week = format!("/registratie/week?week={day}&deelnemer={pid}&dag={day}&toewijzing={alloc}");
    let page = web.get(&week).await;
    let body = plain(&page.body);
    // The form starts from the registration: presence, 1,5 hours, the activity.
    assert!(
        body.contains("name=\"uren\" size=\"5\" value=\"1,5\""),
        "{body}"
    );
    assert!(body.contains("<option value=\"jobcoaching\" selected>"));
    assert!(body.contains("value=\"aanwezig\" required checked"));
    assert!(!body.contains("type=\"number\""));
    let csrf = page.csrf();
    // Saved as shown, with only a reason: nothing but the version changes.
    let form = [
        ("csrf", csrf.as_str()),
        ("deelnemer", pid.as_str()),
        ("dag", day.as_str()),
        ("groep", ""),
        ("toewijzing", alloc.as_str()),
        ("keuze", "aanwezig"),
        ("uren", "2,25"),
        ("activiteit", "jobcoaching"),
        ("reden", "langer gebleven"),
    ];
    let saved = web.post("/registratie/week/correctie", &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let now = sqlx::query(
        "SELECT allocation_id, activity, minutes FROM registrations \
         WHERE participant_id = $1 AND day = $2 AND superseded_by IS NULL ORDER BY allocation_id",
    )
    .bind(&pid)
    .bind(&day)
    .fetch_all(s.state.store().pool())
    .await
    .unwrap();
    assert_eq!(now.len(), 2, "still two registrations that day");
    let tied = now
        .iter()
        .find(|r| r.try_get::<Option<String>, _>("allocation_id").unwrap() == Some(alloc.clone()))
        .expect("the corrected one keeps its allocation");
    assert_eq!(
        tied.try_get::<Option<String>, _>("activity")
            .unwrap()
            .as_deref(),
        Some("jobcoaching")
    );
    assert_eq!(
        tied.try_get::<Option<i64>, _>("minutes").unwrap(),
        Some(135),
        "2,25 hours"
    );
    let corrected: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registrations WHERE participant_id = $1 AND day = $2 AND superseded_by IS NOT NULL",
    )
    .bind(&pid)
    .bind(&day)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    assert_eq!(corrected, 1, "only the jobcoaching was corrected");

    // The day's own registration corrected without touching its fields:
    // it keeps its activity and its dagdelen.
    let own = untied(&s, &pid, &day).await;
    let body = week_page(
        &mut web,
        &format!("week={day}&deelnemer={pid}&dag={day}&toewijzing="),
    )
    .await;
    let activity: Option<String> = own.try_get("activity").unwrap();
    if let Some(a) = &activity {
        assert!(
            body.contains(&format!("<option value=\"{a}\" selected>")),
            "{body}"
        );
    }
    let present: i64 = own.try_get("present").unwrap();
    let dagdelen: Option<i64> = own.try_get("dagdelen").unwrap();
    let keuze = match (present, dagdelen) {
        (0, _) => None,
        (_, Some(1)) => Some("dagdeel"),
        _ => Some("aanwezig"),
    };
    if let Some(keuze) = keuze {
        let form = [
            ("csrf", csrf.as_str()),
            ("deelnemer", pid.as_str()),
            ("dag", day.as_str()),
            ("groep", ""),
            ("toewijzing", ""),
            ("keuze", keuze),
            ("uren", ""),
            ("activiteit", activity.as_deref().unwrap_or("")),
            ("reden", "nagekeken"),
        ];
        let saved = web.post("/registratie/week/correctie", &form).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        let after = untied(&s, &pid, &day).await;
        assert_eq!(
            after.try_get::<Option<String>, _>("activity").unwrap(),
            activity
        );
        assert_eq!(
            after.try_get::<Option<i64>, _>("dagdelen").unwrap(),
            dagdelen
        );
    }
}

/// Participants of group Kas with one Wmo allocation only, by id.
async fn kas_wmo_only(s: &Server) -> Vec<String> {
    sqlx::query(
        "SELECT p.id FROM participants p JOIN allocations a ON a.participant_id = p.id \
         JOIN financiers f ON f.id = a.financier_id \
         WHERE p.tenant_id = $1 AND p.group_name = 'Kas' GROUP BY p.id \
         HAVING COUNT(*) = 1 AND MAX(f.kind) = 'wmo' AND MAX(a.einddatum) IS NULL ORDER BY p.id",
    )
    .bind(DEMO_AGB)
    .fetch_all(s.state.store().pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("id").unwrap())
    .collect()
}

async fn saving_a_day_warns_about_open_rows_and_days_that_do_not_count(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let today = loket::registration::today().to_string();
    let people = kas_wmo_only(&s).await;
    assert!(people.len() >= 3, "{people:?}");
    let (typo, long, usual) = (&people[0], &people[1], &people[2]);
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let page = web
        .get(&format!("/registratie?groep=Kas&datum={today}"))
        .await;
    assert_eq!(page.status, 200);
    let rows = page.body.matches("<tr class=\"deelnemer\"").count();
    assert_eq!(rows, 20, "the demo's group of twenty");
    assert!(page.body.contains("20 deelnemers"));
    assert!(!page.body.contains("type=\"number\""));
    assert!(page.body.contains("inputmode=\"decimal\""));
    let csrf = page.csrf();
    let keys: Vec<(String, String)> = vec![
        (format!("s.{typo}"), "aanwezig".into()),
        (format!("a.{typo}"), "kass".into()),
        (format!("s.{long}"), "aanwezig".into()),
        (format!("u.{long}"), "12".into()),
        (format!("a.{long}"), "kas".into()),
        (format!("s.{usual}"), "aanwezig".into()),
        (format!("u.{usual}"), "5,5".into()),
        (format!("a.{usual}"), "kas".into()),
    ];
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf), ("datum", &today), ("groep", "Kas")];
    form.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let saved = web.post("/registratie", &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let minutes: Option<i64> = sqlx::query_scalar(
        "SELECT minutes FROM registrations WHERE participant_id = $1 AND day = $2 AND superseded_by IS NULL",
    )
    .bind(usual)
    .bind(&today)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    assert_eq!(minutes, Some(330), "5,5 hours are five and a half hours");

    let after = web
        .get(saved.location.as_deref().expect("back to the day"))
        .await;
    let body = &after.body;
    assert!(body.contains("3 registraties opgeslagen"), "{body}");
    assert!(
        body.contains("class=\"melding waarschuwing controle\""),
        "{body}"
    );
    assert!(
        body.contains("17 regels open, zonder registratie"),
        "{body}"
    );
    let name = |pid: &str| {
        let at = body
            .find(&format!("data-deelnemer=\"{pid}\""))
            .expect("row");
        let rest = &body[at..];
        let from = rest.find("title=\"").unwrap() + 7;
        rest[from..from + rest[from..].find('"').unwrap()].to_string()
    };
    let warning = |pid: &str, reason: &str| {
        let who = name(pid);
        body.split("<li class=\"telt-niet\">")
            .any(|li| li.starts_with(&who) && li.contains(reason))
    };
    assert!(
        warning(
            typo,
            "(kass), 480 minuten: deze activiteit kent geen enkel contract"
        ),
        "{body}"
    );
    assert!(warning(long, "240 minuten: boven het dagmaximum"), "{body}");
    assert!(
        !body.contains(&format!("<li class=\"telt-niet\">{}", name(usual))),
        "5,5 hours of kas count: {body}"
    );
    // The rows keep what was saved, in the Dutch notation.
    assert!(body.contains("value=\"5,5\""), "{body}");

    // A correction warns the same way, for its own day.
    let pid = typo;
    let week = format!("/registratie/week?week={today}&deelnemer={pid}&dag={today}");
    let csrf = web.get(&week).await.csrf();
    let fixed = web
        .post(
            "/registratie/week/correctie",
            &[
                ("csrf", &csrf),
                ("deelnemer", pid),
                ("dag", &today),
                ("groep", "Kas"),
                ("keuze", "aanwezig"),
                ("uren", ""),
                ("activiteit", ""),
                ("reden", "activiteit vergeten"),
            ],
        )
        .await;
    assert_eq!(fixed.status, 303, "{}", fixed.body);
    let shown = web
        .get(fixed.location.as_deref().expect("to the week"))
        .await;
    assert!(
        shown.body.contains("Correctie opgeslagen"),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("geen activiteit ingevuld"),
        "{}",
        shown.body
    );
}

async fn the_end_of_care_needs_a_reason(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let pid: String = sqlx::query("SELECT id FROM participants WHERE tenant_id = $1 LIMIT 1")
        .bind(DEMO_AGB)
        .fetch_one(s.state.store().pool())
        .await
        .unwrap()
        .try_get("id")
        .unwrap();
    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let page = office.get(&format!("/deelnemers/{pid}")).await;
    assert!(
        page.body.contains("<option value=\"\" selected>"),
        "no reason chosen in advance"
    );
    let csrf = page.csrf();
    let today = loket::registration::today().to_string();
    for form in [
        vec![("csrf", csrf.as_str()), ("datum", today.as_str())],
        vec![
            ("csrf", csrf.as_str()),
            ("datum", today.as_str()),
            ("reden", ""),
        ],
    ] {
        let refused = office
            .post(&format!("/deelnemers/{pid}/einde"), &form)
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused.body.contains("kies een reden van beëindiging"),
            "{}",
            refused.body
        );
    }
    let ends: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM participant_ends WHERE participant_id = $1")
            .bind(&pid)
            .fetch_one(s.state.store().pool())
            .await
            .unwrap();
    assert_eq!(ends, 0, "nothing registered");
}
