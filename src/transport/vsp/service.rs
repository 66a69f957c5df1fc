//! The loops `loket serve` runs for every tenant with a `[[vsp]]` section:
//! pulling (when `pull` is on) and following the status of what was pushed.
//! Pushing itself is the outbox worker's, which keeps each counterpart's
//! order (retours excepted, see `outbox::worker::CLAIM`) and retries; the
//! pull wakes it as soon as retours are queued.
//!
//! When VECOZO cannot be reached, the pull waits twice as long each time,
//! from `poll_interval_secs` up to `max_backoff_secs`, and starts again at
//! once when a round succeeds; a full batch is followed by the next one
//! right away, so a backlog drains at the exchange's pace, not the poll's.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::pull::Puller;
use super::{Clients, Connection};
use crate::outbox::Outbox;
use crate::record::Ingest;
use crate::server::metrics::Metrics;

/// The running loops; [`Running::stop`] ends them after the round under way.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts a pull loop and a status loop per configured tenant.
pub fn start(
    clients: &Clients,
    ingest: &Ingest,
    outbox: &Outbox,
    metrics: &Arc<Metrics>,
) -> Running {
    if std::env::var(super::pull::FAULT_ENV).is_ok() {
        tracing::warn!(
            "{}: a test hook that aborts loket is set; never set it in production",
            super::pull::FAULT_ENV
        );
    }
    let (stop, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for conn in clients.all() {
        if conn.config.pull {
            tasks.spawn(pull_loop(
                conn.clone(),
                ingest.clone(),
                outbox.clone(),
                metrics.clone(),
                rx.clone(),
            ));
        }
        tasks.spawn(status_loop(conn.clone(), ingest.clone(), rx.clone()));
    }
    Running { stop, tasks }
}

/// Sleeps `d`, or returns true at once when loket stops.
async fn stopped_during(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

async fn pull_loop(
    conn: Arc<Connection>,
    ingest: Ingest,
    outbox: Outbox,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let poll = Duration::from_secs(conn.config.poll_interval_secs);
    let cap = Duration::from_secs(conn.config.max_backoff_secs).max(poll);
    let mut wait = poll;
    tracing::info!(tenant = %conn.tenant, "vsp: pulling");
    let puller = Puller {
        conn: conn.clone(),
        ingest,
        outbox,
        metrics,
    };
    loop {
        if *stop.borrow() {
            break;
        }
        let pause = match puller.round().await {
            Ok(r) => {
                wait = poll;
                if r.confirmed > 0 {
                    tracing::info!(tenant = %conn.tenant, confirmed = r.confirmed, kept = r.kept, retours = r.retours, "vsp: pulled");
                }
                // A full list that was all taken: more may be waiting.
                if r.listed >= conn.config.batch as usize && r.kept == 0 {
                    Duration::ZERO
                } else {
                    poll
                }
            }
            Err(e) => {
                tracing::warn!(tenant = %conn.tenant, error = %e.0, wait_secs = wait.as_secs(), "vsp: pull failed; waiting");
                let pause = wait;
                wait = (wait * 2).min(cap);
                pause
            }
        };
        if stopped_during(&mut stop, pause).await {
            break;
        }
    }
    tracing::info!(tenant = %conn.tenant, "vsp: pull stopped");
}

async fn status_loop(conn: Arc<Connection>, ingest: Ingest, mut stop: watch::Receiver<bool>) {
    let interval = Duration::from_secs(conn.config.status_interval_secs);
    loop {
        if stopped_during(&mut stop, interval).await {
            break;
        }
        if let Err(e) = super::status::round(&conn, &ingest.store).await {
            tracing::warn!(tenant = %conn.tenant, error = %e, "vsp: status check failed");
        }
    }
}
