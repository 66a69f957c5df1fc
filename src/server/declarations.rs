//! `POST /declarations/run`, `GET /declarations`, `GET /declarations/{id}`
//! and `POST /participants/{id}/end`: the engine over HTTP. The engine
//! itself ([`crate::engine`]) is shared with `loket declare`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::routes::{ApiError, Auth, Body};
use crate::engine::{self, RunOptions};
use crate::record::read;
use crate::store::TenantKind;

fn internal(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "declaration run failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "interne fout; er is niets opgeslagen of verzonden",
        "internal error; nothing was stored or sent",
    )
}

pub(crate) fn only_providers(kind: TenantKind) -> Result<(), ApiError> {
    match kind {
        TenantKind::Aanbieder => Ok(()),
        TenantKind::Gemeente => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "alleen een aanbieder declareert",
            "only a provider declares",
        )),
    }
}

/// `POST /declarations/run` (`schemas/api/declarations-run.json`): start and
/// stop messages and every declaration of the period, into the outbox; the
/// answer (`declarations-run-result.json`) lists what was sent and every
/// notice (delivery beyond an allocation, days no allocation takes, lines
/// held back by a rule).
pub async fn run(State(state): State<AppState>, Auth(tenant): Auth, Body(body): Body) -> Response {
    if let Err(e) = only_providers(tenant.kind) {
        return e.into_response();
    }
    let value = match super::input::parse_body("declarations-run", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let period_text = value["period"].as_str().unwrap_or_default();
    let Ok(period) = engine::parse_period(period_text) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "periode is geen JJJJ-MM",
            "period is not YYYY-MM",
        )
        .with_paths(vec!["/period".into()])
        .into_response();
    };
    let today = match date_or_today(&value, "dagtekening") {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let opts = RunOptions {
        period,
        today,
        dry_run: value["dry_run"].as_bool().unwrap_or(false),
        out_dir: None,
    };
    let mappings = state.mappings.for_tenant(&tenant.id);
    match engine::run(state.store(), mappings, &tenant, &opts).await {
        Ok(report) => {
            // Committed: the worker may send right away.
            state.outbox.wake();
            (StatusCode::OK, Json(json!(report))).into_response()
        }
        Err(e) => internal(e).into_response(),
    }
}

/// The date in `value[key]`, or today when it is left out; the schema
/// checked its shape, this its calendar (2026-02-30).
fn date_or_today(value: &Value, key: &str) -> Result<NaiveDate, ApiError> {
    match value.get(key).and_then(Value::as_str) {
        Some(d) => d.parse::<NaiveDate>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{key} is geen geldige datum"),
                format!("{key} is not a valid date"),
            )
            .with_paths(vec![format!("/{key}")])
        }),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

/// `POST /startstop/run` (`schemas/api/startstop-run.json`): the starts and
/// stops due on a day, into the outbox (`startstop-run-result.json`), as the
/// daemon's daily run and `loket startstop` send them.
pub async fn run_startstop(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Body(body): Body,
) -> Response {
    if let Err(e) = only_providers(tenant.kind) {
        return e.into_response();
    }
    let value = match super::input::parse_body("startstop-run", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let today = match date_or_today(&value, "date") {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let dry_run = value["dry_run"].as_bool().unwrap_or(false);
    let mappings = state.mappings.for_tenant(&tenant.id);
    match engine::startstop::run(state.store(), mappings, &tenant, today, dry_run, None).await {
        Ok(report) => {
            state.outbox.wake();
            (StatusCode::OK, Json(json!(report))).into_response()
        }
        Err(e) => internal(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    period: Option<String>,
    limit: Option<i64>,
}

/// `GET /declarations[?period=YYYY-MM]`: the tenant's declarations, newest
/// first (`schemas/api/declaration-list.json`).
pub async fn list(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let begin = match q.period.as_deref() {
        Some(p) => Some(
            engine::parse_period(p)
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "periode is geen JJJJ-MM",
                        "period is not YYYY-MM",
                    )
                    .with_paths(vec!["period".into()])
                })?
                .start
                .format("%Y-%m")
                .to_string(),
        ),
        None => None,
    };
    let items = read::declarations(
        state.store().pool(),
        &tenant,
        read::DeclarationFilter {
            month: begin.as_deref(),
            newest_first: true,
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
            ..Default::default()
        },
    )
    .await
    .map_err(internal)?;
    Ok(Json(json!({ "declarations": items })))
}

/// `GET /declarations/{id}`: one declaration with its prestaties
/// (`schemas/api/declaration-list.json`). Lines name the participant by id;
/// logged as a view of each participant with a line in it.
pub async fn get(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = &caller.tenant;
    let pool = state.store().pool();
    let declaration = read::declaration(pool, tenant, &id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "niet gevonden", "not found"))?;
    let lines = read::prestaties(pool, tenant, read::Prestaties::InDeclaration(&id))
        .await
        .map_err(internal)?;
    let participants: Vec<String> = lines.iter().map(|l| l.participant_id.clone()).collect();
    caller
        .log(
            &state,
            crate::record::access::Kind::View,
            &format!("GET /declarations/{id}"),
            &participants,
        )
        .await?;
    let mut out = json!(declaration);
    out["prestaties"] = json!(lines);
    Ok(Json(out))
}

/// The body's `date` (its schema holds it to YYYY-MM-DD) as a calendar
/// date: 2026-02-30 has the shape and is still refused, with its path.
pub(crate) fn date_field(value: &Value) -> Result<NaiveDate, ApiError> {
    value["date"]
        .as_str()
        .unwrap_or_default()
        .parse::<NaiveDate>()
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "datum is geen geldige datum",
                "date is not a valid date",
            )
            .with_paths(vec!["/date".into()])
        })
}

/// `POST /participants/{id}/end` (`schemas/api/participant-end.json`): the
/// end of a participant's care (death, a move, ...). The next run stops
/// every started allocation with the matching RedenBeeindiging.
pub async fn end(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Response {
    let value = match super::input::parse_body("participant-end", &body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let date = match date_field(&value) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let tenant = &caller.tenant;
    match read::participant_exists(state.store().pool(), tenant, &id).await {
        Ok(true) => {}
        Ok(false) => {
            return ApiError::new(StatusCode::NOT_FOUND, "niet gevonden", "not found")
                .into_response();
        }
        Err(e) => return internal(e).into_response(),
    }
    let reason = value["reason"].as_str().unwrap_or_default();
    let by = value["registered_by"].as_str().unwrap_or_default();
    // The end and its access log entry commit together.
    let registered = async {
        let mut w = state.store().begin_write().await?;
        let end_id =
            engine::startstop::register_end_in(&mut w, &tenant.id, &id, date, reason, by).await?;
        crate::record::access::record_in(
            &mut w,
            &tenant.id,
            &caller.actor,
            crate::record::access::Kind::Change,
            "POST /participants/{id}/end",
            std::slice::from_ref(&id),
        )
        .await?;
        w.commit().await?;
        Ok::<_, anyhow::Error>(end_id)
    };
    match registered.await {
        Ok(end_id) => (
            StatusCode::CREATED,
            Json(json!({
                "id": end_id,
                "participant_id": id,
                "date": date.to_string(),
                "reason": reason,
                // Per law: a participant may have Wmo and Jeugdwet allocations.
                "reden_beeindiging": engine::startstop::reason_codes(reason).unwrap_or_default(),
            })),
        )
            .into_response(),
        Err(e) => internal(e).into_response(),
    }
}
