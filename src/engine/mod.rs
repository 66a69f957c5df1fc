//! The engine: from one daily registration to every declaration.
//!
//! A run for a declaration period reads the record once ([`load`]),
//! computes every line in memory ([`compute`]), writes one WMO323/JW323 per
//! financier ([`build`]), checks each exactly as the municipality will
//! (structure and in-message rules, then the declaration rules against the
//! record, [`rules`]), and stores what passed together with its prestaties
//! and the outbox entry in one transaction: a declaration is either sent
//! and recorded, or neither.
//!
//! Re-running a period is safe: a line equal to what was declared before is
//! not sent again, a changed one becomes a credit plus a new debit once the
//! earlier line is approved, and a correction made in an earlier period is
//! picked up by the next run.

pub mod build;
pub mod check;
pub mod compute;
pub mod daily;
pub mod invoice;
pub mod limits;
pub mod load;
pub mod outcomes;
pub mod results;
pub mod rules;
pub mod startstop;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::adapter::istandaard::{self, Limits};
use crate::finding::Finding;
use crate::mapping::{Mappings, Period, PeriodRule, Standard};
use crate::record::apply::Tx;
use crate::schema::Schema;
use crate::store::{Backend, Store, Tenant, new_id, now};
use compute::{Line, Plan, Report, Snapshot};

/// How far back a run looks for corrections and undeclared months.
const LOOKBACK_MONTHS: u32 = 24;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The declaration period (a calendar month).
    pub period: Period,
    /// DeclaratieDagtekening and BerichtIdentificatie/Dagtekening.
    pub today: NaiveDate,
    /// Compute and check, store nothing.
    pub dry_run: bool,
    /// Also write every generated message to this directory.
    pub out_dir: Option<PathBuf>,
}

/// One declaration of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DeclarationSummary {
    pub id: Option<String>,
    pub message_id: Option<String>,
    pub bericht: String,
    pub financier: String,
    pub declaratie_nummer: String,
    pub period_begin: String,
    pub period_end: String,
    pub debit_lines: usize,
    pub credit_lines: usize,
    /// Net, in cents: debit minus credit.
    pub total_cents: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A finding or report a person should see, in Dutch and English; it never
/// names a BSN or a participant's name.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toewijzing_nummer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub nl: String,
    pub en: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub period_begin: String,
    pub period_end: String,
    pub declarations: Vec<DeclarationSummary>,
    pub messages: Vec<startstop::Sent>,
    pub notices: Vec<Notice>,
    /// Pay-for-results claims made (or, on a dry run, that would be made).
    pub claims: Vec<results::ClaimSummary>,
}

/// Parses `YYYY-MM`.
pub fn parse_period(spec: &str) -> Result<Period> {
    compute::month(spec).with_context(|| {
        format!("periode {spec:?} is geen JJJJ-MM / period {spec:?} is not YYYY-MM")
    })
}

/// Runs start/stop and declarations for `tenant`.
pub async fn run(
    store: &Store,
    mappings: &Mappings,
    tenant: &Tenant,
    opts: &RunOptions,
) -> Result<RunReport> {
    let schema = Schema::builtin()?;
    let mut report = RunReport {
        period_begin: opts.period.start.to_string(),
        period_end: opts.period.end.to_string(),
        ..RunReport::default()
    };
    // The whole run is one write transaction that first locks the tenant
    // (a no-op update: SQLite takes its write lock, PostgreSQL a row lock),
    // so two runs for one tenant (the daemon and the CLI, say) follow each
    // other instead of both declaring the same days.
    let started = std::time::Instant::now();
    let mut mark = started;
    let mut lap = |stage: &'static str| {
        let now = std::time::Instant::now();
        tracing::debug!(
            stage,
            ms = (now - mark).as_millis() as u64,
            "declaration run"
        );
        mark = now;
    };
    let mut w = store.begin_write().await?;
    w.lock_tenant(&tenant.id).await?;
    let tx = &mut w.tx;
    let last = last_periods(tx, &tenant.id).await?;
    let periods = periods_to_compute(tx, &tenant.id, opts.period, &last).await?;
    let window = Period {
        start: periods.first().map_or(opts.period.start, |p| p.start),
        end: opts.period.end,
    };
    lap("lock");
    let snap = load::snapshot(tx, store.backend, &tenant.id, mappings, window).await?;
    lap("load");
    let mut plan = compute::compute(&snap, mappings, &periods);
    lap("compute");
    // Outcomes reached under a pay-for-results contract: extra lines that
    // go the way of every line.
    let claims = claims_of(tx, store, &tenant.id, mappings, &snap, opts.period).await?;
    report.notices.extend(claims.notices);
    plan.lines.extend(claims.lines);
    lap("results");

    let mut generated = Vec::new();
    let used = UsedNumbers::load(tx, &tenant.id).await?;
    notices_of(&snap, &plan, &mut report.notices);
    // One declaration per financier and period (more when it has more
    // clients than the mapping's max_clients), built and checked on one
    // thread per core: encoding and checking a large declaration is the
    // costly part, and declarations do not depend on each other.
    let jobs: Vec<(String, Period, Vec<&Line>)> = group(&snap, &plan, opts.period, &last)
        .into_iter()
        .flat_map(|(financier_id, period, lines)| {
            let max = lines
                .first()
                .and_then(|l| mappings.get(&snap.allocations[l.allocation].financier))
                .map_or(crate::mapping::DEFAULT_MAX_CLIENTS, |m| m.max_clients);
            split_clients(&snap, lines, max)
                .into_iter()
                .map(move |part| (financier_id.clone(), period, part))
        })
        .collect();
    // What the declaration rules look up about a financier (its allocations
    // by number, what was declared before) is indexed once per financier,
    // not once per message: with 50 messages for one financier, indexing
    // per message made the check grow with the square of the participants.
    let mut views: HashMap<String, rules::View> = HashMap::new();
    for (financier_id, _, _) in &jobs {
        views.entry(financier_id.clone()).or_insert_with(|| {
            rules::View::new(
                &snap,
                mappings,
                financier_id,
                &used.references,
                &used.numbers,
                last.get(financier_id).copied(),
            )
        });
    }
    let built: Vec<Result<(Option<Generated>, Vec<Notice>)>> =
        parallel(jobs, |(financier_id, period, lines)| {
            let mut notices = Vec::new();
            let Some(view) = views.get(&financier_id) else {
                return Ok((None, notices));
            };
            let g = declare_one(
                schema,
                &snap,
                mappings,
                tenant,
                opts,
                view,
                &financier_id,
                period,
                lines,
                &mut notices,
            )?;
            Ok((g, notices))
        });
    for b in built {
        let (g, notices) = b?;
        report.notices.extend(notices);
        generated.extend(g);
    }
    lap("build and check declarations");
    // Financiers paid on invoice: the same lines, as UBL invoices and
    // credit notes.
    let earlier = invoice::earlier(tx, &tenant.id).await?;
    let groups = group(&snap, &plan, opts.period, &last);
    let mut invoices = invoice::build_all(
        &snap,
        mappings,
        opts,
        &groups,
        &earlier,
        &mut report.notices,
    );
    lap("build and check invoices");
    // Starts and stops due today go with the run (the daily run sends the
    // same; whichever comes first sends them once).
    let out_dir = opts.out_dir.as_ref().filter(|_| !opts.dry_run);
    let starts = startstop::run_in(
        &mut w,
        schema,
        mappings,
        tenant,
        opts.today,
        opts.dry_run,
        out_dir,
    )
    .await?;
    lap("start/stop");
    report.notices.extend(starts.notices);
    report.messages = starts.messages;
    let tx = &mut w.tx;
    let claimed = |lines: &[(Line, String)]| -> Vec<(std::sync::Arc<results::Claim>, String)> {
        lines
            .iter()
            .filter_map(|(l, r)| Some((l.claim.clone()?, r.clone())))
            .collect()
    };
    if opts.dry_run {
        for g in &generated {
            for (c, _) in claimed(&g.lines) {
                report.claims.push(results::ClaimSummary::of(&c, false));
            }
        }
        for g in &invoices {
            for (c, _) in claimed(&g.lines) {
                report.claims.push(results::ClaimSummary::of(&c, false));
            }
        }
        report.declarations = generated.iter().map(|g| g.summary.clone()).collect();
        report
            .declarations
            .extend(invoices.iter().map(|g| g.summary.clone()));
        return Ok(report);
    }
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for g in &mut generated {
            let path = dir.join(format!(
                "{}-{}.xml",
                g.message.name(),
                g.summary.declaratie_nummer
            ));
            std::fs::write(&path, &g.xml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            g.summary.file = Some(path.display().to_string());
        }
        for g in &mut invoices {
            let path = dir.join(format!(
                "{}-{}.xml",
                g.summary.bericht, g.summary.declaratie_nummer
            ));
            std::fs::write(&path, &g.xml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            g.summary.file = Some(path.display().to_string());
        }
    }
    for g in &mut generated {
        store_declaration(tx, store.backend, tenant, mappings, &snap, g).await?;
        report.declarations.push(g.summary.clone());
        let id = g.summary.id.clone().unwrap_or_default();
        for (c, referentie) in claimed(&g.lines) {
            crate::record::results::insert_claim(tx, &tenant.id, &c, &referentie, &id).await?;
            report.claims.push(results::ClaimSummary::of(&c, true));
        }
    }
    for g in &mut invoices {
        store_invoice(tx, store.backend, tenant, mappings, &snap, g).await?;
        report.declarations.push(g.summary.clone());
        let id = g.summary.id.clone().unwrap_or_default();
        for (c, referentie) in claimed(&g.lines) {
            crate::record::results::insert_claim(tx, &tenant.id, &c, &referentie, &id).await?;
            report.claims.push(results::ClaimSummary::of(&c, true));
        }
    }
    store_notices(tx, &tenant.id, &report.notices).await?;
    lap("store");
    w.commit().await?;
    lap("commit");
    tracing::info!(
        declarations = report.declarations.len(),
        messages = report.messages.len(),
        notices = report.notices.len(),
        ms = started.elapsed().as_millis() as u64,
        "declaration run done"
    );
    Ok(report)
}

/// The pay-for-results claims of a run ([`results`]): the outcomes are read
/// from the pool (the run's transaction writes none of them), the claims
/// made in the run's transaction, after the tenant's lock, so two runs can
/// never both see an outcome as unclaimed.
async fn claims_of(
    tx: &mut Tx,
    store: &Store,
    tenant: &str,
    mappings: &Mappings,
    snap: &Snapshot,
    period: Period,
) -> Result<results::Claims> {
    if mappings.iter().all(|m| m.results.is_empty()) {
        return Ok(results::Claims::default());
    }
    let instruments = crate::instrument::Instruments::builtin()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("cannot load the built-in instruments")?;
    let ids: Vec<String> = snap.participants.iter().map(|p| p.id.clone()).collect();
    let mut inputs = results::Inputs {
        claimed: crate::record::results::claimed(tx, tenant).await?,
        milestones: crate::record::results::milestones_by_participant(store.pool(), tenant).await?,
        ..results::Inputs::default()
    };
    for (instrument, into) in [
        (crate::instrument::LADDER, &mut inputs.ladder),
        (crate::instrument::ZRM, &mut inputs.zrm),
    ] {
        let all = crate::record::outcomes::measurements_with(
            store.pool(),
            tenant,
            instrument,
            Some(&ids),
        )
        .await?;
        for m in all {
            into.entry(m.row.participant_id.clone())
                .or_default()
                .push(m);
        }
    }
    Ok(results::claims(
        snap,
        mappings,
        instruments,
        &inputs,
        period,
    ))
}

/// The periods a run computes: the asked one, months corrected since the
/// last run, and months between a financier's last declaration and now
/// (TR318: a month with care must not be skipped).
async fn periods_to_compute(
    tx: &mut Tx,
    tenant: &str,
    period: Period,
    last: &HashMap<String, Period>,
) -> Result<Vec<Period>> {
    let month = PeriodRule::Month;
    let earliest = period
        .start
        .checked_sub_months(chrono::Months::new(LOOKBACK_MONTHS))
        .unwrap_or(period.start);
    let mut set: std::collections::BTreeSet<Period> = [period].into();
    let last_run: Option<String> =
        sqlx::query("SELECT MAX(created_at) AS at FROM declarations WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await?
            .try_get("at")?;
    if let Some(at) = last_run {
        // New versions, and versions superseded since: a correction may
        // also have removed a day (now absent).
        let rows = sqlx::query(
            "SELECT DISTINCT day FROM registrations WHERE tenant_id = $1 \
             AND (created_at > $2 OR superseded_at > $2) AND day < $3 AND day >= $4",
        )
        .bind(tenant)
        .bind(&at)
        .bind(period.start.to_string())
        .bind(earliest.to_string())
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let day: String = r.try_get("day")?;
            if let Ok(d) = day.parse::<NaiveDate>() {
                set.insert(month.period_of(d));
            }
        }
    }
    // A rejected line whose review item a person resolved (the allocation
    // was fixed, the contract corrected, ...) is declared again; not a
    // results claim's line: a claim is never made again automatically.
    let rows = sqlx::query(
        "SELECT DISTINCT p.period_begin FROM prestaties p JOIN review_items r ON r.subject_id = p.id \
         WHERE p.tenant_id = $1 AND p.status = 'rejected' AND p.debet_credit = 'D' \
           AND NOT EXISTS (SELECT 1 FROM result_claims c WHERE c.tenant_id = p.tenant_id \
               AND c.referentie_nummer = p.referentie_nummer) \
           AND r.tenant_id = $1 AND r.kind = 'rejected_prestatie' AND r.status = 'resolved' \
           AND p.period_begin >= $2 AND NOT EXISTS (SELECT 1 FROM prestaties q WHERE q.allocation_id = p.allocation_id \
               AND q.period_begin = p.period_begin AND q.created_at > p.created_at)",
    )
    .bind(tenant)
    .bind(earliest.to_string())
    .fetch_all(&mut **tx)
    .await?;
    for r in rows {
        let day: String = r.try_get("period_begin")?;
        if let Ok(d) = day.parse::<NaiveDate>() {
            set.insert(month.period_of(d));
        }
    }
    for last in last.values() {
        let mut m = month.period_of(last.end.succ_opt().unwrap_or(last.end));
        while m.start < period.start && m.start >= earliest {
            set.insert(m);
            m = month.period_of(m.end.succ_opt().unwrap_or(m.end));
        }
    }
    Ok(set.into_iter().collect())
}

/// The latest declaration period per financier.
async fn last_periods(tx: &mut Tx, tenant: &str) -> Result<HashMap<String, Period>> {
    let rows = sqlx::query(
        "SELECT financier_id, MAX(period_begin) AS b, MAX(period_end) AS e FROM declarations \
         WHERE tenant_id = $1 GROUP BY financier_id",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let b: String = r.try_get("b")?;
        let e: String = r.try_get("e")?;
        if let (Ok(start), Ok(end)) = (b.parse(), e.parse()) {
            out.insert(r.try_get("financier_id")?, Period { start, end });
        }
    }
    Ok(out)
}

/// References and declaration numbers used before (TR314, TR333).
struct UsedNumbers {
    references: HashSet<String>,
    numbers: HashSet<String>,
}

impl UsedNumbers {
    async fn load(tx: &mut Tx, tenant: &str) -> Result<UsedNumbers> {
        let mut references = HashSet::new();
        for r in sqlx::query("SELECT referentie_nummer FROM prestaties WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&mut **tx)
            .await?
        {
            references.insert(r.try_get("referentie_nummer")?);
        }
        let mut numbers = HashSet::new();
        for r in sqlx::query("SELECT declaratie_nummer FROM declarations WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&mut **tx)
            .await?
        {
            numbers.insert(r.try_get("declaratie_nummer")?);
        }
        Ok(UsedNumbers {
            references,
            numbers,
        })
    }
}

/// Groups lines per financier and declaration period: a line for a month
/// this financier never had a declaration for, after its last one, gets a
/// declaration of its own for that month (TR318); everything else goes into
/// the asked period's declaration (TR319 allows earlier product periods).
fn group<'p>(
    snap: &Snapshot,
    plan: &'p Plan,
    period: Period,
    last: &HashMap<String, Period>,
) -> Vec<(String, Period, Vec<&'p Line>)> {
    let mut groups: BTreeMap<(String, Period), Vec<&Line>> = BTreeMap::new();
    for line in &plan.lines {
        let a = &snap.allocations[line.allocation];
        let month = PeriodRule::Month.period_of(line.period.start);
        let own = line.credits.is_none()
            && month.start < period.start
            && last
                .get(&a.financier_id)
                .is_some_and(|l| l.start < month.start);
        let target = if own { month } else { period };
        groups
            .entry((a.financier_id.clone(), target))
            .or_default()
            .push(line);
    }
    groups
        .into_iter()
        .map(|((f, p), lines)| (f, p, lines))
        .collect()
}

/// Splits one declaration's lines into parts of at most `max` clients, in
/// participant order, never splitting a client: a client's credit and new
/// debit for the same prestatie belong in one message.
fn split_clients<'p>(snap: &Snapshot, mut lines: Vec<&'p Line>, max: usize) -> Vec<Vec<&'p Line>> {
    lines.sort_by_key(|l| snap.allocations[l.allocation].participant);
    let mut parts: Vec<Vec<&Line>> = Vec::new();
    let mut clients = 0;
    let mut last = None;
    for line in lines {
        let participant = snap.allocations[line.allocation].participant;
        if last != Some(participant) {
            last = Some(participant);
            clients += 1;
            if clients > max.max(1) || parts.is_empty() {
                parts.push(Vec::new());
                clients = 1;
            }
        }
        if let Some(part) = parts.last_mut() {
            part.push(line);
        }
    }
    parts
}

/// Runs `work` over `jobs` on one thread per core (not one per job: a run
/// with hundreds of declarations must not start hundreds of threads) and
/// returns the results in the order of `jobs`.
pub(crate) fn parallel<J: Send, R: Send>(jobs: Vec<J>, work: impl Fn(J) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    if threads <= 1 {
        return jobs.into_iter().map(work).collect();
    }
    let total = jobs.len();
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate());
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        // A poisoned queue means another worker panicked; its
                        // panic is resumed below.
                        let next = match queue.lock() {
                            Ok(mut q) => q.next(),
                            Err(_) => None,
                        };
                        let Some((i, job)) = next else { break };
                        out.push((i, work(job)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    debug_assert_eq!(done.len(), total);
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// A generated declaration waiting to be stored.
struct Generated {
    summary: DeclarationSummary,
    message: crate::message::Message,
    xml: String,
    financier_id: String,
    period: Period,
    /// (line, referentie) in message order.
    lines: Vec<(Line, String)>,
}

/// Builds, checks and (re)builds one declaration until every line in it
/// passes; lines that fail are left out and reported.
#[allow(clippy::too_many_arguments)]
fn declare_one(
    schema: &'static Schema,
    snap: &Snapshot,
    mappings: &Mappings,
    tenant: &Tenant,
    opts: &RunOptions,
    view: &rules::View,
    financier_id: &str,
    period: Period,
    mut lines: Vec<&Line>,
    notices: &mut Vec<Notice>,
) -> Result<Option<Generated>> {
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let fin = &snap.allocations[first.allocation].financier;
    let Some(mapping) = mappings.get(fin) else {
        return Ok(None);
    };
    let prefix = match mapping.financier.standard {
        Standard::Iwmo => "WMO",
        Standard::Ijw => "JW",
        // Invoiced financiers are the invoice adapter's.
        _ => return Ok(None),
    };
    lines.sort_by_key(|l| {
        (
            snap.allocations[l.allocation].participant,
            l.credits.is_none(),
            l.period.start,
        )
    });
    let numbered: Vec<(Line, String)> = lines
        .iter()
        .map(|l| ((*l).clone(), build::new_identifier(20)))
        .collect();
    let mut keep: Vec<bool> = vec![true; numbered.len()];
    let identificatie = build::new_identifier(12);
    let nummer = build::new_identifier(12);
    let header = build::Declaratie {
        prefix,
        afzender: &tenant.id,
        ontvanger: &fin.code,
        identificatie: &identificatie,
        nummer: &nummer,
        period,
        dagtekening: opts.today,
    };
    for _ in 0..4 {
        let kept: Vec<build::Numbered<'_>> = numbered
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|((line, referentie), _)| {
                let a = &snap.allocations[line.allocation];
                build::Numbered {
                    line,
                    allocation: a,
                    participant: &snap.participants[a.participant],
                    referentie: referentie.clone(),
                }
            })
            .collect();
        if kept.is_empty() {
            return Ok(None);
        }
        let message = build::declaratie(schema, &header, &kept)?;
        let (xml, checked) = istandaard::check_outgoing(&message, &Limits::outgoing())?;
        let mut findings: Vec<Finding> = checked.findings;
        findings.extend(rules::check(view, &message));
        if findings.is_empty() {
            let debit = kept.iter().filter(|n| n.line.credits.is_none()).count();
            let total: i64 = kept
                .iter()
                .map(|n| {
                    let b = n.line.declared.bedrag as i64;
                    if n.line.credits.is_some() { -b } else { b }
                })
                .sum();
            let lines = numbered
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(n, _)| n.clone())
                .collect();
            return Ok(Some(Generated {
                summary: DeclarationSummary {
                    id: None,
                    message_id: None,
                    bericht: message.name().to_string(),
                    financier: fin.to_string(),
                    declaratie_nummer: nummer.clone(),
                    period_begin: period.start.to_string(),
                    period_end: period.end.to_string(),
                    debit_lines: debit,
                    credit_lines: kept.len() - debit,
                    total_cents: total,
                    file: None,
                },
                message,
                xml,
                financier_id: financier_id.to_string(),
                period,
                lines,
            }));
        }
        // Map findings back to lines by the prestatie's reference; a finding
        // elsewhere stops the whole declaration.
        let mut whole = false;
        for f in &findings {
            let refs = prestatie_references(&message, f);
            if refs.is_empty() {
                whole = true;
            }
            for i in refs
                .iter()
                .filter_map(|r| numbered.iter().position(|(_, n)| n == r))
            {
                {
                    if keep[i] {
                        keep[i] = false;
                        let a = &snap.allocations[numbered[i].0.allocation];
                        notices.push(Notice {
                            kind: "not_sent".into(),
                            participant_id: Some(snap.participants[a.participant].id.clone()),
                            allocation_id: Some(a.id.clone()),
                            toewijzing_nummer: Some(a.toewijzing_nummer.clone()),
                            period: Some(format!(
                                "{}/{}",
                                numbered[i].0.period.start, numbered[i].0.period.end
                            )),
                            rule: Some(f.rule.clone()),
                            nl: format!("Prestatie niet verzonden: {}", f.nl),
                            en: format!("Claim line not sent: {}", f.en),
                        });
                    }
                }
            }
        }
        if whole {
            for f in findings
                .iter()
                .filter(|f| prestatie_references(&message, f).is_empty())
            {
                notices.push(Notice {
                    kind: "not_sent".into(),
                    participant_id: None,
                    allocation_id: None,
                    toewijzing_nummer: None,
                    period: Some(format!("{}/{}", period.start, period.end)),
                    rule: Some(f.rule.clone()),
                    nl: format!("Declaratie aan {fin} niet verzonden: {}", f.nl),
                    en: format!("Declaration to {fin} not sent: {}", f.en),
                });
            }
            return Ok(None);
        }
    }
    Ok(None)
}

/// The ReferentieNummers of the prestaties a finding concerns: the one it
/// lies in, or every one of the Client it lies in; empty when it concerns
/// the declaration as a whole.
fn prestatie_references(msg: &crate::message::Message, f: &Finding) -> Vec<String> {
    let node = match f.class_node {
        Some(id) => Some(msg.node(id)),
        // Findings of the in-message check carry a path; walk it.
        None => node_at(msg, &f.path),
    };
    let mut cur = node;
    while let Some(n) = cur {
        match n.name() {
            "Prestatie" | "Client" => {
                let list = if n.name() == "Prestatie" {
                    vec![n]
                } else {
                    n.all("Prestaties/Prestatie")
                };
                return list
                    .iter()
                    .filter_map(|p| p.value("ProductReferentie/ReferentieNummer"))
                    .map(str::to_string)
                    .collect();
            }
            _ => cur = n.parent(),
        }
    }
    Vec::new()
}

/// The node at a finding path such as `Declaratie/Clienten/Client[2]/Bsn`
/// (1-based positions among same-named siblings).
fn node_at<'m>(
    msg: &'m crate::message::Message,
    path: &'m str,
) -> Option<crate::message::NodeRef<'m>> {
    let mut cur = msg.root();
    for step in path.split('/').filter(|s| !s.is_empty()) {
        let (name, nth) = match step.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()?),
            None => (step, 1),
        };
        cur = cur.children_named(name).nth(nth.checked_sub(1)?)?;
    }
    Some(cur)
}

/// Turns the computation's reports into notices.
fn notices_of(snap: &Snapshot, plan: &Plan, out: &mut Vec<Notice>) {
    for r in &plan.reports {
        let (kind, alloc, participant, period, nl, en, rule) = match r {
            Report::OverAllocation {
                allocation,
                period,
                delivered,
                declared,
                eenheid,
                limit,
            } => (
                "over_allocation",
                Some(*allocation),
                None,
                Some(*period),
                format!(
                    "Geleverd {delivered}, gedeclareerd {declared} (eenheid {eenheid}): de rest past niet in de toewijzing. Stuur zo nodig een verzoek om wijziging (317)."
                ),
                format!(
                    "Delivered {delivered}, declared {declared} (unit {eenheid}): the rest does not fit the allocation. Send a change request (317) if needed."
                ),
                Some(limit.to_string()),
            ),
            Report::NotDeclarable {
                participant,
                day,
                minutes,
                reason,
            } => (
                "not_declarable",
                None,
                Some(*participant),
                Some(Period { start: *day, end: *day }),
                format!(
                    "{minutes} minuten op {}: {}.",
                    day.format("%d-%m-%Y"),
                    reason.nl()
                ),
                format!("{minutes} minutes on {day}: {}.", reason.en()),
                None,
            ),
            Report::AwaitingAnswer { allocation, period } => (
                "awaiting_answer",
                Some(*allocation),
                None,
                Some(*period),
                "De prestatie is gewijzigd, maar op de eerdere prestatie is nog geen antwoord (325); de correctie volgt na goedkeuring.".to_string(),
                "The claim line changed, but the earlier line has no answer yet (325); the correction follows once it is approved.".to_string(),
                Some("TR323".to_string()),
            ),
            Report::Unpriceable {
                allocation,
                period,
                reason,
            } => (
                "not_declarable",
                Some(*allocation),
                None,
                Some(*period),
                format!("Niet te declareren volgens het contract: {reason}"),
                format!("Cannot be declared under the contract: {reason}"),
                None,
            ),
        };
        let a = alloc.map(|i| &snap.allocations[i]);
        let participant = participant.or(a.map(|a| a.participant));
        out.push(Notice {
            kind: kind.into(),
            participant_id: participant.map(|p| snap.participants[p].id.clone()),
            allocation_id: a.map(|a| a.id.clone()),
            toewijzing_nummer: a.map(|a| a.toewijzing_nummer.clone()),
            period: period.map(|p| format!("{}/{}", p.start, p.end)),
            rule,
            nl,
            en,
        });
    }
}

/// Stores a declaration, its prestaties and its outbox entry.
async fn store_declaration(
    tx: &mut Tx,
    backend: Backend,
    tenant: &Tenant,
    mappings: &Mappings,
    snap: &Snapshot,
    g: &mut Generated,
) -> Result<()> {
    let financier = financier_of(mappings, snap, &g.lines)?;
    let t0 = std::time::Instant::now();
    let message_id = crate::outbox::enqueue(
        tx,
        crate::outbox::Outgoing {
            tenant_id: &tenant.id,
            financier,
            participant_id: None,
            message: &g.message,
        },
    )
    .await?;
    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "declaration enqueued");
    let standard = g.message.standard().name.clone();
    let id = record_declaration(
        tx,
        backend,
        snap,
        Recorded {
            tenant: &tenant.id,
            financier_id: &g.financier_id,
            message_id: &message_id,
            standard: &standard,
            summary: &g.summary,
            period: g.period,
            issue_date: None,
            status: "submitted",
            lines: &g.lines,
        },
    )
    .await?;
    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "declaration stored");
    g.summary.id = Some(id);
    g.summary.message_id = Some(message_id);
    Ok(())
}

/// Stores an invoice or credit note like a declaration: its lines are
/// prestaties with status `invoiced` (no answer comes per line), and the
/// document goes through the outbox as UBL.
async fn store_invoice(
    tx: &mut Tx,
    backend: Backend,
    tenant: &Tenant,
    mappings: &Mappings,
    snap: &Snapshot,
    g: &mut invoice::Generated,
) -> Result<()> {
    let financier = financier_of(mappings, snap, &g.lines)?;
    let issue = g.document.issue_date.clone().unwrap_or_default();
    let parsed = json!({
        "document": g.document,
        "lines": crate::adapter::ubl::decode::lines(&g.document),
    })
    .to_string();
    let message_id = crate::outbox::enqueue_document(
        tx,
        crate::outbox::OutgoingDocument {
            tenant_id: &tenant.id,
            financier,
            bericht: &g.summary.bericht,
            identificatie: &g.summary.declaratie_nummer,
            dagtekening: &issue,
            standard: "ubl",
            format: crate::outbox::FORMAT_UBL,
            raw: g.xml.as_bytes(),
            parsed,
        },
    )
    .await?;
    let id = record_declaration(
        tx,
        backend,
        snap,
        Recorded {
            tenant: &tenant.id,
            financier_id: &g.financier_id,
            message_id: &message_id,
            standard: "ubl",
            summary: &g.summary,
            period: g.period,
            issue_date: Some(&issue),
            status: "invoiced",
            lines: &g.lines,
        },
    )
    .await?;
    g.summary.id = Some(id);
    g.summary.message_id = Some(message_id);
    Ok(())
}

/// The financier of a declaration's lines, from its mapping.
fn financier_of<'m>(
    mappings: &'m Mappings,
    snap: &Snapshot,
    lines: &[(Line, String)],
) -> Result<&'m crate::mapping::Financier> {
    let first = lines.first().context("a declaration without lines")?;
    let fin = &snap.allocations[first.0.allocation].financier;
    Ok(&mappings
        .get(fin)
        .context("mapping disappeared during the run")?
        .financier)
}

/// What [`record_declaration`] stores.
struct Recorded<'a> {
    tenant: &'a str,
    financier_id: &'a str,
    message_id: &'a str,
    standard: &'a str,
    summary: &'a DeclarationSummary,
    period: Period,
    issue_date: Option<&'a str>,
    /// The prestaties' status: `submitted` (an answer will come) or
    /// `invoiced`.
    status: &'a str,
    lines: &'a [(Line, String)],
}

/// The `declarations` row and its prestaties; returns the declaration's id.
async fn record_declaration(
    tx: &mut Tx,
    backend: Backend,
    snap: &Snapshot,
    r: Recorded<'_>,
) -> Result<String> {
    let id = new_id();
    let ts = now();
    sqlx::query(
        "INSERT INTO declarations (id, tenant_id, financier_id, message_id, standard, declaratie_nummer, \
         period_begin, period_end, total_cents, status, created_at, issue_date) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'sent', $10, $11)",
    )
    .bind(&id)
    .bind(r.tenant)
    .bind(r.financier_id)
    .bind(r.message_id)
    .bind(r.standard)
    .bind(&r.summary.declaratie_nummer)
    .bind(r.period.start.to_string())
    .bind(r.period.end.to_string())
    .bind(r.summary.total_cents)
    .bind(&ts)
    .bind(r.issue_date)
    .execute(&mut **tx)
    .await
    .context("cannot store the declaration")?;
    insert_prestaties(
        tx, backend, r.tenant, &id, r.standard, &ts, r.status, snap, r.lines,
    )
    .await?;
    Ok(id)
}

/// Stores a declaration's lines in one statement: the lines travel as one
/// JSON array that the database unpacks itself (`json_each` in SQLite,
/// `json_array_elements` in PostgreSQL). Measured for 10,000 lines:
/// one insert per line 500 ms, ten lines per insert 250 ms, one JSON array
/// a fraction of that; and no backend's limit on bound values applies.
#[allow(clippy::too_many_arguments)]
async fn insert_prestaties(
    tx: &mut Tx,
    backend: Backend,
    tenant: &str,
    declaration: &str,
    standard: &str,
    ts: &str,
    status: &str,
    snap: &Snapshot,
    lines: &[(Line, String)],
) -> Result<()> {
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .map(|(line, referentie)| {
            let a = &snap.allocations[line.allocation];
            let d = &line.declared;
            // A claim is declared as its result's product.
            let product = line.claim.as_ref().map_or(&a.product, |c| &c.product);
            json!([
                new_id(),
                snap.participants[a.participant].id,
                a.id,
                referentie,
                line.credits,
                a.toewijzing_nummer,
                product.categorie,
                product.code,
                line.period.start.to_string(),
                line.period.end.to_string(),
                d.volume,
                d.eenheid.code(),
                d.product_tarief,
                d.bedrag,
                if line.credits.is_some() { "C" } else { "D" },
                line.basis,
            ])
        })
        .collect();
    let (each, get, int) = match backend {
        Backend::Sqlite => ("json_each($5) AS e", "e.value ->> ", ""),
        Backend::Postgres => (
            "json_array_elements(CAST($5 AS json)) AS e(value)",
            "e.value ->> ",
            "::bigint",
        ),
    };
    let col = |i: usize, numeric: bool| {
        let c = format!("{get}{i}");
        if numeric && !int.is_empty() {
            format!("({c}){int}")
        } else {
            c
        }
    };
    let sql = format!(
        "INSERT INTO prestaties (tenant_id, declaration_id, standard, created_at, status, id, participant_id, \
         allocation_id, referentie_nummer, vorig_referentie_nummer, toewijzing_nummer, product_categorie, product_code, \
         period_begin, period_end, volume, eenheid, tarief_cents, bedrag_cents, debet_credit, basis) \
         SELECT $1, $2, $3, $4, $6, {} FROM {each}",
        (0..16)
            .map(|i| col(i, matches!(i, 10 | 12 | 13)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(declaration)
        .bind(standard)
        .bind(ts)
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(status)
        .execute(&mut **tx)
        .await
        .context("cannot store the prestaties")?;
    Ok(())
}

/// Stores the notices that need a person as review items (once: an open
/// item for the same subject, kind and period is not repeated).
pub(crate) async fn store_notices(tx: &mut Tx, tenant: &str, notices: &[Notice]) -> Result<()> {
    for n in notices.iter().filter(|n| n.kind != "awaiting_answer") {
        let subject = n.allocation_id.clone().or(n.participant_id.clone());
        let detail = json!({
            "period": n.period,
            "toewijzing_nummer": n.toewijzing_nummer,
            "allocation_id": n.allocation_id,
            "rule": n.rule,
            "nl": n.nl,
            "en": n.en,
        })
        .to_string();
        let exists = sqlx::query(
            "SELECT 1 FROM review_items WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3 AND detail = $4 AND status = 'open'",
        )
        .bind(tenant)
        .bind(&n.kind)
        .bind(&subject)
        .bind(&detail)
        .fetch_optional(&mut **tx)
        .await?;
        if exists.is_some() {
            continue;
        }
        sqlx::query(
            "INSERT INTO review_items (id, tenant_id, participant_id, kind, subject_id, retourcodes, detail, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, '[]', $6, 'open', $7)",
        )
        .bind(new_id())
        .bind(tenant)
        .bind(&n.participant_id)
        .bind(&n.kind)
        .bind(&subject)
        .bind(&detail)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl RunReport {
    /// The report for a person, Dutch and English.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Periode / period {} t/m / to {}",
            self.period_begin, self.period_end
        );
        if self.declarations.is_empty() && self.messages.is_empty() {
            let _ = writeln!(s, "Niets te versturen / nothing to send");
        }
        for d in &self.declarations {
            let _ = writeln!(
                s,
                "{} {} aan/to {}: {} debet, {} credit, totaal/total {}.{:02} EUR{}",
                d.bericht,
                d.declaratie_nummer,
                d.financier,
                d.debit_lines,
                d.credit_lines,
                d.total_cents / 100,
                (d.total_cents % 100).abs(),
                d.file
                    .as_deref()
                    .map(|f| format!(" -> {f}"))
                    .unwrap_or_default()
            );
        }
        for c in &self.claims {
            let _ = writeln!(
                s,
                "Resultaat/result {} aan/to {} (deelnemer/participant {}, bereikt/reached {}): {}.{:02} EUR{}",
                c.result_id,
                c.financier,
                c.participant_id,
                c.reached_on,
                c.amount_cents / 100,
                c.amount_cents % 100,
                if c.stored { "" } else { " (voorbeeld/preview)" }
            );
        }
        write_messages(&mut s, &self.messages);
        write_notices(&mut s, &self.notices);
        s
    }
}

/// The start and stop messages of a run, a line each (`loket declare`,
/// `loket startstop`).
pub(crate) fn write_messages(s: &mut String, messages: &[startstop::Sent]) {
    use std::fmt::Write as _;
    for m in messages {
        let _ = writeln!(
            s,
            "{} ({}) toewijzing(en) {}{}",
            m.bericht,
            m.kind,
            m.toewijzing_nummers.join(", "),
            m.file
                .as_deref()
                .map(|f| format!(" -> {f}"))
                .unwrap_or_default()
        );
    }
}

/// The notices of a run, a line each, in Dutch and English.
pub(crate) fn write_notices(s: &mut String, notices: &[Notice]) {
    use std::fmt::Write as _;
    for n in notices {
        let _ = writeln!(
            s,
            "[{}{}] {} / {}",
            n.kind,
            n.rule
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default(),
            n.nl,
            n.en
        );
    }
}
