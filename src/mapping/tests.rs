//! Loading mappings: the shipped examples, schema errors with their JSON
//! path, tariff validity and overlaps, and the checks across files.

use std::path::{Path, PathBuf};

use super::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")
}

/// A small valid mapping; tests break one part of it at a time.
const VALID: &str = r#"
[financier]
kind = "wmo"
code = "0014"
name = "Gemeente 0014"
standard = "iwmo"
delivery = { folder = "/srv/loket/out/0014" }

[declaration]
period = "month"

[[products]]
categorie = "07"
code = "07B01"
name = "Dagbesteding"
eenheid = "16"
activities = ["kas"]
conversion = { measure = "time", round_per = "day", round_to = "unit", rounding = "nearest" }

[[products.tariffs]]
from = 2025-01-01
to = 2025-12-31
price_cents = 5000

[[products.tariffs]]
from = "2026-01-01"
price_cents = 5200
"#;

fn load(text: &str) -> Result<Mapping, MappingError> {
    Mapping::from_toml("test/broken.toml", text)
}

/// Loads `text`, expects it refused, and returns its problems.
fn problems(text: &str) -> Vec<Problem> {
    match load(text) {
        Ok(_) => panic!("the mapping loaded but should not:\n{text}"),
        Err(e) => {
            for p in &e.problems {
                assert_eq!(p.file, Path::new("test/broken.toml"), "{p}");
            }
            e.problems
        }
    }
}

fn assert_problem_at(problems: &[Problem], path: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.path == path && p.message.contains(needle)),
        "expected a problem at {path} mentioning {needle:?}, got:\n{}",
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_schema_compiles() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("JSON");
    jsonschema::validator_for(&schema).expect("the mapping schema compiles");
}

#[test]
fn the_shipped_mappings_load() {
    let all = Mappings::load_dir(shipped()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 5);
    // The social-impact contract pays for results only.
    let sib = all
        .get(&FinancierKey::new(Kind::SocialImpact, "SIBWERK"))
        .expect("social impact");
    assert_eq!(sib.financier.standard, Standard::Ubl);
    assert_eq!(sib.results.len(), 4);
    // The invoiced ones: UWV exempt from VAT, Participatiewet at 21%.
    let uwv = all.get(&FinancierKey::new(Kind::Uwv, "UWV")).expect("uwv");
    assert_eq!(uwv.financier.standard, Standard::Ubl);
    let inv = uwv.invoice.as_ref().expect("invoice section");
    assert_eq!(inv.vat.category(), "E");
    let pw = all
        .get(&FinancierKey::new(Kind::Participatiewet, "0363"))
        .expect("participatiewet");
    assert_eq!(pw.invoice.as_ref().expect("invoice").vat.percent(), 21);
    assert_eq!(
        pw.product(&ProductKey::new("91", "BW001"))
            .expect("beschut werk")
            .price_basis,
        crate::mapping::PriceBasis::Day
    );

    let wmo = all
        .get(&FinancierKey::new(Kind::Wmo, "0363"))
        .expect("0363 wmo");
    assert_eq!(wmo.financier.standard, Standard::Iwmo);
    assert_eq!(wmo.period, PeriodRule::Month);
    assert!(wmo.file.ends_with("gemeente-0363-wmo.toml"));
    let dagbesteding = wmo
        .product(&ProductKey::new("07", "07A11"))
        .expect("dagbesteding");
    assert_eq!(dagbesteding.eenheid(), Eenheid::Dagdeel);
    assert_eq!(dagbesteding.daily_max_minutes, Some(480));
    assert!(dagbesteding.counts("Koffiebranderij"));
    let begeleiding = wmo
        .product(&ProductKey::new("02", "02A04"))
        .expect("begeleiding");
    assert_eq!(begeleiding.eenheid(), Eenheid::Uur);
    assert_eq!(begeleiding.conversion.declared_eenheid(), Eenheid::Minuut);

    let jw = all
        .get(&FinancierKey::new(Kind::Jeugdwet, "0599"))
        .expect("0599 jeugdwet");
    assert_eq!(jw.financier.standard, Standard::Ijw);
    assert!(jw.products.iter().all(|p| p.key.categorie == "45"));
    assert!(jw.products.iter().any(|p| p.eenheid() == Eenheid::Minuut));
    assert!(jw.products.iter().any(|p| p.eenheid() == Eenheid::Uur));

    // Every shipped product has a tariff on both sides of the change.
    for m in all.iter() {
        for p in &m.products {
            assert!(p.tariff(d("2025-12-31")).is_ok(), "{}", p.key);
            assert!(p.tariff(d("2026-01-01")).is_ok(), "{}", p.key);
            assert_eq!(p.key.code.len(), 5);
        }
    }

    // The merged priority: voorliggende voorzieningen first.
    let order: Vec<String> = all.priority().iter().map(|r| r.to_string()).collect();
    assert_eq!(order[0], "{kind=wlz}", "{order:?}");
    assert!(
        order.iter().position(|r| r == "{kind=uwv}")
            < order.iter().position(|r| r == "{kind=wmo financier=0363}"),
        "{order:?}"
    );

    // Each file also loads on its own.
    for name in ["gemeente-0363-wmo.toml", "gemeente-0599-jeugdwet.toml"] {
        Mappings::load_file(shipped().join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn tariff_validity_across_1_january() {
    let all = Mappings::load_dir(shipped()).unwrap_or_else(|e| panic!("{e}"));
    let wmo = FinancierKey::new(Kind::Wmo, "0363");
    let dagbesteding = ProductKey::new("07", "07A11");
    let price = |date| {
        all.tariff(&wmo, &dagbesteding, d(date))
            .map(|t| t.price_cents)
    };
    assert_eq!(price("2025-01-01"), Ok(5214));
    assert_eq!(price("2025-12-31"), Ok(5214));
    assert_eq!(price("2026-01-01"), Ok(5398));
    assert_eq!(
        price("2031-06-30"),
        Ok(5398),
        "the last tariff is open-ended"
    );
    assert_eq!(
        price("2024-12-31"),
        Err(LookupError::NoTariff {
            product: dagbesteding.clone(),
            date: d("2024-12-31"),
        })
    );
    assert!(matches!(
        all.tariff(&wmo, &ProductKey::new("07", "07X99"), d("2026-01-01")),
        Err(LookupError::UnknownProduct { .. })
    ));
    assert!(matches!(
        all.tariff(
            &FinancierKey::new(Kind::Wmo, "0599"),
            &dagbesteding,
            d("2026-01-01")
        ),
        Err(LookupError::UnknownFinancier(_))
    ));

    // A period that straddles the change gets both tariffs.
    let product = all.product(&wmo, &dagbesteding).expect("product");
    let parts = product
        .tariffs_in(Period {
            start: d("2025-12-15"),
            end: d("2026-01-11"),
        })
        .expect("covered");
    let parts: Vec<(Period, u64)> = parts.into_iter().map(|(p, t)| (p, t.price_cents)).collect();
    assert_eq!(
        parts,
        vec![
            (
                Period {
                    start: d("2025-12-15"),
                    end: d("2025-12-31")
                },
                5214
            ),
            (
                Period {
                    start: d("2026-01-01"),
                    end: d("2026-01-11")
                },
                5398
            ),
        ]
    );
    let december = product
        .tariffs_in(Period {
            start: d("2025-12-01"),
            end: d("2025-12-31"),
        })
        .expect("covered");
    assert_eq!(december.len(), 1);
    assert!(
        product
            .tariffs_in(Period {
                start: d("2024-12-20"),
                end: d("2025-01-10"),
            })
            .is_err()
    );
}

#[test]
fn a_valid_mapping_loads_with_quoted_and_bare_dates() {
    let m = load(VALID).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.financier.delivery,
        Delivery::Folder(PathBuf::from("/srv/loket/out/0014"))
    );
    let p = &m.products[0];
    assert_eq!(p.tariffs[1].from, d("2026-01-01"));
    assert_eq!(p.tariffs[1].to, None);
    assert_eq!(m.products_for_activity("kas").count(), 1);
    assert_eq!(m.products_for_activity("zwembad").count(), 0);
    assert_eq!(m.periods(d("2025-12-31"), d("2026-01-01")).len(), 2);
}

#[test]
fn overlapping_tariffs_are_refused_at_load_time() {
    // Closed period overlapping the next one by a day.
    let text = VALID.replace("to = 2025-12-31", "to = 2026-01-01");
    let p = problems(&text);
    assert_problem_at(
        &p,
        "/products/0/tariffs/1",
        "overlaps /products/0/tariffs/0",
    );
    assert!(p[0].line.is_some(), "{}", p[0]);

    // An open-ended tariff followed by another one.
    let text = VALID.replace("to = 2025-12-31\n", "");
    assert_problem_at(&problems(&text), "/products/0/tariffs/1", "open end");

    // Listed out of order still compares by date; the later-listed,
    // earlier-starting tariff is fine, the overlap is reported once.
    let text = format!(
        "{VALID}\n[[products.tariffs]]\nfrom = 2024-06-01\nto = 2025-01-31\nprice_cents = 4900\n"
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_problem_at(
        &p,
        "/products/0/tariffs/0",
        "overlaps /products/0/tariffs/2",
    );

    // Adjacent periods are not an overlap.
    let text = format!(
        "{VALID}\n[[products.tariffs]]\nfrom = 2024-06-01\nto = 2024-12-31\nprice_cents = 4900\n"
    );
    assert!(load(&text).is_ok());

    // Ends before it starts.
    let text = VALID.replace("to = 2025-12-31", "to = 2024-12-31");
    assert_problem_at(
        &problems(&text),
        "/products/0/tariffs/0/to",
        "before it starts",
    );
}

#[test]
fn an_ambiguous_tariff_is_an_error_not_a_pick() {
    // Only possible for products built in code; files are refused earlier.
    let mut m = load(VALID).unwrap_or_else(|e| panic!("{e}"));
    let extra = Tariff {
        from: d("2025-06-01"),
        to: None,
        price_cents: 1,
    };
    m.products[0].tariffs.push(extra);
    assert_eq!(
        m.tariff(&ProductKey::new("07", "07B01"), d("2025-07-01")),
        Err(LookupError::AmbiguousTariff {
            product: ProductKey::new("07", "07B01"),
            date: d("2025-07-01"),
            count: 2,
        })
    );
}

#[test]
fn schema_errors_name_the_file_and_the_json_path() {
    // A unit that is not in WJ756.
    let p = problems(&VALID.replace("eenheid = \"16\"", "eenheid = \"17\""));
    assert_problem_at(&p, "/products/0/eenheid", "\"17\"");
    let shown = p[0].to_string();
    assert!(
        shown.starts_with("test/broken.toml:"),
        "file and line first: {shown}"
    );
    assert!(shown.contains(" at /products/0/eenheid: "), "{shown}");
    assert_eq!(
        p[0].line,
        VALID
            .lines()
            .position(|l| l.starts_with("eenheid"))
            .map(|i| i + 1)
    );

    // A missing price: reported on the tariff.
    let p = problems(&VALID.replace("price_cents = 5200\n", ""));
    assert_problem_at(&p, "/products/0/tariffs/1", "price_cents");

    // A misspelt key.
    let p = problems(&VALID.replace("price_cents = 5000", "prijs = 5000"));
    assert_problem_at(&p, "/products/0/tariffs/0", "prijs");

    // Money is whole cents.
    let p = problems(&VALID.replace("price_cents = 5000", "price_cents = 50.00"));
    assert_problem_at(&p, "/products/0/tariffs/0/price_cents", "whole number");
    let p = problems(&VALID.replace("price_cents = 5000", "price_cents = 50.25"));
    assert_eq!(p.len(), 1, "one problem per value: {p:?}");
    let p = problems(&VALID.replace("price_cents = 5000", "price_cents = -1"));
    assert_problem_at(&p, "/products/0/tariffs/0/price_cents", "minimum");

    // The law decides the standard.
    let p = problems(&VALID.replace("standard = \"iwmo\"", "standard = \"ijw\""));
    assert_problem_at(&p, "/financier/standard", "iwmo");

    // Four-weekly is for invoiced financiers only (TR318).
    let p = problems(&VALID.replace(
        "period = \"month\"",
        "period = \"four_weekly\"\nfour_weekly_start = 2025-12-29",
    ));
    assert_problem_at(&p, "/declaration/period", "month");

    // Dagdelen cannot be declared in minutes (TR341).
    let p = problems(&VALID.replace("round_to = \"unit\"", "round_to = \"minute\""));
    assert_problem_at(&p, "/products/0/conversion/round_to", "unit");

    // A time unit needs its rounding rule.
    let p = problems(&VALID.replace(", rounding = \"nearest\"", ""));
    assert_problem_at(&p, "/products/0/conversion", "rounding");

    // A municipality's code is its 4-digit CBS code.
    let p = problems(&VALID.replace("code = \"0014\"", "code = \"14\""));
    assert_problem_at(&p, "/financier/code", "\"14\"");

    // Delivery is a URL or an absolute folder, exactly one.
    let p = problems(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { folder = \"out/0014\" }",
    ));
    assert_problem_at(&p, "/financier/delivery/folder", "out/0014");
    let p = problems(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { folder = \"/srv/x\", http = \"https://x.example\" }",
    ));
    assert_problem_at(&p, "/financier/delivery", "more than 1");

    // VECOZO's VSP-Koppeling: an environment or an https base URL.
    let m = load(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { vsp = \"acc\" }",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.financier.delivery,
        Delivery::Vsp(crate::transport::vsp::Environment::Acceptance)
    );
    for bad in [
        "delivery = { vsp = \"test\" }",
        "delivery = { vsp = \"http://vsp.example\" }",
        "delivery = { vsp = \"acc\", token_env = \"T\" }",
        "delivery = { vsp = \"acc\", folder = \"/srv/x\" }",
    ] {
        let p = problems(&VALID.replace("delivery = { folder = \"/srv/loket/out/0014\" }", bad));
        assert!(!p.is_empty(), "{bad} should be refused");
    }

    // A municipality's GGk: the StUF edition to write, 0310 or 0210.
    let m = load(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { stuf = \"0210\" }",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.financier.delivery,
        Delivery::Stuf(crate::transport::stuf::Edition::V0210)
    );
    for bad in [
        "delivery = { stuf = \"0300\" }",
        "delivery = { stuf = \"0310\", vsp = \"acc\" }",
        "delivery = { stuf = \"0310\", token_env = \"T\" }",
    ] {
        let p = problems(&VALID.replace("delivery = { folder = \"/srv/loket/out/0014\" }", bad));
        assert!(!p.is_empty(), "{bad} should be refused");
    }

    // An HTTP endpoint may name the variable holding its token; a folder may
    // not, and credentials never go into the URL.
    let m = load(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { http = \"https://x.example/in\", token_env = \"LOKET_TOKEN_0014\" }",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.financier.delivery,
        Delivery::Http {
            url: "https://x.example/in".to_string(),
            token_env: Some("LOKET_TOKEN_0014".to_string()),
        }
    );
    let p = problems(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { folder = \"/srv/x\", token_env = \"T\" }",
    ));
    assert_problem_at(
        &p,
        "/financier/delivery",
        "token_env belongs to an http delivery",
    );
    let p = problems(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { http = \"https://x.example\", token_env = \"NOT-A-NAME\" }",
    ));
    assert_problem_at(&p, "/financier/delivery/token_env", "NOT-A-NAME");
    let p = problems(&VALID.replace(
        "delivery = { folder = \"/srv/loket/out/0014\" }",
        "delivery = { http = \"https://user:secret@x.example/in\" }",
    ));
    assert_problem_at(&p, "/financier/delivery/http", "x.example");

    // Product codes are five characters.
    let p = problems(&VALID.replace("code = \"07B01\"", "code = \"07B1\""));
    assert_problem_at(&p, "/products/0/code", "07B1");

    // No products at all.
    let text = VALID
        .split("[[products]]")
        .next()
        .expect("head")
        .to_string();
    let p = problems(&text);
    assert_problem_at(&p, "", "products");
}

#[test]
fn several_problems_are_reported_together() {
    let text = VALID
        .replace("eenheid = \"16\"", "eenheid = \"17\"")
        .replace("kind = \"wmo\"", "kind = \"gemeente\"");
    let p = problems(&text);
    assert_problem_at(&p, "/products/0/eenheid", "17");
    assert_problem_at(&p, "/financier/kind", "gemeente");
    let e = load(&text).expect_err("broken");
    let shown = e.to_string();
    assert!(shown.contains("problems"), "{shown}");
    assert!(shown.contains("/financier/kind"), "{shown}");
}

#[test]
fn checks_beyond_the_schema_have_paths_too() {
    // Category 20 does not exist in iWmo (01-18); 45 is iJw, not iWmo.
    for cat in ["20", "45"] {
        let p = problems(&VALID.replace("categorie = \"07\"", &format!("categorie = \"{cat}\"")));
        assert_problem_at(&p, "/products/0/categorie", "not a product category");
    }
    // An iJw category in an iJw mapping is fine, an iWmo one is not.
    let jw = VALID
        .replace("kind = \"wmo\"", "kind = \"jeugdwet\"")
        .replace("standard = \"iwmo\"", "standard = \"ijw\"");
    assert_problem_at(
        &problems(&jw),
        "/products/0/categorie",
        "not a product category",
    );
    assert!(load(&jw.replace("categorie = \"07\"", "categorie = \"45\"")).is_ok());
    assert!(
        load(&jw.replace("categorie = \"07\"", "categorie = \"39\"")).is_err(),
        "39 is not in JZ020"
    );

    // A date that matches the pattern but is not a day.
    let p = problems(&VALID.replace("to = 2025-12-31", "to = \"2025-02-30\""));
    assert_eq!(p.len(), 1, "reported once: {p:?}");
    assert_problem_at(&p, "/products/0/tariffs/0/to", "not a calendar date");
    // A TOML date-time is not a date.
    let p = problems(&VALID.replace("to = 2025-12-31", "to = 2025-12-31T00:00:00"));
    assert_problem_at(&p, "/products/0/tariffs/0/to", "does not match");

    // The same product twice.
    let product = &VALID[VALID.find("[[products]]").expect("products")..];
    let p = problems(&format!("{VALID}\n{product}"));
    assert_problem_at(&p, "/products/1/code", "already listed at /products/0");
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let text = VALID.replace("price_cents = 5000", "price_cents = = 5000");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "");
    assert!(p[0].message.starts_with("not valid TOML"), "{}", p[0]);
    let expected = text
        .lines()
        .position(|l| l.contains("= = 5000"))
        .map(|i| i + 1);
    assert_eq!(p[0].line, expected);
}

#[test]
fn a_four_weekly_invoiced_financier() {
    let text = r#"
[financier]
kind = "uwv"
code = "UWV"
name = "UWV"
standard = "ubl"
delivery = { http = "https://facturen.uwv.example/ontvang" }

[declaration]
period = "four_weekly"
four_weekly_start = 2025-12-29

[[products]]
categorie = "90"
code = "JC001"
name = "Jobcoaching"
eenheid = "04"
activities = ["*"]
daily_max = { minutes = 240 }
conversion = { measure = "time", round_per = "period", round_to = "unit", rounding = "down" }

[[products.tariffs]]
from = 2025-01-01
price_cents = 7450

[invoice]
customization = "peppol"
iban = "NL91ABNA0417164300"
payment_days = 30
vat = { category = "E", exemption_reason = "Vrijgesteld van btw", exemption_code = "VATEX-EU-132" }
seller = { name = "Zorgboerderij", kvk = "12345678", vat_id = "NL001234567B01", street = "Dorpsstraat 1", city = "Utrecht", postal_zone = "3511AA", country = "NL" }
buyer = { name = "UWV", oin = "00000001234567890000", street = "Postbus 1", city = "Amsterdam", postal_zone = "1000AA", country = "NL" }
"#;
    let m = load(text).unwrap_or_else(|e| panic!("{e}"));
    let invoice = m.invoice.as_ref().expect("invoice settings");
    assert_eq!(invoice.vat.category(), "E");
    assert_eq!(m.products[0].price_basis, crate::mapping::PriceBasis::Hour);
    // Bad input is refused when the mapping loads, before anything is sent:
    // no IBAN, an exempt rate without a reason, a price basis that does not
    // fit the unit, an invoice section for an iStandaard.
    let p = problems(&text.replace("iban = \"NL91ABNA0417164300\"\n", ""));
    assert_problem_at(&p, "/invoice", "iban");
    let p = problems(&text.replace(", exemption_reason = \"Vrijgesteld van btw\"", ""));
    assert_problem_at(&p, "/invoice/vat", "exemption_reason");
    let p = problems(&text.replace(
        "eenheid = \"04\"\n",
        "eenheid = \"04\"\nprice_basis = \"month\"\n",
    ));
    assert_problem_at(&p, "/products/0/price_basis", "does not fit");
    let without = text.split("[invoice]").next().unwrap();
    let p = problems(without);
    assert_problem_at(&p, "", "invoice");
    assert_eq!(
        m.period,
        PeriodRule::FourWeekly {
            start: d("2025-12-29")
        }
    );
    assert_eq!(
        m.periods(d("2026-01-20"), d("2026-01-30")),
        vec![
            Period {
                start: d("2025-12-29"),
                end: d("2026-01-25")
            },
            Period {
                start: d("2026-01-26"),
                end: d("2026-02-22")
            },
        ]
    );
    assert!(m.products[0].counts("anything at all"));
    // Four-weekly needs its start date.
    let p = problems(&text.replace("four_weekly_start = 2025-12-29\n", ""));
    assert_problem_at(&p, "/declaration", "four_weekly_start");
    // An invoiced financier cannot claim an iStandaard.
    let p = problems(&text.replace("standard = \"ubl\"", "standard = \"iwmo\""));
    assert_problem_at(&p, "/financier/standard", "ubl");
}

#[test]
fn load_dir_reports_every_broken_file_and_loads_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        shipped().join("gemeente-0363-wmo.toml"),
        dir.path().join("a.toml"),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("b.toml"),
        VALID.replace("eenheid = \"16\"", "eenheid = \"uur\""),
    )
    .expect("write");
    std::fs::write(dir.path().join("c.toml"), "financier = ").expect("write");
    // Ignored: not TOML by name, hidden, or being written.
    std::fs::write(dir.path().join("README.md"), "# notes").expect("write");
    std::fs::write(dir.path().join(".d.toml"), "garbage").expect("write");
    std::fs::write(dir.path().join("e.toml.part"), "garbage").expect("write");

    let e = Mappings::load_dir(dir.path()).expect_err("broken files");
    let files: Vec<&Path> = e.problems.iter().map(|p| p.file.as_path()).collect();
    assert!(files.contains(&dir.path().join("b.toml").as_path()), "{e}");
    assert!(files.contains(&dir.path().join("c.toml").as_path()), "{e}");
    assert!(!files.contains(&dir.path().join("a.toml").as_path()), "{e}");
    assert!(e.to_string().contains("/products/0/eenheid"), "{e}");

    assert!(Mappings::load_dir(dir.path().join("missing")).is_err());
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(Mappings::load_dir(empty.path()).expect("empty").is_empty());
}

#[test]
fn one_file_per_financier() {
    let a = load(VALID).expect("valid");
    let mut b = a.clone();
    b.file = PathBuf::from("other.toml");
    let e = Mappings::new(vec![a, b]).expect_err("duplicate");
    assert_eq!(e.problems[0].file, Path::new("other.toml"));
    assert_eq!(e.problems[0].path, "/financier");
    assert!(e.problems[0].message.contains("test/broken.toml"), "{e}");
}

#[test]
fn priority_rules_are_checked_against_the_loaded_mappings() {
    let with = |rules: &str| load(&format!("{VALID}\n{rules}")).expect("valid on its own");
    // Names a product its financier does not have.
    let m = with("[[priority]]\nkind = \"wmo\"\nfinancier = \"0014\"\nproduct = \"07B02\"\n");
    let e = Mappings::new(vec![m]).expect_err("unknown product");
    assert_eq!(e.problems[0].path, "/priority/0");
    assert!(e.problems[0].message.contains("07B02"), "{e}");
    // A financier that is not loaded may be named freely.
    let m = with("[[priority]]\nkind = \"wlz\"\nfinancier = \"5501\"\nproduct = \"ZZZ01\"\n");
    assert!(Mappings::new(vec![m]).is_ok());

    // Two files that contradict each other.
    let a = with("[[priority]]\nkind = \"uwv\"\n\n[[priority]]\nkind = \"wmo\"\n");
    let mut b = load(&format!(
        "{}\n[[priority]]\nkind = \"wmo\"\n\n[[priority]]\nkind = \"uwv\"\n",
        VALID.replace("code = \"0014\"", "code = \"0034\"")
    ))
    .expect("valid on its own");
    b.file = PathBuf::from("test/other.toml");
    let e = Mappings::new(vec![a, b]).expect_err("contradiction");
    assert_eq!(e.problems[0].path, "/priority");
    assert_eq!(e.problems[0].file, Path::new("test/other.toml"));

    // Duplicate entries in one list are a schema error.
    let p = problems(&format!(
        "{VALID}\n[[priority]]\nkind = \"uwv\"\n\n[[priority]]\nkind = \"uwv\"\n"
    ));
    assert_problem_at(&p, "/priority", "unique");
}

#[test]
fn splitting_a_day_with_the_shipped_mappings() {
    let all = Mappings::load_dir(shipped()).unwrap_or_else(|e| panic!("{e}"));
    let wmo = FinancierKey::new(Kind::Wmo, "0363");
    let uwv = FinancierKey::new(Kind::Uwv, "UWV");
    let dagbesteding = all
        .product(&wmo, &ProductKey::new("07", "07A11"))
        .expect("product");
    // UWV has no mapping loaded here; build its product in code.
    let jobcoaching = Product {
        key: ProductKey::new("90", "JC001"),
        name: "Jobcoaching".into(),
        conversion: Conversion {
            eenheid: Eenheid::Uur,
            measure: Measure::Time,
            per: RoundPer::Period,
            to: RoundTo::Unit,
            rounding: Rounding::Down,
        },
        price_basis: crate::mapping::PriceBasis::Hour,
        activities: vec!["koffiebranderij".into()],
        daily_max_minutes: Some(120),
        tariffs: Vec::new(),
    };
    let candidates = [
        Candidate {
            allocation: "2025-0363-001",
            financier: &wmo,
            product: dagbesteding,
            daily_max_minutes: None,
        },
        Candidate {
            allocation: "UWV-77",
            financier: &uwv,
            product: &jobcoaching,
            daily_max_minutes: None,
        },
    ];
    // 7.5 hours at the koffiebranderij: 2 hours UWV, then the municipality
    // up to its 2 dagdelen (8 hours), nothing left over.
    let split = split_day(&DayInput {
        activity: "koffiebranderij",
        registered: Registered::Minutes(450),
        candidates: &candidates,
        rules: all.priority(),
    });
    assert_eq!(split.shares[0].candidate, 1);
    assert_eq!(split.shares[0].share.minutes, 120);
    assert_eq!(split.shares[1].candidate, 0);
    assert_eq!(split.shares[1].share.minutes, 330);
    assert_eq!(split.unassigned_minutes, 0);
    // 330 minutes is 1.375 dagdelen: one dagdeel, rounded per day.
    assert_eq!(dagbesteding.conversion.day_units(split.shares[1].share), 1);
    let tariff = dagbesteding.tariff(d("2026-01-05")).expect("tariff");
    let declared = units::declare(&dagbesteding.conversion, 1, tariff.price_cents).expect("fits");
    assert_eq!(declared.bedrag, 5398);
}

#[test]
fn conditional_rules_say_why() {
    let p = problems(&VALID.replace(
        "rounding = \"nearest\"",
        "rounding = \"nearest\", step_minutes = 5",
    ));
    assert_problem_at(
        &p,
        "/products/0/conversion/step_minutes",
        "is not allowed here",
    );
    assert_problem_at(
        &p,
        "/products/0/conversion/step_minutes",
        "round_to = \"minute\"",
    );

    let p = problems(&VALID.replace(
        "period = \"month\"",
        "period = \"month\"\nfour_weekly_start = 2025-12-29",
    ));
    assert_problem_at(&p, "/declaration/four_weekly_start", "is not allowed here");

    let p = problems(&VALID.replace("round_to = \"unit\"", "round_to = \"minute\""));
    assert_problem_at(&p, "/products/0/conversion/round_to", "TR341");

    let p = problems(&VALID.replace(
        "period = \"month\"",
        "period = \"four_weekly\"\nfour_weekly_start = 2025-12-29",
    ));
    assert_problem_at(&p, "/declaration/period", "TR318");

    // Counting units take no rounding rule.
    let p = problems(
        &VALID
            .replace("eenheid = \"16\"", "eenheid = \"14\"")
            .replace(
                "{ measure = \"time\", round_per = \"day\", round_to = \"unit\", rounding = \"nearest\" }",
                "{ measure = \"day\", rounding = \"up\" }",
            ),
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_problem_at(&p, "/products/0/conversion", "'rounding' was unexpected");
    // Without it, the same product loads.
    assert!(
        load(
            &VALID.replace("eenheid = \"16\"", "eenheid = \"14\"").replace(
                "{ measure = \"time\", round_per = \"day\", round_to = \"unit\", rounding = \"nearest\" }",
                "{ measure = \"day\" }",
            )
        )
        .is_ok()
    );
}

/// A municipality's provider (kind aanbieder): an AGB code, the contract's
/// law, a delivery; products optional, no declaration period of its own.
#[test]
fn a_municipalitys_provider_needs_only_who_and_where() {
    let provider = r#"
[financier]
kind = "aanbieder"
code = "73730112"
name = "Zorg en Zo"
standard = "ijw"
delivery = { folder = "/srv/loket/out/73730112" }
"#;
    let m = load(provider).expect("a provider without products loads");
    assert_eq!(
        m.financier.key,
        FinancierKey::new(Kind::Aanbieder, "73730112")
    );
    assert_eq!(m.financier.standard, Standard::Ijw);
    assert!(m.products.is_empty());
    // With the contract's products (the municipality judges tariffs on them).
    let products = &VALID[VALID.find("[[products]]").expect("products")..];
    let with_products =
        format!("{provider}\n{products}").replace("standard = \"ijw\"", "standard = \"iwmo\"");
    assert_eq!(load(&with_products).expect("loads").products.len(), 1);
    // An AGB code has eight digits; the law is iWmo or iJw; no [declaration].
    assert_problem_at(
        &problems(&provider.replace("73730112", "7373011")),
        "/financier/code",
        "",
    );
    assert_problem_at(
        &problems(&provider.replace("\"ijw\"", "\"ubl\"")),
        "/financier/standard",
        "",
    );
    assert_problem_at(
        &problems(&format!("{provider}\n[declaration]\nperiod = \"month\"\n")),
        "/declaration",
        "",
    );
    // A financier still needs its declaration period and products.
    let bare = &VALID[..VALID.find("[declaration]").expect("declaration")];
    assert!(!problems(bare).is_empty());
}
