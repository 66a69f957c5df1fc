//! The Dutch rules NL-R-001..NL-R-009 (`schemas/ubl/rules/nlcius.toml`):
//! the national rules of Peppol BIS Billing 3.0 for a seller in the
//! Netherlands, which carry NLCIUS's BR-NL rules over; they are judged for
//! a Peppol document and for an NLCIUS one ([`super::sets_for`]).
//!
//! Each applies only where the artefact applies it: a Dutch seller (postal
//! address NL), and for the rules about the buyer or the tax
//! representative, that party in the Netherlands too. Those conditions
//! are the guards of [`super::peppol::applies`]; the rules that only ask
//! for an element or a code reuse Peppol's meanings, the three below are
//! the Dutch ones.

use super::peppol::{applies, guarded};
use super::{Ctx, Meaning, Outcome};
use crate::adapter::ubl::{Dec, Kind};

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "nl-address",
        run: address,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "nl-legal-id",
        run: legal_id,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "nl-payment-required",
        run: payment_required,
        paths: &[],
        optional: guarded!(),
    },
];

/// NL-R-002, -004, -006: a Dutch address has a street, a city and a
/// postal code (the elements, as the artefact asks).
fn address(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let missing: Vec<&str> = [
        ("cbc:StreetName", "StreetName"),
        ("cbc:CityName", "CityName"),
        ("cbc:PostalZone", "PostalZone"),
    ]
    .into_iter()
    .filter(|(p, _)| !c.has(p))
    .map(|(_, n)| n)
    .collect();
    if missing.is_empty() {
        Outcome::Pass
    } else {
        let m = missing.join(", ");
        Outcome::FailWith(format!("(ontbreekt: {m})"), format!("(missing: {m})"))
    }
}

/// NL-R-003, -005: a Dutch party's legal registration is a KvK number
/// (0106) or an OIN (0190), and not empty.
fn legal_id(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let scheme = c.node.el.attribute("schemeID").map(str::trim);
    let value = super::path::string_value(c.node.el);
    match scheme {
        Some("0106" | "0190") if !value.is_empty() => Outcome::Pass,
        Some(s) => Outcome::FailWith(format!("(schemeID {s})"), format!("(schemeID {s})")),
        None => Outcome::FailWith("(geen schemeID)".into(), "(no schemeID)".into()),
    }
}

/// NL-R-007: when the buyer pays the seller (an invoice with a positive
/// amount due, a credit note with a negative one) the seller says how:
/// payment instructions (BG-16).
fn payment_required(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let payable = c.dec("cbc:PayableAmount");
    let nothing_to_pay = match (c.kind, payable) {
        (Kind::Invoice, Some(p)) => p <= Dec::ZERO,
        (Kind::CreditNote, Some(p)) => p >= Dec::ZERO,
        (_, None) => false,
    };
    Outcome::from_bool(nothing_to_pay || c.has("/cac:PaymentMeans"))
}
