//! A municipality's allocations over HTTP: `POST /allocations` (as a
//! municipality; a provider's UWV orders take the same path, see
//! [`super::invoices::post_allocation`]) and `POST /allocations/{id}/change`.
//! Composing, checking, sending and recording live in
//! [`crate::record::grant`]; this file only maps HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::AppState;
use super::access::Caller;
use super::routes::{ApiError, Body};
use crate::record::grant::{self, Action, ChangeInput, GrantInput, Outcome};
use crate::registration::today;
use crate::store::TenantKind;

/// Only a municipality grants allocations and answers requests: 403 for a
/// provider.
pub(crate) fn only_municipalities(kind: TenantKind) -> Result<(), ApiError> {
    match kind {
        TenantKind::Gemeente => Ok(()),
        TenantKind::Aanbieder => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "alleen een gemeente wijst toe en beantwoordt verzoeken",
            "only a municipality grants allocations and answers requests",
        )),
    }
}

/// The body checked against schema `name`, as `T`. The schema has checked
/// the shape, so the conversion only fails on a schema that drifted from
/// `T`: an internal error, not a guess.
pub(crate) fn input<T: DeserializeOwned>(name: &str, body: &[u8]) -> Result<T, ApiError> {
    let v = super::input::parse_body(name, body)?;
    serde_json::from_value(v).map_err(|e| ApiError::internal(anyhow::Error::from(e)))
}

/// The HTTP answer of a composed message: 201 with `grant-result.json`;
/// 422 with the field at fault or every finding (nothing stored); 404.
pub(crate) fn answer(state: &AppState, outcome: anyhow::Result<Outcome>) -> Response {
    match outcome {
        Ok(Outcome::Sent(s)) => {
            state.outbox.wake();
            let location = s.allocations.first().map_or_else(
                || format!("/messages/{}", s.message_id),
                |a| format!("/participants/{}", a.participant_id),
            );
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(json!({
                    "message_id": s.message_id,
                    "bericht": s.bericht,
                    "participant_id": s.participant_id,
                    "allocations": s.allocations.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
                })),
            )
                .into_response()
        }
        Ok(Outcome::Refused(r)) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.nl, r.en)
            .with_paths(vec![r.path])
            .into_response(),
        Ok(Outcome::Findings(f)) => super::outbox::findings_response(&f),
        Ok(Outcome::NotFound) => ApiError::not_found().into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// `POST /allocations` from a municipality (`schemas/api/grant.json`): new
/// allocations at one provider, sent as a 301.
pub async fn grant(state: &AppState, caller: &Caller, body: &[u8]) -> Response {
    let input: GrantInput = match input("grant", body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    perform(state, caller, Action::Grant(&input)).await
}

/// Performs what a municipality asked for and answers it over HTTP.
async fn perform(state: &AppState, caller: &Caller, action: Action<'_>) -> Response {
    let tenant = &caller.tenant;
    let mappings = state.mappings.for_tenant(&tenant.id);
    let outcome = grant::perform(
        state.store(),
        state.ingest.schema,
        mappings,
        tenant,
        action,
        today(),
        &caller.actor,
    )
    .await;
    answer(state, outcome)
}

/// `POST /allocations/{id}/change` (`schemas/api/allocation-change.json`):
/// extend, shorten, end or withdraw one of the municipality's allocations.
/// 403 for a provider (its allocations change when its municipality says
/// so); another tenant's allocation is 404.
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Response {
    let tenant = &caller.tenant;
    if let Err(e) = only_municipalities(tenant.kind) {
        return e.into_response();
    }
    let input: ChangeInput = match input("allocation-change", &body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    perform(&state, &caller, Action::Change(&id, &input)).await
}

/// `POST /requests/{id}/answer` (`schemas/api/request-answer.json`): a
/// municipality honours a request it received with a 301, or answers it
/// with a 319 (rejected with a WJ759 reason, or in onderzoek). 201 with
/// `grant-result.json`; 403 for a provider; another tenant's request, or
/// one this tenant sent, is 404.
pub async fn answer_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Response {
    let tenant = &caller.tenant;
    if let Err(e) = only_municipalities(tenant.kind) {
        return e.into_response();
    }
    let input: grant::AnswerInput = match input("request-answer", &body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    perform(&state, &caller, Action::Answer(&id, &input)).await
}
