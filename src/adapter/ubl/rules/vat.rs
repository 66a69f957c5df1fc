//! EN 16931's VAT category families: BR-S (standard rate), BR-Z (zero
//! rate), BR-E (exempt), BR-AE (reverse charge), BR-IC (intra-community
//! supply, code K), BR-G (export), BR-O (not subject to VAT), BR-AF (IGIC,
//! code L), BR-AG (IPSI, code M) and BR-B (split payment).
//!
//! The families repeat the same few shapes per category, so each shape is
//! one meaning here and every rule is a row in
//! `schemas/ubl/rules/en16931-vat.toml` naming its category (and, where the
//! official artefact words one family's rule a little differently from the
//! others', the variant it takes). The artefact's own irregularities are
//! kept on purpose, because a document must be judged exactly as the
//! official validation judges it: some rules look at the tax scheme (only
//! `VAT` categories count) and others do not, a few compare the category
//! code as written rather than with its spaces removed, and only the
//! standard rate, IGIC and IPSI allow a cent-rounding margin of 1 on their
//! amounts. Amounts are exact decimals ([`Dec`]), never floating point.
//!
//! `ChargeIndicator` is read as `xs:boolean` throughout (`true`, `1`,
//! `false`, `0`), as the artefact reads it: a rule about the rate of an
//! allowance or a charge has every allowance or charge's category as its
//! context and asks the indicator itself (`charge`).

use super::path;
use super::{Ctx, Meaning, Outcome};
use crate::adapter::ubl::Dec;
use crate::adapter::xml::Element;

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "vat-category-breakdown",
        run: breakdown,
        paths: &[],
        optional: &[
            "category",
            "form",
            "vat",
            "raw_breakdown",
            "breakdown_any_scheme",
        ],
    },
    Meaning {
        name: "vat-category-ids",
        run: needs_ids,
        paths: &[],
        optional: &["category", "on", "seller", "buyer", "guard"],
    },
    Meaning {
        name: "vat-category-no-ids",
        run: forbids_ids,
        paths: &[],
        optional: &["category", "on"],
    },
    Meaning {
        name: "vat-category-rate",
        run: rate,
        paths: &[],
        optional: &["rate", "charge"],
    },
    Meaning {
        name: "vat-category-taxable",
        run: taxable,
        paths: &[],
        optional: &["category", "per_rate", "needs_use"],
    },
    Meaning {
        name: "vat-category-tax",
        run: tax,
        paths: &[],
        optional: &["expect"],
    },
    Meaning {
        name: "vat-category-exemption",
        run: exemption,
        paths: &[],
        optional: &["reason"],
    },
    Meaning {
        name: "vat-category-delivery",
        run: delivery,
        paths: &[],
        optional: &["category", "what"],
    },
    Meaning {
        name: "vat-category-alone",
        run: alone,
        paths: &[],
        optional: &["category", "among"],
    },
    Meaning {
        name: "vat-category-domestic",
        run: domestic,
        paths: &[],
        optional: &["category", "country"],
    },
    Meaning {
        name: "vat-category-excludes",
        run: excludes,
        paths: &[],
        optional: &["category", "excluded"],
    },
];

// ---------------------------------------------------------------------------
// Reading tax categories.

const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// The elements a literal path (`//` at the start only, `cac:`/`cbc:`
/// steps or `*`) selects from `from`. These rules read the whole document
/// many times over, so they walk the elements themselves rather than build
/// a location for every element on the way, which makes a large invoice
/// many times faster to judge.
fn sel<'a>(from: &'a Element, p: &str) -> Vec<&'a Element> {
    let (deep, rest) = match p.strip_prefix("//") {
        Some(r) => (true, r),
        None => (false, p),
    };
    let mut steps = rest.split('/');
    let Some(first) = steps.next() else {
        return Vec::new();
    };
    let mut current = Vec::new();
    if deep {
        descendants(from, first, &mut current);
    } else {
        current.extend(from.children.iter().filter(|c| is(c, first)));
    }
    for step in steps {
        current = current
            .iter()
            .flat_map(|e| e.children.iter().filter(|c| is(c, step)))
            .collect();
    }
    current
}

/// Is `e` the element a step names (`cac:Name`, `cbc:Name`, `*`)?
fn is(e: &Element, step: &str) -> bool {
    match step.split_once(':') {
        Some(("cac", name)) => e.name == name && e.namespace == CAC,
        Some(("cbc", name)) => e.name == name && e.namespace == CBC,
        Some(_) => false,
        None => step == "*" || e.name == step,
    }
}

fn descendants<'a>(e: &'a Element, step: &str, out: &mut Vec<&'a Element>) {
    for c in &e.children {
        if is(c, step) {
            out.push(c);
        }
        descendants(c, step, out);
    }
}

/// The normalized values (`normalize-space(.)`) a literal path selects.
fn vals(from: &Element, p: &str) -> Vec<String> {
    sel(from, p).into_iter().map(path::string_value).collect()
}

/// An element's value as written, spaces kept (the artefact compares some
/// codes this way, so ` L ` is not `L` there).
fn raw(e: &Element) -> String {
    if e.children.is_empty() {
        e.text.clone()
    } else {
        path::string_value(e)
    }
}

/// The category code of a tax category, spaces removed (`normalize-space(cbc:ID)`).
fn code(cat: &Element) -> String {
    vals(cat, "cbc:ID").into_iter().next().unwrap_or_default()
}

/// Does the category (or a party's tax scheme) belong to VAT: is its
/// `TaxScheme/ID`, in any case and with spaces normalized, `VAT`?
/// Categories of other taxes are not judged by the VAT rules.
pub(super) fn is_vat(cat: &Element) -> bool {
    vals(cat, "cac:TaxScheme/cbc:ID")
        .iter()
        .any(|v| v.to_uppercase() == "VAT")
}

/// `cbc:ChargeIndicator` as an `xs:boolean`: every value it holds.
fn indicators(ac: &Element) -> Vec<bool> {
    vals(ac, "cbc:ChargeIndicator")
        .iter()
        .filter_map(|v| match v.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        })
        .collect()
}

/// The first value as `xs:decimal`.
fn dec(from: &Element, p: &str) -> Option<Dec> {
    vals(from, p).first().and_then(|v| Dec::parse(v))
}

/// Where the tax categories a rule counts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// Every line's item category (`//cac:ClassifiedTaxCategory`).
    Lines,
    /// Allowances, at any depth.
    Allowances,
    /// Charges, at any depth.
    Charges,
    /// Allowances and charges, at any depth.
    AllowancesCharges,
    /// Document level allowances only.
    DocumentAllowances,
    /// Document level charges only.
    DocumentCharges,
    /// The VAT breakdown (`/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory`).
    Breakdown,
    /// Every `cac:TaxCategory` of the document, breakdown included.
    Anywhere,
}

impl On {
    fn parse(s: &str) -> Option<On> {
        Some(match s {
            "lines" => On::Lines,
            "allowances" => On::Allowances,
            "charges" => On::Charges,
            "allowances-charges" => On::AllowancesCharges,
            "document-allowances" => On::DocumentAllowances,
            "document-charges" => On::DocumentCharges,
            "breakdown" => On::Breakdown,
            "anywhere" => On::Anywhere,
            _ => return None,
        })
    }
}

/// The tax categories at `on`.
fn categories<'a>(c: &Ctx<'a>, on: On) -> Vec<&'a Element> {
    let root = c.root.el;
    let of_kind = |acs: Vec<&'a Element>, charge: bool| -> Vec<&'a Element> {
        acs.iter()
            .filter(|ac| indicators(ac).contains(&charge))
            .flat_map(|ac| sel(ac, "cac:TaxCategory"))
            .collect()
    };
    match on {
        On::Lines => sel(root, "//cac:ClassifiedTaxCategory"),
        On::Allowances => of_kind(sel(root, "//cac:AllowanceCharge"), false),
        On::Charges => of_kind(sel(root, "//cac:AllowanceCharge"), true),
        On::AllowancesCharges => sel(root, "//cac:AllowanceCharge/cac:TaxCategory"),
        On::DocumentAllowances => of_kind(sel(root, "cac:AllowanceCharge"), false),
        On::DocumentCharges => of_kind(sel(root, "cac:AllowanceCharge"), true),
        On::Breakdown => sel(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory"),
        On::Anywhere => sel(root, "//cac:TaxCategory"),
    }
}

/// How a rule recognises a category.
#[derive(Debug, Clone, Copy)]
struct Match<'s> {
    code: &'s str,
    /// Only categories of the VAT scheme.
    vat: bool,
    /// The code as written, spaces kept.
    raw: bool,
}

impl<'s> Match<'s> {
    fn vat(code: &'s str) -> Match<'s> {
        Match {
            code,
            vat: true,
            raw: false,
        }
    }

    fn any_scheme(code: &'s str) -> Match<'s> {
        Match {
            code,
            vat: false,
            raw: false,
        }
    }

    fn holds(&self, cat: &Element) -> bool {
        let code_ok = if self.raw {
            sel(cat, "cbc:ID").iter().any(|id| raw(id) == self.code)
        } else {
            code(cat) == self.code
        };
        code_ok && (!self.vat || is_vat(cat))
    }
}

/// How many categories at `on` match.
fn count(c: &Ctx<'_>, on: On, m: Match<'_>) -> usize {
    categories(c, on).iter().filter(|cat| m.holds(cat)).count()
}

fn category<'c>(c: &'c Ctx<'_>) -> &'c str {
    c.arg_str("category").unwrap_or_default()
}

fn flag(c: &Ctx<'_>, name: &str) -> bool {
    c.arg_bool(name).unwrap_or(false)
}

// ---------------------------------------------------------------------------
// BR-x-01: a category in use needs its VAT breakdown.

/// A category used on a line, an allowance or a charge needs a breakdown
/// of that category. `form = "exactly-one"` (default): when the category
/// appears anywhere, the breakdown holds it exactly once.
/// `form = "both-or-neither"`: lines, allowances and charges of the
/// category and a breakdown of it are there together or not at all; `vat`
/// counts VAT categories only, `raw_breakdown` and `breakdown_any_scheme`
/// mirror how the artefact asks for the breakdown when the category is used
/// (code as written, any tax scheme).
fn breakdown(c: &Ctx<'_>) -> Outcome {
    let cat = category(c);
    if c.arg_str("form") == Some("both-or-neither") {
        let vat = flag(c, "vat");
        let used_m = Match {
            code: cat,
            vat,
            raw: false,
        };
        let used = count(c, On::AllowancesCharges, used_m) + count(c, On::Lines, used_m);
        let when_used = Match {
            code: cat,
            vat: vat && !flag(c, "breakdown_any_scheme"),
            raw: flag(c, "raw_breakdown"),
        };
        let ok = (used > 0 && count(c, On::Breakdown, when_used) > 0)
            || (used == 0 && count(c, On::Breakdown, used_m) == 0);
        return Outcome::from_bool(ok);
    }
    let m = Match::vat(cat);
    let anywhere = count(c, On::Anywhere, m) + count(c, On::Lines, m) > 0;
    let n = count(c, On::Breakdown, m);
    if !anywhere || n == 1 {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    }
}

// ---------------------------------------------------------------------------
// BR-x-02..04: who must be identified when the category is used.

/// Does anything identify the seller for VAT: the seller's tax scheme
/// company id (of any scheme, or only VAT when `vat_only`) or the tax
/// representative's VAT id?
fn seller_identified(c: &Ctx<'_>, vat_only: bool) -> bool {
    let root = c.root.el;
    let seller = sel(
        root,
        "//cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme",
    )
    .iter()
    .any(|s| (!vat_only || is_vat(s)) && !sel(s, "cbc:CompanyID").is_empty());
    seller || vat_id(c, "//cac:TaxRepresentativeParty/cac:PartyTaxScheme")
}

/// Is there a party tax scheme at `p` of the VAT scheme with a company id?
fn vat_id(c: &Ctx<'_>, p: &'static str) -> bool {
    sel(c.root.el, p)
        .iter()
        .any(|s| is_vat(s) && !sel(s, "cbc:CompanyID").is_empty())
}

fn buyer_vat_id(c: &Ctx<'_>) -> bool {
    vat_id(
        c,
        "//cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme",
    )
}

/// A category used `on` lines, allowances or charges needs the seller
/// identified (`seller = "vat"`: by a VAT id; `"any-scheme"`, the default:
/// by a tax scheme company id of any scheme) and, per `buyer`, the buyer:
/// `"vat"` (VAT id), `"vat-or-legal"` (VAT id or legal registration id) or
/// `"none"`. `guard` mirrors when the artefact lets the rule off: when no
/// VAT category of the code is used (`"vat"`, default), when none of any
/// scheme is (`"any-scheme"`), or when none with the code as written is
/// (`"raw"`).
fn needs_ids(c: &Ctx<'_>) -> Outcome {
    let cat = category(c);
    let Some(on) = c.arg_str("on").and_then(On::parse) else {
        return Outcome::Pass;
    };
    let guard = match c.arg_str("guard").unwrap_or("vat") {
        "any-scheme" => Match::any_scheme(cat),
        "raw" => Match {
            code: cat,
            vat: true,
            raw: true,
        },
        _ => Match::vat(cat),
    };
    if count(c, on, guard) == 0 {
        return Outcome::Pass;
    }
    let used = count(c, on, Match::vat(cat)) > 0;
    let seller = seller_identified(c, c.arg_str("seller") == Some("vat"));
    let buyer =
        match c.arg_str("buyer").unwrap_or("none") {
            "vat" => buyer_vat_id(c),
            "vat-or-legal" => buyer_vat_id(c)
                || !sel(
                    c.root.el,
                    "//cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID",
                )
                .is_empty(),
            _ => true,
        };
    Outcome::from_bool(used && seller && buyer)
}

/// A category used `on` lines, allowances or charges allows no VAT id of
/// the seller, the seller's tax representative or the buyer (not subject
/// to VAT: nobody is identified for it).
fn forbids_ids(c: &Ctx<'_>) -> Outcome {
    let Some(on) = c.arg_str("on").and_then(On::parse) else {
        return Outcome::Pass;
    };
    if count(c, on, Match::vat(category(c))) == 0 {
        return Outcome::Pass;
    }
    let ids = vat_id(
        c,
        "//cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme",
    ) || vat_id(c, "//cac:TaxRepresentativeParty/cac:PartyTaxScheme")
        || buyer_vat_id(c);
    Outcome::from_bool(!ids)
}

// ---------------------------------------------------------------------------
// BR-x-05..07: the rate of a line, allowance or charge of the category.

/// The context is a tax category of the rule's code (its context says
/// which); VAT categories only, and with `charge` only those of a charge
/// (`true`) or an allowance (`false`). `rate`: `"positive"` (> 0), `"zero"`
/// (= 0), `"non-negative"` (>= 0) or `"absent"` (no rate given). A missing
/// or unreadable rate fails every rule that asks for a value.
fn rate(c: &Ctx<'_>) -> Outcome {
    if !is_vat(c.node.el) {
        return Outcome::Pass;
    }
    if let Some(charge) = c.arg_bool("charge") {
        let is_kind = parent(c).is_some_and(|ac| indicators(ac).contains(&charge));
        if !is_kind {
            return Outcome::Pass;
        }
    }
    let rates = vals(c.node.el, "cbc:Percent");
    let nums: Vec<Dec> = rates.iter().filter_map(|v| Dec::parse(v)).collect();
    let ok = match c.arg_str("rate").unwrap_or_default() {
        "positive" => nums.iter().any(|r| *r > Dec::ZERO),
        "non-negative" => nums.iter().any(|r| *r >= Dec::ZERO),
        // `xs:decimal(cbc:Percent) = 0`: one value, exactly zero.
        "zero" => rates.len() == 1 && nums.first().is_some_and(|r| r.is_zero()),
        "absent" => sel(c.node.el, "cbc:Percent").is_empty(),
        _ => true,
    };
    if ok {
        Outcome::Pass
    } else {
        let shown = rates.join(", ");
        Outcome::FailWith(format!("({shown})"), format!("({shown})"))
    }
}

// ---------------------------------------------------------------------------
// BR-x-08..10: the breakdown of the category.

/// The context's parent element.
fn parent<'a>(c: &Ctx<'a>) -> Option<&'a Element> {
    c.node.parent().map(|p| p.el)
}

/// The `cac:TaxSubtotal` the context (a breakdown's tax category) sits in.
fn subtotal<'a>(c: &Ctx<'a>) -> Option<&'a Element> {
    parent(c)
}

/// Does any of these tax categories have the code, and (when given) the rate?
fn has(cats: &[&Element], code_: &str, rate: Option<Dec>) -> bool {
    let code_ok = cats.iter().any(|t| code(t) == code_);
    let rate_ok = rate.is_none_or(|r| {
        cats.iter()
            .any(|t| dec(t, "cbc:Percent").is_some_and(|p| p == r))
    });
    code_ok && rate_ok
}

fn sum(nodes: &[&Element], p: &str) -> Dec {
    nodes
        .iter()
        .flat_map(|n| vals(n, p))
        .filter_map(|v| Dec::parse(&v))
        .fold(Dec::ZERO, |a, b| a + b)
}

/// The lines named `line` (`cac:InvoiceLine` or `cac:CreditNoteLine`) of
/// the code (and rate), plus the document level charges minus allowances of
/// that code (and rate): what the breakdown's taxable amount must be.
fn expected_taxable(c: &Ctx<'_>, line: &'static str, code_: &str, rate: Option<Dec>) -> Dec {
    let lines: Vec<&Element> = sel(c.root.el, line)
        .into_iter()
        .filter(|l| has(&sel(l, "cac:Item/cac:ClassifiedTaxCategory"), code_, rate))
        .collect();
    let acs = sel(c.root.el, "cac:AllowanceCharge");
    let of = |charge: bool| -> Vec<&Element> {
        acs.iter()
            .filter(|ac| {
                indicators(ac).contains(&charge) && has(&sel(ac, "cac:TaxCategory"), code_, rate)
            })
            .cloned()
            .collect()
    };
    sum(&lines, "cbc:LineExtensionAmount") + sum(&of(true), "cbc:Amount")
        - sum(&of(false), "cbc:Amount")
}

/// Is anything of this code and rate used: a line named `line` at any
/// depth, or an allowance or charge?
fn used_at_rate(c: &Ctx<'_>, line: &'static str, code_: &str, rate: Dec) -> bool {
    let lines = match line {
        "cac:InvoiceLine" => sel(c.root.el, "//cac:InvoiceLine"),
        _ => sel(c.root.el, "//cac:CreditNoteLine"),
    };
    lines.iter().any(|l| {
        has(
            &sel(l, "cac:Item/cac:ClassifiedTaxCategory"),
            code_,
            Some(rate),
        )
    }) || sel(c.root.el, "//cac:AllowanceCharge")
        .iter()
        .any(|ac| has(&sel(ac, "cac:TaxCategory"), code_, Some(rate)))
}

/// The breakdown's taxable amount (BT-116) is the lines' net amounts plus
/// the charges minus the allowances of its category: exactly, or with
/// `per_rate` per rate and within 1 (exclusive) either way. `needs_use`:
/// per rate, something of that category and rate must also be used.
fn taxable(c: &Ctx<'_>) -> Outcome {
    if !is_vat(c.node.el) {
        return Outcome::Pass;
    }
    let cat = category(c);
    let sub = subtotal(c);
    let stated = sub.as_ref().and_then(|s| dec(s, "cbc:TaxableAmount"));
    let per_rate = flag(c, "per_rate");
    let rate = if per_rate {
        match dec(c.node.el, "cbc:Percent") {
            Some(r) => Some(r),
            // No rate: the artefact checks every rate given, which is none.
            None => return Outcome::Pass,
        }
    } else {
        None
    };
    let mut expected = None;
    let ok = ["cac:InvoiceLine", "cac:CreditNoteLine"]
        .iter()
        .any(|line| {
            let any_line = match *line {
                "cac:InvoiceLine" => !sel(c.root.el, "//cac:InvoiceLine").is_empty(),
                _ => !sel(c.root.el, "//cac:CreditNoteLine").is_empty(),
            };
            let want = expected_taxable(c, line, cat, rate);
            let (present, close) = match rate {
                Some(r) => {
                    let present = if flag(c, "needs_use") {
                        used_at_rate(c, line, cat, r)
                    } else {
                        any_line
                    };
                    let close = stated.is_some_and(|s| (s - want).abs() < Dec::int(1));
                    (present, close)
                }
                None => (any_line, stated.is_some_and(|s| s == want)),
            };
            if any_line || present {
                expected.get_or_insert(want);
            }
            present && close
        });
    if ok {
        return Outcome::Pass;
    }
    let shown = stated.map_or_else(|| "-".to_string(), |s| s.to_string());
    match expected {
        Some(e) => Outcome::FailWith(
            format!("(vermeld {shown}, berekend {e})"),
            format!("(stated {shown}, computed {e})"),
        ),
        None => Outcome::Fail,
    }
}

/// `round()` of XPath: to the nearest whole number, halves upwards.
fn round_half_up(d: Dec) -> i128 {
    let one = 10i128.pow(d.scale);
    (d.units * 2 + one).div_euclid(2 * one)
}

/// The breakdown's VAT amount (BT-117): `expect = "zero"`, or `"rate"`:
/// taxable amount times rate, rounded to cents, within 1 (exclusive) of
/// the stated amount (both as absolute values).
fn tax(c: &Ctx<'_>) -> Outcome {
    if !is_vat(c.node.el) {
        return Outcome::Pass;
    }
    let sub = subtotal(c);
    let amount = sub.as_ref().and_then(|s| dec(s, "cbc:TaxAmount"));
    if c.arg_str("expect") == Some("rate") {
        let taxable = sub.as_ref().and_then(|s| dec(s, "cbc:TaxableAmount"));
        let percent = dec(c.node.el, "cbc:Percent");
        let (Some(a), Some(t), Some(p)) = (amount, taxable, percent) else {
            return Outcome::Fail;
        };
        // |taxable| x (rate / 100), in cents, rounded: |taxable| x rate.
        let cents = round_half_up(t.abs() * p);
        let want = Dec {
            units: cents,
            scale: 2,
        };
        if (a.abs() - want).abs() < Dec::int(1) {
            Outcome::Pass
        } else {
            Outcome::FailWith(
                format!("(vermeld {a}, berekend {want})"),
                format!("(stated {a}, computed {want})"),
            )
        }
    } else {
        match amount {
            Some(a) if a.is_zero() => Outcome::Pass,
            Some(a) => Outcome::FailWith(format!("({a})"), format!("({a})")),
            None => Outcome::Fail,
        }
    }
}

/// An exemption reason (text or code, BT-120/BT-121) on the breakdown's
/// category: `reason = "required"` or `"forbidden"`.
fn exemption(c: &Ctx<'_>) -> Outcome {
    if !is_vat(c.node.el) {
        return Outcome::Pass;
    }
    let given = !sel(c.node.el, "cbc:TaxExemptionReason").is_empty()
        || !sel(c.node.el, "cbc:TaxExemptionReasonCode").is_empty();
    match c.arg_str("reason") {
        Some("required") => Outcome::from_bool(given),
        Some("forbidden") => Outcome::from_bool(!given),
        _ => Outcome::Pass,
    }
}

// ---------------------------------------------------------------------------
// The category's own conditions.

/// With a breakdown of the category (intra-community supply): `what =
/// "date-or-period"`, an actual delivery date (BT-72) or an invoicing
/// period with content (BG-14); `what = "country"`, the deliver-to country
/// (BT-80). The artefact asks for more than one character.
fn delivery(c: &Ctx<'_>) -> Outcome {
    if count(c, On::Breakdown, Match::vat(category(c))) == 0 {
        return Outcome::Pass;
    }
    let longer = |p: &'static str| {
        sel(c.root.el, p)
            .first()
            .is_some_and(|n| raw(n).chars().count() > 1)
    };
    let ok = match c.arg_str("what") {
        Some("date-or-period") => {
            longer("cac:Delivery/cbc:ActualDeliveryDate")
                || !sel(c.root.el, "cac:InvoicePeriod/*").is_empty()
        }
        Some("country") => longer(
            "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode",
        ),
        _ => true,
    };
    Outcome::from_bool(ok)
}

/// With a breakdown of the category (not subject to VAT), nothing `among`
/// the breakdown, lines, allowances or charges has another VAT category
/// (a category without code counts as another).
fn alone(c: &Ctx<'_>) -> Outcome {
    let cat = category(c);
    if count(c, On::Breakdown, Match::vat(cat)) == 0 {
        return Outcome::Pass;
    }
    let Some(on) = c.arg_str("among").and_then(On::parse) else {
        return Outcome::Pass;
    };
    let others: Vec<String> = categories(c, on)
        .iter()
        .filter(|t| is_vat(t))
        .map(|t| code(t))
        .filter(|k| k != cat)
        .collect();
    if others.is_empty() {
        Outcome::Pass
    } else {
        let shown = others.join(", ");
        Outcome::FailWith(format!("({shown})"), format!("({shown})"))
    }
}

/// Is the code, as written, on a tax category anywhere or on a line?
fn written_anywhere(c: &Ctx<'_>, code_: &str) -> bool {
    sel(c.root.el, "//cac:TaxCategory/cbc:ID")
        .iter()
        .chain(&sel(c.root.el, "//cac:ClassifiedTaxCategory/cbc:ID"))
        .any(|id| raw(id) == code_)
}

/// Is the code, as written, in the breakdown, on a document level
/// allowance or charge, or on a line?
fn written_in_use(c: &Ctx<'_>, code_: &str) -> bool {
    sel(
        c.root.el,
        "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID",
    )
    .iter()
    .chain(&sel(
        c.root.el,
        "cac:AllowanceCharge/cac:TaxCategory/cbc:ID",
    ))
    .chain(&sel(c.root.el, "//cac:ClassifiedTaxCategory/cbc:ID"))
    .any(|id| raw(id) == code_)
}

/// A category that only exists within one country (split payment: Italy):
/// when it is used, every country code (`cbc:IdentificationCode`) in the
/// document is `country`.
fn domestic(c: &Ctx<'_>) -> Outcome {
    if !written_anywhere(c, category(c)) {
        return Outcome::Pass;
    }
    let country = c.arg_str("country").unwrap_or_default();
    let foreign: Vec<String> = sel(c.root.el, "//cbc:IdentificationCode")
        .iter()
        .map(|e| raw(e))
        .filter(|v| v != country)
        .collect();
    if foreign.is_empty() {
        Outcome::Pass
    } else {
        let shown = foreign.join(", ");
        Outcome::FailWith(format!("({shown})"), format!("({shown})"))
    }
}

/// A category in use excludes another (split payment is never combined
/// with the standard rate).
fn excludes(c: &Ctx<'_>) -> Outcome {
    let other = c.arg_str("excluded").unwrap_or_default();
    Outcome::from_bool(!(written_in_use(c, category(c)) && written_in_use(c, other)))
}

#[cfg(test)]
mod tests {
    use super::super::{RuleSet, judge};
    use super::*;
    use crate::adapter::ubl::Kind;
    use crate::adapter::xml::read_tree;

    const FAMILIES: &[&str] = &[
        "BR-S-", "BR-Z-", "BR-E-", "BR-AE-", "BR-IC-", "BR-G-", "BR-O-", "BR-AF-", "BR-AG-",
        "BR-B-",
    ];

    /// An invoice with one line and, when given, one allowance; `{cat}`,
    /// `{pct}` and friends are filled in by the tests.
    const DOC: &str = r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>1</cbc:ID>
  <cac:AccountingSupplierParty><cac:Party>{seller}</cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>{buyer}<cac:PostalAddress><cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode></cac:Country></cac:PostalAddress></cac:Party></cac:AccountingCustomerParty>
  {delivery}
  {allowance}
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">{tax}</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">{taxable}</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">{tax}</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>{bdcat}</cbc:ID>{bdpct}{reason}<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>x</cbc:Name>
      <cac:ClassifiedTaxCategory><cbc:ID>{cat}</cbc:ID>{pct}<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
  </cac:InvoiceLine>
</Invoice>"#;

    const SELLER_VAT: &str = "<cac:PartyTaxScheme><cbc:CompanyID>NL001234567B01</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>";
    const BUYER_VAT: &str = "<cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>";

    /// A document of category `cat` at `pct` (empty: no rate), consistent
    /// unless `edits` change it: (placeholder, value) pairs.
    fn doc(cat: &str, pct: &str, edits: &[(&str, &str)]) -> String {
        let pct_el = if pct.is_empty() {
            String::new()
        } else {
            format!("<cbc:Percent>{pct}</cbc:Percent>")
        };
        let tax = match cat {
            "S" | "L" | "M" => {
                let p = Dec::parse(pct).unwrap_or(Dec::ZERO);
                Dec {
                    units: round_half_up(Dec::int(100) * p),
                    scale: 2,
                }
                .to_string()
            }
            _ => "0.00".into(),
        };
        let reason = match cat {
            "E" | "AE" | "K" | "G" | "O" => {
                "<cbc:TaxExemptionReason>Vrijgesteld</cbc:TaxExemptionReason>"
            }
            _ => "",
        };
        let delivery = if cat == "K" {
            "<cac:Delivery><cbc:ActualDeliveryDate>2026-01-02</cbc:ActualDeliveryDate><cac:DeliveryLocation><cac:Address><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:Address></cac:DeliveryLocation></cac:Delivery>"
        } else {
            ""
        };
        let (seller, buyer) = match cat {
            "O" => ("", ""),
            "K" | "AE" => (SELLER_VAT, BUYER_VAT),
            _ => (SELLER_VAT, ""),
        };
        let mut fills: Vec<(&str, String)> = vec![
            ("{seller}", seller.into()),
            ("{buyer}", buyer.into()),
            ("{delivery}", delivery.into()),
            ("{allowance}", String::new()),
            ("{tax}", tax),
            ("{taxable}", "100.00".into()),
            ("{bdcat}", cat.into()),
            ("{bdpct}", pct_el.clone()),
            ("{reason}", reason.into()),
            ("{cat}", cat.into()),
            ("{pct}", pct_el),
        ];
        for (k, v) in edits {
            if let Some(f) = fills.iter_mut().find(|(p, _)| p == k) {
                f.1 = (*v).to_string();
            }
        }
        let mut out = DOC.to_string();
        for (k, v) in fills {
            out = out.replace(k, &v);
        }
        out
    }

    /// The rules of the VAT families `xml` fails.
    fn fired(xml: &str) -> Vec<String> {
        let root = read_tree(xml.as_bytes(), 1 << 20, 64).expect("reads");
        let v = judge(&root, Kind::Invoice, &[RuleSet::En16931]);
        let mut out: Vec<String> = v
            .fired()
            .filter(|r| FAMILIES.iter().any(|f| r.starts_with(f)))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn consistent_documents_of_every_category_pass() {
        for (cat, pct) in [
            ("S", "21"),
            ("Z", "0"),
            ("E", "0"),
            ("AE", "0"),
            ("K", "0"),
            ("G", "0"),
            ("O", ""),
            ("L", "7"),
            ("M", "4"),
        ] {
            assert_eq!(fired(&doc(cat, pct, &[])), Vec::<String>::new(), "{cat}");
        }
    }

    #[test]
    fn breakdown_of_a_used_category() {
        // Line S, breakdown Z: S-01 (no S breakdown), Z-01 passes (one Z).
        let f = fired(&doc("S", "21", &[("{bdcat}", "Z")]));
        assert!(f.contains(&"BR-S-01".into()), "{f:?}");
        assert!(!f.contains(&"BR-Z-01".into()), "{f:?}");
        // Line E, breakdown S: E-01 fires.
        let f = fired(&doc("E", "0", &[("{bdcat}", "S")]));
        assert!(f.contains(&"BR-E-01".into()), "{f:?}");
        // IGIC: a breakdown written ` L ` is not there when the line is L.
        let f = fired(&doc("L", "7", &[("{bdcat}", " L ")]));
        assert!(f.contains(&"BR-AF-01".into()), "{f:?}");
    }

    #[test]
    fn identifiers_the_category_needs_or_forbids() {
        let f = fired(&doc("S", "21", &[("{seller}", "")]));
        assert_eq!(f, ["BR-S-02"]);
        let f = fired(&doc("AE", "0", &[("{buyer}", "")]));
        assert_eq!(f, ["BR-AE-02"]);
        let legal =
            "<cac:PartyLegalEntity><cbc:CompanyID>123</cbc:CompanyID></cac:PartyLegalEntity>";
        assert!(fired(&doc("AE", "0", &[("{buyer}", legal)])).is_empty());
        let f = fired(&doc("K", "0", &[("{buyer}", legal)]));
        assert_eq!(f, ["BR-IC-02"]);
        let f = fired(&doc("O", "", &[("{seller}", SELLER_VAT)]));
        assert_eq!(f, ["BR-O-02"]);
        // An allowance of category Z with no seller id: Z-02 and Z-03.
        let allowance = "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">0</cbc:Amount><cac:TaxCategory><cbc:ID>Z</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>";
        let f = fired(&doc(
            "Z",
            "0",
            &[("{seller}", ""), ("{allowance}", allowance)],
        ));
        assert_eq!(f, ["BR-Z-02", "BR-Z-03"]);
    }

    #[test]
    fn rates_per_category() {
        assert_eq!(
            fired(&doc(
                "S",
                "0",
                &[
                    ("{bdpct}", "<cbc:Percent>21</cbc:Percent>"),
                    ("{tax}", "21.00")
                ]
            )),
            ["BR-S-05", "BR-S-08"]
        );
        let f = fired(&doc(
            "Z",
            "6",
            &[("{bdpct}", "<cbc:Percent>0</cbc:Percent>")],
        ));
        assert_eq!(f, ["BR-Z-05"]);
        let f = fired(&doc("O", "0", &[("{bdpct}", "")]));
        assert_eq!(f, ["BR-O-05"]);
        let f = fired(&doc(
            "L",
            "-1",
            &[("{bdpct}", "<cbc:Percent>7</cbc:Percent>")],
        ));
        assert!(f.contains(&"BR-AF-05".into()), "{f:?}");
        // `ChargeIndicator` is an `xs:boolean`: `1` is a charge.
        let charge = "<cac:AllowanceCharge><cbc:ChargeIndicator>1</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">0</cbc:Amount><cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>";
        let f = fired(&doc("S", "21", &[("{allowance}", charge)]));
        assert!(f.contains(&"BR-S-07".into()), "{f:?}");
        assert!(!f.contains(&"BR-S-06".into()), "{f:?}");
        // A line of another tax scheme is not judged by the VAT rules.
        let other = doc("Z", "6", &[]).replacen(
            "</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>",
            "</cbc:Percent><cac:TaxScheme><cbc:ID>GST</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>",
            1,
        );
        assert!(!fired(&other).contains(&"BR-Z-05".into()));
    }

    #[test]
    fn taxable_and_tax_amounts() {
        // Exact for zero rate, within 1 per rate for the standard rate.
        assert_eq!(
            fired(&doc("Z", "0", &[("{taxable}", "100.01")])),
            ["BR-Z-08"]
        );
        assert!(
            fired(&doc(
                "S",
                "21",
                &[("{taxable}", "100.99"), ("{tax}", "21.00")]
            ))
            .is_empty()
        );
        assert_eq!(
            fired(&doc(
                "S",
                "21",
                &[("{taxable}", "101.00"), ("{tax}", "21.21")]
            )),
            ["BR-S-08"]
        );
        assert_eq!(fired(&doc("S", "21", &[("{tax}", "22.00")])), ["BR-S-09"]);
        assert!(fired(&doc("S", "21", &[("{tax}", "21.99")])).is_empty());
        assert_eq!(fired(&doc("E", "0", &[("{tax}", "0.01")])), ["BR-E-09"]);
        // Each breakdown is judged by its own amounts (the second of two).
        let second = |tax: &str| {
            doc("S", "21", &[]).replacen(
                "</cac:TaxSubtotal>",
                &format!(
                    "</cac:TaxSubtotal><cac:TaxSubtotal><cbc:TaxableAmount currencyID=\"EUR\">0</cbc:TaxableAmount><cbc:TaxAmount currencyID=\"EUR\">{tax}</cbc:TaxAmount><cac:TaxCategory><cbc:ID>E</cbc:ID><cbc:Percent>0</cbc:Percent><cbc:TaxExemptionReason>x</cbc:TaxExemptionReason><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal>"
                ),
                1,
            )
        };
        assert!(fired(&second("0")).is_empty());
        assert_eq!(fired(&second("1.00")), ["BR-E-09"]);
        // XPath's round: halves upwards.
        assert_eq!(round_half_up(Dec::parse("2.5").unwrap_or_default()), 3);
        assert_eq!(round_half_up(Dec::parse("-2.5").unwrap_or_default()), -2);
        assert_eq!(round_half_up(Dec::parse("-2.51").unwrap_or_default()), -3);
    }

    #[test]
    fn exemption_reasons() {
        assert_eq!(fired(&doc("E", "0", &[("{reason}", "")])), ["BR-E-10"]);
        let reason = "<cbc:TaxExemptionReasonCode>VATEX-EU-O</cbc:TaxExemptionReasonCode>";
        assert_eq!(fired(&doc("S", "21", &[("{reason}", reason)])), ["BR-S-10"]);
    }

    #[test]
    fn intra_community_delivery_and_not_subject_alone() {
        assert_eq!(
            fired(&doc("K", "0", &[("{delivery}", "")])),
            ["BR-IC-11", "BR-IC-12"]
        );
        // A breakdown O beside a line S.
        let f = fired(&doc("S", "21", &[("{bdcat}", "O"), ("{bdpct}", "")]));
        assert!(f.contains(&"BR-O-12".into()), "{f:?}");
        assert!(!f.contains(&"BR-O-11".into()), "{f:?}");
    }

    #[test]
    fn split_payment() {
        let f = fired(&doc(
            "B",
            "22",
            &[
                ("{bdcat}", "S"),
                ("{bdpct}", "<cbc:Percent>22</cbc:Percent>"),
            ],
        ));
        assert!(f.contains(&"BR-B-01".into()), "{f:?}");
        assert!(f.contains(&"BR-B-02".into()), "{f:?}");
        let it = doc(
            "B",
            "22",
            &[
                ("{bdcat}", "B"),
                ("{bdpct}", "<cbc:Percent>22</cbc:Percent>"),
            ],
        )
        .replace(">NL<", ">IT<");
        assert!(fired(&it).is_empty(), "{:?}", fired(&it));
    }

    /// Every row of the rule file names values its meaning knows.
    #[test]
    fn the_rule_file_uses_known_variants() {
        let text = include_str!("../../../../schemas/ubl/rules/en16931-vat.toml");
        let file: toml::Table = toml::from_str(text).expect("parses");
        let rules = file.get("rule").and_then(|r| r.as_array()).expect("rules");
        assert_eq!(rules.len(), 98);
        let known: &[(&str, &[&str])] = &[
            (
                "on",
                &[
                    "lines",
                    "allowances",
                    "charges",
                    "document-allowances",
                    "document-charges",
                ],
            ),
            ("among", &["breakdown", "lines", "allowances", "charges"]),
            ("form", &["exactly-one", "both-or-neither"]),
            ("seller", &["vat", "any-scheme"]),
            ("buyer", &["none", "vat", "vat-or-legal"]),
            ("guard", &["vat", "any-scheme", "raw"]),
            ("rate", &["positive", "zero", "non-negative", "absent"]),
            ("expect", &["zero", "rate"]),
            ("reason", &["required", "forbidden"]),
            ("what", &["date-or-period", "country"]),
        ];
        let needs_category = [
            "vat-category-breakdown",
            "vat-category-ids",
            "vat-category-no-ids",
            "vat-category-taxable",
            "vat-category-delivery",
            "vat-category-alone",
            "vat-category-domestic",
            "vat-category-excludes",
        ];
        for r in rules {
            let id = r.get("id").and_then(|v| v.as_str()).unwrap_or_default();
            let test = r.get("test").and_then(|v| v.as_str()).unwrap_or_default();
            let empty = toml::Table::new();
            let args = r.get("args").and_then(|a| a.as_table()).unwrap_or(&empty);
            if needs_category.contains(&test) {
                assert!(args.contains_key("category"), "{id}");
            }
            for (name, values) in known {
                if let Some(v) = args.get(*name) {
                    let v = v.as_str().unwrap_or_default();
                    assert!(values.contains(&v), "{id}: {name} = {v}");
                }
            }
        }
    }
}
