//! The code lists of requests and their answers (WJ758 RedenVerzoek, WJ760
//! VerzoekAntwoord, WJ759 RedenAfwijzingVerzoek) with loket's own
//! explanation in Dutch and English (`schemas/istandaard/verzoekcodes.toml`).
//!
//! A municipality that rejects a request says why with one digit; staff see
//! the reason in words, on the participant page and in the review queue, so
//! they know whether to ask again, ask elsewhere or drop it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::retourcodes::Explained;

/// One entry of a code list.
#[derive(Debug, Clone, Deserialize)]
pub struct CodeInfo {
    pub nl: String,
    pub en: String,
    /// `verzoek_antwoord` only: the request status the answer gives.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Lists {
    reden_verzoek: HashMap<String, CodeInfo>,
    verzoek_antwoord: HashMap<String, CodeInfo>,
    reden_afwijzing: HashMap<String, CodeInfo>,
}

static LISTS: LazyLock<Lists> = LazyLock::new(|| {
    toml::from_str::<Lists>(include_str!(
        "../../../schemas/istandaard/verzoekcodes.toml"
    ))
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "schemas/istandaard/verzoekcodes.toml does not load");
        Lists::default()
    })
});

fn explain_in(list: &HashMap<String, CodeInfo>, name: &str, code: &str) -> Explained {
    let found = list.get(code).map(|i| (i.nl.as_str(), i.en.as_str()));
    Explained::from_list(code, found, "Code", name)
}

/// WJ758: why the provider asks for a change.
pub fn reden_verzoek(code: &str) -> Explained {
    explain_in(&LISTS.reden_verzoek, "WJ758", code)
}

/// WJ760: what the municipality answers.
pub fn verzoek_antwoord(code: &str) -> Explained {
    explain_in(&LISTS.verzoek_antwoord, "WJ760", code)
}

/// WJ759: why the municipality rejected the request.
pub fn reden_afwijzing(code: &str) -> Explained {
    explain_in(&LISTS.reden_afwijzing, "WJ759", code)
}

/// The request status a WJ760 answer gives (`accepted`, `rejected`); `None`
/// for a code loket does not know.
pub fn status_of_answer(code: &str) -> Option<&'static str> {
    LISTS
        .verzoek_antwoord
        .get(code)
        .and_then(|i| i.status.as_deref())
}

/// The WJ758 codes, for forms and input checks.
pub fn reden_verzoek_codes() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = LISTS
        .reden_verzoek
        .iter()
        .map(|(c, i)| (c.as_str(), i.nl.as_str()))
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the schema allows has an explanation, and nothing more.
    #[test]
    fn every_code_of_the_schema_is_explained() {
        let schema: toml::Value = toml::from_str(include_str!(
            "../../../schemas/istandaard/messages-3.2.toml"
        ))
        .expect("schema data");
        for (datatype, list) in [
            ("LDT_RedenVerzoek", &LISTS.reden_verzoek),
            ("LDT_VerzoekAntwoord", &LISTS.verzoek_antwoord),
            ("LDT_RedenAfwijzingVerzoek", &LISTS.reden_afwijzing),
        ] {
            let mut codes: Vec<&str> = schema["datatypes"][datatype]["codes"]
                .as_array()
                .expect("codes")
                .iter()
                .filter_map(toml::Value::as_str)
                .collect();
            codes.sort_unstable();
            let mut known: Vec<&str> = list.keys().map(String::as_str).collect();
            known.sort_unstable();
            assert_eq!(known, codes, "{datatype}");
            for i in list.values() {
                assert!(!i.nl.is_empty() && !i.en.is_empty());
            }
        }
        assert_eq!(status_of_answer("1"), Some("rejected"));
        assert_eq!(status_of_answer("2"), Some("accepted"));
        assert_eq!(status_of_answer("7"), None);
        assert!(reden_afwijzing("4").nl.contains("contract"));
        assert!(reden_afwijzing("77").en.contains("WJ759"));
    }
}
