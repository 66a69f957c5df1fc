//! End-to-end tests of the command line, run against the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn loket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("loket runs")
}

fn fixture(rel: &str) -> String {
    format!("fixtures/{rel}")
}

fn first(dir: &str, prefix: &str) -> String {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(d)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    files.sort();
    files[0].to_string_lossy().into_owned()
}

fn tmp(name: &str, content: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("loket-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn validate_reports_ok_and_exit_zero() {
    let f = first("iwmo/valid", "WMO301");
    let out = loket(&["validate", &f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK "));
}

#[test]
fn validate_json_lists_findings_and_fails() {
    let bad = fixture("iwmo/invalid/WMO301_straatnaam_te_lang.xml");
    let good = first("ijw/valid", "JW323");
    let out = loket(&["validate", "--json", &good, &bad]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["valid"], true);
    assert_eq!(arr[1]["valid"], false);
    let f = &arr[1]["findings"][0];
    assert_eq!(f["retourcode"], "0001");
    assert!(f["path"].as_str().expect("path").contains("Straatnaam"));
    assert!(f["nl"].is_string() && f["en"].is_string());
}

#[test]
fn validate_unusable_file_exits_two() {
    let xxe = tmp(
        "xxe.xml",
        br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#,
    );
    let out = loket(&["validate", &xxe]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DOCTYPE"), "{text}");
    assert!(!text.contains("root:"), "entity was not expanded");
}

#[test]
fn size_limit_is_configurable() {
    let f = first("iwmo/valid", "WMO301");
    let out = loket(&["--max-bytes", "200", "validate", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("limit"));
}

#[test]
fn parse_re_emits_equivalent_xml_and_json() {
    let f = first("ijw/valid", "JW301");
    let out = loket(&["parse", "--emit", "xml", &f]);
    assert!(out.status.success());
    let again = tmp("again.xml", &out.stdout);
    let out2 = loket(&["parse", "--emit", "xml", &again]);
    assert_eq!(out.stdout, out2.stdout, "re-emitting is a fixed point");
    let j1 = loket(&["parse", "--emit", "json", &f]);
    let j2 = loket(&["parse", "--emit", "json", &again]);
    assert!(j1.status.success());
    assert_eq!(j1.stdout, j2.stdout, "same content");
    let v: serde_json::Value = serde_json::from_slice(&j1.stdout).expect("json");
    assert_eq!(v["bericht"], "JW301");
    assert!(v["Client"]["ToegewezenProducten"]["ToegewezenProduct"].is_array());
}

#[test]
fn parse_refuses_structurally_invalid_input() {
    let out = loket(&[
        "parse",
        "--emit",
        "xml",
        &fixture("iwmo/invalid/WMO301_straatnaam_te_lang.xml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn retour_answers_a_heenbericht() {
    let f = first("iwmo/valid", "WMO301");
    let out = loket(&["retour", "--dagtekening", "2026-11-02", &f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.contains("wmo302:Bericht"));
    assert!(xml.contains("<wmo302:DagtekeningRetour>2026-11-02</wmo302:DagtekeningRetour>"));
    let f = first("ijw/valid", "JW323");
    let out = loket(&["retour", &f]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("<ijw:RetourCode>8001</ijw:RetourCode>")
            || String::from_utf8_lossy(&out.stdout)
                .contains("<jw325:RetourCode>8001</jw325:RetourCode>")
    );
}

#[test]
fn retour_on_unusable_input_exits_two() {
    let junk = tmp("junk.xml", b"this is not xml at all");
    let out = loket(&["retour", &junk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no retourbericht possible"));
    let f = first("iwmo/valid", "WMO302");
    let out = loket(&["retour", &f]);
    assert_eq!(out.status.code(), Some(2), "a retour has no retour");
}
