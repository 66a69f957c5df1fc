//! The EN 16931 business rules loket checks on a UBL document, incoming or
//! outgoing: mandatory fields (BR-01..BR-26, by the paths in
//! `schemas/ubl/rules.toml`), totals (BR-CO-10..16), rounding to two
//! decimals (BR-DEC), the VAT breakdown (BR-CO-17/18, BR-S, BR-E), payment
//! (BR-61, BR-CO-25), a credit note's reference to what it credits, code lists (ISO 4217, UNCL1001, UNCL4461, UNCL5305,
//! UN/ECE rec. 20) and what UWV and municipalities need on top (an order
//! reference; negative quantities only on credit lines).
//!
//! The official validation artefact (the CEN XSLT) checks more; CI runs it
//! on every invoice loket generates. These are the rules a generated or
//! received invoice can break through loket's own data, checked in-process
//! so that nothing that would be refused is ever sent.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Add, Mul, Sub};
use std::sync::LazyLock;

use serde::Deserialize;

use super::decode::finding;
use super::structure;
use super::{Dec, Document, Kind};
use crate::adapter::xml::Element;
use crate::finding::Finding;

const TEXT: &str = include_str!("../../../schemas/ubl/rules.toml");

#[derive(Debug, Deserialize)]
struct RuleDef {
    id: String,
    path: Option<String>,
    scope: Option<String>,
    nl: String,
    en: String,
}

#[derive(Debug, Deserialize)]
struct Catalogue {
    rule: Vec<RuleDef>,
}

static RULES: LazyLock<Vec<RuleDef>> = LazyLock::new(|| {
    toml::from_str::<Catalogue>(TEXT)
        .map(|c| c.rule)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "schemas/ubl/rules.toml does not load");
            Vec::new()
        })
});

static BY_ID: LazyLock<HashMap<&'static str, &'static RuleDef>> =
    LazyLock::new(|| RULES.iter().map(|r| (r.id.as_str(), r)).collect());

/// The rule's text (Dutch, English).
pub fn text(rule: &str) -> (String, String) {
    BY_ID.get(rule).map_or_else(
        || (format!("Regel {rule}."), format!("Rule {rule}.")),
        |r| (r.nl.clone(), r.en.clone()),
    )
}

/// Every rule id in the catalogue (for the tests that check each has a case).
pub fn ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id.as_str()).collect()
}

/// Checks `doc` (decoded from `tree`).
pub fn check(tree: &Element, doc: &Document) -> Vec<Finding> {
    let mut out = Vec::new();
    let Ok(s) = structure::get() else {
        return out;
    };
    let def = &s.documents[doc.kind.name()];
    let root = doc.kind.name();
    let resolve = |p: &str| {
        p.replace("@type_code", &def.type_code)
            .replace("@line", &def.line)
            .replace("@quantity", &def.quantity)
    };
    // Presence rules from the catalogue.
    for r in RULES.iter() {
        let Some(path) = &r.path else { continue };
        let path = resolve(path);
        let present = |e: &Element| match path.split_once("/@") {
            Some((el, attr)) => e.at(el).and_then(|x| x.attribute(attr)).is_some(),
            None => e
                .at(&path)
                .is_some_and(|x| !x.text.trim().is_empty() || !x.children.is_empty()),
        };
        if r.scope.as_deref() == Some("line") {
            for (i, l) in tree.children_named(&def.line).enumerate() {
                if !present(l) {
                    out.push(finding(
                        &r.id,
                        &format!("{root}/{}[{}]/{path}", def.line, i + 1),
                        Some(l.line),
                        "",
                        "",
                    ));
                }
            }
        } else if !present(tree) {
            out.push(finding(&r.id, &format!("{root}/{path}"), None, "", ""));
        }
    }
    let at = |p: &str| format!("{root}/{p}");
    let mut f = |rule: &str, path: String, nl: String, en: String| {
        out.push(finding(rule, &path, None, &nl, &en));
    };

    // Code lists.
    let codes = &s.codes;
    if let Some(c) = &doc.currency
        && !codes.currency.contains(c)
    {
        f(
            "BR-CL-04",
            at("DocumentCurrencyCode"),
            format!("({c})"),
            format!("({c})"),
        );
    }
    let types = match doc.kind {
        Kind::Invoice => &codes.invoice_type,
        Kind::CreditNote => &codes.credit_note_type,
    };
    if let Some(t) = &doc.type_code
        && !types.contains(t)
    {
        f(
            "BR-CL-01",
            at(&def.type_code),
            format!("({t})"),
            format!("({t})"),
        );
    }
    if let Some(m) = &doc.payment_means_code
        && !codes.payment_means.contains(m)
    {
        f(
            "BR-CL-16",
            at("PaymentMeans/PaymentMeansCode"),
            format!("({m})"),
            format!("({m})"),
        );
    }
    for (i, st) in doc.subtotals.iter().enumerate() {
        if !codes.vat_category.contains(&st.category) {
            let c = &st.category;
            f(
                "BR-CL-17",
                at(&format!("TaxTotal/TaxSubtotal[{}]/TaxCategory/ID", i + 1)),
                format!("({c})"),
                format!("({c})"),
            );
        }
    }
    for (i, l) in doc.lines.iter().enumerate() {
        let lp = |p: &str| at(&format!("{}[{}]/{p}", def.line, i + 1));
        if let Some(u) = &l.unit_code
            && !codes.unit.contains(u)
        {
            f(
                "BR-CL-23",
                lp(&def.quantity),
                format!("({u})"),
                format!("({u})"),
            );
        }
        if let Some(p) = l.price
            && p.is_negative()
        {
            f(
                "BR-27",
                lp("Price/PriceAmount"),
                String::new(),
                String::new(),
            );
        }
        // A negative quantity belongs to a line that credits (a negative
        // amount); a negative quantity with a positive amount is a sign
        // error that would pay instead of credit.
        if let (Some(q), Some(a)) = (l.quantity, l.amount)
            && q.is_negative() != a.is_negative()
            && !q.is_zero()
            && !a.is_zero()
        {
            f(
                "LOKET-SIGN",
                lp(&def.quantity),
                format!("(hoeveelheid {q}, bedrag {a})"),
                format!("(quantity {q}, amount {a})"),
            );
        }
    }

    // Totals (BR-CO-10..16), compared exactly: every amount has at most two
    // decimals (BR-DEC), so the sums must match to the cent.
    let sum_lines = doc
        .lines
        .iter()
        .filter_map(|l| l.amount)
        .fold(Dec::ZERO, Dec::add);
    let t = &doc.totals;
    if let Some(le) = t.line_extension
        && le != sum_lines
    {
        f(
            "BR-CO-10",
            at("LegalMonetaryTotal/LineExtensionAmount"),
            format!("({le} <> {sum_lines})"),
            format!("({le} <> {sum_lines})"),
        );
    }
    let allowances = doc
        .allowance_charges
        .iter()
        .filter(|a| !a.charge)
        .map(|a| a.amount)
        .fold(Dec::ZERO, Dec::add);
    let charges = doc
        .allowance_charges
        .iter()
        .filter(|a| a.charge)
        .map(|a| a.amount)
        .fold(Dec::ZERO, Dec::add);
    if let (Some(le), Some(te)) = (t.line_extension, t.tax_exclusive) {
        let want = le
            .sub(t.allowance_total.unwrap_or(allowances))
            .add(t.charge_total.unwrap_or(charges));
        if te != want {
            f(
                "BR-CO-13",
                at("LegalMonetaryTotal/TaxExclusiveAmount"),
                format!("({te} <> {want})"),
                format!("({te} <> {want})"),
            );
        }
    }
    let sum_tax = doc
        .subtotals
        .iter()
        .map(|s| s.amount)
        .fold(Dec::ZERO, Dec::add);
    if let Some(tt) = doc.tax_total
        && tt != sum_tax
    {
        f(
            "BR-CO-14",
            at("TaxTotal/TaxAmount"),
            format!("({tt} <> {sum_tax})"),
            format!("({tt} <> {sum_tax})"),
        );
    }
    if let (Some(te), Some(ti)) = (t.tax_exclusive, t.tax_inclusive) {
        let want = te.add(doc.tax_total.unwrap_or(Dec::ZERO));
        if ti != want {
            f(
                "BR-CO-15",
                at("LegalMonetaryTotal/TaxInclusiveAmount"),
                format!("({ti} <> {want})"),
                format!("({ti} <> {want})"),
            );
        }
    }
    if let (Some(ti), Some(pa)) = (t.tax_inclusive, t.payable) {
        let want = ti
            .sub(t.prepaid.unwrap_or(Dec::ZERO))
            .add(t.rounding.unwrap_or(Dec::ZERO));
        if pa != want {
            f(
                "BR-CO-16",
                at("LegalMonetaryTotal/PayableAmount"),
                format!("({pa} <> {want})"),
                format!("({pa} <> {want})"),
            );
        }
    }
    if doc.subtotals.is_empty() {
        f(
            "BR-CO-18",
            at("TaxTotal/TaxSubtotal"),
            String::new(),
            String::new(),
        );
    }

    // VAT breakdown per category and rate: the taxable amount is the lines
    // of that category and rate plus charges minus allowances; the tax is
    // the taxable amount times the rate, to the cent.
    let mut per: BTreeMap<(String, String), Dec> = BTreeMap::new();
    for l in &doc.lines {
        if let (Some(c), Some(a)) = (&l.tax_category, l.amount) {
            let key = (
                c.clone(),
                l.tax_percent.unwrap_or(Dec::ZERO).round(4).to_string(),
            );
            let e = per.entry(key).or_insert(Dec::ZERO);
            *e = e.add(a);
        }
    }
    for a in &doc.allowance_charges {
        if let Some(c) = &a.category {
            let key = (
                c.clone(),
                a.percent.unwrap_or(Dec::ZERO).round(4).to_string(),
            );
            let e = per.entry(key).or_insert(Dec::ZERO);
            *e = if a.charge {
                e.add(a.amount)
            } else {
                e.sub(a.amount)
            };
        }
    }
    let seller_vat = doc.seller.vat_id.is_some();
    for (i, st) in doc.subtotals.iter().enumerate() {
        let path = at(&format!("TaxTotal/TaxSubtotal[{}]", i + 1));
        let rate = st.percent.unwrap_or(Dec::ZERO);
        let lines = per
            .get(&(st.category.clone(), rate.round(4).to_string()))
            .copied()
            .unwrap_or(Dec::ZERO);
        let expected_tax = st
            .taxable
            .mul(rate)
            .mul(Dec { units: 1, scale: 2 })
            .round(2);
        match st.category.as_str() {
            "S" => {
                let wrong =
                    rate.is_zero() || rate.is_negative() || st.taxable != lines || !seller_vat;
                if wrong {
                    f(
                        "BR-S",
                        path.clone(),
                        format!(
                            "(tarief {rate}, belastbaar {} <> regels {lines})",
                            st.taxable
                        ),
                        format!("(rate {rate}, taxable {} <> lines {lines})", st.taxable),
                    );
                }
                if st.amount != expected_tax {
                    f(
                        "BR-CO-17",
                        format!("{path}/TaxAmount"),
                        format!("({} <> {expected_tax})", st.amount),
                        format!("({} <> {expected_tax})", st.amount),
                    );
                }
            }
            "E" => {
                let wrong = !rate.is_zero()
                    || !st.amount.is_zero()
                    || st.taxable != lines
                    || (st.exemption_reason.is_none() && st.exemption_reason_code.is_none())
                    || !seller_vat;
                if wrong {
                    f(
                        "BR-E",
                        path,
                        format!("(belastbaar {} <> regels {lines})", st.taxable),
                        format!("(taxable {} <> lines {lines})", st.taxable),
                    );
                }
            }
            _ => {}
        }
    }

    // Payment.
    let transfer = matches!(doc.payment_means_code.as_deref(), Some("30" | "58"));
    if transfer && doc.payee_account.is_none() {
        f(
            "BR-61",
            at("PaymentMeans/PayeeFinancialAccount/ID"),
            String::new(),
            String::new(),
        );
    }
    if t.payable.is_some_and(|p| p > Dec::ZERO)
        && doc.due_date.is_none()
        && doc.payment_terms.is_none()
    {
        f("BR-CO-25", at("DueDate"), String::new(), String::new());
    }
    if doc.kind == Kind::CreditNote && doc.billing_references.is_empty() {
        f(
            "LOKET-CREDIT",
            at("BillingReference/InvoiceDocumentReference/ID"),
            String::new(),
            String::new(),
        );
    }
    out
}

/// What a Dutch public buyer needs beyond EN 16931, checked on what loket
/// sends: the order reference (handreiking basisfactuur Rijk 1.5) and the
/// payee's account.
pub fn check_outgoing_extra(doc: &Document) -> Vec<Finding> {
    let mut out = Vec::new();
    let root = doc.kind.name();
    if doc.order_reference.is_none() {
        out.push(finding(
            "LOKET-ORDER",
            &format!("{root}/OrderReference/ID"),
            None,
            "",
            "",
        ));
    }
    if doc.payee_account.is_none() {
        out.push(finding(
            "BR-61",
            &format!("{root}/PaymentMeans/PayeeFinancialAccount/ID"),
            None,
            "",
            "",
        ));
    }
    out
}
