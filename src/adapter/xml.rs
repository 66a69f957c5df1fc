//! Reading XML safely, once for every adapter.
//!
//! Whatever standard a message follows, the bytes that arrive are hostile
//! until proven otherwise. Every decoder goes through the same guards, so a
//! hole closed here is closed for iWmo, iJw and UBL at once: a size limit
//! checked before anything is read, UTF-8 only, no DOCTYPE (so no external
//! entities and no billion laughs), no entity references beyond the five XML
//! predefines and character references, and a nesting limit.

use quick_xml::NsReader;
use quick_xml::events::{BytesDecl, BytesRef, Event};
use quick_xml::name::{Namespace, ResolveResult};
use thiserror::Error;

use crate::finding::Lines;

/// Which family of documents a decoder expected, for the error that says
/// the input is none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Istandaard,
    Ubl,
}

impl Family {
    fn en(self) -> &'static str {
        match self {
            Family::Istandaard => "an iWmo 3.2 or iJw 3.2 message",
            Family::Ubl => "a UBL 2.1 Invoice or CreditNote",
        }
    }

    fn nl(self) -> &'static str {
        match self {
            Family::Istandaard => "een iWmo 3.2- of iJw 3.2-bericht",
            Family::Ubl => "een UBL 2.1-Invoice of -CreditNote",
        }
    }
}

/// Input that cannot be read as a document at all. No answer in the
/// standard's own terms can be made: the sender is told this directly.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum XmlError {
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("input is not valid UTF-8 (byte {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("the XML declares encoding {0:?}; messages must be UTF-8")]
    Encoding(String),
    #[error("XML is not well-formed at line {line}: {detail}")]
    NotWellFormed { line: u32, detail: String },
    #[error("a DOCTYPE (line {line}) is refused: DTDs and entity declarations are not allowed")]
    Doctype { line: u32 },
    #[error(
        "entity reference &{name}; at line {line} is refused: only the five predefined XML entities are allowed"
    )]
    Entity { name: String, line: u32 },
    #[error("elements nest deeper than {limit} levels (line {line})")]
    TooDeep { limit: usize, line: u32 },
    #[error("the document has no root element")]
    NoRoot,
    #[error("root element {root} in namespace {namespace:?} is not {}", .expected.en())]
    UnknownMessage {
        root: String,
        namespace: String,
        expected: Family,
    },
}

impl XmlError {
    /// The explanation in Dutch, for the people who read it.
    pub fn nl(&self) -> String {
        match self {
            XmlError::TooLarge { size, limit } => {
                format!("bericht van {size} bytes is groter dan de limiet van {limit} bytes")
            }
            XmlError::InvalidUtf8 { offset } => {
                format!("invoer is geen geldige UTF-8 (byte {offset})")
            }
            XmlError::Encoding(e) => {
                format!("de XML geeft codering {e:?} op; berichten zijn UTF-8")
            }
            XmlError::NotWellFormed { line, detail } => {
                format!("XML is niet goed gevormd op regel {line}: {detail}")
            }
            XmlError::Doctype { line } => format!(
                "een DOCTYPE (regel {line}) wordt geweigerd: DTD's en entiteitdeclaraties zijn niet toegestaan"
            ),
            XmlError::Entity { name, line } => format!(
                "entiteitverwijzing &{name}; op regel {line} wordt geweigerd: alleen de vijf vaste XML-entiteiten zijn toegestaan"
            ),
            XmlError::TooDeep { limit, line } => {
                format!("elementen zijn dieper genest dan {limit} niveaus (regel {line})")
            }
            XmlError::NoRoot => "het document heeft geen root-element".to_string(),
            XmlError::UnknownMessage {
                root,
                namespace,
                expected,
            } => format!(
                "root-element {root} in namespace {namespace:?} is geen {}",
                expected.nl()
            ),
        }
    }

    /// English and Dutch in one line.
    pub fn bilingual(&self) -> String {
        format!("{self} / {}", self.nl())
    }
}

/// The input as text, after the size and encoding checks, and the length of
/// a byte order mark before it (offsets stay relative to the input).
pub fn text_of(input: &[u8], max_bytes: usize) -> Result<(&str, usize), XmlError> {
    if input.len() > max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| XmlError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    Ok((&text[bom..], bom))
}

/// The character an entity or character reference stands for, or the error
/// that refuses it: only the five predefined entities are ever expanded.
pub fn resolve_ref(r: &BytesRef<'_>, line: impl FnOnce() -> u32) -> Result<char, XmlError> {
    let resolved = if r.is_char_ref() {
        r.resolve_char_ref().ok().flatten()
    } else {
        match &**r {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => None,
        }
    };
    resolved.ok_or_else(|| XmlError::Entity {
        name: r.to_string(),
        line: line(),
    })
}

/// Refuses an XML declaration that names another encoding than UTF-8.
pub fn check_decl(d: &BytesDecl<'_>) -> Result<(), XmlError> {
    if let Some(Ok(enc)) = d.encoding()
        && !enc.eq_ignore_ascii_case("utf-8")
        && !enc.eq_ignore_ascii_case("utf8")
    {
        return Err(XmlError::Encoding(enc.to_string()));
    }
    Ok(())
}

/// White space only (the four XML space characters)?
pub fn is_xml_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// One element of a document read with [`read_tree`]: for documents whose
/// structure an adapter checks itself after reading (UBL), where a generic
/// tree is simpler than a schema-driven one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub namespace: String,
    pub name: String,
    /// Attributes by local name (namespace declarations left out).
    pub attributes: Vec<(String, String)>,
    /// The element's own text, entity references resolved.
    pub text: String,
    pub children: Vec<Element>,
    /// Line of the start tag, for findings.
    pub line: u32,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a `/`-separated path of local names (first match at
    /// every step).
    pub fn at(&self, path: &str) -> Option<&Element> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |e, step| e.child(step))
    }

    /// The trimmed text at `path`, when present and not empty.
    pub fn value(&self, path: &str) -> Option<&str> {
        self.at(path)
            .map(|e| e.text.trim())
            .filter(|t| !t.is_empty())
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a whole document into an [`Element`] tree behind every guard of
/// this module. `max_depth` bounds the nesting.
pub fn read_tree(input: &[u8], max_bytes: usize, max_depth: usize) -> Result<Element, XmlError> {
    let (text, base) = text_of(input, max_bytes)?;
    let lines = Lines::new(input);
    let line = |offset: usize| lines.line(offset);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let offset = base + reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| XmlError::NotWellFormed {
            line: line(base + reader.error_position() as usize),
            detail: e.to_string(),
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(XmlError::NotWellFormed {
                        line: line(offset),
                        detail: "a second root element follows the first".into(),
                    });
                }
                if stack.len() >= max_depth {
                    return Err(XmlError::TooDeep {
                        limit: max_depth,
                        line: line(offset),
                    });
                }
                let (ns, local) = reader.resolver().resolve_element(e.name());
                let namespace = match ns {
                    ResolveResult::Bound(Namespace(n)) => n.to_string(),
                    _ => String::new(),
                };
                let mut attributes = Vec::new();
                for a in e.attributes().with_checks(true) {
                    let a = a.map_err(|err| XmlError::NotWellFormed {
                        line: line(offset),
                        detail: err.to_string(),
                    })?;
                    if a.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    // Only the predefined entities and character
                    // references: anything else is an error, as in text.
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| XmlError::NotWellFormed {
                            line: line(offset),
                            detail: err.to_string(),
                        })?;
                    attributes.push((a.key.local_name().as_ref().to_string(), value.into_owned()));
                }
                let el = Element {
                    namespace,
                    name: AsRef::<str>::as_ref(&local).to_string(),
                    attributes,
                    line: line(offset),
                    ..Element::default()
                };
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                if let Some(el) = stack.pop() {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&content),
                    None if is_xml_space(&content) => {}
                    None => {
                        return Err(XmlError::NotWellFormed {
                            line: line(offset),
                            detail: "text outside the root element".into(),
                        });
                    }
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    let content: &str = &c;
                    el.text.push_str(content);
                }
            }
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r, || line(offset))?;
                if let Some(el) = stack.last_mut() {
                    el.text.push(c);
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype { line: line(offset) }),
            Event::Decl(d) => check_decl(&d)?,
            Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(XmlError::NotWellFormed {
                        line: line(input.len()),
                        detail: format!("document ends inside element {}", open.name),
                    });
                }
                return root.ok_or(XmlError::NoRoot);
            }
        }
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_tree_behind_the_guards() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<a xmlns="urn:x" xmlns:b="urn:y"><b:c k="v &amp; w">1 &lt; 2 &#233;</b:c><d/></a>"#;
        let t = read_tree(doc, 1 << 20, 8).expect("tree");
        assert_eq!(t.name, "a");
        assert_eq!(t.namespace, "urn:x");
        let c = t.child("c").expect("c");
        assert_eq!(c.namespace, "urn:y");
        assert_eq!(c.text, "1 < 2 é");
        assert_eq!(c.attribute("k"), Some("v & w"));
        assert_eq!(t.children.len(), 2);
        for (bad, want) in [
            (
                &b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"[..],
                "DOCTYPE",
            ),
            (b"<a>&x;</a>", "entity reference"),
            (b"<a><b></a>", "well-formed"),
            (
                b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
                "encoding",
            ),
            (b"<a><a><a><a></a></a></a></a>", "deeper"),
            (b"", "no root"),
        ] {
            let e = read_tree(bad, 1 << 20, 3).expect_err("refused");
            assert!(e.to_string().contains(want), "{e}");
        }
        assert!(matches!(
            read_tree(b"<a/>", 2, 8),
            Err(XmlError::TooLarge { .. })
        ));
        assert!(matches!(
            read_tree(b"<a>\xff</a>", 100, 8),
            Err(XmlError::InvalidUtf8 { .. })
        ));
    }
}
