//! The berichtstroom and roles each message is pushed with, as data
//! (`schemas/exchange/vsp-berichtstromen.toml`).
//!
//! VECOZO routes on the metadata, never on the payload: a wrong actie or rol
//! is refused (or worse, delivered to a service that does not expect it).
//! The values are configuration that VECOZO's connection documents settle,
//! so they live in a file that is checked once, at start, against the
//! messages loket knows; a missing or malformed row stops loket instead of
//! failing the first push at night.

use std::collections::HashMap;
use std::sync::LazyLock;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::schema::Schema;
use crate::store::TenantKind;

const TABLE: &str = include_str!("../../../schemas/exchange/vsp-berichtstromen.toml");

/// The berichtstroom of one message code, exactly the OpenAPI object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Berichtstroom {
    pub berichttype: String,
    pub berichtsubtype: String,
    pub berichtversie: u32,
    pub berichtsubversie: u32,
    pub actie: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    rollen: Rollen,
    stroom: Vec<RawStroom>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rollen {
    aanbieder: String,
    gemeente: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStroom {
    bericht: String,
    #[serde(flatten)]
    stroom: Berichtstroom,
}

/// The loaded table.
#[derive(Debug)]
pub struct Routing {
    rollen: Rollen,
    by_bericht: HashMap<String, Berichtstroom>,
}

static BUILTIN: LazyLock<Result<Routing, String>> =
    LazyLock::new(|| Routing::parse(TABLE).map_err(|e| format!("{e:#}")));

impl Routing {
    /// The table shipped with loket, checked against the built-in message
    /// schema.
    pub fn builtin() -> Result<&'static Routing> {
        BUILTIN.as_ref().map_err(|e| {
            anyhow!(
                "schemas/exchange/vsp-berichtstromen.toml is not usable / is niet bruikbaar: {e}"
            )
        })
    }

    fn parse(text: &str) -> Result<Routing> {
        let raw: RawTable = toml::from_str(text)?;
        let mut by_bericht = HashMap::new();
        for r in raw.stroom {
            let s = &r.stroom;
            // The bounds of the OpenAPI description (Berichtstroom).
            for (field, v) in [
                ("berichttype", &s.berichttype),
                ("berichtsubtype", &s.berichtsubtype),
                ("actie", &s.actie),
            ] {
                if v.is_empty() || v.chars().count() > 60 {
                    bail!("{}: {field} must have 1 to 60 characters", r.bericht);
                }
            }
            if s.berichtversie > 999 || s.berichtsubversie > 999 {
                bail!(
                    "{}: berichtversie and berichtsubversie are 0..999",
                    r.bericht
                );
            }
            if by_bericht.insert(r.bericht.clone(), r.stroom).is_some() {
                bail!("{} appears twice", r.bericht);
            }
        }
        for rol in [&raw.rollen.aanbieder, &raw.rollen.gemeente] {
            if rol.is_empty() || rol.chars().count() > 100 {
                bail!("a rol must have 1 to 100 characters");
            }
        }
        // Every message of every standard loket speaks must be routable,
        // and nothing else may be listed (a typo would hide a missing row).
        let schema = Schema::builtin()?;
        let mut known = Vec::new();
        for standard in &schema.standards {
            for m in &standard.messages {
                known.push(m.name.clone());
            }
        }
        for name in &known {
            if !by_bericht.contains_key(name) {
                bail!("{name} has no berichtstroom");
            }
        }
        for name in by_bericht.keys() {
            if !known.contains(name) {
                bail!("{name} is not a message loket knows");
            }
        }
        Ok(Routing {
            rollen: raw.rollen,
            by_bericht,
        })
    }

    /// The berichtstroom of a message (`WMO305`, `JW323`, ...).
    pub fn stroom(&self, bericht: &str) -> Option<&Berichtstroom> {
        self.by_bericht.get(bericht)
    }

    /// The exchange's rol of a party by its code: `Instelling` for an AGB
    /// code, `Gemeente` for a gemeentecode.
    pub fn rol(&self, code: &str) -> Result<&str> {
        Ok(match TenantKind::from_id(code)? {
            TenantKind::Aanbieder => &self.rollen.aanbieder,
            TenantKind::Gemeente => &self.rollen.gemeente,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_routes_every_message() {
        let r = Routing::builtin().expect("table loads");
        let s = r.stroom("JW315").expect("JW315 routed");
        assert_eq!(s.berichttype, "JW");
        assert_eq!(s.berichtsubtype, "JW315");
        assert_eq!(s.actie, "VerzoekToewijzing");
        assert_eq!(r.rol("12345678").unwrap(), "Instelling");
        assert_eq!(r.rol("0363").unwrap(), "Gemeente");
        assert!(r.rol("abc").is_err());
    }

    #[test]
    fn a_missing_or_doubled_row_is_refused() {
        let one = TABLE.replacen("bericht = \"WMO305\"", "bericht = \"WMO301\"", 1);
        let e = Routing::parse(&one).unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        let unknown = TABLE.replacen("bericht = \"WMO305\"", "bericht = \"WMO399\"", 1);
        let e = Routing::parse(&unknown).unwrap_err().to_string();
        assert!(
            e.contains("WMO305 has no berichtstroom") || e.contains("WMO399"),
            "{e}"
        );
        let long = TABLE.replacen(
            "actie = \"StartZorg\"",
            &format!("actie = \"{}\"", "x".repeat(61)),
            1,
        );
        assert!(Routing::parse(&long).is_err());
    }
}
