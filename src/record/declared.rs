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
