//! What the exchange (VECOZO and the GGk behind it) reports about a pushed
//! message, as data: `schemas/exchange/meldingen.toml`.
//!
//! A refused message comes back with `meldingen` of a code and the
//! exchange's own short description; "BRS03" tells a back-office employee
//! nothing about who must do what. The catalogue says, in Dutch and in
//! loket's own words, what went wrong, who has to act and whether sending the
//! same message again can help, and for every berichtstatus whether it is
//! final and whether it needs a person. It is loaded and checked once (the
//! first call of [`ExchangeCodes::builtin`]; [`ExchangeCodes::check_builtin`]
//! at start), so a broken catalogue stops the daemon instead of showing up
//! as an unexplained code months later.

use std::collections::HashMap;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

const BUILTIN: &str = include_str!("../../schemas/exchange/meldingen.toml");

/// Which list a code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// VECOZO's own checks (BRS codes).
    Vecozo,
    /// The GGk's list of the iWmo/iJw exchange (Fo01, IB codes).
    Ggk,
    /// The StUF standard's own codes, in a Fo01 a party writes itself
    /// (StUF055: the payload fails its schema).
    Stuf,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Vecozo => "vecozo",
            Source::Ggk => "ggk",
            Source::Stuf => "stuf",
        }
    }

    /// The list's name as a person reads it.
    pub fn label_nl(self) -> &'static str {
        match self {
            Source::Vecozo => "VECOZO",
            Source::Ggk => "GGk",
            Source::Stuf => "StUF",
        }
    }
}

/// Who has to act on a melding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The provider corrects data and sends a new message.
    Provider,
    /// The software supplier must fix how the message is made.
    Supplier,
    /// The VECOZO contact person / certificate administrator arranges an
    /// authorisation, a role or a toestemmingsverklaring.
    CertificateAdmin,
    /// Nothing is wrong on our side: wait and send again.
    WaitAndResend,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Provider => "provider",
            Action::Supplier => "supplier",
            Action::CertificateAdmin => "certificate_admin",
            Action::WaitAndResend => "wait_and_resend",
        }
    }

    /// Who acts, in Dutch, for the review item.
    pub fn nl(self) -> &'static str {
        match self {
            Action::Provider => "de aanbieder past de gegevens aan en verstuurt een nieuw bericht",
            Action::Supplier => "de softwareleverancier moet dit oplossen",
            Action::CertificateAdmin => {
                "de contactpersoon of certificaatbeheerder bij VECOZO moet dit regelen"
            }
            Action::WaitAndResend => "wachten en later opnieuw versturen",
        }
    }
}

/// One code of the exchange, explained.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Melding {
    pub code: String,
    pub source: Source,
    /// What went wrong and what to do, in Dutch.
    pub nl: String,
    pub action: Action,
    /// The message itself is fine: sent again unchanged it can succeed once
    /// the cause outside it is gone. False when it must change first.
    pub resend_helps: bool,
}

/// One berichtstatus value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusInfo {
    /// The value as the exchange sends it ("AfgekeurdDoorDienst").
    pub name: String,
    pub label_nl: String,
    /// The state does not change any more: loket stops asking.
    #[serde(rename = "final")]
    pub final_: bool,
    /// Someone has to look at the message (a review item).
    pub needs_person: bool,
    /// What the state means, in Dutch.
    pub nl: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    melding: Vec<Melding>,
    status: Vec<StatusInfo>,
}

/// The catalogue of the exchange's codes and states.
#[derive(Debug)]
pub struct ExchangeCodes {
    meldingen: Vec<Melding>,
    by_code: HashMap<String, usize>,
    statuses: Vec<StatusInfo>,
    by_status: HashMap<String, usize>,
}

static BUILTIN_CODES: OnceLock<ExchangeCodes> = OnceLock::new();

impl ExchangeCodes {
    /// Reads and checks a catalogue: unknown fields, a code or state listed
    /// twice, and empty explanations are refused.
    pub fn parse(text: &str) -> Result<ExchangeCodes> {
        let raw: Raw = toml::from_str(text).context("the exchange codes do not parse")?;
        let mut by_code = HashMap::with_capacity(raw.melding.len());
        for (i, m) in raw.melding.iter().enumerate() {
            let code = m.code.trim();
            if code.is_empty() || code != m.code {
                bail!("melding {i}: code {:?} is empty or has spaces", m.code);
            }
            if m.nl.trim().is_empty() {
                bail!("melding {code}: no explanation (nl)");
            }
            if by_code.insert(code.to_ascii_uppercase(), i).is_some() {
                bail!("melding {code} is listed twice");
            }
        }
        let mut by_status = HashMap::with_capacity(raw.status.len());
        for (i, s) in raw.status.iter().enumerate() {
            if s.name.trim().is_empty() || s.label_nl.trim().is_empty() || s.nl.trim().is_empty() {
                bail!(
                    "status {i} ({:?}): name, label_nl and nl are required",
                    s.name
                );
            }
            if by_status.insert(s.name.clone(), i).is_some() {
                bail!("status {} is listed twice", s.name);
            }
        }
        Ok(ExchangeCodes {
            meldingen: raw.melding,
            by_code,
            statuses: raw.status,
            by_status,
        })
    }

    /// The catalogue built into loket. It is checked by the tests and at
    /// start ([`ExchangeCodes::check_builtin`]); should it still fail here,
    /// an empty catalogue is used (every code then shows the exchange's own
    /// text) rather than a panic on a status poll.
    pub fn builtin() -> &'static ExchangeCodes {
        BUILTIN_CODES.get_or_init(|| {
            ExchangeCodes::parse(BUILTIN).unwrap_or_else(|e| {
                tracing::error!(error = %format!("{e:#}"), "schemas/exchange/meldingen.toml does not load");
                ExchangeCodes {
                    meldingen: Vec::new(),
                    by_code: HashMap::new(),
                    statuses: Vec::new(),
                    by_status: HashMap::new(),
                }
            })
        })
    }

    /// Checks the built-in catalogue, for the daemon's start: a broken
    /// catalogue is an error there, not an empty one.
    pub fn check_builtin() -> Result<()> {
        ExchangeCodes::parse(BUILTIN)
            .map(|_| ())
            .context("schemas/exchange/meldingen.toml")
    }

    /// The explanation of `code` (case and surrounding space ignored).
    pub fn melding(&self, code: &str) -> Option<&Melding> {
        self.by_code
            .get(&code.trim().to_ascii_uppercase())
            .map(|&i| &self.meldingen[i])
    }

    /// What berichtstatus `name` means.
    pub fn status(&self, name: &str) -> Option<&StatusInfo> {
        self.by_status.get(name.trim()).map(|&i| &self.statuses[i])
    }

    pub fn meldingen(&self) -> &[Melding] {
        &self.meldingen
    }

    pub fn statuses(&self) -> &[StatusInfo] {
        &self.statuses
    }

    /// A melding of the exchange as a back-office employee reads it on a
    /// review item, in Dutch: the code and the exchange's own description,
    /// then loket's explanation, who acts and whether sending again helps.
    /// A code loket does not know is still shown, with the exchange's text
    /// and a note that loket does not know it (the exchange may have added
    /// codes since this list was written).
    pub fn explain(&self, code: &str, omschrijving: &str) -> String {
        let code = code.trim();
        let omschrijving = omschrijving.trim();
        let theirs = if omschrijving.is_empty() {
            String::new()
        } else {
            format!(" ({omschrijving})")
        };
        match self.melding(code) {
            Some(m) => {
                let resend = if m.resend_helps {
                    "Hetzelfde bericht opnieuw versturen kan helpen zodra de oorzaak is weggenomen."
                } else {
                    "Hetzelfde bericht ongewijzigd opnieuw versturen helpt niet."
                };
                format!(
                    "{} {code}{theirs}: {} Wie moet handelen: {}. {resend}",
                    m.source.label_nl(),
                    m.nl,
                    m.action.nl(),
                )
            }
            None if omschrijving.is_empty() => format!(
                "Code {code} van de berichtenuitwisseling is onbekend bij loket en kwam zonder omschrijving. Vraag VECOZO wat de code betekent."
            ),
            None => format!(
                "Code {code} van de berichtenuitwisseling: {omschrijving} (deze code is onbekend bij loket; de tekst is die van de uitwisseling zelf)."
            ),
        }
    }
}

/// [`ExchangeCodes::explain`] on the built-in catalogue.
pub fn explain(code: &str, omschrijving: &str) -> String {
    ExchangeCodes::builtin().explain(code, omschrijving)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    /// `../shared/reference` beside the project, when it is there.
    fn reference() -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
        if dir.is_dir() {
            Some(dir)
        } else {
            eprintln!(
                "skipped: {} is absent, so the catalogue's coverage of the reference lists is not checked",
                dir.display()
            );
            None
        }
    }

    /// The codes in the first column of a Markdown table: a cell like
    /// `BRS01` or `IB905` (letters then digits).
    fn table_codes(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix('|'))
            .filter_map(|l| l.split('|').next())
            .map(str::trim)
            .filter(|c| {
                let letters = c.trim_end_matches(|ch: char| ch.is_ascii_digit());
                !letters.is_empty()
                    && letters.len() < c.len()
                    && letters.chars().all(|ch| ch.is_ascii_uppercase())
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn builtin_loads_and_is_checked() {
        ExchangeCodes::check_builtin().expect("catalogue");
        let c = ExchangeCodes::builtin();
        assert!(c.meldingen().len() >= 40);
        let m = c.melding(" brs03 ").expect("BRS03");
        assert_eq!(m.source, Source::Vecozo);
        assert_eq!(m.action, Action::CertificateAdmin);
        assert!(m.resend_helps);
        assert_eq!(c.melding("IB012").expect("IB012").source, Source::Ggk);
        let stuf = c
            .melding("stuf055")
            .expect("StUF055, the code loket writes itself");
        assert_eq!((stuf.source, stuf.action), (Source::Stuf, Action::Supplier));
        assert!(c.explain("StUF055", "").starts_with("StUF StUF055"));
        let s = c.status("AfgekeurdDoorDienst").expect("status");
        assert!(s.final_ && s.needs_person);
        assert!(!c.status("WordtVerwerkt").expect("status").final_);
        assert!(c.status("Onzin").is_none());
    }

    #[test]
    fn every_code_of_the_reference_lists_is_explained() {
        let Some(dir) = reference() else { return };
        let c = ExchangeCodes::builtin();
        let mut missing = Vec::new();
        for (file, source) in [
            ("ijw-3.2/codelijsten/Foutcodelijst_Vecozo.md", None),
            (
                "ijw-3.2/codelijsten/Fo01_Foutcodelijst.md",
                Some(Source::Ggk),
            ),
        ] {
            let text = std::fs::read_to_string(dir.join(file)).expect("reference list");
            let codes = table_codes(&text);
            assert!(codes.len() >= 20, "{file}: only {codes:?}");
            for code in codes {
                match c.melding(&code) {
                    None => missing.push(format!("{code} ({file})")),
                    Some(m) => {
                        // The VECOZO file repeats the GGk's IB codes after
                        // its own: those are the GGk's.
                        let want = source.unwrap_or(if code.starts_with("IB") {
                            Source::Ggk
                        } else {
                            Source::Vecozo
                        });
                        assert_eq!(m.source, want, "{code}");
                    }
                }
            }
        }
        assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    }

    #[test]
    fn statuses_are_those_of_the_openapi_description() {
        let Some(dir) = reference() else { return };
        let text = std::fs::read_to_string(dir.join("vecozo-vsp/berichtstatus-pull-v3.json"))
            .expect("berichtstatus description");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
        let values: BTreeSet<String> = doc["components"]["schemas"]["Berichtstatus"]["enum"]
            .as_array()
            .expect("the Berichtstatus enum")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let ours: BTreeSet<String> = ExchangeCodes::builtin()
            .statuses()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(ours, values);
        for name in [
            "AfgekeurdDoorDienst",
            "AanbiedenMislukt",
            "BezorgingAfgebroken",
            "DeelberichtAanleveringAfgekeurd",
        ] {
            let s = ExchangeCodes::builtin().status(name).expect(name);
            assert!(s.needs_person && s.final_, "{name}");
        }
        let persons: Vec<_> = ExchangeCodes::builtin()
            .statuses()
            .iter()
            .filter(|s| s.needs_person)
            .collect();
        assert_eq!(persons.len(), 4);
        assert!(
            ExchangeCodes::builtin()
                .status("Bezorgd")
                .expect("Bezorgd")
                .final_
        );
    }

    #[test]
    fn refuses_duplicates_and_unknown_fields() {
        let one = r#"
[[melding]]
code = "X1"
source = "vecozo"
action = "provider"
resend_helps = false
nl = "uitleg"
"#;
        let status = r#"
[[status]]
name = "Bezorgd"
label_nl = "Bezorgd"
final = true
needs_person = false
nl = "uitleg"
"#;
        assert!(ExchangeCodes::parse(&format!("{one}{status}")).is_ok());
        let twice = ExchangeCodes::parse(&format!("{one}{}{status}", one.replace("X1", "x1")))
            .expect_err("duplicate");
        assert!(format!("{twice:#}").contains("twice"), "{twice:#}");
        let dup_status = ExchangeCodes::parse(&format!("{one}{status}{status}"));
        assert!(dup_status.is_err());
        let unknown = one.replace("nl = ", "extra = 1\nnl = ");
        assert!(ExchangeCodes::parse(&format!("{unknown}{status}")).is_err());
        let bad_action = one.replace("\"provider\"", "\"gemeente\"");
        assert!(ExchangeCodes::parse(&format!("{bad_action}{status}")).is_err());
        assert!(ExchangeCodes::parse(&format!("{one}{status}\nstray = 1\n")).is_err());
    }

    #[test]
    fn explains_known_and_unknown_codes_in_dutch() {
        let known = explain("BRS03", "Indiener is niet gemachtigd");
        assert!(
            known.starts_with("VECOZO BRS03 (Indiener is niet gemachtigd): "),
            "{known}"
        );
        assert!(known.contains("toestemmingsverklaring"), "{known}");
        assert!(known.contains("certificaatbeheerder"), "{known}");
        assert!(known.contains("opnieuw versturen kan helpen"), "{known}");
        let size = explain("IB012", "");
        assert!(size.starts_with("GGk IB012: "), "{size}");
        assert!(size.contains("helpt niet"), "{size}");
        let unknown = explain("ZZ999", "Iets nieuws ging mis");
        assert!(unknown.contains("Iets nieuws ging mis"), "{unknown}");
        assert!(unknown.contains("onbekend bij loket"), "{unknown}");
        let bare = explain("ZZ999", " ");
        assert!(bare.contains("onbekend bij loket"), "{bare}");
    }
}
