//! `schemas/ubl/structure.toml`, compiled once: the UBL element order and
//! occurrence loket checks and writes, namespaces and code lists.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

const TEXT: &str = include_str!("../../../schemas/ubl/structure.toml");

#[derive(Debug, Deserialize)]
pub struct Namespaces {
    pub cac: String,
    pub cbc: String,
    pub ext: String,
}

#[derive(Debug, Deserialize)]
pub struct DocumentDef {
    pub namespace: String,
    pub type_code: String,
    pub line: String,
    pub quantity: String,
}

/// One child in an aggregate's sequence.
#[derive(Debug, Clone)]
pub struct Child {
    pub name: String,
    pub min: u32,
    /// `u32::MAX`: unbounded.
    pub max: u32,
}

#[derive(Debug, Deserialize)]
struct Raw {
    namespaces: Namespaces,
    documents: HashMap<String, DocumentDef>,
    customizations: HashMap<String, String>,
    profiles: HashMap<String, String>,
    aggregates: HashMap<String, Vec<String>>,
}

#[derive(Debug)]
pub struct Structure {
    pub namespaces: Namespaces,
    pub documents: HashMap<String, DocumentDef>,
    pub customizations: HashMap<String, String>,
    pub profiles: HashMap<String, String>,
    pub aggregates: HashMap<String, Vec<Child>>,
}

impl Structure {
    /// The position of `child` in `aggregate`'s sequence.
    pub fn position(&self, aggregate: &str, child: &str) -> Option<usize> {
        self.aggregates
            .get(aggregate)?
            .iter()
            .position(|c| c.name == child)
    }

    /// Is `name` an aggregate (written in the cac namespace)? Basic
    /// components are never listed as aggregates.
    pub fn is_aggregate(&self, name: &str) -> bool {
        self.aggregates.contains_key(name)
    }
}

static STRUCTURE: LazyLock<Result<Structure, String>> = LazyLock::new(|| {
    let raw: Raw = toml::from_str(TEXT).map_err(|e| format!("schemas/ubl/structure.toml: {e}"))?;
    let mut aggregates = HashMap::new();
    for (name, list) in raw.aggregates {
        let children = list
            .iter()
            .map(|c| {
                let (n, min, max) = match c.chars().last() {
                    Some('?') => (&c[..c.len() - 1], 0, 1),
                    Some('*') => (&c[..c.len() - 1], 0, u32::MAX),
                    Some('+') => (&c[..c.len() - 1], 1, u32::MAX),
                    _ => (c.as_str(), 1, 1),
                };
                Child {
                    name: n.to_string(),
                    min,
                    max,
                }
            })
            .collect();
        aggregates.insert(name, children);
    }
    Ok(Structure {
        namespaces: raw.namespaces,
        documents: raw.documents,
        customizations: raw.customizations,
        profiles: raw.profiles,
        aggregates,
    })
});

/// The compiled structure (it is built into the binary, so an error here is
/// a broken build, reported rather than panicking).
pub fn get() -> anyhow::Result<&'static Structure> {
    STRUCTURE.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}
