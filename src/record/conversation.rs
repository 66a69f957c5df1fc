//! The conversation ledger: for any message of a tenant, every message of
//! the exchange it belongs to, in order. A read model; nothing is stored
//! for it.
//!
//! The exchange itself does not tie a 315 to the 301 that honours it, nor a
//! 323 to its 325 (VECOZO links a retour to its heenbericht, nothing more),
//! so the ledger follows the links the record already keeps:
//!
//! - `messages.answer_of`: a retour (302, 306, 308, 316, 318, 320) or a 325
//!   to the message it answers, set when the answer was placed
//!   ([`super::answers`]: a 325 by its DeclaratieIdentificatie) and for every
//!   retour loket wrote itself;
//! - `outbox.retour_id`: the retour a counterpart gave back when loket
//!   delivered;
//! - `messages.als_antwoord_op`: the traceerId of the message the exchange
//!   says a retour answers (migration 0019);
//! - `requests`: a 315/317 to its 316/318 (`retour_message_id`), its 319
//!   (`answer_message_id`) and the 301 that honoured it (the first 301 that
//!   changed `allocation_id` after the request, the allocation a 301
//!   carrying the request's ReferentieAanbieder created or changed,
//!   [`super::requests::honour`]);
//! - `messages.conversatie_id`: what the exchange (migration 0019) carried
//!   as one conversation.
//!
//! Every link is followed both ways, from whichever message is asked about,
//! so the 301 page shows the 315 it honours and the 316 page the 301.

use std::collections::{BTreeSet, HashMap, VecDeque};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::AnyPool;

use crate::schema::{Role, Schema};
use crate::store::Tenant;

/// The most messages one conversation lists: a request answered many times
/// over is still a handful; anything beyond this is a loop in the data.
const MAX_MESSAGES: usize = 200;

/// A message of a conversation, as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ConversationMessage {
    pub id: String,
    /// in | out
    pub direction: String,
    pub bericht: Option<String>,
    pub status: String,
    pub identificatie: Option<String>,
    pub participant_id: Option<String>,
    pub conversatie_id: Option<String>,
    /// The message this one answers, as `messages.answer_of` says.
    #[serde(skip)]
    pub answer_of: Option<String>,
    #[serde(rename = "at")]
    pub created_at: String,
    /// heenbericht | retour | antwoord (the 325); none for a document
    /// that is no iStandaarden message.
    #[sqlx(skip)]
    pub role: Option<&'static str>,
    /// The message of this conversation it answers, by whichever link.
    #[sqlx(skip)]
    pub answers: Option<String>,
}

/// A conversation: its messages oldest first, and the exchange's
/// conversation ids among them.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub conversatie_ids: Vec<String>,
    pub messages: Vec<ConversationMessage>,
}

const COLUMNS: &str = "m.id, m.direction, m.bericht, m.status, m.identificatie, m.participant_id, \
     m.conversatie_id, m.answer_of, m.created_at";

/// The role of a message by its name (WMO301, JW325, ...).
fn role_of(bericht: Option<&str>) -> Option<&'static str> {
    let schema = Schema::builtin().ok()?;
    let key = schema.by_name(bericht?)?;
    Some(match schema.message(key).role {
        Role::Heen => "heenbericht",
        Role::Retour => "retour",
        Role::Antwoord => "antwoord",
    })
}

/// One link found: `answer` answers `heen`.
type Edge = (String, String);

/// The conversation message `id` of `tenant` belongs to; `None` when the
/// tenant has no such message. A message nothing links to is a
/// conversation of one.
pub async fn of_message(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<Conversation>> {
    let Some(first) = one(pool, tenant, id).await? else {
        return Ok(None);
    };
    let mut found: HashMap<String, ConversationMessage> = HashMap::new();
    let mut edges: BTreeSet<Edge> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut seen_conversations: BTreeSet<String> = BTreeSet::new();
    queue.push_back(first.id.clone());
    found.insert(first.id.clone(), first);
    while let Some(current) = queue.pop_front() {
        if found.len() >= MAX_MESSAGES {
            break;
        }
        let Some(m) = found.get(&current).cloned() else {
            continue;
        };
        let mut next: Vec<String> = Vec::new();
        if let Some(heen) = &m.answer_of {
            edges.insert((m.id.clone(), heen.clone()));
            next.push(heen.clone());
        }
        for (answer, heen) in links(pool, tenant, &m).await? {
            next.push(if answer == m.id {
                heen.clone()
            } else {
                answer.clone()
            });
            edges.insert((answer, heen));
        }
        if let Some(c) = &m.conversatie_id
            && seen_conversations.insert(c.clone())
        {
            let same: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM messages WHERE tenant_id = $1 AND conversatie_id = $2 ORDER BY created_at, id",
            )
            .bind(&tenant.id)
            .bind(c)
            .fetch_all(pool)
            .await
            .context("reading a conversation by its conversatie_id")?;
            next.extend(same.into_iter().map(|(id,)| id));
        }
        for id in next {
            if found.contains_key(&id) {
                continue;
            }
            if let Some(row) = one(pool, tenant, &id).await? {
                queue.push_back(row.id.clone());
                found.insert(row.id.clone(), row);
            }
        }
    }
    let mut messages: Vec<ConversationMessage> = found.into_values().collect();
    messages.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    for m in &mut messages {
        m.role = role_of(m.bericht.as_deref());
        m.answers = m.answer_of.clone().or_else(|| {
            edges
                .iter()
                .find(|(answer, _)| *answer == m.id)
                .map(|(_, heen)| heen.clone())
        });
    }
    let conversatie_ids = messages
        .iter()
        .filter_map(|m| m.conversatie_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Some(Conversation {
        conversatie_ids,
        messages,
    }))
}

/// One message of the tenant.
async fn one(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<ConversationMessage>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.tenant_id = $1 AND m.id = $2"
    )))
    .bind(&tenant.id)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("reading a message of a conversation")
}

/// The request a message is part of, with what answered it.
#[derive(Debug, sqlx::FromRow)]
struct RequestLinks {
    message_id: String,
    retour_message_id: Option<String>,
    answer_message_id: Option<String>,
    allocation_id: Option<String>,
    created_at: String,
}

/// The links of `m` other than its own `answer_of`, as (answer, heen).
async fn links(pool: &AnyPool, tenant: &Tenant, m: &ConversationMessage) -> Result<Vec<Edge>> {
    let mut out: Vec<Edge> = Vec::new();
    // Answers linked to it, and what the outbox got back for it or answered
    // with it.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, answer_of FROM messages WHERE tenant_id = $1 AND answer_of = $2 \
         UNION SELECT retour_id, message_id FROM outbox WHERE tenant_id = $1 AND message_id = $2 AND retour_id IS NOT NULL \
         UNION SELECT retour_id, message_id FROM outbox WHERE tenant_id = $1 AND retour_id = $2 \
         UNION SELECT a.id, h.id FROM messages h JOIN messages a ON a.tenant_id = h.tenant_id AND a.als_antwoord_op = h.traceer_id \
         WHERE h.tenant_id = $1 AND h.id = $2 \
         UNION SELECT a.id, h.id FROM messages a JOIN messages h ON h.tenant_id = a.tenant_id AND h.traceer_id = a.als_antwoord_op \
         WHERE a.tenant_id = $1 AND a.id = $2",
    )
    .bind(&tenant.id)
    .bind(&m.id)
    .fetch_all(pool)
    .await
    .context("reading the answers of a message")?;
    out.extend(rows);
    // The requests it made, answered or honoured: a request's message, its
    // 316/318, its 319, or a 301 that changed the allocation a request
    // became.
    let requests: Vec<RequestLinks> = sqlx::query_as(
        "SELECT r.message_id, r.retour_message_id, r.answer_message_id, r.allocation_id, r.created_at \
         FROM requests r WHERE r.tenant_id = $1 AND (r.message_id = $2 OR r.retour_message_id = $2 \
         OR r.answer_message_id = $2 OR r.allocation_id IN \
         (SELECT e.allocation_id FROM allocation_events e WHERE e.message_id = $2))",
    )
    .bind(&tenant.id)
    .bind(&m.id)
    .fetch_all(pool)
    .await
    .context("reading the requests of a message")?;
    for r in requests {
        let honouring = match &r.allocation_id {
            Some(allocation) => honouring_301(pool, allocation, &r.created_at).await?,
            None => None,
        };
        let answers = [&r.retour_message_id, &r.answer_message_id];
        let named = r.message_id == m.id || answers.iter().any(|a| a.as_deref() == Some(&m.id));
        // A later 301 that changed the same allocation belongs to another
        // conversation: the request is found through its allocation only
        // from the 301 that honoured it.
        if !named && honouring.as_deref() != Some(m.id.as_str()) {
            continue;
        }
        for answer in answers.into_iter().flatten() {
            out.push((answer.clone(), r.message_id.clone()));
        }
        if let Some(h) = honouring {
            out.push((h, r.message_id.clone()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The 301 that honoured a request: the first 301 that changed the
/// allocation the request became, at or after the request.
async fn honouring_301(pool: &AnyPool, allocation: &str, since: &str) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT e.message_id FROM allocation_events e JOIN messages m ON m.id = e.message_id \
         WHERE e.allocation_id = $1 AND e.created_at >= $2 AND m.bericht LIKE '%301' \
         ORDER BY e.created_at, e.id LIMIT 1",
    )
    .bind(allocation)
    .bind(since)
    .fetch_optional(pool)
    .await
    .context("reading the 301 that honoured a request")?;
    Ok(row.map(|(id,)| id))
}
