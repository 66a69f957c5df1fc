//! Status: what became of each pushed message, asked with
//! `GET /berichtstatussen?traceerId=` until the status is final.
//!
//! A push answered 204 only means VECOZO received it; the Zorginstituut's
//! rules run afterwards, and delivery to the municipality later still.
//! A refusal at those stages (AfgekeurdDoorDienst, AanbiedenMislukt, ...)
//! is only known from the status, so it is followed for every push, and
//! a refusal becomes a review item with each melding explained in Dutch.
//!
//! Checks slow down with a message's age: every `status_interval_secs`
//! while it is young, at most hourly once it has waited for days.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Connection;
use super::push::Referentiegegevens;
use crate::record::exchange::{self, Melding, Report};
use crate::schema::exchange::ExchangeCodes;
use crate::store::Store;

/// `BerichtstatusGegevens` of the status description: the parts loket
/// keeps (the berichtstroom and receipt time are loket's own already).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BerichtstatusGegevens {
    pub referentiegegevens: Referentiegegevens,
    pub berichtstatus: String,
    pub berichtstatus_gewijzigd_op: String,
    #[serde(default)]
    pub meldingen: Vec<MeldingIn>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MeldingIn {
    pub code: String,
    pub omschrijving: String,
    pub toelichting: Option<String>,
}

/// How long a status is followed at most. VECOZO keeps a message two months;
/// a status still open after that will not change any more (a message that
/// stopped at VerwerkingVoltooid, say), and asking for ever would only grow
/// the list of open checks.
pub const FOLLOW_AT_MOST: Duration = Duration::from_secs(62 * 24 * 3600);

/// When to ask again about a message that is `age` old.
pub fn next_check(interval: Duration, age: Duration) -> Duration {
    (age / 10).clamp(interval, Duration::from_secs(3600).max(interval))
}

/// One round: every due message of the tenant asked once. Returns how many
/// changed; `Err` when the exchange or the store is not there now.
pub async fn round(conn: &Connection, store: &Store) -> Result<usize, String> {
    let due = exchange::due(store.pool(), &conn.tenant, 250)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let codes = ExchangeCodes::builtin();
    let interval = Duration::from_secs(conn.config.status_interval_secs);
    let mut changed = 0;
    for d in due {
        let resp = conn
            .http
            // A traceerId is a UUID loket chose: nothing to escape.
            .get(format!(
                "{}?traceerId={}",
                super::config::status_url(&conn.base),
                d.traceer_id
            ))
            .send()
            .await
            .map_err(|e| crate::transport::http::chain(&e))?;
        if !resp.status().is_success() {
            return Err(format!("GET /berichtstatussen: HTTP {}", resp.status()));
        }
        let list: Vec<BerichtstatusGegevens> = resp.json().await.map_err(|e| {
            format!(
                "GET /berichtstatussen: {}",
                crate::transport::http::chain(&e)
            )
        })?;
        let age = DateTime::parse_from_rfc3339(&d.created_at)
            .map(|t| {
                (Utc::now() - t.with_timezone(&Utc))
                    .to_std()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let next =
            Utc::now() + chrono::Duration::from_std(next_check(interval, age)).unwrap_or_default();
        let next = next.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        // The latest status of this very message (the list may hold more
        // when asked by conversation; by traceerId it holds one).
        let latest = list
            .into_iter()
            .filter(|s| s.referentiegegevens.traceer_id == d.traceer_id)
            .max_by_key(|s| {
                DateTime::parse_from_rfc3339(&s.berichtstatus_gewijzigd_op)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default()
            });
        let Some(s) = latest else {
            // Not known yet: asked again later.
            exchange::report_none(store, &conn.tenant, &d.message_id, &next)
                .await
                .map_err(|e| format!("{e:#}"))?;
            continue;
        };
        let info = codes.status(&s.berichtstatus);
        if info.is_none() {
            tracing::warn!(tenant = %conn.tenant, status = %s.berichtstatus, "vsp: unknown berichtstatus");
        }
        let report = Report {
            final_: info.is_some_and(|i| i.final_) || age > FOLLOW_AT_MOST,
            needs_person: info.is_some_and(|i| i.needs_person),
            status: s.berichtstatus,
            changed_at: s.berichtstatus_gewijzigd_op,
            meldingen: s
                .meldingen
                .into_iter()
                .map(|m| Melding {
                    code: m.code,
                    omschrijving: m.omschrijving,
                    toelichting: m.toelichting,
                })
                .collect(),
        };
        if exchange::report(store, &conn.tenant, &d.message_id, &report, &next)
            .await
            .map_err(|e| format!("{e:#}"))?
        {
            changed += 1;
            tracing::info!(tenant = %conn.tenant, message_id = %d.message_id, status = %report.status, "vsp: berichtstatus");
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_slow_down_with_age() {
        let i = Duration::from_secs(60);
        assert_eq!(next_check(i, Duration::from_secs(10)), i);
        assert_eq!(
            next_check(i, Duration::from_secs(6000)),
            Duration::from_secs(600)
        );
        assert_eq!(
            next_check(i, Duration::from_secs(86400 * 3)),
            Duration::from_secs(3600)
        );
    }
}
