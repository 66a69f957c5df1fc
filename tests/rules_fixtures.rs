//! The in-message rules against the fixtures and the official examples:
//! valid messages give no findings at all, each invalid fixture gives the
//! findings `fixtures/expectations.toml` lists for it.

use std::fs;
use std::path::{Path, PathBuf};

use loket::adapter::istandaard::{Checked, Limits, check};
use loket::finding::Finding;
use loket::schema::Schema;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `*.xml` files in `dir`, sorted; none when the folder does not exist.
fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

fn run(path: &Path) -> Result<Checked, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let schema = Schema::builtin().map_err(|e| e.to_string())?;
    check(schema, &bytes, &Limits::default()).map_err(|e| format!("{}: {e}", path.display()))
}

fn describe(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("    {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A finding's path without repetition indexes: `A/B[2]/C` -> `A/B/C`.
fn strip_indexes(path: &str) -> String {
    path.split('/')
        .map(|step| step.split('[').next().unwrap_or(step))
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a finding at `path` points at `element` (the offending element or
/// its class): the same node, or one above or below it.
fn related(path: &str, element: &str) -> bool {
    let path = strip_indexes(path);
    let within = |inner: &str, outer: &str| {
        outer.is_empty()
            || inner == outer
            || (inner.starts_with(outer) && inner[outer.len()..].starts_with('/'))
    };
    within(&path, element) || within(element, &path)
}

#[test]
fn valid_fixtures_have_no_findings() {
    let mut failures = Vec::new();
    let mut count = 0;
    for standard in ["iwmo", "ijw"] {
        for file in xml_files(&root().join("fixtures").join(standard).join("valid")) {
            count += 1;
            match run(&file) {
                Ok(c) if c.findings.is_empty() && c.complete => {}
                Ok(c) => failures.push(format!(
                    "{} (complete: {}):\n{}",
                    file.display(),
                    c.complete,
                    describe(&c.findings)
                )),
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(count > 0, "no valid fixtures found");
    assert!(
        failures.is_empty(),
        "valid fixtures with findings:\n{}",
        failures.join("\n")
    );
}

#[test]
fn invalid_fixtures_give_the_expected_findings() {
    let text = fs::read_to_string(root().join("fixtures/expectations.toml"))
        .expect("fixtures/expectations.toml");
    let table: toml::Table = toml::from_str(&text).expect("expectations.toml parses");
    assert!(!table.is_empty(), "no expectations");
    let mut failures = Vec::new();
    for (file, entry) in &table {
        let kind = entry.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let element = entry.get("element").and_then(|e| e.as_str()).unwrap_or("");
        let rules: Vec<&str> = entry
            .get("rules")
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|r| r.as_str()).collect())
            .unwrap_or_default();
        let checked = match run(&root().join("fixtures").join(file)) {
            Ok(c) => c,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let findings = &checked.findings;
        match kind {
            "xsd" => {
                if !findings
                    .iter()
                    .any(|f| f.rule.starts_with("XSD") || f.rule == "XML")
                {
                    failures.push(format!(
                        "{file}: expected a structure (XSD) finding, got:\n{}",
                        describe(findings)
                    ));
                }
            }
            "rule" => {
                for rule in &rules {
                    let with_rule: Vec<&Finding> =
                        findings.iter().filter(|f| f.rule == *rule).collect();
                    if with_rule.is_empty() {
                        failures.push(format!(
                            "{file}: expected {rule}, got:\n{}",
                            describe(findings)
                        ));
                    } else if !with_rule.iter().any(|f| related(&f.path, element)) {
                        failures.push(format!(
                            "{file}: {rule} does not point at {element:?}:\n{}",
                            describe(findings)
                        ));
                    }
                }
                // Each invalid fixture has exactly one defect: nothing else may be reported.
                let unexpected: Vec<Finding> = findings
                    .iter()
                    .filter(|f| !rules.contains(&f.rule.as_str()))
                    .cloned()
                    .collect();
                if !unexpected.is_empty() {
                    failures.push(format!(
                        "{file}: findings beyond {rules:?}:\n{}",
                        describe(&unexpected)
                    ));
                }
            }
            other => failures.push(format!("{file}: unknown kind {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} expectations failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn every_invalid_fixture_has_an_expectation() {
    let text = fs::read_to_string(root().join("fixtures/expectations.toml"))
        .expect("fixtures/expectations.toml");
    let table: toml::Table = toml::from_str(&text).expect("expectations.toml parses");
    let mut missing = Vec::new();
    for standard in ["iwmo", "ijw"] {
        for file in xml_files(&root().join("fixtures").join(standard).join("invalid")) {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let key = format!("{standard}/invalid/{name}");
            if !table.contains_key(&key) {
                missing.push(key);
            }
        }
    }
    assert!(missing.is_empty(), "no expectation for: {missing:?}");
}

/// Where an official example departs from the text of a rule, as (file, rule,
/// why). Such a finding is expected; any other finding fails the test.
const EXAMPLE_DEVIATIONS: &[(&str, &str, &str)] = &[];

#[test]
fn official_examples_have_no_findings() {
    let dir = root().join("../shared/reference/iwmo-3.2/examples");
    let mut failures = Vec::new();
    for file in xml_files(&dir) {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let checked = match run(&file) {
            Ok(c) => c,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let unexpected: Vec<Finding> = checked
            .findings
            .iter()
            .filter(|f| {
                !EXAMPLE_DEVIATIONS
                    .iter()
                    .any(|(n, r, _)| *n == name && *r == f.rule)
            })
            .cloned()
            .collect();
        if !unexpected.is_empty() || !checked.complete {
            failures.push(format!("{name}:\n{}", describe(&unexpected)));
        }
    }
    assert!(
        failures.is_empty(),
        "official examples with findings:\n{}",
        failures.join("\n")
    );
}
