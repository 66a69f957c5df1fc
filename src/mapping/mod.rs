//! Financier mappings: what each financier's contract says, as data.
//!
//! Every financier wants the same attendance in its own products, units,
//! tariffs and periods. Those agreements change every year and differ per
//! municipality, so they are not code: `mappings/` holds one TOML file per
//! financier, checked against `schemas/mappings/mapping.json` when loaded
//! (with the file, the JSON path and the line of every problem), then
//! checked for what a schema cannot see (overlapping tariff periods, product
//! categories against the standard's code list, real calendar dates,
//! contradicting priority lists). A mapping that loads is therefore one the
//! declaration engine can use without second-guessing it.
//!
//! - [`units`]: registered time to declared units and amounts (pure, exact).
//! - [`period`]: declaration periods.
//! - [`priority`]: which allocation a day counts for.

mod load;
pub mod period;
pub mod priority;
pub mod results;
pub mod units;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

pub use period::{Period, PeriodRule};
pub use priority::{Candidate, DayInput, DaySplit, PriorityRule, Registered, Share, split_day};
pub use units::{Conversion, DayShare, Declared, Eenheid, Measure, RoundPer, RoundTo, Rounding};

/// The JSON Schema every mapping file is checked against.
pub const SCHEMA: &str = include_str!("../../schemas/mappings/mapping.json");

/// What kind of financier, by the law it pays under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Wmo,
    Jeugdwet,
    Uwv,
    Participatiewet,
    Wlz,
    Pgb,
    /// A social-impact contract (social impact bond): investors or a
    /// municipality pay for results reached, on invoice.
    #[serde(rename = "social_impact")]
    SocialImpact,
    /// Not a financier but a municipality's counterpart: the provider (AGB
    /// code) a municipality tenant grants allocations to. Its file says where
    /// the 301s, 319s and 325s go and, optionally, the contract's products
    /// and tariffs the municipality judges declarations on.
    Aanbieder,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Wmo,
        Kind::Jeugdwet,
        Kind::Uwv,
        Kind::Participatiewet,
        Kind::Wlz,
        Kind::Pgb,
        Kind::SocialImpact,
        Kind::Aanbieder,
    ];

    /// The kind as stored (`financiers.kind`) and written in mappings.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Wmo => "wmo",
            Kind::Jeugdwet => "jeugdwet",
            Kind::Uwv => "uwv",
            Kind::Participatiewet => "participatiewet",
            Kind::Wlz => "wlz",
            Kind::Pgb => "pgb",
            Kind::SocialImpact => "social_impact",
            Kind::Aanbieder => "aanbieder",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message standard a financier is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standard {
    /// WMO323 declarations.
    Iwmo,
    /// JW323 declarations.
    Ijw,
    /// Invoices (UBL), for financiers outside the iStandaarden.
    Ubl,
}

impl Standard {
    /// Name of the standard in `schemas/istandaard` (its code lists).
    pub fn schema_name(self) -> Option<&'static str> {
        match self {
            Standard::Iwmo => Some("iwmo"),
            Standard::Ijw => Some("ijw"),
            Standard::Ubl => None,
        }
    }
}

/// A financier is identified by kind and code together: a municipality has
/// one CBS code but separate Wmo and Jeugdwet contracts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FinancierKey {
    pub kind: Kind,
    pub code: String,
}

impl FinancierKey {
    pub fn new(kind: Kind, code: &str) -> FinancierKey {
        FinancierKey {
            kind,
            code: code.to_string(),
        }
    }
}

impl fmt::Display for FinancierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.code)
    }
}

/// Where the financier's messages are delivered (by the outbox, see
/// [`crate::outbox`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// POSTed to `url`; the counterpart answers with the retourbericht.
    Http {
        url: String,
        /// The environment variable that holds the counterpart's API token,
        /// read when sending: the token stays out of files and logs.
        token_env: Option<String>,
    },
    /// An absolute path.
    Folder(PathBuf),
    /// Pushed to VECOZO's VSP-Koppeling in this environment, with the
    /// sending tenant's systeemcertificaat (`[[vsp]]` in the configuration).
    Vsp(crate::transport::vsp::config::Environment),
    /// Posted in a StUF-GGk envelope of this edition to the sending
    /// municipality's Digikoppeling adapter (`[[stuf]]` in the
    /// configuration: endpoint and certificate).
    Stuf(crate::transport::stuf::Edition),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Financier {
    pub key: FinancierKey,
    pub name: String,
    pub standard: Standard,
    pub delivery: Delivery,
}

/// A product as the standard identifies it: categorie plus code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductKey {
    pub categorie: String,
    pub code: String,
}

impl ProductKey {
    pub fn new(categorie: &str, code: &str) -> ProductKey {
        ProductKey {
            categorie: categorie.to_string(),
            code: code.to_string(),
        }
    }
}

impl fmt::Display for ProductKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.categorie, self.code)
    }
}

/// A contract tariff and the days it applies to (both ends inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tariff {
    pub from: NaiveDate,
    /// `None`: until further notice.
    pub to: Option<NaiveDate>,
    /// Per unit of the product's eenheid, in euro cents (for euro's: the
    /// amount per counted day or period).
    pub price_cents: u64,
}

impl Tariff {
    pub fn applies(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date <= to)
    }
}

/// What one price of an invoiced product is for; it decides the unit an
/// invoice line is in (UN/ECE recommendation 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceBasis {
    Hour,
    Day,
    Month,
    /// A step of a trajectory (intake, plan, placement): counted pieces.
    Milestone,
}

impl PriceBasis {
    pub fn parse(s: &str) -> Option<PriceBasis> {
        [
            PriceBasis::Hour,
            PriceBasis::Day,
            PriceBasis::Month,
            PriceBasis::Milestone,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PriceBasis::Hour => "hour",
            PriceBasis::Day => "day",
            PriceBasis::Month => "month",
            PriceBasis::Milestone => "milestone",
        }
    }

    /// The invoice line's unit code.
    pub fn unit_code(self) -> &'static str {
        match self {
            PriceBasis::Hour => "HUR",
            PriceBasis::Day => "DAY",
            PriceBasis::Month => "MON",
            PriceBasis::Milestone => "C62",
        }
    }

    /// The basis a contract unit implies when the mapping names none.
    pub fn of(conversion: &Conversion) -> PriceBasis {
        match (conversion.eenheid, conversion.measure) {
            (Eenheid::Uur | Eenheid::Minuut, _) => PriceBasis::Hour,
            (_, Measure::Period) => PriceBasis::Month,
            (Eenheid::Etmaal, _) | (_, Measure::Day) => PriceBasis::Day,
            _ => PriceBasis::Milestone,
        }
    }
}

/// One contracted product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub key: ProductKey,
    pub name: String,
    pub conversion: Conversion,
    /// For invoices: what one price is for.
    pub price_basis: PriceBasis,
    /// Registered activities that count for this product; `*` counts all.
    pub activities: Vec<String>,
    /// How much of one day one allocation of this product may take.
    pub daily_max_minutes: Option<u32>,
    /// Sorted by `from`; never overlapping once loaded.
    pub tariffs: Vec<Tariff>,
}

/// A lookup that found nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no mapping for financier {0}")]
    UnknownFinancier(FinancierKey),
    #[error("financier {financier} has no product {product} in its mapping")]
    UnknownProduct {
        financier: FinancierKey,
        product: ProductKey,
    },
    #[error("product {product} has no tariff on {date}")]
    NoTariff {
        product: ProductKey,
        date: NaiveDate,
    },
    #[error("product {product} has {count} tariffs on {date}; tariff periods may not overlap")]
    AmbiguousTariff {
        product: ProductKey,
        date: NaiveDate,
        count: usize,
    },
}

impl Product {
    /// The eenheid the contract prices this product in.
    pub fn eenheid(&self) -> Eenheid {
        self.conversion.eenheid
    }

    /// Whether a registered activity counts for this product. Case does not
    /// matter: spreadsheets write "Kas" as often as "kas".
    pub fn counts(&self, activity: &str) -> bool {
        self.activities
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(activity.trim()))
    }

    /// The tariff valid on `date`. More than one is an error rather than a
    /// pick, since TR418 rejects a declaration whose tariff is not the
    /// contract's.
    pub fn tariff(&self, date: NaiveDate) -> Result<&Tariff, LookupError> {
        let mut found = self.tariffs.iter().filter(|t| t.applies(date));
        match (found.next(), found.count()) {
            (None, _) => Err(LookupError::NoTariff {
                product: self.key.clone(),
                date,
            }),
            (Some(t), 0) => Ok(t),
            (Some(_), more) => Err(LookupError::AmbiguousTariff {
                product: self.key.clone(),
                date,
                count: more + 1,
            }),
        }
    }

    /// The tariffs covering `period`, each with the part of the period it
    /// applies to, in order. A tariff change inside a declaration period
    /// (possible with four-weekly periods) then gives two parts. An
    /// uncovered day is an error.
    pub fn tariffs_in(&self, period: Period) -> Result<Vec<(Period, &Tariff)>, LookupError> {
        let mut out = Vec::new();
        let mut date = period.start;
        loop {
            let t = self.tariff(date)?;
            let end = t.to.map_or(period.end, |to| to.min(period.end));
            out.push((Period { start: date, end }, t));
            match end.succ_opt() {
                Some(next) if end < period.end => date = next,
                _ => return Ok(out),
            }
        }
    }
}

/// How many clients one declaration message holds unless the mapping says
/// otherwise. A provider with thousands of participants would otherwise send
/// one message of tens of megabytes per financier and period, larger than a
/// counterpart's software comfortably takes. Smaller messages also let a run build and check them in
/// parallel and keep a run's memory in proportion to one message.
pub const DEFAULT_MAX_CLIENTS: usize = 2000;

/// One financier's mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The file it was loaded from (as given to the loader).
    pub file: PathBuf,
    pub financier: Financier,
    pub period: PeriodRule,
    /// At most this many clients in one declaration message; see
    /// [`DEFAULT_MAX_CLIENTS`].
    pub max_clients: usize,
    pub products: Vec<Product>,
    /// This file's own preferences, most preferred first; see
    /// [`Mappings::priority`] for the order that applies.
    pub priority: Vec<PriorityRule>,
    /// For an invoiced financier (standard ubl): the `[invoice]` section.
    pub invoice: Option<crate::adapter::ubl::InvoiceSettings>,
    /// A municipality's provider counterpart (`[declarations] decide`):
    /// whether a person decides on this provider's declarations before the
    /// 325 leaves ([`crate::record::decisions`]).
    pub decide: Decide,
    /// `[outcomes] evaluation_weeks`: how often the contract asks for an
    /// evaluation of its participants.
    pub evaluation_weeks: Option<u32>,
    /// `[[results]]`: the outcomes a pay-for-results contract pays for.
    pub results: Vec<results::ResultRule>,
}

/// Who decides on a received declaration before its 325 leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decide {
    /// loket's judgement is the answer and leaves at once (the standard's
    /// own behaviour, and what every municipality had before).
    #[default]
    Automatic,
    /// The 325 waits (where it travels through the outbox) for a person, or
    /// until its answer term is nearly up.
    Person,
}

impl Mapping {
    /// Loads and checks one mapping file.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Mapping, MappingError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| MappingError {
            problems: vec![Problem::new(path, "", format!("cannot read the file: {e}"))],
        })?;
        Mapping::from_toml(path, &text)
    }

    /// Parses and checks mapping text; `file` names it in errors.
    pub fn from_toml(file: impl AsRef<Path>, text: &str) -> Result<Mapping, MappingError> {
        load::parse(file.as_ref(), text).map_err(|problems| MappingError { problems })
    }

    pub fn product(&self, key: &ProductKey) -> Option<&Product> {
        self.products.iter().find(|p| p.key == *key)
    }

    /// The contract tariff for `product` on `date`.
    pub fn tariff(&self, product: &ProductKey, date: NaiveDate) -> Result<&Tariff, LookupError> {
        self.product(product)
            .ok_or_else(|| LookupError::UnknownProduct {
                financier: self.financier.key.clone(),
                product: product.clone(),
            })?
            .tariff(date)
    }

    /// The products a registered activity counts for.
    pub fn products_for_activity<'a>(
        &'a self,
        activity: &'a str,
    ) -> impl Iterator<Item = &'a Product> + 'a {
        self.products.iter().filter(move |p| p.counts(activity))
    }

    /// The declaration periods `from..=to` falls into.
    pub fn periods(&self, from: NaiveDate, to: NaiveDate) -> Vec<Period> {
        self.period.periods(from, to)
    }
}

/// The mappings of every tenant: the `*.toml` files in the mappings
/// directory serve every tenant, and a subdirectory named after a tenant id
/// replaces them for that tenant (a provider group whose members hold
/// different contracts). Loaded once at start, so that a broken mapping
/// stops the daemon with the full list of problems instead of failing a
/// declaration run later.
#[derive(Debug, Clone, Default)]
pub struct TenantMappings {
    shared: Mappings,
    per_tenant: std::collections::BTreeMap<String, Mappings>,
}

impl TenantMappings {
    /// Loads `dir`; a directory that does not exist means no mappings (the
    /// daemon still receives messages; nothing is declared).
    pub fn load(dir: impl AsRef<Path>) -> Result<TenantMappings, MappingError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Ok(TenantMappings::default());
        }
        let shared = Mappings::load_dir(dir)?;
        let mut per_tenant = std::collections::BTreeMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| MappingError {
            problems: vec![Problem::new(
                dir,
                "",
                format!("cannot read the directory: {e}"),
            )],
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with('.') {
                per_tenant.insert(name, Mappings::load_dir(&path)?);
            }
        }
        Ok(TenantMappings { shared, per_tenant })
    }

    /// One set for every tenant.
    pub fn shared(mappings: Mappings) -> TenantMappings {
        TenantMappings {
            shared: mappings,
            per_tenant: Default::default(),
        }
    }

    pub fn for_tenant(&self, tenant: &str) -> &Mappings {
        self.per_tenant.get(tenant).unwrap_or(&self.shared)
    }
}

/// All financier mappings of a provider, checked together.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    mappings: Vec<Mapping>,
    priority: Vec<PriorityRule>,
}

impl Mappings {
    /// Loads every `*.toml` file in `dir` (not its subdirectories), in name
    /// order. Every problem of every file is reported at once, so that one
    /// run shows everything to fix; nothing is loaded if anything is wrong.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Mappings, MappingError> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|e| MappingError {
            problems: vec![Problem::new(
                dir,
                "",
                format!("cannot read the directory: {e}"),
            )],
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| MappingError {
                problems: vec![Problem::new(
                    dir,
                    "",
                    format!("cannot read the directory: {e}"),
                )],
            })?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".toml") || !path.is_file() {
                continue;
            }
            files.push(path);
        }
        files.sort();
        let mut mappings = Vec::new();
        let mut problems = Vec::new();
        for file in files {
            match Mapping::load_file(&file) {
                Ok(m) => mappings.push(m),
                Err(e) => problems.extend(e.problems),
            }
        }
        if !problems.is_empty() {
            return Err(MappingError { problems });
        }
        Mappings::new(mappings)
    }

    /// Loads a single file as the whole set.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Mappings, MappingError> {
        Mappings::new(vec![Mapping::load_file(path)?])
    }

    /// Checks mappings together: one file per financier, priority rules that
    /// name a loaded financier's product must name one it has, and the
    /// priority lists must agree.
    pub fn new(mappings: Vec<Mapping>) -> Result<Mappings, MappingError> {
        let mut problems = Vec::new();
        for (i, m) in mappings.iter().enumerate() {
            if let Some(first) = mappings[..i]
                .iter()
                .find(|o| o.financier.key == m.financier.key)
            {
                problems.push(Problem::new(
                    &m.file,
                    "/financier",
                    format!(
                        "financier {} already has a mapping in {}",
                        m.financier.key,
                        first.file.display()
                    ),
                ));
            }
            for (r, rule) in m.priority.iter().enumerate() {
                // A rule naming a loaded financier's product must name one it
                // has: a typo would otherwise silently never match.
                let (Some(kind), Some(code), Some(product)) =
                    (rule.kind, &rule.financier, &rule.product)
                else {
                    continue;
                };
                let Some(target) = mappings
                    .iter()
                    .find(|o| o.financier.key.kind == kind && o.financier.key.code == *code)
                else {
                    continue;
                };
                let known = target.products.iter().any(|p| {
                    p.key.code == *product
                        && rule
                            .categorie
                            .as_ref()
                            .is_none_or(|c| *c == p.key.categorie)
                });
                if !known {
                    problems.push(Problem::new(
                        &m.file,
                        format!("/priority/{r}"),
                        format!(
                            "{} has no product {} in {}",
                            target.financier.key,
                            product,
                            target.file.display()
                        ),
                    ));
                }
            }
        }
        let lists: Vec<(&Path, &[PriorityRule])> = mappings
            .iter()
            .map(|m| (m.file.as_path(), m.priority.as_slice()))
            .collect();
        let priority = match priority::merge(&lists) {
            Ok(p) => p,
            Err(p) => {
                problems.extend(p);
                Vec::new()
            }
        };
        if !problems.is_empty() {
            return Err(MappingError { problems });
        }
        Ok(Mappings { mappings, priority })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Mapping> {
        self.mappings.iter()
    }

    pub fn len(&self) -> usize {
        self.mappings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// Whether any contract counts a registered activity (a `*` product
    /// counts every one). An activity none knows is a typing error or a
    /// workplace missing from the contracts: its days are never declared.
    pub fn knows_activity(&self, activity: &str) -> bool {
        self.mappings
            .iter()
            .any(|m| m.products_for_activity(activity).next().is_some())
    }

    pub fn get(&self, financier: &FinancierKey) -> Option<&Mapping> {
        self.mappings.iter().find(|m| m.financier.key == *financier)
    }

    /// The merged priority order of all files, most preferred first.
    pub fn priority(&self) -> &[PriorityRule] {
        &self.priority
    }

    /// The contract tariff of `financier` for `product` on `date`.
    pub fn tariff(
        &self,
        financier: &FinancierKey,
        product: &ProductKey,
        date: NaiveDate,
    ) -> Result<&Tariff, LookupError> {
        self.get(financier)
            .ok_or_else(|| LookupError::UnknownFinancier(financier.clone()))?
            .tariff(product, date)
    }

    /// The product `financier` contracted, for building a [`Candidate`].
    pub fn product(
        &self,
        financier: &FinancierKey,
        product: &ProductKey,
    ) -> Result<&Product, LookupError> {
        let m = self
            .get(financier)
            .ok_or_else(|| LookupError::UnknownFinancier(financier.clone()))?;
        m.product(product)
            .ok_or_else(|| LookupError::UnknownProduct {
                financier: financier.clone(),
                product: product.clone(),
            })
    }
}

pub use crate::datafile::Problem;

/// Mapping files that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MappingError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::datafile::write_problems(f, "mapping", &self.problems)
    }
}

#[cfg(test)]
mod tests;
