//! [`Document`] -> UBL 2.1 XML.
//!
//! The document is first built as an element tree in whatever order is
//! convenient, then every aggregate's children are put in the order
//! `schemas/ubl/structure.toml` gives (the order UBL 2.1 requires), so the
//! order lives in one place for writing and checking.

use super::structure::{self, Structure};
use super::{Dec, Document, Kind, Line, Party};
use crate::adapter::xml::Element;
use quick_xml::escape::escape;

fn agg(name: &str, children: Vec<Element>) -> Element {
    Element {
        namespace: "cac".into(),
        name: name.into(),
        children,
        ..Element::default()
    }
}

fn val(name: &str, text: impl Into<String>) -> Element {
    Element {
        namespace: "cbc".into(),
        name: name.into(),
        text: text.into(),
        ..Element::default()
    }
}

fn attr(mut e: Element, k: &str, v: &str) -> Element {
    e.attributes.push((k.into(), v.into()));
    e
}

fn opt(out: &mut Vec<Element>, name: &str, v: &Option<String>) {
    if let Some(v) = v {
        out.push(val(name, v.clone()));
    }
}

/// Writes the document. Amounts are written with two decimals, as the
/// Dutch guidance asks ("200.00").
pub fn encode(doc: &Document) -> String {
    let Ok(s) = structure::get() else {
        return String::new();
    };
    let mut root = build(doc, s);
    sort(&mut root, s);
    let def = &s.documents[doc.kind.name()];
    let mut out = String::with_capacity(2048 + doc.lines.len() * 1200);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<{} xmlns=\"{}\" xmlns:cac=\"{}\" xmlns:cbc=\"{}\">\n",
        root.name, def.namespace, s.namespaces.cac, s.namespaces.cbc
    ));
    for c in &root.children {
        write(&mut out, c, 1);
    }
    out.push_str(&format!("</{}>\n", root.name));
    out
}

/// Writes `e` indented by `depth`. Straight into `out`, without a string
/// per tag or value: a run invoices thousands of documents, each read back.
fn write(out: &mut String, e: &Element, depth: usize) {
    let indent = |out: &mut String| (0..depth).for_each(|_| out.push_str("  "));
    let tag = |out: &mut String| {
        out.push_str(&e.namespace);
        out.push(':');
        out.push_str(&e.name);
    };
    indent(out);
    out.push('<');
    tag(out);
    for (k, v) in &e.attributes {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        out.push_str(&escape(v));
        out.push('"');
    }
    out.push('>');
    if e.children.is_empty() {
        out.push_str(&escape(&e.text));
    } else {
        out.push('\n');
        for c in &e.children {
            write(out, c, depth + 1);
        }
        indent(out);
    }
    out.push_str("</");
    tag(out);
    out.push_str(">\n");
}

/// Every aggregate's children in the order of structure.toml (stable: two
/// of the same name keep their order).
fn sort(e: &mut Element, s: &Structure) {
    if s.is_aggregate(&e.name) {
        let name = e.name.clone();
        e.children
            .sort_by_key(|c| s.position(&name, &c.name).unwrap_or(usize::MAX));
    }
    for c in &mut e.children {
        sort(c, s);
    }
}

fn amount(name: &str, d: Dec, currency: &str) -> Element {
    attr(val(name, d.round(2).to_string()), "currencyID", currency)
}

fn build(doc: &Document, s: &Structure) -> Element {
    let cur = doc.currency.as_deref().unwrap_or("EUR");
    let def = &s.documents[doc.kind.name()];
    let mut c = Vec::new();
    opt(&mut c, "CustomizationID", &doc.customization_id);
    opt(&mut c, "ProfileID", &doc.profile_id);
    opt(&mut c, "ID", &doc.id);
    opt(&mut c, "IssueDate", &doc.issue_date);
    match doc.kind {
        Kind::Invoice => opt(&mut c, "DueDate", &doc.due_date),
        Kind::CreditNote => {}
    }
    opt(&mut c, &def.type_code, &doc.type_code);
    for n in &doc.notes {
        c.push(val("Note", n.clone()));
    }
    opt(&mut c, "DocumentCurrencyCode", &doc.currency);
    opt(&mut c, "BuyerReference", &doc.buyer_reference);
    if let Some((start, end)) = &doc.period {
        c.push(period(start, end));
    }
    if let Some(o) = &doc.order_reference {
        c.push(agg("OrderReference", vec![val("ID", o.clone())]));
    }
    for (id, date) in &doc.billing_references {
        let mut r = vec![val("ID", id.clone())];
        opt(&mut r, "IssueDate", date);
        c.push(agg(
            "BillingReference",
            vec![agg("InvoiceDocumentReference", r)],
        ));
    }
    c.push(agg(
        "AccountingSupplierParty",
        vec![party(&doc.seller, true)],
    ));
    c.push(agg(
        "AccountingCustomerParty",
        vec![party(&doc.buyer, false)],
    ));
    if let Some(code) = &doc.payment_means_code {
        let mut pm = vec![val("PaymentMeansCode", code.clone())];
        if doc.kind == Kind::CreditNote {
            opt(&mut pm, "PaymentDueDate", &doc.due_date);
        }
        opt(&mut pm, "PaymentID", &doc.payment_id);
        if let Some(a) = &doc.payee_account {
            pm.push(agg("PayeeFinancialAccount", vec![val("ID", a.clone())]));
        }
        c.push(agg("PaymentMeans", pm));
    }
    if let Some(t) = &doc.payment_terms {
        c.push(agg("PaymentTerms", vec![val("Note", t.clone())]));
    }
    if let Some(total) = doc.tax_total {
        let mut tt = vec![amount("TaxAmount", total, cur)];
        for st in &doc.subtotals {
            let mut cat = vec![val("ID", st.category.clone())];
            if let Some(p) = st.percent {
                cat.push(val("Percent", p.to_string()));
            }
            opt(
                &mut cat,
                "TaxExemptionReasonCode",
                &st.exemption_reason_code,
            );
            opt(&mut cat, "TaxExemptionReason", &st.exemption_reason);
            cat.push(agg("TaxScheme", vec![val("ID", "VAT")]));
            tt.push(agg(
                "TaxSubtotal",
                vec![
                    amount("TaxableAmount", st.taxable, cur),
                    amount("TaxAmount", st.amount, cur),
                    agg("TaxCategory", cat),
                ],
            ));
        }
        c.push(agg("TaxTotal", tt));
    }
    let t = &doc.totals;
    let mut mt = Vec::new();
    for (name, v) in [
        ("LineExtensionAmount", t.line_extension),
        ("TaxExclusiveAmount", t.tax_exclusive),
        ("TaxInclusiveAmount", t.tax_inclusive),
        ("AllowanceTotalAmount", t.allowance_total),
        ("ChargeTotalAmount", t.charge_total),
        ("PrepaidAmount", t.prepaid),
        ("PayableRoundingAmount", t.rounding),
        ("PayableAmount", t.payable),
    ] {
        if let Some(v) = v {
            mt.push(amount(name, v, cur));
        }
    }
    c.push(agg("LegalMonetaryTotal", mt));
    for l in &doc.lines {
        c.push(line(l, &def.line, &def.quantity, cur));
    }
    Element {
        namespace: String::new(),
        name: doc.kind.name().into(),
        children: c,
        ..Element::default()
    }
}

fn period(start: &Option<String>, end: &Option<String>) -> Element {
    let mut p = Vec::new();
    opt(&mut p, "StartDate", start);
    opt(&mut p, "EndDate", end);
    agg("InvoicePeriod", p)
}

fn scheme_id(name: &str, id: &(Option<String>, String)) -> Element {
    let e = val(name, id.1.clone());
    match &id.0 {
        Some(s) => attr(e, "schemeID", s),
        None => e,
    }
}

fn party(p: &Party, seller: bool) -> Element {
    let mut c = Vec::new();
    if let Some((scheme, id)) = &p.endpoint {
        c.push(attr(val("EndpointID", id.clone()), "schemeID", scheme));
    }
    if let Some(id) = &p.identification {
        c.push(agg("PartyIdentification", vec![scheme_id("ID", id)]));
    }
    if let Some(n) = &p.trading_name {
        c.push(agg("PartyName", vec![val("Name", n.clone())]));
    }
    let mut addr = Vec::new();
    opt(&mut addr, "StreetName", &p.street);
    opt(&mut addr, "CityName", &p.city);
    opt(&mut addr, "PostalZone", &p.postal_zone);
    if let Some(country) = &p.country {
        addr.push(agg(
            "Country",
            vec![val("IdentificationCode", country.clone())],
        ));
    }
    c.push(agg("PostalAddress", addr));
    if let Some(v) = &p.vat_id {
        c.push(agg(
            "PartyTaxScheme",
            vec![
                val("CompanyID", v.clone()),
                agg("TaxScheme", vec![val("ID", "VAT")]),
            ],
        ));
    }
    let mut le = Vec::new();
    opt(&mut le, "RegistrationName", &p.registration_name);
    if let Some(id) = &p.company_id {
        le.push(scheme_id("CompanyID", id));
    }
    c.push(agg("PartyLegalEntity", le));
    let mut contact = Vec::new();
    opt(&mut contact, "Name", &p.contact_name);
    opt(&mut contact, "Telephone", &p.contact_phone);
    opt(&mut contact, "ElectronicMail", &p.contact_email);
    if !contact.is_empty() && seller {
        c.push(agg("Contact", contact));
    }
    agg("Party", c)
}

fn line(l: &Line, name: &str, quantity: &str, cur: &str) -> Element {
    let mut c = vec![val("ID", l.id.clone())];
    opt(&mut c, "Note", &l.note);
    if let Some(q) = l.quantity {
        let e = val(quantity, q.to_string());
        c.push(match &l.unit_code {
            Some(u) => attr(e, "unitCode", u),
            None => e,
        });
    }
    if let Some(a) = l.amount {
        c.push(amount("LineExtensionAmount", a, cur));
    }
    if let Some((start, end)) = &l.period {
        c.push(period(start, end));
    }
    if let Some(o) = &l.order_line {
        c.push(agg("OrderLineReference", vec![val("LineID", o.clone())]));
    }
    let mut item = Vec::new();
    opt(&mut item, "Description", &l.item_description);
    opt(&mut item, "Name", &l.item_name);
    if let Some(id) = &l.item_id {
        item.push(agg(
            "SellersItemIdentification",
            vec![val("ID", id.clone())],
        ));
    }
    if let Some(cat) = &l.tax_category {
        let mut tc = vec![val("ID", cat.clone())];
        if let Some(p) = l.tax_percent {
            tc.push(val("Percent", p.to_string()));
        }
        tc.push(agg("TaxScheme", vec![val("ID", "VAT")]));
        item.push(agg("ClassifiedTaxCategory", tc));
    }
    c.push(agg("Item", item));
    if let Some(p) = l.price {
        let mut pr = vec![attr(val("PriceAmount", p.to_string()), "currencyID", cur)];
        if let Some(b) = l.base_quantity {
            let e = val("BaseQuantity", b.to_string());
            pr.push(match &l.unit_code {
                Some(u) => attr(e, "unitCode", u),
                None => e,
            });
        }
        c.push(agg("Price", pr));
    }
    agg(name, c)
}
