//! The small path language the rule catalogue speaks: enough XPath to name
//! a rule's context and the elements a check reads, and nothing more, so a
//! rule file stays readable and every path in it is parsed (and refused with
//! its rule's id) when the catalogue loads.
//!
//! ```text
//! /                                   the document element
//! cac:InvoiceLine                     children of the context
//! cac:$Line/cac:Item                  $Line, $Quantity, $TypeCode: the Invoice
//!                                     or CreditNote name, per document kind
//! //cac:InvoicePeriod                 descendants at any depth
//! cac:AllowanceCharge[cbc:ChargeIndicator='true']
//! cac:TaxSubtotal[cac:TaxCategory/cbc:ID='S'][!cbc:Percent]
//! cbc:*                               any element in the cbc namespace
//! cbc:EndpointID/@schemeID            an attribute (last step only)
//! .                                   the context itself
//! ```
//!
//! Predicates compare the normalized string value (`normalize-space`) of a
//! relative path; `[p]` asks that it exists, `[!p]` that it does not.
//! Locations are written as XPath with 1-based positions among same-named
//! siblings, `/Invoice/cac:InvoiceLine[2]/cac:Item[1]`.

use std::collections::HashMap;
use std::rc::Rc;

use crate::adapter::xml::Element;

const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
const EXT: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2";

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    steps: Vec<Step>,
    /// `@name` at the end: the path selects an attribute's value.
    attribute: Option<String>,
    /// `/`: the document element, whatever the context.
    absolute: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    descendant: bool,
    test: NameTest,
    predicates: Vec<Predicate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NameTest {
    /// `.`
    Current,
    /// `prefix:local`: the namespace (none: any) and the names that match.
    Name { ns: Option<Ns>, names: Names },
}

/// The three UBL namespaces a path names by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Cac,
    Cbc,
    Ext,
}

impl Ns {
    fn of(namespace: &str) -> Option<Ns> {
        match namespace {
            CAC => Some(Ns::Cac),
            CBC => Some(Ns::Cbc),
            EXT => Some(Ns::Ext),
            _ => None,
        }
    }
}

/// What local names a step matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    /// `*`
    Any,
    One(String),
    /// A `$` alias: either document's name.
    Alias([&'static str; 2]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Predicate {
    Exists(Path),
    Missing(Path),
    Equals(Path, String),
    NotEquals(Path, String),
}

impl Path {
    /// Parses `text`; the error says what is wrong in it.
    pub fn parse(text: &str) -> Result<Path, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty path".into());
        }
        let (absolute, rest) = match text.strip_prefix('/') {
            Some(r) if !r.starts_with('/') => (true, r),
            _ => (false, text),
        };
        let mut steps = Vec::new();
        let mut attribute = None;
        let mut s = rest;
        let mut descendant = false;
        while !s.is_empty() {
            if let Some(r) = s.strip_prefix("//") {
                descendant = true;
                s = r;
                continue;
            }
            if let Some(r) = s.strip_prefix('/') {
                s = r;
                continue;
            }
            if let Some(r) = s.strip_prefix('@') {
                let end = r.find(['/', '[']).unwrap_or(r.len());
                if end != r.len() {
                    return Err(format!("attribute step must be last in {text:?}"));
                }
                attribute = Some(r.to_string());
                break;
            }
            let end = split_step(s);
            let (step, rest) = s.split_at(end);
            s = rest;
            let (name, mut preds_text) = match step.find('[') {
                Some(i) => (&step[..i], &step[i..]),
                None => (step, ""),
            };
            let test = if name == "." {
                NameTest::Current
            } else {
                let (prefix, local) = match name.split_once(':') {
                    Some((p, l)) => (Some(p.to_string()), l.to_string()),
                    None => (None, name.to_string()),
                };
                if local.is_empty()
                    || !local
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '$' || c == '_')
                {
                    return Err(format!("bad step {name:?} in {text:?}"));
                }
                let ns = match prefix.as_deref() {
                    None => None,
                    Some("cac") => Some(Ns::Cac),
                    Some("cbc") => Some(Ns::Cbc),
                    Some("ext") => Some(Ns::Ext),
                    Some(p) => return Err(format!("unknown prefix {p:?} in {text:?}")),
                };
                let names = if local == "*" {
                    Names::Any
                } else if local.starts_with('$') {
                    Names::Alias(
                        alias(&local)
                            .ok_or_else(|| format!("unknown alias {local:?} in {text:?}"))?,
                    )
                } else {
                    Names::One(local)
                };
                NameTest::Name { ns, names }
            };
            let mut predicates = Vec::new();
            while let Some(r) = preds_text.strip_prefix('[') {
                let close = matching_bracket(r).ok_or_else(|| format!("unclosed [ in {text:?}"))?;
                predicates.push(Predicate::parse(&r[..close])?);
                preds_text = &r[close + 1..];
            }
            if !preds_text.is_empty() {
                return Err(format!("unexpected {preds_text:?} in {text:?}"));
            }
            steps.push(Step {
                descendant,
                test,
                predicates,
            });
            descendant = false;
        }
        if descendant {
            return Err(format!("path ends in // in {text:?}"));
        }
        Ok(Path {
            steps,
            attribute,
            absolute,
        })
    }

    /// Does the path start at the document element (`/...`)?
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// Does the path end in an attribute?
    pub fn is_attribute(&self) -> bool {
        self.attribute.is_some()
    }
}

/// End of the step at the start of `s`: the first `/` outside brackets.
fn split_step(s: &str) -> usize {
    scan(s, |c, depth| c == '/' && depth == 0).unwrap_or(s.len())
}

/// The `]` closing a predicate whose `[` came just before `s`.
fn matching_bracket(s: &str) -> Option<usize> {
    scan(s, |c, depth| c == ']' && depth == 0)
}

/// The first character outside quotes for which `stop` holds, given the
/// bracket depth before it.
fn scan(s: &str, stop: impl Fn(char, i32) -> bool) -> Option<usize> {
    let mut depth = 0;
    let mut quote = false;
    for (i, c) in s.char_indices() {
        if c == '\'' {
            quote = !quote;
            continue;
        }
        if quote {
            continue;
        }
        if stop(c, depth) {
            return Some(i);
        }
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

impl Predicate {
    fn parse(s: &str) -> Result<Predicate, String> {
        let s = s.trim();
        if let Some(r) = s.strip_prefix('!') {
            return Ok(Predicate::Missing(Path::parse(r)?));
        }
        let value = |v: &str| -> Result<String, String> {
            let v = v.trim();
            v.strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_string)
                .ok_or_else(|| format!("value {v:?} must be quoted with '"))
        };
        if let Some((p, v)) = s.split_once("!=") {
            return Ok(Predicate::NotEquals(Path::parse(p)?, value(v)?));
        }
        if let Some((p, v)) = s.split_once('=') {
            return Ok(Predicate::Equals(Path::parse(p)?, value(v)?));
        }
        Ok(Predicate::Exists(Path::parse(s)?))
    }

    fn holds(&self, node: &Node<'_>) -> bool {
        match self {
            Predicate::Exists(p) => !values(node, p).is_empty(),
            Predicate::Missing(p) => values(node, p).is_empty(),
            Predicate::Equals(p, v) => values(node, p).iter().any(|x| x == v),
            Predicate::NotEquals(p, v) => values(node, p).iter().any(|x| x != v),
        }
    }
}

/// One element of a document as the judge walks it: in document order
/// (preorder), with its parent, the size of its subtree and its position
/// among same-named siblings. Built once per document, so walking children
/// and descendants allocates nothing and a location is only written out
/// for a finding.
#[derive(Debug)]
pub struct Arena<'a> {
    entries: Vec<Entry<'a>>,
    /// Every element's id by local name, ascending: a `//name` step takes
    /// the ids in the subtree's range instead of scanning it.
    by_name: HashMap<&'a str, Vec<usize>>,
}

#[derive(Debug)]
struct Entry<'a> {
    el: &'a Element,
    /// Index of the parent; the document element's is its own.
    parent: usize,
    /// This element and all below it.
    size: usize,
    /// 1-based position among its parent's children of the same name.
    nth: usize,
    ns: Option<Ns>,
}

impl<'a> Arena<'a> {
    fn build(root: &'a Element) -> Arena<'a> {
        let mut entries = Vec::new();
        visit(root, 0, 1, &mut entries);
        let mut by_name: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (id, e) in entries.iter().enumerate() {
            by_name.entry(e.el.name.as_str()).or_default().push(id);
        }
        Arena { entries, by_name }
    }
}

/// Adds `el` and its subtree in preorder. The reader bounds a document's
/// depth, and with it this recursion.
fn visit<'a>(el: &'a Element, parent: usize, nth: usize, entries: &mut Vec<Entry<'a>>) {
    let id = entries.len();
    entries.push(Entry {
        el,
        parent,
        size: 1,
        nth,
        ns: Ns::of(&el.namespace),
    });
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for c in &el.children {
        let n = match seen.iter_mut().find(|(name, _)| *name == c.name) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((&c.name, 1));
                1
            }
        };
        visit(c, id, n, entries);
    }
    entries[id].size = entries.len() - id;
}

/// An element with where it is.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub el: &'a Element,
    id: usize,
    arena: Rc<Arena<'a>>,
}

impl<'a> Node<'a> {
    /// The document element of `el`'s document.
    pub fn root(el: &'a Element) -> Node<'a> {
        Node {
            el,
            id: 0,
            arena: Rc::new(Arena::build(el)),
        }
    }

    fn at(&self, id: usize) -> Node<'a> {
        Node {
            el: self.arena.entries[id].el,
            id,
            arena: self.arena.clone(),
        }
    }

    /// XPath-like location, e.g. `/Invoice/cac:InvoiceLine[2]/cbc:ID[1]`.
    pub fn loc(&self) -> String {
        let e = &self.arena.entries;
        let mut chain = vec![self.id];
        let mut at = self.id;
        while at != 0 {
            at = e[at].parent;
            chain.push(at);
        }
        let mut out = String::new();
        for &id in chain.iter().rev() {
            let el = e[id].el;
            if id == 0 {
                out.push('/');
                out.push_str(&el.name);
            } else {
                out.push_str(&format!("/{}:{}[{}]", prefix_of(el), el.name, e[id].nth));
            }
        }
        out
    }

    /// The parent element; none for the document element.
    pub fn parent(&self) -> Option<Node<'a>> {
        (self.id != 0).then(|| self.at(self.arena.entries[self.id].parent))
    }

    /// The elements from the document element down to this one, both
    /// included.
    pub fn lineage(&self) -> Vec<&'a Element> {
        let mut out = vec![self.el];
        let mut at = self.id;
        while at != 0 {
            at = self.arena.entries[at].parent;
            out.push(self.arena.entries[at].el);
        }
        out.reverse();
        out
    }

    /// Ids of the children, in document order.
    fn child_ids(&self) -> impl Iterator<Item = usize> + '_ {
        let e = &self.arena.entries;
        let end = self.id + e[self.id].size;
        let mut next = self.id + 1;
        std::iter::from_fn(move || {
            (next < end).then(|| {
                let id = next;
                next += e[id].size;
                id
            })
        })
    }

    /// The children, in document order.
    pub fn children(&self) -> impl Iterator<Item = Node<'a>> + '_ {
        self.child_ids().map(|id| self.at(id))
    }
}

fn prefix_of(e: &Element) -> &'static str {
    match e.namespace.as_str() {
        CAC => "cac",
        CBC => "cbc",
        EXT => "ext",
        _ => "*",
    }
}

/// The names a `$` alias stands for. Either document's name matches in
/// either document, as in the CEN artefact (its line rules judge an
/// `InvoiceLine` in a CreditNote too); the structure check refuses the
/// misplaced element on its own.
fn alias(local: &str) -> Option<[&'static str; 2]> {
    match local {
        "$Line" => Some(["InvoiceLine", "CreditNoteLine"]),
        "$Quantity" => Some(["InvoicedQuantity", "CreditedQuantity"]),
        "$TypeCode" => Some(["InvoiceTypeCode", "CreditNoteTypeCode"]),
        _ => None,
    }
}

/// Does an element match a step's name test? The name first: it differs
/// far more often than the namespace.
fn matches(test: &NameTest, e: &Entry<'_>) -> bool {
    match test {
        NameTest::Current => true,
        NameTest::Name { ns, names } => {
            let name_ok = match names {
                Names::Any => true,
                Names::One(n) => *n == e.el.name,
                Names::Alias(two) => two.contains(&e.el.name.as_str()),
            };
            name_ok && ns.is_none_or(|ns| e.ns == Some(ns))
        }
    }
}

/// Up to this many children a child step scans them: cheaper than a
/// lookup in the name index.
const FEW_CHILDREN: usize = 32;

/// A path of plain child steps (names, no predicates) from a large
/// subtree, evaluated from its end: the elements with the last step's name
/// in the subtree, from the index, each kept when its ancestors match the
/// earlier steps up to `from`. Most of the 678 UBL-CR paths name an element
/// no invoice has, so this finds nothing in no time where walking down
/// would visit every line. None when the path is not of that shape.
fn bottom_up<'a>(from: &Node<'a>, path: &Path) -> Option<Vec<Node<'a>>> {
    let plain = !path.steps.is_empty()
        && path.steps.iter().all(|st| {
            !st.descendant
                && st.predicates.is_empty()
                && matches!(
                    st.test,
                    NameTest::Name {
                        names: Names::One(_) | Names::Alias(_),
                        ..
                    }
                )
        });
    if !plain {
        return None;
    }
    let entries = &from.arena.entries;
    let (lo, hi) = (from.id + 1, from.id + entries[from.id].size);
    let last = path.steps.last()?;
    let names: Vec<&str> = match &last.test {
        NameTest::Name {
            names: Names::One(one),
            ..
        } => vec![one.as_str()],
        NameTest::Name {
            names: Names::Alias(two),
            ..
        } => two.to_vec(),
        _ => return None,
    };
    let mut candidates: Vec<usize> = Vec::new();
    for name in names {
        if let Some(all) = from.arena.by_name.get(name) {
            let a = all.partition_point(|&id| id < lo);
            let b = all.partition_point(|&id| id < hi);
            candidates.extend_from_slice(&all[a..b]);
        }
    }
    candidates.sort_unstable();
    let found = candidates
        .into_iter()
        .filter(|&id| {
            let mut at = id;
            for st in path.steps.iter().rev() {
                if at == from.id || !matches(&st.test, &entries[at]) {
                    return false;
                }
                at = entries[at].parent;
            }
            at == from.id
        })
        .map(|id| from.at(id))
        .collect();
    Some(found)
}

/// The elements `path` selects from `from`, in document order. An
/// attribute path selects the elements that carry the attribute.
pub fn select<'a>(from: &Node<'a>, path: &Path) -> Vec<Node<'a>> {
    // An absolute path is resolved by the caller, who knows the root
    // (`Ctx::select`); here every path walks down from `from`.
    if from.arena.entries[from.id].size > FEW_CHILDREN
        && let Some(mut found) = bottom_up(from, path)
    {
        if let Some(a) = &path.attribute {
            found.retain(|n| n.el.attribute(a).is_some());
        }
        return found;
    }
    let mut current = vec![from.clone()];
    for step in &path.steps {
        let mut next = Vec::new();
        for n in &current {
            if step.test == NameTest::Current {
                if step.predicates.iter().all(|p| p.holds(n)) {
                    next.push(n.clone());
                }
                continue;
            }
            let entries = &n.arena.entries;
            let mut take = |id: usize| {
                if matches(&step.test, &entries[id]) {
                    let c = n.at(id);
                    if step.predicates.iter().all(|p| p.holds(&c)) {
                        next.push(c);
                    }
                }
            };
            let named: &[&str] = match &step.test {
                NameTest::Name {
                    names: Names::One(one),
                    ..
                } => &[one.as_str()],
                NameTest::Name {
                    names: Names::Alias(two),
                    ..
                } => two,
                _ => &[],
            };
            // Preorder: the descendants are the ids right after it.
            let (lo, hi) = (n.id + 1, n.id + entries[n.id].size);
            // The ids of the step's names in the subtree, from the index:
            // for a descendant step always, for a child step when there
            // are fewer of them than children (the document element of a
            // 10,000-line invoice has 10,000 children; a rule asking for
            // its supplier party must not look at each).
            if !step.descendant && n.el.children.len() <= FEW_CHILDREN {
                n.child_ids().for_each(&mut take);
                continue;
            }
            let ranges: Vec<&[usize]> = named
                .iter()
                .filter_map(|name| n.arena.by_name.get(name))
                .map(|all| {
                    let from = all.partition_point(|&id| id < lo);
                    let to = all.partition_point(|&id| id < hi);
                    &all[from..to]
                })
                .collect();
            let indexed: usize = ranges.iter().map(|r| r.len()).sum();
            if named.is_empty() || (!step.descendant && indexed >= n.el.children.len()) {
                if step.descendant {
                    (lo..hi).for_each(&mut take);
                } else {
                    n.child_ids().for_each(&mut take);
                }
                continue;
            }
            let mut ids: Vec<usize> = ranges.concat();
            if !step.descendant {
                ids.retain(|&id| entries[id].parent == n.id);
            }
            if ranges.len() > 1 {
                ids.sort_unstable();
            }
            ids.into_iter().for_each(&mut take);
        }
        current = next;
    }
    if let Some(a) = &path.attribute {
        current.retain(|n| n.el.attribute(a).is_some());
    }
    current
}

/// The normalized string values `path` selects: attribute values, or the
/// elements' string values (all descendant text, whitespace collapsed, as
/// XPath's `normalize-space(.)`).
pub fn values(from: &Node<'_>, path: &Path) -> Vec<String> {
    let nodes = select(from, path);
    match &path.attribute {
        Some(a) => nodes
            .iter()
            .filter_map(|n| n.el.attribute(a))
            .map(normalize)
            .collect(),
        None => nodes.iter().map(|n| string_value(n.el)).collect(),
    }
}

/// XPath's `normalize-space(.)` of an element.
pub fn string_value(e: &Element) -> String {
    let mut raw = String::new();
    collect_text(e, &mut raw);
    normalize(&raw)
}

fn collect_text(e: &Element, out: &mut String) {
    out.push_str(&e.text);
    for c in &e.children {
        out.push(' ');
        collect_text(c, out);
    }
}

/// Whitespace collapsed and trimmed.
pub fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::xml::read_tree;

    const DOC: &str = r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
        xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
        xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
        <cbc:ID>1</cbc:ID>
        <cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:Amount>5</cbc:Amount></cac:AllowanceCharge>
        <cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount>2</cbc:Amount></cac:AllowanceCharge>
        <cac:InvoiceLine><cbc:ID>a</cbc:ID><cac:InvoicePeriod><cbc:StartDate>2026-01-01</cbc:StartDate></cac:InvoicePeriod></cac:InvoiceLine>
        <cac:InvoiceLine><cbc:ID> b  c </cbc:ID><cbc:InvoicedQuantity unitCode="H87">1</cbc:InvoicedQuantity></cac:InvoiceLine>
    </Invoice>"#;

    fn tree() -> Element {
        read_tree(DOC.as_bytes(), 1 << 20, 64).expect("reads")
    }

    fn sel(path: &str) -> Vec<String> {
        let t = tree();
        let root = Node::root(&t);
        select(&root, &Path::parse(path).expect("parses"))
            .into_iter()
            .map(|n| n.loc())
            .collect()
    }

    #[test]
    fn steps_predicates_aliases_and_locations() {
        assert_eq!(
            sel("cac:$Line"),
            ["/Invoice/cac:InvoiceLine[1]", "/Invoice/cac:InvoiceLine[2]"]
        );
        assert_eq!(
            sel("cac:AllowanceCharge[cbc:ChargeIndicator='false']"),
            ["/Invoice/cac:AllowanceCharge[2]"]
        );
        assert_eq!(
            sel("//cac:InvoicePeriod"),
            ["/Invoice/cac:InvoiceLine[1]/cac:InvoicePeriod[1]"]
        );
        assert_eq!(
            sel("cac:InvoiceLine[!cac:InvoicePeriod]"),
            ["/Invoice/cac:InvoiceLine[2]"]
        );
        assert_eq!(sel("cac:InvoiceLine/cbc:$Quantity/@unitCode").len(), 1);
        assert_eq!(sel("cbc:*").len(), 1);
        assert_eq!(sel("cac:*").len(), 4);
        assert_eq!(sel("."), ["/Invoice"]);
        let t = tree();
        let root = Node::root(&t);
        let p = Path::parse("cac:InvoiceLine/cbc:ID").expect("parses");
        assert_eq!(values(&root, &p), ["a", "b c"]);
        let p = Path::parse("cac:InvoiceLine/cbc:InvoicedQuantity/@unitCode").expect("parses");
        assert_eq!(values(&root, &p), ["H87"]);
    }

    #[test]
    fn nodes_know_their_parents_and_locations() {
        let t = tree();
        let root = Node::root(&t);
        let p = Path::parse("cac:InvoiceLine/cac:InvoicePeriod/cbc:StartDate").expect("parses");
        let start = select(&root, &p).pop().expect("a start date");
        assert_eq!(
            start.loc(),
            "/Invoice/cac:InvoiceLine[1]/cac:InvoicePeriod[1]/cbc:StartDate[1]"
        );
        let line = start.parent().and_then(|p| p.parent()).expect("the line");
        assert_eq!(line.el.name, "InvoiceLine");
        assert_eq!(line.loc(), "/Invoice/cac:InvoiceLine[1]");
        assert!(root.parent().is_none());
        let names: Vec<&str> = start.lineage().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["Invoice", "InvoiceLine", "InvoicePeriod", "StartDate"]
        );
        let second = root
            .children()
            .filter(|c| c.el.name == "InvoiceLine")
            .nth(1)
            .expect("two");
        assert_eq!(second.loc(), "/Invoice/cac:InvoiceLine[2]");
        assert_eq!(second.children().count(), 2);
    }

    #[test]
    fn a_large_document_gives_what_walking_down_gives() {
        let lines: String = (1..=50)
            .map(|i| format!("<cac:InvoiceLine><cbc:ID>{i}</cbc:ID><cac:Item><cbc:Name>n{i}</cbc:Name></cac:Item></cac:InvoiceLine>"))
            .collect();
        let doc = format!(
            r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
            xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
            xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
            <cbc:ID>x</cbc:ID><cac:Item><cbc:Name>top</cbc:Name></cac:Item>{lines}</Invoice>"#
        );
        let t = read_tree(doc.as_bytes(), 1 << 20, 64).expect("reads");
        let root = Node::root(&t);
        let sel = |p: &str| {
            select(&root, &Path::parse(p).expect("parses"))
                .into_iter()
                .map(|n| (n.loc(), string_value(n.el)))
                .collect::<Vec<_>>()
        };
        let names = sel("cac:InvoiceLine/cac:Item/cbc:Name");
        assert_eq!(names.len(), 50);
        assert_eq!(
            names[0],
            (
                "/Invoice/cac:InvoiceLine[1]/cac:Item[1]/cbc:Name[1]".to_string(),
                "n1".to_string()
            )
        );
        assert_eq!(names[49].1, "n50");
        // Only the document's own item, not the lines' ones.
        assert_eq!(
            sel("cac:Item/cbc:Name"),
            [(
                "/Invoice/cac:Item[1]/cbc:Name[1]".to_string(),
                "top".to_string()
            )]
        );
        assert_eq!(sel("cbc:ID").len(), 1);
        assert_eq!(sel("cac:$Line/cbc:ID").len(), 50);
        assert_eq!(sel("cbc:Name").len(), 0);
        assert_eq!(sel("//cbc:Name").len(), 51);
        assert_eq!(
            sel("cac:InvoiceLine[cbc:ID='7']/cac:Item/cbc:Name"),
            [(
                "/Invoice/cac:InvoiceLine[7]/cac:Item[1]/cbc:Name[1]".to_string(),
                "n7".to_string()
            )]
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in [
            "",
            "cac:X[",
            "foo:Bar",
            "cac:X/@a/cbc:Y",
            "cac:X[cbc:Y=1]",
            "a//",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }
}
