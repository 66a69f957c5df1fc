//! `GET /deadlines` (`schemas/api/deadlines.json`): the tenant's open answer
//! deadlines of the standard, computed by [`crate::record::deadlines`]; this
//! file only maps HTTP. The list names participants by id, so it is logged
//! as a view of each.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::access::Caller;
use super::routes::ApiError;
use crate::record::deadlines::{self, Deadlines};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the items past their due date.
    overdue: Option<bool>,
    /// The reference date (`YYYY-MM-DD`); today when absent.
    date: Option<String>,
}

/// `GET /deadlines?overdue=&date=`: most overdue first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Deadlines>, ApiError> {
    let bad = |detail: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ongeldige zoekparameters (overdue=true|false, date=JJJJ-MM-DD)",
            format!("invalid query parameters (overdue=true|false, date=YYYY-MM-DD): {detail}"),
        )
    };
    let Query(q) = query.map_err(|e| bad(e.to_string()))?;
    let today = match q.date.as_deref() {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| bad(e.to_string()))?,
        None => crate::registration::today(),
    };
    let mappings = state.mappings.for_tenant(&caller.tenant.id);
    let mut list = deadlines::list(state.store().pool(), &caller.tenant, mappings, today)
        .await
        .map_err(ApiError::internal)?;
    if q.overdue == Some(true) {
        list.items.retain(|d| d.overdue);
    }
    caller
        .log_view(
            &state,
            "GET /deadlines",
            list.items.iter().map(|d| d.participant_id.as_deref()),
        )
        .await?;
    Ok(Json(list))
}
