//! What the outcome views read beside the measurements: a participant's
//! name and group, and who finances whom, to break outcomes down per
//! group, per financier and per financing model.
//!
//! Financing is read from the allocations: a participant counts for a
//! financier while an allocation of theirs was granted (allocated,
//! started, stopped or ended); a request not (yet) granted or a withdrawn
//! allocation finances nothing. The measurements themselves are read
//! through [`super::outcomes`].

use anyhow::{Context, Result};
use sqlx::AnyPool;

/// A participant as the outcome pages name and scope them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantRow {
    pub id: String,
    pub name_json: String,
    pub group_name: Option<String>,
}

/// One participant of the tenant, by loket's id.
pub async fn participant(pool: &AnyPool, tenant: &str, id: &str) -> Result<Option<ParticipantRow>> {
    sqlx::query_as(
        "SELECT id, name_json, group_name FROM participants WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("cannot read the participant")
}

/// A participant and their group, without a name: what an aggregate needs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub id: String,
    pub group_name: Option<String>,
}

/// Every participant of the tenant with their group, by id.
pub async fn members(pool: &AnyPool, tenant: &str) -> Result<Vec<Member>> {
    sqlx::query_as("SELECT id, group_name FROM participants WHERE tenant_id = $1 ORDER BY id")
        .bind(tenant)
        .fetch_all(pool)
        .await
        .context("cannot read the participants' groups")
}

/// A financier of a participant: once per participant and financier,
/// however many allocations.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Financing {
    pub participant_id: String,
    pub financier_id: String,
    /// `financiers.kind`: the financing model (`mapping::Kind`).
    pub kind: String,
    pub code: String,
    pub name: String,
}

/// Who finances whom in the tenant, by participant and financier.
pub async fn financing(pool: &AnyPool, tenant: &str) -> Result<Vec<Financing>> {
    sqlx::query_as(
        "SELECT DISTINCT a.participant_id, f.id AS financier_id, f.kind, f.code, f.name \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1 AND a.status IN ('allocated', 'started', 'stopped', 'ended') \
         ORDER BY a.participant_id, f.kind, f.code",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("cannot read who finances whom")
}
