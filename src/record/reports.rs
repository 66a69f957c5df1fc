//! The read models of the Overzichten pages and exports: per financier and
//! month what was declared and what the answers made of it, and the rows
//! of the declaration, line, registration and participant exports.
//!
//! Amounts are signed like a declaration's total (a credit line counts
//! negative), so a month's "gedeclareerd" equals the sum of the totals the
//! declarations page shows for it.

use anyhow::{Context, Result};
use sqlx::AnyPool;

use crate::store::Tenant;

/// A line's amount signed: credits negative.
const SIGNED: &str = "CASE WHEN p.debet_credit = 'C' THEN -p.bedrag_cents ELSE p.bedrag_cents END";

/// Which months (and which financier) a report or export covers.
#[derive(Debug, Clone, Copy)]
pub struct Range<'a> {
    /// First month, `YYYY-MM`.
    pub from: &'a str,
    /// Last month, `YYYY-MM` (inclusive).
    pub to: &'a str,
    /// The financier as `kind:code`; all when `None`.
    pub financier: Option<&'a str>,
}

impl Range<'_> {
    /// The months as bounds.
    fn months(&self) -> (String, String) {
        (self.from.to_string(), self.to.to_string())
    }

    /// The first day, and a bound after every ISO date of the last month
    /// (dates are compared as text).
    fn days(&self) -> (String, String) {
        (format!("{}-01", self.from), format!("{}-31", self.to))
    }
}

/// A typed query on the Any pool.
type AnyQueryAs<'q, O> = sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>;

/// Binds `$1` tenant, `$2`..`$3` the bounds (months or days) and `$4` the
/// financier, the parameters every query here takes.
fn bind_range<'q, O>(
    q: AnyQueryAs<'q, O>,
    tenant: &'q Tenant,
    (from, to): (String, String),
    financier: Option<&'q str>,
) -> AnyQueryAs<'q, O> {
    q.bind(&tenant.id).bind(from).bind(to).bind(financier)
}

/// The declarations whose period starts in the months `$2`..`$3`, of the
/// financier `$4` (`kind:code`) when given.
const IN_MONTHS: &str = "substr(d.period_begin, 1, 7) >= $2 AND substr(d.period_begin, 1, 7) <= $3 \
     AND ($4 IS NULL OR f.kind || ':' || f.code = $4)";

/// One financier and declaration month: the lines by what the answers made
/// of them. UBL invoices get no answer: their lines count as invoiced.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OverviewRow {
    pub financier_kind: String,
    pub financier_code: String,
    /// `YYYY-MM`, the declaration period's month.
    pub month: String,
    pub lines: i64,
    pub declared_cents: i64,
    pub approved_lines: i64,
    pub approved_cents: i64,
    pub rejected_lines: i64,
    pub rejected_cents: i64,
    /// Sent, no answer yet.
    pub outstanding_lines: i64,
    pub outstanding_cents: i64,
    /// UBL invoice lines (no answer comes for them).
    pub invoiced_lines: i64,
    pub invoiced_cents: i64,
}

/// Per financier and month the declared, approved, rejected, outstanding
/// and invoiced lines and amounts of `tenant` in `range`.
pub async fn overview(
    pool: &AnyPool,
    tenant: &Tenant,
    range: Range<'_>,
) -> Result<Vec<OverviewRow>> {
    let sum = |status: &str| {
        format!(
            "CAST(SUM(CASE WHEN p.status = '{status}' THEN 1 ELSE 0 END) AS BIGINT) AS {}_lines, \
             CAST(SUM(CASE WHEN p.status = '{status}' THEN {SIGNED} ELSE 0 END) AS BIGINT) AS {}_cents",
            column(status),
            column(status)
        )
    };
    bind_range(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT f.kind AS financier_kind, f.code AS financier_code, substr(d.period_begin, 1, 7) AS month, \
         COUNT(*) AS lines, CAST(SUM({SIGNED}) AS BIGINT) AS declared_cents, {}, {}, {}, {} \
         FROM prestaties p JOIN declarations d ON d.id = p.declaration_id JOIN financiers f ON f.id = d.financier_id \
         WHERE p.tenant_id = $1 AND {IN_MONTHS} \
         GROUP BY f.kind, f.code, substr(d.period_begin, 1, 7) ORDER BY f.kind, f.code, month",
        sum("approved"),
        sum("rejected"),
        sum("submitted"),
        sum("invoiced"),
    ))),
        tenant,
        range.months(),
        range.financier,
    )
    .fetch_all(pool)
    .await
    .context("reading the overview per financier and month")
}

/// The overview's column prefix of a line status.
fn column(status: &str) -> &str {
    match status {
        "submitted" => "outstanding",
        other => other,
    }
}

/// A declaration (323, invoice or credit note) as the export lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeclarationRow {
    pub declaratie_nummer: String,
    pub bericht: Option<String>,
    pub financier_kind: String,
    pub financier_code: String,
    pub period_begin: String,
    pub period_end: String,
    pub created_at: String,
    pub lines: i64,
    pub approved: i64,
    pub rejected: i64,
    pub total_cents: i64,
    pub outbox_state: Option<String>,
}

/// The most rows one export holds: a file beyond it asks for fewer months
/// (a spreadsheet opens a million rows, but a request that builds one in
/// memory should stay bounded). The queries read one more, so the page can
/// tell a full file from a cut one.
pub const MAX_EXPORT_ROWS: usize = 200_000;
const EXPORT_LIMIT: usize = MAX_EXPORT_ROWS + 1;

/// The declarations of `tenant` whose period starts in `range`.
pub async fn declarations(
    pool: &AnyPool,
    tenant: &Tenant,
    range: Range<'_>,
) -> Result<Vec<DeclarationRow>> {
    bind_range(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.declaratie_nummer, m.bericht, f.kind AS financier_kind, f.code AS financier_code, d.period_begin, \
         d.period_end, d.created_at, \
         (SELECT COUNT(*) FROM prestaties p WHERE p.declaration_id = d.id) AS lines, \
         (SELECT COUNT(*) FROM prestaties p WHERE p.declaration_id = d.id AND p.status = 'approved') AS approved, \
         (SELECT COUNT(*) FROM prestaties p WHERE p.declaration_id = d.id AND p.status = 'rejected') AS rejected, \
         d.total_cents, o.state AS outbox_state \
         FROM declarations d JOIN financiers f ON f.id = d.financier_id JOIN messages m ON m.id = d.message_id \
         LEFT JOIN outbox o ON o.message_id = d.message_id \
         WHERE d.tenant_id = $1 AND {IN_MONTHS} \
         ORDER BY d.period_begin, f.kind, f.code, d.declaratie_nummer LIMIT {EXPORT_LIMIT}"
        ))),
        tenant,
        range.months(),
        range.financier,
    )
    .fetch_all(pool)
    .await
    .context("reading the declarations to export")
}

/// One declared line with its participant, for the line export and the
/// printable specification.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub declaration_id: String,
    pub declaratie_nummer: String,
    pub financier_kind: String,
    pub financier_code: String,
    pub participant_id: String,
    pub name_json: String,
    pub client_number: Option<String>,
    pub referentie_nummer: String,
    pub toewijzing_nummer: String,
    pub product_categorie: String,
    pub product_code: String,
    pub period_begin: String,
    pub period_end: String,
    pub volume: i64,
    pub eenheid: String,
    pub tarief_cents: Option<i64>,
    pub bedrag_cents: i64,
    pub debet_credit: String,
    pub status: String,
}

const LINE: &str = "SELECT p.declaration_id, d.declaratie_nummer, f.kind AS financier_kind, f.code AS financier_code, \
     p.participant_id, pa.name_json, pa.client_number, p.referentie_nummer, p.toewijzing_nummer, p.product_categorie, \
     p.product_code, p.period_begin, p.period_end, p.volume, p.eenheid, p.tarief_cents, p.bedrag_cents, p.debet_credit, \
     p.status \
     FROM prestaties p JOIN declarations d ON d.id = p.declaration_id JOIN financiers f ON f.id = d.financier_id \
     JOIN participants pa ON pa.id = p.participant_id";

/// The declared lines of `tenant` in declarations whose period starts in
/// `range`.
pub async fn lines(pool: &AnyPool, tenant: &Tenant, range: Range<'_>) -> Result<Vec<LineRow>> {
    bind_range(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{LINE} WHERE p.tenant_id = $1 AND {IN_MONTHS} \
         ORDER BY d.period_begin, f.kind, f.code, d.declaratie_nummer, p.referentie_nummer \
         LIMIT {EXPORT_LIMIT}"
        ))),
        tenant,
        range.months(),
        range.financier,
    )
    .fetch_all(pool)
    .await
    .context("reading the declared lines to export")
}

/// The lines of one declaration of `tenant`, for its specification.
pub async fn lines_of(pool: &AnyPool, tenant: &Tenant, declaration: &str) -> Result<Vec<LineRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LINE} WHERE p.tenant_id = $1 AND p.declaration_id = $2 ORDER BY p.participant_id, p.period_begin, p.referentie_nummer"
    )))
    .bind(&tenant.id)
    .bind(declaration)
    .fetch_all(pool)
    .await
    .context("reading the lines of a declaration")
}

/// One registered day (the current version) with its participant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistrationRow {
    pub participant_id: String,
    pub name_json: String,
    pub client_number: Option<String>,
    pub day: String,
    pub present: i64,
    pub absence_reason: Option<String>,
    pub time_from: Option<String>,
    pub time_to: Option<String>,
    pub minutes: Option<i64>,
    pub dagdelen: Option<i64>,
    pub activity: Option<String>,
    pub registered_by: String,
}

/// The current registrations of `tenant` on days in `range`; with a
/// financier, only days of participants it finances.
pub async fn registrations(
    pool: &AnyPool,
    tenant: &Tenant,
    range: Range<'_>,
) -> Result<Vec<RegistrationRow>> {
    bind_range(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.participant_id, pa.name_json, pa.client_number, r.day, r.present, r.absence_reason, r.time_from, \
         r.time_to, r.minutes, r.dagdelen, r.activity, r.registered_by \
         FROM registrations r JOIN participants pa ON pa.id = r.participant_id \
         WHERE r.tenant_id = $1 AND r.superseded_by IS NULL AND r.day >= $2 AND r.day <= $3 \
         AND ($4 IS NULL OR r.participant_id IN (SELECT a.participant_id FROM allocations a \
           JOIN financiers f ON f.id = a.financier_id WHERE a.tenant_id = $1 AND f.kind || ':' || f.code = $4)) \
         ORDER BY r.day, r.participant_id LIMIT {EXPORT_LIMIT}",
    ))),
        tenant,
        range.days(),
        range.financier,
    )
    .fetch_all(pool)
    .await
    .context("reading the registrations to export")
}

/// A participant in care during the range.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantRow {
    pub id: String,
    pub bsn: String,
    pub client_number: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub name_json: String,
    pub group_name: Option<String>,
}

/// The participants of `tenant` with an allocation (of the financier, when
/// given) that covers a day of `range`.
pub async fn participants(
    pool: &AnyPool,
    tenant: &Tenant,
    range: Range<'_>,
) -> Result<Vec<ParticipantRow>> {
    bind_range(
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT pa.id, pa.bsn, pa.client_number, pa.birth_date, pa.gender, pa.name_json, pa.group_name \
         FROM participants pa WHERE pa.tenant_id = $1 AND pa.pseudonymised_at IS NULL AND EXISTS \
         (SELECT 1 FROM allocations a JOIN financiers f ON f.id = a.financier_id WHERE a.participant_id = pa.id \
          AND a.tenant_id = $1 AND a.ingangsdatum <= $3 AND (a.einddatum IS NULL OR a.einddatum >= $2) \
          AND ($4 IS NULL OR f.kind || ':' || f.code = $4)) \
         ORDER BY pa.id LIMIT {EXPORT_LIMIT}",
    ))),
        tenant,
        range.days(),
        range.financier,
    )
    .fetch_all(pool)
    .await
    .context("reading the participants to export")
}

/// Claims the run preview `token` for its confirmation: `false` when it
/// was confirmed already (a second click on the same preview sends nothing).
/// The claim is the confirm's entry in the audit trail, written under the
/// tenant's lock, so two clicks at once cannot both claim it.
pub async fn claim_preview(
    w: &mut crate::store::WriteTx,
    tenant: &Tenant,
    actor: &str,
    token: &str,
    period: &str,
) -> Result<bool> {
    w.lock_tenant(&tenant.id).await?;
    let taken = sqlx::query(
        "SELECT 1 FROM audit_log WHERE tenant_id = $1 AND subject_kind = 'declaration_preview' AND subject_id = $2",
    )
    .bind(&tenant.id)
    .bind(token)
    .fetch_optional(&mut *w.tx)
    .await
    .context("reading the run preview's confirmation")?
    .is_some();
    if taken {
        return Ok(false);
    }
    crate::store::audit(
        w,
        &tenant.id,
        actor,
        "declaration_run_confirmed",
        Some(("declaration_preview", token)),
        serde_json::json!({ "period": period }),
    )
    .await?;
    Ok(true)
}
