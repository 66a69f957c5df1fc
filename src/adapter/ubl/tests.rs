//! The UBL adapter against the official examples and its own output.

use super::*;
use crate::adapter::lines::DebitCredit;
use std::ops::Add;

fn examples() -> Vec<std::path::PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/ubl/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (../shared must be beside the checkout)",
                dir.display()
            )
        })
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_official_example_parses_and_passes_the_rules() {
    let files = examples();
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        let checked = check(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {}", f.display(), e.bilingual()));
        assert!(
            checked.is_valid(),
            "{}: {:#?}",
            f.display(),
            checked.findings
        );
        let lines = decode::lines(&checked.document);
        assert_eq!(lines.len(), checked.document.lines.len(), "{}", f.display());
        assert!(!lines.is_empty());
        // Net of the lines is the document's line total.
        let net: i64 = lines
            .iter()
            .map(|l| match (checked.document.kind, l.debit_credit) {
                (Kind::Invoice, DebitCredit::Debit) | (Kind::CreditNote, DebitCredit::Credit) => {
                    l.amount_cents
                }
                _ => -l.amount_cents,
            })
            .sum();
        let total = checked
            .document
            .totals
            .line_extension
            .and_then(Dec::to_cents)
            .expect("line total");
        assert_eq!(net, total, "{}", f.display());
    }
}

#[test]
fn the_credit_note_example_gives_credit_lines_with_their_invoice() {
    let f = examples()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("creditnote"))
        .expect("credit note example");
    let checked = check(&std::fs::read(f).unwrap(), &Limits::default()).unwrap();
    assert_eq!(checked.document.kind, Kind::CreditNote);
    let lines = decode::lines(&checked.document);
    assert_eq!(lines[0].debit_credit, DebitCredit::Credit);
    assert_eq!(lines[0].credits.as_deref(), Some("Snippet1"));
    // A negative credit note line debits again.
    assert_eq!(lines[1].debit_credit, DebitCredit::Debit);
    assert_eq!(lines[1].quantity, "3");
}

#[test]
fn decimals_parse_compare_round_and_print_exactly() {
    let d = |s| Dec::parse(s).unwrap();
    assert_eq!(d("3250"), d("3250.00"));
    assert_eq!(d("0.1").add(d("0.2")), d("0.3"));
    assert_eq!(d("672").to_string(), "672");
    assert_eq!(d("-1500").to_cents(), Some(-150000));
    assert_eq!(d("12.345").to_cents(), None);
    assert_eq!(d("12.345").round(2).to_string(), "12.35");
    assert_eq!(d("-12.345").round(2).to_string(), "-12.35");
    assert_eq!(d("25.0").decimals(), 0);
    assert_eq!(Dec::cents(5).to_string(), "0.05");
    assert_eq!(Dec::cents(-5).to_string(), "-0.05");
    for bad in ["", "-", ".", "1e5", "1,5", "12.3.4", "abc"] {
        assert!(Dec::parse(bad).is_none(), "{bad}");
    }
}

/// A small valid exempt invoice, built as the engine builds them.
pub(crate) fn sample() -> Document {
    let mut doc = Document::new(Kind::Invoice);
    doc.customization_id = Some(config::Customization::Peppol.id());
    doc.profile_id = config::Customization::Peppol.profile();
    doc.id = Some("F2026-0001".into());
    doc.issue_date = Some("2026-04-02".into());
    doc.due_date = Some("2026-05-02".into());
    doc.type_code = Some("380".into());
    doc.currency = Some("EUR".into());
    doc.buyer_reference = Some("RE-2026".into());
    doc.order_reference = Some("ORD-1".into());
    doc.seller = Party {
        endpoint: Some(("0106".into(), "12345678".into())),
        registration_name: Some("Zorgboerderij".into()),
        vat_id: Some("NL001234567B01".into()),
        company_id: Some((Some("0106".into()), "12345678".into())),
        street: Some("Dorpsstraat 1".into()),
        city: Some("Utrecht".into()),
        postal_zone: Some("3511AA".into()),
        country: Some("NL".into()),
        ..Party::default()
    };
    doc.buyer = Party {
        endpoint: Some(("0190".into(), "00000001234567890000".into())),
        registration_name: Some("UWV".into()),
        company_id: Some((Some("0190".into()), "00000001234567890000".into())),
        street: Some("Postbus 1".into()),
        city: Some("Amsterdam".into()),
        postal_zone: Some("1000AA".into()),
        country: Some("NL".into()),
        ..Party::default()
    };
    doc.payment_means_code = Some("30".into());
    doc.payee_account = Some("NL91ABNA0417164300".into());
    doc.payment_terms = Some("30 dagen".into());
    doc.tax_total = Some(Dec::cents(0));
    doc.subtotals = vec![TaxSubtotal {
        taxable: Dec::cents(22350),
        amount: Dec::cents(0),
        category: "E".into(),
        percent: Some(Dec::int(0)),
        exemption_reason_code: Some("VATEX-EU-132".into()),
        exemption_reason: Some("Vrijgesteld (art. 11 Wet OB)".into()),
    }];
    doc.totals = Totals {
        line_extension: Some(Dec::cents(22350)),
        tax_exclusive: Some(Dec::cents(22350)),
        tax_inclusive: Some(Dec::cents(22350)),
        payable: Some(Dec::cents(22350)),
        ..Totals::default()
    };
    doc.lines = vec![Line {
        id: "1".into(),
        note: Some("K-1001".into()),
        quantity: Some(Dec::int(3)),
        unit_code: Some("HUR".into()),
        amount: Some(Dec::cents(22350)),
        item_name: Some("Jobcoaching".into()),
        tax_category: Some("E".into()),
        tax_percent: Some(Dec::int(0)),
        price: Some(Dec::cents(7450)),
        ..Line::default()
    }];
    doc
}

#[test]
fn what_loket_writes_it_reads_back_unchanged_and_valid() {
    let doc = sample();
    let (xml, checked) = check_outgoing(&doc, &Default::default()).expect("encodes");
    assert!(checked.is_valid(), "{:#?}\n{xml}", checked.findings);
    // Amounts come back with two decimals; everything else as written.
    assert_eq!(checked.document, doc, "{xml}");
    assert!(xml.contains("<cbc:PayableAmount currencyID=\"EUR\">223.50</cbc:PayableAmount>"));
    // CI validates it with the official XSD and EN 16931 XSLT as well.
    if let Ok(dir) = std::env::var("LOKET_EMIT_DIR") {
        std::fs::create_dir_all(&dir).expect("emit dir");
        std::fs::create_dir_all(format!("{dir}/ubl")).expect("emit dir");
        std::fs::write(format!("{dir}/ubl/Invoice-unit-sample.xml"), &xml).expect("emit");
    }
}

/// The findings outside Peppol's and the Dutch rules (the sample is a
/// Peppol invoice from a Dutch seller, so those judge it too).
fn without_peppol(rules: Vec<String>) -> Vec<String> {
    rules
        .into_iter()
        .filter(|r| !r.starts_with("PEPPOL-") && !r.starts_with("NL-R-"))
        .collect()
}

fn rules_of(doc: &Document) -> Vec<String> {
    let (_, checked) = check_outgoing(doc, &Default::default()).expect("encodes");
    checked.findings.into_iter().map(|f| f.rule).collect()
}

#[test]
fn each_business_rule_finds_what_it_is_about() {
    let mut d = sample();
    d.currency = Some("XYZ".into());
    // The document currency (BR-CL-04) and, as the artefact has it, the
    // currency of every amount (BR-CL-03); Peppol's currency code list on
    // each amount too.
    let r = rules_of(&d);
    assert!(r.contains(&"PEPPOL-EN16931-CL007".to_string()), "{r:?}");
    let mut found = without_peppol(r);
    found.dedup();
    assert_eq!(found, ["BR-CL-03", "BR-CL-04"]);

    let mut d = sample();
    d.lines[0].quantity = Some(Dec::int(-3));
    // -3 x 74.50 is not the line's 223.50: Peppol's line net rule too.
    let r = rules_of(&d);
    assert!(r.contains(&"PEPPOL-EN16931-R120".to_string()), "{r:?}");
    assert_eq!(without_peppol(r), ["LOKET-SIGN"]);

    let mut d = sample();
    d.lines[0].unit_code = Some("XXX".into());
    assert_eq!(rules_of(&d), ["BR-CL-23"]);

    let mut d = sample();
    d.subtotals[0].exemption_reason = None;
    d.subtotals[0].exemption_reason_code = None;
    assert_eq!(rules_of(&d), ["BR-E-10"]);

    let mut d = sample();
    d.kind = Kind::CreditNote;
    d.type_code = Some("381".into());
    // A Dutch seller's credit note names its invoice (NL-R-001) as well.
    let r = rules_of(&d);
    assert!(r.contains(&"NL-R-001".to_string()), "{r:?}");
    assert_eq!(without_peppol(r), ["LOKET-CREDIT"]);
}

/// EN 16931's own rules, sums and decimals (BR-nn, BR-CO-*, BR-DEC-*), one
/// rule per id as the CEN artefact has them.
#[test]
fn en16931_presence_and_sums_find_what_they_are_about() {
    let mut d = sample();
    d.totals.line_extension = Some(Dec::cents(22351));
    assert!(rules_of(&d).contains(&"BR-CO-10".to_string()));

    let mut d = sample();
    d.totals.payable = Some(Dec::cents(1));
    assert_eq!(rules_of(&d), ["BR-CO-16"]);

    // A credit transfer without the account: the standard's BR-61, and
    // loket's own LOKET-ACCOUNT, which refuses by default when sending.
    let mut d = sample();
    d.payee_account = None;
    assert_eq!(rules_of(&d), ["BR-61", "LOKET-ACCOUNT"]);

    let mut d = sample();
    d.seller.registration_name = None;
    assert_eq!(rules_of(&d), ["BR-06"]);

    // BR-CO-25 (a due date or payment terms) is not in the CEN artefact
    // 1.3.16 for UBL, so loket does not refuse an invoice for it either.
    let mut d = sample();
    d.due_date = None;
    d.payment_terms = None;
    assert!(!rules_of(&d).iter().any(|r| r.starts_with("BR-CO")));

    // Standard rate: the tax must be taxable x rate.
    let mut d = sample();
    for l in &mut d.lines {
        l.tax_category = Some("S".into());
        l.tax_percent = Some(Dec::int(21));
    }
    d.subtotals[0] = TaxSubtotal {
        taxable: Dec::cents(22350),
        amount: Dec::cents(4694),
        category: "S".into(),
        percent: Some(Dec::int(21)),
        exemption_reason_code: None,
        exemption_reason: None,
    };
    d.tax_total = Some(Dec::cents(4694));
    d.totals.tax_inclusive = Some(Dec::cents(27044));
    d.totals.payable = Some(Dec::cents(27044));
    assert_eq!(rules_of(&d), Vec::<String>::new());
    // Within one unit of 46.94 is allowed (tax computed per line)...
    d.subtotals[0].amount = Dec::cents(4600);
    d.tax_total = Some(Dec::cents(4600));
    d.totals.tax_inclusive = Some(Dec::cents(26950));
    d.totals.payable = Some(Dec::cents(26950));
    assert!(!rules_of(&d).contains(&"BR-CO-17".to_string()));
    // ... a unit off is not.
    d.subtotals[0].amount = Dec::cents(4594);
    d.tax_total = Some(Dec::cents(4594));
    d.totals.tax_inclusive = Some(Dec::cents(26944));
    d.totals.payable = Some(Dec::cents(26944));
    assert!(rules_of(&d).contains(&"BR-CO-17".to_string()));
}

#[test]
fn wrong_precision_wrong_order_and_hostile_input_are_reported() {
    let (xml, _) = check_outgoing(&sample(), &Default::default()).unwrap();
    let three = xml.replace(
        ">223.50</cbc:PayableAmount>",
        ">223.505</cbc:PayableAmount>",
    );
    let c = check(three.as_bytes(), &Limits::default()).unwrap();
    assert!(
        c.findings.iter().any(|f| f.rule == "BR-DEC-18"),
        "{:?}",
        c.findings
    );
    // IssueDate moved behind the type code: out of order.
    let moved = xml
        .replacen("  <cbc:IssueDate>2026-04-02</cbc:IssueDate>\n", "", 1)
        .replacen(
            "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
            "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode><cbc:IssueDate>2026-04-02</cbc:IssueDate>",
            1,
        );
    let c = check(moved.as_bytes(), &Limits::default()).unwrap();
    assert!(
        c.findings.iter().any(|f| f.rule == "XSD-ORDER"),
        "{:?}",
        c.findings
    );
    let doctype = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", &xml[39..]);
    assert!(matches!(
        check(doctype.as_bytes(), &Limits::default()),
        Err(DecodeError::Doctype { .. })
    ));
    let other = check(b"<Bericht xmlns=\"urn:x\"/>", &Limits::default()).unwrap_err();
    assert!(other.to_string().contains("UBL 2.1"), "{other}");
    assert!(looks_like_ubl(xml.as_bytes()));
    assert!(!looks_like_ubl(b"<Bericht xmlns=\"urn:x\"/>"));
}

#[test]
fn every_catalogued_rule_has_its_text() {
    for id in rules::ids() {
        let (nl, en) = rules::text(id);
        assert!(!nl.is_empty() && !en.is_empty(), "{id}");
    }
}
