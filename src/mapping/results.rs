//! Pay-for-results contracts: the `[[results]]` section of a mapping.
//!
//! A social-impact contract (and some UWV and Participatiewet contracts)
//! pays for an outcome, not for hours: a rung of the participatieladder
//! reached and held, an improvement on named ZRM domains, an exit to paid
//! work held for months, a milestone such as the end of a benefit. Which
//! outcome earns what differs per contract and changes per year, so it is
//! data beside the contract's products; the declaration run
//! ([`crate::engine::results`]) turns an outcome reached into one claim.
//!
//! Everything here is checked when the file loads (the instrument's domains
//! and rungs exist, the product is one of the file's, ids are unique), so a
//! contract that loads is one the run can evaluate without guessing.

use std::path::Path;

use serde::Deserialize;

use super::{Problem, Product, ProductKey};
use crate::instrument::{Instruments, LADDER, LADDER_DOMAIN, ZRM};

/// The milestones staff record (`record::results::add_milestone`); a
/// `milestone` result names one of these.
pub const MILESTONES: [(&str, &str); 4] = [
    ("betaald_werk", "Betaald werk"),
    ("uitkering_beeindigd", "Uitkering beëindigd"),
    ("diploma", "Diploma of certificaat behaald"),
    ("eigen", "Eigen mijlpaal"),
];

/// The Dutch label of a milestone kind.
pub fn milestone_nl(kind: &str) -> &str {
    MILESTONES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind, |(_, nl)| nl)
}

/// The ladder rung from which a person is in paid work (5: paid work with
/// support, 6: paid work).
pub const PAID_WORK_RUNG: i64 = 5;

/// One outcome that earns money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRule {
    pub id: String,
    pub name: String,
    pub kind: ResultKind,
    pub product: ProductKey,
    pub price_cents: u64,
}

/// What has to be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultKind {
    /// This rung of the participatieladder or higher, held `months`.
    LadderHeld { rung: i64, months: u32 },
    /// At least `levels` better than the first measurement on EVERY named
    /// ZRM domain: a contract that names two domains pays for progress on
    /// both (name one domain per entry to pay for either).
    ZrmImproved { domains: Vec<String>, levels: i64 },
    /// An exit to paid work (ladder rung [`PAID_WORK_RUNG`] or higher, or
    /// the milestone `betaald_werk`) held `months`.
    WorkHeld { months: u32 },
    /// A milestone recorded by staff.
    Milestone { milestone: String },
}

#[derive(Deserialize)]
pub(super) struct RawResult {
    id: String,
    name: String,
    kind: String,
    rung: Option<i64>,
    months: Option<u32>,
    domains: Option<Vec<String>>,
    levels: Option<i64>,
    milestone: Option<String>,
    product: RawProductRef,
    price_cents: u64,
}

#[derive(Deserialize)]
struct RawProductRef {
    categorie: String,
    code: String,
}

/// Checks the section against the instruments and the file's products;
/// problems name the JSON path (the line is found from it).
pub(super) fn check(
    file: &Path,
    raw: Vec<RawResult>,
    products: &[Product],
    problems: &mut Vec<Problem>,
) -> Vec<ResultRule> {
    let mut out: Vec<ResultRule> = Vec::new();
    // The built-in instruments: a contract is about the instruments every
    // provider has, not one a single provider added.
    let instruments = Instruments::builtin().ok();
    let mut problem = |path: String, message: String| {
        problems.push(Problem::new(file, path, message));
    };
    for (i, r) in raw.into_iter().enumerate() {
        let at = format!("/results/{i}");
        if let Some(k) = out.iter().position(|o| o.id == r.id) {
            problem(
                format!("{at}/id"),
                format!("result {:?} is already listed at /results/{k}", r.id),
            );
        }
        let product = ProductKey::new(&r.product.categorie, &r.product.code);
        if !products.iter().any(|p| p.key == product) {
            problem(
                format!("{at}/product"),
                format!("product {product} is not one of this file's [[products]]"),
            );
        }
        let mut require = |field: &str, present: bool, kind: &str| {
            if !present {
                problem(
                    format!("{at}/{field}"),
                    format!("kind {kind:?} needs {field}"),
                );
            }
        };
        let kind = match r.kind.as_str() {
            "ladder_held" => {
                require("rung", r.rung.is_some(), &r.kind);
                require("months", r.months.is_some(), &r.kind);
                ResultKind::LadderHeld {
                    rung: r.rung.unwrap_or(0),
                    months: r.months.unwrap_or(0),
                }
            }
            "zrm_improved" => {
                require("domains", r.domains.is_some(), &r.kind);
                require("levels", r.levels.is_some(), &r.kind);
                ResultKind::ZrmImproved {
                    domains: r.domains.clone().unwrap_or_default(),
                    levels: r.levels.unwrap_or(1),
                }
            }
            "work_held" => {
                require("months", r.months.is_some(), &r.kind);
                ResultKind::WorkHeld {
                    months: r.months.unwrap_or(0),
                }
            }
            _ => {
                require("milestone", r.milestone.is_some(), &r.kind);
                ResultKind::Milestone {
                    milestone: r.milestone.clone().unwrap_or_default(),
                }
            }
        };
        // Fields of another kind would be read as if they counted.
        let extra: &[(&str, bool)] = &[
            (
                "rung",
                r.rung.is_some() && !matches!(kind, ResultKind::LadderHeld { .. }),
            ),
            (
                "months",
                r.months.is_some()
                    && !matches!(
                        kind,
                        ResultKind::LadderHeld { .. } | ResultKind::WorkHeld { .. }
                    ),
            ),
            (
                "domains",
                r.domains.is_some() && !matches!(kind, ResultKind::ZrmImproved { .. }),
            ),
            (
                "levels",
                r.levels.is_some() && !matches!(kind, ResultKind::ZrmImproved { .. }),
            ),
            (
                "milestone",
                r.milestone.is_some() && !matches!(kind, ResultKind::Milestone { .. }),
            ),
        ];
        for (field, wrong) in extra {
            if *wrong {
                problem(
                    format!("{at}/{field}"),
                    format!("{field} does not apply to kind {:?}", r.kind),
                );
            }
        }
        if let Some(all) = &instruments {
            match &kind {
                ResultKind::LadderHeld { rung, .. } => {
                    if let Some(ladder) = all.get(LADDER)
                        && ladder.check_score(LADDER_DOMAIN, *rung).is_err()
                    {
                        problem(
                            format!("{at}/rung"),
                            format!(
                                "rung {rung} is not on the participatieladder ({} to {})",
                                ladder.min, ladder.max
                            ),
                        );
                    }
                }
                ResultKind::ZrmImproved { domains, levels } => {
                    if let Some(zrm) = all.get(ZRM) {
                        for (j, d) in domains.iter().enumerate() {
                            if zrm.domain(d).is_none() {
                                problem(
                                    format!("{at}/domains/{j}"),
                                    format!("{d:?} is not a domain of the ZRM"),
                                );
                            }
                        }
                        if *levels > zrm.max - zrm.min {
                            problem(
                                format!("{at}/levels"),
                                format!(
                                    "the ZRM has {} levels: an improvement of {levels} cannot happen",
                                    zrm.max - zrm.min + 1
                                ),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(ResultRule {
            id: r.id,
            name: r.name,
            kind,
            product,
            price_cents: r.price_cents,
        });
    }
    out
}

impl ResultRule {
    /// What the rule asks, in Dutch, for the page and the claim line.
    pub fn condition_nl(&self) -> String {
        match &self.kind {
            ResultKind::LadderHeld { rung, months } => {
                format!("trede {rung} of hoger op de participatieladder, {months} maanden behouden")
            }
            ResultKind::ZrmImproved { domains, levels } => format!(
                "ZRM minstens {levels} niveau(s) vooruit op {}",
                domains.join(" en ")
            ),
            ResultKind::WorkHeld { months } => {
                format!("uitstroom naar betaald werk, {months} maanden behouden")
            }
            ResultKind::Milestone { milestone } => {
                format!("mijlpaal: {}", milestone_nl(milestone))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Mapping;
    use super::*;

    const CONTRACT: &str = include_str!("../../mappings/social-impact-werk.toml");

    /// The line (1-based) of the first occurrence of `needle`.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .expect("needle")
    }

    fn problems(text: &str) -> Vec<Problem> {
        Mapping::from_toml("sib.toml", text)
            .expect_err("refused")
            .problems
    }

    #[test]
    fn the_example_contract_loads_its_results() {
        let m = Mapping::from_toml("sib.toml", CONTRACT).expect("loads");
        let ids: Vec<&str> = m.results.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "trede5-3m",
                "werk-6m",
                "zrm-werk-financien",
                "uitkering-beeindigd"
            ]
        );
        assert_eq!(
            m.results[0].kind,
            ResultKind::LadderHeld { rung: 5, months: 3 }
        );
        assert_eq!(
            m.results[2].kind,
            ResultKind::ZrmImproved {
                domains: vec!["werk_opleiding".into(), "financien".into()],
                levels: 1
            }
        );
        assert_eq!(m.results[1].price_cents, 250000);
    }

    #[test]
    fn bad_results_are_refused_with_file_and_line() {
        // Unknown ZRM domain.
        let bad = CONTRACT.replace("\"financien\"]", "\"geluk\"]");
        let p = problems(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "/results/2/domains/1");
        assert!(p[0].message.contains("geluk"), "{}", p[0]);
        assert_eq!(p[0].file, std::path::Path::new("sib.toml"));
        assert_eq!(p[0].line, Some(line_of(&bad, "\"geluk\"")));
        // A rung the ladder does not have.
        let bad = CONTRACT.replace("rung = 5", "rung = 7");
        let p = problems(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "/results/0/rung");
        assert_eq!(p[0].line, Some(line_of(&bad, "rung = 7")));
        // A product the file does not list.
        let bad = CONTRACT.replacen(
            "product = { categorie = \"90\", code = \"SIW01\" }\nprice_cents = 250000",
            "product = { categorie = \"90\", code = \"XXX99\" }\nprice_cents = 250000",
            1,
        );
        let p = problems(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "/results/1/product");
        assert_eq!(p[0].line, Some(line_of(&bad, "XXX99")));
        // The same id twice.
        let bad = CONTRACT.replace("id = \"werk-6m\"", "id = \"trede5-3m\"");
        let p = problems(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "/results/1/id");
        assert!(p[0].message.contains("already listed"), "{}", p[0]);
        assert!(p[0].line.is_some());
        // A kind without what it needs, a field of another kind.
        let bad = CONTRACT.replace("months = 6\n", "");
        let p = problems(&bad);
        assert_eq!(p[0].path, "/results/1/months", "{p:?}");
        let bad = CONTRACT.replace("milestone = \"uitkering_beeindigd\"", "months = 2");
        let p = problems(&bad);
        assert!(p.iter().any(|p| p.path == "/results/3/milestone"), "{p:?}");
        assert!(p.iter().any(|p| p.path == "/results/3/months"), "{p:?}");
        // Whole numbers only: the schema refuses a fraction.
        let bad = CONTRACT.replace("price_cents = 50000", "price_cents = 500.5");
        assert!(Mapping::from_toml("sib.toml", &bad).is_err());
    }
}
