//! The review queue's data: what a person has to look at (a prestatie the
//! municipality rejected, a start or request it refused, an answer loket
//! could not place, a message loket's own checks held back). Items are
//! written where the fact arises ([`super::answers::add_review`], the
//! engine's notices); this module is where they are read as typed items and
//! resolved, for the API (`server::review`) and the web app alike.
//!
//! Every retourcode comes with its explanation in Dutch and English, since
//! the person reading the queue is not expected to know the WJ001 list.

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

use crate::adapter::istandaard::retourcodes::{Explained, explain};
use crate::store::{Tenant, WriteTx, now};

/// Where the resolution note is kept inside `detail` (the table has no
/// column for it; the key is taken out again when an item is shown).
const NOTE_KEY: &str = "resolution_note";

const COLUMNS: &str = "id, participant_id, kind, subject_id, retourcodes, detail, status, created_at, resolved_at, resolved_by";

/// A `review_items` row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ItemRow {
    id: String,
    participant_id: Option<String>,
    kind: String,
    subject_id: Option<String>,
    retourcodes: String,
    detail: String,
    status: String,
    created_at: String,
    resolved_at: Option<String>,
    resolved_by: Option<String>,
}

/// One item as the API shows it (`schemas/api/review-item.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub id: String,
    pub kind: String,
    pub title: Title,
    /// open | resolved
    pub status: String,
    pub participant_id: Option<String>,
    /// The prestatie, message, request or allocation it is about.
    pub subject_id: Option<String>,
    pub retourcodes: Vec<Explained>,
    /// What a person needs to find the case; never a BSN or a name.
    pub detail: Value,
    pub created_at: String,
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Title {
    pub nl: &'static str,
    pub en: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<Value>,
}

impl From<ItemRow> for ReviewItem {
    fn from(r: ItemRow) -> ReviewItem {
        let (nl, en) = title(&r.kind);
        let mut detail = serde_json::from_str::<Value>(&r.detail)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let note = detail
            .as_object_mut()
            .and_then(|d| d.remove(NOTE_KEY))
            .filter(|n| !n.is_null());
        let resolution = (r.status == "resolved").then_some(Resolution {
            by: r.resolved_by,
            at: r.resolved_at,
            note,
        });
        ReviewItem {
            retourcodes: explained_codes(&r.retourcodes),
            id: r.id,
            kind: r.kind,
            title: Title { nl, en },
            status: r.status,
            participant_id: r.participant_id,
            subject_id: r.subject_id,
            detail,
            created_at: r.created_at,
            resolution,
        }
    }
}

/// What an item of each kind is about, for the person reading the queue.
pub fn title(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "rejected_prestatie" => (
            "Prestatie afgewezen in het declaratie-antwoord: corrigeer en declareer opnieuw, of boek af.",
            "Claim line rejected in the declaration answer: correct and claim again, or write off.",
        ),
        "rejected_message" => (
            "Bericht (deels) afgekeurd in het retourbericht: herstel en verstuur opnieuw.",
            "Message (partly) rejected in the retour: fix it and send it again.",
        ),
        "unmatched_answer" => (
            "Antwoord dat loket niet kon koppelen of verwerken: controleer het met de gemeente.",
            "Answer loket could not match or apply: check it with the municipality.",
        ),
        "rejected_request" => (
            "Verzoek afgewezen door de gemeente (319): lees de reden en dien zo nodig een nieuw of ander verzoek in.",
            "Request rejected by the municipality (319): read the reason and send a new or different request if needed.",
        ),
        "over_allocation" => (
            "Levering boven de toewijzing: vraag zo nodig een wijziging aan (317).",
            "Delivery beyond the allocation: request a change (317) if needed.",
        ),
        "not_sent" => (
            "Door loket tegengehouden: het bericht zou een regel van de standaard breken. Herstel de gegevens, dan gaat het mee in de volgende run.",
            "Held back by loket: the message would break a rule of the standard. Fix the data and the next run sends it.",
        ),
        "exchange_refused" => (
            "Geweigerd in de berichtenuitwisseling (VECOZO, de GGk of de landelijke controles): lees de meldingen, herstel de gegevens of de aansluiting en verstuur opnieuw.",
            "Refused by the exchange (VECOZO, the GGk or the national checks): read the notices, fix the data or the connection and send again.",
        ),
        "not_declarable" => (
            "Levering die niet gedeclareerd kan worden.",
            "Delivery that cannot be claimed.",
        ),
        _ => ("Te beoordelen.", "To review."),
    }
}

/// Retourcodes as stored (a JSON array) with their explanations.
pub fn explained_codes(stored: &str) -> Vec<Explained> {
    let codes: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
    codes.iter().map(|c| explain(c)).collect()
}

/// Which items to list.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter<'a> {
    pub kind: Option<&'a str>,
    /// open | resolved; `None`: both.
    pub status: Option<&'a str>,
    pub participant: Option<&'a str>,
}

impl Filter<'_> {
    const WHERE: &'static str = "tenant_id = $1 AND ($2 IS NULL OR kind = $2) \
        AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR participant_id = $4)";
}

/// The page of [`list`]: newest first whatever the filters
/// (`review_items_recent`).
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM review_items WHERE {} ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6",
        Filter::WHERE
    )
}

/// The tenant's items matching `f`, newest first, and how many match in all.
pub async fn list(
    pool: &AnyPool,
    tenant: &Tenant,
    f: Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ReviewItem>, i64)> {
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(list_sql()))
        .bind(&tenant.id)
        .bind(f.kind)
        .bind(f.status)
        .bind(f.participant)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM review_items WHERE {}",
        Filter::WHERE
    )))
    .bind(&tenant.id)
    .bind(f.kind)
    .bind(f.status)
    .bind(f.participant)
    .fetch_one(pool)
    .await?
    .try_get("n")?;
    Ok((rows.into_iter().map(ReviewItem::from).collect(), total))
}

/// One item of `tenant`.
///
/// `exec` is the pool, or the caller's open transaction: a handler that reads
/// the item inside its write transaction must not wait for a second pool
/// connection (under parallel requests every connection would be held by a
/// transaction waiting for another, until the acquire timeout).
pub async fn get<'e, E>(exec: E, tenant: &Tenant, id: &str) -> Result<Option<ReviewItem>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM review_items WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(&tenant.id)
    .fetch_optional(exec)
    .await?;
    Ok(row.map(ReviewItem::from))
}

/// A participant's open items, newest first.
pub async fn open_of(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
) -> Result<Vec<ReviewItem>> {
    let f = Filter {
        status: Some("open"),
        participant: Some(participant),
        kind: None,
    };
    Ok(list(pool, tenant, f, i64::MAX, 0).await?.0)
}

/// What [`resolve_in`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Done,
    NotFound,
    AlreadyResolved,
}

/// Marks an open item of `tenant` resolved, with who, when and the note, in
/// the caller's transaction: the API and the web app's close, resend and
/// bulk actions all resolve through here.
pub async fn resolve_in(
    w: &mut WriteTx,
    tenant: &str,
    id: &str,
    by: &str,
    note: Option<&str>,
) -> anyhow::Result<Resolved> {
    let Some(row) =
        sqlx::query("SELECT status, detail FROM review_items WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&mut *w.tx)
            .await?
    else {
        return Ok(Resolved::NotFound);
    };
    let status: String = row.try_get("status")?;
    if status != "open" {
        return Ok(Resolved::AlreadyResolved);
    }
    let mut detail = row
        .try_get::<String, _>("detail")
        .ok()
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    if let (Some(d), Some(n)) = (detail.as_object_mut(), note) {
        d.insert(NOTE_KEY.to_string(), json!(n));
    }
    // `status = 'open'` again: two people resolving at once, one wins.
    let done = sqlx::query(
        "UPDATE review_items SET status = 'resolved', resolved_at = $1, resolved_by = $2, detail = $3 \
         WHERE id = $4 AND tenant_id = $5 AND status = 'open'",
    )
    .bind(now())
    .bind(by)
    .bind(detail.to_string())
    .bind(id)
    .bind(tenant)
    .execute(&mut *w.tx)
    .await?;
    Ok(if done.rows_affected() == 1 {
        Resolved::Done
    } else {
        Resolved::AlreadyResolved
    })
}

/// The allocation a review item is about, as the item page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemAllocation {
    pub id: String,
    pub toewijzing_nummer: String,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub volume: Option<i64>,
    pub eenheid: Option<String>,
    pub frequentie: Option<String>,
    pub budget: Option<i64>,
    pub status: String,
}

/// One current registration behind a declared line.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRegistration {
    pub id: String,
    pub day: String,
    pub allocation_id: Option<String>,
    /// 1 present, 0 absent.
    pub present: i64,
    pub absence_reason: Option<String>,
    pub minutes: Option<i64>,
    pub dagdelen: Option<i64>,
    pub activity: Option<String>,
}

/// The answer message (a 325, a retour) an item came from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemMessage {
    pub id: String,
    pub bericht: Option<String>,
    pub sender: Option<String>,
    pub created_at: String,
}

/// Everything a person needs beside the item itself to judge it: who, on
/// which allocation, from what registrations, and the message that said no.
#[derive(Debug, Clone, Default)]
pub struct ItemContext {
    /// The participant's stored Naam (`Null` without a participant).
    pub naam: Value,
    pub allocation: Option<ItemAllocation>,
    /// Every current registration of the item's period for the participant
    /// that counts for the allocation (tied to it, or to none), by day.
    pub registrations: Vec<ItemRegistration>,
    pub answer: Option<ItemMessage>,
}

/// The allocation an item names: `allocation_id` in its detail, or its
/// subject for delivery beyond an allocation.
pub fn allocation_id(item: &ReviewItem) -> Option<&str> {
    item.detail["allocation_id"]
        .as_str()
        .or(if item.kind == "over_allocation" {
            item.subject_id.as_deref()
        } else {
            None
        })
}

/// The item's period as (begin, end) dates, when it has one.
pub fn period(item: &ReviewItem) -> Option<(String, Option<String>)> {
    match &item.detail["period"] {
        Value::String(p) => {
            let mut it = p.split('/');
            let begin = it.next()?.to_string();
            Some((begin, it.next().map(str::to_string)))
        }
        Value::Object(o) => Some((
            o.get("begin")?.as_str()?.to_string(),
            o.get("end").and_then(Value::as_str).map(str::to_string),
        )),
        _ => None,
    }
}

/// The context of `item` (see [`ItemContext`]); registrations only for an
/// item with a participant, an allocation and a closed period.
pub async fn context(pool: &AnyPool, tenant: &Tenant, item: &ReviewItem) -> Result<ItemContext> {
    let mut out = ItemContext::default();
    if let Some(p) = &item.participant_id {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT name_json FROM participants WHERE tenant_id = $1 AND id = $2")
                .bind(&tenant.id)
                .bind(p)
                .fetch_optional(pool)
                .await?;
        out.naam = row
            .and_then(|(n,)| serde_json::from_str(&n).ok())
            .unwrap_or(Value::Null);
    }
    if let Some(a) = allocation_id(item) {
        out.allocation = sqlx::query_as(
            "SELECT id, toewijzing_nummer, product_categorie, product_code, ingangsdatum, einddatum, \
             volume, eenheid, frequentie, budget, status FROM allocations WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tenant.id)
        .bind(a)
        .fetch_optional(pool)
        .await?;
    }
    if let (Some(p), Some(a), Some((begin, Some(end)))) =
        (&item.participant_id, &out.allocation, period(item))
    {
        out.registrations = sqlx::query_as(
            "SELECT id, day, allocation_id, present, absence_reason, minutes, dagdelen, activity \
             FROM registrations WHERE tenant_id = $1 AND participant_id = $2 AND superseded_by IS NULL \
             AND day >= $3 AND day <= $4 AND (allocation_id IS NULL OR allocation_id = $5) \
             ORDER BY day, allocation_id",
        )
        .bind(&tenant.id)
        .bind(p)
        .bind(&begin)
        .bind(&end)
        .bind(&a.id)
        .fetch_all(pool)
        .await?;
    }
    let answer = item.detail["answer_message_id"]
        .as_str()
        .or(item.detail["message_id"].as_str());
    if let Some(m) = answer {
        out.answer = sqlx::query_as(
            "SELECT id, bericht, sender, created_at FROM messages WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tenant.id)
        .bind(m)
        .fetch_optional(pool)
        .await?;
    }
    Ok(out)
}
