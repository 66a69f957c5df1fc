//! Resultaten in a real browser (headless Chromium, see tests/browser.rs),
//! on a tablet: the back office opens Resultaten from the menu, reads the
//! demo's social-impact claims with their evidence, follows a claim to the
//! participant and records a milestone with the form there; neither page
//! scrolls sideways at 820 px. Screenshots: target/screenshots/resultaten.png,
//! mijlpaal.png.

use fantoccini::Locator;

#[macro_use]
mod common;
use common::browser::*;

async fn sideways(c: &fantoccini::Client) -> i64 {
    c.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        vec![],
    )
    .await
    .expect("measure")
    .as_i64()
    .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_back_office_reads_claims_with_evidence_and_records_a_milestone() {
    let Some(Session {
        c,
        s: _server,
        base,
        _profile,
        _driver,
        ..
    }) = session_sized(TABLET).await
    else {
        return;
    };
    login(&c, &base, "backoffice").await;
    c.goto(&format!("{base}/resultaten"))
        .await
        .expect("resultaten");
    wait_for(&c, Locator::Css("table.resultaten"), "the claims").await;
    let all = text(&c).await;
    for part in [
        "Social-impactcontract Werk Loont",
        "Trede 5 (betaald werk met ondersteuning), 3 maanden behouden",
        "Mijlpaal: Uitkering beëindigd",
        "gefactureerd",
    ] {
        assert!(all.contains(part), "{part} in {all}");
    }
    shot(&c, "resultaten").await;
    let wide = sideways(&c).await;
    assert!(
        wide <= 0,
        "Resultaten scrolls sideways on a tablet by {wide} px"
    );

    // The participant of the benefit that ended: its milestones and form.
    let rows = c
        .find_all(Locator::Css("table.resultaten tbody tr"))
        .await
        .expect("rows");
    let mut link = None;
    for r in rows {
        if r.text()
            .await
            .unwrap_or_default()
            .contains("Uitkering beëindigd")
        {
            link = Some(r.find(Locator::Css("a")).await.expect("participant link"));
            break;
        }
    }
    link.expect("the milestone's claim")
        .click()
        .await
        .expect("click");
    wait_for(
        &c,
        Locator::Css("section.mijlpalen form"),
        "the milestone form",
    )
    .await;
    c.find(Locator::Css("select[name=soort]"))
        .await
        .expect("kind")
        .select_by_value("diploma")
        .await
        .expect("select");
    c.execute(
        "document.querySelector('form.mijlpaal input[name=datum]').value = '2026-03-02';",
        vec![],
    )
    .await
    .expect("date");
    type_into(
        &c,
        Locator::Css("form.mijlpaal input[name=toelichting]"),
        "MBO-2 behaald",
    )
    .await;
    click(&c, Locator::Css("form.mijlpaal button")).await;
    wait_for(
        &c,
        Locator::XPath("//li[contains(., 'MBO-2 behaald')]"),
        "the new milestone",
    )
    .await;
    let page = text(&c).await;
    assert!(
        page.contains("02-03-2026: Diploma of certificaat behaald"),
        "{page}"
    );
    assert_no_bsn_in_url(&c).await;
    shot(&c, "mijlpaal").await;
    let wide = sideways(&c).await;
    assert!(
        wide <= 0,
        "the participant page scrolls sideways by {wide} px"
    );
}
