//! EN 16931's BR-DEC-*: amounts with at most two decimals. Every rule is a
//! data row (`schemas/ubl/rules/en16931-decimals.toml`) over the generic
//! meaning `decimals`; this module has no meaning of its own, only the
//! tests of those rows.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];

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
}
