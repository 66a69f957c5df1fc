//! XML -> [`Message`], checking the structure on the way.
//!
//! One pass over the input both builds the tree and validates it against the
//! schema data: namespaces, element order and occurrence, datatypes, lengths,
//! patterns and code lists, i.e. everything the official XSD checks. The input
//! is refused outright when it is not something we can safely read (too large,
//! not UTF-8, not well-formed, a DOCTYPE or entity declaration, absurdly deep)
//! or not an iStandaarden message at all; once the message is identified by its
//! namespace, every further problem becomes a [`Finding`] so the sender still
//! gets a retourbericht.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use super::config::Limits;
use crate::finding::{Finding, Lines};
use crate::message::{Message, NodeId};
use crate::schema::{ClassDef, Content, MessageKey, Schema, UNBOUNDED, Violation};

/// At most this many findings are kept per message; past it the rest of the
/// message is still checked for well-formedness but no longer reported.
pub const MAX_FINDINGS: usize = 500;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Input that cannot be treated as an iStandaarden message at all. No
/// retourbericht can be made: the sender is told this directly. The checks
/// behind it are shared with every adapter ([`crate::adapter::xml`]).
pub use crate::adapter::xml::XmlError as DecodeError;
use crate::adapter::xml::{self, Family, is_xml_space};

/// A message that was identified, with every finding about its structure.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub message: Message,
    pub findings: Vec<Finding>,
    /// False when reading stopped early (the rest of the input is unusable);
    /// the tree then holds only what came before.
    pub complete: bool,
}

impl Decoded {
    pub fn structurally_valid(&self) -> bool {
        self.complete && self.findings.is_empty()
    }
}

/// One open element while reading.
struct Frame {
    node: NodeId,
    kind: FrameKind,
    /// Byte offset where this element's text starts in `Message::text`.
    text_start: usize,
    /// Complex content: position in the class's sequence and occurrences there.
    pos: usize,
    count: u32,
    stray_text_reported: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Complex(u16),
    Simple,
    /// An element we reported and do not keep (unexpected, or inside one).
    Skipped,
}

struct Decoder<'a> {
    schema: &'static Schema,
    input: &'a [u8],
    lines: Lines<'a>,
    limits: &'a Limits,
    msg: Option<Message>,
    stack: Vec<Frame>,
    findings: Vec<Finding>,
    dropped: usize,
    root_done: bool,
}

/// Decodes and structurally validates one message.
pub fn decode(
    schema: &'static Schema,
    input: &[u8],
    limits: &Limits,
) -> Result<Decoded, DecodeError> {
    // A byte order mark is allowed before the declaration; it is skipped
    // but offsets stay relative to the original input.
    let (text, bom) = xml::text_of(input, limits.max_bytes)?;
    let mut d = Decoder {
        schema,
        input,
        lines: Lines::new(input),
        limits,
        msg: None,
        stack: Vec::with_capacity(16),
        findings: Vec::new(),
        dropped: 0,
        root_done: false,
    };
    let complete = d.run(text, bom)?;
    let Some(message) = d.msg else {
        return Err(DecodeError::NoRoot);
    };
    let mut findings = d.findings;
    if d.dropped > 0 {
        findings.push(Finding::structure(
            "XSD-LIMIT",
            "Bericht".to_string(),
            None,
            format!("nog {} bevindingen zijn weggelaten", d.dropped),
            format!("{} more findings were left out", d.dropped),
        ));
    }
    Ok(Decoded {
        message,
        findings,
        complete,
    })
}

impl<'a> Decoder<'a> {
    fn line(&self, offset: usize) -> u32 {
        self.lines.line(offset)
    }

    fn push_finding(&mut self, f: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        } else {
            self.dropped += 1;
        }
    }

    fn structure(&mut self, rule: &str, path: String, offset: usize, nl: String, en: String) {
        if self.findings.len() >= MAX_FINDINGS {
            self.dropped += 1;
            return;
        }
        let line = Some(self.line(offset));
        self.push_finding(Finding::structure(rule, path, line, nl, en));
    }

    /// A problem that makes the rest of the input unreadable. Before the message
    /// is identified it is a [`DecodeError`]; after, a finding that rejects the
    /// message as a whole.
    fn fatal(&mut self, err: DecodeError) -> Result<bool, DecodeError> {
        if self.msg.is_none() {
            return Err(err);
        }
        let f = Finding::structure(
            "XML",
            "Bericht".to_string(),
            None,
            err.nl(),
            err.to_string(),
        );
        self.push_finding(f);
        Ok(false)
    }

    /// Reads the whole input; returns whether it was read to the end.
    fn run(&mut self, text: &'a str, base: usize) -> Result<bool, DecodeError> {
        let mut reader = NsReader::from_str(text);
        reader.config_mut().check_end_names = true;
        loop {
            let offset = base + reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let pos = base + reader.error_position() as usize;
                    let line = self.line(pos);
                    return self.fatal(DecodeError::NotWellFormed {
                        line,
                        detail: e.to_string(),
                    });
                }
            };
            match event {
                Event::Start(e) => {
                    if let Some(stop) = self.start(&reader, &e, offset)? {
                        return Ok(stop);
                    }
                }
                Event::Empty(e) => {
                    if let Some(stop) = self.start(&reader, &e, offset)? {
                        return Ok(stop);
                    }
                    self.end(offset);
                }
                Event::End(_) => self.end(offset),
                Event::Text(t) => {
                    let content = t.xml10_content();
                    if let Some(stop) = self.text(&content, offset)? {
                        return Ok(stop);
                    }
                }
                Event::CData(c) => {
                    let content: &str = &c;
                    let owned = content.to_string();
                    if let Some(stop) = self.text(&owned, offset)? {
                        return Ok(stop);
                    }
                }
                Event::GeneralRef(r) => {
                    let c = match xml::resolve_ref(&r, || self.line(offset)) {
                        Ok(c) => c,
                        Err(e) => return self.fatal(e),
                    };
                    let mut buf = [0u8; 4];
                    if let Some(stop) = self.text(c.encode_utf8(&mut buf), offset)? {
                        return Ok(stop);
                    }
                }
                Event::DocType(_) => {
                    let line = self.line(offset);
                    return self.fatal(DecodeError::Doctype { line });
                }
                Event::Decl(d) => xml::check_decl(&d)?,
                Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => {
                    if let Some(open) = self.stack.last() {
                        let name = match (&self.msg, open.kind) {
                            (Some(m), FrameKind::Complex(_) | FrameKind::Simple) => {
                                m.node(open.node).name().to_string()
                            }
                            _ => "?".to_string(),
                        };
                        let line = self.line(self.input.len());
                        return self.fatal(DecodeError::NotWellFormed {
                            line,
                            detail: format!("document ends inside element {name}"),
                        });
                    }
                    return Ok(true);
                }
            }
        }
    }

    fn start(
        &mut self,
        reader: &NsReader<&'a [u8]>,
        e: &BytesStart<'_>,
        offset: usize,
    ) -> Result<Option<bool>, DecodeError> {
        let (ns, local) = reader.resolver().resolve_element(e.name());
        let ns = match ns {
            ResolveResult::Bound(Namespace(n)) => Some(n),
            _ => None,
        };
        let local: &str = local.as_ref();
        if self.stack.len() >= self.limits.max_depth {
            let line = self.line(offset);
            return self
                .fatal(DecodeError::TooDeep {
                    limit: self.limits.max_depth,
                    line,
                })
                .map(Some);
        }
        if self.stack.is_empty() {
            return self.start_root(reader, ns, local, e, offset);
        }
        let parent = self
            .stack
            .last()
            .map(|f| (f.kind, f.node))
            .unwrap_or((FrameKind::Skipped, 0));
        let (parent_kind, parent_node) = parent;
        let Some(msg) = self.msg.as_ref() else {
            return Ok(None);
        };
        let class_id = match parent_kind {
            FrameKind::Skipped => {
                self.push_skipped();
                return Ok(None);
            }
            FrameKind::Simple => {
                let path = msg.node(parent_node).path();
                self.structure(
                    "XSD-CONTENT",
                    path.clone(),
                    offset,
                    format!("{path} bevat een waarde en mag geen element {local} bevatten."),
                    format!("{path} holds a value and may not contain element {local}."),
                );
                self.push_skipped();
                return Ok(None);
            }
            FrameKind::Complex(c) => c,
        };
        let key = msg.key();
        let schema: &'static Schema = self.schema;
        let std = schema.standard(key);
        let class = std.class(class_id);
        let expected_ns: &'static str = std.element_namespace(class, schema.message(key));
        // Paths are only needed for findings; build them lazily.
        let parent_path = || {
            self.msg
                .as_ref()
                .map_or_else(|| "Bericht".to_string(), |m| m.node(parent_node).path())
        };
        let frame = self.stack.last_mut().expect("stack is not empty here");
        match sequence_step(class, &mut frame.pos, &mut frame.count, local) {
            Ok((idx, missing)) => {
                let parent_path = if missing.is_empty() {
                    String::new()
                } else {
                    parent_path()
                };
                for m in missing {
                    let name = &class.elements[m].name;
                    let p = child_path(&parent_path, name);
                    self.structure(
                        "XSD-MISSING",
                        p,
                        offset,
                        format!(
                            "{parent_path}: verplicht element {name} ontbreekt (vóór {local})."
                        ),
                        format!(
                            "{parent_path}: required element {name} is missing (before {local})."
                        ),
                    );
                }
                let def = &class.elements[idx];
                let msg = self.msg.as_mut().expect("message identified");
                let node = msg.push_node(parent_node, class_id, idx as u16, offset as u32);
                if ns != Some(expected_ns) {
                    let path = msg.node(node).path();
                    let got = ns.unwrap_or("");
                    self.structure(
                        "XSD-NAMESPACE",
                        path.clone(),
                        offset,
                        format!("{path} staat in namespace {got:?} in plaats van {expected_ns:?}."),
                        format!("{path} is in namespace {got:?} instead of {expected_ns:?}."),
                    );
                }
                self.check_attributes(reader, e, node, offset);
                let kind = match def.content {
                    Content::Complex(c) => FrameKind::Complex(c),
                    Content::Simple(_) => FrameKind::Simple,
                };
                let text_start = self.msg.as_ref().map_or(0, |m| m.text.len());
                self.stack.push(Frame {
                    node,
                    kind,
                    text_start,
                    pos: 0,
                    count: 0,
                    stray_text_reported: false,
                });
            }
            Err(err) => {
                let parent_path = parent_path();
                let path = child_path(&parent_path, local);
                let (nl, en) = err.describe(class, local, &parent_path);
                self.structure(err.rule(), path, offset, nl, en);
                self.push_skipped();
            }
        }
        Ok(None)
    }

    fn start_root(
        &mut self,
        reader: &NsReader<&'a [u8]>,
        ns: Option<&str>,
        local: &str,
        e: &BytesStart<'_>,
        offset: usize,
    ) -> Result<Option<bool>, DecodeError> {
        if self.root_done {
            let line = self.line(offset);
            return self
                .fatal(DecodeError::NotWellFormed {
                    line,
                    detail: format!("a second root element {local} follows the first"),
                })
                .map(Some);
        }
        let key: MessageKey = ns
            .and_then(|n| self.schema.by_namespace(n))
            .ok_or_else(|| DecodeError::UnknownMessage {
                root: local.to_string(),
                namespace: ns.unwrap_or("").to_string(),
                expected: Family::Istandaard,
            })?;
        // Rough sizes from the input length: one element per ~40 bytes of XML,
        // values a quarter of it.
        let n = self.input.len();
        let msg = Message::with_capacity(self.schema, key, n / 40 + 8, n / 4);
        let root_class = self.schema.message(key).root;
        self.msg = Some(msg);
        if local != "Bericht" {
            self.structure(
                "XSD-ELEMENT",
                "Bericht".to_string(),
                offset,
                format!("het root-element heet {local} in plaats van Bericht."),
                format!("the root element is named {local} instead of Bericht."),
            );
        }
        self.check_attributes(reader, e, 0, offset);
        self.stack.push(Frame {
            node: 0,
            kind: FrameKind::Complex(root_class),
            text_start: 0,
            pos: 0,
            count: 0,
            stray_text_reported: false,
        });
        Ok(None)
    }

    fn push_skipped(&mut self) {
        self.stack.push(Frame {
            node: 0,
            kind: FrameKind::Skipped,
            text_start: 0,
            pos: 0,
            count: 0,
            stray_text_reported: true,
        });
    }

    /// The standard declares no attributes; only namespace declarations and the
    /// xsi:schemaLocation hints are accepted, as an XSD processor does.
    fn check_attributes(
        &mut self,
        reader: &NsReader<&'a [u8]>,
        e: &BytesStart<'_>,
        node: NodeId,
        offset: usize,
    ) {
        for attr in e.attributes().with_checks(true) {
            let attr = match attr {
                Ok(a) => a,
                Err(err) => {
                    let path = self.path_of(node);
                    self.structure(
                        "XML",
                        path.clone(),
                        offset,
                        format!("{path}: ongeldig attribuut ({err})."),
                        format!("{path}: malformed attribute ({err})."),
                    );
                    continue;
                }
            };
            if attr.key.as_namespace_binding().is_some() {
                continue;
            }
            let (ans, alocal) = reader.resolver().resolve_attribute(attr.key);
            let alocal: &str = alocal.as_ref();
            let is_xsi = matches!(ans, ResolveResult::Bound(Namespace(n)) if n == XSI);
            if is_xsi && (alocal == "schemaLocation" || alocal == "noNamespaceSchemaLocation") {
                continue;
            }
            let name: &str = attr.key.as_ref();
            let name = name.to_string();
            let path = self.path_of(node);
            self.structure(
                "XSD-ATTRIBUTE",
                path.clone(),
                offset,
                format!("{path}: attribuut {name} is niet toegestaan."),
                format!("{path}: attribute {name} is not allowed."),
            );
        }
    }

    fn path_of(&self, node: NodeId) -> String {
        self.msg
            .as_ref()
            .map(|m| m.node(node).path())
            .unwrap_or_else(|| "Bericht".to_string())
    }

    fn text(&mut self, content: &str, offset: usize) -> Result<Option<bool>, DecodeError> {
        let Some(frame) = self.stack.last_mut() else {
            if !is_xml_space(content) {
                let line = self.line(offset);
                return self
                    .fatal(DecodeError::NotWellFormed {
                        line,
                        detail: "text outside the root element".to_string(),
                    })
                    .map(Some);
            }
            return Ok(None);
        };
        match frame.kind {
            FrameKind::Simple => {
                if let Some(m) = self.msg.as_mut() {
                    m.text.push_str(content);
                }
            }
            FrameKind::Complex(_) => {
                if !frame.stray_text_reported && !is_xml_space(content) {
                    frame.stray_text_reported = true;
                    let node = frame.node;
                    let path = self.path_of(node);
                    self.structure(
                        "XSD-CONTENT",
                        path.clone(),
                        offset,
                        format!("{path} bevat tekst, maar mag alleen elementen bevatten."),
                        format!("{path} contains text, but may only contain elements."),
                    );
                }
            }
            FrameKind::Skipped => {}
        }
        Ok(None)
    }

    fn end(&mut self, offset: usize) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if self.stack.is_empty() {
            self.root_done = true;
        }
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        match frame.kind {
            FrameKind::Skipped => {}
            FrameKind::Complex(class_id) => {
                let std = self.schema.standard(msg.key());
                let class = std.class(class_id);
                let missing: Vec<usize> = (frame.pos..class.elements.len())
                    .filter(|&k| {
                        let have = if k == frame.pos { frame.count } else { 0 };
                        have < class.elements[k].min
                    })
                    .collect();
                let path = if missing.is_empty() {
                    String::new()
                } else {
                    msg.node(frame.node).path()
                };
                for k in missing {
                    let name = &class.elements[k].name;
                    self.structure(
                        "XSD-MISSING",
                        child_path(&path, name),
                        offset,
                        format!("{path}: verplicht element {name} ontbreekt."),
                        format!("{path}: required element {name} is missing."),
                    );
                }
            }
            FrameKind::Simple => {
                let end = msg.text.len();
                msg.nodes[frame.node as usize].text = (frame.text_start as u32, end as u32);
                let node = msg.node(frame.node);
                let def = node.def();
                let Some(dt) = node.datatype() else { return };
                let value = node.text();
                let violation = dt.check(value).err().or_else(|| {
                    let norm = dt.normalize(value);
                    if let Some(fixed) = &def.fixed
                        && norm != fixed
                    {
                        return Some(Violation::Fixed {
                            expected: fixed.clone(),
                        });
                    }
                    match &def.pattern {
                        Some(p) if !p.is_match(norm) => Some(Violation::Pattern {
                            pattern: p.source.clone(),
                        }),
                        _ => None,
                    }
                });
                if let Some(v) = violation {
                    let path = node.path();
                    let (nl, en) = v.describe(&path, value, &dt.name);
                    let offset = node.offset() as usize;
                    self.structure(v.rule(), path, offset, nl, en);
                }
            }
        }
    }
}

/// Path of a child below `parent`; children of the root have no prefix, like
/// the paths of the nodes themselves.
fn child_path(parent: &str, name: &str) -> String {
    if parent == "Bericht" {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// Why a child element does not fit its parent's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepError {
    /// The parent type has no element of this name.
    Unexpected,
    /// The element belongs earlier in the sequence.
    OutOfOrder,
    /// The element already occurs as often as allowed.
    TooMany(u32),
}

impl StepError {
    fn rule(&self) -> &'static str {
        match self {
            StepError::Unexpected => "XSD-ELEMENT",
            StepError::OutOfOrder => "XSD-ORDER",
            StepError::TooMany(_) => "XSD-OCCURS",
        }
    }

    fn describe(&self, class: &ClassDef, local: &str, parent: &str) -> (String, String) {
        let allowed: Vec<&str> = class.elements.iter().map(|e| e.name.as_str()).collect();
        match self {
            StepError::Unexpected => (
                format!(
                    "{parent}: element {local} is hier niet toegestaan (toegestaan: {}).",
                    allowed.join(", ")
                ),
                format!(
                    "{parent}: element {local} is not allowed here (allowed: {}).",
                    allowed.join(", ")
                ),
            ),
            StepError::OutOfOrder => (
                format!(
                    "{parent}: element {local} staat op de verkeerde plaats (volgorde: {}).",
                    allowed.join(", ")
                ),
                format!(
                    "{parent}: element {local} is out of order (order: {}).",
                    allowed.join(", ")
                ),
            ),
            StepError::TooMany(max) => (
                format!("{parent}: element {local} komt vaker voor dan {max} keer."),
                format!("{parent}: element {local} occurs more than {max} time(s)."),
            ),
        }
    }
}

/// Advances a sequence content model by one child. On success returns the
/// element's index and the required elements that were skipped over.
fn sequence_step(
    class: &ClassDef,
    pos: &mut usize,
    count: &mut u32,
    local: &str,
) -> Result<(usize, Vec<usize>), StepError> {
    let Some(idx) = class.element_index(local) else {
        return Err(StepError::Unexpected);
    };
    if idx < *pos {
        return Err(StepError::OutOfOrder);
    }
    if idx == *pos && *count > 0 {
        let max = class.elements[idx].max;
        if max != UNBOUNDED && *count >= max {
            return Err(StepError::TooMany(max));
        }
        *count += 1;
        return Ok((idx, Vec::new()));
    }
    let missing = (*pos..idx)
        .filter(|&k| {
            let have = if k == *pos { *count } else { 0 };
            have < class.elements[k].min
        })
        .collect();
    *pos = idx;
    *count = 1;
    Ok((idx, missing))
}
