//! Who is calling, for the NEN 7513 access log ([`crate::record::access`]):
//! the socket peer of a request and the API token that made it, and the
//! API's AVG export and access log calls.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::client::ClientAddr;
use super::routes::{ApiError, Auth};
use crate::record::access::{self, Actor, Kind};
use crate::record::export::{self, ParticipantExport};
use crate::store::{Tenant, sha256_hex};

/// The address the request came from ([`super::client::ClientAddr`]: the
/// socket peer, or whom a trusted proxy forwards for). `None` when the
/// server runs without connection info (in-process tests).
#[derive(Debug, Clone, Default)]
pub struct Peer(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let client = parts.extensions.get::<ClientAddr>().map(|c| c.0);
        let socket = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        };
        Ok(Peer(client.or_else(socket).map(|ip| ip.to_string())))
    }
}

/// An authenticated API call: its tenant ([`Auth`]) and who it is for the
/// access log (the token by its hash prefix, and the peer).
pub struct Caller {
    pub tenant: Tenant,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(tenant) = Auth::from_request_parts(parts, state).await?;
        let Ok(Peer(peer)) = Peer::from_request_parts(parts, state).await;
        // Auth accepted the header, so it is there.
        let token = super::routes::bearer(parts).unwrap_or_default();
        Ok(Caller {
            tenant,
            actor: Actor::token(&sha256_hex(&[token]), peer),
        })
    }
}

impl Caller {
    /// Logs a view of the participants `ids` names (rows without a
    /// participant skipped; [`access::record`] keeps one entry each), before
    /// the data leave.
    pub async fn log_view<'a>(
        &self,
        state: &AppState,
        object: &str,
        ids: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Result<(), ApiError> {
        let shown: Vec<String> = ids.into_iter().flatten().map(str::to_string).collect();
        self.log(state, Kind::View, object, &shown).await
    }

    /// Logs an access before its data leave; the call fails when it cannot.
    pub async fn log(
        &self,
        state: &AppState,
        kind: Kind,
        object: &str,
        participants: &[String],
    ) -> Result<(), ApiError> {
        access::record(
            state.store(),
            &self.tenant.id,
            &self.actor,
            kind,
            object,
            participants,
        )
        .await
        .map_err(ApiError::internal)
    }
}

/// `GET /participants/{id}/export` (`schemas/api/participant-export.json`):
/// everything loket holds on the participant (AVG art. 15), logged as an
/// export first.
pub async fn export_participant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ParticipantExport>, ApiError> {
    // By id only: an export is not a way to look a BSN up.
    let exists = crate::record::read::participant_exists(state.store().pool(), &caller.tenant, &id)
        .await
        .map_err(ApiError::internal)?;
    if !exists {
        return Err(ApiError::not_found());
    }
    caller
        .log(
            &state,
            Kind::Export,
            "GET /participants/{id}/export",
            std::slice::from_ref(&id),
        )
        .await?;
    export::participant(state.store(), &caller.tenant, &id)
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    participant: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /access-log?participant=&actor=&from=&to=&kind=&limit=&offset=`
/// (`schemas/api/access-log.json`): the tenant's access log, newest first.
pub async fn list(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    Query(q): Query<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(
        q.participant,
        q.actor,
        q.from,
        q.to,
        q.kind,
        q.limit.unwrap_or(100).clamp(1, 1000),
        q.offset.unwrap_or(0).max(0),
    )
    .map_err(|(nl, en)| ApiError::new(StatusCode::BAD_REQUEST, nl, en))?;
    let entries = access::list(state.store().pool(), &tenant, &filter)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "items": entries,
        "limit": filter.limit,
        "offset": filter.offset,
    })))
}

/// A checked filter (shared with the beheer page): dates must be dates,
/// the kind one of the kinds; empty fields do not filter.
pub fn filter_of(
    participant: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    limit: i64,
    offset: i64,
) -> Result<access::Filter, (String, String)> {
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let day = |v: Option<String>, name: &str| -> Result<Option<String>, (String, String)> {
        match given(v) {
            None => Ok(None),
            Some(d) => d
                .parse::<chrono::NaiveDate>()
                .map(|d| Some(d.to_string()))
                .map_err(|_| {
                    (
                        format!("{name} is geen datum (JJJJ-MM-DD)"),
                        format!("{name} is not a date (YYYY-MM-DD)"),
                    )
                }),
        }
    };
    let kind = match given(kind) {
        None => None,
        Some(k) => Some(Kind::parse(&k).ok_or_else(|| {
            let all = Kind::ALL.map(Kind::as_str).join(", ");
            (
                format!("onbekende soort; kies uit {all}"),
                format!("unknown kind; use one of {all}"),
            )
        })?),
    };
    Ok(access::Filter {
        participant: given(participant),
        actor: given(actor),
        from: day(from, "from")?,
        to: day(to, "to")?,
        kind,
        limit,
        offset,
    })
}
