//! Reading the record into a [`Snapshot`]: a few set-wise queries instead of
//! one per participant, so that loading a month costs the same handful of
//! round trips for ten or a hundred thousand participants.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::Row;

use super::compute::{Allocation, Participant, Prior, Registration, Snapshot};
use crate::mapping::{FinancierKey, Kind, Mappings, Period, ProductKey, Registered};
use crate::record::apply::Tx;
use crate::store::Backend;

/// A date as the store keeps it (ISO text).
pub fn date(s: &str) -> Result<NaiveDate> {
    s.parse()
        .with_context(|| format!("stored date {s:?} is not YYYY-MM-DD"))
}

/// Loads allocations of financiers that have a mapping, the current
/// registrations of present participants in `window`, and every prestatie
/// declared before on those allocations.
pub async fn snapshot(
    tx: &mut Tx,
    backend: Backend,
    tenant: &str,
    mappings: &Mappings,
    window: Period,
) -> Result<Snapshot> {
    snapshot_of(tx, backend, tenant, mappings, window, true).await
}

/// [`snapshot`], with the earlier prestaties only when `prior`: checking
/// whether saved days count ([`super::check`]) needs no declaration history.
pub async fn snapshot_of(
    tx: &mut Tx,
    backend: Backend,
    tenant: &str,
    mappings: &Mappings,
    window: Period,
    prior: bool,
) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    let mut participant_ix: HashMap<String, usize> = HashMap::new();
    let mut allocation_ix: HashMap<String, usize> = HashMap::new();

    let t0 = std::time::Instant::now();
    let rows = sqlx::query(
        "SELECT a.id, a.participant_id, a.financier_id, f.kind, f.code, a.toewijzing_nummer, \
                a.product_categorie, a.product_code, a.ingangsdatum, a.einddatum, a.volume, a.eenheid, \
                a.frequentie, a.budget, a.reden_wijziging, p.bsn, \
                a.order_number, a.order_line, a.price_cents, a.client_reference \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         JOIN participants p ON p.id = a.participant_id \
         WHERE a.tenant_id = $1 AND a.status NOT IN ('requested', 'withdrawn') \
           AND a.ingangsdatum <= $2 AND (a.einddatum IS NULL OR a.einddatum >= $3) \
         ORDER BY a.participant_id, a.ingangsdatum, a.toewijzing_nummer",
    )
    .bind(tenant)
    .bind(window.end.to_string())
    .bind(window.start.to_string())
    .fetch_all(&mut **tx)
    .await
    .context("cannot read allocations")?;
    tracing::debug!(
        ms = t0.elapsed().as_millis() as u64,
        rows = rows.len(),
        "fetched allocations"
    );
    for r in rows {
        let kind: String = r.try_get("kind")?;
        let Some(kind) = Kind::parse(&kind) else {
            continue;
        };
        let code: String = r.try_get("code")?;
        let financier = FinancierKey::new(kind, &code);
        if mappings.get(&financier).is_none() {
            continue;
        }
        let pid: String = r.try_get("participant_id")?;
        let participant = match participant_ix.get(&pid) {
            Some(&i) => i,
            None => {
                snap.participants.push(Participant {
                    id: pid.clone(),
                    bsn: r.try_get("bsn")?,
                });
                participant_ix.insert(pid, snap.participants.len() - 1);
                snap.participants.len() - 1
            }
        };
        let id: String = r.try_get("id")?;
        let einddatum: Option<String> = r.try_get("einddatum")?;
        let reden: Option<String> = r.try_get("reden_wijziging")?;
        let volume: Option<i64> = r.try_get("volume")?;
        let budget: Option<i64> = r.try_get("budget")?;
        allocation_ix.insert(id.clone(), snap.allocations.len());
        snap.allocations.push(Allocation {
            id,
            participant,
            financier_id: r.try_get("financier_id")?,
            financier,
            toewijzing_nummer: r.try_get("toewijzing_nummer")?,
            product: ProductKey::new(
                &r.try_get::<Option<String>, _>("product_categorie")?
                    .unwrap_or_default(),
                &r.try_get::<Option<String>, _>("product_code")?
                    .unwrap_or_default(),
            ),
            ingangsdatum: date(&r.try_get::<String, _>("ingangsdatum")?)?,
            einddatum: einddatum.as_deref().map(date).transpose()?,
            volume: volume.and_then(|v| u64::try_from(v).ok()),
            eenheid: r.try_get("eenheid")?,
            frequentie: r.try_get("frequentie")?,
            budget: budget.and_then(|v| u64::try_from(v).ok()),
            removed: reden.as_deref() == Some("13"),
            order: super::compute::Order {
                number: r.try_get("order_number")?,
                line: r.try_get("order_line")?,
                price_cents: r
                    .try_get::<Option<i64>, _>("price_cents")?
                    .and_then(|v| u64::try_from(v).ok()),
                client_reference: r.try_get("client_reference")?,
            },
        });
    }
    if snap.allocations.is_empty() {
        return Ok(snap);
    }

    // One row per participant, activity and allocation, with the month's
    // days packed as `day:minutes:dagdelen,...` (digits and dashes only):
    // sqlx hands SQLite rows over one at a time, so 220,000 day rows cost
    // seconds where 10,000 packed rows cost milliseconds.
    let concat = match backend {
        Backend::Sqlite => {
            "group_concat(day || ':' || COALESCE(CAST(minutes AS TEXT), '') || ':' || COALESCE(CAST(dagdelen AS TEXT), ''), ',')"
        }
        Backend::Postgres => {
            "string_agg(day || ':' || COALESCE(CAST(minutes AS TEXT), '') || ':' || COALESCE(CAST(dagdelen AS TEXT), ''), ',')"
        }
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT participant_id, allocation_id, activity, {concat} AS days FROM registrations \
         WHERE tenant_id = $1 AND superseded_by IS NULL AND present = 1 AND day >= $2 AND day <= $3 \
         GROUP BY participant_id, allocation_id, activity"
    )))
    .bind(tenant)
    .bind(window.start.to_string())
    .bind(window.end.to_string())
    .fetch_all(&mut **tx)
    .await
    .context("cannot read registrations")?;
    tracing::debug!(
        ms = t0.elapsed().as_millis() as u64,
        rows = rows.len(),
        "fetched registrations"
    );
    for r in rows {
        let pid: String = r.try_get("participant_id")?;
        let Some(&participant) = participant_ix.get(&pid) else {
            // Nobody with a declarable allocation: nothing to declare, and
            // the registration is still kept in the record.
            continue;
        };
        // Tied to an allocation loket does not declare: the day then
        // counts for nothing here.
        let allocation = match r.try_get::<Option<String>, _>("allocation_id")? {
            Some(a) => match allocation_ix.get(&a) {
                Some(&i) => Some(i),
                None => continue,
            },
            None => None,
        };
        let activity: std::sync::Arc<str> = r
            .try_get::<Option<String>, _>("activity")?
            .unwrap_or_default()
            .into();
        let days: String = r.try_get("days")?;
        for packed in days.split(',') {
            let mut f = packed.split(':');
            let (Some(day), Some(minutes), Some(dagdelen)) = (f.next(), f.next(), f.next()) else {
                anyhow::bail!("unreadable packed registration {packed:?}");
            };
            let registered = match (minutes.parse::<u32>(), dagdelen.parse::<u32>()) {
                (Ok(m), _) => Registered::Minutes(m),
                (Err(_), Ok(d)) => Registered::Dagdelen(d),
                _ => Registered::Present,
            };
            snap.registrations.push(Registration {
                participant,
                day: date(day)?,
                allocation,
                registered,
                activity: activity.clone(),
            });
        }
    }
    snap.registrations
        .sort_unstable_by_key(|r| (r.participant, r.day));
    if !prior {
        return Ok(snap);
    }

    let rows = sqlx::query(
        "SELECT id, allocation_id, referentie_nummer, period_begin, period_end, volume, eenheid, \
                tarief_cents, bedrag_cents, debet_credit, status, credited_by, vorig_referentie_nummer \
         FROM prestaties WHERE tenant_id = $1 \
           AND NOT EXISTS (SELECT 1 FROM result_claims c WHERE c.tenant_id = prestaties.tenant_id \
               AND c.referentie_nummer = prestaties.referentie_nummer) \
         ORDER BY created_at",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read earlier prestaties")?;
    // A debit is cancelled once a credit names it, unless that credit was
    // rejected: a credit still waiting for its answer must not be sent twice.
    let mut cancelled = std::collections::HashSet::new();
    for r in &rows {
        let status: String = r.try_get("status")?;
        if r.try_get::<String, _>("debet_credit")? == "C"
            && status != "rejected"
            && let Some(v) = r.try_get::<Option<String>, _>("vorig_referentie_nummer")?
        {
            cancelled.insert(v);
        }
    }
    for r in rows {
        let aid: String = r.try_get("allocation_id")?;
        let Some(&allocation) = allocation_ix.get(&aid) else {
            continue;
        };
        let referentie: String = r.try_get("referentie_nummer")?;
        let cancelled = cancelled.contains(&referentie);
        snap.prior.push(prior_of(&r, allocation, cancelled)?);
    }
    Ok(snap)
}

/// A prestatie declared (or judged) before, from a row with the columns of
/// `prestaties` that [`Prior`] keeps (`id, referentie_nummer, period_begin,
/// period_end, volume, eenheid, tarief_cents, bedrag_cents, debet_credit,
/// status, credited_by`): the provider's own lines and the lines a
/// municipality judged are read alike. `cancelled`: a credit names it.
pub fn prior_of(r: &sqlx::any::AnyRow, allocation: usize, cancelled: bool) -> Result<Prior> {
    let tarief: Option<i64> = r.try_get("tarief_cents")?;
    Ok(Prior {
        id: r.try_get("id")?,
        allocation,
        credited: r.try_get::<Option<String>, _>("credited_by")?.is_some() || cancelled,
        referentie: r.try_get("referentie_nummer")?,
        period: Period {
            start: date(&r.try_get::<String, _>("period_begin")?)?,
            end: date(&r.try_get::<String, _>("period_end")?)?,
        },
        volume: u64::try_from(r.try_get::<i64, _>("volume")?).unwrap_or(0),
        eenheid: r.try_get("eenheid")?,
        tarief: tarief.and_then(|t| u64::try_from(t).ok()),
        bedrag: u64::try_from(r.try_get::<i64, _>("bedrag_cents")?).unwrap_or(0),
        credit: r.try_get::<String, _>("debet_credit")? == "C",
        status: r.try_get("status")?,
    })
}
