//! Which allocation a registered day counts for.
//!
//! A participant can hold allocations of several financiers at once: Wmo
//! dagbesteding from the municipality and a UWV jobcoaching, or a Wlz
//! indication beside a Wmo allocation. One day at the koffiebranderij must
//! then be declared once, to the right financier, never twice. The contracts
//! say who goes first (a voorliggende voorziening before the municipality)
//! and how much of a day one allocation may take; what is left goes to the
//! next allocation, and what no allocation takes is reported, not declared.
//!
//! Every mapping file lists its preferences (`[[priority]]`); [`merge`] joins
//! the lists of all files into one order at load time and refuses files that
//! contradict each other, so that the order never depends on which file
//! happened to be read first. [`split_day`] is a pure function over one day.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::units::{DayShare, MINUTES_PER_DAGDEEL, Measure};
use super::{FinancierKey, Kind, Problem, Product, ProductKey};

/// One preference: matches allocations by financier and/or product. A field
/// left out matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PriorityRule {
    pub kind: Option<Kind>,
    /// Financier code (CBS gemeentecode, ...).
    pub financier: Option<String>,
    pub categorie: Option<String>,
    /// Product code.
    pub product: Option<String>,
}

impl PriorityRule {
    pub fn matches(&self, financier: &FinancierKey, product: &ProductKey) -> bool {
        self.kind.is_none_or(|k| k == financier.kind)
            && self.financier.as_ref().is_none_or(|c| *c == financier.code)
            && self
                .categorie
                .as_ref()
                .is_none_or(|c| *c == product.categorie)
            && self.product.as_ref().is_none_or(|c| *c == product.code)
    }
}

impl fmt::Display for PriorityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(k) = self.kind {
            parts.push(format!("kind={k}"));
        }
        if let Some(c) = &self.financier {
            parts.push(format!("financier={c}"));
        }
        if let Some(c) = &self.categorie {
            parts.push(format!("categorie={c}"));
        }
        if let Some(c) = &self.product {
            parts.push(format!("product={c}"));
        }
        write!(f, "{{{}}}", parts.join(" "))
    }
}

/// Joins the priority lists of several files into one order that keeps
/// every file's order. Where files say nothing about two entries, the entry
/// seen first (files in the order given, then position) comes first. Two
/// files that order the same two entries differently, or lists that
/// together form a cycle, are refused: guessing would declare a day to the
/// wrong financier.
pub fn merge(lists: &[(&Path, &[PriorityRule])]) -> Result<Vec<PriorityRule>, Vec<Problem>> {
    let mut nodes: Vec<&PriorityRule> = Vec::new();
    let mut index: HashMap<&PriorityRule, usize> = HashMap::new();
    for (_, list) in lists {
        for rule in *list {
            index.entry(rule).or_insert_with(|| {
                nodes.push(rule);
                nodes.len() - 1
            });
        }
    }
    // Every ordered pair a file states, with the first file that states it.
    let mut said: HashMap<(usize, usize), &Path> = HashMap::new();
    let mut problems = Vec::new();
    for (file, list) in lists {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                let (a, b) = (index[a], index[b]);
                if a == b {
                    continue;
                }
                if let Some(other) = said.get(&(b, a)) {
                    problems.push(Problem::new(
                        file,
                        "/priority",
                        format!(
                            "puts {} before {}, but {} puts them the other way round",
                            nodes[a],
                            nodes[b],
                            other.display()
                        ),
                    ));
                } else {
                    said.entry((a, b)).or_insert(file);
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Kahn's algorithm, always taking the earliest-seen entry that is free.
    let n = nodes.len();
    let mut before = vec![0usize; n];
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in said.keys() {
        before[b] += 1;
        after[a].push(b);
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let Some(next) = (0..n).find(|&i| !done[i] && before[i] == 0) else {
            let stuck: Vec<String> = (0..n)
                .filter(|&i| !done[i])
                .map(|i| nodes[i].to_string())
                .collect();
            let files: Vec<String> = lists
                .iter()
                .filter(|(_, l)| !l.is_empty())
                .map(|(f, _)| f.display().to_string())
                .collect();
            return Err(vec![Problem::new(
                lists.first().map_or(Path::new(""), |(f, _)| f),
                "/priority",
                format!(
                    "the priority lists of {} together form a cycle among {}",
                    files.join(", "),
                    stuck.join(", ")
                ),
            )]);
        };
        done[next] = true;
        order.push(nodes[next].clone());
        for &b in &after[next] {
            before[b] -= 1;
        }
    }
    Ok(order)
}

/// What was registered for the participant on the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Time present, in minutes.
    Minutes(u32),
    /// Dagdelen of four hours.
    Dagdelen(u32),
    /// Present, without a time: counts for etmaal, stuks or a day fee, not
    /// for products paid by time.
    Present,
}

/// One allocation the day might count for.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The allocation's identification (ToewijzingNummer or the record's id);
    /// passed through, not interpreted.
    pub allocation: &'a str,
    pub financier: &'a FinancierKey,
    /// The allocated product as the financier's mapping describes it: its
    /// activities, conversion and daily maximum.
    pub product: &'a Product,
    /// A cap the allocation itself sets (for example an Omvang per dag), in
    /// minutes; the tighter of this and the product's daily maximum applies.
    pub daily_max_minutes: Option<u32>,
}

impl Candidate<'_> {
    fn cap(&self) -> Option<u32> {
        match (self.product.daily_max_minutes, self.daily_max_minutes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One day of one participant, with everything the decision needs.
#[derive(Debug, Clone, Copy)]
pub struct DayInput<'a> {
    /// The registered activity or workplace.
    pub activity: &'a str,
    pub registered: Registered,
    /// The participant's allocations valid on the day (the caller checks the
    /// dates), in a stable order: ties in priority keep this order.
    pub candidates: &'a [Candidate<'a>],
    /// The merged priority order ([`super::Mappings::priority`]).
    pub rules: &'a [PriorityRule],
}

/// The part of the day one allocation gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Index into [`DayInput::candidates`].
    pub candidate: usize,
    pub share: DayShare,
}

/// How the day was split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaySplit {
    /// In priority order; only allocations that got something.
    pub shares: Vec<Share>,
    /// Minutes no allocation took: no allocation counts the activity, or
    /// every daily maximum was reached. Reported, never declared.
    pub unassigned_minutes: u32,
    /// Presence without time that no counting allocation took.
    pub unassigned_presence: bool,
    /// No candidate counts this activity at all.
    pub no_allocation: bool,
}

/// Rank of a candidate: the first rule it matches; unmatched ones after all
/// rules.
fn rank(rules: &[PriorityRule], c: &Candidate<'_>) -> usize {
    rules
        .iter()
        .position(|r| r.matches(c.financier, &c.product.key))
        .unwrap_or(rules.len())
}

/// Splits one registered day over the allocations that count its activity.
///
/// Candidates are taken in priority order (ties: input order). With time,
/// each takes what is left up to its daily maximum: a time product gets
/// those minutes, a counting product (etmaal, stuks, a day or month fee)
/// counts the day and takes the minutes it is capped at, or all of them
/// without a cap, since its fee covers the day. Presence without time goes
/// whole to the first counting product; time products cannot use it.
/// Zero minutes or zero dagdelen is no delivery: nothing is assigned.
pub fn split_day(input: &DayInput<'_>) -> DaySplit {
    let mut order: Vec<usize> = (0..input.candidates.len())
        .filter(|&i| input.candidates[i].product.counts(input.activity))
        .collect();
    order.sort_by_key(|&i| rank(input.rules, &input.candidates[i]));

    let total = match input.registered {
        Registered::Minutes(m) => Some(m),
        Registered::Dagdelen(d) => Some(d.saturating_mul(MINUTES_PER_DAGDEEL)),
        Registered::Present => None,
    };
    let mut split = DaySplit {
        no_allocation: order.is_empty(),
        ..DaySplit::default()
    };
    let Some(mut left) = total else {
        let first = order.into_iter().find(|&i| {
            input.candidates[i].product.conversion.measure != Measure::Time
                && input.candidates[i].cap() != Some(0)
        });
        match first {
            Some(candidate) => split.shares.push(Share {
                candidate,
                share: DayShare::present(),
            }),
            None => split.unassigned_presence = true,
        }
        return split;
    };
    for i in order {
        if left == 0 {
            break;
        }
        let c = &input.candidates[i];
        let take = c.cap().map_or(left, |cap| cap.min(left));
        if take == 0 {
            continue;
        }
        split.shares.push(Share {
            candidate: i,
            share: DayShare {
                minutes: take,
                counted: true,
            },
        });
        left -= take;
    }
    split.unassigned_minutes = left;
    split
}

#[cfg(test)]
mod tests {
    use super::super::units::{Conversion, Eenheid, RoundPer, RoundTo, Rounding};
    use super::*;

    fn product(cat: &str, code: &str, eenheid: Eenheid, cap: Option<u32>) -> Product {
        let measure = if eenheid.minutes().is_some() {
            Measure::Time
        } else {
            Measure::Day
        };
        Product {
            key: ProductKey::new(cat, code),
            name: code.to_string(),
            conversion: Conversion {
                eenheid,
                measure,
                per: RoundPer::Day,
                to: RoundTo::Unit,
                rounding: Rounding::Nearest,
            },
            price_basis: crate::mapping::PriceBasis::Hour,
            activities: vec!["koffiebranderij".into(), "kas".into()],
            daily_max_minutes: cap,
            tariffs: Vec::new(),
        }
    }

    fn key(kind: Kind, code: &str) -> FinancierKey {
        FinancierKey {
            kind,
            code: code.to_string(),
        }
    }

    fn rule(kind: Option<Kind>, financier: Option<&str>, product: Option<&str>) -> PriorityRule {
        PriorityRule {
            kind,
            financier: financier.map(str::to_string),
            categorie: None,
            product: product.map(str::to_string),
        }
    }

    #[test]
    fn voorliggend_first_up_to_its_daily_maximum_then_the_municipality() {
        let uwv = key(Kind::Uwv, "UWV");
        let wmo = key(Kind::Wmo, "0363");
        let jobcoach = product("02", "JC001", Eenheid::Uur, Some(240));
        let dagbesteding = product("07", "07A11", Eenheid::Dagdeel, Some(480));
        // Input order puts the municipality first; the rules put UWV first.
        let candidates = [
            Candidate {
                allocation: "wmo-1",
                financier: &wmo,
                product: &dagbesteding,
                daily_max_minutes: None,
            },
            Candidate {
                allocation: "uwv-1",
                financier: &uwv,
                product: &jobcoach,
                daily_max_minutes: None,
            },
        ];
        let rules = [
            rule(Some(Kind::Uwv), None, None),
            rule(Some(Kind::Wmo), None, None),
        ];
        let day = |registered| DayInput {
            activity: "koffiebranderij",
            registered,
            candidates: &candidates,
            rules: &rules,
        };
        let split = split_day(&day(Registered::Minutes(420)));
        assert_eq!(
            split.shares,
            vec![
                Share {
                    candidate: 1,
                    share: DayShare::minutes(240)
                },
                Share {
                    candidate: 0,
                    share: DayShare::minutes(180)
                },
            ]
        );
        assert_eq!(split.unassigned_minutes, 0);
        assert!(!split.no_allocation);

        // Beyond both caps (240 + 480): the rest is reported.
        let split = split_day(&day(Registered::Dagdelen(4)));
        assert_eq!(split.shares.len(), 2);
        assert_eq!(split.shares[1].share.minutes, 480);
        assert_eq!(split.unassigned_minutes, 960 - 720);

        // Less than the first cap: only UWV.
        let split = split_day(&day(Registered::Minutes(90)));
        assert_eq!(
            split.shares,
            vec![Share {
                candidate: 1,
                share: DayShare::minutes(90)
            }]
        );

        // Zero time: nothing to split, nothing to report.
        let split = split_day(&day(Registered::Minutes(0)));
        assert!(split.shares.is_empty());
        assert_eq!(split.unassigned_minutes, 0);
    }

    #[test]
    fn activity_decides_which_allocations_can_take_the_day() {
        let wmo = key(Kind::Wmo, "0363");
        let mut begeleiding = product("02", "02A04", Eenheid::Uur, None);
        begeleiding.activities = vec!["begeleiding-individueel".into()];
        let dagbesteding = product("07", "07A11", Eenheid::Dagdeel, None);
        let candidates = [
            Candidate {
                allocation: "a",
                financier: &wmo,
                product: &begeleiding,
                daily_max_minutes: None,
            },
            Candidate {
                allocation: "b",
                financier: &wmo,
                product: &dagbesteding,
                daily_max_minutes: None,
            },
        ];
        let split = split_day(&DayInput {
            activity: "Kas",
            registered: Registered::Minutes(300),
            candidates: &candidates,
            rules: &[],
        });
        assert_eq!(split.shares.len(), 1);
        assert_eq!(
            split.shares[0].candidate, 1,
            "activities match case-insensitively"
        );
        assert_eq!(split.shares[0].share.minutes, 300);

        let split = split_day(&DayInput {
            activity: "zwembad",
            registered: Registered::Minutes(300),
            candidates: &candidates,
            rules: &[],
        });
        assert!(split.no_allocation);
        assert!(split.shares.is_empty());
        assert_eq!(split.unassigned_minutes, 300);
    }

    #[test]
    fn ties_keep_input_order_and_allocation_cap_tightens_the_product_cap() {
        let a = key(Kind::Wmo, "0363");
        let b = key(Kind::Wmo, "0599");
        let p = product("07", "07A11", Eenheid::Dagdeel, Some(480));
        let candidates = [
            Candidate {
                allocation: "first",
                financier: &a,
                product: &p,
                daily_max_minutes: Some(240),
            },
            Candidate {
                allocation: "second",
                financier: &b,
                product: &p,
                daily_max_minutes: None,
            },
        ];
        let split = split_day(&DayInput {
            activity: "kas",
            registered: Registered::Dagdelen(2),
            candidates: &candidates,
            rules: &[],
        });
        assert_eq!(
            split.shares,
            vec![
                Share {
                    candidate: 0,
                    share: DayShare::dagdelen(1)
                },
                Share {
                    candidate: 1,
                    share: DayShare::dagdelen(1)
                },
            ]
        );
        // A specific product rule outranks the financier-wide one.
        let rules = [
            rule(None, Some("0599"), Some("07A11")),
            rule(None, Some("0363"), None),
        ];
        let split = split_day(&DayInput {
            activity: "kas",
            registered: Registered::Dagdelen(2),
            candidates: &candidates,
            rules: &rules,
        });
        assert_eq!(split.shares.len(), 1);
        assert_eq!(split.shares[0].candidate, 1);
        assert_eq!(split.shares[0].share.minutes, 480);
    }

    #[test]
    fn presence_without_time_goes_to_a_counting_product() {
        let wlz = key(Kind::Wlz, "5501");
        let wmo = key(Kind::Wmo, "0363");
        let verblijf = product("05", "05A01", Eenheid::Etmaal, None);
        let dagbesteding = product("07", "07A11", Eenheid::Dagdeel, None);
        let candidates = [
            Candidate {
                allocation: "wmo",
                financier: &wmo,
                product: &dagbesteding,
                daily_max_minutes: None,
            },
            Candidate {
                allocation: "wlz",
                financier: &wlz,
                product: &verblijf,
                daily_max_minutes: None,
            },
        ];
        let split = split_day(&DayInput {
            activity: "kas",
            registered: Registered::Present,
            candidates: &candidates,
            rules: &[],
        });
        assert_eq!(
            split.shares,
            vec![Share {
                candidate: 1,
                share: DayShare::present()
            }]
        );
        // With time, an uncapped counting product first takes the whole day.
        let rules = [rule(Some(Kind::Wlz), None, None)];
        let split = split_day(&DayInput {
            activity: "kas",
            registered: Registered::Minutes(360),
            candidates: &candidates,
            rules: &rules,
        });
        assert_eq!(split.shares.len(), 1);
        assert_eq!(split.shares[0].candidate, 1);
        assert!(split.shares[0].share.counted);
        // Only time products: presence without time is reported.
        let split = split_day(&DayInput {
            activity: "kas",
            registered: Registered::Present,
            candidates: &candidates[..1],
            rules: &[],
        });
        assert!(split.shares.is_empty());
        assert!(split.unassigned_presence);
        assert!(!split.no_allocation);
    }

    #[test]
    fn merge_keeps_every_files_order() {
        let uwv = rule(Some(Kind::Uwv), None, None);
        let wlz = rule(Some(Kind::Wlz), None, None);
        let a07 = rule(Some(Kind::Wmo), Some("0363"), Some("07A11"));
        let a02 = rule(Some(Kind::Wmo), Some("0363"), Some("02A04"));
        let j = rule(Some(Kind::Jeugdwet), Some("0599"), None);
        let f1 = [wlz.clone(), uwv.clone(), a07.clone(), a02.clone()];
        let f2 = [uwv.clone(), j.clone()];
        let f3 = [wlz.clone(), a07.clone(), j.clone()];
        let merged = merge(&[
            (Path::new("a.toml"), &f1),
            (Path::new("b.toml"), &f2),
            (Path::new("c.toml"), &f3),
        ])
        .expect("consistent");
        assert_eq!(merged, vec![wlz, uwv, a07, a02, j]);
    }

    #[test]
    fn merge_refuses_contradicting_files() {
        let uwv = rule(Some(Kind::Uwv), None, None);
        let wmo = rule(Some(Kind::Wmo), Some("0363"), None);
        let jw = rule(Some(Kind::Jeugdwet), Some("0599"), None);
        let problems = merge(&[
            (Path::new("a.toml"), &[uwv.clone(), wmo.clone()]),
            (Path::new("b.toml"), &[wmo.clone(), uwv.clone()]),
        ])
        .expect_err("contradiction");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].file, Path::new("b.toml"));
        assert_eq!(problems[0].path, "/priority");
        assert!(
            problems[0].message.contains("a.toml"),
            "{}",
            problems[0].message
        );

        // A cycle across three files, no two of them in direct conflict.
        let problems = merge(&[
            (Path::new("a.toml"), &[uwv.clone(), wmo.clone()]),
            (Path::new("b.toml"), &[wmo.clone(), jw.clone()]),
            (Path::new("c.toml"), &[jw, uwv]),
        ])
        .expect_err("cycle");
        assert!(
            problems[0].message.contains("cycle"),
            "{}",
            problems[0].message
        );
        assert!(
            problems[0].message.contains("c.toml"),
            "{}",
            problems[0].message
        );
    }
}
