//! Reading one mapping file: TOML, then the JSON Schema, then the checks a
//! schema cannot express. Every problem carries the file, the JSON path and,
//! where it can be found, the line, so that whoever edits the file sees
//! exactly what to fix.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use crate::datafile;

use chrono::NaiveDate;
use serde::Deserialize;

use super::units::{
    Conversion, Eenheid, MINUTES_PER_DAGDEEL, Measure, RoundPer, RoundTo, Rounding,
};
use super::{
    DEFAULT_MAX_CLIENTS, Delivery, Financier, FinancierKey, Kind, Mapping, PeriodRule,
    PriorityRule, Problem, Product, ProductKey, SCHEMA, Standard, Tariff,
};

static VALIDATOR: LazyLock<Result<datafile::Schema, String>> =
    LazyLock::new(|| datafile::Schema::compile(SCHEMA));

/// Parses and checks one file's text.
pub(super) fn parse(file: &Path, text: &str) -> Result<Mapping, Vec<Problem>> {
    let schema =
        datafile::Schema::get(&VALIDATOR, "schemas/mappings/mapping.json").map_err(|p| vec![p])?;
    let json = datafile::check(file, text, schema)?;
    let mut problems = Vec::new();
    match serde_json::from_value::<RawMapping>(json) {
        Ok(raw) => {
            let mut check = Checker {
                file,
                problems: Vec::new(),
            };
            let mapping = check.mapping(raw);
            problems = check.problems;
            if problems.is_empty() {
                return Ok(mapping);
            }
        }
        Err(e) => problems.push(Problem::new(file, "", e.to_string())),
    }
    datafile::locate_lines(text, &mut problems);
    Err(problems)
}

// ---------------------------------------------------------------------------
// The file's content once the schema passed; the schema already guarantees
// the shapes and enumerations, so these types only carry them.

#[derive(Deserialize)]
struct RawMapping {
    financier: RawFinancier,
    /// Absent for a municipality's provider counterpart (kind aanbieder).
    declaration: Option<RawDeclaration>,
    /// Optional for a municipality's provider counterpart.
    #[serde(default)]
    products: Vec<RawProduct>,
    #[serde(default)]
    priority: Vec<RawRule>,
    invoice: Option<crate::adapter::ubl::config::RawInvoice>,
    /// A municipality's provider counterpart: who decides on its 323s.
    declarations: Option<RawDecisions>,
    outcomes: Option<RawOutcomes>,
    #[serde(default)]
    results: Vec<super::results::RawResult>,
}

#[derive(Deserialize)]
struct RawOutcomes {
    evaluation_weeks: Option<u32>,
}

#[derive(Deserialize)]
struct RawDecisions {
    decide: Option<super::Decide>,
}

#[derive(Deserialize)]
struct RawFinancier {
    kind: Kind,
    code: String,
    name: String,
    standard: Standard,
    delivery: RawDelivery,
}

#[derive(Deserialize)]
struct RawDelivery {
    http: Option<String>,
    folder: Option<String>,
    vsp: Option<String>,
    stuf: Option<String>,
    token_env: Option<String>,
}

#[derive(Deserialize)]
struct RawDeclaration {
    period: String,
    four_weekly_start: Option<String>,
    max_clients: Option<usize>,
}

#[derive(Deserialize)]
struct RawProduct {
    categorie: String,
    code: String,
    name: String,
    eenheid: String,
    conversion: RawConversion,
    price_basis: Option<super::PriceBasis>,
    activities: Vec<String>,
    daily_max: Option<RawDailyMax>,
    tariffs: Vec<RawTariff>,
}

#[derive(Deserialize)]
struct RawConversion {
    measure: String,
    round_per: Option<String>,
    round_to: Option<String>,
    rounding: Option<String>,
    step_minutes: Option<u32>,
}

#[derive(Deserialize)]
struct RawDailyMax {
    minutes: Option<u32>,
    dagdelen: Option<u32>,
}

#[derive(Deserialize)]
struct RawTariff {
    from: String,
    to: Option<String>,
    price_cents: u64,
}

#[derive(Deserialize)]
struct RawRule {
    kind: Option<Kind>,
    financier: Option<String>,
    categorie: Option<String>,
    product: Option<String>,
}

struct Checker<'a> {
    file: &'a Path,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, path: String, message: String) {
        self.problems.push(Problem::new(self.file, path, message));
    }

    fn date(&mut self, path: String, value: &str) -> Option<NaiveDate> {
        let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
        if date.is_none() {
            self.problem(path, format!("{value:?} is not a calendar date"));
        }
        date
    }

    fn mapping(&mut self, raw: RawMapping) -> Mapping {
        let raw_delivery = raw.financier.delivery;
        let delivery = match (raw_delivery.http, raw_delivery.folder, raw_delivery.vsp) {
            (None, None, None) => match raw_delivery.stuf.as_deref() {
                Some(ed) => Delivery::Stuf(
                    crate::transport::stuf::Edition::parse(ed).unwrap_or_else(|| {
                        self.problem(
                            "/financier/delivery/stuf".into(),
                            format!("{ed:?} is geen StUF-editie 0310 of 0210 / is not StUF edition 0310 or 0210"),
                        );
                        crate::transport::stuf::Edition::V0310
                    }),
                ),
                None => unreachable!("the schema requires one delivery"),
            },
            (Some(url), _, _) => Delivery::Http {
                url,
                token_env: raw_delivery.token_env,
            },
            (None, Some(folder), _) => Delivery::Folder(PathBuf::from(folder)),
            (None, None, Some(env)) => {
                match crate::transport::vsp::config::Environment::parse(&env) {
                    Ok(e) => Delivery::Vsp(e),
                    Err(why) => {
                        self.problem("/financier/delivery/vsp".into(), why);
                        Delivery::Vsp(crate::transport::vsp::config::Environment::Test)
                    }
                }
            }
        };
        let financier = Financier {
            key: FinancierKey {
                kind: raw.financier.kind,
                code: raw.financier.code,
            },
            name: raw.financier.name,
            standard: raw.financier.standard,
            delivery,
        };
        let declaration = raw.declaration.unwrap_or(RawDeclaration {
            period: "month".into(),
            four_weekly_start: None,
            max_clients: None,
        });
        let period = match (declaration.period.as_str(), declaration.four_weekly_start) {
            ("four_weekly", Some(start)) => PeriodRule::FourWeekly {
                start: self
                    .date("/declaration/four_weekly_start".into(), &start)
                    .unwrap_or(NaiveDate::MIN),
            },
            _ => PeriodRule::Month,
        };
        let max_clients = declaration.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS);
        let categories = self.categories(financier.standard);
        let mut products: Vec<Product> = Vec::new();
        for (i, p) in raw.products.into_iter().enumerate() {
            let product = self.product(i, p, categories.as_deref());
            if let Some(k) = products.iter().position(|o| o.key == product.key) {
                self.problem(
                    format!("/products/{i}/code"),
                    format!("product {} is already listed at /products/{k}", product.key),
                );
            }
            products.push(product);
        }
        let priority = raw
            .priority
            .into_iter()
            .map(|r| PriorityRule {
                kind: r.kind,
                financier: r.financier,
                categorie: r.categorie,
                product: r.product,
            })
            .collect();
        let invoice = raw.invoice.and_then(|i| match i.settings() {
            Ok(s) => Some(s),
            Err((path, message)) => {
                self.problem(path, message);
                None
            }
        });
        let results = super::results::check(self.file, raw.results, &products, &mut self.problems);
        Mapping {
            results,
            decide: raw.declarations.and_then(|d| d.decide).unwrap_or_default(),
            evaluation_weeks: raw.outcomes.and_then(|o| o.evaluation_weeks),
            file: self.file.to_path_buf(),
            financier,
            period,
            max_clients,
            products,
            priority,
            invoice,
        }
    }

    /// The standard's product categories, from the message schema data: one
    /// source for what a valid category is.
    fn categories(&mut self, standard: Standard) -> Option<Vec<String>> {
        let name = standard.schema_name()?;
        let codes = crate::schema::Schema::builtin().ok().and_then(|schema| {
            schema
                .standards
                .iter()
                .find(|s| s.name == name)?
                .datatypes
                .iter()
                .find(|d| d.name == "LDT_ProductCategorie")?
                .codes
                .clone()
        });
        if codes.is_none() {
            self.problem(
                "/financier/standard".into(),
                format!("the product categories of {name} are not available"),
            );
        }
        codes
    }

    fn product(&mut self, i: usize, raw: RawProduct, categories: Option<&[String]>) -> Product {
        let at = format!("/products/{i}");
        if let Some(codes) = categories
            && !codes.contains(&raw.categorie)
        {
            self.problem(
                format!("{at}/categorie"),
                format!(
                    "{:?} is not a product category of this standard ({})",
                    raw.categorie,
                    codes.join(", ")
                ),
            );
        }
        let eenheid = Eenheid::from_code(&raw.eenheid).unwrap_or(Eenheid::Minuut);
        let c = &raw.conversion;
        let conversion = Conversion {
            eenheid,
            measure: match c.measure.as_str() {
                "day" => Measure::Day,
                "period" => Measure::Period,
                _ => Measure::Time,
            },
            per: match c.round_per.as_deref() {
                Some("period") => RoundPer::Period,
                _ => RoundPer::Day,
            },
            to: match c.round_to.as_deref() {
                Some("minute") => RoundTo::Minutes {
                    step: c.step_minutes.unwrap_or(1),
                },
                _ => RoundTo::Unit,
            },
            rounding: match c.rounding.as_deref() {
                Some("up") => Rounding::Up,
                Some("nearest") => Rounding::Nearest,
                _ => Rounding::Down,
            },
        };
        if let Err(e) = conversion.check() {
            self.problem(format!("{at}/conversion"), e.to_string());
        }
        let daily_max_minutes = raw.daily_max.map(|d| {
            d.minutes
                .unwrap_or_else(|| d.dagdelen.unwrap_or(0) * MINUTES_PER_DAGDEEL)
        });
        let mut tariffs: Vec<(usize, Tariff)> = Vec::new();
        for (j, t) in raw.tariffs.iter().enumerate() {
            let from = self.date(format!("{at}/tariffs/{j}/from"), &t.from);
            let to = match &t.to {
                Some(to) => self.date(format!("{at}/tariffs/{j}/to"), to).map(Some),
                None => Some(None),
            };
            // A date that does not exist is reported once, not again as an
            // overlap or an inverted period.
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            if let Some(to) = to
                && to < from
            {
                self.problem(
                    format!("{at}/tariffs/{j}/to"),
                    format!("the tariff ends ({to}) before it starts ({from})"),
                );
                continue;
            }
            tariffs.push((
                j,
                Tariff {
                    from,
                    to,
                    price_cents: t.price_cents,
                },
            ));
        }
        tariffs.sort_by_key(|(j, t)| (t.from, *j));
        // Overlapping validity would make the tariff of a day a guess.
        for (n, (ja, a)) in tariffs.iter().enumerate() {
            for (jb, b) in &tariffs[n + 1..] {
                if a.to.is_some_and(|to| to < b.from) {
                    break;
                }
                self.problem(
                    format!("{at}/tariffs/{jb}"),
                    format!(
                        "the tariff from {} overlaps {at}/tariffs/{ja} ({} to {})",
                        b.from,
                        a.from,
                        a.to.map_or("open end".to_string(), |d| d.to_string())
                    ),
                );
            }
        }
        let implied = super::PriceBasis::of(&conversion);
        let price_basis = raw.price_basis.unwrap_or(implied);
        // An hourly price on days, or a monthly one on hours, would bill
        // one unit and price another.
        let fits = raw.price_basis.is_none()
            || match price_basis {
                super::PriceBasis::Hour => matches!(eenheid, Eenheid::Uur | Eenheid::Minuut),
                super::PriceBasis::Day => conversion.measure == Measure::Day,
                super::PriceBasis::Month => conversion.measure == Measure::Period,
                super::PriceBasis::Milestone => {
                    matches!(eenheid, Eenheid::StuksOutput | Eenheid::StuksInspanning)
                }
            };
        if !fits {
            self.problem(
                format!("{at}/price_basis"),
                format!(
                    "price_basis {:?} does not fit eenheid {} with measure {:?}",
                    price_basis.as_str(),
                    raw.eenheid,
                    c.measure
                ),
            );
        }
        Product {
            key: ProductKey {
                categorie: raw.categorie,
                code: raw.code,
            },
            name: raw.name,
            conversion,
            price_basis,
            activities: raw.activities,
            daily_max_minutes,
            tariffs: tariffs.into_iter().map(|(_, t)| t).collect(),
        }
    }
}
