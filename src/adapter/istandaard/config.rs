//! Limits and settings of the iStandaarden adapter.

use serde::Deserialize;

/// Limits that protect the gateway from hostile or broken input. Every message
/// is refused before it can cost unbounded memory or time.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted message in bytes. The biggest real iStandaarden
    /// messages (a 323 with thousands of prestaties) stay well below 10 MiB.
    pub max_bytes: usize,
    /// Deepest accepted element nesting; the standard's messages nest at most 8
    /// levels, so anything far deeper is an attack or garbage.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

impl Limits {
    /// For checking a message loket wrote itself: not hostile, so only the
    /// depth guard stays; a declaration for a large provider (20,000
    /// prestaties is about 10 MiB) must not be refused by its own check.
    pub fn outgoing() -> Limits {
        Limits {
            max_bytes: 1024 * 1024 * 1024,
            ..Limits::default()
        }
    }
}

/// Identification loket uses when it writes a retourbericht.
#[derive(Debug, Clone)]
pub struct RetourSettings {
    /// Version of the checks we run, written as XsltVersie.
    pub xslt_versie: String,
    /// Dagtekening of the retour; `None` means today.
    pub today: Option<chrono::NaiveDate>,
}

impl Default for RetourSettings {
    fn default() -> Self {
        RetourSettings {
            xslt_versie: "1.0.0".to_string(),
            today: None,
        }
    }
}
