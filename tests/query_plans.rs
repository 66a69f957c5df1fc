//! Every hot lookup uses its index on both backends, so a resend, an answer
//! or a queue read costs the same however many messages are stored
//! (`loket::store::plans` lists them; `cargo bench --bench store` measures
//! the resend at 10,000 and 1,000,000 messages).

mod common;

use common::{Db, on_postgres, on_sqlite};
use loket::store::Store;
use loket::store::plans::{explain, faults, hot_queries};

/// Rows shaped like a tenant's day-to-day tables, so the planners judge
/// with statistics (`ANALYZE`) as they would in production rather than on
/// empty tables, where any plan costs nothing: heenberichten with their
/// retours, outgoing messages mostly sent, review items mostly resolved.
async fn seed(store: &Store) {
    let tenant = "12345678";
    store.add_tenant(tenant).await.expect("tenant");
    let n = 3_000;
    let statements = [
        format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO messages (id, tenant_id, direction, bericht, sender, receiver, identificatie, status, raw, answer_of, created_at) \
             SELECT 'm' || CAST(i AS TEXT), '{tenant}', CASE WHEN i % 3 = 0 THEN 'in' ELSE 'out' END, 'WMO301', \
             '0363', '{tenant}', 'ID' || CAST(i AS TEXT), CASE WHEN i % 50 = 0 THEN 'rejected' ELSE 'accepted' END, \
             CAST('<x/>' AS BYTEA), CASE WHEN i % 3 = 1 THEN 'm' || CAST(i - 1 AS TEXT) END, \
             '2026-01-01T00:00:00.000Z' FROM k"
        ),
        format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO outbox (message_id, tenant_id, financier, bericht, identificatie, target_kind, target, state, \
             next_attempt_at, created_at, updated_at) \
             SELECT 'm' || CAST(i AS TEXT), '{tenant}', 'wmo:0363', 'WMO305', 'ID' || CAST(i AS TEXT), 'http', \
             'https://gemeente' || CAST(i % 4 AS TEXT), CASE WHEN i % 100 = 0 THEN 'queued' ELSE 'sent' END, \
             '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM k WHERE i % 3 <> 0"
        ),
        format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO review_items (id, tenant_id, kind, status, created_at) \
             SELECT 'r' || CAST(i AS TEXT), '{tenant}', 'rejected_prestatie', \
             CASE WHEN i % 20 = 0 THEN 'open' ELSE 'resolved' END, '2026-01-01T00:00:00.000Z' FROM k"
        ),
        // A municipality's received lines over three years, from a 323
        // (judged) and from invoices.
        format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO judged_prestaties (id, tenant_id, aanbieder, standard, message_id, declaratie_nummer, \
             referentie_nummer, toewijzing_nummer, product_categorie, period_begin, period_end, volume, eenheid, \
             bedrag_cents, debet_credit, status, created_at) \
             SELECT 'j' || CAST(i AS TEXT), '{tenant}', '7373011' || CAST(i % 10 AS TEXT), 'iwmo', 'm' || CAST(i AS TEXT), \
             'D' || CAST(i / 100 AS TEXT), 'R' || CAST(i AS TEXT), '1', '07', \
             '202' || CAST(4 + i % 3 AS TEXT) || '-' || CAST(10 + i % 12 AS TEXT) || '-01', \
             '202' || CAST(4 + i % 3 AS TEXT) || '-' || CAST(10 + i % 12 AS TEXT) || '-28', 1, '16', 100, 'D', \
             'approved', '2026-01-01T00:00:00.000Z' FROM k"
        ),
        format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO received_invoice_lines (id, tenant_id, message_id, seller, document_kind, invoice_number, \
             line_id, client_reference, law, product_code, period_begin, period_end, volume, unit, bedrag_cents, \
             currency, debet_credit, status, created_at) \
             SELECT 'u' || CAST(i AS TEXT), '{tenant}', 'm' || CAST(i AS TEXT), '1234567' || CAST(i % 10 AS TEXT), \
             'Invoice', 'F' || CAST(i / 10 AS TEXT), '1', 'K' || CAST(i AS TEXT), 'participatiewet', 'PB001', \
             '202' || CAST(4 + i % 3 AS TEXT) || '-' || CAST(10 + i % 12 AS TEXT) || '-01', \
             '202' || CAST(4 + i % 3 AS TEXT) || '-' || CAST(10 + i % 12 AS TEXT) || '-28', '1', 'HUR', 100, 'EUR', \
             'D', 'ingediend', '2026-01-01T00:00:00.000Z' FROM k"
        ),
        "ANALYZE".to_string(),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .expect("seed");
    }
}

async fn every_hot_query_uses_its_index(db: Db) {
    let store = Store::open(db.url.as_deref(), db.dir.path())
        .await
        .expect("store");
    seed(&store).await;
    let mut wrong = Vec::new();
    for q in hot_queries(store.backend) {
        let plan = explain(&store, &q).await.expect("explain");
        let f = faults(store.backend, &q, &plan);
        if !f.is_empty() {
            wrong.push(format!(
                "{}: {}\n    plan: {}",
                q.name,
                f.join("; "),
                plan.join(" | ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{:?}:\n{}",
        store.backend,
        wrong.join("\n")
    );
}

#[tokio::test]
async fn hot_queries_use_their_indexes_on_sqlite() {
    on_sqlite(every_hot_query_uses_its_index).await;
}

#[tokio::test]
async fn hot_queries_use_their_indexes_on_postgres() {
    on_postgres(every_hot_query_uses_its_index).await;
}

/// The check itself: a statement without a usable index is caught.
#[tokio::test]
async fn a_scan_is_caught() {
    on_sqlite(|db: Db| async move {
        let store = Store::open(None, db.dir.path()).await.expect("store");
        let q = loket::store::plans::HotQuery {
            name: "by dagtekening alone",
            sql: "SELECT id FROM messages WHERE dagtekening = $1".to_string(),
            binds: vec![loket::store::plans::Bind::Text("2026-01-01")],
            indexes: &["messages_tr056"],
        };
        let plan = explain(&store, &q).await.expect("explain");
        let f = faults(store.backend, &q, &plan);
        assert_eq!(f.len(), 2, "{f:?} in {plan:?}");
    })
    .await;
}
