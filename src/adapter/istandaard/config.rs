//! Limits and settings of the iStandaarden adapter.

use serde::Deserialize;

/// Largest message loket accepts by default, wherever it enters (HTTP
/// `POST /messages`, a drop folder, a pull from the exchange): the exchange
/// (VECOZO, the GGk) takes messages of up to 25 MB, and loket must never
/// refuse one it would deliver. The exchange does not say whether it counts
/// in 10^6 or 2^20 bytes, so the larger reading is taken: 25 MiB
/// (26,214,400 bytes). A financier's declaration of 20,000 prestaties is
/// about 10 MB, so real messages stay well within it.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// Limits that protect the gateway from hostile or broken input. Every message
/// is refused before it can cost unbounded memory or time.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted message in bytes; [`MAX_MESSAGE_BYTES`] unless
    /// configured (`max_message_bytes`).
    pub max_bytes: usize,
    /// Deepest accepted element nesting; the standard's messages nest at most 8
    /// levels, so anything far deeper is an attack or garbage.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: MAX_MESSAGE_BYTES,
            max_depth: 64,
        }
    }
}

impl Limits {
    /// For checking a message loket wrote itself: not hostile, so only the
    /// depth guard stays; a declaration for a large provider (20,000
    /// prestaties is about 10 MB) must not be refused by its own check,
    /// whatever limit the operator chose for what comes in.
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
