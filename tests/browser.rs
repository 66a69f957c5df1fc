//! The web app in a real browser: headless Chromium driven by chromedriver
//! (Debian's `chromium` and `chromium-driver`) against the real server with
//! the demo tenant of `loket serve --demo`.
//!
//! One scenario, as staff use it: a job coach registers a day for a group
//! with the keyboard and one button, and cannot open the review queue; the
//! back office runs the declaration and sees the WMO323, opens the rejected
//! line of the demo's answer, corrects the day in the week view and resends
//! it. Screenshots of the main pages go to `target/screenshots/`.
//!
//! Without chromedriver on the machine the test says so and passes, unless
//! `LOKET_BROWSER_TESTS=1` (set by `.ci/run`), where a missing browser fails.

use fantoccini::Locator;
use loket::web::demo::DEMO_GEMEENTE;
use serde_json::json;

#[macro_use]
mod common;
use common::browser::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_register_declare_review_and_resend_in_a_browser() {
    let Some(Session {
        c,
        s,
        demo,
        base,
        _profile,
        _driver,
    }) = session().await
    else {
        return;
    };
    let today = loket::registration::today();

    // A job coach registers today for the group Kas: one key press in the
    // first row (z: ziek, focus moves on), one button for the rest.
    login(&c, &base, "jobcoach").await;
    c.goto(&format!("{base}/registratie?groep=Kas&datum={today}"))
        .await
        .unwrap();
    let rows = c.find_all(Locator::Css("tr.deelnemer")).await.unwrap();
    assert!(rows.len() >= 5, "the group's participants are listed");
    let first = c
        .find(Locator::Css("tr.deelnemer input[type=radio]"))
        .await
        .unwrap();
    first.click().await.unwrap();
    first.send_keys("z").await.unwrap();
    click(&c, Locator::Id("alle-aanwezig")).await;
    shot(&c, "dagregistratie").await;
    let saved = save_day(&c).await;
    assert!(
        saved.contains(&format!("{} registraties opgeslagen", rows.len())),
        "{saved}"
    );
    let sick = c
        .find(Locator::Css("tr.deelnemer input[value=ziek]"))
        .await
        .unwrap();
    assert_eq!(
        sick.prop("checked").await.unwrap().as_deref(),
        Some("true"),
        "the key press chose ziek in the first row"
    );
    // The begeleider cannot open the review queue.
    c.goto(&format!("{base}/afgekeurd")).await.unwrap();
    assert!(text(&c).await.contains("Geen toegang"));
    assert!(
        c.find(Locator::LinkText("Afgekeurde berichten"))
            .await
            .is_err(),
        "not in the begeleider's menu"
    );
    logout(&c).await;

    // The back office runs this month's declaration and sees the WMO323.
    login(&c, &base, "backoffice").await;
    c.goto(&format!("{base}/declaraties")).await.unwrap();
    let month = c.find(Locator::Css("input[name=periode]")).await.unwrap();
    month.clear().await.unwrap();
    // Chromium's month input takes the month name or number as typed keys;
    // set the value directly, as the form would send it.
    c.execute(
        "document.querySelector('form[action=\"/declaraties/run\"] input[name=periode]').value = arguments[0];",
        vec![json!(today.format("%Y-%m").to_string())],
    )
    .await
    .unwrap();
    click(&c, Locator::Css("form[action='/declaraties/run'] button")).await;
    // The run shows a preview first (nothing sent yet); Versturen sends.
    wait_for_message(&c).await;
    let preview = text(&c).await;
    assert!(preview.contains("Voorbeeld declaratierun"), "{preview}");
    assert!(preview.contains("Meldingen"), "{preview}");
    click(
        &c,
        Locator::Css("form[action='/declaraties/run/versturen'] button"),
    )
    .await;
    // Back on the list (its filter form), with the run's result.
    c.wait()
        .at_most(std::time::Duration::from_secs(30))
        .for_element(Locator::Css("form.filters"))
        .await
        .expect("the declarations list after Versturen");
    wait_for_message(&c).await;
    let declared = text(&c).await;
    assert!(declared.contains("WMO323"), "{declared}");
    assert!(
        declared.contains("De declaratierun is uitgevoerd"),
        "{declared}"
    );
    shot(&c, "declaraties").await;
    // The demo month holds the UWV invoice beside the municipalities' 323s.
    c.goto(&format!("{base}/declaraties?periode={}", demo.month))
        .await
        .unwrap();
    let month_page = text(&c).await;
    for t in ["WMO323", "JW323", "Factuur", "UWV"] {
        assert!(month_page.contains(t), "{t}: {month_page}");
    }
    shot(&c, "declaraties-maand").await;

    // The rejected line of the demo's answer is in the review queue.
    c.goto(&format!("{base}/afgekeurd?code=9308"))
        .await
        .unwrap();
    let queue = text(&c).await;
    assert!(queue.contains("Declaratieregel afgewezen"), "{queue}");
    assert!(queue.contains("9308"), "{queue}");
    shot(&c, "afgekeurd").await;
    click(&c, Locator::LinkText("Bekijken")).await;
    assert_no_bsn_in_url(&c).await;
    let item_url = c.current_url().await.unwrap().to_string();
    let item = text(&c).await;
    assert!(
        item.contains("ligt na de einddatum van de toewijzing"),
        "9308 explained in Dutch: {item}"
    );
    shot(&c, "afgekeurd-item").await;

    // Correct the day: the participant's first registered day of the demo
    // month becomes ziek, with a reason, in the week view.
    let participant = c
        .find(Locator::Css("dl.gegevens a[href^='/deelnemers/']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("participant link");
    let pid = participant.trim_start_matches("/deelnemers/").to_string();
    let first_day: String = sqlx::query_scalar(
        "SELECT MIN(day) FROM registrations WHERE participant_id = $1 AND present = 1 AND day LIKE $2",
    )
    .bind(&pid)
    .bind(format!("{}%", demo.month))
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    c.goto(&format!(
        "{base}/registratie/week?week={first_day}&deelnemer={pid}&dag={first_day}"
    ))
    .await
    .unwrap();
    click(
        &c,
        Locator::Css("form[action='/registratie/week/correctie'] input[value=ziek]"),
    )
    .await;
    type_into(
        &c,
        Locator::Css("input[name=reden]"),
        "was ziek gemeld, per abuis aanwezig",
    )
    .await;
    shot(&c, "weekoverzicht").await;
    click(
        &c,
        Locator::Css("form[action='/registratie/week/correctie'] button"),
    )
    .await;
    wait_for_message(&c).await;
    let week = text(&c).await;
    assert!(week.contains("Correctie opgeslagen"), "{week}");
    assert!(week.contains("Correcties in deze week"), "{week}");
    assert!(week.contains("Bas (backoffice)"), "who corrected: {week}");
    assert!(
        week.contains("was ziek gemeld, per abuis aanwezig"),
        "why: {week}"
    );

    // Resend from the item.
    c.goto(&item_url).await.unwrap();
    type_into(
        &c,
        Locator::Css("form[action$='/opnieuw'] input[name=reden]"),
        "registratie gecorrigeerd",
    )
    .await;
    click(&c, Locator::Css("form[action$='/opnieuw'] button")).await;
    wait_for_message(&c).await;
    let after = text(&c).await;
    assert!(
        after.contains("de declaratierun heeft de gecorrigeerde regels verzonden"),
        "{after}"
    );
    assert!(after.contains("afgehandeld"), "{after}");
    assert!(
        after.contains("registratie gecorrigeerd"),
        "in the history: {after}"
    );
    shot(&c, "opnieuw-ingediend").await;

    // The new declaration carries the corrected month as a debit (the
    // participant's UWV invoice lines are the invoice's own business).
    let lines: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM prestaties WHERE participant_id = $1 AND period_begin = $2 AND debet_credit = 'D' \
         AND standard <> 'ubl'",
    )
    .bind(&pid)
    .bind(format!("{}-01", demo.month))
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    assert_eq!(lines, 2, "the rejected debit and the new one");

    c.goto(&format!("{base}/deelnemers/{pid}")).await.unwrap();
    let record = text(&c).await;
    assert!(
        record.contains("Toewijzingen van alle financiers"),
        "{record}"
    );
    shot(&c, "deelnemer").await;
    c.goto(&format!("{base}/deelnemers")).await.unwrap();
    shot(&c, "deelnemers").await;
    c.close().await.unwrap();
}

/// The demo municipality decides on the provider's declaration before its
/// 325 leaves: someone who may only look sees no decision forms; the
/// beoordelaar approves the line loket's judgement rejected, with a reason,
/// and sends the 325.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn municipality_decides_before_the_325_leaves_in_a_browser() {
    let Some(Session {
        c,
        s,
        base,
        _profile,
        _driver,
        ..
    }) = session().await
    else {
        return;
    };

    login_at(&c, &base, DEMO_GEMEENTE, "meekijker").await;
    let list = text(&c).await;
    assert!(list.contains("Wacht op uw beslissing"), "{list}");
    click(&c, Locator::LinkText("Beoordelen")).await;
    assert_no_bsn_in_url(&c).await;
    assert!(
        c.find(Locator::Css("form[action*='/regels/']"))
            .await
            .is_err(),
        "no decisions for a role that may only look"
    );
    logout(&c).await;

    login_at(&c, &base, DEMO_GEMEENTE, "beoordelaar").await;
    let list = text(&c).await;
    assert!(list.contains("Ontvangen declaraties"), "{list}");
    shot(&c, "gemeente-declaraties").await;
    click(&c, Locator::LinkText("Beoordelen")).await;
    let page = text(&c).await;
    assert!(page.contains("wacht op uw beslissing"), "{page}");
    assert!(page.contains("afgekeurd"), "loket rejected a line: {page}");
    shot(&c, "gemeente-declaratie").await;
    // The rejected line's form approves it.
    type_into(
        &c,
        Locator::Css("form[action*='/regels/'] input[value=goedkeuren] ~ label input[name=reden]"),
        "extra dagdelen in overleg toegekend",
    )
    .await;
    click(
        &c,
        Locator::Css("form[action*='/regels/'] input[value=goedkeuren] ~ button"),
    )
    .await;
    wait_for_message(&c).await;
    let after = text(&c).await;
    assert!(after.contains("Beslissing opgeslagen"), "{after}");
    assert!(
        after.contains("extra dagdelen in overleg toegekend"),
        "{after}"
    );
    assert!(after.contains("Greet (beoordelaar Wmo)"), "who: {after}");
    shot(&c, "gemeente-beslissing").await;
    click(&c, Locator::Id("versturen")).await;
    wait_for_message(&c).await;
    let sent = text(&c).await;
    assert!(sent.contains("staat in de wachtrij"), "{sent}");
    assert!(sent.contains("verstuurd op"), "{sent}");
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND state = 'held'")
            .bind(DEMO_GEMEENTE)
            .fetch_one(s.state.store().pool())
            .await
            .unwrap();
    assert_eq!(held, 0, "the 325 left the hold");
    for path in ["/gemeente/toewijzingen", "/gemeente/verzoeken"] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        let t = text(&c).await;
        assert!(!t.contains("Er ging iets mis"), "{path}: {t}");
        shot(&c, &path.replace('/', "-")).await;
    }
    c.close().await.unwrap();
}
