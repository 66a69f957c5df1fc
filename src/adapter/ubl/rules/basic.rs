//! EN 16931's own rules BR-01..BR-65: what an invoice must hold, and what
//! belongs together. Most are rows over the generic meanings (`present`,
//! `exists`, `date-order`); the meanings here are the few tests those
//! cannot say: one of several alternatives (among them a tax category of
//! VAT, which the artefact recognizes in any case), a sign, a length, a
//! field required by a payment means code, a currency that needs its own
//! VAT total, and a payee that is not the seller. Where the artefact
//! compares a value as written (XPath's `=` and `substring` do not
//! normalize spaces), these meanings do too ([`as_written`]).

use std::collections::HashSet;

use super::path::{self, Node};
use super::vat::is_vat;
use super::{Ctx, Meaning, Outcome, fixed};
use crate::adapter::ubl::Dec;

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "any-of",
        run: any_of,
        paths: &[],
        optional: &[
            "path",
            "or_path",
            "else_path",
            "nonempty",
            "vat_path",
            "vat_has_path",
            "vat_or_path",
        ],
    },
    Meaning {
        name: "not-negative",
        run: not_negative,
        paths: &["path"],
        optional: &["absent_ok"],
    },
    Meaning {
        name: "max-length",
        run: max_length,
        paths: &["path"],
        optional: &["max"],
    },
    Meaning {
        name: "needed-for-code",
        run: needed_for_code,
        paths: &["path", "code_path"],
        optional: &["codes", "of_parent", "as_written", "nonempty"],
    },
    Meaning {
        name: "value-in",
        run: value_in,
        paths: &["path", "in_path"],
        optional: &["attribute"],
    },
    Meaning {
        name: "distinct-party",
        run: distinct_party,
        paths: &["other_path"],
        optional: &[],
    },
];

/// The alternatives of `any-of`, in the order they are given.
const ALTERNATIVES: [&str; 3] = ["path", "or_path", "else_path"];

/// At least one of the paths selects something (with `nonempty`: a value
/// that is not empty). The path language has no `or`, and the standard
/// often accepts either of two elements (a reason or its code; an invoice
/// or a credit note line).
///
/// One more alternative is a VAT one: among the elements at `vat_path`
/// (tax categories, party tax schemes) one whose scheme is VAT holds
/// `vat_has_path` (default: itself) or `vat_or_path`. It is apart because
/// the artefact recognizes VAT upper-cased ("vat" is VAT), which a path's
/// predicate, comparing exactly, cannot say.
fn any_of(c: &Ctx<'_>) -> Outcome {
    let nonempty = c.arg_bool("nonempty").unwrap_or(false);
    let ok = ALTERNATIVES
        .iter()
        .filter(|name| c.arg_path(name).is_some())
        .any(|name| {
            if nonempty {
                c.values(name).iter().any(|v| !v.is_empty())
            } else {
                !c.select(name).is_empty()
            }
        });
    Outcome::from_bool(ok || vat_alternative(c))
}

/// The VAT alternative of `any-of` (see there); false without `vat_path`.
fn vat_alternative(c: &Ctx<'_>) -> bool {
    if c.arg_path("vat_path").is_none() {
        return false;
    }
    let holds = |n: &Node<'_>, name: &str| {
        c.arg_path(name)
            .is_some_and(|p| !path::select(n, p).is_empty())
    };
    c.select("vat_path")
        .iter()
        .filter(|n| is_vat(n.el))
        .any(|n| {
            (c.arg_path("vat_has_path").is_none() || holds(n, "vat_has_path"))
                || holds(n, "vat_or_path")
        })
}

/// Some value of `path` is a number not below zero (`p >= 0`: nothing
/// there fails, unless `absent_ok`; a value that is no number is not a
/// number at least zero).
fn not_negative(c: &Ctx<'_>) -> Outcome {
    let values = c.values("path");
    if values.is_empty() && c.arg_bool("absent_ok").unwrap_or(false) {
        return Outcome::Pass;
    }
    if values
        .iter()
        .any(|v| Dec::parse(v).is_some_and(|d| !d.is_negative()))
    {
        return Outcome::Pass;
    }
    match values.first() {
        Some(v) => Outcome::FailWith(format!("({v})"), format!("({v})")),
        None => Outcome::Fail,
    }
}

/// Every value of `path` has at most `max` characters (default 10).
fn max_length(c: &Ctx<'_>) -> Outcome {
    let max = usize::try_from(c.arg_int("max").unwrap_or(10)).unwrap_or(0);
    for v in c.values("path") {
        let n = v.chars().count();
        if n > max {
            return Outcome::FailWith(format!("({n} tekens)"), format!("({n} characters)"));
        }
    }
    Outcome::Pass
}

/// When the code at `code_path` is one of `codes`, `path` must be there
/// (with `nonempty`: with a value). With `of_parent` the code is read from
/// the context's parent: the payment account is judged, its payment means
/// holds the code. With `as_written` the code is compared as written, its
/// spaces included (the artefact's BR-50 context compares it so, where
/// BR-61 normalizes it first).
fn needed_for_code(c: &Ctx<'_>) -> Outcome {
    let codes = c.arg_list("codes");
    let Some(code_path) = c.arg_path("code_path") else {
        return Outcome::Pass;
    };
    let from = if c.arg_bool("of_parent").unwrap_or(false) {
        c.node.parent()
    } else {
        Some(c.node.clone())
    };
    let code_values: Vec<String> = match from {
        None => Vec::new(),
        Some(_) if code_path.is_absolute() => c.values("code_path"),
        Some(n) if c.arg_bool("as_written").unwrap_or(false) => {
            path::select(&n, code_path).iter().map(as_written).collect()
        }
        Some(n) => path::values(&n, code_path),
    };
    if !code_values.iter().any(|v| codes.contains(&v.as_str())) {
        return Outcome::Pass;
    }
    let there = if c.arg_bool("nonempty").unwrap_or(false) {
        c.values("path").iter().any(|v| !v.is_empty())
    } else {
        !c.select("path").is_empty()
    };
    Outcome::from_bool(there)
}

/// Every value of `path` is among the values of `in_path`, or with
/// `attribute` among that attribute's values on the elements of `in_path`.
/// Both are compared as written, spaces included, as XPath's `=` compares
/// them (a currency written " USD" is not "USD" there).
fn value_in(c: &Ctx<'_>) -> Outcome {
    let known: HashSet<String> = match c.arg_str("attribute") {
        Some(a) => c
            .select("in_path")
            .iter()
            .filter_map(|n| n.el.attribute(a).map(str::to_string))
            .collect(),
        None => c.select("in_path").iter().map(as_written).collect(),
    };
    for n in c.select("path") {
        let v = as_written(&n);
        if !known.contains(&v) {
            let shown = v.trim();
            return Outcome::FailWith(format!("({shown})"), format!("({shown})"));
        }
    }
    Outcome::Pass
}

/// An element's string value as written: its text when it has no
/// children (no whitespace removed), else the normalized string value.
pub(super) fn as_written(n: &Node<'_>) -> String {
    if n.el.children.is_empty() {
        n.el.text.clone()
    } else {
        path::string_value(n.el)
    }
}

/// The context party has a name, and neither a name nor an identifier in
/// common with the party at `other_path` (the payee is not the seller).
fn distinct_party(c: &Ctx<'_>) -> Outcome {
    let (Some(name), Some(id)) = (
        fixed("cac:PartyName/cbc:Name"),
        fixed("cac:PartyIdentification/cbc:ID"),
    ) else {
        return Outcome::Pass;
    };
    let own_names = c.values_path(name);
    if own_names.is_empty() {
        return Outcome::Fail;
    }
    let own_ids = c.values_path(id);
    for other in c.select("other_path") {
        let names = path::values(&other, name);
        let ids = path::values(&other, id);
        let same_name = own_names.iter().find(|v| names.contains(v));
        let same_id = own_ids.iter().find(|v| ids.contains(v));
        if let Some(same) = same_name.or(same_id) {
            return Outcome::FailWith(format!("({same})"), format!("({same})"));
        }
    }
    Outcome::Pass
}

/// What the rules of one family say about a document: every fired
/// rule with its location, for the unit tests of the families.
#[cfg(test)]
pub(super) fn fired(xml: &str) -> Vec<(String, String)> {
    use super::{RuleSet, judge};
    use crate::adapter::ubl::Kind;
    let tree = crate::adapter::xml::read_tree(xml.as_bytes(), 1 << 20, 64).expect("reads");
    let kind = if tree.name == "CreditNote" {
        Kind::CreditNote
    } else {
        Kind::Invoice
    };
    let v = judge(&tree, kind, &[RuleSet::En16931]);
    v.errors
        .iter()
        .chain(&v.warnings)
        .map(|f| (f.rule.clone(), f.path.clone()))
        .collect()
}

/// A document element with the UBL namespaces around `body`.
#[cfg(test)]
pub(super) fn invoice(body: &str) -> String {
    format!(
        r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
        xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
        xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">{body}</Invoice>"#
    )
}

/// The locations at which `rule` fires on an invoice of `body`.
#[cfg(test)]
pub(super) fn fired_at(rule: &str, body: &str) -> Vec<String> {
    fired(&invoice(body))
        .into_iter()
        .filter(|(r, _)| r == rule)
        .map(|(_, l)| l)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{fired, fired_at as at, invoice};

    #[test]
    fn presence_rules_fire_at_the_document_and_not_when_filled() {
        assert_eq!(at("BR-01", ""), ["/Invoice"]);
        assert!(at("BR-01", "<cbc:CustomizationID>x</cbc:CustomizationID>").is_empty());
        assert_eq!(at("BR-02", "<cbc:ID> </cbc:ID>"), ["/Invoice"]);
        // An empty postal address exists (BR-08 holds) but lacks its country.
        let body = "<cac:AccountingSupplierParty><cac:Party><cac:PostalAddress/></cac:Party></cac:AccountingSupplierParty>";
        assert!(at("BR-08", body).is_empty());
        assert_eq!(
            at("BR-09", body),
            ["/Invoice/cac:AccountingSupplierParty[1]/cac:Party[1]/cac:PostalAddress[1]"]
        );
        // No monetary total at all: BR-12..15 have nothing to judge.
        assert!(at("BR-12", "").is_empty());
        assert_eq!(
            at("BR-12", "<cac:LegalMonetaryTotal/>"),
            ["/Invoice/cac:LegalMonetaryTotal[1]"]
        );
    }

    #[test]
    fn any_of_accepts_either_alternative() {
        assert_eq!(at("BR-16", ""), ["/Invoice"]);
        assert!(at("BR-16", "<cac:InvoiceLine/>").is_empty());
        assert!(at("BR-16", "<cac:CreditNoteLine/>").is_empty());
        assert_eq!(at("BR-04", "<cbc:InvoiceTypeCode/>"), ["/Invoice"]);
        assert!(at("BR-04", "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>").is_empty());
        let ac = |inner: &str| {
            format!(
                "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>{inner}</cac:AllowanceCharge>"
            )
        };
        assert_eq!(at("BR-33", &ac("")), ["/Invoice/cac:AllowanceCharge[1]"]);
        assert!(
            at(
                "BR-33",
                &ac("<cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode>")
            )
            .is_empty()
        );
        // A charge is not an allowance.
        let charge = "<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator></cac:AllowanceCharge>";
        assert!(at("BR-33", charge).is_empty());
        assert_eq!(at("BR-38", charge), ["/Invoice/cac:AllowanceCharge[1]"]);
        // The indicator is an xs:boolean: 1 is a charge, 0 an allowance.
        let one = charge.replace(">true<", ">1<");
        assert_eq!(at("BR-38", &one).len(), 1);
        assert!(at("BR-33", &one).is_empty());
        assert_eq!(at("BR-33", &charge.replace(">true<", ">0<")).len(), 1);
    }

    #[test]
    fn vat_is_recognized_in_any_case() {
        let sub = |scheme: &str, inner: &str| {
            format!(
                "<cac:TaxTotal><cac:TaxSubtotal><cac:TaxCategory>{inner}<cac:TaxScheme><cbc:ID>{scheme}</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>"
            )
        };
        let loc = "/Invoice/cac:TaxTotal[1]/cac:TaxSubtotal[1]";
        assert!(at("BR-47", &sub("vat", "<cbc:ID>S</cbc:ID>")).is_empty());
        assert_eq!(at("BR-47", &sub("TAX", "<cbc:ID>S</cbc:ID>")), [loc]);
        assert_eq!(at("BR-48", &sub(" Vat ", "<cbc:ID>S</cbc:ID>")), [loc]);
        assert!(at("BR-48", &sub(" Vat ", "<cbc:ID>O</cbc:ID>")).is_empty());
        assert!(
            at(
                "BR-48",
                &sub("VAT", "<cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent>")
            )
            .is_empty()
        );
    }

    #[test]
    fn not_negative_prices() {
        let line = |price: &str| {
            format!("<cac:InvoiceLine><cac:Price>{price}</cac:Price></cac:InvoiceLine>")
        };
        assert!(at("BR-27", &line("<cbc:PriceAmount>0</cbc:PriceAmount>")).is_empty());
        assert_eq!(
            at("BR-27", &line("<cbc:PriceAmount>-1</cbc:PriceAmount>")),
            ["/Invoice/cac:InvoiceLine[1]"]
        );
        // No price is no price at least zero (the standard's test).
        assert_eq!(at("BR-27", &line("")), ["/Invoice/cac:InvoiceLine[1]"]);
        // A gross price may be absent, not negative.
        assert!(at("BR-28", &line("")).is_empty());
        let gross =
            "<cac:AllowanceCharge><cbc:BaseAmount>-5</cbc:BaseAmount></cac:AllowanceCharge>";
        assert_eq!(at("BR-28", &line(gross)), ["/Invoice/cac:InvoiceLine[1]"]);
    }

    #[test]
    fn periods_in_order_on_document_and_line() {
        let p = |s: &str, e: &str| {
            format!(
                "<cac:InvoicePeriod><cbc:StartDate>{s}</cbc:StartDate><cbc:EndDate>{e}</cbc:EndDate></cac:InvoicePeriod>"
            )
        };
        assert_eq!(
            at("BR-29", &p("2026-02-01", "2026-01-31")),
            ["/Invoice/cac:InvoicePeriod[1]"]
        );
        assert!(at("BR-29", &p("2026-01-01", "2026-01-01")).is_empty());
        let line = format!(
            "<cac:InvoiceLine>{}</cac:InvoiceLine>",
            p("2026-02-01", "2026-01-31")
        );
        assert_eq!(
            at("BR-30", &line),
            ["/Invoice/cac:InvoiceLine[1]/cac:InvoicePeriod[1]"]
        );
        assert!(at("BR-29", &line).is_empty());
    }

    #[test]
    fn card_numbers_are_short_and_only_a_warning() {
        let card = |n: &str| {
            format!(
                "<cac:PaymentMeans><cbc:PaymentMeansCode>48</cbc:PaymentMeansCode><cac:CardAccount><cbc:PrimaryAccountNumberID>{n}</cbc:PrimaryAccountNumberID></cac:CardAccount></cac:PaymentMeans>"
            )
        };
        assert!(at("BR-51", &card("1234561234")).is_empty());
        assert_eq!(at("BR-51", &card("12345678901234")).len(), 1);
        let v = fired(&invoice(&card("12345678901234")));
        assert!(v.iter().any(|(r, _)| r == "BR-51"));
    }

    #[test]
    fn credit_transfer_needs_the_account() {
        let pm = |code: &str, account: &str| {
            format!(
                "<cac:PaymentMeans><cbc:PaymentMeansCode>{code}</cbc:PaymentMeansCode>{account}</cac:PaymentMeans>"
            )
        };
        assert_eq!(at("BR-61", &pm("30", "")), ["/Invoice/cac:PaymentMeans[1]"]);
        assert_eq!(
            at("BR-61", &pm(" 58 ", "")),
            ["/Invoice/cac:PaymentMeans[1]"]
        );
        assert!(at("BR-61", &pm("49", "")).is_empty());
        let empty = "<cac:PayeeFinancialAccount><cbc:ID/></cac:PayeeFinancialAccount>";
        // An empty account number exists (BR-61) but is no number (BR-50).
        assert!(at("BR-61", &pm("30", empty)).is_empty());
        // The account's rule reads the code as written: " 58 " is not 58
        // there, though it is for BR-61.
        assert!(at("BR-50", &pm(" 58 ", empty)).is_empty());
        let two = format!("{}{}", pm("49", empty), pm("30", empty));
        assert_eq!(
            at("BR-50", &two),
            ["/Invoice/cac:PaymentMeans[2]/cac:PayeeFinancialAccount[1]"]
        );
        let full = "<cac:PayeeFinancialAccount><cbc:ID>NL91</cbc:ID></cac:PayeeFinancialAccount>";
        assert!(at("BR-50", &pm("30", full)).is_empty());
    }

    #[test]
    fn a_vat_accounting_currency_needs_its_vat_total() {
        let body = |ccy: &str| {
            format!(
                r#"<cbc:TaxCurrencyCode>USD</cbc:TaxCurrencyCode><cac:TaxTotal><cbc:TaxAmount currencyID="EUR">1</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID="{ccy}">1</cbc:TaxAmount></cac:TaxTotal>"#
            )
        };
        assert_eq!(at("BR-53", &body("GBP")), ["/Invoice"]);
        assert!(at("BR-53", &body("USD")).is_empty());
        assert!(at("BR-53", "").is_empty());
        // Compared as written: " USD" is another currency than "USD".
        let spaced = body("USD").replacen(">USD<", "> USD<", 1);
        assert_eq!(at("BR-53", &spaced), ["/Invoice"]);
    }

    #[test]
    fn the_payee_is_not_the_seller() {
        let doc = |payee: &str| {
            format!(
                "<cac:AccountingSupplierParty><cac:Party><cac:PartyIdentification><cbc:ID>S1</cbc:ID></cac:PartyIdentification><cac:PartyName><cbc:Name>Verkoper</cbc:Name></cac:PartyName></cac:Party></cac:AccountingSupplierParty><cac:PayeeParty>{payee}</cac:PayeeParty>"
            )
        };
        let name = |n: &str| format!("<cac:PartyName><cbc:Name>{n}</cbc:Name></cac:PartyName>");
        assert!(at("BR-17", &doc(&name("Factor"))).is_empty());
        assert_eq!(
            at("BR-17", &doc(&name("Verkoper"))),
            ["/Invoice/cac:PayeeParty[1]"]
        );
        assert_eq!(at("BR-17", &doc("")), ["/Invoice/cac:PayeeParty[1]"]);
        let same_id = format!(
            "<cac:PartyIdentification><cbc:ID>S1</cbc:ID></cac:PartyIdentification>{}",
            name("Factor")
        );
        assert_eq!(at("BR-17", &doc(&same_id)).len(), 1);
        // A name equal to the seller's identifier is no match: names are
        // compared with names, identifiers with identifiers.
        assert!(at("BR-17", &doc(&name("S1"))).is_empty());
    }

    #[test]
    fn attributes_and_item_properties() {
        let ep = "<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID>1</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>";
        assert_eq!(
            at("BR-62", ep),
            ["/Invoice/cac:AccountingSupplierParty[1]/cac:Party[1]/cbc:EndpointID[1]"]
        );
        let ep = r#"<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID="0106">1</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>"#;
        assert!(at("BR-62", ep).is_empty());
        let prop = |inner: &str| {
            format!(
                "<cac:InvoiceLine><cac:Item><cac:AdditionalItemProperty>{inner}</cac:AdditionalItemProperty></cac:Item></cac:InvoiceLine>"
            )
        };
        assert_eq!(at("BR-54", &prop("<cbc:Name>kleur</cbc:Name>")).len(), 1);
        assert!(
            at(
                "BR-54",
                &prop("<cbc:Name>kleur</cbc:Name><cbc:Value>rood</cbc:Value>")
            )
            .is_empty()
        );
    }
}
