//! Applying accepted messages to the participant record, inside the ingest
//! transaction.

use std::collections::HashSet;

use anyhow::{Context, Result};
use sqlx::{Any, Row, Transaction};

use super::Received;
use crate::adapter::istandaard::{Checked, json};
use crate::message::{Message, NodeRef};
use crate::store::body::Packed;
use crate::store::{Backend, Params, Tenant, new_id, now, sha256_hex};

pub type Tx = Transaction<'static, Any>;

/// The TR056 lookup of a resend: the earlier message by its key
/// (`messages_tr056`) and the retour that answered it (`messages_answer_of`).
/// Every client recovers from a crash by resending, so this must not grow
/// with the table ([`crate::store::plans`]).
pub(crate) const FIND_PREVIOUS: &str = "SELECT m.id, m.status, m.retourcodes, a.raw AS answer, a.raw_encoding AS answer_encoding FROM messages m \
     LEFT JOIN messages a ON a.answer_of = m.id AND a.direction = 'out' \
     WHERE m.tenant_id = $1 AND m.direction = 'in' AND m.sender = $2 AND m.bericht = $3 AND m.identificatie = $4";

/// An earlier message with the same sender, berichtsoort and identification
/// (TR056), with the retourbericht we answered it with.
pub async fn find_previous(
    tx: &mut Tx,
    tenant: &str,
    sender: &str,
    bericht: &str,
    ident: &str,
) -> Result<Option<Received>> {
    let row = sqlx::query(FIND_PREVIOUS)
        .bind(tenant)
        .bind(sender)
        .bind(bericht)
        .bind(ident)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let answer =
        crate::store::body::unpack_opt(row.try_get("answer_encoding")?, row.try_get("answer")?)?;
    let codes: String = row.try_get("retourcodes")?;
    Ok(Some(Received {
        message_id: row.try_get("id")?,
        bericht: bericht.to_string(),
        status: row.try_get("status")?,
        duplicate: true,
        retourcodes: serde_json::from_str(&codes).unwrap_or_default(),
        retour_xml: answer
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .unwrap_or_default(),
        retour_packed: None,
        no_retour: None,
    }))
}

/// The TR056 key of an inbound message: tenant, sender, berichtsoort and
/// BerichtIdentificatie, as [`find_previous`] matches them.
pub type ResendKey = (String, String, String, String);

/// The statement of [`stored_keys`] for `n` keys: one `messages_tr056`
/// lookup per key.
pub(crate) fn stored_keys_sql(backend: Backend, n: usize) -> String {
    let mut p = Params::new(backend);
    let terms: Vec<String> = (0..n)
        .map(|_| {
            format!(
                "(tenant_id = {} AND sender = {} AND bericht = {} AND identificatie = {})",
                p.one(),
                p.one(),
                p.one(),
                p.one()
            )
        })
        .collect();
    format!(
        "SELECT tenant_id, sender, bericht, identificatie FROM messages WHERE direction = 'in' AND ({})",
        terms.join(" OR ")
    )
}

/// Which of `keys` the database already holds as inbound messages. One query
/// for a whole batch, so the writer asks [`find_previous`] only for the
/// messages that may be resends instead of for every message.
pub async fn stored_keys(tx: &mut Tx, keys: &[ResendKey]) -> Result<HashSet<ResendKey>> {
    let mut found = HashSet::new();
    let backend = Backend::of(tx);
    // Bounded statements: well below every backend's parameter limit.
    for chunk in keys.chunks(256) {
        let sql = stored_keys_sql(backend, chunk.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(chunk.len() <= SMALL);
        for (tenant, sender, bericht, ident) in chunk {
            q = q
                .bind(tenant.as_str())
                .bind(sender.as_str())
                .bind(bericht.as_str())
                .bind(ident.as_str());
        }
        for r in q.fetch_all(&mut **tx).await? {
            found.insert((
                r.try_get("tenant_id")?,
                r.try_get("sender")?,
                r.try_get("bericht")?,
                r.try_get("identificatie")?,
            ));
        }
    }
    Ok(found)
}

/// The participant a message is about, when the record already has it.
pub async fn participant_id_for(
    tx: &mut Tx,
    tenant: &str,
    msg: &Message,
) -> Result<Option<String>> {
    match bsn_of(msg) {
        Some(bsn) => participant_id_for_bsn(tx, tenant, bsn).await,
        None => Ok(None),
    }
}

/// The participant with this BSN, when the record has it.
pub async fn participant_id_for_bsn(
    tx: &mut Tx,
    tenant: &str,
    bsn: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT id FROM participants WHERE tenant_id = $1 AND bsn = $2")
        .bind(tenant)
        .bind(bsn)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

/// The BSN of the (first) client of a message.
pub fn bsn_of(msg: &Message) -> Option<&str> {
    msg.value("Client/Bsn")
        .or_else(|| msg.value("Declaratie/Clienten/Client/Bsn"))
        .or_else(|| msg.value("DeclaratieAntwoord/Clienten/Client/Bsn"))
}

pub struct NewMessage<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub direction: &'a str,
    pub checked: &'a Checked,
    pub participant_id: Option<&'a str>,
    pub status: &'a str,
    pub retourcodes: &'a [String],
    pub raw: &'a [u8],
    pub answer_of: Option<&'a str>,
}

pub async fn insert_message(tx: &mut Tx, m: NewMessage<'_>) -> Result<()> {
    let raw = Packed::new(m.raw);
    let row = MessageRow {
        direction: m.direction,
        participant_id: m.participant_id,
        status: m.status,
        retourcodes: serde_json::to_string(m.retourcodes)?,
        findings: serde_json::to_string(&m.checked.findings)?.into(),
        answer_of: m.answer_of,
        ..MessageRow::of(&m.checked.message, m.id, m.tenant, &raw)
    };
    insert_messages(tx, &[row]).await
}

/// One `messages` row with its JSON columns already rendered: the ingest
/// renders them in the parallel check stage, so the single writer only binds.
pub struct MessageRow<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub direction: &'a str,
    pub standard: &'a str,
    pub bericht: &'a str,
    pub sender: Option<&'a str>,
    pub receiver: Option<&'a str>,
    pub identificatie: Option<&'a str>,
    pub dagtekening: Option<&'a str>,
    pub participant_id: Option<&'a str>,
    pub status: &'a str,
    pub retourcodes: String,
    /// Borrowed where the caller keeps it anyway: the findings of a large
    /// rejected declaration run to megabytes.
    pub findings: std::borrow::Cow<'a, str>,
    /// loket's JSON of the message where it cannot be derived from the
    /// bytes (a UBL document's summary); `None` for iStandaarden messages,
    /// whose JSON [`crate::record::read::message`] derives when shown.
    pub parsed: Option<String>,
    /// The bytes as stored ([`Packed`]).
    pub raw: &'a Packed,
    pub answer_of: Option<&'a str>,
}

impl<'a> MessageRow<'a> {
    /// The row of an inbound `msg` with what its header says; status,
    /// participant, codes and findings are the caller's to set.
    pub fn of(msg: &'a Message, id: &'a str, tenant: &'a str, raw: &'a Packed) -> MessageRow<'a> {
        MessageRow {
            id,
            tenant,
            direction: "in",
            standard: &msg.standard().name,
            bericht: msg.name(),
            sender: msg.value("Header/Afzender"),
            receiver: msg.value("Header/Ontvanger"),
            identificatie: msg.value("Header/BerichtIdentificatie/Identificatie"),
            dagtekening: msg.value("Header/BerichtIdentificatie/Dagtekening"),
            participant_id: None,
            status: "",
            retourcodes: "[]".to_string(),
            findings: "[]".into(),
            parsed: None,
            raw,
            answer_of: None,
        }
    }
}

/// Columns of a `messages` row, in the order [`insert_messages`] binds them.
const MESSAGE_COLUMNS: usize = 18;

/// Inserts `rows` with one statement (a heenbericht and its retour go in
/// together: one round trip to the database instead of two; the writer's
/// runs of 301s insert all their messages at once).
pub async fn insert_messages(tx: &mut Tx, rows: &[MessageRow<'_>]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ts = now();
    insert_rows(
        tx,
        "INSERT INTO messages (id, tenant_id, direction, standard, bericht, sender, receiver, identificatie, \
         dagtekening, participant_id, status, retourcodes, findings, parsed, raw, raw_encoding, answer_of, created_at)",
        "",
        MESSAGE_COLUMNS,
        rows,
        |q, m| {
            q.bind(m.id)
                .bind(m.tenant)
                .bind(m.direction)
                .bind(m.standard)
                .bind(m.bericht)
                .bind(m.sender)
                .bind(m.receiver)
                .bind(m.identificatie)
                .bind(m.dagtekening)
                .bind(m.participant_id)
                .bind(m.status)
                .bind(m.retourcodes.as_str())
                .bind(m.findings.as_ref())
                .bind(m.parsed.as_deref())
                .bind(m.raw.bytes.as_slice())
                .bind(m.raw.encoding)
                .bind(m.answer_of)
                .bind(ts.as_str())
        },
    )
    .await?;
    Ok(())
}

/// A query on the `Any` driver.
pub type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Most parameters one statement binds: below SQLite's limit (32,766) and
/// PostgreSQL's (65,535).
const MAX_PARAMS: usize = 30_000;

/// Statements with at most this many rows are prepared once and kept in the
/// connection's statement cache; larger ones, whose text changes with the
/// batch, are prepared for the one use, so they do not push the fixed
/// statements out of the cache.
const SMALL: usize = 4;

/// `head VALUES (..), (..) tail` for `rows` of `cols` values each (bound by
/// `bind`, in column order): one statement, more only past the parameter
/// limit. Returns the rows the statements return (a `RETURNING` tail).
pub async fn insert_rows<'q, R>(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    cols: usize,
    rows: &'q [R],
    bind: impl Fn(AnyQuery<'q>, &'q R) -> AnyQuery<'q>,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let backend = Backend::of(tx);
    let mut out = Vec::new();
    for chunk in rows.chunks((MAX_PARAMS / cols).max(1)) {
        let sql = format!(
            "{head} VALUES {} {tail}",
            Params::new(backend).rows(chunk.len(), cols)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(chunk.len() <= SMALL);
        for r in chunk {
            q = bind(q, r);
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// What the writer knows to exist in the database, so it need not write it
/// again: today the financiers, which every 301 would otherwise upsert.
///
/// An entry only counts once its transaction committed: a job adds to
/// `pending`, a rolled-back job or transaction drops what it added, and a
/// commit makes it known. Rows are never deleted, so a known row stays true.
#[derive(Debug, Default)]
pub struct Known {
    financiers: HashSet<String>,
    pub(super) pending: Vec<String>,
}

impl Known {
    /// A mark to roll back to when the job that starts now fails.
    pub fn mark(&self) -> usize {
        self.pending.len()
    }

    /// The job since `mark` was rolled back.
    pub fn rolled_back(&mut self, mark: usize) {
        self.pending.truncate(mark);
    }

    /// The transaction committed: what it wrote exists.
    pub fn committed(&mut self) {
        self.financiers.extend(self.pending.drain(..));
    }

    /// The transaction was rolled back as a whole.
    pub fn abandoned(&mut self) {
        self.pending.clear();
    }

    pub(super) fn has_financier(&self, key: &str) -> bool {
        self.financiers.contains(key) || self.pending.iter().any(|p| p == key)
    }
}

/// The participant an accepted message is about, created or brought up to
/// date from the message's Client. Done before the message is stored, so the
/// message row is written with its participant at once.
pub async fn participant_of(tx: &mut Tx, tenant: &Tenant, msg: &Message) -> Result<Option<String>> {
    Ok(match msg.get("Client") {
        Some(client) if client.has("Bsn") => {
            Some(upsert_participant(tx, &tenant.id, client).await?)
        }
        _ => match bsn_of(msg) {
            Some(bsn) => Some(ensure_participant(tx, &tenant.id, bsn).await?),
            None => None,
        },
    })
}

/// Applies an accepted message to the record; `participant` is what
/// [`participant_of`] returned for it. Returns the participant.
pub async fn apply(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    message_id: &str,
    participant: Option<String>,
) -> Result<Option<String>> {
    // Answers to what loket sent; before the early return, because a 325
    // granted in full (and a header-only retour) names no client.
    if let "302" | "306" | "308" | "316" | "318" | "320" | "325" = msg.def().number.as_str() {
        super::answers::apply(tx, tenant, msg, message_id, participant.as_deref()).await?;
    }
    // The antwoordbericht to our 315/317 names no client: it is tied to the
    // request by its ReferentieAanbieder.
    if msg.def().number == "319" {
        super::requests::answer(tx, tenant, msg, message_id).await?;
    }
    let Some(participant) = participant else {
        return Ok(None);
    };
    match msg.def().number.as_str() {
        "305" | "307" => super::delivery::record(tx, tenant, msg, &participant, message_id).await?,
        // A municipality keeps the requests it receives, to answer them.
        "315" | "317" if tenant.kind == crate::store::TenantKind::Gemeente => {
            super::requests::record(tx, &tenant.id, msg, message_id, Some(&participant)).await?
        }
        _ => {}
    }
    Ok(Some(participant))
}

/// The financier a message comes from (for a provider: the municipality under
/// the message's law) or, for a municipality tenant, the municipality itself.
pub fn financier_of(tenant: &Tenant, msg: &Message) -> (String, &'static str, String) {
    let kind = if msg.standard().name == "ijw" {
        "jeugdwet"
    } else {
        "wmo"
    };
    let code = match tenant.kind {
        crate::store::TenantKind::Aanbieder => {
            msg.value("Header/Afzender").unwrap_or("").to_string()
        }
        crate::store::TenantKind::Gemeente => tenant.id.clone(),
    };
    (format!("{kind}-{code}"), kind, code)
}

async fn upsert_participant(tx: &mut Tx, tenant: &str, client: NodeRef<'_>) -> Result<String> {
    let bsn = client.value("Bsn").unwrap_or_default();
    let name = client.get("Naam").map(|n| json::node_value(n).to_string());
    let birth = client.value("Geboortedatum/Datum");
    let gender = client.value("Geslacht");
    let contact = client
        .get("Contactgegevens")
        .map(|n| json::node_value(n).to_string());
    let ts = now();
    let row = sqlx::query(
        "INSERT INTO participants (id, tenant_id, bsn, birth_date, gender, name_json, contact_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'), COALESCE($7, '[]'), $8, $8) \
         ON CONFLICT (tenant_id, bsn) DO UPDATE SET \
           birth_date = COALESCE(excluded.birth_date, participants.birth_date), \
           gender = COALESCE(excluded.gender, participants.gender), \
           name_json = CASE WHEN $6 IS NULL THEN participants.name_json ELSE excluded.name_json END, \
           contact_json = CASE WHEN $7 IS NULL THEN participants.contact_json ELSE excluded.contact_json END, \
           updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(new_id())
    .bind(tenant)
    .bind(bsn)
    .bind(birth)
    .bind(gender)
    .bind(name)
    .bind(contact)
    .bind(ts)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// The participant an API body names, by loket's id or by BSN (created when
/// new, as the API promises). `None` for an id that is not one of this
/// tenant's, so another tenant's ids are not revealed, and when neither is
/// given.
pub async fn participant_named(
    tx: &mut Tx,
    tenant: &str,
    id: Option<&str>,
    bsn: Option<&str>,
) -> Result<Option<String>> {
    match (id, bsn) {
        (Some(id), _) => {
            let row = sqlx::query("SELECT id FROM participants WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
            Ok(row.map(|r| r.try_get("id")).transpose()?)
        }
        (None, Some(bsn)) => Ok(Some(ensure_participant(tx, tenant, bsn).await?)),
        (None, None) => Ok(None),
    }
}

/// The message's row names its participant, unless it already does.
pub async fn set_message_participant(
    tx: &mut Tx,
    message_id: &str,
    participant: &str,
) -> Result<()> {
    sqlx::query("UPDATE messages SET participant_id = $1 WHERE id = $2 AND participant_id IS NULL")
        .bind(participant)
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An invoice or credit note a municipality received (`POST /invoices`).
pub struct ReceivedDocument<'a> {
    pub tenant: &'a str,
    /// UBL `Invoice` or `CreditNote`.
    pub bericht: &'a str,
    pub seller: Option<&'a str>,
    pub buyer: Option<&'a str>,
    pub number: &'a str,
    pub issue_date: Option<&'a str>,
    /// Its normalised lines, as answered.
    pub parsed: String,
    pub raw: &'a [u8],
    /// The document itself: its lines are stored for the municipality's
    /// normalised declarations ([`super::received::record_invoice`]).
    pub document: &'a crate::adapter::ubl::Document,
}

/// Stores a received invoice once: a resend (same seller, kind and
/// number) gives the stored one's id and `true`, and changes nothing.
pub async fn receive_document(
    store: &crate::store::Store,
    d: ReceivedDocument<'_>,
) -> Result<(String, bool)> {
    let mut w = store.begin_write().await?;
    let existing: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM messages WHERE tenant_id = $1 AND direction = 'in' AND sender = $2 \
         AND bericht = $3 AND identificatie = $4",
    )
    .bind(d.tenant)
    .bind(d.seller)
    .bind(d.bericht)
    .bind(d.number)
    .fetch_optional(&mut *w.tx)
    .await?;
    if let Some((id,)) = existing {
        return Ok((id, true));
    }
    let id = new_id();
    let raw = Packed::new(d.raw);
    let row = MessageRow {
        id: &id,
        tenant: d.tenant,
        direction: "in",
        standard: "ubl",
        bericht: d.bericht,
        sender: d.seller,
        receiver: d.buyer,
        identificatie: Some(d.number),
        dagtekening: d.issue_date,
        participant_id: None,
        status: "accepted",
        retourcodes: "[]".into(),
        findings: "[]".into(),
        parsed: Some(d.parsed),
        raw: &raw,
        answer_of: None,
    };
    insert_messages(&mut w.tx, &[row]).await?;
    super::received::record_invoice(
        &mut w.tx,
        d.tenant,
        &id,
        d.seller.unwrap_or_default(),
        d.document,
        &now(),
    )
    .await?;
    w.commit().await?;
    Ok((id, false))
}

/// Sets the group (or location) a participant attends; `None` clears it.
/// The daily registration lists a group's participants.
pub async fn set_group(
    tx: &mut Tx,
    tenant: &str,
    participant: &str,
    group: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE participants SET group_name = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(group)
        .bind(tenant)
        .bind(participant)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn ensure_participant(tx: &mut Tx, tenant: &str, bsn: &str) -> Result<String> {
    let ts = now();
    let row = sqlx::query(
        "INSERT INTO participants (id, tenant_id, bsn, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (tenant_id, bsn) DO UPDATE SET updated_at = participants.updated_at RETURNING id",
    )
    .bind(new_id())
    .bind(tenant)
    .bind(bsn)
    .bind(ts)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// Allocation events `(id, allocation, message, status, detail)` in one
/// statement.
pub async fn insert_events(
    tx: &mut Tx,
    events: &[(String, &str, &str, &str, &str)],
    ts: &str,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    insert_rows(
        tx,
        "INSERT INTO allocation_events (id, allocation_id, message_id, status, detail, created_at)",
        "",
        6,
        events,
        |q, (id, allocation, message, status, detail)| {
            q.bind(id.as_str())
                .bind(*allocation)
                .bind(*message)
                .bind(*status)
                .bind(*detail)
                .bind(ts)
        },
    )
    .await?;
    Ok(())
}

pub async fn add_event(
    tx: &mut Tx,
    allocation: &str,
    message_id: &str,
    status: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO allocation_events (id, allocation_id, message_id, status, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(allocation)
    .bind(message_id)
    .bind(status)
    .bind(detail)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The logical key of a start or stop delivery, without the BSN in clear.
pub fn delivery_key(tenant: &str, bsn: &str) -> String {
    sha256_hex(&[tenant, bsn])
}

/// The stored bytes of one of `tenant`'s messages, unpacked; `None` when
/// there is no such message (or retention emptied it).
pub async fn message_body(tx: &mut Tx, tenant: &str, id: &str) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>, String)> =
        sqlx::query_as("SELECT raw, raw_encoding FROM messages WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await
            .context("reading a stored message")?;
    match row {
        Some((raw, _)) if raw.is_empty() => Ok(None),
        Some((raw, encoding)) => Ok(Some(crate::store::body::unpack(&encoding, raw)?)),
        None => Ok(None),
    }
}

/// Replaces the body of an outgoing message that has not left yet (a held
/// 325 rebuilt after a person's decision, [`super::decisions`]): its bytes,
/// retourcodes and dagtekening. Refuses a message that is not `out`.
pub async fn replace_body(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    raw: &Packed,
    retourcodes: &[String],
    dagtekening: Option<&str>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE messages SET raw = $1, raw_encoding = $2, retourcodes = $3, dagtekening = COALESCE($4, dagtekening) \
         WHERE id = $5 AND tenant_id = $6 AND direction = 'out'",
    )
    .bind(raw.bytes.as_slice())
    .bind(raw.encoding)
    .bind(serde_json::to_string(retourcodes)?)
    .bind(dagtekening)
    .bind(id)
    .bind(tenant)
    .execute(&mut **tx)
    .await
    .context("replacing an outgoing message")?
    .rows_affected();
    anyhow::ensure!(done == 1, "outgoing message {id} not found");
    Ok(())
}
