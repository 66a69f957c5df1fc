//! `POST /requests`, `GET /requests`, `GET /requests/{id}`: requests to a
//! municipality (verzoek om toewijzing 315, verzoek om wijziging 317)
//! composed by loket, and what became of them. Composing, the answers and
//! the reads live in [`crate::record::requests`]; this file only maps HTTP.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::routes::{ApiError, Body};
use crate::record::requests::{self, Filter, Outcome, RequestInput, STATUSES};
use crate::registration::today;

/// `POST /requests` (`schemas/api/request.json`): composes, checks and
/// queues a 315 or 317. 201 with its requests (`request-list.json`, plus
/// the message id); 400 the body does not match the schema (with the JSON
/// paths); 422 the input does not make a request (unknown financier or
/// allocation, a BSN failing the elfproef: with the path) or the message
/// breaks a rule of the standard (every finding in Dutch and English;
/// nothing stored); 404 an unknown participant id.
pub async fn post(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Body(body): Body,
) -> Response {
    let tenant = &caller.tenant;
    if let Err(e) = super::declarations::only_providers(tenant.kind) {
        return e.into_response();
    }
    let v = match super::input::parse_body("request", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // The schema has checked the shape, so this only fails on a schema
    // that drifted from `RequestInput`: say so instead of guessing.
    let input: RequestInput = match serde_json::from_value(v) {
        Ok(i) => i,
        Err(e) => return ApiError::internal(anyhow::Error::from(e)).into_response(),
    };
    let mappings = state.mappings.for_tenant(&tenant.id);
    // The request and its access log entry commit together.
    let outcome = async {
        let mut w = state.store().begin_write().await?;
        let outcome = requests::compose_in(
            &mut w,
            state.ingest.schema,
            mappings,
            &tenant.id,
            &input,
            today(),
        )
        .await?;
        if let Outcome::Created(c) = &outcome {
            crate::record::access::record_in(
                &mut w,
                &tenant.id,
                &caller.actor,
                crate::record::access::Kind::Change,
                &format!("POST /requests {}", c.message_id),
                std::slice::from_ref(&c.participant_id),
            )
            .await?;
            w.commit().await?;
        }
        Ok::<_, anyhow::Error>(outcome)
    }
    .await;
    let created = match outcome {
        Ok(Outcome::Created(c)) => c,
        Ok(Outcome::Refused(r)) => {
            return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.nl, r.en)
                .with_paths(vec![r.path])
                .into_response();
        }
        Ok(Outcome::Findings(findings)) => {
            return super::outbox::findings_response(&findings);
        }
        Ok(Outcome::NotFound) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    state.outbox.wake();
    let filter = Filter {
        message: Some(&created.message_id),
        limit: 1000,
        ..Filter::default()
    };
    let items = match requests::list(state.store().pool(), &tenant.id, &filter).await {
        Ok(rows) => rows.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let location = format!(
        "/requests/{}",
        created.request_ids.first().map_or("", String::as_str)
    );
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({
            "message_id": created.message_id,
            "bericht": created.bericht,
            "participant_id": created.participant_id,
            "items": items,
        })),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// sent | answered | accepted | rejected | honoured
    status: Option<String>,
    /// loket's participant id (a BSN does not belong in a URL).
    participant: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /requests?status=&participant=&limit=&offset=`
/// (`schemas/api/request-list.json`): newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: super::access::Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = &caller.tenant;
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ongeldige zoekparameters (status, participant, limit, offset)",
            format!("invalid query parameters (status, participant, limit, offset): {e}"),
        )
    })?;
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("onbekende status; kies uit {}", STATUSES.join(", ")),
            format!("unknown status; use one of {}", STATUSES.join(", ")),
        ));
    }
    let filter = Filter {
        status: q.status.as_deref(),
        participant: q.participant.as_deref(),
        message: None,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let rows = requests::list(state.store().pool(), &tenant.id, &filter)
        .await
        .map_err(ApiError::internal)?;
    caller
        .log_view(
            &state,
            "GET /requests",
            rows.iter().map(|r| r.participant_id.as_deref()),
        )
        .await?;
    Ok(Json(json!({
        "items": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "limit": filter.limit,
        "offset": filter.offset,
    })))
}

/// `GET /requests/{id}` (`schemas/api/request-item.json`); another tenant's
/// request is 404.
pub async fn get(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = requests::get(state.store().pool(), &caller.tenant.id, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    caller
        .log_view(
            &state,
            &format!("GET /requests/{id}"),
            [row.participant_id.as_deref()],
        )
        .await?;
    Ok(Json(row.to_json()))
}
