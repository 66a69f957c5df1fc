//! Start and stop messages (WMO305/JW305, WMO307/JW307) follow from the
//! record instead of being typed in: the first registered day that counts
//! for an allocation starts it; the allocation's end, or the participant's
//! end (death, a move, outflow to another domain, ...) registered through
//! the API, stops it with the fitting RedenBeeindiging.
//!
//! One message per participant and financier carries all its products.
//! The allocation's status moves to started / stopped in the same
//! transaction that puts the message in the outbox, so a start is sent
//! once, and its begindatum is kept for the stop (TR382: the stop repeats
//! the start's key unchanged).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::RunOptions;
use super::load::date;
use crate::adapter::istandaard::encode::Builder;
use crate::adapter::istandaard::{self, Limits};
use crate::mapping::{FinancierKey, Kind, Mappings, ProductKey, Standard};
use crate::message::Message;
use crate::record::apply::Tx;
use crate::schema::Schema;
use crate::store::{Store, Tenant, WriteTx, new_id, now};

/// Reasons a participant's care ends, as the API names them, with the
/// RedenBeeindiging code (WMO588 / JW588) they are sent as.
pub const END_REASONS: &[(&str, &str)] = &[
    ("overlijden", "02"),
    ("volgens_plan", "19"),
    ("tijdelijk", "20"),
    ("door_client", "21"),
    ("door_aanbieder", "22"),
    ("in_overleg", "23"),
    ("verhuizing", "31"),
    ("andere_aanbieder", "38"),
    ("ander_domein", "39"),
];

/// The RedenBeeindiging for an allocation that ended on its Einddatum,
/// from the RedenWijziging of its last change (the pairing the code list
/// WMO588 / JW588 gives): ended by the municipality for a contract change,
/// a shorter allocation, another way of delivery (36); death (02); outflow
/// to another domain (39); a move (31); another provider (38); at the
/// provider's request (37); otherwise as planned (19).
pub fn reden_beeindiging_for(reden_wijziging: Option<&str>) -> &'static str {
    match reden_wijziging {
        Some("02") => "02",
        Some("03" | "05" | "08" | "10" | "11") => "36",
        Some("06") => "39",
        Some("07") => "31",
        Some("09") => "38",
        Some("12") => "37",
        _ => "19",
    }
}

pub fn reason_code(reason: &str) -> Option<&'static str> {
    END_REASONS
        .iter()
        .find(|(name, _)| *name == reason)
        .map(|(_, code)| *code)
}

/// One product to start or stop.
#[derive(Debug, Clone)]
pub struct Product {
    pub allocation_id: String,
    pub toewijzing_nummer: String,
    pub product: ProductKey,
    pub ingangsdatum: NaiveDate,
    pub begindatum: NaiveDate,
    /// Stop only: einddatum and RedenBeeindiging.
    pub stop: Option<(NaiveDate, String)>,
}

/// One message to send: a participant, a financier, start or stop.
#[derive(Debug, Clone)]
pub struct Planned {
    pub participant_id: String,
    pub financier: FinancierKey,
    pub start: bool,
    pub products: Vec<Product>,
    /// Participant end that this stop processes.
    pub end_ids: Vec<String>,
}

/// What a run sent, for its report.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub bericht: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub participant_id: String,
    pub toewijzing_nummers: Vec<String>,
    pub kind: &'static str,
}

/// A built message.
pub struct Built {
    pub planned: Planned,
    pub message: Message,
    pub xml: String,
    pub identificatie: String,
    pub sent: Sent,
}

/// Finds what has to start and what has to stop as of `opts.today`.
pub async fn plan(
    tx: &mut Tx,
    tenant: &str,
    mappings: &Mappings,
    opts: &RunOptions,
) -> Result<Vec<Planned>> {
    let today = opts.today.to_string();
    let mut out: BTreeMap<(String, FinancierKey, bool), Planned> = BTreeMap::new();

    // Starts: the first present day on or after the allocation's start whose
    // activity the contracted product counts.
    let rows = sqlx::query(
        "SELECT a.id, a.participant_id, a.toewijzing_nummer, a.product_categorie, a.product_code, \
                a.ingangsdatum, f.kind, f.code, r.activity, MIN(r.day) AS first_day \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         JOIN registrations r ON r.tenant_id = a.tenant_id AND r.participant_id = a.participant_id \
         WHERE a.tenant_id = $1 AND a.status = 'allocated' AND (a.reden_wijziging IS NULL OR a.reden_wijziging <> '13') \
           AND r.superseded_by IS NULL AND r.present = 1 AND r.day >= a.ingangsdatum \
           AND (a.einddatum IS NULL OR r.day <= a.einddatum) AND r.day <= $2 \
           AND (r.allocation_id IS NULL OR r.allocation_id = a.id) \
         GROUP BY a.id, a.participant_id, a.toewijzing_nummer, a.product_categorie, a.product_code, \
                  a.ingangsdatum, f.kind, f.code, r.activity",
    )
    .bind(tenant)
    .bind(&today)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read allocations to start")?;
    let mut first: BTreeMap<String, (Planned, Product)> = BTreeMap::new();
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
        let day = date(&r.try_get::<String, _>("first_day")?)?;
        let id: String = r.try_get("id")?;
        if first.get(&id).is_some_and(|(_, p)| p.begindatum <= day) {
            continue;
        }
        first.insert(
            id.clone(),
            (
                Planned {
                    participant_id: r.try_get("participant_id")?,
                    financier,
                    start: true,
                    products: Vec::new(),
                    end_ids: Vec::new(),
                },
                Product {
                    allocation_id: id,
                    toewijzing_nummer: r.try_get("toewijzing_nummer")?,
                    product,
                    ingangsdatum: date(&r.try_get::<String, _>("ingangsdatum")?)?,
                    begindatum: day,
                    stop: None,
                },
            ),
        );
    }
    for (_, (planned, product)) in first {
        out.entry((
            planned.participant_id.clone(),
            planned.financier.clone(),
            true,
        ))
        .or_insert(planned)
        .products
        .push(product);
    }

    // Stops: started allocations that ended, or whose participant's care
    // ended (a registered end not processed yet).
    let rows = sqlx::query(
        "SELECT a.id, a.participant_id, a.toewijzing_nummer, a.product_categorie, a.product_code, a.ingangsdatum, \
                a.einddatum, a.reden_wijziging, f.kind, f.code, \
                (SELECT e.detail FROM allocation_events e WHERE e.allocation_id = a.id AND e.status = 'started' \
                  ORDER BY e.created_at DESC LIMIT 1) AS started, \
                (SELECT pe.id FROM participant_ends pe WHERE pe.participant_id = a.participant_id \
                  AND pe.processed_at IS NULL AND pe.end_date <= $2 ORDER BY pe.end_date LIMIT 1) AS end_id \
         FROM allocations a JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1 AND a.status = 'started' \
           AND (a.einddatum < $2 OR EXISTS (SELECT 1 FROM participant_ends pe WHERE pe.participant_id = a.participant_id \
                AND pe.processed_at IS NULL AND pe.end_date <= $2))",
    )
    .bind(tenant)
    .bind(&today)
    .fetch_all(&mut **tx)
    .await
    .context("cannot read allocations to stop")?;
    for r in rows {
        let Some(kind) = Kind::parse(&r.try_get::<String, _>("kind")?) else {
            continue;
        };
        let einddatum = r
            .try_get::<Option<String>, _>("einddatum")?
            .map(|d| date(&d))
            .transpose()?;
        let end_id: Option<String> = r.try_get("end_id")?;
        let (end, reden) = match &end_id {
            Some(id) => {
                let row =
                    sqlx::query("SELECT end_date, reason_code FROM participant_ends WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut **tx)
                        .await?;
                let d = date(&row.try_get::<String, _>("end_date")?)?;
                (
                    einddatum.map_or(d, |e| e.min(d)),
                    row.try_get::<String, _>("reason_code")?,
                )
            }
            None => match einddatum {
                Some(e) if e < opts.today => {
                    let reden: Option<String> = r.try_get("reden_wijziging")?;
                    (e, reden_beeindiging_for(reden.as_deref()).to_string())
                }
                _ => continue,
            },
        };
        let started: Option<String> = r.try_get("started")?;
        let begindatum = started
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
            .and_then(|v| v.get("begindatum")?.as_str()?.parse().ok());
        let ingangsdatum = date(&r.try_get::<String, _>("ingangsdatum")?)?;
        let begindatum: NaiveDate = begindatum.unwrap_or(ingangsdatum);
        let financier = FinancierKey::new(kind, &r.try_get::<String, _>("code")?);
        let participant_id: String = r.try_get("participant_id")?;
        let planned = out
            .entry((participant_id.clone(), financier.clone(), false))
            .or_insert(Planned {
                participant_id,
                financier,
                start: false,
                products: Vec::new(),
                end_ids: Vec::new(),
            });
        if let Some(id) = end_id
            && !planned.end_ids.contains(&id)
        {
            planned.end_ids.push(id);
        }
        planned.products.push(Product {
            allocation_id: r.try_get("id")?,
            toewijzing_nummer: r.try_get("toewijzing_nummer")?,
            product: ProductKey::new(
                &r.try_get::<Option<String>, _>("product_categorie")?
                    .unwrap_or_default(),
                &r.try_get::<Option<String>, _>("product_code")?
                    .unwrap_or_default(),
            ),
            ingangsdatum,
            begindatum,
            stop: Some((end.max(begindatum), reden)),
        });
    }
    Ok(out.into_values().collect())
}

/// Builds and checks every planned message. A message that fails its own
/// check is an error: it is built from the record, so a failure means the
/// record holds something the standard does not allow, and sending it
/// would only return a rejection.
pub async fn build_all(
    tx: &mut Tx,
    schema: &'static Schema,
    tenant: &Tenant,
    mappings: &Mappings,
    planned: Vec<Planned>,
    opts: &RunOptions,
) -> Result<(Vec<Built>, Vec<super::Notice>)> {
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
            opts.today,
        )?;
        let client = super::build::client_block(&mut b, &row)?;
        let list = b.add(
            client,
            if p.start {
                "StartProducten"
            } else {
                "StopProducten"
            },
        )?;
        for prod in &p.products {
            let sp = b.add(
                list,
                if p.start {
                    "StartProduct"
                } else {
                    "StopProduct"
                },
            )?;
            b.value(sp, "ToewijzingNummer", &prod.toewijzing_nummer)?;
            let pr = b.add(sp, "Product")?;
            b.value(pr, "Categorie", &prod.product.categorie)?;
            if !prod.product.code.is_empty() {
                b.value(pr, "Code", &prod.product.code)?;
            }
            b.value(sp, "ToewijzingIngangsdatum", &prod.ingangsdatum.to_string())?;
            b.value(sp, "Begindatum", &prod.begindatum.to_string())?;
            if let Some((end, reden)) = &prod.stop {
                b.value(sp, "RedenBeeindiging", reden)?;
                b.value(sp, "Einddatum", &end.to_string())?;
            }
            b.value(sp, "StatusAanlevering", "1")?;
        }
        let message = b.msg;
        let (xml, checked) = istandaard::check_outgoing(&message, &Limits::outgoing())?;
        if !checked.findings.is_empty() {
            for f in &checked.findings {
                notices.push(super::Notice {
                    kind: "not_sent".into(),
                    participant_id: Some(p.participant_id.clone()),
                    allocation_id: p.products.first().map(|x| x.allocation_id.clone()),
                    toewijzing_nummer: None,
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
                .map(|x| x.toewijzing_nummer.clone())
                .collect(),
            kind: if p.start { "start" } else { "stop" },
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

/// Puts a start or stop in the outbox and moves its allocations on.
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
    let ts = now();
    for p in &m.planned.products {
        let (status, detail) = match &p.stop {
            None => (
                "started",
                serde_json::json!({ "begindatum": p.begindatum.to_string() }),
            ),
            Some((end, reden)) => (
                "stopped",
                serde_json::json!({
                    "begindatum": p.begindatum.to_string(),
                    "einddatum": end.to_string(),
                    "reden_beeindiging": reden,
                }),
            ),
        };
        sqlx::query("UPDATE allocations SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(&ts)
            .bind(&p.allocation_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO allocation_events (id, allocation_id, message_id, status, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind(&p.allocation_id)
        .bind(&message_id)
        .bind(status)
        .bind(detail.to_string())
        .bind(&ts)
        .execute(&mut **tx)
        .await?;
    }
    for id in &m.planned.end_ids {
        sqlx::query(
            "UPDATE participant_ends SET processed_at = $1 WHERE id = $2 AND tenant_id = $3",
        )
        .bind(&ts)
        .bind(id)
        .bind(&tenant.id)
        .execute(&mut **tx)
        .await?;
    }
    m.sent.message_id = Some(message_id);
    Ok(())
}

/// Registers the end of a participant's care; the next run stops every
/// started allocation with the reason's RedenBeeindiging.
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
    let code = reason_code(reason).with_context(|| format!("unknown reason {reason:?}"))?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO participant_ends (id, tenant_id, participant_id, end_date, reason, reason_code, registered_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(participant_id)
    .bind(end_date.to_string())
    .bind(reason)
    .bind(code)
    .bind(registered_by)
    .bind(now())
    .execute(&mut *w.tx)
    .await?;
    Ok(id)
}
