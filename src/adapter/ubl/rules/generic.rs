//! Meanings many rules share: presence, absence, occurrence and the order
//! of two dates. Each takes its paths as arguments, so one
//! function serves every rule with that meaning.

use super::{Ctx, Meaning, Outcome};

pub(super) const MEANINGS: &[Meaning] = &[
    Meaning {
        name: "present",
        run: present,
        paths: &["path"],
        optional: &["when"],
    },
    Meaning {
        name: "exists",
        run: exists,
        paths: &["path"],
        optional: &["when"],
    },
    Meaning {
        name: "absent",
        run: absent,
        paths: &["path"],
        optional: &["when"],
    },
    Meaning {
        name: "at-most",
        run: at_most,
        paths: &["path"],
        optional: &["max"],
    },
    Meaning {
        name: "date-order",
        run: date_order,
        paths: &["from", "to"],
        optional: &[],
    },
];

/// Does the optional `when` path hold (select a non-empty value)? Without
/// `when` the rule always applies.
fn applies(c: &Ctx<'_>) -> bool {
    c.arg_path("when").is_none() || c.values("when").iter().any(|v| !v.is_empty())
}

/// `path` selects an element with a non-empty value (`normalize-space(p) != ''`).
fn present(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(!applies(c) || c.values("path").iter().any(|v| !v.is_empty()))
}

/// `path` selects something, empty or not (`exists(p)`).
fn exists(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(!applies(c) || !c.select("path").is_empty())
}

/// `path` selects nothing (`not(p)`).
fn absent(c: &Ctx<'_>) -> Outcome {
    Outcome::from_bool(!applies(c) || c.select("path").is_empty())
}

/// `path` selects at most `max` (default 1) elements.
fn at_most(c: &Ctx<'_>) -> Outcome {
    let max = c.arg_int("max").unwrap_or(1);
    let n = c.select("path").len() as i64;
    if n <= max {
        Outcome::Pass
    } else {
        Outcome::FailWith(format!("({n} keer)"), format!("({n} times)"))
    }
}

/// When both dates are there, `to` is not before `from`.
fn date_order(c: &Ctx<'_>) -> Outcome {
    let (Some(from), Some(to)) = (c.values("from").pop(), c.values("to").pop()) else {
        return Outcome::Pass;
    };
    match (date(&from), date(&to)) {
        (Some(f), Some(t)) if t < f => {
            Outcome::FailWith(format!("({from} > {to})"), format!("({from} > {to})"))
        }
        _ => Outcome::Pass,
    }
}

/// An `xs:date` (YYYY-MM-DD, an optional zone ignored).
pub(super) fn date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}
