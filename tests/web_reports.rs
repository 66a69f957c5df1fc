//! Overzichten over HTTP, on both backends, with the demo provider: the
//! overview per financier and month against figures summed here from the
//! declared lines, the CSV and .xlsx exports read back, the access log of a
//! participant export, the printable specification and the declaration
//! run's preview and its confirmation.

use std::collections::BTreeMap;

use calamine::{Data, DataType, Reader, Xlsx};
use loket::web::demo::{DEMO_AGB, DEMO_GEMEENTE, DEMO_PASSWORD};
use loket::web::{euro, financier_nl, format};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    the_overview_reconciles_with_the_declared_lines,
    exports_read_back_as_csv_and_xlsx,
    a_participant_export_is_logged_and_only_for_the_back_office,
    the_specification_holds_every_line_and_the_total,
    the_run_preview_makes_nothing_and_the_confirm_sends_once,
    a_confirm_runs_on_the_data_as_they_are_then,
);

async fn count(s: &Server, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(s.state.store().pool())
        .await
        .expect("count")
        .try_get::<i64, _>(0)
        .expect("count column")
}

async fn office(s: &Server) -> WebClient {
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    web
}

/// A download: status, Content-Disposition and the bytes as sent.
async fn download(web: &WebClient, path: &str) -> (u16, String, Vec<u8>) {
    let (status, headers, bytes) = web.download(path).await;
    let value = headers
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, value, bytes)
}

/// Declared lines and amounts of one status, summed here.
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    lines: i64,
    cents: i64,
}

fn cell(s: Sum) -> String {
    format!(
        "<td class=\"getal\">{}<br><small>{}</small></td>",
        euro(s.cents),
        format::count(s.lines, "regel", "regels")
    )
}

async fn the_overview_reconciles_with_the_declared_lines(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let mut web = office(&s).await;
    let page = web
        .get(&format!("/overzichten?van={0}&tot={0}", demo.month))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format::month_str(&demo.month)));
    assert!(page.body.contains("href=\"/overzichten\""), "in the menu");

    // Every line of the month, summed here per financier and status.
    let rows = sqlx::query(
        "SELECT f.kind, f.code, p.debet_credit, p.bedrag_cents, p.status FROM prestaties p \
         JOIN declarations d ON d.id = p.declaration_id JOIN financiers f ON f.id = d.financier_id \
         WHERE p.tenant_id = $1 AND d.period_begin LIKE $2",
    )
    .bind(DEMO_AGB)
    .bind(format!("{}%", demo.month))
    .fetch_all(s.state.store().pool())
    .await
    .unwrap();
    assert!(!rows.is_empty());
    // financier -> [declared, approved, rejected, submitted, invoiced]
    let mut sums: BTreeMap<(String, String), [Sum; 5]> = BTreeMap::new();
    for r in &rows {
        let key = (r.get::<String, _>(0), r.get::<String, _>(1));
        let cents = r.get::<i64, _>(3) * if r.get::<String, _>(2) == "C" { -1 } else { 1 };
        let slot = match r.get::<String, _>(4).as_str() {
            "approved" => 1,
            "rejected" => 2,
            "submitted" => 3,
            "invoiced" => 4,
            other => panic!("unexpected line status {other}"),
        };
        let e = sums.entry(key).or_default();
        for i in [0, slot] {
            e[i].lines += 1;
            e[i].cents += cents;
        }
    }
    let mut overall = [Sum::default(); 5];
    for ((kind, code), v) in &sums {
        let name = financier_nl(kind, code);
        let expected = format!(
            "<td>{name}</td><td>{}</td>{}",
            format::month_str(&demo.month),
            v.iter().map(|s| cell(*s)).collect::<String>()
        );
        assert!(
            page.body.contains(&expected),
            "{expected}\nnot in\n{}",
            page.body
        );
        // The declarations page's totals of the financier add up the same.
        let totals = count(
            &s,
            &format!(
                "SELECT CAST(COALESCE(SUM(d.total_cents), 0) AS BIGINT) FROM declarations d \
                 JOIN financiers f ON f.id = d.financier_id WHERE d.tenant_id = '{DEMO_AGB}' \
                 AND f.kind = '{kind}' AND f.code = '{code}' AND d.period_begin LIKE '{}%'",
                demo.month
            ),
        )
        .await;
        assert_eq!(totals, v[0].cents, "{name}");
        for i in 0..5 {
            overall[i].lines += v[i].lines;
            overall[i].cents += v[i].cents;
        }
    }
    assert!(overall[2].lines >= 1, "the demo's 325 rejected a line");
    assert!(overall[4].lines >= 1, "the demo invoices UWV");
    let total = format!(
        "<th colspan=\"2\">Totaal</th>{}",
        overall.iter().map(|s| cell(*s)).collect::<String>()
    );
    assert!(page.body.contains(&total), "{total}");

    // A bad month is refused in Dutch.
    let bad = web.get("/overzichten?van=2026-13").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("geen JJJJ-MM"));
}

/// A CSV export's rows after the header, the BOM and format checked.
fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a UTF-8 BOM");
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert!(text.contains("\r\n"), "CRLF line ends");
    assert!(!text.replace("\r\n", "").contains('\n'));
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A Dutch decimal ("-1234,56") as a number.
fn dutch(s: &str) -> f64 {
    s.replace(',', ".")
        .parse()
        .unwrap_or_else(|_| panic!("{s:?}"))
}

async fn exports_read_back_as_csv_and_xlsx(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let web = office(&s).await;
    let query = format!("van={0}&tot={0}", demo.month);
    let (status, disposition, csv) =
        download(&web, &format!("/overzichten/declaratieregels.csv?{query}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        disposition,
        format!(
            "attachment; filename=\"declaratieregels-{}.csv\"",
            demo.month
        )
    );
    let (header, rows) = csv_rows(&csv);
    assert_eq!(header[0], "Declaratienummer");
    assert!(header.contains(&"Cliëntnummer".to_string()));
    let lines = count(
        &s,
        &format!(
            "SELECT COUNT(*) FROM prestaties p JOIN declarations d ON d.id = p.declaration_id \
             WHERE p.tenant_id = '{DEMO_AGB}' AND d.period_begin LIKE '{}%'",
            demo.month
        ),
    )
    .await;
    assert_eq!(rows.len() as i64, lines);
    let bedrag = header.iter().position(|h| h == "Bedrag").unwrap();
    let van = header.iter().position(|h| h == "Periode van").unwrap();
    let volume = header.iter().position(|h| h == "Volume").unwrap();
    assert!(
        rows.iter().all(|r| r[bedrag].contains(',')),
        "decimal commas"
    );
    assert!(
        rows.iter()
            .all(|r| r[van].len() == 10 && r[van].as_bytes()[2] == b'-'),
        "dd-mm-jjjj"
    );
    let cents: i64 = rows
        .iter()
        .map(|r| (dutch(&r[bedrag]) * 100.0).round() as i64)
        .sum();
    let stored = count(
        &s,
        &format!(
            "SELECT CAST(SUM(p.bedrag_cents) AS BIGINT) FROM prestaties p JOIN declarations d ON d.id = p.declaration_id \
             WHERE p.tenant_id = '{DEMO_AGB}' AND d.period_begin LIKE '{}%'",
            demo.month
        ),
    )
    .await;
    assert_eq!(cents, stored);

    // The same lines as a workbook: the same values, typed.
    let (status, disposition, xlsx) =
        download(&web, &format!("/overzichten/declaratieregels.xlsx?{query}")).await;
    assert_eq!(status, 200);
    assert!(disposition.contains("declaratieregels-"), "{disposition}");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = book.worksheet_range("Declaratieregels").unwrap();
    let mut it = sheet.rows();
    let head: Vec<String> = it.next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(head, header);
    let body: Vec<&[Data]> = it.collect();
    assert_eq!(body.len(), rows.len());
    for (x, c) in body.iter().zip(&rows) {
        match &x[bedrag] {
            Data::Float(f) => assert!((f - dutch(&c[bedrag])).abs() < 0.001, "{f} {}", c[bedrag]),
            other => panic!("an amount is a number, not {other:?}"),
        }
        assert!(x[van].is_datetime(), "a date cell: {:?}", x[van]);
        let d = x[van].as_date().unwrap();
        assert_eq!(d.format("%d-%m-%Y").to_string(), c[van]);
        assert!(
            matches!(x[volume], Data::Float(_) | Data::Int(_)),
            "{:?}",
            x[volume]
        );
        assert_eq!(x[volume].as_f64(), Some(dutch(&c[volume])));
        assert_eq!(x[0].to_string(), c[0]);
    }

    // The declarations export: its totals are the declarations page's.
    let (_, _, csv) = download(&web, &format!("/overzichten/declaraties.csv?{query}")).await;
    let (header, rows) = csv_rows(&csv);
    let totaal = header.iter().position(|h| h == "Totaal").unwrap();
    let sum: i64 = rows
        .iter()
        .map(|r| (dutch(&r[totaal]) * 100.0).round() as i64)
        .sum();
    let stored = count(
        &s,
        &format!(
            "SELECT CAST(SUM(total_cents) AS BIGINT) FROM declarations WHERE tenant_id = '{DEMO_AGB}' \
             AND period_begin LIKE '{}%'",
            demo.month
        ),
    )
    .await;
    assert_eq!(sum, stored);
    let (_, _, xlsx) = download(&web, &format!("/overzichten/registraties.xlsx?{query}")).await;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = book.worksheet_range("Registraties").unwrap();
    assert!(sheet.rows().count() > 30, "a month of registrations");
    assert!(
        sheet.rows().nth(1).unwrap()[0].is_datetime(),
        "the day is a date"
    );
    let unknown = download(&web, "/overzichten/geheim.csv").await;
    assert_eq!(unknown.0, 404);
}

async fn a_participant_export_is_logged_and_only_for_the_back_office(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let web = office(&s).await;
    let exports = "SELECT COUNT(*) FROM access_log WHERE kind = 'export'";
    assert_eq!(count(&s, exports).await, 0);
    let (status, disposition, csv) = download(
        &web,
        &format!("/overzichten/deelnemers.csv?van={0}&tot={0}", demo.month),
    )
    .await;
    assert_eq!(status, 200);
    assert!(disposition.contains("deelnemers-"), "{disposition}");
    let (header, rows) = csv_rows(&csv);
    assert_eq!(header[..3], ["Naam", "BSN", "Cliëntnummer"]);
    assert_eq!(rows.len(), demo.participants);
    assert!(
        rows.iter().all(|r| r[1].len() == 9),
        "the BSN, for the back office"
    );
    // Sorted by surname.
    let logged = count(&s, exports).await;
    assert_eq!(
        logged,
        rows.len() as i64,
        "one entry per participant exported"
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM access_log WHERE kind = 'export' AND object = 'GET /overzichten/deelnemers.csv'"
        )
        .await,
        logged
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'export' AND subject_id = 'deelnemers'"
        )
        .await,
        1
    );

    // The begeleider and the municipality see none of it.
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    for path in [
        "/overzichten".to_string(),
        format!("/overzichten/deelnemers.csv?van={}", demo.month),
        "/overzichten/declaratieregels.xlsx".to_string(),
    ] {
        let p = coach.get(&path).await;
        assert_eq!(p.status, 403, "{path}");
    }
    assert!(
        !coach
            .get("/registratie")
            .await
            .body
            .contains("/overzichten")
    );
    let mut gemeente = WebClient::new(&s.base);
    gemeente
        .login(DEMO_GEMEENTE, "beoordelaar", DEMO_PASSWORD)
        .await;
    assert_eq!(gemeente.get("/overzichten").await.status, 403);
    assert_eq!(count(&s, exports).await, logged, "nothing more exported");
}

async fn the_specification_holds_every_line_and_the_total(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = office(&s).await;
    let row = sqlx::query(
        "SELECT d.id, d.total_cents FROM declarations d JOIN messages m ON m.id = d.message_id \
         WHERE d.tenant_id = $1 AND m.bericht = 'WMO323' ORDER BY d.created_at LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap();
    let (id, total): (String, i64) = (row.get(0), row.get(1));
    let detail = web.get(&format!("/declaraties/{id}")).await;
    assert!(
        detail
            .body
            .contains(&format!("/declaraties/{id}/specificatie"))
    );
    let spec = web.get(&format!("/declaraties/{id}/specificatie")).await;
    assert_eq!(spec.status, 200, "{}", spec.body);
    let refs: Vec<String> =
        sqlx::query("SELECT referentie_nummer FROM prestaties WHERE declaration_id = $1")
            .bind(&id)
            .fetch_all(s.state.store().pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert!(refs.len() > 3);
    for r in &refs {
        assert!(spec.body.contains(&format!("<code>{r}</code>")), "{r}");
    }
    assert!(
        spec.body
            .contains(&format!("id=\"specificatie-totaal\">{}</th>", euro(total))),
        "the total {}",
        euro(total)
    );
    assert!(spec.body.contains("id=\"afdrukken\""), "a print button");
    let first: String = sqlx::query(
        "SELECT pa.name_json FROM prestaties p JOIN participants pa ON pa.id = p.participant_id \
         WHERE p.declaration_id = $1 LIMIT 1",
    )
    .bind(&id)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap()
    .get(0);
    let name = loket::web::name_of(&serde_json::from_str(&first).unwrap());
    assert!(spec.body.contains(&name), "{name} on the specification");
    assert!(spec.body.contains("Zorgaanbieder"));
    let views = count(
        &s,
        "SELECT COUNT(*) FROM access_log WHERE object = 'GET /declaraties/{id}/specificatie'",
    )
    .await;
    assert!(views >= 1, "the participants shown are logged");
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(
        coach
            .get(&format!("/declaraties/{id}/specificatie"))
            .await
            .status,
        403
    );
    // An invoice has its specification too.
    let invoice: String = sqlx::query(
        "SELECT d.id FROM declarations d JOIN financiers f ON f.id = d.financier_id \
         WHERE d.tenant_id = $1 AND f.kind = 'uwv' LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .unwrap()
    .get(0);
    let spec = web
        .get(&format!("/declaraties/{invoice}/specificatie"))
        .await;
    assert_eq!(spec.status, 200);
    assert!(spec.body.contains("Specificatie Factuur"));
}

async fn the_run_preview_makes_nothing_and_the_confirm_sends_once(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let mut web = office(&s).await;
    // A corrected day of the demo month: its run has a correction to send.
    correct_a_declared_day(&s, &mut web, &demo.month).await;
    let month = demo.month.clone();
    let counts = "SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM outbox) * 1000 \
                  + (SELECT COUNT(*) FROM declarations) * 1000000";
    let before = count(&s, counts).await;

    let list = web.get("/declaraties").await;
    let csrf = list.csrf();
    let preview = web
        .post("/declaraties/run", &[("csrf", &csrf), ("periode", &month)])
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("Voorbeeld declaratierun"));
    assert!(preview.body.contains(&format::month_str(&month)));
    assert!(preview.body.contains("323</td>"), "{}", preview.body);
    assert!(preview.body.contains("Versturen"));
    assert_eq!(count(&s, counts).await, before, "a preview stores nothing");
    let token = preview_token(&preview.body);

    let form = [
        ("csrf", csrf.as_str()),
        ("periode", month.as_str()),
        ("voorbeeld", token.as_str()),
    ];
    let forged = web
        .post(
            "/declaraties/run/versturen",
            &[("csrf", "x"), ("periode", &month), ("voorbeeld", &token)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(count(&s, counts).await, before);

    let sent = web.post("/declaraties/run/versturen", &form).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(
        sent.location.as_deref(),
        Some("/declaraties?melding=declaratierun")
    );
    let outbox = "SELECT COUNT(*) FROM outbox";
    let declarations = "SELECT COUNT(*) FROM declarations";
    let after = (count(&s, outbox).await, count(&s, declarations).await);
    assert!(count(&s, counts).await > before, "the confirm sends");
    let again = web.post("/declaraties/run/versturen", &form).await;
    assert_eq!(again.status, 303);
    assert_eq!(
        (count(&s, outbox).await, count(&s, declarations).await),
        after,
        "a second confirm of the same preview sends nothing"
    );
    assert_eq!(
        count(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'declaration_run'"
        )
        .await,
        1,
        "one run"
    );
}

/// The preview's token, from its form.
fn preview_token(body: &str) -> String {
    body.split("name=\"voorbeeld\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the preview's token")
        .to_string()
}

async fn a_confirm_runs_on_the_data_as_they_are_then(db: Db) {
    let (s, demo) = Server::start_demo(db).await;
    let mut web = office(&s).await;
    let csrf = web.get("/declaraties").await.csrf();
    // The demo month's preview: what would be declared now.
    let preview = web
        .post(
            "/declaraties/run",
            &[("csrf", &csrf), ("periode", &demo.month)],
        )
        .await;
    let previewed: i64 = preview
        .body
        .split("<th class=\"getal\" colspan=\"2\">")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let token = preview_token(&preview.body);
    // A day is corrected before the confirm: the real run declares it too.
    correct_a_declared_day(&s, &mut web, &demo.month).await;
    let lines = "SELECT COUNT(*) FROM prestaties";
    let before = count(&s, lines).await;
    let sent = web
        .post(
            "/declaraties/run/versturen",
            &[
                ("csrf", &csrf),
                ("periode", &demo.month),
                ("voorbeeld", &token),
            ],
        )
        .await;
    assert_eq!(
        sent.location.as_deref(),
        Some("/declaraties?melding=declaratierun")
    );
    let declared = count(&s, lines).await - before;
    assert!(
        declared > previewed,
        "the run declares the data as they are at the confirm ({declared} lines), not the preview's ({previewed})"
    );
}
