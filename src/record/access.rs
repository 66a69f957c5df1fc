//! The NEN 7513 access log: every view, export, change and download of a
//! participant's data by a person, an API token or loket itself, with who,
//! role, tenant, participant, what, when and from where.
//!
//! This module is the only writer of `access_log`, and it only inserts:
//! the log is evidence, so there is no update or delete path in loket, and
//! the database refuses both (`store::guards`). Entries name loket's
//! participant id, never a BSN or a participant's name, so the log needs no
//! pseudonymisation when retention removes those (`record::retention`).
//!
//! A view is logged before its data leave ([`record`]): when the entry
//! cannot be written the page or call fails, since NEN 7513 asks that no
//! access goes unrecorded. A change is logged in the transaction of the
//! change ([`record_in`]), so both commit or neither does.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::AnyPool;

use crate::store::{Params, Store, Tenant, WriteTx, new_id, now};

/// What was done with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Read on a page or through the API.
    View,
    /// Everything about the participant taken out (the AVG export).
    Export,
    /// Changed (a form, an API call).
    Change,
    /// A stored message or file with the participant's data downloaded.
    Download,
    /// Retention replaced identifying data by a pseudonym.
    Pseudonymise,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::View,
        Kind::Export,
        Kind::Change,
        Kind::Download,
        Kind::Pseudonymise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Export => "export",
            Kind::Change => "change",
            Kind::Download => "download",
            Kind::Pseudonymise => "pseudonymise",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Dutch word the beheer page shows.
    pub fn nl(self) -> &'static str {
        match self {
            Kind::View => "ingezien",
            Kind::Export => "geëxporteerd",
            Kind::Change => "gewijzigd",
            Kind::Download => "gedownload",
            Kind::Pseudonymise => "gepseudonimiseerd",
        }
    }
}

/// Who accessed: a person (user name, display name, role), an API token
/// (by a prefix of its hash, never the token) or loket itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub actor: String,
    pub name: String,
    pub role: String,
    /// The socket peer address, when the access came over the network.
    pub peer: Option<String>,
}

impl Actor {
    /// A logged-in person.
    pub fn user(username: &str, display_name: &str, role: &str, peer: Option<String>) -> Actor {
        Actor {
            actor: username.to_string(),
            name: display_name.to_string(),
            role: role.to_string(),
            peer,
        }
    }

    /// An API token, named by the first 12 hex digits of its SHA-256 (the
    /// stored hash's prefix: enough to find it, useless to call with).
    pub fn token(token_hash: &str, peer: Option<String>) -> Actor {
        Actor {
            actor: format!("api-token:{}", token_hash.get(..12).unwrap_or(token_hash)),
            name: String::new(),
            role: "api".to_string(),
            peer,
        }
    }

    /// One of loket's own jobs (retention).
    pub fn system(job: &str) -> Actor {
        Actor {
            actor: format!("system:{job}"),
            name: String::new(),
            role: "systeem".to_string(),
            peer: None,
        }
    }
}

/// Rows per insert statement: well below SQLite's parameter limit.
const CHUNK: usize = 500;

/// Logs an access to `participants` in the caller's transaction (a change
/// commits with its entry).
pub async fn record_in(
    w: &mut WriteTx,
    tenant: &str,
    actor: &Actor,
    kind: Kind,
    object: &str,
    participants: &[String],
) -> Result<()> {
    let at = now();
    // One entry per participant and access, however often a page lists it.
    let mut participants = participants.to_vec();
    participants.sort();
    participants.dedup();
    for chunk in participants.chunks(CHUNK) {
        let mut p = Params::new(crate::store::Backend::of(&w.tx));
        let sql = format!(
            "INSERT INTO access_log (id, tenant_id, participant_id, actor, actor_name, role, kind, object, peer, \
             created_at) VALUES {}",
            p.rows(chunk.len(), 10)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for participant in chunk {
            q = q
                .bind(new_id())
                .bind(tenant)
                .bind(participant)
                .bind(&actor.actor)
                .bind(&actor.name)
                .bind(&actor.role)
                .bind(kind.as_str())
                .bind(object)
                .bind(actor.peer.as_deref())
                .bind(&at);
        }
        q.execute(&mut *w.tx)
            .await
            .context("writing the access log")?;
    }
    Ok(())
}

/// Logs an access in a transaction of its own (a view, a download, an
/// export), committed before the caller returns the data.
pub async fn record(
    store: &Store,
    tenant: &str,
    actor: &Actor,
    kind: Kind,
    object: &str,
    participants: &[String],
) -> Result<()> {
    if participants.is_empty() {
        return Ok(());
    }
    let mut w = store.begin_write().await?;
    record_in(&mut w, tenant, actor, kind, object, participants).await?;
    w.commit().await
}

/// One entry of the access log (`schemas/api/access-log.json`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: String,
    pub participant_id: String,
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub kind: String,
    pub object: String,
    pub peer: Option<String>,
    #[serde(rename = "at")]
    pub created_at: String,
}

impl Entry {
    /// The Dutch word for its kind.
    pub fn kind_nl(&self) -> &str {
        match Kind::parse(&self.kind) {
            Some(k) => k.nl(),
            None => &self.kind,
        }
    }
}

/// What to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub participant: Option<String>,
    /// User name or token (`api-token:...`), exactly.
    pub actor: Option<String>,
    /// From this day on (YYYY-MM-DD, UTC).
    pub from: Option<String>,
    /// Up to and including this day.
    pub to: Option<String>,
    pub kind: Option<Kind>,
    pub limit: i64,
    pub offset: i64,
}

/// The tenant's access log, newest first.
pub async fn list(pool: &AnyPool, tenant: &Tenant, f: &Filter) -> Result<Vec<Entry>> {
    // Whole days: `to` includes its day, timestamps are ISO text.
    let to = f.to.as_ref().map(|d| format!("{d}T99"));
    sqlx::query_as(
        "SELECT id, participant_id, actor, actor_name, role, kind, object, peer, created_at FROM access_log \
         WHERE tenant_id = $1 AND ($2 IS NULL OR participant_id = $2) AND ($3 IS NULL OR actor = $3) \
         AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) AND ($6 IS NULL OR kind = $6) \
         ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8",
    )
    .bind(&tenant.id)
    .bind(f.participant.as_deref())
    .bind(f.actor.as_deref())
    .bind(f.from.as_deref())
    .bind(to.as_deref())
    .bind(f.kind.map(Kind::as_str))
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(pool)
    .await
    .context("reading the access log")
}

/// Every access to one participant, newest first (the participant's own
/// overview and the AVG export).
pub async fn of_participant(
    pool: &AnyPool,
    tenant: &Tenant,
    participant: &str,
) -> Result<Vec<Entry>> {
    list(
        pool,
        tenant,
        &Filter {
            participant: Some(participant.to_string()),
            limit: i64::MAX,
            ..Filter::default()
        },
    )
    .await
}

/// One audit trail entry (what changed and why), for the beheer page beside
/// the access log and for the AVG export.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditLine {
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    pub actor: String,
    pub action: String,
    #[serde(serialize_with = "json_text")]
    pub detail: String,
    #[serde(rename = "at")]
    pub created_at: String,
}

fn json_text<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<serde_json::Value>(v)
        .unwrap_or(serde_json::Value::Null)
        .serialize(s)
}

/// The tenant's audit trail (`store::audit` writes it), newest first,
/// with the access log's filter: a participant's entries are those about
/// the participant, its review items and its registrations. (The audit
/// trail has no kind; `f.kind` is ignored.)
pub async fn audit_trail(pool: &AnyPool, tenant: &Tenant, f: &Filter) -> Result<Vec<AuditLine>> {
    let to = f.to.as_ref().map(|d| format!("{d}T99"));
    sqlx::query_as(
        "SELECT subject_kind, subject_id, actor, action, detail, created_at FROM audit_log WHERE tenant_id = $1 \
         AND ($2 IS NULL OR (subject_kind = 'participant' AND subject_id = $2) \
           OR (subject_kind = 'review_item' AND subject_id IN \
             (SELECT id FROM review_items WHERE tenant_id = $1 AND participant_id = $2)) \
           OR (subject_kind = 'registration' AND subject_id IN \
             (SELECT id FROM registrations WHERE tenant_id = $1 AND participant_id = $2))) \
         AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) \
         ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7",
    )
    .bind(&tenant.id)
    .bind(f.participant.as_deref())
    .bind(f.actor.as_deref())
    .bind(f.from.as_deref())
    .bind(to.as_deref())
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(pool)
    .await
    .context("reading the audit trail")
}

/// The participants whose data a stored message carries: its own
/// participant, or every participant with a declared or judged line in it
/// (a declaration names many). Used to log a message download per
/// participant.
pub async fn participants_of_message(
    pool: &AnyPool,
    tenant: &Tenant,
    message: &str,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT participant_id FROM messages WHERE tenant_id = $1 AND id = $2 AND participant_id IS NOT NULL \
         UNION SELECT p.participant_id FROM prestaties p JOIN declarations d ON d.id = p.declaration_id \
         WHERE d.tenant_id = $1 AND d.message_id = $2 \
         UNION SELECT participant_id FROM judged_prestaties WHERE tenant_id = $1 AND message_id = $2 \
         AND participant_id IS NOT NULL",
    )
    .bind(&tenant.id)
    .bind(message)
    .fetch_all(pool)
    .await
    .context("reading a message's participants")?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// The participants with a line in a declaration.
pub async fn participants_of_declaration(
    pool: &AnyPool,
    tenant: &Tenant,
    declaration: &str,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT participant_id FROM prestaties WHERE tenant_id = $1 AND declaration_id = $2",
    )
    .bind(&tenant.id)
    .bind(declaration)
    .fetch_all(pool)
    .await
    .context("reading a declaration's participants")?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// The access log as CSV (`;`, as Dutch spreadsheets open it), with a
/// header row; fields are quoted where needed.
pub fn csv(entries: &[Entry]) -> String {
    fn field(s: &str) -> String {
        // A leading = + - @ would be a formula in a spreadsheet.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        if s.contains([';', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
    let mut out = String::from("tijdstip;deelnemer;gebruiker;naam;rol;soort;object;adres\r\n");
    for e in entries {
        let row = [
            e.created_at.as_str(),
            &e.participant_id,
            &e.actor,
            &e.actor_name,
            &e.role,
            &e.kind,
            &e.object,
            e.peer.as_deref().unwrap_or(""),
        ];
        out.push_str(&row.map(field).join(";"));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let e = Entry {
            id: "1".into(),
            participant_id: "p".into(),
            actor: "=cmd".into(),
            actor_name: "de \"Wit\"; A".into(),
            role: "beheer".into(),
            kind: "view".into(),
            object: "GET /deelnemers/{id}".into(),
            peer: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let text = csv(&[e]);
        let line = text.lines().nth(1).expect("a row");
        assert_eq!(
            line,
            "2026-01-01T00:00:00.000Z;p;'=cmd;\"de \"\"Wit\"\"; A\";beheer;view;GET /deelnemers/{id};"
        );
    }

    #[test]
    fn a_token_is_named_by_its_hash_prefix() {
        let a = Actor::token(&"ab".repeat(32), None);
        assert_eq!(a.actor, "api-token:abababababab");
        assert_eq!(a.role, "api");
    }
}
