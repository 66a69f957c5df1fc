//! One record per participant: every accepted message is applied to it, and
//! every new message is first checked against what the record already holds
//! (the berichtoverstijgende technische regels).
//!
//! [`Ingest::receive`] is the one entry for inbound iStandaarden messages,
//! whatever transport brought them (HTTP, drop folder). It checks, judges
//! against the record, applies and stores in a single transaction, and only
//! then hands back the retourbericht: a message is acknowledged only after it
//! is durably stored, and never half-applied.

pub mod access;
pub mod answers;
pub mod apply;
pub mod conversation;
pub mod deadlines;
pub mod decisions;
pub mod declared;
pub mod delivery;
pub mod exchange;
pub mod export;
pub mod grant;
pub mod import;
mod lookahead;
pub mod messages;
pub mod order;
pub mod outcome_reports;
pub mod outcome_views;
pub mod outcomes;
pub mod read;
pub mod received;
pub mod reports;
pub mod requests;
pub mod results;
pub mod retention;
pub mod review;
pub mod rules;
pub mod search;

use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::adapter::istandaard::{
    self, Checked, DecodeError, Limits, RetourSettings, encode, json,
};
use crate::finding::{Finding, Level};
use crate::mapping::TenantMappings;
use crate::schema::{Role, Schema};
use crate::store::body::Packed;
use crate::store::{Store, Tenant, new_id, now};

/// Why an inbound message was not taken in at all (no retourbericht).
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("{}", .0.bilingual())]
    Unusable(DecodeError),
    #[error(
        "the message is addressed to {receiver:?}, not to this tenant / het bericht is gericht aan {receiver:?}, niet aan deze tenant"
    )]
    WrongTenant { receiver: String },
    #[error("{0}")]
    NoRetour(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// The outcome of one inbound message.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub message_id: String,
    pub bericht: String,
    /// accepted | rejected
    pub status: String,
    /// True when this was a resend (TR056): nothing changed, same answer.
    pub duplicate: bool,
    pub retourcodes: Vec<String>,
    #[serde(skip)]
    pub retour_xml: String,
    /// The retour as stored, unpacked into `retour_xml` by
    /// [`Ingest::receive_owned`] once the writer has answered: no plain copy
    /// of the retour is held while the message waits for and is judged by
    /// the writer (a 325 answering a large declaration is as large as the
    /// declaration), and the single writer does not spend time unpacking.
    #[serde(skip)]
    pub(crate) retour_packed: Option<Packed>,
    /// Set when no retourbericht can be addressed (the header itself is
    /// unusable): the message is stored as rejected, and the sender is told
    /// directly instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_retour: Option<String>,
}

impl Received {
    /// Fills `retour_xml` from `retour_packed` (see there).
    fn unpack_retour(&mut self) -> Result<()> {
        if let Some(packed) = self.retour_packed.take() {
            let bytes = crate::store::body::unpack(packed.encoding, packed.bytes)?;
            self.retour_xml = String::from_utf8(bytes).context("the retour is not UTF-8")?;
        }
        Ok(())
    }
}

/// The ingest pipeline shared by every transport.
#[derive(Clone, Debug)]
pub struct Ingest {
    pub store: Store,
    pub schema: &'static Schema,
    pub limits: Limits,
    /// The tenants' mappings: a municipality judges a declaration on its
    /// contract with the provider ([`declared`]).
    pub mappings: Arc<TenantMappings>,
    writer: mpsc::Sender<Job>,
}

/// One checked message waiting for the writer.
struct Job {
    tenant: Tenant,
    prepared: Prepared,
    reply: oneshot::Sender<Result<Received>>,
}

impl Job {
    fn resend_key(&self) -> apply::ResendKey {
        let msg = &self.prepared.checked.message;
        let value = |path: &str| msg.value(path).unwrap_or("").to_string();
        (
            self.tenant.id.clone(),
            value("Header/Afzender"),
            msg.name().to_string(),
            value("Header/BerichtIdentificatie/Identificatie"),
        )
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// A checked message with everything the writer would otherwise compute
/// itself: the single writer is the bottleneck of the pipeline, so whatever
/// does not depend on the record is done before, in the parallel check stage.
struct Prepared {
    checked: Checked,
    /// Structural or content findings: the record is not consulted.
    structural: bool,
    /// The findings as stored, when the record adds none.
    findings_json: String,
    /// The message's bytes as stored (compressed here, not in the writer).
    raw: Packed,
    /// The retourbericht, when the record adds no findings (heenberichten only).
    retour: Option<Result<Retour, String>>,
}

/// A built retourbericht: the tree, its encoding as stored (also what is
/// answered, see [`Received::retour_packed`]) and its codes.
struct Retour {
    message: crate::message::Message,
    packed: Packed,
    codes: Vec<String>,
}

impl Prepared {
    /// `raw` is the message's bytes as stored: packed by the caller, which
    /// can then drop the plain bytes before the retour is built.
    fn new(checked: Checked, raw: Packed) -> Prepared {
        let structural = !checked.complete
            || checked
                .findings
                .iter()
                .any(|f| matches!(f.level, Level::Structure | Level::Content));
        Prepared {
            structural,
            findings_json: findings_json(&checked.findings),
            raw,
            retour: build_retour(&checked),
            checked,
        }
    }
}

/// The retour of a heenbericht with its current findings; `Err` holds why no
/// retour can be addressed. `None` for messages that get no retour.
fn build_retour(checked: &Checked) -> Option<Result<Retour, String>> {
    if checked.message.def().role != Role::Heen {
        return None;
    }
    Some(
        match istandaard::retour::build(checked, &RetourSettings::default()) {
            Ok(message) => {
                let mut codes = Vec::new();
                collect_codes(message.root(), &mut codes);
                codes.sort();
                codes.dedup();
                // The plain XML lives only while it is compressed.
                let packed = Packed::new(encode::encode(&message).as_bytes());
                Ok(Retour {
                    packed,
                    codes,
                    message,
                })
            }
            Err(e) => Err(format!("{e} / {}", e.nl())),
        },
    )
}

/// Most messages one commit carries. A commit costs one fsync (milliseconds on
/// real disks); sharing it between the messages that arrived meanwhile is what
/// lets a durable store keep up with thousands of messages a second.
const MAX_BATCH: usize = 256;

impl Ingest {
    /// Starts the ingest pipeline and its writer task (needs a tokio runtime).
    pub fn new(store: Store) -> Result<Ingest> {
        Ingest::with_mappings(store, Arc::new(TenantMappings::default()))
    }

    /// [`Ingest::new`] with the tenants' mappings (loaded once at start, like
    /// everything else that reads them).
    pub fn with_mappings(store: Store, mappings: Arc<TenantMappings>) -> Result<Ingest> {
        let (writer, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_loop(store.clone(), mappings.clone(), jobs));
        Ok(Ingest {
            store,
            schema: Schema::builtin()?,
            limits: Limits::default(),
            mappings,
            writer,
        })
    }

    /// Receives one raw message for `tenant`: check, judge, apply, store, answer.
    pub async fn receive(&self, tenant: &Tenant, raw: &[u8]) -> Result<Received, IngestError> {
        self.receive_owned(tenant, raw).await
    }

    /// [`Ingest::receive`] taking the body itself (an HTTP body): it is
    /// dropped as soon as it is checked and packed, so a message waiting for
    /// the writer no longer holds its raw bytes beside its parsed form.
    pub async fn receive_owned<R: AsRef<[u8]> + Send>(
        &self,
        tenant: &Tenant,
        raw: R,
    ) -> Result<Received, IngestError> {
        let mut received = self
            .prepare(tenant, raw)
            .await?
            .submit(self)
            .await?
            .answer()
            .await?;
        received.unpack_retour().map_err(IngestError::Store)?;
        Ok(received)
    }

    /// The first half of [`Ingest::receive_owned`]: checks `raw` and
    /// prepares what the writer stores, without touching the record (an
    /// unusable message is stored as such here). Callers that must keep an
    /// order among their messages (the VSP pull keeps VECOZO's) prepare
    /// several at once and [submit](Ready::submit) them in their order.
    pub async fn prepare<R: AsRef<[u8]> + Send>(
        &self,
        tenant: &Tenant,
        raw: R,
    ) -> Result<Ready, IngestError> {
        let checked = match istandaard::check(self.schema, raw.as_ref(), &self.limits) {
            Ok(c) => c,
            Err(e) => {
                self.store_unusable(tenant, raw.as_ref(), &e).await?;
                return Err(IngestError::Unusable(e));
            }
        };
        let receiver = answers::addressee(&checked.message)
            .unwrap_or("")
            .to_string();
        if receiver != tenant.id {
            return Err(IngestError::WrongTenant { receiver });
        }
        // Checking (and preparing what the writer stores) is done here, in
        // parallel; judging against the record, applying and storing happen
        // in the single writer, in order, so concurrent messages (and
        // resends) see each other.
        let (reply, answer) = oneshot::channel();
        // The plain body goes before the retour is built: the two need not
        // be held at once.
        let packed = Packed::new(raw.as_ref());
        drop(raw);
        let prepared = Prepared::new(checked, packed);
        let job = Job {
            tenant: tenant.clone(),
            prepared,
            reply,
        };
        Ok(Ready { job, answer })
    }
}

/// A checked message that the writer has not seen yet
/// ([`Ingest::prepare`]).
pub struct Ready {
    job: Job,
    answer: oneshot::Receiver<Result<Received>>,
}

/// A message with the writer; [`Pending::answer`] waits for its commit.
pub struct Pending {
    answer: oneshot::Receiver<Result<Received>>,
}

impl Ready {
    /// Hands the message to the writer. The writer judges and applies
    /// messages in the order they were submitted, and commits those that
    /// wait for it together: a caller that submits several before it awaits
    /// their answers gets its order kept and shares one commit among them.
    pub async fn submit(self, ingest: &Ingest) -> Result<Pending, IngestError> {
        ingest
            .writer
            .send(self.job)
            .await
            .map_err(|_| IngestError::Store(anyhow::anyhow!("the writer has stopped")))?;
        Ok(Pending {
            answer: self.answer,
        })
    }
}

impl Pending {
    /// The outcome, once the message is committed (and only then). The
    /// retour stays packed: a caller that answers with it unpacks it
    /// ([`Ingest::receive_owned`]); the VSP pull queues the stored retour
    /// and never needs its text.
    pub async fn answer(self) -> Result<Received, IngestError> {
        let received = self
            .answer
            .await
            .map_err(|_| IngestError::Store(anyhow::anyhow!("the writer dropped the message")))?
            .map_err(IngestError::Store)?;
        match &received.no_retour {
            Some(reason) => Err(IngestError::NoRetour(reason.clone())),
            None => Ok(received),
        }
    }
}

/// The writer: takes the jobs that are waiting (up to [`MAX_BATCH`]), runs
/// them in one transaction, commits once, and only then answers every job.
///
/// A job that fails must be rolled back alone. Savepoints would do that, but
/// cost two round trips per job on every batch for a failure that hardly
/// ever happens; so a batch first runs without them, and only when a job
/// fails is the whole transaction rolled back and the batch run again with a
/// savepoint per job. A failed commit fails them all, and nothing was
/// acknowledged.
async fn write_loop(store: Store, mappings: Arc<TenantMappings>, mut jobs: mpsc::Receiver<Job>) {
    let mut known = apply::Known::default();
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let outcome = match write_batch(&store, &mappings, &mut known, &mut batch, false).await {
            Ok(Some(results)) => Ok(results),
            // A careful run never asks for another; should it, every job
            // fails rather than being acknowledged without a commit.
            Ok(None) => write_batch(&store, &mappings, &mut known, &mut batch, true)
                .await
                .and_then(|r| r.context("the writer could not isolate a failing message")),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(results) => {
                for (job, r) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), messages = batch.len(), "commit failed; nothing acknowledged");
                // Each job gets its own copy of the error; an unavailable
                // database must stay recognisable (503, not 500).
                let unavailable = crate::store::is_unavailable(&e);
                for job in batch {
                    let err = if unavailable {
                        anyhow::Error::new(crate::store::Unavailable(format!("{e:#}")))
                    } else {
                        anyhow::anyhow!("commit failed: {e:#}")
                    };
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}

/// Runs `batch` in one transaction and commits. `careful`: each job in its
/// own savepoint, a failing job rolled back alone. Not careful: no
/// savepoints, and the first failing job rolls everything back and returns
/// `Ok(None)` (run again carefully). `Err` when the transaction failed.
async fn write_batch(
    store: &Store,
    mappings: &TenantMappings,
    known: &mut apply::Known,
    batch: &mut [Job],
    careful: bool,
) -> Result<Option<Vec<Result<Received>>>> {
    let mut results: Vec<Result<Received>> = Vec::with_capacity(batch.len());
    let t0 = std::time::Instant::now();
    let mut w = store.begin_write().await?;
    // Resends (TR056) are looked up for the whole batch at once; a message
    // whose key is stored, or came earlier in this batch, is looked up again
    // on its own.
    let keys: Vec<apply::ResendKey> = batch.iter().map(Job::resend_key).collect();
    let mut stored = apply::stored_keys(&mut w.tx, &keys).await?;
    let may_be_resend: Vec<bool> = keys.into_iter().map(|k| !stored.insert(k)).collect();
    let t1 = std::time::Instant::now();
    let mut at = 0;
    while at < batch.len() {
        // A run of 301s goes together (see `lookahead`); the careful pass
        // takes one job at a time.
        let end = match (careful, lookahead::takes(&batch[at])) {
            (false, true) => lookahead::run_end(batch, at),
            _ => at + 1,
        };
        let mark = known.mark();
        if careful {
            sqlx::query("SAVEPOINT job").execute(&mut *w.tx).await?;
        }
        let r = if lookahead::takes(&batch[at]) {
            lookahead::run(&mut w.tx, known, &batch[at..end], &may_be_resend[at..end]).await
        } else {
            receive_in(&mut w.tx, mappings, &mut batch[at], may_be_resend[at])
                .await
                .map(|r| vec![r])
        };
        match (r, careful) {
            (Ok(r), true) => {
                sqlx::query("RELEASE SAVEPOINT job")
                    .execute(&mut *w.tx)
                    .await?;
                results.extend(r.into_iter().map(Ok));
            }
            (Ok(r), false) => results.extend(r.into_iter().map(Ok)),
            (Err(e), true) => {
                sqlx::query("ROLLBACK TO SAVEPOINT job")
                    .execute(&mut *w.tx)
                    .await?;
                sqlx::query("RELEASE SAVEPOINT job")
                    .execute(&mut *w.tx)
                    .await?;
                known.rolled_back(mark);
                results.push(Err(e));
            }
            (Err(e), false) => {
                tracing::warn!(error = %format!("{e:#}"), "a message failed; its batch runs again job by job");
                known.abandoned();
                w.rollback().await?;
                return Ok(None);
            }
        }
        at = end;
    }
    let t2 = std::time::Instant::now();
    let c = w.commit().await;
    tracing::debug!(
        messages = batch.len(),
        careful,
        begin_us = (t1 - t0).as_micros() as u64,
        jobs_us = (t2 - t1).as_micros() as u64,
        commit_us = t2.elapsed().as_micros() as u64,
        "ingest batch"
    );
    match c {
        Ok(()) => {
            known.committed();
            Ok(Some(results))
        }
        Err(e) => {
            known.abandoned();
            Err(e)
        }
    }
}

/// Judges, applies and stores one checked message (not a 301, see
/// [`lookahead`]) inside the writer's transaction. Can run twice for the
/// same job (see [`write_batch`]). `may_be_resend`: the database may hold
/// its key (TR056).
async fn receive_in(
    tx: &mut apply::Tx,
    mappings: &TenantMappings,
    job: &mut Job,
    may_be_resend: bool,
) -> Result<Received> {
    // TR056: a resend gets the same answer and changes nothing.
    if may_be_resend {
        let (_, sender, bericht, ident) = job.resend_key();
        if let Some(prev) =
            apply::find_previous(tx, &job.tenant.id, &sender, &bericht, &ident).await?
        {
            return Ok(prev);
        }
    }
    let cross = if job.prepared.structural {
        Vec::new()
    } else {
        let msg = &job.prepared.checked.message;
        rules::check(tx, &job.tenant, msg, mappings.for_tenant(&job.tenant.id)).await?
    };
    let verdict = Verdict::of_mut(&mut job.prepared, cross);
    let job = &*job;
    let tenant = &job.tenant;
    let p = &job.prepared;
    let msg = &p.checked.message;
    // An accepted message creates or updates its participant first, so both
    // messages are stored with it at once.
    let participant_id = if verdict.accepted() {
        apply::participant_of(tx, tenant, msg).await?
    } else {
        apply::participant_id_for(tx, &tenant.id, msg).await?
    };
    apply::insert_messages(tx, &verdict.rows(job, participant_id.as_deref())?).await?;
    // A municipality keeps what its 325 approved and rejected, line by
    // line, whether or not it rejected lines.
    if !p.structural
        && let Some(r) = verdict.retour(p)
    {
        declared::record(tx, tenant, msg, &verdict.message_id, &r.message).await?;
        decisions::mark(
            tx,
            tenant,
            msg,
            &verdict.message_id,
            &verdict.retour_id,
            &r.message,
            mappings.for_tenant(&tenant.id),
        )
        .await?;
    }
    if verdict.accepted() {
        apply::apply(tx, tenant, msg, &verdict.message_id, participant_id).await?;
    }
    Ok(verdict.received(p))
}

/// A message judged against the record: how it is stored and answered.
struct Verdict {
    /// The retour rebuilt with the record's findings; `None` when the record
    /// added none and the check stage's one holds.
    rebuilt: Option<Option<Result<Retour, String>>>,
    findings: String,
    retourcodes: Vec<String>,
    no_retour: Option<String>,
    accepted: bool,
    message_id: String,
    retour_id: String,
}

impl Verdict {
    /// The verdict on `p` with the record's findings `cross` added after its
    /// own, judged on a copy (the 301 lookahead: small messages, borrowed
    /// for the whole run).
    fn of(p: &Prepared, cross: &[Finding]) -> Verdict {
        if cross.is_empty() {
            return Verdict::judged(p, &p.checked, None, p.findings_json.clone());
        }
        let mut c = p.checked.clone();
        c.findings.extend(cross.iter().cloned());
        let (rebuilt, findings) = (build_retour(&c), findings_json(&c.findings));
        Verdict::judged(p, &c, Some(rebuilt), findings)
    }

    /// [`Verdict::of`] without the copies: `cross` is moved onto `p`'s
    /// findings only while the verdict is made and taken off again (the job
    /// may be judged a second time, see [`write_batch`]). A copy of the
    /// checked message costs as much as the message, and one of the
    /// findings as much again for a declaration whose every line the record
    /// rejects; those can be declarations of many megabytes.
    fn of_mut(p: &mut Prepared, cross: Vec<Finding>) -> Verdict {
        if cross.is_empty() {
            return Verdict::of(p, &cross);
        }
        let own = p.checked.findings.len();
        p.checked.findings.extend(cross);
        let (rebuilt, findings) = (build_retour(&p.checked), findings_json(&p.checked.findings));
        let verdict = Verdict::judged(p, &p.checked, Some(rebuilt), findings);
        p.checked.findings.truncate(own);
        verdict
    }

    /// The verdict on `p` judged as `checked` (its findings and the record's).
    fn judged(
        p: &Prepared,
        checked: &Checked,
        rebuilt: Option<Option<Result<Retour, String>>>,
        findings: String,
    ) -> Verdict {
        let retour = rebuilt.as_ref().unwrap_or(&p.retour);
        let no_retour = match retour {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        };
        let retourcodes = match retour {
            Some(Ok(r)) => r.codes.clone(),
            _ => finding_codes(checked),
        };
        Verdict {
            accepted: checked.is_valid() && no_retour.is_none(),
            rebuilt,
            findings,
            retourcodes,
            no_retour,
            message_id: new_id(),
            retour_id: new_id(),
        }
    }

    fn accepted(&self) -> bool {
        self.accepted
    }

    fn status(&self) -> &'static str {
        if self.accepted {
            "accepted"
        } else {
            "rejected"
        }
    }

    fn retour<'a>(&'a self, p: &'a Prepared) -> Option<&'a Retour> {
        match self.rebuilt.as_ref().unwrap_or(&p.retour) {
            Some(Ok(r)) => Some(r),
            _ => None,
        }
    }

    /// The `messages` rows: the message and, when it has one, its retour.
    fn rows<'a>(
        &'a self,
        job: &'a Job,
        participant_id: Option<&'a str>,
    ) -> Result<Vec<apply::MessageRow<'a>>> {
        let p = &job.prepared;
        let tenant = job.tenant.id.as_str();
        let retourcodes = serde_json::to_string(&self.retourcodes)?;
        let mut rows = Vec::with_capacity(2);
        if let Some(r) = self.retour(p) {
            rows.push(apply::MessageRow {
                direction: "out",
                participant_id,
                status: "sent",
                retourcodes: retourcodes.clone(),
                answer_of: Some(&self.message_id),
                ..apply::MessageRow::of(&r.message, &self.retour_id, tenant, &r.packed)
            });
        }
        rows.insert(
            0,
            apply::MessageRow {
                participant_id,
                status: self.status(),
                retourcodes,
                findings: self.findings.as_str().into(),
                ..apply::MessageRow::of(&p.checked.message, &self.message_id, tenant, &p.raw)
            },
        );
        Ok(rows)
    }

    fn received(&self, p: &Prepared) -> Received {
        Received {
            message_id: self.message_id.clone(),
            bericht: p.checked.message.name().to_string(),
            status: self.status().to_string(),
            duplicate: false,
            retourcodes: self.retourcodes.clone(),
            retour_xml: String::new(),
            retour_packed: self.retour(p).map(|r| r.packed.clone()),
            no_retour: self.no_retour.clone(),
        }
    }
}

impl Ingest {
    /// Input we cannot read is still kept (raw), so nothing is lost.
    async fn store_unusable(&self, tenant: &Tenant, raw: &[u8], err: &DecodeError) -> Result<()> {
        let findings =
            serde_json::to_string(&[serde_json::json!({"nl": err.nl(), "en": err.to_string()})])?;
        let mut w = self.store.begin_write().await?;
        {
            let raw = Packed::new(raw);
            sqlx::query(
                    "INSERT INTO messages (id, tenant_id, direction, status, findings, raw, raw_encoding, created_at) \
                     VALUES ($1, $2, 'in', 'unusable', $3, $4, $5, $6)",
                )
                .bind(new_id())
                .bind(&tenant.id)
                .bind(&findings)
                .bind(raw.bytes.as_slice())
                .bind(raw.encoding)
                .bind(now())
                .execute(&mut *w.tx)
                .await
                .context("storing unusable input")?;
        }
        w.commit().await
    }
}

/// The retourcodes of a message without retour (retours, 325): those of
/// its findings, sorted, once each.
fn finding_codes(checked: &Checked) -> Vec<String> {
    let mut codes: Vec<String> = checked
        .findings
        .iter()
        .map(|f| f.retourcode.clone())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

fn collect_codes(node: crate::message::NodeRef<'_>, out: &mut Vec<String>) {
    for c in node.children() {
        if c.name() == "RetourCode" {
            out.push(c.text().to_string());
        } else if c.class().is_some() {
            collect_codes(c, out);
        }
    }
}

/// JSON rendering of a stored message, for `GET /messages/{id}`.
pub fn parsed_json(checked: &Checked) -> String {
    json::to_json(&checked.message).to_string()
}

/// Encoded XML of a message (re-exported for transports).
pub fn xml_of(msg: &crate::message::Message) -> String {
    encode::encode(msg)
}

/// Findings as stored: JSON without the internal node ids.
pub fn findings_json(findings: &[Finding]) -> String {
    serde_json::to_string(findings).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests;
