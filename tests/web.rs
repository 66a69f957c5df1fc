//! The web app over HTTP, on both backends: login, session cookie flags,
//! CSRF, roles, tenant scoping, lock-out and logout. The browser itself is
//! exercised in `tests/browser.rs`; these cases check what a browser does
//! not show (headers, status codes, what was or was not stored).

use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    login_sets_a_strict_session_cookie_and_roles_decide_the_pages,
    a_form_without_the_session_csrf_token_changes_nothing,
    another_tenant_sees_nothing_of_the_demo_provider,
    repeated_failures_lock_the_account,
    logout_ends_the_session_on_the_server,
    messages_loket_refused_show_in_the_review_queue,
    the_back_office_sets_a_group_and_registers_the_end_of_care,
    a_correction_commits_with_its_reason_in_the_audit_trail,
    the_demo_invoices_uwv_beside_the_municipalities,
);

/// Where every refused login goes: wrong password, unknown user, locked.
const REFUSED: &str = "/login?melding=inloggen-mislukt";

async fn login_sets_a_strict_session_cookie_and_roles_decide_the_pages(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    let anonymous = web.get("/registratie").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/login"));

    let wrong = web.login(DEMO_AGB, "jobcoach", "niet-het-wachtwoord").await;
    assert_eq!(wrong.location.as_deref(), Some(REFUSED));
    let unknown = web.login(DEMO_AGB, "niemand", DEMO_PASSWORD).await;
    assert_eq!(
        unknown.location.as_deref(),
        Some(REFUSED),
        "an unknown name reads like a wrong password"
    );

    let ok = web.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(ok.status, 303);
    let session = web
        .last_set_cookie
        .iter()
        .find(|c| c.starts_with("loket_sessie="))
        .expect("a session cookie")
        .clone();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{flag} in {session}");
    }
    let token = session
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("token");
    let stored = count(
        &s,
        &format!(
            "SELECT COUNT(*) FROM sessions WHERE token_hash = '{}'",
            loket::store::sha256_hex(&[&token])
        ),
    )
    .await;
    assert_eq!(stored, 1, "the session is stored by the token's hash");
    assert_eq!(
        count(
            &s,
            &format!("SELECT COUNT(*) FROM sessions WHERE token_hash = '{token}'")
        )
        .await,
        0,
        "never the token itself"
    );

    let home = web.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/registratie"));
    let registratie = web.get("/registratie").await;
    assert_eq!(registratie.status, 200);
    assert!(registratie.body.contains("Dagregistratie"));
    assert!(registratie.body.contains("lang=\"nl\""));
    for page in ["/afgekeurd", "/declaraties", "/gebruikers"] {
        let p = web.get(page).await;
        assert_eq!(p.status, 403, "a begeleider may not open {page}");
        assert!(p.body.contains("Geen toegang"));
    }

    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    assert_eq!(office.get("/afgekeurd").await.status, 200);
    assert_eq!(office.get("/declaraties").await.status, 200);
    assert_eq!(office.get("/gebruikers").await.status, 403);
    let mut beheer = WebClient::new(&s.base);
    beheer.login(DEMO_AGB, "beheer", DEMO_PASSWORD).await;
    assert_eq!(beheer.get("/gebruikers").await.status, 200);
}

async fn a_form_without_the_session_csrf_token_changes_nothing(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let page = web.get("/registratie?groep=Kas").await;
    let pid = page
        .body
        .split("data-deelnemer=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a participant row")
        .to_string();
    let today = loket::registration::today().to_string();
    let before = count(&s, "SELECT COUNT(*) FROM registrations").await;
    let status = format!("s.{pid}");
    for csrf in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let forged = web
            .post(
                "/registratie",
                &[
                    ("csrf", csrf),
                    ("datum", &today),
                    ("groep", "Kas"),
                    (&status, "aanwezig"),
                ],
            )
            .await;
        assert_eq!(forged.status, 403, "csrf {csrf:?}");
        assert!(forged.body.contains("Formulier verlopen"));
    }
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM registrations").await,
        before
    );
    let run = web
        .post("/declaraties/run", &[("csrf", "x"), ("periode", "2026-01")])
        .await;
    assert_eq!(run.status, 403);

    // With the session's token the same form stores the day.
    let csrf = page.csrf();
    let saved = web
        .post(
            "/registratie",
            &[
                ("csrf", &csrf),
                ("datum", &today),
                ("groep", "Kas"),
                (&status, "aanwezig"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(
        saved
            .location
            .as_deref()
            .is_some_and(|l| l.contains("opgeslagen=1")),
        "{:?}",
        saved.location
    );
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM registrations").await,
        before + 1
    );
    // Stored through the shared path, with who registered it.
    let by: String = sqlx::query(
        "SELECT registered_by FROM registrations WHERE participant_id = $1 AND day = $2",
    )
    .bind(&pid)
    .bind(&today)
    .fetch_one(s.state.store().pool())
    .await
    .expect("row")
    .try_get("registered_by")
    .expect("column");
    assert!(by.contains("backoffice"), "{by}");
}

async fn another_tenant_sees_nothing_of_the_demo_provider(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    add_other_tenant(&s).await;
    let (pid, bsn): (String, String) = {
        let r = sqlx::query("SELECT id, bsn FROM participants WHERE tenant_id = $1 LIMIT 1")
            .bind(DEMO_AGB)
            .fetch_one(s.state.store().pool())
            .await
            .expect("participant");
        (r.try_get("id").unwrap(), r.try_get("bsn").unwrap())
    };
    let item: String = sqlx::query("SELECT id FROM review_items WHERE tenant_id = $1 LIMIT 1")
        .bind(DEMO_AGB)
        .fetch_one(s.state.store().pool())
        .await
        .expect("review item")
        .try_get("id")
        .unwrap();
    let mut other = WebClient::new(&s.base);
    let ok = other
        .login("11112222", "anna", "een-ander-wachtwoord")
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(other.get(&format!("/deelnemers/{pid}")).await.status, 404);
    assert_eq!(other.get(&format!("/afgekeurd/{item}")).await.status, 404);
    let list = other.get("/deelnemers").await;
    assert!(list.body.contains("0 deelnemers"), "{}", list.body);
    // The demo's own user cannot log in at the other tenant either.
    let cross = WebClient::new(&s.base)
        .login("11112222", "backoffice", DEMO_PASSWORD)
        .await;
    assert_eq!(cross.location.as_deref(), Some(REFUSED));
    // And no page takes a BSN.
    let mut own = WebClient::new(&s.base);
    own.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    assert_eq!(own.get(&format!("/deelnemers/{bsn}")).await.status, 404);
    let page = own.get(&format!("/deelnemers/{pid}")).await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains(&format!("href=\"/deelnemers/{bsn}")),
        "links use ids"
    );
}

async fn repeated_failures_lock_the_account(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    for _ in 0..loket::web::auth::MAX_FAILED_LOGINS {
        let p = web.login(DEMO_AGB, "jobcoach", "fout-wachtwoord").await;
        assert_eq!(p.location.as_deref(), Some(REFUSED));
    }
    let right = web.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(
        right.location.as_deref(),
        Some(REFUSED),
        "locked also for the right password"
    );
    assert!(!web.cookies.contains_key("loket_sessie"));
    let page = web.get(REFUSED).await;
    assert!(page.body.contains("tijdelijk geblokkeerd"), "{}", page.body);
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account_locked'"
        )
        .await,
        1
    );
    // Other users are not affected.
    let other = WebClient::new(&s.base)
        .login(DEMO_AGB, "backoffice", DEMO_PASSWORD)
        .await;
    assert_eq!(other.location.as_deref(), Some("/"));
}

async fn logout_ends_the_session_on_the_server(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let token = web.cookies.get("loket_sessie").cloned().expect("session");
    let page = web.get("/registratie").await;
    let out = web.post("/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    // The old cookie, replayed, no longer opens anything.
    let mut replay = WebClient::new(&s.base);
    replay.cookies.insert("loket_sessie".into(), token);
    let p = replay.get("/registratie").await;
    assert_eq!(p.location.as_deref(), Some("/login"));
}

async fn messages_loket_refused_show_in_the_review_queue(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    // A WMO301 to the demo provider that breaks a rule (the elfproef of the BSN).
    let xml = std::fs::read_to_string("fixtures/iwmo/invalid/WMO301_bsn_elfproef.xml")
        .expect("fixture")
        .replace("73730112", DEMO_AGB);
    let res = s
        .http
        .post(format!("{}/messages", s.base))
        .bearer_auth(demo.api_token.as_deref().expect("token"))
        .body(xml)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let page = web.get("/afgekeurd").await;
    let section = page
        .body
        .split("Ontvangen berichten die loket afkeurde")
        .nth(1)
        .expect("the section");
    assert!(section.contains("WMO301"), "{section}");
    assert!(section.contains("afgekeurd"), "{section}");
    // Filtered on another retourcode it is not listed.
    let other = web.get("/afgekeurd?code=9999").await;
    let section = other
        .body
        .split("Ontvangen berichten die loket afkeurde")
        .nth(1)
        .expect("the section");
    assert!(!section.contains("WMO301"), "{section}");
}

async fn the_back_office_sets_a_group_and_registers_the_end_of_care(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let pid: String = sqlx::query("SELECT id FROM participants WHERE tenant_id = $1 LIMIT 1")
        .bind(DEMO_AGB)
        .fetch_one(s.state.store().pool())
        .await
        .expect("participant")
        .try_get("id")
        .unwrap();
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let page = coach.get(&format!("/deelnemers/{pid}")).await;
    assert!(
        !page.body.contains("Einde registreren"),
        "not offered to a begeleider"
    );
    let refused = coach
        .post(
            &format!("/deelnemers/{pid}/groep"),
            &[("csrf", &page.csrf()), ("groep", "Fietsenmakerij")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let page = office.get(&format!("/deelnemers/{pid}")).await;
    let csrf = page.csrf();
    let set = office
        .post(
            &format!("/deelnemers/{pid}/groep"),
            &[("csrf", &csrf), ("groep", "Fietsenmakerij")],
        )
        .await;
    assert_eq!(set.status, 303);
    let group: Option<String> = sqlx::query("SELECT group_name FROM participants WHERE id = $1")
        .bind(&pid)
        .fetch_one(s.state.store().pool())
        .await
        .unwrap()
        .try_get("group_name")
        .unwrap();
    assert_eq!(group.as_deref(), Some("Fietsenmakerij"));
    let today = loket::registration::today().to_string();
    let end = office
        .post(
            &format!("/deelnemers/{pid}/einde"),
            &[("csrf", &csrf), ("datum", &today), ("reden", "verhuizing")],
        )
        .await;
    assert_eq!(end.status, 303, "{}", end.body);
    let ends = count(
        &s,
        &format!("SELECT COUNT(*) FROM participant_ends WHERE participant_id = '{pid}' AND reason = 'verhuizing'"),
    )
    .await;
    assert_eq!(ends, 1);
    let bad = office
        .post(
            &format!("/deelnemers/{pid}/einde"),
            &[("csrf", &csrf), ("datum", &today), ("reden", "onbekend")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM audit_log WHERE action IN ('participant_group', 'participant_end')").await,
        2
    );
}

async fn a_correction_commits_with_its_reason_in_the_audit_trail(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let row = sqlx::query(
        "SELECT r.participant_id, MIN(r.day) AS day FROM registrations r \
         JOIN participants p ON p.id = r.participant_id \
         WHERE p.group_name = 'Kas' AND r.present = 1 AND r.day LIKE $1 \
         GROUP BY r.participant_id ORDER BY r.participant_id LIMIT 1",
    )
    .bind(format!("{}%", demo.month))
    .fetch_one(s.state.store().pool())
    .await
    .expect("a registered day in group Kas");
    let pid: String = row.try_get("participant_id").unwrap();
    let day: String = row.try_get("day").unwrap();
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let week = format!("/registratie/week?groep=Kas&week={day}&deelnemer={pid}&dag={day}");
    let csrf = web.get(&week).await.csrf();
    let corrections = "SELECT COUNT(*) FROM audit_log WHERE action = 'registration_corrected'";
    let correct = |uren: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("deelnemer", pid.clone()),
            ("dag", day.clone()),
            ("groep", "Kas".to_string()),
            ("keuze", "aanwezig".to_string()),
            ("uren", uren.to_string()),
            ("activiteit", "kas".to_string()),
            ("reden", "uren nagekeken met de presentielijst".to_string()),
        ]
    };
    let form = correct("abc");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bad = web.post("/registratie/week/correctie", &form).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        count(&s, corrections).await,
        0,
        "nothing stored, nothing audited"
    );

    let form = correct("1,5");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = web.post("/registratie/week/correctie", &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // One entry, on the new version, carrying the reason and what it replaced.
    let entry = sqlx::query(
        "SELECT a.subject_id, a.detail, r.superseded_by FROM audit_log a \
         JOIN registrations r ON r.id = a.subject_id \
         WHERE a.action = 'registration_corrected'",
    )
    .fetch_all(s.state.store().pool())
    .await
    .expect("audit entries");
    assert_eq!(entry.len(), 1);
    let superseded: Option<String> = entry[0].try_get("superseded_by").unwrap();
    assert!(superseded.is_none(), "the entry names the current version");
    let detail: String = entry[0].try_get("detail").unwrap();
    assert!(detail.contains("uren nagekeken"), "{detail}");
    assert!(detail.contains("replaces"), "{detail}");
    let page = web.get(&week).await;
    assert!(
        page.body.contains("uren nagekeken met de presentielijst"),
        "the week view shows the reason"
    );
}

async fn the_demo_invoices_uwv_beside_the_municipalities(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let mut office = WebClient::new(&s.base);
    office.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;

    // The declarations page lists the month's UWV invoice beside the 323s,
    // and its message downloads as the UBL document itself.
    let page = office
        .get(&format!("/declaraties?periode={}", demo.month))
        .await;
    assert_eq!(page.status, 200);
    for text in ["WMO323", "JW323", "Factuur", "UWV"] {
        assert!(page.body.contains(text), "{text} on the declarations page");
    }
    let invoice: String = sqlx::query(
        "SELECT d.id FROM declarations d JOIN financiers f ON f.id = d.financier_id \
         WHERE d.tenant_id = $1 AND f.kind = 'uwv' LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a UWV invoice")
    .try_get("id")
    .unwrap();
    assert!(
        page.body
            .contains(&format!("/declaraties/{invoice}/bericht"))
    );
    let xml = office.get(&format!("/declaraties/{invoice}/bericht")).await;
    assert_eq!(xml.status, 200);
    assert!(
        xml.body.contains("<Invoice"),
        "{}",
        &xml.body[..xml.body.len().min(300)]
    );
    assert!(
        xml.body.contains("UWV-OPD-"),
        "the order reference is on the invoice"
    );
    let detail = office.get(&format!("/declaraties/{invoice}")).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("JC001") || detail.body.contains("WF001"));
    // UWV gets one invoice per order: five jobcoaching orders, two werkfit.
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM declarations d JOIN financiers f ON f.id = d.financier_id \
             WHERE f.kind = 'uwv'"
        )
        .await,
        7
    );

    // A participant with a Wmo toewijzing and a UWV order sees both on one
    // timeline; the BSN is in no link of the page.
    let row = sqlx::query(
        "SELECT p.id, p.bsn FROM participants p WHERE p.tenant_id = $1 AND \
         (SELECT COUNT(DISTINCT a.financier_id) FROM allocations a WHERE a.participant_id = p.id) = 2 LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a participant with two financiers");
    let pid: String = row.try_get("id").unwrap();
    let bsn: String = row.try_get("bsn").unwrap();
    let record = office.get(&format!("/deelnemers/{pid}")).await;
    assert_eq!(record.status, 200);
    assert!(
        record.body.contains("Wmo 07A11"),
        "the Wmo toewijzing on the timeline"
    );
    assert!(
        record.body.contains("UWV JC001"),
        "the UWV order on the timeline"
    );
    assert!(!record.body.contains(&format!("/{bsn}")), "no BSN in a URL");
    assert!(
        !record.body.contains(":JC001 is geleverd"),
        "an invoiced order gets no start message, so none is missing"
    );
}
