//! `POST /registrations` and `GET /registrations`: the daily registration
//! input over HTTP. Validation and storage live in [`crate::registration`],
//! shared with the CSV import.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::routes::{ApiError, Body};
use crate::registration::{self, BatchInput, Filter, Item, Mode};

fn internal(e: &anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "internal error");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "interne fout; er is niets opgeslagen",
        "internal error; nothing was stored",
    )
}

/// `POST /registrations`: a batch of registrations
/// (`schemas/api/registrations.json`), answered per item
/// (`schemas/api/registrations-result.json`): 200 stored, 422 nothing stored
/// because an item was wrong, 400 the body does not match the schema.
pub async fn post_registrations(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Body(body): Body,
) -> Response {
    let tenant = &caller.tenant;
    let value = match super::input::parse_body("registrations", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let batch: BatchInput = match serde_json::from_value(value) {
        Ok(b) => b,
        Err(_) => {
            // The schema let it through, serde did not (2.0 as dagdelen, ...).
            // serde's message may quote a value, so it is not passed on.
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "de invoer voldoet niet aan het schema",
                "the input does not match the schema",
            )
            .with_paths(vec!["/registrations".to_string()])
            .into_response();
        }
    };
    let mode = if batch.valid_only {
        Mode::ValidOnly
    } else {
        Mode::AllOrNothing
    };
    let items: Vec<Item> = batch
        .registrations
        .into_iter()
        .enumerate()
        .map(|(i, r)| Item {
            input: Ok(r),
            source: "api".to_string(),
            label: format!("/registrations/{i}"),
        })
        .collect();
    let outcome = match registration::register(
        state.store(),
        &tenant.id,
        items,
        &batch.registered_by,
        mode,
        registration::today(),
        None,
        Some(&caller.actor),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return internal(&e).into_response(),
    };
    let c = outcome.counts();
    tracing::info!(
        received = c.received,
        created = c.created,
        corrected = c.corrected,
        unchanged = c.unchanged,
        invalid = c.invalid,
        not_found = c.not_found,
        stored = outcome.stored,
        "registrations"
    );
    let status = if outcome.stored {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(outcome.to_api_json())).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this participant (its id; a BSN does not belong in a URL).
    participant: Option<String>,
    /// First day, YYYY-MM-DD.
    from: Option<String>,
    /// Last day, YYYY-MM-DD.
    to: Option<String>,
    /// Include the earlier versions.
    history: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /registrations?participant=&from=&to=&history=&limit=&offset=`:
/// current registrations (`schemas/api/registration-list.json`).
pub async fn list_registrations(
    State(state): State<AppState>,
    caller: super::access::Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenant = &caller.tenant;
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("ongeldige zoekparameters: {e}"),
            format!("invalid query parameters: {e}"),
        )
    })?;
    let date = |name: &str, v: &Option<String>| -> Result<Option<NaiveDate>, ApiError> {
        v.as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("{name} is geen datum (JJJJ-MM-DD)"),
                        format!("{name} is not a date (YYYY-MM-DD)"),
                    )
                })
            })
            .transpose()
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let offset = q.offset.unwrap_or(0).max(0);
    let filter = Filter {
        participant_id: q.participant,
        from: date("from", &q.from)?,
        to: date("to", &q.to)?,
        history: q.history.unwrap_or(false),
        limit,
        offset,
    };
    let found = registration::list(state.store(), &tenant.id, &filter)
        .await
        .map_err(|e| internal(&e))?;
    caller
        .log_view(
            &state,
            "GET /registrations",
            found.iter().map(|r| Some(r.participant_id.as_str())),
        )
        .await?;
    Ok(Json(
        json!({"registrations": found, "limit": limit, "offset": offset}),
    ))
}
