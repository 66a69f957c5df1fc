//! Code lists as data (`schemas/ubl/codes/*.toml`, one list per file, with
//! where it comes from) and the meaning that checks a value against one.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

use super::{Ctx, Meaning, Outcome};

pub(super) const MEANINGS: &[Meaning] = &[Meaning {
    name: "code",
    run: code,
    paths: &["path"],
    optional: &["list"],
}];

const FILES: &[(&str, &str)] = &[
    (
        "schemas/ubl/codes/peppol-eas.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-eas.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-iso4217.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-iso4217.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-mime.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-mime.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-profiles.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-profiles.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl1001-creditnote.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl1001-creditnote.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl1001-invoice.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl1001-invoice.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl2005.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl2005.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl5189.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl5189.toml"),
    ),
    (
        "schemas/ubl/codes/peppol-uncl7161.toml",
        include_str!("../../../../schemas/ubl/codes/peppol-uncl7161.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    name: String,
    source: String,
    codes: Vec<String>,
}

static LISTS: LazyLock<Result<HashMap<String, HashSet<String>>, String>> = LazyLock::new(|| {
    let mut out = HashMap::new();
    for (file, text) in FILES {
        let l: ListFile = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        if l.source.trim().is_empty() || l.codes.is_empty() {
            return Err(format!("{file}: a list needs its source and codes"));
        }
        if out
            .insert(l.name.clone(), l.codes.into_iter().collect())
            .is_some()
        {
            return Err(format!("{file}: list {} given twice", l.name));
        }
    }
    Ok(out)
});

/// The code list `name`.
pub fn list(name: &str) -> Option<&'static HashSet<String>> {
    LISTS.as_ref().ok()?.get(name)
}

/// Is `value` in list `name`? An unknown list holds nothing.
pub fn contains(name: &str, value: &str) -> bool {
    list(name).is_some_and(|l| l.contains(value))
}

/// Every value `path` selects is in `list`.
fn code(c: &Ctx<'_>) -> Outcome {
    let name = c.arg_str("list").unwrap_or_default();
    for v in c.values("path") {
        if !contains(name, &v) {
            return Outcome::FailWith(format!("({v})"), format!("({v})"));
        }
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_list_loads() {
        if let Err(e) = super::LISTS.as_ref() {
            panic!("{e}");
        }
    }
}
