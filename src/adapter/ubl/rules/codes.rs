//! Code lists as data (`schemas/ubl/codes/*.toml`, one list per file,
//! with the publication it comes from) and the meanings that check a value
//! against one: "code" for the BR-CL rules of EN 16931 and "subject-code"
//! for the subject of a note (BR-CL-08), which the artefact tests in its
//! own way.
//!
//! A code is judged as the CEN artefact judges it: the value with its
//! whitespace collapsed must be one of the list's codes (so a value with an
//! inner space never is, and neither is an empty one).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

use super::{Ctx, Meaning, Outcome};

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "code",
        run: code,
        paths: &["path"],
        optional: &[
            "list",
            "lists",
            "names",
            "parents",
            "required",
            "upper",
            "exact",
            "also",
            "also_within",
            "charge",
        ],
    },
    Meaning {
        name: "subject-code",
        run: subject_code,
        paths: &[],
        optional: &["list"],
    },
];

/// Every code list, one file each.
const FILES: &[(&str, &str)] = &[
    (
        "schemas/ubl/codes/CEF-EAS.toml",
        include_str!("../../../../schemas/ubl/codes/CEF-EAS.toml"),
    ),
    (
        "schemas/ubl/codes/ISO3166-1.toml",
        include_str!("../../../../schemas/ubl/codes/ISO3166-1.toml"),
    ),
    (
        "schemas/ubl/codes/ISO4217.toml",
        include_str!("../../../../schemas/ubl/codes/ISO4217.toml"),
    ),
    (
        "schemas/ubl/codes/ISO6523-ICD.toml",
        include_str!("../../../../schemas/ubl/codes/ISO6523-ICD.toml"),
    ),
    (
        "schemas/ubl/codes/MIME.toml",
        include_str!("../../../../schemas/ubl/codes/MIME.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL1001-credit-note.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL1001-credit-note.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL1001-invoice.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL1001-invoice.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL1153.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL1153.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL2005-vat-point.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL2005-vat-point.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL4451.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL4451.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL4461.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL4461.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL5189.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL5189.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL5305.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL5305.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL7143.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL7143.toml"),
    ),
    (
        "schemas/ubl/codes/UNCL7161.toml",
        include_str!("../../../../schemas/ubl/codes/UNCL7161.toml"),
    ),
    (
        "schemas/ubl/codes/UNECE-Rec20-Rec21.toml",
        include_str!("../../../../schemas/ubl/codes/UNECE-Rec20-Rec21.toml"),
    ),
    (
        "schemas/ubl/codes/VATEX.toml",
        include_str!("../../../../schemas/ubl/codes/VATEX.toml"),
    ),
    (
        "schemas/ubl/codes/vat-prefix.toml",
        include_str!("../../../../schemas/ubl/codes/vat-prefix.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-eas.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-eas.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-iso4217.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-iso4217.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-mime.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-mime.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-profiles.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-profiles.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl1001-creditnote.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl1001-creditnote.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl1001-invoice.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl1001-invoice.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl2005.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl2005.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl5189.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl5189.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl7161.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl7161.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    name: String,
    source: String,
    codes: Vec<String>,
}

/// One list: its codes as a set, and in the order the publication gives
/// them (the note subject test reads them as one text).
struct List {
    set: HashSet<String>,
    joined: String,
}

static LISTS: LazyLock<Result<HashMap<String, List>, String>> = LazyLock::new(|| {
    let mut out = HashMap::new();
    for (file, text) in FILES {
        let l: ListFile = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        if l.source.trim().is_empty() || l.codes.is_empty() {
            return Err(format!("{file}: a list needs its source and codes"));
        }
        if let Some(bad) = l.codes.iter().find(|c| c.is_empty() || c.contains(' ')) {
            return Err(format!("{file}: code {bad:?} is empty or has a space"));
        }
        let joined = format!(" {} ", l.codes.join(" "));
        let list = List {
            set: l.codes.into_iter().collect(),
            joined,
        };
        if out.insert(l.name.clone(), list).is_some() {
            return Err(format!("{file}: list {} given twice", l.name));
        }
    }
    Ok(out)
});

/// The code list `name`.
pub fn list(name: &str) -> Option<&'static HashSet<String>> {
    LISTS.as_ref().ok()?.get(name).map(|l| &l.set)
}

/// Is `value` in list `name`? An unknown list holds nothing.
pub fn contains(name: &str, value: &str) -> bool {
    list(name).is_some_and(|l| l.contains(value))
}

/// The local name and prefix of each step of a location
/// (`/Invoice/cac:InvoiceLine[2]/cbc:ID[1]` gives `Invoice`,
/// `cac:InvoiceLine`, `cbc:ID`), from the document element down.
fn steps(loc: &str) -> impl Iterator<Item = &str> {
    loc.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.split_once('[').map_or(s, |(name, _)| name))
}

/// The name (with prefix) of the context's parent.
fn parent(loc: &str) -> Option<&str> {
    let all: Vec<&str> = steps(loc).collect();
    all.len().checked_sub(2).map(|i| all[i])
}

/// Does the context lie within an element named `name` (with prefix)?
fn within(loc: &str, name: &str) -> bool {
    let all: Vec<&str> = steps(loc).collect();
    all[..all.len().saturating_sub(1)].contains(&name)
}

/// The values to judge: the values `path` selects (normalized, or the raw
/// attribute when `exact`), or an empty one when `required` and there is
/// none: the artefact tests an absent attribute as the empty string.
fn judged_values(c: &Ctx<'_>) -> Vec<String> {
    let mut values = if c.arg_bool("exact") == Some(true) {
        let attr = c
            .arg_str("path")
            .and_then(|p| p.rsplit_once('@'))
            .map(|(_, a)| a)
            .unwrap_or_default();
        c.select("path")
            .iter()
            .filter_map(|n| n.el.attribute(attr).map(str::to_string))
            .collect()
    } else {
        c.values("path")
    };
    if values.is_empty() && c.arg_bool("required") == Some(true) {
        values.push(String::new());
    }
    values
}

/// Every value `path` selects is in the list. Arguments:
/// - `list`, or `lists` (element name to list: the list depends on which
///   element the context is, as for invoice and credit note type codes; an
///   element not named there is not judged);
/// - `names`: only contexts with one of these local names are judged (the
///   artefact's contexts that are a choice of elements);
/// - `parents`: only contexts whose parent is one of these (with prefix);
/// - `required`: an absent value is judged as empty, so it fails;
/// - `upper`: the value is upper-cased before the look-up;
/// - `exact`: the attribute as written is compared, not its collapsed form;
/// - `also` with `also_within`: codes outside the list accepted within one
///   of these elements (SEPA for the seller's or payee's identifier);
/// - `charge`: only contexts within an allowance (false) or a charge (true),
///   by the parent's ChargeIndicator read as a boolean.
fn code(c: &Ctx<'_>) -> Outcome {
    let local = c.node.el.name.as_str();
    let names = c.arg_list("names");
    if !names.is_empty() && !names.contains(&local) {
        return Outcome::Pass;
    }
    let parents = c.arg_list("parents");
    // The location is written out only for the rules that look at it.
    let loc = if parents.is_empty() && c.arg_list("also_within").is_empty() {
        String::new()
    } else {
        c.node.loc()
    };
    if !parents.is_empty() && !parent(&loc).is_some_and(|p| parents.contains(&p)) {
        return Outcome::Pass;
    }
    if let Some(charge) = c.arg_bool("charge") {
        let line = c.node.lineage();
        let parent = line.len().checked_sub(2).map(|i| line[i]);
        if !parent.is_some_and(|p| super::syntax::is_charge(p, charge)) {
            return Outcome::Pass;
        }
    }
    let by_name = c.rule.args.get("lists").and_then(|v| v.as_table());
    let name = match by_name {
        Some(t) => match t.get(local).and_then(|v| v.as_str()) {
            Some(n) => n,
            None => return Outcome::Pass,
        },
        None => c.arg_str("list").unwrap_or_default(),
    };
    let upper = c.arg_bool("upper") == Some(true);
    let also = c.arg_list("also");
    let also_here = !also.is_empty() && c.arg_list("also_within").iter().any(|w| within(&loc, w));
    for v in judged_values(c) {
        let key = if upper { v.to_uppercase() } else { v.clone() };
        let ok = !key.contains(' ')
            && (contains(name, &key) || (also_here && also.contains(&key.as_str())));
        if !ok {
            let shown = if v.is_empty() { "leeg" } else { v.as_str() };
            let shown_en = if v.is_empty() { "empty" } else { v.as_str() };
            return Outcome::FailWith(
                format!("({shown}, lijst {name})"),
                format!("({shown_en}, list {name})"),
            );
        }
    }
    Outcome::Pass
}

/// The text of an element as written: its own text and its children's,
/// whitespace kept (the XPath string value).
fn raw_text(e: &crate::adapter::xml::Element) -> String {
    let mut s = e.text.clone();
    for child in &e.children {
        s.push_str(&raw_text(child));
    }
    s
}

/// A note that starts its subject with `#XXX#` (three characters between
/// the first two `#`) names a subject from `list` (default UNCL4451). The
/// artefact looks the three characters up as text in the space-separated
/// list rather than as a whole code, so this does the same: a note the
/// official validation accepts is accepted here.
fn subject_code(c: &Ctx<'_>) -> Outcome {
    let text = raw_text(c.node.el);
    let Some((_, after)) = text.split_once('#') else {
        return Outcome::Pass;
    };
    let subject = after.split_once('#').map_or("", |(s, _)| s);
    if subject.chars().count() != 3 {
        return Outcome::Pass;
    }
    let name = c.arg_str("list").unwrap_or("UNCL4451");
    let known = LISTS
        .as_ref()
        .ok()
        .and_then(|m| m.get(name))
        .is_some_and(|l| l.joined.contains(subject));
    if known {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({subject})"), format!("({subject})"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RuleSet, judge};
    use crate::adapter::ubl::Kind;
    use crate::adapter::xml::read_tree;

    #[test]
    fn every_list_loads() {
        if let Err(e) = super::LISTS.as_ref() {
            panic!("{e}");
        }
        for (name, code) in [
            ("UNECE-Rec20-Rec21", "KWH"),
            ("UNECE-Rec20-Rec21", "E49"),
            ("UNECE-Rec20-Rec21", "XBX"),
            ("ISO3166-1", "1A"),
            ("ISO3166-1", "XI"),
            ("UNCL5305", "L"),
            ("ISO4217", "EUR"),
        ] {
            assert!(super::contains(name, code), "{name} {code}");
        }
        assert!(!super::contains("ISO4217", "XYZ"));
    }

    const HEAD: &str = r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
        xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
        xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">"#;

    /// The BR-CL rules that fire on an invoice with `body`.
    fn fired(body: &str) -> Vec<String> {
        let xml = format!("{HEAD}{body}</Invoice>");
        let tree = read_tree(xml.as_bytes(), 1 << 20, 64).expect("reads");
        let mut ids: Vec<String> = judge(&tree, Kind::Invoice, &[RuleSet::En16931])
            .fired()
            .filter(|id| id.starts_with("BR-CL-"))
            .map(str::to_string)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn a_code_is_judged_by_its_list() {
        assert!(fired("<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>").is_empty());
        assert_eq!(
            fired("<cbc:DocumentCurrencyCode>XYZ</cbc:DocumentCurrencyCode>"),
            ["BR-CL-04"]
        );
        assert_eq!(
            fired("<cbc:DocumentCurrencyCode>E UR</cbc:DocumentCurrencyCode>"),
            ["BR-CL-04"]
        );
        // The list depends on the element: 381 is a credit note type.
        assert!(fired("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>").is_empty());
        assert_eq!(
            fired("<cbc:InvoiceTypeCode>381</cbc:InvoiceTypeCode>"),
            ["BR-CL-01"]
        );
        // An amount needs a known currency, and one at all.
        assert!(fired(r#"<cbc:PayableAmount currencyID="EUR">1</cbc:PayableAmount>"#).is_empty());
        assert_eq!(
            fired(
                "<cac:LegalMonetaryTotal><cbc:PayableAmount>1</cbc:PayableAmount></cac:LegalMonetaryTotal>"
            ),
            ["BR-CL-03"]
        );
        // Exemption reasons are looked up upper-cased.
        assert!(
            fired("<cbc:TaxExemptionReasonCode>vatex-eu-ic</cbc:TaxExemptionReasonCode>")
                .is_empty()
        );
        assert_eq!(
            fired("<cbc:TaxExemptionReasonCode>VATEX-XX</cbc:TaxExemptionReasonCode>"),
            ["BR-CL-22"]
        );
        // Units, Rec 20 and Rec 21 alike.
        assert!(fired(r#"<cac:InvoiceLine><cbc:InvoicedQuantity unitCode="XBX">1</cbc:InvoicedQuantity></cac:InvoiceLine>"#).is_empty());
        assert_eq!(
            fired(
                r#"<cac:InvoiceLine><cbc:InvoicedQuantity unitCode="BOX">1</cbc:InvoicedQuantity></cac:InvoiceLine>"#
            ),
            ["BR-CL-23"]
        );
    }

    #[test]
    fn sepa_is_a_scheme_only_for_the_seller_and_the_payee() {
        let party = |role: &str| {
            format!(
                r#"<cac:{role}><cac:Party><cac:PartyIdentification><cbc:ID schemeID="SEPA">X</cbc:ID></cac:PartyIdentification></cac:Party></cac:{role}>"#
            )
        };
        assert!(fired(&party("AccountingSupplierParty")).is_empty());
        assert_eq!(fired(&party("AccountingCustomerParty")), ["BR-CL-10"]);
    }

    #[test]
    fn the_scheme_of_an_object_reference_is_judged_only_for_code_130() {
        let reference = |code: &str| {
            format!(
                r#"<cac:AdditionalDocumentReference><cbc:ID schemeID="XYZ">1</cbc:ID><cbc:DocumentTypeCode>{code}</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>"#
            )
        };
        assert_eq!(fired(&reference("130")), ["BR-CL-07"]);
        assert!(fired(&reference("916")).is_empty());
    }

    #[test]
    fn a_note_subject_is_a_known_text_subject() {
        assert!(fired("<cbc:Note>#AAI#Tekst</cbc:Note>").is_empty());
        assert!(fired("<cbc:Note>Geen onderwerp #1#</cbc:Note>").is_empty());
        assert_eq!(fired("<cbc:Note>#XYZ#Tekst</cbc:Note>"), ["BR-CL-08"]);
    }

    #[test]
    fn a_mime_code_is_compared_as_written() {
        let doc = |mime: &str| {
            format!(
                r#"<cac:AdditionalDocumentReference><cbc:ID>1</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode="{mime}" filename="a">AA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>"#
            )
        };
        assert!(fired(&doc("application/pdf")).is_empty());
        assert_eq!(fired(&doc("application/zip")), ["BR-CL-24"]);
    }

    #[test]
    fn a_reason_code_is_judged_by_the_list_of_allowances_or_charges() {
        let reason = |indicator: &str, code: &str| {
            format!(
                "<cac:AllowanceCharge><cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>{code}</cbc:AllowanceChargeReasonCode></cac:AllowanceCharge>"
            )
        };
        assert!(fired(&reason("false", "95")).is_empty());
        assert!(fired(&reason("true", "ABK")).is_empty());
        assert_eq!(fired(&reason("0", "ABK")), ["BR-CL-19"]);
        assert_eq!(fired(&reason("1", "95")), ["BR-CL-20"]);
    }
}
