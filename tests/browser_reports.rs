//! Overzichten in a real browser (headless Chromium): the back office opens
//! the overview, downloads a CSV and an .xlsx through the browser and reads
//! both back, opens a declaration's printable specification, and runs a
//! declaration through its preview. Screenshots go to `target/screenshots/`.
//!
//! Without chromedriver on the machine the test says so and passes, unless
//! `LOKET_BROWSER_TESTS=1` (set by `.ci/run`), where a missing browser fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use calamine::{Reader, Xlsx};
use fantoccini::Locator;
use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use serde_json::json;
use sqlx::Row;

#[macro_use]
mod common;
use common::browser::*;
use common::{WebClient, correct_a_declared_day};

/// Waits until a finished file ending in `ext` is in `dir`.
async fn downloaded(dir: &Path, ext: &str) -> PathBuf {
    for _ in 0..300 {
        let found = std::fs::read_dir(dir)
            .expect("download dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == ext));
        if let Some(p) = found {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no .{ext} downloaded into {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_back_office_reports_exports_prints_and_previews_a_run() {
    let downloads = tempfile::tempdir().expect("download dir");
    let Some(Session {
        c,
        s,
        demo,
        base,
        _profile,
        _driver,
    }) = session_with(DESKTOP, Some(downloads.path())).await
    else {
        return;
    };
    login(&c, &base, "backoffice").await;
    c.find(Locator::LinkText("Overzichten"))
        .await
        .expect("Overzichten in the menu")
        .click()
        .await
        .unwrap();
    c.goto(&format!("{base}/overzichten?van={0}&tot={0}", demo.month))
        .await
        .unwrap();
    let overview = text(&c).await;
    assert!(
        overview.contains(&loket::web::format::month_str(&demo.month)),
        "{overview}"
    );
    for t in [
        "Gedeclareerd",
        "Goedgekeurd",
        "Afgekeurd",
        "Openstaand",
        "UWV",
        "Totaal",
    ] {
        assert!(overview.contains(t), "{t}: {overview}");
    }
    shot(&c, "overzichten").await;
    // On a tablet held upright the overview fits without scrolling sideways.
    c.set_window_size(TABLET.0, TABLET.1).await.unwrap();
    c.refresh().await.unwrap();
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().is_some_and(|o| o <= 0),
        "sideways scroll on a tablet: {overflow}"
    );
    shot(&c, "overzichten-tablet").await;
    c.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();

    // The declared lines as CSV and as a workbook, downloaded by Chromium.
    click(
        &c,
        Locator::Css("a[href^='/overzichten/declaratieregels.csv']"),
    )
    .await;
    let csv_path = downloaded(downloads.path(), "csv").await;
    assert!(
        csv_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("declaratieregels-{}", demo.month)),
        "{}",
        csv_path.display()
    );
    let bytes = std::fs::read(&csv_path).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "BOM");
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    assert_eq!(&r.headers().unwrap()[0], "Declaratienummer");
    let csv_rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(!csv_rows.is_empty());
    click(
        &c,
        Locator::Css("a[href^='/overzichten/declaratieregels.xlsx']"),
    )
    .await;
    let xlsx_path = downloaded(downloads.path(), "xlsx").await;
    let mut book: Xlsx<_> = calamine::open_workbook(&xlsx_path).unwrap();
    let sheet = book.worksheet_range("Declaratieregels").unwrap();
    assert_eq!(
        sheet.rows().count(),
        csv_rows.len() + 1,
        "header + the same rows"
    );
    for (x, c) in sheet.rows().skip(1).zip(&csv_rows) {
        assert_eq!(x[0].to_string(), c[0].to_string());
    }

    // A declaration's specification, from its page.
    let id: String = sqlx::query(
        "SELECT d.id FROM declarations d JOIN messages m ON m.id = d.message_id \
         WHERE d.tenant_id = $1 AND m.bericht = 'WMO323' LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap()
    .get(0);
    c.goto(&format!("{base}/declaraties/{id}")).await.unwrap();
    click(&c, Locator::LinkText("Specificatie (afdrukken)")).await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("afdrukken"))
        .await
        .expect("the specification with its print button");
    let spec = text(&c).await;
    assert!(spec.contains("Specificatie WMO323"), "{spec}");
    assert!(
        spec.contains("Subtotaal") && spec.contains("Totaal"),
        "{spec}"
    );
    assert_no_bsn_in_url(&c).await;
    shot(&c, "specificatie").await;

    // A corrected day of the demo month gives its run something to send;
    // the run shows its preview, and Versturen sends.
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    correct_a_declared_day(&s, &mut web, &demo.month).await;
    c.goto(&format!("{base}/declaraties")).await.unwrap();
    c.execute(
        "document.querySelector('form[action=\"/declaraties/run\"] input[name=periode]').value = arguments[0];",
        vec![json!(demo.month)],
    )
    .await
    .unwrap();
    click(&c, Locator::Css("form[action='/declaraties/run'] button")).await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("form[action='/declaraties/run/versturen']"))
        .await
        .expect("the preview");
    let preview = text(&c).await;
    assert!(preview.contains("Voorbeeld declaratierun"), "{preview}");
    assert!(preview.contains("323"), "{preview}");
    shot(&c, "declaratie-preview").await;
    click(
        &c,
        Locator::Css("form[action='/declaraties/run/versturen'] button"),
    )
    .await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("form.filters"))
        .await
        .expect("the list after Versturen");
    let done = text(&c).await;
    assert!(done.contains("De declaratierun is uitgevoerd"), "{done}");
}
