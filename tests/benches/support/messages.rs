//! Distinct valid WMO301 and JW301 messages for the benchmarks: every 301
//! fixture cut at the values that make a message new (Identificatie, BSN,
//! ToewijzingNummers) and rendered again with fresh ones.

use std::path::{Path, PathBuf};

use axum::body::Bytes;

/// A fixture cut at the values that make a message new.
pub struct Template {
    pub name: String,
    pub receiver: String,
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    Identificatie,
    Bsn,
    /// The k-th ToewijzingNummer of the message.
    Toewijzing(usize),
}

/// Byte ranges of the text of every element `<prefix:local>text</...>`.
fn text_ranges(xml: &str, local: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(lt) = xml[at..].find('<').map(|i| at + i) {
        let gt = match xml[lt..].find('>') {
            Some(i) => lt + i,
            None => break,
        };
        let tag = &xml[lt + 1..gt];
        let name = tag.rsplit(':').next().unwrap_or(tag);
        if name == local && !tag.starts_with('/') {
            let end = xml[gt..].find('<').map_or(xml.len(), |i| gt + i);
            out.push((gt + 1, end));
        }
        at = gt + 1;
    }
    out
}

fn template(path: &Path) -> Template {
    let xml = std::fs::read_to_string(path).expect("read fixture");
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let receiver = text_ranges(&xml, "Ontvanger")
        .first()
        .map(|&(a, b)| xml[a..b].to_string())
        .unwrap_or_else(|| panic!("{name}: no Ontvanger"));
    let mut slots: Vec<(usize, usize, u8)> = Vec::new();
    for (kind, local) in [(0, "Identificatie"), (1, "Bsn"), (2, "ToewijzingNummer")] {
        let found = text_ranges(&xml, local);
        assert!(!found.is_empty(), "{name}: no {local}");
        assert!(kind != 0 || found.len() == 1, "{name}: one Identificatie");
        slots.extend(found.into_iter().map(|(a, b)| (a, b, kind)));
    }
    slots.sort();
    let (mut parts, mut at, mut k) = (Vec::new(), 0, 0);
    for (a, b, kind) in slots {
        parts.push(Part::Text(xml[at..a].to_string()));
        parts.push(match kind {
            0 => Part::Identificatie,
            1 => Part::Bsn,
            _ => {
                k += 1;
                Part::Toewijzing(k - 1)
            }
        });
        at = b;
    }
    parts.push(Part::Text(xml[at..].to_string()));
    Template {
        name,
        receiver,
        parts,
    }
}

pub fn templates() -> Vec<Template> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for (dir, prefix) in [("iwmo", "WMO301_"), ("ijw", "JW301_")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir).join("valid"))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".xml"))
            })
            .collect();
        files.sort();
        out.extend(files.iter().map(|f| template(f)));
    }
    assert!(!out.is_empty(), "no WMO301/JW301 fixtures");
    out
}

/// Valid BSNs in sequence: 8-digit prefixes from 10000000 with the check digit
/// that satisfies the elfproef (prefixes whose check digit would be 10, or
/// whose weighted sum would be 0, are skipped).
pub struct Bsns {
    pub prefix: u32,
}

impl Iterator for Bsns {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        loop {
            let p = self.prefix;
            self.prefix += 1;
            let digits = p.to_string();
            assert_eq!(digits.len(), 8, "BSN range exhausted");
            let sum: u32 = digits
                .bytes()
                .zip((2..=9).rev())
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            let check = sum % 11;
            // The weighted sum minus the check digit must be a non-zero multiple of 11.
            if check < 10 && sum > check {
                return Some(format!("{digits}{check}"));
            }
        }
    }
}

/// Message `i` (globally unique): template `i % templates`, Identificatie
/// `LD` + 10 digits, a fresh BSN and fresh ToewijzingNummers.
pub fn render(t: &Template, i: usize, bsn: &str) -> Bytes {
    let mut s = String::with_capacity(
        t.parts
            .iter()
            .map(|p| match p {
                Part::Text(x) => x.len(),
                _ => 12,
            })
            .sum(),
    );
    for p in &t.parts {
        match p {
            Part::Text(x) => s.push_str(x),
            Part::Identificatie => s.push_str(&format!("LD{i:010}")),
            Part::Bsn => s.push_str(bsn),
            Part::Toewijzing(k) => s.push_str(&(1_000_000 + i * 8 + k).to_string()),
        }
    }
    Bytes::from(s)
}

/// loket's verdict on a posted message, from its answer's headers:
/// `x-loket-status` and `x-loket-duplicate` (empty when absent).
pub fn verdict(res: &reqwest::Response) -> (String, String) {
    let header = |k: &str| {
        res.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    (header("x-loket-status"), header("x-loket-duplicate"))
}
