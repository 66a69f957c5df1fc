//! Retention (AVG art. 5(1)(e), storage limitation): once a participant's
//! care has been over for the configured number of years, loket keeps only
//! what the law still requires and pseudonymises the rest.
//!
//! The count starts at the participant's last day of care: the latest of
//! the allocations' Einddatum, a registered end of care, the last
//! registered day, the last declared period and the last message about the
//! participant. A participant with an allocation without Einddatum that
//! began after the last registered end of care (or with no end registered)
//! is still in care and never counted.
//!
//! What happens to a participant past the period, in one transaction:
//! - the BSN becomes a random pseudonym (`pseudoniem-` and 32 hex digits;
//!   random, not a hash of the BSN, so nobody can recompute it, with or
//!   without a key), so every key and unique constraint still holds; the
//!   keys derived from the BSN (`deliveries.bsn_hash`, `requests.bsn_hash`)
//!   are re-derived from the pseudonym, so the record stays consistent;
//! - name, contact details, client number, gender and group are removed,
//!   the birth date is reduced to its year;
//! - the raw XML and parsed form of every message about the participant
//!   (its own, the declarations and answers naming it, their retours) are
//!   removed ([`strip_messages`]): they hold the BSN and the name. The
//!   message rows stay with their metadata (type, sender, receiver,
//!   BerichtIdentificatie, dates, status, retourcodes);
//! - kept as the fiscal retention duty (AWR art. 52) requires: allocations,
//!   starts and stops, registered days, declarations and their lines
//!   (product, period, volume, tariff, amount, status, retourcodes), the
//!   review items and the audit trail and access log (which never held a
//!   BSN or name). The BSN string is also replaced wherever a finding or a
//!   detail could quote it.
//!
//! The participant is marked (`pseudonymised_at`), so a second run changes
//! nothing. Each pseudonymisation is written to the audit trail and the
//! access log as `system:retention`.

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::access::{self, Actor, Kind};
use crate::store::{Params, Store, Tenant, TenantKind, WriteTx, now};

/// The `[retention]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Years after the last day of care. The default, 7, is the fiscal
    /// retention period (AWR art. 52) that the declarations fall under;
    /// the social-domain administration (Wmo, Jeugdwet, participation) has
    /// no longer statutory period. A provider that keeps medical files
    /// under the WGBO (20 years) sets `years = 20`.
    pub years: u32,
    /// Run it in the daemon's daily run.
    pub enabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            years: 7,
            enabled: true,
        }
    }
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub date: String,
    /// Care ended before this day.
    pub cutoff: String,
    pub dry_run: bool,
    pub participants: Vec<Pseudonymised>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pseudonymised {
    pub tenant: String,
    pub participant_id: String,
    pub last_day_of_care: String,
    pub messages_stripped: usize,
}

impl Report {
    pub fn text(&self) -> String {
        let verb = if self.dry_run {
            "zou pseudonimiseren / would pseudonymise"
        } else {
            "gepseudonimiseerd / pseudonymised"
        };
        let mut out = format!(
            "bewaartermijn / retention {} (zorg geëindigd voor / care ended before {}): {} deelnemer(s) {verb}\n",
            self.date,
            self.cutoff,
            self.participants.len()
        );
        for p in &self.participants {
            out.push_str(&format!(
                "  {} {} (laatste zorgdag / last day of care {}, berichten / messages {})\n",
                p.tenant, p.participant_id, p.last_day_of_care, p.messages_stripped
            ));
        }
        out
    }
}

/// The first day that is still within the period: care that ended before
/// it is past.
pub fn cutoff(date: NaiveDate, years: u32) -> Result<NaiveDate> {
    let year = date.year() - i32::try_from(years).context("years")?;
    // 29 February falls back to the 28th in a year without it.
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))
        .context("retention cutoff out of range")
}

/// One retention run over every tenant (or one), as of `date`.
pub async fn run(
    store: &Store,
    settings: &Settings,
    date: NaiveDate,
    tenant: Option<&str>,
    dry_run: bool,
) -> Result<Report> {
    if settings.years == 0 {
        bail!("[retention] years must be at least 1");
    }
    let cutoff = cutoff(date, settings.years)?;
    let mut report = Report {
        date: date.to_string(),
        cutoff: cutoff.to_string(),
        dry_run,
        participants: Vec::new(),
    };
    let tenants: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM tenants WHERE ($1 IS NULL OR id = $1) ORDER BY id")
            .bind(tenant)
            .fetch_all(store.pool())
            .await?;
    for (id,) in tenants {
        let tenant = Tenant {
            kind: TenantKind::from_id(&id)?,
            id,
        };
        for (participant, last) in due(store, &tenant, cutoff).await? {
            let stripped = if dry_run {
                0
            } else {
                pseudonymise(store, &tenant, &participant, &last, cutoff).await?
            };
            report.participants.push(Pseudonymised {
                tenant: tenant.id.clone(),
                participant_id: participant,
                last_day_of_care: last,
                messages_stripped: stripped,
            });
        }
    }
    if !dry_run && !report.participants.is_empty() {
        tracing::info!(
            participants = report.participants.len(),
            cutoff = %cutoff,
            "retention: participants pseudonymised"
        );
    }
    Ok(report)
}

/// The tenant's participants not yet pseudonymised whose care ended before
/// `cutoff`, with their last day of care.
async fn due(store: &Store, tenant: &Tenant, cutoff: NaiveDate) -> Result<Vec<(String, String)>> {
    // Every date as its first ten characters: days and timestamps compare
    // as text.
    let rows = sqlx::query(
        "SELECT p.id, \
           (SELECT COUNT(*) FROM allocations a WHERE a.participant_id = p.id AND a.einddatum IS NULL \
              AND a.status <> 'withdrawn' AND a.ingangsdatum > COALESCE((SELECT MAX(e.end_date) \
              FROM participant_ends e WHERE e.participant_id = p.id), '')) AS open_ended, \
           (SELECT MAX(e.end_date) FROM participant_ends e WHERE e.participant_id = p.id) AS ended, \
           (SELECT MAX(a.einddatum) FROM allocations a WHERE a.participant_id = p.id) AS allocation_end, \
           (SELECT MAX(r.day) FROM registrations r WHERE r.participant_id = p.id) AS last_day, \
           (SELECT MAX(x.period_end) FROM prestaties x WHERE x.participant_id = p.id) AS declared, \
           (SELECT MAX(SUBSTR(m.created_at, 1, 10)) FROM messages m WHERE m.participant_id = p.id) AS last_message, \
           SUBSTR(p.updated_at, 1, 10) AS updated \
         FROM participants p WHERE p.tenant_id = $1 AND p.pseudonymised_at IS NULL ORDER BY p.id",
    )
    .bind(&tenant.id)
    .fetch_all(store.pool())
    .await
    .context("finding the participants past the retention period")?;
    let cutoff = cutoff.to_string();
    let mut out = Vec::new();
    for r in rows {
        // An allocation without an end that began after the last
        // registered end of care (or with no end registered): in care.
        let open_ended: i64 = r.try_get("open_ended")?;
        if open_ended > 0 {
            continue;
        }
        let mut last: Option<String> = None;
        for col in [
            "ended",
            "allocation_end",
            "last_day",
            "declared",
            "last_message",
            "updated",
        ] {
            if let Some(v) = r.try_get::<Option<String>, _>(col)? {
                let v = v.get(..10).unwrap_or(&v).to_string();
                if last.as_ref().is_none_or(|l| v > *l) {
                    last = Some(v);
                }
            }
        }
        if let Some(last) = last.filter(|l| *l < cutoff) {
            out.push((r.try_get("id")?, last));
        }
    }
    Ok(out)
}

/// Pseudonymises one participant; returns how many messages lost their
/// content.
async fn pseudonymise(
    store: &Store,
    tenant: &Tenant,
    participant: &str,
    last: &str,
    cutoff: NaiveDate,
) -> Result<usize> {
    let mut w = store.begin_write().await?;
    // Read again inside the transaction: another run may have done it.
    let Some(row) = sqlx::query(
        "SELECT bsn, birth_date FROM participants WHERE tenant_id = $1 AND id = $2 AND pseudonymised_at IS NULL",
    )
    .bind(&tenant.id)
    .bind(participant)
    .fetch_optional(&mut *w.tx)
    .await?
    else {
        return Ok(0);
    };
    let bsn: String = row.try_get("bsn")?;
    let birth: Option<String> = row.try_get("birth_date")?;
    let pseudonym = format!("pseudoniem-{}", &crate::store::new_token()[..32]);
    let messages = messages_of(&mut w, tenant, participant, &bsn).await?;
    strip_messages(&mut w, tenant, &messages).await?;
    let at = now();
    sqlx::query(
        "UPDATE participants SET bsn = $1, name_json = '{}', contact_json = '[]', client_number = NULL, \
         gender = NULL, group_name = NULL, birth_date = $2, pseudonymised_at = $3, updated_at = $3 \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(&pseudonym)
    .bind(birth.as_deref().and_then(|b| b.get(..4)))
    .bind(&at)
    .bind(&tenant.id)
    .bind(participant)
    .execute(&mut *w.tx)
    .await?;
    super::received::pseudonymise(&mut w.tx, &tenant.id, participant).await?;
    super::outcomes::pseudonymise(&mut w, &tenant.id, participant).await?;
    super::results::pseudonymise(&mut w, &tenant.id, participant).await?;
    crate::registration::strip_day_notes(&mut w, &tenant.id, participant).await?;
    let old_key = super::apply::delivery_key(&tenant.id, &bsn);
    let new_key = super::apply::delivery_key(&tenant.id, &pseudonym);
    for table in ["deliveries", "requests"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET bsn_hash = $1 WHERE tenant_id = $2 AND bsn_hash = $3"
        )))
        .bind(&new_key)
        .bind(&tenant.id)
        .bind(&old_key)
        .execute(&mut *w.tx)
        .await?;
    }
    // Free text that could quote the BSN (a finding's explanation, a
    // review item's or request's detail): the pseudonym instead. A BSN has
    // nine digits, so it cannot hit anything shorter by accident.
    for (table, column, key) in [
        ("messages", "findings", "participant_id"),
        ("review_items", "detail", "participant_id"),
        ("requests", "summary", "participant_id"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = REPLACE({column}, $1, $2) WHERE tenant_id = $3 AND {key} = $4"
        )))
        .bind(&bsn)
        .bind(&pseudonym)
        .bind(&tenant.id)
        .bind(participant)
        .execute(&mut *w.tx)
        .await?;
    }
    crate::store::audit(
        &mut w,
        &tenant.id,
        "system:retention",
        "participant_pseudonymised",
        Some(("participant", participant)),
        serde_json::json!({
            "last_day_of_care": last,
            "cutoff": cutoff.to_string(),
            "messages_stripped": messages.len(),
        }),
    )
    .await?;
    access::record_in(
        &mut w,
        &tenant.id,
        &Actor::system("retention"),
        Kind::Pseudonymise,
        "retention",
        &[participant.to_string()],
    )
    .await?;
    w.commit().await?;
    Ok(messages.len())
}

/// Every message that carries the participant's data: its own, those that
/// made its allocations' history or its starts and stops, the declarations
/// and 323s with its lines, its requests and their answers, and the retours
/// and answers of all those.
async fn messages_of(
    w: &mut WriteTx,
    tenant: &Tenant,
    participant: &str,
    bsn: &str,
) -> Result<Vec<String>> {
    let key = super::apply::delivery_key(&tenant.id, bsn);
    let rows: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT id FROM messages WHERE tenant_id = $1 AND participant_id = $2 \
         UNION SELECT e.message_id FROM allocation_events e JOIN allocations a ON a.id = e.allocation_id \
           WHERE a.tenant_id = $1 AND a.participant_id = $2 \
         UNION SELECT message_id FROM deliveries WHERE tenant_id = $1 AND bsn_hash = $3 \
         UNION SELECT removed_by FROM deliveries WHERE tenant_id = $1 AND bsn_hash = $3 \
         UNION SELECT d.message_id FROM declarations d JOIN prestaties x ON x.declaration_id = d.id \
           WHERE x.tenant_id = $1 AND x.participant_id = $2 \
         UNION SELECT message_id FROM judged_prestaties WHERE tenant_id = $1 AND participant_id = $2 \
         UNION SELECT message_id FROM received_invoice_lines WHERE tenant_id = $1 AND participant_id = $2 \
         UNION SELECT message_id FROM requests WHERE tenant_id = $1 AND (participant_id = $2 OR bsn_hash = $3) \
         UNION SELECT retour_message_id FROM requests WHERE tenant_id = $1 AND (participant_id = $2 OR bsn_hash = $3) \
         UNION SELECT answer_message_id FROM requests WHERE tenant_id = $1 AND (participant_id = $2 OR bsn_hash = $3)",
    )
    .bind(&tenant.id)
    .bind(participant)
    .bind(&key)
    .fetch_all(&mut *w.tx)
    .await
    .context("finding the participant's messages")?;
    let mut ids: Vec<String> = rows.into_iter().filter_map(|(i,)| i).collect();
    // Their retours and answers, and what they answer (a 325 quotes the
    // 323, a retour copies its heenbericht's client).
    if !ids.is_empty() {
        let mut linked = Vec::new();
        for chunk in ids.chunks(400) {
            let mut p = Params::new(crate::store::Backend::of(&w.tx));
            let t = p.one();
            let a = p.list(chunk.len());
            let b = p.list(chunk.len());
            let sql = format!(
                "SELECT id FROM messages WHERE tenant_id = {t} AND answer_of IN ({a}) \
                 UNION SELECT answer_of FROM messages WHERE answer_of IS NOT NULL AND id IN ({b})"
            );
            let mut q =
                sqlx::query_as::<_, (Option<String>,)>(sqlx::AssertSqlSafe(sql)).bind(&tenant.id);
            for id in chunk.iter().chain(chunk.iter()) {
                q = q.bind(id);
            }
            linked.extend(
                q.fetch_all(&mut *w.tx)
                    .await?
                    .into_iter()
                    .filter_map(|(i,)| i),
            );
        }
        ids.extend(linked);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Removes the content of stored messages (raw XML and parsed form, which
/// hold BSNs and names) and keeps their rows and metadata. The one place
/// that knows how a message's content is stored, so a change of the
/// message storage changes only this function.
pub async fn strip_messages(w: &mut WriteTx, tenant: &Tenant, ids: &[String]) -> Result<()> {
    for chunk in ids.chunks(400) {
        let mut p = Params::new(crate::store::Backend::of(&w.tx));
        let raw = p.one();
        let t = p.one();
        let list = p.list(chunk.len());
        let sql = format!(
            "UPDATE messages SET raw = {raw}, raw_encoding = 'identity', parsed = NULL \
             WHERE tenant_id = {t} AND id IN ({list})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Vec::<u8>::new())
            .bind(&tenant.id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *w.tx)
            .await
            .context("removing message content")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_counts_whole_years_back() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(cutoff(d("2035-03-14"), 7).expect("cutoff"), d("2028-03-14"));
        assert_eq!(cutoff(d("2028-02-29"), 1).expect("cutoff"), d("2027-02-28"));
    }
}
