//! The outbox worker: claims due messages, delivers them through their
//! transport, stores what came back, and records the outcome.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sqlx::Row;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::{FAILED, Outbox, QUEUED, SENDING, SENT};
use crate::record::{Ingest, IngestError};
use crate::server::metrics::Metrics;
use crate::store::{Store, Tenant, TenantKind, now};
use crate::transport::http::HttpSender;
use crate::transport::{Sent, outfolder};

/// The running worker; [`Worker::stop`] ends it.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    pub(super) fn start(outbox: Outbox, ingest: Ingest, metrics: Arc<Metrics>) -> Result<Worker> {
        let s = &outbox.settings;
        // A lease that can run out while its worker still waits for an
        // answer would send the message a second time while the first send
        // is under way.
        if s.lease_ms <= s.http_timeout_ms {
            anyhow::bail!(
                "outbox: lease_ms ({}) moet groter zijn dan http_timeout_ms ({}) / lease_ms must be larger than http_timeout_ms",
                s.lease_ms,
                s.http_timeout_ms
            );
        }
        for conn in outbox.vsp.all() {
            if s.lease_ms <= conn.config.timeout_secs.saturating_mul(1000) {
                anyhow::bail!(
                    "outbox: lease_ms ({}) moet groter zijn dan de timeout van [[vsp]] {} / must be larger than the [[vsp]] timeout ({} s)",
                    s.lease_ms,
                    conn.tenant,
                    conn.config.timeout_secs
                );
            }
        }
        for conn in outbox.stuf.all() {
            if s.lease_ms <= conn.config.timeout_secs.saturating_mul(1000) {
                anyhow::bail!(
                    "outbox: lease_ms ({}) moet groter zijn dan de timeout van [[stuf]] {} / must be larger than the [[stuf]] timeout ({} s)",
                    s.lease_ms,
                    conn.config.tenant,
                    conn.config.timeout_secs
                );
            }
        }
        let http = HttpSender::new(
            Duration::from_millis(s.http_timeout_ms),
            Duration::from_millis(s.connect_timeout_ms),
            ingest.limits.max_bytes,
        )?;
        let ctx = Arc::new(Ctx {
            store: ingest.store.clone(),
            ingest,
            http,
            metrics,
            outbox,
        });
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run(ctx, rx));
        Ok(Worker { stop, task })
    }

    /// Stops claiming, lets the deliveries under way finish (a delivery cut
    /// off would be resent after its lease anyway), and waits.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "outbox: worker failed");
        }
    }
}

struct Ctx {
    store: Store,
    ingest: Ingest,
    http: HttpSender,
    metrics: Arc<Metrics>,
    outbox: Outbox,
}

/// One claimed message.
struct Claim {
    message_id: String,
    tenant_id: String,
    financier: String,
    bericht: String,
    identificatie: String,
    target_kind: String,
    target: String,
    token_env: Option<String>,
    /// Attempt number of this claim; also what identifies the claim when
    /// recording its outcome.
    attempt: i64,
    backoff_from: i64,
    /// `istandaard` or `ubl` (see [`super::FORMAT_UBL`]).
    format: String,
    /// The exchange's identifiers (vsp targets), committed with the claim.
    ids: Option<crate::record::exchange::PushIds>,
    raw: Vec<u8>,
}

async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    tracing::info!("outbox: worker started");
    let poll = Duration::from_millis(ctx.outbox.settings.poll_ms.max(1));
    let notify = ctx.outbox.notify.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match round(&ctx).await {
            // Some were sent: more may be due right away.
            Ok(n) if n > 0 => continue,
            Ok(_) => match next_due(&ctx.store).await {
                Ok(Some(d)) => d.min(poll),
                Ok(None) => poll,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "outbox: cannot read the queue");
                    poll
                }
            },
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "outbox: cannot claim messages");
                poll
            }
        };
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    tracing::info!("outbox: worker stopped");
}

/// Claims what is due (the oldest waiting message of each counterpart, and
/// any due retour) and delivers it, concurrently. Returns how many.
///
/// Outcomes are recorded as deliveries finish, those that finished at the
/// same moment in one transaction: one commit for several messages
/// instead of one each.
async fn round(ctx: &Arc<Ctx>) -> Result<usize> {
    let claims = claim(ctx).await?;
    let n = claims.len();
    let mut tasks = JoinSet::new();
    for c in claims {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let outcome = deliver(&ctx, &c).await;
            (c, outcome)
        });
    }
    while let Some(first) = tasks.join_next().await {
        let mut done = vec![first];
        while let Some(more) = tasks.try_join_next() {
            done.push(more);
        }
        let mut finished = Vec::with_capacity(done.len());
        for d in done {
            match d {
                Ok(f) => finished.push(f),
                Err(e) => tracing::error!(error = %e, "outbox: delivery task failed"),
            }
        }
        if let Err(e) = record(ctx, &finished).await {
            // The claims' leases run out and the messages are sent again,
            // a push with the same traceerId: safe.
            tracing::error!(error = %format!("{e:#}"), "outbox: cannot record the outcome");
        }
        for (c, outcome) in &finished {
            report(ctx, c, outcome);
        }
    }
    Ok(n)
}

/// The claim: a due row moves to `sending` with a lease, in one conditional
/// update, so two workers (two loket processes on one PostgreSQL) never
/// both take it. A row is due when queued and its time has come, or when
/// its lease ran out (its worker stopped mid-send).
///
/// Order: a message is a candidate only when no older message to the same
/// counterpart (tenant and target) is still open, which keeps each
/// counterpart's messages in order (a 307 never overtakes its 305). Retours
/// (outgoing messages that answer an incoming one, `answer_of` set; only
/// the record makes them, for a pulled message) are the exception: they
/// are candidates whenever due. A retour answers a message the counterpart
/// sent; its place among loket's other messages means nothing to the
/// receiver, and VECOZO, the one target of every message a tenant pushes,
/// gives no order between separate pushes anyway (it processes each on its
/// own before offering it). Without the exception a backlog of retours
/// would go one push at a time. A heenbericht still waits for every older
/// open message of its counterpart, retours included, as before.
///
/// Queued rows and rows whose lease ran out are looked up apart, each in
/// `outbox_due` order with its own limit: a single `state = $1 OR state =
/// $2` condition made the planner read and sort every due row for each
/// claim of eight, which grew with the backlog (10,000 retours waiting).
pub(crate) const CLAIM: &str = "SELECT c.message_id FROM ( \
     SELECT * FROM (SELECT o.message_id, o.next_attempt_at FROM outbox o \
       WHERE o.state = $1 AND o.next_attempt_at <= $3 AND (EXISTS (SELECT 1 FROM messages r WHERE r.id = o.message_id AND r.answer_of IS NOT NULL) \
       OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant_id = o.tenant_id AND p.target = o.target \
           AND p.state IN ($1, $2) AND p.message_id < o.message_id)) \
       ORDER BY o.next_attempt_at, o.message_id LIMIT $4) AS due \
     UNION ALL \
     SELECT * FROM (SELECT o.message_id, o.next_attempt_at FROM outbox o \
       WHERE o.state = $2 AND o.lease_until <= $3 AND (EXISTS (SELECT 1 FROM messages r WHERE r.id = o.message_id AND r.answer_of IS NOT NULL) \
       OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant_id = o.tenant_id AND p.target = o.target \
           AND p.state IN ($1, $2) AND p.message_id < o.message_id)) \
       ORDER BY o.next_attempt_at, o.message_id LIMIT $4) AS expired \
     ) AS c ORDER BY c.next_attempt_at, c.message_id LIMIT $4";

async fn claim(ctx: &Ctx) -> Result<Vec<Claim>> {
    let settings = &ctx.outbox.settings;
    let ts = now();
    let rows = sqlx::query(CLAIM)
        .bind(QUEUED)
        .bind(SENDING)
        .bind(&ts)
        .bind(i64::try_from(settings.concurrency.max(1)).unwrap_or(8))
        .fetch_all(ctx.store.pool())
        .await
        .context("reading due messages")?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let lease = stamp(Utc::now() + millis(settings.lease_ms));
    // Every claim of the round in one transaction; a message for the
    // exchange gets its identifiers in the same commit, before it is pushed.
    let mut taken = Vec::with_capacity(rows.len());
    let mut w = ctx.store.begin_write().await?;
    for row in rows {
        let id: String = row.try_get("message_id")?;
        let claimed = sqlx::query(
            "UPDATE outbox SET state = $2, attempts = attempts + 1, lease_until = $3, updated_at = $4 \
             WHERE message_id = $1 AND ((state = $5 AND next_attempt_at <= $4) OR (state = $2 AND lease_until <= $4)) \
             RETURNING tenant_id, financier, bericht, identificatie, target_kind, target, token_env, attempts, backoff_from, format",
        )
        .bind(&id)
        .bind(SENDING)
        .bind(&lease)
        .bind(&ts)
        .bind(QUEUED)
        .fetch_optional(&mut *w.tx)
        .await
        .context("claiming a message")?;
        // Another worker was first.
        let Some(r) = claimed else { continue };
        let tenant_id: String = r.try_get("tenant_id")?;
        let target_kind: String = r.try_get("target_kind")?;
        let ids = if target_kind == super::TARGET_VSP || target_kind == super::TARGET_STUF {
            Some(crate::record::exchange::push_ids(&mut w.tx, &tenant_id, &id).await?)
        } else {
            None
        };
        taken.push(Claim {
            message_id: id,
            tenant_id,
            financier: r.try_get("financier")?,
            bericht: r.try_get("bericht")?,
            identificatie: r.try_get("identificatie")?,
            target_kind,
            target: r.try_get("target")?,
            token_env: r.try_get("token_env")?,
            attempt: r.try_get("attempts")?,
            backoff_from: r.try_get("backoff_from")?,
            format: r.try_get("format")?,
            ids,
            raw: Vec::new(),
        });
    }
    w.commit().await?;
    for c in &mut taken {
        let stored = sqlx::query("SELECT raw, raw_encoding FROM messages WHERE id = $1")
            .bind(&c.message_id)
            .fetch_one(ctx.store.pool())
            .await
            .context("reading the message")?;
        c.raw = crate::store::body::unpack(
            &stored.try_get::<String, _>("raw_encoding")?,
            stored.try_get("raw")?,
        )?;
    }
    Ok(taken)
}

impl Claim {
    /// What the vsp transport needs of this claim.
    fn delivery<'a>(
        &'a self,
        ids: &'a crate::record::exchange::PushIds,
    ) -> crate::transport::vsp::Delivery<'a> {
        crate::transport::vsp::Delivery {
            ids,
            tenant: &self.tenant_id,
            message_id: &self.message_id,
            bericht: &self.bericht,
            identificatie: &self.identificatie,
            base: &self.target,
            payload: &self.raw,
        }
    }
}

/// Delivers one claimed message; [`record`] stores what came of it.
async fn deliver(ctx: &Ctx, c: &Claim) -> Outcome {
    let sent = match c.target_kind.as_str() {
        "http" => match token(c.token_env.as_deref()) {
            Ok(token) => {
                ctx.http
                    .send(&c.target, token.as_deref(), c.raw.clone())
                    .await
            }
            Err(error) => Sent::Failed {
                status: None,
                error,
            },
        },
        super::TARGET_FOLDER => {
            let sender = c.tenant_id.clone();
            outfolder::deliver(
                c.target.clone().into(),
                c.identificatie.clone(),
                c.bericht.clone(),
                sender,
                c.raw.clone(),
                c.attempt > 1,
            )
            .await
        }
        super::TARGET_VSP => match &c.ids {
            Some(ids) => {
                crate::transport::vsp::deliver(&ctx.store, &ctx.outbox.vsp, &c.delivery(ids)).await
            }
            None => Sent::Retry {
                status: None,
                error: "no exchange identifiers".into(),
                after: None,
            },
        },
        super::TARGET_STUF => match &c.ids {
            Some(ids) => {
                let d = crate::transport::stuf::Delivery {
                    ids,
                    tenant: &c.tenant_id,
                    message_id: &c.message_id,
                    bericht: &c.bericht,
                    edition: &c.target,
                    as_is: c.format == super::FORMAT_STUF,
                    payload: &c.raw,
                };
                crate::transport::stuf::deliver(&ctx.store, &ctx.outbox.stuf, &d).await
            }
            None => Sent::Retry {
                status: None,
                error: "no exchange identifiers".into(),
                after: None,
            },
        },
        other => Sent::Failed {
            status: None,
            error: format!("onbekend soort bestemming / unknown target kind {other:?}"),
        },
    };
    match sent {
        // An access point answers an invoice with a receipt at most; only
        // an iStandaarden counterpart answers with a retourbericht.
        Sent::Delivered {
            status,
            answer: Some(answer),
            note,
        } if c.format != super::FORMAT_UBL => take_retour(ctx, c, status, answer, note).await,
        other => Outcome::from(other),
    }
}

/// Counts and logs what came of one claim.
fn report(ctx: &Ctx, c: &Claim, sent: &Outcome) {
    ctx.metrics.record_delivery(&c.target_kind, sent.label());
    match sent {
        Outcome::Sent { status, .. } => {
            tracing::info!(message_id = %c.message_id, bericht = %c.bericht, financier = %c.financier, attempt = c.attempt, status = *status, "outbox: sent")
        }
        Outcome::Retry { error, .. } => {
            tracing::warn!(message_id = %c.message_id, bericht = %c.bericht, financier = %c.financier, attempt = c.attempt, error = %error, "outbox: not delivered, will retry")
        }
        Outcome::Failed { error, .. } => {
            tracing::warn!(message_id = %c.message_id, bericht = %c.bericht, financier = %c.financier, attempt = c.attempt, error = %error, "outbox: refused, needs a person")
        }
    }
}

/// The API token from the environment variable the mapping names.
fn token(env: Option<&str>) -> Result<Option<String>, String> {
    let Some(name) = env else { return Ok(None) };
    match std::env::var(name) {
        Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
        _ => Err(format!(
            "omgevingsvariabele {name} met het API-token is niet gezet / environment variable {name} with the API token is not set"
        )),
    }
}

/// What the attempt means for the outbox row.
enum Outcome {
    Sent {
        status: Option<u16>,
        retour_id: Option<String>,
        note: Option<String>,
    },
    Retry {
        status: Option<u16>,
        error: String,
        after: Option<Duration>,
    },
    Failed {
        status: Option<u16>,
        error: String,
    },
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed { .. } => "failed",
        }
    }
}

impl From<Sent> for Outcome {
    fn from(s: Sent) -> Outcome {
        match s {
            Sent::Delivered { status, note, .. } => Outcome::Sent {
                status,
                retour_id: None,
                note,
            },
            Sent::Retry {
                status,
                error,
                after,
            } => Outcome::Retry {
                status,
                error,
                after,
            },
            Sent::Failed { status, error } => Outcome::Failed { status, error },
        }
    }
}

/// The counterpart answered with a retourbericht: it goes through the same
/// ingest as any inbound message (addressed to the tenant, who is its
/// Ontvanger). If it cannot be stored now, the message counts as not sent:
/// sending it again brings the same retour back (TR056), so nothing is lost.
async fn take_retour(
    ctx: &Ctx,
    c: &Claim,
    status: Option<u16>,
    answer: Vec<u8>,
    note: Option<String>,
) -> Outcome {
    let tenant = match TenantKind::from_id(&c.tenant_id) {
        Ok(kind) => Tenant {
            id: c.tenant_id.clone(),
            kind,
        },
        Err(e) => {
            return Outcome::Sent {
                status,
                retour_id: None,
                note: Some(format!("{e:#}")),
            };
        }
    };
    let unusable = |nl: &str, en: &str| Outcome::Sent {
        status,
        retour_id: None,
        note: Some(format!(
            "verzonden, maar het retourbericht {nl} / sent, but the retourbericht {en}"
        )),
    };
    match ctx.ingest.receive(&tenant, &answer).await {
        Ok(r) => Outcome::Sent {
            status,
            retour_id: Some(r.message_id),
            note,
        },
        Err(IngestError::Store(e)) => Outcome::Retry {
            status,
            error: format!("retourbericht niet opgeslagen / retourbericht not stored: {e:#}"),
            after: None,
        },
        Err(IngestError::Unusable(e)) => unusable(
            &format!("is onbruikbaar: {}", e.nl()),
            &format!("is unusable: {e}"),
        ),
        Err(IngestError::WrongTenant { .. }) => unusable(
            "is aan iemand anders gericht",
            "is addressed to someone else",
        ),
        Err(IngestError::NoRetour(reason)) => unusable(
            &format!("is geweigerd: {reason}"),
            &format!("was refused: {reason}"),
        ),
    }
}

/// Records the outcomes of `finished` in one transaction, each only if its
/// claim still holds (a worker that lost its lease leaves the row to the
/// one that took it over). A push the exchange accepted is followed by the
/// status loop from now on, in the same commit.
async fn record(ctx: &Ctx, finished: &[(Claim, Outcome)]) -> Result<()> {
    if finished.is_empty() {
        return Ok(());
    }
    let mut w = ctx.store.begin_write().await?;
    for (c, outcome) in finished {
        record_one(ctx, &mut w.tx, c, outcome).await?;
    }
    w.commit().await
}

async fn record_one(
    ctx: &Ctx,
    tx: &mut crate::record::apply::Tx,
    c: &Claim,
    outcome: &Outcome,
) -> Result<()> {
    let ts = now();
    // What changes: the state, when the next attempt is (queued), when it
    // was sent, the retour, and what to tell a person.
    let (state, next, sent_at, retour_id, note, status) = match outcome {
        Outcome::Sent {
            status,
            retour_id,
            note,
        } => (
            SENT,
            None,
            Some(ts.as_str()),
            retour_id.as_deref(),
            note.as_deref(),
            status,
        ),
        Outcome::Retry {
            status,
            error,
            after,
        } => {
            let failed = u32::try_from((c.attempt - c.backoff_from).max(1)).unwrap_or(u32::MAX);
            let delay = ctx.outbox.settings.backoff(failed, *after);
            let next = stamp(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default());
            (QUEUED, Some(next), None, None, Some(error.as_str()), status)
        }
        Outcome::Failed { status, error } => {
            (FAILED, None, None, None, Some(error.as_str()), status)
        }
    };
    let updated = sqlx::query(
        "UPDATE outbox SET state = $4, next_attempt_at = COALESCE($5, next_attempt_at), sent_at = $6, \
         retour_id = $7, last_error = $8, response_status = $9, lease_until = NULL, updated_at = $10 \
         WHERE message_id = $1 AND state = $2 AND attempts = $3",
    )
    .bind(&c.message_id)
    .bind(SENDING)
    .bind(c.attempt)
    .bind(state)
    .bind(next.as_deref())
    .bind(sent_at)
    .bind(retour_id)
    .bind(note)
    .bind(status.map(i64::from))
    .bind(&ts)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Ok(());
    }
    sqlx::query("UPDATE messages SET status = $1 WHERE id = $2")
        .bind(state)
        .bind(&c.message_id)
        .execute(&mut **tx)
        .await?;
    if let Some(retour) = retour_id {
        // The retour answers this message: GET /messages/{id} shows it
        // as the answer, as it does for an inbound message.
        sqlx::query(
            "UPDATE messages SET answer_of = $1 WHERE id = $2 AND tenant_id = $3 AND answer_of IS NULL",
        )
        .bind(&c.message_id)
        .bind(retour)
        .bind(&c.tenant_id)
        .execute(&mut **tx)
        .await?;
    }
    if state == SENT && c.target_kind == super::TARGET_VSP {
        let first = crate::transport::vsp::first_status_check(&ctx.outbox.vsp, &c.tenant_id);
        crate::record::exchange::pushed(tx, &c.tenant_id, &c.message_id, &first).await?;
    }
    Ok(())
}

/// How long until the next message falls due (a queued one's time, or a
/// lease that runs out), if any is waiting.
async fn next_due(store: &Store) -> Result<Option<Duration>> {
    let row = sqlx::query(
        "SELECT MIN(CASE WHEN state = $1 THEN next_attempt_at ELSE lease_until END) AS due \
         FROM outbox WHERE state IN ($1, $2)",
    )
    .bind(QUEUED)
    .bind(SENDING)
    .fetch_one(store.pool())
    .await?;
    let due: Option<String> = row.try_get("due")?;
    Ok(due
        .and_then(|d| DateTime::parse_from_rfc3339(&d).ok())
        .map(|d| {
            (d.with_timezone(&Utc) - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        }))
}

fn millis(ms: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
}

/// A timestamp as the store writes them (fixed width, so text order is time
/// order).
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_named_variable() {
        assert_eq!(token(None), Ok(None));
        // PATH is set wherever tests run; it stands in for a token variable.
        assert!(matches!(token(Some("PATH")), Ok(Some(t)) if !t.is_empty()));
        let missing = token(Some("LOKET_TEST_NO_SUCH_TOKEN_VARIABLE")).unwrap_err();
        assert!(
            missing.contains("niet gezet") && missing.contains("not set"),
            "{missing}"
        );
    }
}
