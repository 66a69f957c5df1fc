//! `POST /participants/{id}/milestones`: a milestone a participant reached,
//! recorded from the provider's own system. Milestones are outcome data:
//! only a provider's token records them, only for its own participants, and
//! the write and its access-log entry commit together.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::routes::{ApiError, Body};
use crate::record::results::{NewMilestone, add_milestone};

/// `POST /participants/{id}/milestones` (`schemas/api/milestone.json`).
pub async fn post_milestone(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Response {
    if let Err(e) = super::declarations::only_providers(caller.tenant.kind) {
        return e.into_response();
    }
    let value = match super::input::parse_body("milestone", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let date = match super::declarations::date_field(&value) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let m = NewMilestone {
        participant_id: id.clone(),
        kind: value["kind"].as_str().unwrap_or_default().to_string(),
        reached_on: date,
        note: value["note"].as_str().map(str::to_string),
    };
    let stored = async {
        let mut w = super::outcomes::begin(&state).await?;
        let milestone = add_milestone(&mut w, &caller.tenant.id, &caller.actor, &m).await?;
        super::outcomes::commit_change(w, &caller, &id, "POST /participants/{id}/milestones")
            .await?;
        Ok::<_, ApiError>(milestone)
    };
    match stored.await {
        Ok(milestone) => (
            StatusCode::CREATED,
            Json(json!({
                "id": milestone,
                "participant_id": id,
                "kind": m.kind,
                "date": date.to_string(),
            })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
