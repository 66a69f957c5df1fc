//! The AVG export (art. 15, right of access): everything loket holds on one
//! participant, as one typed document that the API serialises to JSON and
//! the web app renders as a page.
//!
//! It is assembled from the read models the pages and the API already use
//! (the participant record, registrations, requests, review items), plus
//! the ends of care, the audit trail and the access log, so the export
//! cannot show less than a page does. Messages are exported whole (raw XML
//! and parsed form) when they are this participant's own; a message that
//! names many participants (a declaration) is represented by this
//! participant's lines in it (`record.prestaties`), since its XML holds
//! other people's data.

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use super::access::{self, AuditLine, Entry};
use super::outcomes;
use super::read::{self, MessageDetail, ParticipantRecord};
use super::review::{self, ReviewItem};
use crate::registration::{self, Stored};
use crate::store::{Store, Tenant};

/// A registered end of care.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EndOfCare {
    pub id: String,
    pub end_date: String,
    pub reason: String,
    pub registered_by: String,
    #[serde(rename = "at")]
    pub created_at: String,
    pub processed_at: Option<String>,
}

/// The participant's outcome data.
#[derive(Debug, Clone, Serialize)]
pub struct Outcomes {
    pub measurements: Vec<outcomes::HistoricMeasurement>,
    pub goals: Vec<outcomes::Goal>,
    pub evaluations: Vec<outcomes::Evaluation>,
    pub evaluation_weeks: Option<i64>,
    pub milestones: Vec<super::results::MilestoneRow>,
    /// The results claimed for the participant, with their evidence.
    pub claims: Vec<super::results::ClaimWithEvidence>,
}

/// Everything about one participant (`schemas/api/participant-export.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantExport {
    pub generated_at: String,
    pub tenant: String,
    /// When retention pseudonymised the participant (identity then holds a
    /// pseudonym, no name or contact).
    pub pseudonymised_at: Option<String>,
    /// Identity, allocations with history and starts/stops, declared lines,
    /// open review items, message list.
    pub record: ParticipantRecord,
    /// Every registered day, each with its earlier versions.
    pub registrations: Vec<Stored>,
    pub ends_of_care: Vec<EndOfCare>,
    /// Requests to (or, for a municipality, from) the financiers.
    pub requests: Vec<Value>,
    /// Every review item, open and resolved.
    pub review_items: Vec<ReviewItem>,
    /// Measurements (corrected ones too), goals, evaluations and the
    /// participant's own evaluation interval.
    pub outcomes: Outcomes,
    /// The participant's own messages, whole.
    pub messages: Vec<MessageDetail>,
    pub audit: Vec<AuditLine>,
    /// Who accessed the record, newest first (this export included).
    pub access_log: Vec<Entry>,
}

/// The export of participant `id` of `tenant`; `None` when the tenant has
/// no such participant. The caller logs the export first.
pub async fn participant(
    store: &Store,
    tenant: &Tenant,
    id: &str,
) -> Result<Option<ParticipantExport>> {
    let pool = store.pool();
    let Some(record) = read::participant(pool, tenant, id).await? else {
        return Ok(None);
    };
    // Only by id from here: `id` may not be a BSN lookup in what follows.
    let id = record.id.clone();
    let pseudonymised_at: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT pseudonymised_at FROM participants WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&tenant.id)
    .bind(&id)
    .fetch_optional(pool)
    .await?;
    let registrations = registration::list(
        store,
        &tenant.id,
        &registration::Filter {
            participant_id: Some(id.clone()),
            from: None,
            to: None,
            history: true,
            limit: i64::MAX,
            offset: 0,
        },
    )
    .await
    .context("reading the registrations")?;
    let ends_of_care: Vec<EndOfCare> = sqlx::query_as(
        "SELECT id, end_date, reason, registered_by, created_at, processed_at FROM participant_ends \
         WHERE tenant_id = $1 AND participant_id = $2 ORDER BY created_at, id",
    )
    .bind(&tenant.id)
    .bind(&id)
    .fetch_all(pool)
    .await?;
    let requests = super::requests::list(
        pool,
        &tenant.id,
        &super::requests::Filter {
            status: None,
            participant: Some(&id),
            message: None,
            limit: i64::MAX,
            offset: 0,
        },
    )
    .await
    .context("reading the requests")?
    .iter()
    .map(|r| r.to_json())
    .collect();
    let (review_items, _) = review::list(
        pool,
        tenant,
        review::Filter {
            participant: Some(&id),
            ..review::Filter::default()
        },
        i64::MAX,
        0,
    )
    .await
    .context("reading the review items")?;
    let mut messages = Vec::with_capacity(record.messages.len());
    for m in &record.messages {
        if let Some(d) = read::message(pool, tenant, &m.id).await? {
            messages.push(d);
        }
    }
    let audit = access::audit_trail(
        pool,
        tenant,
        &access::Filter {
            participant: Some(id.clone()),
            limit: i64::MAX,
            ..access::Filter::default()
        },
    )
    .await?;
    let outcomes = Outcomes {
        measurements: outcomes::history_of(pool, &tenant.id, &id).await?,
        goals: outcomes::goals_of(pool, &tenant.id, &id).await?,
        evaluations: outcomes::evaluations_of(pool, &tenant.id, &id).await?,
        evaluation_weeks: outcomes::plan_of(pool, &tenant.id, &id).await?,
        milestones: super::results::milestones_of(pool, &tenant.id, &id).await?,
        claims: super::results::claims(
            pool,
            &tenant.id,
            None,
            // Every claim: the widest dates the stored text compares with.
            chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default(),
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default(),
        )
        .await?
        .into_iter()
        .filter(|c| c.claim.participant_id == id)
        .collect(),
    };
    let access_log = access::of_participant(pool, tenant, &id).await?;
    Ok(Some(ParticipantExport {
        generated_at: crate::store::now(),
        tenant: tenant.id.clone(),
        pseudonymised_at: pseudonymised_at.and_then(|(p,)| p),
        record,
        registrations,
        ends_of_care,
        requests,
        review_items,
        outcomes,
        messages,
        audit,
        access_log,
    }))
}
