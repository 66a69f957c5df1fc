//! In-message rules: condities (CD), constraints (CS) and the technische regels
//! (TR) that can be checked inside one message.
//!
//! Where a rule applies is data (`checks` in schemas/istandaard/messages-3.2.toml
//! and, for what only one standard has, iwmo.toml / ijw.toml); what it is called
//! and which retourcode it gives is data (schemas/istandaard/rules.toml); what it
//! means is written here once, as a function over the message tree. A rule
//! attached to a class runs once for every occurrence of that class, with the
//! optional argument from the data.
//!
//! Arguments name elements relative to the class the rule is attached to:
//! a path such as `Einddatum` or `ProductPeriode/Einddatum`, or a comma
//! separated list of paths (`Ingangsdatum,Einddatum`, or the logical key of
//! TR101). A rule attached to a list wrapper (a class holding one repeating
//! element) names elements of its items. Each rule's doc comment says what its
//! argument is and what it defaults to.
//!
//! Rules never panic, whatever the tree: they run on structurally flawed
//! messages too, where any element may be missing or hold garbage. A rule whose
//! inputs are missing or unreadable says nothing; the structure check reports
//! those.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;

use crate::finding::{Finding, Level, berichtklasse_of};
use crate::message::{Message, NodeId, NodeRef};

/// Where a rule fails: the node to point at, and optional detail text.
pub struct Hit {
    pub node: NodeId,
    pub detail: Option<(String, String)>,
}

impl Hit {
    fn at(node: NodeRef<'_>) -> Hit {
        Hit {
            node: node.id,
            detail: None,
        }
    }

    fn with(node: NodeRef<'_>, nl: String, en: String) -> Hit {
        Hit {
            node: node.id,
            detail: Some((nl, en)),
        }
    }
}

/// What a rule sees: the message and the class occurrence it is attached to.
pub struct RuleCtx<'m> {
    pub msg: &'m Message,
    /// Dagtekening of the message (Header/BerichtIdentificatie/Dagtekening).
    pub dagtekening: Option<NaiveDate>,
}

pub type RuleFn = fn(&RuleCtx<'_>, NodeRef<'_>, Option<&str>) -> Vec<Hit>;

/// Catalogue entry from rules.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleInfo {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default = "default_code")]
    pub retourcode: String,
    /// Message numbers ("301") the rule applies to; empty means not stated.
    #[serde(default)]
    pub messages: Vec<String>,
    /// Standards ("iwmo", "ijw") the rule applies to; empty means both.
    #[serde(default)]
    pub standards: Vec<String>,
    #[serde(default)]
    pub nl: String,
    #[serde(default)]
    pub en: String,
}

fn default_code() -> String {
    "0001".to_string()
}

#[derive(Debug, Deserialize)]
struct RawCatalogue {
    rules: HashMap<String, RuleInfo>,
}

static CATALOGUE: LazyLock<HashMap<String, RuleInfo>> = LazyLock::new(|| {
    toml::from_str::<RawCatalogue>(include_str!("../../../schemas/istandaard/rules.toml"))
        .map(|c| c.rules)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "schemas/istandaard/rules.toml does not load");
            HashMap::new()
        })
});

/// The rule catalogue (id -> retourcode and explanation).
pub fn catalogue() -> &'static HashMap<String, RuleInfo> {
    &CATALOGUE
}

/// Implementations by rule id.
pub fn implementation(rule: &str) -> Option<RuleFn> {
    // Looked up for every rule of every class occurrence: hash, not scan.
    static BY_ID: LazyLock<HashMap<&'static str, RuleFn>> =
        LazyLock::new(|| IMPLEMENTATIONS.iter().copied().collect());
    BY_ID.get(rule).copied()
}

/// Ids of every rule implemented here.
pub fn implemented() -> impl Iterator<Item = &'static str> {
    IMPLEMENTATIONS.iter().map(|(id, _)| *id)
}

/// Runs every rule the schema attaches to the classes present in `msg`.
pub fn check(msg: &Message) -> Vec<Finding> {
    let ctx = RuleCtx {
        msg,
        dagtekening: msg.root().date("Header/BerichtIdentificatie/Dagtekening"),
    };
    let mut findings = Vec::new();
    for id in 0..msg.nodes.len() as NodeId {
        let node = msg.node(id);
        let Some(class) = node.class() else { continue };
        for check in &class.checks {
            let Some(f) = implementation(&check.rule) else {
                tracing::warn!(rule = %check.rule, "rule attached in schema data has no implementation");
                continue;
            };
            for hit in f(&ctx, node, check.arg.as_deref()) {
                // Same bound as the decoder: a hostile message with thousands
                // of violations is rejected without describing each one.
                if findings.len() >= super::decode::MAX_FINDINGS {
                    return findings;
                }
                findings.push(finding(msg, &check.rule, hit));
            }
        }
    }
    findings
}

fn finding(msg: &Message, rule: &str, hit: Hit) -> Finding {
    let info = CATALOGUE.get(rule);
    let (mut nl, mut en) = info
        .map(|i| (i.nl.clone(), i.en.clone()))
        .unwrap_or_else(|| {
            (
                format!("Regel {rule} is geschonden."),
                format!("Rule {rule} is violated."),
            )
        });
    if let Some((dnl, den)) = hit.detail {
        nl = format!("{nl} {dnl}");
        en = format!("{en} {den}");
    }
    let node = msg.node(hit.node);
    Finding {
        rule: rule.to_string(),
        retourcode: info.map_or_else(default_code, |i| i.retourcode.clone()),
        path: node.path(),
        line: None,
        level: Level::Content,
        nl,
        en,
        class_node: Some(berichtklasse_of(msg, hit.node)),
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the rules.

/// The rule whose argument is a class's logical key (see [`unique_logical_key`]).
const LOGICAL_KEY_RULE: &str = "TR101";

/// A calendar date; `None` never happens for the fixed dates used here.
fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// The argument as a list of comma separated items, or `default` when absent.
fn list<'a>(arg: Option<&'a str>, default: &'a str) -> Vec<&'a str> {
    arg.unwrap_or(default)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Last step of a path, for messages.
fn leaf(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The deepest node that exists along `path` below `from`: where to point when
/// the element at `path` itself is missing.
fn nearest<'m>(from: NodeRef<'m>, path: &str) -> NodeRef<'m> {
    let mut cur = from;
    for step in path.split('/').filter(|s| !s.is_empty()) {
        match cur.child(step) {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur
}

/// Element `path` must be present when `cond` holds.
fn require(class: NodeRef<'_>, path: &str, cond: bool) -> Vec<Hit> {
    if cond && !class.has(path) {
        let name = leaf(path);
        vec![Hit::with(
            nearest(class, path),
            format!("{name} ontbreekt."),
            format!("{name} is missing."),
        )]
    } else {
        vec![]
    }
}

/// Element `path` must be absent when `cond` holds.
fn forbid(class: NodeRef<'_>, path: &str, cond: bool) -> Vec<Hit> {
    match class.get(path) {
        Some(n) if cond => vec![Hit::at(n)],
        _ => vec![],
    }
}

/// Whether `value` is one of `codes` (false when the value is missing).
fn is_one_of(value: Option<&str>, codes: &[&str]) -> bool {
    value.is_some_and(|v| codes.contains(&v))
}

/// Einddatum that is "groter dan 31-12-2020 of leeg".
fn after_2020_or_open(end: Option<NaiveDate>) -> bool {
    end.is_none_or(|d| d > ymd(2020, 12, 31))
}

fn last_day_of_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 {
        (d.year().checked_add(1)?, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

/// Signed amount of a `CDT_BedragMetDC` / `CDT_TotaalBedragMetDC` node (debet
/// positive, credit negative), in i128 so that no input can overflow a sum.
fn signed_amount(node: NodeRef<'_>, amount: &str) -> Option<i128> {
    let v = i128::from(node.int(amount)?);
    match node.value("DebetCredit") {
        Some("C") => Some(-v),
        _ => Some(v),
    }
}

/// The value of element `name` on the nearest of `node` and its ancestors
/// whose class has such an element (a date of the enclosing declaration, for
/// instance). Only classes that define `name` are searched, so that a long
/// list on the way up is not scanned for every item.
fn inherited_date(node: NodeRef<'_>, name: &str) -> Option<NaiveDate> {
    let mut cur = Some(node);
    while let Some(n) = cur {
        if n.class().is_some_and(|c| c.element_index(name).is_some()) {
            return n.date(name);
        }
        cur = n.parent();
    }
    None
}

/// For rules over all occurrences of a class in the message: every node at the
/// same place as `node` (same element names from the root), in document order,
/// when `node` is the first of them; `None` for the others, so that such a rule
/// does its work once per message, not once per occurrence.
fn group_if_first(node: NodeRef<'_>) -> Option<Vec<NodeRef<'_>>> {
    let mut names = Vec::new();
    let mut cur = node;
    while let Some(p) = cur.parent() {
        if p.child(cur.name())?.id != cur.id {
            return None;
        }
        names.push(cur.name());
        cur = p;
    }
    names.reverse();
    Some(cur.all(&names.join("/")))
}

/// The logical key of `node`: the values at `own` below it, preceded by the
/// logical keys (TR101 arguments) of the classes above it.
fn scoped_key<'m>(node: NodeRef<'m>, own: &[&str]) -> Vec<Option<&'m str>> {
    let mut key = Vec::new();
    let mut anc = node.parent();
    while let Some(a) = anc {
        if let Some(class) = a.class() {
            for c in class.checks.iter().filter(|c| c.rule == LOGICAL_KEY_RULE) {
                key.extend(list(c.arg.as_deref(), "").iter().map(|p| a.value(p)));
            }
        }
        anc = a.parent();
    }
    key.extend(own.iter().map(|p| node.value(p)));
    key
}

/// Detail text pointing at an earlier occurrence.
fn same_as(other: NodeRef<'_>, what_nl: &str, what_en: &str) -> (String, String) {
    let path = other.path();
    (
        format!("{what_nl} als {path}."),
        format!("{what_en} as {path}."),
    )
}

// ---------------------------------------------------------------------------
// Persons: BSN, birth date, name.

/// CS002: a BSN passes the elfproef (11-test), so that typing errors in the
/// identifying number are caught. Argument: the BSN element (default `Bsn`).
fn bsn_elfproef(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    match class.get(arg.unwrap_or("Bsn")) {
        Some(bsn) if !elfproef(bsn.normalized()) => vec![Hit::at(bsn)],
        _ => vec![],
    }
}

/// The BSN elfproef: 9 digits, weighted sum (9..2, last digit -1) divisible by 11.
pub fn elfproef(bsn: &str) -> bool {
    let b = bsn.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, d) in b.iter().enumerate() {
        let d = i64::from(d - b'0');
        sum += if i == 8 { -d } else { d * (9 - i as i64) };
    }
    sum != 0 && sum % 11 == 0
}

/// Whether a birth date is marked unknown: DatumGebruik 3 with Datum 1900-01-01.
fn unknown_birth_date(gd: NodeRef<'_>, date: NaiveDate) -> bool {
    gd.value("DatumGebruik") == Some("3") && date == ymd(1900, 1, 1)
}

/// TR002: a birth date lies at most 120 years before the Dagtekening, unless it
/// is marked unknown; older dates are typing errors. Argument: the
/// CDT_Geboortedatum element (default `Geboortedatum`).
fn birth_date_within_120_years(
    ctx: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(gd) = class.get(arg.unwrap_or("Geboortedatum")) else {
        return vec![];
    };
    let (Some(date), Some(dag)) = (gd.date("Datum"), ctx.dagtekening) else {
        return vec![];
    };
    let limit = dag.checked_sub_months(Months::new(120 * 12));
    if !unknown_birth_date(gd, date) && limit.is_some_and(|l| date < l) {
        vec![Hit::at(gd)]
    } else {
        vec![]
    }
}

/// CS139: DatumGebruik agrees with Datum: 1 (day unknown) needs day 01,
/// 2 (day and month unknown) needs 01-01, 3 (unknown) needs 1900-01-01, so that
/// a receiver can rely on the unknown parts being filled the same way.
/// Argument: the CDT_Geboortedatum element (default `Geboortedatum`).
fn birth_date_matches_usage(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(gd) = class.get(arg.unwrap_or("Geboortedatum")) else {
        return vec![];
    };
    let (Some(usage), Some(d)) = (gd.get("DatumGebruik"), gd.date("Datum")) else {
        return vec![];
    };
    let ok = match usage.normalized() {
        "1" => d.day() == 1,
        "2" => d.day() == 1 && d.month() == 1,
        "3" => d == ymd(1900, 1, 1),
        _ => true,
    };
    if ok { vec![] } else { vec![Hit::at(usage)] }
}

/// CS050: NaamGebruik fits the name: with a Partnernaam only 1, 2, 3 or 4 (ways
/// of combining the two names), without one only 1 (own name) or 6
/// (non-natural person). Argument: the CDT_VolledigeNaam element (default `Naam`).
fn naamgebruik_matches_partnernaam(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(naam) = class.get(arg.unwrap_or("Naam")) else {
        return vec![];
    };
    let Some(gebruik) = naam.get("NaamGebruik") else {
        return vec![];
    };
    let allowed: &[&str] = if naam.has("Partnernaam") {
        &["1", "2", "3", "4"]
    } else {
        &["1", "6"]
    };
    if allowed.contains(&gebruik.normalized()) {
        vec![]
    } else {
        vec![Hit::at(gebruik)]
    }
}

/// CS318: a client is a natural person, so NaamGebruik 6 (niet-natuurlijk
/// persoon) is not used for the client's name. Argument: the name element
/// (default `Naam`).
fn naamgebruik_not_organisation(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let path = format!("{}/NaamGebruik", arg.unwrap_or("Naam"));
    match class.get(&path) {
        Some(n) if n.normalized() == "6" => vec![Hit::at(n)],
        _ => vec![],
    }
}

/// CD007: Taal is given exactly when Communicatie/Vorm is 1 (tolk taal): the
/// language says which interpreter is needed and means nothing otherwise.
/// Argument: the CDT_Communicatie element (default `Communicatie`).
fn taal_iff_tolk(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(c) = class.get(arg.unwrap_or("Communicatie")) else {
        return vec![];
    };
    let Some(vorm) = c.value("Vorm") else {
        return vec![];
    };
    let tolk = vorm == "1";
    let mut hits = require(c, "Taal", tolk);
    hits.extend(forbid(c, "Taal", !tolk));
    hits
}

// ---------------------------------------------------------------------------
// Contact and address.

/// TR006: a Contact can be used: it has a Telefoon, or an Adres with both Huis
/// and Postcode. Argument: the CDT_Adres element (default `Adres`).
fn contact_reachable(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let adres = arg.unwrap_or("Adres");
    let by_address = class.has(&format!("{adres}/Huis")) && class.has(&format!("{adres}/Postcode"));
    if class.has("Telefoon") || by_address {
        vec![]
    } else {
        vec![Hit::at(class)]
    }
}

/// TR061: a client has at least one address of Soort 01 (BRP-adres),
/// 02 (correspondentieadres) or 03 (verblijfadres), so that there is always an
/// address to write to. Argument: the path to the Contact elements (default
/// `Contactgegevens/Contact`).
fn client_has_address(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let path = arg.unwrap_or("Contactgegevens/Contact");
    let found = class
        .all(path)
        .iter()
        .any(|c| is_one_of(c.value("Soort"), &["01", "02", "03"]) && c.has("Adres"));
    if found {
        return vec![];
    }
    let wrapper = path.rsplit_once('/').map_or("", |(p, _)| p);
    vec![Hit::at(nearest(class, wrapper))]
}

/// CD005: LandCode is given exactly when the Postcode is: the country says how
/// to read the postcode. Argument: the CDT_Adres element (default `Adres`).
fn landcode_iff_postcode(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(adres) = class.get(arg.unwrap_or("Adres")) else {
        return vec![];
    };
    let postcode = adres.has("Postcode");
    let mut hits = require(adres, "LandCode", postcode);
    hits.extend(forbid(adres, "LandCode", !postcode));
    hits
}

/// CD025: a Dutch address (LandCode NL) has Huis (house number), without which
/// it cannot be found. Argument: the CDT_Adres element (default `Adres`).
fn huis_for_dutch_address(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    match class.get(arg.unwrap_or("Adres")) {
        Some(adres) => require(adres, "Huis", adres.value("LandCode") == Some("NL")),
        None => vec![],
    }
}

/// CD034: a BRP-adres (Soort 01) or verblijfadres (Soort 03) has a Postcode.
/// Argument: the CDT_Adres element (default `Adres`); Soort is the class's own.
fn postcode_for_brp_address(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let path = format!("{}/Postcode", arg.unwrap_or("Adres"));
    require(class, &path, is_one_of(class.value("Soort"), &["01", "03"]))
}

/// Dutch postcode: four digits not starting with 0, then two capital letters.
fn is_dutch_postcode(p: &str) -> bool {
    match p.as_bytes() {
        [first, digits @ .., l1, l2] if digits.len() == 3 => {
            (b'1'..=b'9').contains(first)
                && digits.iter().all(u8::is_ascii_digit)
                && l1.is_ascii_uppercase()
                && l2.is_ascii_uppercase()
        }
        _ => false,
    }
}

/// CS089: with LandCode NL the Postcode has the Dutch format (1234AB), so that
/// it can be matched against the BAG. Argument: the CDT_Adres element (default
/// `Adres`).
fn dutch_postcode_format(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(adres) = class.get(arg.unwrap_or("Adres")) else {
        return vec![];
    };
    match adres.get("Postcode") {
        Some(p) if adres.value("LandCode") == Some("NL") && !is_dutch_postcode(p.normalized()) => {
            vec![Hit::at(p)]
        }
        _ => vec![],
    }
}

/// CD009: only a temporary address (Soort 04) has a Periode; the others are
/// valid until replaced. Argument: the period element (default `Periode`).
fn periode_only_for_temporary_address(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    forbid(
        class,
        arg.unwrap_or("Periode"),
        class.value("Soort") != Some("04"),
    )
}

// ---------------------------------------------------------------------------
// Dates.

/// TR018 / CS003: an end date is not before the start date of the same period.
/// Argument: `START,END` paths (default `Begindatum,Einddatum`).
fn end_not_before_start(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let paths = list(arg, "Begindatum,Einddatum");
    let (Some(start_path), Some(end_path)) = (paths.first(), paths.get(1)) else {
        return vec![];
    };
    let (Some(start), Some(end_node)) = (class.date(start_path), class.get(end_path)) else {
        return vec![];
    };
    match end_node.date("") {
        Some(end) if end < start => vec![Hit::at(end_node)],
        _ => vec![],
    }
}

/// TR134: a date is not after the Dagtekening of the message: it reports
/// something that has happened (a decision, a start, a stop, a birth).
/// Argument: path of the date (default `Datum`); every occurrence is checked.
fn date_not_after_dagtekening(
    ctx: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(dag) = ctx.dagtekening else {
        return vec![];
    };
    class
        .all(arg.unwrap_or("Datum"))
        .into_iter()
        .filter(|n| n.date("").is_some_and(|d| d > dag))
        .map(Hit::at)
        .collect()
}

/// TR380: a date lies after the Dagtekening: a new product can only be asked
/// for from tomorrow on. Argument: path of the date (default
/// `GewensteIngangsdatum`); every occurrence is checked.
fn date_after_dagtekening(ctx: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(dag) = ctx.dagtekening else {
        return vec![];
    };
    class
        .all(arg.unwrap_or("GewensteIngangsdatum"))
        .into_iter()
        .filter(|n| n.date("").is_some_and(|d| d <= dag))
        .map(Hit::at)
        .collect()
}

/// TR137: the Einddatum of a closed period is not before its Begindatum and
/// not after the Dagtekening: one can only declare what is over. Argument: the
/// CDT_GeslotenPeriode element (default `ProductPeriode`).
fn period_end_between_start_and_dagtekening(
    ctx: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(period) = class.get(arg.unwrap_or("ProductPeriode")) else {
        return vec![];
    };
    let (Some(end_node), Some(end)) = (period.get("Einddatum"), period.date("Einddatum")) else {
        return vec![];
    };
    let before_start = period.date("Begindatum").is_some_and(|b| end < b);
    let after_dag = ctx.dagtekening.is_some_and(|dag| end > dag);
    if before_start || after_dag {
        vec![Hit::at(end_node)]
    } else {
        vec![]
    }
}

/// TR335: an end date lies at most five years before the DeclaratieDagtekening
/// of the declaration it is part of: older care is no longer declared.
/// Argument: path of the date (default `ProductPeriode/Einddatum`).
fn end_within_5_years_of_declaration(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(end_node) = class.get(arg.unwrap_or("ProductPeriode/Einddatum")) else {
        return vec![];
    };
    let (Some(end), Some(reference)) = (
        end_node.date(""),
        inherited_date(class, "DeclaratieDagtekening"),
    ) else {
        return vec![];
    };
    match reference.checked_sub_months(Months::new(5 * 12)) {
        Some(limit) if end < limit => vec![Hit::at(end_node)],
        _ => vec![],
    }
}

/// CS100: a period lies on or after 01-01-2021, the start of declaring per
/// calendar month under release 3. Argument: the period element (default
/// `ProductPeriode`).
fn period_from_2021(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(p) = class.get(arg.unwrap_or("ProductPeriode")) else {
        return vec![];
    };
    let early = ["Begindatum", "Einddatum"]
        .iter()
        .any(|d| p.date(d).is_some_and(|d| d < ymd(2021, 1, 1)));
    if early { vec![Hit::at(p)] } else { vec![] }
}

/// CS340: the DeclaratiePeriode is exactly one whole calendar month.
/// Argument: the period element (default `DeclaratiePeriode`).
fn period_is_calendar_month(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(p) = class.get(arg.unwrap_or("DeclaratiePeriode")) else {
        return vec![];
    };
    match (p.date("Begindatum"), p.date("Einddatum")) {
        (Some(b), Some(e)) if b.day() != 1 || Some(e) != last_day_of_month(b) => vec![Hit::at(p)],
        _ => vec![],
    }
}

/// CS337: the ProductPeriode lies within one calendar month, as declarations
/// are per month. Argument: the period element (default `ProductPeriode`).
fn period_within_month(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(p) = class.get(arg.unwrap_or("ProductPeriode")) else {
        return vec![];
    };
    match (p.date("Begindatum"), p.date("Einddatum")) {
        (Some(b), Some(e)) if (b.year(), b.month()) != (e.year(), e.month()) => vec![Hit::at(p)],
        _ => vec![],
    }
}

// ---------------------------------------------------------------------------
// Products: Omvang, Budget, Product, end dates.

/// CD075: an end date is given when there is a Budget: a budget is for a
/// bounded period. Argument: the end date element (default `Einddatum`).
fn end_for_budget(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    require(class, arg.unwrap_or("Einddatum"), class.has("Budget"))
}

/// CD076: an end date is given when Omvang/Frequentie is 2 (per week), so that
/// the total volume can be computed. Argument: the end date element (default
/// `Einddatum`).
fn end_for_per_week(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    require(
        class,
        arg.unwrap_or("Einddatum"),
        class.value("Omvang/Frequentie") == Some("2"),
    )
}

/// CD077: no Omvang when there is a Budget; a product is given either as a
/// volume or as a budget. Argument: the Omvang element (default `Omvang`).
fn no_omvang_with_budget(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    forbid(class, arg.unwrap_or("Omvang"), class.has("Budget"))
}

/// CD078: no Budget when there is an Omvang (the other side of CD077).
/// Argument: the Budget element (default `Budget`).
fn no_budget_with_omvang(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    forbid(class, arg.unwrap_or("Budget"), class.has("Omvang"))
}

/// CD079: a Product is given unless there is a Budget (only a budget may be
/// assigned without naming the product). Argument: the Product element
/// (default `Product`).
fn product_without_budget(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    require(class, arg.unwrap_or("Product"), !class.has("Budget"))
}

/// CD041: a specific product (Product/Code given) has an Omvang.
/// Argument: the Omvang element (default `Omvang`).
fn omvang_for_product_code(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    require(class, arg.unwrap_or("Omvang"), class.has("Product/Code"))
}

/// CD080 / CD095 / CD096: an aspecific product (no Product/Code) that runs
/// past 31-12-2020 (or open ended) has no Omvang; since 2021 only a specific
/// product carries a volume. Argument: the end date element (default
/// `Einddatum`).
fn no_omvang_without_product_code(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let aspecific = !class.has("Product/Code");
    let current = after_2020_or_open(class.date(arg.unwrap_or("Einddatum")));
    forbid(class, "Omvang", aspecific && current)
}

/// CS338 / CS343: with Eenheid 14 (etmaal), 16 (dagdeel), 83 (euro's) or 84
/// (stuks) and an end date past 31-12-2020 (or open ended), Frequentie is
/// 2 (per week), 4 (per maand) or 6 (totaal binnen geldigheidsduur).
/// Argument: the end date element (default `Einddatum`).
fn frequentie_for_unit(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(omvang) = class.get("Omvang") else {
        return vec![];
    };
    let unit = is_one_of(omvang.value("Eenheid"), &["14", "16", "83", "84"]);
    let current = after_2020_or_open(class.date(arg.unwrap_or("Einddatum")));
    if unit && current && !is_one_of(omvang.value("Frequentie"), &["2", "4", "6"]) {
        vec![Hit::at(omvang)]
    } else {
        vec![]
    }
}

/// CS335: RedenWijziging 13 (verwijderd) only when the Ingangsdatum equals the
/// Einddatum: a deleted assignment is closed on its first day. Argument: the
/// RedenWijziging element (default `RedenWijziging`).
fn verwijderd_only_without_duration(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    match class.get(arg.unwrap_or("RedenWijziging")) {
        Some(r)
            if r.normalized() == "13"
                && (class.date("Einddatum").is_none()
                    || class.date("Ingangsdatum") != class.date("Einddatum")) =>
        {
            vec![Hit::at(r)]
        }
        _ => vec![],
    }
}

/// CS336: RedenWijziging 01 (administratieve correctie, vervallen) is no longer
/// used. Argument: the RedenWijziging element (default `RedenWijziging`).
fn reden_wijziging_not_withdrawn_code(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    match class.get(arg.unwrap_or("RedenWijziging")) {
        Some(r) if r.normalized() == "01" => vec![Hit::at(r)],
        _ => vec![],
    }
}

/// CS058: StatusAanlevering is 1 (eerste aanlevering) or 3 (verwijderen
/// aanlevering); a start or stop is corrected by deleting and resending it.
/// Argument: the element (default `StatusAanlevering`).
fn status_new_or_delete(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    match class.get(arg.unwrap_or("StatusAanlevering")) {
        Some(s) if !is_one_of(Some(s.normalized()), &["1", "3"]) => vec![Hit::at(s)],
        _ => vec![],
    }
}

/// CD043: BeschikkingIngangsdatum is given exactly when there is a
/// BeschikkingNummer: the date belongs to that beschikking. Argument: the date
/// element (default `BeschikkingIngangsdatum`).
fn beschikking_date_iff_number(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let path = arg.unwrap_or("BeschikkingIngangsdatum");
    let numbered = class.has("BeschikkingNummer");
    let mut hits = require(class, path, numbered);
    hits.extend(forbid(class, path, !numbered));
    hits
}

/// Verwijzer types that are care providers (huisarts, jeugdarts, medisch
/// specialist, gecertificeerde instelling): identified by ZorgverlenerCode.
const PROVIDER_REFERRERS: &[&str] = &["02", "03", "04", "05"];

/// CD066: a referring care provider (Type 02..05) identified by its
/// ZorgverlenerCode is not also given by name. Argument: the CDT_Verwijzer
/// element (default `Verwijzer`).
fn referrer_name_not_with_code(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(v) = class.get(arg.unwrap_or("Verwijzer")) else {
        return vec![];
    };
    let provider = is_one_of(v.value("Type"), PROVIDER_REFERRERS);
    forbid(v, "Naam", provider && v.has("ZorgverlenerCode"))
}

/// CD067: a referring care provider (Type 02..05) without ZorgverlenerCode is
/// named. Argument: the CDT_Verwijzer element (default `Verwijzer`).
fn referrer_named_without_code(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(v) = class.get(arg.unwrap_or("Verwijzer")) else {
        return vec![];
    };
    let provider = is_one_of(v.value("Type"), PROVIDER_REFERRERS);
    require(v, "Naam", provider && !v.has("ZorgverlenerCode"))
}

/// CD068: only a referring care provider (Type 02..05) has a ZorgverlenerCode.
/// Argument: the CDT_Verwijzer element (default `Verwijzer`).
fn provider_code_only_for_providers(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(v) = class.get(arg.unwrap_or("Verwijzer")) else {
        return vec![];
    };
    let other = v
        .value("Type")
        .is_some_and(|t| !PROVIDER_REFERRERS.contains(&t));
    forbid(v, "ZorgverlenerCode", other)
}

// ---------------------------------------------------------------------------
// Verzoek and antwoord.

/// TR352 / TR353: at least one of the listed elements is present (a verzoek om
/// wijziging names the current products, and changes something). Argument:
/// the elements, comma separated.
fn at_least_one_of(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let names = list(arg, "");
    if names.is_empty() || names.iter().any(|n| class.has(n)) {
        return vec![];
    }
    let names = names.join(", ");
    vec![Hit::with(
        class,
        format!("Geen van {names} is aanwezig."),
        format!("None of {names} is present."),
    )]
}

/// CD085: a rejected request (VerzoekAntwoord 1) gives its reason.
/// Argument: the reason element (default `RedenAfwijzingVerzoek`).
fn reason_for_rejection(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    require(
        class,
        arg.unwrap_or("RedenAfwijzingVerzoek"),
        class.value("VerzoekAntwoord") == Some("1"),
    )
}

/// CD086: a request still under investigation (VerzoekAntwoord 2) has no
/// rejection reason. Argument: the reason element (default
/// `RedenAfwijzingVerzoek`).
fn no_reason_while_investigating(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    forbid(
        class,
        arg.unwrap_or("RedenAfwijzingVerzoek"),
        class.value("VerzoekAntwoord") == Some("2"),
    )
}

/// TR377 (iJw): a rejection because of the woonplaatsbeginsel
/// (RedenAfwijzingVerzoek 8) names the responsible gemeente in Woonplaatsbeginsel.
/// Argument: that element (default `Woonplaatsbeginsel`).
fn woonplaatsbeginsel_for_reason_8(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    require(
        class,
        arg.unwrap_or("Woonplaatsbeginsel"),
        class.value("RedenAfwijzingVerzoek") == Some("8"),
    )
}

/// TR409 (iJw): Woonplaatsbeginsel only with RedenAfwijzingVerzoek 8.
/// Argument: that element (default `Woonplaatsbeginsel`).
fn woonplaatsbeginsel_only_for_reason_8(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    forbid(
        class,
        arg.unwrap_or("Woonplaatsbeginsel"),
        class.value("RedenAfwijzingVerzoek") != Some("8"),
    )
}

// ---------------------------------------------------------------------------
// Declaratie and declaratie-antwoord.

/// CD060: a credit prestatie names the prestatie it credits in
/// ProductReferentie/VorigReferentieNummer; a debet prestatie does not.
/// Argument: the VorigReferentieNummer path (default
/// `ProductReferentie/VorigReferentieNummer`).
fn vorig_referentie_iff_credit(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let path = arg.unwrap_or("ProductReferentie/VorigReferentieNummer");
    match class.value("IngediendBedrag/DebetCredit") {
        Some("C") => require(class, path, true),
        Some(_) => forbid(class, path, true),
        None => vec![],
    }
}

/// CD087: ProductTarief is given unless the Eenheid is 83 (euro's), where the
/// volume already is the amount. Argument: the tariff element (default
/// `ProductTarief`).
fn tarief_unless_euro(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let path = arg.unwrap_or("ProductTarief");
    match class.value("Eenheid") {
        Some("83") => forbid(class, path, true),
        Some(_) => require(class, path, true),
        None => vec![],
    }
}

/// CS339: with Eenheid 83 (euro's) the IngediendBedrag equals the
/// GeleverdVolume. Argument: the CDT_BedragMetDC element (default
/// `IngediendBedrag`).
fn euro_amount_equals_volume(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    if class.value("Eenheid") != Some("83") {
        return vec![];
    }
    let Some(bedrag) = class.get(arg.unwrap_or("IngediendBedrag")) else {
        return vec![];
    };
    match (bedrag.int("Bedrag"), class.int("GeleverdVolume")) {
        (Some(b), Some(v)) if b != v => vec![Hit::with(
            bedrag,
            format!("Bedrag {b}, GeleverdVolume {v}."),
            format!("Amount {b}, GeleverdVolume {v}."),
        )],
        _ => vec![],
    }
}

/// CS319: the DeclaratieNummer consists of letters and digits only.
/// Argument: the element (default `DeclaratieNummer`).
fn alphanumeric(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    match class.get(arg.unwrap_or("DeclaratieNummer")) {
        Some(n) => {
            let v = n.normalized();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                vec![Hit::at(n)]
            } else {
                vec![]
            }
        }
        None => vec![],
    }
}

/// CS325: an amount of 0 is marked D (debet), so that zero has one spelling.
/// Argument: the CDT_BedragMetDC / CDT_TotaalBedragMetDC element (default
/// `IngediendBedrag`).
fn zero_amount_is_debet(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(b) = class.get(arg.unwrap_or("IngediendBedrag")) else {
        return vec![];
    };
    let amount = b.int("Bedrag").or_else(|| b.int("TotaalBedrag"));
    match b.get("DebetCredit") {
        Some(dc) if amount == Some(0) && dc.normalized() == "C" => vec![Hit::at(dc)],
        _ => vec![],
    }
}

/// Sum of the signed IngediendBedrag of the prestaties below `class`.
fn sum_of_prestaties(class: NodeRef<'_>) -> i128 {
    class
        .all("Clienten/Client/Prestaties/Prestatie/IngediendBedrag")
        .into_iter()
        .filter_map(|b| signed_amount(b, "Bedrag"))
        .sum()
}

/// TR358: TotaalIngediendBedrag equals the sum of the prestaties'
/// IngediendBedrag, debet added and credit subtracted.
fn total_equals_sum_of_prestaties(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    _: Option<&str>,
) -> Vec<Hit> {
    let Some(total_node) = class.get("TotaalIngediendBedrag") else {
        return vec![];
    };
    let Some(total) = signed_amount(total_node, "TotaalBedrag") else {
        return vec![];
    };
    let sum = sum_of_prestaties(class);
    if sum != total {
        vec![Hit::with(
            total_node,
            format!("Totaal {total}, som van de prestaties {sum} (centen)."),
            format!("Total {total}, sum of the prestaties {sum} (cents)."),
        )]
    } else {
        vec![]
    }
}

/// RetourCodes on a DeclaratieAntwoord that do not reject the declaration:
/// 0200 (geen opmerking) and 8001 (declaratie volledig toegewezen).
const DECLARATION_NOT_REJECTED: &[&str] = &["0200", "8001"];

/// TR342: a declaratie-antwoord lists exactly the rejected prestaties: the sum
/// of their IngediendBedrag equals TotaalIngediendBedrag minus
/// TotaalToegekendBedrag. When the DeclaratieAntwoord's own RetourCodes reject
/// the whole declaration, the prestaties are not judged: then no prestaties are
/// listed and TotaalToegekendBedrag is 0, and there is no sum to check.
fn rejected_prestaties_explain_difference(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    _: Option<&str>,
) -> Vec<Hit> {
    let Some(toegekend_node) = class.get("TotaalToegekendBedrag") else {
        return vec![];
    };
    let rejected = class
        .all("RetourCodes/RetourCode")
        .iter()
        .any(|c| !DECLARATION_NOT_REJECTED.contains(&c.normalized()));
    if rejected {
        let mut hits = Vec::new();
        if toegekend_node.int("TotaalBedrag").is_some_and(|t| t != 0) {
            hits.push(Hit::with(
                toegekend_node,
                "De declaratie is afgewezen, dus het toegekende totaal is 0.".to_string(),
                "The declaration is rejected, so the granted total is 0.".to_string(),
            ));
        }
        if let Some(clienten) = class.get("Clienten") {
            hits.push(Hit::with(
                clienten,
                "De declaratie is afgewezen, dus er worden geen prestaties opgenomen.".to_string(),
                "The declaration is rejected, so no prestaties are listed.".to_string(),
            ));
        }
        return hits;
    }
    let ingediend = class
        .get("TotaalIngediendBedrag")
        .and_then(|n| signed_amount(n, "TotaalBedrag"));
    let (Some(ingediend), Some(toegekend)) =
        (ingediend, signed_amount(toegekend_node, "TotaalBedrag"))
    else {
        return vec![];
    };
    let sum = sum_of_prestaties(class);
    if sum != ingediend - toegekend {
        vec![Hit::with(
            toegekend_node,
            format!(
                "Ingediend {ingediend} min toegekend {toegekend} is {}, som van de afgewezen prestaties {sum} (centen).",
                ingediend - toegekend
            ),
            format!(
                "Submitted {ingediend} minus granted {toegekend} is {}, sum of the rejected prestaties {sum} (cents).",
                ingediend - toegekend
            ),
        )]
    } else {
        vec![]
    }
}

/// TR316: a debet prestatie is not credited in the same message: no
/// VorigReferentieNummer equals the ReferentieNummer of a prestatie in the
/// message. Argument: the CDT_Referentie element (default `ProductReferentie`).
fn no_credit_of_same_message(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(group) = group_if_first(class) else {
        return vec![];
    };
    let referentie = arg.unwrap_or("ProductReferentie");
    let nummer = format!("{referentie}/ReferentieNummer");
    let vorig = format!("{referentie}/VorigReferentieNummer");
    let in_message: HashSet<&str> = group.iter().filter_map(|p| p.value(&nummer)).collect();
    group
        .iter()
        .filter_map(|p| p.get(&vorig))
        .filter(|v| in_message.contains(v.normalized()))
        .map(Hit::at)
        .collect()
}

/// TR416: per ToewijzingNummer, ProductCategorie, ProductCode and
/// ProductPeriode there is at most one debet prestatie in the message (all
/// deliveries of a period are summed into one line). Argument: the key paths,
/// comma separated; the client's logical key is added.
fn one_debet_per_product_period(
    _: &RuleCtx<'_>,
    class: NodeRef<'_>,
    arg: Option<&str>,
) -> Vec<Hit> {
    let Some(group) = group_if_first(class) else {
        return vec![];
    };
    let paths = list(
        arg,
        "ToewijzingNummer,ProductCategorie,ProductCode,ProductPeriode/Begindatum,ProductPeriode/Einddatum",
    );
    let mut seen = HashMap::new();
    let mut hits = Vec::new();
    for p in group {
        if p.value("IngediendBedrag/DebetCredit") != Some("D") {
            continue;
        }
        let key = scoped_key(p, &paths);
        match seen.get(&key) {
            Some(&first) => {
                let (nl, en) = same_as(
                    first,
                    "Zelfde product en periode",
                    "Same product and period",
                );
                hits.push(Hit::with(p, nl, en));
            }
            None => {
                seen.insert(key, p);
            }
        }
    }
    hits
}

// ---------------------------------------------------------------------------
// Uniqueness and overlap.

/// TR101: no duplicate lines: the logical key of every occurrence of a class,
/// together with the logical keys of the classes above it, is unique in the
/// message. Argument: the key paths, comma separated (for example
/// `ToewijzingNummer`); the keys of enclosing classes are their own TR101
/// arguments.
fn unique_logical_key(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let paths = list(arg, "");
    if paths.is_empty() {
        return vec![];
    }
    let Some(group) = group_if_first(class) else {
        return vec![];
    };
    let mut seen = HashMap::new();
    let mut hits = Vec::new();
    for n in group {
        let key = scoped_key(n, &paths);
        match seen.get(&key) {
            Some(&first) => {
                let (nl, en) = same_as(first, "Zelfde sleutel", "Same key");
                hits.push(Hit::with(n, nl, en));
            }
            None => {
                seen.insert(key, n);
            }
        }
    }
    hits
}

/// TR315 / TR383: a value occurs at most once in the message among all
/// occurrences of the class (VorigReferentieNummer of a prestatie,
/// ReferentieAanbieder of an aangevraagd product). Argument: the value's path.
fn unique_in_message(_: &RuleCtx<'_>, class: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let Some(path) = arg else {
        return vec![];
    };
    let Some(group) = group_if_first(class) else {
        return vec![];
    };
    let mut seen: HashMap<&str, NodeRef<'_>> = HashMap::new();
    let mut hits = Vec::new();
    for v in group.iter().filter_map(|n| n.get(path)) {
        match seen.get(v.normalized()) {
            Some(&first) => {
                let (nl, en) = same_as(first, "Zelfde waarde", "Same value");
                hits.push(Hit::with(v, nl, en));
            }
            None => {
                seen.insert(v.normalized(), v);
            }
        }
    }
    hits
}

/// The product and care period of one item in an overlap check.
struct Care<'m> {
    node: NodeRef<'m>,
    category: Option<&'m str>,
    code: Option<&'m str>,
    start: NaiveDate,
    end: NaiveDate,
}

/// The latest-ending item seen so far in one comparison group.
#[derive(Clone, Copy)]
struct Latest<'m> {
    end: NaiveDate,
    node: NodeRef<'m>,
}

fn extend_latest<'m>(slot: &mut Option<Latest<'m>>, item: &Care<'m>) {
    if slot.is_none_or(|l| item.end > l.end) {
        *slot = Some(Latest {
            end: item.end,
            node: item.node,
        });
    }
}

/// TR302 / TR386 / TR410: a product occurs more than once in a list of
/// products only when the care periods do not overlap. Without a Product/Code
/// the product is its category; without a category it overlaps every other
/// product. Assignments deleted or withdrawn on their first day (RedenWijziging
/// 13 or 01 with Einddatum equal to the start) do not count. Attached to the
/// list wrapper; argument: `START,END[,CATEGORIES]`, the item's start and end
/// date elements and, for iWmo, the `|`-separated product categories that may
/// overlap (11|12|13|14).
///
/// Items are swept in order of start date, keeping the latest end per kind of
/// product, so that a long list costs n log n, not n².
fn no_overlapping_products(_: &RuleCtx<'_>, list_node: NodeRef<'_>, arg: Option<&str>) -> Vec<Hit> {
    let a = list(arg, "Ingangsdatum,Einddatum");
    let (Some(start_path), Some(end_path)) = (a.first(), a.get(1)) else {
        return vec![];
    };
    let stacking: Vec<&str> = a.get(2).map(|s| s.split('|').collect()).unwrap_or_default();
    let mut items: Vec<Care<'_>> = list_node
        .children()
        .filter_map(|n| {
            let start = n.date(start_path)?;
            let end = n.date(end_path);
            let withdrawn =
                is_one_of(n.value("RedenWijziging"), &["01", "13"]) && end == Some(start);
            let category = n.value("Product/Categorie");
            if withdrawn || category.is_some_and(|c| stacking.contains(&c)) {
                return None;
            }
            Some(Care {
                node: n,
                category,
                code: n.value("Product/Code"),
                start,
                end: end.unwrap_or(NaiveDate::MAX),
            })
        })
        .collect();
    items.sort_by_key(|c| c.start);

    let mut any: Option<Latest<'_>> = None;
    let mut no_category: Option<Latest<'_>> = None;
    let mut by_category: HashMap<&str, Option<Latest<'_>>> = HashMap::new();
    let mut category_only: HashMap<&str, Option<Latest<'_>>> = HashMap::new();
    let mut by_code: HashMap<(&str, &str), Option<Latest<'_>>> = HashMap::new();
    let mut hits = Vec::new();
    for item in &items {
        // Earlier items start no later, so they overlap when they end on or after this start.
        let candidates = match (item.category, item.code) {
            (None, _) => vec![any],
            (Some(c), None) => vec![no_category, by_category.get(c).copied().flatten()],
            (Some(c), Some(k)) => vec![
                no_category,
                category_only.get(c).copied().flatten(),
                by_code.get(&(c, k)).copied().flatten(),
            ],
        };
        if let Some(other) = candidates
            .into_iter()
            .flatten()
            .find(|l| l.end >= item.start)
        {
            let (nl, en) = same_as(
                other.node,
                "Overlapt met hetzelfde product",
                "Overlaps the same product",
            );
            hits.push(Hit::with(item.node, nl, en));
        }
        extend_latest(&mut any, item);
        match (item.category, item.code) {
            (None, _) => extend_latest(&mut no_category, item),
            (Some(c), code) => {
                extend_latest(by_category.entry(c).or_default(), item);
                match code {
                    None => extend_latest(category_only.entry(c).or_default(), item),
                    Some(k) => extend_latest(by_code.entry((c, k)).or_default(), item),
                }
            }
        }
    }
    hits
}

static IMPLEMENTATIONS: &[(&str, RuleFn)] = &[
    // Condities.
    ("CD005", landcode_iff_postcode),
    ("CD007", taal_iff_tolk),
    ("CD009", periode_only_for_temporary_address),
    ("CD025", huis_for_dutch_address),
    ("CD034", postcode_for_brp_address),
    ("CD041", omvang_for_product_code),
    ("CD043", beschikking_date_iff_number),
    ("CD060", vorig_referentie_iff_credit),
    ("CD066", referrer_name_not_with_code),
    ("CD067", referrer_named_without_code),
    ("CD068", provider_code_only_for_providers),
    ("CD075", end_for_budget),
    ("CD076", end_for_per_week),
    ("CD077", no_omvang_with_budget),
    ("CD078", no_budget_with_omvang),
    ("CD079", product_without_budget),
    ("CD080", no_omvang_without_product_code),
    ("CD085", reason_for_rejection),
    ("CD086", no_reason_while_investigating),
    ("CD087", tarief_unless_euro),
    ("CD095", no_omvang_without_product_code),
    ("CD096", no_omvang_without_product_code),
    // Constraints. CS015 and CS025 (BerichtSubversie 2, BerichtVersie 3) are
    // fixed values in the message structure and checked there.
    ("CS002", bsn_elfproef),
    ("CS003", end_not_before_start),
    ("CS050", naamgebruik_matches_partnernaam),
    ("CS058", status_new_or_delete),
    ("CS089", dutch_postcode_format),
    ("CS100", period_from_2021),
    ("CS139", birth_date_matches_usage),
    ("CS318", naamgebruik_not_organisation),
    ("CS319", alphanumeric),
    ("CS325", zero_amount_is_debet),
    ("CS335", verwijderd_only_without_duration),
    ("CS336", reden_wijziging_not_withdrawn_code),
    ("CS337", period_within_month),
    ("CS338", frequentie_for_unit),
    ("CS339", euro_amount_equals_volume),
    ("CS340", period_is_calendar_month),
    ("CS343", frequentie_for_unit),
    // Technische regels.
    ("TR002", birth_date_within_120_years),
    ("TR006", contact_reachable),
    ("TR018", end_not_before_start),
    ("TR061", client_has_address),
    ("TR101", unique_logical_key),
    ("TR134", date_not_after_dagtekening),
    ("TR137", period_end_between_start_and_dagtekening),
    ("TR302", no_overlapping_products),
    ("TR315", unique_in_message),
    ("TR316", no_credit_of_same_message),
    ("TR335", end_within_5_years_of_declaration),
    ("TR342", rejected_prestaties_explain_difference),
    ("TR352", at_least_one_of),
    ("TR353", at_least_one_of),
    ("TR358", total_equals_sum_of_prestaties),
    ("TR377", woonplaatsbeginsel_for_reason_8),
    ("TR380", date_after_dagtekening),
    ("TR383", unique_in_message),
    ("TR386", no_overlapping_products),
    ("TR409", woonplaatsbeginsel_only_for_reason_8),
    ("TR410", no_overlapping_products),
    ("TR416", one_debet_per_product_period),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::schema::{Check, ClassDef, ClassId, Content, MessageKey, Schema, Standard};

    fn schema() -> &'static Schema {
        Schema::builtin().expect("schema loads")
    }

    /// Every rule attachment in the schema data: (standard, message number,
    /// class, check), found by walking each message's classes from its root.
    fn attachments() -> Vec<(
        &'static Standard,
        &'static str,
        &'static ClassDef,
        &'static Check,
    )> {
        let mut out = Vec::new();
        for std in &schema().standards {
            for msg in &std.messages {
                let mut todo: Vec<ClassId> = vec![msg.root];
                let mut seen = BTreeSet::new();
                while let Some(id) = todo.pop() {
                    if !seen.insert(id) {
                        continue;
                    }
                    let class = std.class(id);
                    for e in &class.elements {
                        if let Content::Complex(c) = e.content {
                            todo.push(c);
                        }
                    }
                    for check in &class.checks {
                        out.push((std, msg.number.as_str(), class, check));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn elfproef_examples() {
        assert!(elfproef("999900006"));
        assert!(elfproef("111222333"));
        assert!(!elfproef("123456789"));
        assert!(!elfproef("000000000"));
        assert!(!elfproef("12345678"));
    }

    #[test]
    fn every_attached_rule_is_implemented_and_catalogued() {
        let all = attachments();
        assert!(all.len() > 100, "only {} rule attachments", all.len());
        let mut problems = Vec::new();
        for (std, number, class, check) in &all {
            let at = format!(
                "{}{} {} {}",
                std.message_prefix, number, class.name, check.rule
            );
            if implementation(&check.rule).is_none() {
                problems.push(format!("{at}: no implementation"));
            }
            if catalogue().is_empty() {
                continue; // rules.toml not written yet
            }
            match catalogue().get(&check.rule) {
                None => problems.push(format!("{at}: not in rules.toml")),
                Some(info) => {
                    if !info.messages.is_empty() && !info.messages.iter().any(|m| m == number) {
                        problems.push(format!(
                            "{at}: rules.toml lists messages {:?}",
                            info.messages
                        ));
                    }
                    if !info.standards.is_empty() && !info.standards.contains(&std.name) {
                        problems.push(format!(
                            "{at}: rules.toml lists standards {:?}",
                            info.standards
                        ));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_implemented_rule_is_attached_somewhere() {
        let attached: BTreeSet<&str> = attachments().iter().map(|a| a.3.rule.as_str()).collect();
        let unused: Vec<&str> = implemented().filter(|r| !attached.contains(r)).collect();
        assert!(
            unused.is_empty(),
            "implemented but never attached: {unused:?}"
        );
    }

    /// Whether `path` names an element below `class` in the schema.
    fn path_exists(std: &Standard, class: &ClassDef, path: &str) -> bool {
        let mut cur = class;
        for step in path.split('/') {
            let Some(e) = cur.elements.iter().find(|e| e.name == step) else {
                return false;
            };
            match e.content {
                Content::Complex(c) => cur = std.class(c),
                Content::Simple(_) => {
                    if !path.ends_with(step) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Arguments name elements that exist, so that no rule silently checks
    /// nothing because of a typing error in the data. On a list wrapper the
    /// names are those of its items; `|`-lists and numbers are code lists.
    #[test]
    fn rule_arguments_name_existing_elements() {
        let mut problems = Vec::new();
        for (std, number, class, check) in attachments() {
            let item = match class.elements.as_slice() {
                [only] if only.max > 1 => match only.content {
                    Content::Complex(c) => Some(std.class(c)),
                    Content::Simple(_) => None,
                },
                _ => None,
            };
            for part in list(check.arg.as_deref(), "") {
                if part.contains('|') || part.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let found = path_exists(std, class, part)
                    || item.is_some_and(|i| path_exists(std, i, part));
                if !found {
                    problems.push(format!(
                        "{}{} {} {}: no element {part}",
                        std.message_prefix, number, class.name, check.rule
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    fn key(name: &str) -> MessageKey {
        schema().by_name(name).expect("message exists")
    }

    /// Builds a message from `(path, value)` pairs below the root. A step
    /// `Name#k` is the k-th occurrence of Name (created when missing).
    fn build(name: &str, values: &[(&str, &str)]) -> Message {
        let mut msg = Message::new(schema(), key(name));
        for (path, value) in values {
            let mut cur: NodeId = 0;
            for step in path.split('/') {
                let (el, nth) = match step.split_once('#') {
                    Some((e, k)) => (e, k.parse::<usize>().expect("index")),
                    None => (step, 1),
                };
                loop {
                    let existing: Vec<NodeId> = msg
                        .node(cur)
                        .children()
                        .filter(|c| c.name() == el)
                        .map(|c| c.id)
                        .collect();
                    if let Some(&id) = existing.get(nth - 1) {
                        cur = id;
                        break;
                    }
                    msg.add_element(cur, el)
                        .unwrap_or_else(|| panic!("{name}: no element {el} in {path}"));
                }
            }
            msg.set_text(cur, value);
        }
        msg
    }

    fn rules_of(msg: &Message) -> Vec<String> {
        let mut r: Vec<String> = check(msg).into_iter().map(|f| f.rule).collect();
        r.sort();
        r
    }

    #[test]
    fn dutch_postcodes() {
        assert!(is_dutch_postcode("1234AB"));
        assert!(is_dutch_postcode("9999XX"));
        for p in [
            "0123AB", "1234ab", "1234 AB", "123AB", "1234ABC", "", "12345A",
        ] {
            assert!(!is_dutch_postcode(p), "{p}");
        }
    }

    #[test]
    fn birth_date_limit_on_a_leap_day() {
        let at = |birth: &str| {
            rules_of(&build(
                "WMO305",
                &[
                    ("Header/BerichtIdentificatie/Dagtekening", "2024-02-29"),
                    ("Client/Geboortedatum/Datum", birth),
                ],
            ))
        };
        assert!(at("1990-05-01").is_empty());
        assert!(at("1904-02-29").is_empty());
        assert_eq!(at("1904-02-28"), ["TR002"]);
    }

    fn product(
        n: usize,
        category: Option<&str>,
        code: Option<&str>,
        start: &str,
        end: &str,
    ) -> Vec<(String, String)> {
        let p = format!("Client/ToegewezenProducten/ToegewezenProduct#{n}");
        let mut v = vec![
            (format!("{p}/ToewijzingNummer"), format!("{n}")),
            (format!("{p}/Ingangsdatum"), start.to_string()),
            (format!("{p}/Einddatum"), end.to_string()),
        ];
        if let Some(c) = category {
            v.push((format!("{p}/Product/Categorie"), c.to_string()));
        }
        if let Some(c) = code {
            v.push((format!("{p}/Product/Code"), c.to_string()));
        }
        v
    }

    fn overlap_rules(standard: &str, products: &[Vec<(String, String)>]) -> Vec<String> {
        let values: Vec<(&str, &str)> = products
            .iter()
            .flatten()
            .map(|(p, v)| (p.as_str(), v.as_str()))
            .collect();
        rules_of(&build(standard, &values))
            .into_iter()
            .filter(|r| r == "TR302")
            .collect()
    }

    #[test]
    fn overlapping_products() {
        let (a, b) = ("2026-01-01", "2026-06-30");
        let (c, d) = ("2026-06-30", "2026-12-31");
        let (e, f) = ("2026-07-01", "2026-12-31");
        let overlap = |x: Vec<(String, String)>, y: Vec<(String, String)>| {
            overlap_rules("WMO301", &[x, y]).len()
        };
        // Same code, overlapping by one day; adjoining periods do not overlap.
        assert_eq!(
            overlap(
                product(1, Some("02"), Some("02A01"), a, b),
                product(2, Some("02"), Some("02A01"), c, d)
            ),
            1
        );
        assert_eq!(
            overlap(
                product(1, Some("02"), Some("02A01"), a, b),
                product(2, Some("02"), Some("02A01"), e, f)
            ),
            0
        );
        // Different codes, or different categories, may overlap.
        assert_eq!(
            overlap(
                product(1, Some("02"), Some("02A01"), a, d),
                product(2, Some("02"), Some("02A02"), e, f)
            ),
            0
        );
        assert_eq!(
            overlap(
                product(1, Some("02"), None, a, d),
                product(2, Some("03"), None, e, f)
            ),
            0
        );
        // Without a code the category counts; without a category everything does.
        assert_eq!(
            overlap(
                product(1, Some("02"), None, a, d),
                product(2, Some("02"), Some("02A02"), e, f)
            ),
            1
        );
        assert_eq!(
            overlap(
                product(1, None, None, a, d),
                product(2, Some("07"), Some("07A01"), e, f)
            ),
            1
        );
        assert_eq!(
            overlap(
                product(2, Some("07"), Some("07A01"), e, f),
                product(1, None, None, a, d)
            ),
            1
        );
        // iWmo: categories 11 to 14 may overlap, also with a product without category.
        assert_eq!(
            overlap(
                product(1, Some("14"), None, a, d),
                product(2, Some("14"), None, e, f)
            ),
            0
        );
        assert_eq!(
            overlap(
                product(1, None, None, a, d),
                product(2, Some("12"), None, e, f)
            ),
            0
        );
        // A deleted assignment (RedenWijziging 13, ends on its first day) does not count.
        let mut deleted = product(1, Some("02"), Some("02A01"), e, e);
        deleted.push((
            "Client/ToegewezenProducten/ToegewezenProduct#1/RedenWijziging".to_string(),
            "13".to_string(),
        ));
        assert_eq!(
            overlap(deleted, product(2, Some("02"), Some("02A01"), e, f)),
            0
        );
        // Open ended periods overlap everything after their start.
        assert_eq!(
            overlap(
                product(1, Some("02"), None, a, "x"),
                product(2, Some("02"), None, "2030-01-01", "2030-02-01")
            ),
            1
        );
    }

    #[test]
    fn rejected_declaration_answer() {
        let base = [
            ("Header/BerichtIdentificatie/Dagtekening", "2026-08-25"),
            (
                "DeclaratieAntwoord/TotaalIngediendBedrag/TotaalBedrag",
                "48960",
            ),
            ("DeclaratieAntwoord/TotaalIngediendBedrag/DebetCredit", "D"),
            ("DeclaratieAntwoord/TotaalToegekendBedrag/DebetCredit", "D"),
        ];
        let with = |toegekend: &str, code: &str| {
            let mut v = base.to_vec();
            v.push((
                "DeclaratieAntwoord/TotaalToegekendBedrag/TotaalBedrag",
                toegekend,
            ));
            v.push(("DeclaratieAntwoord/RetourCodes/RetourCode", code));
            rules_of(&build("JW325", &v))
        };
        // Rejected: no sum check, but the granted total is 0.
        assert!(with("0", "9333").is_empty());
        assert_eq!(with("100", "9333"), ["TR342"]);
        // Accepted in full: granted equals submitted, no prestaties.
        assert!(with("48960", "8001").is_empty());
        assert_eq!(with("0", "0200"), ["TR342"]);
    }

    /// A tiny deterministic generator, so the robustness test needs no crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    const VALUES: &[&str] = &[
        "",
        " ",
        "x",
        "0",
        "1",
        "2",
        "3",
        "4",
        "6",
        "8",
        "01",
        "02",
        "03",
        "04",
        "05",
        "13",
        "14",
        "83",
        "C",
        "D",
        "NL",
        "1234AB",
        "0123ab",
        "999900006",
        "2020-12-31",
        "2021-01-01",
        "2024-02-29",
        "2026-06-10",
        "1900-01-01",
        "0001-01-01",
        "9999-12-31",
        "2023-02-29",
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999999999999999",
        "-1",
    ];

    fn grow(msg: &mut Message, parent: NodeId, rng: &mut Lcg, depth: usize) {
        let Some(class) = msg.node(parent).class() else {
            let v = VALUES[rng.next() as usize % VALUES.len()];
            msg.set_text(parent, v);
            return;
        };
        if depth > 12 {
            return;
        }
        for e in &class.elements {
            let copies = match rng.next() % 6 {
                0 => 0,
                1 if e.max > 1 => 3,
                _ => 1,
            };
            for _ in 0..copies {
                if let Some(id) = msg.add_element(parent, &e.name) {
                    grow(msg, id, rng, depth + 1);
                }
            }
        }
    }

    /// Rules never panic, whatever the tree: elements missing, repeated or
    /// holding garbage, in every message of both standards.
    #[test]
    fn rules_survive_arbitrary_trees() {
        let mut rng = Lcg(0x5eed);
        for (s, std) in schema().standards.iter().enumerate() {
            for m in 0..std.messages.len() {
                let key = MessageKey {
                    standard: s,
                    message: m,
                };
                check(&Message::new(schema(), key));
                for _ in 0..150 {
                    let mut msg = Message::new(schema(), key);
                    grow(&mut msg, 0, &mut rng, 0);
                    check(&msg);
                }
            }
        }
    }
}
