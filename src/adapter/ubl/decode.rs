//! UBL 2.1 XML -> [`Document`], checking the structure on the way, and the
//! document's [`lines`] as normalized declaration lines.
//!
//! The input goes through the same guards as every message
//! ([`crate::adapter::xml`]); once the root is identified as an Invoice or
//! CreditNote, every further problem is a [`Finding`], so whoever sent it
//! sees everything wrong at once.

use super::rules::business::{Direction, business};
use super::structure::{self, Structure};
use super::{AllowanceCharge, Dec, Document, Kind, Line, Party, TaxSubtotal, Totals};
use crate::adapter::istandaard::Limits;
use crate::adapter::lines::{DebitCredit, DeclarationLine};
use crate::adapter::xml::{self, Element, Family, XmlError};
use crate::finding::{Finding, Level};

/// Input that cannot be read as a UBL document at all.
pub type DecodeError = XmlError;

/// A document with every finding about it: structure and business rules.
#[derive(Debug, Clone)]
pub struct Checked {
    pub document: Document,
    /// What refuses the document: the structure and every fatal rule.
    pub findings: Vec<Finding>,
    /// Rules flagged as warnings: reported, never refusing.
    pub warnings: Vec<Finding>,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A finding about a UBL document; its rule id is the EN 16931 one (or
/// loket's own `UBL-*`/`LOKET-*`), with the catalogue's text plus a detail.
pub fn finding(
    rule: &str,
    path: &str,
    line: Option<u32>,
    detail_nl: &str,
    detail_en: &str,
) -> Finding {
    let (nl, en) = super::rules::text(rule);
    Finding {
        rule: rule.to_string(),
        retourcode: String::new(),
        path: path.to_string(),
        line,
        level: if rule.starts_with("XSD-") {
            Level::Structure
        } else {
            Level::Content
        },
        nl: format!("{nl} {detail_nl}").trim().to_string(),
        en: format!("{en} {detail_en}").trim().to_string(),
        class_node: None,
    }
}

/// Decodes `input` and checks it against the structure and the business
/// rules of EN 16931 and of the specification it claims (Peppol BIS,
/// NLCIUS), as a received document: loket's own business checks come on
/// top as warnings, so a received invoice is never refused for them.
pub fn check(input: &[u8], limits: &Limits) -> Result<Checked, DecodeError> {
    check_with(input, limits, Direction::Receipt)
}

/// [`check`], with loket's business checks as `direction` decides.
pub fn check_with(
    input: &[u8],
    limits: &Limits,
    direction: Direction<'_>,
) -> Result<Checked, DecodeError> {
    let (document, mut findings, tree) = decode(input, limits)?;
    let standard = super::rules::judge(&tree, document.kind, &super::rules::sets_for(&tree));
    let own = business(&tree, document.kind, direction);
    findings.extend(standard.errors);
    findings.extend(own.errors);
    let mut warnings = standard.warnings;
    warnings.extend(own.warnings);
    Ok(Checked {
        document,
        findings,
        warnings,
    })
}

/// Decodes and structurally checks one document; also returns the tree the
/// presence rules look at.
pub fn decode(
    input: &[u8],
    limits: &Limits,
) -> Result<(Document, Vec<Finding>, Element), DecodeError> {
    let tree = xml::read_tree(input, limits.max_bytes, limits.max_depth)?;
    let unknown = || XmlError::UnknownMessage {
        root: tree.name.clone(),
        namespace: tree.namespace.clone(),
        expected: Family::Ubl,
    };
    let s = structure::get().map_err(|_| unknown())?;
    let kind = match s.documents.get(&tree.name) {
        Some(def) if def.namespace == tree.namespace => match tree.name.as_str() {
            "Invoice" => Kind::Invoice,
            _ => Kind::CreditNote,
        },
        _ => return Err(unknown()),
    };
    let mut d = Decoder {
        s,
        findings: Vec::new(),
    };
    d.structure(&tree, kind.name());
    let doc = d.document(&tree, kind);
    Ok((doc, d.findings, tree))
}

struct Decoder {
    s: &'static Structure,
    findings: Vec<Finding>,
}

impl Decoder {
    fn push(&mut self, f: Finding) {
        if self.findings.len() < crate::adapter::istandaard::decode::MAX_FINDINGS {
            self.findings.push(f);
        }
    }

    /// Checks order and occurrence of the children of every aggregate
    /// structure.toml lists, and the namespaces of the elements.
    fn structure(&mut self, e: &Element, path: &str) {
        let ns = &self.s.namespaces;
        if let Some(seq) = self.s.aggregates.get(&e.name) {
            let mut pos = 0usize;
            let mut count = 0u32;
            for c in &e.children {
                let p = format!("{path}/{}", c.name);
                if c.namespace != ns.cac && c.namespace != ns.cbc && c.namespace != ns.ext {
                    self.push(finding(
                        "XSD-ORDER",
                        &p,
                        Some(c.line),
                        &format!("Namespace {:?} is hier niet toegestaan.", c.namespace),
                        &format!("Namespace {:?} is not allowed here.", c.namespace),
                    ));
                    continue;
                }
                let Some(idx) = seq.iter().position(|x| x.name == c.name) else {
                    self.push(finding(
                        "XSD-ORDER",
                        &p,
                        Some(c.line),
                        &format!("{} is geen element van {}.", c.name, e.name),
                        &format!("{} is not an element of {}.", c.name, e.name),
                    ));
                    continue;
                };
                if idx < pos || (idx == pos && count >= seq[idx].max) {
                    self.push(finding(
                        "XSD-ORDER",
                        &p,
                        Some(c.line),
                        &format!("{} staat hier niet op zijn plaats.", c.name),
                        &format!("{} is out of place here.", c.name),
                    ));
                    continue;
                }
                if idx > pos {
                    self.missing(seq, pos, count, idx, path, c.line);
                    pos = idx;
                    count = 0;
                }
                count += 1;
            }
            self.missing(seq, pos, count, seq.len(), path, e.line);
        }
        for c in &e.children {
            if self.s.is_aggregate(&c.name) {
                self.structure(c, &format!("{path}/{}", c.name));
            }
        }
    }

    fn missing(
        &mut self,
        seq: &[structure::Child],
        pos: usize,
        count: u32,
        until: usize,
        path: &str,
        line: u32,
    ) {
        for (k, child) in seq.iter().enumerate().take(until).skip(pos) {
            let have = if k == pos { count } else { 0 };
            if have < child.min {
                self.push(finding(
                    "XSD-MISSING",
                    &format!("{path}/{}", child.name),
                    Some(line),
                    "",
                    "",
                ));
            }
        }
    }

    fn dec(&mut self, e: Option<&Element>, path: &str) -> Option<Dec> {
        let e = e?;
        let text = e.text.trim();
        // Too many decimals is a business rule (BR-DEC-*), judged there;
        // here only what is not a number at all.
        match Dec::parse(text) {
            Some(d) => Some(d),
            None => {
                self.push(finding(
                    "XSD-TYPE",
                    path,
                    Some(e.line),
                    &format!("{text:?} is geen getal."),
                    &format!("{text:?} is not a number."),
                ));
                None
            }
        }
    }

    fn amount(&mut self, parent: &Element, name: &str, path: &str) -> Option<Dec> {
        self.dec(parent.child(name), &format!("{path}/{name}"))
    }

    fn document(&mut self, t: &Element, kind: Kind) -> Document {
        let def = &self.s.documents[kind.name()];
        let v = |p: &str| t.value(p).map(str::to_string);
        let root = kind.name();
        let mut doc = Document::new(kind);
        doc.customization_id = v("CustomizationID");
        doc.profile_id = v("ProfileID");
        doc.id = v("ID");
        doc.issue_date = v("IssueDate");
        doc.due_date = v("DueDate").or_else(|| v("PaymentMeans/PaymentDueDate"));
        doc.type_code = v(&def.type_code);
        doc.notes = t
            .children_named("Note")
            .map(|n| n.text.trim().to_string())
            .collect();
        doc.currency = v("DocumentCurrencyCode");
        doc.buyer_reference = v("BuyerReference");
        doc.period = t.child("InvoicePeriod").map(period);
        doc.order_reference = v("OrderReference/ID");
        doc.billing_references = t
            .children_named("BillingReference")
            .filter_map(|b| b.child("InvoiceDocumentReference"))
            .filter_map(|r| {
                Some((
                    r.value("ID")?.to_string(),
                    r.value("IssueDate").map(str::to_string),
                ))
            })
            .collect();
        if let Some(p) = t.at("AccountingSupplierParty/Party") {
            doc.seller = party(p);
        }
        if let Some(p) = t.at("AccountingCustomerParty/Party") {
            doc.buyer = party(p);
        }
        if let Some(pm) = t.child("PaymentMeans") {
            doc.payment_means_code = pm.value("PaymentMeansCode").map(str::to_string);
            doc.payment_id = pm.value("PaymentID").map(str::to_string);
            doc.payee_account = pm.value("PayeeFinancialAccount/ID").map(str::to_string);
        }
        doc.payment_terms = v("PaymentTerms/Note");
        for (i, ac) in t.children_named("AllowanceCharge").enumerate() {
            let path = format!("{root}/AllowanceCharge[{}]", i + 1);
            let amount = self.amount(ac, "Amount", &path).unwrap_or(Dec::ZERO);
            let percent = self.dec(ac.at("TaxCategory/Percent"), &path);
            doc.allowance_charges.push(AllowanceCharge {
                charge: ac.value("ChargeIndicator") == Some("true"),
                amount,
                category: ac.value("TaxCategory/ID").map(str::to_string),
                percent,
            });
        }
        // Only the TaxTotal in the document currency has subtotals (BR-53
        // allows a second one in the VAT accounting currency).
        let tax = t
            .children_named("TaxTotal")
            .find(|tt| tt.child("TaxSubtotal").is_some())
            .or_else(|| t.child("TaxTotal"));
        if let Some(tt) = tax {
            let path = format!("{root}/TaxTotal");
            doc.tax_total = self.amount(tt, "TaxAmount", &path);
            for (i, st) in tt.children_named("TaxSubtotal").enumerate() {
                let p = format!("{path}/TaxSubtotal[{}]", i + 1);
                let taxable = self.amount(st, "TaxableAmount", &p).unwrap_or(Dec::ZERO);
                let amount = self.amount(st, "TaxAmount", &p).unwrap_or(Dec::ZERO);
                let percent = self.dec(
                    st.at("TaxCategory/Percent"),
                    &format!("{p}/TaxCategory/Percent"),
                );
                doc.subtotals.push(TaxSubtotal {
                    taxable,
                    amount,
                    category: st.value("TaxCategory/ID").unwrap_or_default().to_string(),
                    percent,
                    exemption_reason_code: st
                        .value("TaxCategory/TaxExemptionReasonCode")
                        .map(str::to_string),
                    exemption_reason: st
                        .value("TaxCategory/TaxExemptionReason")
                        .map(str::to_string),
                });
            }
        }
        if let Some(mt) = t.child("LegalMonetaryTotal") {
            let p = format!("{root}/LegalMonetaryTotal");
            doc.totals = Totals {
                line_extension: self.amount(mt, "LineExtensionAmount", &p),
                tax_exclusive: self.amount(mt, "TaxExclusiveAmount", &p),
                tax_inclusive: self.amount(mt, "TaxInclusiveAmount", &p),
                allowance_total: self.amount(mt, "AllowanceTotalAmount", &p),
                charge_total: self.amount(mt, "ChargeTotalAmount", &p),
                prepaid: self.amount(mt, "PrepaidAmount", &p),
                rounding: self.amount(mt, "PayableRoundingAmount", &p),
                payable: self.amount(mt, "PayableAmount", &p),
            };
        }
        for (i, l) in t.children_named(&def.line).enumerate() {
            let p = format!("{root}/{}[{}]", def.line, i + 1);
            let q = l.child(&def.quantity);
            let line = Line {
                id: l.value("ID").unwrap_or_default().to_string(),
                note: l.value("Note").map(str::to_string),
                quantity: self.dec(q, &format!("{p}/{}", def.quantity)),
                unit_code: q.and_then(|q| q.attribute("unitCode")).map(str::to_string),
                amount: self.amount(l, "LineExtensionAmount", &p),
                period: l.child("InvoicePeriod").map(period),
                order_line: l.value("OrderLineReference/LineID").map(str::to_string),
                item_name: l.value("Item/Name").map(str::to_string),
                item_description: l.value("Item/Description").map(str::to_string),
                item_id: l
                    .value("Item/SellersItemIdentification/ID")
                    .or_else(|| l.value("Item/StandardItemIdentification/ID"))
                    .map(str::to_string),
                tax_category: l.value("Item/ClassifiedTaxCategory/ID").map(str::to_string),
                tax_percent: self.dec(
                    l.at("Item/ClassifiedTaxCategory/Percent"),
                    &format!("{p}/Item/ClassifiedTaxCategory/Percent"),
                ),
                tax_exemption_reason: l
                    .value("Item/ClassifiedTaxCategory/TaxExemptionReason")
                    .map(str::to_string),
                price: self.dec(l.at("Price/PriceAmount"), &format!("{p}/Price/PriceAmount")),
                base_quantity: self.dec(
                    l.at("Price/BaseQuantity"),
                    &format!("{p}/Price/BaseQuantity"),
                ),
            };
            doc.lines.push(line);
        }
        doc
    }
}

fn period(p: &Element) -> (Option<String>, Option<String>) {
    (
        p.value("StartDate").map(str::to_string),
        p.value("EndDate").map(str::to_string),
    )
}

fn with_scheme(e: Option<&Element>) -> Option<(Option<String>, String)> {
    let e = e?;
    let text = e.text.trim();
    (!text.is_empty()).then(|| {
        (
            e.attribute("schemeID").map(str::to_string),
            text.to_string(),
        )
    })
}

fn party(p: &Element) -> Party {
    let v = |path: &str| p.value(path).map(str::to_string);
    Party {
        endpoint: with_scheme(p.child("EndpointID")).map(|(s, id)| (s.unwrap_or_default(), id)),
        identification: with_scheme(p.at("PartyIdentification/ID")),
        trading_name: v("PartyName/Name"),
        street: v("PostalAddress/StreetName"),
        city: v("PostalAddress/CityName"),
        postal_zone: v("PostalAddress/PostalZone"),
        country: v("PostalAddress/Country/IdentificationCode"),
        vat_id: p
            .children_named("PartyTaxScheme")
            .find(|s| s.value("TaxScheme/ID") == Some("VAT"))
            .and_then(|s| s.value("CompanyID"))
            .map(str::to_string),
        registration_name: v("PartyLegalEntity/RegistrationName"),
        company_id: with_scheme(p.at("PartyLegalEntity/CompanyID")),
        contact_name: v("Contact/Name"),
        contact_phone: v("Contact/Telephone"),
        contact_email: v("Contact/ElectronicMail"),
    }
}

/// The document's lines as normalized declaration lines (the same shape a
/// WMO323/JW323 gives, [`crate::adapter::lines`]). An invoice line with a
/// negative amount, and a credit note line with a positive one, is a
/// credit; amounts and quantities become positive with the direction in
/// `debit_credit`.
pub fn lines(doc: &Document) -> Vec<DeclarationLine> {
    let currency = doc.currency.clone().unwrap_or_default();
    let number = doc.id.clone().unwrap_or_default();
    doc.lines
        .iter()
        .map(|l| {
            let amount = l.amount.unwrap_or(Dec::ZERO);
            let negative = amount.is_negative();
            let credit = match doc.kind {
                Kind::Invoice => negative,
                Kind::CreditNote => !negative,
            };
            let (start, end) = l
                .period
                .clone()
                .or_else(|| doc.period.clone())
                .unwrap_or_default();
            DeclarationLine {
                line_id: l.id.clone(),
                document: number.clone(),
                credits: if credit {
                    doc.billing_references.first().map(|(id, _)| id.clone())
                } else {
                    None
                },
                participant: l.note.clone().unwrap_or_default(),
                product: l
                    .item_id
                    .clone()
                    .or_else(|| l.item_name.clone())
                    .unwrap_or_default(),
                order_reference: match (&doc.order_reference, &l.order_line) {
                    (Some(o), Some(line)) => Some(format!("{o}/{line}")),
                    (Some(o), None) => Some(o.clone()),
                    (None, Some(line)) => Some(line.clone()),
                    (None, None) => None,
                },
                period_start: start,
                period_end: end,
                quantity: l.quantity.map(|q| q.abs().to_string()).unwrap_or_default(),
                unit: l.unit_code.clone().unwrap_or_default(),
                unit_price: l.price.map(|p| p.to_string()),
                amount_cents: amount.abs().round(2).to_cents().unwrap_or(0),
                currency: currency.clone(),
                debit_credit: if credit {
                    DebitCredit::Credit
                } else {
                    DebitCredit::Debit
                },
            }
        })
        .collect()
}
