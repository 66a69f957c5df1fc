//! Normalised declarations: every line a municipality is asked to pay, in
//! one shape whatever carried it, so it can compare what hundreds of
//! providers declare with what it granted without reading two formats.
//!
//! - A WMO323/JW323 line is what the municipality judged in its 325:
//!   `judged_prestaties`, owned by [`super::declared`] and only read here
//!   (approved -> `goedgekeurd`, rejected -> `afgekeurd` with its
//!   retourcodes, an approved debit a later approved credit names ->
//!   `gecrediteerd`). While that 325 waits in the outbox for a person's
//!   decision ([`super::decisions`]) its lines are still `ingediend`: loket's
//!   verdict is a proposal until the answer leaves. (A hold over a 325 that
//!   was answered at once, over HTTP or through the drop folder, holds
//!   nothing: those lines show their verdict.)
//! - A UBL invoice or credit note line is stored here, in
//!   `received_invoice_lines` (migration 0022), by [`record_invoice`] in the
//!   transaction that stores the document ([`super::apply::receive_document`]).
//!   Nothing judges an invoice yet, so its lines are `ingediend`.
//!
//! [`lines`] and [`totals`] read both with the same [`Filter`]; the API
//! (`GET /declarations/received`, JSON and CSV) and the municipality's pages
//! render them and hold no SQL of their own.

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{AnyPool, Row};

use super::apply::{Tx, insert_rows};
use crate::adapter::ubl::{self, Dec, Document};
use crate::mapping::{Kind, Mappings};
use crate::store::{Tenant, new_id};

/// A line's status as the export shows it (Dutch, as the municipality's
/// staff and its spreadsheets use them).
pub const INGEDIEND: &str = "ingediend";
pub const GOEDGEKEURD: &str = "goedgekeurd";
pub const AFGEKEURD: &str = "afgekeurd";
pub const GECREDITEERD: &str = "gecrediteerd";
pub const STATUSES: [&str; 4] = [INGEDIEND, GOEDGEKEURD, AFGEKEURD, GECREDITEERD];

/// The laws a line can be under: the 323's standard (iwmo -> wmo, ijw ->
/// jeugdwet), or for an invoice its allocation's financier (Participatiewet
/// when the invoice names none of the municipality's allocations: that is
/// what municipalities receive UBL invoices for).
pub const LAWS: [&str; 3] = ["wmo", "jeugdwet", "participatiewet"];

/// Which lines to read. Empty fields do not filter; `van`/`tot` select the
/// lines whose period overlaps them (dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The provider: AGB code of a 323's sender, or the seller's id on an
    /// invoice.
    pub aanbieder: Option<String>,
    pub van: Option<String>,
    pub tot: Option<String>,
    /// Product categorie or product code.
    pub product: Option<String>,
    /// One of [`STATUSES`].
    pub status: Option<String>,
    /// One of [`LAWS`].
    pub law: Option<String>,
    /// Lines per answer (totals always count every matching line).
    pub limit: i64,
    pub offset: i64,
    /// Whether the caller may see BSNs: otherwise [`lines`] leaves `bsn`
    /// empty, so a page or file for that caller cannot show one.
    pub show_bsn: bool,
}

/// The retourcodes of a rejected line, as stored (a JSON array).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Retourcodes(pub Vec<String>);

impl TryFrom<String> for Retourcodes {
    type Error = serde_json::Error;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(Retourcodes(serde_json::from_str(&s)?))
    }
}

/// One normalised declaration line (`schemas/api/received-declarations.json`).
/// Amounts are whole cents and always positive: the direction is
/// `debet_credit`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReceivedLine {
    pub id: String,
    /// `323` or `ubl`.
    pub source: String,
    pub message_id: String,
    /// AGB code of the 323's sender, or the seller's id on the invoice.
    pub aanbieder: String,
    /// The provider's name in the municipality's mapping, else the seller's
    /// name on the invoice ([`name_lines`]).
    pub provider_name: Option<String>,
    /// loket's participant, when the line names one the municipality knows.
    pub participant_id: Option<String>,
    /// Only for callers that may see it ([`Filter::show_bsn`]).
    pub bsn: Option<String>,
    /// The client number: as the invoice sent it, or the participant's own.
    pub client_reference: Option<String>,
    pub law: String,
    pub product_categorie: Option<String>,
    pub product_code: Option<String>,
    /// DeclaratieNummer or invoice number.
    pub document: String,
    /// ReferentieNummer or invoice line id.
    pub line_reference: String,
    /// The 323's ToewijzingNummer.
    pub toewijzing_nummer: Option<String>,
    /// The invoice's order reference (`order/line` when it names a line).
    pub order_reference: Option<String>,
    pub allocation_id: Option<String>,
    pub period_begin: String,
    pub period_end: String,
    /// Decimal number, always positive.
    pub volume: String,
    /// WJ756 eenheid (323) or UN/ECE recommendation 20 (UBL).
    pub unit: String,
    pub tarief_cents: Option<i64>,
    pub bedrag_cents: i64,
    /// `D` or `C`.
    pub debet_credit: String,
    /// One of [`STATUSES`].
    pub status: String,
    #[sqlx(try_from = "String")]
    pub retourcodes: Retourcodes,
    pub received_at: String,
}

impl ReceivedLine {
    /// The amount with its direction: a credit counts negative.
    pub fn signed_cents(&self) -> i64 {
        if self.debet_credit == "C" {
            -self.bedrag_cents
        } else {
            self.bedrag_cents
        }
    }
}

/// Both sources as one relation, with the filters that narrow each source
/// by its own indexes (`judged_prestaties_period`,
/// `received_invoice_lines_period`): $1 tenant, $2 aanbieder, $3 van, $4
/// tot, $5 product. Status and law are computed, so they filter outside.
const RECEIVED: &str = "SELECT j.id AS id, '323' AS source, j.message_id AS message_id, j.aanbieder AS aanbieder, \
     CAST(NULL AS TEXT) AS provider_name, j.participant_id AS participant_id, p.bsn AS bsn, \
     p.client_number AS client_reference, \
     CASE j.standard WHEN 'ijw' THEN 'jeugdwet' ELSE 'wmo' END AS law, \
     j.product_categorie AS product_categorie, j.product_code AS product_code, \
     j.declaratie_nummer AS document, j.referentie_nummer AS line_reference, \
     j.toewijzing_nummer AS toewijzing_nummer, CAST(NULL AS TEXT) AS order_reference, \
     j.allocation_id AS allocation_id, j.period_begin AS period_begin, j.period_end AS period_end, \
     CAST(j.volume AS TEXT) AS volume, j.eenheid AS unit, j.tarief_cents AS tarief_cents, \
     j.bedrag_cents AS bedrag_cents, j.debet_credit AS debet_credit, \
     CASE WHEN EXISTS (SELECT 1 FROM declaration_holds h JOIN outbox o ON o.message_id = h.retour_id \
         WHERE h.tenant_id = j.tenant_id AND h.message_id = j.message_id AND h.released_at IS NULL \
         AND o.state = 'held') THEN 'ingediend' \
       WHEN j.status = 'rejected' THEN 'afgekeurd' WHEN j.credited_by IS NOT NULL THEN 'gecrediteerd' \
       ELSE 'goedgekeurd' END AS status, \
     j.retourcodes AS retourcodes, j.created_at AS received_at \
   FROM judged_prestaties j LEFT JOIN participants p ON p.id = j.participant_id \
   WHERE j.tenant_id = $1 AND ($2 IS NULL OR j.aanbieder = $2) AND ($4 IS NULL OR j.period_begin <= $4) \
     AND ($3 IS NULL OR j.period_end >= $3) \
     AND ($5 IS NULL OR j.product_categorie = $5 OR j.product_code = $5) \
   UNION ALL \
   SELECT r.id, 'ubl', r.message_id, r.seller, r.seller_name, r.participant_id, p.bsn, \
     r.client_reference, r.law, r.product_categorie, r.product_code, r.invoice_number, r.line_id, \
     CAST(NULL AS TEXT), \
     CASE WHEN r.order_line IS NULL THEN r.order_reference \
       ELSE COALESCE(r.order_reference, '') || '/' || r.order_line END, \
     r.allocation_id, r.period_begin, r.period_end, r.volume, r.unit, r.tarief_cents, r.bedrag_cents, \
     r.debet_credit, r.status, '[]', r.created_at \
   FROM received_invoice_lines r LEFT JOIN participants p ON p.id = r.participant_id \
   WHERE r.tenant_id = $1 AND ($2 IS NULL OR r.seller = $2) AND ($4 IS NULL OR r.period_begin <= $4) \
     AND ($3 IS NULL OR r.period_end >= $3) \
     AND ($5 IS NULL OR r.product_categorie = $5 OR r.product_code = $5)";

/// The lines statement ($6 status, $7 law, $8 limit, $9 offset); the query
/// plan check (`tests/query_plans.rs`) runs this very text.
pub fn lines_sql() -> String {
    format!(
        "WITH received AS ({RECEIVED}) SELECT * FROM received \
         WHERE ($6 IS NULL OR status = $6) AND ($7 IS NULL OR law = $7) \
         ORDER BY period_begin, aanbieder, document, line_reference, id LIMIT $8 OFFSET $9"
    )
}

/// The tenant's received lines matching `f`, in period order.
pub async fn lines(pool: &AnyPool, tenant: &Tenant, f: &Filter) -> Result<Vec<ReceivedLine>> {
    let mut rows: Vec<ReceivedLine> = sqlx::query_as(sqlx::AssertSqlSafe(lines_sql()))
        .bind(&tenant.id)
        .bind(f.aanbieder.as_deref())
        .bind(f.van.as_deref())
        .bind(f.tot.as_deref())
        .bind(f.product.as_deref())
        .bind(f.status.as_deref())
        .bind(f.law.as_deref())
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(pool)
        .await
        .context("reading the received declaration lines")?;
    if !f.show_bsn {
        for r in &mut rows {
            r.bsn = None;
        }
    }
    Ok(rows)
}

/// The totals of one group (a provider, a product or a month). Amounts are
/// net cents: a credit line counts negative, so a debit and the credit that
/// cancels it add up to nothing. `declared` counts every line, `approved`
/// the lines goedgekeurd or gecrediteerd (the credit itself is an approved
/// line that counts negative), `rejected` the lines afgekeurd; what is left
/// (declared - approved - rejected) is still ingediend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Total {
    #[serde(skip)]
    pub dimension: String,
    /// The AGB code or seller id, the product code (or categorie without a
    /// code), or the month (`YYYY-MM`, of the period's begin).
    pub key: String,
    /// A provider's name ([`Totals::name`]); empty for other groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub count: i64,
    pub declared_cents: i64,
    pub approved_cents: i64,
    pub rejected_cents: i64,
}

/// Totals per provider, per product and per month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub per_provider: Vec<Total>,
    pub per_product: Vec<Total>,
    pub per_month: Vec<Total>,
}

/// How the totals treat credits, for whoever reads them (JSON and CSV).
pub const CREDITS_NOTE: &str = "bedragen netto: een creditregel telt negatief / amounts are net: a credit line counts negative";

pub fn totals_sql() -> String {
    let group = |dimension: &str, key: &str, name: &str| {
        format!(
            "SELECT '{dimension}' AS dimension, {key} AS key, {name} AS name, COUNT(*) AS count, \
             CAST(SUM(signed) AS BIGINT) AS declared_cents, \
             CAST(SUM(CASE WHEN status IN ('goedgekeurd', 'gecrediteerd') THEN signed ELSE 0 END) AS BIGINT) \
               AS approved_cents, \
             CAST(SUM(CASE WHEN status = 'afgekeurd' THEN signed ELSE 0 END) AS BIGINT) AS rejected_cents \
             FROM shown GROUP BY {key}"
        )
    };
    format!(
        "WITH received AS ({RECEIVED}), shown AS (\
           SELECT aanbieder, provider_name, COALESCE(product_code, product_categorie, '') AS product, \
             substr(period_begin, 1, 7) AS month, status, \
             CASE WHEN debet_credit = 'C' THEN -bedrag_cents ELSE bedrag_cents END AS signed \
           FROM received WHERE ($6 IS NULL OR status = $6) AND ($7 IS NULL OR law = $7)) \
         {} UNION ALL {} UNION ALL {} ORDER BY dimension, key",
        group("aanbieder", "aanbieder", "MAX(provider_name)"),
        group("product", "product", "CAST(NULL AS TEXT)"),
        group("maand", "month", "CAST(NULL AS TEXT)"),
    )
}

/// Totals per provider, product and month of every line matching `f`
/// (its limit and offset do not apply).
pub async fn totals(pool: &AnyPool, tenant: &Tenant, f: &Filter) -> Result<Totals> {
    let rows: Vec<Total> = sqlx::query_as(sqlx::AssertSqlSafe(totals_sql()))
        .bind(&tenant.id)
        .bind(f.aanbieder.as_deref())
        .bind(f.van.as_deref())
        .bind(f.tot.as_deref())
        .bind(f.product.as_deref())
        .bind(f.status.as_deref())
        .bind(f.law.as_deref())
        .fetch_all(pool)
        .await
        .context("totalling the received declaration lines")?;
    let mut t = Totals::default();
    for r in rows {
        match r.dimension.as_str() {
            "aanbieder" => t.per_provider.push(r),
            "product" => t.per_product.push(r),
            _ => t.per_month.push(r),
        }
    }
    Ok(t)
}

/// The providers the municipality's mappings name (kind aanbieder): AGB
/// code -> name. Names live in configuration, not in the record.
fn provider_names(mappings: &Mappings) -> HashMap<&str, &str> {
    mappings
        .iter()
        .filter(|m| m.financier.key.kind == Kind::Aanbieder)
        .map(|m| (m.financier.key.code.as_str(), m.financier.name.as_str()))
        .collect()
}

/// Names each line's provider from the municipality's mappings; a seller
/// no mapping names keeps the name on its invoice.
pub fn name_lines(mappings: &Mappings, lines: &mut [ReceivedLine]) {
    let names = provider_names(mappings);
    for l in lines {
        if let Some(n) = names.get(l.aanbieder.as_str()) {
            l.provider_name = Some((*n).to_string());
        }
    }
}

impl Totals {
    /// Names the providers as [`name_lines`] does.
    pub fn name(&mut self, mappings: &Mappings) {
        let names = provider_names(mappings);
        for t in &mut self.per_provider {
            if let Some(n) = names.get(t.key.as_str()) {
                t.name = Some((*n).to_string());
            }
        }
    }
}

/// What the municipality's record knows of an order reference: the
/// allocation it names (by ToewijzingNummer or order number), its
/// participant, product and law.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Ordered {
    id: String,
    participant_id: String,
    product_categorie: Option<String>,
    kind: String,
}

async fn ordered(tx: &mut Tx, tenant: &str, reference: &str) -> Result<Option<Ordered>> {
    sqlx::query_as(
        "SELECT a.id, a.participant_id, a.product_categorie, f.kind FROM allocations a \
         JOIN financiers f ON f.id = a.financier_id \
         WHERE a.tenant_id = $1 AND (a.toewijzing_nummer = $2 OR a.order_number = $2) \
         ORDER BY a.ingangsdatum DESC, a.id LIMIT 1",
    )
    .bind(tenant)
    .bind(reference)
    .fetch_optional(&mut **tx)
    .await
    .context("looking up the invoice's order reference")
}

async fn participant_by_client_number(
    tx: &mut Tx,
    tenant: &str,
    client: &str,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT id FROM participants WHERE tenant_id = $1 AND client_number = $2 ORDER BY id LIMIT 1",
    )
    .bind(tenant)
    .bind(client)
    .fetch_optional(&mut **tx)
    .await
    .context("looking up the invoice's client number")?;
    Ok(match row {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

/// One line to store.
struct NewLine {
    id: String,
    line_id: String,
    credits: Option<String>,
    client: String,
    participant: Option<String>,
    order_line: Option<String>,
    allocation: Option<String>,
    law: String,
    categorie: Option<String>,
    product: String,
    begin: String,
    end: String,
    volume: String,
    unit: String,
    tarief: Option<i64>,
    bedrag: i64,
    currency: String,
    dc: &'static str,
}

/// Stores the lines of a received invoice or credit note (`message_id`),
/// in the caller's transaction so the lines exist exactly when the
/// document does. The participant is linked by the client number, the
/// allocation by the order reference, when the municipality's record has
/// them; a line without a period has the document's, else its issue date.
pub async fn record_invoice(
    tx: &mut Tx,
    tenant: &str,
    message_id: &str,
    seller: &str,
    doc: &Document,
    ts: &str,
) -> Result<()> {
    let normalised = ubl::decode::lines(doc);
    let order = match doc.order_reference.as_deref().filter(|o| !o.is_empty()) {
        Some(o) => ordered(tx, tenant, o).await?,
        None => None,
    };
    let fallback_day = doc
        .issue_date
        .clone()
        .unwrap_or_else(|| crate::registration::today().to_string());
    let mut clients: HashMap<String, Option<String>> = HashMap::new();
    let mut rows = Vec::with_capacity(normalised.len());
    for (line, source) in normalised.into_iter().zip(&doc.lines) {
        let participant = match clients.get(&line.participant) {
            Some(p) => p.clone(),
            None => {
                let p = if line.participant.is_empty() {
                    None
                } else {
                    participant_by_client_number(tx, tenant, &line.participant).await?
                };
                clients.insert(line.participant.clone(), p.clone());
                p
            }
        };
        let participant = participant.or_else(|| order.as_ref().map(|o| o.participant_id.clone()));
        let begin = line
            .period_start
            .clone()
            .unwrap_or_else(|| fallback_day.clone());
        rows.push(NewLine {
            id: new_id(),
            credits: line.credits,
            client: line.participant,
            participant,
            order_line: source.order_line.clone(),
            allocation: order.as_ref().map(|o| o.id.clone()),
            law: order
                .as_ref()
                .map(|o| o.kind.clone())
                .filter(|k| k != Kind::Aanbieder.as_str())
                .unwrap_or_else(|| Kind::Participatiewet.as_str().to_string()),
            categorie: order.as_ref().and_then(|o| o.product_categorie.clone()),
            product: line.product,
            end: line.period_end.unwrap_or_else(|| begin.clone()),
            begin,
            volume: line.quantity,
            unit: line.unit,
            tarief: source.price.map(|p| p.round(2)).and_then(Dec::to_cents),
            bedrag: line.amount_cents,
            currency: line.currency,
            dc: match line.debit_credit {
                crate::adapter::lines::DebitCredit::Debit => "D",
                crate::adapter::lines::DebitCredit::Credit => "C",
            },
            line_id: line.line_id,
        });
    }
    let number = doc.id.clone().unwrap_or_default();
    let kind = doc.kind.name();
    let seller_name = doc
        .seller
        .registration_name
        .clone()
        .or_else(|| doc.seller.trading_name.clone());
    insert_rows(
        tx,
        "INSERT INTO received_invoice_lines (id, tenant_id, message_id, seller, seller_name, document_kind, \
         invoice_number, line_id, credits, client_reference, participant_id, order_reference, order_line, \
         allocation_id, law, product_categorie, product_code, period_begin, period_end, volume, unit, \
         tarief_cents, bedrag_cents, currency, debet_credit, status, created_at)",
        "",
        27,
        &rows,
        |q, r| {
            q.bind(&r.id)
                .bind(tenant)
                .bind(message_id)
                .bind(seller)
                .bind(seller_name.clone())
                .bind(kind)
                .bind(number.clone())
                .bind(&r.line_id)
                .bind(r.credits.as_deref())
                .bind(&r.client)
                .bind(r.participant.as_deref())
                .bind(doc.order_reference.clone())
                .bind(r.order_line.as_deref())
                .bind(r.allocation.as_deref())
                .bind(&r.law)
                .bind(r.categorie.as_deref())
                .bind(&r.product)
                .bind(&r.begin)
                .bind(&r.end)
                .bind(&r.volume)
                .bind(&r.unit)
                .bind(r.tarief)
                .bind(r.bedrag)
                .bind(&r.currency)
                .bind(r.dc)
                .bind(INGEDIEND)
                .bind(ts)
        },
    )
    .await
    .context("storing the received invoice lines")?;
    Ok(())
}

/// Retention: the client number an invoice quoted goes with the
/// participant's other identifying data; the line's amounts stay for the
/// fiscal retention duty.
pub async fn pseudonymise(tx: &mut Tx, tenant: &str, participant: &str) -> Result<()> {
    sqlx::query(
        "UPDATE received_invoice_lines SET client_reference = '' WHERE tenant_id = $1 AND participant_id = $2",
    )
    .bind(tenant)
    .bind(participant)
    .execute(&mut **tx)
    .await
    .context("pseudonymising received invoice lines")?;
    Ok(())
}
