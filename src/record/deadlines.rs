//! The standard's answer deadlines, computed from what the record holds:
//! a read model, nothing is stored for it. Each open item says what is
//! awaited, since when the clock runs, when it is due (in working days,
//! [`crate::calendar`]) and how far past or before that the reference date
//! is.
//!
//! - `retour`, 3 working days: a heenbericht loket delivered (outbox `sent`)
//!   without a retour yet, and an accepted heenbericht loket received
//!   without the retour it writes at once (one that loket refused and could
//!   not address was answered directly, not with a retour, and is not
//!   listed). The 323 is not among them: its answer is the 325.
//! - `start` and `stop`, 5 working days after the first day of care or its
//!   end: what the start/stop run ([`crate::engine::startstop::plan`]) would
//!   send today, plus what it queued that has not left the outbox (queued,
//!   sending or failed: not sent). The run's own planning decides what is
//!   due, so this list and the run cannot disagree.
//! - `verzoek_antwoord`, 5 working days after a 315 or 317: for a provider,
//!   a request it sent that neither a 319 answered nor a 301 honoured; for a
//!   municipality, a request it received and has not answered either way.
//! - `declaratie_antwoord`, 10 working days after a 323: for a provider, a
//!   declaration it sent without its 325; for a municipality, a 323 it
//!   received without the 325 it answers with, or whose 325 is held for a
//!   person's decision ([`super::decisions`]): to the provider it is still
//!   unanswered.
//!
//! Items carry loket's ids and the participant's id, never a BSN or a name.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::AnyPool;

use crate::calendar::Calendar;
use crate::engine::startstop;
use crate::mapping::{Mappings, TenantMappings};
use crate::schema::{Role, Schema};
use crate::store::{Store, Tenant, TenantKind};

/// Kinds of deadline, as the API, the page and the gauge name them.
pub const RETOUR: &str = "retour";
pub const START: &str = "start";
pub const STOP: &str = "stop";
pub const VERZOEK_ANTWOORD: &str = "verzoek_antwoord";
pub const DECLARATIE_ANTWOORD: &str = "declaratie_antwoord";
pub const KINDS: [&str; 5] = [RETOUR, START, STOP, VERZOEK_ANTWOORD, DECLARATIE_ANTWOORD];

/// Working days the standard allows for each kind.
pub fn working_days(kind: &str) -> u32 {
    match kind {
        RETOUR => 3,
        DECLARATIE_ANTWOORD => 10,
        _ => 5,
    }
}

/// One open deadline (`schemas/api/deadlines.json#/$defs/item`).
#[derive(Debug, Clone, Serialize)]
pub struct Deadline {
    /// retour | start | stop | verzoek_antwoord | declaratie_antwoord
    pub kind: &'static str,
    /// Who has to act: `loket` (this tenant sends) or `counterpart` (the
    /// other party answers).
    pub waiting_on: &'static str,
    /// The message the clock runs for (the heenbericht, the request's or
    /// the declaration's message, a queued 305/307); none for a start or
    /// stop not yet built.
    pub message_id: Option<String>,
    /// The message awaited, or the one the clock runs for (WMO305, JW325, ...).
    pub bericht: Option<String>,
    pub allocation_id: Option<String>,
    pub request_id: Option<String>,
    pub declaration_id: Option<String>,
    pub participant_id: Option<String>,
    /// The other party: a gemeentecode, an AGB code or a financier code.
    pub counterpart: Option<String>,
    /// The day the clock started (the day sent or received, the first day
    /// of care, the end of care).
    pub started_on: String,
    pub working_days: u32,
    pub due_on: String,
    /// Working days past the due date on the reference date; negative:
    /// working days left.
    pub days_overdue: i64,
    pub overdue: bool,
}

/// The open deadlines of one tenant on `reference_date`, most overdue
/// first.
#[derive(Debug, Clone, Serialize)]
pub struct Deadlines {
    pub reference_date: String,
    pub items: Vec<Deadline>,
}

impl Deadlines {
    /// The overdue items only.
    pub fn overdue(&self) -> impl Iterator<Item = &Deadline> {
        self.items.iter().filter(|d| d.overdue)
    }
}

/// Where an item starts: everything but the dates.
#[derive(Debug, Default)]
struct Open {
    waiting_on: &'static str,
    message_id: Option<String>,
    bericht: Option<String>,
    allocation_id: Option<String>,
    request_id: Option<String>,
    declaration_id: Option<String>,
    participant_id: Option<String>,
    counterpart: Option<String>,
}

/// A row of the queries below: the common columns of every kind.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    message_id: Option<String>,
    bericht: Option<String>,
    participant_id: Option<String>,
    counterpart: Option<String>,
    /// A timestamp or date; its first ten characters are the day.
    started: Option<String>,
    subject_id: Option<String>,
    allocation_id: Option<String>,
}

/// The day of a stored timestamp or date (`2026-05-14T...` or `2026-05-14`).
fn day_of(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// No answer to `m` yet: none linked by `answer_of`, none that the exchange
/// says answers its traceerId (`als_antwoord_op`, a retour pulled from the
/// exchange before it was placed).
const UNANSWERED: &str = "NOT EXISTS (SELECT 1 FROM messages a WHERE a.answer_of = m.id) \
     AND (m.traceer_id IS NULL OR NOT EXISTS (SELECT 1 FROM messages a WHERE a.tenant_id = m.tenant_id \
     AND a.als_antwoord_op = m.traceer_id))";

/// The answer to `m` is stored but held back for a person's decision
/// ([`super::decisions`]): to the counterpart it is still unanswered.
const HELD_ANSWER: &str = "EXISTS (SELECT 1 FROM messages a JOIN outbox o ON o.message_id = a.id \
     WHERE a.answer_of = m.id AND o.state = 'held')";

/// Heenberichten answered by a retourbericht (301, 305, 307, 315, 317,
/// 319 of both laws), as an SQL list of literals: the names come from the
/// compiled schema and are checked to be plain, so they are safe inline.
fn heen_with_retour(schema: &Schema) -> String {
    let mut names: Vec<String> = Vec::new();
    for s in &schema.standards {
        for m in &s.messages {
            let retour = m.answered_by.as_deref().and_then(|r| s.message(r));
            if m.role == Role::Heen
                && retour.is_some_and(|r| r.role == Role::Retour)
                && m.name.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                names.push(format!("'{}'", m.name));
            }
        }
    }
    if names.is_empty() {
        "''".to_string()
    } else {
        names.join(", ")
    }
}

struct Builder<'a> {
    calendar: &'a Calendar,
    today: NaiveDate,
    items: Vec<Deadline>,
}

impl Builder<'_> {
    fn push(&mut self, kind: &'static str, started: Option<NaiveDate>, o: Open) {
        let Some(started) = started else { return };
        let n = working_days(kind);
        let due = self.calendar.add_working_days(started, n);
        let days = self.calendar.working_days_between(due, self.today);
        self.items.push(Deadline {
            kind,
            waiting_on: o.waiting_on,
            message_id: o.message_id,
            bericht: o.bericht,
            allocation_id: o.allocation_id,
            request_id: o.request_id,
            declaration_id: o.declaration_id,
            participant_id: o.participant_id,
            counterpart: o.counterpart,
            started_on: started.to_string(),
            working_days: n,
            due_on: due.to_string(),
            days_overdue: days,
            overdue: days > 0,
        });
    }

    fn rows(
        &mut self,
        kind: &'static str,
        waiting_on: &'static str,
        rows: Vec<Row>,
        subject: Subject,
    ) {
        for r in rows {
            let started = r.started.as_deref().and_then(day_of);
            let mut o = Open {
                waiting_on,
                message_id: r.message_id,
                bericht: r.bericht,
                participant_id: r.participant_id,
                counterpart: r.counterpart,
                allocation_id: r.allocation_id,
                ..Open::default()
            };
            match subject {
                Subject::None => {}
                Subject::Request => o.request_id = r.subject_id,
                Subject::Declaration => o.declaration_id = r.subject_id,
            }
            self.push(kind, started, o);
        }
    }
}

#[derive(Clone, Copy)]
enum Subject {
    None,
    Request,
    Declaration,
}

/// The open deadlines of `tenant` on `today`. `mappings` are the tenant's
/// (the start/stop planning needs its financiers' laws).
pub async fn list(
    pool: &AnyPool,
    tenant: &Tenant,
    mappings: &Mappings,
    today: NaiveDate,
) -> Result<Deadlines> {
    let schema = Schema::builtin()?;
    let mut b = Builder {
        calendar: Calendar::builtin()?,
        today,
        items: Vec::new(),
    };
    let heen = heen_with_retour(schema);
    let provider = tenant.kind == TenantKind::Aanbieder;

    // Retour, what loket delivered: the retour is linked by answer_of
    // (answers.rs) or kept by the outbox (retour_id).
    let rows = query(
        pool,
        tenant,
        &format!(
            "SELECT m.id AS message_id, m.bericht, m.participant_id, m.receiver AS counterpart, o.sent_at AS started, \
             NULL AS subject_id, NULL AS allocation_id \
             FROM messages m JOIN outbox o ON o.message_id = m.id \
             WHERE m.tenant_id = $1 AND m.direction = 'out' AND o.state = 'sent' AND o.retour_id IS NULL \
             AND m.bericht IN ({heen}) AND {UNANSWERED}"
        ),
    )
    .await?;
    b.rows(RETOUR, "counterpart", rows, Subject::None);
    // Retour, what loket received and accepted.
    let rows = query(
        pool,
        tenant,
        &format!(
            "SELECT m.id AS message_id, m.bericht, m.participant_id, m.sender AS counterpart, m.created_at AS started, \
             NULL AS subject_id, NULL AS allocation_id \
             FROM messages m WHERE m.tenant_id = $1 AND m.direction = 'in' AND m.status = 'accepted' \
             AND m.bericht IN ({heen}) AND {UNANSWERED}"
        ),
    )
    .await?;
    b.rows(RETOUR, "loket", rows, Subject::None);

    if provider {
        start_stop(pool, tenant, schema, mappings, today, &mut b).await?;
        // A request delivered that no 319 answered and no 301 honoured (a
        // 316/318 that rejected it ends it too).
        let rows = query(
            pool,
            tenant,
            "SELECT r.message_id, r.bericht, COALESCE(r.participant_id, m.participant_id) AS participant_id, \
             r.gemeente AS counterpart, COALESCE(o.sent_at, r.created_at) AS started, r.id AS subject_id, \
             NULL AS allocation_id \
             FROM requests r JOIN messages m ON m.id = r.message_id LEFT JOIN outbox o ON o.message_id = r.message_id \
             WHERE r.tenant_id = $1 AND r.direction = 'out' AND r.status IN ('sent', 'answered') \
             AND r.answer_message_id IS NULL AND r.allocation_id IS NULL \
             AND (o.state IS NULL OR o.state = 'sent')",
        )
        .await?;
        b.rows(VERZOEK_ANTWOORD, "counterpart", rows, Subject::Request);
        // A 323 delivered without its 325.
        let rows = query(
            pool,
            tenant,
            &format!("SELECT d.message_id, m.bericht, NULL AS participant_id, f.code AS counterpart, \
             COALESCE(o.sent_at, d.created_at) AS started, d.id AS subject_id, NULL AS allocation_id \
             FROM declarations d JOIN messages m ON m.id = d.message_id JOIN financiers f ON f.id = d.financier_id \
             LEFT JOIN outbox o ON o.message_id = d.message_id \
             WHERE d.tenant_id = $1 AND d.status = 'sent' AND m.bericht LIKE '%323' \
             AND (o.state IS NULL OR o.state = 'sent') AND {UNANSWERED}"
        ),
        )
        .await?;
        b.rows(
            DECLARATIE_ANTWOORD,
            "counterpart",
            rows,
            Subject::Declaration,
        );
    } else {
        // A request received and answered neither way.
        let rows = query(
            pool,
            tenant,
            "SELECT r.message_id, r.bericht, COALESCE(r.participant_id, m.participant_id) AS participant_id, \
             r.aanbieder AS counterpart, r.created_at AS started, r.id AS subject_id, NULL AS allocation_id \
             FROM requests r JOIN messages m ON m.id = r.message_id \
             WHERE r.tenant_id = $1 AND r.direction = 'in' AND r.status = 'received' \
             AND r.answer_message_id IS NULL AND r.allocation_id IS NULL",
        )
        .await?;
        b.rows(VERZOEK_ANTWOORD, "loket", rows, Subject::Request);
        // A 323 received without the 325 that answers it.
        let rows = query(
            pool,
            tenant,
            &format!("SELECT m.id AS message_id, m.bericht, m.participant_id, m.sender AS counterpart, m.created_at AS started, \
             NULL AS subject_id, NULL AS allocation_id \
             FROM messages m WHERE m.tenant_id = $1 AND m.direction = 'in' AND m.bericht LIKE '%323' \
             AND m.status IN ('accepted', 'rejected') AND ({UNANSWERED} OR {HELD_ANSWER})"
        ),
        )
        .await?;
        b.rows(DECLARATIE_ANTWOORD, "loket", rows, Subject::None);
    }

    let mut items = b.items;
    items.sort_by(|a, b| {
        b.days_overdue
            .cmp(&a.days_overdue)
            .then_with(|| a.kind.cmp(b.kind))
            .then_with(|| a.started_on.cmp(&b.started_on))
            .then_with(|| a.message_id.cmp(&b.message_id))
            .then_with(|| a.allocation_id.cmp(&b.allocation_id))
    });
    Ok(Deadlines {
        reference_date: today.to_string(),
        items,
    })
}

async fn query(pool: &AnyPool, tenant: &Tenant, sql: &str) -> Result<Vec<Row>> {
    sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(&tenant.id)
        .fetch_all(pool)
        .await
        .context("reading open deadlines")
}

/// Starts and stops due: what the run would send today, and what it
/// queued that has not left.
async fn start_stop(
    pool: &AnyPool,
    tenant: &Tenant,
    schema: &Schema,
    mappings: &Mappings,
    today: NaiveDate,
    b: &mut Builder<'_>,
) -> Result<()> {
    // The planning reads only; its transaction is rolled back.
    let mut tx = pool.begin().await.context("reading starts and stops due")?;
    let plan = startstop::plan(&mut tx, &tenant.id, schema, mappings, today).await;
    tx.rollback().await.ok();
    let plan = plan?;
    for p in plan.planned {
        let (kind, bericht) = if p.start {
            (START, "305")
        } else {
            (STOP, "307")
        };
        for product in p.products {
            // The removal half of a correction is no deadline of its own.
            if product.status != "1" {
                continue;
            }
            let date = match &product.stop {
                Some((einddatum, _)) => day_of(einddatum),
                None => day_of(&product.begindatum),
            };
            b.push(
                kind,
                date,
                Open {
                    waiting_on: "loket",
                    bericht: Some(bericht.to_string()),
                    allocation_id: Some(product.allocation_id),
                    participant_id: Some(p.participant_id.clone()),
                    counterpart: Some(p.financier.code.clone()),
                    ..Open::default()
                },
            );
        }
    }
    // Built and queued, not yet delivered.
    for (kind, date) in [(START, "d.begindatum"), (STOP, "d.einddatum")] {
        let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
            "SELECT d.message_id, m.bericht, m.participant_id, m.receiver AS counterpart, {date} AS started, \
             NULL AS subject_id, d.allocation_id \
             FROM deliveries d JOIN outbox o ON o.message_id = d.message_id JOIN messages m ON m.id = d.message_id \
             WHERE d.tenant_id = $1 AND d.kind = $2 AND d.current = 1 AND d.status_aanlevering = '1' \
             AND o.state IN ('queued', 'sending', 'failed')"
        )))
        .bind(&tenant.id)
        .bind(kind)
        .fetch_all(pool)
        .await
        .context("reading starts and stops not delivered")?;
        b.rows(kind, "loket", rows, Subject::None);
    }
    Ok(())
}

/// Overdue items per kind over every tenant on `today`, for the gauge
/// `loket_deadlines_overdue{kind}`: counts only, no tenant.
pub async fn overdue_counts(
    store: &Store,
    mappings: &TenantMappings,
    today: NaiveDate,
) -> Result<BTreeMap<&'static str, u64>> {
    let tenants: Vec<(String, String)> = sqlx::query_as("SELECT id, kind FROM tenants ORDER BY id")
        .fetch_all(store.pool())
        .await
        .context("reading tenants")?;
    let mut counts: BTreeMap<&'static str, u64> = KINDS.iter().map(|k| (*k, 0)).collect();
    for (id, kind) in tenants {
        let kind = if kind == "gemeente" {
            TenantKind::Gemeente
        } else {
            TenantKind::Aanbieder
        };
        let tenant = Tenant { id, kind };
        let d = list(
            store.pool(),
            &tenant,
            mappings.for_tenant(&tenant.id),
            today,
        )
        .await?;
        for item in d.overdue() {
            *counts.entry(item.kind).or_default() += 1;
        }
    }
    Ok(counts)
}

/// The Naam of each of `ids` (participants of `tenant`), for the back
/// office's page; the API list never carries names.
pub async fn participant_names(
    pool: &AnyPool,
    tenant: &Tenant,
    ids: &[String],
) -> Result<std::collections::HashMap<String, serde_json::Value>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT id, name_json FROM participants WHERE tenant_id = $1 AND id IN ({})",
            marks.join(", ")
        );
        let mut q =
            sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(&tenant.id);
        for id in chunk {
            q = q.bind(id);
        }
        for (id, name) in q
            .fetch_all(pool)
            .await
            .context("reading participant names")?
        {
            out.insert(
                id,
                serde_json::from_str(&name).unwrap_or(serde_json::Value::Null),
            );
        }
    }
    Ok(out)
}
