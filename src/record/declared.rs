//! Declarations a municipality receives (WMO323/JW323): judged against its
//! own allocations before its 325 leaves, and what that 325 approved and
//! rejected kept per prestatie. This module owns `judged_prestaties`.
//!
//! - [`judge`] reads the municipality's allocations at the declaring
//!   provider (its `aanbieder`) and what it judged of that provider's
//!   declarations before, and applies the declaration rules of
//!   [`crate::engine::rules`] to the message: the same code a provider runs
//!   on the declaration it is about to send (TR304, TR307, TR308, TR314,
//!   TR321, TR322, TR323, TR333, TR338 to TR341, TR369, TR384, TR387 to
//!   TR390, and TR346/TR418 where the municipality's mapping for that
//!   provider has the product's tariffs). Its findings build the 325.
//! - [`record`] stores every prestatie of the message with what the 325
//!   says about it ([`super::answers::verdict_325`], the reading a provider
//!   applies a 325 with); an approved credit marks the debit it names.
//!
//! So "declared and approved" on the municipality's side is counted from
//! the same lines, by the same rules, as on the provider's.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use sqlx::Row;

use super::answers::{Verdict, verdict_325};
use super::apply::Tx;
use crate::engine::compute::{Allocation, Order, Participant, Snapshot};
use crate::engine::load::{date, prior_of};
use crate::engine::rules::{self, View};
use crate::finding::Finding;
use crate::mapping::{FinancierKey, Kind, Mappings, ProductKey};
use crate::message::Message;
use crate::store::{Tenant, TenantKind, new_id, now};

/// Statuses of a judged prestatie, as stored.
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";

/// The law of a message (`financiers.kind`).
fn law_of(msg: &Message) -> Kind {
    if msg.standard().name == "ijw" {
        Kind::Jeugdwet
    } else {
        Kind::Wmo
    }
}

/// What the municipality knows of one provider under one law.
struct Known {
    snap: Snapshot,
    financier_id: String,
    used_references: HashSet<String>,
    used_numbers: HashSet<String>,
    /// Allocation ids by ToewijzingNummer.
    by_number: HashMap<String, String>,
}

/// Reads the municipality's allocations granted to `agb` under `law`, and
/// every prestatie of that provider it judged before.
async fn read(tx: &mut Tx, tenant: &Tenant, agb: &str, law: Kind, standard: &str) -> Result<Known> {
    let financier_id = format!("{}:{}-{}", tenant.id, law.as_str(), tenant.id);
    let mut snap = Snapshot::default();
    let rows = sqlx::query(
        "SELECT a.id, a.participant_id, a.toewijzing_nummer, a.product_categorie, a.product_code, a.ingangsdatum, \
         a.einddatum, a.volume, a.eenheid, a.frequentie, a.budget, a.reden_wijziging, p.bsn \
         FROM allocations a JOIN participants p ON p.id = a.participant_id \
         WHERE a.tenant_id = $1 AND a.financier_id = $2 AND a.aanbieder = $3 \
         ORDER BY a.participant_id, a.ingangsdatum, a.toewijzing_nummer",
    )
    .bind(&tenant.id)
    .bind(&financier_id)
    .bind(agb)
    .fetch_all(&mut **tx)
    .await
    .context("reading the allocations at the declaring provider")?;
    let mut participants: HashMap<String, usize> = HashMap::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut by_number = HashMap::new();
    let contract = FinancierKey::new(Kind::Aanbieder, agb);
    for r in rows {
        let pid: String = r.try_get("participant_id")?;
        let participant = *participants.entry(pid.clone()).or_insert_with(|| {
            snap.participants.push(Participant {
                id: pid.clone(),
                bsn: r.try_get("bsn").unwrap_or_default(),
            });
            snap.participants.len() - 1
        });
        let id: String = r.try_get("id")?;
        let nummer: String = r.try_get("toewijzing_nummer")?;
        let text = |c: &str| -> Result<String> {
            Ok(r.try_get::<Option<String>, _>(c)?.unwrap_or_default())
        };
        let einddatum: Option<String> = r.try_get("einddatum")?;
        let volume: Option<i64> = r.try_get("volume")?;
        let budget: Option<i64> = r.try_get("budget")?;
        index.insert(id.clone(), snap.allocations.len());
        by_number.insert(nummer.clone(), id.clone());
        snap.allocations.push(Allocation {
            id,
            participant,
            financier_id: financier_id.clone(),
            // The contract with this provider is the municipality's mapping
            // of kind aanbieder: its products and tariffs (TR418, TR346).
            financier: contract.clone(),
            toewijzing_nummer: nummer,
            product: ProductKey::new(&text("product_categorie")?, &text("product_code")?),
            ingangsdatum: date(&r.try_get::<String, _>("ingangsdatum")?)?,
            einddatum: einddatum.as_deref().map(date).transpose()?,
            volume: volume.and_then(|v| u64::try_from(v).ok()),
            eenheid: r.try_get("eenheid")?,
            frequentie: r.try_get("frequentie")?,
            budget: budget.and_then(|v| u64::try_from(v).ok()),
            removed: r
                .try_get::<Option<String>, _>("reden_wijziging")?
                .as_deref()
                == Some("13"),
            order: Order::default(),
        });
    }
    let rows = sqlx::query(
        "SELECT id, allocation_id, declaratie_nummer, referentie_nummer, period_begin, period_end, volume, eenheid, \
         tarief_cents, bedrag_cents, debet_credit, status, credited_by \
         FROM judged_prestaties WHERE tenant_id = $1 AND aanbieder = $2 AND standard = $3 ORDER BY created_at, id",
    )
    .bind(&tenant.id)
    .bind(agb)
    .bind(standard)
    .fetch_all(&mut **tx)
    .await
    .context("reading the prestaties judged before")?;
    let mut used_references = HashSet::new();
    let mut used_numbers = HashSet::new();
    for r in rows {
        used_references.insert(r.try_get::<String, _>("referentie_nummer")?);
        used_numbers.insert(r.try_get::<String, _>("declaratie_nummer")?);
        let Some(&allocation) = r
            .try_get::<Option<String>, _>("allocation_id")?
            .and_then(|a| index.get(&a))
        else {
            continue;
        };
        snap.prior.push(prior_of(&r, allocation, false)?);
    }
    Ok(Known {
        snap,
        financier_id,
        used_references,
        used_numbers,
        by_number,
    })
}

/// Judges a 323 a municipality received with the declaration rules, on its
/// own allocations at the declaring provider and what it judged before.
/// A provider tenant receives no declarations: nothing to judge.
pub async fn judge(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    mappings: &Mappings,
) -> Result<Vec<Finding>> {
    if tenant.kind != TenantKind::Gemeente {
        return Ok(Vec::new());
    }
    let agb = msg.value("Header/Afzender").unwrap_or_default();
    let law = law_of(msg);
    let known = read(tx, tenant, agb, law, &msg.standard().name).await?;
    let mut view = View::new(
        &known.snap,
        mappings,
        &known.financier_id,
        &known.used_references,
        &known.used_numbers,
        // TR318 compares with the provider's own last period, which the
        // municipality does not keep per declaration.
        None,
    );
    view.law = Some(law);
    Ok(rules::check(&view, msg))
}

/// Stores every prestatie of a 323 the municipality received (`message_id`)
/// with what its 325 (`answer`) says about it; an approved credit marks the
/// debit it names as credited. A ReferentieNummer judged before (TR314) is
/// not stored twice. Only for a municipality tenant.
pub async fn record(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    message_id: &str,
    answer: &Message,
) -> Result<()> {
    if tenant.kind != TenantKind::Gemeente || msg.def().number != "323" {
        return Ok(());
    }
    let Some(verdict) = verdict_325(answer) else {
        return Ok(());
    };
    let Some(decl) = msg.get("Declaratie") else {
        return Ok(());
    };
    let agb = msg.value("Header/Afzender").unwrap_or_default();
    let standard = msg.standard().name.as_str();
    let law = law_of(msg);
    let known = read(tx, tenant, agb, law, standard).await?;
    let nummer = decl.value("DeclaratieNummer").unwrap_or_default();
    let ts = now();
    for client in decl.all("Clienten/Client") {
        let bsn = client.value("Bsn").unwrap_or_default();
        let participant = super::apply::participant_id_for_bsn(tx, &tenant.id, bsn).await?;
        for p in client.all("Prestaties/Prestatie") {
            let reference = p
                .value("ProductReferentie/ReferentieNummer")
                .unwrap_or_default();
            let codes = match &verdict {
                Verdict::Refused(c) => Some(c.clone()),
                Verdict::Lines(map) => map.get(reference).cloned(),
            };
            let status = if codes.is_some() { REJECTED } else { APPROVED };
            let dc = p.value("IngediendBedrag/DebetCredit").unwrap_or("D");
            let vorig = p.value("ProductReferentie/VorigReferentieNummer");
            let allocation = known
                .by_number
                .get(p.value("ToewijzingNummer").unwrap_or_default());
            let id = new_id();
            sqlx::query(
                "INSERT INTO judged_prestaties (id, tenant_id, aanbieder, standard, message_id, declaratie_nummer, \
                 referentie_nummer, vorig_referentie_nummer, participant_id, allocation_id, toewijzing_nummer, \
                 product_categorie, product_code, period_begin, period_end, volume, eenheid, tarief_cents, bedrag_cents, \
                 debet_credit, status, retourcodes, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
                 ON CONFLICT (tenant_id, aanbieder, standard, referentie_nummer) DO NOTHING",
            )
            .bind(&id)
            .bind(&tenant.id)
            .bind(agb)
            .bind(standard)
            .bind(message_id)
            .bind(nummer)
            .bind(reference)
            .bind(vorig)
            .bind(participant.as_deref())
            .bind(allocation.map(String::as_str))
            .bind(p.value("ToewijzingNummer").unwrap_or_default())
            .bind(p.value("ProductCategorie").unwrap_or_default())
            .bind(p.value("ProductCode"))
            .bind(p.value("ProductPeriode/Begindatum").unwrap_or_default())
            .bind(p.value("ProductPeriode/Einddatum").unwrap_or_default())
            .bind(p.int("GeleverdVolume").unwrap_or(0))
            .bind(p.value("Eenheid").unwrap_or_default())
            .bind(p.int("ProductTarief"))
            .bind(p.int("IngediendBedrag/Bedrag").unwrap_or(0))
            .bind(dc)
            .bind(status)
            .bind(serde_json::to_string(&codes.unwrap_or_default())?)
            .bind(&ts)
            .execute(&mut **tx)
            .await
            .context("storing a judged prestatie")?;
            if status == APPROVED
                && dc == "C"
                && let Some(v) = vorig
            {
                sqlx::query(
                    "UPDATE judged_prestaties SET credited_by = $1 WHERE tenant_id = $2 AND aanbieder = $3 \
                     AND standard = $4 AND referentie_nummer = $5 AND credited_by IS NULL",
                )
                .bind(reference)
                .bind(&tenant.id)
                .bind(agb)
                .bind(standard)
                .bind(v)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// One judged prestatie as stored (`judged_prestaties`): what the
/// municipality's pages and its decisions read.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct JudgedLine {
    pub id: String,
    pub message_id: String,
    pub aanbieder: String,
    pub standard: String,
    pub declaratie_nummer: String,
    pub referentie_nummer: String,
    pub vorig_referentie_nummer: Option<String>,
    pub participant_id: Option<String>,
    pub allocation_id: Option<String>,
    pub toewijzing_nummer: String,
    pub product_categorie: String,
    pub product_code: Option<String>,
    pub period_begin: String,
    pub period_end: String,
    pub volume: i64,
    pub eenheid: String,
    pub tarief_cents: Option<i64>,
    pub bedrag_cents: i64,
    pub debet_credit: String,
    pub status: String,
    /// WJ001 codes (rejected lines): stored as a JSON array, shown as one.
    #[serde(serialize_with = "codes_as_list")]
    pub retourcodes: String,
    pub credited_by: Option<String>,
}

/// A stored JSON array of codes serialized as the array itself.
pub fn codes_as_list<S: serde::Serializer>(codes: &str, s: S) -> Result<S::Ok, S::Error> {
    let list: Vec<String> = serde_json::from_str(codes).unwrap_or_default();
    serde::Serialize::serialize(&list, s)
}

impl JudgedLine {
    /// The retourcodes as a list.
    pub fn codes(&self) -> Vec<String> {
        serde_json::from_str(&self.retourcodes).unwrap_or_default()
    }
}

const LINE: &str = "SELECT id, message_id, aanbieder, standard, declaratie_nummer, referentie_nummer, \
     vorig_referentie_nummer, participant_id, allocation_id, toewijzing_nummer, product_categorie, product_code, \
     period_begin, period_end, volume, eenheid, tarief_cents, bedrag_cents, debet_credit, status, retourcodes, \
     credited_by FROM judged_prestaties";

/// Every judged line of one received 323 (`message_id`), in the order
/// they were stored.
pub async fn lines_of<'e, E>(exec: E, tenant: &str, message_id: &str) -> Result<Vec<JudgedLine>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LINE} WHERE tenant_id = $1 AND message_id = $2 ORDER BY created_at, id"
    )))
    .bind(tenant)
    .bind(message_id)
    .fetch_all(exec)
    .await
    .context("reading the judged lines of a declaration")
}

/// A person's verdict on one judged line replaces loket's: the line's
/// status and codes, and the credit it makes (an approved credit marks the
/// debit it names; a credit no longer approved unmarks it). Returns false
/// when the line is not the tenant's.
pub async fn set_verdict(
    tx: &mut Tx,
    tenant: &str,
    line: &JudgedLine,
    status: &str,
    codes: &[String],
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE judged_prestaties SET status = $1, retourcodes = $2 WHERE id = $3 AND tenant_id = $4",
    )
    .bind(status)
    .bind(serde_json::to_string(codes)?)
    .bind(&line.id)
    .bind(tenant)
    .execute(&mut **tx)
    .await
    .context("storing a decided verdict")?
    .rows_affected();
    if done != 1 {
        return Ok(false);
    }
    if line.debet_credit == "C"
        && let Some(debit) = &line.vorig_referentie_nummer
    {
        let (set, when) = if status == APPROVED {
            (Some(line.referentie_nummer.as_str()), "credited_by IS NULL")
        } else {
            (None, "credited_by = $6")
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE judged_prestaties SET credited_by = $1 WHERE tenant_id = $2 AND aanbieder = $3 \
             AND standard = $4 AND referentie_nummer = $5 AND {when}"
        )))
        .bind(set)
        .bind(tenant)
        .bind(&line.aanbieder)
        .bind(&line.standard)
        .bind(debit)
        .bind(&line.referentie_nummer)
        .execute(&mut **tx)
        .await
        .context("marking the credited debit")?;
    }
    Ok(true)
}

/// One received 323 with its lines counted: the municipality's list per
/// provider and month.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ReceivedDeclaration {
    pub message_id: String,
    pub aanbieder: String,
    pub standard: String,
    pub declaratie_nummer: String,
    /// The earliest period begin of its lines (`YYYY-MM-DD`).
    pub period_begin: String,
    pub received_at: String,
    pub lines: i64,
    pub rejected: i64,
    /// Signed (credit negative), in cents.
    pub declared_cents: i64,
    pub approved_cents: i64,
    pub rejected_cents: i64,
}

/// The tenant's received declarations, newest first; only `aanbieder`'s
/// and those with a line in `month` (`YYYY-MM`) when given.
pub async fn received(
    pool: &sqlx::AnyPool,
    tenant: &str,
    aanbieder: Option<&str>,
    month: Option<&str>,
) -> Result<Vec<ReceivedDeclaration>> {
    let signed = "CASE WHEN j.debet_credit = 'C' THEN -j.bedrag_cents ELSE j.bedrag_cents END";
    let like = month.map(|m| format!("{m}%"));
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT j.message_id, MIN(j.aanbieder) AS aanbieder, MIN(j.standard) AS standard, \
         MIN(j.declaratie_nummer) AS declaratie_nummer, MIN(j.period_begin) AS period_begin, \
         MIN(m.created_at) AS received_at, COUNT(*) AS lines, \
         CAST(SUM(CASE WHEN j.status = 'rejected' THEN 1 ELSE 0 END) AS BIGINT) AS rejected, \
         CAST(SUM({signed}) AS BIGINT) AS declared_cents, \
         CAST(SUM(CASE WHEN j.status = 'approved' THEN {signed} ELSE 0 END) AS BIGINT) AS approved_cents, \
         CAST(SUM(CASE WHEN j.status = 'rejected' THEN {signed} ELSE 0 END) AS BIGINT) AS rejected_cents \
         FROM judged_prestaties j JOIN messages m ON m.id = j.message_id \
         WHERE j.tenant_id = $1 AND ($2 IS NULL OR j.aanbieder = $2) \
         GROUP BY j.message_id \
         HAVING ($3 IS NULL OR MIN(j.period_begin) LIKE $3) \
         ORDER BY MIN(m.created_at) DESC, j.message_id LIMIT 500"
    )))
    .bind(tenant)
    .bind(aanbieder)
    .bind(like)
    .fetch_all(pool)
    .await
    .context("reading the received declarations")
}

/// One of the municipality's allocations with what it approved on it
/// (debits not credited): the allocations page.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct GrantedAllocation {
    pub id: String,
    pub participant_id: String,
    /// The participant's name as the record keeps it (JSON); for the page.
    pub name_json: Option<String>,
    pub aanbieder: Option<String>,
    pub toewijzing_nummer: String,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub volume: Option<i64>,
    pub eenheid: Option<String>,
    pub frequentie: Option<String>,
    pub budget: Option<i64>,
    pub status: String,
    pub used_volume: Option<i64>,
    pub used_cents: Option<i64>,
}

/// The municipality's allocations, per provider and participant, each with
/// the volume and amount it approved on it; only `aanbieder`'s when given.
pub async fn granted(
    pool: &sqlx::AnyPool,
    tenant: &str,
    aanbieder: Option<&str>,
) -> Result<Vec<GrantedAllocation>> {
    sqlx::query_as(
        "SELECT a.id, a.participant_id, p.name_json, a.aanbieder, a.toewijzing_nummer, a.product_categorie, \
         a.product_code, a.ingangsdatum, a.einddatum, a.volume, a.eenheid, a.frequentie, a.budget, a.status, \
         u.used_volume, u.used_cents \
         FROM allocations a JOIN participants p ON p.id = a.participant_id \
         LEFT JOIN (SELECT allocation_id, CAST(SUM(volume) AS BIGINT) AS used_volume, \
           CAST(SUM(bedrag_cents) AS BIGINT) AS used_cents FROM judged_prestaties \
           WHERE tenant_id = $1 AND allocation_id IS NOT NULL AND status = 'approved' AND debet_credit = 'D' \
           AND credited_by IS NULL GROUP BY allocation_id) u ON u.allocation_id = a.id \
         WHERE a.tenant_id = $1 AND a.aanbieder IS NOT NULL AND ($2 IS NULL OR a.aanbieder = $2) \
         ORDER BY a.aanbieder, a.participant_id, a.ingangsdatum, a.toewijzing_nummer LIMIT 2000",
    )
    .bind(tenant)
    .bind(aanbieder)
    .fetch_all(pool)
    .await
    .context("reading the allocations and their use")
}
