//! The outbox: the one way out for every message loket sends, whichever
//! stage produced it (a declaration run, a request the provider composed).
//!
//! A producer calls [`enqueue`] inside its own transaction, so the message,
//! its outbox row and the record changes that go with it (the `requests` row
//! of a 315/317, the prestaties of a 323) commit together or not at all.
//! Nothing is sent before that commit: the [`Worker`] only sees committed
//! rows. After committing, the producer calls [`Outbox::wake`] so the message
//! leaves at once instead of at the next poll.
//!
//! States: `queued` -> `sending` -> `sent` | `failed`, and `failed` -> `queued`
//! by hand ([`retry`], `POST /outbox/{id}/retry`). A worker claims a due row
//! by moving it to `sending` with a lease; a worker that dies mid-send leaves
//! the row `sending` with a lease that runs out, and the next claim sends the
//! message again. That resend is harmless: the receiver checks the
//! BerichtIdentificatie (TR056) and answers a message it already has with the
//! same retourbericht, changing nothing; loket's own `POST /messages` does
//! exactly that. Sending at least once and letting TR056 make it exactly once
//! is what lets the outbox never hold a lock or a transaction across the
//! network.
//!
//! Per counterpart (tenant and target) messages leave in the order they were
//! queued, one at a time: a 307 stop must not overtake the 305 start it
//! ends, and while a counterpart is down only its oldest message probes it.
//!
//! The delivery itself is a transport ([`crate::transport::http`],
//! [`crate::transport::outfolder`]); its target is taken from the financier's
//! mapping when the message is queued, so a mapping changed later does not
//! redirect a message already on its way.

pub(crate) mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use sqlx::Row;
use thiserror::Error;
use tokio::sync::Notify;

use crate::adapter::istandaard::{Checked, encode};
use crate::mapping::{Delivery, Financier};
use crate::message::Message;
use crate::record::Ingest;
use crate::record::apply::{self, NewMessage, Tx};
use crate::server::metrics::Metrics;
use crate::store::{Store, new_id, now};

pub use worker::Worker;

/// Outbox row states, as stored.
pub const QUEUED: &str = "queued";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const STATES: [&str; 4] = [QUEUED, SENDING, SENT, FAILED];

/// One message on its way out.
pub struct Outgoing<'a> {
    /// The tenant sending it; must be the message's Afzender.
    pub tenant_id: &'a str,
    /// Where it goes: its delivery is copied into the outbox row now.
    pub financier: &'a Financier,
    /// The participant it is about, for the record's message history.
    pub participant_id: Option<&'a str>,
    /// The message, already checked by the producer.
    pub message: &'a Message,
}

/// A message with this BerichtIdentificatie was queued before (TR056: it is
/// unique per berichtsoort for the sender).
#[derive(Debug, Error)]
#[error(
    "{bericht} met BerichtIdentificatie {identificatie} staat al in de outbox ({message_id}) / {bericht} with BerichtIdentificatie {identificatie} is already in the outbox ({message_id})"
)]
pub struct AlreadyQueued {
    pub message_id: String,
    pub bericht: String,
    pub identificatie: String,
}

const IDENT: &str = "Header/BerichtIdentificatie/Identificatie";

/// Stores the message (a `messages` row, direction `out`, status `queued`,
/// raw = the encoded XML) and its outbox row inside the producer's
/// transaction; returns the `messages.id`, which is also the outbox id.
///
/// A WMO315/JW315 or WMO317/JW317 also gets its `requests` rows (one per
/// ReferentieAanbieder, [`crate::record::requests::record`]), so the
/// allocation that answers it can be matched (TR379). Fails with [`AlreadyQueued`] when the tenant already has this
/// berichtsoort with this BerichtIdentificatie.
pub async fn enqueue(tx: &mut Tx, out: Outgoing<'_>) -> Result<String> {
    let msg = out.message;
    let bericht = msg.name();
    let ident = msg
        .value(IDENT)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow!("{bericht} has no BerichtIdentificatie"))?;
    let sender = msg.value("Header/Afzender").unwrap_or_default();
    let receiver = msg.value("Header/Ontvanger").unwrap_or_default();
    // A wrong Afzender would be refused by the receiver anyway; a wrong
    // Ontvanger would carry a client's data to the wrong municipality, so
    // both are refused before anything is stored.
    if sender != out.tenant_id {
        bail!(
            "{bericht}: Afzender {sender:?} is not the sending tenant {:?}",
            out.tenant_id
        );
    }
    if receiver != out.financier.key.code {
        bail!(
            "{bericht}: Ontvanger {receiver:?} is not financier {}",
            out.financier.key
        );
    }
    if let Some(message_id) = find_queued(tx, out.tenant_id, sender, bericht, ident).await? {
        return Err(AlreadyQueued {
            message_id,
            bericht: bericht.to_string(),
            identificatie: ident.to_string(),
        }
        .into());
    }
    let xml = encode::encode(msg);
    let id = new_id();
    // insert_message stores what a Checked holds; an outgoing message has
    // passed the producer's checks, so it goes in without findings.
    let checked = Checked {
        message: msg.clone(),
        findings: Vec::new(),
        complete: true,
    };
    apply::insert_message(
        tx,
        NewMessage {
            id: &id,
            tenant: out.tenant_id,
            direction: "out",
            checked: &checked,
            participant_id: out.participant_id,
            status: QUEUED,
            retourcodes: &[],
            raw: xml.as_bytes(),
            answer_of: None,
        },
    )
    .await
    .with_context(|| format!("storing outgoing {bericht}"))?;
    insert_row(
        tx,
        &id,
        out.tenant_id,
        out.financier,
        bericht,
        ident,
        FORMAT_ISTANDAARD,
    )
    .await?;
    crate::record::requests::record(tx, out.tenant_id, msg, &id, out.participant_id).await?;
    Ok(id)
}

/// Formats of outgoing documents (`outbox.format`): what the worker does
/// with an answer depends on it.
pub const FORMAT_ISTANDAARD: &str = "istandaard";
pub const FORMAT_UBL: &str = "ubl";

/// A document on its way out that is not an iStandaarden message (a UBL
/// invoice or credit note): already encoded and checked by its producer.
pub struct OutgoingDocument<'a> {
    pub tenant_id: &'a str,
    pub financier: &'a Financier,
    /// `Invoice`, `CreditNote`.
    pub bericht: &'a str,
    /// The document's own number: unique per tenant and kind, like a
    /// BerichtIdentificatie, and the name of the file a folder gets.
    pub identificatie: &'a str,
    /// Issue date (YYYY-MM-DD).
    pub dagtekening: &'a str,
    pub standard: &'a str,
    pub format: &'a str,
    pub raw: &'a [u8],
    /// loket's JSON rendering, for `GET /messages/{id}`.
    pub parsed: String,
}

/// Stores a document (its `messages` row and its outbox row) in the
/// producer's transaction, like [`enqueue`]; returns the `messages.id`.
/// The same document number twice is refused ([`AlreadyQueued`]).
pub async fn enqueue_document(tx: &mut Tx, out: OutgoingDocument<'_>) -> Result<String> {
    if let Some(message_id) = find_queued(
        tx,
        out.tenant_id,
        out.tenant_id,
        out.bericht,
        out.identificatie,
    )
    .await?
    {
        return Err(AlreadyQueued {
            message_id,
            bericht: out.bericht.to_string(),
            identificatie: out.identificatie.to_string(),
        }
        .into());
    }
    let id = new_id();
    let raw = crate::store::body::Packed::new(out.raw);
    let row = apply::MessageRow {
        id: &id,
        tenant: out.tenant_id,
        direction: "out",
        standard: out.standard,
        bericht: out.bericht,
        sender: Some(out.tenant_id),
        receiver: Some(&out.financier.key.code),
        identificatie: Some(out.identificatie),
        dagtekening: Some(out.dagtekening),
        participant_id: None,
        status: QUEUED,
        retourcodes: "[]".to_string(),
        findings: "[]".into(),
        parsed: Some(out.parsed),
        raw: &raw,
        answer_of: None,
    };
    apply::insert_messages(tx, &[row])
        .await
        .with_context(|| format!("storing outgoing {}", out.bericht))?;
    insert_row(
        tx,
        &id,
        out.tenant_id,
        out.financier,
        out.bericht,
        out.identificatie,
        out.format,
    )
    .await?;
    Ok(id)
}

/// The outbox row of a stored message: its target copied from the
/// financier's delivery now, queued, due at once.
async fn insert_row(
    tx: &mut Tx,
    id: &str,
    tenant_id: &str,
    financier: &Financier,
    bericht: &str,
    ident: &str,
    format: &str,
) -> Result<()> {
    let (target_kind, target, token_env) = match &financier.delivery {
        Delivery::Http { url, token_env } => ("http", url.clone(), token_env.clone()),
        Delivery::Vsp(env) => (TARGET_VSP, env.base(), None),
        // The endpoint and certificate are the tenant's `[[stuf]]`; the
        // row keeps the edition this counterpart is written in.
        Delivery::Stuf(edition) => (TARGET_STUF, edition.as_str().to_string(), None),
        Delivery::Folder(dir) => (
            "folder",
            dir.to_str()
                .ok_or_else(|| anyhow!("folder {} is not UTF-8", dir.display()))?
                .to_string(),
            None,
        ),
    };
    let row = NewRow {
        id,
        tenant_id,
        financier: &financier.key.to_string(),
        bericht,
        ident,
        target_kind,
        target: &target,
        token_env: token_env.as_deref(),
        format,
    };
    // The message was stored a moment ago with a new id: a row for it
    // already would be a bug, not a resend.
    if !row.insert(tx).await? {
        bail!("message {id} already has an outbox row");
    }
    Ok(())
}

/// An outbox row as it is first stored: queued, due now.
struct NewRow<'a> {
    id: &'a str,
    tenant_id: &'a str,
    /// The counterpart as a mapping key (`wmo:0363`).
    financier: &'a str,
    bericht: &'a str,
    ident: &'a str,
    target_kind: &'a str,
    target: &'a str,
    token_env: Option<&'a str>,
    format: &'a str,
}

impl NewRow<'_> {
    /// Stores the row; false when the message had one already.
    async fn insert(&self, tx: &mut Tx) -> Result<bool> {
        let ts = now();
        let done = sqlx::query(
            "INSERT INTO outbox (message_id, tenant_id, financier, bericht, identificatie, target_kind, target, token_env, \
             state, attempts, backoff_from, next_attempt_at, created_at, updated_at, format) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, $10, $10, $10, $11) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(self.id)
        .bind(self.tenant_id)
        .bind(self.financier)
        .bind(self.bericht)
        .bind(self.ident)
        .bind(self.target_kind)
        .bind(self.target)
        .bind(self.token_env)
        .bind(QUEUED)
        .bind(&ts)
        .bind(self.format)
        .execute(&mut **tx)
        .await
        .context("storing the outbox row")?
        .rows_affected();
        Ok(done == 1)
    }
}

/// `outbox.target_kind` of a message pushed to VECOZO's VSP-Koppeling; its
/// `target` is the base URL of the environment.
pub const TARGET_VSP: &str = "vsp";

/// `outbox.target_kind` of a message posted in a StUF-GGk envelope to the
/// municipality's Digikoppeling adapter (the tenant's `[[stuf]]`); its
/// `target` is the edition to write (`0310`, `0210`).
pub const TARGET_STUF: &str = "stuf";

/// `outbox.format` of a StUF Fo01: already an envelope, sent as it is.
pub const FORMAT_STUF: &str = "stuf";

/// A retour the record made for a message pulled from the exchange: it goes
/// back the same way, to the heenbericht's sender.
pub struct Reply<'a> {
    pub tenant_id: &'a str,
    /// The retour, already stored (direction `out`).
    pub message_id: &'a str,
    pub bericht: &'a str,
    pub identificatie: &'a str,
    /// Where the retour goes: the heenbericht's Afzender (the retour's own
    /// header repeats the heenbericht's, Ontvanger included).
    pub receiver: &'a str,
    /// `iwmo` or `ijw` (the heenbericht's standard).
    pub standard: Option<&'a str>,
    /// The way back: [`TARGET_VSP`] or [`TARGET_STUF`].
    pub target_kind: &'a str,
    /// The exchange's base URL (VSP), the edition to write (StUF).
    pub target: &'a str,
}

/// Queues a stored retour for the exchange, in the caller's transaction.
/// Returns false when it was queued before (the heenbericht was pulled
/// again), so a retour is never pushed twice.
pub async fn enqueue_reply(tx: &mut Tx, r: Reply<'_>) -> Result<bool> {
    // The counterpart as a mapping key would name it: what the outbox page
    // groups and shows by.
    let kind = match (crate::store::TenantKind::from_id(r.receiver), r.standard) {
        (Ok(crate::store::TenantKind::Aanbieder), _) => "aanbieder",
        (_, Some("ijw")) => "jeugdwet",
        _ => "wmo",
    };
    NewRow {
        id: r.message_id,
        tenant_id: r.tenant_id,
        financier: &format!("{kind}:{}", r.receiver),
        bericht: r.bericht,
        ident: r.identificatie,
        target_kind: r.target_kind,
        target: r.target,
        token_env: None,
        format: FORMAT_ISTANDAARD,
    }
    .insert(tx)
    .await
}

/// A StUF Fo01 loket answers a refused envelope with ([`enqueue_fault`]).
pub struct Fault<'a> {
    pub tenant_id: &'a str,
    /// The refused envelope's zender organisatie.
    pub receiver: &'a str,
    /// The Fo01's referentienummer: its identification in the outbox.
    pub referentienummer: &'a str,
    /// The incoming message it refuses, if stored with its content.
    pub answer_of: Option<&'a str>,
    /// The `StUF:Fo01Bericht` as written.
    pub raw: &'a [u8],
    /// loket's JSON of it, for `GET /messages/{id}`.
    pub parsed: String,
    /// The edition (the outbox row's target).
    pub target: &'a str,
}

/// Stores a Fo01 (direction `out`, standard `stuf`) and queues it for the
/// tenant's StUF adapter, in the caller's transaction; returns its id.
pub async fn enqueue_fault(tx: &mut Tx, f: Fault<'_>) -> Result<String> {
    let id = new_id();
    let raw = crate::store::body::Packed::new(f.raw);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let row = apply::MessageRow {
        id: &id,
        tenant: f.tenant_id,
        direction: "out",
        standard: "stuf",
        bericht: "Fo01",
        sender: Some(f.tenant_id),
        receiver: Some(f.receiver),
        identificatie: Some(f.referentienummer),
        dagtekening: Some(&today),
        participant_id: None,
        status: QUEUED,
        retourcodes: "[]".to_string(),
        findings: "[]".into(),
        parsed: Some(f.parsed),
        raw: &raw,
        answer_of: f.answer_of,
    };
    apply::insert_messages(tx, &[row])
        .await
        .context("storing the outgoing Fo01")?;
    let kind = match crate::store::TenantKind::from_id(f.receiver) {
        Ok(crate::store::TenantKind::Gemeente) => "wmo",
        _ => "aanbieder",
    };
    let inserted = NewRow {
        id: &id,
        tenant_id: f.tenant_id,
        financier: &format!("{kind}:{}", f.receiver),
        bericht: "Fo01",
        ident: f.referentienummer,
        target_kind: TARGET_STUF,
        target: f.target,
        token_env: None,
        format: FORMAT_STUF,
    }
    .insert(tx)
    .await?;
    if !inserted {
        bail!("message {id} already has an outbox row");
    }
    Ok(id)
}

/// An outgoing message of this berichtsoort and identification, if any.
async fn find_queued(
    tx: &mut Tx,
    tenant: &str,
    sender: &str,
    bericht: &str,
    ident: &str,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT id FROM messages WHERE tenant_id = $1 AND direction = 'out' AND sender = $2 \
         AND bericht = $3 AND identificatie = $4",
    )
    .bind(tenant)
    .bind(sender)
    .bind(bericht)
    .bind(ident)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// Puts a failed message back in the queue, due now. Returns false when the
/// tenant has no failed message with this id. Backoff starts again from its
/// base: whatever made it fail has presumably been fixed.
pub async fn retry(store: &Store, tenant: &str, message_id: &str) -> Result<bool> {
    let mut w = store.begin_write().await?;
    let ts = now();
    let done = sqlx::query(
        "UPDATE outbox SET state = $1, next_attempt_at = $2, backoff_from = attempts, updated_at = $2 \
         WHERE message_id = $3 AND tenant_id = $4 AND state = $5",
    )
    .bind(QUEUED)
    .bind(&ts)
    .bind(message_id)
    .bind(tenant)
    .bind(FAILED)
    .execute(&mut *w.tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        sqlx::query("UPDATE messages SET status = $1 WHERE id = $2")
            .bind(QUEUED)
            .bind(message_id)
            .execute(&mut *w.tx)
            .await?;
    }
    w.commit().await?;
    Ok(done)
}

/// An outbox row with its message's addressee, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ItemRow {
    message_id: String,
    financier: String,
    bericht: String,
    identificatie: String,
    target_kind: String,
    target: String,
    state: String,
    attempts: i64,
    next_attempt_at: String,
    last_error: Option<String>,
    response_status: Option<i64>,
    retour_id: Option<String>,
    created_at: String,
    updated_at: String,
    sent_at: Option<String>,
    receiver: Option<String>,
    participant_id: Option<String>,
    exchange_status: Option<String>,
}

/// One outgoing message and where it is (`schemas/api/outbox-item.json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxItem {
    pub id: String,
    pub bericht: String,
    pub identificatie: String,
    pub receiver: Option<String>,
    pub financier: String,
    pub participant_id: Option<String>,
    pub target: Target,
    /// queued | sending | sent | failed
    pub state: String,
    pub attempts: i64,
    /// Only a waiting message has a next attempt.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub response_status: Option<i64>,
    pub retour_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
    /// The last berichtstatus VECOZO reported (pushed messages only).
    pub exchange_status: Option<String>,
    /// Everything the exchange said about it (one item only, not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<crate::record::exchange::ExchangeView>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    pub kind: String,
    pub address: String,
}

impl From<ItemRow> for OutboxItem {
    fn from(r: ItemRow) -> OutboxItem {
        OutboxItem {
            next_attempt_at: (r.state == QUEUED).then_some(r.next_attempt_at),
            id: r.message_id,
            bericht: r.bericht,
            identificatie: r.identificatie,
            receiver: r.receiver,
            financier: r.financier,
            participant_id: r.participant_id,
            target: Target {
                kind: r.target_kind,
                address: r.target,
            },
            state: r.state,
            attempts: r.attempts,
            last_error: r.last_error,
            response_status: r.response_status,
            retour_id: r.retour_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            sent_at: r.sent_at,
            exchange_status: r.exchange_status,
            exchange: None,
        }
    }
}

const ITEM: &str = "SELECT o.message_id, o.financier, o.bericht, o.identificatie, o.target_kind, o.target, \
     o.state, o.attempts, o.next_attempt_at, o.last_error, o.response_status, o.retour_id, o.created_at, \
     o.updated_at, o.sent_at, m.receiver, m.participant_id, s.status AS exchange_status FROM outbox o \
     JOIN messages m ON m.id = o.message_id LEFT JOIN exchange_status s ON s.message_id = o.message_id";

/// One of the tenant's outgoing messages.
pub async fn item(store: &Store, tenant: &str, id: &str) -> Result<Option<OutboxItem>> {
    let row: Option<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ITEM} WHERE o.message_id = $1 AND o.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut item = OutboxItem::from(row);
    item.exchange = crate::record::exchange::view(store.pool(), tenant, id).await?;
    Ok(Some(item))
}

/// The tenant's outgoing messages, newest first; only those in `state`
/// when given.
pub async fn items(
    store: &Store,
    tenant: &str,
    state: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<OutboxItem>> {
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ITEM} WHERE o.tenant_id = $1 AND ($2 IS NULL OR o.state = $2) \
         ORDER BY o.message_id DESC LIMIT $3 OFFSET $4"
    )))
    .bind(tenant)
    .bind(state)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(OutboxItem::from).collect())
}

/// The `[outbox]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// First retry delay; it doubles with every failed attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay (also caps a counterpart's Retry-After).
    pub retry_max_ms: u64,
    /// How often the worker looks for due messages when nobody woke it.
    pub poll_ms: u64,
    /// Whole HTTP exchange, connecting included.
    pub http_timeout_ms: u64,
    /// Connecting alone: a counterpart that is down is noticed quickly.
    pub connect_timeout_ms: u64,
    /// How long a claimed message belongs to its worker. Longer than the
    /// HTTP timeout, so a live worker never loses a message it is sending.
    pub lease_ms: u64,
    /// Messages sent at the same time: to different counterparts, or
    /// retours (which keep no order among themselves).
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_base_ms: 1_000,
            retry_max_ms: 3_600_000,
            poll_ms: 1_000,
            http_timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            lease_ms: 120_000,
            concurrency: 8,
        }
    }
}

impl Settings {
    /// The delay before attempt `n + 1` after `n` failed attempts (n >= 1):
    /// doubling from the base, capped, with jitter (between half and all of
    /// it) so that many messages for a counterpart that comes back do not
    /// all arrive in the same instant. A counterpart's Retry-After is a
    /// lower bound, still capped.
    pub fn backoff(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        let exp = failed.saturating_sub(1).min(40);
        let full = self
            .retry_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.retry_max_ms);
        let half = full / 2;
        let jittered = half + rand::random::<u64>() % (full - half + 1);
        let after = retry_after.map_or(0, |d| {
            u64::try_from(d.as_millis())
                .unwrap_or(u64::MAX)
                .min(self.retry_max_ms)
        });
        Duration::from_millis(jittered.max(after))
    }
}

/// The outbox handle: wakes the worker, starts it. Cheap to clone; lives in
/// the application state so the API can wake the worker after queueing.
#[derive(Clone, Debug)]
pub struct Outbox {
    notify: Arc<Notify>,
    pub settings: Arc<Settings>,
    /// The tenants' connections to VECOZO, for messages whose target is
    /// [`TARGET_VSP`].
    pub vsp: crate::transport::vsp::Clients,
    /// The municipalities' connections to their GGk adapter, for messages
    /// whose target is [`TARGET_STUF`].
    pub stuf: crate::transport::stuf::Connections,
}

impl Outbox {
    pub fn new(settings: Settings) -> Outbox {
        Outbox {
            notify: Arc::new(Notify::new()),
            settings: Arc::new(settings),
            vsp: crate::transport::vsp::Clients::default(),
            stuf: crate::transport::stuf::Connections::default(),
        }
    }

    /// This outbox, posting through `connections` to the GGk adapters.
    pub fn with_stuf(mut self, connections: crate::transport::stuf::Connections) -> Outbox {
        self.stuf = connections;
        self
    }

    /// This outbox, pushing through `clients` to VECOZO.
    pub fn with_vsp(mut self, clients: crate::transport::vsp::Clients) -> Outbox {
        self.vsp = clients;
        self
    }

    /// Tells the worker there is something to send. Call after the commit
    /// that queued it: before it the worker would not see the row yet.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Starts the worker: it delivers through the transports and feeds
    /// every retourbericht an HTTP counterpart answers with to `ingest`, as
    /// if it had come in by itself.
    pub fn start(&self, ingest: Ingest, metrics: Arc<Metrics>) -> Result<Worker> {
        Worker::start(self.clone(), ingest, metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_outbox_section() {
        let c: crate::config::Config =
            toml::from_str("[outbox]\nretry_base_ms = 5\npoll_ms = 20\n").expect("config");
        assert_eq!(c.outbox.retry_base_ms, 5);
        assert_eq!(c.outbox.poll_ms, 20);
        assert_eq!(c.outbox.retry_max_ms, Settings::default().retry_max_ms);
        assert!(toml::from_str::<crate::config::Config>("[outbox]\nretry_base = 5\n").is_err());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let s = Settings::default();
        for failed in 1..=40u32 {
            let full = 1_000u64
                .saturating_mul(1 << (failed - 1).min(40))
                .min(3_600_000);
            let d = s.backoff(failed, None).as_millis() as u64;
            assert!(full / 2 <= d && d <= full, "{failed}: {d} of {full}");
        }
        // Retry-After is a lower bound, and capped like the rest.
        assert!(s.backoff(1, Some(Duration::from_secs(120))) >= Duration::from_secs(120));
        assert_eq!(
            s.backoff(1, Some(Duration::from_secs(10 * 3600))),
            Duration::from_millis(3_600_000)
        );
    }
}
