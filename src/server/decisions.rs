//! A municipality's decisions before the 325 leaves, over the API (the
//! page `/gemeente/declaraties` takes the same path,
//! [`crate::record::decisions`]):
//!
//! - `GET /declarations/received/{message_id}/decision`: the received 323's
//!   lines with their verdicts (codes explained), and its hold with every
//!   decision made.
//! - `POST /declarations/received/{message_id}/lines/{line_id}`
//!   (`declaration-decision.json`): approve or reject one line.
//! - `POST /declarations/received/{message_id}/release`: send the 325.
//!
//! 403 for a provider; 404 another tenant's or an unknown declaration; 409
//! when its 325 is not (or no longer) held; 422 a code that cannot reject a
//! prestatie, or a 325 that would break the standard.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::Caller;
use super::allocations::{input, only_municipalities};
use super::routes::{ApiError, Body};
use crate::adapter::istandaard::retourcodes::{Explained, explain};
use crate::record::decisions::{self, DecideError, Decision, Hold, Verdict};
use crate::record::declared::{self, JudgedLine};

/// A judged line with its codes explained.
#[derive(Debug, Serialize)]
pub struct Line {
    #[serde(flatten)]
    pub line: JudgedLine,
    pub explained: Vec<Explained>,
}

/// The answer of `GET .../decision`.
#[derive(Debug, Serialize)]
pub struct DecisionView {
    pub message_id: String,
    pub hold: Option<Hold>,
    pub lines: Vec<Line>,
}

fn refused(e: DecideError) -> ApiError {
    let (status, text) = match &e {
        DecideError::NotFound => return ApiError::not_found(),
        DecideError::NotHeld => (StatusCode::CONFLICT, e.to_string()),
        DecideError::BadCode(_) | DecideError::NoReason | DecideError::Invalid(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        DecideError::Store(_) => {
            let DecideError::Store(inner) = e else {
                unreachable!("matched above")
            };
            return ApiError::internal(inner);
        }
    };
    // The errors read "Dutch / English".
    let (nl, en) = text.split_once(" / ").unwrap_or((&text, &text));
    ApiError::new(status, nl.to_string(), en.to_string())
}

/// `GET /declarations/received/{message_id}/decision`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(message_id): Path<String>,
) -> Result<Json<DecisionView>, ApiError> {
    only_municipalities(caller.tenant.kind)?;
    let pool = state.store().pool();
    let tenant = &caller.tenant.id;
    let lines = declared::lines_of(pool, tenant, &message_id)
        .await
        .map_err(ApiError::internal)?;
    if lines.is_empty() {
        return Err(ApiError::not_found());
    }
    let hold = decisions::hold(pool, tenant, &message_id)
        .await
        .map_err(ApiError::internal)?;
    let shown: Vec<String> = lines
        .iter()
        .filter_map(|l| l.participant_id.clone())
        .collect();
    crate::record::access::record(
        state.store(),
        tenant,
        &caller.actor,
        crate::record::access::Kind::View,
        "GET /declarations/received/{message_id}/decision",
        &shown,
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(DecisionView {
        message_id,
        hold,
        lines: lines
            .into_iter()
            .map(|line| Line {
                explained: line.codes().iter().map(|c| explain(c)).collect(),
                line,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
struct DecisionInput {
    decision: String,
    retourcode: Option<String>,
    reason: String,
}

/// `POST /declarations/received/{message_id}/lines/{line_id}`.
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path((message_id, line_id)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Json<Decision>, ApiError> {
    only_municipalities(caller.tenant.kind)?;
    let i: DecisionInput = input("declaration-decision", &body)?;
    let verdict = match (i.decision.as_str(), i.retourcode) {
        ("reject", Some(code)) => Verdict::Reject(code),
        _ => Verdict::Approve,
    };
    decisions::decide(
        state.store(),
        &caller.tenant,
        &caller.actor,
        &message_id,
        &line_id,
        &verdict,
        &i.reason,
    )
    .await
    .map(Json)
    .map_err(refused)
}

/// `POST /declarations/received/{message_id}/release`.
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(message_id): Path<String>,
) -> Result<Json<Hold>, ApiError> {
    only_municipalities(caller.tenant.kind)?;
    let hold = decisions::release(state.store(), &caller.tenant, &caller.actor, &message_id)
        .await
        .map_err(refused)?;
    state.outbox.wake();
    Ok(Json(hold))
}
