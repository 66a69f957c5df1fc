//! Ontwikkeling in a real browser (headless Chromium), on a laptop and on
//! a tablet held upright (820 px): a demo participant's development page
//! draws one point per score of every measurement in its SVG charts, the
//! aggregate draws its bars, and neither page scrolls sideways.
//! Screenshots go to `target/screenshots/`.
//!
//! Without chromedriver on the machine the test says so and passes, unless
//! `LOKET_BROWSER_TESTS=1` (set by `.ci/run`), where a missing browser fails.

use fantoccini::{Client, Locator};
use loket::web::demo::DEMO_AGB;

#[macro_use]
mod common;
use common::browser::*;

/// How far the page scrolls sideways, in CSS pixels (0: not at all).
async fn sideways(c: &Client) -> i64 {
    c.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        vec![],
    )
    .await
    .expect("measure")
    .as_i64()
    .unwrap_or(1)
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.expect("find").len()
}

async fn development(size: (u32, u32), name: &str) {
    let Some(Session {
        c,
        s,
        demo: _,
        base,
        _profile,
        _driver,
    }) = session_sized(size).await
    else {
        return;
    };
    // A participant measured with all three instruments (an even index
    // below 24), and the number of scores stored: one point each.
    let (id, scores): (String, i64) = sqlx::query_as(
        "SELECT m.participant_id, COUNT(*) FROM measurements m \
         JOIN measurement_scores s ON s.measurement_id = m.id \
         WHERE m.tenant_id = $1 AND m.superseded_by IS NULL GROUP BY m.participant_id \
         ORDER BY COUNT(*) DESC, m.participant_id LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("a measured demo participant");
    login(&c, &base, "backoffice").await;
    c.goto(&format!("{base}/deelnemers/{id}"))
        .await
        .expect("record");
    click(
        &c,
        Locator::Css(&format!("a[href='/deelnemers/{id}/ontwikkeling']")),
    )
    .await;
    wait_for(&c, Locator::Css("svg.grafiek circle.punt"), "the charts").await;
    assert_no_bsn_in_url(&c).await;
    let page = text(&c).await;
    for heading in [
        "Zelfredzaamheid-Matrix",
        "Participatieladder",
        "Positieve Gezondheid",
        "Financiën",
    ] {
        assert!(page.contains(heading), "{heading}: {page}");
    }
    assert_eq!(
        count(&c, "svg.grafiek circle.punt").await as i64,
        scores,
        "one point per score"
    );
    // Thirteen ZRM domains and six of Positieve Gezondheid side by side,
    // the ladder on its own with its rungs named.
    assert!(count(&c, "svg.grafiek.lijn.klein").await >= 13 + 6 - 1);
    assert_eq!(count(&c, "svg.grafiek.lijn.groot").await, 1);
    assert!(
        page.contains("Betaald werk")
            || page.contains("Onbetaald werk")
            || page.contains("Geïsoleerd")
    );
    // Every chart is an image with words, and is drawn (it has a size).
    let unnamed = c
        .execute(
            "return Array.prototype.filter.call(document.querySelectorAll('svg.grafiek'), function (s) { \
               var r = s.getBoundingClientRect(); \
               return s.getAttribute('role') !== 'img' || !s.getAttribute('aria-label') || r.width < 100 || r.height < 40; }).length;",
            vec![],
        )
        .await
        .expect("measure");
    assert_eq!(unnamed.as_i64(), Some(0), "charts named and drawn");
    assert!(
        sideways(&c).await <= 0,
        "the development page scrolls sideways"
    );
    shot(&c, &format!("ontwikkeling-deelnemer-{name}")).await;
    c.execute(
        "document.querySelector('figure.groot').scrollIntoView({block: 'center'});",
        vec![],
    )
    .await
    .expect("scroll to the ladder");
    shot(&c, &format!("ontwikkeling-ladder-{name}")).await;
    // The notes of a measurement open on a tap.
    click(&c, Locator::Css("details.meting summary")).await;
    let open = c
        .execute(
            "return document.querySelector('details.meting').open;",
            vec![],
        )
        .await
        .expect("open");
    assert_eq!(open.as_bool(), Some(true));

    // The aggregate through the menu.
    click(&c, Locator::LinkText("Ontwikkeling")).await;
    wait_for(
        &c,
        Locator::Css("svg.grafiek.verdeling"),
        "the aggregate's bars",
    )
    .await;
    assert!(count(&c, "svg.grafiek.verandering rect.segment").await > 0);
    assert!(text(&c).await.contains("Minder dan 5 deelnemers"));
    assert!(sideways(&c).await <= 0, "the aggregate scrolls sideways");
    shot(&c, &format!("ontwikkeling-{name}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_participants_development_on_a_laptop() {
    development(DESKTOP, "laptop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_participants_development_on_a_tablet() {
    development(TABLET, "tablet").await;
}
