//! Orders (opdrachten) of financiers paid on invoice.
//!
//! UWV and a municipality's Participatiewet department send no 301: the
//! provider registers the order itself, and it becomes an allocation on the
//! participant's one record beside the Wmo and Jeugdwet toewijzingen, so the
//! engine invoices it from the same daily registrations
//! ([`crate::engine::invoice`]). `POST /allocations` and the demo of
//! `loket serve --demo` both come through [`register`], so an order the
//! demo shows is one the API would have taken.

use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::Row;

use super::apply;
use crate::adapter::istandaard::rules::elfproef;
use crate::mapping::{FinancierKey, Kind, Mappings, PriceBasis, Standard};
use crate::store::{Store, new_id, now};

/// An order as `schemas/api/allocation.json` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Order {
    #[serde(default)]
    pub participant_id: Option<String>,
    #[serde(default)]
    pub bsn: Option<String>,
    pub financier: OrderFinancier,
    pub order_number: String,
    #[serde(default)]
    pub order_line: Option<String>,
    /// The product code of the service in the financier's mapping.
    pub service: String,
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub price_cents: Option<i64>,
    #[serde(default)]
    pub price_basis: Option<String>,
    /// The participant's reference at the financier: it goes on every
    /// invoice line instead of the BSN.
    pub client_reference: String,
    #[serde(default)]
    pub budget_cents: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderFinancier {
    pub kind: String,
    pub code: String,
}

/// Why an order was not taken: what a person reads (Dutch and English) and
/// the JSON path of the field at fault.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub nl: String,
    pub en: String,
    pub path: &'static str,
}

fn refuse(nl: impl Into<String>, en: impl Into<String>, path: &'static str) -> Refusal {
    Refusal {
        nl: nl.into(),
        en: en.into(),
        path,
    }
}

/// What [`register`] stored.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub participant_id: String,
    /// The allocation's ToewijzingNummer: order number, client reference
    /// and service, since one order may hold several participants and
    /// services.
    pub toewijzing_nummer: String,
    pub kind: Kind,
    pub price_basis: PriceBasis,
    /// False when the same order was registered before and is now changed.
    pub created: bool,
}

/// The outcome of [`register`]: stored, refused with a reason, or the
/// participant id is not one of this tenant's (`NotFound`, so another
/// tenant's ids are not revealed).
#[derive(Debug)]
pub enum Outcome {
    Stored(Registered),
    Refused(Refusal),
    NotFound,
}

/// Registers or changes an order in one transaction. Refused when the
/// financier is not an invoiced one in the tenant's mappings, the service is
/// not in its mapping, the price basis differs from the service's, the
/// dates are wrong, or the BSN fails the elfproef (the BSN itself is never
/// repeated in the reason).
pub async fn register(
    store: &Store,
    mappings: &Mappings,
    tenant: &str,
    order: &Order,
) -> anyhow::Result<Outcome> {
    let Some(kind) = Kind::parse(&order.financier.kind) else {
        return Ok(Outcome::Refused(refuse(
            "onbekende financier",
            "unknown financier",
            "/financier/kind",
        )));
    };
    let code = order.financier.code.as_str();
    let key = FinancierKey::new(kind, code);
    let Some(mapping) = mappings
        .get(&key)
        .filter(|m| m.financier.standard == Standard::Ubl)
    else {
        return Ok(Outcome::Refused(refuse(
            format!("{key} is geen factuurfinancier in de mappings"),
            format!("{key} is not an invoiced financier in the mappings"),
            "/financier",
        )));
    };
    let service = order.service.as_str();
    let Some(product) = mapping.products.iter().find(|p| p.key.code == service) else {
        return Ok(Outcome::Refused(refuse(
            format!("dienst {service} staat niet in de mapping van {key}"),
            format!("service {service} is not in the mapping of {key}"),
            "/service",
        )));
    };
    if let Some(basis) = order.price_basis.as_deref().and_then(PriceBasis::parse)
        && basis != product.price_basis
    {
        return Ok(Outcome::Refused(refuse(
            format!(
                "prijs per {} past niet bij dienst {service} (per {})",
                basis.as_str(),
                product.price_basis.as_str()
            ),
            format!(
                "a price per {} does not fit service {service} (per {})",
                basis.as_str(),
                product.price_basis.as_str()
            ),
            "/price_basis",
        )));
    }
    let Ok(from) = order.from.parse::<NaiveDate>() else {
        return Ok(Outcome::Refused(refuse(
            "from is geen datum",
            "from is not a date",
            "/from",
        )));
    };
    let to = match order.to.as_deref().map(str::parse::<NaiveDate>) {
        None => None,
        Some(Ok(d)) if d >= from => Some(d),
        _ => {
            return Ok(Outcome::Refused(refuse(
                "to is geen datum op of na from",
                "to is not a date on or after from",
                "/to",
            )));
        }
    };
    if let Some(bsn) = order.bsn.as_deref()
        && !elfproef(bsn)
    {
        return Ok(Outcome::Refused(refuse(
            "het BSN voldoet niet aan de elfproef",
            "the BSN fails the elfproef",
            "/bsn",
        )));
    }
    let nummer = format!(
        "{}:{}:{service}",
        order.order_number, order.client_reference
    );
    let mut w = store.begin_write().await?;
    let participant = match apply::participant_named(
        &mut w.tx,
        tenant,
        order.participant_id.as_deref(),
        order.bsn.as_deref(),
    )
    .await?
    {
        Some(p) => p,
        None => return Ok(Outcome::NotFound),
    };
    let fin_id = format!("{tenant}:{}-{code}", kind.as_str());
    sqlx::query(
        "INSERT INTO financiers (id, tenant_id, kind, code, name, standard) VALUES ($1, $2, $3, $4, $5, 'ubl') \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&fin_id)
    .bind(tenant)
    .bind(kind.as_str())
    .bind(code)
    .bind(&mapping.financier.name)
    .execute(&mut *w.tx)
    .await?;
    let offered = new_id();
    let row = sqlx::query(
        "INSERT INTO allocations (id, tenant_id, participant_id, financier_id, toewijzing_nummer, product_categorie, \
         product_code, ingangsdatum, einddatum, budget, status, updated_at, order_number, order_line, price_cents, \
         price_basis, client_reference) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'allocated', $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (tenant_id, financier_id, toewijzing_nummer) DO UPDATE SET \
           participant_id = excluded.participant_id, ingangsdatum = excluded.ingangsdatum, \
           einddatum = excluded.einddatum, budget = excluded.budget, order_line = excluded.order_line, \
           price_cents = excluded.price_cents, price_basis = excluded.price_basis, updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(&offered)
    .bind(tenant)
    .bind(&participant)
    .bind(&fin_id)
    .bind(&nummer)
    .bind(&product.key.categorie)
    .bind(&product.key.code)
    .bind(from.to_string())
    .bind(to.map(|d| d.to_string()))
    .bind(order.budget_cents)
    .bind(now())
    .bind(&order.order_number)
    .bind(order.order_line.as_deref())
    .bind(order.price_cents)
    .bind(product.price_basis.as_str())
    .bind(&order.client_reference)
    .fetch_one(&mut *w.tx)
    .await?;
    let id: String = row.try_get("id")?;
    w.commit().await?;
    Ok(Outcome::Stored(Registered {
        created: id == offered,
        id,
        participant_id: participant,
        toewijzing_nummer: nummer,
        kind,
        price_basis: product.price_basis,
    }))
}
