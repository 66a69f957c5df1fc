//! Findings: what is wrong with a message, said so that both a machine (rule id,
//! retourcode, path) and a person (Dutch and English text) can act on it.

use serde::Serialize;

use crate::message::{Message, NodeId};

/// The control level (controleniveau) a finding comes from. It decides the
/// shape of the retourbericht (IV028, IV087): findings on the structure
/// (level 1, the XSD) or on rules inside one message (level 2, the XSLT
/// rules: condities, constraints, technische regels) reject the message as a
/// whole with 0001; findings against earlier messages or external sources
/// (levels 3 and 4) are answered per berichtklasse with their own retourcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Structure,
    Content,
    CrossMessage,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Rule id: a technische regel (TR061), conditie (CD075), constraint (CS002),
    /// or an XSD check (XSD-ORDER, XSD-TYPE, ...).
    pub rule: String,
    /// Retourcode from code list WJ001.
    pub retourcode: String,
    /// Element path below the root, e.g. `Client/ToegewezenProducten/ToegewezenProduct[1]/Einddatum`.
    pub path: String,
    /// Line in the source document, when the finding comes from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub level: Level,
    pub nl: String,
    pub en: String,
    /// The berichtklasse whose RetourCodes carry this finding.
    #[serde(skip)]
    pub class_node: Option<NodeId>,
}

impl Finding {
    pub fn structure(rule: &str, path: String, line: Option<u32>, nl: String, en: String) -> Self {
        Finding {
            rule: rule.to_string(),
            retourcode: "0001".to_string(),
            path,
            line,
            level: Level::Structure,
            nl,
            en,
            class_node: None,
        }
    }
}

impl Finding {
    /// A finding of a rule across messages (controleniveau 3) at `node`,
    /// with the rule's retourcode and explanation from the catalogue
    /// (`schemas/istandaard/rules.toml`) and an optional detail. Inbound
    /// checks (the record) and outbound ones (the engine) both use it.
    pub fn cross_message(
        rule: &str,
        node: crate::message::NodeRef<'_>,
        detail_nl: &str,
        detail_en: &str,
    ) -> Finding {
        let info = crate::adapter::istandaard::rules::catalogue().get(rule);
        let (nl, en) = info
            .map(|i| (i.nl.clone(), i.en.clone()))
            .unwrap_or_else(|| (format!("Regel {rule}."), format!("Rule {rule}.")));
        Finding {
            rule: rule.to_string(),
            retourcode: info.map_or_else(|| "0001".to_string(), |i| i.retourcode.clone()),
            path: node.path(),
            line: None,
            level: Level::CrossMessage,
            nl: format!("{nl} {detail_nl}").trim().to_string(),
            en: format!("{en} {detail_en}").trim().to_string(),
            class_node: Some(node.id),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = self
            .line
            .map(|l| format!(" (regel/line {l})"))
            .unwrap_or_default();
        // Findings on invoices have no retourcode (UBL has no retour).
        let code = if self.retourcode.is_empty() {
            String::new()
        } else {
            format!("{} ", self.retourcode)
        };
        write!(
            f,
            "[{code}{}] {}{}: {} / {}",
            self.rule, self.path, line, self.nl, self.en
        )
    }
}

/// 1-based line number of a byte offset.
pub fn line_of(source: &[u8], offset: usize) -> u32 {
    let end = offset.min(source.len());
    1 + source[..end].iter().filter(|&&b| b == b'\n').count() as u32
}

/// Line numbers of the offsets a parser asks for as it reads on: only the
/// newlines since the previous offset are counted, so a document costs one
/// pass instead of one pass from its start per element (quadratic in a
/// 10,000-line invoice). An offset before the previous one counts again
/// from the start.
#[derive(Debug)]
pub struct Lines<'a> {
    source: &'a [u8],
    at: std::cell::Cell<(usize, u32)>,
}

impl<'a> Lines<'a> {
    pub fn new(source: &'a [u8]) -> Lines<'a> {
        Lines {
            source,
            at: std::cell::Cell::new((0, 1)),
        }
    }

    /// 1-based line number of `offset`, like [`line_of`].
    pub fn line(&self, offset: usize) -> u32 {
        let end = offset.min(self.source.len());
        let (from, line) = match self.at.get() {
            (from, line) if from <= end => (from, line),
            _ => (0, 1),
        };
        let line = line
            + self.source[from..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u32;
        self.at.set((end, line));
        line
    }
}

/// The nearest node at or above `id` whose class answers with RetourCodes in a
/// retourbericht (its berichtklasse), or the root when none does.
pub fn berichtklasse_of(msg: &Message, id: NodeId) -> NodeId {
    let mut cur = Some(msg.node(id));
    while let Some(n) = cur {
        if n.parent().is_some() && is_berichtklasse(n) {
            return n.id;
        }
        cur = n.parent();
    }
    0
}

/// A berichtklasse: an element of a message class (not a basisschema composite)
/// that is itself a class but not a list wrapper (a class holding a single
/// repeating element).
pub fn is_berichtklasse(n: crate::message::NodeRef<'_>) -> bool {
    match n.class() {
        Some(c) if !c.basis && !n.in_basis() => !(c.elements.len() == 1 && c.elements[0].max > 1),
        _ => false,
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn lines_agree_with_counting_from_the_start_forward_and_back() {
        let text = b"<a>\n<b/>\n\n<c>x</c>\n</a>";
        let lines = Lines::new(text);
        for offset in [0, 3, 4, 9, 10, 2, 17, 100, 5, 0] {
            assert_eq!(lines.line(offset), line_of(text, offset), "offset {offset}");
        }
    }
}
