//! The review queue: what a person has to look at (a prestatie the
//! municipality rejected, a start or request it refused, an answer loket
//! could not place). Items are written while messages are applied
//! ([`crate::record::answers`], later the declaration engine); here they are
//! listed, shown and resolved.
//!
//! - `GET /review?kind=&status=&participant=&limit=&offset=`: the tenant's
//!   items, newest first; `status` is `open` (default), `resolved` or `all`.
//! - `GET /review/{id}`: one item.
//! - `POST /review/{id}/resolve` with `{"resolved_by": "...", "note": "..."}`:
//!   marks it resolved, with who and when (409 when it already is).
//!
//! Every retourcode is shown with its explanation in Dutch and English, since
//! the person reading the queue is not expected to know the WJ001 list. An
//! item of another tenant is 404, like every other object of the API.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::AppState;
use super::routes::{ApiError, Auth, Body};
use crate::adapter::istandaard::retourcodes::explain;
use crate::store::{Tenant, WriteTx, now};

/// Where the resolution note is kept inside `detail` (the table has no
/// column for it; the key is taken out again when an item is shown).
const NOTE_KEY: &str = "resolution_note";

pub(crate) const COLUMNS: &str = "id, participant_id, kind, subject_id, retourcodes, detail, status, created_at, resolved_at, resolved_by";

/// What an item of each kind is about, for the person reading the queue.
pub(crate) fn title(kind: &str) -> (&'static str, &'static str) {
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
        "not_declarable" => (
            "Levering die niet gedeclareerd kan worden.",
            "Delivery that cannot be claimed.",
        ),
        _ => ("Te beoordelen.", "To review."),
    }
}

/// Retourcodes as stored (a JSON array) with their explanations.
pub fn explained_codes(stored: &str) -> Value {
    let codes: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
    json!(codes.iter().map(|c| explain(c)).collect::<Vec<_>>())
}

/// One item as the API shows it (`schemas/api/review-item.json`).
pub(crate) fn item_json(r: &AnyRow) -> Value {
    let s = |c: &str| r.try_get::<Option<String>, _>(c).ok().flatten();
    let kind = s("kind").unwrap_or_default();
    let (nl, en) = title(&kind);
    let mut detail = s("detail")
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let note = detail
        .as_object_mut()
        .and_then(|d| d.remove(NOTE_KEY))
        .filter(|n| !n.is_null());
    let status = s("status").unwrap_or_default();
    let resolution = if status == "resolved" {
        json!({"by": s("resolved_by"), "at": s("resolved_at"), "note": note})
    } else {
        Value::Null
    };
    json!({
        "id": s("id"),
        "kind": kind,
        "title": {"nl": nl, "en": en},
        "status": status,
        "participant_id": s("participant_id"),
        "subject_id": s("subject_id"),
        "retourcodes": explained_codes(&s("retourcodes").unwrap_or_default()),
        "detail": detail,
        "created_at": s("created_at"),
        "resolution": resolution,
    })
}

fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("ongeldige zoekparameters: {e}"),
        format!("invalid query parameters: {e}"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// rejected_prestatie | rejected_message | unmatched_answer | ...
    kind: Option<String>,
    /// open (default) | resolved | all
    status: Option<String>,
    /// Only this participant (its id; a BSN does not belong in a URL).
    participant: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The list filter, bound as $1..$4 of [`Filter::WHERE`].
struct Filter<'a> {
    tenant: &'a str,
    kind: Option<&'a str>,
    status: Option<&'a str>,
    participant: Option<&'a str>,
}

impl<'a> Filter<'a> {
    const WHERE: &'static str = "tenant_id = $1 AND ($2 IS NULL OR kind = $2) \
        AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR participant_id = $4)";

    fn query(&self, sql: &str) -> sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments> {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(self.tenant)
            .bind(self.kind)
            .bind(self.status)
            .bind(self.participant)
    }
}

/// `GET /review`: the tenant's items, newest first (`schemas/api/review-list.json`).
pub async fn list(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let status = match q.status.as_deref().unwrap_or("open") {
        "all" => None,
        s @ ("open" | "resolved") => Some(s.to_string()),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "status moet open, resolved of all zijn",
                "status must be open, resolved or all",
            )
            .with_paths(vec!["status".to_string()]));
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let offset = q.offset.unwrap_or(0).max(0);
    let pool = state.store().pool();
    let filter = Filter {
        tenant: &tenant.id,
        kind: q.kind.as_deref(),
        status: status.as_deref(),
        participant: q.participant.as_deref(),
    };
    let rows = filter
        .query(&format!(
            "SELECT {COLUMNS} FROM review_items WHERE {} ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6",
            Filter::WHERE
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    let total: i64 = filter
        .query(&format!(
            "SELECT COUNT(*) AS n FROM review_items WHERE {}",
            Filter::WHERE
        ))
        .fetch_one(pool)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(|e| ApiError::internal(e.into()))?;
    Ok(Json(json!({
        "items": rows.iter().map(item_json).collect::<Vec<_>>(),
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

async fn fetch(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<AnyRow>, ApiError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM review_items WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(&tenant.id)
    .fetch_optional(pool)
    .await
    .map_err(|e| ApiError::internal(e.into()))
}

/// `GET /review/{id}` (`schemas/api/review-item.json`).
pub async fn get_item(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = fetch(state.store().pool(), &tenant, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(item_json(&row)))
}

/// `POST /review/{id}/resolve` with `schemas/api/review-resolve.json`:
/// marks the item resolved and answers it as it now is.
pub async fn resolve(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let input = super::input::parse_body("review-resolve", &body)?;
    let by = input
        .get("resolved_by")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    let note = input
        .get("note")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let store = state.store();
    let mut w = store.begin_write().await.map_err(ApiError::internal)?;
    match resolve_in(&mut w, &tenant.id, &id, &by, note.as_deref())
        .await
        .map_err(ApiError::internal)?
    {
        Resolved::Done => {}
        Resolved::NotFound => return Err(ApiError::not_found()),
        Resolved::AlreadyResolved => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "dit item is al afgehandeld",
                "this item is already resolved",
            ));
        }
    }
    w.commit().await.map_err(ApiError::internal)?;
    tracing::info!(kind = "review", "review item resolved");
    let row = fetch(store.pool(), &tenant, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(item_json(&row)))
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

/// The participant record's open review items.
pub async fn open_items_of(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
) -> anyhow::Result<Vec<Value>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM review_items WHERE tenant_id = $1 AND participant_id = $2 AND status = 'open' \
         ORDER BY created_at DESC, id DESC"
    )))
    .bind(&tenant.id)
    .bind(participant)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(item_json).collect())
}

/// The participant record's declared prestaties, newest period first, each
/// with its status and (when rejected) the explained retourcodes.
pub async fn prestaties_of(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
) -> anyhow::Result<Vec<Value>> {
    prestaties_where(pool, tenant, Prestaties::OfParticipant(participant)).await
}

/// Whose prestaties to list.
pub enum Prestaties<'a> {
    OfParticipant(&'a str),
    InDeclaration(&'a str),
}

/// Prestaties of a participant (the record) or of a declaration
/// (`GET /declarations/{id}`), in one JSON shape.
pub async fn prestaties_where(
    pool: &AnyPool,
    tenant: &Tenant,
    which: Prestaties<'_>,
) -> anyhow::Result<Vec<Value>> {
    let (filter, key) = match which {
        Prestaties::OfParticipant(p) => ("p.participant_id", p),
        Prestaties::InDeclaration(d) => ("p.declaration_id", d),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT p.id, p.declaration_id, d.declaratie_nummer, p.referentie_nummer, p.vorig_referentie_nummer, \
         p.participant_id, p.allocation_id, p.toewijzing_nummer, p.product_categorie, p.product_code, p.period_begin, \
         p.period_end, p.volume, p.eenheid, p.tarief_cents, p.bedrag_cents, p.debet_credit, p.status, p.retourcodes, \
         p.credited_by, p.answered_at \
         FROM prestaties p JOIN declarations d ON d.id = p.declaration_id \
         WHERE p.tenant_id = $1 AND {filter} = $2 ORDER BY p.period_begin DESC, p.participant_id, p.referentie_nummer"
    )))
    .bind(&tenant.id)
    .bind(key)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let s = |c: &str| r.try_get::<Option<String>, _>(c).ok().flatten();
            let i = |c: &str| r.try_get::<Option<i64>, _>(c).ok().flatten();
            json!({
                "id": s("id"),
                "declaration_id": s("declaration_id"),
                "declaratie_nummer": s("declaratie_nummer"),
                "referentie_nummer": s("referentie_nummer"),
                "vorig_referentie_nummer": s("vorig_referentie_nummer"),
                "participant_id": s("participant_id"),
                "allocation_id": s("allocation_id"),
                "toewijzing_nummer": s("toewijzing_nummer"),
                "product": {"categorie": s("product_categorie"), "code": s("product_code")},
                "period": {"begin": s("period_begin"), "end": s("period_end")},
                "volume": i("volume"),
                "eenheid": s("eenheid"),
                "tarief_cents": i("tarief_cents"),
                "bedrag_cents": i("bedrag_cents"),
                "debet_credit": s("debet_credit"),
                "status": s("status"),
                "retourcodes": explained_codes(&s("retourcodes").unwrap_or_default()),
                "credited_by": s("credited_by"),
                "answered_at": s("answered_at"),
            })
        })
        .collect())
}
