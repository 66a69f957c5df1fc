//! loket's own business checks (LOKET-*): what a care financier needs on
//! top of the standard. They are kept apart from EN 16931 and Peppol on
//! purpose: on receipt they are only ever warnings, so an invoice the
//! standard accepts is never refused for them; on sending, a financier's
//! mapping decides per check (`[invoice] checks`, [`Checks`]) whether it
//! refuses loket's own invoice, warns or is off.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Ctx, Flag, Meaning, Outcome, RuleSet, Verdict, judge};
use crate::adapter::ubl::Kind;
use crate::adapter::xml::Element;

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "credit-names-invoice",
        run: credit_names_invoice,
        paths: &[],
        optional: &[],
    },
    Meaning {
        name: "signs-agree",
        run: signs_agree,
        paths: &[],
        optional: &[],
    },
];

/// A credit note names the invoice it credits (BG-3), so the receiving
/// administration can match it: EN 16931 leaves it optional (BR-55 only
/// asks that a reference, when given, has its number).
fn credit_names_invoice(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(
        c.kind != Kind::CreditNote
            || c.text("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID")
                .is_some(),
    )
}

/// A line's quantity and amount have the same sign: a negative quantity
/// with a positive amount pays where it should credit. The standard allows
/// it (a price can be negative through allowances), hence a check of ours.
fn signs_agree(c: &Ctx<'_>) -> Outcome {
    let (Some(q), Some(a)) = (c.dec("cbc:$Quantity"), c.dec("cbc:LineExtensionAmount")) else {
        return Outcome::Pass;
    };
    if q.is_zero() || a.is_zero() || q.is_negative() == a.is_negative() {
        return Outcome::Pass;
    }
    Outcome::FailWith(
        format!("(hoeveelheid {q}, bedrag {a})"),
        format!("(quantity {q}, amount {a})"),
    )
}

/// What a business check does for one financier, when loket sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckLevel {
    /// Refuses loket's own invoice before it leaves.
    Error,
    /// Reported with the invoice; it leaves.
    Warning,
    Off,
}

/// A financier's choice per check (`[invoice] checks = { "LOKET-ORDER" =
/// "error" }`); a check not named keeps its catalogue flag.
pub type Checks = BTreeMap<String, CheckLevel>;

/// Which way the document goes.
#[derive(Debug, Clone, Copy)]
pub enum Direction<'a> {
    /// Received: every check is a warning.
    Receipt,
    /// Sent by loket for a financier with these choices.
    Send(&'a Checks),
}

/// loket's business checks on `root`, fatal and warning apart as
/// `direction` decides.
pub fn business(root: &Element, kind: Kind, direction: Direction<'_>) -> Verdict {
    let judged = judge(root, kind, &[RuleSet::Loket]);
    let mut out = Verdict::default();
    let catalogue_flag = |id: &str| {
        super::catalogue()
            .ok()
            .and_then(|c| c.get(id))
            .map_or(Flag::Warning, |r| r.flag)
    };
    for f in judged.errors.into_iter().chain(judged.warnings) {
        let level = match direction {
            Direction::Receipt => CheckLevel::Warning,
            Direction::Send(checks) => {
                checks
                    .get(&f.rule)
                    .copied()
                    .unwrap_or(match catalogue_flag(&f.rule) {
                        Flag::Fatal => CheckLevel::Error,
                        Flag::Warning => CheckLevel::Warning,
                    })
            }
        };
        match level {
            CheckLevel::Error => out.errors.push(f),
            CheckLevel::Warning => out.warnings.push(f),
            CheckLevel::Off => {}
        }
    }
    out
}

/// Every business check's id (for the mapping's validation).
pub fn ids() -> Vec<&'static str> {
    super::catalogue()
        .map(|c| {
            c.rules()
                .filter(|r| r.set == RuleSet::Loket)
                .map(|r| r.id.as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::xml::read_tree;

    fn doc(root: &str, body: &str) -> Element {
        let xml = format!(
            r#"<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
            xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
            xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">{body}</{root}>"#
        );
        read_tree(xml.as_bytes(), 1 << 20, 64).expect("reads")
    }

    fn fired(v: &Verdict) -> (Vec<&str>, Vec<&str>) {
        (
            v.errors.iter().map(|f| f.rule.as_str()).collect(),
            v.warnings.iter().map(|f| f.rule.as_str()).collect(),
        )
    }

    const LINE: &str = "<cac:CreditNoteLine><cbc:ID>1</cbc:ID><cbc:CreditedQuantity unitCode=\"HUR\">-2</cbc:CreditedQuantity><cbc:LineExtensionAmount currencyID=\"EUR\">10.00</cbc:LineExtensionAmount></cac:CreditNoteLine>";

    #[test]
    fn on_receipt_every_check_is_a_warning() {
        let d = doc("CreditNote", LINE);
        let v = business(&d, Kind::CreditNote, Direction::Receipt);
        let (errors, mut warnings) = fired(&v);
        warnings.sort();
        assert!(errors.is_empty());
        assert_eq!(
            warnings,
            ["LOKET-ACCOUNT", "LOKET-CREDIT", "LOKET-ORDER", "LOKET-SIGN"]
        );
    }

    #[test]
    fn on_sending_the_financier_decides() {
        let d = doc("CreditNote", LINE);
        let mut checks = Checks::new();
        checks.insert("LOKET-ORDER".into(), CheckLevel::Error);
        checks.insert("LOKET-SIGN".into(), CheckLevel::Off);
        checks.insert("LOKET-ACCOUNT".into(), CheckLevel::Warning);
        let v = business(&d, Kind::CreditNote, Direction::Send(&checks));
        let (mut errors, warnings) = fired(&v);
        errors.sort();
        // LOKET-CREDIT keeps its catalogue flag (fatal when sending).
        assert_eq!(errors, ["LOKET-CREDIT", "LOKET-ORDER"]);
        assert_eq!(warnings, ["LOKET-ACCOUNT"]);
    }

    #[test]
    fn a_complete_document_passes() {
        let d = doc(
            "Invoice",
            "<cac:OrderReference><cbc:ID>O-1</cbc:ID></cac:OrderReference>\
             <cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cac:PayeeFinancialAccount><cbc:ID>NL91ABNA0417164300</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>\
             <cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode=\"HUR\">-2</cbc:InvoicedQuantity><cbc:LineExtensionAmount currencyID=\"EUR\">-10.00</cbc:LineExtensionAmount></cac:InvoiceLine>",
        );
        let v = business(&d, Kind::Invoice, Direction::Send(&Checks::new()));
        assert_eq!(fired(&v), (vec![], vec![]));
        assert_eq!(ids().len(), 4);
    }
}
