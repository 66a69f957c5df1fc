//! The business rules of e-invoices, incoming or outgoing, as data plus one
//! function per meaning (the way the iStandaarden rules are built):
//!
//! - EN 16931 as the CEN validation artefact 1.3.16 for UBL checks it:
//!   BR-*, BR-CO-*, BR-CL-* (code lists in `schemas/ubl/codes/`), BR-DEC-*,
//!   each VAT category family (BR-S/Z/E/AE/IC/G/O/AF/AG/B) and the syntax
//!   rules UBL-CR/SR/DT;
//! - Peppol BIS Billing 3.0 (PEPPOL-*) and the Dutch NLCIUS (NL-R-*),
//!   selected by the document's CustomizationID ([`sets_for`]);
//! - loket's own business checks (LOKET-*), kept apart: they are warnings on
//!   receipt whatever a financier's mapping says, so they never turn an
//!   invoice the standard accepts into a refused one.
//!
//! A rule in `schemas/ubl/rules/*.toml` names its id, its flag (fatal or
//! warning, as the official artefact has it), its context (every element
//! the [`path`] selects is judged on its own and reported at its own
//! location), its test (a meaning: a function in one of the modules below)
//! with the test's arguments, and its text in Dutch and English, written by
//! loket. The catalogue is checked when it loads: ids unique per set, every
//! test known, every path parsed, no argument a test does not take.

pub mod path;

mod basic;
pub mod business;
pub mod codes;
mod decimals;
mod generic;
mod nlcius;
mod peppol;
mod syntax;
mod totals;
mod vat;

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use serde::{Deserialize, Serialize};

use super::{Dec, Kind};
use crate::adapter::xml::Element;
use crate::finding::{Finding, Level};
pub use path::{Node, Path};

/// How the official artefact flags a failed rule: fatal refuses the
/// document, a warning is reported and the document goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    Fatal,
    Warning,
}

/// The specification a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSet {
    /// EN 16931 (CEN artefact for UBL): every document.
    En16931,
    /// Peppol BIS Billing 3.0.
    Peppol,
    /// NLCIUS and the Dutch rules of Peppol BIS.
    Nlcius,
    /// loket's own business checks, per financier ([`business`]).
    Loket,
    /// Reported by the decoder's structure check (XSD-*), never judged
    /// here; the catalogue only holds their text.
    Decoder,
}

/// What a test says about one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Failed, with a detail (Dutch, English) added to the rule's text.
    FailWith(String, String),
}

impl Outcome {
    pub fn from_bool(ok: bool) -> Outcome {
        if ok { Outcome::Pass } else { Outcome::Fail }
    }
}

/// One meaning: a check and the arguments it takes. Arguments in `paths`
/// are required and parsed as [`Path`]s when the catalogue loads; those in
/// `optional` may be given (paths too when their name ends in `path`, or
/// is `from`, `to` or `when`).
pub struct Meaning {
    pub name: &'static str,
    pub run: fn(&Ctx<'_>) -> Outcome,
    pub paths: &'static [&'static str],
    pub optional: &'static [&'static str],
}

fn is_path_arg(name: &str) -> bool {
    name.ends_with("path") || matches!(name, "from" | "to" | "when" | "of")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    flag: Flag,
    #[serde(default)]
    context: Option<String>,
    /// The meaning; none for the decoder's findings, which only take their
    /// text from here.
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    args: toml::Table,
    nl: String,
    en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    set: RuleSet,
    #[serde(default)]
    rule: Vec<RuleDef>,
}

/// A rule as loaded and checked.
pub struct Rule {
    pub id: String,
    pub flag: Flag,
    pub set: RuleSet,
    pub nl: String,
    pub en: String,
    context: Path,
    meaning: Option<&'static Meaning>,
    args: toml::Table,
    paths: HashMap<String, Path>,
}

/// Every rule file, in the order rules are judged.
const FILES: &[(&str, &str)] = &[
    (
        "schemas/ubl/rules/decoder.toml",
        include_str!("../../../../schemas/ubl/rules/decoder.toml"),
    ),
    (
        "schemas/ubl/rules/en16931-basic.toml",
        include_str!("../../../../schemas/ubl/rules/en16931-basic.toml"),
    ),
    (
        "schemas/ubl/rules/en16931-totals.toml",
        include_str!("../../../../schemas/ubl/rules/en16931-totals.toml"),
    ),
    (
        "schemas/ubl/rules/en16931-decimals.toml",
        include_str!("../../../../schemas/ubl/rules/en16931-decimals.toml"),
    ),
    (
        "schemas/ubl/rules/en16931-codes.toml",
        include_str!("../../../../schemas/ubl/rules/en16931-codes.toml"),
    ),
    (
        "schemas/ubl/rules/en16931-vat.toml",
        include_str!("../../../../schemas/ubl/rules/en16931-vat.toml"),
    ),
    (
        "schemas/ubl/rules/en16931-syntax.toml",
        include_str!("../../../../schemas/ubl/rules/en16931-syntax.toml"),
    ),
    (
        "schemas/ubl/rules/peppol.toml",
        include_str!("../../../../schemas/ubl/rules/peppol.toml"),
    ),
    (
        "schemas/ubl/rules/nlcius.toml",
        include_str!("../../../../schemas/ubl/rules/nlcius.toml"),
    ),
    (
        "schemas/ubl/rules/loket.toml",
        include_str!("../../../../schemas/ubl/rules/loket.toml"),
    ),
];

/// Every meaning, from the modules that own them.
fn meanings() -> impl Iterator<Item = &'static Meaning> {
    [
        generic::MEANINGS,
        basic::MEANINGS,
        totals::MEANINGS,
        decimals::MEANINGS,
        codes::MEANINGS,
        vat::MEANINGS,
        syntax::MEANINGS,
        peppol::MEANINGS,
        nlcius::MEANINGS,
        business::MEANINGS,
    ]
    .into_iter()
    .flatten()
}

/// The loaded catalogue.
pub struct Catalogue {
    rules: Vec<Rule>,
    by_id: HashMap<String, usize>,
}

impl Catalogue {
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.by_id.get(id).map(|&i| &self.rules[i])
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }
}

fn load() -> Result<Catalogue, String> {
    let by_name: HashMap<&str, &'static Meaning> = meanings().map(|m| (m.name, m)).collect();
    let mut rules = Vec::new();
    let mut seen: HashMap<(RuleSet, String), ()> = HashMap::new();
    for (file, text) in FILES {
        let parsed: RuleFile = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        for def in parsed.rule {
            let at = format!("{file}: rule {}", def.id);
            if seen.insert((parsed.set, def.id.clone()), ()).is_some() {
                return Err(format!("{at}: id given twice"));
            }
            let meaning = match (&def.test, parsed.set) {
                (None, RuleSet::Decoder) => None,
                (Some(t), set) if set != RuleSet::Decoder => Some(
                    *by_name
                        .get(t.as_str())
                        .ok_or_else(|| format!("{at}: unknown test {t:?}"))?,
                ),
                (Some(_), _) => return Err(format!("{at}: the decoder's findings have no test")),
                (None, _) => return Err(format!("{at}: no test")),
            };
            let context = Path::parse(def.context.as_deref().unwrap_or("/"))
                .map_err(|e| format!("{at}: context: {e}"))?;
            let mut paths = HashMap::new();
            let (required, optional) =
                meaning.map_or((&[][..], &[][..]), |m| (m.paths, m.optional));
            for r in required {
                if !def.args.contains_key(*r) {
                    return Err(format!("{at}: its test needs args.{r}"));
                }
            }
            for (name, value) in &def.args {
                let known = required.contains(&name.as_str()) || optional.contains(&name.as_str());
                if !known {
                    return Err(format!("{at}: its test takes no args.{name}"));
                }
                if required.contains(&name.as_str()) || is_path_arg(name) {
                    let text = value
                        .as_str()
                        .ok_or_else(|| format!("{at}: args.{name} must be a path"))?;
                    let p = Path::parse(text).map_err(|e| format!("{at}: args.{name}: {e}"))?;
                    paths.insert(name.clone(), p);
                }
            }
            rules.push(Rule {
                id: def.id,
                flag: def.flag,
                set: parsed.set,
                nl: def.nl,
                en: def.en,
                context,
                meaning,
                args: def.args,
                paths,
            });
        }
    }
    let by_id = rules
        .iter()
        .enumerate()
        .rev()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    Ok(Catalogue { rules, by_id })
}

static CATALOGUE: LazyLock<Result<Catalogue, String>> = LazyLock::new(load);

/// The catalogue (built into the binary: an error is a broken build,
/// reported by the tests and at start rather than by a panic).
pub fn catalogue() -> anyhow::Result<&'static Catalogue> {
    CATALOGUE.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The rule's text (Dutch, English).
pub fn text(rule: &str) -> (String, String) {
    catalogue().ok().and_then(|c| c.get(rule)).map_or_else(
        || (format!("Regel {rule}."), format!("Rule {rule}.")),
        |r| (r.nl.clone(), r.en.clone()),
    )
}

/// Every rule id in the catalogue.
pub fn ids() -> Vec<&'static str> {
    catalogue()
        .map(|c| c.rules.iter().map(|r| r.id.as_str()).collect())
        .unwrap_or_default()
}

/// What the document claims to follow (BT-24) decides which rule sets
/// apply beyond EN 16931: Peppol BIS Billing 3.0 (whose Dutch national
/// rules are NLCIUS's NL-R rules, for a Dutch seller) or NLCIUS.
pub fn sets_for(root: &Element) -> Vec<RuleSet> {
    let id = root.value("CustomizationID").unwrap_or_default();
    let mut sets = vec![RuleSet::En16931];
    if id.contains("urn:fdc:peppol.eu:2017:poacc:billing:3.0") {
        sets.push(RuleSet::Peppol);
        sets.push(RuleSet::Nlcius);
    } else if id.contains("urn:fdc:nen.nl:nlcius:v1.0") {
        sets.push(RuleSet::Nlcius);
    }
    sets
}

/// Every failed rule, fatal and warning apart.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Verdict {
    /// The ids of the failed rules, fatal and warning.
    pub fn fired(&self) -> impl Iterator<Item = &str> {
        self.errors
            .iter()
            .chain(&self.warnings)
            .map(|f| f.rule.as_str())
    }
}

/// The context a test judges.
pub struct Ctx<'a> {
    pub node: &'a Node<'a>,
    pub root: &'a Node<'a>,
    pub kind: Kind,
    rule: &'a Rule,
}

static EMPTY: LazyLock<Path> =
    LazyLock::new(|| Path::parse(".").unwrap_or_else(|_| unreachable!()));

/// Paths written in the meanings' own code, parsed once, by the address of
/// the literal: a lookup is a read lock and an integer hash, on the hot
/// path of every rule (a literal's address is fixed for the program's
/// life, so the map only ever grows to the number of literals).
static FIXED: LazyLock<RwLock<HashMap<(usize, usize), &'static Path>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// A path written in code (a literal): parsed once and kept. A literal
/// that does not parse is a bug the unit tests catch; it selects nothing.
pub fn fixed(text: &'static str) -> Option<&'static Path> {
    let key = (text.as_ptr() as usize, text.len());
    if let Some(p) = FIXED.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Some(p);
    }
    match Path::parse(text) {
        Ok(p) => {
            let mut map = FIXED.write().unwrap_or_else(|e| e.into_inner());
            Some(*map.entry(key).or_insert_with(|| Box::leak(Box::new(p))))
        }
        Err(e) => {
            tracing::error!(path = text, error = %e, "a rule's fixed path does not parse");
            None
        }
    }
}

impl<'a> Ctx<'a> {
    /// The rule being judged.
    pub fn rule_id(&self) -> &str {
        &self.rule.id
    }

    /// The path argument `name` (checked when the catalogue loaded).
    pub fn arg_path(&self, name: &str) -> Option<&Path> {
        self.rule.paths.get(name)
    }

    pub fn arg_str(&self, name: &str) -> Option<&str> {
        self.rule.args.get(name).and_then(|v| v.as_str())
    }

    pub fn arg_int(&self, name: &str) -> Option<i64> {
        self.rule.args.get(name).and_then(|v| v.as_integer())
    }

    pub fn arg_bool(&self, name: &str) -> Option<bool> {
        self.rule.args.get(name).and_then(|v| v.as_bool())
    }

    pub fn arg_list(&self, name: &str) -> Vec<&str> {
        self.rule
            .args
            .get(name)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default()
    }

    /// The elements `p` selects: from the document element when it is
    /// absolute, else from the context.
    pub fn select_path(&self, p: &Path) -> Vec<Node<'a>> {
        let from = if p.is_absolute() {
            self.root
        } else {
            self.node
        };
        path::select(from, p)
    }

    /// The normalized values `p` selects.
    pub fn values_path(&self, p: &Path) -> Vec<String> {
        let from = if p.is_absolute() {
            self.root
        } else {
            self.node
        };
        path::values(from, p)
    }

    /// The elements of the path argument `name`.
    pub fn select(&self, name: &str) -> Vec<Node<'a>> {
        self.select_path(self.arg_path(name).unwrap_or(&EMPTY))
    }

    /// The normalized values of the path argument `name`.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.values_path(self.arg_path(name).unwrap_or(&EMPTY))
    }

    /// The elements a literal path selects.
    pub fn sel(&self, text: &'static str) -> Vec<Node<'a>> {
        fixed(text).map(|p| self.select_path(p)).unwrap_or_default()
    }

    /// The normalized values of a literal path.
    pub fn vals(&self, text: &'static str) -> Vec<String> {
        fixed(text).map(|p| self.values_path(p)).unwrap_or_default()
    }

    /// The first normalized value of a literal path, when it is not empty.
    pub fn text(&self, text: &'static str) -> Option<String> {
        self.vals(text).into_iter().next().filter(|v| !v.is_empty())
    }

    /// Does a literal path select anything?
    pub fn has(&self, text: &'static str) -> bool {
        !self.sel(text).is_empty()
    }

    /// The first value of a literal path as a decimal (`xs:decimal`).
    pub fn dec(&self, text: &'static str) -> Option<Dec> {
        self.vals(text).first().and_then(|v| Dec::parse(v))
    }

    /// A context at another node (for meanings that judge a set of
    /// elements against the document).
    pub fn at(&self, node: &'a Node<'a>) -> Ctx<'a> {
        Ctx {
            node,
            root: self.root,
            kind: self.kind,
            rule: self.rule,
        }
    }
}

/// Most findings one document gets: enough to see everything wrong with a
/// real invoice, bounded for a hostile one.
const MAX_FINDINGS: usize = 1_000;

/// Judges `root` (an Invoice or CreditNote) on every rule of `sets`.
pub fn judge(root: &Element, kind: Kind, sets: &[RuleSet]) -> Verdict {
    let mut verdict = Verdict::default();
    let cat = match catalogue() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the UBL rule catalogue does not load");
            return verdict;
        }
    };
    let root_node = Node::root(root);
    for rule in cat.rules.iter().filter(|r| sets.contains(&r.set)) {
        let Some(meaning) = rule.meaning else {
            continue;
        };
        let contexts = path::select(&root_node, &rule.context);
        for node in &contexts {
            let ctx = Ctx {
                node,
                root: &root_node,
                kind,
                rule,
            };
            let (detail_nl, detail_en) = match (meaning.run)(&ctx) {
                Outcome::Pass => continue,
                Outcome::Fail => (String::new(), String::new()),
                Outcome::FailWith(nl, en) => (nl, en),
            };
            let out = match rule.flag {
                Flag::Fatal => &mut verdict.errors,
                Flag::Warning => &mut verdict.warnings,
            };
            if out.len() >= MAX_FINDINGS {
                continue;
            }
            out.push(Finding {
                rule: rule.id.clone(),
                retourcode: String::new(),
                path: node.loc(),
                line: Some(node.el.line),
                level: Level::Content,
                nl: format!("{} {detail_nl}", rule.nl).trim().to_string(),
                en: format!("{} {detail_en}", rule.en).trim().to_string(),
                class_node: None,
            });
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_loads_and_every_rule_has_both_texts() {
        let c = catalogue().expect("loads");
        for r in c.rules() {
            assert!(
                !r.nl.trim().is_empty() && !r.en.trim().is_empty(),
                "{}",
                r.id
            );
        }
    }
}
