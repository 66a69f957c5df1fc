//! The search behind the header's search field: participants by a part of
//! their name, by BSN or client number, allocations by ToewijzingNummer or
//! UWV order number, and the declarations and invoices of an order.
//!
//! Read models only; the page decides who may search by what (a BSN only
//! for the back office) and logs every participant it shows. Every query is
//! tenant-scoped and exact on numbers: a near match on a BSN or a
//! ToewijzingNummer would show someone else's file.

use std::collections::HashMap;

use anyhow::Result;
use serde_json::Value;
use sqlx::AnyPool;

use crate::store::Tenant;

/// The most participants one search shows: a search is for finding one
/// person, not for listing everyone whose name holds an "e".
pub const MAX_HITS: usize = 50;

/// A participant found.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantHit {
    pub id: String,
    pub name_json: String,
    pub client_number: Option<String>,
}

impl ParticipantHit {
    /// The stored Naam (`{}` when unreadable).
    pub fn naam(&self) -> Value {
        serde_json::from_str(&self.name_json).unwrap_or(Value::Null)
    }
}

/// An allocation (or UWV order) found, with its financier.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AllocationHit {
    pub id: String,
    pub participant_id: String,
    pub toewijzing_nummer: String,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub status: String,
    pub order_number: Option<String>,
    pub financier_kind: String,
    pub financier_code: String,
}

/// A declaration or invoice with a line on an order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeclarationHit {
    pub id: String,
    pub declaratie_nummer: String,
    pub standard: String,
    pub period_begin: String,
    pub period_end: String,
    pub total_cents: i64,
    pub status: String,
}

const PARTICIPANT: &str = "SELECT id, name_json, client_number FROM participants";

const ALLOCATION: &str = "SELECT a.id, a.participant_id, a.toewijzing_nummer, a.product_categorie, \
     a.product_code, a.ingangsdatum, a.einddatum, a.status, a.order_number, f.kind AS financier_kind, \
     f.code AS financier_code FROM allocations a JOIN financiers f ON f.id = a.financier_id";

/// The Naam fields joined the way people type them ("b de vries"), lower
/// case, for matching a typed part.
fn searchable(naam: &Value) -> String {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_lowercase();
    let g = naam.get("Geslachtsnaam");
    [
        s(naam.get("Voorletters")),
        s(g.and_then(|g| g.get("Voorvoegsel"))),
        s(g.and_then(|g| g.get("Achternaam"))),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

/// Participants whose name holds `part` (any part of initials, voorvoegsel
/// and surname, case-insensitive). The database narrows on the longest
/// word (the name is stored as JSON, its parts apart); the name as a whole
/// is matched here.
pub async fn by_name(pool: &AnyPool, tenant: &Tenant, part: &str) -> Result<Vec<ParticipantHit>> {
    let needle = part.trim().to_lowercase();
    // LIKE's wildcards are no part of a name: dropped, not escaped.
    let word: String = needle
        .split_whitespace()
        .max_by_key(|w| w.chars().count())
        .unwrap_or("")
        .chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\' | '"'))
        .collect();
    if word.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ParticipantHit> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PARTICIPANT} WHERE tenant_id = $1 AND LOWER(name_json) LIKE $2 ORDER BY id"
    )))
    .bind(&tenant.id)
    .bind(format!("%{word}%"))
    .fetch_all(pool)
    .await?;
    let needle = needle.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(rows
        .into_iter()
        .filter(|r| searchable(&r.naam()).contains(&needle))
        .take(MAX_HITS)
        .collect())
}

/// The participant with this BSN (exact).
pub async fn by_bsn(pool: &AnyPool, tenant: &Tenant, bsn: &str) -> Result<Vec<ParticipantHit>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PARTICIPANT} WHERE tenant_id = $1 AND bsn = $2"
    )))
    .bind(&tenant.id)
    .bind(bsn)
    .fetch_all(pool)
    .await?)
}

/// Participants with this client number: the municipality's number kept on
/// the participant, or a financier's client reference kept on an order
/// (UWV's klantnummer).
pub async fn by_client_number(
    pool: &AnyPool,
    tenant: &Tenant,
    number: &str,
) -> Result<Vec<ParticipantHit>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PARTICIPANT} WHERE tenant_id = $1 AND (client_number = $2 OR id IN \
         (SELECT participant_id FROM allocations WHERE tenant_id = $1 AND client_reference = $2)) \
         ORDER BY id LIMIT {MAX_HITS}"
    )))
    .bind(&tenant.id)
    .bind(number)
    .fetch_all(pool)
    .await?)
}

/// Allocations with this ToewijzingNummer or order number (exact).
pub async fn allocations_by_number(
    pool: &AnyPool,
    tenant: &Tenant,
    number: &str,
) -> Result<Vec<AllocationHit>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ALLOCATION} WHERE a.tenant_id = $1 AND (a.toewijzing_nummer = $2 OR a.order_number = $2) \
         ORDER BY a.ingangsdatum, a.id"
    )))
    .bind(&tenant.id)
    .bind(number)
    .fetch_all(pool)
    .await?)
}

/// A participant's allocations, newest first.
pub async fn allocations_of(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
) -> Result<Vec<AllocationHit>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ALLOCATION} WHERE a.tenant_id = $1 AND a.participant_id = $2 \
         ORDER BY a.ingangsdatum DESC, a.id"
    )))
    .bind(&tenant.id)
    .bind(participant)
    .fetch_all(pool)
    .await?)
}

/// The participants with these ids (for the allocations found by number).
pub async fn participants(
    pool: &AnyPool,
    tenant: &Tenant,
    ids: &[&str],
) -> Result<Vec<ParticipantHit>> {
    let mut out = Vec::new();
    for id in ids {
        let row: Option<ParticipantHit> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{PARTICIPANT} WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(&tenant.id)
        .bind(*id)
        .fetch_optional(pool)
        .await?;
        out.extend(row);
    }
    Ok(out)
}

/// The declarations and invoices with a line on an allocation with this
/// order number, newest period first.
pub async fn declarations_of_order(
    pool: &AnyPool,
    tenant: &Tenant,
    order_number: &str,
) -> Result<Vec<DeclarationHit>> {
    Ok(sqlx::query_as(
        "SELECT d.id, d.declaratie_nummer, d.standard, d.period_begin, d.period_end, d.total_cents, d.status \
         FROM declarations d WHERE d.tenant_id = $1 AND d.id IN \
         (SELECT p.declaration_id FROM prestaties p JOIN allocations a ON a.id = p.allocation_id \
          WHERE p.tenant_id = $1 AND a.order_number = $2) \
         ORDER BY d.period_begin DESC, d.declaratie_nummer",
    )
    .bind(&tenant.id)
    .bind(order_number)
    .fetch_all(pool)
    .await?)
}

/// A declaration a municipality received with a line for a participant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceivedHit {
    /// The received message: the municipality's pages address it by this.
    pub message_id: String,
    pub aanbieder: String,
    pub declaratie_nummer: String,
    pub period_begin: String,
}

/// The received declarations (WMO323/JW323, as judged) with a line for
/// `participant`, newest period first.
pub async fn received_of(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
) -> Result<Vec<ReceivedHit>> {
    Ok(sqlx::query_as(
        "SELECT message_id, MIN(aanbieder) AS aanbieder, MIN(declaratie_nummer) AS declaratie_nummer, \
         MIN(period_begin) AS period_begin FROM judged_prestaties \
         WHERE tenant_id = $1 AND participant_id = $2 GROUP BY message_id \
         ORDER BY MIN(period_begin) DESC, message_id",
    )
    .bind(&tenant.id)
    .bind(participant)
    .fetch_all(pool)
    .await?)
}

/// The Naam of every participant with a line in one declaration, by id.
pub async fn names_in_declaration(
    pool: &AnyPool,
    tenant: &Tenant,
    declaration: &str,
) -> Result<HashMap<String, Value>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, name_json FROM participants WHERE tenant_id = $1 AND id IN \
         (SELECT participant_id FROM prestaties WHERE tenant_id = $1 AND declaration_id = $2)",
    )
    .bind(&tenant.id)
    .bind(declaration)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, serde_json::from_str(&n).unwrap_or(Value::Null)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_name_is_matched_as_people_type_it() {
        let n = json!({"Voorletters": "B", "Geslachtsnaam": {"Voorvoegsel": "de", "Achternaam": "Vries"}});
        assert_eq!(searchable(&n), "b de vries");
        assert!(searchable(&n).contains("de vries"));
        assert!(searchable(&n).contains("vri"));
        assert!(!searchable(&n).contains("jansen"));
    }
}
