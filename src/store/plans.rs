//! The hot lookups and the indexes they must use.
//!
//! A resend is how every client recovers from a crash, an answer arrives for
//! every message sent, and the review and outbox queues are read all day:
//! each of these must cost the same with a million stored messages as with a
//! thousand. Without the right index a lookup still works, only slower with
//! every message stored, so no functional test notices; the query plans do.
//! `tests/query_plans.rs` asks both backends how they run each statement
//! listed here (the statements the code runs, not copies) and fails when one
//! scans a table or leaves out the index it should use.

use anyhow::{Context, Result};
use sqlx::{Executor, Row};

use super::{Backend, Store};

/// A value to explain a statement with (PostgreSQL plans need typed
/// parameters; the values themselves match nothing).
#[derive(Debug, Clone)]
pub enum Bind {
    Text(&'static str),
    Int(i64),
    Null,
}

/// One hot statement and the indexes its plan must use.
#[derive(Debug, Clone)]
pub struct HotQuery {
    pub name: &'static str,
    pub sql: String,
    pub binds: Vec<Bind>,
    pub indexes: &'static [&'static str],
}

/// Every hot statement, as `backend` gets it.
pub fn hot_queries(backend: Backend) -> Vec<HotQuery> {
    use Bind::{Int, Null, Text};
    let t = Text("x");
    vec![
        HotQuery {
            name: "resend lookup (TR056) with its stored retour",
            sql: crate::record::apply::FIND_PREVIOUS.to_string(),
            binds: vec![t.clone(), t.clone(), t.clone(), t.clone()],
            indexes: &["messages_tr056", "messages_answer_of"],
        },
        HotQuery {
            name: "which of a batch are resends (TR056)",
            sql: crate::record::apply::stored_keys_sql(backend, 2),
            binds: vec![t.clone(); 8],
            indexes: &["messages_tr056"],
        },
        HotQuery {
            name: "the message an answer quotes",
            sql: crate::record::answers::FIND_HEEN.to_string(),
            binds: vec![t.clone(); 5],
            indexes: &["messages_quoted"],
        },
        HotQuery {
            name: "linking an answer to its message",
            sql: crate::record::answers::LINK_ANSWER.to_string(),
            binds: vec![t.clone(), t.clone()],
            indexes: &["messages_answer_of"],
        },
        HotQuery {
            name: "a message with its answer",
            sql: crate::record::read::MESSAGE.to_string(),
            binds: vec![t.clone(), t.clone()],
            indexes: &["messages_answer_of"],
        },
        HotQuery {
            name: "refused messages, newest first",
            sql: crate::record::read::REFUSED.to_string(),
            binds: vec![t.clone(), Null, Null, Int(50)],
            indexes: &["messages_refused"],
        },
        HotQuery {
            name: "review items, newest first",
            sql: crate::record::review::list_sql(),
            binds: vec![t.clone(), Null, Text("open"), Null, Int(50), Int(0)],
            indexes: &["review_items_recent"],
        },
        HotQuery {
            name: "a municipality's received declaration lines in a period",
            sql: crate::record::received::lines_sql(),
            binds: vec![
                t.clone(),
                Null,
                Text("2026-04-01"),
                Text("2026-04-30"),
                Null,
                Null,
                Null,
                Int(1000),
                Int(0),
            ],
            indexes: &["judged_prestaties_period", "received_invoice_lines_period"],
        },
        HotQuery {
            name: "the outbox worker's claim",
            sql: crate::outbox::worker::CLAIM.to_string(),
            binds: vec![
                Text("queued"),
                Text("sending"),
                Text("2026-01-01T00:00:00.000Z"),
                Int(8),
            ],
            // The older open row of the same counterpart is looked up in
            // outbox_target or, where the planner finds the open rows few,
            // in outbox_due again: either way never in the sent history.
            indexes: &["outbox_due"],
        },
    ]
}

/// The backend's plan of `q`, one line per step: SQLite's `EXPLAIN QUERY
/// PLAN` details, PostgreSQL's `EXPLAIN` lines with sequential scans
/// disabled (on a small table PostgreSQL rightly prefers one; disabled, it
/// still shows one only when no index can serve the statement).
pub async fn explain(store: &Store, q: &HotQuery) -> Result<Vec<String>> {
    // In a transaction that is rolled back: the setting ends with it, also
    // when the statement fails, and the connection goes back to the pool as
    // it came.
    let mut tx = store.pool().begin().await?;
    let (sql, column) = match store.backend {
        Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {}", q.sql), "detail"),
        Backend::Postgres => {
            tx.execute("SET LOCAL enable_seqscan = off").await?;
            (format!("EXPLAIN {}", q.sql), "QUERY PLAN")
        }
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in &q.binds {
        query = match b {
            Bind::Text(v) => query.bind(*v),
            Bind::Int(v) => query.bind(*v),
            Bind::Null => query.bind(None::<String>),
        };
    }
    let rows = query
        .fetch_all(&mut *tx)
        .await
        .with_context(|| format!("explaining {}", q.name))?;
    tx.rollback().await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(column).map_err(Into::into))
        .collect()
}

/// What is wrong with `plan` for `q`: a table scanned, or an index it
/// should use left out. Empty when the plan is right.
pub fn faults(backend: Backend, q: &HotQuery, plan: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    // A subquery's own result (a co-routine or a materialised view, bounded
    // by the subquery's LIMIT) is read by a scan; that is not a table.
    let intermediate: Vec<&str> = plan
        .iter()
        .filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("CO-ROUTINE ")
                .or_else(|| l.strip_prefix("MATERIALIZE "))
                .map(str::trim)
        })
        .collect();
    for line in plan {
        let scan = match backend {
            Backend::Sqlite => {
                let l = line.trim_start();
                l.starts_with("SCAN ")
                    && !l.starts_with("SCAN CONSTANT ROW")
                    && !intermediate.contains(&l["SCAN ".len()..].trim())
            }
            Backend::Postgres => line.contains("Seq Scan"),
        };
        if scan {
            out.push(format!("scans: {}", line.trim()));
        }
    }
    for index in q.indexes {
        if !plan.iter().any(|l| l.contains(index)) {
            out.push(format!("does not use {index}"));
        }
    }
    out
}
