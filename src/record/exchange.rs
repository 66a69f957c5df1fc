//! The record's side of the exchange (VECOZO's VSP-Koppeling): the
//! conversatieId, traceerId and alsAntwoordOp each message carries there,
//! and the berichtstatus the exchange reports for what loket pushed.
//!
//! This module is the one writer of `messages.conversatie_id`, `traceer_id`
//! and `als_antwoord_op` and of the tables `exchange_status` and
//! `exchange_meldingen` (migration 0019); the vsp transport and the pages
//! only call it.
//!
//! Identifiers are chosen once and kept: a push that is retried after a lost
//! answer carries the same traceerId, and a message pulled again after a
//! crash (taken in, not yet confirmed) is recognised by its traceerId, so
//! its retour is queued once.

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyPool, Row};

use super::apply::Tx;
use crate::store::{Store, now};

/// The identifiers a message carries on the exchange (its
/// referentiegegevens), whichever way it went.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Ids {
    pub conversatie_id: String,
    pub traceer_id: String,
    /// The traceerId of the message this one answers.
    pub als_antwoord_op: Option<String>,
}

/// What a message is pushed with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PushIds {
    #[sqlx(flatten)]
    pub ids: Ids,
    /// The geadresseerde: the message's Ontvanger, or for a retour the
    /// Afzender of the heenbericht it answers.
    pub receiver: Option<String>,
}

/// The identifiers of outgoing message `message_id`, chosen now if it has
/// none yet (its first push), in the caller's transaction: the outbox
/// worker's claim, which is committed before the push goes out.
pub async fn push_ids(tx: &mut Tx, tenant: &str, message_id: &str) -> Result<PushIds> {
    sqlx::query(
        "UPDATE messages SET conversatie_id = COALESCE(conversatie_id, $3), traceer_id = COALESCE(traceer_id, $4) \
         WHERE id = $1 AND tenant_id = $2 AND direction = 'out'",
    )
    .bind(message_id)
    .bind(tenant)
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(uuid::Uuid::new_v4().to_string())
    .execute(&mut **tx)
    .await
    .context("choosing the exchange identifiers")?;
    sqlx::query_as(
        // A retour repeats its heenbericht's header (Afzender and Ontvanger
        // as they were), so it goes to the heenbericht's Afzender.
        "SELECT m.conversatie_id, m.traceer_id, m.als_antwoord_op, \
         COALESCE((SELECT h.sender FROM messages h WHERE h.id = m.answer_of AND h.tenant_id = m.tenant_id AND h.direction = 'in'), m.receiver) AS receiver \
         FROM messages m WHERE m.id = $1 AND m.tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .fetch_one(&mut **tx)
    .await
    .context("reading the exchange identifiers")
}

/// The tenant's message that came in with this traceerId, if any: a message
/// pulled again because its confirmation was lost.
pub async fn find_pulled(pool: &AnyPool, tenant: &str, traceer_id: &str) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT id FROM messages WHERE tenant_id = $1 AND traceer_id = $2 AND direction = 'in'",
    )
    .bind(tenant)
    .bind(traceer_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// Where the retours of messages taken in from the exchange go: the same
/// way back (the outbox's `target_kind` and `target`).
#[derive(Debug, Clone, Copy)]
pub struct ReplyTo<'a> {
    /// [`crate::outbox::TARGET_VSP`] or [`crate::outbox::TARGET_STUF`].
    pub kind: &'a str,
    /// The VSP environment's base URL; the StUF edition to write.
    pub target: &'a str,
}

/// Messages taken in from the exchange are in the record (each as its
/// message id): each keeps the exchange's identifiers, and its retour, if
/// the record made one, is queued to go back the way given by `reply`, in
/// the same conversation, answering its traceerId (VSP) or referentienummer
/// (StUF, as the Du01's crossRefnummer). One transaction for all of them
/// (the pull commits a chunk of a list at once). Running this twice for the
/// same message changes nothing the second time. Returns the queued retours.
pub async fn taken_in(
    store: &Store,
    tenant: &str,
    taken: &[(String, Ids)],
    reply: ReplyTo<'_>,
) -> Result<Vec<String>> {
    let mut w = store.begin_write().await?;
    let mut queued = Vec::new();
    for (message_id, ids) in taken {
        queued.extend(take_in(&mut w.tx, tenant, message_id, ids, reply).await?);
    }
    w.commit().await?;
    Ok(queued)
}

/// [`taken_in`] for one message, in the caller's transaction.
async fn take_in(
    tx: &mut Tx,
    tenant: &str,
    message_id: &str,
    ids: &Ids,
    reply: ReplyTo<'_>,
) -> Result<Option<String>> {
    sqlx::query(
        "UPDATE messages SET conversatie_id = COALESCE(conversatie_id, $3), traceer_id = COALESCE(traceer_id, $4), \
         als_antwoord_op = COALESCE(als_antwoord_op, $5) WHERE id = $1 AND tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .bind(&ids.conversatie_id)
    .bind(&ids.traceer_id)
    .bind(ids.als_antwoord_op.as_deref())
    .execute(&mut **tx)
    .await
    .context("storing the exchange identifiers")?;
    let retour = sqlx::query(
        "SELECT r.id, r.bericht, r.identificatie, h.sender AS receiver, h.conversatie_id, h.traceer_id, h.standard \
         FROM messages h JOIN messages r ON r.answer_of = h.id AND r.tenant_id = h.tenant_id AND r.direction = 'out' \
         WHERE h.id = $1 AND h.tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await
    .context("finding the retour")?;
    let Some(r) = retour else {
        return Ok(None);
    };
    let id: String = r.try_get("id")?;
    sqlx::query(
        "UPDATE messages SET conversatie_id = COALESCE(conversatie_id, $2), als_antwoord_op = COALESCE(als_antwoord_op, $3), \
         traceer_id = COALESCE(traceer_id, $4) WHERE id = $1",
    )
    .bind(&id)
    .bind(r.try_get::<Option<String>, _>("conversatie_id")?)
    .bind(r.try_get::<Option<String>, _>("traceer_id")?)
    .bind(uuid::Uuid::new_v4().to_string())
    .execute(&mut **tx)
    .await?;
    let standard: Option<String> = r.try_get("standard")?;
    let reply = crate::outbox::Reply {
        tenant_id: tenant,
        message_id: &id,
        bericht: &r
            .try_get::<Option<String>, _>("bericht")?
            .unwrap_or_default(),
        identificatie: &r
            .try_get::<Option<String>, _>("identificatie")?
            .unwrap_or_default(),
        receiver: &r
            .try_get::<Option<String>, _>("receiver")?
            .unwrap_or_default(),
        standard: standard.as_deref(),
        target_kind: reply.kind,
        target: reply.target,
    };
    if !crate::outbox::enqueue_reply(tx, reply).await? {
        return Ok(None);
    }
    sqlx::query("UPDATE messages SET status = $2 WHERE id = $1")
        .bind(&id)
        .bind(crate::outbox::QUEUED)
        .execute(&mut **tx)
        .await?;
    Ok(Some(id))
}

/// The exchange accepted the push of `message_id` (204): its status is
/// asked for from `next_check_at` on. In the caller's transaction (the
/// outbox worker's record of the outcome).
pub async fn pushed(
    tx: &mut Tx,
    tenant: &str,
    message_id: &str,
    next_check_at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO exchange_status (message_id, tenant_id, status, changed_at, final, checked_at, next_check_at) \
         VALUES ($1, $2, NULL, NULL, 0, $3, $4) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(tenant)
    .bind(now())
    .bind(next_check_at)
    .execute(&mut **tx)
    .await
    .context("storing the exchange status")?;
    Ok(())
}

/// A pushed message whose status is due to be asked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub message_id: String,
    pub traceer_id: String,
    pub status: Option<String>,
    pub checked_at: String,
    pub created_at: String,
}

/// Up to `limit` of the tenant's pushed messages whose status is not final
/// and due to be asked, oldest check first.
pub async fn due(pool: &AnyPool, tenant: &str, limit: i64) -> Result<Vec<Due>> {
    Ok(sqlx::query_as(
        "SELECT s.message_id, m.traceer_id, s.status, s.checked_at, m.created_at FROM exchange_status s \
         JOIN messages m ON m.id = s.message_id \
         WHERE s.tenant_id = $1 AND s.final = 0 AND s.next_check_at <= $2 AND m.traceer_id IS NOT NULL \
         ORDER BY s.next_check_at LIMIT $3",
    )
    .bind(tenant)
    .bind(now())
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One melding as the exchange gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Melding {
    pub code: String,
    pub omschrijving: String,
    pub toelichting: Option<String>,
}

/// What the exchange reported about one pushed message.
#[derive(Debug, Clone)]
pub struct Report {
    pub status: String,
    pub changed_at: String,
    pub meldingen: Vec<Melding>,
    pub final_: bool,
    /// A person has to act (refused, not deliverable).
    pub needs_person: bool,
}

/// Stores `report` for `message_id`; the next check is at `next_check_at`.
/// A status that newly needs a person opens a review item with each
/// melding explained. Returns whether the status changed.
pub async fn report(
    store: &Store,
    tenant: &str,
    message_id: &str,
    report: &Report,
    next_check_at: &str,
) -> Result<bool> {
    let mut w = store.begin_write().await?;
    let before = sqlx::query(
        "SELECT s.status, s.changed_at, m.participant_id, m.bericht, m.identificatie FROM exchange_status s \
         JOIN messages m ON m.id = s.message_id WHERE s.message_id = $1 AND s.tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(before) = before else {
        w.commit().await?;
        return Ok(false);
    };
    let old: Option<String> = before.try_get("status")?;
    let old_at: Option<String> = before.try_get("changed_at")?;
    let changed = old.as_deref() != Some(report.status.as_str())
        || old_at.as_deref() != Some(report.changed_at.as_str());
    sqlx::query(
        "UPDATE exchange_status SET status = $3, changed_at = $4, final = $5, checked_at = $6, next_check_at = $7 \
         WHERE message_id = $1 AND tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .bind(&report.status)
    .bind(&report.changed_at)
    .bind(i64::from(report.final_))
    .bind(now())
    .bind(next_check_at)
    .execute(&mut *w.tx)
    .await?;
    if changed {
        sqlx::query("DELETE FROM exchange_meldingen WHERE message_id = $1")
            .bind(message_id)
            .execute(&mut *w.tx)
            .await?;
        for (seq, m) in report.meldingen.iter().enumerate() {
            sqlx::query(
                "INSERT INTO exchange_meldingen (message_id, seq, code, omschrijving, toelichting) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(message_id)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(&m.code)
            .bind(&m.omschrijving)
            .bind(m.toelichting.as_deref())
            .execute(&mut *w.tx)
            .await?;
        }
        if report.needs_person && old.as_deref() != Some(report.status.as_str()) {
            let codes = crate::schema::exchange::ExchangeCodes::builtin();
            let meldingen: Vec<_> = report
                .meldingen
                .iter()
                .map(|m| {
                    json!({
                        "code": m.code,
                        "omschrijving": m.omschrijving,
                        "uitleg": codes.explain(&m.code, &m.omschrijving),
                    })
                })
                .collect();
            let detail = json!({
                "message_id": message_id,
                "bericht": before.try_get::<Option<String>, _>("bericht")?,
                "identificatie": before.try_get::<Option<String>, _>("identificatie")?,
                "berichtstatus": report.status,
                "meldingen": meldingen,
            });
            super::answers::add_review(
                &mut w.tx,
                tenant,
                before
                    .try_get::<Option<String>, _>("participant_id")?
                    .as_deref(),
                "exchange_refused",
                Some(message_id),
                &[],
                &detail,
            )
            .await?;
        }
    }
    w.commit().await?;
    Ok(changed)
}

/// What the exchange last said about a pushed message, for the outbox item,
/// the message page and the participant's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeView {
    pub conversatie_id: Option<String>,
    pub traceer_id: Option<String>,
    pub als_antwoord_op: Option<String>,
    /// `None` until the exchange first reported.
    pub status: Option<String>,
    pub label: Option<String>,
    pub changed_at: Option<String>,
    #[serde(rename = "final")]
    pub final_: bool,
    pub meldingen: Vec<MeldingView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeldingView {
    pub code: String,
    pub omschrijving: String,
    pub toelichting: Option<String>,
    /// loket's explanation in Dutch.
    pub uitleg: String,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    conversatie_id: Option<String>,
    traceer_id: Option<String>,
    als_antwoord_op: Option<String>,
    status: Option<String>,
    changed_at: Option<String>,
    final_: Option<i64>,
}

/// The exchange's view of message `message_id`, if it crossed the exchange.
pub async fn view(pool: &AnyPool, tenant: &str, message_id: &str) -> Result<Option<ExchangeView>> {
    let row: Option<ViewRow> = sqlx::query_as(
        "SELECT m.conversatie_id, m.traceer_id, m.als_antwoord_op, s.status, s.changed_at, s.final AS final_ \
         FROM messages m LEFT JOIN exchange_status s ON s.message_id = m.id \
         WHERE m.id = $1 AND m.tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    if r.traceer_id.is_none() && r.status.is_none() {
        return Ok(None);
    }
    let meldingen: Vec<Melding> = sqlx::query_as(
        "SELECT code, omschrijving, toelichting FROM exchange_meldingen WHERE message_id = $1 ORDER BY seq",
    )
    .bind(message_id)
    .fetch_all(pool)
    .await?;
    let codes = crate::schema::exchange::ExchangeCodes::builtin();
    Ok(Some(ExchangeView {
        label: r.status.as_deref().map(|s| {
            codes
                .status(s)
                .map_or(s.to_string(), |i| i.label_nl.clone())
        }),
        conversatie_id: r.conversatie_id,
        traceer_id: r.traceer_id,
        als_antwoord_op: r.als_antwoord_op,
        status: r.status,
        changed_at: r.changed_at,
        final_: r.final_ == Some(1),
        meldingen: meldingen
            .into_iter()
            .map(|m| MeldingView {
                uitleg: codes.explain(&m.code, &m.omschrijving),
                code: m.code,
                omschrijving: m.omschrijving,
                toelichting: m.toelichting,
            })
            .collect(),
    }))
}

/// The exchange knows no status for `message_id` yet: asked again at
/// `next_check_at`.
pub async fn report_none(
    store: &Store,
    tenant: &str,
    message_id: &str,
    next_check_at: &str,
) -> Result<()> {
    let mut w = store.begin_write().await?;
    sqlx::query(
        "UPDATE exchange_status SET checked_at = $3, next_check_at = $4 WHERE message_id = $1 AND tenant_id = $2",
    )
    .bind(message_id)
    .bind(tenant)
    .bind(now())
    .bind(next_check_at)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await
}

/// VECOZO refused the push of `message_id` (400 or 422): a review item with
/// its reason, so the data can be fixed and the message sent again.
pub async fn refused(
    store: &Store,
    tenant: &str,
    message_id: &str,
    http_status: u16,
    reason: &str,
) -> Result<()> {
    let mut w = store.begin_write().await?;
    let row = sqlx::query("SELECT participant_id, bericht, identificatie FROM messages WHERE id = $1 AND tenant_id = $2")
        .bind(message_id)
        .bind(tenant)
        .fetch_optional(&mut *w.tx)
        .await?;
    let (participant, bericht, ident) = match &row {
        Some(r) => (
            r.try_get::<Option<String>, _>("participant_id")?,
            r.try_get::<Option<String>, _>("bericht")?,
            r.try_get::<Option<String>, _>("identificatie")?,
        ),
        None => (None, None, None),
    };
    let detail = json!({
        "message_id": message_id,
        "bericht": bericht,
        "identificatie": ident,
        "http_status": http_status,
        "reason": reason,
    });
    super::answers::add_review(
        &mut w.tx,
        tenant,
        participant.as_deref(),
        "exchange_refused",
        Some(message_id),
        &[],
        &detail,
    )
    .await?;
    w.commit().await
}

/// The conversatie_id of the tenant's outgoing message with this traceer_id
/// (a StUF Du01 answering loket's Di01 joins that Di01's conversation).
pub async fn conversation_of(
    pool: &AnyPool,
    tenant: &str,
    traceer_id: &str,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT conversatie_id FROM messages WHERE tenant_id = $1 AND traceer_id = $2 AND direction = 'out'",
    )
    .bind(tenant)
    .bind(traceer_id)
    .fetch_optional(pool)
    .await?;
    Ok(row
        .map(|r| r.try_get::<Option<String>, _>("conversatie_id"))
        .transpose()?
        .flatten())
}

/// The tenant's outgoing Fo01 answering the message that came in with
/// referentienummer `cross_ref`, if one was queued: the same refused
/// envelope sent again is only acknowledged.
pub async fn fault_for(pool: &AnyPool, tenant: &str, cross_ref: &str) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT id FROM messages WHERE tenant_id = $1 AND direction = 'out' AND bericht = 'Fo01' AND als_antwoord_op = $2",
    )
    .bind(tenant)
    .bind(cross_ref)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// Why stored message `message_id` failed on its structure (the XSD,
/// controleniveau 1), if it did: the GGk answers that with a Fo01, not a
/// retour. The first such finding, in Dutch, with its place.
pub async fn failed_structure(
    pool: &AnyPool,
    tenant: &str,
    message_id: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT findings FROM messages WHERE id = $1 AND tenant_id = $2")
        .bind(message_id)
        .bind(tenant)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let findings: Option<String> = row.try_get("findings")?;
    let findings: Vec<serde_json::Value> =
        serde_json::from_str(findings.as_deref().unwrap_or("[]")).unwrap_or_default();
    Ok(findings
        .iter()
        .find(|f| f["level"] == "structure")
        .map(|f| {
            format!(
                "{} ({})",
                f["nl"].as_str().unwrap_or_default(),
                f["path"].as_str().unwrap_or_default()
            )
        }))
}

/// A Fo01 loket sends: the envelope is written by the transport, the
/// record keeps it as an outgoing message.
pub struct FaultOut<'a> {
    /// The incoming message it refuses, when one was stored with its
    /// content (a payload that did not even decode is stored without).
    pub refused: Option<&'a str>,
    /// The refused envelope's identifiers: its referentienummer becomes the
    /// refused message's traceer_id, so a resend is recognised.
    pub refused_ids: &'a Ids,
    /// The Fo01's own referentienummer.
    pub referentienummer: &'a str,
    /// Who gets it: the refused envelope's zender organisatie.
    pub receiver: &'a str,
    pub code: &'a str,
    pub omschrijving: &'a str,
    /// The Fo01 as written (`StUF:Fo01Bericht`).
    pub xml: &'a str,
    /// The outbox target ([`ReplyTo::target`], the edition).
    pub target: &'a str,
}

/// Stores and queues a Fo01 loket answers a refused payload with, and keeps
/// the refused message's identifiers, in one transaction. Returns the
/// Fo01's message id.
pub async fn refuse_payload(store: &Store, tenant: &str, f: &FaultOut<'_>) -> Result<String> {
    let mut w = store.begin_write().await?;
    if let Some(id) = f.refused {
        sqlx::query(
            "UPDATE messages SET conversatie_id = COALESCE(conversatie_id, $3), traceer_id = COALESCE(traceer_id, $4) \
             WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(tenant)
        .bind(&f.refused_ids.conversatie_id)
        .bind(&f.refused_ids.traceer_id)
        .execute(&mut *w.tx)
        .await
        .context("storing the refused message's identifiers")?;
    }
    let parsed = json!({
        "berichtcode": "Fo01",
        "crossRefnummer": f.refused_ids.traceer_id,
        "code": f.code,
        "omschrijving": f.omschrijving,
    })
    .to_string();
    let id = crate::outbox::enqueue_fault(
        &mut w.tx,
        crate::outbox::Fault {
            tenant_id: tenant,
            receiver: f.receiver,
            referentienummer: f.referentienummer,
            answer_of: f.refused,
            raw: f.xml.as_bytes(),
            parsed,
            target: f.target,
        },
    )
    .await?;
    sqlx::query(
        "UPDATE messages SET conversatie_id = $2, traceer_id = $3, als_antwoord_op = $4 WHERE id = $1",
    )
    .bind(&id)
    .bind(&f.refused_ids.conversatie_id)
    .bind(f.referentienummer)
    .bind(&f.refused_ids.traceer_id)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(id)
}

/// A Fo01 that came in: the exchange (or the counterpart) refused a
/// message loket sent.
pub struct FaultIn<'a> {
    pub referentienummer: &'a str,
    /// The referentienummer loket gave the refused message.
    pub cross_ref: &'a str,
    pub zender: &'a str,
    pub code: &'a str,
    pub omschrijving: &'a str,
    pub details: Option<&'a str>,
}

/// Ties an incoming Fo01 to the message it refuses (its traceer_id is the
/// Fo01's crossRefnummer): the melding is kept with that message (the
/// outbox item and the message page show it, explained) and a review item
/// `exchange_refused` says what went wrong and who acts. A Fo01 received
/// before (same referentienummer) changes nothing. Returns the refused
/// message's id, when loket knows it.
pub async fn fault_received(
    store: &Store,
    tenant: &str,
    f: &FaultIn<'_>,
) -> Result<Option<String>> {
    let mut w = store.begin_write().await?;
    let refused = sqlx::query(
        "SELECT id, participant_id, bericht, identificatie FROM messages \
         WHERE tenant_id = $1 AND direction = 'out' AND traceer_id = $2",
    )
    .bind(tenant)
    .bind(f.cross_ref)
    .fetch_optional(&mut *w.tx)
    .await?;
    let (message_id, participant, bericht, ident) = match &refused {
        Some(r) => (
            Some(r.try_get::<String, _>("id")?),
            r.try_get::<Option<String>, _>("participant_id")?,
            r.try_get::<Option<String>, _>("bericht")?,
            r.try_get::<Option<String>, _>("identificatie")?,
        ),
        None => (None, None, None, None),
    };
    // Seen before: the review item's detail holds the Fo01's number.
    let seen = sqlx::query(
        "SELECT 1 AS one FROM review_items WHERE tenant_id = $1 AND kind = 'exchange_refused' AND detail LIKE $2",
    )
    .bind(tenant)
    .bind(format!("%\"fo01_referentienummer\":{}%", json!(f.referentienummer)))
    .fetch_optional(&mut *w.tx)
    .await?;
    if seen.is_some() {
        w.commit().await?;
        return Ok(message_id);
    }
    if let Some(id) = &message_id {
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), -1) + 1 AS next FROM exchange_meldingen WHERE message_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *w.tx)
        .await?
        .try_get("next")?;
        sqlx::query(
            "INSERT INTO exchange_meldingen (message_id, seq, code, omschrijving, toelichting) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(next)
        .bind(f.code)
        .bind(f.omschrijving)
        .bind(f.details)
        .execute(&mut *w.tx)
        .await?;
    }
    let codes = crate::schema::exchange::ExchangeCodes::builtin();
    let detail = json!({
        "message_id": message_id,
        "bericht": bericht,
        "identificatie": ident,
        "fo01_referentienummer": f.referentienummer,
        "cross_refnummer": f.cross_ref,
        "zender": f.zender,
        "meldingen": [{
            "code": f.code,
            "omschrijving": f.omschrijving,
            "toelichting": f.details,
            "uitleg": codes.explain(f.code, f.omschrijving),
        }],
    });
    super::answers::add_review(
        &mut w.tx,
        tenant,
        participant.as_deref(),
        "exchange_refused",
        message_id.as_deref(),
        &[],
        &detail,
    )
    .await?;
    w.commit().await?;
    Ok(message_id)
}
