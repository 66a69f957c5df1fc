//! The CEN unit tests of EN 16931 for UBL, run through loket's rules.
//!
//! Every test of `../shared/reference/ubl/en16931-tests/` holds one document
//! and the rules that must (`error`, `warning`) or must not (`success`) fire
//! on it. loket judges the document on the EN 16931 rule set and each
//! assertion is compared with that verdict: a rule that must fire must be
//! reported with the right flag, a rule that must not fire must not be
//! reported at all. The figures per family are printed (CI runs this with
//! `--nocapture`); any disagreement not listed in
//! `tests/fixtures/en16931-known.txt` fails, and so does a listed one that
//! now agrees, so the list only shrinks.
//!
//! loket's whole verdict per document is written to
//! `target/en16931-verdicts.json`, to compare with the official artefact's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use loket::adapter::ubl::Kind;
use loket::adapter::ubl::rules::{RuleSet, judge};
use loket::adapter::xml::read_tree;

/// One `<test>`: its expectations and its document.
struct Case {
    /// `Invoice-unit-UBL/BR-29-1.xml`: the set's folder and file, and the
    /// test's position in it.
    name: String,
    expected: Vec<(String, String)>,
    document: String,
}

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/ubl/en16931-tests")
}

/// The text between `open` and `close` tags, from `from`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<(&'a str, usize)> {
    let start = s.find(open)?;
    let body_start = start + s[start..].find('>')? + 1;
    let end = body_start + s[body_start..].find(close)?;
    Some((&s[body_start..end], end + close.len()))
}

fn cases() -> Vec<Case> {
    let root = suite();
    let mut files: Vec<PathBuf> = ["Invoice-unit-UBL", "CreditNote-unit-UBL"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d))
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: {e} (../shared must be beside the checkout)",
                        root.display()
                    )
                })
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("reads");
        let folder = f
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let stem = f
            .file_stem()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut rest = text.as_str();
        let mut n = 0;
        while let Some(at) = rest.find("<test") {
            // `<testSet` is not a test.
            if rest[at..].starts_with("<testSet") {
                rest = &rest[at + 8..];
                continue;
            }
            let Some((body, next)) = between(&rest[at..], "<test", "</test>") else {
                break;
            };
            rest = &rest[at + next..];
            n += 1;
            let (assert, after) = between(body, "<assert>", "</assert>").expect("assert");
            let mut expected = Vec::new();
            for kind in ["success", "error", "warning"] {
                let mut a = assert;
                let open = format!("<{kind}>");
                let close = format!("</{kind}>");
                while let Some((rule, next)) = between(a, &open, &close) {
                    expected.push((kind.to_string(), rule.trim().to_string()));
                    a = &a[next..];
                }
            }
            let doc = body[after..].trim();
            out.push(Case {
                name: format!("{folder}/{stem}-{n}.xml"),
                expected,
                document: doc.to_string(),
            });
        }
    }
    out
}

/// `BR-CO-10` -> `BR-CO`, `BR-01` -> `BR`.
fn family(rule: &str) -> String {
    match rule.rsplit_once('-') {
        Some((f, n)) if n.chars().all(|c| c.is_ascii_digit()) => f.to_string(),
        _ => rule.to_string(),
    }
}

#[test]
fn every_cen_assertion_agrees() {
    let cases = cases();
    assert!(cases.len() > 900, "only {} tests found", cases.len());
    let known: BTreeSet<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/en16931-known.txt"),
    )
    .unwrap_or_default()
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty() && !l.starts_with('#'))
    .map(str::to_string)
    .collect();
    let mut per_family: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut disagree = Vec::new();
    let mut verdicts = serde_json::Map::new();
    for case in &cases {
        let tree = read_tree(case.document.as_bytes(), 8 << 20, 64)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let kind = if tree.name == "CreditNote" {
            Kind::CreditNote
        } else {
            Kind::Invoice
        };
        let v = judge(&tree, kind, &[RuleSet::En16931]);
        let errors: BTreeSet<&str> = v.errors.iter().map(|f| f.rule.as_str()).collect();
        let warnings: BTreeSet<&str> = v.warnings.iter().map(|f| f.rule.as_str()).collect();
        verdicts.insert(
            case.name.clone(),
            serde_json::json!({
                "fatal": errors.iter().collect::<Vec<_>>(),
                "warning": warnings.iter().collect::<Vec<_>>(),
            }),
        );
        for (expect, rule) in &case.expected {
            let ok = match expect.as_str() {
                "success" => !errors.contains(rule.as_str()) && !warnings.contains(rule.as_str()),
                "error" => errors.contains(rule.as_str()),
                _ => warnings.contains(rule.as_str()),
            };
            let e = per_family.entry(family(rule)).or_default();
            e.0 += 1;
            if ok {
                e.1 += 1;
            } else {
                disagree.push(format!("{} {expect} {rule}", case.name));
            }
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/en16931-verdicts.json");
    let _ = std::fs::create_dir_all(out.parent().expect("parent"));
    let _ = std::fs::write(&out, serde_json::Value::Object(verdicts).to_string());

    let (total, agree) = per_family
        .values()
        .fold((0, 0), |(t, a), (ft, fa)| (t + ft, a + fa));
    println!("EN 16931 CEN unit tests (UBL), {} documents:", cases.len());
    println!("{:<10} {:>10} {:>8}", "family", "assertions", "agree");
    for (f, (t, a)) in &per_family {
        println!("{f:<10} {t:>10} {a:>8}");
    }
    println!("{:<10} {total:>10} {agree:>8}", "total");
    let new: Vec<&String> = disagree.iter().filter(|d| !known.contains(*d)).collect();
    let fixed: Vec<&String> = known.iter().filter(|k| !disagree.contains(k)).collect();
    assert!(
        new.is_empty(),
        "{} assertions disagree with the CEN tests:\n{}",
        new.len(),
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these now agree; take them out of tests/fixtures/en16931-known.txt:\n{}",
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
