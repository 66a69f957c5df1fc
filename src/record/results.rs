//! Pay-for-results on the record: the milestones staff record and the
//! claims the declaration run makes.
//!
//! This module is the one writer of `milestones`, `result_claims` and
//! `result_claim_evidence`. A claim is written in the run's transaction,
//! together with the prestatie or invoice line it was sent as, so a claim
//! exists exactly when its line does; the table's UNIQUE key (participant,
//! financier, result) makes a second claim for the same outcome impossible
//! whatever runs again.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::AnyPool;

use super::access::Actor;
use super::apply::Tx;
use super::outcomes::{OutcomeError, check_date, check_text, invalid, own_participant};
use crate::engine::results::Claim;
use crate::mapping::results::MILESTONES;
use crate::store::{WriteTx, new_id, now};

/// A milestone to record.
#[derive(Debug, Clone)]
pub struct NewMilestone {
    pub participant_id: String,
    /// One of [`MILESTONES`].
    pub kind: String,
    pub reached_on: NaiveDate,
    pub note: Option<String>,
}

/// A recorded milestone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct MilestoneRow {
    pub id: String,
    pub participant_id: String,
    pub kind: String,
    pub reached_on: String,
    pub note: Option<String>,
    pub recorded_by_name: String,
    pub created_at: String,
}

impl MilestoneRow {
    pub fn date(&self) -> Option<NaiveDate> {
        self.reached_on.parse().ok()
    }
}

/// Records a milestone in the caller's transaction; its id.
pub async fn add_milestone(
    w: &mut WriteTx,
    tenant: &str,
    by: &Actor,
    m: &NewMilestone,
) -> Result<String, OutcomeError> {
    own_participant(w, tenant, &m.participant_id).await?;
    if !MILESTONES.iter().any(|(k, _)| *k == m.kind) {
        let known: Vec<&str> = MILESTONES.iter().map(|(k, _)| *k).collect();
        return Err(invalid(
            format!(
                "onbekende mijlpaal {:?} (kies uit {})",
                m.kind,
                known.join(", ")
            ),
            format!(
                "unknown milestone {:?} (one of {})",
                m.kind,
                known.join(", ")
            ),
        ));
    }
    check_date("de datum van de mijlpaal", "milestone date", m.reached_on)?;
    let note = m.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        check_text("de toelichting", "the note", n)?;
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO milestones (id, tenant_id, participant_id, kind, reached_on, note, recorded_by, \
         recorded_by_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(&m.participant_id)
    .bind(&m.kind)
    .bind(m.reached_on.to_string())
    .bind(note)
    .bind(&by.actor)
    .bind(&by.name)
    .bind(now())
    .execute(&mut *w.tx)
    .await
    .context("cannot store the milestone")?;
    Ok(id)
}

const MILESTONE: &str = "SELECT id, participant_id, kind, reached_on, note, recorded_by_name, \
     created_at FROM milestones";

/// A participant's milestones, oldest first.
pub async fn milestones_of(
    pool: &AnyPool,
    tenant: &str,
    participant: &str,
) -> Result<Vec<MilestoneRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MILESTONE} WHERE tenant_id = $1 AND participant_id = $2 ORDER BY reached_on, created_at, id"
    )))
    .bind(tenant)
    .bind(participant)
    .fetch_all(pool)
    .await
    .context("cannot read milestones")
}

/// The milestones of every participant of the tenant, per participant,
/// oldest first: what a run evaluates (a handful per participant at most).
pub async fn milestones_by_participant(
    pool: &AnyPool,
    tenant: &str,
) -> Result<BTreeMap<String, Vec<MilestoneRow>>> {
    let rows: Vec<MilestoneRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MILESTONE} WHERE tenant_id = $1 ORDER BY participant_id, reached_on, created_at, id"
    )))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("cannot read milestones")?;
    let mut out: BTreeMap<String, Vec<MilestoneRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.participant_id.clone()).or_default().push(r);
    }
    Ok(out)
}

/// (participant, financier, result) of every claim made: read in the run's
/// transaction, after the tenant's lock, so what it says is what holds.
pub async fn claimed(tx: &mut Tx, tenant: &str) -> Result<HashSet<(String, String, String)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT participant_id, financier_id, result_id FROM result_claims WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read result claims")?;
    Ok(rows.into_iter().collect())
}

/// Stores a claim and its evidence, in the run's transaction, with the
/// line (`referentie`, in `declaration`) it was sent as.
pub async fn insert_claim(
    tx: &mut Tx,
    tenant: &str,
    claim: &Claim,
    referentie: &str,
    declaration: &str,
) -> Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO result_claims (id, tenant_id, participant_id, financier_id, result_id, result_name, \
         reached_on, amount_cents, allocation_id, referentie_nummer, declaration_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(&claim.participant_id)
    .bind(&claim.financier_id)
    .bind(&claim.result_id)
    .bind(&claim.result_name)
    .bind(claim.reached_on.to_string())
    .bind(i64::try_from(claim.price_cents).unwrap_or(i64::MAX))
    .bind(&claim.allocation_id)
    .bind(referentie)
    .bind(declaration)
    .bind(now())
    .execute(&mut **tx)
    .await
    .context("cannot store the result claim")?;
    for (i, e) in claim.evidence.iter().enumerate() {
        sqlx::query(
            "INSERT INTO result_claim_evidence (claim_id, position, measurement_id, milestone_id, \
             evidence_on, domain, score) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(i as i64)
        .bind(&e.measurement_id)
        .bind(&e.milestone_id)
        .bind(e.date.to_string())
        .bind(&e.domain)
        .bind(e.score)
        .execute(&mut **tx)
        .await
        .context("cannot store the claim's evidence")?;
    }
    Ok(id)
}

/// A claim as the pages and the financiers' reports read it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ClaimRow {
    pub id: String,
    pub participant_id: String,
    pub financier_id: String,
    pub financier_name: String,
    pub financier_kind: String,
    pub result_id: String,
    pub result_name: String,
    pub reached_on: String,
    pub amount_cents: i64,
    pub referentie_nummer: String,
    pub declaratie_nummer: Option<String>,
    pub standard: Option<String>,
    pub period_begin: Option<String>,
    /// The line's status: submitted, approved, rejected, invoiced.
    pub line_status: Option<String>,
    pub created_at: String,
}

/// One piece of a claim's evidence.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct EvidenceRow {
    pub claim_id: String,
    pub position: i64,
    pub measurement_id: Option<String>,
    pub milestone_id: Option<String>,
    pub evidence_on: String,
    pub domain: Option<String>,
    pub score: Option<i64>,
    /// The milestone's kind, for a milestone.
    pub milestone_kind: Option<String>,
    pub milestone_note: Option<String>,
}

/// A claim with its evidence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClaimWithEvidence {
    #[serde(flatten)]
    pub claim: ClaimRow,
    pub evidence: Vec<EvidenceRow>,
}

/// The claims of a tenant (of one financier, by its id, when given) whose
/// outcome was reached in `from..=to`, oldest first, with their evidence
/// and the status of the line each was sent as.
pub async fn claims(
    pool: &AnyPool,
    tenant: &str,
    financier: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ClaimWithEvidence>> {
    let rows: Vec<ClaimRow> = sqlx::query_as(
        "SELECT c.id, c.participant_id, c.financier_id, f.name AS financier_name, f.kind AS financier_kind, \
                c.result_id, c.result_name, c.reached_on, c.amount_cents, c.referentie_nummer, \
                d.declaratie_nummer, d.standard, d.period_begin, p.status AS line_status, c.created_at \
         FROM result_claims c JOIN financiers f ON f.id = c.financier_id \
         LEFT JOIN declarations d ON d.id = c.declaration_id \
         LEFT JOIN prestaties p ON p.tenant_id = c.tenant_id AND p.referentie_nummer = c.referentie_nummer \
              AND p.declaration_id = c.declaration_id \
         WHERE c.tenant_id = $1 AND ($2 IS NULL OR c.financier_id = $2) \
           AND c.reached_on >= $3 AND c.reached_on <= $4 \
         ORDER BY c.reached_on, c.created_at, c.id",
    )
    .bind(tenant)
    .bind(financier)
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(pool)
    .await
    .context("cannot read result claims")?;
    let mut evidence: BTreeMap<String, Vec<EvidenceRow>> = BTreeMap::new();
    if !rows.is_empty() {
        let all: Vec<EvidenceRow> = sqlx::query_as(
            "SELECT e.claim_id, e.position, e.measurement_id, e.milestone_id, e.evidence_on, e.domain, e.score, \
                    m.kind AS milestone_kind, m.note AS milestone_note \
             FROM result_claim_evidence e JOIN result_claims c ON c.id = e.claim_id \
             LEFT JOIN milestones m ON m.id = e.milestone_id \
             WHERE c.tenant_id = $1 ORDER BY e.claim_id, e.position",
        )
        .bind(tenant)
        .fetch_all(pool)
        .await
        .context("cannot read the claims' evidence")?;
        for e in all {
            evidence.entry(e.claim_id.clone()).or_default().push(e);
        }
    }
    Ok(rows
        .into_iter()
        .map(|claim| ClaimWithEvidence {
            evidence: evidence.remove(&claim.id).unwrap_or_default(),
            claim,
        })
        .collect())
}

/// Removes the free text of a participant's milestones when retention
/// pseudonymises them (as [`super::outcomes::pseudonymise`] does for the
/// other outcome data); kind and date stay, as evidence of a claim.
pub async fn pseudonymise(w: &mut WriteTx, tenant: &str, participant: &str) -> Result<()> {
    sqlx::query(
        "UPDATE milestones SET note = NULL WHERE tenant_id = $1 AND participant_id = $2 AND note IS NOT NULL",
    )
    .bind(tenant)
    .bind(participant)
    .execute(&mut *w.tx)
    .await
    .context("cannot remove the milestones' notes")?;
    Ok(())
}
