//! One record per participant: every accepted message is applied to it, and
//! every new message is first checked against what the record already holds
//! (the berichtoverstijgende technische regels).
//!
//! [`Ingest::receive`] is the one entry for inbound iStandaarden messages,
//! whatever transport brought them (HTTP, drop folder). It checks, judges
//! against the record, applies and stores in a single transaction, and only
//! then hands back the retourbericht: a message is acknowledged only after it
//! is durably stored, and never half-applied.

pub mod apply;
pub mod rules;

use anyhow::{Context, Result};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::adapter::istandaard::{
    self, Checked, DecodeError, Limits, RetourSettings, encode, json,
};
use crate::finding::{Finding, Level};
use crate::schema::{Role, Schema};
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
    /// Set when no retourbericht can be addressed (the header itself is
    /// unusable): the message is stored as rejected, and the sender is told
    /// directly instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_retour: Option<String>,
}

/// The ingest pipeline shared by every transport.
#[derive(Clone, Debug)]
pub struct Ingest {
    pub store: Store,
    pub schema: &'static Schema,
    pub limits: Limits,
    writer: mpsc::Sender<Job>,
}

/// One checked message waiting for the writer.
struct Job {
    tenant: Tenant,
    raw: Vec<u8>,
    checked: Checked,
    reply: oneshot::Sender<Result<Received>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// Most messages one commit carries. A commit costs one fsync (milliseconds on
/// real disks); sharing it between the messages that arrived meanwhile is what
/// lets a durable store keep up with thousands of messages a second.
const MAX_BATCH: usize = 256;

impl Ingest {
    /// Starts the ingest pipeline and its writer task (needs a tokio runtime).
    pub fn new(store: Store) -> Result<Ingest> {
        let (writer, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_loop(store.clone(), jobs));
        Ok(Ingest {
            store,
            schema: Schema::builtin()?,
            limits: Limits::default(),
            writer,
        })
    }

    /// Receives one raw message for `tenant`: check, judge, apply, store, answer.
    pub async fn receive(&self, tenant: &Tenant, raw: &[u8]) -> Result<Received, IngestError> {
        let mut checked = match istandaard::check(self.schema, raw, &self.limits) {
            Ok(c) => c,
            Err(e) => {
                self.store_unusable(tenant, raw, &e).await?;
                return Err(IngestError::Unusable(e));
            }
        };
        // A retourbericht repeats its heenbericht's header, so it is for the
        // heenbericht's Afzender; every other message is for its Ontvanger.
        let addressee = match checked.message.def().role {
            Role::Retour => "Header/Afzender",
            Role::Heen | Role::Antwoord => "Header/Ontvanger",
        };
        let receiver = checked.message.value(addressee).unwrap_or("").to_string();
        if receiver != tenant.id {
            return Err(IngestError::WrongTenant { receiver });
        }
        // Checking is done here, in parallel; judging against the record,
        // applying and storing happen in the single writer, in order, so
        // concurrent messages (and resends) see each other.
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant: tenant.clone(),
            raw: raw.to_vec(),
            checked: std::mem::replace(&mut checked, placeholder(self.schema)?),
            reply,
        };
        self.writer
            .send(job)
            .await
            .map_err(|_| IngestError::Store(anyhow::anyhow!("the writer has stopped")))?;
        let received = answer
            .await
            .map_err(|_| IngestError::Store(anyhow::anyhow!("the writer dropped the message")))?
            .map_err(IngestError::Store)?;
        match &received.no_retour {
            Some(reason) => Err(IngestError::NoRetour(reason.clone())),
            None => Ok(received),
        }
    }
}

/// An empty checked message, to move the real one into a job.
fn placeholder(schema: &'static Schema) -> Result<Checked, IngestError> {
    let key = schema
        .by_name("WMO301")
        .ok_or_else(|| IngestError::Store(anyhow::anyhow!("schema without WMO301")))?;
    Ok(Checked {
        message: crate::message::Message::new(schema, key),
        findings: Vec::new(),
        complete: false,
    })
}

/// The writer: takes the jobs that are waiting (up to [`MAX_BATCH`]), runs each
/// in its own savepoint inside one transaction, commits once, and only then
/// answers every job. A job that fails is rolled back alone; a failed commit
/// fails them all, and nothing was acknowledged.
async fn write_loop(store: Store, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut results: Vec<Result<Received>> = Vec::with_capacity(batch.len());
        let committed = async {
            let mut w = store.begin_write().await?;
            for job in &mut batch {
                sqlx::query("SAVEPOINT job").execute(&mut *w.tx).await?;
                let r = receive_in(&mut w.tx, &job.tenant, &job.raw, &mut job.checked).await;
                if r.is_ok() {
                    sqlx::query("RELEASE SAVEPOINT job")
                        .execute(&mut *w.tx)
                        .await?;
                } else {
                    sqlx::query("ROLLBACK TO SAVEPOINT job")
                        .execute(&mut *w.tx)
                        .await?;
                    sqlx::query("RELEASE SAVEPOINT job")
                        .execute(&mut *w.tx)
                        .await?;
                }
                results.push(r);
            }
            w.commit().await
        }
        .await;
        match committed {
            Ok(()) => {
                for (job, r) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), messages = batch.len(), "commit failed; nothing acknowledged");
                for job in batch {
                    let _ = job.reply.send(Err(anyhow::anyhow!("commit failed: {e:#}")));
                }
            }
        }
    }
}

/// Judges, applies and stores one checked message inside the writer's transaction.
async fn receive_in(
    tx: &mut apply::Tx,
    tenant: &Tenant,
    raw: &[u8],
    checked: &mut Checked,
) -> Result<Received> {
    let out = {
        {
            let msg = &checked.message;
            let sender = msg.value("Header/Afzender").unwrap_or("").to_string();
            let ident = msg
                .value("Header/BerichtIdentificatie/Identificatie")
                .unwrap_or("")
                .to_string();
            // TR056: a resend gets the same answer and changes nothing.
            if let Some(prev) =
                apply::find_previous(tx, &tenant.id, &sender, msg.name(), &ident).await?
            {
                return Ok(prev);
            }
            let tenant = tenant.clone();
            let structural = !checked.complete
                || checked
                    .findings
                    .iter()
                    .any(|f| matches!(f.level, Level::Structure | Level::Content));
            let cross = if structural {
                Vec::new()
            } else {
                rules::check(tx, &tenant, msg).await?
            };
            checked.findings.extend(cross);
            let checked = &*checked;
            let msg = &checked.message;
            let accepted = checked.is_valid();
            let message_id = new_id();
            let participant_id = apply::participant_id_for(tx, &tenant.id, msg).await?;
            // The retour is built once: its tree gives the codes we record,
            // its encoding is what we store and send.
            let mut no_retour = None;
            let retour = match msg.def().role {
                Role::Heen => {
                    match istandaard::retour::build(checked, &RetourSettings::default()) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            no_retour = Some(format!("{e} / {}", e.nl()));
                            None
                        }
                    }
                }
                _ => None,
            };
            let accepted = accepted && no_retour.is_none();
            let retour_xml = retour.as_ref().map(encode::encode).unwrap_or_default();
            let retourcodes = retourcodes_of(checked, retour.as_ref());
            apply::insert_message(
                tx,
                apply::NewMessage {
                    id: &message_id,
                    tenant: &tenant.id,
                    direction: "in",
                    checked,
                    participant_id: participant_id.as_deref(),
                    status: if accepted { "accepted" } else { "rejected" },
                    retourcodes: &retourcodes,
                    raw,
                    answer_of: None,
                },
            )
            .await?;
            // Applying may have created the participant: the retour belongs
            // to its message history as well.
            let participant_id = if accepted {
                apply::apply(tx, &tenant, msg, &message_id)
                    .await?
                    .or(participant_id)
            } else {
                participant_id
            };
            if let Some(message) = retour {
                let retour = Checked {
                    message,
                    findings: Vec::new(),
                    complete: true,
                };
                apply::insert_message(
                    tx,
                    apply::NewMessage {
                        id: &new_id(),
                        tenant: &tenant.id,
                        direction: "out",
                        checked: &retour,
                        participant_id: participant_id.as_deref(),
                        status: "sent",
                        retourcodes: &retourcodes,
                        raw: retour_xml.as_bytes(),
                        answer_of: Some(&message_id),
                    },
                )
                .await?;
            }
            Received {
                message_id,
                bericht: msg.name().to_string(),
                status: if accepted { "accepted" } else { "rejected" }.to_string(),
                duplicate: false,
                retourcodes,
                retour_xml,
                no_retour,
            }
        }
    };
    Ok(out)
}

impl Ingest {
    /// Input we cannot read is still kept (raw), so nothing is lost.
    async fn store_unusable(&self, tenant: &Tenant, raw: &[u8], err: &DecodeError) -> Result<()> {
        let findings =
            serde_json::to_string(&[serde_json::json!({"nl": err.nl(), "en": err.to_string()})])?;
        let mut w = self.store.begin_write().await?;
        {
            sqlx::query(
                    "INSERT INTO messages (id, tenant_id, direction, status, findings, raw, created_at) \
                     VALUES ($1, $2, 'in', 'unusable', $3, $4, $5)",
                )
                .bind(new_id())
                .bind(&tenant.id)
                .bind(&findings)
                .bind(raw)
                .bind(now())
                .execute(&mut *w.tx)
                .await
                .context("storing unusable input")?;
        }
        w.commit().await
    }
}

/// The retourcodes a message got: those in the retour we wrote, or for
/// messages without retour (retours, 325) those of the findings.
fn retourcodes_of(checked: &Checked, retour: Option<&crate::message::Message>) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    if let Some(r) = retour {
        collect_codes(r.root(), &mut codes);
    } else {
        codes.extend(checked.findings.iter().map(|f| f.retourcode.clone()));
    }
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
