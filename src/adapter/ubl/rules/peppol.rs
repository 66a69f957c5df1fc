//! Peppol BIS Billing 3.0's rules PEPPOL-EN16931-* and PEPPOL-COMMON-*
//! (`schemas/ubl/rules/peppol.toml`), as the OpenPeppol artefact 3.0.22
//! checks them, and the guards the Dutch rules share ([`applies`]).
//!
//! Peppol's contexts are often a union ("an allowance on the document or
//! on a line", "an EndpointID, a CompanyID or a party identification with
//! scheme 0088"), which the rule file's path language does not have. A
//! rule therefore takes a wide context (`//cac:AllowanceCharge`) and
//! narrows it with the guard `names`: the element's name, optionally with
//! its parent's (`InvoiceLine/AllowanceCharge`), read from the location
//! every context carries. The other guards say when a rule applies at all
//! (a document kind, a seller in a country, a code in a list), so one
//! meaning serves every rule that differs only in that.

use std::cmp::Ordering;

use super::{Ctx, Meaning, Node, Outcome, codes};
use crate::adapter::ubl::{Dec, Kind};
use crate::adapter::xml::Element;

/// The guards every meaning of this module (and of the Dutch rules) takes.
macro_rules! guarded {
    ($($extra:literal),* $(,)?) => {
        &[
            "names",
            "kind",
            "if_path",
            "if_in",
            "seller_country",
            "buyer_country",
            "representative_country",
            "unless_domestic",
            "peppol_profile",
            $($extra),*
        ]
    };
}
pub(super) use guarded;

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "peppol-exists",
        run: exists,
        paths: &["path"],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-header-exists",
        run: header_exists,
        paths: &[],
        optional: guarded!("header"),
    },
    Meaning {
        name: "peppol-line-period",
        run: line_period,
        paths: &[],
        optional: guarded!("bound"),
    },
    Meaning {
        name: "peppol-either",
        run: either,
        paths: &["path", "alt_path"],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-count",
        run: count,
        paths: &["path"],
        optional: guarded!("min", "max"),
    },
    Meaning {
        name: "peppol-count-if",
        run: count_if,
        paths: &["path", "one_if_path"],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-one-of",
        run: one_of,
        paths: &["path"],
        optional: guarded!("list", "values"),
    },
    Meaning {
        name: "peppol-starts-with",
        run: starts_with,
        paths: &["path"],
        optional: guarded!("prefix", "forbid"),
    },
    Meaning {
        name: "peppol-differs",
        run: differs,
        paths: &["path", "other_path"],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-tax-sign",
        run: tax_sign,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-fail",
        run: fail,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-allowance-amount",
        run: allowance_amount,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-charge-indicator",
        run: charge_indicator,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-currency",
        run: currency,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-line-net",
        run: line_net,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-positive",
        run: positive,
        paths: &["path"],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-gross-price",
        run: gross_price,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-base-unit",
        run: base_unit,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-identifier",
        run: identifier,
        paths: &[],
        optional: guarded!("check", "scheme", "only_prefix"),
    },
    Meaning {
        name: "peppol-not-empty",
        run: not_empty,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-date-format",
        run: date_format,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-type-code-country",
        run: type_code_country,
        paths: &[],
        optional: guarded!(),
    },
    Meaning {
        name: "peppol-vatex-category",
        run: vatex_category,
        paths: &[],
        optional: guarded!("reason", "category"),
    },
];

// ---------------------------------------------------------------------------
// Where a context sits and which countries the parties are in.

/// The parent of the context.
fn parent<'a>(c: &Ctx<'a>) -> Option<Node<'a>> {
    c.node.parent()
}

/// Is `e` an invoice or credit note line? The document's header (parties,
/// currency, period, order) comes before the lines.
fn is_line(e: &Element) -> bool {
    e.name == "InvoiceLine" || e.name == "CreditNoteLine"
}

/// The elements in the document's header at `names` (local names from the
/// document element, every match at each step). A rule judged on every
/// line reads the header this way: an absolute path would build a node for
/// each of the document's lines, every time, and a 10,000-line invoice
/// would cost 10^8 of them.
fn header_elements<'a>(c: &Ctx<'a>, names: &[&str]) -> Vec<&'a Element> {
    let mut found: Vec<&'a Element> = vec![c.root.el];
    for (i, n) in names.iter().enumerate() {
        found = found
            .into_iter()
            .flat_map(|e| {
                e.children
                    .iter()
                    .take_while(move |k| i > 0 || !is_line(k))
                    .filter(|k| k.name == *n)
            })
            .collect();
    }
    found
}

/// The first value in the document's header at `names`.
fn header_value(c: &Ctx<'_>, names: &[&str]) -> Option<String> {
    header_elements(c, names)
        .first()
        .map(|e| super::path::string_value(e))
}

/// A party's country as its postal address gives it, upper case (what the
/// artefact's `supplierCountryIsNL`, `customerCountryIsDE` … compare).
fn postal_country(c: &Ctx<'_>, party: &str) -> String {
    let first = match party {
        "seller" => &["AccountingSupplierParty", "Party"][..],
        "buyer" => &["AccountingCustomerParty", "Party"][..],
        _ => &["TaxRepresentativeParty"][..],
    };
    let path: Vec<&str> = first
        .iter()
        .copied()
        .chain(["PostalAddress", "Country", "IdentificationCode"])
        .collect();
    header_value(c, &path).unwrap_or_default().to_uppercase()
}

/// A party's country as Peppol's `supplierCountry`/`customerCountry` give
/// it: the prefix of its VAT identifier, else (seller) the tax
/// representative's, else the postal address, else `XX`.
fn vat_country(c: &Ctx<'_>, seller: bool) -> String {
    let prefix = |v: Vec<String>| {
        v.into_iter()
            .next()
            .map(|s| s.chars().take(2).collect::<String>().to_uppercase())
            .filter(|s| !s.is_empty())
    };
    let own = if seller {
        prefix(c.vals(
            "/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        ))
        .or_else(|| {
            prefix(c.vals(
                "/cac:TaxRepresentativeParty/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
            ))
        })
    } else {
        prefix(c.vals(
            "/cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        ))
    };
    own.or_else(|| {
        Some(postal_country(c, if seller { "seller" } else { "buyer" })).filter(|s| !s.is_empty())
    })
    .unwrap_or_else(|| "XX".to_string())
}

/// Is the document's ProfileID one of Peppol's billing profiles?
fn peppol_profile(c: &Ctx<'_>) -> bool {
    header_value(c, &["ProfileID"]).is_some_and(|p| codes::contains("peppol-profiles", &p))
}

/// Does the rule apply to this context? Every guard given must hold:
///
/// - `names`: the context's local name is one of these; `Parent/Name`
///   also asks for the parent's local name;
/// - `kind`: `Invoice` or `CreditNote`;
/// - `if_path`: selects something; with `if_in`, its first value is in
///   that list;
/// - `seller_country`, `buyer_country`, `representative_country`: that
///   party's postal country;
/// - `unless_domestic`: not both seller and buyer in that country;
/// - `peppol_profile = true`: the ProfileID is a Peppol billing profile.
pub(super) fn applies(c: &Ctx<'_>) -> bool {
    let names = c.arg_list("names");
    if !names.is_empty() {
        let own = c.node.el.name.as_str();
        let up = c.node.parent().map(|p| p.el);
        let parent = up.map_or("", |e| e.name.as_str());
        let hit = names.iter().any(|n| match n.split_once('/') {
            Some((p, n)) => n == own && p == parent,
            None => *n == own,
        });
        if !hit {
            return false;
        }
    }
    if let Some(k) = c.arg_str("kind")
        && k != c.kind.name()
    {
        return false;
    }
    if c.arg_path("if_path").is_some() {
        let values = c.values("if_path");
        if values.is_empty() {
            return false;
        }
        let within = c.arg_list("if_in");
        if !within.is_empty() && !within.contains(&values[0].as_str()) {
            return false;
        }
    }
    for (arg, party) in [
        ("seller_country", "seller"),
        ("buyer_country", "buyer"),
        ("representative_country", "representative"),
    ] {
        if let Some(want) = c.arg_str(arg)
            && postal_country(c, party) != want
        {
            return false;
        }
    }
    if let Some(home) = c.arg_str("unless_domestic")
        && postal_country(c, "seller") == home
        && postal_country(c, "buyer") == home
    {
        return false;
    }
    if c.arg_bool("peppol_profile") == Some(true) && !peppol_profile(c) {
        return false;
    }
    true
}

// ---------------------------------------------------------------------------
// Exact decimal arithmetic without overflow: a hostile document's 30-digit
// amounts multiplied must not panic; a result out of range judges nothing.

fn rescale(d: Dec, scale: u32) -> Option<i128> {
    10i128
        .checked_pow(scale.checked_sub(d.scale)?)?
        .checked_mul(d.units)
}

fn add(a: Dec, b: Dec) -> Option<Dec> {
    let scale = a.scale.max(b.scale);
    Some(Dec {
        units: rescale(a, scale)?.checked_add(rescale(b, scale)?)?,
        scale,
    })
}

fn sub(a: Dec, b: Dec) -> Option<Dec> {
    add(
        a,
        Dec {
            units: b.units.checked_neg()?,
            scale: b.scale,
        },
    )
}

fn mul(a: Dec, b: Dec) -> Option<Dec> {
    Some(Dec {
        units: a.units.checked_mul(b.units)?,
        scale: a.scale.checked_add(b.scale)?,
    })
}

fn compare(a: Dec, b: Dec) -> Option<Ordering> {
    let scale = a.scale.max(b.scale);
    Some(rescale(a, scale)?.cmp(&rescale(b, scale)?))
}

fn abs(d: Dec) -> Option<Dec> {
    Some(Dec {
        units: d.units.checked_abs()?,
        scale: d.scale,
    })
}

/// XPath's `round(x * 100) div 100`: to the cent, a half up (towards
/// positive infinity).
fn round_cents(d: Dec) -> Option<Dec> {
    if d.scale <= 2 {
        return Some(d);
    }
    let div = 10i128.checked_pow(d.scale - 2)?;
    Some(Dec {
        units: d.units.checked_add(div / 2)?.div_euclid(div),
        scale: 2,
    })
}

/// `|a - b| <= slack`.
fn within(a: Dec, b: Dec, slack: Dec) -> Option<bool> {
    Some(compare(abs(sub(a, b)?)?, slack)? != Ordering::Greater)
}

/// The first value of a literal path as a decimal.
fn dec_of(c: &Ctx<'_>, path: &'static str) -> Option<Dec> {
    c.vals(path).first().and_then(|v| Dec::parse(v))
}

fn detail(v: &str) -> Outcome {
    Outcome::FailWith(format!("({v})"), format!("({v})"))
}

// ---------------------------------------------------------------------------
// The meanings.

/// `path` selects something.
fn exists(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(!applies(c) || !c.select("path").is_empty())
}

/// The header element `header` (local names from the document element)
/// is there (NL-R-001: the invoice a credit note credits; NL-R-009: the
/// order of an order line).
fn header_exists(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(!applies(c) || !header_elements(c, &c.arg_list("header")).is_empty())
}

/// R110, R111: a line period's start (`bound = "start"`) is not before the
/// invoice period's start, its end (`"end"`) not after the invoice
/// period's end, when the invoice has that date.
fn line_period(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let start = c.arg_str("bound") == Some("start");
    let field = if start { "StartDate" } else { "EndDate" };
    let Some(invoice) = header_value(c, &["InvoicePeriod", field]) else {
        return Outcome::Pass;
    };
    let own = super::path::string_value(c.node.el);
    let (Some(a), Some(b)) = (super::generic::date(&own), super::generic::date(&invoice)) else {
        return Outcome::Pass;
    };
    if (start && a < b) || (!start && a > b) {
        Outcome::FailWith(
            format!("({own} / {invoice})"),
            format!("({own} / {invoice})"),
        )
    } else {
        Outcome::Pass
    }
}

/// `path` or `alt_path` selects something (R003: a buyer reference or an
/// order reference).
fn either(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(
        !applies(c) || !c.select("path").is_empty() || !c.select("alt_path").is_empty(),
    )
}

/// `path` selects between `min` (default 0) and `max` (default no limit)
/// elements.
fn count(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let n = c.select("path").len() as i64;
    let min = c.arg_int("min").unwrap_or(0);
    let max = c.arg_int("max").unwrap_or(i64::MAX);
    if (min..=max).contains(&n) {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    }
}

/// `path` selects exactly one element when `one_if_path` selects
/// something, else none (R054: the tax total in accounting currency comes
/// with the tax currency code and only then).
fn count_if(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let n = c.select("path").len();
    let want = usize::from(!c.select("one_if_path").is_empty());
    if n == want {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    }
}

/// A value `path` selects is in the code list `list` or among `values`;
/// nothing selected fails (the artefact compares an empty string).
fn one_of(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let list = c.arg_str("list");
    let values = c.arg_list("values");
    let ok = |v: &str| list.is_some_and(|l| codes::contains(l, v)) || values.contains(&v);
    let found = c.values("path");
    if found.iter().any(|v| ok(v)) {
        return Outcome::Pass;
    }
    match found.first() {
        Some(v) => detail(v),
        None => Outcome::FailWith("(ontbreekt)".into(), "(missing)".into()),
    }
}

/// The value of `path` starts with `prefix` and contains none of `forbid`
/// (R004: the specification identifier).
fn starts_with(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let v = c.values("path").into_iter().next().unwrap_or_default();
    let prefix = c.arg_str("prefix").unwrap_or_default();
    let ok = v.starts_with(prefix) && !c.arg_list("forbid").iter().any(|f| v.contains(f));
    if ok { Outcome::Pass } else { detail(&v) }
}

/// The value of `path` differs from that of `other_path` (R005: the VAT
/// accounting currency is another currency than the invoice's).
fn differs(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let a = c.values("path").into_iter().next().unwrap_or_default();
    let b = c
        .values("other_path")
        .into_iter()
        .next()
        .unwrap_or_default();
    Outcome::from_bool(a != b)
}

/// R055: with a VAT accounting currency, the VAT total in that currency
/// and the one in the invoice currency have the same sign (both at most
/// zero, or both at least zero).
fn tax_sign(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let Some(tax_currency) = c.text("cbc:TaxCurrencyCode") else {
        return Outcome::from_bool(!c.has("cbc:TaxCurrencyCode"));
    };
    let doc_currency = c.text("cbc:DocumentCurrencyCode").unwrap_or_default();
    let in_currency = |cur: &str| -> Vec<Dec> {
        c.sel("cac:TaxTotal/cbc:TaxAmount")
            .iter()
            .filter(|n| n.el.attribute("currencyID").map(str::trim) == Some(cur))
            .filter_map(|n| Dec::parse(&n.el.text))
            .collect()
    };
    let accounting = in_currency(&tax_currency);
    let document = in_currency(&doc_currency);
    let some = |v: &[Dec], f: fn(Ordering) -> bool| v.iter().any(|d| f(d.cmp(&Dec::ZERO)));
    let le = |o: Ordering| o != Ordering::Greater;
    let ge = |o: Ordering| o != Ordering::Less;
    Outcome::from_bool(
        (some(&accounting, le) && some(&document, le))
            || (some(&accounting, ge) && some(&document, ge)),
    )
}

/// Always fails: the context alone says what is wrong (R041: a percentage
/// without a base amount; R042: a base amount without a percentage).
fn fail(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(!applies(c))
}

/// R040: with a base amount and a percentage, the allowance or charge is
/// base x percentage / 100, give or take 0.02 (a missing amount counts as
/// zero).
fn allowance_amount(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let (Some(base), Some(pct)) = (
        dec_of(c, "cbc:BaseAmount"),
        dec_of(c, "cbc:MultiplierFactorNumeric"),
    ) else {
        return Outcome::Pass;
    };
    // A missing amount counts as zero; one that is not a number is the
    // structure check's to report, not a wrong amount.
    let amount = match c.vals("cbc:Amount").first() {
        None => Dec::ZERO,
        Some(v) => match Dec::parse(v) {
            Some(d) => d,
            None => return Outcome::Pass,
        },
    };
    // amount x 100 against base x percentage, the slack x 100 too.
    let ok = mul(amount, Dec::int(100))
        .zip(mul(base, pct))
        .and_then(|(a, b)| within(a, b, Dec::int(2)));
    match ok {
        Some(false) => Outcome::FailWith(
            format!("({base} x {pct} / 100 ≠ {amount})"),
            format!("({base} x {pct} / 100 ≠ {amount})"),
        ),
        _ => Outcome::Pass,
    }
}

/// R043: the charge indicator is `true` or `false`. The artefact judges an
/// allowance with only one of percentage and base amount under R041/R042
/// instead (the first rule whose context matches), so this one leaves it.
fn charge_indicator(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    if c.has("cbc:MultiplierFactorNumeric") != c.has("cbc:BaseAmount") {
        return Outcome::Pass;
    }
    let v = c.vals("cbc:ChargeIndicator").into_iter().next();
    match v.as_deref() {
        Some("true") | Some("false") => Outcome::Pass,
        Some(v) => detail(v),
        None => Outcome::Fail,
    }
}

/// R051: an amount's currency is the invoice's (BT-5). The VAT total in
/// accounting currency (a TaxTotal without breakdown) is left out.
fn currency(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    if c.node.el.name == "TaxAmount"
        && parent(c).is_some_and(|p| p.el.name == "TaxTotal")
        && !parent(c).is_some_and(|p| p.el.children.iter().any(|k| k.name == "TaxSubtotal"))
    {
        return Outcome::Pass;
    }
    let doc = header_value(c, &["DocumentCurrencyCode"]);
    let own = c.node.el.attribute("currencyID").map(str::trim);
    match (own, doc.as_deref()) {
        (Some(a), Some(d)) if a == d => Outcome::Pass,
        (a, _) => detail(a.unwrap_or("-")),
    }
}

/// R120: a line's net amount is quantity x (price / base quantity) plus
/// its charges minus its allowances (each sum to the cent), give or take
/// 0.02. Missing values count as the artefact counts them: amount 0,
/// quantity 1, price 0, base quantity 1 (also when zero).
fn line_net(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let Some(r) = line_net_check(c) else {
        return Outcome::Pass;
    };
    r
}

fn line_net_check(c: &Ctx<'_>) -> Option<Outcome> {
    let parse = |v: Option<&String>, default: Dec| match v {
        Some(v) => Dec::parse(v),
        None => Some(default),
    };
    let net = parse(c.vals("cbc:LineExtensionAmount").first(), Dec::ZERO)?;
    let qty = parse(c.vals("cbc:$Quantity").first(), Dec::int(1))?;
    let price = parse(c.vals("cac:Price/cbc:PriceAmount").first(), Dec::ZERO)?;
    let base = match c.vals("cac:Price/cbc:BaseQuantity").first() {
        Some(v) => Dec::parse(v)
            .filter(|b| !b.is_zero())
            .unwrap_or(Dec::int(1)),
        None => Dec::int(1),
    };
    let sum = |path: &'static str| -> Option<Dec> {
        let mut total = Dec::ZERO;
        for v in c.vals(path) {
            total = add(total, Dec::parse(&v)?)?;
        }
        round_cents(total)
    };
    let charges = sum("cac:AllowanceCharge[cbc:ChargeIndicator='true']/cbc:Amount")?;
    let allowances = sum("cac:AllowanceCharge[cbc:ChargeIndicator='false']/cbc:Amount")?;
    // |net - charges + allowances - qty x price / base| <= 0.02, times |base|.
    let left = mul(add(sub(net, charges)?, allowances)?, base)?;
    let right = mul(qty, price)?;
    let slack = mul(Dec::cents(2), abs(base)?)?;
    Some(if within(left, right, slack)? {
        Outcome::Pass
    } else {
        Outcome::FailWith(
            format!("({qty} x {price} / {base} + {charges} - {allowances} ≠ {net})"),
            format!("({qty} x {price} / {base} + {charges} - {allowances} ≠ {net})"),
        )
    })
}

/// The value of `path`, when there, is a number above zero (R121).
fn positive(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    for v in c.values("path") {
        if let Some(d) = Dec::parse(&v)
            && d <= Dec::ZERO
        {
            return detail(&v);
        }
    }
    Outcome::Pass
}

/// R046: with a gross price (the price allowance's base amount), the net
/// price is gross minus the allowance, exactly.
fn gross_price(c: &Ctx<'_>) -> Outcome {
    if !applies(c) || !c.has("cbc:BaseAmount") {
        return Outcome::Pass;
    }
    let price = parent(c).and_then(|p| {
        p.children()
            .find(|k| k.el.name == "PriceAmount")
            .and_then(|k| Dec::parse(&k.el.text))
    });
    let (base, amount) = (dec_of(c, "cbc:BaseAmount"), dec_of(c, "cbc:Amount"));
    match (price, base, amount) {
        (Some(p), Some(b), Some(a))
            if sub(b, a).and_then(|n| compare(n, p)) == Some(Ordering::Equal) =>
        {
            Outcome::Pass
        }
        (Some(p), Some(b), Some(a)) => {
            Outcome::FailWith(format!("({b} - {a} ≠ {p})"), format!("({b} - {a} ≠ {p})"))
        }
        _ => Outcome::Fail,
    }
}

/// R130: the price base quantity's unit is the invoiced quantity's, when
/// the line has a quantity.
fn base_unit(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let Some(line) = c.node.parent().and_then(|p| p.parent()) else {
        return Outcome::Pass;
    };
    let has_quantity = line
        .el
        .children
        .iter()
        .any(|k| k.name == "InvoicedQuantity" || k.name == "CreditedQuantity");
    if !has_quantity {
        return Outcome::Pass;
    }
    let want = match c.kind {
        Kind::Invoice => "InvoicedQuantity",
        Kind::CreditNote => "CreditedQuantity",
    };
    let theirs = line
        .el
        .children
        .iter()
        .find(|k| k.name == want)
        .and_then(|k| k.attribute("unitCode"));
    let own = c.node.el.attribute("unitCode");
    match (own, theirs) {
        (Some(a), Some(b)) if a == b => Outcome::Pass,
        (a, b) => Outcome::FailWith(
            format!("({} ≠ {})", a.unwrap_or("-"), b.unwrap_or("-")),
            format!("({} ≠ {})", a.unwrap_or("-"), b.unwrap_or("-")),
        ),
    }
}

/// An identifier in the format of its scheme (PEPPOL-COMMON-R040..R057):
/// `check` names the scheme's test, `scheme` the schemeID it is for; with
/// `only_prefix` only values starting with it are judged (R056-2: VAT
/// numbers starting with NL). The scheme is compared here rather than in
/// the context's predicate: seventeen rules look at every cbc element of
/// the document, and a predicate costs a few allocations per element.
fn identifier(c: &Ctx<'_>) -> Outcome {
    if let Some(scheme) = c.arg_str("scheme")
        && c.node.el.attribute("schemeID").map(str::trim) != Some(scheme)
    {
        return Outcome::Pass;
    }
    if !applies(c) {
        return Outcome::Pass;
    }
    let norm = super::path::string_value(c.node.el);
    let raw_text = c.node.el.text.as_str();
    if let Some(p) = c.arg_str("only_prefix")
        && !norm.starts_with(p)
    {
        return Outcome::Pass;
    }
    match identifier_ok(c.arg_str("check").unwrap_or_default(), raw_text, &norm) {
        Some(true) => Outcome::Pass,
        _ => detail(&norm),
    }
}

/// Every identifier test the rule file may name.
#[cfg(test)]
pub(super) const IDENTIFIER_CHECKS: &[&str] = &[
    "gln",
    "no-orgnr",
    "dk-cvr",
    "dk-p",
    "dk-se",
    "be-enterprise",
    "it-ipa",
    "it-cf",
    "it-vat",
    "se-orgnr",
    "au-abn",
    "nl-kvk",
    "nl-oin",
    "nl-vat",
    "nl-kvk-branch",
];

/// Does the identifier pass `check`? `raw` is the text as written (the
/// Danish checks count its characters unnormalized), `v` normalized. None
/// for an unknown check.
fn identifier_ok(check: &str, raw: &str, v: &str) -> Option<bool> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let n_digits = |s: &str, n: usize| s.len() == n && digits(s);
    let chars = raw.chars().count();
    Some(match check {
        "gln" => digits(v) && gln(v),
        "no-orgnr" => n_digits(v, 9) && mod11(v),
        "dk-cvr" => {
            (chars == 10 && raw.starts_with("DK") && all_digits_or_empty(raw.get(2..10)))
                || (chars == 8 && all_digits_or_empty(Some(raw)))
        }
        "dk-p" => chars == 10 && all_digits_or_empty(Some(raw)),
        "dk-se" => chars == 10 && raw.starts_with("DK") && all_digits_or_empty(raw.get(2..10)),
        "be-enterprise" => n_digits(v, 10) && mod97_be(v),
        "it-ipa" => {
            v.chars().count() == 6
                && v.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == ' ' || ch == '\n')
        }
        "it-cf" => codice_fiscale(v),
        "it-vat" => partita_iva(v),
        "se-orgnr" => n_digits(v, 10) && luhn_se(v),
        "au-abn" => n_digits(v, 11) && abn(v),
        "nl-kvk" => n_digits(v, 8),
        "nl-oin" => n_digits(v, 20),
        "nl-kvk-branch" => n_digits(v, 12),
        "nl-vat" => {
            let b = v.as_bytes();
            b.len() == 14
                && v.starts_with("NL")
                && b[2..11].iter().all(u8::is_ascii_digit)
                && b[11] == b'B'
                && b[12..].iter().all(u8::is_ascii_digit)
        }
        _ => return None,
    })
}

/// XPath's `translate(s, '1234567890', '') = ''`: only digits, or nothing.
fn all_digits_or_empty(s: Option<&str>) -> bool {
    s.is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
}

fn digit_at(s: &str, i: usize) -> u32 {
    u32::from(s.as_bytes()[i] - b'0')
}

/// GS1's check digit: from the right, weights 3, 1, 3, … over all digits
/// but the last, which is (10 - sum mod 10) mod 10.
fn gln(v: &str) -> bool {
    let n = v.len();
    let sum: u32 = (0..n - 1)
        .map(|i| digit_at(v, n - 2 - i) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10 == digit_at(v, n - 1)
}

/// Modulus 11 with weights 2..7 from the right (Norwegian organisation
/// numbers); the number must be above zero.
fn mod11(v: &str) -> bool {
    let n = v.len();
    let sum: u32 = (0..n - 1)
        .map(|i| digit_at(v, n - 2 - i) * (i as u32 % 6 + 2))
        .sum();
    v.bytes().any(|b| b != b'0') && (11 - sum % 11) % 11 == digit_at(v, n - 1)
}

/// Belgian enterprise number: the last two digits are 97 minus the first
/// eight modulo 97.
fn mod97_be(v: &str) -> bool {
    let (Ok(body), Ok(check)) = (v[..8].parse::<u64>(), v[8..10].parse::<u64>()) else {
        return false;
    };
    97 - body % 97 == check
}

/// Luhn over the first nine digits gives the tenth (Swedish organisation
/// numbers).
fn luhn_se(v: &str) -> bool {
    let main = &v[..9];
    let sum: u32 = (1..=9)
        .map(|pos| {
            let d = digit_at(main, 9 - pos);
            if pos % 2 == 1 {
                (d * 2) % 10 + (d * 2) / 10
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10 == digit_at(v, 9)
}

/// Australian Business Number: weights 10, 1, 3, 5, …, 19 with the first
/// digit less one; the sum divisible by 89.
fn abn(v: &str) -> bool {
    const W: [i64; 11] = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let sum: i64 = v
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = i64::from(b) - 48 - i64::from(i == 0);
            d * W[i]
        })
        .sum();
    sum % 89 == 0
}

/// XPath's `castable as xs:integer` for a short piece: optional sign,
/// digits, surrounding blanks allowed.
fn castable_integer(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// Italian tax code (codice fiscale): 16 characters in the pattern of a
/// person's code, or 11 digits (a company's).
fn codice_fiscale(v: &str) -> bool {
    let letters = |s: Option<&str>| s.is_some_and(|s| s.chars().all(|c| c.is_ascii_alphabetic()));
    let int = |s: Option<&str>| s.is_some_and(castable_integer);
    match v.chars().count() {
        16 if v.is_ascii() => {
            letters(v.get(0..6))
                && int(v.get(6..8))
                && letters(v.get(8..9))
                && int(v.get(9..11))
                && int(v.get(14..15))
                && letters(v.get(15..16))
        }
        11 => castable_integer(v),
        _ => false,
    }
}

/// Italian VAT code (partita IVA): judged only with prefix IT: then 11
/// digits whose Luhn-like sum (odd positions as they are, even positions
/// doubled with their digits added) ends in 0.
fn partita_iva(v: &str) -> bool {
    let (country, code) = (v.get(..2).unwrap_or(v), v.get(2..).unwrap_or(""));
    if country != "IT" && country != "it" {
        return true;
    }
    if code.len() != 11 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let sum: u32 = (0..11)
        .map(|i| {
            let d = digit_at(code, i);
            if i % 2 == 1 { DOUBLED[d as usize] } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// R008: an element without children has a value.
fn not_empty(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    Outcome::from_bool(!c.node.el.children.is_empty() || !c.node.el.text.trim().is_empty())
}

/// F001: a date is written YYYY-MM-DD, exactly ten characters, and is a
/// real date.
fn date_format(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let t = c.node.el.text.as_str();
    let b = t.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    let real = shape && chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok();
    if real { Outcome::Pass } else { detail(t) }
}

/// P0112: invoice types 326, 384 and 389 only between two German parties;
/// 384 also between two Slovak ones (by VAT prefix, else address).
fn type_code_country(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let code = super::path::string_value(c.node.el);
    if !matches!(code.as_str(), "326" | "384" | "389") {
        return Outcome::Pass;
    }
    let de = postal_country(c, "seller") == "DE" && postal_country(c, "buyer") == "DE";
    let sk = code == "384" && vat_country(c, true) == "SK" && vat_country(c, false) == "SK";
    if de || sk {
        Outcome::Pass
    } else {
        detail(&code)
    }
}

/// P0104..P0111: an exemption reason code `reason` (VATEX-EU-G, -O, …)
/// goes with VAT category `category` only.
fn vatex_category(c: &Ctx<'_>) -> Outcome {
    if !applies(c) {
        return Outcome::Pass;
    }
    let reason = c
        .node
        .el
        .children
        .iter()
        .find(|k| k.name == "TaxExemptionReasonCode")
        .map(|k| k.text.to_uppercase());
    if reason.as_deref() != c.arg_str("reason") {
        return Outcome::Pass;
    }
    let id = c.text("cbc:ID").unwrap_or_default();
    if Some(id.as_str()) == c.arg_str("category") {
        Outcome::Pass
    } else {
        detail(&id)
    }
}

#[cfg(test)]
#[path = "peppol_tests.rs"]
mod rule_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_checks_accept_good_numbers_and_refuse_bad_ones() {
        let ok = |check: &str, v: &str| identifier_ok(check, v, v) == Some(true);
        assert!(ok("gln", "5790000435975"));
        assert!(!ok("gln", "5790000435976"));
        assert!(!ok("gln", "57900004359A5"));
        assert!(ok("no-orgnr", "974760673"));
        assert!(!ok("no-orgnr", "974760674"));
        assert!(!ok("no-orgnr", "000000000"));
        assert!(ok("dk-cvr", "DK12345678"));
        assert!(ok("dk-cvr", "12345678"));
        assert!(!ok("dk-cvr", "1234567"));
        assert!(ok("dk-p", "1234567890"));
        assert!(!ok("dk-p", "DK12345678"));
        assert!(ok("dk-se", "DK12345678"));
        assert!(!ok("dk-se", "12345678"));
        assert!(ok("be-enterprise", "0403170701"));
        assert!(!ok("be-enterprise", "0403170702"));
        assert!(ok("it-ipa", "UFXYZ1"));
        assert!(!ok("it-ipa", "UFXYZ12"));
        assert!(ok("it-cf", "RSSMRA85T10A562S"));
        assert!(ok("it-cf", "12345678901"));
        assert!(!ok("it-cf", "RSSMRA85T10A56"));
        assert!(ok("it-vat", "IT07643520567"));
        assert!(!ok("it-vat", "IT07643520568"));
        assert!(ok("it-vat", "DE123"));
        assert!(ok("se-orgnr", "5560360793"));
        assert!(!ok("se-orgnr", "5560360794"));
        assert!(ok("au-abn", "51824753556"));
        assert!(!ok("au-abn", "51824753557"));
        assert!(ok("nl-kvk", "12345678"));
        assert!(!ok("nl-kvk", "1234567"));
        assert!(ok("nl-oin", "00000001003214345000"));
        assert!(!ok("nl-oin", "0000000100321434500"));
        assert!(ok("nl-kvk-branch", "000012345678"));
        assert!(ok("nl-vat", "NL001234567B01"));
        assert!(!ok("nl-vat", "NL001234567B1"));
        for check in IDENTIFIER_CHECKS {
            assert!(identifier_ok(check, "1", "1").is_some(), "{check}");
        }
        assert_eq!(identifier_ok("nope", "1", "1"), None);
    }

    #[test]
    fn rounding_to_the_cent_goes_half_up() {
        let r = |s: &str| round_cents(Dec::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(r("1.005"), "1.01");
        assert_eq!(r("-1.005"), "-1.00");
        assert_eq!(r("-1.006"), "-1.01");
        assert_eq!(r("2.5"), "2.5");
    }
}
