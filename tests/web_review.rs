//! The review item page, the header search and participant names, over
//! HTTP on both backends, against the demo: the rejected line's item carries
//! name, product, period, volumes with units, the registrations with their
//! correction links and the 325 that rejected it; the search finds people by
//! name, BSN (back office only), client, allocation and order number, by
//! POST, and logs whom it showed; declaration lines name their participant;
//! the participants list is sorted by surname.

use loket::web::demo::{DEMO_AGB, DEMO_GEMEENTE, DEMO_PASSWORD};
use serde_json::Value;
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    the_rejected_lines_item_carries_what_a_person_needs,
    the_search_finds_by_name_bsn_and_numbers_by_post_only,
    declaration_lines_name_their_participant_with_units,
    participants_are_listed_by_surname,
    a_municipality_searches_its_participants_and_received_declarations,
);

/// Every `href` of a page.
fn hrefs(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect()
}

/// The names linked to participant pages, in page order.
fn linked_names(body: &str) -> Vec<String> {
    body.split("<a href=\"/deelnemers/")
        .skip(1)
        .filter_map(|s| s.split_once("\">").map(|(_, rest)| rest))
        .filter_map(|s| s.split("</a>").next())
        .map(str::to_string)
        .collect()
}

async fn name_of(s: &Server, participant: &str) -> String {
    let row = sqlx::query("SELECT name_json FROM participants WHERE id = $1")
        .bind(participant)
        .fetch_one(s.state.store().pool())
        .await
        .expect("participant");
    let naam: Value = serde_json::from_str(&row.get::<String, _>(0)).expect("naam");
    loket::web::name_of(&naam)
}

async fn the_rejected_lines_item_carries_what_a_person_needs(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let pool = s.state.store().pool();
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let row = sqlx::query(
        "SELECT id, participant_id, detail FROM review_items WHERE tenant_id = $1 AND kind = 'rejected_prestatie'",
    )
    .bind(DEMO_AGB)
    .fetch_one(pool)
    .await
    .expect("the demo's rejected line");
    let id: String = row.get(0);
    let pid: String = row.get(1);
    let detail: Value = serde_json::from_str(&row.get::<String, _>(2)).expect("detail");
    let allocation = detail["allocation_id"]
        .as_str()
        .expect("allocation")
        .to_string();
    let begin = detail["period"]["begin"]
        .as_str()
        .expect("begin")
        .to_string();
    let end = detail["period"]["end"].as_str().expect("end").to_string();
    let declared = detail["volume"].as_i64().expect("volume");
    let a =
        sqlx::query("SELECT volume, eenheid, frequentie, einddatum FROM allocations WHERE id = $1")
            .bind(&allocation)
            .fetch_one(pool)
            .await
            .expect("allocation");
    let (allocated, eenheid, frequentie): (i64, String, String) = (a.get(0), a.get(1), a.get(2));
    let allocation_end: String = a.get::<Option<String>, _>(3).expect("shortened allocation");
    assert_eq!(frequentie, "4", "the demo allocates per month");
    assert!(
        allocation_end.as_str() < end.as_str() && allocation_end.as_str() >= begin.as_str(),
        "9308 says the line ends after the allocation: {end} after {allocation_end}"
    );
    let unit = match eenheid.as_str() {
        "16" => "dagdelen",
        "04" => "uur",
        other => panic!("unit {other}"),
    };

    let page = web.get(&format!("/afgekeurd/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    let name = name_of(&s, &pid).await;
    assert!(
        body.contains(&name),
        "the participant's name {name}: {body}"
    );
    assert!(body.contains("45A48") || body.contains("07A11"), "{body}");
    assert!(
        body.contains("Dagbesteding") || body.contains("training") || body.contains("Training"),
        "the product's Dutch name: {body}"
    );
    let dmy = |iso: &str| format!("{}-{}-{}", &iso[8..10], &iso[5..7], &iso[..4]);
    assert!(
        body.contains(&format!("{} t/m {}", dmy(&begin), dmy(&end))),
        "period: {body}"
    );
    assert!(
        body.contains(&format!("{declared} {unit}")),
        "declared: {body}"
    );
    assert!(
        body.contains(&format!("{allocated} {unit} per maand")),
        "allocated: {body}"
    );
    assert!(
        body.contains(&format!("t/m {}", dmy(&allocation_end))),
        "the allocation's shortened end: {body}"
    );
    // Every current registration of the period for the participant on this
    // allocation (or on none), each with its correction link.
    let days: Vec<String> = sqlx::query(
        "SELECT day FROM registrations WHERE participant_id = $1 AND superseded_by IS NULL \
         AND day >= $2 AND day <= $3 AND (allocation_id IS NULL OR allocation_id = $4) ORDER BY day",
    )
    .bind(&pid)
    .bind(&begin)
    .bind(&end)
    .bind(&allocation)
    .fetch_all(pool)
    .await
    .expect("registrations")
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(!days.is_empty());
    let links = hrefs(body);
    for day in &days {
        let want = format!(
            "/registratie/week?week={day}&deelnemer={pid}&dag={day}&toewijzing={allocation}#corrigeren"
        );
        assert!(links.contains(&want), "{want} in {links:?}");
        assert!(body.contains(&dmy(day)), "{day} shown as dd-mm-jjjj");
    }
    assert_eq!(
        links.iter().filter(|l| l.ends_with("#corrigeren")).count(),
        days.len(),
        "one correction link per registration"
    );
    // The registrations add up to what was declared.
    let sum: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(dagdelen), 0) AS BIGINT), CAST(COALESCE(SUM(minutes), 0) AS BIGINT) FROM registrations WHERE participant_id = $1 \
         AND superseded_by IS NULL AND present = 1 AND day >= $2 AND day <= $3 \
         AND (allocation_id IS NULL OR allocation_id = $4)",
    )
    .bind(&pid)
    .bind(&begin)
    .bind(&end)
    .bind(&allocation)
    .fetch_one(pool)
    .await
    .map(|r| {
        if unit == "dagdelen" {
            r.get::<i64, _>(0)
        } else {
            r.get::<i64, _>(1) / 60
        }
    })
    .expect("sum");
    assert_eq!(sum, declared, "the registrations behind the line");
    // The 325 that rejected it, linked into the message browser, with the
    // retourcode's meaning.
    let answer = detail["answer_message_id"].as_str().expect("answer");
    assert!(links.contains(&format!("/berichten/{answer}")), "{links:?}");
    assert!(body.contains("9308"), "{body}");
    assert!(
        body.contains("ligt na de einddatum van de toewijzing"),
        "{body}"
    );
    // The queue by surname keeps the item and the choice.
    let by_name = web.get("/afgekeurd?status=alle&sorteer=naam").await;
    assert_eq!(by_name.status, 200);
    assert!(by_name.body.contains(&name), "{}", by_name.body);
    assert!(
        by_name.body.contains("<option value=\"naam\" selected>"),
        "{}",
        by_name.body
    );
    assert!(
        hrefs(&by_name.body).contains(&format!("/afgekeurd/{id}?status=alle&sorteer=naam")),
        "the item keeps the order for previous/next"
    );
    // A begeleider does not see it.
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(coach.get(&format!("/afgekeurd/{id}")).await.status, 403);
}

/// How often the search showed `participant`, by the access log.
async fn searched(s: &Server, participant: &str) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) FROM access_log WHERE participant_id = $1 AND object = 'POST /zoeken'",
    )
    .bind(participant)
    .fetch_one(s.state.store().pool())
    .await
    .expect("count")
    .get(0)
}

async fn search(web: &mut WebClient, q: &str) -> Page {
    let form = web.get("/zoeken").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("action=\"/zoeken\" method=\"post\"")
            || form.body.contains("method=\"post\" action=\"/zoeken\"")
    );
    let csrf = form.csrf();
    web.post("/zoeken", &[("csrf", &csrf), ("q", q)]).await
}

async fn the_search_finds_by_name_bsn_and_numbers_by_post_only(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let pool = s.state.store().pool();
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    // Every page of a provider has the search field in its header.
    let home = web.get("/deelnemers").await;
    assert!(home.body.contains("action=\"/zoeken\""), "{}", home.body);

    // A part of a surname, whatever the case.
    let page = search(&mut web, "leeuw").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let names = linked_names(&page.body);
    assert!(!names.is_empty(), "{}", page.body);
    assert!(names.iter().all(|n| n.contains("van Leeuwen")), "{names:?}");
    assert!(
        page.body.contains("36"),
        "with their allocations: {}",
        page.body
    );
    let none = search(&mut web, "Zwartkop").await;
    assert!(linked_names(&none.body).is_empty());
    assert!(none.body.contains("0 deelnemers gevonden"), "{}", none.body);

    // A BSN, for the back office.
    let p =
        sqlx::query("SELECT id, bsn FROM participants WHERE tenant_id = $1 ORDER BY id LIMIT 1")
            .bind(DEMO_AGB)
            .fetch_one(pool)
            .await
            .expect("participant");
    let (pid, bsn): (String, String) = (p.get(0), p.get(1));
    let before: i64 = searched(&s, &pid).await;
    let found = search(&mut web, &bsn).await;
    assert_eq!(found.status, 200);
    assert!(
        hrefs(&found.body).contains(&format!("/deelnemers/{pid}")),
        "{}",
        found.body
    );
    assert!(found.body.contains(&name_of(&s, &pid).await));
    for l in hrefs(&found.body) {
        assert!(!l.contains(&bsn), "no BSN in a URL: {l}");
    }
    let after: i64 = searched(&s, &pid).await;
    assert_eq!(
        after,
        before + 1,
        "the participant shown is in the access log"
    );
    let logged_bsn: i64 = sqlx::query("SELECT COUNT(*) FROM access_log WHERE object LIKE $1")
        .bind(format!("%{bsn}%"))
        .fetch_one(pool)
        .await
        .expect("count")
        .get(0);
    assert_eq!(logged_bsn, 0, "the search text is not logged");

    // A begeleider may not search by BSN: nothing is searched, nothing shown.
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let refused = search(&mut coach, &bsn).await;
    assert!(
        refused.body.contains("alleen voor de backoffice"),
        "{}",
        refused.body
    );
    assert!(linked_names(&refused.body).is_empty(), "{}", refused.body);
    let still: i64 = searched(&s, &pid).await;
    assert_eq!(still, after, "nothing shown, nothing logged");
    // But by name, the begeleider may.
    let by_name = search(&mut coach, "Bakker").await;
    assert!(!linked_names(&by_name.body).is_empty(), "{}", by_name.body);

    // A ToewijzingNummer.
    let a = sqlx::query(
        "SELECT toewijzing_nummer, participant_id FROM allocations WHERE tenant_id = $1 AND toewijzing_nummer = '360005'",
    )
    .bind(DEMO_AGB)
    .fetch_one(pool)
    .await
    .expect("allocation 360005");
    let owner: String = a.get(1);
    let by_number = search(&mut web, "360005").await;
    assert!(
        hrefs(&by_number.body).contains(&format!("/deelnemers/{owner}")),
        "{}",
        by_number.body
    );
    assert!(
        by_number.body.contains("Toewijzingen en opdrachten"),
        "{}",
        by_number.body
    );

    // A client number: the one UWV keeps on its order.
    let c = sqlx::query(
        "SELECT client_reference, participant_id, order_number FROM allocations WHERE tenant_id = $1 AND client_reference IS NOT NULL ORDER BY order_number LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(pool)
    .await
    .expect("an order");
    let (client, client_owner, order): (String, String, String) = (c.get(0), c.get(1), c.get(2));
    let by_client = search(&mut web, &client).await;
    assert!(
        hrefs(&by_client.body).contains(&format!("/deelnemers/{client_owner}")),
        "{}",
        by_client.body
    );

    // An order number: the order, its participant and its invoice.
    let by_order = search(&mut web, &order).await;
    assert!(
        hrefs(&by_order.body).contains(&format!("/deelnemers/{client_owner}")),
        "{}",
        by_order.body
    );
    assert!(
        by_order
            .body
            .contains("Declaraties en facturen van deze opdracht"),
        "{}",
        by_order.body
    );
    assert!(by_order.body.contains("Factuur"), "{}", by_order.body);
    assert!(
        hrefs(&by_order.body)
            .iter()
            .any(|l| l.starts_with("/declaraties/")),
        "{}",
        by_order.body
    );

    // Searching is a POST: a GET with a query searches nothing.
    let get = web.get(&format!("/zoeken?q={bsn}")).await;
    assert!(linked_names(&get.body).is_empty(), "{}", get.body);
}

async fn declaration_lines_name_their_participant_with_units(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    let id: String = sqlx::query(
        "SELECT id FROM declarations WHERE tenant_id = $1 AND standard = 'iwmo' ORDER BY created_at LIMIT 1",
    )
    .bind(DEMO_AGB)
    .fetch_one(s.state.store().pool())
    .await
    .expect("the demo's WMO323")
    .get(0);
    let page = web.get(&format!("/declaraties/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(">deelnemer</a>"), "{}", page.body);
    let names = linked_names(&page.body);
    assert!(names.len() >= 10, "{names:?}");
    assert!(names.iter().all(|n| n.contains(' ')), "{names:?}");
    assert!(page.body.contains(" dagdelen<"), "{}", page.body);
}

async fn participants_are_listed_by_surname(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    let page = web.get("/deelnemers").await;
    let names = linked_names(&page.body);
    assert_eq!(names.len(), 30, "{names:?}");
    let at = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("{n} in {names:?}"))
    };
    // "de Boer" sorts under B, between Bakker and Bos; "de Vries" after
    // Visser; "van Leeuwen" under L.
    assert_eq!(names[0], "C Bakker", "{names:?}");
    assert!(
        at("C Bakker") < at("G de Boer") && at("G de Boer") < at("K Bos"),
        "{names:?}"
    );
    assert!(at("D Visser") < at("A de Vries"), "{names:?}");
    assert!(
        at("B Jansen") < at("D van Leeuwen") && at("D van Leeuwen") < at("F Meijer"),
        "{names:?}"
    );
    // The same surname by initials.
    assert!(at("A de Vries") < at("F de Vries"), "{names:?}");
    assert!(page.body.contains("30 deelnemers"), "{}", page.body);
}

async fn a_municipality_searches_its_participants_and_received_declarations(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let pool = s.state.store().pool();
    let mut web = WebClient::new(&s.base);
    web.login(DEMO_GEMEENTE, "beoordelaar", DEMO_PASSWORD).await;
    let found = search(&mut web, "vries").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.body.contains("Vries"), "{}", found.body);
    assert!(
        found.body.contains("Ontvangen declaraties"),
        "{}",
        found.body
    );
    let links = hrefs(&found.body);
    assert!(
        links.iter().all(|l| !l.starts_with("/deelnemers/")),
        "a municipality has no participant pages: {links:?}"
    );
    assert!(
        links
            .iter()
            .any(|l| l.starts_with("/gemeente/declaraties/")),
        "the received declaration: {}",
        found.body
    );
    // Only its own participants: the provider's records are not searched.
    let own: i64 = sqlx::query(
        "SELECT COUNT(*) FROM access_log WHERE object = 'POST /zoeken' AND tenant_id = $1",
    )
    .bind(DEMO_GEMEENTE)
    .fetch_one(pool)
    .await
    .expect("count")
    .get(0);
    assert!(own >= 1, "the participants shown are logged");
    let other: i64 = sqlx::query(
        "SELECT COUNT(*) FROM access_log WHERE object = 'POST /zoeken' AND tenant_id <> $1",
    )
    .bind(DEMO_GEMEENTE)
    .fetch_one(pool)
    .await
    .expect("count")
    .get(0);
    assert_eq!(other, 0);
    // The meekijker may not search by BSN there either.
    let bsn: String = sqlx::query("SELECT bsn FROM participants WHERE tenant_id = $1 LIMIT 1")
        .bind(DEMO_GEMEENTE)
        .fetch_one(pool)
        .await
        .expect("participant")
        .get(0);
    let mut viewer = WebClient::new(&s.base);
    viewer
        .login(DEMO_GEMEENTE, "meekijker", DEMO_PASSWORD)
        .await;
    let refused = search(&mut viewer, &bsn).await;
    assert!(
        refused.body.contains("alleen voor de backoffice"),
        "{}",
        refused.body
    );
    let allowed = search(&mut web, &bsn).await;
    assert!(
        allowed.body.contains("1 deelnemer gevonden"),
        "{}",
        allowed.body
    );
}
