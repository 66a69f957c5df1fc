//! The outbox on the API: what the tenant sends and where each message is
//! (`GET /outbox`, `GET /outbox/{id}`), a failed message queued again by
//! hand (`POST /outbox/{id}/retry`), and a message the provider composed
//! itself (`POST /outbox`), checked like everything that leaves the house.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::routes::{ApiError, Auth, Body};
use crate::adapter::istandaard;
use crate::mapping::{FinancierKey, Kind, Standard};
use crate::outbox::{self, AlreadyQueued, Outgoing, STATES};
use crate::record::{self, apply};
use crate::schema::Role;

fn internal(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "outbox: internal error");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "interne fout",
        "internal error",
    )
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "niet gevonden", "not found")
}

async fn fetch_item(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<Option<outbox::OutboxItem>, ApiError> {
    outbox::item(state.store(), tenant, id)
        .await
        .map_err(internal)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxFilter {
    /// queued | sending | sent | failed
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /outbox?state=&limit=&offset=`: the tenant's outgoing messages,
/// newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: super::access::Caller,
    filter: Result<Query<OutboxFilter>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = &caller.tenant;
    let Query(f) = filter.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ongeldige zoekparameters (state, limit, offset)",
            format!("invalid query parameters (state, limit, offset): {e}"),
        )
    })?;
    if let Some(s) = &f.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("onbekende state; kies uit {}", STATES.join(", ")),
            format!("unknown state; use one of {}", STATES.join(", ")),
        ));
    }
    let limit = f.limit.unwrap_or(100).clamp(1, 1000);
    let offset = f.offset.unwrap_or(0).max(0);
    let items = outbox::items(state.store(), &tenant.id, f.state.as_deref(), limit, offset)
        .await
        .map_err(internal)?;
    caller
        .log_view(
            &state,
            "GET /outbox",
            items.iter().map(|i| i.participant_id.as_deref()),
        )
        .await?;
    Ok(Json(
        json!({"items": items, "limit": limit, "offset": offset}),
    ))
}

/// `GET /outbox/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: super::access::Caller,
    Path(id): Path<String>,
) -> Result<Json<outbox::OutboxItem>, ApiError> {
    let item = fetch_item(&state, &caller.tenant.id, &id)
        .await?
        .ok_or_else(not_found)?;
    caller
        .log_view(
            &state,
            &format!("GET /outbox/{id}"),
            [item.participant_id.as_deref()],
        )
        .await?;
    Ok(Json(item))
}

/// `POST /outbox/{id}/retry`: a failed message back in the queue, due now.
pub async fn retry(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Path(id): Path<String>,
) -> Result<Json<outbox::OutboxItem>, ApiError> {
    let queued = outbox::retry(state.store(), &tenant.id, &id)
        .await
        .map_err(internal)?;
    let current = fetch_item(&state, &tenant.id, &id)
        .await?
        .ok_or_else(not_found)?;
    if !queued {
        let now = current.state.clone();
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("alleen een mislukt bericht kan opnieuw; dit bericht is {now}"),
            format!("only a failed message can be retried; this one is {now}"),
        ));
    }
    state.outbox.wake();
    Ok(Json(current))
}

/// `POST /outbox`: a raw iWmo/iJw heenbericht the provider composed (a 315
/// aanvraag, a 317 verzoek om wijziging, a 305 or 307). It must pass every
/// check, come from this tenant, and go to a financier in the tenant's
/// mappings; a start or stop is judged against the record as a generated one
/// and recorded once queued, a request is recorded as one composed with
/// `POST /requests`; then it is queued and the answer is its outbox item
/// (202). A 301 or 323 is refused: loket makes those from its record.
pub async fn post(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let checked = istandaard::check(state.ingest.schema, &body, &state.ingest.limits)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.nl(), e.to_string()))?;
    if !checked.is_valid() {
        return Ok(findings_error(&checked));
    }
    let msg = &checked.message;
    if msg.value("Header/Afzender") != Some(tenant.id.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "het bericht komt niet van deze tenant (Afzender)",
            "the message is not from this tenant (Afzender)",
        ));
    }
    if !matches!(msg.def().role, Role::Heen) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{} is een antwoord; loket beantwoordt berichten zelf",
                msg.name()
            ),
            format!("{} is an answer; loket answers messages itself", msg.name()),
        ));
    }
    // An allocation and a declaration are the record's own: loket makes
    // them from what it holds (POST /allocations, the declaration run), so
    // that the allocation and the prestaties it sends are the ones it keeps
    // and judges later answers against. One composed elsewhere would be
    // sent without either.
    match msg.def().number.as_str() {
        "301" => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "een toewijzing (301) maakt loket zelf: gebruik POST /allocations, dan houdt de gemeente haar toewijzingen bij",
                "loket makes an allocation (301) itself: use POST /allocations, so the municipality keeps its allocations",
            ));
        }
        "323" => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "een declaratie (323) maakt loket zelf uit de registraties: gebruik de declaratierun (POST /declarations/run)",
                "loket makes a declaration (323) itself from the registrations: use the declaration run (POST /declarations/run)",
            ));
        }
        _ => {}
    }
    let (kind, standard) = match msg.standard().name.as_str() {
        "ijw" => (Kind::Jeugdwet, Standard::Ijw),
        _ => (Kind::Wmo, Standard::Iwmo),
    };
    let ontvanger = msg.value("Header/Ontvanger").unwrap_or_default();
    let key = FinancierKey::new(kind, ontvanger);
    let mapping = state
        .mappings
        .for_tenant(&tenant.id)
        .get(&key)
        .filter(|m| m.financier.standard == standard)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "geen mapping voor financier {key} ({}): loket weet niet waar het bericht heen moet",
                    msg.standard().name
                ),
                format!(
                    "no mapping for financier {key} ({}): loket does not know where the message goes",
                    msg.standard().name
                ),
            )
        })?;
    let mut w = state.store().begin_write().await.map_err(internal)?;
    let participant = apply::participant_id_for(&mut w.tx, &tenant.id, msg)
        .await
        .map_err(internal)?;
    // A start or stop composed by hand is judged against the record exactly
    // as a generated one (TR326, TR382, TR413-TR415, ...), under the tenant
    // lock so that a start/stop run cannot send the same meanwhile.
    let delivery = matches!(msg.def().number.as_str(), "305" | "307");
    if delivery {
        w.lock_tenant(&tenant.id).await.map_err(internal)?;
        if participant.is_none() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "de cliënt heeft geen toewijzing in loket; een start of stop hoort bij een toewijzing",
                "the client has no allocation in loket; a start or stop belongs to an allocation",
            ));
        }
        let findings = record::delivery::check(&mut w.tx, &tenant, msg)
            .await
            .map_err(internal)?;
        if !findings.is_empty() {
            let judged = istandaard::Checked {
                findings,
                ..checked.clone()
            };
            return Ok(findings_error(&judged));
        }
    }
    let queued = outbox::enqueue(
        &mut w.tx,
        Outgoing {
            tenant_id: &tenant.id,
            financier: &mapping.financier,
            participant_id: participant.as_deref(),
            message: msg,
        },
    )
    .await;
    let id = match queued {
        Ok(id) => id,
        Err(e) => {
            return Err(match e.downcast_ref::<AlreadyQueued>() {
                Some(dup) => ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "{} met BerichtIdentificatie {} is al verstuurd of staat klaar ({}); gebruik een nieuwe identificatie (TR056)",
                        dup.bericht, dup.identificatie, dup.message_id
                    ),
                    format!(
                        "{} with BerichtIdentificatie {} was already sent or queued ({}); use a new identification (TR056)",
                        dup.bericht, dup.identificatie, dup.message_id
                    ),
                ),
                None => internal(e),
            });
        }
    };
    // Sent means recorded: the allocation's history shows the hand-made
    // start or stop, and the next run plans from it.
    if let (true, Some(p)) = (delivery, &participant) {
        record::delivery::record(&mut w.tx, &tenant, msg, p, &id)
            .await
            .map_err(internal)?;
    }
    w.commit().await.map_err(internal)?;
    state.outbox.wake();
    tracing::info!(message_id = %id, bericht = %msg.name(), financier = %key, "outbox: queued by the API");
    let item = fetch_item(&state, &tenant.id, &id)
        .await?
        .ok_or_else(|| internal(anyhow::anyhow!("queued message {id} not found")))?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/outbox/{id}"))],
        Json(item),
    )
        .into_response())
}

/// 422 with every finding (Dutch and English), so the provider can fix its
/// message before it leaves.
fn findings_error(checked: &istandaard::Checked) -> Response {
    findings_response(&checked.findings)
}

/// 422 with `findings`, each in Dutch and English: a message the tenant
/// composed (by hand, or through `POST /requests`) that would break the
/// standard is not sent.
pub(crate) fn findings_response(findings: &[crate::finding::Finding]) -> Response {
    let n = findings.len();
    let findings = serde_json::to_value(findings).unwrap_or_else(|_| json!([]));
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": {
            "nl": format!("het bericht is niet verstuurd: {n} bevinding(en)"),
            "en": format!("the message was not sent: {n} finding(s)"),
            "findings": findings,
        }})),
    )
        .into_response()
}
