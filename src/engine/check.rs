//! Whether saved days will count: the warning a registration page gives
//! right after saving, before any declaration run finds the problem. It
//! reads the days as the run reads them ([`super::load::snapshot_of`]) and
//! decides with the run's own [`super::compute::assess`], so the page and
//! the run cannot disagree.

use std::collections::HashSet;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::compute::{Uncounted, assess, products_of};
use super::load::snapshot_of;
use crate::mapping::{Mappings, Period};
use crate::store::Store;

/// A registered day (or part of it) no allocation counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncountedDay {
    pub participant_id: String,
    pub day: NaiveDate,
    /// The registered activity; empty when none was given.
    pub activity: String,
    /// Minutes left over; 0 for presence without a time.
    pub minutes: u32,
    pub reason: Uncounted,
}

/// The present registrations of `participants` on `from..=to` that a
/// declaration run would not (fully) declare, with the reason. `present`
/// names the participants the caller saved as present: one of them with
/// no registration the run reads has no allocation in force with a
/// contract at all.
pub async fn uncounted(
    store: &Store,
    mappings: &Mappings,
    tenant: &str,
    from: NaiveDate,
    to: NaiveDate,
    present: &[String],
) -> Result<Vec<UncountedDay>> {
    let mut tx = store
        .pool()
        .begin()
        .await
        .context("cannot start a read transaction")?;
    let window = Period {
        start: from,
        end: to,
    };
    let snap = snapshot_of(&mut tx, store.backend, tenant, mappings, window, false).await?;
    tx.rollback().await.ok();
    let wanted: HashSet<&str> = present.iter().map(String::as_str).collect();
    let (products, own) = products_of(&snap, mappings);
    let mut out = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let (mut cands, mut idx) = (Vec::new(), Vec::new());
    for reg in &snap.registrations {
        let pid = snap.participants[reg.participant].id.as_str();
        if !wanted.contains(pid) {
            continue;
        }
        seen.insert(pid);
        let (split, reason) = assess(
            &snap,
            mappings,
            &products,
            &own[reg.participant],
            reg,
            &mut cands,
            &mut idx,
        );
        if let Some(reason) = reason {
            out.push(UncountedDay {
                participant_id: pid.to_string(),
                day: reg.day,
                activity: reg.activity.to_string(),
                minutes: split.unassigned_minutes,
                reason,
            });
        }
    }
    for pid in present {
        if !seen.contains(pid.as_str()) {
            out.push(UncountedDay {
                participant_id: pid.clone(),
                day: from,
                activity: String::new(),
                minutes: 0,
                reason: Uncounted::NoAllocation,
            });
        }
    }
    Ok(out)
}
