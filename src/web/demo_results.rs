//! The demo's social-impact contract (`mappings/social-impact-werk.toml`):
//! the last six participants get an order of it and six months of
//! participatieladder measurements with different trajectories, and one of
//! them a recorded milestone, so that the demo's declaration run makes
//! results claims at once (they show on `/resultaten` and in the contract's
//! invoice) while others have not reached a result (no claim).
//!
//! Everything goes through the real paths: orders through
//! [`crate::record::order::register`] (as `POST /allocations`), measurements
//! through [`crate::record::outcomes::add_measurement`], the milestone
//! through [`crate::record::results::add_milestone`].

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, Months, NaiveDate};

use crate::instrument::{LADDER, LADDER_DOMAIN};
use crate::record::access::Actor;
use crate::record::order::{self, Order, OrderFinancier};
use crate::record::outcomes::{NewMeasurement, NewScore, add_measurement};
use crate::record::results::{NewMilestone, add_milestone};
use crate::server::AppState;
use crate::store::Tenant;

/// The contract's financier in its mapping.
const KIND: &str = "social_impact";
const CODE: &str = "SIBWERK";
/// Its results product.
const SERVICE: &str = "SIW01";

/// Participant index (0-based, of the demo's thirty) and the ladder rung
/// at each of six monthly measurements, the last one in the demo's month.
/// 24 reaches rung 5 in the third month and holds it: a claim (trede 5,
/// three months). 27 reaches it in the second month: a claim. 28 reaches it
/// only in the last month (not yet held: no claim); 25 and 26 climb but stay
/// below paid work. 29 stays at rung 4, but the benefit ended (a milestone):
/// a claim for that.
const TRAJECTORIES: [(usize, [i64; 6]); 6] = [
    (24, [3, 4, 5, 5, 5, 6]),
    (25, [2, 2, 3, 3, 4, 4]),
    (26, [1, 2, 2, 3, 3, 3]),
    (27, [4, 5, 5, 5, 5, 5]),
    (28, [3, 3, 4, 4, 4, 5]),
    (29, [2, 3, 3, 4, 4, 4]),
];
/// Whose benefit ended, in the demo's month.
const BENEFIT_ENDED: usize = 29;

/// Seeds the orders, the measurements and the milestone for `participants`
/// (the demo's participant ids, by index); `today` is the demo's start.
pub async fn seed(
    state: &AppState,
    tenant: &Tenant,
    participants: &[String],
    today: NaiveDate,
) -> Result<()> {
    let store = state.store();
    let mappings = state.mappings.for_tenant(&tenant.id);
    let key = crate::mapping::FinancierKey::new(crate::mapping::Kind::SocialImpact, CODE);
    if mappings.get(&key).is_none() {
        // Mappings without the contract (a folder of one's own): no results.
        return Ok(());
    }
    // The demo's month is last month; its measurements run from five months
    // before it, on the 10th.
    let month_start = (today - Duration::days(i64::from(today.day0())))
        .checked_sub_months(Months::new(1))
        .context("date out of range")?;
    let first = month_start
        .checked_sub_months(Months::new(5))
        .context("date out of range")?;
    let by = Actor::user("jobcoach", "Jamila (jobcoach)", "begeleider", None);
    for (i, rungs) in TRAJECTORIES {
        let Some(participant) = participants.get(i) else {
            continue;
        };
        let order = Order {
            participant_id: Some(participant.clone()),
            financier: OrderFinancier {
                kind: KIND.into(),
                code: CODE.into(),
            },
            order_number: format!("WL-OPD-{}", 8100 + i),
            service: SERVICE.into(),
            from: first.to_string(),
            client_reference: format!("WL-K{:04}", 3000 + i),
            ..Order::default()
        };
        match order::register(store, mappings, &tenant.id, &order).await? {
            order::Outcome::Stored(_) => {}
            order::Outcome::Refused(r) => {
                anyhow::bail!("demo social-impact order {i} refused: {}", r.en)
            }
            order::Outcome::NotFound => {
                anyhow::bail!("demo social-impact order {i}: participant not found")
            }
        }
        let mut w = store.begin_write().await?;
        for (k, rung) in rungs.iter().enumerate() {
            let on = first
                .checked_add_months(Months::new(k as u32))
                .context("date out of range")?
                + Duration::days(9);
            add_measurement(
                &mut w,
                &tenant.id,
                &state.instruments,
                &by,
                &NewMeasurement {
                    participant_id: participant.clone(),
                    instrument: LADDER.into(),
                    measured_on: on.min(today),
                    scores: vec![NewScore {
                        domain: LADDER_DOMAIN.into(),
                        score: *rung,
                        note: None,
                    }],
                    supersedes: None,
                },
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo measurement {i}: {e}"))?;
        }
        if i == BENEFIT_ENDED {
            add_milestone(
                &mut w,
                &tenant.id,
                &by,
                &NewMilestone {
                    participant_id: participant.clone(),
                    kind: "uitkering_beeindigd".into(),
                    reached_on: (month_start + Duration::days(14)).min(today),
                    note: Some("Uitkering stopt: werkt nu 16 uur per week.".into()),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo milestone {i}: {e}"))?;
        }
        w.commit().await?;
    }
    Ok(())
}
