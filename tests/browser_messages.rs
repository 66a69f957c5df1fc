//! Berichten in a real browser (headless Chromium, see tests/browser.rs):
//! the back office opens Berichten from the menu, filters to the 325s,
//! opens one, reads its XML and follows the conversation to the 323 it
//! answers; on a tablet the list fits without scrolling sideways.
//! Screenshots: target/screenshots/berichten.png, bericht-325.png,
//! berichten-tablet.png.

use std::time::Duration;

use fantoccini::Locator;

#[macro_use]
mod common;
use common::browser::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_back_office_browses_messages_and_follows_a_conversation() {
    let Some(Session {
        c,
        s: _server,
        base,
        _profile,
        _driver,
        ..
    }) = session().await
    else {
        return;
    };
    login(&c, &base, "backoffice").await;
    click(&c, Locator::LinkText("Berichten")).await;
    wait_for(&c, Locator::Css("table.berichten"), "the message list").await;
    let all = text(&c).await;
    assert!(all.contains("WMO301") && all.contains("verstuurd") && all.contains("ontvangen"));

    // Filter to the 325s.
    c.find(Locator::Css("select[name=soort]"))
        .await
        .expect("type filter")
        .select_by_value("JW325")
        .await
        .expect("choose JW325");
    click(&c, Locator::Css("form.filters button[type=submit]")).await;
    for _ in 0..300 {
        let url = c.current_url().await.expect("url").to_string();
        if url.contains("soort=JW325") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let count = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("p.aantal"))
        .await
        .unwrap_or_else(|e| panic!("the count: {e}"))
        .text()
        .await
        .expect("count text");
    assert_eq!(count, "1 bericht");
    let filtered = c
        .find(Locator::Css("table.berichten"))
        .await
        .expect("the list")
        .text()
        .await
        .expect("list text");
    assert!(filtered.contains("JW325") && !filtered.contains("WMO301"));
    assert!(filtered.contains("9308"), "the rejected line's code");
    assert_no_bsn_in_url(&c).await;
    shot(&c, "berichten").await;

    // Open it: the Dutch summary with the retourcode's meaning.
    click(&c, Locator::Css("table.berichten a[href^='/berichten/']")).await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("details.xml"))
        .await
        .expect("the message page");
    let page = text(&c).await;
    assert!(page.contains("JW325") && page.contains("Inhoud") && page.contains("Prestatie"));
    let meaning = loket::adapter::istandaard::retourcodes::explain("9308").nl;
    assert!(page.contains(&meaning), "the meaning of 9308");
    assert!(page.contains("Gesprek"));
    shot(&c, "bericht-325").await;

    // The XML opens in place.
    let xml = c.find(Locator::Css("details.xml pre")).await.expect("xml");
    assert!(
        !xml.is_displayed().await.expect("shown?"),
        "closed at first"
    );
    click(&c, Locator::Css("details.xml summary")).await;
    assert!(xml.is_displayed().await.expect("shown?"), "opened");
    let source = xml.text().await.expect("xml text");
    assert!(
        source.contains("<") && source.contains("RetourCode"),
        "{source}"
    );
    shot(&c, "bericht-325-xml").await;

    // Follow the conversation to the 323 it answers.
    click(
        &c,
        Locator::XPath("//table[contains(@class,'gesprek')]//a[text()='JW323']"),
    )
    .await;
    wait_for(
        &c,
        Locator::XPath("//h1[contains(., 'JW323')]"),
        "the 323's page",
    )
    .await;
    let heen = text(&c).await;
    assert!(heen.contains("Verzending") && heen.contains("JW325"));
    assert_no_bsn_in_url(&c).await;

    // On a tablet the list fits the width.
    c.set_window_size(820, 1180).await.expect("tablet size");
    c.goto(&format!("{base}/berichten")).await.expect("list");
    let wide = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .expect("measure");
    assert!(
        wide.as_i64().unwrap_or(1) <= 0,
        "the list scrolls sideways on a tablet by {wide} px"
    );
    let tallest = c
        .execute(
            "return Math.max.apply(null, Array.prototype.map.call(\
             document.querySelectorAll('table.berichten tbody tr'), function (r) { return r.getBoundingClientRect().height; }));",
            vec![],
        )
        .await
        .expect("measure rows");
    assert!(
        tallest.as_f64().unwrap_or(1000.0) <= 80.0,
        "a row of the list is {tallest} px high on a tablet"
    );
    shot(&c, "berichten-tablet").await;
}
