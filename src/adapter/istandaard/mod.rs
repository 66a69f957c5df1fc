//! The iStandaarden adapter (iWmo 3.2 and iJw 3.2): decode and check a
//! message, encode one, and answer it with its retourbericht.
//!
//! Both standards go through the same code; everything that differs between
//! them, and between the 28 messages, is data in `schemas/istandaard`.

pub mod config;
pub mod decode;
pub mod encode;
pub mod json;
pub mod retour;
pub mod retourcodes;
pub mod rules;
#[cfg(test)]
mod tests;
pub mod verzoekcodes;

use anyhow::Result;

pub use config::{Limits, MAX_MESSAGE_BYTES, RetourSettings};
pub use decode::{DecodeError, Decoded};

use crate::finding::Finding;
use crate::message::Message;
use crate::schema::Schema;

/// A message with every finding about it: structure (XSD) and in-message rules.
#[derive(Debug, Clone)]
pub struct Checked {
    pub message: Message,
    pub findings: Vec<Finding>,
    /// False when the input stopped being readable part way.
    pub complete: bool,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        self.complete && self.findings.is_empty()
    }
}

/// Decodes `input` and checks it against the structure and every in-message
/// rule. Rules run on a structurally flawed message too, so that a person
/// fixing it sees everything at once; the retourbericht is based on the
/// first control level that failed.
pub fn check(
    schema: &'static Schema,
    input: &[u8],
    limits: &Limits,
) -> Result<Checked, DecodeError> {
    let Decoded {
        message,
        mut findings,
        complete,
    } = decode::decode(schema, input, limits)?;
    if complete {
        findings.extend(rules::check(&message));
    }
    Ok(Checked {
        message,
        findings,
        complete,
    })
}

/// Checks a message built in code (a generated declaration, a retour) the
/// same way an incoming one is checked: by writing and reading it back, so
/// that exactly the bytes that would leave the house are judged.
pub fn check_outgoing(message: &Message, limits: &Limits) -> Result<(String, Checked)> {
    let xml = encode::encode(message);
    let checked = check(message.schema(), xml.as_bytes(), limits)
        .map_err(|e| anyhow::anyhow!("generated {} does not decode: {}", message.name(), e))?;
    Ok((xml, checked))
}

/// The retourbericht for a checked heenbericht, as XML.
pub fn retour_xml(
    checked: &Checked,
    settings: &RetourSettings,
) -> Result<String, retour::RetourError> {
    retour::build(checked, settings).map(|m| encode::encode(&m))
}
