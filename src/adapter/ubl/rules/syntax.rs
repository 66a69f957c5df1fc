//! The UBL syntax binding's rules: UBL-CR (elements UBL has and EN 16931
//! does not use), UBL-SR (how often an element may occur) and UBL-DT (data
//! types and attributes). Most are data rows over the shared meanings
//! ("at-most", "exists"); the ones below carry what those cannot say: an
//! element EN 16931 does not use, an attribute anywhere in the document, the
//! decimals of every amount as written, counts where the artefact reads a
//! ChargeIndicator as a boolean or compares a scheme upper-cased, distinct
//! values, and the two tests it phrases in its own way (the payee beside the
//! seller, the scheme of a document reference). Each mirrors the artefact
//! closely enough that a document it accepts is accepted here and one it
//! refuses is refused.

use super::path::Node;
use super::{Ctx, Meaning, Outcome};
use crate::adapter::ubl::Kind;
use crate::adapter::xml::Element;

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "unused",
        run: unused,
        paths: &["path"],
        optional: &["also_path", "allow", "kind"],
    },
    Meaning {
        name: "attribute-unused",
        run: attribute_unused,
        paths: &[],
        optional: &["attribute", "except"],
    },
    Meaning {
        name: "attribute-present",
        run: attribute_present,
        paths: &[],
        optional: &["suffix", "attribute"],
    },
    Meaning {
        name: "amount-decimals",
        run: amount_decimals,
        paths: &[],
        optional: &["max"],
    },
    Meaning {
        name: "count",
        run: count,
        paths: &["path"],
        optional: &[
            "min",
            "max",
            "names",
            "charge",
            "upper_attr",
            "is",
            "is_not",
        ],
    },
    Meaning {
        name: "tax-ids-at-most",
        run: tax_ids_at_most,
        paths: &["path"],
        optional: &["max", "is", "is_not"],
    },
    Meaning {
        name: "distinct-at-most",
        run: distinct_at_most,
        paths: &["path"],
        optional: &["max"],
    },
    Meaning {
        name: "at-most-if-other",
        run: at_most_if_other,
        paths: &["path", "name_path", "other_path"],
        optional: &["max", "upper_attr", "is", "is_not"],
    },
    Meaning {
        name: "object-scheme",
        run: object_scheme,
        paths: &[],
        optional: &[],
    },
];

/// The text of an element as written (the XPath string value, whitespace
/// kept): the artefact counts decimals on it.
fn raw_text(e: &Element) -> String {
    let mut s = e.text.clone();
    for child in &e.children {
        s.push_str(&raw_text(child));
    }
    s
}

/// Does `e` (an AllowanceCharge) have a ChargeIndicator that, read as an
/// `xs:boolean` (`true`/`1`, `false`/`0`, whitespace collapsed), is
/// `charge`? The artefact compares it with `true()` or `false()`.
pub(super) fn is_charge(e: &Element, charge: bool) -> bool {
    e.children
        .iter()
        .filter(|ch| ch.name == "ChargeIndicator")
        .any(|ch| match ch.text.trim() {
            "true" | "1" => charge,
            "false" | "0" => !charge,
            _ => false,
        })
}

/// The selected elements that pass the optional filter `upper_attr` with
/// `is` or `is_not`: the attribute upper-cased (an absent one as empty, as
/// XPath's `upper-case(())`) equals `is`, or differs from `is_not`.
fn filtered<'a>(c: &Ctx<'a>, nodes: Vec<Node<'a>>) -> Vec<Node<'a>> {
    let Some(attr) = c.arg_str("upper_attr") else {
        return nodes;
    };
    let (is, is_not) = (c.arg_str("is"), c.arg_str("is_not"));
    nodes
        .into_iter()
        .filter(|n| {
            let v = n.el.attribute(attr).unwrap_or_default().to_uppercase();
            is.is_none_or(|x| v == x) && is_not.is_none_or(|x| v != x)
        })
        .collect()
}

/// UBL-CR: `path` (or `also_path`) selects nothing. With `allow`, the
/// element may be there with that value (UBLVersionID 2.1); with `kind`,
/// only documents of that kind are judged ("invoice": a credit note may
/// have a due date in its payment means).
fn unused(c: &Ctx<'_>) -> Outcome {
    let judged = match c.arg_str("kind") {
        Some("invoice") => c.kind == Kind::Invoice,
        Some("credit-note") => c.kind == Kind::CreditNote,
        _ => true,
    };
    if !judged {
        return Outcome::Pass;
    }
    if let Some(allowed) = c.arg_str("allow")
        && c.select("path").iter().any(|n| raw_text(n.el) == allowed)
    {
        return Outcome::Pass;
    }
    let mut found = c.select("path");
    if c.arg_path("also_path").is_some() {
        found.extend(c.select("also_path"));
    }
    match found.first() {
        None => Outcome::Pass,
        Some(n) => {
            let what = c.arg_str("path").unwrap_or_default();
            Outcome::FailWith(
                format!("({what}, bij {})", n.loc()),
                format!("({what}, at {})", n.loc()),
            )
        }
    }
}

/// UBL-DT: no element anywhere, the document element included, carries the
/// attribute, except elements with the local name `except`.
fn attribute_unused(c: &Ctx<'_>) -> Outcome {
    let attr = c.arg_str("attribute").unwrap_or_default();
    let except = c.arg_str("except");
    fn find(n: &Node<'_>, attr: &str, except: Option<&str>) -> Option<String> {
        if n.el.attribute(attr).is_some() && except != Some(n.el.name.as_str()) {
            return Some(n.loc());
        }
        n.children().find_map(|ch| find(&ch, attr, except))
    }
    // Most documents have none: look without building locations first.
    fn any(e: &Element, attr: &str, except: Option<&str>) -> bool {
        (e.attribute(attr).is_some() && except != Some(e.name.as_str()))
            || e.children.iter().any(|ch| any(ch, attr, except))
    }
    if !any(c.root.el, attr, except) {
        return Outcome::Pass;
    }
    match find(c.root, attr, except) {
        None => Outcome::Pass,
        Some(loc) => Outcome::FailWith(
            format!("(@{attr}, bij {loc})"),
            format!("(@{attr}, at {loc})"),
        ),
    }
}

/// UBL-DT-06/07: an element whose name ends in `suffix` carries `attribute`.
fn attribute_present(c: &Ctx<'_>) -> Outcome {
    let suffix = c.arg_str("suffix").unwrap_or_default();
    let attr = c.arg_str("attribute").unwrap_or_default();
    Outcome::from_bool(!c.node.el.name.ends_with(suffix) || c.node.el.attribute(attr).is_some())
}

/// UBL-DT-01: an amount (an element whose name ends in `Amount`, not a
/// price, and not within a price that has an allowance) has at most `max`
/// (default 2) characters after its first `.`, counted as written.
fn amount_decimals(c: &Ctx<'_>) -> Outcome {
    let name = c.node.el.name.as_str();
    if !name.ends_with("Amount") || name.ends_with("PriceAmount") {
        return Outcome::Pass;
    }
    let line = c.node.lineage();
    let in_discounted_price = line[..line.len().saturating_sub(1)].iter().any(|e| {
        e.name == "Price"
            && e.children
                .iter()
                .any(|ch| ch.name == "AllowanceCharge" && ch.namespace == e.namespace)
    });
    if in_discounted_price {
        return Outcome::Pass;
    }
    let max = c.arg_int("max").unwrap_or(2).max(0) as usize;
    let text = raw_text(c.node.el);
    let decimals = text.split_once('.').map_or(0, |(_, f)| f.chars().count());
    if decimals <= max {
        Outcome::Pass
    } else {
        let shown = text.trim();
        Outcome::FailWith(format!("({shown})"), format!("({shown})"))
    }
}

/// UBL-SR: `path` selects between `min` (default 0) and `max` (default 1)
/// elements (those passing the `upper_attr` filter, when given). With
/// `names`, only contexts with one of those local names are judged (the
/// artefact's context is a choice of elements); with `charge`, only
/// allowances (false) or charges (true).
fn count(c: &Ctx<'_>) -> Outcome {
    let names = c.arg_list("names");
    if !names.is_empty() && !names.contains(&c.node.el.name.as_str()) {
        return Outcome::Pass;
    }
    if let Some(charge) = c.arg_bool("charge")
        && !is_charge(c.node.el, charge)
    {
        return Outcome::Pass;
    }
    let n = filtered(c, c.select("path")).len() as i64;
    let (min, max) = (c.arg_int("min").unwrap_or(0), c.arg_int("max").unwrap_or(1));
    if (min..=max).contains(&n) {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    }
}

/// UBL-SR-44/47: the values `path` selects hold at most `max` (default 1)
/// different values; the same value may repeat.
fn distinct_at_most(c: &Ctx<'_>) -> Outcome {
    let mut values = c.values("path");
    values.sort();
    values.dedup();
    let max = c.arg_int("max").unwrap_or(1).max(0) as usize;
    if values.len() <= max {
        Outcome::Pass
    } else {
        let shown = values.join(", ");
        Outcome::FailWith(format!("({shown})"), format!("({shown})"))
    }
}

/// UBL-SR-19/20/21: `path` (filtered by `upper_attr`) selects at most `max`
/// (default 1) elements, and the payee is named other than the seller: some
/// value of `name_path` differs from some value of `other_path`. As in the
/// artefact, a payee without a name, or a seller without one, fails.
fn at_most_if_other(c: &Ctx<'_>) -> Outcome {
    let n = filtered(c, c.select("path")).len();
    let max = c.arg_int("max").unwrap_or(1).max(0) as usize;
    let names = c.values("name_path");
    let others = c.values("other_path");
    let differs = names.iter().any(|a| others.iter().any(|b| a != b));
    if n > max {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    } else if !differs {
        Outcome::FailWith(
            "(naam gelijk aan of zonder naam van de verkoper)".into(),
            "(name equal to the seller's, or missing)".into(),
        )
    } else {
        Outcome::Pass
    }
}

/// UBL-SR-12/13/18: the tax schemes `path` selects (PartyTaxScheme) hold at
/// most `max` (default 1) identifiers (CompanyID) among those whose scheme
/// (TaxScheme/ID upper-cased, a scheme without an ID as empty) is `is`, or
/// is other than `is_not`: VAT numbers apart from other tax registrations.
fn tax_ids_at_most(c: &Ctx<'_>) -> Outcome {
    let (is, is_not) = (c.arg_str("is"), c.arg_str("is_not"));
    let n: usize = c
        .select("path")
        .iter()
        .filter(|p| {
            p.el.children
                .iter()
                .filter(|t| t.name == "TaxScheme")
                .map(|t| {
                    t.children
                        .iter()
                        .find(|i| i.name == "ID")
                        .map(|i| super::path::normalize(&i.text).to_uppercase())
                        .unwrap_or_default()
                })
                .any(|v| is.is_none_or(|x| v == x) && is_not.is_none_or(|x| v != x))
        })
        .map(|p| {
            p.el.children
                .iter()
                .filter(|i| i.name == "CompanyID")
                .count()
        })
        .sum();
    let max = c.arg_int("max").unwrap_or(1).max(0) as usize;
    if n <= max {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    }
}

/// UBL-SR-43: a document reference is for an invoiced object (type 130, or
/// 50 in a credit note), or has neither a type nor a scheme on its id.
fn object_scheme(c: &Ctx<'_>) -> Outcome {
    let types = c.vals("cbc:DocumentTypeCode");
    let object = types.iter().any(|t| t == "130")
        || (c.root.el.name == "CreditNote" && types.iter().any(|t| t == "50"));
    let bare = types.is_empty() && !c.has("cbc:ID/@schemeID");
    Outcome::from_bool(object || bare)
}

#[cfg(test)]
mod tests {
    use super::super::{RuleSet, judge};
    use crate::adapter::ubl::Kind;
    use crate::adapter::xml::read_tree;

    const NS: &str = r#"xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
        xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2""#;

    /// The UBL- rules, fatal and warning, that fire on a document with `body`.
    fn fired_in(kind: Kind, body: &str) -> Vec<String> {
        let root = match kind {
            Kind::Invoice => "Invoice",
            Kind::CreditNote => "CreditNote",
        };
        let xml = format!(
            r#"<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" {NS}>{body}</{root}>"#
        );
        let tree = read_tree(xml.as_bytes(), 1 << 20, 64).expect("reads");
        let mut ids: Vec<String> = judge(&tree, kind, &[RuleSet::En16931])
            .fired()
            .filter(|id| id.starts_with("UBL-"))
            .map(str::to_string)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn fired(body: &str) -> Vec<String> {
        fired_in(Kind::Invoice, body)
    }

    #[test]
    fn an_element_en16931_does_not_use_is_a_warning() {
        assert!(fired("<cbc:ID>1</cbc:ID>").is_empty());
        assert_eq!(fired("<cbc:UUID>1</cbc:UUID>"), ["UBL-CR-005"]);
        assert!(fired("<cbc:UBLVersionID>2.1</cbc:UBLVersionID>").is_empty());
        assert_eq!(
            fired("<cbc:UBLVersionID>2.0</cbc:UBLVersionID>"),
            ["UBL-CR-002"]
        );
        // A credit note may have a due date in its payment means.
        let due = "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentDueDate>2026-01-01</cbc:PaymentDueDate></cac:PaymentMeans>";
        assert_eq!(fired(due), ["UBL-CR-412"]);
        assert!(fired_in(Kind::CreditNote, due).is_empty());
        // A scheme on a reference that is not an invoiced object.
        assert_eq!(
            fired(
                r#"<cac:AdditionalDocumentReference><cbc:ID schemeID="ABT">1</cbc:ID></cac:AdditionalDocumentReference>"#
            ),
            ["UBL-CR-665", "UBL-SR-43"]
        );
        let (_, checked) = crate::adapter::ubl::check_outgoing(
            &crate::adapter::ubl::Document::new(Kind::Invoice),
            &Default::default(),
        )
        .expect("encodes");
        assert!(
            checked
                .warnings
                .iter()
                .all(|w| !w.rule.starts_with("UBL-CR")),
            "{:?}",
            checked.warnings
        );
    }

    #[test]
    fn an_attribute_en16931_does_not_use_is_a_warning_anywhere() {
        assert_eq!(
            fired(r#"<cac:X><cac:Y><cbc:Z listName="a">1</cbc:Z></cac:Y></cac:X>"#),
            ["UBL-DT-17"]
        );
        assert!(fired(r#"<cac:PaymentMeans><cbc:PaymentMeansCode name="Overboeking">30</cbc:PaymentMeansCode></cac:PaymentMeans>"#).is_empty());
        assert_eq!(
            fired(
                r#"<cac:PaymentMeans><cbc:PaymentID name="x">1</cbc:PaymentID></cac:PaymentMeans>"#
            ),
            ["UBL-DT-18"]
        );
    }

    #[test]
    fn amounts_have_two_decimals_as_written() {
        let total = |v: &str| {
            format!(
                r#"<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR">{v}</cbc:PayableAmount></cac:LegalMonetaryTotal>"#
            )
        };
        assert!(fired(&total("1.25")).is_empty());
        assert_eq!(fired(&total("1.255")), ["UBL-DT-01"]);
        // Within a price with an allowance, and the price itself, are not judged.
        let price = r#"<cac:InvoiceLine><cac:Price><cbc:PriceAmount currencyID="EUR">1.2345</cbc:PriceAmount><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID="EUR">0.125</cbc:Amount><cbc:BaseAmount currencyID="EUR">1.3595</cbc:BaseAmount></cac:AllowanceCharge></cac:Price></cac:InvoiceLine>"#;
        assert!(!fired(price).contains(&"UBL-DT-01".to_string()));
    }

    #[test]
    fn an_attachment_names_its_type_and_file() {
        let doc = |attrs: &str| {
            format!(
                r#"<cac:AdditionalDocumentReference><cbc:ID>1</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject {attrs}>AA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>"#
            )
        };
        assert!(fired(&doc(r#"mimeCode="application/pdf" filename="a.pdf""#)).is_empty());
        assert_eq!(fired(&doc(r#"mimeCode="application/pdf""#)), ["UBL-DT-07"]);
    }

    #[test]
    fn occurrences_are_counted() {
        let line = |n: usize| {
            format!(
                "<cac:InvoiceLine><cac:Item>{}</cac:Item></cac:InvoiceLine>",
                "<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID></cac:ClassifiedTaxCategory>"
                    .repeat(n)
            )
        };
        assert!(fired(&line(1)).is_empty());
        assert_eq!(fired(&line(0)), ["UBL-SR-48"]);
        assert_eq!(fired(&line(2)), ["UBL-SR-48"]);
        let address = |n: usize| {
            format!(
                "<cac:Delivery><cac:DeliveryLocation><cac:Address>{}</cac:Address></cac:DeliveryLocation></cac:Delivery>",
                "<cac:AddressLine><cbc:Line>x</cbc:Line></cac:AddressLine>".repeat(n)
            )
        };
        assert!(fired(&address(1)).is_empty());
        assert_eq!(fired(&address(2)), ["UBL-SR-51"]);
        let means = |a: &str, b: &str| {
            format!(
                "<cac:PaymentMeans><cbc:PaymentMeansCode>{a}</cbc:PaymentMeansCode></cac:PaymentMeans><cac:PaymentMeans><cbc:PaymentMeansCode>{b}</cbc:PaymentMeansCode></cac:PaymentMeans>"
            )
        };
        assert!(fired(&means("30", "30")).is_empty());
        assert_eq!(fired(&means("30", "58")), ["UBL-SR-47"]);
    }

    #[test]
    fn a_payee_is_named_other_than_the_seller() {
        let doc = |payee: &str| {
            format!(
                "<cac:AccountingSupplierParty><cac:Party><cac:PartyLegalEntity><cbc:RegistrationName>Zorg BV</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty><cac:PayeeParty><cac:PartyName><cbc:Name>{payee}</cbc:Name></cac:PartyName></cac:PayeeParty>"
            )
        };
        assert!(fired(&doc("Factoring BV")).is_empty());
        assert_eq!(
            fired(&doc("Zorg BV")),
            ["UBL-SR-19", "UBL-SR-20", "UBL-SR-21"]
        );
    }

    #[test]
    fn a_tax_scheme_has_its_identifier() {
        let doc = |inner: &str| {
            format!(
                "<cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme>{inner}<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>"
            )
        };
        assert!(fired(&doc("<cbc:CompanyID>NL1</cbc:CompanyID>")).is_empty());
        assert_eq!(fired(&doc("")), ["UBL-SR-53"]);
    }

    #[test]
    fn an_allowance_is_known_by_its_indicator_read_as_a_boolean() {
        let reasons = |indicator: &str| {
            format!(
                "<cac:AllowanceCharge><cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator><cbc:AllowanceChargeReason>a</cbc:AllowanceChargeReason><cbc:AllowanceChargeReason>b</cbc:AllowanceChargeReason></cac:AllowanceCharge>"
            )
        };
        assert_eq!(fired(&reasons("false")), ["UBL-SR-30"]);
        assert_eq!(fired(&reasons("0")), ["UBL-SR-30"]);
        assert_eq!(fired(&reasons(" 1 ")), ["UBL-SR-31"]);
        assert!(fired(&reasons("ja")).is_empty());
    }

    #[test]
    fn vat_numbers_are_counted_apart_from_other_tax_registrations() {
        let schemes = |ids: &[&str]| {
            let inner: String = ids
                .iter()
                .map(|id| format!("<cac:PartyTaxScheme><cbc:CompanyID>1</cbc:CompanyID><cac:TaxScheme><cbc:ID>{id}</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"))
                .collect();
            format!(
                "<cac:AccountingSupplierParty><cac:Party>{inner}</cac:Party></cac:AccountingSupplierParty>"
            )
        };
        assert!(fired(&schemes(&["VAT", "LOC"])).is_empty());
        assert_eq!(fired(&schemes(&["VAT", "vat"])), ["UBL-SR-12"]);
        assert_eq!(fired(&schemes(&["LOC", "FOO"])), ["UBL-SR-13"]);
    }
}
