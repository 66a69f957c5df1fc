//! EN 16931's BR-DEC-*: amounts with at most two decimals. Every rule is a
//! data row (`schemas/ubl/rules/en16931-decimals.toml`) over one meaning,
//! `decimals-as-written`: the artefact counts the characters after the
//! first full stop of the amount as it is written, so an amount written
//! `1.50 ` (a space inside the element, which the XSD allows) has three
//! decimals there and is refused. The generic `decimals` meaning reads
//! normalized numbers and would let it pass; loket must refuse exactly what
//! the official validation refuses.

use super::basic::as_written;
use super::{Ctx, Meaning, Outcome};

pub(super) const MEANINGS: &[Meaning] = &[Meaning {
    name: "decimals-as-written",
    run: decimals_as_written,
    paths: &["path"],
    optional: &["max"],
}];

/// Every element `path` selects has at most `max` (default 2) characters
/// after its first full stop, as written.
fn decimals_as_written(c: &Ctx<'_>) -> Outcome {
    let max = usize::try_from(c.arg_int("max").unwrap_or(2)).unwrap_or(0);
    for n in c.select("path") {
        let v = as_written(&n);
        let after = v.split_once('.').map_or(0, |(_, f)| f.chars().count());
        if after > max {
            let shown = v.trim();
            return Outcome::FailWith(format!("({shown})"), format!("({shown})"));
        }
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    use super::super::basic::{fired, invoice};

    fn rules(body: &str) -> Vec<String> {
        let mut v: Vec<String> = fired(&invoice(body))
            .into_iter()
            .map(|(r, _)| r)
            .filter(|r| r.starts_with("BR-DEC-"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn three_decimals_fire_the_row_of_that_amount() {
        let doc = |v: &str| {
            format!(
                r#"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
                <cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount>{v}</cbc:Amount><cbc:BaseAmount>{v}</cbc:BaseAmount></cac:AllowanceCharge>
                <cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:Amount>{v}</cbc:Amount><cbc:BaseAmount>{v}</cbc:BaseAmount></cac:AllowanceCharge>
                <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">{v}</cbc:TaxAmount><cac:TaxSubtotal><cbc:TaxableAmount>{v}</cbc:TaxableAmount><cbc:TaxAmount>{v}</cbc:TaxAmount></cac:TaxSubtotal></cac:TaxTotal>
                <cac:LegalMonetaryTotal><cbc:LineExtensionAmount>{v}</cbc:LineExtensionAmount><cbc:TaxExclusiveAmount>{v}</cbc:TaxExclusiveAmount><cbc:TaxInclusiveAmount>{v}</cbc:TaxInclusiveAmount><cbc:AllowanceTotalAmount>{v}</cbc:AllowanceTotalAmount><cbc:ChargeTotalAmount>{v}</cbc:ChargeTotalAmount><cbc:PrepaidAmount>{v}</cbc:PrepaidAmount><cbc:PayableRoundingAmount>{v}</cbc:PayableRoundingAmount><cbc:PayableAmount>{v}</cbc:PayableAmount></cac:LegalMonetaryTotal>
                <cac:InvoiceLine><cbc:LineExtensionAmount>{v}</cbc:LineExtensionAmount>
                <cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount>{v}</cbc:Amount><cbc:BaseAmount>{v}</cbc:BaseAmount></cac:AllowanceCharge>
                <cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:Amount>{v}</cbc:Amount><cbc:BaseAmount>{v}</cbc:BaseAmount></cac:AllowanceCharge>
                </cac:InvoiceLine>"#
            )
        };
        assert!(rules(&doc("1.50")).is_empty());
        // Every row but BR-DEC-13/15, which the artefact never fires.
        let expected: Vec<String> = [
            "01", "02", "05", "06", "09", "10", "11", "12", "14", "16", "17", "18", "19", "20",
            "23", "24", "25", "27", "28",
        ]
        .iter()
        .map(|n| format!("BR-DEC-{n}"))
        .collect();
        assert_eq!(rules(&doc("1.505")), expected);
    }

    #[test]
    fn decimals_are_counted_as_written() {
        let paid = |v: &str| {
            format!(
                "<cac:LegalMonetaryTotal><cbc:PrepaidAmount>{v}</cbc:PrepaidAmount></cac:LegalMonetaryTotal>"
            )
        };
        assert!(rules(&paid(" 1.50")).is_empty());
        assert!(rules(&paid("2")).is_empty());
        // A space after the amount is a character after the full stop, and
        // so is all after the first of two full stops.
        assert_eq!(rules(&paid("1.50 ")), ["BR-DEC-16"]);
        assert_eq!(rules(&paid("1.5.5")), ["BR-DEC-16"]);
    }
}
