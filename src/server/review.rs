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

use super::AppState;
use super::routes::{ApiError, Body};
use crate::record::review::{self, Filter, Resolved, resolve_in};

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

/// `GET /review`: the tenant's items, newest first (`schemas/api/review-list.json`).
pub async fn list(
    State(state): State<AppState>,
    caller: super::access::Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = &caller.tenant;
    let Query(q) = query.map_err(bad_query)?;
    let status = match q.status.as_deref().unwrap_or("open") {
        "all" => None,
        s @ ("open" | "resolved") => Some(s),
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
    let filter = Filter {
        kind: q.kind.as_deref(),
        status,
        participant: q.participant.as_deref(),
    };
    let (items, total) = review::list(state.store().pool(), tenant, filter, limit, offset)
        .await
        .map_err(ApiError::internal)?;
    caller
        .log_view(
            &state,
            "GET /review",
            items.iter().map(|i| i.participant_id.as_deref()),
        )
        .await?;
    Ok(Json(json!({
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

/// `GET /review/{id}` (`schemas/api/review-item.json`).
pub async fn get_item(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
) -> Result<Json<review::ReviewItem>, ApiError> {
    let item = review::get(state.store().pool(), &caller.tenant, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    caller
        .log_view(
            &state,
            &format!("GET /review/{id}"),
            [item.participant_id.as_deref()],
        )
        .await?;
    Ok(Json(item))
}

/// `POST /review/{id}/resolve` with `schemas/api/review-resolve.json`:
/// marks the item resolved and answers it as it now is.
pub async fn resolve(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<review::ReviewItem>, ApiError> {
    let tenant = &caller.tenant;
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
    // An item about a participant: a change of its record (the item's
    // participant never changes, so it is read from the item as resolved).
    let participant = review::get(&mut *w.tx, tenant, &id)
        .await
        .map_err(ApiError::internal)?
        .and_then(|i| i.participant_id);
    if let Some(p) = participant {
        crate::record::access::record_in(
            &mut w,
            &tenant.id,
            &caller.actor,
            crate::record::access::Kind::Change,
            "POST /review/{id}/resolve",
            &[p],
        )
        .await
        .map_err(ApiError::internal)?;
    }
    w.commit().await.map_err(ApiError::internal)?;
    tracing::info!(kind = "review", "review item resolved");
    review::get(store.pool(), tenant, &id)
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}
