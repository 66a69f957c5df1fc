//! The daemon's daily start/stop run: every provider tenant's starts and
//! stops leave on the day they are due instead of waiting for the monthly
//! declaration run (OP272 allows five working days; a start registered
//! today is sent today or at the next run).
//!
//! It runs once when the daemon starts (a daemon that was down catches up)
//! and then every day at `[startstop] at` (local time). A run is one
//! transaction per tenant under the tenant lock, like `loket startstop` and
//! the declaration run, so whichever runs first sends a message and the
//! others find it sent.

use std::time::Duration;

use chrono::{Local, NaiveTime, TimeDelta};
use serde::Deserialize;
use sqlx::Row;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::startstop;
use crate::server::AppState;
use crate::store::{Tenant, TenantKind};

/// The `[startstop]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Run daily in the daemon (and once at start).
    pub enabled: bool,
    /// Local time of the daily run, `HH:MM`.
    pub at: NaiveTime,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            at: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default(),
        }
    }
}

/// The running daily task; [`Daily::stop`] ends it between runs.
pub struct Daily {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Daily {
    /// Starts the daily task: the release of held 325s near their term
    /// (always), the start/stop run when `settings.enabled`, and the
    /// retention run (`[retention] enabled`) at the same time of day, after
    /// it.
    pub fn start(
        state: AppState,
        settings: Settings,
        retention: crate::record::retention::Settings,
    ) -> Daily {
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                // Held 325s whose answer term nears leave, whatever else
                // runs: a municipality is never late for waiting on a person.
                run_release(&state).await;
                if settings.enabled {
                    run_all(&state).await;
                }
                if retention.enabled {
                    run_retention(&state, &retention).await;
                }
                let wait = until(settings.at);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = rx.changed() => return,
                }
            }
        });
        Daily { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Time until the next `at`, local time.
fn until(at: NaiveTime) -> Duration {
    let now = Local::now().naive_local();
    let mut next = now.date().and_time(at);
    if next <= now {
        next += TimeDelta::days(1);
    }
    (next - now).to_std().unwrap_or(Duration::from_secs(3_600))
}

/// Sends the held 325s whose term is two working days away
/// ([`crate::record::decisions::release_due`]); a failure is logged.
async fn run_release(state: &AppState) {
    let today = crate::registration::today();
    match crate::record::decisions::release_due(state.store(), today).await {
        Ok(0) => {}
        Ok(_) => state.outbox.wake(),
        Err(e) => tracing::error!(error = %format!("{e:#}"), "release of held 325s failed"),
    }
}

/// The retention run over every tenant, as of today; a failure is logged
/// (the next day's run takes it up again: it is idempotent).
async fn run_retention(state: &AppState, settings: &crate::record::retention::Settings) {
    let today = crate::registration::today();
    if let Err(e) = crate::record::retention::run(state.store(), settings, today, None, false).await
    {
        tracing::error!(error = %format!("{e:#}"), "retention run failed");
    }
}

/// One run for every provider tenant; a failure is logged and the other
/// tenants still run.
async fn run_all(state: &AppState) {
    let tenants = match sqlx::query("SELECT id FROM tenants ORDER BY id")
        .fetch_all(state.store().pool())
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "start/stop run: cannot list tenants");
            return;
        }
    };
    let today = crate::registration::today();
    for row in tenants {
        let Ok(id) = row.try_get::<String, _>("id") else {
            continue;
        };
        let Ok(kind) = TenantKind::from_id(&id) else {
            continue;
        };
        if kind != TenantKind::Aanbieder {
            continue;
        }
        let tenant = Tenant { id, kind };
        let mappings = state.mappings.for_tenant(&tenant.id);
        match startstop::run(state.store(), mappings, &tenant, today, false, None).await {
            Ok(report) => {
                if !report.messages.is_empty() {
                    state.outbox.wake();
                }
            }
            Err(e) => {
                tracing::error!(tenant = %tenant.id, error = %format!("{e:#}"), "start/stop run failed")
            }
        }
    }
}
