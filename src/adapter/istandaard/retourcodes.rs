//! The WJ001 retourcodes with loket's own explanation in Dutch and English
//! (`schemas/istandaard/retourcodes.toml`).
//!
//! A retourcode alone ("9019") tells a person nothing; wherever loket shows
//! one (the review queue, the participant record) it shows what it means and
//! what to do about it, in both languages.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// One catalogue entry.
#[derive(Debug, Clone, Deserialize)]
pub struct RetourCodeInfo {
    pub nl: String,
    pub en: String,
    /// The technische regel the code list names for the code ("" for none).
    #[serde(default)]
    pub rule: String,
    /// True for the codes that mean approval or "no remark" (0200, 8001).
    #[serde(default)]
    pub approval: bool,
}

#[derive(Debug, Deserialize)]
struct RawCatalogue {
    codes: HashMap<String, RetourCodeInfo>,
}

static CATALOGUE: LazyLock<HashMap<String, RetourCodeInfo>> = LazyLock::new(|| {
    toml::from_str::<RawCatalogue>(include_str!("../../../schemas/istandaard/retourcodes.toml"))
        .map(|c| c.codes)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "schemas/istandaard/retourcodes.toml does not load");
            HashMap::new()
        })
});

/// The catalogue (code -> explanation).
pub fn catalogue() -> &'static HashMap<String, RetourCodeInfo> {
    &CATALOGUE
}

/// A retourcode as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    pub code: String,
    pub nl: String,
    pub en: String,
}

impl Explained {
    /// `code` with its explanation `found` in code list `list`; a code
    /// outside the list is still shown, with a note that loket does not
    /// know it (a financier may use a newer list). `label` names the code
    /// in that note ("Retourcode", "Code").
    pub fn from_list(
        code: &str,
        found: Option<(&str, &str)>,
        label: &str,
        list: &str,
    ) -> Explained {
        let (nl, en) = match found {
            Some((nl, en)) => (nl.to_string(), en.to_string()),
            None => (
                format!("{label} {code} staat niet in de codelijst {list} die loket kent."),
                format!("{label} {code} is not in the {list} code list loket knows."),
            ),
        };
        Explained {
            code: code.to_string(),
            nl,
            en,
        }
    }
}

/// The explanation of `code` (WJ001).
pub fn explain(code: &str) -> Explained {
    let found = catalogue()
        .get(code)
        .map(|i| (i.nl.as_str(), i.en.as_str()));
    Explained::from_list(code, found, "Retourcode", "WJ001")
}

/// True when `code` means approval or "no remark" rather than a rejection.
pub fn is_approval(code: &str) -> bool {
    catalogue()
        .get(code)
        .map_or(matches!(code, "0200" | "8001"), |i| i.approval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_loads_and_explains_in_both_languages() {
        assert!(catalogue().len() > 50, "{}", catalogue().len());
        let e = explain("8001");
        assert!(e.nl.contains("volledig"), "{e:?}");
        assert!(e.en.contains("in full"), "{e:?}");
        assert!(is_approval("0200") && is_approval("8001"));
        assert!(!is_approval("0233") && !is_approval("9019") && !is_approval("0001"));
        let unknown = explain("7777");
        assert!(unknown.nl.contains("7777") && unknown.en.contains("7777"));
    }
}
