//! Outcome instruments as data: the Zelfredzaamheid-Matrix, the
//! participatieladder, Positieve Gezondheid, and any instrument a provider
//! adds by dropping a file in its instruments folder.
//!
//! No message standard carries outcomes, and every financier asks for its
//! own: an instrument is therefore a TOML file (`schemas/instruments/*.toml`,
//! compiled into the binary, plus `instruments_dir`), checked when loket
//! starts against `schemas/instruments/instrument.json` and then for what a
//! schema cannot see (one name per level, the levels covering the scale, the
//! id matching the file name). A file with a mistake stops the start with
//! the file and line, as a mapping does: a measurement must never be taken
//! on a scale that does not say what its numbers mean.
//!
//! A measurement stores the instrument's id and version with its scores
//! (`record::outcomes`), so a later edition of a file does not change what
//! an earlier measurement meant.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::Deserialize;

use crate::datafile::{self, Problem};

/// The JSON Schema every instrument file is checked against.
pub const SCHEMA: &str = include_str!("../../schemas/instruments/instrument.json");

/// The instruments built into the binary: (file name, text).
const BUILTIN: [(&str, &str); 3] = [
    (
        "schemas/instruments/zrm.toml",
        include_str!("../../schemas/instruments/zrm.toml"),
    ),
    (
        "schemas/instruments/participatieladder.toml",
        include_str!("../../schemas/instruments/participatieladder.toml"),
    ),
    (
        "schemas/instruments/positieve-gezondheid.toml",
        include_str!("../../schemas/instruments/positieve-gezondheid.toml"),
    ),
];

/// The id of the Zelfredzaamheid-Matrix.
pub const ZRM: &str = "zrm";
/// The id of the participatieladder (one domain, [`LADDER_DOMAIN`]).
pub const LADDER: &str = "participatieladder";
/// The participatieladder's one domain.
pub const LADDER_DOMAIN: &str = "participatie";
/// The id of Positieve Gezondheid.
pub const POSITIVE_HEALTH: &str = "positieve-gezondheid";

static VALIDATOR: LazyLock<Result<datafile::Schema, String>> =
    LazyLock::new(|| datafile::Schema::compile(SCHEMA));

/// A named level of a scale (a ZRM level, a rung of the ladder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub value: i64,
    pub label: String,
    pub description: String,
}

/// One domain (leefgebied, dimension) an instrument scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    /// What each level means on this domain, by value; empty when the file
    /// gives only the scale's levels.
    pub levels: Vec<(i64, String)>,
}

impl Domain {
    /// This domain's own description of `value`, if the file gives one.
    pub fn level_description(&self, value: i64) -> Option<&str> {
        self.levels
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, d)| d.as_str())
    }
}

/// One instrument, as loaded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    /// Lowest and highest score (inclusive).
    pub min: i64,
    pub max: i64,
    /// True unless the file says `better = "lower"`.
    pub higher_is_better: bool,
    /// Named levels of the scale, ascending; empty for a plain range
    /// (Positieve Gezondheid's 0 to 10).
    pub levels: Vec<Level>,
    pub domains: Vec<Domain>,
}

impl Instrument {
    pub fn domain(&self, id: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }

    /// The named level of `value`, if the scale names its levels.
    pub fn level(&self, value: i64) -> Option<&Level> {
        self.levels.iter().find(|l| l.value == value)
    }

    /// How a score reads on a page: "3 – Beperkt zelfredzaam", or "7".
    pub fn score_label(&self, value: i64) -> String {
        match self.level(value) {
            Some(l) => format!("{value} – {}", l.label),
            None => value.to_string(),
        }
    }

    /// Whether `score` is a score of `domain` on this instrument; the
    /// Dutch/English reason when not.
    pub fn check_score(&self, domain: &str, score: i64) -> Result<(), String> {
        let Some(d) = self.domain(domain) else {
            return Err(format!(
                "{} kent geen domein {domain:?} / {} has no domain {domain:?}",
                self.name, self.id
            ));
        };
        if score < self.min || score > self.max {
            return Err(format!(
                "{}: score {score} ligt buiten {}–{} / score {score} is outside {}–{}",
                d.name, self.min, self.max, self.min, self.max
            ));
        }
        Ok(())
    }

    /// Whether `to` is better than `from` on this instrument's scale.
    pub fn improved(&self, from: i64, to: i64) -> bool {
        if self.higher_is_better {
            to > from
        } else {
            to < from
        }
    }
}

/// Every instrument a tenant can measure with.
#[derive(Debug, Clone, Default)]
pub struct Instruments {
    list: Vec<Instrument>,
}

impl Instruments {
    /// The built-in instruments only, read and checked once per process:
    /// the mappings' `[results]` check at load and every declaration run
    /// ask for them.
    pub fn builtin() -> Result<&'static Instruments, InstrumentError> {
        static BUILTIN: LazyLock<Result<Instruments, InstrumentError>> =
            LazyLock::new(|| Instruments::load(None));
        BUILTIN.as_ref().map_err(Clone::clone)
    }

    /// The built-in instruments plus every `*.toml` in `dir` (when given and
    /// present): a provider's own instrument is one more file. Every file is
    /// checked; all problems of all files are reported together.
    pub fn load(dir: Option<&Path>) -> Result<Instruments, InstrumentError> {
        let mut files: Vec<(PathBuf, String)> = BUILTIN
            .iter()
            .map(|(name, text)| (PathBuf::from(name), (*text).to_string()))
            .collect();
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                InstrumentError::one(Problem::new(dir, "", format!("cannot read: {e}")))
            })?;
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    InstrumentError::one(Problem::new(&path, "", format!("cannot read: {e}")))
                })?;
                files.push((path, text));
            }
        }
        let mut problems = Vec::new();
        let mut list: Vec<Instrument> = Vec::new();
        for (file, text) in &files {
            match parse(file, text) {
                Ok(i) => {
                    if list.iter().any(|o| o.id == i.id) {
                        let mut p = Problem::new(
                            file,
                            "/id",
                            format!(
                                "instrument {:?} is defined twice; give the provider's own instrument its own id",
                                i.id
                            ),
                        );
                        datafile::locate_lines(text, std::slice::from_mut(&mut p));
                        problems.push(p);
                    } else {
                        list.push(i);
                    }
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        if problems.is_empty() {
            Ok(Instruments { list })
        } else {
            Err(InstrumentError { problems })
        }
    }

    pub fn get(&self, id: &str) -> Option<&Instrument> {
        self.list.iter().find(|i| i.id == id)
    }

    /// In load order: the built-in ones first, then the provider's by file
    /// name.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.list.iter()
    }
}

/// Instrument files that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InstrumentError {
    pub problems: Vec<Problem>,
}

impl InstrumentError {
    fn one(p: Problem) -> InstrumentError {
        InstrumentError { problems: vec![p] }
    }
}

impl fmt::Display for InstrumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        datafile::write_problems(f, "instrument", &self.problems)
    }
}

#[derive(Deserialize)]
struct RawInstrument {
    id: String,
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    better: Option<String>,
    scale: RawScale,
    #[serde(default)]
    levels: Vec<RawLevel>,
    domains: Vec<RawDomain>,
}

#[derive(Deserialize)]
struct RawScale {
    min: i64,
    max: i64,
}

#[derive(Deserialize)]
struct RawLevel {
    value: i64,
    label: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct RawDomain {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    levels: Vec<RawDomainLevel>,
}

#[derive(Deserialize)]
struct RawDomainLevel {
    value: i64,
    description: String,
}

/// Parses and checks one instrument file.
pub fn parse(file: &Path, text: &str) -> Result<Instrument, Vec<Problem>> {
    let schema = datafile::Schema::get(&VALIDATOR, "schemas/instruments/instrument.json")
        .map_err(|p| vec![p])?;
    let json = datafile::check(file, text, schema)?;
    let raw: RawInstrument =
        serde_json::from_value(json).map_err(|e| vec![Problem::new(file, "", e.to_string())])?;
    let mut problems = Vec::new();
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if raw.id != stem {
        problems.push(Problem::new(
            file,
            "/id",
            format!(
                "id {:?} differs from the file's name {stem:?}; name the file {}.toml",
                raw.id, raw.id
            ),
        ));
    }
    let (min, max) = (raw.scale.min, raw.scale.max);
    if min >= max {
        problems.push(Problem::new(
            file,
            "/scale",
            format!("scale.min ({min}) must be below scale.max ({max})"),
        ));
    }
    let scale: Vec<i64> = (min..=max).collect();
    covers(
        file,
        "/levels",
        raw.levels.iter().map(|l| l.value),
        &scale,
        &mut problems,
    );
    let mut domain_ids = HashSet::new();
    for (i, d) in raw.domains.iter().enumerate() {
        if !domain_ids.insert(d.id.as_str()) {
            problems.push(Problem::new(
                file,
                format!("/domains/{i}/id"),
                format!("domain {:?} appears twice", d.id),
            ));
        }
        covers(
            file,
            &format!("/domains/{i}/levels"),
            d.levels.iter().map(|l| l.value),
            &scale,
            &mut problems,
        );
    }
    if !problems.is_empty() {
        datafile::locate_lines(text, &mut problems);
        return Err(problems);
    }
    let mut levels: Vec<Level> = raw
        .levels
        .into_iter()
        .map(|l| Level {
            value: l.value,
            label: l.label,
            description: l.description,
        })
        .collect();
    levels.sort_by_key(|l| l.value);
    Ok(Instrument {
        id: raw.id,
        name: raw.name,
        version: raw.version,
        description: raw.description,
        min,
        max,
        higher_is_better: raw.better.as_deref() != Some("lower"),
        levels,
        domains: raw
            .domains
            .into_iter()
            .map(|d| {
                let mut levels: Vec<(i64, String)> = d
                    .levels
                    .into_iter()
                    .map(|l| (l.value, l.description))
                    .collect();
                levels.sort_by_key(|(v, _)| *v);
                Domain {
                    id: d.id,
                    name: d.name,
                    description: d.description,
                    levels,
                }
            })
            .collect(),
    })
}

/// A list of level values, when given, names every value of the scale once.
fn covers(
    file: &Path,
    path: &str,
    values: impl Iterator<Item = i64>,
    scale: &[i64],
    problems: &mut Vec<Problem>,
) {
    let values: Vec<i64> = values.collect();
    if values.is_empty() {
        return;
    }
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        if !scale.contains(v) {
            problems.push(Problem::new(
                file,
                format!("{path}/{i}/value"),
                format!("level {v} is outside the scale"),
            ));
        } else if !seen.insert(*v) {
            problems.push(Problem::new(
                file,
                format!("{path}/{i}/value"),
                format!("level {v} appears twice"),
            ));
        }
    }
    let missing: Vec<String> = scale
        .iter()
        .filter(|v| !values.contains(v))
        .map(|v| v.to_string())
        .collect();
    if !missing.is_empty() {
        problems.push(Problem::new(
            file,
            path,
            format!(
                "levels must name every value of the scale; missing: {}",
                missing.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests;
