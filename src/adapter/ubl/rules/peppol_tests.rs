//! Every Peppol rule (PEPPOL-*) and Dutch rule (NL-R-*) on a document where
//! it fires and one where it does not, each a small edit of one valid
//! Peppol invoice written for these tests; and the official examples on
//! the rule sets they claim.

use crate::adapter::ubl::Kind;
use crate::adapter::ubl::rules::{RuleSet, Verdict, judge, sets_for};
use crate::adapter::xml::read_tree;

/// A Peppol invoice from a Dutch seller to a Dutch municipality that every
/// Peppol and Dutch rule accepts, with something in every context those
/// rules have (period, allowances with percentage, price allowance, base
/// quantity, invoiced object, order line, attachment, identifiers).
const BASE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
<cbc:ID>F-1</cbc:ID>
<cbc:IssueDate>2026-04-02</cbc:IssueDate>
<cbc:DueDate>2026-05-02</cbc:DueDate>
<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
<cbc:Note>Maart</cbc:Note>
<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
<cbc:BuyerReference>RE-1</cbc:BuyerReference>
<cac:InvoicePeriod><cbc:StartDate>2026-03-01</cbc:StartDate><cbc:EndDate>2026-03-31</cbc:EndDate><cbc:DescriptionCode>35</cbc:DescriptionCode></cac:InvoicePeriod>
<cac:OrderReference><cbc:ID>ORD-1</cbc:ID></cac:OrderReference>
<cac:AdditionalDocumentReference><cbc:ID>urenstaat</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode="application/pdf" filename="uren.pdf">QUJD</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>
<cac:AccountingSupplierParty><cac:Party>
<cbc:EndpointID schemeID="0106">12345678</cbc:EndpointID>
<cac:PartyIdentification><cbc:ID schemeID="0088">5790000435975</cbc:ID></cac:PartyIdentification>
<cac:PostalAddress><cbc:StreetName>Dorpsstraat 1</cbc:StreetName><cbc:CityName>Utrecht</cbc:CityName><cbc:PostalZone>3511AA</cbc:PostalZone><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
<cac:PartyTaxScheme><cbc:CompanyID>NL001234567B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
<cac:PartyLegalEntity><cbc:RegistrationName>Zorgboerderij</cbc:RegistrationName><cbc:CompanyID schemeID="0106">12345678</cbc:CompanyID></cac:PartyLegalEntity>
</cac:Party></cac:AccountingSupplierParty>
<cac:AccountingCustomerParty><cac:Party>
<cbc:EndpointID schemeID="0190">00000001003214345000</cbc:EndpointID>
<cac:PostalAddress><cbc:StreetName>Stadhuisplein 1</cbc:StreetName><cbc:CityName>Amsterdam</cbc:CityName><cbc:PostalZone>1011AA</cbc:PostalZone><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
<cac:PartyLegalEntity><cbc:RegistrationName>Gemeente</cbc:RegistrationName><cbc:CompanyID schemeID="0190">00000001003214345000</cbc:CompanyID></cac:PartyLegalEntity>
</cac:Party></cac:AccountingCustomerParty>
<cac:Delivery><cac:DeliveryLocation><cbc:ID schemeID="0088">1234</cbc:ID></cac:DeliveryLocation></cac:Delivery>
<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentID>F-1</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>NL91ABNA0417164300</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode><cbc:MultiplierFactorNumeric>10</cbc:MultiplierFactorNumeric><cbc:Amount currencyID="EUR">10.00</cbc:Amount><cbc:BaseAmount currencyID="EUR">100.00</cbc:BaseAmount><cac:TaxCategory><cbc:ID>E</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>
<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID="EUR">5.00</cbc:Amount><cac:TaxCategory><cbc:ID>E</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>
<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">0.00</cbc:TaxAmount><cac:TaxSubtotal><cbc:TaxableAmount currencyID="EUR">195.00</cbc:TaxableAmount><cbc:TaxAmount currencyID="EUR">0.00</cbc:TaxAmount><cac:TaxCategory><cbc:ID>E</cbc:ID><cbc:Percent>0</cbc:Percent><cbc:TaxExemptionReasonCode>VATEX-EU-132</cbc:TaxExemptionReasonCode><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>
<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID="EUR">200.00</cbc:LineExtensionAmount><cbc:TaxExclusiveAmount currencyID="EUR">195.00</cbc:TaxExclusiveAmount><cbc:TaxInclusiveAmount currencyID="EUR">195.00</cbc:TaxInclusiveAmount><cbc:AllowanceTotalAmount currencyID="EUR">10.00</cbc:AllowanceTotalAmount><cbc:ChargeTotalAmount currencyID="EUR">5.00</cbc:ChargeTotalAmount><cbc:PayableAmount currencyID="EUR">195.00</cbc:PayableAmount></cac:LegalMonetaryTotal>
<cac:InvoiceLine>
<cbc:ID>1</cbc:ID>
<cbc:InvoicedQuantity unitCode="HUR">2</cbc:InvoicedQuantity>
<cbc:LineExtensionAmount currencyID="EUR">200.00</cbc:LineExtensionAmount>
<cac:InvoicePeriod><cbc:StartDate>2026-03-02</cbc:StartDate><cbc:EndDate>2026-03-30</cbc:EndDate></cac:InvoicePeriod>
<cac:OrderLineReference><cbc:LineID>1</cbc:LineID></cac:OrderLineReference>
<cac:DocumentReference><cbc:ID>OBJ-1</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference>
<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID="EUR">4.00</cbc:Amount></cac:AllowanceCharge>
<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID="EUR">4.00</cbc:Amount></cac:AllowanceCharge>
<cac:Item><cbc:Name>Begeleiding</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>E</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
<cac:Price><cbc:PriceAmount currencyID="EUR">100.00</cbc:PriceAmount><cbc:BaseQuantity unitCode="HUR">1</cbc:BaseQuantity><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID="EUR">10.00</cbc:Amount><cbc:BaseAmount currencyID="EUR">110.00</cbc:BaseAmount></cac:AllowanceCharge></cac:Price>
</cac:InvoiceLine>
</Invoice>
"#;

/// `BASE` as a credit note: the root, type code, line and quantity renamed,
/// the due date left out, the invoice it credits named.
fn credit_note() -> String {
    edit(
        BASE,
        &[
            (
                "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"",
                "<CreditNote xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2\"",
            ),
            ("</Invoice>", "</CreditNote>"),
            ("<cbc:DueDate>2026-05-02</cbc:DueDate>\n", ""),
            (
                "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
                "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>",
            ),
            ("InvoiceLine>", "CreditNoteLine>"),
            ("InvoicedQuantity", "CreditedQuantity"),
            (
                "<cac:AdditionalDocumentReference>",
                "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>F-0</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference>\n<cac:AdditionalDocumentReference>",
            ),
        ],
    )
}

/// `doc` with every occurrence of each `from` replaced; a `from` that is
/// not there is a broken test, not a passing one.
fn edit(doc: &str, edits: &[(&str, &str)]) -> String {
    let mut out = doc.to_string();
    for (from, to) in edits {
        assert!(out.contains(from), "edit {from:?} does not apply");
        out = out.replace(from, to);
    }
    out
}

fn verdict(doc: &str, sets: &[RuleSet]) -> Verdict {
    let tree = read_tree(doc.as_bytes(), 1 << 22, 64).expect("test document parses");
    let kind = if tree.name == "CreditNote" {
        Kind::CreditNote
    } else {
        Kind::Invoice
    };
    judge(&tree, kind, sets)
}

fn fired(doc: &str) -> Vec<String> {
    verdict(doc, &[RuleSet::Peppol, RuleSet::Nlcius])
        .fired()
        .map(str::to_string)
        .collect()
}

/// One rule's two documents: `fire` edits make it fire, `pass` edits keep
/// its context but satisfy it (nothing: `BASE` itself).
struct Case {
    id: &'static str,
    credit: bool,
    fire: &'static [(&'static str, &'static str)],
    pass: &'static [(&'static str, &'static str)],
}

const fn case(
    id: &'static str,
    fire: &'static [(&'static str, &'static str)],
    pass: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        id,
        credit: false,
        fire,
        pass,
    }
}

const fn credit(
    id: &'static str,
    fire: &'static [(&'static str, &'static str)],
    pass: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        id,
        credit: true,
        fire,
        pass,
    }
}

const PROFILE: &str = "<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>";
const NOTE: &str = "<cbc:Note>Maart</cbc:Note>";
const NL: &str = "<cbc:IdentificationCode>NL</cbc:IdentificationCode>";
const BUYER_NL: &str = "<cbc:CityName>Amsterdam</cbc:CityName><cbc:PostalZone>1011AA</cbc:PostalZone><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode>";
const BUYER_BE: &str = "<cbc:CityName>Amsterdam</cbc:CityName><cbc:PostalZone>1011AA</cbc:PostalZone><cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode>";
const SELLER_NL: &str = "<cbc:PostalZone>3511AA</cbc:PostalZone><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode>";
const SELLER_BE: &str = "<cbc:PostalZone>3511AA</cbc:PostalZone><cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode>";
const DOC_TAX: &str = "<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">0.00</cbc:TaxAmount>";
const PARTY_ID: &str = "<cbc:ID schemeID=\"0088\">5790000435975</cbc:ID>";
const SUBTOTAL_CATEGORY: &str = "<cbc:ID>E</cbc:ID><cbc:Percent>0</cbc:Percent><cbc:TaxExemptionReasonCode>VATEX-EU-132</cbc:TaxExemptionReasonCode>";
const LINE_AMOUNT: &str = "<cbc:LineExtensionAmount currencyID=\"EUR\">200.00</cbc:LineExtensionAmount>\n<cac:InvoicePeriod>";
const DOC_ALLOWANCE_AMOUNT: &str = "<cbc:Amount currencyID=\"EUR\">10.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>";
const PRICE_ALLOWANCE: &str = "<cac:Price><cbc:PriceAmount currencyID=\"EUR\">100.00</cbc:PriceAmount><cbc:BaseQuantity unitCode=\"HUR\">1</cbc:BaseQuantity><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">10.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">110.00</cbc:BaseAmount>";
const LINE_CHARGE: &str = "<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID=\"EUR\">4.00</cbc:Amount>";
const SELLER_ENDPOINT: &str = "<cbc:EndpointID schemeID=\"0106\">12345678</cbc:EndpointID>";
const BUYER_ENDPOINT: &str =
    "<cbc:EndpointID schemeID=\"0190\">00000001003214345000</cbc:EndpointID>";
const OBJECT: &str = "<cac:DocumentReference><cbc:ID>OBJ-1</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference>";
const PROJECT: &str = "<cac:AdditionalDocumentReference><cbc:ID>P-1</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:AdditionalDocumentReference><cac:AdditionalDocumentReference><cbc:ID>P-2</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:AdditionalDocumentReference>\n<cac:AccountingSupplierParty>";
const ACCOUNTING_USD: &str = "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode><cbc:TaxCurrencyCode>USD</cbc:TaxCurrencyCode>";
const PAYMENT_30: &str = "<cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>";
const TAX_REP_NL: &str = "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Vertegenwoordiger</cbc:Name></cac:PartyName><cac:PostalAddress><cbc:CityName>Den Haag</cbc:CityName><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode></cac:Country></cac:PostalAddress></cac:TaxRepresentativeParty>\n<cac:Delivery>";
const TAX_REP_BE: &str = "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Vertegenwoordiger</cbc:Name></cac:PartyName><cac:PostalAddress><cbc:CityName>Brussel</cbc:CityName><cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode></cac:Country></cac:PostalAddress></cac:TaxRepresentativeParty>\n<cac:Delivery>";
const ORDER: &str = "<cac:OrderReference><cbc:ID>ORD-1</cbc:ID></cac:OrderReference>";

/// An identifier rule: the seller's party identification with `scheme`,
/// `bad` where it fires, `good` where it does not.
macro_rules! scheme {
    ($id:literal, $scheme:literal, $bad:literal, $good:literal) => {
        case(
            $id,
            &[(
                PARTY_ID,
                concat!("<cbc:ID schemeID=\"", $scheme, "\">", $bad, "</cbc:ID>"),
            )],
            &[(
                PARTY_ID,
                concat!("<cbc:ID schemeID=\"", $scheme, "\">", $good, "</cbc:ID>"),
            )],
        )
    };
}

/// An exemption reason code with the wrong and the right category.
macro_rules! vatex {
    ($id:literal, $reason:literal, $wrong:literal, $right:literal) => {
        case(
            $id,
            &[(
                SUBTOTAL_CATEGORY,
                concat!(
                    "<cbc:ID>",
                    $wrong,
                    "</cbc:ID><cbc:Percent>0</cbc:Percent><cbc:TaxExemptionReasonCode>",
                    $reason,
                    "</cbc:TaxExemptionReasonCode>"
                ),
            )],
            &[(
                SUBTOTAL_CATEGORY,
                concat!(
                    "<cbc:ID>",
                    $right,
                    "</cbc:ID><cbc:Percent>0</cbc:Percent><cbc:TaxExemptionReasonCode>",
                    $reason,
                    "</cbc:TaxExemptionReasonCode>"
                ),
            )],
        )
    };
}

const CASES: &[Case] = &[
    case("PEPPOL-EN16931-R001", &[(PROFILE, "")], &[]),
    case(
        "PEPPOL-EN16931-R007",
        &[(PROFILE, "<cbc:ProfileID>urn:x</cbc:ProfileID>")],
        &[(
            PROFILE,
            "<cbc:ProfileID>urn:peppol:bis:billing_with_response</cbc:ProfileID>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R002",
        &[(NOTE, "<cbc:Note>Maart</cbc:Note><cbc:Note>April</cbc:Note>")],
        &[
            (NOTE, "<cbc:Note>Maart</cbc:Note><cbc:Note>April</cbc:Note>"),
            (NL, "<cbc:IdentificationCode>DE</cbc:IdentificationCode>"),
        ],
    ),
    case(
        "PEPPOL-EN16931-R003",
        &[
            ("<cbc:BuyerReference>RE-1</cbc:BuyerReference>", ""),
            (ORDER, ""),
        ],
        &[("<cbc:BuyerReference>RE-1</cbc:BuyerReference>", "")],
    ),
    case(
        "PEPPOL-EN16931-R004",
        &[(
            "billing:3.0</cbc:CustomizationID>",
            "billing:3.0::2</cbc:CustomizationID>",
        )],
        &[(
            "billing:3.0</cbc:CustomizationID>",
            "billing:3.0#conformant#urn:x</cbc:CustomizationID>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R053",
        &[(
            "<cac:TaxSubtotal>",
            "<cac:TaxSubtotal><cbc:TaxableAmount currencyID=\"EUR\">0.00</cbc:TaxableAmount></cac:TaxSubtotal></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">0.00</cbc:TaxAmount><cac:TaxSubtotal>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R054",
        &[(
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            ACCOUNTING_USD,
        )],
        &[
            (
                "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
                ACCOUNTING_USD,
            ),
            (
                DOC_TAX,
                "<cac:TaxTotal><cbc:TaxAmount currencyID=\"USD\">0.00</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">0.00</cbc:TaxAmount>",
            ),
        ],
    ),
    case(
        "PEPPOL-EN16931-R055",
        &[
            (
                "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
                ACCOUNTING_USD,
            ),
            (
                DOC_TAX,
                "<cac:TaxTotal><cbc:TaxAmount currencyID=\"USD\">-5.00</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">3.00</cbc:TaxAmount>",
            ),
        ],
        &[
            (
                "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
                ACCOUNTING_USD,
            ),
            (
                DOC_TAX,
                "<cac:TaxTotal><cbc:TaxAmount currencyID=\"USD\">5.00</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">3.00</cbc:TaxAmount>",
            ),
        ],
    ),
    credit(
        "PEPPOL-EN16931-R080",
        &[("\n<cac:AccountingSupplierParty>", PROJECT)],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R005",
        &[(
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode><cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>",
        )],
        &[(
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            ACCOUNTING_USD,
        )],
    ),
    case(
        "PEPPOL-EN16931-R008",
        &[(
            "<cbc:BuyerReference>RE-1</cbc:BuyerReference>",
            "<cbc:BuyerReference>RE-1</cbc:BuyerReference><cbc:AccountingCost>  </cbc:AccountingCost>",
        )],
        &[],
    ),
    case("PEPPOL-EN16931-R010", &[(BUYER_ENDPOINT, "")], &[]),
    case("PEPPOL-EN16931-R020", &[(SELLER_ENDPOINT, "")], &[]),
    case(
        "PEPPOL-EN16931-R041",
        &[(
            "<cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>",
            "",
        )],
        // A price allowance with a percentage alone is not its context.
        &[(
            "<cbc:BaseAmount currencyID=\"EUR\">110.00</cbc:BaseAmount>",
            "<cbc:MultiplierFactorNumeric>5</cbc:MultiplierFactorNumeric>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R042",
        &[(
            "<cbc:MultiplierFactorNumeric>10</cbc:MultiplierFactorNumeric>",
            "",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R040",
        &[(
            DOC_ALLOWANCE_AMOUNT,
            "<cbc:Amount currencyID=\"EUR\">12.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>",
        )],
        &[(
            DOC_ALLOWANCE_AMOUNT,
            "<cbc:Amount currencyID=\"EUR\">10.02</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R043",
        &[(
            LINE_CHARGE,
            "<cac:AllowanceCharge><cbc:ChargeIndicator>ja</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID=\"EUR\">4.00</cbc:Amount>",
        )],
        // Judged under R041 (percentage without base), as the artefact does.
        &[
            (
                "<cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode><cbc:MultiplierFactorNumeric>",
                "<cbc:ChargeIndicator>ja</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode><cbc:MultiplierFactorNumeric>",
            ),
            (
                "<cbc:BaseAmount currencyID=\"EUR\">100.00</cbc:BaseAmount>",
                "",
            ),
        ],
    ),
    case(
        "PEPPOL-EN16931-R061",
        &[(
            PAYMENT_30,
            "<cbc:PaymentMeansCode>59</cbc:PaymentMeansCode>",
        )],
        &[(
            PAYMENT_30,
            "<cbc:PaymentMeansCode>59</cbc:PaymentMeansCode><cac:PaymentMandate><cbc:ID>M-1</cbc:ID></cac:PaymentMandate>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R051",
        &[(
            LINE_AMOUNT,
            "<cbc:LineExtensionAmount currencyID=\"USD\">200.00</cbc:LineExtensionAmount>\n<cac:InvoicePeriod>",
        )],
        &[
            (
                "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
                ACCOUNTING_USD,
            ),
            (
                DOC_TAX,
                "<cac:TaxTotal><cbc:TaxAmount currencyID=\"USD\">0.00</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">0.00</cbc:TaxAmount>",
            ),
        ],
    ),
    case(
        "PEPPOL-EN16931-R110",
        &[(
            "<cbc:StartDate>2026-03-02</cbc:StartDate>",
            "<cbc:StartDate>2026-02-28</cbc:StartDate>",
        )],
        &[(
            "<cbc:StartDate>2026-03-02</cbc:StartDate>",
            "<cbc:StartDate>2026-03-01</cbc:StartDate>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R111",
        &[(
            "<cbc:EndDate>2026-03-30</cbc:EndDate>",
            "<cbc:EndDate>2026-04-01</cbc:EndDate>",
        )],
        &[(
            "<cbc:EndDate>2026-03-30</cbc:EndDate>",
            "<cbc:EndDate>2026-03-31</cbc:EndDate>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R120",
        &[(
            LINE_AMOUNT,
            "<cbc:LineExtensionAmount currencyID=\"EUR\">200.03</cbc:LineExtensionAmount>\n<cac:InvoicePeriod>",
        )],
        &[(
            LINE_AMOUNT,
            "<cbc:LineExtensionAmount currencyID=\"EUR\">200.02</cbc:LineExtensionAmount>\n<cac:InvoicePeriod>",
        )],
    ),
    case(
        "PEPPOL-EN16931-R121",
        &[(
            "<cbc:BaseQuantity unitCode=\"HUR\">1</cbc:BaseQuantity>",
            "<cbc:BaseQuantity unitCode=\"HUR\">0</cbc:BaseQuantity>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R100",
        &[(
            OBJECT,
            "<cac:DocumentReference><cbc:ID>OBJ-1</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference><cac:DocumentReference><cbc:ID>OBJ-2</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode></cac:DocumentReference>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R101",
        &[(
            OBJECT,
            "<cac:DocumentReference><cbc:ID>OBJ-1</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode></cac:DocumentReference>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R044",
        &[(
            PRICE_ALLOWANCE,
            "<cac:Price><cbc:PriceAmount currencyID=\"EUR\">100.00</cbc:PriceAmount><cbc:BaseQuantity unitCode=\"HUR\">1</cbc:BaseQuantity><cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">10.00</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">110.00</cbc:BaseAmount>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R046",
        &[(
            "<cbc:BaseAmount currencyID=\"EUR\">110.00</cbc:BaseAmount>",
            "<cbc:BaseAmount currencyID=\"EUR\">120.00</cbc:BaseAmount>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-R130",
        &[(
            "<cbc:BaseQuantity unitCode=\"HUR\">",
            "<cbc:BaseQuantity unitCode=\"DAY\">",
        )],
        &[],
    ),
    scheme!(
        "PEPPOL-COMMON-R040",
        "0088",
        "5790000435976",
        "5790000435975"
    ),
    scheme!("PEPPOL-COMMON-R041", "0192", "974760674", "974760673"),
    scheme!("PEPPOL-COMMON-R042", "0184", "DK1234567", "DK12345678"),
    scheme!("PEPPOL-COMMON-R052", "0096", "123456789", "1234567890"),
    scheme!("PEPPOL-COMMON-R053", "0198", "12345678", "DK12345678"),
    scheme!("PEPPOL-COMMON-R043", "0208", "0403170702", "0403170701"),
    scheme!("PEPPOL-COMMON-R044", "0201", "UFXYZ12", "UFXYZ1"),
    scheme!(
        "PEPPOL-COMMON-R045",
        "0210",
        "RSSMRA85T10A56",
        "RSSMRA85T10A562S"
    ),
    scheme!(
        "PEPPOL-COMMON-R047",
        "0211",
        "IT07643520568",
        "IT07643520567"
    ),
    scheme!("PEPPOL-COMMON-R049", "0007", "5560360794", "5560360793"),
    scheme!("PEPPOL-COMMON-R050", "0151", "51824753557", "51824753556"),
    scheme!("PEPPOL-COMMON-R054", "0106", "1234567", "87654321"),
    scheme!("PEPPOL-COMMON-R055", "0190", "1234", "00000001003214345000"),
    scheme!(
        "PEPPOL-COMMON-R056-1",
        "9944",
        "NL0012345B01",
        "NL001234567B01"
    ),
    scheme!("PEPPOL-COMMON-R057", "0217", "12345", "000012345678"),
    case(
        "PEPPOL-COMMON-R046",
        &[(
            SELLER_ENDPOINT,
            "<cbc:EndpointID schemeID=\"9907\">RSSMRA85T10A56</cbc:EndpointID>",
        )],
        &[(
            SELLER_ENDPOINT,
            "<cbc:EndpointID schemeID=\"9907\">RSSMRA85T10A562S</cbc:EndpointID>",
        )],
    ),
    case(
        "PEPPOL-COMMON-R056-2",
        &[(
            "<cbc:CompanyID>NL001234567B01</cbc:CompanyID>",
            "<cbc:CompanyID>NL1234567</cbc:CompanyID>",
        )],
        &[(
            "<cbc:CompanyID>NL001234567B01</cbc:CompanyID>",
            "<cbc:CompanyID>BE0403170701</cbc:CompanyID>",
        )],
    ),
    case(
        "PEPPOL-EN16931-CL001",
        &[(
            "mimeCode=\"application/pdf\"",
            "mimeCode=\"application/xml\"",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-CL002",
        &[(
            "<cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode><cbc:MultiplierFactorNumeric>",
            "<cbc:AllowanceChargeReasonCode>1</cbc:AllowanceChargeReasonCode><cbc:MultiplierFactorNumeric>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-CL003",
        &[(
            "<cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID=\"EUR\">5.00",
            "<cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID=\"EUR\">5.00",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-CL006",
        &[(
            "<cbc:DescriptionCode>35</cbc:DescriptionCode>",
            "<cbc:DescriptionCode>5</cbc:DescriptionCode>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-CL007",
        &[(
            LINE_AMOUNT,
            "<cbc:LineExtensionAmount currencyID=\"XYZ\">200.00</cbc:LineExtensionAmount>\n<cac:InvoicePeriod>",
        )],
        &[(
            LINE_AMOUNT,
            "<cbc:LineExtensionAmount currencyID=\"USD\">200.00</cbc:LineExtensionAmount>\n<cac:InvoicePeriod>",
        )],
    ),
    case(
        "PEPPOL-EN16931-CL008",
        &[(
            SELLER_ENDPOINT,
            "<cbc:EndpointID schemeID=\"NL:KVK\">12345678</cbc:EndpointID>",
        )],
        &[],
    ),
    case(
        "PEPPOL-EN16931-P0100",
        &[(
            "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
            "<cbc:InvoiceTypeCode>381</cbc:InvoiceTypeCode>",
        )],
        // Outside Peppol's profiles the type code is not Peppol's business.
        &[
            (
                "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
                "<cbc:InvoiceTypeCode>381</cbc:InvoiceTypeCode>",
            ),
            (PROFILE, "<cbc:ProfileID>urn:x</cbc:ProfileID>"),
        ],
    ),
    case(
        "PEPPOL-EN16931-P0112",
        &[(
            "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
            "<cbc:InvoiceTypeCode>384</cbc:InvoiceTypeCode>",
        )],
        &[
            (
                "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
                "<cbc:InvoiceTypeCode>384</cbc:InvoiceTypeCode>",
            ),
            (NL, "<cbc:IdentificationCode>DE</cbc:IdentificationCode>"),
        ],
    ),
    credit(
        "PEPPOL-EN16931-P0101",
        &[(
            "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>",
            "<cbc:CreditNoteTypeCode>380</cbc:CreditNoteTypeCode>",
        )],
        &[(
            "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>",
            "<cbc:CreditNoteTypeCode>396</cbc:CreditNoteTypeCode>",
        )],
    ),
    case(
        "PEPPOL-EN16931-F001",
        &[(
            "<cbc:DueDate>2026-05-02</cbc:DueDate>",
            "<cbc:DueDate>2026-02-30</cbc:DueDate>",
        )],
        &[],
    ),
    vatex!("PEPPOL-EN16931-P0104", "VATEX-EU-G", "E", "G"),
    vatex!("PEPPOL-EN16931-P0105", "VATEX-EU-O", "E", "O"),
    vatex!("PEPPOL-EN16931-P0106", "VATEX-EU-IC", "E", "K"),
    vatex!("PEPPOL-EN16931-P0107", "VATEX-EU-AE", "E", "AE"),
    vatex!("PEPPOL-EN16931-P0108", "VATEX-EU-D", "S", "E"),
    vatex!("PEPPOL-EN16931-P0109", "VATEX-EU-F", "S", "E"),
    vatex!("PEPPOL-EN16931-P0110", "VATEX-EU-I", "S", "E"),
    vatex!("PEPPOL-EN16931-P0111", "VATEX-EU-J", "S", "E"),
    credit(
        "NL-R-001",
        &[(
            "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>F-0</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference>",
            "",
        )],
        &[
            (
                "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>F-0</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference>",
                "",
            ),
            (SELLER_NL, SELLER_BE),
        ],
    ),
    case(
        "NL-R-002",
        &[("<cbc:StreetName>Dorpsstraat 1</cbc:StreetName>", "")],
        &[
            ("<cbc:StreetName>Dorpsstraat 1</cbc:StreetName>", ""),
            (SELLER_NL, SELLER_BE),
        ],
    ),
    case(
        "NL-R-003",
        &[(
            "<cbc:CompanyID schemeID=\"0106\">12345678</cbc:CompanyID>",
            "<cbc:CompanyID schemeID=\"0088\">5790000435975</cbc:CompanyID>",
        )],
        &[
            (
                "<cbc:CompanyID schemeID=\"0106\">12345678</cbc:CompanyID>",
                "<cbc:CompanyID schemeID=\"0088\">5790000435975</cbc:CompanyID>",
            ),
            (SELLER_NL, SELLER_BE),
        ],
    ),
    case(
        "NL-R-004",
        &[("<cbc:StreetName>Stadhuisplein 1</cbc:StreetName>", "")],
        &[
            ("<cbc:StreetName>Stadhuisplein 1</cbc:StreetName>", ""),
            (BUYER_NL, BUYER_BE),
        ],
    ),
    case(
        "NL-R-005",
        &[(
            "<cbc:CompanyID schemeID=\"0190\">00000001003214345000</cbc:CompanyID>",
            "<cbc:CompanyID>00000001003214345000</cbc:CompanyID>",
        )],
        &[
            (
                "<cbc:CompanyID schemeID=\"0190\">00000001003214345000</cbc:CompanyID>",
                "<cbc:CompanyID>00000001003214345000</cbc:CompanyID>",
            ),
            (BUYER_NL, BUYER_BE),
        ],
    ),
    case(
        "NL-R-006",
        &[("\n<cac:Delivery>", TAX_REP_NL)],
        &[("\n<cac:Delivery>", TAX_REP_BE)],
    ),
    case(
        "NL-R-007",
        &[(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentID>F-1</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>NL91ABNA0417164300</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>",
            "",
        )],
        &[
            (
                "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentID>F-1</cbc:PaymentID><cac:PayeeFinancialAccount><cbc:ID>NL91ABNA0417164300</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>",
                "",
            ),
            (
                "<cbc:PayableAmount currencyID=\"EUR\">195.00</cbc:PayableAmount>",
                "<cbc:PayableAmount currencyID=\"EUR\">0.00</cbc:PayableAmount>",
            ),
        ],
    ),
    case(
        "NL-R-008",
        &[(
            PAYMENT_30,
            "<cbc:PaymentMeansCode>31</cbc:PaymentMeansCode>",
        )],
        &[
            (
                PAYMENT_30,
                "<cbc:PaymentMeansCode>31</cbc:PaymentMeansCode>",
            ),
            (BUYER_NL, BUYER_BE),
        ],
    ),
    case(
        "NL-R-009",
        &[(ORDER, "")],
        &[(ORDER, ""), (SELLER_NL, SELLER_BE)],
    ),
];

#[test]
fn the_base_documents_pass_every_peppol_and_dutch_rule() {
    for doc in [BASE.to_string(), credit_note()] {
        let v = verdict(&doc, &[RuleSet::Peppol, RuleSet::Nlcius]);
        assert!(
            v.errors.is_empty() && v.warnings.is_empty(),
            "{:#?}\n{:#?}",
            v.errors,
            v.warnings
        );
    }
}

#[test]
fn every_peppol_and_dutch_rule_fires_where_it_should_and_not_elsewhere() {
    for c in CASES {
        let base = if c.credit {
            credit_note()
        } else {
            BASE.to_string()
        };
        let bad = fired(&edit(&base, c.fire));
        assert!(
            bad.iter().any(|r| r == c.id),
            "{} does not fire: {bad:?}",
            c.id
        );
        let good = fired(&edit(&base, c.pass));
        assert!(!good.iter().any(|r| r == c.id), "{} fires: {good:?}", c.id);
    }
}

#[test]
fn every_peppol_and_dutch_rule_has_its_cases() {
    let cat = super::super::catalogue().expect("loads");
    let tested: Vec<&str> = CASES.iter().map(|c| c.id).collect();
    for r in cat
        .rules()
        .filter(|r| matches!(r.set, RuleSet::Peppol | RuleSet::Nlcius))
    {
        assert!(tested.contains(&r.id.as_str()), "{} has no case", r.id);
        if r.id.starts_with("PEPPOL-COMMON") {
            let check = r
                .args
                .get("check")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            assert!(
                super::IDENTIFIER_CHECKS.contains(&check),
                "{}: {check}",
                r.id
            );
        }
    }
    assert_eq!(
        tested.len(),
        cat.rules()
            .filter(|r| matches!(r.set, RuleSet::Peppol | RuleSet::Nlcius))
            .count()
    );
}

#[test]
fn identifiers_outside_the_parties_are_not_peppols_to_judge() {
    // The delivery location's GLN 1234 is invalid, but the artefact only
    // judges endpoints, legal registrations and party identifications.
    assert!(!fired(BASE).iter().any(|r| r == "PEPPOL-COMMON-R040"));
    let bad = edit(
        BASE,
        &[(
            "<cbc:ID schemeID=\"0088\">1234</cbc:ID>",
            "<cbc:ID schemeID=\"0088\">1234</cbc:ID></cac:DeliveryLocation></cac:Delivery><cac:Delivery><cac:DeliveryLocation><cbc:ID schemeID=\"0208\">1</cbc:ID>",
        )],
    );
    assert!(!fired(&bad).iter().any(|r| r.starts_with("PEPPOL-COMMON")));
}

#[test]
fn findings_are_reported_where_they_are() {
    let doc = edit(
        BASE,
        &[(
            "<cbc:BaseQuantity unitCode=\"HUR\">",
            "<cbc:BaseQuantity unitCode=\"DAY\">",
        )],
    );
    let v = verdict(&doc, &[RuleSet::Peppol]);
    let f = v
        .errors
        .iter()
        .find(|f| f.rule == "PEPPOL-EN16931-R130")
        .expect("R130");
    assert_eq!(
        f.path,
        "/Invoice/cac:InvoiceLine[1]/cac:Price[1]/cbc:BaseQuantity[1]"
    );
    assert!(f.en.contains("(DAY ≠ HUR)"), "{}", f.en);
}

/// The examples in ../shared/reference/ubl/examples, each on the rule sets
/// it claims: peppol-* on Peppol and the Dutch rules, nlcius-* on the
/// Dutch rules. None has a fatal finding.
#[test]
fn every_official_example_passes_its_own_rule_sets() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/ubl/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples beside the checkout") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".xml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let tree = read_tree(text.as_bytes(), 1 << 22, 64).expect("parses");
        let want: &[RuleSet] = if name.starts_with("peppol-") {
            &[RuleSet::Peppol, RuleSet::Nlcius]
        } else if name.starts_with("nlcius-") {
            &[RuleSet::Nlcius]
        } else {
            continue;
        };
        let sets = sets_for(&tree);
        for s in want {
            assert!(sets.contains(s), "{name}: {sets:?}");
        }
        let v = verdict(&text, want);
        assert!(v.errors.is_empty(), "{name}: {:#?}", v.errors);
        seen += 1;
    }
    assert!(seen >= 8, "{seen}");
}
