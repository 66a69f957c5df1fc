//! The message structure of the iStandaarden, loaded from `schemas/istandaard`.
//!
//! The structure of all 28 messages (iWmo and iJw, release 3.2) is data: one
//! shared file for what the two standards have in common and one small file per
//! standard for what differs (namespaces, BerichtCodes, some code lists and a
//! few elements). This module turns that data into a compiled [`Schema`] once;
//! the decoder, encoder, validator, JSON rendering and retour builder all walk
//! the same compiled definition, so a correction to the data reaches all of them.

pub mod datatype;
pub mod exchange;

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

pub use datatype::{Base, DataType, Pattern, Violation};

pub type TypeId = u16;
pub type ClassId = u16;

/// Unbounded `maxOccurs`.
pub const UNBOUNDED: u32 = u32::MAX;

/// Content of an element: a simple value of a datatype, or a class (complex type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Simple(TypeId),
    Complex(ClassId),
}

/// One element in a class's sequence.
#[derive(Debug, Clone)]
pub struct ElementDef {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub content: Content,
    /// A value the message fixes (BerichtCode, BerichtVersie, ...).
    pub fixed: Option<String>,
    /// An extra pattern the message adds to the datatype.
    pub pattern: Option<Pattern>,
}

/// A complex type: a sequence of elements. `basis` classes come from the
/// basisschema and put their elements in the basisschema namespace.
#[derive(Debug, Clone)]
pub struct ClassDef {
    pub name: String,
    pub basis: bool,
    pub elements: Vec<ElementDef>,
    /// In-message rules attached to this class (`checks` in the schema data).
    pub checks: Vec<Check>,
}

impl ClassDef {
    pub fn element_index(&self, name: &str) -> Option<usize> {
        self.elements.iter().position(|e| e.name == name)
    }

    /// A berichtklasse answers with its own RetourCodes in a retourbericht.
    pub fn retourcodes_index(&self) -> Option<usize> {
        self.elements
            .iter()
            .position(|e| e.name == "RetourCodes" && !self.basis)
    }
}

/// A rule reference: rule id plus optional argument (usually an element name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub rule: String,
    pub arg: Option<String>,
}

/// What part a message plays in an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A heenbericht that is answered with a retourbericht (301, 305, ...).
    Heen,
    /// A retourbericht derived from its heenbericht (302, 306, ...).
    Retour,
    /// The declaratie-antwoord (325): the answer to a 323.
    Antwoord,
}

#[derive(Debug, Clone)]
pub struct MessageDef {
    /// Number within the standard: "301".
    pub number: String,
    /// Full name: "WMO301" / "JW301".
    pub name: String,
    pub code: u16,
    pub namespace: String,
    /// Prefix used when writing the message's own elements: "wmo301".
    pub prefix: String,
    pub role: Role,
    /// Class of the root element `Bericht`.
    pub root: ClassId,
    /// The pseudo-class that holds just the root element, so that the root has
    /// an element definition like every other node.
    pub document: ClassId,
    /// For a heenbericht, the name of the retourbericht that answers it.
    pub answered_by: Option<String>,
    /// For a retour or antwoord, the heenbericht it answers.
    pub answers: Option<String>,
}

/// One standard (iWmo or iJw) with its datatypes, classes and messages.
#[derive(Debug)]
pub struct Standard {
    pub name: String,
    pub label: String,
    pub release: String,
    pub message_prefix: String,
    pub basis_prefix: String,
    pub basis_namespace: String,
    pub basisschema_xsd_versie: String,
    pub bericht_xsd_versie: String,
    /// The RedenBeeindiging codes this law uses for each reason a delivery stops.
    pub stop: StopCodes,
    pub datatypes: Vec<DataType>,
    pub classes: Vec<ClassDef>,
    pub messages: Vec<MessageDef>,
}

impl Standard {
    pub fn message(&self, name_or_number: &str) -> Option<&MessageDef> {
        self.messages
            .iter()
            .find(|m| m.name == name_or_number || m.number == name_or_number)
    }

    pub fn class(&self, id: ClassId) -> &ClassDef {
        &self.classes[usize::from(id)]
    }

    pub fn datatype(&self, id: TypeId) -> &DataType {
        &self.datatypes[usize::from(id)]
    }

    /// The namespace the elements of `class` are in, within message `msg`.
    pub fn element_namespace<'a>(&'a self, class: &ClassDef, msg: &'a MessageDef) -> &'a str {
        if class.basis {
            &self.basis_namespace
        } else {
            &msg.namespace
        }
    }
}

/// The RedenBeeindiging (WMO588 / JZ588) of a StopProduct, per meaning.
///
/// The two laws share the meanings but not all codes (a Jeugdwet stop "as
/// planned" is 31, which in iWmo means a move), so code that stops a
/// delivery names the meaning and asks the standard of the allocation's law
/// for the code. Loaded from `[stop]` in `iwmo.toml` / `ijw.toml`; every code
/// must be in the law's own code list.
#[derive(Debug, Clone, Default)]
pub struct StopCodes {
    /// The temporary stop (20 in both laws).
    pub temporary: String,
    /// An allocation that ran to its Einddatum.
    pub as_planned: String,
    /// The end of care as the provider registers it, by name
    /// (`volgens_plan`, `verhuizing`, ...).
    pub reasons: BTreeMap<String, String>,
    /// RedenWijziging of the municipality's last change -> RedenBeeindiging.
    pub by_reden_wijziging: BTreeMap<String, String>,
}

impl StopCodes {
    /// The code for a registered end of care, by its name.
    pub fn for_reason(&self, name: &str) -> Option<&str> {
        self.reasons.get(name).map(String::as_str)
    }

    /// The code for an allocation that ended on its Einddatum, from the
    /// RedenWijziging of its last change.
    pub fn for_allocation_end(&self, reden_wijziging: Option<&str>) -> &str {
        reden_wijziging
            .and_then(|r| self.by_reden_wijziging.get(r))
            .unwrap_or(&self.as_planned)
    }
}

/// All standards loaded; look messages up by namespace.
#[derive(Debug)]
pub struct Schema {
    pub standards: Vec<Standard>,
    by_namespace: HashMap<String, (usize, usize)>,
}

/// Identifies a message definition inside a [`Schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageKey {
    pub standard: usize,
    pub message: usize,
}

const COMMON: &str = include_str!("../../schemas/istandaard/messages-3.2.toml");
const IWMO: &str = include_str!("../../schemas/istandaard/iwmo.toml");
const IJW: &str = include_str!("../../schemas/istandaard/ijw.toml");

static BUILTIN: LazyLock<Result<Schema, String>> =
    LazyLock::new(|| Schema::load(COMMON, &[IWMO, IJW]).map_err(|e| format!("{e:#}")));

impl Schema {
    /// The schema compiled into the binary from `schemas/istandaard`.
    pub fn builtin() -> Result<&'static Schema> {
        BUILTIN
            .as_ref()
            .map_err(|e| anyhow!("the built-in iStandaarden schema does not load: {e}"))
    }

    /// Compiles the shared definition plus one overlay per standard.
    pub fn load(common: &str, overlays: &[&str]) -> Result<Schema> {
        let common: RawCommon =
            toml::from_str(common).context("schemas/istandaard/messages-3.2.toml")?;
        let mut standards = Vec::new();
        for overlay in overlays {
            let raw: RawStandard = toml::from_str(overlay).context("schema overlay")?;
            let name = raw.name.clone();
            standards.push(compile(&common, raw).with_context(|| format!("standard {name}"))?);
        }
        let mut by_namespace = HashMap::new();
        for (s, std) in standards.iter().enumerate() {
            for (m, msg) in std.messages.iter().enumerate() {
                by_namespace.insert(msg.namespace.clone(), (s, m));
            }
        }
        Ok(Schema {
            standards,
            by_namespace,
        })
    }

    pub fn by_namespace(&self, ns: &str) -> Option<MessageKey> {
        self.by_namespace
            .get(ns)
            .map(|&(standard, message)| MessageKey { standard, message })
    }

    /// Finds a message by its full name ("WMO301", "JW325").
    pub fn by_name(&self, name: &str) -> Option<MessageKey> {
        self.standards.iter().enumerate().find_map(|(s, std)| {
            std.messages
                .iter()
                .position(|m| m.name.eq_ignore_ascii_case(name))
                .map(|m| MessageKey {
                    standard: s,
                    message: m,
                })
        })
    }

    /// A standard by its name (`iwmo`, `ijw`).
    pub fn standard_named(&self, name: &str) -> Option<&Standard> {
        self.standards.iter().find(|s| s.name == name)
    }

    pub fn standard(&self, key: MessageKey) -> &Standard {
        &self.standards[key.standard]
    }

    pub fn message(&self, key: MessageKey) -> &MessageDef {
        &self.standards[key.standard].messages[key.message]
    }

    /// Key of a message of the same standard, by number or name.
    pub fn sibling(&self, key: MessageKey, number: &str) -> Option<MessageKey> {
        let std = &self.standards[key.standard];
        std.messages
            .iter()
            .position(|m| m.number == number || m.name == number)
            .map(|message| MessageKey {
                standard: key.standard,
                message,
            })
    }
}

// ---------------------------------------------------------------------------
// Raw data as it stands in the TOML files.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommon {
    datatypes: BTreeMap<String, RawDataType>,
    composites: BTreeMap<String, Vec<String>>,
    messages: BTreeMap<String, RawMessage>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawDataType {
    base: Base,
    min_length: Option<usize>,
    max_length: Option<usize>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    codes: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    retour: Option<String>,
    retour_of: Option<String>,
    answer_of: Option<String>,
    #[serde(default)]
    classes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    checks: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandard {
    name: String,
    label: String,
    release: String,
    message_prefix: String,
    element_prefix: String,
    basis_prefix: String,
    message_namespace: String,
    basis_namespace: String,
    basisschema_xsd_versie: String,
    bericht_xsd_versie: String,
    stop: RawStop,
    codes: BTreeMap<String, u16>,
    #[serde(default)]
    datatypes: BTreeMap<String, RawDataType>,
    #[serde(default)]
    messages: BTreeMap<String, RawMessage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStop {
    temporary: String,
    as_planned: String,
    reasons: BTreeMap<String, String>,
    by_reden_wijziging: BTreeMap<String, String>,
}

/// An element line such as `"Einddatum?: LDT_Datum"` or `"BerichtVersie: LDT_BerichtVersie = 3"`.
struct ElementLine {
    name: String,
    min: u32,
    max: u32,
    type_name: String,
    fixed: Option<String>,
    pattern: Option<String>,
}

fn parse_element_line(line: &str) -> Result<ElementLine> {
    let (name_card, rest) = line
        .split_once(':')
        .ok_or_else(|| anyhow!("element line without ':': {line:?}"))?;
    let name_card = name_card.trim();
    let (name, min, max) = match name_card.chars().last() {
        Some('?') => (&name_card[..name_card.len() - 1], 0, 1),
        Some('*') => (&name_card[..name_card.len() - 1], 0, UNBOUNDED),
        Some('+') => (&name_card[..name_card.len() - 1], 1, UNBOUNDED),
        _ => (name_card, 1, 1),
    };
    let rest = rest.trim();
    let (type_name, fixed, pattern) = if let Some((t, v)) = rest.split_once(" = ") {
        (t.trim(), Some(v.trim().to_string()), None)
    } else if let Some((t, p)) = rest.split_once(" ~ ") {
        (t.trim(), None, Some(p.trim().to_string()))
    } else {
        (rest, None, None)
    };
    if name.is_empty() || type_name.is_empty() {
        bail!("malformed element line {line:?}");
    }
    Ok(ElementLine {
        name: name.to_string(),
        min,
        max,
        type_name: type_name.to_string(),
        fixed,
        pattern,
    })
}

fn compile_datatype(name: &str, raw: &RawDataType) -> Result<DataType> {
    let pattern = match &raw.pattern {
        Some(p) => Some(Pattern::new(p).with_context(|| format!("pattern of {name}"))?),
        None => None,
    };
    let codes = raw.codes.clone().map(|mut c| {
        c.sort();
        c
    });
    Ok(DataType {
        name: name.to_string(),
        base: raw.base,
        min_length: raw.min_length,
        max_length: raw.max_length,
        min: raw.min,
        max: raw.max,
        pattern,
        codes,
    })
}

/// Checks `[stop]` against the law's own RedenBeeindiging code list, so a
/// code that list lacks fails at start instead of in a stop's own check.
fn compile_stop(raw: &RawStop, datatypes: &[DataType]) -> Result<StopCodes> {
    let list = datatypes
        .iter()
        .find(|d| d.name == "LDT_RedenBeeindiging")
        .and_then(|d| d.codes.as_ref())
        .ok_or_else(|| anyhow!("[stop] needs the code list LDT_RedenBeeindiging"))?;
    let all = [&raw.temporary, &raw.as_planned]
        .into_iter()
        .chain(raw.reasons.values())
        .chain(raw.by_reden_wijziging.values());
    for code in all {
        if list.binary_search(code).is_err() {
            bail!("[stop]: RedenBeeindiging {code:?} is not in this law's code list");
        }
    }
    if raw.reasons.get("tijdelijk") != Some(&raw.temporary) {
        bail!(
            "[stop]: reasons.tijdelijk must be the temporary stop {:?}",
            raw.temporary
        );
    }
    Ok(StopCodes {
        temporary: raw.temporary.clone(),
        as_planned: raw.as_planned.clone(),
        reasons: raw.reasons.clone(),
        by_reden_wijziging: raw.by_reden_wijziging.clone(),
    })
}

/// Derives a retourbericht's classes from its heenbericht's, the way the
/// standard builds them (see the format notes in messages-3.2.toml).
fn derive_retour(heen: &BTreeMap<String, Vec<String>>) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for (name, elements) in heen {
        let mut els = elements.clone();
        match name.as_str() {
            "Root" => {
                for e in els.iter_mut().skip(1) {
                    let line = parse_element_line(e)?;
                    if line.min > 0 {
                        *e = e.replacen(':', "?:", 1);
                    }
                }
            }
            "Header" => {
                els.extend(
                    [
                        "IdentificatieRetour: LDT_IdentificatieBericht",
                        "DagtekeningRetour: LDT_Datum",
                        "XsltVersie?: LDT_Versie",
                        "XsdVersieRetour: CDT_XsdVersie",
                        "RetourCodes?: RetourCodes",
                    ]
                    .map(String::from),
                );
            }
            _ => {
                let is_wrapper = els.len() == 1 && parse_element_line(&els[0])?.max > 1;
                if !is_wrapper {
                    els.push("RetourCodes: RetourCodes".to_string());
                }
            }
        }
        out.insert(name.clone(), els);
    }
    out.insert(
        "RetourCodes".to_string(),
        vec!["RetourCode+: LDT_RetourCode".to_string()],
    );
    Ok(out)
}

fn parse_check(s: &str) -> Check {
    let mut parts = s.split_whitespace();
    let rule = parts.next().unwrap_or_default().to_string();
    let arg = parts.next().map(str::to_string);
    Check { rule, arg }
}

fn compile(common: &RawCommon, raw: RawStandard) -> Result<Standard> {
    // Datatypes: shared, then the standard's overrides.
    let mut raw_types = common.datatypes.clone();
    raw_types.extend(raw.datatypes.clone());
    let mut datatypes = Vec::new();
    let mut type_ids: HashMap<String, TypeId> = HashMap::new();
    for (name, dt) in &raw_types {
        type_ids.insert(name.clone(), u16::try_from(datatypes.len())?);
        datatypes.push(compile_datatype(name, dt)?);
    }

    // Composites (basisschema classes): ids first, then bodies, so they may refer to each other.
    let mut classes: Vec<ClassDef> = Vec::new();
    let mut composite_ids: HashMap<String, ClassId> = HashMap::new();
    for name in common.composites.keys() {
        composite_ids.insert(name.clone(), u16::try_from(classes.len())?);
        classes.push(ClassDef {
            name: name.clone(),
            basis: true,
            elements: Vec::new(),
            checks: Vec::new(),
        });
    }
    let resolve = |line: &ElementLine, local: &HashMap<String, ClassId>| -> Result<ElementDef> {
        let content = if let Some(&c) = local.get(&line.type_name) {
            Content::Complex(c)
        } else if let Some(&c) = composite_ids.get(&line.type_name) {
            Content::Complex(c)
        } else if let Some(&t) = type_ids.get(&line.type_name) {
            Content::Simple(t)
        } else {
            bail!("unknown type {} for element {}", line.type_name, line.name);
        };
        let pattern = match &line.pattern {
            Some(p) => Some(Pattern::new(p)?),
            None => None,
        };
        Ok(ElementDef {
            name: line.name.clone(),
            min: line.min,
            max: line.max,
            content,
            fixed: line.fixed.clone(),
            pattern,
        })
    };
    let empty = HashMap::new();
    for (name, lines) in &common.composites {
        let mut elements = Vec::new();
        for l in lines {
            elements.push(resolve(&parse_element_line(l)?, &empty)?);
        }
        classes[usize::from(composite_ids[name])].elements = elements;
    }

    // Messages: shared classes with the standard's overrides; retours derived.
    let mut merged: BTreeMap<String, RawMessage> = common.messages.clone();
    for (number, over) in &raw.messages {
        let m = merged.entry(number.clone()).or_default();
        m.classes.extend(over.classes.clone());
        m.checks.extend(over.checks.clone());
    }
    let heen_classes: BTreeMap<String, BTreeMap<String, Vec<String>>> = merged
        .iter()
        .map(|(n, m)| (n.clone(), m.classes.clone()))
        .collect();

    let mut messages = Vec::new();
    for (number, m) in &merged {
        let code = *raw
            .codes
            .get(number)
            .ok_or_else(|| anyhow!("no BerichtCode for message {number}"))?;
        let (role, class_lines, answers) = if let Some(heen) = &m.retour_of {
            let base = heen_classes
                .get(heen)
                .ok_or_else(|| anyhow!("{number} is the retour of unknown {heen}"))?;
            let mut derived = derive_retour(base)?;
            derived.extend(m.classes.clone());
            (Role::Retour, derived, Some(heen.clone()))
        } else if let Some(heen) = &m.answer_of {
            (Role::Antwoord, m.classes.clone(), Some(heen.clone()))
        } else {
            (Role::Heen, m.classes.clone(), None)
        };
        let name = format!("{}{}", raw.message_prefix, number);
        let lower = name.to_ascii_lowercase();
        // Local class ids.
        let mut local: HashMap<String, ClassId> = HashMap::new();
        for cname in class_lines.keys() {
            local.insert(cname.clone(), u16::try_from(classes.len())?);
            classes.push(ClassDef {
                name: cname.clone(),
                basis: false,
                elements: Vec::new(),
                checks: Vec::new(),
            });
        }
        for (cname, lines) in &class_lines {
            let mut elements = Vec::new();
            for l in lines {
                let l = l.replace("$code", &code.to_string());
                elements.push(
                    resolve(&parse_element_line(&l)?, &local)
                        .with_context(|| format!("{name} class {cname}"))?,
                );
            }
            classes[usize::from(local[cname])].elements = elements;
        }
        // Rules only apply to messages that define them; a retour is not re-checked
        // by the rules of its heenbericht.
        let checks = if role == Role::Retour {
            BTreeMap::new()
        } else {
            m.checks.clone()
        };
        for (cname, list) in checks {
            let id = local
                .get(&cname)
                .or_else(|| composite_ids.get(&cname))
                .ok_or_else(|| anyhow!("{name}: checks for unknown class {cname}"))?;
            classes[usize::from(*id)]
                .checks
                .extend(list.iter().map(|s| parse_check(s)));
        }
        let root = *local
            .get("Root")
            .ok_or_else(|| anyhow!("{name} has no Root class"))?;
        let document = u16::try_from(classes.len())?;
        classes.push(ClassDef {
            name: "#document".to_string(),
            basis: false,
            elements: vec![ElementDef {
                name: "Bericht".to_string(),
                min: 1,
                max: 1,
                content: Content::Complex(root),
                fixed: None,
                pattern: None,
            }],
            checks: Vec::new(),
        });
        messages.push(MessageDef {
            number: number.clone(),
            name: name.clone(),
            code,
            namespace: raw.message_namespace.replace("{msg}", &lower),
            prefix: format!("{}{}", raw.element_prefix, number),
            role,
            root,
            document,
            answered_by: m
                .retour
                .as_ref()
                .map(|r| format!("{}{}", raw.message_prefix, r)),
            answers: answers.map(|h| format!("{}{}", raw.message_prefix, h)),
        });
    }
    let stop = compile_stop(&raw.stop, &datatypes)?;
    Ok(Standard {
        stop,
        name: raw.name,
        label: raw.label,
        release: raw.release,
        message_prefix: raw.message_prefix,
        basis_prefix: raw.basis_prefix,
        basis_namespace: raw.basis_namespace,
        basisschema_xsd_versie: raw.basisschema_xsd_versie,
        bericht_xsd_versie: raw.bericht_xsd_versie,
        datatypes,
        classes,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two laws name the same reasons to stop, each with its own code:
    /// the meanings where the lists differ are the ones that went wrong
    /// when the iWmo codes were sent in a JW307.
    #[test]
    fn stop_reasons_follow_each_laws_code_list() {
        let schema = Schema::builtin().expect("schema loads");
        let law = |name: &str| {
            &schema
                .standards
                .iter()
                .find(|s| s.name == name)
                .expect("standard")
                .stop
        };
        let (wmo, jw) = (law("iwmo"), law("ijw"));
        assert_eq!(
            wmo.reasons.keys().collect::<Vec<_>>(),
            jw.reasons.keys().collect::<Vec<_>>()
        );
        for (reason, wmo_code, jw_code) in [
            ("volgens_plan", "19", "31"),
            ("door_client", "21", "32"),
            ("door_aanbieder", "22", "33"),
            ("in_overleg", "23", "34"),
            ("verhuizing", "31", "35"),
            ("tijdelijk", "20", "20"),
            ("overlijden", "02", "02"),
        ] {
            assert_eq!(wmo.for_reason(reason), Some(wmo_code), "{reason}");
            assert_eq!(jw.for_reason(reason), Some(jw_code), "{reason}");
        }
        assert_eq!(wmo.for_allocation_end(None), "19");
        assert_eq!(jw.for_allocation_end(None), "31");
        assert_eq!(wmo.for_allocation_end(Some("07")), "31");
        assert_eq!(jw.for_allocation_end(Some("07")), "35");
        assert_eq!(jw.for_allocation_end(Some("04")), "31");
        assert_eq!(jw.for_allocation_end(Some("05")), "36");
    }

    #[test]
    fn a_stop_code_outside_the_laws_list_is_refused_at_load() {
        let bad = IJW.replace("verhuizing = \"35\"", "verhuizing = \"19\"");
        let err = Schema::load(COMMON, &[IWMO, &bad]).expect_err("19 is not in JZ588");
        assert!(format!("{err:#}").contains("\"19\""), "{err:#}");
    }

    #[test]
    fn builtin_schema_has_all_28_messages() {
        let schema = Schema::builtin().expect("schema loads");
        let mut names: Vec<String> = schema
            .standards
            .iter()
            .flat_map(|s| s.messages.iter().map(|m| m.name.clone()))
            .collect();
        names.sort();
        assert_eq!(names.len(), 28, "{names:?}");
        let key = schema.by_name("WMO302").expect("WMO302");
        assert_eq!(schema.message(key).code, 415);
        assert_eq!(
            schema.message(key).namespace,
            "http://www.istandaarden.nl/iwmo/3_2/wmo302/schema"
        );
        assert_eq!(schema.message(key).answers.as_deref(), Some("WMO301"));
        let key = schema.by_name("JW319").expect("JW319");
        let std = schema.standard(key);
        let root = std.class(schema.message(key).root);
        let antwoord = match root.elements[1].content {
            Content::Complex(c) => std.class(c),
            Content::Simple(_) => panic!("Antwoord is a class"),
        };
        assert!(antwoord.element_index("Woonplaatsbeginsel").is_some());
    }

    #[test]
    fn retour_classes_end_with_retourcodes() {
        let schema = Schema::builtin().expect("schema loads");
        let key = schema.by_name("JW306").expect("JW306");
        let std = schema.standard(key);
        let msg = schema.message(key);
        let root = std.class(msg.root);
        assert_eq!(root.elements[1].min, 0, "the body of a retour is optional");
        let Content::Complex(client) = root.elements[1].content else {
            panic!("Client is a class")
        };
        assert_eq!(
            std.class(client).elements.last().map(|e| e.name.as_str()),
            Some("RetourCodes")
        );
    }
}
