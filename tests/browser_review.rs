//! The review item and the header search in a real browser (headless
//! Chromium, see `tests/browser.rs`): the back office opens the demo's
//! rejected line and finds everything needed to judge it on one page, then
//! finds a participant through the search field of the header. Screenshots
//! `afgekeurd-regel` and `zoeken` go to `target/screenshots/`.

use fantoccini::Locator;

#[macro_use]
mod common;
use common::browser::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_back_office_judges_the_rejected_line_and_searches_in_a_browser() {
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
    open_rejected_line(&c, &base).await;
    assert_no_bsn_in_url(&c).await;
    let item = text(&c).await;
    for want in [
        "Declaratieregel afgewezen",
        "Product",
        "Gedeclareerd",
        "Toegewezen",
        "per maand",
        "Toegestaan in deze periode",
        "Registraties in deze periode",
        "Antwoordbericht",
        "Looptijd toewijzing",
        "ligt na de einddatum van de toewijzing",
    ] {
        assert!(item.contains(want), "{want}: {item}");
    }
    assert!(item.contains(" t/m "), "the period: {item}");
    let links = c.find_all(Locator::Css("a.corrigeren")).await.unwrap();
    assert!(!links.is_empty(), "correction links");
    for l in &links {
        let href = l.attr("href").await.unwrap().unwrap_or_default();
        assert!(
            href.starts_with("/registratie/week?week=")
                && href.contains("&deelnemer=")
                && href.contains("&toewijzing=")
                && href.ends_with("#corrigeren"),
            "{href}"
        );
    }
    let answer = c
        .find(Locator::Css("a[href^='/berichten/']"))
        .await
        .unwrap();
    assert!(answer.text().await.unwrap().contains("325"));
    shot(&c, "afgekeurd-regel").await;

    // The header's search: a part of a surname, by POST.
    let surname: String = sqlx::query_scalar(
        "SELECT name_json FROM participants WHERE tenant_id = $1 AND name_json LIKE '%Leeuwen%' LIMIT 1",
    )
    .bind(loket::web::demo::DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    assert!(surname.contains("Leeuwen"));
    search_in_header(&c, "leeuw").await;
    assert_no_bsn_in_url(&c).await;
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/zoeken");
    assert_eq!(url.query(), None, "the search text is not in the URL");
    let found = text(&c).await;
    assert!(found.contains("2 deelnemers gevonden"), "{found}");
    assert!(found.contains("van Leeuwen"), "{found}");
    shot(&c, "zoeken").await;
    click(
        &c,
        Locator::Css("table.zoekresultaten a[href^='/deelnemers/']"),
    )
    .await;
    let record = text(&c).await;
    assert!(record.contains("van Leeuwen"), "{record}");
    c.close().await.unwrap();
}

/// On a tablet held upright (820 px) the item page, the search results and
/// the header with its search field fit without sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_review_item_and_search_fit_a_tablet() {
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
    open_rejected_line(&c, &base).await;
    assert_fits(&c, "the review item").await;
    shot(&c, "afgekeurd-regel-tablet").await;
    search_in_header(&c, "bakker").await;
    assert_fits(&c, "the search results").await;
    shot(&c, "zoeken-tablet").await;
    c.close().await.unwrap();
}

async fn assert_fits(c: &fantoccini::Client, what: &str) {
    let wide = c
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, client) = (wide[0].as_i64().unwrap(), wide[1].as_i64().unwrap());
    assert!(
        scroll <= client,
        "{what} scrolls sideways: {scroll} > {client}"
    );
}

/// Types `q` into the header's search field and waits for the results.
async fn search_in_header(c: &fantoccini::Client, q: &str) {
    type_into(c, Locator::Css("header form.zoeken input[name=q]"), q).await;
    click(c, Locator::Css("header form.zoeken button")).await;
    c.wait()
        .for_element(Locator::Css("p.zoekresultaat"))
        .await
        .unwrap();
}

/// The back office opens the demo's rejected line from the queue.
async fn open_rejected_line(c: &fantoccini::Client, base: &str) {
    login(c, base, "backoffice").await;
    c.goto(&format!("{base}/afgekeurd?code=9308"))
        .await
        .unwrap();
    click(c, Locator::LinkText("Bekijken")).await;
}
