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
//!
//! A list is taken in chunks (at most [`CHUNK`] messages and
//! [`CHUNK_BYTES`] announced bytes): the chunk's payloads are downloaded
//! and checked several at once, then handed to the ingest's writer in the
//! list's order, so the record applies them in the order VECOZO gives them
//! (oldest first: a municipality's second 301 for a client after its
//! first) and commits them together; the chunk's identifiers and retours
//! are stored in one more transaction, and only then are its messages
//! confirmed, several at once. A message that cannot be fetched ends the
//! chunk there: what follows it waits for the next round rather than
//! overtake it.

use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Connection;
use super::push::{Referentiegegevens, Routeringgegevens};
use crate::outbox::Outbox;
use crate::record::exchange::{self, Ids};
use crate::record::{Ingest, IngestError, Pending, Ready};
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

/// Messages of a list taken in together: downloaded and checked at once,
/// committed by the writer in one transaction, their identifiers stored in
/// one more, and then confirmed.
pub const CHUNK: usize = 64;

/// Announced bytes one chunk holds at most (a larger message goes alone):
/// a message costs several times its size while it is checked and judged,
/// so a chunk of 25 MB declarations must not hold many at once.
pub const CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// Downloads, and confirmations, under way at once.
const AT_ONCE: usize = 8;

/// The pull context of one tenant.
#[derive(Clone)]
pub struct Puller {
    pub conn: Arc<Connection>,
    pub ingest: Ingest,
    /// Woken as soon as a chunk's retours are queued.
    pub outbox: Outbox,
    /// Counts each message as it is confirmed or kept, also in a round
    /// that stops early.
    pub metrics: Arc<Metrics>,
}

/// A listed message after its download and check, before the writer.
enum Fetched {
    /// Taken in before (its confirmation was lost): only confirmed.
    Known(String),
    /// Checked; the writer has not seen it.
    Ready(Box<Ready>),
    /// Stored without a retour (unusable): confirmed, since fetching it
    /// again would only find the same.
    Stored,
    /// Left for a later round (checksum, size, addressed elsewhere).
    Kept,
}

/// A listed message after the writer.
enum Step {
    Known(String),
    Pending(Pending),
    Stored,
    Kept,
}

impl Puller {
    /// One list of at most `batch` messages, each taken in and confirmed.
    pub async fn round(&self) -> Result<Round, Unreachable> {
        let conn = &self.conn;
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
        let mut rest = list;
        while !rest.is_empty() {
            let tail = rest.split_off(chunk_len(&rest));
            self.chunk(rest, &mut round).await?;
            rest = tail;
        }
        Ok(round)
    }

    /// Takes in and confirms one chunk, in the list's order.
    async fn chunk(
        &self,
        metas: Vec<PulledMetadata>,
        round: &mut Round,
    ) -> Result<(), Unreachable> {
        let conn = &self.conn;
        let tenant = Tenant {
            id: conn.tenant.clone(),
            kind: TenantKind::from_id(&conn.tenant).map_err(|e| Unreachable(e.to_string()))?,
        };
        // Downloaded and checked, several at once.
        let metas = Arc::new(metas);
        let mut tasks = JoinSet::new();
        let permits = Arc::new(Semaphore::new(AT_ONCE));
        for i in 0..metas.len() {
            let (me, metas, tenant, permits) =
                (self.clone(), metas.clone(), tenant.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (i, me.fetch(&tenant, &metas[i]).await)
            });
        }
        let mut fetched: Vec<Option<Result<Fetched, Unreachable>>> =
            (0..metas.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (i, f) = done.map_err(|e| Unreachable(format!("pull task: {e}")))?;
            fetched[i] = Some(f);
        }
        // To the writer in the list's order; a failure ends the chunk there
        // (what follows must not overtake it). A message found wanting as
        // it was fetched still counts as kept, as it would have alone.
        let mut steps = Vec::with_capacity(metas.len());
        let mut failure = None;
        for f in fetched {
            let f = f.unwrap_or_else(|| Err(Unreachable("pull task lost".into())));
            if failure.is_some() {
                if matches!(f, Ok(Fetched::Kept)) {
                    self.kept(round);
                }
                continue;
            }
            steps.push(match f {
                Ok(Fetched::Known(id)) => Step::Known(id),
                Ok(Fetched::Ready(ready)) => match ready.submit(&self.ingest).await {
                    Ok(p) => Step::Pending(p),
                    Err(e) => {
                        failure = Some(Unreachable(format!("{e:#}")));
                        continue;
                    }
                },
                Ok(Fetched::Stored) => Step::Stored,
                Ok(Fetched::Kept) => Step::Kept,
                Err(e) => {
                    failure = Some(e);
                    continue;
                }
            });
        }
        // Committed: the writer answers each only after its commit.
        let mut taken = Vec::new();
        let mut confirm = Vec::new();
        let mut stored_failed = false;
        for (meta, step) in metas.iter().zip(steps) {
            let traceer = meta.referentiegegevens.traceer_id.clone();
            let id = match step {
                Step::Kept => {
                    self.kept(round);
                    continue;
                }
                // After a store failure: left for the next round.
                _ if stored_failed => continue,
                Step::Known(id) => Some(id),
                Step::Pending(p) => match p.answer().await {
                    Ok(r) => Some(r.message_id),
                    Err(IngestError::NoRetour(_)) | Err(IngestError::Unusable(_)) => {
                        tracing::warn!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: pulled message stored as unusable");
                        None
                    }
                    Err(IngestError::WrongTenant { .. }) => {
                        self.kept(round);
                        continue;
                    }
                    Err(IngestError::Store(e)) => {
                        stored_failed = true;
                        failure.get_or_insert(Unreachable(format!("{e:#}")));
                        continue;
                    }
                },
                Step::Stored => None,
            };
            if let Some(id) = id {
                taken.push((id, pulled_ids(meta)));
            }
            confirm.push(traceer);
        }
        // Their identifiers kept and their retours queued, in one
        // transaction; the outbox can start on them at once.
        if !taken.is_empty() {
            let queued = exchange::taken_in(
                &self.ingest.store,
                &conn.tenant,
                &taken,
                exchange::ReplyTo {
                    kind: crate::outbox::TARGET_VSP,
                    target: &conn.base,
                },
            )
            .await
            .map_err(|e| Unreachable(format!("{e:#}")))?;
            round.retours += queued.len();
            if !queued.is_empty() {
                self.outbox.wake();
            }
        }
        crate::transport::fault(FAULT_ENV, "committed");
        // Confirmed, several at once: everything here is committed.
        let mut confirms = JoinSet::new();
        let permits = Arc::new(Semaphore::new(AT_ONCE));
        for traceer in confirm {
            let (me, permits) = (self.clone(), permits.clone());
            confirms.spawn(async move {
                let _permit = permits.acquire_owned().await;
                me.confirm(&traceer).await
            });
        }
        while let Some(done) = confirms.join_next().await {
            match done.map_err(|e| Unreachable(format!("confirm task: {e}"))) {
                Ok(Ok(())) => {
                    round.confirmed += 1;
                    self.metrics.record_pulled("confirmed", 1);
                }
                Ok(Err(e)) | Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn kept(&self, round: &mut Round) {
        round.kept += 1;
        self.metrics.record_pulled("kept", 1);
    }

    /// Downloads and checks one listed message; nothing reaches the record.
    async fn fetch(&self, tenant: &Tenant, meta: &PulledMetadata) -> Result<Fetched, Unreachable> {
        let conn = &self.conn;
        let traceer = meta.referentiegegevens.traceer_id.as_str();
        if uuid::Uuid::parse_str(traceer).is_err() {
            tracing::warn!(tenant = %conn.tenant, "vsp: a listed message has no usable traceerId; left alone");
            return Ok(Fetched::Kept);
        }
        let known = exchange::find_pulled(self.ingest.store.pool(), &conn.tenant, traceer)
            .await
            .map_err(|e| Unreachable(format!("{e:#}")))?;
        if let Some(id) = known {
            return Ok(Fetched::Known(id));
        }
        let Some(payload) = self.download(meta).await? else {
            return Ok(Fetched::Kept);
        };
        match self.ingest.prepare(tenant, payload).await {
            Ok(ready) => Ok(Fetched::Ready(Box::new(ready))),
            Err(IngestError::NoRetour(_)) | Err(IngestError::Unusable(_)) => {
                tracing::warn!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: pulled message stored as unusable");
                Ok(Fetched::Stored)
            }
            Err(IngestError::WrongTenant { .. }) => {
                tracing::error!(tenant = %conn.tenant, traceer_id = %traceer, "vsp: pulled message is addressed to another party; left unconfirmed at VECOZO");
                Ok(Fetched::Kept)
            }
            Err(IngestError::Store(e)) => Err(Unreachable(format!("{e:#}"))),
        }
    }

    /// The payload, or `None` when what arrived is not what the metadata
    /// announced (left for a later round).
    async fn download(&self, meta: &PulledMetadata) -> Result<Option<Vec<u8>>, Unreachable> {
        let conn = &self.conn;
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
        let conn = &self.conn;
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

/// How many of `list` (not empty) the next chunk takes.
fn chunk_len(list: &[PulledMetadata]) -> usize {
    let mut bytes = 0u64;
    let mut n = 0;
    for meta in list.iter().take(CHUNK) {
        bytes = bytes.saturating_add(meta.basisgegevens.payload.grootte);
        if n > 0 && bytes > CHUNK_BYTES {
            break;
        }
        n += 1;
    }
    n.max(1)
}

/// The exchange's identifiers of a listed message, as the record keeps them.
fn pulled_ids(meta: &PulledMetadata) -> Ids {
    let refs = &meta.referentiegegevens;
    Ids {
        conversatie_id: refs.conversatie_id.clone(),
        traceer_id: refs.traceer_id.clone(),
        als_antwoord_op: refs.als_antwoord_op.clone(),
    }
}
