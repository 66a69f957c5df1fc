//! Berichten, the message browser (`/berichten`), over HTTP on both
//! backends with the demo tenant: the list with its filters and search,
//! one message read in Dutch with its XML and conversation, a failed
//! delivery retried from the page, roles, tenants and the access log.

use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use sqlx::Row;

#[macro_use]
mod common;
use common::*;

on_both_backends!(
    the_list_shows_messages_in_and_out_with_types_and_statuses,
    each_filter_narrows_and_the_search_finds_by_identifier_only,
    a_325_reads_in_dutch_with_its_xml_and_conversation,
    a_failed_message_is_retried_from_its_page,
    only_the_back_office_of_the_own_tenant_sees_messages,
);

async fn text(s: &Server, sql: &str) -> String {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(s.state.store().pool())
        .await
        .expect("row")
        .try_get::<String, _>(0)
        .expect("text column")
}

/// The "N berichten" line of a list page.
fn listed(body: &str) -> i64 {
    let at = body
        .find("<p class=\"aantal\">")
        .unwrap_or_else(|| panic!("no count on the page: {body}"));
    body[at + 18..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("count unreadable: {}", &body[at..at + 60]))
}

async fn back_office(s: &Server) -> WebClient {
    let mut web = WebClient::new(&s.base);
    let ok = web.login(DEMO_AGB, "backoffice", DEMO_PASSWORD).await;
    assert_eq!(ok.status, 303);
    web
}

async fn the_list_shows_messages_in_and_out_with_types_and_statuses(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = back_office(&s).await;
    let total = count(
        &s,
        &format!("SELECT COUNT(*) FROM messages WHERE tenant_id = '{DEMO_AGB}'"),
    )
    .await;
    let page = web.get("/berichten").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(listed(&page.body), total, "every message of the tenant");
    for shown in [
        "WMO301",
        "JW301",
        "WMO323",
        "JW323",
        "JW325",
        "Factuur",
        "ontvangen",
        "verstuurd",
        "Jeugdwet 0599",
        "Wmo 0363",
        "UWV",
        "9308",
    ] {
        assert!(page.body.contains(shown), "{shown} missing");
    }
    // Newest first, 50 a page, times in Amsterdam with their zone.
    assert!(page.body.contains("pagina 1 van"), "paged");
    assert!(
        page.body.contains(" CET<") || page.body.contains(" CEST<"),
        "Amsterdam time"
    );
    assert_eq!(page.body.matches("<tr").count(), 51, "50 rows and a header");
    assert!(
        page.body.contains("href=\"/berichten\">Berichten</a>"),
        "nav entry"
    );
    // The retourcode's meaning on hover.
    assert!(page.body.contains("class=\"retourcode\" title=\""));
    // Every participant listed is in the access log.
    let logged = count(
        &s,
        &format!(
            "SELECT COUNT(*) FROM access_log WHERE tenant_id = '{DEMO_AGB}' AND object = 'GET /berichten' \
             AND actor = 'backoffice' AND kind = 'view'"
        ),
    )
    .await;
    let shown = page
        .body
        .split("href=\"/deelnemers/")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .collect::<std::collections::BTreeSet<_>>()
        .len() as i64;
    assert!(
        shown > 0 && logged == shown,
        "{logged} logged, {shown} shown"
    );
    let second = web.get("/berichten?pagina=2").await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("Nieuwere berichten"));
    let mangled = web.get("/berichten?pagina=twee").await;
    assert_eq!(mangled.status, 200);
    assert!(mangled.body.contains("pagina 1 van"));
}

async fn each_filter_narrows_and_the_search_finds_by_identifier_only(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = back_office(&s).await;
    let t = DEMO_AGB;
    let all = count(
        &s,
        &format!("SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}'"),
    )
    .await;
    let cases = [
        (
            "richting=in",
            format!("SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}' AND direction = 'in'"),
        ),
        (
            "richting=uit",
            format!("SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}' AND direction = 'out'"),
        ),
        (
            "soort=JW325",
            format!("SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}' AND bericht = 'JW325'"),
        ),
        (
            "partij=0599",
            format!(
                "SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}' AND \
                 ((direction = 'in' AND sender = '0599') OR (direction = 'out' AND receiver = '0599'))"
            ),
        ),
        (
            "status=retourcodes",
            // What loket refused, and the 325 with the demo's rejected line.
            format!(
                "SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}' AND (retourcodes <> '[]' OR bericht = 'JW325')"
            ),
        ),
        (
            "richting=uit&soort=WMO323",
            format!(
                "SELECT COUNT(*) FROM messages WHERE tenant_id = '{t}' AND direction = 'out' AND bericht = 'WMO323'"
            ),
        ),
    ];
    for (query, sql) in cases {
        let want = count(&s, &sql).await;
        assert!(want > 0 && want < all, "{query}: {want} of {all}");
        let page = web.get(&format!("/berichten?{query}")).await;
        assert_eq!(page.status, 200, "{query}");
        assert_eq!(listed(&page.body), want, "{query}");
    }
    // A period before the demo month holds nothing; today's holds all.
    let none = web.get("/berichten?van=01-01-2001&tot=31-01-2001").await;
    assert_eq!(listed(&none.body), 0);
    let bad = web.get("/berichten?van=gisteren").await;
    assert!(bad.body.contains("geen datum"), "a bad date is explained");
    // Nothing failed yet.
    let failed = web.get("/berichten?status=mislukt").await;
    assert_eq!(listed(&failed.body), 0);

    // Search by identificatie, by message id, by ToewijzingNummer.
    let (id, ident): (String, String) = {
        let r = sqlx::query(
            "SELECT id, identificatie FROM messages WHERE tenant_id = $1 AND bericht = 'JW325'",
        )
        .bind(t)
        .fetch_one(s.state.store().pool())
        .await
        .expect("the demo's 325");
        (r.get("id"), r.get("identificatie"))
    };
    let found = web
        .get(&format!("/berichten?zoek={}", urlencode(&ident)))
        .await;
    assert!(listed(&found.body) >= 1, "{}", found.body);
    assert!(found.body.contains(&format!("/berichten/{id}")));
    let by_id = web.get(&format!("/berichten?zoek={id}")).await;
    assert_eq!(listed(&by_id.body), 1);
    let nummer = text(
        &s,
        &format!("SELECT toewijzing_nummer FROM allocations WHERE tenant_id = '{t}' AND toewijzing_nummer = '360001'"),
    )
    .await;
    let by_allocation = web.get(&format!("/berichten?zoek={nummer}")).await;
    let n = listed(&by_allocation.body);
    assert!(n >= 2 && n < all, "its 301 and the 323 carrying it: {n}");
    assert!(by_allocation.body.contains("WMO301") && by_allocation.body.contains("WMO323"));
    // A BSN or a name is not searched for.
    let bsn = text(
        &s,
        &format!("SELECT bsn FROM participants WHERE tenant_id = '{t}' LIMIT 1"),
    )
    .await;
    let refused = web.get(&format!("/berichten?zoek={bsn}")).await;
    assert_eq!(listed(&refused.body), 0);
    assert!(
        refused.body.contains("Dit lijkt een BSN"),
        "{}",
        refused.body
    );
    let name = web.get("/berichten?zoek=Jansen").await;
    assert!(name.body.contains("Een naam zoekt u hier niet"));
    // The page's form posts: a BSN is refused on the page and never becomes
    // an address; an identifier leads to the list's address.
    let posted = web.post("/berichten", &[("zoek", bsn.as_str())]).await;
    assert_eq!(posted.status, 200, "refused where it was typed");
    assert!(posted.location.is_none());
    assert!(posted.body.contains("Dit lijkt een BSN"), "{}", posted.body);
    assert!(
        !posted.body.contains(&format!("zoek={bsn}")),
        "no address carries it"
    );
    let found = web
        .post("/berichten", &[("zoek", nummer.as_str()), ("richting", "")])
        .await;
    assert_eq!(found.status, 303);
    assert_eq!(
        found.location.as_deref(),
        Some(format!("/berichten?zoek={nummer}").as_str())
    );
}

async fn a_325_reads_in_dutch_with_its_xml_and_conversation(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = back_office(&s).await;
    let pool = s.state.store().pool();
    let r = sqlx::query(
        "SELECT id, answer_of FROM messages WHERE tenant_id = $1 AND bericht = 'JW325'",
    )
    .bind(DEMO_AGB)
    .fetch_one(pool)
    .await
    .expect("the demo's 325");
    let id: String = r.get("id");
    let heen: String = r
        .get::<Option<String>, _>("answer_of")
        .expect("a 325 answers its 323");
    let page = web.get(&format!("/berichten/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    // Header and the summary from the schema.
    for shown in [
        "JW325",
        "Afzender",
        "0599",
        "Dagtekening",
        "Jeugdwet 0599",
        "Inhoud",
        "Client",
        "Prestatie",
        "Toewijzing nummer",
        "Retourcodes",
        "9308",
    ] {
        assert!(b.contains(shown), "{shown} missing");
    }
    let meaning = loket::adapter::istandaard::retourcodes::explain("9308").nl;
    assert!(
        b.contains(&maud::html! { (meaning) }.into_string()),
        "the retourcode's Dutch meaning"
    );
    // Dates as dd-mm-jjjj, amounts in euros.
    assert!(b.contains("€ "), "amounts");
    assert!(
        !b.contains(">20") || b.contains("-20"),
        "no ISO dates as values"
    );
    // The XML, escaped, and its download.
    assert!(b.contains("<details class=\"xml\">"));
    assert!(b.contains("&lt;") && b.contains("Bsn&gt;"), "escaped XML");
    let dl = s
        .http
        .get(format!("{}/berichten/{id}/xml", s.base))
        .header(
            "cookie",
            web.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .send()
        .await
        .expect("download");
    assert_eq!(dl.status(), 200);
    let cd = dl.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.starts_with("attachment; filename=\"JW325-"), "{cd}");
    assert!(dl.text().await.unwrap().contains("<"));
    // The conversation: the 323 it answers, linked.
    assert!(b.contains("Gesprek"));
    assert!(
        b.contains(&format!("href=\"/berichten/{heen}\">JW323</a>")),
        "{b}"
    );
    let heen_page = web.get(&format!("/berichten/{heen}")).await;
    assert_eq!(heen_page.status, 200);
    assert!(
        heen_page
            .body
            .contains(&format!("href=\"/berichten/{id}\">JW325</a>"))
    );
    assert!(heen_page.body.contains("Verzending") && heen_page.body.contains("poging"));
    // Both views are in the access log, per participant.
    let logged = count(
        &s,
        &format!(
            "SELECT COUNT(*) FROM access_log WHERE tenant_id = '{DEMO_AGB}' AND object = 'GET /berichten/{{id}}' \
             AND actor = 'backoffice'"
        ),
    )
    .await;
    assert!(logged >= 2, "{logged}");
    let downloads = count(
        &s,
        &format!(
            "SELECT COUNT(*) FROM access_log WHERE tenant_id = '{DEMO_AGB}' AND kind = 'download'"
        ),
    )
    .await;
    assert!(downloads >= 1);
}

async fn a_failed_message_is_retried_from_its_page(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut web = back_office(&s).await;
    let pool = s.state.store().pool();
    let id = text(
        &s,
        &format!(
            "SELECT message_id FROM outbox WHERE tenant_id = '{DEMO_AGB}' AND bericht = 'JW323'"
        ),
    )
    .await;
    // As the worker leaves a message a counterpart refused (tests/outbox.rs:
    // a 422 fails at once).
    sqlx::query(
        "UPDATE outbox SET state = 'failed', attempts = 1, response_status = 422, \
         last_error = 'HTTP 422: geweigerd', sent_at = NULL WHERE message_id = $1",
    )
    .bind(&id)
    .execute(pool)
    .await
    .expect("fail it");
    sqlx::query("UPDATE messages SET status = 'failed' WHERE id = $1")
        .bind(&id)
        .execute(pool)
        .await
        .expect("fail it");
    let failed = web.get("/berichten?status=mislukt").await;
    assert_eq!(listed(&failed.body), 1);
    assert!(
        failed
            .body
            .contains("Alle mislukte berichten opnieuw versturen")
    );
    let page = web.get(&format!("/berichten/{id}")).await;
    assert!(page.body.contains("verzenden mislukt"));
    assert!(page.body.contains("HTTP 422: geweigerd") && page.body.contains("1 poging<"));
    assert!(
        page.body
            .contains(&format!("action=\"/berichten/{id}/opnieuw\""))
    );
    // Without the session's CSRF token nothing happens.
    let forged = web
        .post(&format!("/berichten/{id}/opnieuw"), &[("csrf", "verkeerd")])
        .await;
    assert_eq!(forged.status, 403);
    let csrf = page.csrf();
    let done = web
        .post(&format!("/berichten/{id}/opnieuw"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/berichten/{id}?resultaat=opnieuw").as_str())
    );
    // Queued again, due now (the test server runs no outbox worker).
    let state = text(
        &s,
        &format!("SELECT state FROM outbox WHERE message_id = '{id}'"),
    )
    .await;
    assert_eq!(state, "queued");
    let after = web.get(&format!("/berichten/{id}?resultaat=opnieuw")).await;
    assert!(after.body.contains("staat weer in de wachtrij"));
    assert!(
        !after
            .body
            .contains(&format!("action=\"/berichten/{id}/opnieuw\""))
    );
    assert!(
        after.body.contains("opnieuw in de wachtrij gezet"),
        "history"
    );
    let audited = count(
        &s,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE tenant_id = '{DEMO_AGB}' AND action = 'message_retry' \
             AND subject_id = '{id}' AND actor = 'backoffice'"
        ),
    )
    .await;
    assert_eq!(audited, 1);
    // Again: it is not failed any more, so nothing is queued.
    let again = web
        .post(&format!("/berichten/{id}/opnieuw"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        again.location.as_deref(),
        Some(format!("/berichten/{id}?resultaat=niet-mislukt").as_str())
    );
    // "Retry all" with nothing failed says so.
    let all = web.post("/berichten/opnieuw", &[("csrf", &csrf)]).await;
    assert_eq!(
        all.location.as_deref(),
        Some("/berichten?status=mislukt&resultaat=niets-mislukt")
    );
}

async fn only_the_back_office_of_the_own_tenant_sees_messages(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let id = text(
        &s,
        &format!("SELECT id FROM messages WHERE tenant_id = '{DEMO_AGB}' AND bericht = 'JW325'"),
    )
    .await;
    let mut coach = WebClient::new(&s.base);
    coach.login(DEMO_AGB, "jobcoach", DEMO_PASSWORD).await;
    assert_eq!(coach.get("/berichten").await.status, 403);
    assert_eq!(coach.get(&format!("/berichten/{id}")).await.status, 403);
    assert_eq!(coach.get(&format!("/berichten/{id}/xml")).await.status, 403);
    let nav = coach.get("/registratie").await;
    assert!(!nav.body.contains("href=\"/berichten\""), "no nav entry");

    add_other_tenant(&s).await;
    let mut other = WebClient::new(&s.base);
    other
        .login("11112222", "anna", "een-ander-wachtwoord")
        .await;
    assert_eq!(other.get(&format!("/berichten/{id}")).await.status, 404);
    assert_eq!(other.get(&format!("/berichten/{id}/xml")).await.status, 404);
    let list = other.get("/berichten").await;
    assert_eq!(list.status, 200);
    assert_eq!(listed(&list.body), 0);
    let csrf = list.csrf();
    let retry = other
        .post(&format!("/berichten/{id}/opnieuw"), &[("csrf", &csrf)])
        .await;
    assert_eq!(retry.status, 404);

    // The municipality's back office has Berichten too.
    let mut gemeente = WebClient::new(&s.base);
    let ok = gemeente
        .login(
            loket::web::demo::DEMO_GEMEENTE,
            "beoordelaar",
            DEMO_PASSWORD,
        )
        .await;
    assert_eq!(ok.status, 303);
    let theirs = gemeente.get("/berichten").await;
    assert_eq!(theirs.status, 200);
    assert!(
        theirs.body.contains("Aanbieder 87654321"),
        "{}",
        theirs.body
    );
    assert!(theirs.body.contains("href=\"/berichten\">Berichten</a>"));
}

/// The list's first page is a walk of `messages_tenant_created` on both
/// backends, not a sort of all the tenant's messages
/// (`loket::store::plans`, as tests/query_plans.rs checks the hot lookups).
async fn the_list_walks_its_index(db: Db) {
    use loket::store::plans::{Bind, HotQuery, explain, faults};
    let store = loket::store::Store::open(db.url.as_deref(), db.dir.path())
        .await
        .expect("store");
    store.add_tenant("12345678").await.expect("tenant");
    for sql in [
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000) \
         INSERT INTO messages (id, tenant_id, direction, bericht, sender, receiver, identificatie, status, raw, created_at) \
         SELECT 'm' || CAST(i AS TEXT), '12345678', CASE WHEN i % 3 = 0 THEN 'in' ELSE 'out' END, 'WMO301', '0363', \
         '12345678', 'ID' || CAST(i AS TEXT), 'accepted', CAST('<x/>' AS BYTEA), \
         '2026-01-01T00:00:' || CAST(10 + i % 50 AS TEXT) || '.000Z' FROM k",
        "ANALYZE",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .expect("seed");
    }
    let tenant = loket::store::Tenant {
        id: "12345678".into(),
        kind: loket::store::TenantKind::Aanbieder,
    };
    let filtered = loket::record::messages::Filter {
        direction: Some("in".into()),
        bericht: Some("WMO301".into()),
        ..Default::default()
    };
    for f in [loket::record::messages::Filter::default(), filtered] {
        let (sql, texts) = loket::record::messages::list_sql(&tenant, &f);
        let mut binds: Vec<Bind> = texts
            .into_iter()
            .map(|t| Bind::Text(Box::leak(t.into_boxed_str())))
            .collect();
        binds.extend([Bind::Int(50), Bind::Int(0)]);
        let q = HotQuery {
            name: "Berichten, first page",
            sql,
            binds,
            indexes: &["messages_tenant_created"],
        };
        let plan = explain(&store, &q).await.expect("explain");
        let wrong = faults(store.backend, &q, &plan);
        assert!(wrong.is_empty(), "{f:?}: {wrong:?}\n{}", plan.join("\n"));
    }
}

#[tokio::test]
async fn the_list_walks_its_index_on_sqlite() {
    on_sqlite(the_list_walks_its_index).await;
}

#[tokio::test]
async fn the_list_walks_its_index_on_postgres() {
    on_postgres(the_list_walks_its_index).await;
}
