//! Unit tests of the StUF transport: the envelope both ways, both editions.

use super::envelope::*;
use super::*;

fn sample(kind: Kind, edition: Option<Edition>) -> Envelope {
    let sg = Stuurgegevens {
        kind,
        zender: Systeem {
            organisatie: "0363".into(),
            applicatie: "loket".into(),
        },
        ontvanger: Systeem {
            organisatie: "73730112".into(),
            applicatie: "GGk".into(),
        },
        referentienummer: "6a0c0e8e-2d61-4c3b-9f8e-0d2f8f0b1c11".into(),
        tijdstip_bericht: "20260105120000".into(),
        cross_refnummer: (kind != Kind::Di01)
            .then(|| "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6".into()),
        functie: (kind != Kind::Fo01).then(|| "WMO301".into()),
    };
    let body = match kind {
        Kind::Fo01 => Body::Fout(Fout {
            code: "StUF055".into(),
            plek: "client".into(),
            omschrijving: "Berichtbody is niet conform schema in sectormodel".into(),
            details: Some("<a> & b".into()),
        }),
        _ => Body::Bericht(Bericht {
            applicatie_versie: "0000".into(),
            applicatie_subversie: "0001".into(),
            functie_versie: "0003".into(),
            functie_subversie: "0002".into(),
            bestandsnaam: Some("WMO301-x.xml".into()),
            text: false,
            inhoud: b"<Bericht>\xc3\xa9</Bericht>".to_vec(),
        }),
    };
    Envelope {
        edition,
        stuurgegevens: sg,
        body,
    }
}

/// Writes `env` (bare, as the schemas validate it) into
/// `$LOKET_CONFORMANCE_DIR` when set: CI validates every file there with
/// `../shared/tools/validate-istandaard`.
fn conformance(env: &Envelope, name: &str) {
    if let Ok(dir) = std::env::var("LOKET_CONFORMANCE_DIR") {
        let edition = env.edition.map_or("fo01", |e| e.as_str());
        std::fs::create_dir_all(&dir).expect("conformance dir");
        std::fs::write(format!("{dir}/{name}-{edition}.xml"), encode(env)).expect("write");
    }
}

#[test]
fn every_envelope_reads_back_as_written() {
    for (kind, edition) in [
        (Kind::Di01, Some(Edition::V0310)),
        (Kind::Du01, Some(Edition::V0310)),
        (Kind::Di01, Some(Edition::V0210)),
        (Kind::Du01, Some(Edition::V0210)),
        (Kind::Fo01, None),
    ] {
        let env = sample(kind, edition);
        conformance(&env, &format!("unit-{}", kind.as_str()));
        let mut back = decode_soap(encode_soap(&env).as_bytes()).expect("soap");
        // The file name is not carried by 0210's xmlBestand.
        if edition == Some(Edition::V0210)
            && let (Body::Bericht(b), Body::Bericht(o)) = (&mut back.body, &env.body)
        {
            b.bestandsnaam.clone_from(&o.bestandsnaam);
        }
        assert_eq!(back, env, "{kind:?} {edition:?}");
        assert_eq!(decode(encode(&env).as_bytes()).expect("bare").kind(), kind);
        let wrapped = wrap_soap(&encode(&env));
        assert_eq!(
            decode_soap(wrapped.as_bytes()).expect("wrapped").kind(),
            kind
        );
    }
}

#[test]
fn the_published_examples_read() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    for (file, kind) in [
        (
            "stuf-ggk-0310/voorbeeldberichten/envelopHeenbericht-ggk_Di01_v21.xml",
            Kind::Di01,
        ),
        (
            "stuf-ggk-0210-patch04/voorbeeldberichten/envelopHeenbericht-ggk_Di01_v21-xml.xml",
            Kind::Di01,
        ),
        (
            "stuf-ggk-0210-patch04/voorbeeldberichten/envelopHeenbericht-ggk_Di01_v21-tekst.xml",
            Kind::Di01,
        ),
        (
            "stuf-ggk-0210-patch04/voorbeeldberichten/envelopRetourbericht-ggk_Du01-v21.xml",
            Kind::Du01,
        ),
        (
            "stuf-ggk-0210-patch04/voorbeeldberichten/Fo01.xml",
            Kind::Fo01,
        ),
    ] {
        let bytes = std::fs::read(dir.join(file)).expect(file);
        let env = decode(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(env.kind(), kind, "{file}");
    }
    // The published 0310 Du01 has a stray quote after its root's name.
    let bytes = std::fs::read(
        dir.join("stuf-ggk-0310/voorbeeldberichten/envelopRetourbericht-ggk_Du01-v21.xml"),
    )
    .expect("Du01");
    assert!(matches!(decode(&bytes), Err(EnvelopeError::Xml(_))));
}

#[test]
fn unusable_envelopes_are_refused_with_a_reason() {
    let good = encode_soap(&sample(Kind::Di01, Some(Edition::V0310)));
    let cases: Vec<(String, &str)> = vec![
        ("niet eens xml".into(), "well-formed"),
        (
            format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", &good[good.find("<soap:").unwrap_or(0)..]),
            "DOCTYPE",
        ),
        (good.replace("<StUF:berichtcode>Di01", "<StUF:berichtcode>Du01"), "berichtcode"),
        (good.replace("<StUF:referentienummer>6a0c0e8e-2d61-4c3b-9f8e-0d2f8f0b1c11</StUF:referentienummer>", ""), "referentienummer"),
        (good.replace("envelopHeenbericht-ggk_Di01", "iets"), "not a GGk envelope"),
        ("<a xmlns=\"urn:x\"/>".into(), "SOAP"),
        (good.replace("<GGK:functieVersie>0003<", "<GGK:functieVersie>3<"), "4-digit"),
        (good.replace("\" xmime:contentType=\"application/xml\">", "\" xmime:contentType=\"application/xml\">!!"), "base64"),
    ];
    for (bad, want) in cases {
        let e = decode_soap(bad.as_bytes()).expect_err(want);
        assert!(e.to_string().contains(want), "{want}: {e}");
        assert!(!e.nl().is_empty());
    }
    // 0210 wants UUIDs v4.
    let mut env = sample(Kind::Di01, Some(Edition::V0210));
    env.stuurgegevens.referentienummer = "123456789012".into();
    let e = decode_soap(encode_soap(&env).as_bytes()).expect_err("uuid");
    assert!(e.to_string().contains("version 4 UUID"), "{e}");
}

#[test]
fn faults_are_read_back() {
    let f = fault(true, "fout", "error");
    assert_eq!(
        read_fault(f.as_bytes()),
        Some((true, "fout / error".into()))
    );
    assert_eq!(
        read_fault(fault(false, "a", "b").as_bytes()).map(|f| f.0),
        Some(false)
    );
    assert_eq!(read_fault(b"<html/>"), None);
}

#[test]
fn outgoing_messages_are_wrapped_by_what_they_answer() {
    let cfg: StufConfig = toml::from_str(
        "tenant = \"0363\"\nendpoint = \"https://a.example/ggk\"\nlisten = \"127.0.0.1:0\"\n\
         certificate = \"c.pem\"\nkey = \"k.pem\"\nca = [\"ca.pem\"]\n",
    )
    .expect("config");
    cfg.check().expect("valid");
    assert_eq!(cfg.edition, Edition::V0310);
    let payload = br#"<?xml version="1.0" encoding="UTF-8"?><wmo:Bericht xmlns:wmo="urn:x"><wmo:Header><wmo:BerichtCode>414</wmo:BerichtCode><wmo:BerichtVersie>3</wmo:BerichtVersie><wmo:BerichtSubversie>2</wmo:BerichtSubversie></wmo:Header></wmo:Bericht>"#;
    assert_eq!(header_versions(payload), Some(("3".into(), "2".into())));
    let mut ids = crate::record::exchange::PushIds {
        ids: crate::record::exchange::Ids {
            conversatie_id: "c".into(),
            traceer_id: "6a0c0e8e-2d61-4c3b-9f8e-0d2f8f0b1c11".into(),
            als_antwoord_op: None,
        },
        receiver: Some("73730112".into()),
    };
    let d = |ids: &'_ crate::record::exchange::PushIds| {
        outgoing(
            &cfg,
            Edition::V0210,
            &Delivery {
                ids,
                tenant: "0363",
                message_id: "m1",
                bericht: "WMO301",
                edition: "0210",
                as_is: false,
                payload,
            },
            chrono::Utc::now(),
        )
        .expect("envelope")
    };
    let di = d(&ids);
    assert_eq!(di.kind(), Kind::Di01);
    assert_eq!(di.stuurgegevens.ontvanger.applicatie, "GGk");
    assert_eq!(di.stuurgegevens.tijdstip_bericht.len(), 14);
    let Body::Bericht(b) = &di.body else {
        panic!("bericht")
    };
    assert_eq!(
        (b.functie_versie.as_str(), b.functie_subversie.as_str()),
        ("0003", "0002")
    );
    ids.ids.als_antwoord_op = Some("0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6".into());
    let du = d(&ids);
    assert_eq!(du.kind(), Kind::Du01);
    assert_eq!(du.soap_action(), format!("{NS_0210}/ggk_Du01"));
    // A Di01 numbered in 03.10's freedom is answered in 03.10.
    ids.ids.als_antwoord_op = Some("123456789012".into());
    assert_eq!(d(&ids).edition, Some(Edition::V0310));
    // Sections that cannot work are refused before anything is read.
    for (bad, want) in [
        ("tenant = \"73730112\"", "gemeentecode"),
        ("endpoint = \"http://a.example\"", "https"),
        ("ca = []", "ca is required"),
        ("applicatie = \"ab\"", "3 to 50"),
    ] {
        let key = bad.split(' ').next().unwrap_or_default();
        let text = "tenant = \"0363\"\nendpoint = \"https://a.example/ggk\"\nlisten = \"127.0.0.1:0\"\n\
             certificate = \"c.pem\"\nkey = \"k.pem\"\nca = [\"ca.pem\"]\n";
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .chain([bad])
            .collect::<Vec<_>>()
            .join("\n");
        let cfg: StufConfig = toml::from_str(&text).expect(bad);
        let e = format!("{:#}", cfg.check().expect_err(bad));
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[test]
fn a_section_loads_from_the_configuration_and_names_a_missing_file() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("geen-certificaat.pem");
    let text = format!(
        "[[stuf]]\ntenant = \"0363\"\nendpoint = \"https://a.example/ggk\"\nlisten = \"127.0.0.1:0\"\n\
         certificate = {missing:?}\nkey = {missing:?}\nca = [{missing:?}]\nedition = \"0210\"\n"
    );
    let config: crate::config::Config = toml::from_str(&text).expect("configuration");
    assert_eq!(config.stuf.len(), 1);
    assert_eq!(config.stuf[0].edition, Edition::V0210);
    assert_eq!(config.stuf[0].applicatie, "loket");
    let e = format!(
        "{:#}",
        Connections::load(&config.stuf).expect_err("no files")
    );
    assert!(
        e.contains("geen-certificaat.pem") && e.contains("[[stuf]] 0363"),
        "{e}"
    );
    assert!(toml::from_str::<crate::config::Config>(&text.replace("edition", "editie")).is_err());
}
