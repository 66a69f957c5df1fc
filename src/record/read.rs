//! Read models of the record: the participant record with its allocations
//! (each with its history and its starts and stops), the message history,
//! the prestaties and the stored messages, as typed rows.
//!
//! The API and the web app render these and hold no SQL of their own for
//! these tables, so both show the same facts in the same way: what the
//! record says about "the start" of an allocation is what
//! [`super::delivery`] says, whichever page asks. The JSON they serialise to
//! is the API's contract (`schemas/api/participant.json`,
//! `message.json`, `participant-list.json`).

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use sqlx::AnyPool;

use super::review::{ReviewItem, explained_codes};
use crate::adapter::istandaard::retourcodes::Explained;
use crate::adapter::istandaard::{self, Limits};
use crate::schema::Schema;
use crate::store::{Tenant, body};

/// A participant's own data, as the record holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ParticipantRow {
    id: String,
    bsn: String,
    client_number: Option<String>,
    birth_date: Option<String>,
    gender: Option<String>,
    name_json: String,
    contact_json: String,
    group_name: Option<String>,
}

/// The merged record of one participant (`schemas/api/participant.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantRecord {
    pub id: String,
    pub bsn: String,
    pub client_number: Option<String>,
    #[serde(rename = "geboortedatum")]
    pub birth_date: Option<String>,
    #[serde(rename = "geslacht")]
    pub gender: Option<String>,
    /// The Naam as the messages gave it (Geslachtsnaam, Voornamen, ...).
    #[serde(rename = "naam")]
    pub name: Value,
    pub contact: Value,
    #[serde(rename = "groep")]
    pub group: Option<String>,
    pub allocations: Vec<AllocationView>,
    pub messages: Vec<MessageSummary>,
    pub prestaties: Vec<Prestatie>,
    pub review_items: Vec<ReviewItem>,
}

/// An allocation row with its financier.
#[derive(Debug, Clone, sqlx::FromRow)]
struct AllocationRow {
    id: String,
    toewijzing_nummer: String,
    referentie_aanbieder: Option<String>,
    aanbieder: Option<String>,
    product_categorie: Option<String>,
    product_code: Option<String>,
    toewijzingsdatum: Option<String>,
    ingangsdatum: String,
    einddatum: Option<String>,
    reden_wijziging: Option<String>,
    volume: Option<i64>,
    eenheid: Option<String>,
    frequentie: Option<String>,
    budget: Option<i64>,
    status: String,
    updated_at: Option<String>,
    financier_kind: String,
    financier_code: String,
    financier_name: Option<String>,
    standard: Option<String>,
}

/// One allocation of any financier, with how it came to be as it is.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationView {
    pub id: String,
    pub financier: FinancierRef,
    pub toewijzing_nummer: String,
    pub referentie_aanbieder: Option<String>,
    /// For a municipality's own allocation: the provider (AGB code) it is
    /// granted to.
    pub aanbieder: Option<String>,
    pub product: ProductRef,
    pub toewijzingsdatum: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub reden_wijziging: Option<String>,
    pub omvang: Omvang,
    pub budget: Option<i64>,
    /// allocated | started | stopped | withdrawn | ...
    pub status: String,
    pub updated_at: Option<String>,
    /// Every change, each linked to the message that made it.
    pub history: Vec<AllocationEvent>,
    /// Every start and stop sent or received for it, current or not.
    pub deliveries: Vec<DeliveryView>,
}

impl AllocationView {
    /// Whether its financier is paid on invoice (UBL): no start or stop.
    pub fn invoiced(&self) -> bool {
        self.financier.standard.as_deref() == Some("ubl")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FinancierRef {
    pub kind: String,
    pub code: String,
    pub name: Option<String>,
    pub standard: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProductRef {
    pub categorie: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Omvang {
    pub volume: Option<i64>,
    pub eenheid: Option<String>,
    pub frequentie: Option<String>,
}

/// One change of an allocation.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AllocationEvent {
    #[serde(skip)]
    pub allocation_id: String,
    pub status: String,
    pub detail: Option<String>,
    pub message_id: String,
    #[serde(rename = "at")]
    pub created_at: String,
}

/// One start or stop of an allocation as the record keeps it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeliveryView {
    #[serde(skip)]
    pub allocation_id: String,
    /// start | stop
    pub kind: String,
    pub begindatum: String,
    pub einddatum: Option<String>,
    pub reden_beeindiging: Option<String>,
    pub status_aanlevering: String,
    /// Whether it still counts: not removed by a later message and not
    /// rejected by the counterpart.
    #[serde(serialize_with = "as_bool")]
    pub current: i64,
    /// `rejected` when the counterpart refused it.
    pub answer: Option<String>,
    pub message_id: String,
    #[serde(rename = "at")]
    pub created_at: String,
}

fn as_bool<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*v != 0)
}

/// A message in a participant's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageSummary {
    pub id: String,
    pub direction: String,
    pub bericht: Option<String>,
    pub status: String,
    #[serde(serialize_with = "json_text")]
    pub retourcodes: String,
    #[serde(rename = "at")]
    pub created_at: String,
    /// The last berichtstatus VECOZO reported, for a pushed message.
    pub exchange_status: Option<String>,
}

impl MessageSummary {
    /// Its retourcodes, as stored.
    pub fn codes(&self) -> Vec<String> {
        serde_json::from_str(&self.retourcodes).unwrap_or_default()
    }
}

/// A stored JSON column, rendered as the JSON it holds (null if damaged).
fn json_text<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<Value>(v)
        .unwrap_or(Value::Null)
        .serialize(s)
}

/// A stored message (`schemas/api/message.json`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageDetail {
    pub id: String,
    pub direction: String,
    pub standard: Option<String>,
    pub bericht: Option<String>,
    pub sender: Option<String>,
    pub receiver: Option<String>,
    pub identificatie: Option<String>,
    pub dagtekening: Option<String>,
    pub participant_id: Option<String>,
    pub status: String,
    #[serde(serialize_with = "json_text")]
    pub retourcodes: String,
    #[serde(serialize_with = "json_text")]
    pub findings: String,
    /// Stored for documents with loket's own summary; derived from `raw`
    /// for iStandaarden messages when read ([`message`]).
    #[serde(serialize_with = "json_opt")]
    pub parsed: Option<String>,
    /// The bytes as exchanged (unpacked by [`message`]).
    #[serde(serialize_with = "lossy")]
    pub raw: Vec<u8>,
    #[serde(skip)]
    pub raw_encoding: String,
    pub answer_of: Option<String>,
    pub answer_id: Option<String>,
    #[serde(rename = "received_at")]
    pub created_at: String,
    /// What crossed VECOZO's exchange (identifiers, status); absent for a
    /// message that never did.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<super::exchange::ExchangeView>,
}

fn json_opt<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    v.as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Null)
        .serialize(s)
}

fn lossy<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(v))
}

/// One declared prestatie with what the financier's answer made of it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct PrestatieRow {
    id: String,
    declaration_id: String,
    declaratie_nummer: Option<String>,
    referentie_nummer: String,
    vorig_referentie_nummer: Option<String>,
    participant_id: String,
    allocation_id: String,
    toewijzing_nummer: String,
    product_categorie: String,
    product_code: String,
    period_begin: String,
    period_end: String,
    volume: i64,
    eenheid: String,
    tarief_cents: Option<i64>,
    bedrag_cents: i64,
    debet_credit: String,
    status: String,
    retourcodes: String,
    credited_by: Option<String>,
    answered_at: Option<String>,
}

/// A prestatie as the API shows it (`participant.json#/$defs/prestatie`).
#[derive(Debug, Clone, Serialize)]
pub struct Prestatie {
    pub id: String,
    pub declaration_id: String,
    pub declaratie_nummer: Option<String>,
    pub referentie_nummer: String,
    pub vorig_referentie_nummer: Option<String>,
    pub participant_id: String,
    pub allocation_id: String,
    pub toewijzing_nummer: String,
    pub product: Product,
    pub period: Period,
    pub volume: i64,
    pub eenheid: String,
    pub tarief_cents: Option<i64>,
    pub bedrag_cents: i64,
    /// D | C
    pub debet_credit: String,
    /// submitted | approved | rejected
    pub status: String,
    pub retourcodes: Vec<Explained>,
    pub credited_by: Option<String>,
    pub answered_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub categorie: String,
    pub code: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    pub begin: String,
    pub end: String,
}

impl From<PrestatieRow> for Prestatie {
    fn from(r: PrestatieRow) -> Prestatie {
        Prestatie {
            retourcodes: explained_codes(&r.retourcodes),
            id: r.id,
            declaration_id: r.declaration_id,
            declaratie_nummer: r.declaratie_nummer,
            referentie_nummer: r.referentie_nummer,
            vorig_referentie_nummer: r.vorig_referentie_nummer,
            participant_id: r.participant_id,
            allocation_id: r.allocation_id,
            toewijzing_nummer: r.toewijzing_nummer,
            product: Product {
                categorie: r.product_categorie,
                code: r.product_code,
            },
            period: Period {
                begin: r.period_begin,
                end: r.period_end,
            },
            volume: r.volume,
            eenheid: r.eenheid,
            tarief_cents: r.tarief_cents,
            bedrag_cents: r.bedrag_cents,
            debet_credit: r.debet_credit,
            status: r.status,
            credited_by: r.credited_by,
            answered_at: r.answered_at,
        }
    }
}

/// Whose prestaties to list.
pub enum Prestaties<'a> {
    OfParticipant(&'a str),
    InDeclaration(&'a str),
}

/// Prestaties of a participant (the record) or of a declaration, newest
/// period first.
pub async fn prestaties(
    pool: &AnyPool,
    tenant: &Tenant,
    which: Prestaties<'_>,
) -> Result<Vec<Prestatie>> {
    let (filter, key) = match which {
        Prestaties::OfParticipant(p) => ("p.participant_id", p),
        Prestaties::InDeclaration(d) => ("p.declaration_id", d),
    };
    let rows: Vec<PrestatieRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.id, p.declaration_id, d.declaratie_nummer, p.referentie_nummer, p.vorig_referentie_nummer, \
         p.participant_id, p.allocation_id, p.toewijzing_nummer, p.product_categorie, p.product_code, p.period_begin, \
         p.period_end, p.volume, p.eenheid, p.tarief_cents, p.bedrag_cents, p.debet_credit, p.status, p.retourcodes, \
         p.credited_by, p.answered_at \
         FROM prestaties p JOIN declarations d ON d.id = p.declaration_id \
         WHERE p.tenant_id = $1 AND {filter} = $2 ORDER BY p.period_begin DESC, p.participant_id, p.referentie_nummer"
    )))
    .bind(&tenant.id)
    .bind(key)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Prestatie::from).collect())
}

/// The merged record of one participant of `tenant`, by id or BSN; `None`
/// when the tenant has no such participant.
pub async fn participant(
    pool: &AnyPool,
    tenant: &Tenant,
    key: &str,
) -> Result<Option<ParticipantRecord>> {
    let Some(p): Option<ParticipantRow> = sqlx::query_as(
        "SELECT id, bsn, client_number, birth_date, gender, name_json, contact_json, group_name \
         FROM participants WHERE tenant_id = $1 AND (id = $2 OR bsn = $2)",
    )
    .bind(&tenant.id)
    .bind(key)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let rows: Vec<AllocationRow> = sqlx::query_as(
        "SELECT a.id, a.toewijzing_nummer, a.referentie_aanbieder, a.aanbieder, a.product_categorie, a.product_code, a.toewijzingsdatum, \
         a.ingangsdatum, a.einddatum, a.reden_wijziging, a.volume, a.eenheid, a.frequentie, a.budget, a.status, a.updated_at, \
         f.kind AS financier_kind, f.code AS financier_code, f.name AS financier_name, f.standard \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id WHERE a.tenant_id = $1 AND a.participant_id = $2 \
         ORDER BY a.ingangsdatum, a.toewijzing_nummer",
    )
    .bind(&tenant.id)
    .bind(&p.id)
    .fetch_all(pool)
    .await?;
    // The histories of all its allocations in one query each, not one per
    // allocation.
    let events: Vec<AllocationEvent> = sqlx::query_as(
        "SELECT e.allocation_id, e.status, e.detail, e.message_id, e.created_at FROM allocation_events e \
         JOIN allocations a ON a.id = e.allocation_id WHERE a.tenant_id = $1 AND a.participant_id = $2 \
         ORDER BY e.created_at, e.id",
    )
    .bind(&tenant.id)
    .bind(&p.id)
    .fetch_all(pool)
    .await?;
    let deliveries: Vec<DeliveryView> = sqlx::query_as(
        "SELECT d.allocation_id, d.kind, d.begindatum, d.einddatum, d.reden_beeindiging, d.status_aanlevering, \
         d.current, d.answer, d.message_id, d.created_at FROM deliveries d \
         JOIN allocations a ON a.id = d.allocation_id WHERE a.tenant_id = $1 AND a.participant_id = $2 \
         ORDER BY d.created_at, d.id",
    )
    .bind(&tenant.id)
    .bind(&p.id)
    .fetch_all(pool)
    .await?;
    let allocations = rows
        .into_iter()
        .map(|a| AllocationView {
            history: events
                .iter()
                .filter(|e| e.allocation_id == a.id)
                .cloned()
                .collect(),
            deliveries: deliveries
                .iter()
                .filter(|d| d.allocation_id == a.id)
                .cloned()
                .collect(),
            financier: FinancierRef {
                kind: a.financier_kind,
                code: a.financier_code,
                name: a.financier_name,
                standard: a.standard,
            },
            product: ProductRef {
                categorie: a.product_categorie,
                code: a.product_code,
            },
            omvang: Omvang {
                volume: a.volume,
                eenheid: a.eenheid,
                frequentie: a.frequentie,
            },
            id: a.id,
            toewijzing_nummer: a.toewijzing_nummer,
            referentie_aanbieder: a.referentie_aanbieder,
            aanbieder: a.aanbieder,
            toewijzingsdatum: a.toewijzingsdatum,
            ingangsdatum: a.ingangsdatum,
            einddatum: a.einddatum,
            reden_wijziging: a.reden_wijziging,
            budget: a.budget,
            status: a.status,
            updated_at: a.updated_at,
        })
        .collect();
    let messages: Vec<MessageSummary> = sqlx::query_as(
        "SELECT m.id, m.direction, m.bericht, m.status, m.retourcodes, m.created_at, s.status AS exchange_status \
         FROM messages m LEFT JOIN exchange_status s ON s.message_id = m.id \
         WHERE m.tenant_id = $1 AND m.participant_id = $2 ORDER BY m.created_at, m.id",
    )
    .bind(&tenant.id)
    .bind(&p.id)
    .fetch_all(pool)
    .await?;
    let prestaties = prestaties(pool, tenant, Prestaties::OfParticipant(&p.id)).await?;
    let review_items = super::review::open_of(pool, tenant, &p.id).await?;
    let json = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    Ok(Some(ParticipantRecord {
        name: json(&p.name_json),
        contact: json(&p.contact_json),
        id: p.id,
        bsn: p.bsn,
        client_number: p.client_number,
        birth_date: p.birth_date,
        gender: p.gender,
        group: p.group_name,
        allocations,
        messages,
        prestaties,
        review_items,
    }))
}

/// A participant in a list (`schemas/api/participant-list.json`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ParticipantListItem {
    pub id: String,
    pub bsn: String,
    #[serde(rename = "naam", serialize_with = "json_text")]
    pub name_json: String,
    #[serde(rename = "geboortedatum")]
    pub birth_date: Option<String>,
}

/// The tenant's participants, oldest first; only those with an allocation
/// in `status`, or financed by a financier of `kind`, when given.
pub async fn participants(
    pool: &AnyPool,
    tenant: &Tenant,
    status: Option<&str>,
    kind: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ParticipantListItem>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.bsn, p.name_json, p.birth_date FROM participants p WHERE p.tenant_id = $1 \
         AND ($2 IS NULL OR EXISTS (SELECT 1 FROM allocations a WHERE a.participant_id = p.id AND a.status = $2)) \
         AND ($3 IS NULL OR EXISTS (SELECT 1 FROM allocations a JOIN financiers f ON f.id = a.financier_id \
              WHERE a.participant_id = p.id AND f.kind = $3)) \
         ORDER BY p.created_at, p.id LIMIT $4 OFFSET $5",
    )
    .bind(&tenant.id)
    .bind(status)
    .bind(kind)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?)
}

/// Whether `tenant` has a participant with this id.
pub async fn participant_exists(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM participants WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant.id)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

/// A message with the id of its answer (`messages_answer_of`).
pub(crate) const MESSAGE: &str = "SELECT m.id, m.direction, m.standard, m.bericht, m.sender, m.receiver, m.identificatie, \
     m.dagtekening, m.participant_id, m.status, m.retourcodes, m.findings, m.parsed, m.raw, m.raw_encoding, m.answer_of, \
     m.created_at, (SELECT a.id FROM messages a WHERE a.answer_of = m.id) AS answer_id \
     FROM messages m WHERE m.id = $1 AND m.tenant_id = $2";

/// One stored message of `tenant`, its bytes unpacked and, for an
/// iStandaarden message, its JSON derived from them (the one place that
/// shows it: storing it beside the bytes doubled what a message cost).
pub async fn message(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<MessageDetail>> {
    let row: Option<MessageDetail> = sqlx::query_as(MESSAGE)
        .bind(id)
        .bind(&tenant.id)
        .fetch_optional(pool)
        .await?;
    let Some(mut m) = row else { return Ok(None) };
    m.raw = body::unpack(&m.raw_encoding, std::mem::take(&mut m.raw))?;
    m.raw_encoding = body::IDENTITY.to_string();
    if m.parsed.is_none() && matches!(m.standard.as_deref(), Some("iwmo" | "ijw")) {
        // A stored message passed its size limit when it was received or
        // written (which may be configured above the default), so only the
        // depth guard applies on reading it back.
        m.parsed = istandaard::check(Schema::builtin()?, &m.raw, &Limits::outgoing())
            .ok()
            .map(|c| super::parsed_json(&c));
    }
    m.exchange = super::exchange::view(pool, &tenant.id, id).await?;
    Ok(Some(m))
}

/// Whether the participant was present on a day `allocation` covers
/// (between `from` and `to`): delivered, so it should have been started.
pub async fn delivered_within(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
    allocation: &str,
    from: &str,
    to: &str,
) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM registrations WHERE tenant_id = $1 AND participant_id = $2 AND superseded_by IS NULL \
         AND present = 1 AND day >= $3 AND day <= $4 AND (allocation_id IS NULL OR allocation_id = $5) LIMIT 1",
    )
    .bind(&tenant.id)
    .bind(participant)
    .bind(from)
    .bind(to)
    .bind(allocation)
    .fetch_optional(pool)
    .await?
    .is_some())
}

/// A declaration (a 323, an invoice or a credit note) with its financier,
/// its lines counted by what the answers made of them, and its outbox state.
#[derive(Debug, Clone, sqlx::FromRow)]
struct DeclarationRow {
    id: String,
    message_id: String,
    standard: String,
    declaratie_nummer: String,
    period_begin: String,
    period_end: String,
    total_cents: i64,
    status: String,
    created_at: String,
    answered_at: Option<String>,
    kind: String,
    code: String,
    name: Option<String>,
    bericht: Option<String>,
    message_status: String,
    outbox_state: Option<String>,
    lines: i64,
    approved: i64,
    rejected: i64,
}

/// A declaration as the API (`schemas/api/declaration-list.json`) and the
/// declarations page show it.
#[derive(Debug, Clone, Serialize)]
pub struct DeclarationView {
    pub id: String,
    pub message_id: String,
    pub standard: String,
    /// WMO323 | JW323 | Invoice | CreditNote
    pub bericht: Option<String>,
    pub financier: FinancierRef,
    pub declaratie_nummer: String,
    pub period_begin: String,
    pub period_end: String,
    /// Net, in cents: debit minus credit.
    pub total_cents: i64,
    /// sent | answered
    pub status: String,
    pub message_status: String,
    /// queued | sending | sent | failed (none for an old row).
    pub outbox_state: Option<String>,
    pub lines: i64,
    pub approved: i64,
    pub rejected: i64,
    pub created_at: String,
    pub answered_at: Option<String>,
}

impl From<DeclarationRow> for DeclarationView {
    fn from(r: DeclarationRow) -> DeclarationView {
        DeclarationView {
            financier: FinancierRef {
                kind: r.kind,
                code: r.code,
                name: r.name,
                standard: Some(r.standard.clone()),
            },
            id: r.id,
            message_id: r.message_id,
            standard: r.standard,
            bericht: r.bericht,
            declaratie_nummer: r.declaratie_nummer,
            period_begin: r.period_begin,
            period_end: r.period_end,
            total_cents: r.total_cents,
            status: r.status,
            message_status: r.message_status,
            outbox_state: r.outbox_state,
            lines: r.lines,
            approved: r.approved,
            rejected: r.rejected,
            created_at: r.created_at,
            answered_at: r.answered_at,
        }
    }
}

const DECLARATION: &str = "SELECT d.id, d.message_id, d.standard, d.declaratie_nummer, d.period_begin, d.period_end, \
     d.total_cents, d.status, d.created_at, d.answered_at, f.kind, f.code, f.name, m.bericht, m.status AS message_status, \
     o.state AS outbox_state, \
     (SELECT COUNT(*) FROM prestaties p WHERE p.declaration_id = d.id) AS lines, \
     (SELECT COUNT(*) FROM prestaties p WHERE p.declaration_id = d.id AND p.status = 'approved') AS approved, \
     (SELECT COUNT(*) FROM prestaties p WHERE p.declaration_id = d.id AND p.status = 'rejected') AS rejected \
     FROM declarations d JOIN financiers f ON f.id = d.financier_id JOIN messages m ON m.id = d.message_id \
     LEFT JOIN outbox o ON o.message_id = d.message_id";

/// Which declarations to list.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeclarationFilter<'a> {
    /// The declaration period's month, `YYYY-MM`.
    pub month: Option<&'a str>,
    /// The financier as `kind:code`.
    pub financier: Option<&'a str>,
    /// Newest first (the API); otherwise by period, financier, newest first
    /// (the page).
    pub newest_first: bool,
    pub limit: i64,
}

/// The tenant's declarations.
pub async fn declarations(
    pool: &AnyPool,
    tenant: &Tenant,
    f: DeclarationFilter<'_>,
) -> Result<Vec<DeclarationView>> {
    let order = if f.newest_first {
        "d.created_at DESC, d.id"
    } else {
        "d.period_begin DESC, f.kind, f.code, d.created_at DESC"
    };
    let rows: Vec<DeclarationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DECLARATION} WHERE d.tenant_id = $1 AND ($2 IS NULL OR substr(d.period_begin, 1, 7) = $2) \
         AND ($3 IS NULL OR f.kind || ':' || f.code = $3) ORDER BY {order} LIMIT $4"
    )))
    .bind(&tenant.id)
    .bind(f.month)
    .bind(f.financier)
    .bind(f.limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(DeclarationView::from).collect())
}

/// One declaration of `tenant`.
pub async fn declaration(
    pool: &AnyPool,
    tenant: &Tenant,
    id: &str,
) -> Result<Option<DeclarationView>> {
    let row: Option<DeclarationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DECLARATION} WHERE d.tenant_id = $1 AND d.id = $2"
    )))
    .bind(&tenant.id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(DeclarationView::from))
}

/// The tenant's financiers, as `(kind, code)`.
pub async fn financiers(pool: &AnyPool, tenant: &Tenant) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as(
            "SELECT kind, code FROM financiers WHERE tenant_id = $1 ORDER BY kind, code",
        )
        .bind(&tenant.id)
        .fetch_all(pool)
        .await?,
    )
}

/// The message of a declaration as it was sent, for download.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeclarationDocument {
    /// The bytes as sent (unpacked by [`declaration_document`]).
    pub raw: Vec<u8>,
    pub raw_encoding: String,
    pub bericht: Option<String>,
    pub declaratie_nummer: String,
}

/// The sent message of a declaration of `tenant`.
pub async fn declaration_document(
    pool: &AnyPool,
    tenant: &Tenant,
    id: &str,
) -> Result<Option<DeclarationDocument>> {
    let row: Option<DeclarationDocument> = sqlx::query_as(
        "SELECT m.raw, m.raw_encoding, m.bericht, d.declaratie_nummer FROM declarations d JOIN messages m ON m.id = d.message_id \
         WHERE d.tenant_id = $1 AND d.id = $2",
    )
    .bind(&tenant.id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(mut d) = row else { return Ok(None) };
    d.raw = body::unpack(&d.raw_encoding, std::mem::take(&mut d.raw))?;
    Ok(Some(d))
}

/// One participant with one of its allocations (or none), for the
/// participants page: a row per allocation, grouped by the page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OverviewRow {
    pub id: String,
    pub name_json: String,
    pub group_name: Option<String>,
    /// The allocation's financier kind, when it has one.
    pub kind: Option<String>,
    pub status: Option<String>,
    pub einddatum: Option<String>,
}

/// The tenant's participants with their allocations, in participant order;
/// only those of `group`, or financed by a financier of `kind`, when given.
pub async fn overview(
    pool: &AnyPool,
    tenant: &Tenant,
    group: Option<&str>,
    kind: Option<&str>,
) -> Result<Vec<OverviewRow>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.name_json, p.group_name, f.kind, a.status, a.einddatum \
         FROM participants p LEFT JOIN allocations a ON a.participant_id = p.id \
         LEFT JOIN financiers f ON f.id = a.financier_id \
         WHERE p.tenant_id = $1 AND ($2 IS NULL OR p.group_name = $2) \
           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM allocations b JOIN financiers g ON g.id = b.financier_id \
                WHERE b.participant_id = p.id AND g.kind = $3)) \
         ORDER BY p.id",
    )
    .bind(&tenant.id)
    .bind(group)
    .bind(kind)
    .fetch_all(pool)
    .await?)
}

/// The groups (or locations) the tenant's participants attend.
pub async fn groups(pool: &AnyPool, tenant: &Tenant) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT group_name FROM participants WHERE tenant_id = $1 AND group_name IS NOT NULL ORDER BY group_name",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(g,)| g).collect())
}

/// Every allocation of the tenant with its status and financier, by id:
/// what the review queue shows beside an item about an allocation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AllocationFinancier {
    pub id: String,
    pub status: String,
    pub kind: String,
    pub code: String,
}

pub async fn allocation_financiers(
    pool: &AnyPool,
    tenant: &Tenant,
) -> Result<Vec<AllocationFinancier>> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.status, f.kind, f.code FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await?)
}

/// The Naam of every participant that has a review item, by id.
pub async fn reviewed_names(pool: &AnyPool, tenant: &Tenant) -> Result<Vec<(String, Value)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, name_json FROM participants WHERE tenant_id = $1 \
         AND id IN (SELECT participant_id FROM review_items WHERE tenant_id = $1)",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (id, serde_json::from_str(&name).unwrap_or(Value::Null)))
        .collect())
}

/// The Ontvanger of one of the tenant's messages.
pub async fn message_receiver(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT receiver FROM messages WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant.id)
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(r,)| r))
}

/// An incoming message loket refused (rejected or unusable).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefusedMessage {
    pub created_at: String,
    pub bericht: Option<String>,
    pub sender: Option<String>,
    /// rejected | unusable
    pub status: String,
    pub retourcodes: String,
}

impl RefusedMessage {
    pub fn codes(&self) -> Vec<String> {
        serde_json::from_str(&self.retourcodes).unwrap_or_default()
    }
}

/// Incoming messages loket refused, newest first (at most `limit`); only
/// from `sender`, or received in `month` (`YYYY-MM`), when given.
/// The refused inbound messages, newest first (`messages_refused`).
pub(crate) const REFUSED: &str = "SELECT created_at, bericht, sender, status, retourcodes FROM messages \
     WHERE tenant_id = $1 AND direction = 'in' AND status IN ('rejected', 'unusable') AND ($2 IS NULL OR sender = $2) \
     AND ($3 IS NULL OR created_at LIKE $3) ORDER BY created_at DESC, id DESC LIMIT $4";

pub async fn refused_messages(
    pool: &AnyPool,
    tenant: &Tenant,
    sender: Option<&str>,
    month: Option<&str>,
    limit: i64,
) -> Result<Vec<RefusedMessage>> {
    Ok(sqlx::query_as(REFUSED)
        .bind(&tenant.id)
        .bind(sender)
        .bind(month.map(|m| format!("{m}%")))
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// The first day of the latest period the tenant declared, if any.
pub async fn latest_declared_period(pool: &AnyPool, tenant: &Tenant) -> Result<Option<String>> {
    let row: (Option<String>,) =
        sqlx::query_as("SELECT MAX(period_begin) FROM declarations WHERE tenant_id = $1")
            .bind(&tenant.id)
            .fetch_one(pool)
            .await?;
    Ok(row.0)
}
