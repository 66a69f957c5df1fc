//! Pull: what the exchange holds for the tenant, taken in through the same
//! ingest as `POST /messages` and confirmed only after it is committed.
//!
//! Per message: the payload is downloaded (never more than its announced
//! `grootte`, nor more than loket takes in at all) and checked against its
//! SHA-256; the ingest commits it; the record keeps its identifiers and
//! queues its retour for the outbox; then `DELETE /berichten/{traceerId}`
//! confirms it. A crash anywhere before the confirmation gets the message
//! again on the next pull: it is recognised by its traceerId (or, before
//! the identifiers were kept, by its BerichtIdentificatie, TR056) and only
//! confirmed, so nothing is applied or answered twice. A payload that does
//! not match its checksum is left unconfirmed and fetched again later.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::Connection;
use super::push::{Referentiegegevens, Routeringgegevens};
use crate::record::exchange::{self, Ids};
use crate::record::{Ingest, IngestError};
use crate::server::metrics::Metrics;
use crate::store::{Tenant, TenantKind};

/// The test-only fault hook: `LOKET_FAULT_VSP=committed` aborts loket after
/// a pulled message is committed and before it is confirmed.
pub const FAULT_ENV: &str = "LOKET_FAULT_VSP";

/// `BerichtMetadata` of the pull description (read leniently: a field
/// VECOZO adds later must not stop the pull).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PulledMetadata {
    pub basisgegevens: Basisgegevens,
    pub routeringgegevens: Routeringgegevens,
    pub referentiegegevens: Referentiegegevens,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Basisgegevens {
    pub ontvangen_op: String,
    pub payload: Download,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Download {
    pub url: String,
    pub grootte: u64,
    pub checksum: Checksum,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Checksum {
    pub algoritme: String,
    pub waarde: String,
}

/// Why a round stopped early: the exchange or the store is not there now.
#[derive(Debug)]
pub struct Unreachable(pub String);

/// What one pull round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Messages in the list.
    pub listed: usize,
    /// Taken in (or recognised) and confirmed.
    pub confirmed: usize,
    /// Left for a later round (checksum, addressed elsewhere).
    pub kept: usize,
    /// Retours queued for the outbox.
    pub retours: usize,
}

/// The pull context of one tenant.
pub struct Puller<'a> {
    pub conn: &'a Connection,
    pub ingest: &'a Ingest,
    /// Counts each message as it is confirmed or kept, also in a round
    /// that stops early.
    pub metrics: &'a Metrics,
}

impl Puller<'_> {
    /// One list of at most `batch` messages, each taken in and confirmed.
    pub async fn round(&self) -> Result<Round, Unreachable> {
        let conn = self.conn;
        let url = format!(
            "{}?limit={}",
            super::config::pull_url(&conn.base),
            conn.config.batch
        );
        let resp = conn
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Unreachable(crate::transport::http::chain(&e)))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(Unreachable(format!(
                "GET /berichten: HTTP {status}: {}",
                super::push::problem_text(&body)
            )));
        }
        let list: Vec<PulledMetadata> = resp.json().await.map_err(|e| {
            Unreachable(format!(
                "GET /berichten: {}",
                crate::transport::http::chain(&e)
            ))
        })?;
        let mut round = Round {
            listed: list.len(),
            ..Round::default()
        };
        for meta in &list {
            match self.take(meta).await? {
                Taken::Confirmed { retour } => {
                    round.confirmed += 1;
                    round.retours += usize::from(retour);
                    self.metrics.record_pulled("confirmed", 1);
                }
                Taken::Kept => {
                    round.kept += 1;
                    self.metrics.record_pulled("kept", 1);
                }
            }
        }
        Ok(round)
    }

    async fn take(&self, meta: &PulledMetadata) -> Result<Taken, Unreachable> {
        let conn = self.conn;
        let refs = &meta.referentiegegevens;
        let traceer = refs.traceer_id.as_str();
        if uuid::Uuid::parse_str(traceer).is_err() {
            tracing::warn!(tenant = %conn.tenant, "vsp: a listed message has no usable traceerId; left alone");
            return Ok(Taken::Kept);
        }
        let tenant = Tenant {
            id: conn.tenant.clone(),
            kind: TenantKind::from_id(&conn.tenant).map_err(|e| Unreachable(e.to_string()))?,
        };
        let ids = Ids {
            conversatie_id: refs.conversatie_id.clone(),
            traceer_id: traceer.to_string(),
            als_antwoord_op: refs.als_antwoord_op.clone(),
        };
        let store = &self.ingest.store;
        let known = exchange::find_pulled(store.pool(), &conn.tenant, traceer)
            .await
            .map_err(|e| Unreachable(format!("{e:#}")))?;
        let message_id = match known {
            Some(id) => Some(id),
            None => {
                let Some(payload) = self.download(meta).await? else {
                    return Ok(Taken::Kept);
                };
                match self.ingest.receive_owned(&tenant, payload).await {
                    Ok(r) => Some(r.message_id),
                    // Stored (as rejected or unusable): confirmed, since
                    // fetching it again would only find the same.
                    Err(IngestError::NoRetour(_)) | Err(IngestError::Unusable(_)) => {
                        tracing::warn!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: pulled message stored as unusable");
                        None
                    }
                    Err(IngestError::WrongTenant { .. }) => {
                        tracing::error!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: pulled message is addressed to another party; left unconfirmed at VECOZO");
                        return Ok(Taken::Kept);
                    }
                    Err(IngestError::Store(e)) => return Err(Unreachable(format!("{e:#}"))),
                }
            }
        };
        let mut retour = false;
        if let Some(id) = &message_id {
            retour = exchange::taken_in(store, &conn.tenant, id, &ids, &conn.base)
                .await
                .map_err(|e| Unreachable(format!("{e:#}")))?
                .is_some();
        }
        crate::transport::fault(FAULT_ENV, "committed");
        self.confirm(traceer).await?;
        Ok(Taken::Confirmed { retour })
    }

    /// The payload, or `None` when what arrived is not what the metadata
    /// announced (left for a later round).
    async fn download(&self, meta: &PulledMetadata) -> Result<Option<Vec<u8>>, Unreachable> {
        let conn = self.conn;
        let traceer = &meta.referentiegegevens.traceer_id;
        let announced = &meta.basisgegevens.payload;
        let limit = self.ingest.limits.max_bytes as u64;
        if announced.grootte > limit {
            tracing::error!(tenant = %conn.tenant, traceer_id = %traceer, grootte = announced.grootte, limit, "vsp: payload larger than loket takes in; left unconfirmed");
            return Ok(None);
        }
        // The certificate is only offered to the configured exchange: a
        // download URL elsewhere is not followed.
        let own = super::config::pull_url(&conn.base);
        let url = if announced.url.starts_with(&format!("{own}/")) {
            announced.url.clone()
        } else {
            format!("{own}/{traceer}/payload")
        };
        let mut resp = conn
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| Unreachable(crate::transport::http::chain(&e)))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            tracing::warn!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: payload no longer available");
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Unreachable(format!("GET payload: HTTP {}", resp.status())));
        }
        let mut body = Vec::with_capacity(usize::try_from(announced.grootte).unwrap_or(0));
        let mut hasher = Sha256::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > announced.grootte {
                        tracing::warn!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: payload larger than announced; fetched again later");
                        return Ok(None);
                    }
                    hasher.update(&chunk);
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(Unreachable(crate::transport::http::chain(&e))),
            }
        }
        let digest = hex::encode(hasher.finalize());
        let algorithm_ok = announced.checksum.algoritme.eq_ignore_ascii_case("SHA256")
            || announced.checksum.algoritme.eq_ignore_ascii_case("SHA-256");
        if body.len() as u64 != announced.grootte
            || !algorithm_ok
            || !digest.eq_ignore_ascii_case(announced.checksum.waarde.trim())
        {
            tracing::warn!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: payload does not match its size or checksum; fetched again later");
            return Ok(None);
        }
        Ok(Some(body))
    }

    /// `DELETE /berichten/{traceerId}`. 404 means it is gone already (a
    /// confirmation whose answer was lost).
    async fn confirm(&self, traceer: &str) -> Result<(), Unreachable> {
        let conn = self.conn;
        let url = format!("{}/{traceer}", super::config::pull_url(&conn.base));
        let resp = conn
            .http
            .delete(&url)
            .send()
            .await
            .map_err(|e| Unreachable(crate::transport::http::chain(&e)))?;
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Unreachable(format!("DELETE /berichten: HTTP {status}")))
        }
    }
}

enum Taken {
    Confirmed { retour: bool },
    Kept,
}
