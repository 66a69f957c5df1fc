//! The day registration and the week view on a tablet (820 CSS pixels
//! wide, upright): a group of twenty fits without sideways scrolling, each
//! participant's row stays under 80 px, every choice is a touch target of
//! 40 px or more, and registering works by touch and by key. Screenshots
//! `dagregistratie-820` and `weekoverzicht-820` go to `target/screenshots/`.
//!
//! Without chromedriver the test says so and passes, unless
//! `LOKET_BROWSER_TESTS=1`.

use fantoccini::{Client, Locator};
use serde_json::Value;

#[macro_use]
mod common;
use common::browser::*;

/// The page's width against the window's, and the heights of the rows and
/// of the smallest touch target in them.
async fn measure(c: &Client, rows: &str) -> Value {
    c.execute(
        &format!(
            "var d = document.documentElement;
             var rows = Array.prototype.slice.call(document.querySelectorAll('{rows}'));
             var h = function (el) {{ return el.getBoundingClientRect().height; }};
             var targets = Array.prototype.slice.call(document.querySelectorAll(
               '{rows} .keuzes label, {rows} input[type=text], {rows} select'));
             return {{
               scrollWidth: d.scrollWidth, clientWidth: d.clientWidth,
               bodyScrollWidth: document.body.scrollWidth,
               rows: rows.length,
               rowHeights: rows.map(h),
               smallestTarget: targets.length ? Math.min.apply(null, targets.map(h)) : null,
               targets: targets.length
             }};"
        ),
        vec![],
    )
    .await
    .expect("measured")
}

fn heights(m: &Value) -> Vec<f64> {
    m["rowHeights"]
        .as_array()
        .expect("heights")
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_of_twenty_fits_a_tablet_and_registers_by_touch() {
    let Some(session) = session_sized(TABLET).await else {
        return;
    };
    let (c, base) = (&session.c, session.base.as_str());
    let today = loket::registration::today();
    login(c, base, "jobcoach").await;
    c.goto(&format!("{base}/registratie?groep=Kas&datum={today}"))
        .await
        .unwrap();
    let m = measure(c, "tr.deelnemer").await;
    eprintln!("dagregistratie at 820 px: {m}");
    assert_eq!(m["rows"], 20, "the demo group of twenty: {m}");
    let (scroll, client) = (
        m["scrollWidth"].as_f64().unwrap(),
        m["clientWidth"].as_f64().unwrap(),
    );
    assert!(scroll <= client, "no sideways scrolling: {m}");
    let hs = heights(&m);
    let tallest = hs.iter().copied().fold(0.0, f64::max);
    assert!(tallest <= 80.0, "every row at most 80 px: {m}");
    let smallest = m["smallestTarget"].as_f64().unwrap();
    assert!(smallest >= 40.0, "touch targets of 40 px and more: {m}");

    // By touch: the first row present, the second sick; by key in the
    // third (v: vakantie); the rest with the button.
    let rows = c.find_all(Locator::Css("tr.deelnemer")).await.unwrap();
    for (row, choice) in rows.iter().zip(["aanwezig", "ziek"]) {
        row.find(Locator::Css(&format!("input[value={choice}]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap_or_else(|e| panic!("a touch on {choice}: {e}"));
    }
    let third = rows[2]
        .find(Locator::Css("input[value=aanwezig]"))
        .await
        .unwrap();
    third.click().await.unwrap();
    third.send_keys("v").await.unwrap();
    let chosen = c
        .execute(
            "return Array.prototype.slice.call(document.querySelectorAll('tr.deelnemer'), 0, 3)
               .map(function (r) { var i = r.querySelector('input[type=radio]:checked'); return i ? i.value : null; });",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        chosen,
        serde_json::json!(["aanwezig", "ziek", "vakantie"]),
        "touch and keys choose"
    );
    click(c, Locator::Id("alle-aanwezig")).await;
    shot(c, "dagregistratie-820").await;
    let saved = save_day(c).await;
    assert!(saved.contains("20 registraties opgeslagen"), "{saved}");
    let m = measure(c, "tr.deelnemer").await;
    eprintln!("dagregistratie at 820 px after saving: {m}");
    assert!(
        m["scrollWidth"].as_f64() <= m["clientWidth"].as_f64(),
        "{m}"
    );
    assert!(heights(&m).iter().all(|h| *h <= 80.0), "{m}");
    shot(c, "dagregistratie-820-opgeslagen").await;

    // The week view of the demo month for a participant: marked, no
    // sideways scrolling either.
    let pid: String =
        sqlx::query_scalar("SELECT MIN(p.id) FROM participants p WHERE p.group_name = 'Kas'")
            .fetch_one(session.s.state.store().pool())
            .await
            .unwrap();
    let day = format!("{}-10", session.demo.month);
    c.goto(&format!(
        "{base}/registratie/week?groep=Kas&week={day}&deelnemer={pid}"
    ))
    .await
    .unwrap();
    let w = measure(c, "table.week tbody tr").await;
    eprintln!("weekoverzicht at 820 px: {w}");
    assert!(
        w["scrollWidth"].as_f64() <= w["clientWidth"].as_f64(),
        "the week view fits: {w}"
    );
    let marked = c
        .find(Locator::Css(&format!("tr.gemarkeerd#deelnemer-{pid}")))
        .await;
    assert!(marked.is_ok(), "the participant is marked");
    let place = c
        .execute(
            "var r = document.querySelector('tr.gemarkeerd').getBoundingClientRect();
             return [r.top, r.bottom, window.innerHeight];",
            vec![],
        )
        .await
        .unwrap();
    let (top, bottom, height) = (
        place[0].as_f64().unwrap(),
        place[1].as_f64().unwrap(),
        place[2].as_f64().unwrap(),
    );
    assert!(
        top >= 0.0 && bottom <= height,
        "the marked row is in view: {place}"
    );
    shot(c, "weekoverzicht-820").await;
    // This week: the days up to today without a registration are marked
    // (today's was saved above for the whole group).
    c.goto(&format!(
        "{base}/registratie/week?week={today}&deelnemer={pid}"
    ))
    .await
    .unwrap();
    let w = measure(c, "table.week tbody tr").await;
    assert!(
        w["scrollWidth"].as_f64() <= w["clientWidth"].as_f64(),
        "{w}"
    );
    shot(c, "weekoverzicht-820-deze-week").await;
    assert_no_bsn_in_url(c).await;
}
