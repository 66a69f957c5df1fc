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

/// The explanation of `code`; a code outside the catalogue is still shown,
/// with a note that loket does not know it (a financier may use a newer list).
pub fn explain(code: &str) -> Explained {
    match catalogue().get(code) {
        Some(i) => Explained {
            code: code.to_string(),
            nl: i.nl.clone(),
            en: i.en.clone(),
        },
        None => Explained {
            code: code.to_string(),
            nl: format!("Retourcode {code} staat niet in de codelijst WJ001 die loket kent."),
            en: format!("Retourcode {code} is not in the WJ001 code list loket knows."),
        },
    }
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
