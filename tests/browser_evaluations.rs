//! The evaluation form on a tablet (820 CSS pixels wide, upright), in real
//! Chromium: from the due list to the form, levels picked by touch, the
//! progress on a goal, the next step, saved, and the saved evaluation
//! shown; no sideways scrolling on the list, the form or the result.
//! Screenshots `evaluaties-820`, `evaluatie-820` and
//! `evaluatie-820-opgeslagen` go to `target/screenshots/`.
//!
//! Without chromedriver the test says so and passes, unless
//! `LOKET_BROWSER_TESTS=1`.

use fantoccini::{Client, Locator};
use serde_json::Value;

#[macro_use]
mod common;
use common::browser::*;

async fn widths(c: &Client) -> Value {
    c.execute(
        "var d = document.documentElement;
         return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth };",
        vec![],
    )
    .await
    .expect("measured")
}

fn assert_fits(m: &Value, what: &str) {
    assert!(
        m["scrollWidth"].as_f64() <= m["clientWidth"].as_f64(),
        "{what}: no sideways scrolling: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_evaluation_is_filled_in_on_a_tablet() {
    let Some(session) = session_sized(TABLET).await else {
        return;
    };
    let (c, base, _server) = (&session.c, session.base.as_str(), &session.s);
    login(c, base, "jobcoach").await;

    // The start page lists what is due; the full list is one link away.
    c.goto(&format!("{base}/registratie")).await.unwrap();
    wait_for(
        c,
        Locator::Css("section.evaluaties-kort"),
        "the due list on the start page",
    )
    .await;
    click(c, Locator::LinkText("Alle evaluaties")).await;
    wait_for(c, Locator::Css("table.evaluaties"), "the due list").await;
    assert_fits(&widths(c).await, "the due list");
    shot(c, "evaluaties-820").await;
    let overdue = c
        .find(Locator::Css("tr.te-laat th a"))
        .await
        .expect("an overdue evaluation in the demo");
    let name = overdue.text().await.unwrap();
    overdue.click().await.unwrap();
    wait_for(c, Locator::Css("form.evaluatie"), "the evaluation form").await;
    assert_no_bsn_in_url(c).await;
    let url = c.current_url().await.unwrap().to_string();
    let pid = url
        .split("/deelnemers/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("the participant in the URL")
        .to_string();
    assert!(text(c).await.contains(&name));

    // The ZRM: open it if no earlier measurement opened it, and pick three
    // levels by touch.
    let zrm = c
        .find(Locator::Css("details.instrument:first-of-type"))
        .await
        .expect("the first instrument");
    if zrm.attr("open").await.unwrap().is_none() {
        zrm.find(Locator::Css("summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    for (domain, level) in [("financien", 3), ("huisvesting", 4), ("sociaal_netwerk", 2)] {
        c.find(Locator::Css(&format!(
            "input[name='m.zrm.{domain}'][value='{level}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("level {level} of {domain}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("a touch on {domain} {level}: {e}"));
    }
    // Progress on the first open goal (the demo gives everyone one).
    let goal = c
        .find(Locator::Css("fieldset.doel input[value='much']"))
        .await
        .expect("an open goal");
    goal.click().await.unwrap();
    type_into(
        c,
        Locator::Css("textarea[name=volgende_stap]"),
        "Proefplaatsing bij de bakker bespreken",
    )
    .await;
    c.find(Locator::Css("select[name=tevredenheid] option[value='7']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_fits(&widths(c).await, "the evaluation form");
    shot(c, "evaluatie-820").await;

    click(c, Locator::Css("form.evaluatie button[type=submit]")).await;
    wait_for_message(c).await;
    let saved = text(c).await;
    assert!(saved.contains("De evaluatie is opgeslagen."), "{saved}");
    assert!(
        saved.contains("Proefplaatsing bij de bakker bespreken"),
        "{saved}"
    );
    assert!(saved.contains("veel vooruitgang"), "{saved}");
    assert!(saved.contains("Rapportcijfer deelnemer: 7"), "{saved}");
    assert_fits(&widths(c).await, "the saved evaluation");
    shot(c, "evaluatie-820-opgeslagen").await;

    // What was picked is what is stored.
    let scores: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.domain, s.score FROM measurement_scores s JOIN measurements m ON m.id = s.measurement_id \
         WHERE m.participant_id = $1 AND m.instrument = 'zrm' AND m.evaluation_id IS NOT NULL \
         ORDER BY s.domain",
    )
    .bind(&pid)
    .fetch_all(session.s.state.store().pool())
    .await
    .unwrap();
    assert_eq!(
        scores,
        vec![
            ("financien".to_string(), 3),
            ("huisvesting".to_string(), 4),
            ("sociaal_netwerk".to_string(), 2)
        ]
    );
}
