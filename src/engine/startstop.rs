//! Start and stop messages (WMO305/JW305, WMO307/JW307) follow from the
//! record instead of being typed in: the first registered day that counts
//! for an allocation starts it; the allocation's end, or the end of the
//! participant's care the provider registers (death, a move, outflow to
//! another domain, a hospital stay, ...), stops it with the RedenBeeindiging
//! of the allocation's law.
//!
//! What has been started and stopped is the record's
//! ([`crate::record::delivery`]): every plan here starts from the current
//! deliveries, so the stop always repeats the key of the start it closes
//! (TR382) whatever 301 changed the allocation since, a definitive stop may
//! follow a temporary one (OP377), a registered day after a temporary stop
//! restarts the delivery with a new 305, and a changed end of care corrects
//! the stop already sent by removing it and adding the new one in one
//! message (StatusAanlevering 3 and 1, allowed since 3.2).
//!
//! The daily run ([`run`], `loket startstop`, and the daemon once a day)
//! sends what is due within the five working days the standard allows
//! (OP272), independent of the monthly declaration run, which plans the same
//! way and so never blocks on it. One message per participant and financier
//! carries all its products; the deliveries move in the same transaction
//! that puts the message in the outbox, so nothing is sent twice.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::Notice;
use crate::adapter::istandaard::encode::Builder;
use crate::adapter::istandaard::{self, Limits};
use crate::mapping::{FinancierKey, Kind, Mappings, ProductKey, Standard};
use crate::message::Message;
use crate::record::apply::Tx;
use crate::record::delivery::{self, Delivery, History};
use crate::schema::{Schema, StopCodes};
use crate::store::{Store, Tenant, WriteTx, new_id, now};

/// Reasons a participant's care ends, as the API and the web app name them,
/// with their Dutch label. The code each is sent as depends on the law of
/// the allocation it stops: `[stop.reasons]` in `schemas/istandaard`.
pub const END_REASONS: &[(&str, &str)] = &[
    ("volgens_plan", "volgens plan beëindigd"),
    ("tijdelijk", "tijdelijk gestopt (bijv. opname)"),
    ("door_client", "voortijdig, door de cliënt"),
    ("door_aanbieder", "voortijdig, door de aanbieder"),
    ("in_overleg", "voortijdig, in overleg"),
    ("verhuizing", "verhuizing naar een andere gemeente"),
    ("andere_aanbieder", "overstap naar een andere aanbieder"),
    ("ander_domein", "uitstroom naar een ander domein"),
    ("overlijden", "overlijden"),
];

/// Whether `reason` is one of [`END_REASONS`].
pub fn is_end_reason(reason: &str) -> bool {
    END_REASONS.iter().any(|(r, _)| *r == reason)
}

/// The RedenBeeindiging a reason is sent as, per law (`iwmo`, `ijw`).
pub fn reason_codes(reason: &str) -> Result<BTreeMap<String, String>> {
    let schema = Schema::builtin()?;
    Ok(schema
        .standards
        .iter()
        .filter_map(|s| Some((s.name.clone(), s.stop.for_reason(reason)?.to_string())))
        .collect())
}

/// One product to start or stop, with the values the message carries.
#[derive(Debug, Clone)]
pub struct Product {
    pub allocation_id: String,
    pub toewijzing_nummer: String,
    pub categorie: String,
    pub code: Option<String>,
    /// ToewijzingIngangsdatum: for a stop, the one its start carried.
    pub ingangsdatum: String,
    pub begindatum: String,
    /// Stop only: Einddatum and RedenBeeindiging.
    pub stop: Option<(String, String)>,
    /// StatusAanlevering: 1, or 3 for the stop a correction removes.
    pub status: &'static str,
}

impl Product {
    /// The stop of `start` (its key unchanged, TR382).
    fn stop_of(start: &Delivery, a: &Allocation, einddatum: String, reden: &str) -> Product {
        Product {
            allocation_id: a.id.clone(),
            toewijzing_nummer: start.toewijzing_nummer.clone(),
            categorie: start
                .product_categorie
                .clone()
                .or_else(|| a.product_categorie.clone())
                .unwrap_or_default(),
            code: start
                .product_code
                .clone()
                .or_else(|| a.product_code.clone()),
            ingangsdatum: start
                .toewijzing_ingangsdatum
                .clone()
                .unwrap_or_else(|| a.ingangsdatum.clone()),
            begindatum: start.begindatum.clone(),
            stop: Some((einddatum, reden.to_string())),
            status: "1",
        }
    }

    /// The removal of a stop sent before: the stop exactly as it was sent.
    fn removal_of(stop: &Delivery, a: &Allocation) -> Product {
        Product {
            allocation_id: a.id.clone(),
            toewijzing_nummer: stop.toewijzing_nummer.clone(),
            categorie: stop.product_categorie.clone().unwrap_or_default(),
            code: stop.product_code.clone(),
            ingangsdatum: stop
                .toewijzing_ingangsdatum
                .clone()
                .unwrap_or_else(|| a.ingangsdatum.clone()),
            begindatum: stop.begindatum.clone(),
            stop: Some((
                stop.einddatum.clone().unwrap_or_default(),
                stop.reden_beeindiging.clone().unwrap_or_default(),
            )),
            status: "3",
        }
    }

    /// A new start of `a` on `day`.
    fn start_of(a: &Allocation, day: NaiveDate) -> Product {
        Product {
            allocation_id: a.id.clone(),
            toewijzing_nummer: a.toewijzing_nummer.clone(),
            categorie: a.product_categorie.clone().unwrap_or_default(),
            code: a.product_code.clone().filter(|c| !c.is_empty()),
            ingangsdatum: a.ingangsdatum.clone(),
            begindatum: day.to_string(),
            stop: None,
            status: "1",
        }
    }
}

/// One message to send: a participant, a financier, start or stop.
#[derive(Debug, Clone)]
pub struct Planned {
    pub participant_id: String,
    pub financier: FinancierKey,
    pub start: bool,
    pub products: Vec<Product>,
}

/// What a run plans: the messages, the registered ends it settles, and what
/// it could not do.
#[derive(Debug, Default)]
pub struct Plan {
    pub planned: Vec<Planned>,
    /// Registered ends of care a stop of this run carries out: marked
    /// processed when the run is stored (for the record; planning looks at
    /// the latest end, processed or not).
    pub settled_ends: Vec<String>,
    pub notices: Vec<Notice>,
}

/// What a run sent, for its report.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub bericht: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub participant_id: String,
    pub toewijzing_nummers: Vec<String>,
    /// start | stop | correction (a stop removed and replaced)
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A built message.
pub struct Built {
    pub planned: Planned,
    pub message: Message,
    pub xml: String,
    pub identificatie: String,
    pub sent: Sent,
}

/// An allocation as the run plans from it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Allocation {
    pub id: String,
    pub participant_id: String,
    pub toewijzing_nummer: String,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    pub ingangsdatum: String,
    pub einddatum: Option<String>,
    pub reden_wijziging: Option<String>,
    pub status: String,
    pub kind: String,
    pub code: String,
}

/// A registered end of care.
#[derive(Debug, Clone, sqlx::FromRow)]
struct End {
    id: String,
    participant_id: String,
    end_date: String,
    reason: String,
    created_at: String,
}

impl End {
    /// Whether this end concerns the delivery that `start` began: it was
    /// registered after the start was sent, or ends on or after its first
    /// day. An end registered before a restart after a temporary stop (the
    /// hospital stay that caused the stop) does not stop the restart.
    fn concerns(&self, start: &Delivery) -> bool {
        self.created_at > start.created_at || self.end_date >= start.begindatum
    }
}

/// What one allocation needs today.
enum Step {
    Start(NaiveDate),
    /// A stop; for a correction, the removal of the stop sent before and
    /// its replacement, in that order (one message).
    Stop(Vec<Product>),
}

/// Finds what has to start and what has to stop as of `today`.
pub async fn plan(
    tx: &mut Tx,
    tenant: &str,
    schema: &Schema,
    mappings: &Mappings,
    today: NaiveDate,
) -> Result<Plan> {
    let today_s = today.to_string();
    let allocations: Vec<Allocation> = sqlx::query_as(
        "SELECT a.id, a.participant_id, a.toewijzing_nummer, a.product_categorie, a.product_code, \
                a.ingangsdatum, a.einddatum, a.reden_wijziging, a.status, f.kind, f.code \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1 AND a.status IN ('allocated', 'started', 'stopped') \
           AND (a.reden_wijziging IS NULL OR a.reden_wijziging <> '13') \
           AND (a.status <> 'started' OR a.einddatum < $2 \
                OR EXISTS (SELECT 1 FROM participant_ends pe WHERE pe.participant_id = a.participant_id \
                           AND pe.end_date <= $2)) \
         ORDER BY a.participant_id, a.toewijzing_nummer",
    )
    .bind(tenant)
    .bind(&today_s)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read allocations to start or stop")?;
    // A running delivery with nothing to stop it needs nothing today, so it
    // is not read at all: a large tenant's daily run reads what changes.
    let ids: Vec<&str> = allocations.iter().map(|a| a.id.as_str()).collect();
    let histories = delivery::by_allocation(tx, tenant, &ids).await?;
    let held = delivery::held_for_review(tx, tenant).await?;
    let first_days = first_days(tx, tenant, mappings, &today_s).await?;
    // The end of care is a state, not an event: the latest registration
    // counts (a later one corrects an earlier one), every run compares it
    // with what was sent, and a stop the municipality rejected is planned
    // again from it once its review item is resolved.
    let ends: Vec<End> = sqlx::query_as(
        "SELECT id, participant_id, end_date, reason, created_at FROM participant_ends \
         WHERE tenant_id = $1 AND end_date <= $2 ORDER BY created_at, id",
    )
    .bind(tenant)
    .bind(&today_s)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read registered ends of care")?;
    let mut end_of: HashMap<&str, &End> = HashMap::new();
    for e in &ends {
        end_of.insert(e.participant_id.as_str(), e);
    }

    let mut out = Plan::default();
    let mut messages: BTreeMap<(String, FinancierKey, bool), Planned> = BTreeMap::new();
    let empty = History::default();
    for a in &allocations {
        let Some(kind) = Kind::parse(&a.kind) else {
            continue;
        };
        let financier = FinancierKey::new(kind, &a.code);
        let Some(law) = mappings
            .get(&financier)
            .and_then(|m| m.financier.standard.schema_name())
            .and_then(|name| schema.standard_named(name))
        else {
            continue;
        };
        let h = histories.get(&a.id).unwrap_or(&empty);
        if h.last_start().is_none() && a.status != "allocated" {
            // Started before loket kept its deliveries: the start it would
            // have to repeat is unknown, so nothing is guessed.
            tracing::warn!(allocation = %a.id, "started allocation without a recorded start; not planned");
            continue;
        }
        let end = end_of
            .get(a.participant_id.as_str())
            .copied()
            .filter(|e| h.last_start().is_some_and(|s| e.concerns(s)));
        let step = step(
            a,
            h,
            end,
            first_days.get(&a.id),
            &law.stop,
            today,
            &mut out.notices,
        );
        let Some(step) = step else { continue };
        let is_start = matches!(step, Step::Start(_));
        if held.contains(&(
            a.id.clone(),
            if is_start { "start" } else { "stop" }.to_string(),
        )) {
            continue;
        }
        let products = match step {
            Step::Start(day) => vec![Product::start_of(a, day)],
            Step::Stop(products) => {
                // The registered end this stop carries out, for the record.
                out.settled_ends.extend(end.map(|e| e.id.clone()));
                products
            }
        };
        messages
            .entry((a.participant_id.clone(), financier.clone(), is_start))
            .or_insert_with(|| Planned {
                participant_id: a.participant_id.clone(),
                financier,
                start: is_start,
                products: Vec::new(),
            })
            .products
            .extend(products);
    }
    out.settled_ends.sort();
    out.settled_ends.dedup();
    out.planned = messages.into_values().collect();
    Ok(out)
}

/// What one allocation needs, from its current deliveries (`h`), the
/// participant's registered end and the first counted day without a start.
fn step(
    a: &Allocation,
    h: &History,
    end: Option<&End>,
    first_day: Option<&NaiveDate>,
    codes: &StopCodes,
    today: NaiveDate,
    notices: &mut Vec<Notice>,
) -> Option<Step> {
    let einddatum = a.einddatum.as_deref();
    let ended = einddatum.is_some_and(|e| e < today.to_string().as_str());
    let Some(start) = h.last_start() else {
        return first_day.map(|d| Step::Start(*d));
    };
    let begin = start.begindatum.as_str();
    // The Einddatum of a stop for an end registered on `date`: within the
    // allocation, never before the start (TR018).
    let clamp = |date: &str| -> String {
        let d = einddatum.map_or(date, |e| e.min(date));
        d.max(begin).to_string()
    };
    let notice = |rule: &str, nl: &str, en: &str| Notice {
        kind: "not_sent".into(),
        participant_id: Some(a.participant_id.clone()),
        allocation_id: Some(a.id.clone()),
        toewijzing_nummer: Some(a.toewijzing_nummer.clone()),
        period: None,
        rule: Some(rule.into()),
        nl: nl.into(),
        en: en.into(),
    };
    if let Some(stop) = h.definitive_stop(begin) {
        // Stopped for good: only a changed end of care changes the stop.
        let e = end?;
        if e.reason == "tijdelijk" {
            notices.push(notice(
                "TR415",
                "Tijdelijke stop niet verzonden: de levering is al definitief gestopt.",
                "Temporary stop not sent: the delivery has already stopped for good.",
            ));
            return None;
        }
        let reden = codes.for_reason(&e.reason)?;
        let eind = clamp(&e.end_date);
        if stop.reden_beeindiging.as_deref() == Some(reden)
            && stop.einddatum.as_deref() == Some(eind.as_str())
        {
            return None;
        }
        return Some(Step::Stop(vec![
            Product::removal_of(stop, a),
            Product::stop_of(start, a, eind, reden),
        ]));
    }
    if let Some(temporary) = h.temporary_stop(begin) {
        let paused_until = temporary.einddatum.clone().unwrap_or_default();
        // A definitive stop after a temporary one ends on or after it (TR414).
        let definitive = |date: &str, reden: &str| {
            let eind = clamp(date).max(paused_until.clone());
            Step::Stop(vec![Product::stop_of(start, a, eind, reden)])
        };
        return match end {
            // A definitive end of care after the pause.
            Some(e) if e.reason != "tijdelijk" => {
                Some(definitive(&e.end_date, codes.for_reason(&e.reason)?))
            }
            // The temporary stop is what the registration says (a second
            // one would break TR413); back after the pause, a new start
            // (OP378 allows it).
            _ => match first_day {
                Some(d) if d.to_string() > paused_until => Some(Step::Start(*d)),
                _ if ended => Some(definitive(
                    einddatum.unwrap_or(&paused_until),
                    codes.for_allocation_end(a.reden_wijziging.as_deref()),
                )),
                _ => None,
            },
        };
    }
    // An open start.
    match end {
        Some(e) => Some(Step::Stop(vec![Product::stop_of(
            start,
            a,
            clamp(&e.end_date),
            codes.for_reason(&e.reason)?,
        )])),
        None if ended => Some(Step::Stop(vec![Product::stop_of(
            start,
            a,
            clamp(einddatum.unwrap_or(begin)),
            codes.for_allocation_end(a.reden_wijziging.as_deref()),
        )])),
        None => None,
    }
}

/// The first present day each allocation's product counts (its activity,
/// within its dates, not after today) with no open start: for an allocation
/// never started, the first such day; after a stop, the first day after it.
async fn first_days(
    tx: &mut Tx,
    tenant: &str,
    mappings: &Mappings,
    today: &str,
) -> Result<HashMap<String, NaiveDate>> {
    // The registrations are joined by participant alone (a participant is
    // one tenant's): with the tenant in the join too, SQLite walks the
    // tenant's days index once per allocation, which made a first run over
    // 10,000 participants take minutes.
    // Two passes over one query: allocations never started (most of them,
    // and all of a first run over a large tenant) without a per-row look at
    // their stops; stopped ones with it, for the first day after the stop.
    let mut rows = Vec::new();
    for (status, after_stop) in [
        ("allocated", ""),
        (
            "stopped",
            "AND r.day > COALESCE((SELECT MAX(d.einddatum) FROM deliveries d WHERE d.allocation_id = a.id \
             AND d.kind = 'stop' AND d.current = 1), '')",
        ),
    ] {
        let sql = format!(
            "SELECT a.id, a.product_categorie, a.product_code, f.kind, f.code, r.activity, MIN(r.day) AS first_day \
             FROM allocations a JOIN financiers f ON f.id = a.financier_id \
             JOIN registrations r ON r.participant_id = a.participant_id \
             WHERE a.tenant_id = $1 AND a.status = $2 \
               AND (a.reden_wijziging IS NULL OR a.reden_wijziging <> '13') \
               AND r.superseded_by IS NULL AND r.present = 1 AND r.day >= a.ingangsdatum \
               AND (a.einddatum IS NULL OR r.day <= a.einddatum) AND r.day <= $3 \
               AND (r.allocation_id IS NULL OR r.allocation_id = a.id) {after_stop} \
             GROUP BY a.id, a.product_categorie, a.product_code, f.kind, f.code, r.activity"
        );
        rows.extend(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant)
                .bind(status)
                .bind(today)
                .fetch_all(&mut **tx)
                .await
                .context("cannot read the first registered days")?,
        );
    }
    let mut out: HashMap<String, NaiveDate> = HashMap::new();
    for r in rows {
        let Some(kind) = Kind::parse(&r.try_get::<String, _>("kind")?) else {
            continue;
        };
        let financier = FinancierKey::new(kind, &r.try_get::<String, _>("code")?);
        let product = ProductKey::new(
            &r.try_get::<Option<String>, _>("product_categorie")?
                .unwrap_or_default(),
            &r.try_get::<Option<String>, _>("product_code")?
                .unwrap_or_default(),
        );
        let Ok(contract) = mappings.product(&financier, &product) else {
            continue;
        };
        let activity: Option<String> = r.try_get("activity")?;
        if !contract.counts(activity.as_deref().unwrap_or_default()) {
            continue;
        }
        let day = super::load::date(&r.try_get::<String, _>("first_day")?)?;
        let id: String = r.try_get("id")?;
        let first = out.entry(id).or_insert(day);
        *first = (*first).min(day);
    }
    Ok(out)
}

/// Builds and checks every planned message: its structure and in-message
/// rules, and then against the deliveries the record holds, with the very
/// rules the municipality applies when it arrives (TR326, TR382,
/// TR413-TR415, ...). A message that fails is not sent and is reported: it
/// is built from the record, so a failure means the record holds something
/// the standard does not allow, and sending it would only return a
/// rejection.
pub async fn build_all(
    tx: &mut Tx,
    schema: &'static Schema,
    tenant: &Tenant,
    mappings: &Mappings,
    planned: Vec<Planned>,
    today: NaiveDate,
) -> Result<(Vec<Built>, Vec<Notice>)> {
    let mut built = Vec::new();
    let mut notices = Vec::new();
    for p in planned {
        let Some(mapping) = mappings.get(&p.financier) else {
            continue;
        };
        let prefix = match mapping.financier.standard {
            Standard::Iwmo => "WMO",
            Standard::Ijw => "JW",
            _ => continue,
        };
        let row = super::build::client_row(tx, &p.participant_id).await?;
        let number = if p.start { "305" } else { "307" };
        let identificatie = super::build::new_identifier(12);
        let mut b = Builder::heenbericht(
            schema,
            &format!("{prefix}{number}"),
            &tenant.id,
            &p.financier.code,
            &identificatie,
            today,
        )?;
        let client = super::build::client_block(&mut b, &row)?;
        let (list, item) = if p.start {
            ("StartProducten", "StartProduct")
        } else {
            ("StopProducten", "StopProduct")
        };
        let list = b.add(client, list)?;
        for prod in &p.products {
            let sp = b.add(list, item)?;
            b.value(sp, "ToewijzingNummer", &prod.toewijzing_nummer)?;
            let pr = b.add(sp, "Product")?;
            b.value(pr, "Categorie", &prod.categorie)?;
            b.opt(pr, "Code", prod.code.as_deref().filter(|c| !c.is_empty()))?;
            b.value(sp, "ToewijzingIngangsdatum", &prod.ingangsdatum)?;
            b.value(sp, "Begindatum", &prod.begindatum)?;
            if let Some((end, reden)) = &prod.stop {
                b.value(sp, "RedenBeeindiging", reden)?;
                b.value(sp, "Einddatum", end)?;
            }
            b.value(sp, "StatusAanlevering", prod.status)?;
        }
        let message = b.msg;
        let (xml, checked) = istandaard::check_outgoing(&message, &Limits::outgoing())?;
        let mut findings = checked.findings;
        if findings.is_empty() {
            findings = delivery::check(tx, tenant, &message).await?;
        }
        if !findings.is_empty() {
            for f in &findings {
                notices.push(Notice {
                    kind: "not_sent".into(),
                    participant_id: Some(p.participant_id.clone()),
                    allocation_id: p.products.first().map(|x| x.allocation_id.clone()),
                    toewijzing_nummer: p.products.first().map(|x| x.toewijzing_nummer.clone()),
                    period: None,
                    rule: Some(f.rule.clone()),
                    nl: format!("{} niet verzonden: {}", message.name(), f.nl),
                    en: format!("{} not sent: {}", message.name(), f.en),
                });
            }
            continue;
        }
        let sent = Sent {
            bericht: message.name().to_string(),
            message_id: None,
            participant_id: p.participant_id.clone(),
            toewijzing_nummers: p
                .products
                .iter()
                .filter(|x| x.status != "3")
                .map(|x| x.toewijzing_nummer.clone())
                .collect(),
            kind: if p.start {
                "start"
            } else if p.products.iter().any(|x| x.status == "3") {
                "correction"
            } else {
                "stop"
            },
            file: None,
        };
        built.push(Built {
            planned: p,
            message,
            xml,
            identificatie,
            sent,
        });
    }
    Ok((built, notices))
}

/// Puts a start or stop in the outbox and records its deliveries, in the
/// caller's transaction.
pub async fn store(tx: &mut Tx, tenant: &Tenant, mappings: &Mappings, m: &mut Built) -> Result<()> {
    let financier = &mappings
        .get(&m.planned.financier)
        .context("mapping disappeared during the run")?
        .financier;
    let message_id = crate::outbox::enqueue(
        tx,
        crate::outbox::Outgoing {
            tenant_id: &tenant.id,
            financier,
            participant_id: Some(&m.planned.participant_id),
            message: &m.message,
        },
    )
    .await?;
    delivery::record(
        tx,
        tenant,
        &m.message,
        &m.planned.participant_id,
        &message_id,
    )
    .await?;
    m.sent.message_id = Some(message_id);
    Ok(())
}

/// Marks registered ends of care processed.
pub async fn settle_ends(tx: &mut Tx, tenant: &str, ids: &[String]) -> Result<()> {
    let ts = now();
    for id in ids {
        sqlx::query(
            "UPDATE participant_ends SET processed_at = $1 WHERE id = $2 AND tenant_id = $3",
        )
        .bind(&ts)
        .bind(id)
        .bind(tenant)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What a start/stop run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub date: String,
    pub dry_run: bool,
    pub messages: Vec<Sent>,
    pub notices: Vec<Notice>,
}

impl Report {
    /// The report as `loket startstop` prints it.
    pub fn text(&self) -> String {
        let mut s = format!(
            "Start/stop {}{}\n",
            self.date,
            if self.dry_run {
                " (proef / dry run)"
            } else {
                ""
            }
        );
        if self.messages.is_empty() {
            s.push_str("Niets te versturen / nothing to send\n");
        }
        super::write_messages(&mut s, &self.messages);
        super::write_notices(&mut s, &self.notices);
        s
    }
}

/// Runs the starts and stops due on `today` for `tenant`, in one transaction
/// under the tenant lock (as a declaration run), so that the daemon's daily
/// run, the command line and a declaration run never send the same start
/// twice. `dry_run` plans and checks without storing; `out_dir` also writes
/// each message as a file.
pub async fn run(
    store: &Store,
    mappings: &Mappings,
    tenant: &Tenant,
    today: NaiveDate,
    dry_run: bool,
    out_dir: Option<&PathBuf>,
) -> Result<Report> {
    let schema = Schema::builtin()?;
    let mut w = store.begin_write().await?;
    w.lock_tenant(&tenant.id).await?;
    let report = run_in(&mut w, schema, mappings, tenant, today, dry_run, out_dir).await?;
    if !dry_run {
        // What a person must look at goes to the review queue, as the
        // declaration run's notices do (an open one is not repeated).
        super::store_notices(&mut w.tx, &tenant.id, &report.notices).await?;
    }
    if dry_run {
        w.rollback().await?;
    } else {
        w.commit().await?;
        tracing::info!(
            messages = report.messages.len(),
            notices = report.notices.len(),
            "start/stop run done"
        );
    }
    Ok(report)
}

/// [`run`] inside the caller's locked transaction (the declaration run's).
pub async fn run_in(
    w: &mut WriteTx,
    schema: &'static Schema,
    mappings: &Mappings,
    tenant: &Tenant,
    today: NaiveDate,
    dry_run: bool,
    out_dir: Option<&PathBuf>,
) -> Result<Report> {
    let tx = &mut w.tx;
    let plan = plan(tx, &tenant.id, schema, mappings, today).await?;
    let (mut built, notices) = build_all(tx, schema, tenant, mappings, plan.planned, today).await?;
    let mut report = Report {
        date: today.to_string(),
        dry_run,
        messages: Vec::new(),
        notices: plan.notices,
    };
    report.notices.extend(notices);
    for m in &mut built {
        if let Some(dir) = out_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join(format!("{}-{}.xml", m.message.name(), m.identificatie));
            std::fs::write(&path, &m.xml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            m.sent.file = Some(path.display().to_string());
        }
        if !dry_run {
            store(tx, tenant, mappings, m).await?;
        }
        report.messages.push(m.sent.clone());
    }
    if !dry_run {
        settle_ends(tx, &tenant.id, &plan.settled_ends).await?;
    }
    Ok(report)
}

/// Registers the end of a participant's care; the next start/stop run stops
/// every started allocation with the reason's RedenBeeindiging in the
/// allocation's law. A later registration replaces an earlier one: when the
/// stop was already sent, the run corrects it.
pub async fn register_end(
    store: &Store,
    tenant: &str,
    participant_id: &str,
    end_date: NaiveDate,
    reason: &str,
    registered_by: &str,
) -> Result<String> {
    let mut w = store.begin_write().await?;
    let id = register_end_in(
        &mut w,
        tenant,
        participant_id,
        end_date,
        reason,
        registered_by,
    )
    .await?;
    w.commit().await?;
    Ok(id)
}

/// [`register_end`] in the caller's transaction, for a caller that writes
/// more with it (the web app's audit trail entry).
pub async fn register_end_in(
    w: &mut WriteTx,
    tenant: &str,
    participant_id: &str,
    end_date: NaiveDate,
    reason: &str,
    registered_by: &str,
) -> Result<String> {
    anyhow::ensure!(is_end_reason(reason), "unknown reason {reason:?}");
    let id = new_id();
    sqlx::query(
        "INSERT INTO participant_ends (id, tenant_id, participant_id, end_date, reason, registered_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(participant_id)
    .bind(end_date.to_string())
    .bind(reason)
    .bind(registered_by)
    .bind(now())
    .execute(&mut *w.tx)
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons the API and the page offer are exactly the meanings each
    /// law's `[stop.reasons]` gives a code, so no registered end can fail to
    /// find its RedenBeeindiging when the stop is built.
    #[test]
    fn every_end_reason_has_a_code_in_every_law() {
        let schema = Schema::builtin().expect("schema");
        for law in &schema.standards {
            let mut named: Vec<&str> = END_REASONS.iter().map(|(r, _)| *r).collect();
            named.sort();
            let coded: Vec<&str> = law.stop.reasons.keys().map(String::as_str).collect();
            assert_eq!(named, coded, "{}", law.name);
        }
        for law in &schema.standards {
            assert_eq!(law.stop.temporary, delivery::TEMPORARY, "{}", law.name);
        }
        let codes = reason_codes("volgens_plan").expect("codes");
        assert_eq!(codes.get("iwmo").map(String::as_str), Some("19"));
        assert_eq!(codes.get("ijw").map(String::as_str), Some("31"));
    }
}
