//! A participant's outcomes over HTTP: measurements, goals and evaluations
//! (`/participants/{id}/measurements`, `/goals`, `/evaluations`).
//!
//! Outcome data are special personal data. An API token is the provider's
//! own system, so it reads and writes every participant of its tenant; a
//! municipality's token gets 403 whatever the participant, since a
//! municipality never sees a provider's outcome data. Every read is logged
//! as a view before the data leave, every write as a change in the write's
//! own transaction. The checks of what was sent against the instrument live
//! in [`crate::record::outcomes`], shared with the web app's form.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::access::Caller;
use super::routes::{ApiError, Body};
use crate::record::access::{self, Kind};
use crate::record::outcomes::{
    self, GoalProgress, NewEvaluation, NewGoal, NewMeasurement, NewScore, OutcomeError, Progress,
};
use crate::store::TenantKind;

/// 403 for a municipality: outcome data stay with the provider.
fn provider_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.tenant.kind == TenantKind::Aanbieder {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "een gemeente ziet geen ontwikkelgegevens van deelnemers",
            "a municipality does not see participants' outcome data",
        ))
    }
}

/// The participant must be the tenant's (404 otherwise, never 403: another
/// tenant's ids are not confirmed).
async fn own(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    provider_only(caller)?;
    let exists = crate::record::read::participant_exists(state.store().pool(), &caller.tenant, id)
        .await
        .map_err(ApiError::internal)?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// A read of one participant's outcome data: the participant must be the
/// tenant's, and the view is logged before anything is read or sent.
async fn viewed(state: &AppState, caller: &Caller, id: &str, object: &str) -> Result<(), ApiError> {
    own(state, caller, id).await?;
    caller
        .log(state, Kind::View, object, &[id.to_string()])
        .await
}

/// What an outcome write refused, as every outcome call answers it (the
/// measurements, goals and evaluations here, milestones in
/// [`super::results`]): 422 for what the instrument or the record does not
/// take, with nothing stored.
impl From<OutcomeError> for ApiError {
    fn from(e: OutcomeError) -> Self {
        match e {
            OutcomeError::Invalid { nl, en } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, nl, en)
            }
            OutcomeError::NotFound => ApiError::not_found(),
            OutcomeError::Store(e) => ApiError::internal(e),
        }
    }
}

fn date(field: &str, s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{field} is geen bestaande datum (JJJJ-MM-DD)"),
            format!("{field} is not a valid date (YYYY-MM-DD)"),
        )
        .with_paths(vec![format!("/{field}")])
    })
}

/// A body the schema accepted but serde did not: serde's message may quote
/// a value, so only the schema's name goes back.
fn unreadable() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "de invoer voldoet niet aan het schema",
        "the input does not match the schema",
    )
}

#[derive(Deserialize)]
struct ScoreIn {
    domain: String,
    score: i64,
    note: Option<String>,
}

impl From<ScoreIn> for NewScore {
    fn from(s: ScoreIn) -> Self {
        NewScore {
            domain: s.domain,
            score: s.score,
            note: s.note,
        }
    }
}

#[derive(Deserialize)]
struct MeasurementIn {
    instrument: String,
    measured_on: String,
    scores: Vec<ScoreIn>,
    supersedes: Option<String>,
}

/// Logs the change in the write's transaction and commits both: the
/// change and its entry, or neither.
pub(super) async fn commit_change(
    mut w: crate::store::WriteTx,
    caller: &Caller,
    id: &str,
    object: &str,
) -> Result<(), ApiError> {
    access::record_in(
        &mut w,
        &caller.tenant.id,
        &caller.actor,
        Kind::Change,
        object,
        &[id.to_string()],
    )
    .await
    .map_err(ApiError::internal)?;
    w.commit().await.map_err(ApiError::internal)
}

pub(super) async fn begin(state: &AppState) -> Result<crate::store::WriteTx, ApiError> {
    state
        .store()
        .begin_write()
        .await
        .map_err(ApiError::internal)
}

fn created(id: String) -> Response {
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

/// `POST /participants/{id}/measurements` (`schemas/api/measurement.json`):
/// 201 `{id}`; 422 with nothing stored when a domain, score or date is not
/// the instrument's.
pub async fn post_measurement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    own(&state, &caller, &id).await?;
    let value = super::input::parse_body("measurement", &body)?;
    let m: MeasurementIn = serde_json::from_value(value).map_err(|_| unreadable())?;
    let new = NewMeasurement {
        participant_id: id.clone(),
        instrument: m.instrument,
        measured_on: date("measured_on", &m.measured_on)?,
        scores: m.scores.into_iter().map(NewScore::from).collect(),
        supersedes: m.supersedes,
    };
    let mut w = begin(&state).await?;
    let new_id = outcomes::add_measurement(
        &mut w,
        &caller.tenant.id,
        &state.instruments,
        &caller.actor,
        &new,
        None,
    )
    .await?;
    commit_change(w, &caller, &id, "POST /participants/{id}/measurements").await?;
    Ok(created(new_id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentQuery {
    instrument: Option<String>,
}

fn measurement_json(m: &outcomes::Measurement) -> Value {
    json!({
        "id": m.row.id,
        "instrument": m.row.instrument,
        "instrument_version": m.row.instrument_version,
        "measured_on": m.row.measured_on,
        "scored_by": m.row.scored_by,
        "scored_by_name": m.row.scored_by_name,
        "evaluation_id": m.row.evaluation_id,
        "scores": m.scores.iter().map(|s| json!({
            "domain": s.domain, "score": s.score, "note": s.note,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /participants/{id}/measurements[?instrument=]`
/// (`schemas/api/measurement-list.json`): the current measurements, oldest
/// first, logged as a view.
pub async fn list_measurements(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<InstrumentQuery>,
) -> Result<Json<Value>, ApiError> {
    viewed(&state, &caller, &id, "GET /participants/{id}/measurements").await?;
    let found = outcomes::measurements_of(state.store().pool(), &caller.tenant.id, &id)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<Value> = found
        .iter()
        .filter(|m| {
            q.instrument
                .as_deref()
                .is_none_or(|i| m.row.instrument == i)
        })
        .map(measurement_json)
        .collect();
    Ok(Json(json!({ "measurements": items })))
}

#[derive(Deserialize)]
struct DomainIn {
    instrument: String,
    domain: String,
}

#[derive(Deserialize)]
struct GoalIn {
    text: String,
    agreed_on: String,
    domains: Vec<DomainIn>,
}

/// `POST /participants/{id}/goals` (`schemas/api/goal.json`): 201 `{id}`.
pub async fn post_goal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    own(&state, &caller, &id).await?;
    let value = super::input::parse_body("goal", &body)?;
    let g: GoalIn = serde_json::from_value(value).map_err(|_| unreadable())?;
    let goal = NewGoal {
        participant_id: id.clone(),
        text: g.text,
        agreed_on: date("agreed_on", &g.agreed_on)?,
        domains: g
            .domains
            .into_iter()
            .map(|d| (d.instrument, d.domain))
            .collect(),
    };
    let mut w = begin(&state).await?;
    let new_id = outcomes::add_goal(
        &mut w,
        &caller.tenant.id,
        &state.instruments,
        &caller.actor,
        &goal,
    )
    .await?;
    commit_change(w, &caller, &id, "POST /participants/{id}/goals").await?;
    Ok(created(new_id))
}

/// `GET /participants/{id}/goals` (`schemas/api/goal-list.json`).
pub async fn list_goals(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    viewed(&state, &caller, &id, "GET /participants/{id}/goals").await?;
    let goals = outcomes::goals_of(state.store().pool(), &caller.tenant.id, &id)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<Value> = goals
        .iter()
        .map(|g| {
            json!({
                "id": g.row.id,
                "text": g.row.text,
                "agreed_on": g.row.agreed_on,
                "status": g.row.status,
                "closed_on": g.row.closed_on,
                "domains": g.domains.iter().map(|(i, d)| json!({"instrument": i, "domain": d})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "goals": items })))
}

#[derive(Deserialize)]
struct TakenIn {
    instrument: String,
    scores: Vec<ScoreIn>,
}

#[derive(Deserialize)]
struct ProgressIn {
    goal_id: String,
    progress: String,
    note: Option<String>,
}

#[derive(Deserialize)]
struct EvaluationIn {
    held_on: String,
    period_from: String,
    period_to: String,
    next_step: String,
    satisfaction: Option<i64>,
    #[serde(default)]
    measurements: Vec<TakenIn>,
    #[serde(default)]
    progress: Vec<ProgressIn>,
}

/// `POST /participants/{id}/evaluations` (`schemas/api/evaluation.json`):
/// the evaluation, its measurements and the progress on its goals in one
/// transaction; 201 `{id}`, or 422 with nothing stored.
pub async fn post_evaluation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    own(&state, &caller, &id).await?;
    let value = super::input::parse_body("evaluation", &body)?;
    let e: EvaluationIn = serde_json::from_value(value).map_err(|_| unreadable())?;
    let held_on = date("held_on", &e.held_on)?;
    let mut progress = Vec::with_capacity(e.progress.len());
    for p in e.progress {
        // The schema names the values; this only maps them.
        let Some(level) = Progress::parse(&p.progress) else {
            return Err(unreadable());
        };
        progress.push(GoalProgress {
            goal_id: p.goal_id,
            progress: level,
            note: p.note,
        });
    }
    let evaluation = NewEvaluation {
        participant_id: id.clone(),
        held_on,
        period_from: date("period_from", &e.period_from)?,
        period_to: date("period_to", &e.period_to)?,
        next_step: e.next_step,
        satisfaction: e.satisfaction,
        measurements: e
            .measurements
            .into_iter()
            .map(|m| NewMeasurement {
                participant_id: id.clone(),
                instrument: m.instrument,
                measured_on: held_on,
                scores: m.scores.into_iter().map(NewScore::from).collect(),
                supersedes: None,
            })
            .collect(),
        progress,
    };
    let mut w = begin(&state).await?;
    let new_id = outcomes::add_evaluation(
        &mut w,
        &caller.tenant.id,
        &state.instruments,
        &caller.actor,
        &evaluation,
    )
    .await?;
    commit_change(w, &caller, &id, "POST /participants/{id}/evaluations").await?;
    Ok(created(new_id))
}

/// `GET /participants/{id}/evaluations` (`schemas/api/evaluation-list.json`):
/// newest first.
pub async fn list_evaluations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    viewed(&state, &caller, &id, "GET /participants/{id}/evaluations").await?;
    let found = outcomes::evaluations_of(state.store().pool(), &caller.tenant.id, &id)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<Value> = found
        .iter()
        .map(|e| {
            json!({
                "id": e.row.id,
                "held_on": e.row.held_on,
                "period_from": e.row.period_from,
                "period_to": e.row.period_to,
                "next_step": e.row.next_step,
                "satisfaction": e.row.satisfaction,
                "written_by": e.row.written_by,
                "written_by_name": e.row.written_by_name,
                "progress": e.progress.iter().map(|p| json!({
                    "goal_id": p.goal_id, "progress": p.progress, "note": p.note,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "evaluations": items })))
}
