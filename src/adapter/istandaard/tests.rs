//! Tests of the iStandaarden adapter: decoding, encoding, JSON and retour
//! building, against the project's fixtures and hostile input.

use std::path::{Path, PathBuf};

use super::*;
use crate::finding::Level;
use crate::schema::Schema;

fn schema() -> &'static Schema {
    Schema::builtin().expect("built-in schema loads")
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for std in ["iwmo", "ijw"] {
        let d = root.join(std).join(dir);
        for e in std::fs::read_dir(&d).expect("fixture dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "xml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn check_bytes(bytes: &[u8]) -> Checked {
    check(schema(), bytes, &Limits::default()).expect("decodes")
}

#[test]
fn every_message_type_has_a_valid_fixture() {
    let names: std::collections::BTreeSet<String> = fixtures("valid")
        .iter()
        .map(|p| {
            check_bytes(&std::fs::read(p).expect("read"))
                .message
                .name()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 28, "{names:?}");
}

#[test]
fn valid_fixtures_are_structurally_valid_and_round_trip() {
    for path in fixtures("valid") {
        let bytes = std::fs::read(&path).expect("read");
        let decoded = decode::decode(schema(), &bytes, &Limits::default()).expect("decodes");
        assert!(
            decoded.structurally_valid(),
            "{}: {:?}",
            path.display(),
            decoded.findings
        );
        let xml = encode::encode(&decoded.message);
        let again =
            decode::decode(schema(), xml.as_bytes(), &Limits::default()).expect("re-decodes");
        assert!(
            again.structurally_valid(),
            "{}: re-emitted: {:?}",
            path.display(),
            again.findings
        );
        assert_eq!(
            json::to_json(&decoded.message),
            json::to_json(&again.message),
            "{}: XML round trip changes the content",
            path.display()
        );
        assert_eq!(xml, encode::encode(&again.message), "encoding is stable");
        // JSON round trip.
        let rendered = json::to_json(&decoded.message);
        let back = json::from_json(schema(), &rendered).expect("from json");
        assert_eq!(
            encode::encode(&back),
            xml,
            "{}: JSON round trip",
            path.display()
        );
    }
}

#[test]
fn structural_fixtures_are_rejected_with_xsd_findings() {
    let table: toml::Table = toml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/expectations.toml"),
        )
        .expect("expectations"),
    )
    .expect("toml");
    let mut seen = 0;
    for (file, exp) in &table {
        if exp.get("kind").and_then(|k| k.as_str()) != Some("xsd") {
            continue;
        }
        seen += 1;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(file);
        let bytes = std::fs::read(&path).expect("read");
        // Unusable outright (e.g. a wrong root namespace) is also a rejection.
        if let Ok(c) = check(schema(), &bytes, &Limits::default()) {
            assert!(
                c.findings.iter().any(|f| f.level == Level::Structure),
                "{file}: no structure finding"
            );
        }
    }
    assert!(seen > 50, "expected many xsd fixtures, saw {seen}");
}

#[test]
fn findings_carry_path_line_and_both_languages() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/iwmo/invalid/WMO301_straatnaam_te_lang.xml");
    let c = check_bytes(&std::fs::read(path).expect("read"));
    let f = c
        .findings
        .iter()
        .find(|f| f.rule == "XSD-LENGTH")
        .expect("a length finding");
    assert!(f.path.ends_with("Adres/Straatnaam"), "{}", f.path);
    assert!(f.line.is_some_and(|l| l > 1));
    assert_eq!(f.retourcode, "0001");
    assert!(f.nl.contains("langer") && f.en.contains("longer"));
}

fn minimal_301(body_extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<w:Bericht xmlns:w="http://www.istandaarden.nl/iwmo/3_2/wmo301/schema" xmlns:b="http://www.istandaarden.nl/iwmo/3_2/basisschema/schema">
<w:Header><w:BerichtCode>414</w:BerichtCode><w:BerichtVersie>3</w:BerichtVersie><w:BerichtSubversie>2</w:BerichtSubversie>
<w:Afzender>0363</w:Afzender><w:Ontvanger>12345678</w:Ontvanger>
<w:BerichtIdentificatie><b:Identificatie>T1</b:Identificatie><b:Dagtekening>2026-03-01</b:Dagtekening></w:BerichtIdentificatie>
<w:XsdVersie><b:BasisschemaXsdVersie>1.0.0</b:BasisschemaXsdVersie><b:BerichtXsdVersie>1.0.0</b:BerichtXsdVersie></w:XsdVersie>
</w:Header>{body_extra}</w:Bericht>"#
    )
}

#[test]
fn hostile_input_is_refused_without_expansion() {
    let limits = Limits::default();
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
    assert!(matches!(
        check(schema(), xxe.as_bytes(), &limits),
        Err(DecodeError::Doctype { .. })
    ));
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>"#;
    assert!(matches!(
        check(schema(), laughs.as_bytes(), &limits),
        Err(DecodeError::Doctype { .. })
    ));
    // An undeclared entity inside an identified message: rejected as a whole.
    let ent = minimal_301("<w:Client>&foo;</w:Client>");
    let c = check(schema(), ent.as_bytes(), &limits).expect("identified");
    assert!(!c.complete && c.findings.iter().any(|f| f.rule == "XML"));
    // Invalid UTF-8.
    let mut bad = minimal_301("").into_bytes();
    bad.insert(60, 0xff);
    assert!(matches!(
        check(schema(), &bad, &limits),
        Err(DecodeError::InvalidUtf8 { .. })
    ));
    // Too large.
    let small = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        check(schema(), minimal_301("").as_bytes(), &small),
        Err(DecodeError::TooLarge { .. })
    ));
    // Absurd nesting: refused at the depth limit, not by running out of stack.
    let deep = minimal_301(&format!(
        "{}{}",
        "<w:Client>".repeat(100_000),
        "</w:Client>".repeat(100_000)
    ));
    let c = check(schema(), deep.as_bytes(), &limits).expect("identified");
    assert!(!c.complete);
    // Unknown namespace and not well-formed.
    assert!(matches!(
        check(schema(), b"<Bericht xmlns=\"urn:x\"/>", &limits),
        Err(DecodeError::UnknownMessage { .. })
    ));
    assert!(matches!(
        check(schema(), b"<a><b></a>", &limits),
        Err(DecodeError::NotWellFormed { .. }) | Err(DecodeError::UnknownMessage { .. })
    ));
    assert!(matches!(
        check(schema(), b"", &limits),
        Err(DecodeError::NoRoot)
    ));
}

#[test]
fn truncated_message_gets_a_header_only_rejection() {
    let full = minimal_301("<w:Client><w:Bsn>999900006</w:Bsn>");
    let truncated = full.trim_end_matches("</w:Bericht>");
    let c = check(schema(), truncated.as_bytes(), &Limits::default()).expect("identified");
    assert!(!c.complete);
    let settings = RetourSettings {
        today: chrono::NaiveDate::from_ymd_opt(2026, 3, 2),
        ..RetourSettings::default()
    };
    let retour = retour::build(&c, &settings).expect("retour");
    assert_eq!(retour.name(), "WMO302");
    assert_eq!(retour.value("Header/RetourCodes/RetourCode"), Some("0001"));
    assert!(retour.get("Client").is_none());
}

#[test]
fn retour_for_every_valid_heenbericht_is_itself_valid() {
    let settings = RetourSettings {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 2),
        ..RetourSettings::default()
    };
    let mut built = 0;
    for path in fixtures("valid") {
        let c = check_bytes(&std::fs::read(&path).expect("read"));
        if c.message.def().role != crate::schema::Role::Heen {
            assert!(
                retour::build(&c, &settings).is_err(),
                "{}: retour of a retour",
                path.display()
            );
            continue;
        }
        let r = retour::build(&c, &settings).expect("retour builds");
        let xml = encode::encode(&r);
        let back = check(schema(), xml.as_bytes(), &Limits::default()).expect("retour decodes");
        assert!(
            back.findings.iter().all(|f| f.level != Level::Structure),
            "{}: retour {}: {:?}",
            path.display(),
            r.name(),
            back.findings
        );
        if r.def().role == crate::schema::Role::Antwoord {
            if c.is_valid() {
                assert_eq!(
                    r.value("DeclaratieAntwoord/RetourCodes/RetourCode"),
                    Some("8001"),
                    "{}",
                    path.display()
                );
            }
        } else if c.is_valid() {
            assert!(
                r.get("Header/RetourCodes").is_none(),
                "approved: header only"
            );
            assert_eq!(r.root().children().count(), 1);
        }
        built += 1;
    }
    assert!(built >= 14);
}

#[test]
fn retour_copies_the_header_and_rejects_rule_violations_with_0001() {
    let body = "<w:Client><w:Bsn>123456789</w:Bsn></w:Client>";
    let c = check_bytes(minimal_301(body).as_bytes());
    let r = retour::build(
        &c,
        &RetourSettings {
            today: chrono::NaiveDate::from_ymd_opt(2026, 3, 2),
            ..RetourSettings::default()
        },
    )
    .expect("retour");
    assert_eq!(r.value("Header/BerichtCode"), Some("415"));
    assert_eq!(r.value("Header/Afzender"), Some("0363"));
    assert_eq!(
        r.value("Header/BerichtIdentificatie/Identificatie"),
        Some("T1")
    );
    assert_eq!(r.value("Header/DagtekeningRetour"), Some("2026-03-02"));
    assert_eq!(r.value("Header/RetourCodes/RetourCode"), Some("0001"));
    let id = r.value("Header/IdentificatieRetour").expect("id");
    assert!(!id.is_empty() && id.len() <= 12);
    // The same heenbericht gets the same retour identification (TR056 resend).
    let r2 = retour::build(&c, &RetourSettings::default()).expect("retour");
    assert_eq!(r2.value("Header/IdentificatieRetour"), Some(id));
}

#[test]
fn cross_message_findings_are_answered_per_berichtklasse() {
    let path = fixtures("valid")
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("WMO305_start"))
        })
        .expect("a WMO305 fixture");
    let mut c = check_bytes(&std::fs::read(path).expect("read"));
    assert!(c.is_valid());
    let product = c
        .message
        .get("Client/StartProducten/StartProduct")
        .expect("product")
        .id;
    c.findings.push(crate::finding::Finding {
        rule: "TR063".into(),
        retourcode: "9063".into(),
        path: "Client/StartProducten/StartProduct[1]".into(),
        line: None,
        level: Level::CrossMessage,
        nl: String::new(),
        en: String::new(),
        class_node: Some(product),
    });
    let r = retour::build(&c, &RetourSettings::default()).expect("retour");
    assert_eq!(r.value("Header/RetourCodes/RetourCode"), Some("0200"));
    assert_eq!(r.value("Client/RetourCodes/RetourCode"), Some("0200"));
    assert_eq!(
        r.value("Client/StartProducten/StartProduct/RetourCodes/RetourCode"),
        Some("9063")
    );
    let xml = encode::encode(&r);
    let back = check_bytes(xml.as_bytes());
    assert!(
        back.findings.iter().all(|f| f.level != Level::Structure),
        "{:?}",
        back.findings
    );
}

#[test]
fn builder_keeps_schema_order() {
    let key = schema().by_name("JW301").expect("JW301");
    let mut m = crate::message::Message::new(schema(), key);
    let header = m.add_element(0, "Header").expect("header");
    m.add_value(header, "Ontvanger", "12345678");
    m.add_value(header, "BerichtCode", "436");
    let names: Vec<&str> = m
        .get("Header")
        .expect("h")
        .children()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, ["BerichtCode", "Ontvanger"]);
    assert!(m.add_element(header, "NoSuchElement").is_none());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn seeds() -> Vec<Vec<u8>> {
        fixtures("valid")
            .iter()
            .take(12)
            .map(|p| std::fs::read(p).expect("read"))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, max_shrink_iters: 200, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = check(schema(), &data, &Limits::default());
        }

        /// Mutations of real messages (cut, duplicate, overwrite a slice) never
        /// panic, and whatever is accepted can be answered and re-encoded.
        #[test]
        fn mutated_messages_never_panic(seed in 0usize..12, at in 0usize..4000, len in 0usize..64, op in 0u8..3, fill in any::<u8>()) {
            let seeds = seeds();
            let mut data = seeds[seed % seeds.len()].clone();
            let at = at.min(data.len());
            let end = (at + len).min(data.len());
            match op {
                0 => { data.drain(at..end); }
                1 => { let part = data[at..end].to_vec(); data.splice(at..at, part); }
                _ => { for b in &mut data[at..end] { *b = fill; } }
            }
            if let Ok(c) = check(schema(), &data, &Limits::default()) {
                let _ = encode::encode(&c.message);
                let _ = json::to_json(&c.message);
                if let Ok(r) = retour::build(&c, &RetourSettings::default()) {
                    let xml = encode::encode(&r);
                    let back = check(schema(), xml.as_bytes(), &Limits::default()).expect("own retour decodes");
                    prop_assert!(back.findings.iter().all(|f| f.level != Level::Structure), "{:?}", back.findings);
                }
            }
        }
    }
}
