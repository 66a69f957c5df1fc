//! Decisions before the 325 leaves: a municipality may let a person decide
//! on a provider's declaration (WMO323/JW323) before its answer goes out.
//! This module owns `declaration_holds` and `declaration_decisions`.
//!
//! The setting is the municipality's mapping of the provider
//! (`mappings/<gemeente>/<provider>.toml`, `[declarations] decide =
//! "person"`; default `"automatic"`): a contract is where a municipality
//! agrees how it deals with a provider, and the record already reads those
//! files when it judges a 323.
//!
//! - [`mark`]: when such a 323 is judged line by line, its 325 is marked
//!   held. Where the 325 travels through the outbox (VSP, StUF:
//!   [`crate::outbox::enqueue_reply`]) the outbox keeps it in state `held`
//!   instead of sending it. A 325 answered at once (the synchronous HTTP
//!   answer, the drop folder) cannot wait: the mark is then never used.
//! - [`decide`]: a person approves a rejected line or rejects an approved
//!   one with a WJ001 code valid on a prestatie ([`person_codes`]). The
//!   line's verdict changes in `judged_prestaties` (through its owner,
//!   [`super::declared`]), the change is audited (who, role, when, old,
//!   new, why), and the 325 is rebuilt from the recorded verdicts and
//!   checked like every message that leaves; all in one transaction, so the
//!   stored 325 always says what the lines say.
//! - [`release`]: a person sends the 325; [`release_due`] sends every held
//!   325 whose ten-working-day term ([`super::deadlines`]) is two working
//!   days away, so holding never makes the municipality late (the daemon's
//!   daily run calls it).

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::AnyPool;
use thiserror::Error;

use super::access::Actor;
use super::apply::Tx;
use super::declared::{self, APPROVED, REJECTED};
use crate::adapter::istandaard::config::{Limits, RetourSettings};
use crate::adapter::istandaard::{self, Checked, retour};
use crate::calendar::Calendar;
use crate::finding::{Finding, Level};
use crate::mapping::{Decide, FinancierKey, Kind, Mappings};
use crate::message::Message;
use crate::store::body::Packed;
use crate::store::{Store, Tenant, TenantKind, new_id, now};

/// Working days before the answer term ends on which a held 325 leaves by
/// itself.
pub const RELEASE_MARGIN: u32 = 2;

/// How a hold ended (`declaration_holds.released_how`).
pub const BY_PERSON: &str = "person";
pub const BY_DEADLINE: &str = "deadline";

/// Codes a person may reject a prestatie with: the WJ001 codes of the
/// declaration rules loket itself judges a prestatie by (each is a code the
/// standard puts on a Prestatie), so a person's rejection reads to the
/// provider exactly like loket's own would.
const PRESTATIE_CODES: [&str; 20] = [
    "9307", "9308", "8021", "9319", "9321", "9322", "8017", "9338", "9339", "9340", "9341", "9346",
    "9369", "9384", "9387", "9388", "9389", "9390", "0611", "8187",
];

/// The codes a person may reject a line with, each with its Dutch
/// explanation, in code order.
pub fn person_codes() -> Vec<(&'static str, String)> {
    let mut codes: Vec<(&'static str, String)> = PRESTATIE_CODES
        .iter()
        .map(|c| (*c, istandaard::retourcodes::explain(c).nl))
        .collect();
    codes.sort_by(|a, b| a.0.cmp(b.0));
    codes
}

/// Marks the 325 (`retour_id`) answering a 323 (`message_id`) as held when
/// the municipality's mapping of the declaring provider says a person
/// decides, and the 325 judges line by line (a declaration refused as a
/// whole has nothing a person could change). In the record's transaction.
pub(super) async fn mark(
    tx: &mut Tx,
    tenant: &Tenant,
    msg: &Message,
    message_id: &str,
    retour_id: &str,
    answer: &Message,
    mappings: &Mappings,
) -> Result<()> {
    if tenant.kind != TenantKind::Gemeente || msg.def().number != "323" {
        return Ok(());
    }
    let agb = msg.value("Header/Afzender").unwrap_or_default();
    let decide = mappings
        .get(&FinancierKey::new(Kind::Aanbieder, agb))
        .map(|m| m.decide)
        .unwrap_or_default();
    if decide != Decide::Person {
        return Ok(());
    }
    if !matches!(
        super::answers::verdict_325(answer),
        Some(super::answers::Verdict::Lines(_))
    ) {
        return Ok(());
    }
    let ts = now();
    sqlx::query(
        "INSERT INTO declaration_holds (retour_id, tenant_id, message_id, aanbieder, received_on, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (retour_id) DO NOTHING",
    )
    .bind(retour_id)
    .bind(&tenant.id)
    .bind(message_id)
    .bind(agb)
    .bind(ts.get(..10).unwrap_or(&ts))
    .bind(&ts)
    .execute(&mut **tx)
    .await
    .context("marking the 325 held")?;
    Ok(())
}

/// Whether the outgoing message `retour_id` is a 325 held for a person's
/// decision: the outbox then keeps it instead of sending it.
pub async fn is_held(tx: &mut Tx, tenant: &str, retour_id: &str) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT retour_id FROM declaration_holds WHERE retour_id = $1 AND tenant_id = $2 AND released_at IS NULL",
    )
    .bind(retour_id)
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await
    .context("reading the hold of a 325")?;
    Ok(row.is_some())
}

/// A hold as stored, with the outbox state of its 325.
#[derive(Debug, Clone, sqlx::FromRow)]
struct HoldRow {
    retour_id: String,
    message_id: String,
    aanbieder: String,
    received_on: String,
    released_at: Option<String>,
    released_by: Option<String>,
    released_how: Option<String>,
    outbox_state: Option<String>,
    bericht: Option<String>,
}

/// A 325 marked for a person's decision and where it is now.
#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    /// The received 323.
    pub message_id: String,
    /// The 325 answering it.
    pub retour_id: String,
    pub bericht: Option<String>,
    pub aanbieder: String,
    pub received_on: String,
    /// The last day of the ten-working-day answer term.
    pub due_on: String,
    /// The day the 325 leaves by itself if nobody sent it before.
    pub releases_on: String,
    /// `held` (waiting in the outbox for a person), `released` (sent on its
    /// way), or `answered` (the 325 left at once: not through the outbox).
    pub state: &'static str,
    pub outbox_state: Option<String>,
    pub released_at: Option<String>,
    pub released_by: Option<String>,
    pub released_how: Option<String>,
    /// Every decision a person made on its lines, oldest first.
    pub decisions: Vec<Decision>,
}

/// One audited decision on a line.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct Decision {
    pub id: String,
    pub message_id: String,
    pub judged_id: String,
    pub referentie_nummer: String,
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub decided_at: String,
    pub old_status: String,
    #[serde(serialize_with = "declared::codes_as_list")]
    pub old_codes: String,
    pub new_status: String,
    #[serde(serialize_with = "declared::codes_as_list")]
    pub new_codes: String,
    pub reason: String,
}

/// The answer term of a 323 received on `received_on`, and the day the
/// held 325 leaves by itself.
fn term(calendar: &Calendar, received_on: &str) -> (NaiveDate, NaiveDate) {
    let received = NaiveDate::parse_from_str(received_on, "%Y-%m-%d").unwrap_or_default();
    let due = calendar.add_working_days(
        received,
        super::deadlines::working_days(super::deadlines::DECLARATIE_ANTWOORD),
    );
    let days = super::deadlines::working_days(super::deadlines::DECLARATIE_ANTWOORD);
    let releases = calendar.add_working_days(received, days.saturating_sub(RELEASE_MARGIN));
    (due, releases)
}

const HOLD: &str = "SELECT h.retour_id, h.message_id, h.aanbieder, h.received_on, h.released_at, h.released_by, \
     h.released_how, o.state AS outbox_state, m.bericht FROM declaration_holds h \
     JOIN messages m ON m.id = h.message_id LEFT JOIN outbox o ON o.message_id = h.retour_id";

fn hold_of(calendar: &Calendar, r: HoldRow, decisions: Vec<Decision>) -> Hold {
    let (due, releases) = term(calendar, &r.received_on);
    let state = match (r.outbox_state.as_deref(), &r.released_at) {
        (Some(crate::outbox::HELD), None) => "held",
        (Some(_), _) => "released",
        (None, _) => "answered",
    };
    Hold {
        message_id: r.message_id,
        retour_id: r.retour_id,
        bericht: r.bericht,
        aanbieder: r.aanbieder,
        received_on: r.received_on,
        due_on: due.to_string(),
        releases_on: releases.to_string(),
        state,
        outbox_state: r.outbox_state,
        released_at: r.released_at,
        released_by: r.released_by,
        released_how: r.released_how,
        decisions,
    }
}

/// The hold of one received 323, with its decisions; `None` when its 325
/// was never held.
pub async fn hold<'e, E>(exec: E, tenant: &str, message_id: &str) -> Result<Option<Hold>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any> + Copy,
{
    let row: Option<HoldRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{HOLD} WHERE h.tenant_id = $1 AND h.message_id = $2"
    )))
    .bind(tenant)
    .bind(message_id)
    .fetch_optional(exec)
    .await
    .context("reading the hold of a declaration")?;
    let Some(row) = row else { return Ok(None) };
    let decisions = decisions_of(exec, tenant, message_id).await?;
    Ok(Some(hold_of(Calendar::builtin()?, row, decisions)))
}

/// Every 325 of the tenant waiting for a person (outbox state `held`),
/// the one nearest its term first.
pub async fn held(pool: &AnyPool, tenant: &str) -> Result<Vec<Hold>> {
    let rows: Vec<HoldRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{HOLD} WHERE h.tenant_id = $1 AND h.released_at IS NULL AND o.state = 'held' \
         ORDER BY h.received_on, h.message_id"
    )))
    .bind(tenant)
    .fetch_all(pool)
    .await
    .context("reading the held 325s")?;
    let calendar = Calendar::builtin()?;
    Ok(rows
        .into_iter()
        .map(|r| hold_of(calendar, r, Vec::new()))
        .collect())
}

async fn decisions_of<'e, E>(exec: E, tenant: &str, message_id: &str) -> Result<Vec<Decision>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(
        "SELECT id, message_id, judged_id, referentie_nummer, actor, actor_name, role, decided_at, old_status, \
         old_codes, new_status, new_codes, reason FROM declaration_decisions \
         WHERE tenant_id = $1 AND message_id = $2 ORDER BY decided_at, id",
    )
    .bind(tenant)
    .bind(message_id)
    .fetch_all(exec)
    .await
    .context("reading the decisions on a declaration")
}

/// What a person decides on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    /// Reject with this WJ001 code (one of [`person_codes`]).
    Reject(String),
}

/// Why a decision or a release was refused, in Dutch and English.
#[derive(Debug, Error)]
pub enum DecideError {
    #[error("niet gevonden / not found")]
    NotFound,
    #[error(
        "het antwoord (325) op deze declaratie is al verstuurd of wacht niet op een beslissing / the answer (325) to this declaration has left already or does not wait for a decision"
    )]
    NotHeld,
    #[error(
        "retourcode {0} is geen code waarmee een prestatie kan worden afgekeurd / retourcode {0} is not a code a prestatie can be rejected with"
    )]
    BadCode(String),
    #[error("een reden is verplicht / a reason is required")]
    NoReason,
    #[error(
        "het nieuwe antwoord (325) voldoet niet aan de standaard: {0} / the new answer (325) breaks the standard: {0}"
    )]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// A person's decision on line `judged_id` of the received 323
/// `message_id`, while its 325 is held: the line's verdict, the audit
/// entry and the rebuilt 325 in one transaction. A decision that changes
/// nothing (approving an approved line) is still audited: the person
/// confirmed it.
pub async fn decide(
    store: &Store,
    tenant: &Tenant,
    actor: &Actor,
    message_id: &str,
    judged_id: &str,
    verdict: &Verdict,
    reason: &str,
) -> Result<Decision, DecideError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DecideError::NoReason);
    }
    let (status, codes) = match verdict {
        Verdict::Approve => (APPROVED, Vec::new()),
        Verdict::Reject(code) => {
            if !PRESTATIE_CODES.contains(&code.as_str()) {
                return Err(DecideError::BadCode(code.clone()));
            }
            (REJECTED, vec![code.clone()])
        }
    };
    let mut w = store.begin_write().await?;
    let retour_id = open_hold(&mut w.tx, &tenant.id, message_id).await?;
    let lines = declared::lines_of(&mut *w.tx, &tenant.id, message_id).await?;
    let line = lines
        .iter()
        .find(|l| l.id == judged_id)
        .ok_or(DecideError::NotFound)?;
    if !declared::set_verdict(&mut w.tx, &tenant.id, line, status, &codes).await? {
        return Err(DecideError::NotFound);
    }
    let decision = Decision {
        id: new_id(),
        message_id: message_id.to_string(),
        judged_id: judged_id.to_string(),
        referentie_nummer: line.referentie_nummer.clone(),
        actor: actor.actor.clone(),
        actor_name: actor.name.clone(),
        role: actor.role.clone(),
        decided_at: now(),
        old_status: line.status.clone(),
        old_codes: line.retourcodes.clone(),
        new_status: status.to_string(),
        new_codes: serde_json::to_string(&codes).map_err(anyhow::Error::from)?,
        reason: reason.to_string(),
    };
    sqlx::query(
        "INSERT INTO declaration_decisions (id, tenant_id, message_id, judged_id, referentie_nummer, actor, \
         actor_name, role, decided_at, old_status, old_codes, new_status, new_codes, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&decision.id)
    .bind(&tenant.id)
    .bind(&decision.message_id)
    .bind(&decision.judged_id)
    .bind(&decision.referentie_nummer)
    .bind(&decision.actor)
    .bind(&decision.actor_name)
    .bind(&decision.role)
    .bind(&decision.decided_at)
    .bind(&decision.old_status)
    .bind(&decision.old_codes)
    .bind(&decision.new_status)
    .bind(&decision.new_codes)
    .bind(&decision.reason)
    .execute(&mut *w.tx)
    .await
    .context("storing the decision")?;
    rebuild(&mut w.tx, &tenant.id, message_id, &retour_id).await?;
    if let Some(p) = &line.participant_id {
        super::access::record_in(
            &mut w,
            &tenant.id,
            actor,
            super::access::Kind::Change,
            "decide on a declaration line",
            std::slice::from_ref(p),
        )
        .await?;
    }
    w.commit().await?;
    tracing::info!(
        kind = "declaration_decision",
        status,
        "a person decided on a declaration line"
    );
    Ok(decision)
}

/// The 325 of `message_id`, when it is held and still waiting in the
/// outbox.
async fn open_hold(tx: &mut Tx, tenant: &str, message_id: &str) -> Result<String, DecideError> {
    // Takes the hold's row lock first (a no-op update): a decision and a
    // release (a person's or the daily one's) of the same 325 then follow
    // one another, so a 325 is never rebuilt after it was queued.
    sqlx::query(
        "UPDATE declaration_holds SET released_at = released_at WHERE tenant_id = $1 AND message_id = $2",
    )
    .bind(tenant)
    .bind(message_id)
    .execute(&mut **tx)
    .await
    .context("locking the hold")?;
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT h.retour_id, h.released_at FROM declaration_holds h WHERE h.tenant_id = $1 AND h.message_id = $2",
    )
    .bind(tenant)
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await
    .context("reading the hold")?;
    let Some((retour_id, released_at)) = row else {
        return Err(DecideError::NotFound);
    };
    if released_at.is_some()
        || crate::outbox::state_of(tx, tenant, &retour_id)
            .await?
            .as_deref()
            != Some(crate::outbox::HELD)
    {
        return Err(DecideError::NotHeld);
    }
    Ok(retour_id)
}

/// Rebuilds the held 325 from the verdicts recorded on the 323's lines:
/// each rejected line with its codes, every other line approved; checked
/// like every message that leaves, and stored in place of the old one (the
/// same BerichtIdentificatie: it never left).
async fn rebuild(
    tx: &mut Tx,
    tenant: &str,
    message_id: &str,
    retour_id: &str,
) -> Result<(), DecideError> {
    let raw = super::apply::message_body(tx, tenant, message_id)
        .await?
        .ok_or_else(|| anyhow!("the declaration {message_id} is no longer stored"))?;
    let schema = crate::schema::Schema::builtin()?;
    let heen = istandaard::check(schema, &raw, &Limits::outgoing())
        .map_err(|e| anyhow!("the stored declaration does not decode: {e}"))?;
    let rejected: HashMap<String, Vec<String>> = declared::lines_of(&mut **tx, tenant, message_id)
        .await?
        .into_iter()
        .filter(|l| l.status == REJECTED)
        .map(|l| {
            let codes = l.codes();
            (l.referentie_nummer, codes)
        })
        .collect();
    let mut findings = Vec::new();
    if let Some(decl) = heen.message.get("Declaratie") {
        for client in decl.all("Clienten/Client") {
            for p in client.all("Prestaties/Prestatie") {
                let reference = p
                    .value("ProductReferentie/ReferentieNummer")
                    .unwrap_or_default();
                let Some(codes) = rejected.get(reference) else {
                    continue;
                };
                // 0233 ("not assessed") came from a rejected client; on its
                // own line the client's codes say why.
                let own: Vec<&String> = codes.iter().filter(|c| *c != "0233").collect();
                let own = if own.is_empty() {
                    codes.iter().collect()
                } else {
                    own
                };
                for code in own {
                    findings.push(Finding {
                        rule: "BESLISSING".into(),
                        retourcode: code.clone(),
                        path: p.path(),
                        line: None,
                        level: Level::CrossMessage,
                        nl: "Afgekeurd na beoordeling door de gemeente.".into(),
                        en: "Rejected on the municipality's review.".into(),
                        class_node: Some(p.id),
                    });
                }
            }
        }
    }
    let judged = Checked {
        message: heen.message,
        findings,
        complete: true,
    };
    let answer = retour::build(&judged, &RetourSettings::default())
        .map_err(|e| anyhow!("{e} / {}", e.nl()))?;
    let (xml, checked) = istandaard::check_outgoing(&answer, &Limits::outgoing())?;
    if !checked.is_valid() {
        let text: Vec<String> = checked
            .findings
            .iter()
            .map(|f| format!("{} {}: {} / {}", f.rule, f.path, f.nl, f.en))
            .collect();
        return Err(DecideError::Invalid(text.join("; ")));
    }
    let mut codes = Vec::new();
    collect_codes(&checked.message, &mut codes);
    super::apply::replace_body(
        tx,
        tenant,
        retour_id,
        &Packed::new(xml.as_bytes()),
        &codes,
        checked
            .message
            .value("Header/BerichtIdentificatie/Dagtekening"),
    )
    .await?;
    Ok(())
}

/// Every RetourCode in a message, sorted and once.
fn collect_codes(msg: &Message, out: &mut Vec<String>) {
    super::collect_codes(msg.root(), out);
    out.sort();
    out.dedup();
}

/// A person sends the held 325 of `message_id` on its way: the hold ends
/// and the outbox queues it. The caller wakes the outbox.
pub async fn release(
    store: &Store,
    tenant: &Tenant,
    actor: &Actor,
    message_id: &str,
) -> Result<Hold, DecideError> {
    let mut w = store.begin_write().await?;
    let retour_id = open_hold(&mut w.tx, &tenant.id, message_id).await?;
    if !end_hold(&mut w.tx, &tenant.id, &retour_id, &actor.actor, BY_PERSON).await? {
        return Err(DecideError::NotHeld);
    }
    w.commit().await?;
    tracing::info!(
        kind = "declaration_release",
        how = BY_PERSON,
        "a held 325 released"
    );
    hold(store.pool(), &tenant.id, message_id)
        .await?
        .ok_or(DecideError::NotFound)
}

/// Ends the hold and queues the 325; false when it had ended already.
async fn end_hold(tx: &mut Tx, tenant: &str, retour_id: &str, by: &str, how: &str) -> Result<bool> {
    let ended = sqlx::query(
        "UPDATE declaration_holds SET released_at = $1, released_by = $2, released_how = $3 \
         WHERE retour_id = $4 AND tenant_id = $5 AND released_at IS NULL",
    )
    .bind(now())
    .bind(by)
    .bind(how)
    .bind(retour_id)
    .bind(tenant)
    .execute(&mut **tx)
    .await
    .context("ending the hold")?
    .rows_affected();
    // Released meanwhile by someone else: theirs stands.
    if ended != 1 {
        return Ok(false);
    }
    crate::outbox::release(tx, tenant, retour_id).await?;
    Ok(true)
}

/// Releases every held 325, of every tenant, whose answer term ends within
/// [`RELEASE_MARGIN`] working days of `today` (or has ended): it leaves with
/// the verdicts recorded by then. Returns how many left; the caller wakes
/// the outbox.
pub async fn release_due(store: &Store, today: NaiveDate) -> Result<usize> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT h.retour_id, h.tenant_id, h.received_on FROM declaration_holds h \
         JOIN outbox o ON o.message_id = h.retour_id WHERE h.released_at IS NULL AND o.state = 'held'",
    )
    .fetch_all(store.pool())
    .await
    .context("reading the held 325s")?;
    let calendar = Calendar::builtin()?;
    let mut released = 0;
    for (retour_id, tenant, received_on) in rows {
        let (_, releases_on) = term(calendar, &received_on);
        if releases_on > today {
            continue;
        }
        let mut w = store.begin_write().await?;
        let ended = end_hold(&mut w.tx, &tenant, &retour_id, "loket", BY_DEADLINE).await?;
        w.commit().await?;
        released += usize::from(ended);
    }
    if released > 0 {
        tracing::info!(
            kind = "declaration_release",
            how = BY_DEADLINE,
            released,
            "held 325s released before their term ends"
        );
    }
    Ok(released)
}
