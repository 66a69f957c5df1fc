//! The API's routes and handlers.

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::access::Caller;
use crate::record::access::Kind;
use crate::record::{IngestError, read};
use crate::store::Tenant;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/messages", post(post_message))
        .route("/messages/{id}", get(get_message))
        .route("/participants", get(list_participants))
        .route("/participants/search", post(search_participant))
        .route("/participants/{key}", get(get_participant))
        .route(
            "/participants/{id}/export",
            get(super::access::export_participant),
        )
        .route(
            "/participants/{id}/measurements",
            get(super::outcomes::list_measurements).post(super::outcomes::post_measurement),
        )
        .route(
            "/participants/{id}/goals",
            get(super::outcomes::list_goals).post(super::outcomes::post_goal),
        )
        .route(
            "/participants/{id}/evaluations",
            get(super::outcomes::list_evaluations).post(super::outcomes::post_evaluation),
        )
        .route("/access-log", get(super::access::list))
        .route("/review", get(super::review::list))
        .route("/review/{id}", get(super::review::get_item))
        .route("/review/{id}/resolve", post(super::review::resolve))
        .route("/participants/{id}/end", post(super::declarations::end))
        .route(
            "/participants/{id}/milestones",
            post(super::results::post_milestone),
        )
        .route("/allocations", post(super::invoices::post_allocation))
        .route("/allocations/{id}/change", post(super::allocations::change))
        .route("/invoices", post(super::invoices::post_invoice))
        .route("/deadlines", get(super::deadlines::list))
        .route("/declarations", get(super::declarations::list))
        .route("/declarations/run", post(super::declarations::run))
        .route("/declarations/received", get(super::received::list))
        .route("/declarations/received.csv", get(super::received::csv))
        .route("/startstop/run", post(super::declarations::run_startstop))
        .route("/declarations/{id}", get(super::declarations::get))
        .route(
            "/declarations/received/{message_id}/decision",
            get(super::decisions::get),
        )
        .route(
            "/declarations/received/{message_id}/lines/{line_id}",
            post(super::decisions::decide),
        )
        .route(
            "/declarations/received/{message_id}/release",
            post(super::decisions::release),
        )
        .route(
            "/outbox",
            get(super::outbox::list).post(super::outbox::post),
        )
        .route("/outbox/{id}", get(super::outbox::get))
        .route(
            "/requests",
            get(super::requests::list).post(super::requests::post),
        )
        .route("/requests/{id}", get(super::requests::get))
        .route(
            "/requests/{id}/answer",
            post(super::allocations::answer_request),
        )
        .route("/outbox/{id}/retry", post(super::outbox::retry))
        .route(
            "/registrations",
            post(super::registrations::post_registrations)
                .get(super::registrations::list_registrations),
        )
}

/// An API error: status plus a bilingual explanation.
pub struct ApiError {
    status: StatusCode,
    nl: String,
    en: String,
    paths: Option<Vec<String>>,
    /// The request body was not read to its end: the connection cannot carry
    /// another request, so the client is told to close it.
    close: bool,
    /// Seconds for `Retry-After` (503).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, nl: impl Into<String>, en: impl Into<String>) -> Self {
        ApiError {
            status,
            nl: nl.into(),
            en: en.into(),
            paths: None,
            close: false,
            retry_after: None,
        }
    }

    /// Adds the JSON pointers of invalid input.
    pub fn with_paths(mut self, paths: Vec<String>) -> Self {
        self.paths = Some(paths);
        self
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "niet gevonden", "not found")
    }

    /// A failure inside loket: 500, or 503 with `Retry-After` when the
    /// database is unavailable (down, unreachable, busy beyond the wait), so
    /// clients retry instead of giving up.
    pub(crate) fn internal(e: anyhow::Error) -> Self {
        if crate::store::is_unavailable(&e) {
            tracing::warn!(error = %format!("{e:#}"), "database unavailable; 503");
            let mut err = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "de database is tijdelijk niet beschikbaar; er is niets verwerkt, probeer het later opnieuw",
                "the database is temporarily unavailable; nothing was processed, try again later",
            );
            err.retry_after = Some(RETRY_AFTER_SECS);
            return err;
        }
        tracing::error!(error = %format!("{e:#}"), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "interne fout; het bericht is niet verwerkt",
            "internal error; the message was not processed",
        )
    }

    /// 413: the input is over the size limit; its body is not read, so the
    /// connection is closed.
    pub(crate) fn too_large(limit: usize) -> Self {
        let mut err = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("de invoer is groter dan {limit} bytes"),
            format!("the input is larger than {limit} bytes"),
        );
        err.close = true;
        err
    }
}

/// `Retry-After` when the database is unavailable: about the time it takes
/// a database to restart or fail over.
pub const RETRY_AFTER_SECS: u64 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(match self.paths {
                Some(p) => json!({"error": {"nl": self.nl, "en": self.en, "paths": p}}),
                None => json!({"error": {"nl": self.nl, "en": self.en}}),
            }),
        )
            .into_response();
        if self.close {
            res.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        if let Some(v) = self
            .retry_after
            .and_then(|s| header::HeaderValue::from_str(&s.to_string()).ok())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// The bearer token of a request, if it has a plausible one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The authenticated tenant of a request.
pub struct Auth(pub Tenant);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "geen of ongeldig token (Authorization: Bearer ...)",
                "missing or invalid token (Authorization: Bearer ...)",
            )
        };
        let token = bearer(parts).ok_or_else(unauthorized)?;
        match state.store().tenant_for_token(token).await {
            Ok(Some(t)) => Ok(Auth(t)),
            Ok(None) => Err(unauthorized()),
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

/// `GET /healthz`: liveness. Answers at once without touching the
/// database, so a health checker with a short timeout never sees a hang and
/// a database outage does not get loket restarted (which would not help).
async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(900);

/// `GET /readyz`: readiness. 200 when the database answers within a second,
/// otherwise 503: a load balancer sends no traffic while it is down.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping_within(READY_TIMEOUT).await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": "ok"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "readiness: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())],
                Json(json!({"status": "not ready", "database": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// How long a count of overdue deadlines serves scrapes: counting reads
/// every tenant's open items, so a scrape every few seconds does not
/// repeat it, and deadlines move by the day anyway.
const DEADLINES_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

async fn metrics(State(state): State<AppState>, _auth: Auth) -> Response {
    if !state.metrics.deadlines_fresh(DEADLINES_MAX_AGE) {
        // A failed count leaves the last one (or none): the other metrics
        // are still worth a scrape.
        match crate::record::deadlines::overdue_counts(
            state.store(),
            &state.mappings,
            crate::registration::today(),
        )
        .await
        {
            Ok(counts) => state.metrics.set_deadlines_overdue(counts),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot count overdue deadlines"),
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// A request body, read within the size limit. Every POST takes it, so a
/// body over the limit (413) or cut off is answered as JSON like every other
/// error, instead of axum's plain-text rejection.
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(Body(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large(state.ingest.limits.max_bytes))
            }
            Err(e) => {
                let mut err = ApiError::new(
                    e.status(),
                    "de invoer kon niet worden gelezen",
                    "the request body could not be read",
                );
                err.close = true;
                Err(err)
            }
        }
    }
}

/// `POST /messages`: a raw iWmo/iJw message in, its retourbericht out.
async fn post_message(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Body(body): Body,
) -> Response {
    let started = Instant::now();
    match state.ingest.receive_owned(&tenant, body).await {
        Ok(r) => {
            let outcome = if r.duplicate {
                "duplicate"
            } else {
                r.status.as_str()
            };
            state.metrics.record(&r.bericht, outcome, started.elapsed());
            let mut headers = HeaderMap::new();
            for (k, v) in [
                ("x-loket-message-id", r.message_id.as_str()),
                ("x-loket-status", r.status.as_str()),
                (
                    "x-loket-duplicate",
                    if r.duplicate { "true" } else { "false" },
                ),
                ("x-loket-bericht", r.bericht.as_str()),
            ] {
                if let Ok(v) = v.parse() {
                    headers.insert(k, v);
                }
            }
            if r.retour_xml.is_empty() {
                (StatusCode::OK, headers, Json(json!(r))).into_response()
            } else {
                headers.insert(
                    header::CONTENT_TYPE,
                    "application/xml; charset=utf-8"
                        .parse()
                        .expect("static header"),
                );
                (StatusCode::OK, headers, r.retour_xml).into_response()
            }
        }
        Err(IngestError::Unusable(e)) => {
            state
                .metrics
                .record("unknown", "unusable", started.elapsed());
            ApiError::new(StatusCode::BAD_REQUEST, e.nl(), e.to_string()).into_response()
        }
        Err(IngestError::WrongTenant { .. }) => {
            state
                .metrics
                .record("unknown", "refused", started.elapsed());
            ApiError::new(
                StatusCode::FORBIDDEN,
                "het bericht is niet aan deze tenant gericht (Ontvanger)",
                "the message is not addressed to this tenant (Ontvanger)",
            )
            .into_response()
        }
        Err(IngestError::NoRetour(e)) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.clone(), e).into_response()
        }
        Err(IngestError::Store(e)) => ApiError::internal(e).into_response(),
    }
}

/// `GET /messages/{id}`: the message with its conversation
/// ([`crate::record::conversation`]), logged as a download for every
/// participant whose data the message carries, before it leaves (and as a
/// view of any other participant its conversation names).
async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let pool = state.store().pool();
    let message = read::message(pool, &caller.tenant, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    let participants =
        crate::record::access::participants_of_message(pool, &caller.tenant, &message.id)
            .await
            .map_err(ApiError::internal)?;
    let conversation = crate::record::conversation::of_message(pool, &caller.tenant, &message.id)
        .await
        .map_err(ApiError::internal)?;
    caller
        .log(
            &state,
            Kind::Download,
            &format!("GET /messages/{}", message.id),
            &participants,
        )
        .await?;
    let others = conversation
        .iter()
        .flat_map(|c| &c.messages)
        .filter_map(|m| m.participant_id.as_deref())
        .filter(|p| !participants.iter().any(|q| q == p));
    caller
        .log_view(
            &state,
            &format!("GET /messages/{}", message.id),
            others.map(Some),
        )
        .await?;
    let mut json = serde_json::to_value(&message).map_err(|e| ApiError::internal(e.into()))?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "conversation".to_string(),
            serde_json::to_value(&conversation).map_err(|e| ApiError::internal(e.into()))?,
        );
    }
    Ok(Json(json))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantFilter {
    /// Only participants with an allocation in this status.
    status: Option<String>,
    /// Only participants financed by this financier kind (wmo, jeugdwet, ...).
    financier: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /participants`: a view of every participant listed, logged per
/// participant (one insert).
async fn list_participants(
    State(state): State<AppState>,
    caller: Caller,
    Query(f): Query<ParticipantFilter>,
) -> Result<Json<Value>, ApiError> {
    let limit = f.limit.unwrap_or(100).clamp(1, 1000);
    let offset = f.offset.unwrap_or(0).max(0);
    let items = read::participants(
        state.store().pool(),
        &caller.tenant,
        f.status.as_deref(),
        f.financier.as_deref(),
        limit,
        offset,
    )
    .await
    .map_err(ApiError::internal)?;
    let ids: Vec<String> = items.iter().map(|p| p.id.clone()).collect();
    caller
        .log(&state, Kind::View, "GET /participants", &ids)
        .await?;
    Ok(Json(
        json!({"participants": items, "limit": limit, "offset": offset}),
    ))
}

/// `POST /participants/search` with `{"bsn": "..."}`: the record by BSN,
/// without the BSN in a URL.
async fn search_participant(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<read::ParticipantRecord>, ApiError> {
    let input = super::input::parse_body("participant-search", &body)?;
    let bsn = input.get("bsn").and_then(Value::as_str).unwrap_or_default();
    record_or_404(&state, &caller, bsn, "POST /participants/search").await
}

/// `GET /participants/{key}`: the merged record. `key` is the participant id
/// (preferred: it keeps BSNs out of URLs) or, for compatibility, the BSN.
async fn get_participant(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Json<read::ParticipantRecord>, ApiError> {
    record_or_404(&state, &caller, &key, "GET /participants/{key}").await
}

/// The record, logged as a view (by the participant's id and the route
/// template: a BSN used as the key never reaches the log).
async fn record_or_404(
    state: &AppState,
    caller: &Caller,
    key: &str,
    object: &str,
) -> Result<Json<read::ParticipantRecord>, ApiError> {
    let record = read::participant(state.store().pool(), &caller.tenant, key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    caller
        .log(state, Kind::View, object, std::slice::from_ref(&record.id))
        .await?;
    Ok(Json(record))
}
