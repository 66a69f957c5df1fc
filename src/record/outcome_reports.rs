//! What a financier is told about the participants it finances: per period
//! their allocations, measurements (the last one before the period as the
//! baseline, and those in it), goals, evaluations and the end of their care
//! with its reason; and for a Jeugdwet financier the outcome criteria of the
//! CBS beleidsinformatie per ended allocation and half year.
//!
//! A report holds a financier's own participants only: those with an
//! allocation (or order) of that financier in force on some day of the
//! period. A participant financed by two financiers appears in both
//! reports with the same measurements (measured once), and in no third.
//!
//! The end of care is read from what the record holds, strongest first:
//! the definitive stop (307) sent for the allocation, the end of care the
//! provider registered, the allocation's own Einddatum. Its meaning comes
//! from the law's `[stop]` codes (`schemas/istandaard`), so the report says
//! what the stop said.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::AnyPool;

use super::outcomes::{self, Goal, GoalStatus, Measurement};
use crate::engine::outcomes::{Change, Point, first_last, series};
use crate::engine::startstop::END_REASONS;
use crate::instrument::{Instrument, Instruments};
use crate::schema::{Schema, StopCodes};
use crate::store::Tenant;

/// A financier of the tenant, as the report names it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FinancierRow {
    pub id: String,
    pub kind: String,
    pub code: String,
    pub name: String,
    /// iwmo | ijw | ubl
    pub standard: String,
}

impl FinancierRow {
    pub fn is_jeugdwet(&self) -> bool {
        self.kind == "jeugdwet"
    }

    /// The RedenBeeindiging codes of the financier's law; none for a
    /// financier paid on invoice.
    fn law(&self) -> Option<&'static StopCodes> {
        Schema::builtin()
            .ok()?
            .standard_named(&self.standard)
            .map(|s| &s.stop)
    }
}

const FINANCIER: &str = "SELECT id, kind, code, name, standard FROM financiers";

/// The tenant's financiers, by kind and code.
pub async fn financiers(pool: &AnyPool, tenant: &Tenant) -> Result<Vec<FinancierRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{FINANCIER} WHERE tenant_id = $1 ORDER BY kind, code"
    )))
    .bind(&tenant.id)
    .fetch_all(pool)
    .await
    .context("reading the financiers")
}

/// One financier of the tenant by loket's id; `None` for an unknown id or
/// another tenant's.
pub async fn financier(pool: &AnyPool, tenant: &Tenant, id: &str) -> Result<Option<FinancierRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{FINANCIER} WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(&tenant.id)
    .bind(id)
    .fetch_optional(pool)
    .await
    .context("reading the financier")
}

/// The days a report covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// An allocation (or order) of the financier.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AllocationRow {
    pub id: String,
    pub participant_id: String,
    pub toewijzing_nummer: String,
    pub order_number: Option<String>,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub reden_wijziging: Option<String>,
}

impl AllocationRow {
    /// The number the financier knows it by: the order number of an
    /// invoiced financier, the ToewijzingNummer otherwise.
    pub fn number(&self) -> &str {
        self.order_number
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.toewijzing_nummer)
    }

    fn begin(&self) -> Option<NaiveDate> {
        self.ingangsdatum.parse().ok()
    }
}

/// A start or a definitive stop of an allocation, as the record keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub allocation_id: String,
    pub kind: String,
    pub begindatum: String,
    pub einddatum: Option<String>,
    pub reden_beeindiging: Option<String>,
    pub created_at: String,
}

/// An end of care the provider registered.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndRow {
    pub participant_id: String,
    pub end_date: String,
    pub reason: String,
    pub created_at: String,
}

/// Where an end of care was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSource {
    /// The definitive stop (307) sent for the allocation.
    Stop,
    /// The end of care the provider registered.
    Registered,
    /// The allocation's Einddatum.
    Allocation,
}

/// How and when an allocation's care ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareEnd {
    pub date: NaiveDate,
    /// The RedenBeeindiging (WMO588 / JZ588); none for an invoiced financier.
    pub code: Option<String>,
    /// The meaning as loket names it ([`END_REASONS`]), when it has one.
    pub reason: Option<String>,
    pub source: EndSource,
}

impl CareEnd {
    /// The reason in Dutch.
    pub fn meaning(&self) -> String {
        end_meaning(self.reason.as_deref(), self.code.as_deref())
    }

    /// The CBS outcome criterion "beëindigd volgens plan": `ja` for an end
    /// as planned, `nee` for one cut short (by the client, the provider, in
    /// agreement, or by an outside cause such as a move), `n.v.t.` where the
    /// question does not apply (death, a move to another provider or
    /// domain, the municipality's own ending, a change request).
    pub fn as_planned(&self) -> &'static str {
        match self.reason.as_deref() {
            Some("volgens_plan") => "ja",
            Some("door_client" | "door_aanbieder" | "in_overleg" | "verhuizing") => "nee",
            _ => "n.v.t.",
        }
    }
}

/// The Dutch meaning of an end reason (loket's name) or, for codes loket
/// does not register itself, of the RedenBeeindiging.
pub fn end_meaning(reason: Option<&str>, code: Option<&str>) -> String {
    if let Some(label) =
        reason.and_then(|r| END_REASONS.iter().find(|(n, _)| *n == r).map(|(_, l)| *l))
    {
        return label.to_string();
    }
    match code {
        // Both laws: the two codes only the municipality's change or a
        // change request lead to.
        Some("36") => "beëindigd door de gemeente".to_string(),
        Some("37") => "gestopt na een wijzigingsverzoek".to_string(),
        Some(c) => format!("reden {c}"),
        None => "onbekend".to_string(),
    }
}

/// loket's name of a RedenBeeindiging in `law` (the inverse of
/// `[stop.reasons]`).
fn reason_of(law: &StopCodes, code: &str) -> Option<String> {
    law.reasons
        .iter()
        .find(|(_, c)| c.as_str() == code)
        .map(|(r, _)| r.clone())
}

fn date(s: &str) -> Option<NaiveDate> {
    s.get(..10)?.parse().ok()
}

/// Whether and how allocation `a` ended on or before `until`: its latest
/// definitive stop (a stop decides, also when it lies after `until`: then
/// the care had not ended by then), else the participant's registered end
/// of care (the latest registration counts; a temporary stop is no end)
/// when it falls within the allocation, else its Einddatum.
pub fn care_end(
    a: &AllocationRow,
    stops: &[&DeliveryRow],
    registered: Option<&EndRow>,
    law: Option<&StopCodes>,
    until: NaiveDate,
) -> Option<CareEnd> {
    let temporary = law.map(|l| l.temporary.as_str());
    let stop = stops
        .iter()
        .filter(|d| d.kind == "stop" && d.reden_beeindiging.as_deref() != temporary)
        .filter(|d| d.einddatum.as_deref().and_then(date).is_some())
        .max_by(|x, y| x.created_at.cmp(&y.created_at));
    if let Some(s) = stop {
        let day = s.einddatum.as_deref().and_then(date)?;
        if day > until {
            return None;
        }
        let code = s.reden_beeindiging.clone();
        return Some(CareEnd {
            date: day,
            reason: law.zip(code.as_deref()).and_then(|(l, c)| reason_of(l, c)),
            code,
            source: EndSource::Stop,
        });
    }
    let begin = a.begin()?;
    let end = a.einddatum.as_deref().and_then(date);
    if let Some(r) = registered.filter(|r| r.reason != "tijdelijk")
        && let Some(day) = date(&r.end_date)
        && day >= begin
        && end.is_none_or(|e| day <= e)
        && day <= until
    {
        return Some(CareEnd {
            date: day,
            code: law
                .and_then(|l| l.for_reason(&r.reason))
                .map(str::to_string),
            reason: Some(r.reason.clone()),
            source: EndSource::Registered,
        });
    }
    let day = end.filter(|e| *e <= until)?;
    let (code, reason) = match law {
        Some(l) => {
            let code = l.for_allocation_end(a.reden_wijziging.as_deref());
            (Some(code.to_string()), reason_of(l, code))
        }
        // An order paid on invoice that ran to its end date.
        None => (None, Some("volgens_plan".to_string())),
    };
    Some(CareEnd {
        date: day,
        code,
        reason,
        source: EndSource::Allocation,
    })
}

/// Goals by where they stood at the end of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoalCounts {
    /// Agreed on or before the period's last day.
    pub agreed: usize,
    /// Reached within the period.
    pub reached: usize,
    /// Stopped (no longer applicable) within the period.
    pub stopped: usize,
    /// Still open on the period's last day.
    pub open: usize,
}

/// Where a goal stood on `day`: closed on or before it, or open.
fn status_on(g: &Goal, day: NaiveDate) -> (GoalStatus, Option<NaiveDate>) {
    let closed = g.row.closed_on.as_deref().and_then(date);
    match (GoalStatus::parse(&g.row.status), closed) {
        (Some(s @ (GoalStatus::Reached | GoalStatus::Stopped)), Some(c)) if c <= day => {
            (s, Some(c))
        }
        _ => (GoalStatus::Open, None),
    }
}

/// The goals of one participant counted for `period`.
pub fn goal_counts(goals: &[Goal], period: Period) -> GoalCounts {
    let mut c = GoalCounts::default();
    for g in goals {
        if date(&g.row.agreed_on).is_none_or(|d| d > period.to) {
            continue;
        }
        c.agreed += 1;
        match status_on(g, period.to) {
            (GoalStatus::Reached, Some(d)) if d >= period.from => c.reached += 1,
            (GoalStatus::Stopped, Some(d)) if d >= period.from => c.stopped += 1,
            (GoalStatus::Open, _) => c.open += 1,
            _ => {}
        }
    }
    c
}

/// The CBS outcome criterion "doelen behaald" of a care that ran from
/// `begin` to `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalsReached {
    All,
    Some,
    None,
    /// No goal recorded for the care.
    Unknown,
}

impl GoalsReached {
    pub fn nl(self) -> &'static str {
        match self {
            GoalsReached::All => "ja",
            GoalsReached::Some => "deels",
            GoalsReached::None => "nee",
            GoalsReached::Unknown => "onbekend",
        }
    }
}

/// Whether the goals of a care from `begin` to `end` were reached by its
/// end: the goals agreed on or before the end and not closed before the
/// begin; a stopped goal counts as not reached.
pub fn goals_reached(goals: &[Goal], begin: NaiveDate, end: NaiveDate) -> GoalsReached {
    let mut total = 0;
    let mut reached = 0;
    for g in goals {
        if date(&g.row.agreed_on).is_none_or(|d| d > end) {
            continue;
        }
        let (status, closed) = status_on(g, end);
        if closed.is_some_and(|c| c < begin) {
            continue;
        }
        total += 1;
        if status == GoalStatus::Reached {
            reached += 1;
        }
    }
    match (total, reached) {
        (0, _) => GoalsReached::Unknown,
        (t, r) if r == t => GoalsReached::All,
        (_, 0) => GoalsReached::None,
        _ => GoalsReached::Some,
    }
}

/// One domain of one instrument in a report: the baseline (the last score
/// before the period), the first and last score in the period, and the
/// change from the baseline (or the first in the period) to the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRow<'a> {
    pub domain: &'a str,
    pub baseline: Option<Point<'a>>,
    pub first: Option<Point<'a>>,
    pub last: Option<Point<'a>>,
    pub change: Option<Change>,
}

/// The measurements of one instrument for one participant in a report.
#[derive(Debug, Clone)]
pub struct InstrumentMeasurements {
    pub instrument: String,
    /// The last one before the period.
    pub baseline: Option<Measurement>,
    /// Those in the period, oldest first.
    pub in_period: Vec<Measurement>,
}

impl InstrumentMeasurements {
    /// Baseline and period, oldest first: the series a change is read from.
    pub fn all(&self) -> Vec<Measurement> {
        self.baseline
            .iter()
            .chain(self.in_period.iter())
            .cloned()
            .collect()
    }

    /// The rows per domain of `instrument` that any of these measurements
    /// scored, in the instrument's order.
    pub fn domain_rows<'a>(
        &'a self,
        instrument: &'a Instrument,
        all: &'a [Measurement],
    ) -> Vec<DomainRow<'a>> {
        instrument
            .domains
            .iter()
            .filter_map(|d| {
                let s = series(all, &d.id);
                if s.is_empty() {
                    return None;
                }
                let baseline_id = self.baseline.as_ref().map(|m| m.row.id.as_str());
                let (base, period): (Vec<Point<'a>>, Vec<Point<'a>>) = s
                    .iter()
                    .partition(|p| Some(p.measurement_id) == baseline_id);
                Some(DomainRow {
                    domain: &d.id,
                    baseline: base.first().copied(),
                    first: period.first().copied(),
                    last: period.last().copied(),
                    change: first_last(instrument, &s).map(|(_, _, c)| c),
                })
            })
            .collect()
    }
}

/// One participant in a financier's report.
#[derive(Debug, Clone)]
pub struct ReportParticipant {
    pub id: String,
    pub name_json: String,
    pub client_number: Option<String>,
    /// Their allocations of this financier in force in the period, with
    /// how each ended by the period's end.
    pub allocations: Vec<(AllocationRow, Option<CareEnd>)>,
    /// Per instrument with a measurement in the period or before it.
    pub measurements: Vec<InstrumentMeasurements>,
    pub goals: Vec<Goal>,
    pub goal_counts: GoalCounts,
    /// Evaluations held in the period, and the last one's date.
    pub evaluations: usize,
    pub last_evaluation: Option<NaiveDate>,
}

impl ReportParticipant {
    /// Whether any measurement of theirs lies in the period.
    pub fn measured(&self) -> bool {
        self.measurements.iter().any(|m| !m.in_period.is_empty())
    }

    /// Their care with this financier ended by the period's end: every
    /// allocation ended; the last end.
    pub fn end(&self) -> Option<&CareEnd> {
        let mut last: Option<&CareEnd> = None;
        for (_, end) in &self.allocations {
            let e = end.as_ref()?;
            if last.is_none_or(|l| e.date >= l.date) {
                last = Some(e);
            }
        }
        last
    }
}

/// A financier's report for a period.
#[derive(Debug, Clone)]
pub struct Report {
    pub financier: FinancierRow,
    pub period: Period,
    /// In the order read (by id); the page sorts them by name.
    pub participants: Vec<ReportParticipant>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PersonRow {
    id: String,
    name_json: String,
    client_number: Option<String>,
}

/// The financier's allocations in force on some day from `from` to `to`
/// (withdrawn ones and requests not granted are none), by participant.
async fn allocations_in(
    pool: &AnyPool,
    tenant: &Tenant,
    financier: &FinancierRow,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AllocationRow>> {
    sqlx::query_as(
        "SELECT a.id, a.participant_id, a.toewijzing_nummer, a.order_number, a.product_categorie, \
         a.product_code, a.ingangsdatum, a.einddatum, a.reden_wijziging FROM allocations a \
         WHERE a.tenant_id = $1 AND a.financier_id = $2 AND a.status NOT IN ('requested', 'withdrawn') \
         AND a.ingangsdatum <= $3 AND (a.einddatum IS NULL OR a.einddatum >= $4) \
         ORDER BY a.participant_id, a.ingangsdatum, a.toewijzing_nummer",
    )
    .bind(&tenant.id)
    .bind(&financier.id)
    .bind(to.to_string())
    .bind(from.to_string())
    .fetch_all(pool)
    .await
    .context("reading the financier's allocations")
}

/// The current starts and definitive-or-temporary stops of the
/// financier's allocations.
async fn deliveries_of(
    pool: &AnyPool,
    tenant: &Tenant,
    financier: &FinancierRow,
) -> Result<HashMap<String, Vec<DeliveryRow>>> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT d.allocation_id, d.kind, d.begindatum, d.einddatum, d.reden_beeindiging, d.created_at \
         FROM deliveries d JOIN allocations a ON a.id = d.allocation_id \
         WHERE a.tenant_id = $1 AND a.financier_id = $2 AND d.tenant_id = $1 AND d.current = 1 \
         ORDER BY d.created_at, d.id",
    )
    .bind(&tenant.id)
    .bind(&financier.id)
    .fetch_all(pool)
    .await
    .context("reading the starts and stops")?;
    let mut out: HashMap<String, Vec<DeliveryRow>> = HashMap::new();
    for d in rows {
        out.entry(d.allocation_id.clone()).or_default().push(d);
    }
    Ok(out)
}

/// The latest registered end of care of each participant of the tenant
/// that has one (a later registration replaces an earlier one).
async fn registered_ends(pool: &AnyPool, tenant: &Tenant) -> Result<HashMap<String, EndRow>> {
    let rows: Vec<EndRow> = sqlx::query_as(
        "SELECT participant_id, end_date, reason, created_at FROM participant_ends \
         WHERE tenant_id = $1 ORDER BY created_at, id",
    )
    .bind(&tenant.id)
    .fetch_all(pool)
    .await
    .context("reading the registered ends of care")?;
    Ok(rows
        .into_iter()
        .map(|e| (e.participant_id.clone(), e))
        .collect())
}

/// Allocations with their ends by `until`.
fn with_ends(
    allocations: Vec<AllocationRow>,
    deliveries: &HashMap<String, Vec<DeliveryRow>>,
    ends: &HashMap<String, EndRow>,
    law: Option<&StopCodes>,
    until: NaiveDate,
) -> Vec<(AllocationRow, Option<CareEnd>)> {
    allocations
        .into_iter()
        .map(|a| {
            let stops: Vec<&DeliveryRow> = deliveries
                .get(&a.id)
                .map(|d| d.iter().collect())
                .unwrap_or_default();
            let end = care_end(&a, &stops, ends.get(&a.participant_id), law, until);
            (a, end)
        })
        .collect()
}

/// The report of `financier` for `period`: its own participants only.
pub async fn report(
    pool: &AnyPool,
    tenant: &Tenant,
    instruments: &Instruments,
    financier: &FinancierRow,
    period: Period,
) -> Result<Report> {
    let allocations = allocations_in(pool, tenant, financier, period.from, period.to).await?;
    let deliveries = deliveries_of(pool, tenant, financier).await?;
    let ends = registered_ends(pool, tenant).await?;
    let mut by_participant: BTreeMap<String, Vec<(AllocationRow, Option<CareEnd>)>> =
        BTreeMap::new();
    for (a, end) in with_ends(allocations, &deliveries, &ends, financier.law(), period.to) {
        by_participant
            .entry(a.participant_id.clone())
            .or_default()
            .push((a, end));
    }
    let ids: Vec<String> = by_participant.keys().cloned().collect();
    // Per instrument, the current measurements of these participants up to
    // the period's end.
    let mut measured: HashMap<String, Vec<InstrumentMeasurements>> = HashMap::new();
    for instrument in instruments.iter() {
        let all = outcomes::measurements_with(pool, &tenant.id, &instrument.id, Some(&ids)).await?;
        let mut per: BTreeMap<String, InstrumentMeasurements> = BTreeMap::new();
        for m in all {
            let Some(day) = m.date() else { continue };
            if day > period.to {
                continue;
            }
            let e =
                per.entry(m.row.participant_id.clone())
                    .or_insert_with(|| InstrumentMeasurements {
                        instrument: instrument.id.clone(),
                        baseline: None,
                        in_period: Vec::new(),
                    });
            // Oldest first: the last one before the period stays.
            if day < period.from {
                e.baseline = Some(m);
            } else {
                e.in_period.push(m);
            }
        }
        for (p, m) in per {
            measured.entry(p).or_default().push(m);
        }
    }
    let mut participants = Vec::with_capacity(ids.len());
    for (id, allocations) in by_participant {
        let person: Option<PersonRow> = sqlx::query_as(
            "SELECT id, name_json, client_number FROM participants WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tenant.id)
        .bind(&id)
        .fetch_optional(pool)
        .await
        .context("reading a participant of the report")?;
        let Some(person) = person else { continue };
        let goals = outcomes::goals_of(pool, &tenant.id, &id).await?;
        let held: Vec<NaiveDate> = outcomes::evaluations_of(pool, &tenant.id, &id)
            .await?
            .iter()
            .filter_map(|e| date(&e.row.held_on))
            .filter(|d| *d >= period.from && *d <= period.to)
            .collect();
        participants.push(ReportParticipant {
            goal_counts: goal_counts(&goals, period),
            goals,
            evaluations: held.len(),
            last_evaluation: held.iter().max().copied(),
            measurements: measured.remove(&id).unwrap_or_default(),
            allocations,
            id: person.id,
            name_json: person.name_json,
            client_number: person.client_number,
        });
    }
    Ok(Report {
        financier: financier.clone(),
        period,
        participants,
    })
}

/// One ended allocation in the CBS beleidsinformatie.
#[derive(Debug, Clone)]
pub struct CbsRow {
    pub participant_id: String,
    pub bsn: String,
    pub allocation: AllocationRow,
    /// The care's first day: the start (305) sent, else the allocation's
    /// Ingangsdatum.
    pub begin: NaiveDate,
    pub end: CareEnd,
    pub goals: GoalsReached,
    /// The last evaluation's mark (1–10) in the care, if it had one.
    pub satisfaction: Option<i64>,
    /// Evaluations held during the care.
    pub evaluations: usize,
}

/// The half year `year`-`half` (1 or 2) as a period.
pub fn half_year(year: i32, half: u32) -> Option<Period> {
    let (from, to) = match half {
        1 => ((1, 1), (6, 30)),
        2 => ((7, 1), (12, 31)),
        _ => return None,
    };
    Some(Period {
        from: NaiveDate::from_ymd_opt(year, from.0, from.1)?,
        to: NaiveDate::from_ymd_opt(year, to.0, to.1)?,
    })
}

/// The financier's allocations whose care ended in `half` (and by
/// `today`), with the CBS outcome criteria; by end date.
pub async fn cbs(
    pool: &AnyPool,
    tenant: &Tenant,
    financier: &FinancierRow,
    half: Period,
    today: NaiveDate,
) -> Result<Vec<CbsRow>> {
    let until = half.to.min(today);
    let allocations = allocations_in(pool, tenant, financier, half.from, until).await?;
    let deliveries = deliveries_of(pool, tenant, financier).await?;
    let ends = registered_ends(pool, tenant).await?;
    let mut out = Vec::new();
    let mut goals_cache: HashMap<String, Vec<Goal>> = HashMap::new();
    let mut evaluations_cache: HashMap<String, Vec<outcomes::Evaluation>> = HashMap::new();
    for (a, end) in with_ends(allocations, &deliveries, &ends, financier.law(), until) {
        let Some(end) = end.filter(|e| e.date >= half.from) else {
            continue;
        };
        let start = deliveries
            .get(&a.id)
            .and_then(|d| d.iter().rev().find(|d| d.kind == "start"))
            .and_then(|d| date(&d.begindatum));
        let Some(begin) = start.or_else(|| a.begin()) else {
            continue;
        };
        let pid = a.participant_id.clone();
        if !goals_cache.contains_key(&pid) {
            goals_cache.insert(
                pid.clone(),
                outcomes::goals_of(pool, &tenant.id, &pid).await?,
            );
            evaluations_cache.insert(
                pid.clone(),
                outcomes::evaluations_of(pool, &tenant.id, &pid).await?,
            );
        }
        let goals = goals_cache.get(&pid).map(Vec::as_slice).unwrap_or_default();
        // Newest first: the first one in the care is the last held.
        let held: Vec<&outcomes::Evaluation> = evaluations_cache
            .get(&pid)
            .map(|e| {
                e.iter()
                    .filter(|e| date(&e.row.held_on).is_some_and(|d| d >= begin && d <= end.date))
                    .collect()
            })
            .unwrap_or_default();
        let bsn: Option<(String,)> =
            sqlx::query_as("SELECT bsn FROM participants WHERE tenant_id = $1 AND id = $2")
                .bind(&tenant.id)
                .bind(&pid)
                .fetch_optional(pool)
                .await
                .context("reading the participant's BSN")?;
        let Some((bsn,)) = bsn else { continue };
        out.push(CbsRow {
            goals: goals_reached(goals, begin, end.date),
            satisfaction: held.first().and_then(|e| e.row.satisfaction),
            evaluations: held.len(),
            participant_id: pid,
            bsn,
            allocation: a,
            begin,
            end,
        });
    }
    out.sort_by(|x, y| {
        (x.end.date, &x.allocation.toewijzing_nummer)
            .cmp(&(y.end.date, &y.allocation.toewijzing_nummer))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::outcomes::GoalRow;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn alloc(begin: &str, end: Option<&str>, reden: Option<&str>) -> AllocationRow {
        AllocationRow {
            id: "a".into(),
            participant_id: "p".into(),
            toewijzing_nummer: "590001".into(),
            order_number: None,
            product_categorie: Some("45".into()),
            product_code: Some("45A48".into()),
            ingangsdatum: begin.into(),
            einddatum: end.map(str::to_string),
            reden_wijziging: reden.map(str::to_string),
        }
    }

    fn stop(end: &str, code: &str, at: &str) -> DeliveryRow {
        DeliveryRow {
            allocation_id: "a".into(),
            kind: "stop".into(),
            begindatum: "2026-01-05".into(),
            einddatum: Some(end.into()),
            reden_beeindiging: Some(code.into()),
            created_at: at.into(),
        }
    }

    fn ended(day: &str, reason: &str) -> EndRow {
        EndRow {
            participant_id: "p".into(),
            end_date: day.into(),
            reason: reason.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn goal(agreed: &str, status: &str, closed: Option<&str>) -> Goal {
        Goal {
            row: GoalRow {
                id: agreed.into(),
                participant_id: "p".into(),
                text: "werk".into(),
                agreed_on: agreed.into(),
                status: status.into(),
                closed_on: closed.map(str::to_string),
                created_by: "u".into(),
                created_at: String::new(),
            },
            domains: vec![],
        }
    }

    #[test]
    fn the_end_of_care_is_read_from_the_stop_then_the_registration_then_the_allocation() {
        let schema = Schema::builtin().expect("schema");
        let jw = &schema.standard_named("ijw").expect("ijw").stop;
        let wmo = &schema.standard_named("iwmo").expect("iwmo").stop;
        let a = alloc("2026-01-01", Some("2026-06-30"), None);
        let until = d("2026-12-31");
        // The stop sent decides, whatever was registered; a temporary stop
        // does not end anything.
        let s = [
            stop("2026-03-31", "32", "2026-04-01"),
            stop("2026-02-01", "20", "2026-02-02"),
        ];
        let refs: Vec<&DeliveryRow> = s.iter().collect();
        let e = care_end(
            &a,
            &refs,
            Some(&ended("2026-03-01", "overlijden")),
            Some(jw),
            until,
        )
        .expect("ended");
        assert_eq!((e.date, e.code.as_deref()), (d("2026-03-31"), Some("32")));
        assert_eq!(e.reason.as_deref(), Some("door_client"));
        assert_eq!(
            (e.as_planned(), e.meaning().as_str()),
            ("nee", "voortijdig, door de cliënt")
        );
        // Not ended by a day before the stop.
        assert_eq!(care_end(&a, &refs, None, Some(jw), d("2026-03-30")), None);
        // Registered, with the law's own code.
        let e = care_end(
            &a,
            &[],
            Some(&ended("2026-05-15", "verhuizing")),
            Some(jw),
            until,
        )
        .expect("ended");
        assert_eq!((e.code.as_deref(), e.as_planned()), (Some("35"), "nee"));
        let e = care_end(
            &a,
            &[],
            Some(&ended("2026-05-15", "verhuizing")),
            Some(wmo),
            until,
        )
        .expect("ended");
        assert_eq!(e.code.as_deref(), Some("31"));
        // A temporary stop registered is no end: the Einddatum is, as planned.
        let e = care_end(
            &a,
            &[],
            Some(&ended("2026-05-15", "tijdelijk")),
            Some(jw),
            until,
        )
        .expect("ended");
        assert_eq!(
            (e.date, e.code.as_deref(), e.as_planned(), e.source),
            (d("2026-06-30"), Some("31"), "ja", EndSource::Allocation)
        );
        // The municipality ended it (RedenWijziging 05): 36, not applicable.
        let e = care_end(
            &alloc("2026-01-01", Some("2026-04-30"), Some("05")),
            &[],
            None,
            Some(jw),
            until,
        )
        .expect("ended");
        assert_eq!((e.code.as_deref(), e.as_planned()), (Some("36"), "n.v.t."));
        assert_eq!(e.meaning(), "beëindigd door de gemeente");
        // Running on: no end.
        assert_eq!(
            care_end(&alloc("2026-01-01", None, None), &[], None, Some(jw), until),
            None
        );
        // Death: not applicable.
        let e = care_end(
            &a,
            &[],
            Some(&ended("2026-02-10", "overlijden")),
            Some(jw),
            until,
        )
        .expect("ended");
        assert_eq!((e.code.as_deref(), e.as_planned()), (Some("02"), "n.v.t."));
    }

    #[test]
    fn goals_are_counted_as_they_stood_at_the_end() {
        let goals = vec![
            goal("2026-01-10", "reached", Some("2026-03-01")),
            goal("2026-01-10", "stopped", Some("2026-08-01")),
            goal("2026-02-01", "open", None),
            goal("2026-07-15", "open", None),
            goal("2025-06-01", "reached", Some("2025-12-01")),
        ];
        let h1 = Period {
            from: d("2026-01-01"),
            to: d("2026-06-30"),
        };
        assert_eq!(
            goal_counts(&goals, h1),
            GoalCounts {
                agreed: 4,
                reached: 1,
                stopped: 0,
                open: 2
            }
        );
        // From January to June: one of three reached (the stopped one was
        // open then), the one closed in 2025 does not count.
        assert_eq!(
            goals_reached(&goals, d("2026-01-01"), d("2026-06-30")),
            GoalsReached::Some
        );
        assert_eq!(
            goals_reached(&goals[..1], d("2026-01-01"), d("2026-06-30")),
            GoalsReached::All
        );
        assert_eq!(
            goals_reached(&goals[2..3], d("2026-01-01"), d("2026-06-30")),
            GoalsReached::None
        );
        assert_eq!(
            goals_reached(&[], d("2026-01-01"), d("2026-06-30")),
            GoalsReached::Unknown
        );
        assert_eq!(half_year(2026, 2).map(|p| p.from), Some(d("2026-07-01")));
        assert_eq!(half_year(2026, 3), None);
    }
}
