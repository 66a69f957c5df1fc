//! Invoices: the declaration of a financier paid on invoice (UWV, a
//! municipality's Participatiewet department, a social-impact contract).
//!
//! The lines come from the same computation as every WMO323/JW323
//! ([`super::compute`]): registered days split over allocations, converted
//! and priced, capped by what the allocation allows, compared with what was
//! declared before. Here an allocation is an order (opdracht) and the price
//! may be the order's own. Per financier, period and order one UBL Invoice
//! holds the new debits (a Dutch public buyer processes an invoice against
//! one purchase order), and one CreditNote the credits of lines invoiced
//! before, naming the invoices it credits: a correction is never a silent
//! second invoice and never lost. Both are checked with the EN 16931 rules
//! before they may be stored; a finding holds the order's documents back
//! (both, so a correction cannot go half) with a notice for a person.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use sqlx::Row;

use super::compute::{Line, Snapshot};
use super::{DeclarationSummary, Notice, RunOptions, build};
use crate::adapter::ubl::{
    self, Dec, Document, InvoiceSettings, Kind, Party, TaxSubtotal, Totals, VatSettings,
    config::PartySettings,
};
use crate::mapping::{Eenheid, Mapping, Mappings, Period, Standard};
use crate::record::apply::Tx;

/// A checked invoice or credit note waiting to be stored.
pub struct Generated {
    pub summary: DeclarationSummary,
    pub document: Document,
    pub xml: String,
    pub financier_id: String,
    pub period: Period,
    /// (line, its reference) in document order.
    pub lines: Vec<(Line, String)>,
}

/// Invoice lines declared before, by reference: the invoice that holds each
/// (number, issue date), for the credit note that cancels it.
pub async fn earlier(
    tx: &mut Tx,
    tenant: &str,
) -> Result<HashMap<String, (String, Option<String>)>> {
    let rows = sqlx::query(
        "SELECT p.referentie_nummer, d.declaratie_nummer, d.issue_date FROM prestaties p \
         JOIN declarations d ON d.id = p.declaration_id WHERE p.tenant_id = $1 AND p.standard = 'ubl'",
    )
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(
            r.try_get("referentie_nummer")?,
            (r.try_get("declaratie_nummer")?, r.try_get("issue_date")?),
        );
    }
    Ok(out)
}

/// Builds and checks the invoices and credit notes of every invoiced
/// financier among `groups` (financier, period, lines).
pub fn build_all(
    snap: &Snapshot,
    mappings: &Mappings,
    opts: &RunOptions,
    groups: &[(String, Period, Vec<&Line>)],
    earlier: &HashMap<String, (String, Option<String>)>,
    notices: &mut Vec<Notice>,
) -> Vec<Generated> {
    let mut out = Vec::new();
    for (financier_id, period, lines) in groups {
        let Some(first) = lines.first() else { continue };
        let fin = &snap.allocations[first.allocation].financier;
        let Some(mapping) = mappings.get(fin) else {
            continue;
        };
        if mapping.financier.standard != Standard::Ubl {
            continue;
        }
        // One order per invoice; lines of an allocation without an order
        // number go together and are held back by the order-reference rule.
        let mut by_order: BTreeMap<Option<&str>, Vec<&Line>> = BTreeMap::new();
        for l in lines {
            let a = &snap.allocations[l.allocation];
            by_order
                .entry(a.order.number.as_deref())
                .or_default()
                .push(l);
        }
        for (order, mut lines) in by_order {
            lines.sort_by_key(|l| {
                let a = &snap.allocations[l.allocation];
                (a.participant, a.product.code.clone(), l.period.start)
            });
            let credits: Vec<&Line> = lines
                .iter()
                .copied()
                .filter(|l| l.credits.is_some())
                .collect();
            let debits: Vec<&Line> = lines
                .iter()
                .copied()
                .filter(|l| l.credits.is_none())
                .collect();
            let ctx = Ctx {
                snap,
                mappings,
                mapping,
                opts,
                period: *period,
                order,
                earlier,
            };
            let mut docs = Vec::new();
            let mut held = false;
            for (kind, part) in [(Kind::CreditNote, credits), (Kind::Invoice, debits)] {
                if part.is_empty() {
                    continue;
                }
                match ctx.build(kind, &part) {
                    Ok(g) => docs.push(g),
                    Err(findings) => {
                        held = true;
                        let a = &snap.allocations[part[0].allocation];
                        for f in findings {
                            notices.push(Notice {
                                kind: "not_sent".into(),
                                participant_id: None,
                                allocation_id: Some(a.id.clone()),
                                toewijzing_nummer: None,
                                period: Some(format!("{}/{}", period.start, period.end)),
                                rule: Some(f.rule.clone()),
                                nl: format!(
                                    "{} aan {fin} (order {}) niet verzonden: {} ({})",
                                    if kind == Kind::Invoice {
                                        "Factuur"
                                    } else {
                                        "Creditnota"
                                    },
                                    order.unwrap_or("-"),
                                    f.nl,
                                    f.path
                                ),
                                en: format!(
                                    "{} to {fin} (order {}) not sent: {} ({})",
                                    kind.name(),
                                    order.unwrap_or("-"),
                                    f.en,
                                    f.path
                                ),
                            });
                        }
                    }
                }
            }
            if !held {
                for mut g in docs {
                    g.financier_id = financier_id.clone();
                    out.push(g);
                }
            }
        }
    }
    out
}

struct Ctx<'a> {
    snap: &'a Snapshot,
    mappings: &'a Mappings,
    mapping: &'a Mapping,
    opts: &'a RunOptions,
    period: Period,
    order: Option<&'a str>,
    earlier: &'a HashMap<String, (String, Option<String>)>,
}

fn party(p: &PartySettings) -> Party {
    let company = p.company_id();
    Party {
        endpoint: company.clone(),
        identification: None,
        trading_name: Some(p.name.clone()),
        street: Some(p.street.clone()),
        city: Some(p.city.clone()),
        postal_zone: Some(p.postal_zone.clone()),
        country: Some(p.country.clone()),
        vat_id: p.vat_id.clone(),
        registration_name: Some(p.name.clone()),
        company_id: company.map(|(s, id)| (Some(s), id)),
        contact_name: None,
        contact_phone: p.phone.clone(),
        contact_email: p.email.clone(),
    }
}

impl Ctx<'_> {
    fn settings(&self) -> Option<&InvoiceSettings> {
        self.mapping.invoice.as_ref()
    }

    /// One document with its lines, checked; the findings when it fails.
    fn build(
        &self,
        kind: Kind,
        lines: &[&Line],
    ) -> Result<Generated, Vec<crate::finding::Finding>> {
        let Some(s) = self.settings() else {
            return Err(vec![ubl::decode::finding(
                "LOKET-SETTINGS",
                "invoice",
                None,
                "",
                "",
            )]);
        };
        let number = build::new_identifier(12);
        let issue = self.opts.today;
        let due = issue + chrono::Days::new(u64::from(s.payment_days));
        let mut doc = Document::new(kind);
        doc.customization_id = Some(s.customization.id());
        doc.profile_id = s.customization.profile();
        doc.id = Some(number.clone());
        doc.issue_date = Some(issue.to_string());
        doc.due_date = Some(due.to_string());
        doc.type_code = Some(match kind {
            Kind::Invoice => "380".into(),
            Kind::CreditNote => "381".into(),
        });
        doc.currency = Some(s.currency.clone());
        doc.buyer_reference = s
            .buyer_reference
            .clone()
            .or_else(|| self.order.map(str::to_string));
        // The invoice period covers every line's: a correction of an
        // earlier month (a credit, a new debit) lies before the run's
        // period, and Peppol refuses a line period outside the invoice's
        // (PEPPOL-EN16931-R110/R111).
        let start = lines
            .iter()
            .map(|l| l.period.start)
            .fold(self.period.start, std::cmp::min);
        let end = lines
            .iter()
            .map(|l| l.period.end)
            .fold(self.period.end, std::cmp::max);
        doc.period = Some((Some(start.to_string()), Some(end.to_string())));
        doc.order_reference = self.order.map(str::to_string);
        doc.seller = party(&s.seller);
        doc.buyer = party(&s.buyer);
        doc.payment_means_code = Some("30".into());
        doc.payment_id = Some(number.clone());
        doc.payee_account = Some(s.iban.clone());
        doc.payment_terms = Some(format!(
            "Betaling binnen {n} dagen / payment within {n} days",
            n = s.payment_days
        ));
        let mut credited: Vec<(String, Option<String>)> = Vec::new();
        let mut numbered = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let reference = build::new_identifier(20);
            doc.lines.push(self.line(i + 1, l, &s.vat));
            if let Some(c) = &l.credits
                && let Some(inv) = self.earlier.get(c)
                && !credited.contains(inv)
            {
                credited.push(inv.clone());
            }
            numbered.push(((*l).clone(), reference));
        }
        doc.billing_references = credited;
        let net = doc
            .lines
            .iter()
            .filter_map(|l| l.amount)
            .fold(Dec::cents(0), |a, b| a + b);
        let pct = Dec::int(i64::from(s.vat.percent()));
        let tax = (net * pct * Dec { units: 1, scale: 2 }).round(2);
        let (reason_code, reason) = match &s.vat {
            VatSettings::Exempt { reason, code } => (code.clone(), Some(reason.clone())),
            VatSettings::Standard { .. } => (None, None),
        };
        doc.tax_total = Some(tax);
        doc.subtotals = vec![TaxSubtotal {
            taxable: net,
            amount: tax,
            category: s.vat.category().into(),
            percent: Some(pct),
            exemption_reason_code: reason_code,
            exemption_reason: reason,
        }];
        doc.totals = Totals {
            line_extension: Some(net),
            tax_exclusive: Some(net),
            tax_inclusive: Some(net + tax),
            payable: Some(net + tax),
            ..Totals::default()
        };
        let (xml, checked) = match ubl::check_outgoing(&doc, &s.checks) {
            Ok(c) => c,
            Err(e) => {
                return Err(vec![ubl::decode::finding(
                    "XSD-TYPE",
                    kind.name(),
                    None,
                    &e.to_string(),
                    &e.to_string(),
                )]);
            }
        };
        let findings = checked.findings;
        if !findings.is_empty() {
            return Err(findings);
        }
        let cents = net.to_cents().unwrap_or(0) + tax.to_cents().unwrap_or(0);
        let fin = &self.mapping.financier.key;
        Ok(Generated {
            summary: DeclarationSummary {
                id: None,
                message_id: None,
                bericht: kind.name().to_string(),
                financier: fin.to_string(),
                declaratie_nummer: number,
                period_begin: self.period.start.to_string(),
                period_end: self.period.end.to_string(),
                debit_lines: if kind == Kind::Invoice {
                    lines.len()
                } else {
                    0
                },
                credit_lines: if kind == Kind::CreditNote {
                    lines.len()
                } else {
                    0
                },
                total_cents: if kind == Kind::Invoice { cents } else { -cents },
                file: None,
            },
            document: doc,
            xml,
            financier_id: String::new(),
            period: self.period,
            lines: numbered,
        })
    }

    /// One invoice line: the participant's own reference (never the BSN),
    /// the service, the period, the quantity in the unit the price is for.
    fn line(&self, n: usize, l: &Line, vat: &VatSettings) -> ubl::Line {
        let a = &self.snap.allocations[l.allocation];
        // A results claim is invoiced as its result's product, whatever
        // the order it falls under.
        let key = l.claim.as_ref().map_or(&a.product, |c| &c.product);
        let product = self.mappings.product(&a.financier, key).ok();
        let d = &l.declared;
        let participant = a
            .order
            .client_reference
            .clone()
            .unwrap_or_else(|| self.snap.participants[a.participant].id.clone());
        // Minutes on an hourly price: the price stays per hour, for 60
        // minutes, and the amount is the mapping's (hour price x minutes /
        // 60, to the cent), so quantity x price / base equals the amount.
        let hourly =
            d.eenheid == Eenheid::Minuut && product.is_some_and(|p| p.eenheid() == Eenheid::Uur);
        let (quantity, unit, price, base) = match (d.product_tarief, hourly) {
            (_, true) => {
                let per_hour = a.order.price_cents.or_else(|| {
                    product
                        .and_then(|p| p.tariff(l.period.start).ok())
                        .map(|t| t.price_cents)
                });
                (
                    Dec::int(d.volume as i64),
                    "MIN".to_string(),
                    Dec::cents(per_hour.unwrap_or(0) as i64),
                    Some(Dec::int(60)),
                )
            }
            (Some(t), false) => (
                Dec::int(d.volume as i64),
                product
                    .map(|p| p.price_basis.unit_code())
                    .unwrap_or("C62")
                    .to_string(),
                Dec::cents(t as i64),
                None,
            ),
            // An amount without a price per unit: one piece at the amount.
            (None, false) => (
                Dec::int(1),
                "C62".to_string(),
                Dec::cents(d.bedrag as i64),
                None,
            ),
        };
        let name = match &l.claim {
            Some(c) => c.result_name.clone(),
            None => product.map_or_else(|| key.code.clone(), |p| p.name.clone()),
        };
        let description = match &l.claim {
            Some(c) => format!("Deelnemer/participant {participant}. {}", c.description()),
            None => format!(
                "Deelnemer/participant {participant}, {} t/m {}",
                l.period.start.format("%d-%m-%Y"),
                l.period.end.format("%d-%m-%Y")
            ),
        };
        ubl::Line {
            id: n.to_string(),
            note: Some(participant.clone()),
            quantity: Some(quantity),
            unit_code: Some(unit),
            amount: Some(Dec::cents(d.bedrag as i64)),
            period: Some((
                Some(l.period.start.to_string()),
                Some(l.period.end.to_string()),
            )),
            order_line: a.order.line.clone(),
            item_name: Some(name),
            item_description: Some(description),
            item_id: Some(key.code.clone()),
            tax_category: Some(vat.category().into()),
            tax_percent: Some(Dec::int(i64::from(vat.percent()))),
            tax_exemption_reason: None,
            price: Some(price),
            base_quantity: base,
        }
    }
}
